# job_role: the job reads and writes as that role, so PostgreSQL's grants
# and row-level security decide what a hot-spot analysis counts; its output
# belongs to the role; its outcome is still recorded.
use strict;
use warnings;
use Test::More;
use GW;
use DBI;

my $t = GW->new;
my $dbh = $t->dbh;
$dbh->do(q{DO $$ BEGIN CREATE ROLE gw_tenant_a NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$});
$dbh->do(q{CREATE TABLE pts (id serial PRIMARY KEY, tenant text, v double precision, geom geometry(Point, 32633))});
$dbh->do(q{INSERT INTO pts (tenant, v, geom) SELECT CASE WHEN g % 4 = 0 THEN 'b' ELSE 'a' END,
	(g * 7919 % 101)::float8, ST_SetSRID(ST_MakePoint(500000 + (g % 20) * 100, 5000000 + (g / 20) * 100), 32633)
	FROM generate_series(0, 399) g});
$dbh->do(q{ALTER TABLE pts ENABLE ROW LEVEL SECURITY});
$dbh->do(q{CREATE POLICY tenant_a ON pts FOR SELECT TO gw_tenant_a USING (tenant = 'a')});
$dbh->do(q{GRANT SELECT ON pts TO gw_tenant_a});
$dbh->do(q{GRANT USAGE, CREATE ON SCHEMA analysis TO gw_tenant_a});
my $params = { input => 'pts', field => 'v', conceptualization => 'k_nearest', k => 8 };

my $all = $t->run_job('hotspot_analysis', $params);
is($all->{status}, 'completed', 'without job_role the analysis runs') or diag $all->{error_message};
is($all->{result}{feature_count}, 400, '... over every row');

my $role = $t->run_job('hotspot_analysis', $params,
    config => { types => { hotspot_analysis => { job_role => 'gw_tenant_a' } } });
is($role->{status}, 'completed', 'with job_role = gw_tenant_a it runs') or diag $role->{error_message};
is($role->{result}{feature_count}, 300, '... over the 300 rows row-level security lets the role see');
my ($table) = ($role->{result}{output} // '') =~ /^(?:analysis\.)?(.+)$/;
is($t->psql("SELECT tableowner FROM pg_tables WHERE schemaname = 'analysis' AND tablename = '$table'"),
   'gw_tenant_a', '... and the output belongs to the role');
is($t->psql("SELECT count(*) FROM analysis.$table"), 300, '... with one row per visible feature');

$dbh->do(q{CREATE TABLE secret (id serial PRIMARY KEY, v float8, geom geometry(Point, 32633))});
$dbh->do(q{INSERT INTO secret (v, geom) SELECT g, ST_SetSRID(ST_MakePoint(g, g), 32633) FROM generate_series(1, 20) g});
my $denied = $t->run_job('hotspot_analysis', { %$params, input => 'secret' },
    config => { types => { hotspot_analysis => { job_role => 'gw_tenant_a' } } });
is($denied->{status}, 'failed', 'a table the role may not read fails the job');
like($denied->{error_message}, qr/permission denied/, '... saying so');
is($t->psql(q{SELECT count(*) FROM pg_tables WHERE schemaname = 'analysis' AND tableowner = 'gw_tenant_a'}), 1,
   '... and leaves no output');

# An output another running job holds: the job, running as the role, fails
# naming that job (background_jobs is read as the daemon, not the role).
my $other = $t->enqueue('selftest', {});
$dbh->do(q{UPDATE background_jobs SET status = 'running', params = '{"output": "held"}',
	worker_host = 'elsewhere', worker_pid = 1, started_at = now(), heartbeat_at = now()
	WHERE id = ?}, undef, $other);
my $holder = DBI->connect('dbi:Pg:dbname=' . $t->dbname, '', '', { AutoCommit => 0, RaiseError => 1 });
$holder->do(q{SELECT pg_advisory_xact_lock(hashtext('geoworkerd output'), hashtext('analysis.held'))});
my $held = $t->run_job('hotspot_analysis', { %$params, output => 'held' },
    config => { types => { hotspot_analysis => { job_role => 'gw_tenant_a' } } });
is($held->{status}, 'failed', 'with job_role, an output another job is writing fails the job');
is($held->{error_message}, "output: job $other is writing analysis.held; run this one when it has finished, or choose another name",
   '... naming that job');
$holder->rollback;
$holder->disconnect;

my $bad = $t->run_job('hotspot_analysis', $params,
    config => { types => { hotspot_analysis => { job_role => 'no_such_role' } } });
is($bad->{status}, 'failed', 'an unknown job_role fails the job');
like($bad->{error_message}, qr/^job_role: .*no_such_role/, '... naming it');
done_testing;

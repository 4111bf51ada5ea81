# The schema script creates the queue, upgrades a web application's minimal
# background_jobs without touching its rows, and changes nothing when run
# again.
use strict;
use warnings;
use Test::More;
use GW;

my $t = GW->new(no_schema => 1);
my $dbh = $t->dbh;
$dbh->do(q{CREATE TABLE background_jobs (
	id serial PRIMARY KEY, job_type varchar(50) NOT NULL,
	status varchar(20) DEFAULT 'queued', params jsonb, result jsonb,
	error_message text, created_at timestamp DEFAULT now())});
$dbh->do(q{INSERT INTO background_jobs (job_type, status, params, result, error_message, created_at)
	VALUES ('dissolve', 'completed', '{"input":"a"}', '{"output":"x"}', NULL, '2024-01-02 03:04:05'),
	       ('clip', 'failed', '{}', NULL, 'boom', '2024-02-03 04:05:06'),
	       ('hotspot_analysis', 'queued', '{"field":"pop"}', NULL, NULL, '2024-03-04 05:06:07')});
my $before = $t->psql('SELECT id, job_type, status, params, result, error_message, created_at FROM background_jobs ORDER BY id');

$t->psql_file("$GW::SRCDIR/sql/geoworkerd.sql");
is($t->psql('SELECT id, job_type, status, params, result, error_message, created_at FROM background_jobs ORDER BY id'),
   $before, 'upgrade keeps every existing row as it was');

my %cols = map { $_ => 1 } split /\n/, $t->psql(q{SELECT attname FROM pg_attribute
	WHERE attrelid = 'background_jobs'::regclass AND attnum > 0 AND NOT attisdropped});
for my $c (qw(id job_type status params result error_message priority run_after attempts
	max_attempts progress progress_message worker_host worker_pid heartbeat_at
	created_at started_at completed_at job_key)) {
	ok($cols{$c}, "column $c exists");
}
is($t->psql(q{SELECT count(*) FROM pg_indexes WHERE tablename = 'background_jobs' AND indexname = 'background_jobs_claim_idx'}),
   1, 'partial claim index');
like($t->psql(q{SELECT pg_get_indexdef('background_jobs_claim_idx'::regclass)}),
   qr/WHERE \(+status\)?(?:::text)? = 'queued'/, 'the claim index is partial on queued');

# The old queued job is claimable: it got priority, run_after and attempts.
is($t->psql(q{SELECT priority || ' ' || attempts || ' ' || (run_after <= now()) FROM background_jobs WHERE job_type = 'hotspot_analysis'}),
   '0 0 true', 'old rows get the defaults of the new columns');

# A second run changes nothing: same catalog, same rows.
my $catalog = q{SELECT string_agg(attname || ':' || format_type(atttypid, atttypmod) || ':' || attnotnull || ':' || coalesce(pg_get_expr(adbin, adrelid), ''), ',' ORDER BY attnum)
	FROM pg_attribute LEFT JOIN pg_attrdef ON adrelid = attrelid AND adnum = attnum
	WHERE attrelid = 'background_jobs'::regclass AND attnum > 0 AND NOT attisdropped};
my $objects = q{SELECT (SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes WHERE tablename = 'background_jobs')
	|| (SELECT string_agg(conname, ',' ORDER BY conname) FROM pg_constraint WHERE conrelid = 'background_jobs'::regclass)
	|| (SELECT string_agg(tgname, ',' ORDER BY tgname) FROM pg_trigger WHERE tgrelid = 'background_jobs'::regclass AND NOT tgisinternal)};
my $functions = q{SELECT string_agg(p.oid::regprocedure || ':' || md5(p.prosrc) || ':' || p.prosecdef || ':' || coalesce(array_to_string(p.proconfig, ';'), '') || ':' || coalesce(p.proacl::text, ''), ',' ORDER BY p.oid::regprocedure::text)
	FROM pg_proc p WHERE p.proname LIKE 'geoworkerd\_%'};
my ($cat1, $obj1, $fn1) = ($t->psql($catalog), $t->psql($objects), $t->psql($functions));
like($fn1, qr/geoworkerd_enqueue\(text,jsonb,integer,timestamp with time zone,integer,text\)/, 'the SQL API is installed');
is($t->psql(q{SELECT count(*) FROM pg_proc WHERE proname IN ('geoworkerd_cancel', 'geoworkerd_retry', 'geoworkerd_dismiss', 'geoworkerd_keep') AND prorettype = 'bool'::regtype}),
   4, 'cancel, retry, dismiss and keep return boolean');
is($t->psql(q{SELECT count(*) FROM pg_indexes WHERE indexname = 'background_jobs_key_idx' AND indexdef LIKE 'CREATE UNIQUE INDEX%WHERE%job_key IS NOT NULL%'}),
   1, 'a partial unique index on (job_type, job_key) of live jobs');
ok(defined $t->psql(q{SELECT 'geoworkerd_trash'::regclass}), 'the trash table for files exists');
my $rows1 = $t->psql('SELECT * FROM background_jobs ORDER BY id');
$t->psql_file("$GW::SRCDIR/sql/geoworkerd.sql");
is($t->psql($catalog), $cat1, 'second run: same columns');
is($t->psql($objects), $obj1, 'second run: same indexes, constraints, triggers');
is($t->psql($functions), $fn1, 'second run: same functions, settings and grants');
is($t->psql('SELECT * FROM background_jobs ORDER BY id'), $rows1, 'second run: same rows');

# The trigger notifies the type's channel on queue, and the master's on cancel.
$dbh->do('LISTEN geoworkerd_dissolve');
$dbh->do('LISTEN geoworkerd_cancel');
my $id = $t->enqueue('dissolve', {});
my $n = $dbh->pg_notifies;
is_deeply([$n->[0], $n->[2]], ['geoworkerd_dissolve', $id], 'INSERT of a queued job notifies its type');
$dbh->do(q{UPDATE background_jobs SET status = 'running' WHERE id = ?}, undef, $id);
$dbh->do(q{UPDATE background_jobs SET status = 'cancelled' WHERE id = ?}, undef, $id);
$n = $dbh->pg_notifies;
is_deeply([$n->[0], $n->[2]], ['geoworkerd_cancel', $id], 'cancelling a running job notifies the master');

eval { $dbh->do(q{INSERT INTO background_jobs (job_type, status) VALUES ('clip', 'bogus')}) };
like($@, qr/background_jobs_status_check/, 'an unknown status is refused');

# A fresh database gets the same table from scratch.
my $t2 = GW->new;
is($t2->psql(q{SELECT count(*) FROM information_schema.columns WHERE table_name = 'background_jobs'}),
   19, 'fresh install has all 19 columns');
ok(eval { $t2->enqueue('x' x 200, {}) }, 'a job type too long for a channel name is still accepted')
    or diag $@;
done_testing;

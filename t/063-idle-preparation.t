# A child whose first claim finds no job prepares, before it waits, what its
# program's jobs will need (gw_worker_idle(3)): clip's child loads PostGIS
# in its backend and opens PROJ's database, dissolve's only loads PostGIS,
# selftest prepares nothing.  A child that finds a job at once prepares
# nothing before running it, and jobs run by prepared children give the
# same results.
use strict;
use warnings;
use Test::More;
use GW;

my $t = GW->new;
my $dbh = $t->dbh;
$t->psql(q{
CREATE TABLE cells (id serial PRIMARY KEY, g int, geom geometry(Polygon, 32119));
INSERT INTO cells (g, geom) SELECT x % 2, ST_MakeEnvelope(400000 + x * 1000, 100000,
    401000 + x * 1000, 101000, 32119) FROM generate_series(0, 9) x;
CREATE TABLE mask (id serial PRIMARY KEY, geom geometry(Polygon, 4326));
INSERT INTO mask (geom) SELECT ST_Transform(ST_MakeEnvelope(402500, 99000, 405500, 102000, 32119), 4326);
});

# A job is queued before the daemon starts: the first clip child finds it.
my $first = $t->enqueue('clip', { input => 'cells', clip => 'mask', output => 'clip_first' });
$t->start_daemon(types => { clip => { children => 1 }, dissolve => { children => 1 },
    selftest => { children => 1 } });
is($t->wait_job($first, 60)->{status}, 'completed', 'the queued clip job completes');
my ($taker) = $t->log_text =~ /child (\d+) took job $first /;
ok($taker, "child $taker took it");
ok($t->wait_for(sub { $t->log_text =~ /clip\[(?!$taker\])\d+\]: prepared while idle in \d+ ms/ }, 30),
    'the next clip child, finding nothing, prepared while idle');
unlike($t->log_text, qr/clip\[$taker\]: prepared while idle/,
    'the child that found the job at once prepared nothing');
ok($t->wait_for(sub { $t->log_text =~ /dissolve\[\d+\]: prepared while idle/ }, 30),
    'the dissolve child prepared while idle');
sleep 1;
unlike($t->log_text, qr/selftest\[\d+\]: prepared while idle/, 'selftest prepares nothing');

# What was prepared, seen from /proc (the children and the backends run as
# other users where the suite does not run as root).
my %kid = map { my $c = GW::slurp("/proc/$_/cmdline"); $c =~ /(clip|dissolve|selftest) idle/ ? ($1 => $_) : () }
    $t->children_of($t->daemon_pid);
sub opens_proj_db {
	my ($pid) = @_;
	return scalar grep { (readlink($_) // '') =~ m{/proj\.db$} } glob("/proc/$pid/fd/*");
}
sub backend_has_postgis {
	my ($app) = @_;
	my ($pid) = $dbh->selectrow_array(q{SELECT pid FROM pg_stat_activity WHERE application_name = ?},
	    undef, "geoworkerd $app");
	return $pid ? GW::slurp("/proc/$pid/maps") =~ /postgis-3\.so/ : undef;
}
ok($kid{clip} && $kid{dissolve}, 'the idle clip and dissolve children are found')
    or diag explain \%kid;
SKIP: {
	skip 'the children and backends are not readable here', 4
	    unless $kid{clip} && $kid{dissolve} && -r "/proc/$kid{clip}/fd" && $< == 0;
	ok(opens_proj_db($kid{clip}), "the idle clip child ($kid{clip}) has proj.db open");
	ok(!opens_proj_db($kid{dissolve}), 'the idle dissolve child has not');
	ok(backend_has_postgis('clip'), "the clip child's backend has postgis-3.so loaded");
	ok(backend_has_postgis('dissolve'), "the dissolve child's backend too");
}

# The prepared children run jobs as the unprepared one did.
my $second = $t->enqueue('clip', { input => 'cells', clip => 'mask', output => 'clip_second' });
is($t->wait_job($second, 60)->{status}, 'completed', 'a clip job run by a prepared child completes');
is_deeply($dbh->selectall_arrayref(q{SELECT id, ST_AsText(ST_Normalize(geom)) FROM analysis.clip_second ORDER BY id}),
    $dbh->selectall_arrayref(q{SELECT id, ST_AsText(ST_Normalize(geom)) FROM analysis.clip_first ORDER BY id}),
    '... with the same output as the one run by the child that found its job at once');
is_deeply($dbh->selectcol_arrayref(q{SELECT id FROM analysis.clip_second ORDER BY id}), [3, 4, 5, 6],
    'the cells the mask covers or cuts');
my $d = $t->wait_job($t->enqueue('dissolve', { input => 'cells', fields => ['g'], output => 'cells_d' }), 60);
is($d->{status}, 'completed', 'a dissolve job run by a prepared child completes');
is($dbh->selectrow_array(q{SELECT count(*) FROM analysis.cells_d}), 2, '... with its two groups');
$t->stop_daemon;

done_testing;

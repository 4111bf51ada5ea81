# 1000 jobs over several children: each is run exactly once, by one child,
# and completed; no job is claimed twice, none is left behind.
use strict;
use warnings;
use Test::More;
use GW;

my $t = GW->new;
my $dbh = $t->dbh;
$dbh->do(q{INSERT INTO background_jobs (job_type, params, priority)
	SELECT 'selftest', '{}', (g % 3) FROM generate_series(1, 1000) g});
$t->start_daemon(types => { selftest => { children => 4 } });
ok($t->wait_for(sub { $t->psql(q{SELECT count(*) FROM background_jobs WHERE status IN ('queued', 'running')}) == 0 }, 300),
   'the queue drains');
is($t->psql(q{SELECT count(*) FROM background_jobs WHERE status = 'completed'}), 1000, 'all 1000 completed');
is($t->psql(q{SELECT count(*) FROM background_jobs WHERE attempts <> 1}), 0, 'each claimed exactly once');
is($t->psql(q{SELECT count(DISTINCT (result->>'pid')) FROM background_jobs}), 1000,
   'each run in a fresh process');
is($t->psql(q{SELECT count(*) FROM background_jobs WHERE worker_pid::text <> result->>'pid'}), 0,
   'the recorded worker is the one that ran it');
my $log = $t->log_text;
my %started;
$started{$1}++ while $log =~ /selftest\[\d+\] job (\d+): started/g;
is(scalar(keys %started), 1000, 'the log shows 1000 distinct starts');
is(scalar(grep { $_ > 1 } values %started), 0, 'no job started twice');
# Higher priority first: the mean completion order of priority 2 precedes 0.
my ($p2, $p0) = $dbh->selectrow_array(q{SELECT
	avg(r) FILTER (WHERE priority = 2), avg(r) FILTER (WHERE priority = 0)
	FROM (SELECT priority, rank() OVER (ORDER BY started_at, id) r FROM background_jobs) s});
cmp_ok($p2, '<', $p0, 'higher priority is claimed first');
$t->stop_daemon;
done_testing;

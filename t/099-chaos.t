# The chaos run: jobs that each write an output table (half also a file),
# jobs that always crash, jobs that fail, over several children, while
# children are SIGKILLed, PostgreSQL restarts twice with -m immediate, the
# master is SIGKILLed and restarted, and SIGHUP storms come.  Afterwards
# every job is in a final state, a job is completed exactly when its output
# exists, the always-crashing jobs used exactly max_attempts, the failing
# ones keep their message, no job counted more than max_attempts, the master
# never stopped on its own, and no zombie is left.
#
# CHAOS_JOBS sets the size (default 1000; bench/chaos.sh runs 10,000).
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use GW;

plan skip_all => 'needs the pg_virtualenv cluster' unless $ENV{PG_CLUSTER_CONF_ROOT} && $ENV{PGVERSION};
my $n = $ENV{CHAOS_JOBS} // 1000;
my $ncrash = int($n / 20);
my $nfail = int($n / 20);
my $nok = $n - $ncrash - $nfail;
my $t = GW->new;
my $out = $t->dir . '/outputs';
my $ini = $t->config(daemon => { orphan_timeout => '4s', db_timeout => '2s' },
    types => { selftest => { children => 4, max_attempts => 8, retry_delay => '200ms',
    max_retry_delay => '1s' } });
my $dbh = $t->dbh;
$dbh->do(q{INSERT INTO background_jobs (job_type, params, priority)
	SELECT 'selftest', CASE WHEN g % 2 = 0
	    THEN json_build_object('table', 'o_' || g, 'file', 'f.txt')
	    ELSE json_build_object('table', 'o_' || g, 'sleep', 0.02) END::jsonb, 0
	FROM generate_series(1, ?) g}, undef, $nok);
$dbh->do(q{INSERT INTO background_jobs (job_type, params, max_attempts)
	SELECT 'selftest', '{"signal": 11}', 2 FROM generate_series(1, ?)}, undef, $ncrash);
$dbh->do(q{INSERT INTO background_jobs (job_type, params, max_attempts)
	SELECT 'selftest', json_build_object('fail', 'bad input ' || g)::jsonb, 3
	FROM generate_series(1, ?) g}, undef, $nfail);
$dbh->disconnect;
delete $t->{dbh};

my $master = $t->start_daemon(ini => $ini);
my $t0 = time;
my %faults = (child_kill => 0, pg_restart => 0, master_kill => 0, hup => 0);
my $left = sub { my $v = eval { $t->psql(q{SELECT count(*) FROM background_jobs WHERE status IN ('queued', 'running')}) }; $v };
my $pg = sub {
	my ($what) = @_;
	$t->{dbh} && $t->{dbh}->disconnect;
	delete $t->{dbh};
	system("timeout 60 pg_ctlcluster $ENV{PGVERSION} regress stop -m immediate >/dev/null 2>&1");
	for (1 .. 10) {
		system("timeout 60 pg_ctlcluster $ENV{PGVERSION} regress start >/dev/null 2>&1");
		last if `pg_lsclusters -h` =~ /\bonline\b/;
		sleep 1;
	}
	$faults{pg_restart}++;
};
my @plan = (
	map({ [child_kill => $_ * 0.1] } 1 .. 8),
	[hup => 0.15], [pg => 0.25], [hup => 0.35], [master => 0.45], [pg => 0.6], [hup => 0.7],
);
my $i = 0;
while (defined(my $l = $left->()) || 1) {
	last if defined $l && $l == 0;
	my $done_frac = defined $l ? 1 - $l / $n : 0;
	while ($i < @plan && $done_frac >= $plan[$i][1]) {
		my $what = $plan[$i++][0];
		if ($what eq 'child_kill') {
			my @kids = $t->children_of($t->daemon_pid);
			if (@kids) { kill 'KILL', $kids[int rand @kids]; $faults{child_kill}++; }
		} elsif ($what eq 'hup') {
			for (1 .. 50) { kill 'HUP', $t->daemon_pid; sleep 0.01; }
			$faults{hup} += 50;
		} elsif ($what eq 'pg') {
			$pg->();
		} elsif ($what eq 'master') {
			$t->stop_daemon('KILL');
			$faults{master_kill}++;
			$master = $t->start_daemon(ini => $ini);
		}
	}
	last if time - $t0 > 900;
	sleep 0.2;
}
my $drain = time - $t0;
diag sprintf("chaos: %d jobs, faults: %d child SIGKILLs, %d PostgreSQL immediate restarts, %d master SIGKILL, %d SIGHUPs; drained in %.0f s",
    $n, $faults{child_kill}, $faults{pg_restart}, $faults{master_kill}, $faults{hup}, $drain);
is($left->(), 0, 'every job reached a final state');
cmp_ok($faults{pg_restart}, '==', 2, 'two immediate restarts of PostgreSQL happened');
cmp_ok($faults{master_kill}, '==', 1, 'the master was SIGKILLed once');

my $q = sub { $t->psql($_[0]) };
is($q->(q{SELECT count(*) FROM background_jobs WHERE params ? 'table' AND status <> 'completed'}), 0,
   "all $nok jobs with an output completed");
is($q->(q{SELECT count(*) FROM background_jobs b WHERE params ? 'table' AND
	(status = 'completed') <> EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = 'analysis' AND tablename = b.params->>'table')}),
   0, 'a job is completed exactly when its table exists');
is($q->(q{SELECT count(*) FROM pg_tables WHERE schemaname = 'analysis' AND tablename LIKE 'o\_%'}), $nok,
   'no orphaned or extra tables');
my @files = @{ $t->dbh->selectcol_arrayref(q{SELECT id FROM background_jobs WHERE params->>'file' IS NOT NULL AND status = 'completed'}) };
is(scalar(grep { !-e "$out/$_/f.txt" } @files), 0, 'every completed file job has its file published');
opendir(my $od, $out);
my @dirs = grep { /^\d+$/ } readdir $od;
closedir $od;
is(scalar(@dirs), scalar(@files), 'and no other job published a directory');
$t->wait_for(sub { opendir(my $s, "$out/.staging") or return 1; my @e = grep { !/^\./ } readdir $s; !@e }, 90);
opendir(my $sd, "$out/.staging");
my @staged = $sd ? grep { !/^\./ } readdir $sd : ();
is(scalar(@staged), 0, 'no staging directory is left') or diag "@staged";

is($q->(q{SELECT count(*) FROM background_jobs WHERE params ? 'signal' AND
	(status <> 'failed' OR attempts - free_attempts <> 2)}), 0,
   'every always-crashing job failed after exactly max_attempts (2) counted runs');
is($q->(q{SELECT count(*) FROM background_jobs WHERE params ? 'fail' AND
	(status <> 'failed' OR error_message <> params->>'fail')}), 0,
   'every failing job failed with its own message');
is($q->(q{SELECT count(*) FROM background_jobs WHERE attempts - free_attempts > coalesce(max_attempts, 8)}), 0,
   'no job counted more runs than max_attempts');
my %done;
my $log = $t->log_text;
$done{$1}++ while $log =~ /job (\d+): completed in/g;
is(scalar(grep { $_ > 1 } values %done), 0, 'no job completed twice');
ok(kill(0, $master), 'the master is alive');
unlike($log, qr/stopping on signal|fatal|impossible transition/, 'it never stopped on its own');
my @z = grep { GW::slurp("/proc/$_/stat") =~ /^\d+ \(.*\) Z/ } $t->children_of($master);
is(scalar(@z), 0, 'no zombie children');
is($t->stop_daemon, 0, 'the master stops cleanly');
done_testing;

# The fences: a job taken away while it runs (a sweep of another node, by
# hand) has its child killed at once and its row left as it is; attempts
# never go down; completed_at is the moment the job ended; a timeout kills
# the job's whole process group.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use GW;

my $t = GW->new;
$t->start_daemon(types => { selftest => { children => 2, timeout => '3s' } });
my $dbh = $t->dbh;

# completed_at: when the job ended, not when it started.
my $c = $t->wait_job($t->enqueue('selftest', { sleep => 1.5 }), 30);
is($c->{status}, 'completed', 'a 1.5 s job completes');
cmp_ok($t->psql("SELECT extract(epoch FROM completed_at - started_at) FROM background_jobs WHERE id = $c->{id}"),
    '>=', 1.4, 'completed_at - started_at covers its run');

# Taken away while running: failed by "another node's sweep".
my $id = $t->enqueue('selftest', { sleep => 30, table => 'taken' });
ok($t->wait_for(sub { $t->log_text =~ /took job $id / }, 20), 'the job runs');
my ($pid) = $t->log_text =~ /child (\d+) took job $id /;
my $t0 = time;
$dbh->do(q{UPDATE background_jobs SET status = 'failed', error_message = 'swept elsewhere',
	completed_at = now(), heartbeat_at = NULL WHERE id = ?}, undef, $id);
ok($t->wait_for(sub { !kill(0, $pid) }, 10), 'its child is killed');
cmp_ok(time - $t0, '<', 0.9, '... at once (before the next heartbeat)');
my $j = $t->job($id);
is($j->{status}, 'failed', 'the row stays as the sweep left it');
is($j->{attempts}, 1, '... with the attempt of its run (the master rewrote nothing)');
is($j->{error_message}, 'swept elsewhere', '... with its message');
is($t->psql(q{SELECT count(*) FROM pg_tables WHERE tablename = 'taken'}), 0, '... and no output');

# The same run's row deleted (dismissed) while it runs: killed too.
my $del = $t->enqueue('selftest', { sleep => 30 });
ok($t->wait_for(sub { $t->log_text =~ /took job $del / }, 20), 'another job runs');
my ($dpid) = $t->log_text =~ /child (\d+) took job $del /;
$dbh->do(q{DELETE FROM background_jobs WHERE id = ?}, undef, $del);
ok($t->wait_for(sub { !kill(0, $dpid) }, 10), 'a deleted job\'s child is killed at the next heartbeat');

# A timeout kills the whole process group: the job's own child too.
my $tid = $t->enqueue('selftest', { sleeper => JSON::PP::true, sleep => 30 });
my $sleeper;
ok($t->wait_for(sub { ($sleeper) = ($t->job($tid)->{progress_message} // '') =~ /sleeper (\d+)/ }, 20),
   'the job started a process of its own');
my $tj = $t->wait_job($tid, 30);
is($tj->{error_message}, 'timed out after 3 s', 'the job timed out');
ok($t->wait_for(sub { !-e "/proc/$sleeper" || GW::slurp("/proc/$sleeper/stat") =~ /^\d+ \(.*\) Z/ }, 10),
   '... and the process it started was killed with it');

$t->stop_daemon;
done_testing;

# Stopping for an upgrade: SIGUSR2 drains.  Idle children exit at once and
# nothing more is claimed; a busy job (5 s) runs to its end, the master then
# exits 0, and the new master (started after the old one exits, as
# `systemctl restart` does) runs what was queued meanwhile.  Each job ends
# completed with one attempt.  A SIGTERM during a drain falls back to
# shutdown_grace and re-queues.
use strict;
use warnings;
use Test::More;
use GW;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(time sleep);

my $t = GW->new;

# Waits for the master to exit; returns its wait status, or undef.
sub reap {
	my ($pid, $secs) = @_;
	my $deadline = time + $secs;
	while (time < $deadline) {
		if (waitpid($pid, WNOHANG) == $pid) {
			$t->{daemon} = undef;
			return $?;
		}
		sleep 0.05;
	}
	return undef;
}

my $ini = $t->config(types => { selftest => { children => 2 } },
    daemon => { shutdown_grace => '1s' });
my $old = $t->start_daemon(ini => $ini);
my $long = $t->enqueue('selftest', { sleep => 5 });
ok($t->wait_for(sub { $t->job($long)->{status} eq 'running' }, 20), 'a 5 s job runs');
my $child = $t->job($long)->{worker_pid};
my $started = time;
# children = 2 idle slots: the busy child's slot is refilled when it exits.
ok($t->wait_for(sub { scalar($t->children_of($old)) == 2 }, 3), 'beside an idle child');

my $t0 = time;
kill 'USR2', $old;
ok($t->wait_for(sub { $t->log_text =~ /draining on signal 12/ }, 5), 'SIGUSR2: draining');
ok($t->wait_for(sub { scalar($t->children_of($old)) == 1 }, 5), 'the idle children exit at once');
my $queued = $t->enqueue('selftest', { sleep => 0.2 });
sleep 1.5;
is($t->job($queued)->{status}, 'queued', 'a job queued during the drain is not claimed');
ok(kill(0, $child), 'the busy child still runs, past shutdown_grace (1 s)');

my $st = reap($old, 30);
my $took = time - $t0;
is($st, 0, 'the old master exits 0 once the job has ended');
cmp_ok($took, '>=', 5 - ($t0 - $started) - 0.5,
    sprintf('... after %.1f s, %.1f s into the job: it waited for the job', $took, $t0 - $started));
my $j = $t->job($long);
is($j->{status}, 'completed', 'the 5 s job completed');
is($j->{attempts}, 1, '... with one attempt');
is($j->{worker_pid}, $child, '... in the child that started it');
is($t->job($queued)->{status}, 'queued', 'the other job is still queued');

# The new master, as after a package upgrade.
rename($t->dir . '/geoworkerd.log', $t->dir . '/geoworkerd.log.old');
my $new = $t->start_daemon(ini => $ini);
$j = $t->wait_job($queued, 30);
is($j->{status}, 'completed', 'the new master runs the job queued during the drain');
is($j->{attempts}, 1, '... with one attempt');
my ($n) = $t->dbh->selectrow_array(q{SELECT count(*) FROM background_jobs
    WHERE status <> 'completed' OR attempts <> 1});
is($n, 0, 'no job was interrupted or run twice');

# A SIGTERM during a drain: shutdown_grace (1 s), then the job is re-queued.
my $stuck = $t->enqueue('selftest', { sleep => 60 });
ok($t->wait_for(sub { $t->job($stuck)->{status} eq 'running' }, 20), 'a 60 s job runs');
kill 'USR2', $new;
ok($t->wait_for(sub { $t->log_text =~ /draining on signal 12/ }, 5), 'draining');
sleep 0.5;
$t0 = time;
kill 'TERM', $new;
$st = reap($new, 20);
is($st, 0, 'SIGTERM during the drain: the master exits 0');
cmp_ok(time - $t0, '<', 5, sprintf('... after %.1f s (shutdown_grace 1 s)', time - $t0));
like($t->log_text, qr/stopping on signal 15 during the drain/, '... saying so');
$j = $t->job($stuck);
is($j->{status}, 'queued', 'the interrupted job is back in the queue');
done_testing;

# A job run by hand (PROGRAM -c INI -j ID) keeps its own heartbeat: a running
# daemon's orphan sweep leaves it alone, and so does the start-up sweep of a
# daemon started on the same node while it runs.
use strict;
use warnings;
use Test::More;
use GW;

my $t = GW->new;
my $cd = $t->dir . '/children';
mkdir $cd;
symlink("$GW::BUILDDIR/children/selftest", "$cd/$_") or die for qw(selftest other);
# The daemon runs another type, so only the orphan and start-up sweeps can
# touch the job run by hand.
my $ini = $t->config(daemon => { child_dir => $cd, orphan_timeout => '3s' },
    types => { other => {}, selftest => { enabled => 'no' } });
$t->start_daemon(ini => $ini);
my $id = $t->enqueue('selftest', { sleep => 9 });
my $pid = fork // die;
if ($pid == 0) {
	open(STDERR, '>>', $t->dir . '/manual.log');
	exec("$GW::BUILDDIR/children/selftest", '-c', $ini, '-j', $id) or POSIX::_exit(127);
}
ok($t->wait_for(sub { ($t->job($id)->{status} // '') eq 'running' }, 20), 'the job runs by hand');
sleep 4;
# A daemon (re)started on the same node while it runs: its start-up sweep
# sees the job's process alive.
$t->stop_daemon;
$t->start_daemon(ini => $ini);
waitpid($pid, 0);
is($? >> 8, 0, 'the run by hand exits 0');
my $j = $t->job($id);
is($j->{status}, 'completed', 'the job completed, 9 s with orphan_timeout 3 s');
is($j->{attempts}, 1, '... in one attempt');
unlike($t->log_text, qr/job $id (?:of node|left running)/, 'no sweep touched it');
like($t->log_text, qr/job $id: its process $pid still runs/, 'the start-up sweep saw its process alive');

# A run by hand whose process died: the orphan sweep takes it.
my $dead = $t->enqueue('selftest', {});
$t->dbh->do(q{UPDATE background_jobs SET status = 'running', attempts = 1, worker_host = 'testnode',
	worker_pid = 999999, started_at = now() - interval '1 minute', heartbeat_at = now() - interval '1 minute'
	WHERE id = ?}, undef, $dead);
my $d = $t->wait_job($dead, 30, qr/^failed$/);
like($d->{error_message} // '', qr/^worker lost: no heartbeat from testnode \(pid 999999\)/,
     'a dead run is swept after orphan_timeout');
$t->stop_daemon;
done_testing;

# Files a job writes are staged per attempt and published as
# output_root/<id>/ only after the completion commits; a failed, cancelled or
# stale attempt never touches the published output, and what a dead process
# staged is published (if its completion committed) or removed by the master.
use strict;
use warnings;
use Test::More;
use POSIX qw(:sys_wait_h);
use GW;

my $t = GW->new;
my $out = $t->dir . '/outputs';
my $stage = "$out/.staging";
my $ini = $t->config(types => { selftest => { children => 2 } });
sub slurp { GW::slurp(@_) }
sub staged { opendir(my $d, $stage) or return (); grep { !/^\./ } readdir $d }

# Left by dead processes before the daemon starts: one whose completion
# committed (published at start), one whose job failed (removed), one of a
# run still going on (kept).
my $dbh = $t->dbh;
my ($c, $f, $r) = map { $t->enqueue('selftest', {}) } 1 .. 3;
$dbh->do(q{UPDATE background_jobs SET status = 'completed', attempts = 1 WHERE id = ?}, undef, $c);
$dbh->do(q{UPDATE background_jobs SET status = 'failed', attempts = 2 WHERE id = ?}, undef, $f);
$dbh->do(q{UPDATE background_jobs SET status = 'running', attempts = 3, worker_host = 'othernode',
	worker_pid = 1, heartbeat_at = now() + interval '1 hour' WHERE id = ?}, undef, $r);
mkdir $stage;
for ([$c, 1], [$f, 2], [$r, 3]) {
	mkdir "$stage/$_->[0].$_->[1]";
	open(my $fh, '>', "$stage/$_->[0].$_->[1]/data.txt") or die;
	print $fh "left by $_->[0]\n";
	close $fh;
}
$t->start_daemon(ini => $ini);
ok($t->wait_for(sub { -e "$out/$c/data.txt" }, 20), 'a committed completion left staged is published');
ok($t->wait_for(sub { !-e "$stage/$f.2" }, 20), 'a failed run\'s staging is removed');
ok(-e "$stage/$r.3/data.txt", 'the staging of a run still going on is kept');
ok(!-e "$out/$f", '... and nothing is published for the failed job');

# Completed: published with the commit, nothing left in staging.
my $ok = $t->wait_job($t->enqueue('selftest', { file => 'result.txt' }), 30);
is($ok->{status}, 'completed', 'a job writing a file completes');
is($ok->{result}{path}, "$out/$ok->{id}/result.txt", '... its result names the published path');
like(slurp("$out/$ok->{id}/result.txt"), qr/^job $ok->{id} attempt 1 /, '... which holds the file');
ok(!-e "$stage/$ok->{id}.1", '... and its staging is gone');

# Failed after writing: nothing published, staging removed.
my $bad = $t->wait_job($t->enqueue('selftest', { file => 'x.txt', fail => 'late failure' }), 30);
is($bad->{status}, 'failed', 'a job failing after its file fails');
ok(!-e "$out/$bad->{id}", '... and publishes nothing');
ok(!-e "$stage/$bad->{id}.1", '... and leaves no staging');

# Cancelled (SIGKILLed) while its file and table exist.
my $cid = $t->enqueue('selftest', { file => 'c.txt', table => 'cancelled_out', write_first => JSON::PP::true, sleep => 30 });
ok($t->wait_for(sub { -e "$stage/$cid.1/c.txt" }, 30), 'a running job has staged its file');
$dbh->do(q{UPDATE background_jobs SET status = 'cancelled' WHERE id = ? AND status IN ('queued', 'running')}, undef, $cid);
ok($t->wait_for(sub { !-e "$stage/$cid.1" }, 20), 'cancelled: the master removes its staging');
ok(!-e "$out/$cid", '... nothing is published');
is($t->psql(q{SELECT count(*) FROM pg_tables WHERE tablename = 'cancelled_out'}), 0, '... and its table is gone');
is($t->job($cid)->{status}, 'cancelled', '... and the row stays cancelled');

# A stale attempt: run by hand, taken away (re-queued) while it sleeps, run
# again by the daemon, which publishes; the stale one exits fenced and never
# touches the published file.
$t->stop_daemon;
my $sid = $t->enqueue('selftest', { file => 's.txt', write_first => JSON::PP::true, sleep => 4 });
my $pid = fork // die;
if ($pid == 0) {
	open(STDERR, '>>', $t->dir . '/manual.log');
	exec("$GW::BUILDDIR/children/selftest", '-c', $ini, '-j', $sid) or POSIX::_exit(127);
}
ok($t->wait_for(sub { -e "$stage/$sid.1/s.txt" }, 20), 'the run by hand staged its file');
$dbh->do(q{UPDATE background_jobs SET status = 'queued', worker_host = NULL, worker_pid = NULL WHERE id = ?}, undef, $sid);
$t->start_daemon(ini => $ini);
my $s = $t->wait_job($sid, 60);
is($s->{status}, 'completed', 'the job completes in its second run');
is($s->{attempts}, 2, '... attempt 2');
waitpid($pid, 0);
is($? >> 8, 5, 'the stale run by hand exited as fenced (5)');
like(slurp("$out/$sid/s.txt"), qr/^job $sid attempt 2 /, 'the published file is the second run\'s');
ok(!-e "$stage/$sid.1", 'the stale run\'s staging is gone');
is(join(',', sort(staged())), "$r.3", 'nothing else is left in staging');
$t->stop_daemon;
done_testing;

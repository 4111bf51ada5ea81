# Progress reported by a job reaches its row while it runs (through the
# master, at most once a second), and the job's log shows start, progress
# and end with elapsed time and peak memory.
use strict;
use warnings;
use Test::More;
use GW;

my $t = GW->new;
$t->start_daemon(types => { selftest => {} }, daemon => { heartbeat_interval => '5s', orphan_timeout => '15s' });
my $id = $t->enqueue('selftest', { sleep => 6, progress => 3 });
my $seen;
ok($t->wait_for(sub {
	my $j = $t->job($id);
	$seen = $j if $j->{status} eq 'running' && $j->{progress} > 0 && $j->{progress} < 1;
	return $seen || $j->{status} ne 'queued' && $j->{status} ne 'running';
}, 30), 'the job ran');
ok($seen, 'progress between 0 and 1 was visible while it ran');
like($seen->{progress_message} // '', qr/^step [12] of 3$/, 'with its message') if $seen;
cmp_ok(abs($seen->{progress} - (($seen->{progress_message} =~ /step (\d)/)[0] / 3)), '<', 1e-3,
    'the fraction matches the message') if $seen;
my $j = $t->wait_job($id, 30);
is($j->{status}, 'completed', 'completed');
is($j->{progress}, 1, 'progress 1 at the end');
my $log = $t->log_text;
like($log, qr/selftest\[\d+\] job $id: started \(attempt 1\): \{"(?:sleep":6,"progress":3|progress":3,"sleep":6)\}/, 'start logged with parameters');
like($log, qr/selftest\[\d+\] job $id: progress 33%: step 1 of 3/, 'progress logged');
like($log, qr/selftest\[\d+\] job $id: completed in \d+ ms, peak memory \d+ KiB/, 'end logged with elapsed time and peak memory');
$t->stop_daemon;
done_testing;

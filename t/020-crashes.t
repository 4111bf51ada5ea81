# A child that dies while holding a job has the job failed with a message a
# person can act on, and the daemon goes on serving.
use strict;
use warnings;
use Test::More;
use GW;

my $t = GW->new;
# The CPU case runs as a second type made of the test program, with a long
# wall-clock timeout: on a loaded machine one CPU second may take many.
my $cd = $t->dir . '/children';
mkdir $cd;
symlink("$GW::BUILDDIR/children/selftest", "$cd/$_") or die for qw(selftest clip);
$t->start_daemon(daemon => { child_dir => $cd }, types => {
    selftest => { children => 2, memory_limit => '256M', cpu_limit => '1s', timeout => '3s' },
    clip => { cpu_limit => '1s', timeout => '120s' } });

my %cases = (
	segv => [{ signal => 11 }, qr/^worker crashed: killed by signal 11 \(Segmentation fault\)$/],
	abort => [{ signal => 6 }, qr/^worker crashed: killed by signal 6 \(Aborted\)$/],
	memory => [{ allocate => 1e9 }, qr/^out of memory \(memory_limit 256M\)$/],
	cpu => [{ spin => 10 }, qr/^CPU time limit of 1 s exceeded$/],
	timeout => [{ sleep => 30 }, qr/^timed out after 3 s$/],
	exit => [{ exit => 7 }, qr/^worker exited with status 7$/],
	fail => [{ fail => 'parameter x is bad' }, qr/^parameter x is bad$/],
);
my %ids = map { $_ => $t->enqueue($_ eq 'cpu' ? 'clip' : 'selftest', $cases{$_}[0]) } sort keys %cases;
for my $case (sort keys %cases) {
	my $job = $t->wait_job($ids{$case}, 150);
	is($job->{status}, 'failed', "$case: failed");
	like($job->{error_message} // '', $cases{$case}[1], "$case: message");
	ok(defined $job->{completed_at}, "$case: completed_at set");
}
my $ok = $t->wait_job($t->enqueue('selftest', { result => { after => 'crashes' } }), 30);
is($ok->{status}, 'completed', 'the daemon still serves after the crashes');
is($ok->{result}{after}, 'crashes', '... with the result');

# Output and status commit together: a job that creates a table and then
# crashes leaves no table; one that completes leaves it.
my $c1 = $t->wait_job($t->enqueue('selftest', { table => 'kept' }), 30);
is($c1->{status}, 'completed', 'a job with output completes');
is($t->psql(q{SELECT count(*) FROM pg_tables WHERE schemaname = 'analysis' AND tablename = 'kept'}), 1,
   '... and its output is there');
my $c2 = $t->wait_job($t->enqueue('selftest', { table => 'gone', fail => 'late failure' }), 30);
is($c2->{status}, 'failed', 'a job that fails after writing output fails');
is($t->psql(q{SELECT count(*) FROM pg_tables WHERE schemaname = 'analysis' AND tablename = 'gone'}), 0,
   '... and leaves no output');

kill 'USR1', $t->daemon_pid;
$t->wait_for(sub { $t->log_text =~ /type selftest: .*crashed since start/ && $t->log_text =~ /type clip: .*crashed since start/ }, 10);
like($t->log_text, qr/type selftest: [^\n]*; 2 completed, \d+ failed, \d+ crashed since start/,
     'status dump after crashes, with the two completed jobs');
like($t->log_text, qr/(\d+) crashed since start/, 'crashes counted');
my $crashed = 0;
my $log = $t->log_text;
$crashed += $1 while $log =~ /(\d+) crashed since start/g;
is($crashed, 6, 'six crashes counted (segv, abort, memory, cpu, timeout, exit)');
$t->stop_daemon;
done_testing;

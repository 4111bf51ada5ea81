# The master killed with SIGKILL leaves no child running (PR_SET_PDEATHSIG),
# and the next master on the node marks the job it left behind.
use strict;
use warnings;
use Test::More;
use GW;

my $t = GW->new;
my $ini = $t->config(types => { selftest => { children => 2 } });
my $master = $t->start_daemon(ini => $ini);
my $id = $t->enqueue('selftest', { sleep => 60 });
ok($t->wait_for(sub { $t->job($id)->{status} eq 'running' }, 20), 'job running');
my $worker = $t->job($id)->{worker_pid};
my @kids = $t->children_of($master);
cmp_ok(scalar @kids, '>=', 2, 'master has its children');
ok((grep { $_ == $worker } @kids), 'the job runs in a child of the master');

kill 'KILL', $master;
waitpid($master, 0);
$t->{daemon} = undef;
ok($t->wait_for(sub { !grep { kill 0, $_ } @kids }, 10), 'every child died with the master')
    or diag "still alive: " . join(' ', grep { kill 0, $_ } @kids);
is($t->job($id)->{status}, 'running', 'the row still says running');

# A second master must not start on the same pidfile while one runs: but the
# killed one left its pidfile unlocked, so the restart works.
$t->start_daemon(ini => $ini);
my $job = $t->wait_job($id, 20);
is($job->{status}, 'failed', 'the restarted master fails the job left running');
like($job->{error_message}, qr/^worker lost: geoworkerd on testnode restarted while the job ran \(pid $worker\)$/,
   '... saying what happened');
my $next = $t->wait_job($t->enqueue('selftest', {}), 20);
is($next->{status}, 'completed', 'and serves new jobs');

# A second master on the same pidfile refuses to start.
my $out = `$GW::BUILDDIR/src/geoworkerd -f -c $ini 2>&1`;
is($? >> 8, 1, 'a second master exits 1');
like($out, qr/already running as pid $t->{daemon}/, '... naming the running one');
$t->stop_daemon;
ok(!-e $t->dir . '/geoworkerd.pid', 'pidfile removed on a clean stop');
done_testing;

# max_attempts: a job that crashes goes back to the queue with run_after
# backed off, runs again, and fails for good when its attempts are spent.
use strict;
use warnings;
use Test::More;
use GW;
use Time::HiRes qw(time);

my $t = GW->new;
$t->start_daemon(types => { selftest => { children => 1, max_attempts => 2, retry_delay => '2s' } });
my $id = $t->enqueue('selftest', { signal => 9 });
$t->wait_for(sub { my $r = $t->job($id); $r->{status} eq 'queued' && $r->{attempts} == 1 }, 20);
my $j = $t->job($id);
is($j->{status}, 'queued', 'first crash: back to queued');
is($j->{attempts}, 1, 'one attempt counted');
like($j->{error_message}, qr/killed by signal 9/, 'the last error is kept');
my $wait = $t->psql("SELECT extract(epoch FROM run_after - now()) FROM background_jobs WHERE id = $id");
cmp_ok($wait, '>', 0.5, 'run_after is in the future');
cmp_ok($wait, '<=', 2.1, 'by retry_delay');
$j = $t->wait_job($id, 20, qr/^failed$/);
is($j->{status}, 'failed', 'second crash: failed');
is($j->{attempts}, 2, 'two attempts');

# The job's own max_attempts overrides the type's; job failures are not retried.
my $id2 = $t->enqueue('selftest', { signal => 9 }, max_attempts => 1);
is($t->wait_job($id2, 20)->{status}, 'failed', 'max_attempts 1 on the row: no retry');
my $id3 = $t->enqueue('selftest', { fail => 'bad parameter' });
my $j3 = $t->wait_job($id3, 20);
is($j3->{status}, 'failed', 'a job that reports failure is not retried');
is($j3->{attempts}, 1, '... one attempt');
$t->stop_daemon;
done_testing;

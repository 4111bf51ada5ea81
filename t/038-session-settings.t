# A job's connection carries two settings in its start-up packet (src/worker.c,
# db_connect): synchronous_commit=off for the claim and
# idle_in_transaction_session_timeout=0 for the job.  They are added to the
# conninfo's own "options", which must still reach the server, and a DBA's
# idle_in_transaction_session_timeout must not kill a job that computes
# between its reads and its writes.
use strict;
use warnings;
use Test::More;
use GW;

my $t = GW->new;
my $db = $t->dbname;
$t->dbh->do("ALTER DATABASE \"$db\" SET idle_in_transaction_session_timeout = '300ms'");

my ($id, $row);
for my $fs (qw(yes no)) {
	$t->start_daemon(
	    conninfo => "dbname=$db options='-c lock_timeout=4321 -c work_mem=7777kB'",
	    defaults => { fork_server => $fs },
	    types => { selftest => { children => 1 } });
	$id = $t->enqueue('selftest', { sleep => 1.5,
	    show => [qw(lock_timeout work_mem synchronous_commit idle_in_transaction_session_timeout)] });
	$row = $t->wait_job($id, 20);
	is($row->{status}, 'completed',
	   "fork_server = $fs: a job idle in its transaction for 1.5 s outlives idle_in_transaction_session_timeout = 300ms")
	    or diag explain $row;
	my $show = $row->{result}{show} // {};
	is($show->{lock_timeout}, '4321ms', "... the conninfo's options reach the job's session");
	is($show->{work_mem}, '7777kB', '... all of them');
	is($show->{idle_in_transaction_session_timeout}, '0', '... with idle_in_transaction_session_timeout 0');
	is($show->{synchronous_commit}, 'on', '... and the job (its outcome) commits synchronously');
	$t->stop_daemon;
}

# Without options in the conninfo, libpq would take PGOPTIONS from the
# environment: the job's settings are added to those, which must reach the
# server too.
{
	local $ENV{PGOPTIONS} = '-c lock_timeout=2345';
	$t->start_daemon(types => { selftest => { children => 1 } });
}
$id = $t->enqueue('selftest', { show => [qw(lock_timeout synchronous_commit idle_in_transaction_session_timeout)] });
$row = $t->wait_job($id, 20);
is($row->{status}, 'completed', 'PGOPTIONS in the environment: the job completes') or diag explain $row;
is($row->{result}{show}{lock_timeout}, '2345ms', "... PGOPTIONS reaches the job's session");
is($row->{result}{show}{idle_in_transaction_session_timeout}, '0', '... with the job\'s own settings');
$t->stop_daemon;

# A failure after the job's transaction rolled back is recorded too.
$t->start_daemon(types => { selftest => { children => 1 } });
$id = $t->enqueue('selftest', { sleep => 0.5, fail => 'on purpose' });
$row = $t->wait_job($id, 20);
is($row->{status}, 'failed', 'a failing job is recorded failed');
is($row->{error_message}, 'on purpose', '... with its message');
$t->stop_daemon;

done_testing;

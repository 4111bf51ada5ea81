# A job whose own connection is lost (a DBA's pg_terminate_backend, the
# backend killed) spends an attempt and is backed off; after max_attempts it
# fails saying how many times the connection was lost.  A job that crashes
# the whole server (its backend killed with SIGKILL: PostgreSQL restarts
# every backend) is re-queued free only GW_MAX_FREE_LOSSES (3) times, then
# counted: it never runs for ever.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time);
use GW;

plan skip_all => 'killing a backend needs root' unless $> == 0;
my $t = GW->new;
$t->start_daemon(types => { selftest => { children => 1, max_attempts => 2,
    retry_delay => '1s', max_retry_delay => '2s' } });

# Only this job's connection: terminated (SIGTERM to its backend).
my $id = $t->enqueue('selftest', { kill_backend => 15 });
my $j = $t->wait_job($id, 60, qr/^failed$/);
is($j->{status}, 'failed', 'a job that loses its own connection every time fails');
is($j->{attempts}, 2, '... after max_attempts (2) runs');
is($j->{free_attempts}, 0, '... none of them free: the database was up for everyone');
is($j->{connection_losses}, 2, '... both runs lost the connection');
like($j->{error_message}, qr/^the database connection was lost during the job \(2 times\)$/,
     '... and the message says so, and how many times');
my @took = $t->log_text =~ /took job $id \(attempt \d+\)/g;
is(scalar @took, 2, 'it ran exactly twice');
my @ts = map { /^(\S+)Z/ ? $1 : () } grep { /took job $id / } split /\n/, $t->log_text;
my @sec = map { my ($h, $m, $s) = /T(\d+):(\d+):([\d.]+)$/; $h * 3600 + $m * 60 + $s } @ts;
cmp_ok($sec[1] - $sec[0], '>=', 0.9, 'the second run was backed off by retry_delay');

# The whole server: a backend killed with SIGKILL makes PostgreSQL restart.
SKIP: {
	skip 'needs the pg_virtualenv cluster', 6 unless $ENV{PG_CLUSTER_CONF_ROOT};
	$t->dbh->disconnect;
	delete $t->{dbh};
	# The row itself must survive the crashes (the test cluster commits
	# asynchronously); the claims need not: the master counts the losses
	# it saw even when a crash took the claim with it.
	$t->dbh->do('SET synchronous_commit = on');
	my $p = $t->enqueue('selftest', { kill_backend => 9 }, max_attempts => 1);
	my $row;
	$t->wait_for(sub { $row = eval { $t->job($p) }; $row && $row->{status} eq 'failed' }, 150);
	is($row->{status}, 'failed', 'a job that crashes the server ends failed')
	    or diag explain $t->job($p);
	is($row->{connection_losses}, 4, '... after 3 free runs and 1 counted (max_attempts 1) lost the connection');
	cmp_ok($row->{attempts} - $row->{free_attempts}, '<=', 1,
	    '... never more than max_attempts counted (a claim lost in a crash counts nothing)');
	my @runs = $t->log_text =~ /took job $p \(attempt/g;
	is(scalar @runs, 4, '... it ran exactly 4 times');
	like($row->{error_message}, qr/^the database connection was lost during the job \((\d+) times?\)$/,
	     '... saying the connection was lost, and how many times');
	ok(kill(0, $t->daemon_pid), 'the master lived through the crashes');
}
is($t->stop_daemon, 0, 'the master stops cleanly');
done_testing;

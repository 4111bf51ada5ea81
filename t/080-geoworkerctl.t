# geoworkerctl against a live daemon and a real database: every command, its
# --json document (parsed here) and its exit code, as geoworkerctl(8) says.
use strict;
use warnings;
use Test::More;
use GW;
use JSON::PP;
use Time::HiRes qw(time);

my $t = GW->new;
my $ctl = "$GW::BUILDDIR/ctl/geoworkerctl";
our $ini = $t->config(types => { selftest => { children => 2 } });

# Runs geoworkerctl -c $ini @args; returns (exit code, stdout, stderr).
sub ctl {
	my (@args) = @_;
	my $err = $t->dir . '/ctl.err';
	my $pid = open(my $fh, '-|') // die "fork: $!";
	if ($pid == 0) {
		open(STDERR, '>', $err) or POSIX::_exit(127);
		exec($ctl, '-c', $ini, @args) or POSIX::_exit(127);
	}
	local $/;
	my $out = <$fh> // '';
	close $fh;
	return ($? >> 8, $out, GW::slurp($err));
}

# Runs it with --json; returns (exit code, decoded document or undef).
sub ctl_json {
	my ($rc, $out, $err) = ctl('--json', @_);
	my $doc = eval { decode_json($out) };
	diag "geoworkerctl --json @_: exit $rc, stdout '$out', stderr '$err'" unless $doc;
	return ($rc, $doc);
}

# Usage errors: exit 2 before any connection.
is((ctl())[0], 2, 'no command: exit 2');
is((ctl('frobnicate'))[0], 2, 'unknown command: exit 2');
is((ctl('jobs', '--priority', '3'))[0], 2, 'an option the command does not take: exit 2');
is((ctl('jobs', '--older-than', 'yesterday'))[0], 2, 'a bad duration: exit 2');
is((ctl('jobs', '--status', 'done'))[0], 2, 'an unknown status: exit 2');
is((ctl('show', 'x'))[0], 2, 'a bad job id: exit 2');
is((ctl('enqueue', 'no_such_type', '{}'))[0], 2, 'an unknown job type: exit 2');
is((ctl('enqueue', 'selftest', '[1, 2]'))[0], 2, 'parameters that are not an object: exit 2');
is((ctl('enqueue', 'selftest', '{}', '--timeout', '1s'))[0], 2, '--timeout without --wait: exit 2');
is((ctl('purge'))[0], 2, 'purge without --older-than: exit 2');
is((ctl('purge', '--older-than', '1d', '--status', 'running'))[0], 2, 'purge of running jobs: exit 2');

# No master yet.
my ($rc, $out, $err) = ctl('status');
is($rc, 3, 'status without a master: exit 3');
like($err, qr/no master runs/, '... saying so');

# A stale pidfile naming a live process that is not a master (this test):
# no signal to it, exit 3 at once.
{
	open(my $fh, '>', $t->dir . '/geoworkerd.pid') or die;
	print $fh "$$\n";
	close $fh;
	local $SIG{USR1} = sub { fail('a stale pidfile made geoworkerctl signal its pid') };
	my $t0 = time;
	($rc, $out, $err) = ctl('status');
	is($rc, 3, 'status with a stale pidfile: exit 3');
	like($err, qr/stale/, '... saying the pidfile is stale');
	cmp_ok(time - $t0, '<', 2, '... without waiting');
	unlink $t->dir . '/geoworkerd.pid';
}

# A database that is not there: exit 3.
{
	my $bad = $t->config(conninfo => 'dbname=gw_no_such_database_080',
	    path => $t->dir . '/bad.ini');
	local $ini = $bad;
	is((ctl('jobs'))[0], 3, 'unreachable database: exit 3');
}

my $master = $t->start_daemon(ini => $ini);

# enqueue: prints the id; --json gives it as a field.
my $doc;
($rc, $doc) = ctl_json('enqueue', 'selftest', '{"sleep": 30, "progress": 30}', '--priority', '5');
is($rc, 0, 'enqueue: exit 0');
my $long = $doc->{id};
like($long, qr/^\d+$/, 'enqueue --json: the id');
is($t->job($long)->{priority}, 5, '--priority is stored');
ok($t->wait_for(sub { $t->job($long)->{status} eq 'running' && $t->job($long)->{progress} > 0 }, 20),
    'the job runs and reports progress');

# status: the master's own view, fresh.
($rc, $doc) = ctl_json('status');
is($rc, 0, 'status: exit 0');
is($doc->{pid}, $master, 'status: the master pid');
is($doc->{node}, 'testnode', 'status: the node');
my ($st) = grep { $_->{type} eq 'selftest' } @{ $doc->{types} };
is($st->{configured}, 2, 'status: two children configured');
is($st->{busy}, 1, 'status: one busy');
is($st->{idle}, 1, 'status: one idle');
is($doc->{busy}[0]{job}, $long, 'status: the busy job');
is($doc->{busy}[0]{pid}, $t->job($long)->{worker_pid}, 'status: the pid holding it');
cmp_ok($doc->{busy}[0]{rss_bytes}, '>', 0, 'status: its memory');
cmp_ok($doc->{busy}[0]{progress}, '>', 0, 'status: its progress');
my $mtime = (stat($t->dir . '/status.json'))[9];
($rc, $out) = ctl('status');
is($rc, 0, 'status (table): exit 0');
like($out, qr/^master pid $master on node testnode/m, 'status (table): the master line');
like($out, qr/^TYPE\s+CONFIGURED\s+LIVE\s+IDLE\s+BUSY/m, 'status (table): the types header');
like($out, qr/^selftest\s+2\s+2\s+1\s+1\s/m, 'status (table): the selftest row');
like($out, qr/^\s*\d+\s+selftest\s+$long\s+[\d.]+ s\s+\d+%\s+\S+$/m, 'status (table): the busy child');

# nodes: this node runs one job.
($rc, $doc) = ctl_json('nodes');
is($rc, 0, 'nodes: exit 0');
is(scalar @{ $doc->{nodes} }, 1, 'nodes: one live node');
is($doc->{nodes}[0]{node}, 'testnode', 'nodes: its name');
is($doc->{nodes}[0]{running}, 1, 'nodes: one running job');
is($doc->{running}, 1, 'nodes: one running job in all');
($rc, $out) = ctl('nodes');
like($out, qr/^testnode\s+1\s+selftest\s/m, 'nodes (table): the node row');

# show: everything about the job.
($rc, $doc) = ctl_json('show', $long);
is($rc, 0, 'show: exit 0');
is($doc->{status}, 'running', 'show: status');
is($doc->{params}{sleep}, 30, 'show: params');
is($doc->{worker_host}, 'testnode', 'show: node');
is($doc->{worker_pid}, $t->job($long)->{worker_pid}, 'show: pid');
is($doc->{attempts}, 1, 'show: attempts');
ok(defined $doc->{started_at} && defined $doc->{created_at}, 'show: timestamps');
($rc, $out) = ctl('show', $long);
like($out, qr/^status\s+running$/m, 'show (text): status');
like($out, qr/^params:\n\{\n\s+"sleep": 30/m, 'show (text): params');
is((ctl('show', '999999'))[0], 1, 'show of a missing job: exit 1');

# enqueue --wait: 0 when it completes, 1 when it fails.
($rc, $doc) = ctl_json('enqueue', 'selftest', '{"sleep": 0.2, "result": {"answer": 42}}', '--wait', '--timeout', '30s');
is($rc, 0, 'enqueue --wait of a job that completes: exit 0');
is($doc->{status}, 'completed', '... the job as it ended');
is($doc->{result}{answer}, 42, '... with its result');
my $done = $doc->{id};
($rc, $doc) = ctl_json('enqueue', 'selftest', '{"fail": "boom"}', '--wait');
is($rc, 1, 'enqueue --wait of a job that fails: exit 1');
is($doc->{status}, 'failed', '... failed');
like($doc->{error_message}, qr/boom/, '... with its message');
my $failed = $doc->{id};

# wait: an ended job at once; a long one until --timeout.
is((ctl('wait', $done))[0], 0, 'wait on a completed job: exit 0');
is((ctl('wait', $failed))[0], 1, 'wait on a failed job: exit 1');
is((ctl('wait', '999999'))[0], 1, 'wait on a missing job: exit 1');
my $t0 = time;
($rc, $out, $err) = ctl('wait', $long, '--timeout', '1s');
my $took = time - $t0;
is($rc, 4, 'wait past --timeout: exit 4');
cmp_ok($took, '>=', 0.9, '... after the timeout');
cmp_ok($took, '<', 5, '... and not much later');
like($err, qr/still running/, '... saying the job still runs');

# wait wakes up on geoworkerd_done: a job that ends 1.5 s from now.
my $soon = $t->enqueue('selftest', { sleep => 1.5 });
$t0 = time;
($rc, $doc) = ctl_json('wait', $soon, '--timeout', '30s');
is($rc, 0, 'wait for a running job: exit 0 when it completes');
is($doc->{status}, 'completed', '... completed');
cmp_ok(time - $t0, '<', 10, '... soon after it ended');

# jobs: newest first, filters.
($rc, $doc) = ctl_json('jobs');
is($rc, 0, 'jobs: exit 0');
my @ids = map { $_->{id} } @{ $doc->{jobs} };
is_deeply(\@ids, [sort { $b <=> $a } ($long, $done, $failed, $soon)], 'jobs: every job, newest first');
($rc, $doc) = ctl_json('jobs', '--status', 'failed');
is_deeply([map { $_->{id} } @{ $doc->{jobs} }], [$failed], 'jobs --status failed');
($rc, $doc) = ctl_json('jobs', '--status', 'completed,running', '--type', 'selftest');
is_deeply([sort { $a <=> $b } map { $_->{id} } @{ $doc->{jobs} }], [sort { $a <=> $b } ($long, $done, $soon)],
    'jobs --status completed,running --type selftest');
($rc, $doc) = ctl_json('jobs', '--limit', '2');
is(scalar @{ $doc->{jobs} }, 2, 'jobs --limit 2');
$t->dbh->do(q{UPDATE background_jobs SET created_at = now() - interval '3 days' WHERE id = ?}, undef, $done);
($rc, $doc) = ctl_json('jobs', '--older-than', '2d');
is_deeply([map { $_->{id} } @{ $doc->{jobs} }], [$done], 'jobs --older-than 2d');
($rc, $doc) = ctl_json('jobs', '--newer-than', '1h');
ok(!grep({ $_->{id} == $done } @{ $doc->{jobs} }) && @{ $doc->{jobs} } == 3, 'jobs --newer-than 1h');
($rc, $doc) = ctl_json('jobs', '--type', 'dissolve');
is_deeply($doc->{jobs}, [], 'jobs of a type with none: an empty list');
($rc, $out) = ctl('jobs', '--status', 'failed');
like($out, qr/^ID\s+TYPE\s+STATUS\s/m, 'jobs (table): the header');
like($out, qr/^\s*$failed\s+selftest\s+failed\s.*boom/m, 'jobs (table): the failed job and its error');

# --key: one live job per (type, key).
($rc, $doc) = ctl_json('enqueue', 'selftest', '{"sleep": 20}', '--key', 'k1');
my $keyed = $doc->{id};
($rc, $doc) = ctl_json('enqueue', 'selftest', '{"sleep": 20}', '--key', 'k1');
is($doc->{id}, $keyed, 'enqueue --key twice: the same job');
is($t->job($keyed)->{job_key}, 'k1', '... which holds the key');

# cancel: 0 once, 1 when there is nothing to cancel.
($rc, $doc) = ctl_json('cancel', $long);
is($rc, 0, 'cancel of a running job: exit 0');
is($doc->{status}, 'cancelled', '... now cancelled');
ok($t->wait_for(sub { !$t->job($long)->{worker_pid} || !kill(0, $t->job($long)->{worker_pid}) }, 10),
    '... and its child killed');
is((ctl('cancel', $long))[0], 1, 'cancel again: exit 1');
is((ctl('cancel', $done))[0], 1, 'cancel of a completed job: exit 1');
is((ctl('cancel', $keyed))[0], 0, 'cancel of the keyed job: exit 0');

# retry: a failed job runs again; a completed one cannot.
is((ctl('retry', $done))[0], 1, 'retry of a completed job: exit 1');
$t->dbh->do(q{UPDATE background_jobs SET params = '{}' WHERE id = ?}, undef, $failed);
($rc, $out) = ctl('retry', $failed);
is($rc, 0, 'retry of a failed job: exit 0');
like($out, qr/job $failed queued again/, '... saying so');
is($t->wait_job($failed, 20)->{status}, 'completed', '... and it runs again');

# dismiss: the row goes.
($rc, $doc) = ctl_json('dismiss', $failed);
is($rc, 0, 'dismiss: exit 0');
ok($doc->{changed}, '... changed');
is($t->job($failed), undef, '... the row is gone');
is((ctl('dismiss', $failed))[0], 1, 'dismiss again: exit 1');

# purge: only ended jobs older than the cut-off, of the status asked.
my @old = map { $t->enqueue('selftest', {}) } 1 .. 3;
$t->wait_job($_, 20) for @old;
$t->dbh->do(q{UPDATE background_jobs SET completed_at = now() - interval '2 days' WHERE id = ANY (?)}, undef,
    [@old, $long]);
my $before = $t->psql('SELECT count(*) FROM background_jobs');
($rc, $doc) = ctl_json('purge', '--older-than', '1d', '--status', 'completed');
is($rc, 0, 'purge: exit 0');
is($doc->{purged}, 3, 'purge --status completed: the three old completed jobs');
is($t->psql('SELECT count(*) FROM background_jobs WHERE id IN (' . join(',', @old) . ')'), 0, '... gone');
ok($t->job($long), '... the old cancelled job stays');
ok($t->job($done), '... a recent completed job stays');
($rc, $out) = ctl('purge', '--older-than', '1d', '--type', 'selftest');
is($rc, 0, 'purge of every ended status: exit 0');
like($out, qr/^purged 1 job$/m, '... the old cancelled job');
is($t->psql('SELECT count(*) FROM background_jobs'), $before - 4, 'nothing else purged');

# Without a master, status says so.
$t->stop_daemon('TERM', 30);
is((ctl('status'))[0], 3, 'status after the master stopped: exit 3');
done_testing;

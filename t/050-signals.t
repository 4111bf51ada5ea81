# Signals to the master: USR1 dumps status, HUP reloads (and keeps the old
# configuration when the new one is bad), cancel kills a job's child, TERM
# stops gracefully and re-queues a job that outlives shutdown_grace.
use strict;
use warnings;
use Test::More;
use GW;
use JSON::PP;

my $t = GW->new;
# Two more job types made of the test program, by name.
my $cd = $t->dir . '/children';
mkdir $cd;
for my $type (qw(selftest dissolve clip)) {
	symlink("$GW::BUILDDIR/children/selftest", "$cd/$type") or die "symlink: $!";
}
my %types = (selftest => { children => 1 }, dissolve => { children => 2 }, clip => { children => 1 });
my $ini = $t->config(types => \%types, daemon => { child_dir => $cd, shutdown_grace => '2s' });
my $master = $t->start_daemon(ini => $ini);
ok($t->wait_for(sub { scalar($t->children_of($master)) == 4 }, 20), 'four children: 1 + 2 + 1');

# USR1: one line per type, one per busy child, JSON in status_file.
my $busy = $t->enqueue('dissolve', { sleep => 30 });
ok($t->wait_for(sub { $t->job($busy)->{status} eq 'running' }, 20), 'a dissolve job runs');
my $pid = $t->job($busy)->{worker_pid};
# Three clip jobs wait in the queue (not runnable yet).
$t->dbh->do(q{INSERT INTO background_jobs (job_type, params, run_after)
	SELECT 'clip', '{}', now() + interval '1 hour' FROM generate_series(1, 3)});
kill 'USR1', $master;
ok($t->wait_for(sub { $t->log_text =~ /status: busy child/ }, 10), 'status dumped');
my $log = $t->log_text;
like($log, qr/status: type $_: children \d+ configured/, "status line for $_") for sort keys %types;
like($log, qr/status: busy child $pid: type dissolve, job $busy, [\d.]+ s, memory \S+/, 'status line for the busy child');
my $status = decode_json(GW::slurp($t->dir . '/status.json'));
is_deeply([sort map { $_->{type} } @{ $status->{types} }], [sort keys %types], 'status.json lists every type');
is($status->{busy}[0]{job}, $busy, 'status.json lists the busy child');
my ($d) = grep { $_->{type} eq 'dissolve' } @{ $status->{types} };
is($d->{busy}, 1, 'dissolve: one busy');
is($d->{configured}, 2, 'dissolve: two configured');
my ($c) = grep { $_->{type} eq 'clip' } @{ $status->{types} };
is($c->{queued}, 3, 'clip: three queued');
is($d->{queued}, 0, 'dissolve: none queued');
like($log, qr/status: type clip: .*; 3 queued/, '... the log line says so too');
cmp_ok($status->{busy}[0]{rss_bytes}, '>', 0, 'memory of the busy child');

# Cancel kills the child at once; the row stays cancelled.
$t->dbh->do(q{UPDATE background_jobs SET status = 'cancelled' WHERE id = ?}, undef, $busy);
ok($t->wait_for(sub { !kill(0, $pid) }, 5), 'cancelling kills the child');
is($t->job($busy)->{status}, 'cancelled', 'the job stays cancelled');
is($t->wait_job($t->enqueue('dissolve', {}), 20)->{status}, 'completed', 'and the type serves the next job');

# HUP: a bad configuration is refused and the old one kept.
open(my $fh, '>>', $ini) or die;
print $fh "memory_limit = lots\n";
close $fh;
kill 'HUP', $master;
ok($t->wait_for(sub { $t->log_text =~ /keeping the old configuration/ }, 10), 'a bad reload is refused');
like($t->log_text, qr/reload: \Q$ini\E:\d+: bad value for memory_limit/, '... with file and line');
is($t->wait_job($t->enqueue('clip', {}), 20)->{status}, 'completed', 'the daemon still serves');

# HUP: a good one changes the number of children.
$types{selftest}{children} = 3;
$t->config(types => \%types, daemon => { child_dir => $cd, shutdown_grace => '2s' });
kill 'HUP', $master;
ok($t->wait_for(sub { scalar($t->children_of($master)) == 6 }, 20), 'after HUP: six children (3 + 2 + 1)')
    or diag scalar($t->children_of($master));

# TERM: idle children go at once, a busy one gets shutdown_grace, then its
# job goes back to the queue, not counted as an attempt.
my $long = $t->enqueue('selftest', { sleep => 60 });
ok($t->wait_for(sub { $t->job($long)->{status} eq 'running' }, 20), 'a long job runs');
my $t0 = time;
my $st = $t->stop_daemon('TERM', 30);
my $took = time - $t0;
is($st, 0, 'the master exits 0');
cmp_ok($took, '>=', 1, 'it waited for the grace time');
cmp_ok($took, '<', 10, 'and not much longer');
my $j = $t->job($long);
is($j->{status}, 'queued', 'the busy job is back in the queue');
is($j->{attempts}, 1, '... attempts never goes down (it names the run)');
is($j->{free_attempts}, 1, '... and the interrupted run does not count');
like($j->{error_message}, qr/^interrupted: geoworkerd on testnode stopped/, '... saying why');
is(scalar($t->children_of($master)), 0, 'no child left');
done_testing;

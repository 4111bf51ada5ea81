# Two nodes (two masters with their own node_name) share one queue.  One
# whole node is SIGKILLed (master and children); the other sweeps its jobs
# after orphan_timeout and finishes them; no job completes twice; each
# node's status dump speaks for itself.
use strict;
use warnings;
use Test::More;
use POSIX qw(:sys_wait_h);
use JSON::PP;
use GW;

my $t = GW->new;
my $dir = $t->dir;
my %common = (heartbeat_interval => '1s', orphan_timeout => '4s');
my $ini_a = $t->config(daemon => { %common, node_name => 'nodeA' },
    types => { selftest => { children => 2, max_attempts => 3, retry_delay => '1s' } });
my $ini_b = $t->config(daemon => { %common, node_name => 'nodeB', pidfile => "$dir/b.pid",
    status_file => "$dir/b.json" },
    types => { selftest => { children => 2, max_attempts => 3, retry_delay => '1s' } },
    path => "$dir/b.ini");
$t->dbh->do(q{INSERT INTO background_jobs (job_type, params)
	SELECT 'selftest', json_build_object('sleep', 1.5, 'table', 'n_' || g)::jsonb
	FROM generate_series(1, 30) g});
my $a = $t->start_daemon(ini => $ini_a);
my $b = fork // die;
if ($b == 0) {
	open(STDERR, '>>', "$dir/b.log");
	open(STDOUT, '>&', \*STDERR);
	exec("$GW::BUILDDIR/src/geoworkerd", '-f', '-d', '-c', $ini_b) or POSIX::_exit(127);
}
ok($t->wait_for(sub { GW::slurp("$dir/b.log") =~ /ready: / }, 20), 'node B is ready');
ok($t->wait_for(sub { $t->psql(q{SELECT count(DISTINCT worker_host) FROM background_jobs WHERE status = 'running'}) == 2 }, 30),
   'both nodes run jobs of the one queue');
kill 'USR1', $a, $b;
ok($t->wait_for(sub { -s "$dir/status.json" && -s "$dir/b.json" }, 10), 'both dump their status');
my $sa = decode_json(GW::slurp("$dir/status.json"));
my $sb = decode_json(GW::slurp("$dir/b.json"));
is($sa->{node}, 'nodeA', 'node A says it is node A');
is($sb->{node}, 'nodeB', 'node B says it is node B');
my %held_b = map { $_->{job} => 1 } @{ $sb->{busy} };
is(scalar(grep { $held_b{$_->{job}} } @{ $sa->{busy} }), 0, 'no job is busy on both nodes');

# The whole of node B dies: its master SIGKILLed, its children with it.
my @kids_b = $t->children_of($b);
my @held = @{ $t->dbh->selectcol_arrayref(q{SELECT id FROM background_jobs WHERE status = 'running' AND worker_host = 'nodeB'}) };
kill 'KILL', $b;
waitpid($b, 0);
ok($t->wait_for(sub { !grep { kill 0, $_ } @kids_b }, 10), 'node B\'s children died with it');
ok(@held > 0, 'node B held jobs when it died (' . scalar(@held) . ')');
ok($t->wait_for(sub { $t->psql(q{SELECT count(*) FROM background_jobs WHERE status IN ('queued', 'running')}) == 0 }, 120),
   'node A drains the queue');
is($t->psql(q{SELECT count(*) FROM background_jobs WHERE status = 'completed'}), 30, 'every job completed');
like($t->log_text, qr/had no heartbeat for 4000 ms; now queued/, 'node A swept node B\'s jobs');
my ($swept) = $t->dbh->selectrow_array(q{SELECT count(*) FROM background_jobs WHERE worker_host = 'nodeA' AND id = ANY(?)},
    undef, \@held);
is($swept, scalar(@held), '... and finished every one of them');
my %done;
for my $log ($t->log_text, GW::slurp("$dir/b.log")) {
	$done{$1}++ while $log =~ /job (\d+): completed in/g;
}
is(scalar(grep { $_ > 1 } values %done), 0, 'no job completed twice');
is($t->psql(q{SELECT count(*) FROM pg_tables WHERE schemaname = 'analysis' AND tablename LIKE 'n\_%'}), 30,
   'each job\'s output exists once');
is($t->stop_daemon, 0, 'node A stops cleanly');
done_testing;

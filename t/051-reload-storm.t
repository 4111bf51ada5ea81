# Hundreds of SIGHUPs while children start never stop the master, are not
# counted as crashes, and leave no child with the old settings; a reload that
# changes node_name is refused and the busy jobs finish.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(sleep);
use GW;

my $t = GW->new;
my $ini = $t->config(types => { selftest => { children => 8, open_files => 1000 } });
my $master = $t->start_daemon(ini => $ini);
$t->dbh->do(q{INSERT INTO background_jobs (job_type, params)
	SELECT 'selftest', '{"sleep": 0.05}' FROM generate_series(1, 100)});
for (1 .. 300) {
	kill 'HUP', $master;
	sleep 0.01;
}
ok(kill(0, $master), 'the master lives through 300 SIGHUPs');
unlike($t->log_text, qr/stopping on signal/, '... and never began to stop');
ok($t->wait_for(sub { $t->psql(q{SELECT count(*) FROM background_jobs WHERE status = 'completed'}) == 100 }, 120),
   'every job completed meanwhile');
is($t->psql(q{SELECT count(*) FROM background_jobs WHERE status <> 'completed'}), 0, 'none failed');

# New settings reach every child.
$t->config(types => { selftest => { children => 8, open_files => 777 } }, path => $ini);
kill 'HUP', $master;
my @kids;
ok($t->wait_for(sub {
	@kids = $t->children_of($master);
	@kids == 8 && !grep { GW::slurp("/proc/$_/limits") !~ /Max open files\s+777\s/ } @kids
}, 30), 'after the storm, all 8 children run with the new settings');

kill 'USR1', $master;
ok($t->wait_for(sub { $t->log_text =~ /type selftest: .*crashed since start/ }, 10), 'status dumped');
my ($crashed) = $t->log_text =~ /type selftest: [^\n]* (\d+) crashed since start/;
is($crashed, 0, 'no child stopped by a reload counted as a crash');
unlike($t->log_text, qr/before claiming a job; next start/, 'and no type was throttled');

# node_name: refused while jobs run.
my $busy = $t->enqueue('selftest', { sleep => 3 });
ok($t->wait_for(sub { $t->log_text =~ /took job $busy / }, 20), 'a job runs');
$t->config(daemon => { node_name => 'renamed' }, types => { selftest => { children => 8 } }, path => $ini);
kill 'HUP', $master;
ok($t->wait_for(sub { $t->log_text =~ /node_name cannot change from testnode to renamed/ }, 10),
   'a reload changing node_name is refused, saying why');
my $b = $t->wait_job($busy, 30);
is($b->{status}, 'completed', 'the busy job completes');
is($b->{worker_host}, 'testnode', '... under the old name');
is($t->stop_daemon, 0, 'the master stops cleanly');
done_testing;

# The fork server: a type's program is exec'd once and each child forked
# from it, yet each job still runs in a fresh process of the master's (a
# child subreaper), under the type's limits, with the same wording of its
# death; a server that dies is started again; a new program file (an
# upgrade) or a reload replaces it; fork_server = no execs every child.
use strict;
use warnings;
use Test::More;
use File::Copy qw(copy);
use GW;

my $t = GW->new;
my $cd = $t->dir . '/children';
mkdir $cd;
copy("$GW::BUILDDIR/children/selftest", $t->dir . '/selftest.1') or die;
chmod 0755, $t->dir . '/selftest.1';
symlink($t->dir . '/selftest.1', "$cd/selftest") or die;
my $ini = $t->config(daemon => { child_dir => $cd },
    types => { selftest => { children => 2, memory_limit => '256M' } });
my $master = $t->start_daemon(ini => $ini);

sub servers {
	my @s;
	for my $stat (glob '/proc/[0-9]*/stat') {
		my $line = GW::slurp($stat);
		my ($pid, $rest) = $line =~ /^(\d+) \(.*\) (.*)$/s or next;
		my @f = split ' ', $rest;
		push @s, $pid if $f[1] == $master && $f[0] ne 'Z' && GW::slurp("/proc/$pid/cmdline") =~ /fork server/;
	}
	return @s;
}
ok($t->wait_for(sub { servers() == 1 }, 20), 'one fork server runs for the type');
my ($srv) = servers();
like(GW::slurp("/proc/$srv/cmdline"), qr/selftest fork server/, '... named for it');

my @ids = map { $t->enqueue('selftest', { sleep => 0.5 }) } 1 .. 6;
my %pids;
for my $id (@ids) {
	my $j = $t->wait_job($id, 30);
	is($j->{status}, 'completed', "job $id completes");
	$pids{$j->{result}{pid}}++;
}
is(scalar(keys %pids), 6, 'each job ran in a process of its own');
like($t->log_text, qr/selftest: started fork server \d+/, 'the master started the server');
my $busy = $t->enqueue('selftest', { sleep => 3 });
ok($t->wait_for(sub { $t->log_text =~ /child (\d+) took job $busy / }, 20), 'a job runs');
my ($kid) = $t->log_text =~ /child (\d+) took job $busy /;
my ($ppid) = GW::slurp("/proc/$kid/stat") =~ /^\d+ \(.*\) \S+ (\d+)/;
is($ppid, $master, 'its process is the master\'s child (subreaper), not the server\'s');
my $limits = GW::slurp("/proc/$kid/limits");
like($limits, qr/Max address space\s+268435456\s/, '... under the type\'s memory_limit');
like($limits, qr/Max core file size\s+0\s/, '... and no core dumps');
is($t->wait_job($busy, 30)->{status}, 'completed', '... and completes');

my $segv = $t->wait_job($t->enqueue('selftest', { signal => 11 }), 30);
is($segv->{error_message}, 'worker crashed: killed by signal 11 (Segmentation fault)', 'a crash is worded as before');
my $oom = $t->wait_job($t->enqueue('selftest', { allocate => 1e9 }), 30);
is($oom->{error_message}, 'out of memory (memory_limit 256M)', 'the memory limit applies as before');

# The server dies: jobs go on, and it comes back.
kill 'KILL', $srv;
ok($t->wait_for(sub { $t->log_text =~ /fork server $srv died/ }, 10), 'a dead server is noticed');
is($t->wait_job($t->enqueue('selftest', {}), 30)->{status}, 'completed', 'jobs still run');
ok($t->wait_for(sub { my @s = servers(); @s == 1 && $s[0] != $srv }, 20), 'a new server is started');

# An upgrade: a new program file replaces the server before the next job.
($srv) = servers();
copy("$GW::BUILDDIR/children/selftest", $t->dir . '/selftest.2') or die;
chmod 0755, $t->dir . '/selftest.2';
unlink "$cd/selftest";
symlink($t->dir . '/selftest.2', "$cd/selftest") or die;
my $up = $t->enqueue('selftest', { sleep => 1 });
ok($t->wait_for(sub { $t->log_text =~ /took job $up / }, 30), 'the next job runs');
ok($t->wait_for(sub { $t->log_text =~ /stopping fork server $srv \(its program changed\)/ }, 10),
   'the old server was replaced because its program changed');
my ($upkid) = $t->log_text =~ /child (\d+) took job $up /;
is(readlink("/proc/$upkid/exe"), $t->dir . '/selftest.2', 'the job runs the new program');
is($t->wait_job($up, 30)->{status}, 'completed', '... and completes');

# fork_server = no: every child exec'd.
$t->config(daemon => { child_dir => $cd }, types => { selftest => { children => 2, fork_server => 'no' } }, path => $ini);
kill 'HUP', $master;
ok($t->wait_for(sub { servers() == 0 }, 20), 'fork_server = no: no server');
is($t->wait_job($t->enqueue('selftest', {}), 30)->{status}, 'completed', '... and jobs still run');
is($t->stop_daemon, 0, 'the master stops cleanly');
done_testing;

# The systemd watchdog, with the test in systemd's part: a datagram socket of
# its own as NOTIFY_SOCKET, WATCHDOG_USEC=1000000 and WATCHDOG_PID set to
# the master's pid (the test forks, sets WATCHDOG_PID=$$ and execs, which
# keeps the pid).  The master sends READY=1 and then WATCHDOG=1 every half
# second; stopped (SIGSTOP) it sends none, which a watchdog of 1 s detects;
# continued (SIGCONT) it sends them again.
use strict;
use warnings;
use Test::More;
use GW;
use IO::Select;
use IO::Socket::UNIX;
use POSIX ();
use Socket qw(SOCK_DGRAM);
use Time::HiRes qw(time sleep);

my $t = GW->new;
my $path = $t->dir . '/notify';
my $sock = IO::Socket::UNIX->new(Type => SOCK_DGRAM, Local => $path)
    or die "$path: $!";
my $sel = IO::Select->new($sock);
my $ini = $t->config;
$t->{log} = $t->dir . '/geoworkerd.log';

my $pid = fork // die "fork: $!";
if ($pid == 0) {
	$ENV{NOTIFY_SOCKET} = $path;
	$ENV{WATCHDOG_USEC} = 1000000;
	$ENV{WATCHDOG_PID} = $$;
	open(STDERR, '>>', $t->{log});
	open(STDOUT, '>&', \*STDERR);
	exec("$GW::BUILDDIR/src/geoworkerd", '-f', '-d', '-c', $ini) or POSIX::_exit(127);
}
$t->{daemon} = $pid;	# GW stops it at the end

# Notification lines received within $secs seconds: [ [time, line], ... ].
sub listen_for {
	my ($secs, $until) = @_;
	my @got;
	my $deadline = time + $secs;
	while ((my $left = $deadline - time) > 0) {
		last unless $sel->can_read($left);
		defined $sock->recv(my $buf, 4096) or last;
		push @got, map { [time, $_] } split /\n/, $buf;
		last if $until && grep { $_->[1] eq $until } @got;
	}
	return @got;
}
sub watchdogs { grep { $_->[1] eq 'WATCHDOG=1' } @_ }

my @got = listen_for(20, 'READY=1');
ok((grep { $_->[1] eq 'READY=1' } @got), 'READY=1');
like($t->log_text, qr/watchdog: WATCHDOG=1 every 500 ms/, 'half of WATCHDOG_USEC');

my @wd = watchdogs(listen_for(2.5));
cmp_ok(scalar(@wd), '>=', 4, 'WATCHDOG=1 at least 4 times in 2.5 s') or diag scalar @wd;
my $gap = 0;
for my $i (1 .. $#wd) {
	$gap = $wd[$i][0] - $wd[$i - 1][0] if $wd[$i][0] - $wd[$i - 1][0] > $gap;
}
cmp_ok($gap, '<', 0.8, sprintf('largest gap %.2f s, under the 1 s watchdog', $gap));

# Stopped: what was sent before the stop is read first, then silence.  A
# watchdog of WATCHDOG_USEC (1 s) would fire: the test notes when.
kill 'STOP', $pid;
my $stopped = time;
my @before = watchdogs(listen_for(0.2));
my $last = @before ? $before[-1][0] : $wd[-1][0];
my $fired;
my $deadline = time + 2;
while (time < $deadline) {
	my @w = watchdogs(listen_for(0.1));
	$last = $w[-1][0] if @w;
	$fired //= time if time - $last > 1;
}
ok(defined $fired, 'no WATCHDOG=1 for more than 1 s: the watchdog fires');
cmp_ok($last, '<', $stopped + 0.2, 'the last WATCHDOG=1 came before the stop');
cmp_ok(($fired // 99) - $stopped, '<', 1.6, sprintf('... %.2f s after SIGSTOP', ($fired // 99) - $stopped));

kill 'CONT', $pid;
my $cont = time;
@wd = watchdogs(listen_for(2, 'WATCHDOG=1'));
ok(scalar(@wd), 'after SIGCONT: WATCHDOG=1 again');
cmp_ok(($wd[0][0] // 99) - $cont, '<', 0.6, sprintf('... within %.2f s', ($wd[0][0] // 99) - $cont));
cmp_ok(scalar(watchdogs(listen_for(1.2))), '>=', 2, 'and keeps coming');
is($t->stop_daemon('TERM'), 0, 'the master exits 0');
done_testing;

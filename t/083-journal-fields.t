# Logs journald can filter.  Without the journal (JOURNAL_STREAM unset, or
# naming another file than stderr) the lines are the plain ones, unchanged.
# With it, each event is one entry of journald's native protocol carrying
# MESSAGE, PRIORITY, SYSLOG_IDENTIFIER=geoworkerd, NODE, and JOB_ID and
# JOB_TYPE on the lines about a job.  No journald runs here: as root with
# unshare(1), the test plays journald in a private mount namespace (a tmpfs
# on /run/systemd, its own socket at /run/systemd/journal/socket) and reads
# the datagrams; otherwise that part is skipped.
use strict;
use warnings;
use Test::More;
use GW;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(time sleep);

my $t = GW->new;
my $plain = qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (debug|info|warning|error) [a-z_]+\[\d+\]( job \d+)?: \S/;

# Plain lines: JOURNAL_STREAM unset, then naming something else than stderr.
for my $js (undef, '1:1') {
	my $what = defined $js ? "JOURNAL_STREAM=$js (not stderr)" : 'JOURNAL_STREAM unset';
	local $ENV{JOURNAL_STREAM} = $js;
	delete $ENV{JOURNAL_STREAM} unless defined $js;
	unlink $t->dir . '/geoworkerd.log';
	$t->start_daemon;
	my $id = $t->enqueue('selftest', { fail => 'on purpose' });
	$t->wait_job($id, 30);
	$t->stop_daemon('TERM');
	my @lines = split /\n/, $t->log_text;
	my @bad = grep { !/$plain/ } @lines;
	is_deeply(\@bad, [], "$what: every line plain") or diag join("\n", @bad[0 .. ($#bad > 5 ? 5 : $#bad)]);
	ok((grep { /^\S+Z info geoworkerd\[\d+\]: ready: \d+ children started$/ } @lines), "$what: the master's ready line");
	ok((grep { /^\S+Z info geoworkerd\[\d+\]: selftest: child \d+ took job $id \(attempt 1\)$/ } @lines),
	    "$what: the master's line about the job");
	ok((grep { /^\S+Z \w+ selftest\[\d+\] job $id: / } @lines), "$what: the job program's line names the job");
}

SKIP: {
	skip 'the journal part needs root and unshare -m (a private /run/systemd)', 9
	    unless $> == 0 && system('sh', '-c', 'unshare -m true 2>/dev/null') == 0;
	skip 'a journald runs here: not replaced', 9 if -S '/run/systemd/journal/socket';

	my $dir = $t->dir;
	my $ini = $t->config;
	my $entries = "$dir/journal.entries";
	my $script = "$dir/fake-journald.pl";
	open(my $fh, '>', $script) or die;
	print $fh <<'EOS';
use strict;
use IO::Socket::UNIX;
use Socket qw(SOCK_DGRAM);
use POSIX qw(:sys_wait_h);
my ($daemon, $ini, $log, $out, $pidfile) = @ARGV;
system('mount', '-t', 'tmpfs', 'tmpfs', '/run/systemd') == 0 or exit 77;
mkdir '/run/systemd/journal' or exit 77;
my $s = IO::Socket::UNIX->new(Type => SOCK_DGRAM, Local => '/run/systemd/journal/socket') or exit 77;
open(my $o, '>', $out) or exit 77;
$o->autoflush(1);
my $pid = fork // exit 77;
if ($pid == 0) {
	open(STDERR, '>>', $log);
	open(STDOUT, '>&', \*STDERR);
	my @st = stat(STDERR);
	$ENV{JOURNAL_STREAM} = "$st[0]:$st[1]";
	exec($daemon, '-f', '-d', '-c', $ini) or POSIX::_exit(127);
}
open(my $p, '>', $pidfile);
print $p "$pid\n";
close $p;
$s->blocking(0);
for (;;) {
	while (defined $s->recv(my $buf, 65536)) {
		last if $buf eq '';
		print $o pack('N', length $buf), $buf;
	}
	last if waitpid($pid, WNOHANG) == $pid;
	select(undef, undef, undef, 0.02);
}
while (defined $s->recv(my $buf, 65536)) {
	last if $buf eq '';
	print $o pack('N', length $buf), $buf;
}
exit 0;
EOS
	close $fh;
	my $log = "$dir/journal-mode.log";
	my $runner = fork // die;
	if ($runner == 0) {
		exec('unshare', '-m', '--propagation', 'private', $^X, $script,
		    "$GW::BUILDDIR/src/geoworkerd", $ini, $log, $entries, "$dir/daemon.pid")
		    or POSIX::_exit(127);
	}

	# The entries written so far: [ { FIELD => value }, ... ].
	my $read = sub {
		open(my $in, '<', $entries) or return [];
		binmode $in;
		local $/;
		my $data = <$in> // '';
		my @e;
		while (length $data >= 4) {
			my $len = unpack('N', substr($data, 0, 4, ''));
			my $d = substr($data, 0, $len, '');
			my %f;
			while (length $d) {
				my $nl = index($d, "\n");
				last if $nl < 0;
				my $k = substr($d, 0, $nl + 1, '');
				chop $k;
				if ($k =~ /^([A-Z_]+)=(.*)$/s) {
					$f{$1} = $2;
				} else {
					my $n = unpack('Q<', substr($d, 0, 8, ''));
					$f{$k} = substr($d, 0, $n, '');
					substr($d, 0, 1, '');	# its newline
				}
			}
			push @e, \%f;
		}
		return \@e;
	};
	my $ready = $t->wait_for(sub { grep { ($_->{MESSAGE} // '') =~ /^ready: / } @{ $read->() } }, 20);
	my $dpid = GW::slurp("$dir/daemon.pid") =~ /(\d+)/ ? $1 : 0;
	skip 'the fake journald did not start (' . (waitpid($runner, WNOHANG) == $runner ? "exit $?" : 'no entry') . ')', 9
	    unless $ready && $dpid;
	my $id = $t->enqueue('selftest', { fail => 'on purpose' });
	$t->wait_job($id, 30);
	sleep 0.3;
	kill 'TERM', $dpid;
	my $deadline = time + 20;
	sleep 0.05 while waitpid($runner, WNOHANG) != $runner && time < $deadline;

	my @e = @{ $read->() };
	my ($r) = grep { ($_->{MESSAGE} // '') =~ /^ready: / } @e;
	is($r->{PRIORITY}, 6, 'ready: PRIORITY=6 (info)');
	is($r->{SYSLOG_IDENTIFIER}, 'geoworkerd', '... SYSLOG_IDENTIFIER=geoworkerd');
	is($r->{NODE}, 'testnode', '... NODE=testnode');
	ok(!exists $r->{JOB_ID}, '... no JOB_ID');
	my ($took) = grep { ($_->{MESSAGE} // '') =~ /^selftest: child \d+ took job $id / } @e;
	is(join(' ', map { $took->{$_} // '-' } qw(JOB_ID JOB_TYPE)), "$id selftest",
	    "the master's line about the job: JOB_ID and JOB_TYPE");
	my @child = grep { ($_->{JOB_ID} // '') eq $id && ($_->{MESSAGE} // '') =~ /^selftest job $id: / } @e;
	ok(scalar(@child), "the job program's lines carry JOB_ID=$id") or diag explain [ map { $_->{MESSAGE} } @e ];
	is(join(' ', map { $child[0]{$_} // '-' } qw(JOB_TYPE NODE SYSLOG_IDENTIFIER)),
	    'selftest testnode geoworkerd', '... and JOB_TYPE, NODE (from the master), SYSLOG_IDENTIFIER');
	ok((grep { $_->{PRIORITY} == 7 } @e), 'debug lines: PRIORITY=7');
	is(GW::slurp($log) =~ tr/\n//, 0, 'nothing went to stderr as plain lines');
}
done_testing;

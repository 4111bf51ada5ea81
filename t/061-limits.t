# A limit that cannot be applied is refused by geoworkerd -t, and fails the
# job with the reason at run time instead of letting it run unlimited.
use strict;
use warnings;
use Test::More;
use GW;

my $t = GW->new;
my $ini = $t->config(types => { selftest => { open_files => 'unlimited' } });
my $out = `$GW::BUILDDIR/src/geoworkerd -t -c $ini 2>&1`;
isnt($? >> 8, 0, 'geoworkerd -t refuses open_files = unlimited');
like($out, qr/\[selftest\]: open_files = unlimited cannot be applied: setrlimit failed/,
     '... naming the section, the key and the reason');

$t->start_daemon(ini => $ini);
my $j = $t->wait_job($t->enqueue('selftest', {}), 30);
is($j->{status}, 'failed', 'at run time, the job fails');
like($j->{error_message}, qr/^open_files = unlimited cannot be applied: setrlimit failed \(\d+: /,
     '... with the reason');
$t->stop_daemon;

my $good = $t->config(types => { selftest => { open_files => 4096 } }, path => $t->dir . '/good.ini');
`$GW::BUILDDIR/src/geoworkerd -t -c $good 2>&1`;
is($? >> 8, 0, 'a limit that applies passes -t');

# Root without user = is refused.
my $root = $t->config(daemon => { user => '' }, path => $t->dir . '/root.ini');
$out = `$GW::BUILDDIR/src/geoworkerd -f -c $root 2>&1`;
SKIP: {
	skip 'not root', 2 unless $> == 0;
	isnt($? >> 8, 0, 'as root without user =, the master refuses to start');
	like($out, qr/refusing to run as root/, '... saying why');
}
done_testing;

# geoworkerd -t checks a configuration: 0 when good, 1 with file and line
# when not; a missing job program is named.
use strict;
use warnings;
use Test::More;
use GW;

my $t = GW->new;
my $bin = "$GW::BUILDDIR/src/geoworkerd";

sub check {
	my ($ini) = @_;
	my $out = `$bin -t -c $ini 2>&1`;
	return ($? >> 8, $out);
}

my $good = $t->config(types => { selftest => { children => 2, memory_limit => '512M' } });
my ($rc, $out) = check($good);
is($rc, 0, 'a good configuration passes -t');
like($out, qr/configuration OK/, '... and says so');

open(my $fh, '>>', $good) or die;
print $fh "bogus_key = 1\n";
close $fh;
my $lines = () = GW::slurp($good) =~ /\n/g;
($rc, $out) = check($good);
is($rc, 1, 'an unknown key fails -t');
like($out, qr/\Q$good\E:$lines: unknown key 'bogus_key' in \[selftest\]/, '... naming file and line');

my $bad = $t->config(types => { selftest => { children => 'many' } }, path => $t->dir . '/bad.ini');
($rc, $out) = check($bad);
is($rc, 1, 'a bad value fails -t');
like($out, qr/bad\.ini:\d+: bad value for children in \[selftest\]: 'many'/, '... with its line');

my $missing = $t->config(types => { dissolve => {} }, daemon => { child_dir => '/nonexistent' },
    path => $t->dir . '/missing.ini');
($rc, $out) = check($missing);
is($rc, 1, 'a missing job program fails -t');
like($out, qr{\[dissolve\]: cannot run /nonexistent/dissolve}, '... naming the program');

($rc, $out) = check($t->dir . '/nope.ini');
is($rc, 1, 'a missing file fails');
like($out, qr/nope\.ini: No such file/, '... saying so');

# The sample configuration that ships is valid (its programs aside).
my $sample = "$GW::BUILDDIR/etc/geoworkerd.ini";
SKIP: {
	skip 'etc/geoworkerd.ini not built', 1 unless -f $sample;
	my $o = `$bin -t -c $sample 2>&1`;
	unlike($o, qr/unknown|bad value|syntax/, 'the shipped sample parses') or diag $o;
}
done_testing;

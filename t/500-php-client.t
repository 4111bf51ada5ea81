# The PHP client (clients/php): its PHPUnit tests against this test's
# database with the real daemon running selftest jobs, one TAP line per
# PHPUnit test; then the example script queues a real hot-spot analysis and
# prints where the result is.  Skipped without php, its pgsql extension, or
# phpunit (Debian: php-cli php-pgsql phpunit).
use strict;
use warnings;
use Test::More;
use GW;

my $php_ok = `php -r 'echo extension_loaded("pgsql") ? "yes" : "no";' 2>/dev/null` // '';
plan skip_all => 'php with the pgsql extension is not installed' unless $php_ok eq 'yes';
chomp(my $phpunit = `command -v phpunit 2>/dev/null` // '');
plan skip_all => 'phpunit is not installed' unless $phpunit;

my $dir = "$GW::SRCDIR/clients/php";
my $t = GW->new;
$t->start_daemon(types => { selftest => { children => 2 }, hotspot_analysis => {} });

# The PG* environment names this test's database for libpq in PHP.
local $ENV{PGDATABASE} = $t->dbname;
local $ENV{GEOWORKERD_DAEMON} = 1;
local $ENV{PGOPTIONS};	# t/run-tests hides notices; the client reports them

my $junit = $t->dir . '/phpunit.xml';
my $out = `'$phpunit' -c '$dir/phpunit.xml.dist' --log-junit '$junit' 2>&1`;
my $status = $?;
open(my $fh, '<', $junit) or BAIL_OUT("phpunit wrote no report ($junit): $out");
my $xml = do { local $/; <$fh> };
close $fh;

# One TAP line per <testcase>; a failure, error or skip shows its message.
my $cases = 0;
while ($xml =~ m{<testcase\s([^>]*?)(/>|>(.*?)</testcase>)}gs) {
	my ($attrs, $body) = ($1, $3 // '');
	my ($class) = $attrs =~ /\bclass(?:name)?="([^"]*)"/;
	my ($name) = $attrs =~ /\bname="([^"]*)"/;
	$class = ($class // '?') =~ s/.*[.\\]//r;
	$name = unescape($name // '?');
	$cases++;
	if ($body =~ /<skipped/) {
		SKIP: { skip("${class}::$name skipped", 1) }
	} elsif ($body =~ m{<(failure|error)[^>]*>(.*?)</\1>}s) {
		fail("${class}::$name");
		diag(unescape($2));
	} else {
		pass("${class}::$name");
	}
}
cmp_ok($cases, '>=', 20, "phpunit ran $cases tests");
is($status, 0, 'phpunit exits 0') or diag $out;

# The example, on a grid of 100 points whose values rise to one corner.
$t->dbh->do(q{CREATE TABLE public.pts AS
	SELECT row_number() OVER () AS id, (x + y)::float8 AS val,
	       ST_SetSRID(ST_MakePoint(x * 100, y * 100), 3857)::geometry(Point, 3857) AS geom
	FROM generate_series(0, 9) x, generate_series(0, 9) y});
$t->dbh->do(q{ALTER TABLE public.pts ADD PRIMARY KEY (id)});
$out = `php '$dir/examples/hotspot.php' --input public.pts --field val --key pts-val 2>&1`;
is($?, 0, 'examples/hotspot.php exits 0') or diag $out;
like($out, qr/^job (\d+) queued: hotspot_analysis of public\.pts\.val$/m, 'it says which job it queued');
# 100 points take a tenth of a second: the progress lines of a long job
# may all be missed, the status line is not.
like($out, qr/^  (waiting for a worker|\s*\d+% .*)$/m, 'it shows the status while it waits');
my ($id) = $out =~ /^job (\d+) queued/m;
like($out, qr/^completed in [\d.]+ s: 100 features in analysis\.hotspot_analysis_$id$/m,
    'it prints where the result is');
is($t->psql("SELECT count(*) FROM analysis.hotspot_analysis_$id WHERE gi_bin = 3"),
   $t->psql("SELECT count(*) FROM analysis.hotspot_analysis_$id WHERE gi_zscore > 2.5758293035489") ,
   'the table it names holds the analysis') if $id;
$out = `php '$dir/examples/hotspot.php' --input public.nope --field val 2>&1`;
is($? >> 8, 1, 'a failing analysis exits 1');
like($out, qr/^job \d+ failed: .*nope/m, '... with the job\'s message');

$t->stop_daemon;
done_testing;

sub unescape {
	my ($s) = @_;
	$s =~ s/&lt;/</g; $s =~ s/&gt;/>/g; $s =~ s/&quot;/"/g; $s =~ s/&#039;/'/g; $s =~ s/&amp;/&/g;
	return $s;
}

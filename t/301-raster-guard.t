# raster_clip refuses every raster path that is not a local file inside
# raster_root, with a clear message, without opening it; it fails cleanly on
# clip polygons that miss the raster and on bad parameters; and a job that
# cannot write its whole output (file_size_limit, full disk) leaves no file.
#
# "Nothing opened" is checked, not assumed: the outside targets are FIFOs,
# which would block a reader that opened them (the job would then hang
# instead of failing at once), and the /vsicurl/ URL points at a TCP port this
# test listens on and that must see no connection.
use strict;
use warnings;
use Test::More;
use File::Copy qw(copy);
use IO::Socket::INET;
use POSIX qw(mkfifo);
use Time::HiRes qw(time);
use GW;

my $TERRA = '/usr/lib/R/site-library/terra/ex';
my $STARS = '/usr/lib/R/site-library/stars/tif';
plan skip_all => 'R terra / stars example data not installed'
    unless -f "$TERRA/elev.tif" && -f "$STARS/L7_ETMs.tif";

my $t = GW->new;
$t->config;
my $dir = $t->dir;
my $root = "$dir/rasters";
copy("$TERRA/elev.tif", "$root/elev.tif") or die;
copy("$STARS/L7_ETMs.tif", "$root/L7_ETMs.tif") or die;
$t->ogr2ogr("$TERRA/lux.shp", 'lux');

# Outside the root: a FIFO and a real raster; inside, links to them and a
# VRT pointing out (the VRT driver is not allowed at all).
mkdir "$dir/outside";
mkfifo("$dir/outside/fifo.tif", 0644) or die "mkfifo: $!";
copy("$TERRA/elev.tif", "$dir/outside/elev.tif") or die;
symlink("$dir/outside/fifo.tif", "$root/link-fifo.tif") or die;
symlink("$dir/outside/elev.tif", "$root/link-elev.tif") or die;
symlink("$dir/outside", "$root/linkdir") or die;
mkdir "$root/sub";
system('gdalbuildvrt', '-q', "$root/out.vrt", "$dir/outside/elev.tif") == 0 or die;
# An ASCII grid whose .prj sidecar is a link to a FIFO outside: a format
# with sidecars is not allowed, so the .prj is never opened.
system('gdal_translate', '-q', '-of', 'AAIGrid', "$root/elev.tif", "$root/grid.asc") == 0 or die;
unlink("$root/grid.prj");
mkfifo("$dir/outside/grid.prj", 0644) or die;
symlink("$dir/outside/grid.prj", "$root/grid.prj") or die;

my $listener = IO::Socket::INET->new(Listen => 5, LocalAddr => '127.0.0.1',
    LocalPort => 0, Proto => 'tcp', Blocking => 0) or die "listen: $!";
my $port = $listener->sockport;

my @refused = (
	['../outside/elev.tif', qr/raster: .*outside raster_root/, 'relative ../ path'],
	['sub/../../outside/fifo.tif', qr/raster: .*outside raster_root/, 'sub/../.. path'],
	["$dir/outside/fifo.tif", qr/raster: .*outside raster_root/, 'absolute path outside (a FIFO)'],
	["$dir/outside/nothere.tif", qr/raster: .*outside raster_root/, 'absolute path outside, missing'],
	['/etc/passwd', qr/raster: .*outside raster_root/, '/etc/passwd'],
	['link-fifo.tif', qr/raster: .*resolves outside raster_root/, 'symlink to a FIFO outside'],
	['link-elev.tif', qr/raster: .*resolves outside raster_root/, 'symlink to a raster outside'],
	['linkdir/elev.tif', qr/raster: .*resolves outside raster_root/, 'symlinked directory outside'],
	["/vsicurl/http://127.0.0.1:$port/elev.tif", qr/raster: URLs are refused/, '/vsicurl/http URL'],
	["/vsicurl/$root/elev.tif", qr/raster: GDAL virtual file systems/, '/vsicurl/ without scheme'],
	["/vsizip/$root/elev.zip/elev.tif", qr/raster: GDAL virtual file systems/, '/vsizip/'],
	['/vsizip/elev.zip/elev.tif', qr/raster: GDAL virtual file systems/, '/vsizip/ relative'],
	['/VSIMEM/x.tif', qr/raster: GDAL virtual file systems/, '/VSIMEM/ (upper case)'],
	["http://127.0.0.1:$port/elev.tif", qr/raster: URLs are refused/, 'http URL'],
	["NETCDF:\"$root/elev.tif\":z", qr/raster: driver-prefixed names/, 'NETCDF: prefix'],
	["GTIFF_DIR:1:$root/elev.tif", qr/raster: driver-prefixed names/, 'GTIFF_DIR: prefix'],
	['elev.tif:1', qr/raster: ':' is not allowed/, 'colon in the name'],
	['<VRTDataset rasterXSize="1"/>', qr/raster: inline datasets are refused/, 'inline VRT XML'],
	["elev\n.tif", qr/raster: control characters/, 'newline in the name'],
	['out.vrt', qr/raster: cannot open the raster with GDAL/, 'a VRT inside the root (driver not allowed)'],
	['grid.asc', qr/raster: cannot open the raster with GDAL/, 'an ASCII grid with a .prj linked to a FIFO'],
	['sub', qr/raster: "sub" is not a regular file/, 'a directory'],
	['missing.tif', qr/raster: no file "missing.tif" in raster_root/, 'a missing file'],
	['', qr/raster: /, 'empty path'],
);

for my $case (@refused) {
	my ($path, $re, $what) = @$case;
	my $t0 = time;
	my $job = $t->run_job('raster_clip', { raster => $path, clip => 'lux' });
	is($job->{status}, 'failed', "$what: job failed");
	like($job->{error_message} // '', $re, "$what: clear message")
	    or diag($job->{error_message});
	ok(time - $t0 < 30, "$what: failed at once (nothing opened)");
	ok(!-e "$dir/outputs/$job->{id}", "$what: no output directory");
}
my $conn = $listener->accept;
ok(!defined $conn, 'no connection reached the /vsicurl/ and http URLs\' port');

# Sidecar files (.ovr, .aux.xml, world files) linked out of the root are
# never looked for (GDAL_DISABLE_READDIR_ON_OPEN, no PAM): here they are
# FIFOs, which would hang a reader.
copy("$root/elev.tif", "$root/side.tif") or die;
for my $ext (qw(ovr aux.xml tfw)) {
	mkfifo("$dir/outside/side.$ext", 0644) or die;
	symlink("$dir/outside/side.$ext", "$root/side.tif.$ext") or die;
}
my $t0 = time;
my $job = $t->run_job('raster_clip', { raster => 'side.tif', clip => 'lux' });
is($job->{status}, 'completed', 'sidecars linked to FIFOs outside: not opened, job completed');
ok(time - $t0 < 30, 'sidecars linked to FIFOs outside: at once');

# Clip polygons that miss the raster (they are in the sea off Brazil).
$job = $t->run_job('raster_clip', { raster => 'elev.tif', clip_geometry =>
    { type => 'Polygon', coordinates => [[[-30, -5], [-29, -5], [-29, -4], [-30, -5]]] } });
is($job->{status}, 'failed', 'polygon missing the raster: failed');
like($job->{error_message}, qr/clip: the clip polygons do not overlap the raster/,
    'polygon missing the raster: clear message');
ok(!-e "$dir/outputs/$job->{id}", 'polygon missing the raster: no output');

# A polygon inside the raster's extent but too thin to hold a pixel centre.
$job = $t->run_job('raster_clip', { raster => 'elev.tif', clip_geometry =>
    { type => 'Polygon', coordinates => [[[6.0001, 49.8001], [6.0002, 49.8001],
	[6.0002, 49.8002], [6.0001, 49.8001]]] } });
is($job->{status}, 'failed', 'polygon covering no pixel centre: failed');
like($job->{error_message}, qr/clip: the clip polygons cover less than one pixel|no pixel centre/,
    'polygon covering no pixel centre: message');
ok(!-e "$dir/outputs/$job->{id}", 'polygon covering no pixel centre: no output left');

# Bad parameters.
my @bad = (
	[{ raster => 'elev.tif' }, qr/clip: give exactly one of clip/],
	[{ raster => 'elev.tif', clip => 'lux', clip_geometry => { type => 'Point', coordinates => [6, 49.8] } },
	    qr/clip: give exactly one/],
	[{ raster => 'elev.tif', clip => 'nosuchtable' }, qr/clip: no table or view "nosuchtable"/],
	[{ raster => 'elev.tif', clip => 'lux; DROP TABLE lux' }, qr/clip: no table or view/],
	[{ raster => 'elev.tif', clip => 'lux', clip_filter => { field => 'nope', op => '=', value => 1 } },
	    qr/clip_filter.field: no column "nope"/],
	[{ raster => 'elev.tif', clip_geometry => { type => 'LineString', coordinates => [[6, 49.8], [6.1, 49.9]] } },
	    qr/clip_geometry: a LINESTRING; raster_clip needs polygons/],
	[{ raster => 'elev.tif', clip_geometry => '{not json' }, qr/clip_geometry: not valid JSON/],
	[{ raster => 'elev.tif', clip => 'lux', output => '../escape.tif' }, qr/output: expected a file name/],
	[{ raster => 'elev.tif', clip => 'lux', output => '.hidden.tif' }, qr/output: expected a file name/],
	[{ raster => 'elev.tif', clip => 'lux', format => 'VRT' }, qr/format: expected "COG" or "GTiff"/],
	[{ raster => 'elev.tif', clip => 'lux', nodata => 1e6 }, qr/nodata: 1e\+06 is not a value of the raster's type Int16/],
	[{ raster => 'elev.tif', clip => 'lux', nodata => 'x' }, qr/nodata/],
	[{ raster => 'elev.tif', clip => 'lux', colour => 'red' }, qr/colour/],
	[{ raster => 'elev.tif', clip => 'lux', crop => 'yes' }, qr/crop/],
	[{ raster => 'elev.tif', clip_geometry => { type => 'Polygon', coordinates => [[[6, 49.8], [6.1, 49.8], [6.1, 49.9], [6, 49.8]]] },
	    clip_srid => 999 }, qr/clip_srid: SRID 999 is not in spatial_ref_sys/],
);
for my $case (@bad) {
	my ($params, $re) = @$case;
	my $job = $t->run_job('raster_clip', $params);
	is($job->{status}, 'failed', "bad params $re: failed");
	like($job->{error_message} // '', $re, "bad params: message matches $re")
	    or diag($job->{error_message});
	ok(!-e "$dir/outputs/$job->{id}", 'bad params: no output');
}
is($t->psql('SELECT count(*) FROM lux'), '12', 'the clip table is untouched');

# file_size_limit: the job program under RLIMIT_FSIZE of 64 KiB, as the
# master sets it, on an output of ~700 KiB.
sub run_limited {
	my ($params, @wrap) = @_;
	my $ini = $t->config(types => { raster_clip => {} }, path => "$dir/limited.ini");
	my $id = $t->enqueue('raster_clip', $params);
	system(@wrap, "$GW::BUILDDIR/children/raster_clip", '-c', $ini, '-j', $id);
	return $t->job($id);
}
SKIP: {
	skip 'prlimit not installed', 4 unless -x '/usr/bin/prlimit';
	my $job = run_limited({ raster => 'L7_ETMs.tif', clip => 'lux_none' }, 'prlimit', '--fsize=65536', '--');
	like($job->{error_message}, qr/clip: no table/, 'limited run works (bad table fails first)');
	$t->psql(q{CREATE TABLE olinda AS SELECT ST_MakeEnvelope(-34.91, -8.04, -34.83, -7.955, 4326) AS geom});
	$job = run_limited({ raster => 'L7_ETMs.tif', clip => 'olinda' }, 'prlimit', '--fsize=65536', '--');
	is($job->{status}, 'failed', 'file_size_limit: job failed');
	like($job->{error_message}, qr/the output exceeds the file_size_limit of raster_clip \(.*File too large/,
	    'file_size_limit: message says why')
	    or diag($job->{error_message});
	ok(!-e "$dir/outputs/$job->{id}", 'file_size_limit: no partial file or directory left');
}

# A full disk: output_root on a 256 KiB tmpfs (needs mount rights).
SKIP: {
	mkdir "$dir/small";
	skip 'cannot mount a tmpfs here', 4
	    unless system("mount -t tmpfs -o size=256k tmpfs '$dir/small' 2>/dev/null") == 0;
	my $ini = $t->config(types => { raster_clip => {} }, path => "$dir/small.ini",
	    daemon => { output_root => "$dir/small" });
	my $id = $t->enqueue('raster_clip', { raster => 'L7_ETMs.tif', clip => 'olinda', format => 'GTiff' });
	system("$GW::BUILDDIR/children/raster_clip -c '$ini' -j $id 2>>'$dir/small.log'");
	my $job = $t->job($id);
	is($job->{status}, 'failed', 'full disk: job failed');
	like($job->{error_message}, qr/the disk holding output_root is full \(.*No space left/,
	    'full disk: message says why')
	    or diag($job->{error_message});
	opendir(my $dh, "$dir/small") or die;
	my @left = grep { !/^\.\.?$/ } readdir $dh;
	closedir $dh;
	# The staging directory itself stays (empty): every attempt's is gone.
	opendir(my $sh, "$dir/small/.staging");
	my @staged = $sh ? grep { !/^\.\.?$/ } readdir $sh : ();
	is_deeply([grep { $_ ne '.staging' } @left, @staged], [], 'full disk: nothing left on the disk');
	$id = $t->enqueue('raster_clip', { raster => 'elev.tif', clip => 'lux' });
	system("$GW::BUILDDIR/children/raster_clip -c '$ini' -j $id 2>>'$dir/small.log'");
	is($t->job($id)->{status}, 'completed', 'full disk: a small job fits after the failed one');
	# Lazily: a job's heartbeat thread may still be closing its files.
	system('umount', '-l', "$dir/small");
}

done_testing;

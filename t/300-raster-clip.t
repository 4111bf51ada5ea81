# raster_clip: the pixels equal gdalwarp -cutline [-crop_to_cutline] on the
# same input, and the band statistics equal those computed here from
# gdalwarp's output (gdal_translate -of XYZ), never from the job's own file.
#
# Rasters: terra's elev.tif (Int16, nodata) clipped by the Luxembourg
# cantons lux.shp (EPSG:4326, and a copy in EPSG:2169), stars' L7_ETMs.tif
# (6 bands of Byte, UTM 25S, no nodata) clipped by GeoJSON in EPSG:4326, a
# synthetic Float32 raster with nodata (UTM 31N) and a synthetic Byte raster
# using all 256 values (so that only an alpha band can mark nodata).
use strict;
use warnings;
use Test::More;
use File::Copy qw(copy);
use JSON::PP;
use GW;

my $TERRA = '/usr/lib/R/site-library/terra/ex';
my $STARS = '/usr/lib/R/site-library/stars/tif';
plan skip_all => 'R terra / stars example data not installed'
    unless -f "$TERRA/elev.tif" && -f "$STARS/L7_ETMs.tif";

my $t = GW->new;
$t->config;				# makes rasters/ and outputs/
my $dir = $t->dir;
my $root = "$dir/rasters";
my $json = JSON::PP->new->canonical;

copy("$TERRA/elev.tif", "$root/elev.tif") or die "copy: $!";
copy("$STARS/L7_ETMs.tif", "$root/L7_ETMs.tif") or die "copy: $!";
mkdir "$dir/ref";

sub run {
	my @cmd = @_;
	system(@cmd) == 0 or die "failed: @cmd\n";
}

sub slurp_cmd {
	my @cmd = @_;
	open(my $fh, '-|', @cmd) or die "@cmd: $!";
	local $/;
	my $out = <$fh>;
	close $fh or die "failed: @cmd\n";
	return $out;
}

# A synthetic Float32 raster with nodata holes, in UTM 31N.
{
	my ($nx, $ny) = (120, 100);
	open(my $fh, '>', "$dir/synth.asc") or die;
	print $fh "ncols $nx\nnrows $ny\nxllcorner 500000\nyllcorner 5590000\n"
	    . "cellsize 100\nNODATA_value -9999\n";
	for my $j (0 .. $ny - 1) {
		print $fh join(' ', map {
			my $i = $_;
			($i + $j) % 17 == 0 || ($i > 60 && $i < 70 && $j > 40 && $j < 55)
			    ? -9999
			    : sprintf('%.6f', 100 * sin($i / 7) * cos($j / 9) + 0.37 * $j);
		} 0 .. $nx - 1), "\n";
	}
	close $fh;
	run(qw(gdal_translate -q -ot Float32 -a_srs EPSG:32631), "$dir/synth.asc",
	    "$root/synth.tif");
}

# A synthetic Byte raster holding every value 0..255, in EPSG:4326.
{
	my $n = 64;
	open(my $fh, '>', "$dir/bytes.asc") or die;
	print $fh "ncols $n\nnrows $n\nxllcorner 10\nyllcorner 45\ncellsize 0.01\n";
	for my $j (0 .. $n - 1) {
		print $fh join(' ', map { ($_ * 4 + $j * 3) % 256 } 0 .. $n - 1), "\n";
	}
	close $fh;
	run(qw(gdal_translate -q -ot Byte -a_srs EPSG:4326), "$dir/bytes.asc",
	    "$root/bytes.tif");
}

# The clip layers: lux.shp as is (EPSG:4326) and in EPSG:2169.
$t->ogr2ogr("$TERRA/lux.shp", 'lux');
run(qw(ogr2ogr -q -f GPKG -t_srs EPSG:2169), "$dir/lux_2169.gpkg",
    "$TERRA/lux.shp");
$t->ogr2ogr("$dir/lux_2169.gpkg", 'lux_2169');
is($t->psql("SELECT Find_SRID('public', 'lux_2169', 'geom')"), '2169',
    'clip layer in EPSG:2169 loaded');

sub geojson_file {
	my ($name) = @_;
	open(my $fh, '<', "$ENV{GW_SRCDIR}/t/data/$name") or die "$name: $!";
	local $/;
	my $text = <$fh>;
	close $fh;
	return ($text, "$ENV{GW_SRCDIR}/t/data/$name");
}

sub info { decode_json(slurp_cmd('gdalinfo', '-json', $_[0])) }

sub xyz {
	my ($file, $band) = @_;
	return slurp_cmd('gdal_translate', '-q', '-of', 'XYZ', '-b', $band, $file,
	    '/vsistdout/');
}

# Statistics of band b of the reference file, from its XYZ dump, over the
# pixels that are not nodata (and whose alpha is not 0, if alpha_band).
sub ref_stats {
	my ($file, $band, $nodata, $alpha_band) = @_;
	my @v = map { (split ' ')[2] } split /\n/, xyz($file, $band);
	my @a = $alpha_band ? map { (split ' ')[2] } split /\n/, xyz($file, $alpha_band) : ();
	my ($n, $sum, $min, $max) = (0, 0, undef, undef);
	my @keep;
	for my $k (0 .. $#v) {
		next if defined $nodata && $v[$k] == $nodata;
		next if $alpha_band && $a[$k] == 0;
		push @keep, $v[$k];
	}
	$n = @keep;
	$sum += $_ for @keep;
	my $mean = $n ? $sum / $n : 0;
	my $ss = 0;
	$ss += ($_ - $mean) ** 2 for @keep;
	for (@keep) {
		$min = $_ if !defined $min || $_ < $min;
		$max = $_ if !defined $max || $_ > $max;
	}
	return { count => $n, min => $min, max => $max, mean => $mean,
	    stddev => $n ? sqrt($ss / $n) : 0 };
}

sub near {
	my ($got, $want, $tol) = @_;
	return 0 unless defined $got && defined $want;
	my $s = abs($want) > 1 ? abs($want) : 1;
	return abs($got - $want) <= $tol * $s;
}

# Runs the job, runs gdalwarp with @warp on the same input, compares.
sub check_clip {
	my (%c) = @_;
	my $name = $c{name};
	my $job = $t->run_job('raster_clip', $c{params});
	is($job->{status}, 'completed', "$name: job completed")
	    or diag($job->{error_message} // '', $t->run_job_log);
	return unless $job->{status} eq 'completed';
	my $r = $job->{result};
	my $out = $r->{path};
	my $want_name = $c{params}{output} // "raster_clip_$job->{id}.tif";
	is($out, "$dir/outputs/$job->{id}/$want_name", "$name: written to output_root/<job id>/");
	opendir(my $dh, "$dir/outputs/$job->{id}") or die;
	my @files = sort grep { !/^\.\.?$/ } readdir $dh;
	closedir $dh;
	is_deeply(\@files, [$want_name], "$name: no temporary file left");

	my $ref = "$dir/ref/$name.tif";
	run('gdalwarp', '-q', '-overwrite', '--config', 'GDAL_PAM_ENABLED', 'NO',
	    @{ $c{warp} }, $c{src}, $ref);
	my ($gi, $ri) = (info($out), info($ref));
	is_deeply($gi->{size}, $ri->{size}, "$name: size $ri->{size}[0]x$ri->{size}[1] as gdalwarp");
	is_deeply([$r->{width}, $r->{height}], $ri->{size}, "$name: result width, height");
	my $gt_ok = 1;
	$gt_ok &&= near($gi->{geoTransform}[$_], $ri->{geoTransform}[$_], 1e-12) for 0 .. 5;
	ok($gt_ok, "$name: geotransform as gdalwarp")
	    or diag("got @{ $gi->{geoTransform} } want @{ $ri->{geoTransform} }");
	is(scalar @{ $gi->{bands} }, scalar @{ $ri->{bands} }, "$name: band count as gdalwarp");
	for my $b (1 .. @{ $ri->{bands} }) {
		is($gi->{bands}[$b - 1]{type}, $ri->{bands}[$b - 1]{type}, "$name: band $b type");
		is($gi->{bands}[$b - 1]{noDataValue}, $ri->{bands}[$b - 1]{noDataValue},
		    "$name: band $b nodata");
		ok(xyz($out, $b) eq xyz($ref, $b), "$name: band $b pixel-identical to gdalwarp");
	}
	# gdalwarp's extent, from its geotransform (north-up) and size.
	my ($g, $sz) = ($ri->{geoTransform}, $ri->{size});
	my $gw_bounds = [$g->[0], $g->[3] + $sz->[1] * $g->[5], $g->[0] + $sz->[0] * $g->[1], $g->[3]];
	my $b_ok = 1;
	$b_ok &&= near($r->{bounds}[$_], $gw_bounds->[$_], 1e-12) for 0 .. 3;
	ok($b_ok, "$name: bounds as gdalwarp's extent") or diag("@{ $r->{bounds} } vs @$gw_bounds");
	is($r->{srid}, $c{srid}, "$name: SRID $c{srid}");

	my $nodata = $ri->{bands}[0]{noDataValue};
	my $alpha = $c{alpha} ? scalar @{ $ri->{bands} } : 0;
	my $nb = $alpha ? $alpha - 1 : scalar @{ $ri->{bands} };
	is(scalar @{ $r->{bands} }, $nb, "$name: statistics for $nb bands");
	for my $b (1 .. $nb) {
		my $s = ref_stats($ref, $b, $nodata, $alpha);
		my $g = $r->{bands}[$b - 1];
		is($g->{valid_count}, $s->{count}, "$name: band $b valid pixels = $s->{count}");
		ok(near($g->{min}, $s->{min}, 1e-9) && near($g->{max}, $s->{max}, 1e-9),
		    "$name: band $b min/max") or diag(explain($g, $s));
		ok(near($g->{mean}, $s->{mean}, 1e-9) && near($g->{stddev}, $s->{stddev}, 1e-7),
		    "$name: band $b mean/stddev") or diag(explain($g, $s));
	}
	return ($job, $gi);
}

# 1. elev.tif by the cantons (same CRS), COG, source nodata carried over.
my ($job, $gi) = check_clip(name => 'elev_lux', src => "$root/elev.tif",
    params => { raster => 'elev.tif', clip => 'lux' },
    warp => ['-cutline', "$TERRA/lux.shp", '-crop_to_cutline'], srid => 4326);
is($gi->{metadata}{IMAGE_STRUCTURE}{LAYOUT}, 'COG', 'elev_lux: a Cloud Optimized GeoTIFF')
    if $gi;
is($job->{result}{feature_count}, 12, 'elev_lux: 12 clip features') if $job;
is($job->{result}{nodata}, -32768, 'elev_lux: the source nodata') if $job;

# 2. Clip layer in another CRS (EPSG:2169), all_touched, absolute path.
check_clip(name => 'elev_lux2169_touched', src => "$root/elev.tif",
    params => { raster => "$root/elev.tif", clip => 'public.lux_2169', all_touched => JSON::PP::true,
	output => 'touched.tif' },
    warp => ['-cutline', "$dir/lux_2169.gpkg", '-crop_to_cutline', '-wo', 'CUTLINE_ALL_TOUCHED=TRUE'],
    srid => 4326);

# 3. clip_filter picks the cantons of one district; nodata given.
check_clip(name => 'elev_diekirch', src => "$root/elev.tif",
    params => { raster => 'elev.tif', clip => 'lux', nodata => 9999,
	clip_filter => { all => [{ field => 'name_1', op => '=', value => 'Diekirch' }] } },
    warp => ['-cutline', "$TERRA/lux.shp", '-cwhere', "NAME_1 = 'Diekirch'",
	'-crop_to_cutline', '-dstnodata', '9999'], srid => 4326);

# 4. Landsat, 6 bands, GeoJSON in EPSG:4326 over UTM 25S, one polygon with
# a hole and one across the raster's edge.  No source nodata: the job picks a
# value outside the data range of every band.
my ($olinda, $olinda_file) = geojson_file('raster-olinda.geojson');
my $mm = slurp_cmd('gdalinfo', '-mm', "$root/L7_ETMs.tif");
my @mins = $mm =~ /Computed Min\/Max=([-\d.]+),/g;
my $lo = (sort { $a <=> $b } @mins)[0];
($job) = check_clip(name => 'landsat', src => "$root/L7_ETMs.tif",
    params => { raster => 'L7_ETMs.tif', clip_geometry => decode_json($olinda) },
    warp => ['-cutline', $olinda_file, '-crop_to_cutline', '-dstnodata', '0'],
    srid => 31985);
if ($job) {
	is($job->{result}{nodata}, 0, 'landsat: nodata 0 chosen');
	cmp_ok($lo, '>', 0, "landsat: 0 is below every band's minimum ($lo)");
}

# 5. Float32 with nodata, GeoJSON (as text) in EPSG:4326 over UTM 31N, no
# crop, GTiff.
my ($synth) = geojson_file('raster-synth-clip.geojson');
check_clip(name => 'synth_nocrop', src => "$root/synth.tif",
    params => { raster => 'synth.tif', clip_geometry => $synth, crop => JSON::PP::false,
	format => 'GTiff', output => 'synth.tif' },
    warp => ['-cutline', "$ENV{GW_SRCDIR}/t/data/raster-synth-clip.geojson"], srid => 32631);
check_clip(name => 'synth_crop', src => "$root/synth.tif",
    params => { raster => 'synth.tif', clip_geometry => decode_json($synth) },
    warp => ['-cutline', "$ENV{GW_SRCDIR}/t/data/raster-synth-clip.geojson", '-crop_to_cutline'],
    srid => 32631);

# 6. Byte data using all 256 values: only an alpha band can mark nodata.
# The clip polygon is given in Web Mercator (clip_srid 3857).
open(my $fh, '>', "$dir/bytes_clip_4326.geojson") or die;
print $fh '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},'
    . '"geometry":{"type":"Polygon","coordinates":[[[10.05,45.05],[10.5,45.1],'
    . '[10.3,45.55],[10.1,45.4],[10.05,45.05]]]}}]}';
close $fh;
run(qw(ogr2ogr -q -f GeoJSON -t_srs EPSG:3857), "$dir/bytes_clip.geojson",
    "$dir/bytes_clip_4326.geojson");
open($fh, '<', "$dir/bytes_clip.geojson") or die;
my $poly3857 = do { local $/; <$fh> };
close $fh;
($job) = check_clip(name => 'bytes_alpha', src => "$root/bytes.tif", alpha => 1,
    params => { raster => 'bytes.tif', clip_geometry => decode_json($poly3857), clip_srid => 3857 },
    warp => ['-cutline', "$dir/bytes_clip.geojson", '-crop_to_cutline', '-dstalpha'],
    srid => 4326);
if ($job) {
	ok($job->{result}{alpha} && !defined $job->{result}{nodata}, 'bytes_alpha: alpha band, no nodata');
}

done_testing;

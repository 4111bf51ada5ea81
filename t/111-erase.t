# erase_analysis against PostGIS: nc counties (EPSG:32119) minus polygons
# stored in EPSG:4326, minus a GeoJSON geometry, with an erase_filter; lines
# and points; features wholly outside kept unchanged, wholly inside dropped.
# Reference: ST_Difference with the ST_Union of the erase features (each
# transformed to the input's SRID first), ST_CollectionExtract'ed to the
# input's dimension, empty results dropped.
use strict;
use warnings;
use Test::More;
use GW;

my $nc_file = '/usr/lib/R/site-library/sf/gpkg/nc.gpkg';
plan skip_all => 'sf data sets not installed' unless -r $nc_file;

my $t = GW->new;
my $dbh = $t->dbh;
$t->ogr2ogr($nc_file, 'nc', '-t_srs', 'EPSG:32119', '-nlt', 'MULTIPOLYGON');
$t->psql(q{
CREATE TABLE eraser (id serial PRIMARY KEY, kind text, geom geometry(Polygon, 4326));
INSERT INTO eraser (kind, geom) VALUES
  ('a', ST_MakeEnvelope(-80.5, 35.0, -78.5, 36.2, 4326)),
  ('a', ST_MakeEnvelope(-79.0, 34.5, -78.0, 35.5, 4326)),
  ('b', ST_Buffer(ST_SetSRID(ST_Point(-77, 35.5), 4326)::geography, 40000)::geometry);
CREATE TABLE roads (id serial PRIMARY KEY, name text, geom geometry(MultiLineString, 32633));
INSERT INTO roads (name, geom) VALUES
  ('through', 'SRID=32633;MULTILINESTRING((-10 5,30 5))'),
  ('inside', 'SRID=32633;MULTILINESTRING((2 2,8 8))'),
  ('outside', 'SRID=32633;MULTILINESTRING((50 50,60 60),(70 70,80 80))'),
  ('edge', 'SRID=32633;MULTILINESTRING((0 -5,0 20))');
CREATE TABLE pts (id serial PRIMARY KEY, name text, geom geometry(Point, 32633));
INSERT INTO pts (name, geom) VALUES ('in', 'SRID=32633;POINT(5 5)'),
  ('out', 'SRID=32633;POINT(50 5)'), ('boundary', 'SRID=32633;POINT(10 5)');
CREATE TABLE box (id serial PRIMARY KEY, geom geometry(Polygon, 32633));
INSERT INTO box (geom) VALUES ('SRID=32633;POLYGON((0 0,10 0,10 10,0 10,0 0))');
});

sub rel_close {
	my ($got, $exp, $tol, $name) = @_;
	my $d = abs($got - $exp) / (abs($exp) > 0 ? abs($exp) : 1);
	ok($d <= $tol, $name) or diag("got $got, expected $exp (relative $d)");
}

sub check_erase {
	my ($name, $out, $in, $id, $mask, $dim, $m) = @_;
	my $ref = qq{SELECT i.$id AS id, ST_CollectionExtract(ST_Difference(i.geom, m.g), $dim) AS geom
	    FROM $in i, (SELECT $mask AS g) m};
	my ($ecount, $etotal) = $dbh->selectrow_array(qq{SELECT count(*), sum($m(geom))
	    FROM ($ref) r WHERE NOT ST_IsEmpty(geom)});
	my ($gcount, $gtotal) = $dbh->selectrow_array("SELECT count(*), sum($m(geom)) FROM analysis.$out");
	is($gcount, $ecount, "$name: feature count as PostGIS ($ecount)");
	rel_close($gtotal // 0, $etotal // 0, 1e-9, "$name: total $m as PostGIS");
	is($dbh->selectrow_array(qq{SELECT count(*) FROM (SELECT * FROM ($ref) r0
	    WHERE NOT ST_IsEmpty(geom)) r FULL JOIN analysis.$out o ON o.$id = r.id
	    WHERE o.$id IS NULL OR r.id IS NULL
	    OR abs($m(o.geom) - $m(r.geom)) > 1e-9 * greatest($m(r.geom), 1e-9)}), 0,
	    "$name: every feature's $m as PostGIS");
}

my $job = $t->run_job('erase_analysis', { input => 'nc', erase => 'eraser', output => 'nc_erase' });
is($job->{status}, 'completed', 'nc minus eraser (EPSG:4326): completed')
    or diag($job->{error_message}, $t->run_job_log);
check_erase('nc/eraser', 'nc_erase', 'nc', 'fid',
    '(SELECT ST_Union(ST_Transform(geom, 32119)) FROM eraser)', 3, 'ST_Area');
ok($job->{result}{copied_whole} > 0 && $job->{result}{cut} > 0 && $job->{result}{dropped} > 0,
    "copied whole: $job->{result}{copied_whole}, cut: $job->{result}{cut}, dropped: $job->{result}{dropped}");
is($job->{result}{copied_whole} + $job->{result}{cut} + $job->{result}{dropped}, 100,
    'every county accounted for');
is($dbh->selectrow_array(q{SELECT count(*) FROM analysis.nc_erase o JOIN nc i USING (fid)
    WHERE ST_Equals(o.geom, i.geom)}), $job->{result}{copied_whole},
    'counties wholly outside are copied unchanged');
is($dbh->selectrow_array(q{SELECT count(*) FROM analysis.nc_erase o JOIN nc i USING (fid)
    WHERE o.name IS DISTINCT FROM i.name OR o.bir74 IS DISTINCT FROM i.bir74}), 0,
    'attributes kept');
is($dbh->selectrow_array(q{SELECT count(*) FROM analysis.nc_erase WHERE NOT ST_IsValid(geom)}),
    0, 'valid output');
# Clip and erase of the same mask partition the input's area.
my $clip = $t->run_job('clip', { input => 'nc', clip => 'eraser', output => 'nc_clip' });
is($clip->{status}, 'completed', 'clip by the same layer: completed') or diag($clip->{error_message});
rel_close(scalar $dbh->selectrow_array(q{SELECT (SELECT sum(ST_Area(geom)) FROM analysis.nc_erase)
    + (SELECT sum(ST_Area(geom)) FROM analysis.nc_clip)}),
    scalar $dbh->selectrow_array('SELECT sum(ST_Area(geom)) FROM nc'), 1e-9,
    'erase + clip areas add up to the input area');

$job = $t->run_job('erase_analysis', { input => 'nc', erase => 'eraser', output => 'nc_erase_b',
    erase_filter => { any => [ { field => 'kind', op => 'in', value => ['b'] } ] } });
is($job->{status}, 'completed', 'erase_filter: completed') or diag($job->{error_message});
check_erase('erase_filter', 'nc_erase_b', 'nc', 'fid',
    q{(SELECT ST_Union(ST_Transform(geom, 32119)) FROM eraser WHERE kind = 'b')}, 3, 'ST_Area');

my $gj = { type => 'MultiPolygon', coordinates => [[[[-81, 35], [-79, 35], [-79, 36], [-81, 36], [-81, 35]]]] };
$job = $t->run_job('erase_analysis', { input => 'nc', erase_geometry => $gj, output => 'nc_erase_gj' });
is($job->{status}, 'completed', 'erase_geometry: completed') or diag($job->{error_message});
check_erase('erase_geometry', 'nc_erase_gj', 'nc', 'fid',
    q{ST_Transform(ST_GeomFromText('MULTIPOLYGON(((-81 35,-79 35,-79 36,-81 36,-81 35)))', 4326), 32119)},
    3, 'ST_Area');

$job = $t->run_job('erase_analysis', { input => 'roads', erase => 'box', output => 'roads_erase' });
is($job->{status}, 'completed', 'lines: completed') or diag($job->{error_message});
check_erase('lines', 'roads_erase', 'roads', 'id', '(SELECT geom FROM box)', 2, 'ST_Length');
is($dbh->selectrow_array(q{SELECT string_agg(name, ',' ORDER BY name) FROM analysis.roads_erase}),
    'edge,outside,through', 'the line inside is erased; the edge line keeps its parts outside');
$job = $t->run_job('erase_analysis', { input => 'pts', erase => 'box', output => 'pts_erase' });
is($job->{status}, 'completed', 'points: completed') or diag($job->{error_message});
is($dbh->selectrow_array(q{SELECT string_agg(name, ',') FROM analysis.pts_erase}), 'out',
    'only the point outside is kept (the boundary belongs to the polygon)');

# Real data with invalid polygons: spData's NY8 tracts (5 are invalid; the
# repair of some gives a polygon and a line), erased and clipped by a
# triangle given as GeoJSON.  Reference: the same on ST_MakeValid(geom).
my $ny_file = '/usr/lib/R/site-library/spData/shapes/NY8_utm18.shp';
SKIP: {
	skip 'spData not installed', 9 unless -r $ny_file;
	$t->ogr2ogr($ny_file, 'ny8', '-nlt', 'PROMOTE_TO_MULTI');
	my $tri = { type => 'Polygon', coordinates => [[[-76.2, 43.0], [-76.0, 43.0], [-76.0, 43.1], [-76.2, 43.0]]] };
	# (ogr2ogr gives the shapefile's CRS an SRID of its own, 900914 or so:
	# PROJ reads it from spatial_ref_sys.srtext)
	my $mask = q{ST_Transform(ST_GeomFromText('POLYGON((-76.2 43,-76 43,-76 43.1,-76.2 43))', 4326),
	    Find_SRID('public', 'ny8', 'geom'))};
	for my $type (qw(erase_analysis clip)) {
		my $p = $type eq 'clip' ? 'clip' : 'erase';
		$job = $t->run_job($type, { input => 'ny8', "${p}_geometry" => $tri, output => "ny8_$p" });
		is($job->{status}, 'completed', "ny8 $type: completed") or diag($job->{error_message});
		# (clip drops the tracts far from its mask unread and unrepaired)
		my $invalid = $dbh->selectrow_array(q{SELECT count(*) FROM ny8 WHERE NOT ST_IsValid(geom)});
		ok($type eq 'clip' ? $job->{result}{repaired_geometries} <= $invalid
		    : $job->{result}{repaired_geometries} == $invalid,
		    "ny8 $type: invalid tracts repaired and counted ($job->{result}{repaired_geometries} of $invalid)");
		is($dbh->selectrow_array("SELECT count(*) FROM analysis.ny8_$p WHERE NOT ST_IsValid(geom)
		    OR GeometryType(geom) <> 'MULTIPOLYGON'"), 0, "ny8 $type: valid multipolygons only");
	}
	check_erase('ny8', 'ny8_erase', '(SELECT fid, ST_CollectionExtract(ST_MakeValid(geom), 3) AS geom FROM ny8)',
	    'fid', $mask, 3, 'ST_Area');
}

# A larger layer: 20,000 grid cells (several MB of output, so rows are sent
# in several COPY batches while the input is still being read).
$t->psql(q{
CREATE TABLE grid (id serial PRIMARY KEY, label text, geom geometry(Polygon, 32633));
INSERT INTO grid (label, geom) SELECT 'cell ' || x || ',' || y,
    ST_MakeEnvelope(x * 10, y * 10, x * 10 + 10, y * 10 + 10, 32633)
FROM generate_series(0, 199) x, generate_series(0, 99) y;
CREATE TABLE hole (id serial PRIMARY KEY, geom geometry(Polygon, 32633));
INSERT INTO hole (geom) VALUES (ST_Buffer('SRID=32633;POINT(1000 500)'::geometry, 333.3, 64));
});
$job = $t->run_job('erase_analysis', { input => 'grid', erase => 'hole', output => 'grid_erase' });
is($job->{status}, 'completed', 'grid: completed') or diag($job->{error_message});
check_erase('grid', 'grid_erase', 'grid', 'id', '(SELECT geom FROM hole)', 3, 'ST_Area');
is($dbh->selectrow_array(q{SELECT count(*) FROM analysis.grid_erase o JOIN grid i USING (id)
    WHERE o.label IS DISTINCT FROM i.label}), 0, 'grid: labels kept');
$job = $t->run_job('clip', { input => 'grid', clip => 'hole', output => 'grid_clip' });
is($job->{status}, 'completed', 'grid clip: completed') or diag($job->{error_message});
rel_close(scalar $dbh->selectrow_array(q{SELECT (SELECT sum(ST_Area(geom)) FROM analysis.grid_erase)
    + (SELECT sum(ST_Area(geom)) FROM analysis.grid_clip)}), 2000 * 1000, 1e-12,
    'grid: clip + erase = the grid\'s area');

done_testing;

# clip against PostGIS: nc counties (NC State Plane, EPSG:32119) clipped by
# polygons stored in EPSG:4326 (a geographic clip layer against a projected
# input), by a GeoJSON geometry, with a clip_filter; lines and points; stray
# lines from a polygon clip dropped.  Reference: ST_Intersection with the
# ST_Union of the clip layer (each clip feature transformed to the input's
# SRID first, as the job does: vertices are transformed, so the union of
# transformed boxes differs from the transformed union of boxes where their
# edges cross), ST_CollectionExtract'ed to the input's dimension.
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
CREATE TABLE clipper (id serial PRIMARY KEY, kind text, geom geometry(Polygon, 4326));
INSERT INTO clipper (kind, geom) VALUES
  ('a', ST_MakeEnvelope(-80.5, 35.0, -78.5, 36.2, 4326)),
  ('a', ST_MakeEnvelope(-79.0, 34.5, -78.0, 35.5, 4326)),   -- overlaps the first
  ('b', ST_Buffer(ST_SetSRID(ST_Point(-77, 35.5), 4326)::geography, 40000)::geometry);

CREATE TABLE roads (id serial PRIMARY KEY, name text, geom geometry(LineString, 32633));
INSERT INTO roads (name, geom) VALUES
  ('through', 'SRID=32633;LINESTRING(-10 5,30 5)'),
  ('inside', 'SRID=32633;LINESTRING(2 2,8 8)'),
  ('outside', 'SRID=32633;LINESTRING(50 50,60 60)'),
  ('edge', 'SRID=32633;LINESTRING(0 -5,0 20)');
CREATE TABLE pts (id serial PRIMARY KEY, name text, geom geometry(Point, 32633));
INSERT INTO pts (name, geom) VALUES ('in', 'SRID=32633;POINT(5 5)'),
  ('out', 'SRID=32633;POINT(50 5)'), ('boundary', 'SRID=32633;POINT(10 5)');
CREATE TABLE box (id serial PRIMARY KEY, geom geometry(Polygon, 32633));
INSERT INTO box (geom) VALUES ('SRID=32633;POLYGON((0 0,10 0,10 10,0 10,0 0))');
CREATE TABLE squares (id serial PRIMARY KEY, label text, geom geometry(Polygon, 32633));
INSERT INTO squares (label, geom) VALUES
  ('touching', 'SRID=32633;POLYGON((10 0,20 0,20 10,10 10,10 0))'),  -- shares an edge only
  ('half', 'SRID=32633;POLYGON((5 0,15 0,15 10,5 10,5 0))');
});

sub rel_close {
	my ($got, $exp, $tol, $name) = @_;
	my $d = abs($got - $exp) / (abs($exp) > 0 ? abs($exp) : 1);
	ok($d <= $tol, $name) or diag("got $got, expected $exp (relative $d)");
}

# Checks output table $out against input $in clipped by the geometry given
# by SQL expression $mask (in the input's SRID), dimension $dim (3 polygons,
# 2 lines, 1 points), measure $m; features compared by id column $id.
sub check_clip {
	my ($name, $out, $in, $id, $mask, $dim, $m) = @_;
	my $ref = qq{SELECT i.$id AS id, ST_CollectionExtract(ST_Intersection(i.geom, m.g), $dim) AS geom
	    FROM $in i, (SELECT $mask AS g) m WHERE ST_Intersects(i.geom, m.g)};
	my ($ecount, $etotal) = $dbh->selectrow_array(qq{SELECT count(*), sum($m(geom))
	    FROM ($ref) r WHERE NOT ST_IsEmpty(geom)});
	my ($gcount, $gtotal) = $dbh->selectrow_array("SELECT count(*), sum($m(geom)) FROM analysis.$out");
	is($gcount, $ecount, "$name: feature count as PostGIS ($ecount)");
	rel_close($gtotal // 0, $etotal // 0, 1e-9, "$name: total $m as PostGIS");
	is($dbh->selectrow_array(qq{SELECT count(*) FROM ($ref) r FULL JOIN analysis.$out o
	    ON o.$id = r.id WHERE NOT ST_IsEmpty(r.geom) AND (o.$id IS NULL OR r.id IS NULL
	    OR abs($m(o.geom) - $m(r.geom)) > 1e-9 * greatest($m(r.geom), 1e-9))}), 0,
	    "$name: every feature's $m as PostGIS");
}

# 1. Geographic clip table against the projected nc.
my $job = $t->run_job('clip', { input => 'nc', clip => 'clipper', output => 'nc_clip' });
is($job->{status}, 'completed', 'nc by clipper (EPSG:4326): completed')
    or diag($job->{error_message}, $t->run_job_log);
check_clip('nc/clipper', 'nc_clip', 'nc', 'fid',
    '(SELECT ST_Union(ST_Transform(geom, 32119)) FROM clipper)', 3, 'ST_Area');
is($job->{result}{feature_count}, $dbh->selectrow_array('SELECT count(*) FROM analysis.nc_clip'),
    'feature_count is the row count');
ok($job->{result}{copied_whole} > 0 && $job->{result}{cut} > 0,
    "copied whole: $job->{result}{copied_whole}, cut: $job->{result}{cut}, dropped: $job->{result}{dropped}");
is($job->{result}{copied_whole} + $job->{result}{cut} + $job->{result}{dropped}, 100,
    'every county accounted for');
is($job->{result}{clip_features}, 3, 'three clip features read');
is($dbh->selectrow_array(q{SELECT count(*) FROM analysis.nc_clip o JOIN nc i USING (fid)
    WHERE o.name IS DISTINCT FROM i.name OR o.bir74 IS DISTINCT FROM i.bir74
    OR o.cnty_id IS DISTINCT FROM i.cnty_id}), 0, 'attributes kept');
is($dbh->selectrow_array(q{SELECT count(*) FROM analysis.nc_clip o JOIN nc i USING (fid)
    WHERE ST_Equals(o.geom, i.geom)}), $job->{result}{copied_whole},
    'counties wholly inside are copied unchanged');
is($dbh->selectrow_array(q{SELECT format_type(atttypid, atttypmod) FROM pg_attribute
    WHERE attrelid = 'analysis.nc_clip'::regclass AND attname = 'geom'}),
    'geometry(MultiPolygon,32119)', 'input dimension and SRID kept');
is($dbh->selectrow_array(q{SELECT count(*) FROM analysis.nc_clip WHERE NOT ST_IsValid(geom)}),
    0, 'valid output');
is_deeply([ map { $_->[0] } @{ $dbh->selectall_arrayref(q{SELECT attname FROM pg_attribute
    WHERE attrelid = 'analysis.nc_clip'::regclass AND attnum > 0 ORDER BY attnum}) } ],
    [ map { $_->[0] } @{ $dbh->selectall_arrayref(q{SELECT attname FROM pg_attribute
    WHERE attrelid = 'nc'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum}) } ],
    'same columns as the input');

# 2. clip_filter.
$job = $t->run_job('clip', { input => 'nc', clip => 'public.clipper', output => 'nc_clip_b',
    clip_filter => { all => [ { field => 'kind', op => '=', value => 'b' } ] } });
is($job->{status}, 'completed', 'clip_filter: completed') or diag($job->{error_message});
check_clip('clip_filter', 'nc_clip_b', 'nc', 'fid',
    q{(SELECT ST_Union(ST_Transform(geom, 32119)) FROM clipper WHERE kind = 'b')}, 3, 'ST_Area');
is($job->{result}{clip_features}, 1, 'one clip feature matched the filter');

# 3. clip_geometry: GeoJSON, default clip_srid 4326.
my $gj = { type => 'Polygon', coordinates => [[[-81, 35], [-79, 35], [-79, 36], [-81, 36], [-81, 35]]] };
$job = $t->run_job('clip', { input => 'nc', clip_geometry => $gj, output => 'nc_clip_gj' });
is($job->{status}, 'completed', 'clip_geometry: completed') or diag($job->{error_message});
check_clip('clip_geometry', 'nc_clip_gj', 'nc', 'fid',
    q{ST_Transform(ST_GeomFromText('POLYGON((-81 35,-79 35,-79 36,-81 36,-81 35))', 4326), 32119)},
    3, 'ST_Area');
# ... and the same box in EPSG:32119 given with clip_srid.
my $box = $dbh->selectrow_array(q{SELECT ST_AsGeoJSON(ST_Transform(ST_GeomFromText(
    'POLYGON((-81 35,-79 35,-79 36,-81 36,-81 35))', 4326), 32119), 15)});
$job = $t->run_job('clip', { input => 'nc', clip_geometry => $box, clip_srid => 32119,
    output => 'nc_clip_gj2' });
is($job->{status}, 'completed', 'clip_geometry as a string with clip_srid: completed')
    or diag($job->{error_message});
check_clip('clip_srid', 'nc_clip_gj2', 'nc', 'fid', "ST_SetSRID(ST_GeomFromGeoJSON('$box'), 32119)",
    3, 'ST_Area');

# ... and a FeatureCollection of two overlapping boxes (transformed, then
# merged).
my $fc = { type => 'FeatureCollection', features => [
    { type => 'Feature', properties => { name => 'a' }, geometry =>
      { type => 'Polygon', coordinates => [[[-81, 35], [-79, 35], [-79, 36], [-81, 36], [-81, 35]]] } },
    { type => 'Feature', properties => { name => 'b' }, geometry =>
      { type => 'Polygon', coordinates => [[[-80, 35.5], [-78, 35.5], [-78, 36.5], [-80, 36.5], [-80, 35.5]]] } } ] };
$job = $t->run_job('clip', { input => 'nc', clip_geometry => $fc, output => 'nc_clip_fc' });
is($job->{status}, 'completed', 'clip_geometry FeatureCollection: completed') or diag($job->{error_message});
check_clip('FeatureCollection', 'nc_clip_fc', 'nc', 'fid',
    q{ST_Union(ST_Transform(ST_GeomFromText('POLYGON((-81 35,-79 35,-79 36,-81 36,-81 35))', 4326), 32119),
      ST_Transform(ST_GeomFromText('POLYGON((-80 35.5,-78 35.5,-78 36.5,-80 36.5,-80 35.5))', 4326), 32119))},
    3, 'ST_Area');

# 4. Lines and points.
$job = $t->run_job('clip', { input => 'roads', clip => 'box', output => 'roads_clip' });
is($job->{status}, 'completed', 'lines: completed') or diag($job->{error_message});
check_clip('lines', 'roads_clip', 'roads', 'id', '(SELECT geom FROM box)', 2, 'ST_Length');
is($dbh->selectrow_array(q{SELECT string_agg(name, ',' ORDER BY name) FROM analysis.roads_clip}),
    'edge,inside,through', 'lines inside, across and along the edge kept');
$job = $t->run_job('clip', { input => 'pts', clip => 'box', output => 'pts_clip' });
is($job->{status}, 'completed', 'points: completed') or diag($job->{error_message});
is($dbh->selectrow_array(q{SELECT string_agg(name, ',' ORDER BY name) FROM analysis.pts_clip}),
    'boundary,in', 'points inside and on the boundary kept (as ST_Intersects)');
is($dbh->selectrow_array(q{SELECT format_type(atttypid, atttypmod) FROM pg_attribute
    WHERE attrelid = 'analysis.pts_clip'::regclass AND attname = 'geom'}),
    'geometry(Point,32633)', 'points stay points');

# 5. A polygon sharing only an edge with the clip: PostGIS gives a line, the
# clip drops it (the input's dimension is kept).
$job = $t->run_job('clip', { input => 'squares', clip => 'box', output => 'sq_clip' });
is($job->{status}, 'completed', 'edge-sharing polygon: completed') or diag($job->{error_message});
is($dbh->selectrow_array(q{SELECT GeometryType(ST_Intersection(s.geom, b.geom)) FROM squares s, box b
    WHERE label = 'touching'}), 'LINESTRING', 'PostGIS intersection of the touching square is a line');
is($dbh->selectrow_array(q{SELECT string_agg(label, ',') FROM analysis.sq_clip}), 'half',
    'only the overlapping square is kept');
rel_close(scalar $dbh->selectrow_array(q{SELECT ST_Area(geom) FROM analysis.sq_clip}), 50, 1e-12,
    'its clipped area is 50');

# 6. Invalid input (bow-tie, self-touching ring) repaired and counted, then
# clipped as PostGIS clips ST_MakeValid's result; a view as input.
$t->psql(q{
CREATE TABLE bad (id serial PRIMARY KEY, geom geometry(Polygon, 32633));
INSERT INTO bad (geom) VALUES
  ('SRID=32633;POLYGON((0 0,10 10,10 0,0 10,0 0))'),
  ('SRID=32633;POLYGON((0 0,8 0,8 8,4 8,6 4,2 4,4 8,0 8,0 0))'),
  ('SRID=32633;POLYGON((2 2,3 2,3 3,2 3,2 2))');
CREATE TABLE halfbox (id serial PRIMARY KEY, geom geometry(Polygon, 32633));
INSERT INTO halfbox (geom) VALUES ('SRID=32633;POLYGON((0 0,5 0,5 10,0 10,0 0))');
CREATE VIEW bad_view AS SELECT id, geom FROM bad;
});
$job = $t->run_job('clip', { input => 'bad', clip => 'halfbox', output => 'bad_clip' });
is($job->{status}, 'completed', 'invalid input: completed') or diag($job->{error_message});
is($job->{result}{repaired_geometries}, 2, 'bow-tie and self-touching ring repaired and counted');
check_clip('repaired', 'bad_clip', '(SELECT id, ST_MakeValid(geom) AS geom FROM bad)', 'id',
    '(SELECT geom FROM halfbox)', 3, 'ST_Area');
is($dbh->selectrow_array(q{SELECT count(*) FROM analysis.bad_clip WHERE NOT ST_IsValid(geom)}),
    0, 'valid output');
$job = $t->run_job('clip', { input => 'bad_view', id_column => 'id', clip => 'halfbox',
    output => 'bad_view_clip' });
is($job->{status}, 'completed', 'a view as input: completed') or diag($job->{error_message});
is($dbh->selectrow_array('SELECT count(*) FROM analysis.bad_view_clip'),
    $dbh->selectrow_array('SELECT count(*) FROM analysis.bad_clip'), 'same rows as from the table');

done_testing;

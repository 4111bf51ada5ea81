# dissolve on synthetic layers: holes, multipolygons, overlapping polygons
# (not a coverage: the general union must take over), a NULL group, invalid
# polygons (bow-tie, self-touching ring) repaired and counted, lines and
# points.  Reference: PostGIS ST_Union ... GROUP BY (with ST_MakeValid for
# the invalid ones).
use strict;
use warnings;
use Test::More;
use GW;

my $t = GW->new;
my $dbh = $t->dbh;

$t->psql(q{
CREATE TABLE shapes (id serial PRIMARY KEY, g text, v integer,
    geom geometry(MultiPolygon, 32633));
INSERT INTO shapes (g, v, geom) SELECT g, v, ST_Multi(ST_GeomFromText(w, 32633))
FROM (VALUES
  -- a: a square with a hole and its neighbour (a coverage)
  ('a', 1, 'POLYGON((0 0,10 0,10 10,0 10,0 0),(2 2,4 2,4 4,2 4,2 2))'),
  ('a', 2, 'POLYGON((10 0,20 0,20 10,10 10,10 0))'),
  -- b: two disjoint squares, one of them a multipolygon, and a third
  -- overlapping the first (not a coverage)
  ('b', 3, 'MULTIPOLYGON(((100 0,110 0,110 10,100 10,100 0)),((130 0,140 0,140 10,130 10,130 0)))'),
  ('b', NULL, 'POLYGON((105 5,115 5,115 15,105 15,105 5))'),
  ('b', 5, 'POLYGON((200 0,210 0,210 10,200 10,200 0))'),
  -- c: a donut and the polygon filling its hole: a solid square
  ('c', 6, 'POLYGON((300 0,330 0,330 30,300 30,300 0),(310 10,320 10,320 20,310 20,310 10))'),
  ('c', 7, 'POLYGON((310 10,320 10,320 20,310 20,310 10))'),
  -- NULL group
  (NULL, 8, 'POLYGON((400 0,410 0,410 10,400 10,400 0))'),
  (NULL, 9, 'POLYGON((410 0,420 0,420 10,410 10,410 0))')
) AS x(g, v, w);

CREATE TABLE bad (id serial PRIMARY KEY, g text, geom geometry(Polygon, 32633));
INSERT INTO bad (g, geom) VALUES
  ('x', 'SRID=32633;POLYGON((0 0,10 10,10 0,0 10,0 0))'),            -- bow-tie
  ('x', 'SRID=32633;POLYGON((10 0,20 0,20 10,10 10,10 0))'),
  ('y', 'SRID=32633;POLYGON((100 0,110 0,110 10,105 10,107 5,103 5,105 10,100 10,100 0))'), -- self-touching ring
  ('y', 'SRID=32633;POLYGON((100 10,110 10,110 20,100 20,100 10))');

CREATE TABLE roads (id serial PRIMARY KEY, kind text, geom geometry(LineString, 32633));
INSERT INTO roads (kind, geom) VALUES
  ('main', 'SRID=32633;LINESTRING(0 0,10 0,20 0)'),
  ('main', 'SRID=32633;LINESTRING(10 0,30 0)'),         -- overlaps the first
  ('main', 'SRID=32633;LINESTRING(15 -5,15 5)'),        -- crosses it
  ('side', 'SRID=32633;LINESTRING(0 50,0 60)');

CREATE TABLE pts (id serial PRIMARY KEY, kind text, geom geometry(Point, 32633));
INSERT INTO pts (kind, geom) VALUES
  ('p', 'SRID=32633;POINT(1 1)'), ('p', 'SRID=32633;POINT(1 1)'),
  ('p', 'SRID=32633;POINT(2 2)'), ('q', 'SRID=32633;POINT(5 5)');
});

sub rel_close {
	my ($got, $exp, $tol, $name) = @_;
	my $d = abs($got - $exp) / (abs($exp) > 0 ? abs($exp) : 1);
	ok($d <= $tol, $name) or diag("got $got, expected $exp (relative $d)");
}

# Compares output table $out (group column $g) to the reference $refsql,
# which returns (grp, measure, nparts) rows.
sub compare {
	my ($out, $g, $measure, $refsql, $name) = @_;
	my $ref = $dbh->selectall_arrayref($refsql);
	my %got = map { (defined $_->[0] ? $_->[0] : '<null>') => $_ } @{ $dbh->selectall_arrayref(
	    "SELECT $g, $measure(geom), ST_NumGeometries(geom) FROM analysis.$out") };
	is(scalar keys %got, scalar @$ref, "$name: one row per group");
	for my $r (@$ref) {
		my $k = defined $r->[0] ? $r->[0] : '<null>';
		my $o = $got{$k} or do { fail("$name: group $k missing"); next };
		rel_close($o->[1], $r->[1], 1e-9, "$name: group $k $measure");
		is($o->[2], $r->[2], "$name: group $k parts");
	}
}

my $job = $t->run_job('dissolve', { input => 'shapes', fields => ['g'],
    output => 'shapes_g', statistics => [ { field => 'v', stat => 'sum' },
    { field => 'v', stat => 'count' }, { field => 'v', stat => 'mean' } ] });
is($job->{status}, 'completed', 'shapes: completed') or diag($job->{error_message});
compare('shapes_g', 'g', 'ST_Area', q{SELECT g, ST_Area(ST_Union(geom)),
    ST_NumGeometries(ST_Union(geom)) FROM shapes GROUP BY g}, 'shapes');
is_deeply($dbh->selectall_arrayref(q{SELECT g, sum_v, count_v, mean_v FROM analysis.shapes_g
    ORDER BY g NULLS LAST}),
    $dbh->selectall_arrayref(q{SELECT g, sum(v)::float8, count(v), avg(v)::float8 FROM shapes
    GROUP BY g ORDER BY g NULLS LAST}), 'sum, count, mean skip NULLs as SQL does');
is($dbh->selectrow_array(q{SELECT ST_NumInteriorRings(ST_GeometryN(geom, 1))
    FROM analysis.shapes_g WHERE g = 'a'}), 1, 'a: the hole is kept');
is($dbh->selectrow_array(q{SELECT ST_NumInteriorRings(ST_GeometryN(geom, 1))
    FROM analysis.shapes_g WHERE g = 'c'}), 0, 'c: the filled hole is gone');
is($job->{result}{group_count}, 4, 'four groups, NULL one included');
ok($job->{result}{coverage_union_groups} >= 1 && $job->{result}{coverage_union_groups} < 4,
    "coverage union where it applies ($job->{result}{coverage_union_groups}), general union elsewhere");
is($dbh->selectrow_array(q{SELECT count(*) FROM analysis.shapes_g WHERE NOT ST_IsValid(geom)}),
    0, 'every output geometry is valid');

# Invalid input: repaired with GEOSMakeValid, counted, merged.
$job = $t->run_job('dissolve', { input => 'bad', fields => ['g'], output => 'bad_g' });
is($job->{status}, 'completed', 'invalid polygons: completed') or diag($job->{error_message});
is($job->{result}{repaired_geometries}, 2, 'bow-tie and self-touching ring repaired and counted');
compare('bad_g', 'g', 'ST_Area', q{SELECT g, ST_Area(ST_Union(ST_MakeValid(geom))),
    ST_NumGeometries(ST_Union(ST_MakeValid(geom))) FROM bad GROUP BY g}, 'repaired');
is($dbh->selectrow_array(q{SELECT count(*) FROM analysis.bad_g WHERE NOT ST_IsValid(geom)}),
    0, 'repaired output is valid');

# Lines: merged and noded as ST_Union does; lengths and parts.
$job = $t->run_job('dissolve', { input => 'roads', fields => ['kind'], output => 'roads_k' });
is($job->{status}, 'completed', 'lines: completed') or diag($job->{error_message});
compare('roads_k', 'kind', 'ST_Length', q{SELECT kind, ST_Length(ST_Union(geom)),
    ST_NumGeometries(ST_Union(geom)) FROM roads GROUP BY kind}, 'lines');
is($dbh->selectrow_array(q{SELECT format_type(atttypid, atttypmod) FROM pg_attribute
    WHERE attrelid = 'analysis.roads_k'::regclass AND attname = 'geom'}),
    'geometry(MultiLineString,32633)', 'lines stay lines');

# Points: duplicates merged.
$job = $t->run_job('dissolve', { input => 'pts', fields => ['kind'], output => 'pts_k',
    multipart => JSON::PP::false });
is($job->{status}, 'completed', 'points, single part: completed') or diag($job->{error_message});
is($dbh->selectrow_array('SELECT count(*) FROM analysis.pts_k'),
    $dbh->selectrow_array(q{SELECT count(*) FROM (SELECT (ST_Dump(ST_Union(geom))).geom
    FROM pts GROUP BY kind) d}), 'one point per distinct location, as ST_Union + ST_Dump');
is($dbh->selectrow_array(q{SELECT format_type(atttypid, atttypmod) FROM pg_attribute
    WHERE attrelid = 'analysis.pts_k'::regclass AND attname = 'geom'}),
    'geometry(Point,32633)', 'single points');

done_testing;

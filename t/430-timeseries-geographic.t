# hotspot_timeseries on geographic (EPSG:4326) and Web Mercator
# (EPSG:3857) input: cells are measured in true metres (a local Lambert
# equal-area plane), checked with PostGIS geography; each point lies in the
# cell that counts it; default cell size and neighbourhood are reported and
# follow the documented rules.
use strict;
use warnings;
use Test::More;
use GW;

my $t = GW->new;
my $dbh = $t->dbh;

# 3000 points around Lyon (45.76 N), about 8 x 6 km, over 20 weeks.
$dbh->do(q{CREATE TABLE incidents (id serial PRIMARY KEY,
    geom geometry(Point, 4326), seen timestamp)});
$dbh->do(q{SELECT setseed(0.25)});
$dbh->do(q{INSERT INTO incidents (geom, seen)
    SELECT ST_SetSRID(ST_MakePoint(4.80 + random() * 0.1, 45.73 + random() * 0.055), 4326),
        timestamp '2022-06-01' + random() * interval '140 days'
    FROM generate_series(1, 3000)});

my $job = $t->run_job('hotspot_timeseries', {
	input => 'incidents', time_field => 'seen', cell_size => 500,
	time_step => '2 weeks', output => 'lyon',
});
is($job->{status}, 'completed', '4326 input completes')
    or diag($job->{error_message} // '', $t->run_job_log);
my $r = $job->{result};
like($r->{projection}, qr/^\+proj=laea \+lat_0=45\.7\d+ \+lon_0=4\.8\d+ /,
    'projected to a Lambert equal-area plane centred on the data');
is($dbh->selectrow_array('SELECT min(ST_SRID(geom)) FROM analysis.lyon'), 4326, 'cells in EPSG:4326');

# Geodesic area of every cell within 0.1 % of 500 m x 500 m.
my ($amin, $amax) = $dbh->selectrow_array(
    'SELECT min(ST_Area(geom::geography)), max(ST_Area(geom::geography)) FROM analysis.lyon');
cmp_ok(abs($amin / 250000 - 1), '<', 1e-3, "smallest cell $amin m2");
cmp_ok(abs($amax / 250000 - 1), '<', 1e-3, "largest cell $amax m2");

# Each point in exactly one cell, and the cells' totals are their points.
is($dbh->selectrow_array(q{SELECT count(*) FROM incidents i
    WHERE (SELECT count(*) FROM analysis.lyon l WHERE ST_Covers(l.geom, i.geom)) = 1}),
    3000, 'every point in exactly one cell');
is($dbh->selectrow_array(q{SELECT count(*) FROM analysis.lyon l
    WHERE total <> (SELECT count(*) FROM incidents i WHERE ST_Covers(l.geom, i.geom))}),
    0, 'each cell counts the points it covers');

# Default neighbourhood: the largest nearest-neighbour distance between
# cell centres, measured here geodesically.
ok($r->{neighborhood_distance_default}, 'neighbourhood distance defaulted');
my $nn = $dbh->selectrow_array(q{SELECT max(d) FROM (SELECT (SELECT min(ST_Distance(
    ST_Centroid(a.geom)::geography, ST_Centroid(b.geom)::geography))
    FROM analysis.lyon b WHERE b.location_id <> a.location_id) AS d
    FROM analysis.lyon a) s});
cmp_ok(abs($r->{neighborhood_distance} / $nn - 1), '<', 2e-3,
    "default neighbourhood $r->{neighborhood_distance} m = largest nearest-neighbour distance $nn m");
is($r->{time_steps}, 10, '140 days of 2-week steps: 10 steps');
is($r->{time_step}, '2 weeks', 'time_step reported');

# Web Mercator input: its metres are stretched by 1 / cos(45.76) = 1.43,
# so it is projected too.
$dbh->do(q{CREATE TABLE merc AS SELECT id, ST_Transform(geom, 3857)::geometry(Point, 3857) AS geom, seen FROM incidents});
$job = $t->run_job('hotspot_timeseries', {
	input => 'merc', time_field => 'seen', cell_size => 500,
	time_step => '1 month', neighborhood_distance => 750, output => 'merc_out',
});
is($job->{status}, 'completed', '3857 input completes') or diag($job->{error_message});
like($job->{result}{projection}, qr/^\+proj=laea/, 'Mercator is projected');
($amin, $amax) = $dbh->selectrow_array(
    'SELECT min(ST_Area(ST_Transform(geom, 4326)::geography)), max(ST_Area(ST_Transform(geom, 4326)::geography)) FROM analysis.merc_out');
cmp_ok(abs($amin / 250000 - 1), '<', 1e-3, "3857: smallest cell $amin m2");
cmp_ok(abs($amax / 250000 - 1), '<', 1e-3, "3857: largest cell $amax m2");
is($dbh->selectrow_array(q{SELECT sum(total) FROM analysis.merc_out}), 3000, '3857: every point counted');

# A projected CRS in US survey feet (New York Long Island, EPSG:2263) is
# used as it is, its unit converted: 500 m cells are 1640.4 ft squares.
$dbh->do(q{CREATE TABLE nyc AS SELECT id,
    ST_Transform(ST_SetSRID(ST_MakePoint(-73.99 + (id % 97) / 97.0 * 0.08,
        40.70 + (id % 89) / 89.0 * 0.06), 4326), 2263)::geometry(Point, 2263) AS geom, seen
    FROM incidents});
$job = $t->run_job('hotspot_timeseries', {
	input => 'nyc', time_field => 'seen', cell_size => 500,
	time_step => '1 month', neighborhood_distance => 750, output => 'nyc_out',
});
is($job->{status}, 'completed', '2263 (US feet) input completes') or diag($job->{error_message});
is($job->{result}{projection}, 'input CRS', 'a projected CRS is used as it is');
my ($side) = $dbh->selectrow_array('SELECT max(ST_XMax(geom) - ST_XMin(geom)) FROM analysis.nyc_out');
cmp_ok(abs($side - 500 / 0.3048006096012192), '<', 1e-6, "cells are 500 m = $side US ft wide");
($amin, $amax) = $dbh->selectrow_array(
    'SELECT min(ST_Area(ST_Transform(geom, 4326)::geography)), max(ST_Area(ST_Transform(geom, 4326)::geography)) FROM analysis.nyc_out');
cmp_ok(abs($amin / 250000 - 1), '<', 2e-3, "2263: smallest cell $amin m2 on the ground");
cmp_ok(abs($amax / 250000 - 1), '<', 2e-3, "2263: largest cell $amax m2 on the ground");

# Default cell size: the larger of the longest side / 100 and the expected
# mean nearest-neighbour distance 0.5 sqrt(A / n), to two significant digits.
$job = $t->run_job('hotspot_timeseries', {
	input => 'incidents', time_field => 'seen', time_step => '1 month',
	output => 'lyon_default',
});
is($job->{status}, 'completed', 'default cell size completes') or diag($job->{error_message});
ok($job->{result}{cell_size_default}, 'cell size defaulted');
my ($w, $h) = $dbh->selectrow_array(q{SELECT
    ST_Distance(ST_MakePoint(ST_XMin(e), 45.7575)::geography, ST_MakePoint(ST_XMax(e), 45.7575)::geography),
    ST_Distance(ST_MakePoint(4.85, ST_YMin(e))::geography, ST_MakePoint(4.85, ST_YMax(e))::geography)
    FROM (SELECT ST_Extent(geom) e FROM incidents) s});
my $want = ($w > $h ? $w : $h) / 100;
my $alt = 0.5 * sqrt($w * $h / 3000);
$want = $alt if $alt > $want;
cmp_ok(abs($job->{result}{cell_size} / $want - 1), '<', 0.06,
    "default cell size $job->{result}{cell_size} m ~ $want m");

done_testing();

# dissolve on real polygon layers (sf's nc.gpkg projected to NC State Plane,
# spData's NY8 tracts): merged geometries and per-group statistics against
# PostGIS's ST_Union ... GROUP BY and PostgreSQL's own aggregates.
use strict;
use warnings;
use Test::More;
use GW;

my $nc_file = '/usr/lib/R/site-library/sf/gpkg/nc.gpkg';
my $ny_file = '/usr/lib/R/site-library/spData/shapes/NY8_utm18.shp';
plan skip_all => 'sf and spData data sets not installed'
    unless -r $nc_file && -r $ny_file;

my $t = GW->new;
my $dbh = $t->dbh;
$t->ogr2ogr($nc_file, 'nc', '-t_srs', 'EPSG:32119', '-nlt', 'MULTIPOLYGON');
$t->ogr2ogr($ny_file, 'ny8', '-nlt', 'PROMOTE_TO_MULTI');

# A region per county by longitude (adjacent counties: a coverage per group)
# and a scattered group (fid mod 4: non-adjacent counties, multipolygons).
$t->psql(q{
	ALTER TABLE nc ADD COLUMN region text, ADD COLUMN k int;
	UPDATE nc SET region = CASE
	    WHEN ST_X(ST_Centroid(geom)) < 400000 THEN 'west'
	    WHEN ST_X(ST_Centroid(geom)) < 700000 THEN 'piedmont'
	    ELSE 'east' END, k = fid % 4;
	UPDATE nc SET bir79 = NULL WHERE fid IN (3, 17, 40);
	UPDATE nc SET name = NULL WHERE fid = 5;
});

sub rel_close {
	my ($got, $exp, $tol, $name) = @_;
	my $d = abs($got - $exp) / (abs($exp) > 0 ? abs($exp) : 1);
	ok($d <= $tol, $name) or diag("got $got, expected $exp (relative $d)");
}

sub statistics {
	my ($field, @stats) = @_;
	return [ map { { field => $field, stat => $_ } } @stats ];
}

# 1. nc by region, every statistic.
my $job = $t->run_job('dissolve', {
	input => 'nc', fields => ['region'], output => 'nc_region',
	statistics => [
	    @{ statistics('bir74', qw(sum mean min max count std range first last)) },
	    @{ statistics('bir79', qw(sum count mean)) },
	    @{ statistics('name', qw(min max count first last)) },
	],
});
is($job->{status}, 'completed', 'nc by region: completed')
    or diag($job->{error_message}, $t->run_job_log);
is($job->{result}{feature_count}, 3, 'three regions');
is($job->{result}{input_count}, 100, '100 counties read');
is($job->{result}{output}, 'analysis.nc_region', 'output named');
ok(defined $job->{result}{elapsed_ms}, 'elapsed_ms in the result');

my $ref = $dbh->selectall_hashref(q{
	SELECT region, ST_Area(ST_Union(geom)) AS area,
	    ST_NumGeometries(ST_Union(geom)) AS nparts,
	    sum(bir74) AS sum_bir74, avg(bir74) AS mean_bir74,
	    min(bir74) AS min_bir74, max(bir74) AS max_bir74,
	    count(bir74) AS count_bir74, stddev_samp(bir74) AS std_bir74,
	    max(bir74) - min(bir74) AS range_bir74,
	    (array_agg(bir74 ORDER BY fid) FILTER (WHERE bir74 IS NOT NULL))[1]
	        AS first_bir74,
	    (array_agg(bir74 ORDER BY fid DESC) FILTER (WHERE bir74 IS NOT NULL))[1]
	        AS last_bir74,
	    sum(bir79) AS sum_bir79, count(bir79) AS count_bir79,
	    avg(bir79) AS mean_bir79,
	    min(name COLLATE "C") AS min_name, max(name COLLATE "C") AS max_name,
	    count(name) AS count_name,
	    (array_agg(name ORDER BY fid) FILTER (WHERE name IS NOT NULL))[1]
	        AS first_name,
	    (array_agg(name ORDER BY fid DESC) FILTER (WHERE name IS NOT NULL))[1]
	        AS last_name
	FROM nc GROUP BY region}, 'region');
my $got = $dbh->selectall_hashref(q{
	SELECT *, ST_Area(geom) AS area, ST_NumGeometries(geom) AS nparts,
	    GeometryType(geom) AS gtype, ST_SRID(geom) AS srid
	FROM analysis.nc_region}, 'region');
is_deeply([sort keys %$got], [sort keys %$ref], 'same groups as GROUP BY');
for my $r (sort keys %$ref) {
	my ($g, $e) = ($got->{$r}, $ref->{$r});
	rel_close($g->{area}, $e->{area}, 1e-9, "$r: area equals ST_Union's");
	is($g->{nparts}, $e->{nparts}, "$r: parts equal ST_Union's");
	is($g->{gtype}, 'MULTIPOLYGON', "$r: multipolygon");
	is($g->{srid}, 32119, "$r: SRID kept");
	for my $c (qw(sum_bir74 min_bir74 max_bir74 count_bir74 range_bir74
	    first_bir74 last_bir74 sum_bir79 count_bir79 mean_bir74 mean_bir79
	    min_name max_name count_name first_name last_name)) {
		is($g->{$c}, $e->{$c}, "$r: $c exact");
	}
	rel_close($g->{std_bir74}, $e->{std_bir74}, 1e-12, "$r: std_bir74 (sample)");
}
# The output column types.
my %types = map { @$_ } @{ $dbh->selectall_arrayref(q{
	SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
	WHERE attrelid = 'analysis.nc_region'::regclass AND attnum > 0}) };
is($types{region}, 'text', 'group field keeps its type');
is($types{count_bir74}, 'bigint', 'count is bigint');
is($types{sum_bir74}, 'double precision', 'sum is double precision');
is($types{min_name}, $dbh->selectrow_array(q{SELECT format_type(atttypid, atttypmod)
    FROM pg_attribute WHERE attrelid = 'nc'::regclass AND attname = 'name'}),
    'min of a text field keeps its type');
is($types{geom}, 'geometry(MultiPolygon,32119)', 'geometry column typed');
ok($dbh->selectrow_array(q{SELECT count(*) FROM pg_indexes WHERE
    schemaname = 'analysis' AND tablename = 'nc_region' AND indexdef LIKE '%gist%'}),
    'GiST index on the output');
ok($dbh->selectrow_array(q{SELECT reltuples >= 0 FROM pg_class WHERE
    oid = 'analysis.nc_region'::regclass}), 'output ANALYZEd');

# 2. Scattered groups, multipart false: one row per part, as ST_Dump.
$job = $t->run_job('dissolve', { input => 'nc', fields => ['k'],
    multipart => JSON::PP::false, output => 'nc_k_single',
    statistics => statistics('bir74', 'sum') });
is($job->{status}, 'completed', 'nc by k, single part: completed')
    or diag($job->{error_message});
my ($eparts, $earea) = $dbh->selectrow_array(q{
	SELECT count(*), sum(ST_Area(d.geom)) FROM
	(SELECT (ST_Dump(ST_Union(geom))).geom FROM nc GROUP BY k) d});
my ($gparts, $garea, $gtype) = $dbh->selectrow_array(q{
	SELECT count(*), sum(ST_Area(geom)), max(GeometryType(geom))
	FROM analysis.nc_k_single});
is($gparts, $eparts, "one row per part ($eparts), as ST_Dump(ST_Union)");
rel_close($garea, $earea, 1e-9, 'total area equals');
is($gtype, 'POLYGON', 'single-part polygons');
is($job->{result}{feature_count}, $eparts, 'feature_count counts the parts');
is($dbh->selectrow_array(q{SELECT count(DISTINCT sum_bir74) FROM analysis.nc_k_single
    WHERE k = 0}), 1, 'parts of a group share its statistics');

# 3. No fields: the whole state as one feature.
$job = $t->run_job('dissolve', { input => 'public.nc', output => 'nc_all' });
is($job->{status}, 'completed', 'nc, no fields: completed') or diag($job->{error_message});
is($job->{result}{feature_count}, 1, 'one feature');
rel_close(scalar $dbh->selectrow_array('SELECT ST_Area(geom) FROM analysis.nc_all'),
    scalar $dbh->selectrow_array('SELECT ST_Area(ST_Union(geom)) FROM nc'), 1e-9,
    'area equals ST_Union of all');

# 4. NY8 tracts by town name (a real coverage, with a few invalid tracts that
# the job repairs, as ST_MakeValid does): counts and areas.
$job = $t->run_job('dissolve', { input => 'ny8', fields => ['areaname'],
    output => 'ny8_towns', statistics => [ @{ statistics('pop8', qw(sum max count)) } ] });
is($job->{status}, 'completed', 'NY8 by town: completed') or diag($job->{error_message});
my $n_towns = $dbh->selectrow_array('SELECT count(DISTINCT areaname) FROM ny8');
is($job->{result}{feature_count}, $n_towns, "one feature per town ($n_towns)");
my $bad = $dbh->selectrow_array(q{
	WITH r AS (SELECT areaname, ST_Area(ST_Union(ST_MakeValid(geom))) a, sum(pop8) s,
	    max(pop8) m, count(pop8) c FROM ny8 GROUP BY areaname)
	SELECT count(*) FROM r JOIN analysis.ny8_towns o USING (areaname)
	WHERE abs(ST_Area(o.geom) - r.a) > 1e-9 * r.a
	   OR o.sum_pop8 <> r.s OR o.max_pop8 <> r.m OR o.count_pop8 <> r.c});
is($bad, 0, 'every town: area to 1e-9, sum/max/count exact');
is($job->{result}{repaired_geometries},
    scalar $dbh->selectrow_array('SELECT count(*) FROM ny8 WHERE NOT ST_IsValid(geom)'),
    'repaired geometries counted (as many as ST_IsValid rejects)');
ok($job->{result}{coverage_union_groups} > 0,
    "coverage union used for $job->{result}{coverage_union_groups} of $n_towns towns");

# 5. overwrite.
$job = $t->run_job('dissolve', { input => 'nc', output => 'nc_all' });
is($job->{status}, 'failed', 'existing output refused');
like($job->{error_message}, qr/output: table analysis\.nc_all already exists/, '... saying so');
$job = $t->run_job('dissolve', { input => 'nc', output => 'nc_all',
    fields => ['region'], overwrite => JSON::PP::true });
is($job->{status}, 'completed', 'overwrite: true replaces it') or diag($job->{error_message});
is($dbh->selectrow_array('SELECT count(*) FROM analysis.nc_all'), 3, '... with the new rows');

done_testing;

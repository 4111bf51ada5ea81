# hotspot_analysis, outlier_analysis, nearest_analysis on bad input: every
# bad parameter fails the job with a message naming it and leaves no output;
# NULL values and features without neighbours degrade to NULL statistics and
# are counted; invalid polygons are repaired and counted.
use strict;
use warnings;
use Test::More;
use GW;

my $t = GW->new;
$t->psql(q{
	SELECT setseed(0.1);
	CREATE TABLE pts (id int PRIMARY KEY, v double precision, s text,
	    c numeric, geom geometry(Point, 32617));
	INSERT INTO pts SELECT g, random() * 10, 'x' || g, 5,
	    ST_SetSRID(ST_MakePoint(500000 + random() * 1000, 4000000 + random() * 1000), 32617)
	    FROM generate_series(1, 40) g;
	CREATE TABLE one (id int PRIMARY KEY, v float8, geom geometry(Point, 32617));
	INSERT INTO one VALUES (1, 3, 'SRID=32617;POINT(500000 4000000)');
	CREATE TABLE empty (id int PRIMARY KEY, v float8, geom geometry(Point, 32617));
	CREATE TABLE nokey (v float8, geom geometry(Point, 32617));
	INSERT INTO nokey SELECT v, geom FROM pts;
	CREATE TABLE geo (id int PRIMARY KEY, v float8, geom geometry(Point, 4326));
	INSERT INTO geo SELECT g, g, ST_SetSRID(ST_MakePoint(g * 0.01, 45), 4326) FROM generate_series(1, 10) g;
	-- Two far groups: a small band leaves the lone point 99 alone.
	CREATE TABLE iso (id int PRIMARY KEY, v float8, geom geometry(Point, 32617));
	INSERT INTO iso SELECT g, g % 7, ST_SetSRID(ST_MakePoint(500000 + g * 10, 4000000), 32617)
	    FROM generate_series(1, 30) g;
	INSERT INTO iso VALUES (99, 4, 'SRID=32617;POINT(600000 4000000)');
	-- A 4 x 4 lattice of squares, one of them a bow-tie (invalid).
	CREATE TABLE sq (id int PRIMARY KEY, v float8, geom geometry(Polygon, 32617));
	INSERT INTO sq SELECT i * 4 + j, (i * 7 + j * 3) % 5,
	    ST_SetSRID(ST_MakeEnvelope(i * 100, j * 100, i * 100 + 100, j * 100 + 100), 32617)
	    FROM generate_series(0, 3) i, generate_series(0, 3) j;
	UPDATE sq SET geom = 'SRID=32617;POLYGON((300 300,400 400,400 300,300 400,300 300))' WHERE id = 15;
});

my $n = 0;
sub fails {
	my ($type, $params, $re, $name) = @_;
	my $out = 'bad_' . ++$n;
	my $job = $t->run_job($type, { output => $out, %$params });
	is($job->{status}, 'failed', "$name: failed");
	like($job->{error_message} // '', $re, "$name: says why")
	    or diag($job->{error_message});
	is($t->psql("SELECT count(*) FROM pg_tables WHERE schemaname = 'analysis' AND tablename = '$out'"),
	    0, "$name: no output left");
}

my %h = (input => 'pts', field => 'v');
fails('hotspot_analysis', { %h, colour => 'red' }, qr/unknown parameter 'colour'/, 'unknown parameter');
fails('hotspot_analysis', { input => 'pts' }, qr/'field' is required/, 'field missing');
fails('hotspot_analysis', { %h, field => 'nope' }, qr/field: .*no column "nope"/, 'no such field');
fails('hotspot_analysis', { %h, field => 's' }, qr/field: column "s" is of type text; a numeric column/, 'text field');
fails('outlier_analysis', { %h, field => 'c' }, qr/field: every feature has the same "c"/, 'constant field');
fails('hotspot_analysis', { %h, field => 'c' }, qr/constant field/, 'constant field (Gi*)');
fails('hotspot_analysis', { %h, input => '"; DROP TABLE pts; --' }, qr/input: table .* does not exist/, 'hostile input name');
fails('hotspot_analysis', { %h, field => 'v"; DROP TABLE pts; --' }, qr/field: .*no column/, 'hostile field name');
fails('nearest_analysis', { input => 'pts', near => 'pts; DROP TABLE pts' }, qr/near: table .* does not exist/, 'hostile near name');
is($t->psql('SELECT count(*) FROM pts'), 40, 'pts survived the hostile names');
fails('hotspot_analysis', { %h, conceptualization => 'queen' }, qr/'conceptualization' must be one of/, 'unknown conceptualization');
fails('hotspot_analysis', { %h, conceptualization => 'contiguity_edges' }, qr/conceptualization: contiguity_edges needs polygons/, 'contiguity on points');
fails('hotspot_analysis', { %h, k => 4 }, qr/'k' applies only to conceptualization k_nearest/, 'k without k_nearest');
fails('hotspot_analysis', { %h, conceptualization => 'k_nearest', k => 0 }, qr/'k' must be an integer between 1 and/, 'k = 0');
fails('hotspot_analysis', { %h, distance => -5 }, qr/'distance' must be a number between/, 'negative distance');
fails('hotspot_analysis', { %h, distance => 'far' }, qr/'distance' must be a number/, 'distance not a number');
fails('hotspot_analysis', { %h, fdr => 'yes' }, qr/'fdr' must be true or false/, 'fdr not a boolean');
fails('hotspot_analysis', { input => 'one', field => 'v' }, qr/input: 1 feature with a geometry and a non-NULL "v"; at least 3/, 'one-feature layer');
fails('hotspot_analysis', { input => 'empty', field => 'v' }, qr/input: 0 features .* at least 3/, 'empty layer');
fails('hotspot_analysis', { input => 'nokey', field => 'v' }, qr/id_column: .* no single-column primary key/, 'no id column');
fails('hotspot_analysis', { input => 'iso', field => 'v', distance => 1 }, qr/distance: no feature has a neighbour/, 'nobody within the distance');
fails('outlier_analysis', { %h, standardization => 'column' }, qr/'standardization' must be "row" or "none"/, 'bad standardization');
fails('outlier_analysis', { %h, permutations => -1 }, qr/'permutations' must be an integer between 0 and 9999/, 'negative permutations');
fails('nearest_analysis', { input => 'pts', k => 0 }, qr/'k' must be an integer between 1/, 'nearest k = 0');
fails('nearest_analysis', { input => 'pts', method => 'manhattan' }, qr/'method' must be "planar" or "geodesic"/, 'bad method');
fails('nearest_analysis', { input => 'geo', method => 'planar' }, qr/method: planar distances in metres need a projected CRS/, 'planar on geographic');
fails('nearest_analysis', { input => 'one' }, qr/input: .* fewer than two features/, 'nearest on one feature');
fails('nearest_analysis', { input => 'pts', near => 'empty' }, qr/near: .* no feature with a geometry/, 'empty near');

# Degrading, not failing.
$t->psql('UPDATE pts SET v = NULL WHERE id IN (3, 7)');
my $job = $t->run_job('hotspot_analysis', { %h, output => 'nulls' });
is($job->{status}, 'completed', 'NULL values: completed') or diag($job->{error_message});
is($job->{result}{null_values}, 2, 'NULL values counted');
is($job->{result}{feature_count}, 40, 'every feature in the output count');
is($job->{result}{analyzed_count}, 38, '38 analyzed');
is($t->psql('SELECT count(*) FROM analysis.nulls WHERE gi_zscore IS NULL AND id IN (3, 7)'), 2,
    'NULL-valued features have NULL statistics');

$job = $t->run_job('outlier_analysis', { input => 'iso', field => 'v', distance => 15, output => 'isolated' });
is($job->{status}, 'completed', 'isolated feature: completed') or diag($job->{error_message});
is($job->{result}{no_neighbors}, 1, 'the feature without a neighbour is counted');
is($t->psql('SELECT n_neighbors || coalesce(lmi_zscore::text, \'null\') FROM analysis.isolated WHERE id = 99'), '0null',
    'and gets NULL statistics');

$job = $t->run_job('hotspot_analysis', { input => 'sq', field => 'v', conceptualization => 'contiguity_edges',
    output => 'repaired' });
is($job->{status}, 'completed', 'invalid polygon: completed') or diag($job->{error_message});
is($job->{result}{repaired_geometries}, 1, 'invalid polygon repaired and counted');

# Output already there.
$job = $t->run_job('hotspot_analysis', { %h, output => 'nulls' });
like($job->{error_message} // '', qr/already exists/, 'existing output refused without overwrite');
$job = $t->run_job('hotspot_analysis', { %h, output => 'nulls', overwrite => JSON::PP::true });
is($job->{status}, 'completed', 'and replaced with overwrite');

done_testing();

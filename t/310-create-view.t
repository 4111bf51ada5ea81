# create_view: every filter operator, nested all/any, the spatial filter
# predicates and the view's presence in geometry_columns, each checked
# against a query written here by hand and run by psql (the ground truth),
# never against the job's own SQL.
use strict;
use warnings;
use Test::More;
use JSON::PP;
use GW;

my $t = GW->new;
$t->config;

# 300 places on a grid around Luxembourg, with typed attributes and NULLs.
$t->psql(<<'SQL');
CREATE TABLE places (
	id integer PRIMARY KEY,
	name text,
	code varchar(6),
	pop integer,
	area double precision,
	founded date,
	active boolean,
	seen timestamptz,
	geom geometry(Point, 4326)
);
INSERT INTO places
SELECT i,
	CASE WHEN i % 29 = 0 THEN NULL ELSE 'place ' || i END,
	CASE WHEN i % 7 = 0 THEN NULL ELSE chr(65 + i % 5) || lpad(i::text, 4, '0') END,
	CASE WHEN i % 11 = 0 THEN NULL ELSE (i * 37) % 5000 END,
	CASE WHEN i % 13 = 0 THEN NULL ELSE ((i * 7919) % 1000) / 10.0 END,
	CASE WHEN i % 17 = 0 THEN NULL ELSE date '1900-01-01' + (i * 97) END,
	CASE WHEN i % 19 = 0 THEN NULL ELSE i % 3 = 0 END,
	timestamptz '2024-01-01 00:00:00+00' + i * interval '7 hours',
	ST_SetSRID(ST_MakePoint(5.7 + (i % 20) * 0.045, 49.4 + (i / 20) * 0.05), 4326)
FROM generate_series(1, 300) i;
-- The same places in the Luxembourg CRS, in a column without a typmod.
CREATE TABLE places_2169 AS
SELECT id, pop, ST_Transform(geom, 2169)::geometry AS geom FROM places;
SQL

my $n = 0;
# Runs create_view over input with filter / spatial_filter, and compares the
# ids of the view with those of the ground-truth WHERE clause.
sub check_view {
	my ($what, $params, $truth, $table) = @_;
	$table //= 'places';
	my $name = 'v_' . ++$n;
	my $job = $t->run_job('create_view', { input => $table, name => $name, %$params });
	is($job->{status}, 'completed', "$what: job completed")
	    or return diag($job->{error_message}, $t->run_job_log);
	my $got = $t->psql("SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '') FROM analysis.$name");
	my $want = $t->psql("SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '') FROM $table WHERE $truth");
	is($got, $want, "$what: same rows as WHERE $truth");
	my $count = () = $want =~ /\d+/g;
	is($job->{result}{row_count}, $count, "$what: row_count $count");
	return $job;
}

my %f = (
	'='        => [{ field => 'pop', op => '=', value => 1258 }, 'pop = 1258'],
	'!='       => [{ field => 'code', op => '!=', value => 'A0005' }, "code <> 'A0005'"],
	'<'        => [{ field => 'area', op => '<', value => 12.5 }, 'area < 12.5'],
	'<='       => [{ field => 'founded', op => '<=', value => '1950-06-30' }, "founded <= '1950-06-30'"],
	'>'        => [{ field => 'seen', op => '>', value => '2024-03-01T12:00:00Z' }, "seen > '2024-03-01 12:00:00+00'"],
	'>='       => [{ field => 'pop', op => '>=', value => 4000 }, 'pop >= 4000'],
	'in'       => [{ field => 'name', op => 'in', value => ['place 3', 'place 30', 'place 58', 'nowhere'] },
	    "name IN ('place 3', 'place 30', 'place 58', 'nowhere')"],
	'not_in'   => [{ field => 'pop', op => 'not_in', value => [37, 74, 111] }, 'pop NOT IN (37, 74, 111)'],
	'like'     => [{ field => 'name', op => 'like', value => 'place 1_' }, "name LIKE 'place 1_'"],
	'ilike'    => [{ field => 'code', op => 'ilike', value => 'c%7' }, "code ILIKE 'c%7'"],
	'is_null'  => [{ field => 'active', op => 'is_null' }, 'active IS NULL'],
	'not_null' => [{ field => 'area', op => 'not_null' }, 'area IS NOT NULL'],
	'between'  => [{ field => 'area', op => 'between', value => [10, 20.5] }, 'area BETWEEN 10 AND 20.5'],
	'= bool'   => [{ field => 'active', op => '=', value => JSON::PP::true }, 'active'],
);
for my $op (sort keys %f) {
	my ($cond, $truth) = @{ $f{$op} };
	my $job = check_view("op $op", { filter => { all => [$cond] } }, $truth);
	my $rows = $job && $job->{result} ? $job->{result}{row_count} : 0;
	ok($rows > 0 && $rows < 300, "op $op: a real selection ($rows of 300 rows)");
}
# A bare condition, without all/any, is a filter too.
check_view('bare condition', { filter => { field => 'pop', op => '<', value => 100 } }, 'pop < 100');

# Nested all / any.
check_view('nested all/any', { filter => { all => [
	{ field => 'pop', op => '>', value => 1000 },
	{ any => [
		{ field => 'active', op => '=', value => JSON::PP::false },
		{ all => [{ field => 'area', op => 'is_null' }, { field => 'code', op => 'like', value => 'C%' }] },
	] },
] } }, "pop > 1000 AND (active = false OR (area IS NULL AND code LIKE 'C%'))");
check_view('empty all: every row', { filter => { all => [] } }, 'true');
check_view('empty any: no row', { filter => { any => [] } }, 'false');

# Columns: a subset, in the order given.
my $job = check_view('columns', { columns => ['id', 'name', 'geom'],
    filter => { all => [{ field => 'pop', op => '<', value => 500 }] } }, 'pop < 500');
is_deeply([map { $_->{name} } @{ $job->{result}{columns} }], ['id', 'name', 'geom'],
    'columns: the view has the columns asked for');
is($t->psql("SELECT type || ' ' || srid FROM geometry_columns WHERE f_table_schema = 'analysis' AND f_table_name = 'v_$n'"),
    'POINT 4326', 'columns: the view is in geometry_columns as POINT 4326');

# Spatial filters.  The polygon covers part of the grid.
my $poly = { type => 'Polygon', coordinates => [[[5.8, 49.5], [6.2, 49.5], [6.3, 49.9], [5.9, 50.0], [5.8, 49.5]]] };
my $poly_sql = "ST_GeomFromGeoJSON('" . encode_json($poly) . "')";
check_view('intersects', { spatial_filter => { geometry => $poly, srid => 4326, predicate => 'intersects' } },
    "ST_Intersects(geom, ST_SetSRID($poly_sql, 4326))");
check_view('within + attribute filter', { spatial_filter => { geometry => $poly, predicate => 'within' },
    filter => { all => [{ field => 'pop', op => '>', value => 2500 }] } },
    "ST_Within(geom, ST_SetSRID($poly_sql, 4326)) AND pop > 2500");
# dwithin in metres, measured on the spheroid: 7.5 km from a point.
my $pt = { type => 'Point', coordinates => [6.13, 49.61] };
check_view('dwithin 7500 m', { spatial_filter => { geometry => $pt, predicate => 'dwithin', distance => 7500 } },
    "ST_DWithin(geom::geography, 'SRID=4326;POINT(6.13 49.61)'::geography, 7500)");
# The same on the table in EPSG:2169, with the point given in EPSG:2169 too.
my ($px, $py) = split /\|/, $t->psql("SELECT ST_X(g), ST_Y(g) FROM ST_Transform('SRID=4326;POINT(6.13 49.61)'::geometry, 2169) g");
my $job2169 = check_view('dwithin on a 2169 table, point in 2169',
    { spatial_filter => { geometry => { type => 'Point', coordinates => [$px + 0, $py + 0] }, srid => 2169,
	predicate => 'dwithin', distance => 7500 } },
    "ST_DWithin(ST_Transform(geom, 4326)::geography, ST_Transform(ST_SetSRID(ST_MakePoint($px, $py), 2169), 4326)::geography, 7500)",
    'places_2169');
is($t->psql("SELECT type || ' ' || srid FROM geometry_columns WHERE f_table_schema = 'analysis' AND f_table_name = 'v_$n'"),
    'POINT 2169', 'a geometry column without typmod gets its SRID in geometry_columns');
# intersects with a polygon given in 4326 over the 2169 table.
check_view('intersects, polygon in 4326 over a 2169 table',
    { spatial_filter => { geometry => $poly, srid => 4326 } },
    "ST_Intersects(geom, ST_Transform(ST_SetSRID($poly_sql, 4326), 2169))", 'places_2169');
# A Feature and GeoJSON as text are accepted too.
check_view('spatial filter as a Feature in a string', { spatial_filter => {
    geometry => encode_json({ type => 'Feature', properties => {}, geometry => $poly }) } },
    "ST_Intersects(geom, ST_SetSRID($poly_sql, 4326))");

# Materialized: a materialized view with a spatial index, same rows.
$job = check_view('materialized', { materialized => JSON::PP::true,
    filter => { all => [{ field => 'pop', op => 'between', value => [100, 900] }] } }, 'pop BETWEEN 100 AND 900');
is($t->psql("SELECT relkind FROM pg_class WHERE oid = 'analysis.v_$n'::regclass"), 'm', 'materialized: relkind m');
like($t->psql("SELECT string_agg(indexdef, ';') FROM pg_indexes WHERE schemaname = 'analysis' AND tablename = 'v_$n'"),
    qr/USING gist \(geom\)/, 'materialized: a GiST index on geom');

# replace: refused without it, done with it; never over a table.
$job = $t->run_job('create_view', { input => 'places', name => 'v_1' });
is($job->{status}, 'failed', 'existing view without replace: failed');
like($job->{error_message}, qr/name: view "v_1" already exists in schema "analysis" \(set replace/,
    'existing view without replace: message');
$job = $t->run_job('create_view', { input => 'places', name => 'v_1', replace => JSON::PP::true,
    filter => { all => [{ field => 'id', op => '<', value => 5 }] } });
is($job->{status}, 'completed', 'replace: completed');
is($t->psql('SELECT count(*) FROM analysis.v_1'), '4', 'replace: the new definition');
$t->psql('CREATE TABLE analysis.keepme (x int)');
$job = $t->run_job('create_view', { input => 'places', name => 'keepme', replace => JSON::PP::true });
is($job->{status}, 'failed', 'a table of that name: refused');
like($job->{error_message}, qr/"keepme" already exists .* not a view/, 'a table of that name: message');
is($t->psql("SELECT relkind FROM pg_class WHERE oid = 'analysis.keepme'::regclass"), 'r', 'the table is still there');

# Result.
$job = $t->run_job('create_view', { input => 'public.places', name => 'all_places' });
is($job->{status}, 'completed', 'default columns: completed');
is($job->{result}{output}, 'analysis.all_places', 'result: output');
is($job->{result}{row_count}, 300, 'result: row_count');
is($job->{result}{feature_count}, 300, 'result: feature_count');
is(scalar @{ $job->{result}{columns} }, 9, 'result: all 9 columns');
is($job->{result}{geometry_column}, 'geom', 'result: geometry column');
$job = $t->run_job('create_view', { input => 'places' });
is($job->{result}{view}, "create_view_$job->{id}", 'default name create_view_<id>');

# Refused: missing columns and fields, wrong types, bad ops.
my @bad = (
	[{ columns => ['id', 'nope'] }, qr/columns\[1\]: no column "nope" in public.places/],
	[{ columns => ['id', 'id'] }, qr/columns\[1\]: "id" is listed twice/],
	[{ columns => [] }, qr/columns: expected a non-empty array/],
	[{ filter => { all => [{ field => 'nope', op => '=', value => 1 }] } }, qr/filter.all\[0\].field: no column "nope"/],
	[{ filter => { all => [{ field => 'pop', op => '=', value => 'many' }] } },
	    qr/filter.all\[0\].value: "pop" is integer; expected a number/],
	[{ filter => { all => [{ field => 'pop', op => '=', value => 1.5 }] } },
	    qr/filter.all\[0\].value: not a valid integer for "pop"/],
	[{ filter => { all => [{ field => 'founded', op => '=', value => '2024-02-30' }] } },
	    qr/filter.all\[0\].value: not a valid date for "founded"/],
	[{ filter => { all => [{ field => 'name', op => '=', value => undef }] } }, qr/null is not a value/],
	[{ filter => { all => [{ field => 'name', op => 'regex', value => 'x' }] } }, qr/filter.all\[0\].op: unknown op "regex"/],
	[{ filter => { all => [{ field => 'pop', op => 'like', value => '1%' }] } }, qr/op like needs a string column/],
	[{ filter => { all => [{ field => 'pop', op => 'between', value => [1] }] } }, qr/op between needs \[low, high\]/],
	[{ filter => { all => [{ field => 'pop', op => 'in', value => [] }] } }, qr/op in needs a non-empty array/],
	[{ filter => { all => [{ field => 'pop', op => 'is_null', value => 3 }] } }, qr/op is_null takes no value/],
	[{ filter => { all => [{ field => 'pop', op => '>', value => [1, 2] }] } }, qr/op > takes one value/],
	[{ filter => { all => [{ field => 'geom', op => '=', value => 'x' }] } }, qr/"geom" is geometry, which cannot be filtered on \(use spatial_filter\)/],
	[{ filter => { none => [] } }, qr/filter: unknown key "none"/],
	[{ filter => { all => [{ field => 'pop', op => '=', value => 1, extra => 1 }] } }, qr/filter.all\[0\]: unknown key "extra"/],
	[{ filter => 'pop > 3' }, qr/filter: expected an object/],
	[{ spatial_filter => { geometry => $pt, predicate => 'dwithin' } }, qr/spatial_filter.distance: dwithin needs a distance/],
	[{ spatial_filter => { geometry => $pt, predicate => 'touches' } }, qr/spatial_filter.predicate: expected/],
	[{ spatial_filter => { geometry => $pt, srid => 12345678 } }, qr/spatial_filter.srid/],
	[{ spatial_filter => { geometry => $pt, srid => 99999 } }, qr/spatial_filter.srid: SRID 99999 is not in spatial_ref_sys/],
	[{ spatial_filter => { geometry => { type => 'Polygon', coordinates => 'x' } } }, qr/spatial_filter.geometry: not a GeoJSON geometry PostGIS can read/],
	[{ spatial_filter => { geometry => $pt, distance => 5 } }, qr/spatial_filter.distance: only the dwithin/],
	[{ name => '1abc' }, qr/name: expected a plain identifier/],
	[{ input => 'nosuch' }, qr/input: no table or view "nosuch" in the search path/],
	[{ input => 'nosuch.places' }, qr/input: no table or view "places" in schema "nosuch"/],
	[{ materialized => 'yes' }, qr/materialized/],
	[{ colour => 'red' }, qr/colour/],
);
my $before = $t->psql("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE nspname = 'analysis'");
for my $case (@bad) {
	my ($p, $re) = @$case;
	my $job = $t->run_job('create_view', { input => 'places', name => 'bad_view', %$p });
	is($job->{status}, 'failed', "refused: $re");
	like($job->{error_message} // '', $re, "message: $re") or diag($job->{error_message});
}
is($t->psql("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE nspname = 'analysis'"),
    $before, 'refused jobs created nothing');

done_testing;

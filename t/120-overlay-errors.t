# dissolve, clip and erase_analysis refuse bad input with a message naming
# the parameter, and leave nothing behind: empty input, missing table,
# missing field, unknown statistic, hostile identifiers, bad GeoJSON, bad
# combinations of parameters, an existing output.
use strict;
use warnings;
use Test::More;
use GW;

my $t = GW->new;
my $dbh = $t->dbh;
$t->psql(q{
CREATE TABLE victim (id int);
CREATE TABLE polys (id serial PRIMARY KEY, name text, pop int, geom geometry(Polygon, 32633));
INSERT INTO polys (name, pop, geom) VALUES
  ('a', 1, 'SRID=32633;POLYGON((0 0,10 0,10 10,0 10,0 0))'),
  ('b', 2, 'SRID=32633;POLYGON((10 0,20 0,20 10,10 10,10 0))');
CREATE TABLE empty (id serial PRIMARY KEY, name text, geom geometry(Polygon, 32633));
CREATE TABLE nullgeom (id serial PRIMARY KEY, geom geometry(Polygon, 32633));
INSERT INTO nullgeom (geom) VALUES (NULL), ('SRID=32633;POLYGON EMPTY');
CREATE TABLE twogeoms (id serial PRIMARY KEY, a geometry(Polygon, 32633), b geometry(Point, 32633));
CREATE TABLE nogeom (id serial PRIMARY KEY, x int);
CREATE TABLE lines (id serial PRIMARY KEY, geom geometry(LineString, 32633));
INSERT INTO lines (geom) VALUES ('SRID=32633;LINESTRING(0 0,5 5)');
CREATE TABLE "weird ""name" (id serial PRIMARY KEY, geom geometry(Polygon, 32633));
INSERT INTO "weird ""name" (geom) VALUES ('SRID=32633;POLYGON((0 0,1 0,1 1,0 0))');
-- A mask in another SRID whose geometries fail only when read: the error
-- reaches the job through the pipelined DECLARE + FETCH (gis/cursor.c),
-- while the job builds the transformation to 32633.
CREATE VIEW failmask AS SELECT id, ST_Translate(ST_Transform(geom, 4326), 1 / (id - id), 0)
    ::geometry(Polygon, 4326) AS geom FROM polys;
});
my $hostile = 'polys"; DROP TABLE victim; --';
my $gj = { type => 'Polygon', coordinates => [[[0, 0], [1, 0], [1, 1], [0, 0]]] };

my @cases = (
	# [type, params, message regex, name]
	['clip', { input => 'polys', clip => 'failmask' }, qr/^clip: division by zero$/, 'clip: a mask the server fails to read'],
	['dissolve', { input => 'empty' }, qr/input: public\.empty has no features/, 'empty input'],
	['dissolve', { input => 'nullgeom' }, qr/input: public\.nullgeom has no features/, 'only NULL/empty geometries'],
	['clip', { input => 'empty', clip => 'polys' }, qr/input: public\.empty has no features/, 'clip: empty input'],
	['clip', { input => 'nullgeom', clip => 'polys' }, qr/input: public\.nullgeom has no features/, 'clip: only NULL/empty geometries'],
	['erase_analysis', { input => 'nullgeom', erase => 'polys' }, qr/input: public\.nullgeom has no features/, 'erase: only NULL/empty geometries'],
	['erase_analysis', { input => 'empty', erase => 'polys' }, qr/input: public\.empty has no features/, 'erase: empty input'],
	['clip', { input => 'polys', clip => 'empty' }, qr/clip: public\.empty has no polygons/, 'clip: empty clip layer'],
	['clip', { input => 'polys', clip => 'lines' }, qr/clip: public\.lines has no polygons/, 'clip: a line clip layer'],
	['dissolve', { input => 'missing' }, qr/input: table "missing" does not exist/, 'missing table'],
	['dissolve', { input => 'nope.polys' }, qr/input: table "nope\.polys" does not exist/, 'missing schema'],
	['clip', { input => 'polys', clip => 'missing' }, qr/clip: table "missing" does not exist/, 'missing clip table'],
	['erase_analysis', { input => 'polys', erase => 'missing' }, qr/erase: table "missing" does not exist/, 'missing erase table'],
	['dissolve', { input => 'nogeom' }, qr/input: table public\.nogeom has no geometry column/, 'no geometry column'],
	['dissolve', { input => 'twogeoms' }, qr/geometry_column: .*several geometry columns \(a, b\)/, 'two geometry columns'],
	['dissolve', { input => 'polys', geometry_column => 'shape' }, qr/geometry_column: .*no geometry column "shape"/, 'missing geometry column'],
	['dissolve', { input => 'polys', fields => ['region'] }, qr/fields: public\.polys has no column "region"/, 'missing field'],
	['dissolve', { input => 'polys', fields => 'name; DROP TABLE victim' }, qr/fields: public\.polys has no column/, 'hostile field'],
	['dissolve', { input => 'polys', fields => [1] }, qr/fields: expected a list of column names/, 'field not a string'],
	['dissolve', { input => 'polys', statistics => [ { field => 'pop', stat => 'median' } ] },
	    qr/statistics\[0\]: unknown statistic "median"/, 'unknown statistic'],
	['dissolve', { input => 'polys', statistics => [ { field => 'popx', stat => 'sum' } ] },
	    qr/statistics\[0\]: public\.polys has no column "popx"/, 'statistic of a missing field'],
	['dissolve', { input => 'polys', statistics => [ { field => 'name', stat => 'mean' } ] },
	    qr/statistics\[0\]: "mean" needs a numeric field; "name" is text/, 'mean of a text field'],
	['dissolve', { input => 'polys', statistics => [ { field => 'pop', stat => 'sum', as => 'x' } ] },
	    qr/statistics\[0\]: unknown key "as"/, 'unknown key in a statistic'],
	['dissolve', { input => 'polys', statistics => { field => 'pop' } },
	    qr/statistics: expected a list/, 'statistics not a list'],
	['dissolve', { input => 'polys', fields => ['name'], statistics => [ { field => 'pop', stat => 'sum' },
	    { field => 'pop', stat => 'sum' } ] }, qr/output: column "sum_pop" would appear twice/, 'duplicate statistic'],
	['dissolve', { input => 'polys', colour => 'red' }, qr/unknown parameter 'colour'/, 'unknown parameter'],
	['dissolve', { input => 'polys', multipart => 'yes please' }, qr/multipart/, 'bad boolean'],
	['dissolve', { input => $hostile }, qr/input: table "polys"; DROP TABLE victim; --" does not exist/, 'hostile input'],
	['dissolve', { input => 'polys', id_column => 'id; DROP TABLE victim' }, qr/id_column: .*no column/, 'hostile id_column'],
	['dissolve', { input => 'polys', output => 'x"; DROP TABLE victim; --' }, qr/output: .* is not a plain table name/, 'hostile output'],
	['dissolve', { input => 'polys', output => '' }, qr/output: expected a table name/, 'empty output'],
	['clip', { input => 'polys', clip => $hostile }, qr/clip: table .* does not exist/, 'hostile clip table'],
	['clip', { input => 'polys', clip => 'polys', clip_filter => { all => [ { field => 'x"; DROP TABLE victim; --', op => '=', value => 1 } ] } },
	    qr/clip_filter/, 'hostile clip_filter field'],
	['clip', { input => 'polys', clip => 'polys', clip_filter => { all => [ { field => 'pop', op => '=', value => "1'; DROP TABLE victim; --" } ] } },
	    qr/clip_filter/, 'hostile clip_filter value'],
	['clip', { input => 'polys', clip => 'polys', clip_filter => { all => [ { field => 'pop', op => '>', value => 100 } ] } },
	    qr/clip: no polygon of public\.polys matches clip_filter/, 'clip_filter matching nothing'],
	['clip', { input => 'polys' }, qr/clip: a table is required \(or clip_geometry/, 'no clip given'],
	['clip', { input => 'polys', clip => 'polys', clip_geometry => $gj }, qr/clip: give either clip .* or clip_geometry/, 'both clip and clip_geometry'],
	['clip', { input => 'polys', clip_geometry => { type => 'Polygon', coordinates => 'nope' } },
	    qr/clip_geometry: not valid GeoJSON/, 'bad GeoJSON'],
	['clip', { input => 'polys', clip_geometry => 'DROP TABLE victim' }, qr/clip_geometry: not valid GeoJSON/, 'GeoJSON string that is not JSON'],
	['clip', { input => 'polys', clip_geometry => { type => 'Point', coordinates => [1, 1] } },
	    qr/clip_geometry: the geometry has no polygon/, 'point clip_geometry'],
	['clip', { input => 'polys', clip_geometry => $gj, clip_srid => 999998 }, qr/SRID 999998 is not in spatial_ref_sys/, 'unknown clip_srid'],
	['clip', { input => 'polys', clip_geometry => $gj, clip_filter => { all => [] } }, qr/clip_filter: only applies to the clip table/, 'clip_filter with clip_geometry'],
	['clip', { input => 'polys', clip => 'polys', clip_srid => 4326 }, qr/clip_srid: only applies to clip_geometry/, 'clip_srid with a table'],
	['erase_analysis', { input => 'polys', clip => 'polys' }, qr/unknown parameter 'clip'/, 'erase: clip is not its parameter'],
	['erase_analysis', { input => 'polys', erase_geometry => [] }, qr/erase_geometry: expected a GeoJSON geometry/, 'erase_geometry not an object'],
	['dissolve', { input => 'polys', output => 'polys' }, undef, 'output in another schema than the input: allowed'],
	['dissolve', { input => 'polys', output => 'polys' }, qr/output: table analysis\.polys already exists/, 'existing output refused'],
	['dissolve', { input => 'weird "name' }, undef, 'a table whose name needs quoting works'],
	['dissolve', { input => 'analysis.polys', output => 'polys', overwrite => JSON::PP::true },
	    qr/output: analysis\.polys is the input table/, 'dissolve: output replacing the input'],
	['clip', { input => 'analysis.polys', clip => 'polys', output => 'polys', overwrite => JSON::PP::true },
	    qr/output: analysis\.polys is the input table/, 'clip: output replacing the input'],
);

for my $c (@cases) {
	my ($type, $params, $re, $name) = @$c;
	my $before = $dbh->selectrow_array(q{SELECT count(*) FROM pg_class c JOIN pg_namespace n
	    ON n.oid = c.relnamespace WHERE nspname = 'analysis'});
	my $job = $t->run_job($type, $params);
	if (!defined $re) {
		is($job->{status}, 'completed', "$name: completed") or diag($job->{error_message});
		next;
	}
	is($job->{status}, 'failed', "$name: failed");
	like($job->{error_message} // '', $re, "$name: message") or diag($job->{error_message});
	is($job->{exit_status}, 0, "$name: the program exited cleanly");
	is($dbh->selectrow_array(q{SELECT count(*) FROM pg_class c JOIN pg_namespace n
	    ON n.oid = c.relnamespace WHERE nspname = 'analysis'}), $before, "$name: no output left");
}
ok($dbh->selectrow_array(q{SELECT to_regclass('public.victim') IS NOT NULL}), 'victim table still there');
is($dbh->selectrow_array('SELECT count(*) FROM polys'), 2, 'input untouched');

done_testing;

# Attributes of every common PostgreSQL type go through clip, erase_analysis
# (binary COPY) and dissolve (text) unchanged, NULLs included; a 3D input
# works (the output is 2D); a table in another schema and odd column names.
use strict;
use warnings;
use Test::More;
use GW;

my $t = GW->new;
my $dbh = $t->dbh;
$t->psql(q{
CREATE SCHEMA "Other";
CREATE DOMAIN posint AS integer CHECK (VALUE > 0);
CREATE TABLE "Other".typed (
    id bigserial PRIMARY KEY, i2 smallint, i8 bigint, n numeric(12,3), r real,
    f float8, d date, ts timestamptz, b boolean, j jsonb, arr text[],
    vc varchar(5), u uuid, by bytea, iv interval, dom posint,
    "Odd ""Name""" text, tab text,
    geom geometry(PolygonZ, 32633));
INSERT INTO "Other".typed (i2, i8, n, r, f, d, ts, b, j, arr, vc, u, by, iv, dom,
    "Odd ""Name""", tab, geom)
SELECT g % 300, g::bigint * 1000000007, g * 1.125, g / 3.0, g / 7.0,
    date '2020-01-01' + g, timestamptz '2020-01-01 12:00+02' + g * interval '1 hour',
    g % 2 = 0, jsonb_build_object('g', g, 'k', array[g, g]), array['a' || g, NULL, 'c\t"q"'],
    'v' || g, md5(g::text)::uuid, decode(lpad(to_hex(g), 8, '0'), 'hex'),
    g * interval '90 minutes', g, E'line\nbreak ' || g, E'tab\there\\\\',
    ST_SetSRID(ST_MakePolygon(ST_MakeLine(ARRAY[
        ST_MakePoint(g * 10, 0, g), ST_MakePoint(g * 10 + 10, 0, g),
        ST_MakePoint(g * 10 + 10, 10, g), ST_MakePoint(g * 10, 10, g),
        ST_MakePoint(g * 10, 0, g)])), 32633)
FROM generate_series(1, 40) g;
INSERT INTO "Other".typed (geom) VALUES
    ('SRID=32633;POLYGON Z((0 0 0,5 0 0,5 5 0,0 5 0,0 0 0))');   -- every attribute NULL
CREATE TABLE mask (id serial PRIMARY KEY, geom geometry(Polygon, 32633));
INSERT INTO mask (geom) VALUES ('SRID=32633;POLYGON((0 -5,205 -5,205 20,0 20,0 -5))');
});
my @cols = qw(id i2 i8 n r f d ts b j arr vc u by iv dom tab);
my $collist = join(', ', map { "o.$_" } @cols) . ', o."Odd ""Name"""';
my $inlist = join(', ', map { "i.$_" } @cols) . ', i."Odd ""Name"""';

# The input lives in a schema of its own: listed in input_schemas.
my $other = { daemon => { input_schemas => 'public, Other' } };
for my $type (qw(clip erase_analysis)) {
	my $p = $type eq 'clip' ? 'clip' : 'erase';
	my $job = $t->run_job($type, { input => 'Other.typed', $p => 'mask', output => "typed_$p" },
	    config => $other);
	is($job->{status}, 'completed', "$type: completed") or diag($job->{error_message});
	my $n = $dbh->selectrow_array("SELECT count(*) FROM analysis.typed_$p");
	ok($n > 0, "$type: $n rows");
	is($dbh->selectrow_array(qq{SELECT count(*) FROM analysis.typed_$p o JOIN "Other".typed i USING (id)
	    WHERE ($collist) IS DISTINCT FROM ($inlist)}), 0, "$type: every attribute equal to the input's");
	is($dbh->selectrow_array(qq{SELECT count(*) FROM analysis.typed_$p o JOIN "Other".typed i USING (id)}),
	    $n, "$type: every row joins its input row");
	my %types = map { @$_ } @{ $dbh->selectall_arrayref(qq{SELECT attname, format_type(atttypid, atttypmod)
	    FROM pg_attribute WHERE attrelid = 'analysis.typed_$p'::regclass AND attnum > 0}) };
	my %intypes = map { @$_ } @{ $dbh->selectall_arrayref(q{SELECT attname, format_type(atttypid, atttypmod)
	    FROM pg_attribute WHERE attrelid = '"Other".typed'::regclass AND attnum > 0 AND NOT attisdropped}) };
	delete $intypes{geom};
	my $geomtype = delete $types{geom};
	is_deeply(\%types, \%intypes, "$type: same column names and types");
	is($geomtype, 'geometry(MultiPolygon,32633)', "$type: 2D multipolygon output of a PolygonZ input");
}
# The all-NULL row went through the clip.
is($dbh->selectrow_array(q{SELECT count(*) FROM analysis.typed_clip WHERE i2 IS NULL AND j IS NULL
    AND arr IS NULL AND "Odd ""Name""" IS NULL}), 1, 'the all-NULL row is kept with its NULLs');

# dissolve groups by a date, an array and a boolean; min/max/first/last keep
# the values exactly (text path).
my $job = $t->run_job('dissolve', { input => 'Other.typed', fields => ['b'], output => 'typed_d',
    statistics => [ map { ({ field => $_->[0], stat => $_->[1] }) }
        ['ts', 'min'], ['ts', 'max'], ['n', 'sum'], ['n', 'max'], ['iv', 'first'], ['iv', 'last'],
        ['tab', 'first'], ['Odd "Name"', 'last'], ['vc', 'min'], ['by', 'count'] ] },
    config => $other);
is($job->{status}, 'completed', 'dissolve: completed') or diag($job->{error_message});
is_deeply($dbh->selectall_arrayref(q{SELECT b, min_ts, max_ts, sum_n, max_n, first_iv, last_iv,
        first_tab, "last_Odd ""Name""", min_vc, count_by FROM analysis.typed_d ORDER BY b NULLS LAST}),
    $dbh->selectall_arrayref(q{SELECT b, min(ts), max(ts), sum(n)::float8, max(n),
        (array_agg(iv ORDER BY id) FILTER (WHERE iv IS NOT NULL))[1],
        (array_agg(iv ORDER BY id DESC) FILTER (WHERE iv IS NOT NULL))[1],
        (array_agg(tab ORDER BY id) FILTER (WHERE tab IS NOT NULL))[1],
        (array_agg("Odd ""Name""" ORDER BY id DESC) FILTER (WHERE "Odd ""Name""" IS NOT NULL))[1],
        min(vc COLLATE "C"), count(by)
        FROM "Other".typed GROUP BY b ORDER BY b NULLS LAST}),
    'statistics of timestamps, numerics, intervals, text with tabs and newlines, bytea counts');

# The catalog's geometry and geography typmods are decoded by the job, not
# by PostGIS (children/gis/table.c): every type, Z, M, with and without an
# SRID, up to the largest user SRID.  Geography (and any other) columns are
# copied, so their type must come out as PostGIS's own format_type writes
# it; geometry columns other than the layer's are not copied.  The layer's
# own SRID and type come from its typmod too: a PolygonM layer in SRID 3035
# and a PointZM layer in SRID 998999, each clipped by a 4326 mask.
my @typmods = ('geometry', 'geometry(Point)', 'geometry(PointZ)', 'geometry(PointM)',
    'geometry(PointZM,4326)', 'geometry(MultiPolygonZ,3857)', 'geometry(GeometryCollectionM)',
    'geometry(Geometry,4326)', 'geometry(LineString,998999)', 'geometry(CompoundCurveZM,32633)',
    'geometry(TinZ,4326)', 'geography', 'geography(Point)', 'geography(PointZM)',
    'geography(PolygonZ,4326)', 'geography(LineStringM,4269)', 'geography(MultiPointZM,4258)',
    'geography(Geometry)', 'geography(GeometryCollection,4326)', 'geography(MultiPolygonM,4326)',
    'geometry[]', 'box2d', 'varchar(7)', 'numeric(9,2)');
$t->psql(join('', 'CREATE TABLE "Other".typmods (id serial PRIMARY KEY, geom geometry(PolygonM, 3035), ',
    join(', ', map { "t$_ $typmods[$_]" } 0 .. $#typmods), ');',
    q{INSERT INTO "Other".typmods (geom) SELECT ST_Transform(ST_SetSRID(ST_MakePolygon(ST_MakeLine(ARRAY[
        ST_MakePointM(10, 50, 1), ST_MakePointM(10.1, 50, 2), ST_MakePointM(10.1, 50.1, 3),
        ST_MakePointM(10, 50, 4)])), 4326), 3035);
      INSERT INTO spatial_ref_sys (srid, srtext, proj4text)
        SELECT 998999, srtext, proj4text FROM spatial_ref_sys WHERE srid = 3035;
      CREATE TABLE "Other".pts998 (id serial PRIMARY KEY, geom geometry(PointZM, 998999));
      INSERT INTO "Other".pts998 (geom)
        SELECT ST_SetSRID(ST_MakePoint(ST_X(p), ST_Y(p), 1, 2), 998999)
        FROM (SELECT ST_Transform(ST_SetSRID(ST_MakePoint(x, 50), 4326), 3035) AS p
              FROM generate_series(8, 12) x) s;
      CREATE TABLE mask4326 (id serial PRIMARY KEY, geom geometry(Polygon, 4326));
      INSERT INTO mask4326 (geom) VALUES ('SRID=4326;POLYGON((8.5 49,11.5 49,11.5 51,8.5 51,8.5 49))');}));
$job = $t->run_job('clip', { input => 'Other.typmods', geometry_column => 'geom', clip => 'mask4326',
    output => 'typmods_clip' }, config => $other);
is($job->{status}, 'completed', 'clip of every typmod: completed') or diag($job->{error_message});
my %outtypes = map { @$_ } @{ $dbh->selectall_arrayref(q{SELECT attname, format_type(atttypid, atttypmod)
    FROM pg_attribute WHERE attrelid = 'analysis.typmods_clip'::regclass AND attnum > 0}) };
for my $i (0 .. $#typmods) {
	my $want = $dbh->selectrow_array(q{SELECT format_type(atttypid, atttypmod) FROM pg_attribute
	    WHERE attrelid = '"Other".typmods'::regclass AND attname = ?}, undef, "t$i");
	if ($typmods[$i] =~ /^geometry(\(|$)/) {
		ok(!exists $outtypes{"t$i"}, "a second geometry column, $want, is not copied");
	} else {
		is($outtypes{"t$i"}, $want, "a column of type $typmods[$i] is copied as $want");
	}
}
is($outtypes{geom}, 'geometry(MultiPolygon,3035)', 'a PolygonM layer: its SRID and polygon type from its typmod');
is($dbh->selectrow_array(q{SELECT count(*) FROM analysis.typmods_clip}), 1, 'the feature inside the mask is kept');
$job = $t->run_job('clip', { input => 'Other.pts998', clip => 'mask4326', output => 'pts998_clip' },
    config => $other);
is($job->{status}, 'completed', 'clip of a PointZM layer in SRID 998999: completed') or diag($job->{error_message});
is($dbh->selectrow_array(q{SELECT format_type(atttypid, atttypmod) FROM pg_attribute
    WHERE attrelid = 'analysis.pts998_clip'::regclass AND attname = 'geom'}), 'geometry(Point,998999)',
    'a PointZM layer: SRID 998999 and a point type from its typmod');
is_deeply($dbh->selectcol_arrayref(q{SELECT id FROM analysis.pts998_clip ORDER BY id}), [2, 3, 4],
    'the points at 9, 10 and 11 degrees east are inside the mask, those at 8 and 12 are not');

done_testing;

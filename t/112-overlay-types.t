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

done_testing;

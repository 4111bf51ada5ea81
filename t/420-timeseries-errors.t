# hotspot_timeseries on bad input: every case fails the job with a message
# naming the parameter, the child exits normally, and nothing is left in
# the output schema.  Also: a cube with one time step, a single location
# and an empty time window each end with a clear message.
use strict;
use warnings;
use Test::More;
use GW;

my $t = GW->new;
my $dbh = $t->dbh;

$dbh->do(q{CREATE TABLE pts (id serial PRIMARY KEY, geom geometry(Point, 32633),
    t timestamptz, d date, n integer, label text, "odd ""name" timestamptz)});
$dbh->do(q{INSERT INTO pts (geom, t, d, n, label, "odd ""name")
    SELECT ST_SetSRID(ST_MakePoint(500000 + (i % 10) * 100, 4000000 + (i / 10 % 10) * 100), 32633),
        timestamptz '2021-01-01 00:00+00' + (i % 7) * interval '1 month',
        date '2021-01-01' + i % 30, i, 'x' || i,
        timestamptz '2021-01-01 00:00+00' + (i % 7) * interval '1 month'
    FROM generate_series(1, 1000) i});
$dbh->do('CREATE TABLE victim (x int)');
# One time step: everything on one day.
$dbh->do(q{CREATE TABLE oneday AS SELECT id, geom, timestamptz '2021-05-05 10:00+00' + (id % 5) * interval '1 minute' AS t FROM pts});
# A single location: every point in one 100 m cell.
$dbh->do(q{CREATE TABLE onecell AS SELECT id, ST_SetSRID(ST_MakePoint(500010 + id % 50, 4000010), 32633)::geometry(Point, 32633) AS geom, t FROM pts});
$dbh->do(q{CREATE TABLE samepoint AS SELECT id, ST_SetSRID(ST_MakePoint(500010, 4000010), 32633)::geometry(Point, 32633) AS geom, t FROM pts});
# An empty time window: no point has a time.
$dbh->do(q{CREATE TABLE notime AS SELECT id, geom, NULL::timestamptz AS t FROM pts});
$dbh->do(q{CREATE TABLE nothing (id int, geom geometry(Point, 32633), t timestamptz)});
$dbh->do(q{CREATE TABLE polys AS SELECT id, ST_Buffer(geom, 10)::geometry(Polygon, 32633) AS geom, t FROM pts});
$dbh->do(q{CREATE TABLE nosrid AS SELECT id, ST_SetSRID(geom, 0)::geometry(Point) AS geom, t FROM pts});
# Every bin the same value: each of 4 cells gets one point per month.
$dbh->do(q{CREATE TABLE flat AS SELECT i AS id,
    ST_SetSRID(ST_MakePoint(500050 + (i % 4) * 1000, 4000050), 32633)::geometry(Point, 32633) AS geom,
    timestamptz '2021-01-15 00:00+00' + (i / 4) * interval '1 month' AS t
    FROM generate_series(0, 39) i});

my %ok = (input => 'pts', time_field => 't', time_step => '1 month',
    cell_size => 100, neighborhood_distance => 150);

my @cases = (
	[ 'unknown parameter', { %ok, colour => 'red' }, qr/colour/ ],
	[ 'no input', { %ok, input => undef }, qr/input/ ],
	[ 'no time_field', { %ok, time_field => undef }, qr/time_field/ ],
	[ 'no time_step', { %ok, time_step => undef }, qr/time_step/ ],
	[ 'hostile input', { %ok, input => 'victim"; DROP TABLE victim; --' },
	    qr/^input: .*(does not exist|not found)/i ],
	[ 'missing table', { %ok, input => 'nope.nope' }, qr/^input: /i ],
	[ 'missing time_field', { %ok, time_field => 'when' }, qr/^time_field: .*"when"/ ],
	[ 'hostile time_field', { %ok, time_field => 't"; DROP TABLE victim; --' },
	    qr/^time_field: / ],
	[ 'integer time_field', { %ok, time_field => 'n' },
	    qr/^time_field: column "n" is integer; expected a date, timestamp/ ],
	[ 'text field', { %ok, field => 'label' }, qr/^field: column "label" is text; expected a numeric/ ],
	[ 'missing field', { %ok, field => 'weight' }, qr/^field: .*"weight"/ ],
	[ 'time_step not an interval', { %ok, time_step => 'fortnightly' },
	    qr/^time_step: "fortnightly" is not a PostgreSQL interval/ ],
	[ 'time_step SQL injection', { %ok, time_step => "1 day'::interval; DROP TABLE victim; --" },
	    qr/^time_step: .* is not a PostgreSQL interval/ ],
	[ 'negative time_step', { %ok, time_step => '-1 day' }, qr/^time_step: "-1 day" is not a positive interval/ ],
	[ 'zero time_step', { %ok, time_step => '0 days' }, qr/^time_step: "0 days" is not a positive interval/ ],
	[ 'time_step too small', { %ok, time_step => '1 second' }, qr/^time_step: .*more than 10000 time steps/ ],
	[ 'negative cell_size', { %ok, cell_size => -5 }, qr/cell_size/ ],
	[ 'string cell_size', { %ok, cell_size => 'big' }, qr/cell_size/ ],
	[ 'zero neighborhood_distance', { %ok, neighborhood_distance => 0 }, qr/neighborhood_distance/ ],
	[ 'negative neighborhood_time_steps', { %ok, neighborhood_time_steps => -1 },
	    qr/neighborhood_time_steps/ ],
	[ 'one time step', { %ok, input => 'oneday' },
	    qr/^time_step: every point falls in one time step of "1 month" \(from 2021-05-05 10:00:00\+00 to 2021-05-05 10:04:00\+00\)/ ],
	[ 'single location', { %ok, input => 'onecell' },
	    qr/^input: every point falls in a single location \(cell_size 100 m\)/ ],
	[ 'single location, default cell size', { %ok, input => 'samepoint', cell_size => undef },
	    qr/^input: every point of .*samepoint.* is at the same place: there is a single location/ ],
	[ 'empty time window (NULL times)', { %ok, input => 'notime' },
	    qr/^input: .*notime.* has no point with a geometry, a time \(time_field\): the time window is empty/ ],
	[ 'empty table', { %ok, input => 'nothing' }, qr/^input: .*the time window is empty/ ],
	[ 'polygons', { %ok, input => 'polys' }, qr/^input: .*(POLYGON|Polygon).*aggregates points/i ],
	[ 'no SRID', { %ok, input => 'nosrid' }, qr/^input: .*no SRID/ ],
	[ 'constant cube', { %ok, input => 'flat', neighborhood_distance => 50 },
	    qr/^input: every bin of the cube has the same value; Gi\* is undefined/ ],
	[ 'neighbourhood is the whole cube', { %ok, neighborhood_distance => 100000,
	    neighborhood_time_steps => 10 }, qr/^neighborhood_distance: .*whole cube/ ],
	[ 'hostile output', { %ok, output => 'x"; DROP TABLE victim; --' }, qr/^output: / ],
	[ 'output too long for _bins', { %ok, output => 'a' x 60 }, qr/^output: / ],
);

for my $c (@cases) {
	my ($name, $params, $re) = @$c;
	my %p = %$params;
	delete $p{$_} for grep { !defined $p{$_} } keys %p;
	my $job = $t->run_job('hotspot_timeseries', \%p);
	is($job->{status}, 'failed', "$name: failed");
	like($job->{error_message} // '', $re, "$name: message")
	    or diag($job->{error_message});
	is($job->{exit_status}, 0, "$name: the child exited normally");
}

is($dbh->selectrow_array(q{SELECT count(*) FROM pg_tables WHERE schemaname = 'analysis'}), 0,
    'no output left behind by a failed job');
ok($dbh->selectrow_array(q{SELECT to_regclass('public.victim') IS NOT NULL}), 'victim table intact');

# An existing output is refused without overwrite, replaced with it; the
# bins table too.
my $job = $t->run_job('hotspot_timeseries', { %ok, output => 'ehsa' });
is($job->{status}, 'completed', 'a good job completes') or diag($job->{error_message});
$job = $t->run_job('hotspot_timeseries', { %ok, output => 'ehsa' });
is($job->{status}, 'failed', 'existing output refused');
like($job->{error_message}, qr/^output: .*already exists.*overwrite/, 'message names overwrite');
$dbh->do('DROP TABLE analysis.ehsa');
$job = $t->run_job('hotspot_timeseries', { %ok, output => 'ehsa' });
like($job->{error_message} // '', qr/^output: table analysis\.ehsa_bins already exists/, 'existing bins table refused');
$job = $t->run_job('hotspot_timeseries', { %ok, output => 'ehsa', overwrite => JSON::PP::true });
is($job->{status}, 'completed', 'overwrite replaces both tables') or diag($job->{error_message});

# Rows without a time are skipped and counted.
$dbh->do('UPDATE pts SET t = NULL WHERE id <= 10');
$job = $t->run_job('hotspot_timeseries', { %ok, output => 'skipped' });
is($job->{status}, 'completed', 'NULL times skipped') or diag($job->{error_message});
is($job->{result}{skipped_rows}, 10, '10 rows skipped');
is($job->{result}{point_count}, 990, '990 points used');

done_testing();

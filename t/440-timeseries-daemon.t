# hotspot_timeseries run by the real daemon: a job queued with an INSERT
# (as the web application does) is claimed, run and completed by a child
# of geoworkerd, with its output and its status committed together; a bad
# one fails without killing the child.
use strict;
use warnings;
use Test::More;
use GW;

my $t = GW->new;
my $dbh = $t->dbh;
$dbh->do(q{CREATE TABLE trips (id serial PRIMARY KEY, geom geometry(Point, 32633), t timestamptz)});
$dbh->do(q{SELECT setseed(0.5)});
$dbh->do(q{INSERT INTO trips (geom, t)
    SELECT ST_SetSRID(ST_MakePoint(500000 + random() * 2000, 4000000 + random() * 2000), 32633),
        timestamptz '2024-01-01 00:00+00' + random() * interval '60 days'
    FROM generate_series(1, 5000)});

$t->start_daemon(types => { hotspot_timeseries => { children => 1 } });
my $good = $t->enqueue('hotspot_timeseries', { input => 'trips', time_field => 't',
    cell_size => 200, time_step => '1 week', neighborhood_distance => 300,
    output => 'trips_ehsa' });
my $bad = $t->enqueue('hotspot_timeseries', { input => 'trips', time_field => 't',
    time_step => 'soon' });
my $g = $t->wait_job($good, 120);
my $b = $t->wait_job($bad, 120);
is($g->{status}, 'completed', 'the daemon ran the job') or diag($g->{error_message}, $t->log_text);
is($g->{result}{point_count}, 5000, 'every point');
is($g->{result}{locations}, 100, '10 x 10 cells of 200 m');
is($dbh->selectrow_array('SELECT sum(value) FROM analysis.trips_ehsa_bins'), 5000,
    'the bins committed with the status');
is($b->{status}, 'failed', 'the bad job failed');
like($b->{error_message}, qr/^time_step: "soon" is not a PostgreSQL interval/, 'with its message');
like($t->log_text, qr/hotspot_timeseries.*completed in \d+ ms, peak memory/, 'the child logged its end');
is($t->stop_daemon('TERM'), 0, 'the daemon stops cleanly');

done_testing();

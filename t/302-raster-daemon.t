# raster_clip and create_view run by the real daemon: jobs queued with SQL
# are claimed and completed, and the master's file_size_limit (RLIMIT_FSIZE)
# on raster_clip fails a too-large output cleanly (a job error naming the
# limit, no file left), instead of killing the child halfway through a file.
use strict;
use warnings;
use Test::More;
use File::Copy qw(copy);
use GW;

my $TERRA = '/usr/lib/R/site-library/terra/ex';
my $STARS = '/usr/lib/R/site-library/stars/tif';
plan skip_all => 'R terra / stars example data not installed'
    unless -f "$TERRA/elev.tif" && -f "$STARS/L7_ETMs.tif";

my $t = GW->new;
my $dir = $t->dir;
$t->config;
copy("$TERRA/elev.tif", "$dir/rasters/elev.tif") or die;
copy("$STARS/L7_ETMs.tif", "$dir/rasters/L7_ETMs.tif") or die;
$t->ogr2ogr("$TERRA/lux.shp", 'lux');
$t->psql(q{CREATE TABLE olinda AS
    SELECT ST_MakeEnvelope(-34.91, -8.04, -34.83, -7.955, 4326)::geometry(Polygon, 4326) AS geom});

$t->start_daemon(types => {
	raster_clip => { children => 1, file_size_limit => '64K' },
	create_view => { children => 1 },
});

# Small enough for 64 KiB: completes.
my $small = $t->enqueue('raster_clip', { raster => 'elev.tif', clip => 'lux' });
# Six bands of 349 x 352 pixels: far more than 64 KiB.
my $big = $t->enqueue('raster_clip', { raster => 'L7_ETMs.tif', clip => 'olinda' });
my $view = $t->enqueue('create_view', { input => 'lux', name => 'lux_north',
    filter => { field => 'name_1', op => '=', value => 'Diekirch' } });

my $job = $t->wait_job($small, 60);
is($job->{status}, 'completed', 'small clip under the daemon: completed')
    or diag($job->{error_message}, $t->log_text);
ok(-f $job->{result}{path}, 'small clip: the file exists') if $job->{result};

$job = $t->wait_job($big, 60);
is($job->{status}, 'failed', 'clip over file_size_limit: failed');
like($job->{error_message} // '', qr/the output exceeds the file_size_limit of raster_clip/,
    'clip over file_size_limit: the message names the limit')
    or diag($t->log_text);
ok(!-e "$dir/outputs/$big", 'clip over file_size_limit: no file or directory left');

$job = $t->wait_job($view, 60);
is($job->{status}, 'completed', 'create_view under the daemon: completed')
    or diag($job->{error_message});
is($job->{result}{row_count}, 5, 'create_view: the 5 cantons of Diekirch');
is($t->psql('SELECT count(*) FROM analysis.lux_north'), '5', 'the view is committed');

$t->stop_daemon('TERM');
done_testing;

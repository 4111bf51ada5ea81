# Distances in metres whatever the CRS's unit: the NY8 tracts stored in a
# US-survey-feet version of their UTM zone give the same Gi* and Local
# Moran's I as in metres, for a band given in metres and for the default
# band; nearest_analysis reports metres, and "geodesic" on a projected CRS
# equals PostGIS geography distances.
use strict;
use warnings;
use Test::More;
use GW;

my $ny = '/usr/lib/R/site-library/spData/shapes/NY8_utm18.shp';
plan skip_all => 'spData not installed' unless -r $ny;

my $t = GW->new;
$t->ogr2ogr($ny, 'ny8', '-nlt', 'PROMOTE_TO_MULTI', '-a_srs', 'EPSG:32618');
my $ft = 1200 / 3937;	# metres per US survey foot
$t->psql(qq{
	INSERT INTO spatial_ref_sys (srid, auth_name, auth_srid, srtext, proj4text)
	VALUES (990018, 'GWTEST', 990018, '',
	    '+proj=utm +zone=18 +datum=WGS84 +units=us-ft +no_defs');
	CREATE TABLE ny8ft AS SELECT fid, cases,
	    ST_SetSRID(ST_Scale(geom, 1 / $ft, 1 / $ft), 990018)::geometry(MultiPolygon, 990018) AS geom
	    FROM ny8;
	ALTER TABLE ny8ft ADD PRIMARY KEY (fid);
});

for my $case ([band => { distance => 20000 }], [default => {}]) {
	my ($name, $extra) = @$case;
	my %p = (field => 'cases', %$extra);
	my $m = $t->run_job('hotspot_analysis', { %p, input => 'ny8', output => "m_$name" });
	my $f = $t->run_job('hotspot_analysis', { %p, input => 'ny8ft', output => "f_$name" });
	is($_->{status}, 'completed', "$name: job $_->{id} completed") or diag($_->{error_message}) for $m, $f;
	ok(abs($m->{result}{distance_band} - $f->{result}{distance_band}) < 1e-6,
	    "$name: the same band in metres ($m->{result}{distance_band})");
	is($t->psql("SELECT count(*) FROM analysis.m_$name a JOIN analysis.f_$name b USING (fid)
	    WHERE a.n_neighbors <> b.n_neighbors OR abs(a.gi_zscore - b.gi_zscore) > 1e-9"), 0,
	    "$name: feet and metres give the same neighbours and Gi*");
}
my $m = $t->run_job('outlier_analysis', { field => 'cases', input => 'ny8', conceptualization => 'inverse_distance',
    permutations => 0, output => 'm_lm' });
my $f = $t->run_job('outlier_analysis', { field => 'cases', input => 'ny8ft', conceptualization => 'inverse_distance',
    permutations => 0, output => 'f_lm' });
is($t->psql(q{SELECT count(*) FROM analysis.m_lm a JOIN analysis.f_lm b USING (fid)
    WHERE abs(a.lmi_zscore - b.lmi_zscore) > 1e-9}), 0, 'inverse distance weights in metres, not feet');

my $n = $t->run_job('nearest_analysis', { input => 'ny8ft', k => 1, output => 'near_ft' });
is($n->{status}, 'completed', 'nearest in feet: completed') or diag($n->{error_message});
is($t->psql(qq{SELECT count(*) FROM analysis.near_ft o JOIN ny8ft a ON a.fid = o.in_id JOIN ny8ft b ON b.fid = o.near_id
    WHERE abs(o.near_dist - ST_Distance(a.geom, b.geom) * $ft) > 1e-6}), 0, 'near_dist in metres');

$n = $t->run_job('nearest_analysis', { input => 'ny8', k => 2, method => 'geodesic', output => 'near_geo' });
is($n->{status}, 'completed', 'geodesic on UTM: completed') or diag($n->{error_message});
my $bad = $t->psql(q{SELECT count(*) FROM analysis.near_geo o JOIN ny8 a ON a.fid = o.in_id JOIN ny8 b ON b.fid = o.near_id
    WHERE abs(o.near_dist - ST_Distance(ST_Transform(a.geom, 4326)::geography, ST_Transform(b.geom, 4326)::geography))
      > 0.01 + 2e-3 * o.near_dist OR ST_SRID(o.geom) <> 32618});
is($bad, 0, 'geodesic on a projected CRS: PostGIS geography distances, output in the input CRS');

done_testing();

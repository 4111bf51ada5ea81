# nearest_analysis: ids, ranks and distances equal PostGIS's on points (KNN
# <-> with ST_Distance; geography for geodesic), lines and polygons
# (ST_Distance ordered); nearest points, angles and lines agree with
# ST_ClosestPoint / ST_Azimuth; search_radius; the Average Nearest Neighbor
# summary equals the published formula (Clark and Evans; ArcGIS) worked by
# hand on a regular grid.
use strict;
use warnings;
use Test::More;
use GW;

my $t = GW->new;
my $dbh = $t->dbh;
$t->psql(q{
	SELECT setseed(0.42);
	-- Planar points in UTM 17N (metres), 600 inputs, 250 near.
	CREATE TABLE pin (id int PRIMARY KEY, geom geometry(Point, 32617));
	INSERT INTO pin SELECT g, ST_SetSRID(ST_MakePoint(500000 + random() * 20000,
	    4000000 + random() * 15000), 32617) FROM generate_series(1, 600) g;
	CREATE TABLE pnear (gid int PRIMARY KEY, geom geometry(Point, 32617));
	INSERT INTO pnear SELECT g, ST_SetSRID(ST_MakePoint(500000 + random() * 20000,
	    4000000 + random() * 15000), 32617) FROM generate_series(1, 250) g;
	-- Geographic points (WGS 84), over a large span and both hemispheres.
	CREATE TABLE gin (id int PRIMARY KEY, geom geometry(Point, 4326));
	INSERT INTO gin SELECT g, ST_SetSRID(ST_MakePoint(-30 + random() * 60,
	    -60 + random() * 120), 4326) FROM generate_series(1, 300) g;
	CREATE TABLE gnear (id int PRIMARY KEY, geom geometry(Point, 4326));
	INSERT INTO gnear SELECT g, ST_SetSRID(ST_MakePoint(-30 + random() * 60,
	    -60 + random() * 120), 4326) FROM generate_series(1, 120) g;
	-- Planar lines and polygons.
	CREATE TABLE lnear (id int PRIMARY KEY, geom geometry(LineString, 32617));
	INSERT INTO lnear SELECT g, ST_SetSRID(ST_MakeLine(ST_MakePoint(x, y),
	    ST_MakePoint(x + (random() - 0.5) * 3000, y + (random() - 0.5) * 3000)), 32617)
	    FROM (SELECT g, 500000 + random() * 20000 AS x, 4000000 + random() * 15000 AS y
	    FROM generate_series(1, 150) g) s;
	CREATE TABLE poly (id int PRIMARY KEY, geom geometry(Polygon, 32617));
	INSERT INTO poly SELECT g, ST_Buffer(ST_SetSRID(ST_MakePoint(500000 + random() * 20000,
	    4000000 + random() * 15000), 32617), 100 + random() * 400, 4)
	    FROM generate_series(1, 200) g;
	-- Geographic lines (short, mid latitudes).
	CREATE TABLE glines (id int PRIMARY KEY, geom geometry(LineString, 4326));
	INSERT INTO glines SELECT g, ST_SetSRID(ST_MakeLine(ST_MakePoint(x, y),
	    ST_MakePoint(x + (random() - 0.5) * 0.2, y + (random() - 0.5) * 0.2)), 4326)
	    FROM (SELECT g, 5 + random() * 2 AS x, 45 + random() * 2 AS y
	    FROM generate_series(1, 100) g) s;
	CREATE TABLE gpts (id int PRIMARY KEY, geom geometry(Point, 4326));
	INSERT INTO gpts SELECT g, ST_SetSRID(ST_MakePoint(5 + random() * 2,
	    45 + random() * 2), 4326) FROM generate_series(1, 200) g;
});

# Compares the job's rows with a reference query returning (in_id, near_id,
# near_rank, dist); distances within tol metres (relative for rtol).
sub compare {
	my ($name, $out, $refsql, $tol, $rtol) = @_;
	my $got = $dbh->selectall_arrayref("SELECT in_id, near_id, near_rank, near_dist
	    FROM analysis.$out ORDER BY in_id, near_rank");
	my $ref = $dbh->selectall_arrayref($refsql);
	is(scalar @$got, scalar @$ref, "$name: " . scalar(@$ref) . " rows as PostGIS");
	my ($bad, $badid, $worst, $msg) = (0, 0, 0, '');
	for my $i (0 .. $#$ref) {
		my ($g, $r) = ($got->[$i] // [0, 0, 0, 1e300], $ref->[$i]);
		my $d = abs($g->[3] - $r->[3]);
		my $lim = $tol + ($rtol // 0) * $r->[3];
		$worst = $d if $d > $worst;
		if ($g->[0] != $r->[0] || $g->[2] != $r->[2] || $d > $lim) {
			$bad++;
			$msg ||= "row $i: got (@$g), PostGIS (@$r)";
		}
		# A different id at the same distance is a tie, not an error.
		$badid++ if $g->[1] != $r->[1] && $d > $lim / 2 + 1e-9;
	}
	is($bad, 0, "$name: distances equal PostGIS's (max diff " . sprintf('%.3g', $worst) . " m)")
	    or diag($msg);
	is($badid, 0, "$name: the same near features");
}

my $job = $t->run_job('nearest_analysis', { input => 'pin', near => 'pnear', k => 3, output => 'n_pts' });
is($job->{status}, 'completed', 'planar points: completed') or diag($job->{error_message}, $t->run_job_log);
compare('planar points', 'n_pts', q{SELECT i.id, n.gid, n.rk, n.d FROM pin i CROSS JOIN LATERAL
    (SELECT gid, ST_Distance(i.geom, p.geom) AS d, row_number() OVER (ORDER BY i.geom <-> p.geom, gid) AS rk
     FROM pnear p ORDER BY i.geom <-> p.geom, gid LIMIT 3) n ORDER BY 1, 3}, 1e-9, 1e-12);
is($t->psql(q{SELECT count(*) FROM analysis.n_pts o JOIN pin i ON i.id = o.in_id JOIN pnear p ON p.gid = o.near_id
    WHERE abs(o.near_angle - degrees(atan2(ST_Y(p.geom) - ST_Y(i.geom), ST_X(p.geom) - ST_X(i.geom)))) > 1e-9
    OR abs(o.near_x - ST_X(p.geom)) > 0 OR abs(o.near_y - ST_Y(p.geom)) > 0
    OR NOT ST_Equals(o.geom, ST_MakeLine(i.geom, p.geom)) OR ST_SRID(o.geom) <> 32617}), 0,
    'planar points: angle from east, nearest point and line as PostGIS draws them');

$job = $t->run_job('nearest_analysis', { input => 'pin', k => 2, output => 'n_self' });
is($job->{status}, 'completed', 'input itself: completed') or diag($job->{error_message});
compare('input itself', 'n_self', q{SELECT i.id, n.id, n.rk, n.d FROM pin i CROSS JOIN LATERAL
    (SELECT id, ST_Distance(i.geom, p.geom) AS d, row_number() OVER (ORDER BY i.geom <-> p.geom, id) AS rk
     FROM pin p WHERE p.id <> i.id ORDER BY i.geom <-> p.geom, id LIMIT 2) n ORDER BY 1, 3}, 1e-9, 1e-12);

$job = $t->run_job('nearest_analysis', { input => 'pin', near => 'pin', k => 2, output => 'n_self2' });
is($t->psql(q{SELECT count(*) FROM analysis.n_self a FULL JOIN analysis.n_self2 b USING (in_id, near_rank)
    WHERE a.near_id IS DISTINCT FROM b.near_id}), 0, 'near naming the input itself: a feature is not its own nearest');

$job = $t->run_job('nearest_analysis', { input => 'gin', near => 'gnear', k => 2, output => 'n_geo' });
is($job->{status}, 'completed', 'geodesic points: completed') or diag($job->{error_message});
is($job->{result}{method}, 'geodesic', 'geographic CRS: geodesic by default');
compare('geodesic points', 'n_geo', q{SELECT id, nid, rk, d FROM (SELECT i.id, n.id AS nid,
    ST_Distance(i.geom::geography, n.geom::geography) AS d,
    row_number() OVER (PARTITION BY i.id ORDER BY ST_Distance(i.geom::geography, n.geom::geography), n.id) AS rk
    FROM gin i, gnear n) s WHERE rk <= 2 ORDER BY 1, 3}, 1e-4, 1e-9);
is($t->psql(q{SELECT count(*) FROM analysis.n_geo o JOIN gin i ON i.id = o.in_id JOIN gnear p ON p.id = o.near_id
    WHERE abs(o.near_angle - degrees(ST_Azimuth(i.geom::geography, p.geom::geography))
      - CASE WHEN degrees(ST_Azimuth(i.geom::geography, p.geom::geography)) > 180 THEN -360 ELSE 0 END) > 1e-6}), 0,
    'geodesic points: angle is the azimuth from north (-180..180)');

$job = $t->run_job('nearest_analysis', { input => 'pin', near => 'lnear', k => 2, output => 'n_lines' });
is($job->{status}, 'completed', 'points to lines: completed') or diag($job->{error_message});
compare('points to lines', 'n_lines', q{SELECT id, nid, rk, d FROM (SELECT i.id, n.id AS nid,
    ST_Distance(i.geom, n.geom) AS d,
    row_number() OVER (PARTITION BY i.id ORDER BY ST_Distance(i.geom, n.geom), n.id) AS rk
    FROM pin i, lnear n) s WHERE rk <= 2 ORDER BY 1, 3}, 1e-9, 1e-12);
is($t->psql(q{SELECT count(*) FROM analysis.n_lines o JOIN pin i ON i.id = o.in_id JOIN lnear l ON l.id = o.near_id
    WHERE ST_Distance(ST_EndPoint(o.geom), ST_ClosestPoint(l.geom, i.geom)) > 1e-6}), 0,
    'points to lines: the line ends at the nearest point of the near line');

$job = $t->run_job('nearest_analysis', { input => 'poly', k => 3, output => 'n_poly' });
is($job->{status}, 'completed', 'polygons to polygons: completed') or diag($job->{error_message});
compare('polygons to polygons', 'n_poly', q{SELECT id, nid, rk, d FROM (SELECT i.id, n.id AS nid,
    ST_Distance(i.geom, n.geom) AS d,
    row_number() OVER (PARTITION BY i.id ORDER BY ST_Distance(i.geom, n.geom), n.id) AS rk
    FROM poly i, poly n WHERE n.id <> i.id) s WHERE rk <= 3 ORDER BY 1, 3}, 1e-9, 1e-12);

$job = $t->run_job('nearest_analysis', { input => 'gpts', near => 'glines', k => 1, output => 'n_glines' });
is($job->{status}, 'completed', 'geodesic points to lines: completed') or diag($job->{error_message});
compare('geodesic points to lines', 'n_glines', q{SELECT id, nid, rk, d FROM (SELECT i.id, n.id AS nid,
    ST_Distance(i.geom::geography, n.geom::geography) AS d,
    row_number() OVER (PARTITION BY i.id ORDER BY ST_Distance(i.geom::geography, n.geom::geography), n.id) AS rk
    FROM gpts i, glines n) s WHERE rk <= 1 ORDER BY 1, 3}, 0.01, 2e-3);

$job = $t->run_job('nearest_analysis', { input => 'pin', near => 'pnear', k => 5,
    search_radius => 800, output => 'n_rad' });
is($job->{status}, 'completed', 'search_radius: completed') or diag($job->{error_message});
compare('search_radius 800 m', 'n_rad', q{SELECT i.id, n.gid, n.rk, n.d FROM pin i CROSS JOIN LATERAL
    (SELECT gid, ST_Distance(i.geom, p.geom) AS d, row_number() OVER (ORDER BY i.geom <-> p.geom, gid) AS rk
     FROM pnear p WHERE ST_DWithin(i.geom, p.geom, 800) ORDER BY i.geom <-> p.geom, gid LIMIT 5) n ORDER BY 1, 3},
    1e-9, 1e-12);
is($job->{result}{no_near}, $t->psql(q{SELECT count(*) FROM pin i WHERE NOT EXISTS
    (SELECT 1 FROM pnear p WHERE ST_DWithin(i.geom, p.geom, 800))}), 'features with none within the radius counted');

# Average Nearest Neighbor on a 10 x 10 grid of 100 m spacing: every
# nearest distance is 100 m; the minimum enclosing rectangle is 900 x 900 m.
# D_E = 0.5 / sqrt(100 / 810000) = 45, ratio = 100 / 45,
# SE = 0.26136 / sqrt(100^2 / 810000) = 0.26136 * 9 = 2.35224,
# z = (100 - 45) / 2.35224.  With area = 1e6 m^2: D_E = 50, ratio 2,
# SE = 2.6136, z = 50 / 2.6136.
$t->psql(q{CREATE TABLE grid (id int PRIMARY KEY, geom geometry(Point, 32617));
	INSERT INTO grid SELECT i * 10 + j, ST_SetSRID(ST_MakePoint(600000 + 100 * i, 4100000 + 100 * j), 32617)
	FROM generate_series(0, 9) i, generate_series(0, 9) j});
$job = $t->run_job('nearest_analysis', { input => 'grid', output => 'n_grid' });
is($job->{status}, 'completed', 'grid: completed') or diag($job->{error_message});
my $a = $job->{result}{ann};
sub near_ok { my ($g, $w, $n) = @_; ok(abs($g - $w) <= 1e-9 * (abs($w) > 1 ? abs($w) : 1), $n) or diag("got $g, want $w"); }
near_ok($a->{observed_mean_distance}, 100, 'ANN observed mean 100 m');
near_ok($a->{area}, 810000, 'ANN area: the enclosing rectangle, 810000 m2');
near_ok($a->{expected_mean_distance}, 45, 'ANN expected 45 m');
near_ok($a->{nearest_neighbor_ratio}, 100 / 45, 'ANN ratio 2.222');
near_ok($a->{z_score}, 55 / (0.26136 * 9), 'ANN z-score 23.38');
ok($a->{p_value} < 1e-100, 'ANN p-value ~ 0');
$job = $t->run_job('nearest_analysis', { input => 'grid', area => 1e6, output => 'n_grid2' });
near_ok($job->{result}{ann}{expected_mean_distance}, 50, 'given area: expected 50 m');
near_ok($job->{result}{ann}{z_score}, 50 / 2.6136, 'given area: z-score 19.13');

# ANN is the input's point pattern: for polygons, between centroids (as
# ArcGIS), whatever near is; touching 100 m squares still give 100 m.
$t->psql(q{CREATE TABLE gridsq (id int PRIMARY KEY, geom geometry(Polygon, 32617));
	INSERT INTO gridsq SELECT id, ST_Expand(geom, 50) FROM grid});
$job = $t->run_job('nearest_analysis', { input => 'gridsq', near => 'pnear', output => 'n_gridsq' });
is($job->{status}, 'completed', 'squares: completed') or diag($job->{error_message});
near_ok($job->{result}{ann}{observed_mean_distance}, 100, 'ANN of polygons between centroids: 100 m');
near_ok($job->{result}{ann}{z_score}, 55 / (0.26136 * 9), 'and the same z-score as the points');

done_testing();

# Contiguity with a tolerance (the 'snap' parameter, issue 10).
#
# 1. Against R spdep's poly2nb with its default snap, rook and queen, on the
#    polygon sets the statistics tests use (columbus, NY8, Boston tracts,
#    North Carolina) and three more (Irish counties, the wheat field trial,
#    whose plots' corners differ in the last digits, Olinda census
#    tracts): the same neighbours, and Gi* and Local Moran's I equal spdep's
#    localG / localmoran to 1e-9.  snap 0 is the exact rule of before
#    (GEOS predicates); it is checked against spdep's poly2nb(snap = 0) where
#    the two rules agree, and against GEOS through sf everywhere.
# 2. A lattice written with noise (coordinates as sums of 0.01 degree,
#    every vertex perturbed by 1e-12 relative), also round-tripped through a
#    shapefile and through a reprojection (UTM and back), gives exactly the
#    lattice's rook and queen neighbours, and the Gi* / Local Moran's I of R
#    on those neighbours; the result counts the links and those found only
#    by snapping.
# 3. Units: snap is in the layer's units, as in spdep: a lattice with
#    1e-8 gaps in degrees, in US survey feet and the NY8 tracts in feet
#    agree with poly2nb on the same coordinates, for the default snap and an
#    explicit one.
# References computed now by R (t/data/stats-reference.R and a lattice
# script below), never stored.
use strict;
use warnings;
use Test::More;
use GW;
BEGIN { require "$GW::SRCDIR/t/data/stats-lib.pl" }
our %DATA;

plan skip_all => 'R spdep or the spData / sf data sets are not installed'
    unless stats_have_data();

my $t = GW->new;
my $dir = $t->dir;
my @sets = qw(columbus ny8 boston nc eire wheat olinda);
stats_load($t, @sets);

# --- 1. spdep's poly2nb, default snap and snap 0 --------------------------

my (@cases, %snap_of);
for my $set (@sets) {
	for my $concept (qw(contiguity_edges contiguity_edges_corners)) {
		my $c = $concept =~ /corners/ ? 'queen' : 'rook';
		push @cases, ["${set}_${c}_default", $set, $concept];
		push @cases, ["${set}_${c}_geos", $set, $concept, undef, undef, 'geos'];
		push @cases, ["${set}_${c}_zero", $set, $concept, undef, undef, 0];
	}
}
my $ref = stats_reference($t, @cases);

my %links;
for my $c (@cases) {
	my ($name, $table, $concept, undef, undef, $snap) = @$c;
	next if $name =~ /_zero$/;	# compared below, from the _geos run
	my %p = (input => $table, field => lc $DATA{$table}[1],
	    conceptualization => $concept, output => "h_$name");
	$p{snap} = 0 if defined $snap;
	my $job = $t->run_job('hotspot_analysis', \%p);
	is($job->{status}, 'completed', "$name: completed")
	    or diag($job->{error_message}, $t->run_job_log), next;
	my $r = $ref->{$name};
	my $nl = 0;
	$nl += $_->{card} for values %$r;
	is($job->{result}{neighbor_links}, $nl / 2, "$name: " . ($nl / 2) . " links, as spdep");
	$links{$name} = $job->{result};
	stats_compare($t, "analysis.h_$name", $r, 'gi_zscore', 'gi_z', 1e-9, $name);

	# Local Moran's I on the default snap (row standardized).
	next if defined $snap;
	$job = $t->run_job('outlier_analysis', { %p, output => "o_$name", permutations => 0 });
	is($job->{status}, 'completed', "$name: outlier_analysis completed")
	    or diag($job->{error_message}), next;
	stats_compare($t, "analysis.o_$name", $r, 'lmi_index', 'w_i', 1e-9, "$name LMI");
	stats_compare($t, "analysis.o_$name", $r, 'lmi_zscore', 'w_z', 1e-9, "$name LMI");
}

# snap 0 against spdep's snap = 0: the same neighbours wherever polygons
# that touch share their vertices exactly.  Where they do not, the rules
# differ (doc/hotspot_analysis.md): the wheat plots' corners differ in the
# last digits, so exact GEOS predicates see overlaps and slivers that no
# equal vertex pair shows, and the rook neighbours of 7 Olinda tracts
# differ.  The default snap agrees with spdep on both (above).
my %snap0_differs = (wheat_rook => 1, wheat_queen => 1, olinda_rook => 1);
for my $set (@sets) {
	for my $c (qw(rook queen)) {
		my ($z, $g) = map { $ref->{"${set}_${c}_$_"} } qw(zero geos);
		my $diff = grep { $z->{$_}{card} != $g->{$_}{card} } keys %$z;
		if ($snap0_differs{"${set}_$c"}) {
			ok($diff > 0, "$set $c: snap 0 differs from spdep's snap = 0 on $diff features (documented)");
		} else {
			is($diff, 0, "$set $c: snap 0 has the neighbours of spdep's snap = 0");
		}
		my $d = $links{"${set}_${c}_default"} or next;
		my $e = $links{"${set}_${c}_geos"} or next;
		ok($set ne 'wheat' || $d->{snapped_links} > 0,
		    "$set $c: $d->{snapped_links} of $d->{neighbor_links} links found only by snapping");
		ok($d->{neighbor_links} - $d->{snapped_links} <= $e->{neighbor_links},
		    "$set $c: links found without snapping are among snap 0's");
		is($d->{snap}, 1.4901161193847656e-08, "$set $c: default snap reported");
	}
}

# --- 2. A lattice written with noise ---------------------------------------

# 12 x 12 cells of 0.01 degree; fid = r * 12 + c + 1.  Exact: every corner
# computed the same way by the cells that share it.  Noisy: each cell adds
# 0.01 to its own corner (x0 + c d + d is not x0 + (c + 1) d), and every
# vertex is scaled by its own 1 + u, |u| <= 1e-12.
my $side = 12;
srand(20261201);
sub lattice {
	my ($table, $noise, $srid, $x0, $y0, $d) = @_;
	my @rows;
	for my $r (0 .. $side - 1) {
		for my $c (0 .. $side - 1) {
			my ($ax, $ay) = ($x0 + $c * $d, $y0 + $r * $d);
			my ($bx, $by) = $noise ? ($ax + $d, $ay + $d)
			    : ($x0 + ($c + 1) * $d, $y0 + ($r + 1) * $d);
			my @p = ([$ax, $ay], [$bx, $ay], [$bx, $by], [$ax, $by]);
			if ($noise) {
				$_ = [map { $_ * (1 + 1e-12 * (2 * rand() - 1)) } @$_] for @p;
			}
			push @p, $p[0];
			my $wkt = 'POLYGON((' . join(',', map { sprintf('%.17g %.17g', @$_) } @p) . '))';
			my $fid = $r * $side + $c + 1;
			# A value with a spatial pattern and noise of its own.
			my $v = sin($r / 3) + cos($c / 4) + (($fid * 7919) % 101) / 50;
			push @rows, "($fid, $r, $c, $v, ST_GeomFromText('$wkt', $srid))";
		}
	}
	$t->psql("CREATE TABLE $table (fid int PRIMARY KEY, r int, c int, v float8,
	    geom geometry(Polygon, $srid)); INSERT INTO $table VALUES " . join(',', @rows));
}
lattice('lat_exact', 0, 4326, -75.3, 40.1, 0.01);
lattice('lat_noisy', 1, 4326, -75.3, 40.1, 0.01);
lattice('lat_planar', 1, 32618, 0, 0, 0.1);
# Through a shapefile and back.
system('ogr2ogr', '-f', 'ESRI Shapefile', "$dir/lat_noisy.shp", 'PG:dbname=' . $t->dbname,
    '-sql', 'SELECT fid AS cell, r, c, v, geom FROM lat_noisy') == 0 or die 'ogr2ogr to shapefile failed';
$t->ogr2ogr("$dir/lat_noisy.shp", 'lat_shp_in');
$t->psql(q{CREATE TABLE lat_shp AS SELECT cell::int AS fid, r, c, v, geom FROM lat_shp_in;
    ALTER TABLE lat_shp ADD PRIMARY KEY (fid)});
# Through UTM and back.
$t->psql(q{CREATE TABLE lat_proj AS SELECT fid, r, c, v,
    ST_Transform(ST_Transform(geom, 32618), 4326)::geometry(Polygon, 4326) AS geom FROM lat_noisy;
    ALTER TABLE lat_proj ADD PRIMARY KEY (fid)});
is($t->psql(q{SELECT count(*) FROM lat_noisy a JOIN lat_proj b USING (fid)
    WHERE NOT ST_OrderingEquals(a.geom, b.geom)}) > 0, 1, 'the reprojection moved vertices');
ok($t->psql(q{SELECT count(*) FROM lat_noisy a JOIN lat_noisy b ON a.fid < b.fid
    WHERE ST_Touches(a.geom, b.geom)}) < $side * ($side - 1) * 2,
    'the noisy lattice loses neighbours under exact predicates');

# R: the lattice's own neighbours from (r, c), localG and localmoran.
$t->psql("\\copy (SELECT fid, r, c, v FROM lat_exact ORDER BY fid) TO '$dir/lat.csv' CSV HEADER");
open(my $fh, '>', "$dir/lat.R") or die;
print $fh <<'EOF';
suppressPackageStartupMessages(library(spdep))
a <- commandArgs(TRUE)
d <- read.csv(a[1])
n <- nrow(d)
res <- list()
for (type in c("rook", "queen")) {
	l <- lapply(1:n, function(i) {
		dr <- abs(d$r - d$r[i]); dc <- abs(d$c - d$c[i])
		w <- which(if (type == "rook") dr + dc == 1 else
		    pmax(dr, dc) == 1)
		as.integer(sort(w))
	})
	class(l) <- "nb"
	attr(l, "region.id") <- as.character(d$fid)
	g <- as.numeric(localG(d$v, nb2listw(include.self(l), style = "B")))
	lm <- localmoran(d$v, nb2listw(l, style = "W"), mlvar = FALSE,
	    conditional = FALSE, alternative = "two.sided")
	res[[type]] <- data.frame(case = type, id = d$fid, card = card(l),
	    gi_z = g, w_i = lm[, 1], w_z = lm[, 4])
}
write.csv(do.call(rbind, res), a[2], row.names = FALSE)
EOF
close $fh;
system("Rscript $dir/lat.R $dir/lat.csv $dir/latref.csv >$dir/lat.log 2>&1") == 0
    or die "Rscript failed:\n" . GW::slurp("$dir/lat.log");
my %lref;
open($fh, '<', "$dir/latref.csv") or die;
my @cols = map { s/"//gr } split /,/, scalar(<$fh>) =~ s/\s+\z//r;
while (my $line = <$fh>) {
	my %row;
	@row{@cols} = map { s/"//gr } split /,/, $line =~ s/\s+\z//r;
	$lref{$row{case}}{$row{id}} = \%row;
}
close $fh;

my %want_links = (rook => 2 * $side * ($side - 1),
    queen => 2 * $side * ($side - 1) + 2 * ($side - 1) ** 2);
for my $table (qw(lat_exact lat_noisy lat_shp lat_proj lat_planar)) {
	for my $type (qw(rook queen)) {
		my $concept = $type eq 'rook' ? 'contiguity_edges' : 'contiguity_edges_corners';
		my $name = "${table}_$type";
		my $job = $t->run_job('hotspot_analysis', { input => $table, field => 'v',
		    id_column => 'fid', conceptualization => $concept, output => "g_$name" });
		is($job->{status}, 'completed', "$name: completed") or diag($job->{error_message}), next;
		is($job->{result}{neighbor_links}, $want_links{$type}, "$name: the lattice's $want_links{$type} links");
		my $sn = $job->{result}{snapped_links};
		ok($table eq 'lat_exact' ? $sn == 0 : $sn > 0, "$name: $sn found only by snapping");
		stats_compare($t, "analysis.g_$name", $lref{$type}, 'gi_zscore', 'gi_z', 1e-9, "$name Gi*");
		$job = $t->run_job('outlier_analysis', { input => $table, field => 'v', id_column => 'fid',
		    conceptualization => $concept, output => "m_$name", permutations => 0 });
		is($job->{status}, 'completed', "$name: outlier_analysis completed") or diag($job->{error_message}), next;
		stats_compare($t, "analysis.m_$name", $lref{$type}, 'lmi_zscore', 'w_z', 1e-9, "$name LMI");
	}
}
# snap 0 is the exact behaviour: the noisy lattice loses links.
my $z = $t->run_job('hotspot_analysis', { input => 'lat_noisy', field => 'v', conceptualization =>
    'contiguity_edges_corners', snap => 0, output => 'g_noisy_zero' });
is($z->{status}, 'completed', 'noisy lattice, snap 0: completed') or diag($z->{error_message});
ok($z->{result}{neighbor_links} < $want_links{queen} && $z->{result}{snapped_links} == 0,
    "noisy lattice, snap 0: $z->{result}{neighbor_links} links, fewer than the lattice's");

# --- 3. Units: degrees and US survey feet ----------------------------------

# Lattices whose cells in every other column are shrunk by 5e-9 on each
# side: 1e-8 gaps in the layer's unit, within the default snap (1.49e-8) in
# degrees as in feet, but not within 3e-9.
sub gapped {
	my ($table, $srid, $x0, $y0, $d) = @_;
	my @rows;
	for my $r (0 .. 7) {
		for my $c (0 .. 7) {
			my $g = $c % 2 ? 5e-9 : 0;
			my ($ax, $ay, $bx, $by) = ($x0 + $c * $d + $g, $y0 + $r * $d,
			    $x0 + ($c + 1) * $d - $g, $y0 + ($r + 1) * $d);
			my $fid = $r * 8 + $c + 1;
			my $v = cos($r) + sin($c / 2) + ($fid % 5) / 3;
			push @rows, "($fid, $v, ST_MakeEnvelope($ax, $ay, $bx, $by, $srid))";
		}
	}
	$t->psql("CREATE TABLE $table (fid int PRIMARY KEY, v float8, geom geometry(Polygon, $srid));
	    INSERT INTO $table VALUES " . join(',', @rows));
}
gapped('gap_deg', 4326, -75.3, 40.1, 0.01);
gapped('gap_ft', 2263, 980000, 190000, 100);	# NAD83 / New York Long Island (ftUS)
# NY8's UTM coordinates in US survey feet, tagged with a feet CRS: contiguity
# and snap depend on the unit only.
my $ft = 1200 / 3937;
$t->psql(qq{CREATE TABLE ny8ft AS SELECT fid, cases,
    ST_SetSRID(ST_Scale(geom, 1 / $ft, 1 / $ft), 2263)::geometry(MultiPolygon, 2263) AS geom FROM ny8;
    ALTER TABLE ny8ft ADD PRIMARY KEY (fid)});
for my $table (qw(gap_deg gap_ft ny8ft)) {
	system('ogr2ogr', '-f', 'GPKG', "$dir/$table.gpkg", 'PG:dbname=' . $t->dbname, $table) == 0
	    or die "ogr2ogr $table failed";
	$DATA{$table} = ["$dir/$table.gpkg", $table eq 'ny8ft' ? 'cases' : 'v'];
}
my @ucases;
for my $table (qw(gap_deg gap_ft ny8ft)) {
	for my $snap (undef, 3e-9, 1e-7) {
		for my $concept (qw(contiguity_edges contiguity_edges_corners)) {
			push @ucases, [join('_', $table, $concept =~ /corners/ ? 'queen' : 'rook',
			    defined $snap ? $snap =~ s/[.-]/_/gr : 'default'), $table, $concept,
			    undef, undef, $snap];
		}
	}
}
my $uref = stats_reference($t, @ucases);
for my $c (@ucases) {
	my ($name, $table, $concept, undef, undef, $snap) = @$c;
	my %p = (input => $table, field => lc $DATA{$table}[1], conceptualization => $concept,
	    output => "u_$name");
	$p{snap} = $snap if defined $snap;
	my $job = $t->run_job('hotspot_analysis', \%p);
	my $r = $uref->{$name};
	is($job->{status}, 'completed', "$name: completed") or diag($job->{error_message}), next;
	stats_compare($t, "analysis.u_$name", $r, 'gi_zscore', 'gi_z', 1e-9, $name);
}
my $wide = $uref->{gap_deg_queen_default};
my $narrow = $uref->{gap_deg_queen_3e_09};
ok((grep { $wide->{$_}{card} > $narrow->{$_}{card} } keys %$wide) > 0,
    'the 1e-8 gaps in degrees are within the default snap, not within 3e-9 (spdep agrees)');

# --- Parameters --------------------------------------------------------------

my $bad = $t->run_job('hotspot_analysis', { input => 'eire', field => 'a', snap => 1e-6 });
is($bad->{status}, 'failed', 'snap with fixed_distance is refused');
like($bad->{error_message} // '', qr/snap.*contiguity/, "... saying so: $bad->{error_message}");
$bad = $t->run_job('hotspot_analysis', { input => 'eire', field => 'a', snap => -1,
    conceptualization => 'contiguity_edges' });
is($bad->{status}, 'failed', 'a negative snap is refused');
my $k = $t->run_job('hotspot_analysis', { input => 'eire', field => 'a', conceptualization => 'k_nearest', k => 3 });
ok(exists $k->{result}{snapped_links} && !defined $k->{result}{snapped_links},
    'k nearest: snapped_links is null');

done_testing();

# hotspot_analysis: Getis-Ord Gi* z-scores and p-values equal R spdep's
# localG (include.self, B style) to 1e-9 on the classic data sets, for fixed
# distance (default band), inverse distance, k nearest and rook / queen
# contiguity, planar (columbus, NY8 in UTM) and geodesic (boston tracts and
# nc in NAD27 longitude/latitude).  Reference computed now by R
# (t/data/stats-reference.R), never stored.
use strict;
use warnings;
use Test::More;
use GW;
BEGIN { require "$GW::SRCDIR/t/data/stats-lib.pl" }
our %DATA;

plan skip_all => 'R spdep or the spData / sf data sets are not installed'
    unless stats_have_data();

my $t = GW->new;
stats_load($t, qw(columbus ny8 boston nc));

my @cases = (
	[col_fixed => columbus => 'fixed_distance'],
	[col_idw => columbus => 'inverse_distance'],
	[col_knn => columbus => 'k_nearest', 4],
	[col_queen => columbus => 'contiguity_edges_corners'],
	[col_rook => columbus => 'contiguity_edges'],
	[ny_fixed => ny8 => 'fixed_distance'],
	[ny_knn => ny8 => 'k_nearest', 8],
	[ny_queen => ny8 => 'contiguity_edges_corners'],
	[ny_idw2 => ny8 => 'inverse_distance_squared', undef, 20000],
	[bos_queen => boston => 'contiguity_edges_corners'],
	[bos_knn => boston => 'k_nearest', 6],
	[nc_queen => nc => 'contiguity_edges_corners'],
	[nc_fixed => nc => 'fixed_distance'],
	[nc_knn => nc => 'k_nearest', 8],
);
my $ref = stats_reference($t, @cases);

for my $c (@cases) {
	my ($name, $table, $concept, $k, $dist) = @$c;
	my %p = (input => $table, field => lc $DATA{$table}[1],
	    conceptualization => $concept, output => "hs_$name");
	$p{k} = $k if defined $k;
	$p{distance} = $dist if defined $dist;
	my $job = $t->run_job('hotspot_analysis', \%p);
	is($job->{status}, 'completed', "$name: completed")
	    or diag($job->{error_message}, $t->run_job_log), next;
	my $r = $ref->{$name};
	my $n = keys %$r;
	is($job->{result}{feature_count}, $n, "$name: $n features");
	my $iso = grep { $_->{card} == 0 } values %$r;
	is($job->{result}{no_neighbors}, $iso, "$name: $iso without neighbours counted");
	stats_compare($t, "analysis.hs_$name", $r, 'gi_zscore', 'gi_z', 1e-9, $name);
	stats_compare($t, "analysis.hs_$name", $r, 'gi_pvalue', 'gi_p', 1e-9, $name);

	# Bins from spdep's own p-values at 90/95/99 %.
	my $rows = $t->dbh->selectall_hashref("SELECT fid, gi_bin FROM analysis.hs_$name", 'fid');
	my $bad = 0;
	for my $id (keys %$r) {
		next unless $r->{$id}{card};
		my ($z, $pv) = @{ $r->{$id} }{qw(gi_z gi_p)};
		my $b = $pv <= 0.01 ? 3 : $pv <= 0.05 ? 2 : $pv <= 0.10 ? 1 : 0;
		$b = -$b if $z < 0;
		$bad++ if $rows->{$id}{gi_bin} != $b;
	}
	is($bad, 0, "$name: gi_bin agrees with spdep's p-values");
}

# FDR: bins against Benjamini-Hochberg worked here on spdep's p-values
# (largest p(k) <= k / m * alpha, at 0.10, 0.05 and 0.01).
sub bh {
	my ($alpha, @p) = @_;
	@p = sort { $a <=> $b } @p;
	for (my $k = @p; $k >= 1; $k--) {
		return $p[$k - 1] if $p[$k - 1] <= $k / @p * $alpha;
	}
	return 0;
}
for my $name (qw(ny_fixed nc_queen)) {
	my ($table, $concept) = @{ (grep { $_->[0] eq $name } @cases)[0] }[1, 2];
	my $job = $t->run_job('hotspot_analysis', { input => $table, field => lc $DATA{$table}[1],
	    conceptualization => $concept, fdr => JSON::PP::true, output => "fdr_$name" });
	is($job->{status}, 'completed', "$name with FDR: completed") or diag($job->{error_message});
	my $r = $ref->{$name};
	my @p = map { $_->{gi_p} } grep { $_->{card} } values %$r;
	my ($t90, $t95, $t99) = map { bh($_, @p) } 0.10, 0.05, 0.01;
	ok(abs($job->{result}{fdr_pvalue_95} - $t95) <= 1e-9, "$name: FDR critical p at 95 % ($t95)");
	my $rows = $t->dbh->selectall_hashref("SELECT fid, gi_bin FROM analysis.fdr_$name", 'fid');
	my ($bad, $sig) = (0, 0);
	for my $id (keys %$r) {
		next unless $r->{$id}{card};
		my ($z, $pv) = @{ $r->{$id} }{qw(gi_z gi_p)};
		my $b = $pv <= $t99 ? 3 : $pv <= $t95 ? 2 : $pv <= $t90 ? 1 : 0;
		$sig++ if $b;
		$b = -$b if $z < 0;
		$bad++ if $rows->{$id}{gi_bin} != $b;
	}
	is($bad, 0, "$name: FDR bins as Benjamini-Hochberg on spdep's p-values ($sig significant)");
}

# The output: input id, SRID and geometry kept, spatial index, analyzed.
my ($srid, $same) = $t->dbh->selectrow_array(q{
	SELECT ST_SRID(o.geom), bool_and(ST_Equals(o.geom, i.geom))
	FROM analysis.hs_nc_queen o JOIN nc i USING (fid) GROUP BY 1});
is($srid, 4267, 'output keeps the SRID');
ok($same, 'output keeps the geometries');
ok($t->psql(q{SELECT count(*) FROM pg_indexes WHERE schemaname = 'analysis'
    AND tablename = 'hs_nc_queen' AND indexdef ILIKE '%gist%'}) == 1,
    'output has a spatial index');

done_testing();

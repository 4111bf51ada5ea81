# outlier_analysis: Local Moran's I, its z-score and two-sided p-value equal
# R spdep's localmoran(..., mlvar = FALSE, conditional = FALSE) to 1e-9,
# with row-standardized and unstandardized weights, on the classic data sets
# (fixed distance, inverse distance squared, k nearest, queen; planar and
# geodesic).  co_type follows spdep's I and p-values.  Permutation pseudo
# p-values are reproducible with a seed.  Reference computed now by R.
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
	[col_queen => columbus => 'contiguity_edges_corners'],
	[ny_knn => ny8 => 'k_nearest', 8],
	[ny_idw2 => ny8 => 'inverse_distance_squared', undef, 20000],
	[bos_queen => boston => 'contiguity_edges_corners'],
	[nc_knn => nc => 'k_nearest', 8],
);
my $ref = stats_reference($t, @cases);

for my $c (@cases) {
	my ($name, $table, $concept, $k, $dist) = @$c;
	my $r = $ref->{$name};
	for my $std (qw(row none)) {
		my $pre = $std eq 'row' ? 'w' : 'b';
		my $out = "lm_${name}_$std";
		my %p = (input => $table, field => lc $DATA{$table}[1],
		    conceptualization => $concept, output => $out,
		    standardization => $std, permutations => 0);
		$p{k} = $k if defined $k;
		$p{distance} = $dist if defined $dist;
		my $job = $t->run_job('outlier_analysis', \%p);
		is($job->{status}, 'completed', "$name/$std: completed")
		    or diag($job->{error_message}, $t->run_job_log), next;
		stats_compare($t, "analysis.$out", $r, 'lmi_index', "${pre}_i", 1e-9, "$name/$std");
		stats_compare($t, "analysis.$out", $r, 'lmi_zscore', "${pre}_z", 1e-9, "$name/$std");
		stats_compare($t, "analysis.$out", $r, 'lmi_pvalue', "${pre}_p", 1e-9, "$name/$std");

		# co_type from spdep's numbers: significant at 0.05, then the
		# sign of I (cluster or outlier) and of the deviation.
		my @v = map { $_->{value} } values %$r;
		my $mean = 0;
		$mean += $_ for @v;
		$mean /= @v;
		my $rows = $t->dbh->selectall_hashref("SELECT fid, co_type FROM analysis.$out", 'fid');
		my ($bad, $sig) = (0, 0);
		for my $id (keys %$r) {
			my $x = $r->{$id};
			my $want;
			if ($x->{card} && $x->{"${pre}_p"} <= 0.05 && $x->{"${pre}_i"} != 0) {
				$want = $x->{"${pre}_i"} > 0 ? ($x->{value} > $mean ? 'HH' : 'LL')
				    : ($x->{value} > $mean ? 'HL' : 'LH');
				$sig++;
			}
			$bad++ if ($rows->{$id}{co_type} // '') ne ($want // '');
		}
		is($bad, 0, "$name/$std: co_type of the $sig significant features as spdep says");
		is($job->{result}{HH} + $job->{result}{LL} + $job->{result}{HL}
		    + $job->{result}{LH}, $sig, "$name/$std: result counts them");
	}
}

# Permutations: reproducible with a seed, changed by another seed, within
# [2/(M+1), 1] on the grid 2 (R + 1) / (M + 1).
my %base = (input => 'columbus', field => 'crime',
    conceptualization => 'contiguity_edges_corners', permutations => 999);
my $j1 = $t->run_job('outlier_analysis', { %base, seed => 7, output => 'perm1' });
my $j2 = $t->run_job('outlier_analysis', { %base, seed => 7, output => 'perm2' });
my $j3 = $t->run_job('outlier_analysis', { %base, seed => 8, output => 'perm3' });
is($_->{status}, 'completed', "permutation run $_->{id} completed")
    or diag($_->{error_message}) for $j1, $j2, $j3;
is($t->psql(q{SELECT count(*) FROM analysis.perm1 a JOIN analysis.perm2 b
    USING (fid) WHERE a.lmi_pvalue IS DISTINCT FROM b.lmi_pvalue}), 0,
    'same seed, same pseudo p-values');
ok($t->psql(q{SELECT count(*) FROM analysis.perm1 a JOIN analysis.perm3 b
    USING (fid) WHERE a.lmi_pvalue <> b.lmi_pvalue}) > 10,
    'another seed, other pseudo p-values');
is($t->psql(q{SELECT count(*) FROM analysis.perm1
    WHERE lmi_pvalue < 0.002 - 1e-12 OR lmi_pvalue > 1
    OR round((lmi_pvalue * 1000 / 2)::numeric, 9) <> round((lmi_pvalue * 1000 / 2)::numeric, 0)}), 0,
    'pseudo p-values are 2 (R + 1) / 1000, at most 1');
is($j1->{result}{seed}, 7, 'seed in the result');
is($t->psql(q{SELECT count(*) FROM analysis.perm1 a JOIN analysis.lm_col_queen_row b
    USING (fid) WHERE a.lmi_zscore <> b.lmi_zscore OR a.lmi_index <> b.lmi_index}), 0,
    'permutations change only the p-values');

done_testing();

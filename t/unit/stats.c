/*
 * t/unit/stats.c: the statistics of children/stats.c against values worked
 * out by hand (closed forms in the comments), and the permutation test
 * against the analytic one on normal data.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "num/stats.h"
#include "tap.h"

/*
 * The 5-feature example: values x = 1 2 3 4 10 on a chain 0-1-2-3-4 (each
 * feature's neighbours are the previous and the next one), binary weights.
 */
static const double X5[5] = { 1, 2, 3, 4, 10 };

static int
chain5(struct gw_nbr *nb, int rowstd)
{
	static const uint32_t	 idx[8] = { 1, 0, 2, 1, 3, 2, 4, 3 };
	static const size_t	 start[6] = { 0, 1, 3, 5, 7, 8 };
	size_t			 i;

	if (gw_nbr_alloc(nb, 5, 8) == -1)
		return -1;
	memcpy(nb->start, start, sizeof(start));
	for (i = 0; i < 8; i++) {
		nb->idx[i] = idx[i];
		nb->w[i] = 1;
	}
	if (rowstd)
		gw_nbr_row_standardize(nb);
	return 0;
}

static void
test_normal(void)
{
	/* qnorm(0.975) = 1.959963984540054 (tables). */
	is_near(gw_norm_cdf(1.959963984540054), 0.975, 1e-14, "Phi(1.96)");
	is_near(gw_pvalue_2sided(-1.959963984540054), 0.05, 1e-14,
	    "two-sided p at z = -1.96 is 0.05");
	is_near(gw_norm_cdf(0), 0.5, 1e-16, "Phi(0) = 0.5");
	/* Upper tail: 1 - Phi(10) = 7.619853024160527e-24 (R pnorm). */
	is_near(gw_norm_sf(10) / 7.619853024160527e-24, 1, 1e-12,
	    "upper tail accurate at z = 10");
	ok(isnan(gw_pvalue_2sided(NAN)), "NAN in, NAN out");
}

static void
test_fdr(void)
{
	/* m = 10 (the NAN does not count); BH lines k * 0.005 at alpha
	 * 0.05: 0.001 <= 0.005, 0.008 <= 0.010, then 0.039 > 0.015 and no
	 * later p(k) is under its line (0.06 > 0.03, ...). */
	double	 p[11] = { 0.039, 0.001, NAN, 0.041, 0.042, 0.06, 0.074,
		    0.205, 0.008, 0.212, 0.216 };
	/* Step-up: m = 4, lines 0.0125 0.025 0.0375 0.05; p(2) = 0.03 is
	 * above its line but p(4) = 0.04 is under its own, so all four are
	 * significant and the threshold is 0.04. */
	double	 q[4] = { 0.04, 0.01, 0.036, 0.03 };

	is_near(gw_fdr_threshold(11, p, 0.05), 0.008, 0, "BH threshold 0.008");
	is_near(gw_fdr_threshold(11, p, 0.001), 0, 0, "none significant: 0");
	is_near(gw_fdr_threshold(4, q, 0.05), 0.04, 0, "step-up threshold");
	ok(gw_gi_bin(2.7, 0.006, 0.1, 0.05, 0.01) == 3, "bin 3");
	ok(gw_gi_bin(-2.0, 0.045, 0.1, 0.05, 0.01) == -2, "bin -2");
	ok(gw_gi_bin(1.7, 0.089, 0.1, 0.05, 0.01) == 1, "bin 1");
	ok(gw_gi_bin(1.7, 0.089, 0.05, 0.01, 0.001) == 0, "bin 0 under FDR");
	ok(gw_gi_bin(NAN, NAN, 0.1, 0.05, 0.01) == 0, "NAN: bin 0");
}

static void
test_gistar(void)
{
	struct gw_nbr	 nb;
	double		 z[5], p[5], c[5] = { 7, 7, 7, 7, 7 };

	/*
	 * xbar = 4, s^2 = (9 + 4 + 1 + 0 + 36) / 5 = 10.  Feature 0 with
	 * itself: sum = 1 + 2 = 3, W = S1 = 2, so the denominator is
	 * sqrt(10) sqrt((5 * 2 - 4) / 4) = sqrt(15) and z = (3 - 8) / sqrt(15).
	 * Features 1..3 have W = S1 = 3: sqrt(10) sqrt((15 - 9) / 4) =
	 * sqrt(15) again; sums 6, 9, 17 against 3 * 4 = 12.  Feature 4:
	 * 14 - 8 = 6.
	 */
	const double	 want[5] = { -5 / sqrt(15), -6 / sqrt(15),
		    -3 / sqrt(15), 5 / sqrt(15), 6 / sqrt(15) };
	int		 i;

	if (chain5(&nb, 0) == -1)
		exit(1);
	ok(gw_gistar(5, X5, &nb, 1, z, p) == 0, "gistar runs");
	for (i = 0; i < 5; i++)
		is_near(z[i], want[i], 1e-14, "Gi* z of feature %d", i);
	/* 2 (1 - Phi(5 / sqrt(15))) = 0.1967056024589469 */
	is_near(p[0], 0.1967056024589469, 1e-12, "Gi* p of feature 0");
	/* Row-standardized weights give the same z (it is scale free). */
	gw_nbr_row_standardize(&nb);
	gw_gistar(5, X5, &nb, 0.5, z, p);	/* row 1 scaled by 1/2 */
	is_near(z[1], -6 / sqrt(15), 1e-14, "Gi* z unchanged by row scaling");
	gw_gistar(5, c, &nb, 1, z, p);
	ok(isnan(z[2]) && isnan(p[2]), "constant field: NAN");
	gw_nbr_free(&nb);

	/* No neighbour: NAN.  Feature 2 isolated, 0-1 and 3-4 pairs. */
	if (gw_nbr_alloc(&nb, 5, 4) == -1)
		exit(1);
	{
		const size_t	 st[6] = { 0, 1, 2, 2, 3, 4 };
		const uint32_t	 ix[4] = { 1, 0, 4, 3 };

		memcpy(nb.start, st, sizeof(st));
		for (i = 0; i < 4; i++) {
			nb.idx[i] = ix[i];
			nb.w[i] = 1;
		}
	}
	gw_gistar(5, X5, &nb, 1, z, p);
	ok(isnan(z[2]) && !isnan(z[1]), "isolated feature: NAN, others not");
	gw_nbr_free(&nb);
}

static void
test_local_moran(void)
{
	struct gw_nbr	 nb;
	double		 I[5], z[5], p[5], c[5] = { 2, 2, 2, 2, 2 };
	/*
	 * Row-standardized chain.  d = x - 4 = -3 -2 -1 0 6; s2 = 50 / 4 =
	 * 12.5.  I_0 = -3 / 12.5 * -2 = 0.48; I_1 = -2 / 12.5 * (-3 - 1) / 2
	 * = 0.32; I_2 = -1 / 12.5 * (-2 + 0) / 2 = 0.08; I_3 = I_4 = 0.
	 * b2 = ((81 + 16 + 1 + 0 + 1296) / 4) / 12.5^2 = 2.2304, so
	 * A = (5 - b2) / 4 = 0.6924, B = (2 b2 - 5) / 12 = -0.5392 / 12.
	 * E = -1 / 4.  Ends (one neighbour, W2 = 1): V = A - 1/16 = 0.6299.
	 * Middle (W2 = 1/2): V = A / 2 + B / 2 - 1/16 = 0.26123333...
	 */
	const double	 wantI[5] = { 0.48, 0.32, 0.08, 0, 0 };
	const double	 vend = 0.6924 - 0.0625;
	const double	 vmid = 0.6924 / 2 + (-0.5392 / 12) / 2 - 0.0625;
	const double	 wantz[5] = { 0.73 / sqrt(vend), 0.57 / sqrt(vmid),
		    0.33 / sqrt(vmid), 0.25 / sqrt(vmid), 0.25 / sqrt(vend) };
	int		 i;

	if (chain5(&nb, 1) == -1)
		exit(1);
	ok(gw_local_moran(5, X5, &nb, I, z, p) == 0, "local moran runs");
	for (i = 0; i < 5; i++) {
		is_near(I[i], wantI[i], 1e-14, "I of feature %d", i);
		is_near(z[i], wantz[i], 1e-13, "z of feature %d", i);
	}
	is_near(p[0], 2 * (1 - gw_norm_cdf(0.73 / sqrt(vend))), 1e-14,
	    "p two-sided");
	ok(gw_local_moran(5, c, &nb, I, z, p) == -1, "constant field refused");
	gw_nbr_free(&nb);
}

/* Standard normal deviates by Box-Muller from the project's generator. */
static double
rnorm(struct gw_rng *r)
{
	double	 u = (gw_rng_next(r) >> 11) * 0x1.0p-53;
	double	 v = (gw_rng_next(r) >> 11) * 0x1.0p-53;

	return sqrt(-2 * log(u + 0x1.0p-60)) * cos(2 * M_PI * v);
}

static void
test_permutations(void)
{
	/*
	 * 900 features on a 30 x 30 lattice, rook neighbours, row
	 * standardized, normal values.  With enough permutations the pseudo
	 * p-values approach the analytic ones (both test against randomness
	 * of the values over the locations) under conditional randomization;
	 * the total-randomization ones differ by design (see stats.h).
	 */
	enum { S = 30, N = S * S, PERM = 9999 };
	struct gw_nbr	 nb;
	struct gw_rng	 r;
	double		*x, *pa, *pp, *pp2, diff = 0, maxd = 0;
	size_t		 i, m = 0;
	int		 row, col, same = 1;

	x = calloc(N, sizeof(*x));
	pa = calloc(N, sizeof(*pa));
	pp = calloc(N, sizeof(*pp));
	pp2 = calloc(N, sizeof(*pp2));
	if (x == NULL || pa == NULL || pp == NULL || pp2 == NULL ||
	    gw_nbr_alloc(&nb, N, 4 * N) == -1)
		exit(1);
	gw_rng_seed(&r, 42);
	for (i = 0; i < N; i++)
		x[i] = 10 + 3 * rnorm(&r);
	for (i = 0; i < N; i++) {
		row = (int)(i / S);
		col = (int)(i % S);
		if (row > 0)
			nb.idx[m++] = (uint32_t)(i - S);
		if (col > 0)
			nb.idx[m++] = (uint32_t)(i - 1);
		if (col < S - 1)
			nb.idx[m++] = (uint32_t)(i + 1);
		if (row < S - 1)
			nb.idx[m++] = (uint32_t)(i + S);
		nb.start[i + 1] = m;
	}
	for (i = 0; i < m; i++)
		nb.w[i] = 1;
	gw_nbr_row_standardize(&nb);
	gw_local_moran_cond(N, x, &nb, NULL, pa);
	ok(gw_local_moran_perm(N, x, &nb, PERM, 7, pp, NULL, NULL) == 0,
	    "permutations run");
	for (i = 0; i < N; i++) {
		diff += fabs(pp[i] - pa[i]);
		if (fabs(pp[i] - pa[i]) > maxd)
			maxd = fabs(pp[i] - pa[i]);
	}
	diff /= N;
	printf("# mean |pseudo p - analytic p| = %.4f, max %.4f\n", diff, maxd);
	ok(diff < 0.012, "pseudo p-values close to conditional analytic ones (mean diff %.4f)",
	    diff);
	ok(maxd < 0.06, "and no feature far off (max diff %.4f)", maxd);
	gw_local_moran_perm(N, x, &nb, PERM, 7, pp2, NULL, NULL);
	for (i = 0; i < N; i++)
		if (pp[i] != pp2[i])
			same = 0;
	ok(same, "same seed, same pseudo p-values");
	gw_local_moran_perm(N, x, &nb, 99, 8, pp2, NULL, NULL);
	same = 1;
	for (i = 0; i < N; i++)
		if (pp2[i] < 2.0 / 100 - 1e-15 || pp2[i] > 1)
			same = 0;
	ok(same, "99 permutations: p in [0.02, 1]");
	gw_nbr_free(&nb);
	free(x);
	free(pa);
	free(pp);
	free(pp2);
}

static void
test_ann(void)
{
	struct gw_ann	 a;
	double		 d[9] = { 1, 1, 1, 1, 1, 1, 1, 1, 1 };

	/*
	 * A 3 x 3 grid of unit spacing: every nearest distance is 1; its
	 * enclosing rectangle is 2 x 2 = 4.  D_E = 0.5 / sqrt(9 / 4) = 1/3,
	 * ratio 3, SE = 0.26136 / sqrt(81 / 4) = 0.26136 / 4.5,
	 * z = (2/3) / (0.26136 / 4.5) = 11.4784...
	 */
	ok(gw_ann(9, d, 4, &a) == 0, "ann runs");
	is_near(a.observed, 1, 1e-15, "ANN observed");
	is_near(a.expected, 1.0 / 3, 1e-15, "ANN expected");
	is_near(a.ratio, 3, 1e-14, "ANN ratio");
	is_near(a.zscore, (2.0 / 3) / (0.26136 / 4.5), 1e-14, "ANN z");
	ok(a.pvalue < 1e-29, "ANN p tiny");
	ok(gw_ann(1, d, 4, &a) == -1, "one point refused");
	ok(gw_ann(9, d, 0, &a) == -1, "zero area refused");
}

int
main(void)
{
	test_normal();
	test_fdr();
	test_gistar();
	test_local_moran();
	test_permutations();
	test_ann();
	return done_testing();
}

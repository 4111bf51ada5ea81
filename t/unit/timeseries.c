/*
 * t/unit/timeseries.c: unit tests of hotspot_timeseries' pure code: the
 * Mann-Kendall test against hand-worked values (checked once with R's
 * cor.test(x, seq_along(x), method = "kendall", exact = FALSE); the
 * integration test t/410 compares with R at test time), the classification
 * rules on planted series, the cube's binning and its space-time Gi*
 * against a brute-force computation written out here from the formula.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "num/cube.h"
#include "num/mannkendall.h"

static void
test_mk(void)
{
	struct mk_result r;
	const double	 ties[] = { 1, 2, 2, 3, 1 };
	const double	 up[] = { 1, 2, 3, 4, 5, 6 };
	const double	 flat[] = { 4, 4, 4 };

	/*
	 * By hand: S = 3 + 0 + 0 - 1 = 2; n = 5, ties {1,1} and {2,2}:
	 * Var = (5*4*15 - 2 * 2*1*9) / 18 = 264 / 18; z = 2 / sqrt(264/18)
	 * = 0.522232967867094; p = 0.60150813444059; tau_b = 2 /
	 * sqrt((10 - 2) * 10) = 0.223606797749979 (R agrees).
	 */
	ok(mk_test(ties, 5, &r) == 0, "mk_test on a series with ties");
	is_near(r.s, 2, 1e-15, "S with ties");
	is_near(r.var, 264.0 / 18, 1e-15, "Var(S) with the tie correction");
	is_near(r.z, 0.522232967867094, 1e-12, "z with ties");
	is_near(r.p, 0.60150813444059, 1e-12, "p with ties");
	is_near(r.tau, 0.223606797749979, 1e-12, "tau_b with ties");

	/* Strictly increasing, n = 6: S = 15, Var = 6*5*17/18 = 28.333,
	 * z = 15 / sqrt(28.333) = 2.81798226... */
	ok(mk_test(up, 6, &r) == 0, "mk_test increasing");
	is_near(r.z, 15 / sqrt(6.0 * 5 * 17 / 18), 1e-14, "z increasing");
	is_near(r.tau, 1, 1e-15, "tau 1 when increasing");
	ok(mk_test(flat, 3, &r) == 0 && r.constant && r.z == 0 && r.p == 1,
	    "a constant series has no trend (z 0, p 1)");
	ok(mk_test(up, 1, &r) == -1, "one value: no test");

	/* S by the merge sort equals S over all pairs, on series of every
	 * length up to 300 with many ties (values 0..6). */
	{
		double		 x[300], S;
		size_t		 n, i, j;
		unsigned	 seed = 7;
		int		 bad = 0;

		for (n = 2; n <= 300; n++) {
			for (i = 0; i < n; i++) {
				seed = seed * 1103515245 + 12345;
				x[i] = (seed >> 16) % 7;
			}
			S = 0;
			for (i = 0; i + 1 < n; i++)
				for (j = i + 1; j < n; j++)
					S += (x[j] > x[i]) - (x[j] < x[i]);
			if (mk_test(x, n, &r) == -1 || r.s != S)
				bad++;
		}
		ok(bad == 0, "S by merge sort equals S over all pairs (n 2..300)");
	}
}

struct plant {
	const char	*name;
	signed char	 sig[10];
	double		 z, p;
};

/* One series per category, n = 10 steps, each planted so that exactly one
 * rule of doc/hotspot_timeseries.md applies. */
static const struct plant plants[] = {
	{ "no_pattern", { 0, 0, 0, 1, 0, 0, 0, 0, 0, 0 }, 0.1, 0.9 },
	{ "new_hot_spot", { 0, 0, 0, 0, 0, 0, 0, 0, 0, 2 }, 2.5, 0.01 },
	{ "consecutive_hot_spot", { 0, 0, 0, 0, 0, 0, 0, 1, 3, 2 }, 3, .002 },
	{ "intensifying_hot_spot", { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 }, 3, .002 },
	{ "persistent_hot_spot", { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 }, 1, 0.3 },
	{ "diminishing_hot_spot", { 3, 3, 3, 3, 0, 2, 2, 1, 1, 1 }, -3, .002 },
	{ "sporadic_hot_spot", { 0, 1, 0, 0, 1, 0, 0, 0, 1, 1 }, 1, 0.3 },
	{ "oscillating_hot_spot", { 0, -1, 0, 0, 0, 0, 0, 0, 0, 1 }, 1, 0.3 },
	{ "historical_hot_spot", { 1, 1, 1, 1, 1, 1, 1, 1, 1, 0 }, -1, 0.3 },
	{ "new_cold_spot", { 0, 0, 0, 0, 0, 0, 0, 0, 0, -1 }, -2.5, 0.01 },
	{ "consecutive_cold_spot", { 0, 0, 0, 0, 0, 0, -1, -1, -1, -1 }, -3,
	    .002 },
	{ "intensifying_cold_spot", { -1, -1, -1, -1, -1, -1, -1, -1, -1, -3 },
	    -3, .002 },
	{ "persistent_cold_spot", { -1, -1, -1, -1, -1, -1, 0, -1, -1, -1 },
	    0.2, 0.8 },
	{ "diminishing_cold_spot", { -3, -3, -3, -3, -3, -3, -3, -2, -1, -1 },
	    3, .002 },
	{ "sporadic_cold_spot", { -1, 0, -1, 0, -1, 0, 0, -1, 0, -1 }, 0, 1 },
	{ "oscillating_cold_spot", { 1, 1, 1, 1, 1, 1, 1, 1, 1, -1 }, -3,
	    .002 },
	{ "historical_cold_spot", { -1, -1, -1, -1, -1, -1, -1, -1, -1, 0 }, 1,
	    0.3 },
};

static void
test_classify(void)
{
	size_t		 i;
	int		 seen[EHS_NCATEGORIES];
	enum ehs_category c;
	const signed char nine_hot[10] = { 0, 1, 1, 1, 1, 1, 1, 1, 1, 1 };
	const signed char eight_hot[10] = { 0, 0, 1, 1, 1, 1, 1, 1, 1, 1 };
	const signed char cold_then_new[10] = { -1, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
	const signed char eight_of_ten_then_off[10] =
	    { 1, 1, 1, 0, 1, 1, 1, 1, 1, 0 };

	memset(seen, 0, sizeof(seen));
	for (i = 0; i < sizeof(plants) / sizeof(plants[0]); i++) {
		c = ehs_classify(plants[i].sig, 10, plants[i].z, plants[i].p);
		ok(strcmp(ehs_category_name(c), plants[i].name) == 0,
		    "planted %s classified %s", plants[i].name,
		    ehs_category_name(c));
		seen[c]++;
	}
	for (i = 0; i < EHS_NCATEGORIES; i++)
		if (seen[i] != 1)
			break;
	ok(i == EHS_NCATEGORIES, "each of the 17 categories exactly once");

	/* The 90 % threshold: 9 of 10 counts, 8 of 10 does not. */
	ok(ehs_classify(nine_hot, 10, 2.5, 0.01) == EHS_INTENSIFYING_HOT,
	    "9 hot of 10 with a rising trend: intensifying");
	ok(ehs_classify(eight_hot, 10, 2.5, 0.01) == EHS_CONSECUTIVE_HOT,
	    "8 hot of 10 in a final run: consecutive, not intensifying");
	/* A trend at p = 0.05 exactly is not significant (p < 0.05). */
	ok(ehs_classify(nine_hot, 10, 2.5, 0.05) == EHS_PERSISTENT_HOT,
	    "trend p = 0.05 is not significant: persistent");
	/* A past cold spot makes a first hot spot oscillating, not new. */
	ok(ehs_classify(cold_then_new, 10, 1, 0.3) == EHS_OSCILLATING_HOT,
	    "cold then hot at the end: oscillating, not new");
	/* Final step not hot with 90 % hot before: historical, whatever
	 * the trend. */
	ok(ehs_classify(eight_of_ten_then_off, 10, 0, 1) == EHS_NO_PATTERN,
	    "8 hot of 10 and the final not: no pattern");
	ok(ehs_classify(plants[8].sig, 10, 3, 0.001) == EHS_HISTORICAL_HOT,
	    "historical hot whatever the trend");
}

/* The same Gi* written out bin by bin from the formula, O(bins^2). */
static void
brute_gistar(const struct cube *c, double dist, int k, double *z)
{
	size_t	 n = c->nloc * (size_t)c->nsteps, i, j;
	int	 t, s;
	double	 mean = 0, ss = 0, S, W, sum, dx, dy;

	for (i = 0; i < n; i++)
		mean += c->val[i];
	mean /= n;
	for (i = 0; i < n; i++)
		ss += (c->val[i] - mean) * (c->val[i] - mean);
	S = sqrt(ss / n);
	for (i = 0; i < c->nloc; i++)
		for (t = 0; t < c->nsteps; t++) {
			W = sum = 0;
			for (j = 0; j < c->nloc; j++) {
				dx = (c->col[j] - c->col[i]) * c->cell;
				dy = (c->row[j] - c->row[i]) * c->cell;
				if (sqrt(dx * dx + dy * dy) > dist)
					continue;
				for (s = 0; s < c->nsteps; s++)
					if (s <= t && s >= t - k) {
						W += 1;
						sum += c->val[j * c->nsteps + s];
					}
			}
			z[i * c->nsteps + t] = (sum - mean * W) /
			    (S * sqrt((n * W - W * W) / (n - 1)));
		}
}

static void
test_cube(void)
{
	struct cube	 c;
	double		*z, *p, *bz, d, worst;
	int		*nn, t, x, y;
	size_t		 i, n;
	unsigned	 seed = 12345;

	ok(cube_init(&c, 10, 100, 200, 6) == 0, "cube_init");
	/* Points land in cell floor((x - 100) / 10), floor((y - 200) / 10). */
	ok(cube_add(&c, 100.0, 200.0, 0, 1) == 0 &&
	    cube_add(&c, 109.99, 209.99, 0, 1) == 0 &&
	    cube_add(&c, 110.0, 200.0, 2, 5) == 0, "cube_add");
	ok(c.nloc == 2, "two locations");
	ok(cube_find(&c, 0, 0) == 0 && cube_find(&c, 1, 0) == 1 &&
	    cube_find(&c, 0, 1) == -1, "cube_find");
	ok(c.val[0] == 2 && c.val[6 + 2] == 5, "values summed in bins");
	ok(cube_add(&c, 100, 200, 6, 1) == -1, "step out of range refused");
	ok(cube_nearest_distance(&c, &d) == 0 && fabs(d - 10) < 1e-12,
	    "nearest distance of two adjacent cells is one cell");
	/* A far outlier: 3 cells right, 4 up of (1, 0) makes 50 m; the scan
	 * of every location finds it when the rings would be too many. */
	ok(cube_add(&c, 110 + 30 + 5, 200 + 40 + 5, 1, 1) == 0 &&
	    cube_nearest_distance(&c, &d) == 0 && fabs(d - 50) < 1e-12,
	    "nearest distance of an outlier 3 x 4 cells away: 50 m");
	/* Cell (1000, 0): nearest is (4, 4), 996 x 4 cells away. */
	ok(cube_add(&c, 100 + 10000, 200, 1, 1) == 0 &&
	    cube_nearest_distance(&c, &d) == 0 &&
	    fabs(d - 10 * sqrt(996.0 * 996 + 16)) < 1e-9,
	    "an outlier 1000 cells away: %.3f m", d);
	cube_free(&c);

	/* A sparse 9 x 7 grid, 6 steps, pseudo-random counts; about a
	 * quarter of the cells never get a point. */
	ok(cube_init(&c, 25, 0, 0, 6) == 0, "cube_init 2");
	for (x = 0; x < 9; x++)
		for (y = 0; y < 7; y++) {
			seed = seed * 1103515245 + 12345;
			if ((seed >> 16) % 4 == 0)
				continue;
			for (t = 0; t < 6; t++) {
				seed = seed * 1103515245 + 12345;
				cube_add(&c, x * 25 + 12.5, y * 25 + 3, t,
				    (seed >> 16) % 7);
			}
		}
	n = c.nloc * 6;
	z = calloc(n, sizeof(*z));
	p = calloc(n, sizeof(*p));
	bz = calloc(n, sizeof(*bz));
	nn = calloc(c.nloc, sizeof(*nn));
	if (z == NULL || p == NULL || bz == NULL || nn == NULL)
		exit(1);
	/* 25 .. 60 m look up the cells of the disc; 200 m holds more cells
	 * than there are locations and compares every pair instead. */
	for (d = 25; d <= 200; d += d < 60 ? 17.5 : 140) {
		for (t = 0; t <= 2; t++) {
			ok(cube_gistar(&c, d, t, z, p, nn) == 0, "cube_gistar "
			    "d %g k %d", d, t);
			brute_gistar(&c, d, t, bz);
			worst = 0;
			for (i = 0; i < n; i++)
				if (fabs(z[i] - bz[i]) > worst)
					worst = fabs(z[i] - bz[i]);
			ok(worst < 1e-10, "Gi* equals the brute force "
			    "(d %g, k %d): max diff %g", d, t, worst);
			is_near(p[7], erfc(fabs(bz[7]) / sqrt(2)), 1e-12,
			    "p two-sided");
		}
	}
	/* A distance of exactly one cell includes the rook neighbours. */
	cube_gistar(&c, 25, 0, z, p, nn);
	for (i = 0; i < c.nloc; i++) {
		int	 want = 1, e;
		const int dd[4][2] = { { 1, 0 }, { -1, 0 }, { 0, 1 }, { 0, -1 } };

		for (e = 0; e < 4; e++)
			want += cube_find(&c, c.col[i] + dd[e][0],
			    c.row[i] + dd[e][1]) != -1;
		if (nn[i] != want)
			break;
	}
	ok(i == c.nloc, "distance of one cell: self and rook neighbours");
	free(z);
	free(p);
	free(bz);
	free(nn);
	cube_free(&c);

	/* Every value equal: Gi* undefined. */
	cube_init(&c, 1, 0, 0, 2);
	cube_add(&c, 0, 0, 0, 1);
	cube_add(&c, 0, 0, 1, 1);
	cube_add(&c, 5, 0, 0, 1);
	cube_add(&c, 5, 0, 1, 1);
	{
		double	 zz[4], pp[4];

		ok(cube_gistar(&c, 10, 1, zz, pp, NULL) == 1 && isnan(zz[0]),
		    "constant cube: Gi* undefined");
	}
	cube_free(&c);
}

int
main(void)
{
	test_mk();
	test_classify();
	test_cube();
	return done_testing();
}

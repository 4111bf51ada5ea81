/*
 * mannkendall.c: the Mann-Kendall trend test and the Emerging Hot Spot
 * Analysis classification (see mannkendall.h).
 *
 * NOTES
 *   S is counted in O(n log n): time has no ties, so S = T0 - T1 - 2 D,
 *   with T0 = n(n-1)/2 pairs, T1 the pairs of equal values and D the
 *   discordant pairs, the strict inversions found by a merge sort; the
 *   sorted copy then gives the tie groups.  t/unit/timeseries compares it
 *   with the count over all pairs.
 *
 *   The classification rules follow ArcGIS Pro's "How Emerging Hot Spot
 *   Analysis works"; where its words leave two categories possible, the
 *   order of the tests below decides, and doc/hotspot_timeseries.md says so.
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "num/mannkendall.h"
#include "num/stats.h"

/*
 * Sorts x[0..n) ascending (stable merge sort, tmp of n) and returns the
 * number of strict inversions, pairs i < j with x[i] > x[j]: the
 * discordant pairs of the series against time.  Equal values are never
 * counted, whichever comes first.
 */
static double
sort_inversions(double *x, double *tmp, size_t n)
{
	size_t	 h, i, j, k;
	double	 inv;

	if (n < 2)
		return 0;
	h = n / 2;
	inv = sort_inversions(x, tmp, h) + sort_inversions(x + h, tmp, n - h);
	for (i = 0, j = h, k = 0; i < h && j < n; k++) {
		if (x[i] <= x[j])
			tmp[k] = x[i++];
		else {
			tmp[k] = x[j++];
			inv += (double)(h - i);
		}
	}
	while (i < h)
		tmp[k++] = x[i++];
	while (j < n)
		tmp[k++] = x[j++];
	memcpy(x, tmp, n * sizeof(*x));
	return inv;
}

int
mk_test(const double *x, size_t n, struct mk_result *out)
{
	double	*s;
	double	 S, disc, t0, t1 = 0, vt = 0, var, t;
	size_t	 i, j;

	if (n < 2)
		return -1;
	if ((s = calloc(2 * n, sizeof(*s))) == NULL)
		return -1;
	memcpy(s, x, n * sizeof(*s));
	/* With time strictly increasing, S = concordant - discordant pairs
	 * = (T0 - T1 - D) - D: O(n log n) instead of comparing all pairs. */
	disc = sort_inversions(s, s + n, n);
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && s[j] == s[i]; j++)
			;
		t = (double)(j - i);
		if (t > 1) {
			t1 += t * (t - 1) / 2;
			vt += t * (t - 1) * (2 * t + 5);
		}
	}
	free(s);

	t0 = (double)n * (double)(n - 1) / 2;
	S = t0 - t1 - 2 * disc;
	var = ((double)n * (double)(n - 1) * (double)(2 * n + 5) - vt) / 18;
	memset(out, 0, sizeof(*out));
	out->s = S;
	out->var = var;
	if (var <= 0 || t0 - t1 <= 0) {
		out->z = 0;
		out->p = 1;
		out->tau = 0;
		out->constant = 1;
		return 0;
	}
	out->z = S / sqrt(var);
	out->p = gw_pvalue_2sided(out->z);
	out->tau = S / sqrt((t0 - t1) * t0);
	return 0;
}

static const char *const names[EHS_NCATEGORIES] = {
	"no_pattern",
	"new_hot_spot",
	"consecutive_hot_spot",
	"intensifying_hot_spot",
	"persistent_hot_spot",
	"diminishing_hot_spot",
	"sporadic_hot_spot",
	"oscillating_hot_spot",
	"historical_hot_spot",
	"new_cold_spot",
	"consecutive_cold_spot",
	"intensifying_cold_spot",
	"persistent_cold_spot",
	"diminishing_cold_spot",
	"sporadic_cold_spot",
	"oscillating_cold_spot",
	"historical_cold_spot",
};

const char *
ehs_category_name(enum ehs_category c)
{
	if ((int)c < 0 || c >= EHS_NCATEGORIES)
		return "no_pattern";
	return names[c];
}

/*
 * The categories of a location whose final bin has the sign sign (+1 hot,
 * -1 cold), read on the series as "same" (bins of that sign) and "other"
 * (bins of the opposite sign).  base is EHS_NEW_HOT or EHS_NEW_COLD; the hot
 * and cold enums are laid out in the same order.  A trend "with" the sign is
 * one that makes the spot more intense: rising z for hot, falling for cold.
 */
static enum ehs_category
classify_final(const signed char *sig, size_t n, int sign, double trend_z,
    double trend_p, enum ehs_category base)
{
	size_t	 same = 0, other = 0, run = 0, t;
	int	 intensifying, diminishing;

	for (t = 0; t < n; t++) {
		if (sig[t] * sign > 0)
			same++;
		else if (sig[t] * sign < 0)
			other++;
	}
	for (t = n; t > 0 && sig[t - 1] * sign > 0; t--)
		run++;

	/* At least 90 % of the time steps, the final one among them. */
	if (same * 10 >= n * 9) {
		intensifying = trend_p < EHS_TREND_ALPHA && trend_z * sign > 0;
		diminishing = trend_p < EHS_TREND_ALPHA && trend_z * sign < 0;
		if (intensifying)
			return base + (EHS_INTENSIFYING_HOT - EHS_NEW_HOT);
		if (diminishing)
			return base + (EHS_DIMINISHING_HOT - EHS_NEW_HOT);
		return base + (EHS_PERSISTENT_HOT - EHS_NEW_HOT);
	}
	/* Less than 90 % from here on. */
	if (other > 0)
		return base + (EHS_OSCILLATING_HOT - EHS_NEW_HOT);
	if (same == 1)
		return base;
	if (run >= 2 && run == same)
		return base + (EHS_CONSECUTIVE_HOT - EHS_NEW_HOT);
	return base + (EHS_SPORADIC_HOT - EHS_NEW_HOT);
}

enum ehs_category
ehs_classify(const signed char *sig, size_t n, double trend_z, double trend_p)
{
	size_t	 hot = 0, cold = 0, t;

	if (n == 0)
		return EHS_NO_PATTERN;
	if (sig[n - 1] > 0)
		return classify_final(sig, n, 1, trend_z, trend_p, EHS_NEW_HOT);
	if (sig[n - 1] < 0)
		return classify_final(sig, n, -1, trend_z, trend_p,
		    EHS_NEW_COLD);

	/* The final step is not significant: only a long history counts. */
	for (t = 0; t < n; t++) {
		if (sig[t] > 0)
			hot++;
		else if (sig[t] < 0)
			cold++;
	}
	if (hot * 10 >= n * 9)
		return EHS_HISTORICAL_HOT;
	if (cold * 10 >= n * 9)
		return EHS_HISTORICAL_COLD;
	return EHS_NO_PATTERN;
}

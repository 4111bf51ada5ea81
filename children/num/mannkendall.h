/*
 * mannkendall.h: the Mann-Kendall trend test and the Emerging Hot Spot
 * Analysis classification of a location (hotspot_timeseries).
 *
 * NOTES
 *   Pure arithmetic on plain arrays; nothing here touches the database, so
 *   the unit tests link it alone.  doc/hotspot_timeseries.md writes the
 *   classification rules out in words; ehs_classify() is their only
 *   implementation.
 */
#ifndef GW_MANNKENDALL_H
#define GW_MANNKENDALL_H

#include <stddef.h>

/*
 * Mann-Kendall trend of a series against time, as R's
 * cor.test(x, seq_along(x), method = "kendall", exact = FALSE) computes it:
 *   S = sum_{i<j} sign(x_j - x_i),
 *   Var(S) = (n(n-1)(2n+5) - sum_t t(t-1)(2t+5)) / 18   (t: sizes of ties),
 *   z = S / sqrt(Var(S)) (no continuity correction), p = 2 (1 - Phi(|z|)),
 *   tau_b = S / sqrt((n(n-1)/2 - sum t(t-1)/2) n(n-1)/2).
 * A positive z is an upward trend.  When every value is equal (Var(S) = 0)
 * there is no trend to measure: z = 0, p = 1, tau = 0 and *constant = 1.
 */
struct mk_result {
	double		 s;
	double		 var;
	double		 z;
	double		 p;
	double		 tau;
	int		 constant;
};

/* Returns 0, or -1 when n < 2 or out of memory (nothing is set then). */
int	 mk_test(const double *x, size_t n, struct mk_result *out);

/* The categories of ArcGIS Pro's Emerging Hot Spot Analysis. */
enum ehs_category {
	EHS_NO_PATTERN = 0,
	EHS_NEW_HOT,
	EHS_CONSECUTIVE_HOT,
	EHS_INTENSIFYING_HOT,
	EHS_PERSISTENT_HOT,
	EHS_DIMINISHING_HOT,
	EHS_SPORADIC_HOT,
	EHS_OSCILLATING_HOT,
	EHS_HISTORICAL_HOT,
	EHS_NEW_COLD,
	EHS_CONSECUTIVE_COLD,
	EHS_INTENSIFYING_COLD,
	EHS_PERSISTENT_COLD,
	EHS_DIMINISHING_COLD,
	EHS_SPORADIC_COLD,
	EHS_OSCILLATING_COLD,
	EHS_HISTORICAL_COLD,
	EHS_NCATEGORIES
};

/* "no_pattern", "new_hot_spot", ... "historical_cold_spot". */
const char *ehs_category_name(enum ehs_category);

/* Significance level of the Mann-Kendall trend in the classification. */
#define EHS_TREND_ALPHA	0.05

/*
 * ehs_classify: the category of a location from the significance of its n
 * bins in time order (sig[t] > 0: hot spot, < 0: cold spot, 0: not
 * significant) and the Mann-Kendall trend of its Gi* z-scores (trend_z,
 * trend_p).  n >= 1.
 */
enum ehs_category ehs_classify(const signed char *sig, size_t n,
	    double trend_z, double trend_p);

#endif

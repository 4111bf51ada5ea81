/*
 * stats.h: the spatial statistics shared by the job programs: the normal
 * distribution, Benjamini-Hochberg false discovery rate, Getis-Ord Gi*,
 * Anselin Local Moran's I (analytic and conditional permutation) and the
 * Average Nearest Neighbor summary.
 *
 * NOTES
 *   Everything here is pure arithmetic on plain arrays: no database, no GEOS,
 *   no PROJ, so that any job program (hotspot_analysis, outlier_analysis,
 *   hotspot_timeseries) and the unit tests can use it.  Neighbours are given
 *   as a compressed sparse row structure (struct gw_nbr) that never lists a
 *   feature as its own neighbour; Gi* adds the feature itself explicitly.
 *
 *   The formulas are those of R spdep 1.2-7 (localG with include.self(),
 *   localmoran(..., mlvar = FALSE, conditional = FALSE)); the doc/ pages say how
 *   they relate to ArcGIS Pro.  A statistic that is undefined (no neighbour,
 *   zero variance) is NAN; callers store NAN as SQL NULL.
 *
 *   Functions return 0 on success and -1 on failure (only out of memory, or
 *   bad arguments) unless their comment says otherwise.
 */
#ifndef GW_STATS_H
#define GW_STATS_H

#include <stddef.h>
#include <stdint.h>

/*
 * Neighbours in compressed sparse row form: the neighbours of feature i are
 * idx[start[i]] .. idx[start[i + 1] - 1], with weights w[] at the same
 * positions.  start has n + 1 entries.  A feature is never its own neighbour
 * here.  Owned by whoever filled it; gw_nbr_free() releases the arrays.
 */
struct gw_nbr {
	size_t		 n;
	size_t		*start;
	uint32_t	*idx;
	double		*w;
};

/* Allocates start (n + 1, zeroed) and room for nnz neighbours. */
int	 gw_nbr_alloc(struct gw_nbr *, size_t n, size_t nnz);
void	 gw_nbr_free(struct gw_nbr *);
/* Number of neighbours of feature i. */
#define GW_NBR_COUNT(nb, i)	((nb)->start[(i) + 1] - (nb)->start[(i)])
/* Divides every weight by its row sum (rows without neighbours stay empty). */
void	 gw_nbr_row_standardize(struct gw_nbr *);

/* Standard normal distribution: Phi(z), 1 - Phi(z) accurate in the upper
 * tail, and the two-sided p-value 2 * (1 - Phi(|z|)).  NAN in, NAN out. */
double	 gw_norm_cdf(double z);
double	 gw_norm_sf(double z);
double	 gw_pvalue_2sided(double z);

/*
 * Benjamini-Hochberg: of the n p-values (NAN ones are ignored and do not
 * count in m), returns the largest p(k) with p(k) <= k / m * alpha, the
 * critical p-value at false discovery rate alpha; a p-value is significant
 * when p <= the returned value.  Returns 0 when none is significant (and
 * -1 when out of memory).  This is how ArcGIS applies FDR to its bins.
 */
double	 gw_fdr_threshold(size_t n, const double *p, double alpha);

/*
 * Confidence bin of a Gi* z-score (ArcGIS's Gi_Bin): +-3 for p <= t99,
 * +-2 for p <= t95, +-1 for p <= t90, else 0, the sign of z.  The thresholds
 * are 0.01, 0.05, 0.10 without FDR, or gw_fdr_threshold() at those alphas.
 */
int	 gw_gi_bin(double z, double p, double t90, double t95, double t99);

/*
 * Getis-Ord Gi*: z-scores of the n values x (no NAN) with weights nb plus the
 * feature itself with weight self_w (1 for binary weights).  A feature with
 * no neighbour (besides itself) gets NAN, as does every feature when x is
 * constant.  z and p (two-sided, may be NULL) have n entries.
 *   G*_i = (sum_j w_ij x_j - W_i xbar) /
 *          (s sqrt((n S1_i - W_i^2) / (n - 1))),
 *   s^2 = sum (x - xbar)^2 / n, W_i = sum_j w_ij, S1_i = sum_j w_ij^2,
 * sums over j including i.
 */
int	 gw_gistar(size_t n, const double *x, const struct gw_nbr *nb,
	    double self_w, double *z, double *p);

/*
 * Anselin Local Moran's I with total-randomization variance (spdep
 * localmoran, mlvar = FALSE, conditional = FALSE): with z = x - xbar,
 * s2 = sum z^2 / (n - 1), b2 = (sum z^4 / (n - 1)) / s2^2,
 *   I_i = z_i / s2 * sum_j w_ij z_j,       E[I_i] = -W_i / (n - 1),
 *   V[I_i] = W2_i (n - b2) / (n - 1)
 *          + (W_i^2 - W2_i) (2 b2 - n) / ((n - 1)(n - 2)) - E[I_i]^2.
 * Any of I, z, p (two-sided) may be NULL.  Features without neighbours get
 * NAN; a constant x fails (returns -1): nothing can be computed.
 */
int	 gw_local_moran(size_t n, const double *x, const struct gw_nbr *nb,
	    double *I, double *z, double *p);

/*
 * The same statistic tested under conditional randomization (x_i held at
 * its place, the other n - 1 values permuted: Sokal, Oden and Thomson 1998;
 * spdep localmoran(..., conditional = TRUE, mlvar = TRUE)): with
 * m2 = sum z^2 / n, I_i = z_i / m2 * sum_j w_ij z_j,
 *   E[I_i] = -z_i^2 W_i / ((n - 1) m2),
 *   V[I_i] = (z_i / m2)^2 n / (n - 2) (W2_i - W_i^2 / (n - 1))
 *            (m2 - z_i^2 / (n - 1)).
 * These are the moments the permutations below sample, so their pseudo
 * p-values converge to these p-values, not to gw_local_moran()'s.
 */
int	 gw_local_moran_cond(size_t n, const double *x, const struct gw_nbr *nb,
	    double *z, double *p);

/*
 * Conditional permutation pseudo p-values of Local Moran's I: for each
 * feature the values of the other n - 1 features are drawn without
 * replacement onto its neighbours nperm times; with R the number of draws
 * whose I_i is >= the observed one and L the number <=, the folded two-sided
 * pseudo p-value is min(1, 2 (min(R, L) + 1) / (nperm + 1)).  The draws come
 * from a xoshiro256** generator seeded from seed and the feature's index, so
 * the result does not depend on the order of work.  progress (may be NULL)
 * is called now and then with the fraction done.
 */
int	 gw_local_moran_perm(size_t n, const double *x, const struct gw_nbr *nb,
	    unsigned nperm, uint64_t seed, double *p,
	    void (*progress)(void *, double), void *arg);

/* xoshiro256** seeded by splitmix64: reproducible on every platform. */
struct gw_rng {
	uint64_t	 s[4];
};
void	 gw_rng_seed(struct gw_rng *, uint64_t seed);
uint64_t gw_rng_next(struct gw_rng *);
uint64_t gw_rng_below(struct gw_rng *, uint64_t bound);	/* uniform 0..bound-1 */

/*
 * Average Nearest Neighbor (Clark and Evans 1954, as ArcGIS): from the n
 * nearest-neighbour distances d and the study area A,
 *   D_O = mean d, D_E = 0.5 / sqrt(n / A), ratio = D_O / D_E,
 *   SE = 0.26136 / sqrt(n^2 / A), z = (D_O - D_E) / SE, p two-sided.
 * Returns -1 when n < 2 or A <= 0.
 */
struct gw_ann {
	double		 observed;	/* mean distance */
	double		 expected;
	double		 ratio;
	double		 zscore;
	double		 pvalue;
	double		 area;
	size_t		 n;
};
int	 gw_ann(size_t n, const double *d, double area, struct gw_ann *);

#endif

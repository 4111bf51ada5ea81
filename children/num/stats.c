/*
 * stats.c: local spatial statistics on plain arrays (see stats.h).
 *
 * NOTES
 *   Sums of squares are taken around the mean (two passes), as R does, so
 *   that the z-scores agree with spdep to far better than 1e-9 on data with a
 *   large mean.  A statistic that is undefined is NAN, never 0: a geographer
 *   must be able to tell "not significant" from "not computed".
 *
 *   Nothing here allocates more than O(n) besides the neighbour lists, and
 *   everything allocated is freed before return.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "num/stats.h"

/* Up to this many neighbours, permutation draws are checked for repeats
 * by scanning the draws so far; above, with a stamp per feature. */
#define SMALL_K	32

int
gw_nbr_alloc(struct gw_nbr *nb, size_t n, size_t nnz)
{
	memset(nb, 0, sizeof(*nb));
	nb->n = n;
	if ((nb->start = calloc(n + 1, sizeof(*nb->start))) == NULL)
		goto fail;
	if ((nb->idx = calloc(nnz ? nnz : 1, sizeof(*nb->idx))) == NULL)
		goto fail;
	if ((nb->w = calloc(nnz ? nnz : 1, sizeof(*nb->w))) == NULL)
		goto fail;
	return 0;
fail:
	gw_nbr_free(nb);
	return -1;
}

void
gw_nbr_free(struct gw_nbr *nb)
{
	free(nb->start);
	free(nb->idx);
	free(nb->w);
	memset(nb, 0, sizeof(*nb));
}

void
gw_nbr_row_standardize(struct gw_nbr *nb)
{
	size_t	 i, j;
	double	 s;

	for (i = 0; i < nb->n; i++) {
		s = 0;
		for (j = nb->start[i]; j < nb->start[i + 1]; j++)
			s += nb->w[j];
		if (s == 0)
			continue;
		for (j = nb->start[i]; j < nb->start[i + 1]; j++)
			nb->w[j] /= s;
	}
}

double
gw_norm_cdf(double z)
{
	if (isnan(z))
		return NAN;
	return 0.5 * erfc(-z / M_SQRT2);
}

double
gw_norm_sf(double z)
{
	if (isnan(z))
		return NAN;
	return 0.5 * erfc(z / M_SQRT2);
}

double
gw_pvalue_2sided(double z)
{
	if (isnan(z))
		return NAN;
	return erfc(fabs(z) / M_SQRT2);
}

static int
cmp_double(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double
gw_fdr_threshold(size_t n, const double *p, double alpha)
{
	double	*s, thr = 0;
	size_t	 i, m = 0;

	if ((s = calloc(n ? n : 1, sizeof(*s))) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		if (!isnan(p[i]))
			s[m++] = p[i];
	qsort(s, m, sizeof(*s), cmp_double);
	/* The largest rank k whose p-value is under its BH line, not the
	 * first one above it: the step-up procedure. */
	for (i = m; i > 0; i--) {
		if (s[i - 1] <= (double)i / (double)m * alpha) {
			thr = s[i - 1];
			break;
		}
	}
	free(s);
	return thr;
}

int
gw_gi_bin(double z, double p, double t90, double t95, double t99)
{
	int	 b;

	if (isnan(z) || isnan(p))
		return 0;
	if (p <= t99)
		b = 3;
	else if (p <= t95)
		b = 2;
	else if (p <= t90)
		b = 1;
	else
		return 0;
	return z < 0 ? -b : b;
}

/* Mean and sum of squared deviations of x, two passes.  Returns 1 when x is
 * constant (every value equal), 0 otherwise. */
static int
moments(size_t n, const double *x, double *mean, double *ss)
{
	size_t	 i;
	double	 s = 0, d;
	int	 constant = 1;

	for (i = 0; i < n; i++) {
		s += x[i];
		if (x[i] != x[0])
			constant = 0;
	}
	*mean = s / (double)n;
	s = 0;
	for (i = 0; i < n; i++) {
		d = x[i] - *mean;
		s += d * d;
	}
	*ss = s;
	return constant;
}

int
gw_gistar(size_t n, const double *x, const struct gw_nbr *nb, double self_w,
    double *z, double *p)
{
	size_t	 i, j;
	double	 mean, ss, s2, lx, W, S1, v, w;
	int	 constant;

	if (nb->n != n)
		return -1;
	if (n == 0)
		return 0;
	constant = moments(n, x, &mean, &ss);
	s2 = ss / (double)n;
	for (i = 0; i < n; i++) {
		if (constant || n < 2 || GW_NBR_COUNT(nb, i) == 0) {
			z[i] = NAN;
			if (p != NULL)
				p[i] = NAN;
			continue;
		}
		lx = self_w * x[i];
		W = self_w;
		S1 = self_w * self_w;
		for (j = nb->start[i]; j < nb->start[i + 1]; j++) {
			w = nb->w[j];
			lx += w * x[nb->idx[j]];
			W += w;
			S1 += w * w;
		}
		v = s2 * (((double)n * S1 - W * W) / (double)(n - 1));
		z[i] = v > 0 ? (lx - W * mean) / sqrt(v) : NAN;
		if (p != NULL)
			p[i] = gw_pvalue_2sided(z[i]);
	}
	return 0;
}

int
gw_local_moran(size_t n, const double *x, const struct gw_nbr *nb,
    double *I, double *z, double *p)
{
	double	*d = NULL;
	double	 mean, ss, s2, m4, b2, A, B, lz, Wi, W2, e, v, w, ii;
	size_t	 i, j;

	if (nb->n != n || n < 3)
		return -1;
	if (moments(n, x, &mean, &ss))
		return -1;
	if ((d = calloc(n, sizeof(*d))) == NULL)
		return -1;
	m4 = 0;
	for (i = 0; i < n; i++) {
		d[i] = x[i] - mean;
		m4 += d[i] * d[i] * d[i] * d[i];
	}
	s2 = ss / (double)(n - 1);
	b2 = (m4 / (double)(n - 1)) / (s2 * s2);
	A = ((double)n - b2) / (double)(n - 1);
	B = (2 * b2 - (double)n) / ((double)(n - 1) * (double)(n - 2));
	for (i = 0; i < n; i++) {
		if (GW_NBR_COUNT(nb, i) == 0) {
			if (I != NULL)
				I[i] = NAN;
			if (z != NULL)
				z[i] = NAN;
			if (p != NULL)
				p[i] = NAN;
			continue;
		}
		lz = Wi = W2 = 0;
		for (j = nb->start[i]; j < nb->start[i + 1]; j++) {
			w = nb->w[j];
			lz += w * d[nb->idx[j]];
			Wi += w;
			W2 += w * w;
		}
		ii = d[i] / s2 * lz;
		e = -Wi / (double)(n - 1);
		v = A * W2 + B * (Wi * Wi - W2) - e * e;
		if (I != NULL)
			I[i] = ii;
		if (z != NULL)
			z[i] = v > 0 ? (ii - e) / sqrt(v) : NAN;
		if (p != NULL)
			p[i] = v > 0 ? gw_pvalue_2sided((ii - e) / sqrt(v)) : NAN;
	}
	free(d);
	return 0;
}

int
gw_local_moran_cond(size_t n, const double *x, const struct gw_nbr *nb,
    double *z, double *p)
{
	double	 mean, ss, m2, lz, Wi, W2, ii, e, v, w, di, zz;
	size_t	 i, j;

	if (nb->n != n || n < 3)
		return -1;
	if (moments(n, x, &mean, &ss))
		return -1;
	m2 = ss / (double)n;
	for (i = 0; i < n; i++) {
		zz = NAN;
		if (GW_NBR_COUNT(nb, i) > 0) {
			di = x[i] - mean;
			lz = Wi = W2 = 0;
			for (j = nb->start[i]; j < nb->start[i + 1]; j++) {
				w = nb->w[j];
				lz += w * (x[nb->idx[j]] - mean);
				Wi += w;
				W2 += w * w;
			}
			ii = di / m2 * lz;
			e = -(di * di * Wi) / ((double)(n - 1) * m2);
			v = (di / m2) * (di / m2) * ((double)n / (double)(n - 2)) *
			    (W2 - Wi * Wi / (double)(n - 1)) *
			    (m2 - di * di / (double)(n - 1));
			if (v > 0)
				zz = (ii - e) / sqrt(v);
		}
		if (z != NULL)
			z[i] = zz;
		if (p != NULL)
			p[i] = gw_pvalue_2sided(zz);
	}
	return 0;
}

static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t	 z;

	z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void
gw_rng_seed(struct gw_rng *r, uint64_t seed)
{
	int	 i;

	for (i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static inline uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t
gw_rng_next(struct gw_rng *r)
{
	uint64_t	*s = r->s;
	uint64_t	 res, t;

	res = rotl(s[1] * 5, 7) * 9;
	t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return res;
}

uint64_t
gw_rng_below(struct gw_rng *r, uint64_t bound)
{
	__uint128_t	 m;
	uint64_t	 l, t;

	/* Lemire's multiply-shift with rejection: every value equally
	 * likely, and no division in the common case. */
	m = (__uint128_t)gw_rng_next(r) * bound;
	l = (uint64_t)m;
	if (l < bound) {
		t = -bound % bound;
		while (l < t) {
			m = (__uint128_t)gw_rng_next(r) * bound;
			l = (uint64_t)m;
		}
	}
	return (uint64_t)(m >> 64);
}

/* The scratch of the permutations: the deviations d from the mean, and
 * what the draws of one round remember. */
struct perm {
	size_t		 n;
	double		*d;
	double		*draw;		/* the deviations drawn, kmax */
	uint64_t	*stamp;		/* round a feature was last drawn */
	uint64_t	*picks;		/* SMALL_K: the features drawn */
	uint64_t	 cur;
	struct gw_rng	 rng;
};

/* k distinct features other than i, by rejection, their deviations in
 * pm->draw. */
static void
perm_draw(struct perm *pm, size_t i, size_t k)
{
	uint64_t	 pick;
	size_t		 c, j;

	if (k <= SMALL_K) {
		/* Few neighbours: look for a repeat among the picks so far,
		 * which stay in cache. */
		for (c = 0; c < k; c++) {
		again:
			pick = gw_rng_below(&pm->rng, pm->n);
			if (pick == i)
				goto again;
			for (j = 0; j < c; j++)
				if (pm->picks[j] == pick)
					goto again;
			pm->picks[c] = pick;
			pm->draw[c] = pm->d[pick];
		}
		return;
	}
	/* stamp[] marks those already drawn this round. */
	pm->cur++;
	pm->stamp[i] = pm->cur;
	for (c = 0; c < k; c++) {
		do
			pick = gw_rng_below(&pm->rng, pm->n);
		while (pm->stamp[pick] == pm->cur);
		pm->stamp[pick] = pm->cur;
		pm->draw[c] = pm->d[pick];
	}
}

/* The folded pseudo p-value of feature i, which has k > 0 neighbours. */
static double
perm_p(struct perm *pm, const struct gw_nbr *nb, size_t i, size_t k,
    unsigned nperm, uint64_t seed)
{
	double		 lobs = 0, lperm, di = pm->d[i], p;
	size_t		 j, c, above = 0, below = 0;
	unsigned	 m;

	/* I_i = d_i / s2 * lag: comparing d_i * lag orders the draws exactly
	 * as I_i does, without the common positive factor. */
	for (j = nb->start[i]; j < nb->start[i + 1]; j++)
		lobs += nb->w[j] * pm->d[nb->idx[j]];
	lobs *= di;
	gw_rng_seed(&pm->rng, seed ^ ((uint64_t)i * 0xd1342543de82ef95ULL));
	for (m = 0; m < nperm; m++) {
		perm_draw(pm, i, k);
		lperm = 0;
		for (c = 0, j = nb->start[i]; c < k; c++, j++)
			lperm += nb->w[j] * pm->draw[c];
		lperm *= di;
		if (lperm >= lobs)
			above++;
		if (lperm <= lobs)
			below++;
	}
	c = above < below ? above : below;
	p = 2.0 * (double)(c + 1) / (double)(nperm + 1);
	return p > 1 ? 1 : p;
}

int
gw_local_moran_perm(size_t n, const double *x, const struct gw_nbr *nb,
    unsigned nperm, uint64_t seed, double *p,
    void (*progress)(void *, double), void *arg)
{
	struct perm	 pm;
	double		 mean, ss;
	size_t		 i, k, kmax = 0;
	int		 rc = -1;

	if (nb->n != n || n < 3 || nperm == 0)
		return -1;
	if (moments(n, x, &mean, &ss))
		return -1;
	for (i = 0; i < n; i++)
		if (GW_NBR_COUNT(nb, i) > kmax)
			kmax = GW_NBR_COUNT(nb, i);
	memset(&pm, 0, sizeof(pm));
	pm.n = n;
	if ((pm.d = calloc(n, sizeof(*pm.d))) == NULL ||
	    (pm.stamp = calloc(n, sizeof(*pm.stamp))) == NULL ||
	    (pm.draw = calloc(kmax ? kmax : 1, sizeof(*pm.draw))) == NULL ||
	    (pm.picks = calloc(SMALL_K, sizeof(*pm.picks))) == NULL)
		goto done;
	for (i = 0; i < n; i++)
		pm.d[i] = x[i] - mean;
	for (i = 0; i < n; i++) {
		if ((k = GW_NBR_COUNT(nb, i)) == 0) {
			p[i] = NAN;
			continue;
		}
		p[i] = perm_p(&pm, nb, i, k, nperm, seed);
		if (progress != NULL && (i & 1023) == 1023)
			progress(arg, (double)i / (double)n);
	}
	rc = 0;
done:
	free(pm.d);
	free(pm.stamp);
	free(pm.draw);
	free(pm.picks);
	return rc;
}

int
gw_ann(size_t n, const double *d, double area, struct gw_ann *a)
{
	size_t	 i;
	double	 s = 0, dn = (double)n;

	memset(a, 0, sizeof(*a));
	if (n < 2 || !(area > 0))
		return -1;
	for (i = 0; i < n; i++)
		s += d[i];
	a->n = n;
	a->area = area;
	a->observed = s / dn;
	a->expected = 0.5 / sqrt(dn / area);
	a->ratio = a->observed / a->expected;
	a->zscore = (a->observed - a->expected) / (0.26136 / sqrt(dn * dn / area));
	a->pvalue = gw_pvalue_2sided(a->zscore);
	return 0;
}

/*
 * cube.c: the space-time cube and its Gi* (see cube.h).
 *
 * NOTES
 *   Gi* is computed in O(locations x spatial neighbours x time steps): the
 *   window sums over the previous ksteps steps are taken once per location,
 *   then every bin adds up the window sums of the locations within the
 *   distance, found by looking up the cell offsets of the disc in the hash.
 *   Building the general neighbour lists of stats.h for every bin would
 *   cost (ksteps + 1) times the memory for the same numbers.
 *
 *   Sums of squares are taken around the mean, in two passes, as stats.c
 *   does.
 */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "num/cube.h"
#include "num/stats.h"

#define CUBE_MAXLOC	(UINT32_MAX - 1)

static size_t
cell_hash(int32_t col, int32_t row)
{
	uint64_t	 h;

	h = (uint64_t)(uint32_t)col * 0x9E3779B97F4A7C15ULL ^
	    (uint64_t)(uint32_t)row * 0xC2B2AE3D27D4EB4FULL;
	h ^= h >> 29;
	h *= 0xBF58476D1CE4E5B9ULL;
	h ^= h >> 32;
	return (size_t)h;
}

int
cube_init(struct cube *c, double cell, double ox, double oy, int nsteps)
{
	memset(c, 0, sizeof(*c));
	if (!(cell > 0) || nsteps < 1)
		return -1;
	c->cell = cell;
	c->ox = ox;
	c->oy = oy;
	c->nsteps = nsteps;
	c->hashsz = 1024;
	if ((c->hash = calloc(c->hashsz, sizeof(*c->hash))) == NULL)
		return -1;
	return 0;
}

void
cube_free(struct cube *c)
{
	free(c->col);
	free(c->row);
	free(c->val);
	free(c->hash);
	memset(c, 0, sizeof(*c));
}

long
cube_find(const struct cube *c, int32_t col, int32_t row)
{
	size_t		 h, mask = c->hashsz - 1;
	uint32_t	 e;

	for (h = cell_hash(col, row) & mask; (e = c->hash[h]) != 0;
	    h = (h + 1) & mask)
		if (c->col[e - 1] == col && c->row[e - 1] == row)
			return (long)(e - 1);
	return -1;
}

/* Doubles the hash table and re-inserts every location. */
static int
rehash(struct cube *c)
{
	uint32_t	*nh;
	size_t		 nsz = c->hashsz * 2, mask = nsz - 1, h, i;

	if ((nh = calloc(nsz, sizeof(*nh))) == NULL)
		return -1;
	for (i = 0; i < c->nloc; i++) {
		for (h = cell_hash(c->col[i], c->row[i]) & mask; nh[h] != 0;
		    h = (h + 1) & mask)
			;
		nh[h] = (uint32_t)(i + 1);
	}
	free(c->hash);
	c->hash = nh;
	c->hashsz = nsz;
	return 0;
}

/* Appends location (col, row) with an all-zero series; returns its index
 * or -1 when out of memory. */
static long
add_location(struct cube *c, int32_t col, int32_t row)
{
	size_t		 ncap, h, mask;
	int32_t		*ncol, *nrow;
	double		*nval;

	if (c->nloc >= CUBE_MAXLOC)
		return -1;
	if ((c->nloc + 1) * 2 > c->hashsz && rehash(c) == -1)
		return -1;
	if (c->nloc == c->cap) {
		ncap = c->cap ? c->cap * 2 : 256;
		if ((ncol = reallocarray(c->col, ncap, sizeof(*ncol))) == NULL)
			return -1;
		c->col = ncol;
		if ((nrow = reallocarray(c->row, ncap, sizeof(*nrow))) == NULL)
			return -1;
		c->row = nrow;
		if (ncap > SIZE_MAX / sizeof(double) / (size_t)c->nsteps)
			return -1;
		if ((nval = realloc(c->val,
		    ncap * (size_t)c->nsteps * sizeof(*nval))) == NULL)
			return -1;
		c->val = nval;
		c->cap = ncap;
	}
	c->col[c->nloc] = col;
	c->row[c->nloc] = row;
	memset(c->val + c->nloc * (size_t)c->nsteps, 0,
	    (size_t)c->nsteps * sizeof(double));
	mask = c->hashsz - 1;
	for (h = cell_hash(col, row) & mask; c->hash[h] != 0;
	    h = (h + 1) & mask)
		;
	c->hash[h] = (uint32_t)(c->nloc + 1);
	return (long)c->nloc++;
}

int
cube_add(struct cube *c, double x, double y, int step, double v)
{
	double		 fc, fr;
	long		 loc;

	if (step < 0 || step >= c->nsteps)
		return -1;
	fc = floor((x - c->ox) / c->cell);
	fr = floor((y - c->oy) / c->cell);
	if (!(fabs(fc) < INT32_MAX) || !(fabs(fr) < INT32_MAX))
		return -1;
	if ((loc = cube_find(c, (int32_t)fc, (int32_t)fr)) == -1 &&
	    (loc = add_location(c, (int32_t)fc, (int32_t)fr)) == -1)
		return -1;
	c->val[(size_t)loc * (size_t)c->nsteps + (size_t)step] += v;
	return 0;
}

/* Squared distance, in cells, from location i to its nearest other
 * location, by a scan of every location: for a location so isolated that
 * the rings around it would hold more cells than there are locations. */
static long
nearest_scan(const struct cube *c, size_t i)
{
	size_t	 j;
	long	 best = -1, dc, dr, d2;

	for (j = 0; j < c->nloc; j++) {
		if (j == i)
			continue;
		dc = (long)c->col[j] - c->col[i];
		dr = (long)c->row[j] - c->row[i];
		d2 = dc * dc + dr * dr;
		if (best == -1 || d2 < best)
			best = d2;
	}
	return best;
}

int
cube_nearest_distance(const struct cube *c, double *out)
{
	size_t		 i;
	long		 r, k, dc, dr, best, worst = 0, d2;
	int32_t		 ci, ri;

	if (c->nloc < 2)
		return -1;
	for (i = 0; i < c->nloc; i++) {
		ci = c->col[i];
		ri = c->row[i];
		best = -1;
		/* Ring r holds the cells at Chebyshev distance r, all at least
		 * r cells away: stop once r^2 exceeds the best squared
		 * distance found. */
		for (r = 1; best == -1 || r * r <= best; r++) {
			if ((size_t)(r * r) > c->nloc) {
				best = nearest_scan(c, i);
				break;
			}
			for (k = -r; k <= r; k++) {
				const long	 ring[4][2] = {
					{ k, -r }, { k, r }, { -r, k }, { r, k }
				};
				int		 e;

				for (e = 0; e < 4; e++) {
					dc = ring[e][0];
					dr = ring[e][1];
					if (cube_find(c, ci + (int32_t)dc,
					    ri + (int32_t)dr) == -1)
						continue;
					d2 = dc * dc + dr * dr;
					if (best == -1 || d2 < best)
						best = d2;
				}
			}
		}
		if (best > worst)
			worst = best;
	}
	*out = sqrt((double)worst) * c->cell;
	return 0;
}

/* The mean and (population) standard deviation of the n bins, the sum of
 * squares taken around the mean; 1 if they are all equal or fewer than 2. */
static int
bin_moments(const struct cube *c, size_t n, double *mean, double *sd)
{
	double	 m = 0, ss = 0, d;
	size_t	 i;

	for (i = 0; i < n; i++)
		m += c->val[i];
	m /= (double)n;
	for (i = 0; i < n; i++) {
		d = c->val[i] - m;
		ss += d * d;
	}
	if (ss == 0 || n < 2)
		return 1;
	*mean = m;
	*sd = sqrt(ss / (double)n);
	return 0;
}

/* The spatial neighbourhood: the cells whose centres lie within dist. */
struct disc {
	double		 lim;		/* (dist / cell)^2, with a slack */
	int		 pairwise;	/* compare every pair of locations */
	int32_t		*off;		/* else the cell offsets: dc, dr, ... */
	size_t		 noff;
};

/*
 * The disc of dist (a relative slack so that a distance of exactly k cells
 * includes the k-th cell).  A disc of more cells than there are locations
 * is pairwise: every pair of locations is compared instead of looking up
 * every cell of the disc.  -1 when out of memory.
 */
static int
disc_make(const struct cube *c, double dist, struct disc *d)
{
	long	 r, dc, dr;

	memset(d, 0, sizeof(*d));
	d->lim = dist / c->cell * (1 + 1e-9);
	d->lim *= d->lim;
	r = (long)floor(dist / c->cell + 1e-9);
	d->pairwise = (double)(2 * r + 1) * (double)(2 * r + 1) >
	    (double)c->nloc;
	if (d->pairwise)
		return 0;
	if ((d->off = calloc((size_t)(2 * r + 1) * (size_t)(2 * r + 1) * 2,
	    sizeof(*d->off))) == NULL)
		return -1;
	for (dc = -r; dc <= r; dc++)
		for (dr = -r; dr <= r; dr++)
			if ((double)(dc * dc + dr * dr) <= d->lim) {
				d->off[2 * d->noff] = (int32_t)dc;
				d->off[2 * d->noff + 1] = (int32_t)dr;
				d->noff++;
			}
	return 0;
}

/* win[loc][t]: the sum of the location's values over t-ksteps .. t. */
static void
window_sums(const struct cube *c, int ksteps, double *win)
{
	size_t	 i, T = (size_t)c->nsteps;
	int	 t;

	for (i = 0; i < c->nloc; i++) {
		const double	*v = c->val + i * T;
		double		 s = 0;

		for (t = 0; t < (int)T; t++) {
			s += v[t];
			if (t - ksteps - 1 >= 0)
				s -= v[t - ksteps - 1];
			win[i * T + (size_t)t] = s;
		}
	}
}

/* acc[t]: the sum of the window sums of location i's neighbours (itself
 * included) at step t; returns their number. */
static size_t
neighbour_sums(const struct cube *c, const struct disc *d, const double *win,
    size_t i, double *acc)
{
	size_t	 j, T = (size_t)c->nsteps, cnt = 0;
	long	 dc, dr, loc;
	int	 t;

	memset(acc, 0, T * sizeof(*acc));
	for (j = 0; j < (d->pairwise ? c->nloc : d->noff); j++) {
		if (d->pairwise) {
			dc = (long)c->col[j] - c->col[i];
			dr = (long)c->row[j] - c->row[i];
			if ((double)(dc * dc + dr * dr) > d->lim)
				continue;
			loc = (long)j;
		} else if ((loc = cube_find(c, c->col[i] + d->off[2 * j],
		    c->row[i] + d->off[2 * j + 1])) == -1)
			continue;
		cnt++;
		for (t = 0; t < (int)T; t++)
			acc[t] += win[(size_t)loc * T + (size_t)t];
	}
	return cnt;
}

int
cube_gistar(const struct cube *c, double dist, int ksteps, double *z,
    double *p, int *nnbr)
{
	struct disc	 disc;
	double		*win = NULL, *acc = NULL;
	size_t		 n, i, k, T = (size_t)c->nsteps, cnt;
	double		 mean, S, W, num, den;
	int		 t, ret = -1;

	n = c->nloc * T;
	if (bin_moments(c, n, &mean, &S) == 1) {
		for (i = 0; i < n; i++)
			z[i] = p[i] = NAN;
		return 1;
	}
	if (disc_make(c, dist, &disc) == -1)
		return -1;
	if ((win = calloc(n, sizeof(*win))) == NULL ||
	    (acc = calloc(T, sizeof(*acc))) == NULL)
		goto done;
	window_sums(c, ksteps, win);
	for (i = 0; i < c->nloc; i++) {
		cnt = neighbour_sums(c, &disc, win, i, acc);
		if (nnbr != NULL)
			nnbr[i] = (int)cnt;
		for (t = 0; t < (int)T; t++) {
			k = i * T + (size_t)t;
			W = (double)cnt * (double)(t < ksteps ? t + 1 :
			    ksteps + 1);
			num = acc[t] - mean * W;
			den = ((double)n * W - W * W) / (double)(n - 1);
			if (den <= 0) {
				z[k] = p[k] = NAN;
				continue;
			}
			z[k] = num / (S * sqrt(den));
			p[k] = gw_pvalue_2sided(z[k]);
		}
	}
	ret = 0;
done:
	free(disc.off);
	free(win);
	free(acc);
	return ret;
}

/*
 * kdtree.c: an implicit k-d tree (see kdtree.h).
 *
 * NOTES
 *   Layout: the node of range [lo, hi) is at position mid = lo + (hi-lo)/2
 *   of perm; its left subtree is [lo, mid), its right one [mid+1, hi); the
 *   split axis (the widest extent of the range) is in axis[mid].  Ranges of
 *   at most LEAF points are scanned directly.  Queries recurse at most
 *   log2(n) deep, so the C stack is enough.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "num/kdtree.h"

#define LEAF	8

#define COORD(t, i, a)	((t)->pts[(size_t)(i) * (size_t)(t)->dim + (size_t)(a)])
/* Coordinate a of the point at tree position p (a copy in tree order, so
 * that a query reads neighbouring memory as it descends). */
#define TCOORD(t, p, a)	((t)->tp[(size_t)(p) * (size_t)(t)->dim + (size_t)(a)])

/* Quickselect: reorders perm[lo, hi) so that the element of rank k is at k,
 * smaller coordinates on axis a before it, larger after. */
static void
select_kth(struct gw_kdtree *t, size_t lo, size_t hi, size_t k, int a)
{
	uint32_t	*p = t->perm, tmp;
	size_t		 i, j, r;
	double		 pivot;

	while (hi - lo > 1) {
		/* Median of three for a pivot: sorted input stays O(n). */
		size_t	 m = lo + (hi - lo) / 2;
		double	 x0 = COORD(t, p[lo], a), x1 = COORD(t, p[m], a),
			 x2 = COORD(t, p[hi - 1], a);

		if ((x0 <= x1 && x1 <= x2) || (x2 <= x1 && x1 <= x0))
			pivot = x1;
		else if ((x1 <= x0 && x0 <= x2) || (x2 <= x0 && x0 <= x1))
			pivot = x0;
		else
			pivot = x2;
		/* Three-way partition: < pivot, == pivot, > pivot, so that
		 * many equal coordinates do not make it quadratic. */
		i = lo;
		j = lo;
		r = hi;
		while (j < r) {
			double	 x = COORD(t, p[j], a);

			if (x < pivot) {
				tmp = p[i]; p[i] = p[j]; p[j] = tmp;
				i++;
				j++;
			} else if (x > pivot) {
				r--;
				tmp = p[j]; p[j] = p[r]; p[r] = tmp;
			} else
				j++;
		}
		if (k < i)
			hi = i;
		else if (k >= r)
			lo = r;
		else
			return;
	}
}

static void
build(struct gw_kdtree *t, size_t lo, size_t hi)
{
	size_t	 i, mid;
	int	 a, best = 0;
	double	 mn[3], mx[3], ext = -1, x;

	while (hi - lo > LEAF) {
		for (a = 0; a < t->dim; a++) {
			mn[a] = INFINITY;
			mx[a] = -INFINITY;
		}
		for (i = lo; i < hi; i++)
			for (a = 0; a < t->dim; a++) {
				x = COORD(t, t->perm[i], a);
				if (x < mn[a])
					mn[a] = x;
				if (x > mx[a])
					mx[a] = x;
			}
		ext = -1;
		for (a = 0; a < t->dim; a++)
			if (mx[a] - mn[a] > ext) {
				ext = mx[a] - mn[a];
				best = a;
			}
		mid = lo + (hi - lo) / 2;
		select_kth(t, lo, hi, mid, best);
		t->axis[mid] = (uint8_t)best;
		build(t, lo, mid);
		lo = mid + 1;	/* the right half by iteration */
	}
}

int
gw_kdtree_build(struct gw_kdtree *t, const double *pts, size_t n, int dim)
{
	size_t	 i;

	memset(t, 0, sizeof(*t));
	if (dim < 1 || dim > 3 || n >= UINT32_MAX)
		return -1;
	t->n = n;
	t->dim = dim;
	t->pts = pts;
	if ((t->perm = calloc(n ? n : 1, sizeof(*t->perm))) == NULL ||
	    (t->axis = calloc(n ? n : 1, sizeof(*t->axis))) == NULL ||
	    (t->tp = calloc(n ? n * (size_t)dim : 1, sizeof(*t->tp))) == NULL) {
		gw_kdtree_free(t);
		return -1;
	}
	for (i = 0; i < n; i++)
		t->perm[i] = (uint32_t)i;
	build(t, 0, n);
	for (i = 0; i < n; i++)
		memcpy(t->tp + i * (size_t)dim, t->pts + (size_t)t->perm[i] *
		    (size_t)dim, (size_t)dim * sizeof(*t->tp));
	return 0;
}

void
gw_kdtree_free(struct gw_kdtree *t)
{
	free(t->perm);
	free(t->axis);
	free(t->tp);
	memset(t, 0, sizeof(*t));
}

void
gw_kdhits_free(struct gw_kdhits *h)
{
	free(h->idx);
	free(h->d2);
	memset(h, 0, sizeof(*h));
}

static int
hits_grow(struct gw_kdhits *h, size_t need)
{
	size_t		 cap;
	uint32_t	*idx;
	double		*d2;

	if (need <= h->cap)
		return 0;
	cap = h->cap ? h->cap : 16;
	while (cap < need)
		cap *= 2;
	if ((idx = reallocarray(h->idx, cap, sizeof(*idx))) == NULL)
		return -1;
	h->idx = idx;
	if ((d2 = reallocarray(h->d2, cap, sizeof(*d2))) == NULL)
		return -1;
	h->d2 = d2;
	h->cap = cap;
	return 0;
}

/* Squared distance from q to the point at tree position p. */
static double
dist2(const struct gw_kdtree *t, size_t p, const double *q)
{
	double	 s = 0, d;
	int	 a;

	for (a = 0; a < t->dim; a++) {
		d = TCOORD(t, p, a) - q[a];
		s += d * d;
	}
	return s;
}

/*
 * The state of one search: k nearest (k > 0), kept in a max-heap on
 * (d2, idx) so that ties are broken by the smaller index, whatever the
 * tree's order; or every point within r2 (k == 0), appended.
 */
struct search {
	const struct gw_kdtree	*t;
	const double		*q;
	size_t			 k;
	double			 r2;
	size_t			 skip;
	struct gw_kdhits	*h;
	int			 oom;
};

static int
worse(const struct gw_kdhits *h, size_t a, size_t b)
{
	return h->d2[a] > h->d2[b] || (h->d2[a] == h->d2[b] &&
	    h->idx[a] > h->idx[b]);
}

static void
heap_swap(struct gw_kdhits *h, size_t a, size_t b)
{
	uint32_t	 ti = h->idx[a];
	double		 td = h->d2[a];

	h->idx[a] = h->idx[b];
	h->d2[a] = h->d2[b];
	h->idx[b] = ti;
	h->d2[b] = td;
}

/* Restores the heap below position p of the first h->n hits. */
static void
sift_down(struct gw_kdhits *h, size_t p)
{
	size_t	 l, r, m;

	for (;;) {
		l = 2 * p + 1;
		r = l + 1;
		m = p;
		if (l < h->n && worse(h, l, m))
			m = l;
		if (r < h->n && worse(h, r, m))
			m = r;
		if (m == p)
			return;
		heap_swap(h, p, m);
		p = m;
	}
}

static void
knn_offer(struct search *s, uint32_t i, double d)
{
	struct gw_kdhits	*h = s->h;
	size_t			 c, p;

	if (h->n < s->k) {
		c = h->n++;
		h->idx[c] = i;
		h->d2[c] = d;
		while (c > 0 && worse(h, c, p = (c - 1) / 2)) {
			heap_swap(h, c, p);
			c = p;
		}
		return;
	}
	if (d > h->d2[0] || (d == h->d2[0] && i > h->idx[0]))
		return;
	h->idx[0] = i;
	h->d2[0] = d;
	sift_down(h, 0);
}

static void
rad_offer(struct search *s, uint32_t i, double d)
{
	if (d > s->r2)
		return;
	if (hits_grow(s->h, s->h->n + 1) == -1) {
		s->oom = 1;
		return;
	}
	s->h->idx[s->h->n] = i;
	s->h->d2[s->h->n++] = d;
}

/* The point at tree position pos, offered to the search. */
static void
offer(struct search *s, size_t pos)
{
	uint32_t	 i = s->t->perm[pos];

	if ((size_t)i == s->skip || s->oom)
		return;
	if (s->k > 0)
		knn_offer(s, i, dist2(s->t, pos, s->q));
	else
		rad_offer(s, i, dist2(s->t, pos, s->q));
}

/* The squared distance beyond which no point is wanted (yet). */
static double
bound(const struct search *s)
{
	if (s->k == 0)
		return s->r2;
	return s->h->n < s->k ? INFINITY : s->h->d2[0];
}

/* The side of the split that holds q first, the other one only when the
 * split is within the bound. */
static void
search_rec(struct search *s, size_t lo, size_t hi)
{
	const struct gw_kdtree	*t = s->t;
	size_t			 i, mid;
	double			 diff;
	int			 a;

	if (hi - lo <= LEAF) {
		for (i = lo; i < hi; i++)
			offer(s, i);
		return;
	}
	mid = lo + (hi - lo) / 2;
	a = t->axis[mid];
	diff = s->q[a] - TCOORD(t, mid, a);
	offer(s, mid);
	if (diff < 0) {
		search_rec(s, lo, mid);
		if (diff * diff <= bound(s))
			search_rec(s, mid + 1, hi);
	} else {
		search_rec(s, mid + 1, hi);
		if (diff * diff <= bound(s))
			search_rec(s, lo, mid);
	}
}

int
gw_kdtree_knn(const struct gw_kdtree *t, const double *q, size_t k,
    size_t skip, struct gw_kdhits *hits)
{
	struct search	 s = { t, q, k, 0, skip, hits, 0 };
	size_t		 i, n;

	hits->n = 0;
	if (k == 0 || t->n == 0)
		return 0;
	if (hits_grow(hits, k) == -1)
		return -1;
	search_rec(&s, 0, t->n);
	/* Heap to ascending order: pop the worst to the end, k times. */
	n = hits->n;
	for (i = n; i > 1; i--) {
		heap_swap(hits, 0, i - 1);
		hits->n = i - 1;
		sift_down(hits, 0);
	}
	hits->n = n;
	return 0;
}

int
gw_kdtree_radius(const struct gw_kdtree *t, const double *q, double r,
    size_t skip, struct gw_kdhits *hits)
{
	struct search	 s = { t, q, 0, r * r, skip, hits, 0 };

	if (t->n == 0)
		return 0;
	search_rec(&s, 0, t->n);
	return s.oom ? -1 : 0;
}

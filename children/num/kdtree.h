/*
 * kdtree.h: a static k-d tree over points in 2 or 3 dimensions, for nearest
 * neighbour and fixed-radius queries.
 *
 * NOTES
 *   The tree is implicit: an array of point indexes permuted so that every
 *   range [lo, hi) has its splitting point at the middle, with the split axis
 *   stored alongside.  Building costs O(n log n) (quickselect per level);
 *   a k-nearest query O(k log n) on average.  The coordinates stay the
 *   caller's and must outlive the tree.  Distances are squared Euclidean in
 *   the tree's space (planar metres, or 3D chords on the ellipsoid: see
 *   weights.c).  Queries read a copy of the coordinates in tree order, and
 *   gw_kdtree_order() gives that order for callers that query every point:
 *   consecutive queries then touch the same memory.
 */
#ifndef GW_KDTREE_H
#define GW_KDTREE_H

#include <stddef.h>
#include <stdint.h>

struct gw_kdtree {
	size_t		 n;
	int		 dim;		/* 2 or 3 */
	const double	*pts;		/* n * dim coordinates, point after point */
	uint32_t	*perm;		/* tree order */
	uint8_t		*axis;		/* split axis of the node at each position */
	double		*tp;		/* the coordinates in tree order */
};

/* Hits of a query: indexes and squared distances, grown as needed. */
struct gw_kdhits {
	uint32_t	*idx;
	double		*d2;
	size_t		 n;
	size_t		 cap;
};

/* Builds a tree over n points (n < 2^32).  Returns 0, or -1 if out of
 * memory. */
int	 gw_kdtree_build(struct gw_kdtree *, const double *pts, size_t n,
	    int dim);
void	 gw_kdtree_free(struct gw_kdtree *);

/*
 * The k nearest points to q, skipping point skip (use SIZE_MAX for none),
 * into hits sorted by distance then index (hits->n < k when the tree has
 * fewer points).  Returns -1 if out of memory.
 */
int	 gw_kdtree_knn(const struct gw_kdtree *, const double *q, size_t k,
	    size_t skip, struct gw_kdhits *hits);

/* Every point within distance r of q (d^2 <= r^2), skipping point skip,
 * appended to hits (unsorted).  Returns -1 if out of memory. */
int	 gw_kdtree_radius(const struct gw_kdtree *, const double *q, double r,
	    size_t skip, struct gw_kdhits *hits);

void	 gw_kdhits_free(struct gw_kdhits *);

/* The point at tree position p (0 <= p < n): iterating p visits the points
 * in spatial order. */
#define gw_kdtree_order(t, p)	((size_t)(t)->perm[(p)])

#endif

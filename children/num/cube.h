/*
 * cube.h: the space-time cube of hotspot_timeseries: square grid cells of
 * one size in a metric plane, by regular time steps, and the space-time
 * Getis-Ord Gi* on it.
 *
 * NOTES
 *   Only locations (cells) that receive at least one point exist; the grid
 *   itself is never allocated, so a sparse layer over a large extent costs
 *   what its occupied cells cost.  A location is found from its (col, row)
 *   by an open-addressing hash.  Values are stored location by location:
 *   val[loc * nsteps + step]; a bin no point fell into is 0.
 *
 *   Pure arithmetic: no database, no GEOS, no PROJ.  Functions return 0 on
 *   success and -1 on failure (out of memory, or what their comment says).
 */
#ifndef GW_CUBE_H
#define GW_CUBE_H

#include <stddef.h>
#include <stdint.h>

struct cube {
	double		 cell;		/* side of a cell, metres */
	double		 ox, oy;	/* lower-left corner of cell (0, 0) */
	int		 nsteps;
	size_t		 nloc;		/* locations with data */
	size_t		 cap;
	int32_t		*col;		/* per location */
	int32_t		*row;
	double		*val;		/* nloc * nsteps */
	uint32_t	*hash;		/* location + 1, 0 is empty */
	size_t		 hashsz;	/* a power of two */
};

/* An empty cube; cell > 0, nsteps >= 1. */
int	 cube_init(struct cube *, double cell, double ox, double oy,
	    int nsteps);
void	 cube_free(struct cube *);

/* The location of cell (col, row), or -1 if no point fell into it. */
long	 cube_find(const struct cube *, int32_t col, int32_t row);

/*
 * cube_add: add v to the bin of point (x, y) (metres, same plane as the
 * origin) at time step step (0 .. nsteps-1), creating its location.
 * Returns -1 when out of memory, or when the point is more than 2^31 cells
 * from the origin or step is out of range (callers check both first).
 */
int	 cube_add(struct cube *, double x, double y, int step, double v);

/*
 * cube_nearest_distance: the largest, over all locations, of the distance
 * between a cell's centre and the centre of its nearest other location:
 * the smallest neighbourhood distance that gives every location a
 * neighbour.  -1 when there are fewer than two locations.
 */
int	 cube_nearest_distance(const struct cube *, double *out);

/*
 * cube_gistar: Getis-Ord Gi* of every bin with binary space-time weights:
 * the neighbours of bin (i, t) are the bins (j, s) whose cell centres lie
 * within dist of i's (i itself included) and with t - ksteps <= s <= t.
 * Over the n = nloc * nsteps bins, with xbar their mean and
 * S^2 = sum (x - xbar)^2 / n, W the number of neighbours of the bin:
 *   z = (sum_nbrs x - xbar W) / (S sqrt((n W - W^2) / (n - 1))),
 * the formula of stats.h's gw_gistar() for binary weights.  z and p
 * (two-sided) have nloc * nsteps entries, laid out as val; nnbr (nloc
 * entries, may be NULL) gets the number of locations within dist, itself
 * included.  Returns 1 (z and p all NAN) when every bin has the same value,
 * -1 when out of memory.  A bin whose neighbourhood is the whole cube has a
 * NAN z and p.
 */
int	 cube_gistar(const struct cube *, double dist, int ksteps, double *z,
	    double *p, int *nnbr);

#endif

/*
 * weights.h: spatial weights for the local statistics, and nearest-neighbour
 * queries in metres, on planar or geographic coordinates.
 *
 * NOTES
 *   A gw_ptset holds n points with a k-d tree.  Planar coordinates are
 *   scaled to metres (to_metre); geographic ones (longitude, latitude in
 *   degrees) are placed on the ellipsoid in 3D (earth-centred cartesian), the
 *   tree answers in chord lengths, and every distance handed out is the
 *   geodesic on the ellipsoid (Karney's algorithm, PROJ's geodesic.h).  As a
 *   chord is never longer than the geodesic between the same two points, a
 *   chord query of radius r finds every point within geodesic distance r;
 *   the geodesics then decide, so the answers are exact, not approximate.
 *
 *   Weights never list a feature as its own neighbour (Gi* adds it, see
 *   stats.h).  Neighbours of a feature are sorted by index.  Functions
 *   return 0, or -1 with a message in err (out of memory, GEOS failure, too
 *   many neighbour pairs).
 */
#ifndef GW_WEIGHTS_H
#define GW_WEIGHTS_H

#include <stddef.h>
#include <geodesic.h>
#define GEOS_USE_ONLY_R_API
#include <geos_c.h>

#include "num/kdtree.h"
#include "num/stats.h"

/* Conceptualizations of spatial relationships (ArcGIS's names). */
enum gw_concept {
	GW_W_FIXED,		/* 1 within the band */
	GW_W_INVDIST,		/* 1 / d within the band */
	GW_W_INVDIST2,		/* 1 / d^2 within the band */
	GW_W_KNN,		/* 1 for the k nearest */
	GW_W_ROOK,		/* 1 for polygons sharing an edge */
	GW_W_QUEEN		/* 1 for polygons sharing an edge or a vertex */
};

/* Parses "fixed_distance", ..., "contiguity_edges_corners"; -1 if unknown. */
int	 gw_concept_parse(const char *, enum gw_concept *);
const char *gw_concept_name(enum gw_concept);

/* How coordinates are measured. */
struct gw_metric {
	int		 geographic;	/* x longitude, y latitude, degrees */
	double		 a;		/* ellipsoid semi-major axis, m */
	double		 f;		/* flattening */
	double		 to_metre;	/* planar unit to metres */
};

struct gw_ptset {
	size_t			 n;
	int			 geographic;
	double			 to_metre;
	double			*c;	/* n * dim tree coordinates */
	double			*lon;	/* geographic: copies, degrees */
	double			*lat;
	struct geod_geodesic	 geod;
	double			 e2;	/* eccentricity squared */
	double			 a;
	struct gw_kdtree	 tree;
};

/* Builds the set over x, y (copied).  Returns -1 if out of memory. */
int	 gw_ptset_build(struct gw_ptset *, const double *x, const double *y,
	    size_t n, const struct gw_metric *);
void	 gw_ptset_free(struct gw_ptset *);

/* Distance in metres from (x, y), in the set's CRS, to point j; the
 * azimuth too when az is not NULL (geographic: degrees clockwise from north
 * at (x, y); planar: degrees counter-clockwise from east, as ArcGIS). */
double	 gw_ptset_dist(const struct gw_ptset *, double x, double y, size_t j,
	    double *az);

/*
 * The k nearest points of the set to (x, y), skipping point skip (SIZE_MAX:
 * none), sorted by distance in metres then index: idx[] and d[] (metres)
 * have room for k; *nfound may be < k.  maxdist > 0 limits the search.
 */
int	 gw_ptset_knn(const struct gw_ptset *, double x, double y, size_t k,
	    size_t skip, double maxdist, uint32_t *idx, double *d,
	    size_t *nfound, struct gw_kdhits *scratch);

/* The smallest distance band (metres) that gives every point at least one
 * other point: the largest nearest-neighbour distance.  0 when n < 2. */
int	 gw_ptset_min_band(const struct gw_ptset *, double *band);

/*
 * Distance weights: fixed band, inverse distance (squared), within band
 * metres (0: gw_ptset_min_band()), or the k nearest.  Inverse distances
 * use max(d, 1 m) so that no weight exceeds 1, the weight of the feature
 * itself in Gi*.  *band_used gets the band (0 for k nearest).  Fails when
 * the neighbour pairs would exceed max_pairs.
 */
int	 gw_weights_distance(const struct gw_ptset *, enum gw_concept,
	    double band, size_t k, size_t max_pairs, struct gw_nbr *out,
	    double *band_used, char *err, size_t errlen);

/*
 * Contiguity weights of n polygons, found with a GEOS STRtree.  NULL
 * geometries have no neighbour.
 *
 * snap 0, the exact rule (GEOS predicates): queen when the polygons share
 * at least one point; rook when their boundaries share a segment or their
 * interiors overlap.
 *
 * snap > 0, in the layer's coordinate units (as spdep's poly2nb): a
 * contact point is a vertex of one polygon within snap of the other's
 * boundary (vertices of every ring, on its segments or at its vertices).
 * Queen when the polygons intersect or have a contact point (that is, when
 * they are within snap of each other); rook when two of their contact
 * points are more than 2 snap apart (a shared stretch of boundary, not a
 * corner: every contact of a corner lies within snap of it).  The
 * STRtree query boxes are widened by snap.  doc/hotspot_analysis.md sets
 * this next to spdep's and ArcGIS's rules.
 *
 * GW_SNAP_DEFAULT is spdep's default, sqrt(.Machine$double.eps).
 * *nsnapped (when not NULL) gets the number of neighbour pairs, each pair
 * counted once, that the exact rule does not find.
 */
#define GW_SNAP_DEFAULT	1.4901161193847656e-08

int	 gw_weights_contiguity(GEOSContextHandle_t, GEOSGeometry *const *g,
	    size_t n, int queen, double snap, struct gw_nbr *out,
	    size_t *nsnapped, char *err, size_t errlen);

#endif

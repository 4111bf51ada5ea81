/*
 * geom.h: the process's GEOS context and the geometry helpers every vector
 * job program shares: repair, a quick validity test, extraction by
 * dimension, union, centroid.
 *
 * NOTES
 *   One GEOS context per process (gw_geos()); its notice and error handlers
 *   keep the last message for gw_geos_error().  Child processes are single
 *   threaded.
 */
#ifndef GW_GEOM_H
#define GW_GEOM_H

#include <stddef.h>

#define GEOS_USE_ONLY_R_API
#include <geos_c.h>

#include "gwworker.h"

/* Geometry dimension of a layer: what its geometry type says. */
#define GW_DIM_UNKNOWN	-1	/* GEOMETRY, GEOMETRYCOLLECTION, mixed */
#define GW_DIM_POINT	0
#define GW_DIM_LINE	1
#define GW_DIM_POLYGON	2

/* The process's GEOS context (created on first use) and its last error or
 * notice message ("" if none). */
GEOSContextHandle_t gw_geos(void);
const char *gw_geos_error(void);

/*
 * gw_geom_repair: if *g is invalid, replace it with GEOSMakeValid's result
 * and add 1 to *nrepaired.  Returns -1 (job error naming what) if GEOS fails.
 */
int	 gw_geom_repair(struct gw_job *, GEOSGeometry **g, long long *nrepaired,
	    const char *what);

/*
 * gw_geom_quick_valid: 1 if g is certainly valid by a cheap exact test (a
 * small polygon without holes whose ring is certainly simple), 0 if it
 * cannot tell.  gw_geom_repair() tries it before GEOSisValid.
 */
int	 gw_geom_quick_valid(GEOSContextHandle_t, const GEOSGeometry *g);

/*
 * gw_geom_extract: a new geometry holding only the parts of g of dimension
 * dim (GW_DIM_*), as a Multi* (or an empty one), NULL if GEOS fails.
 */
GEOSGeometry *gw_geom_extract(GEOSContextHandle_t, const GEOSGeometry *g,
	    int dim);

/*
 * gw_union: the union of geoms[0..n-1], which it takes (destroys) whatever
 * happens.  Polygons are first merged as a coverage (GEOSCoverageUnion_r,
 * much faster for adjacent, non-overlapping polygons such as counties); that
 * result is kept only if GEOS accepted the input, the result is valid and its
 * area equals the sum of the input areas (no overlap), else the general
 * GEOSUnaryUnion_r runs.  A single valid (multi)polygon is returned as it
 * is.  *coverage (may be NULL) is 1 if the general union was not needed.
 * Returns a new geometry with the SRID of geoms[0], or NULL after a job
 * error.
 */
GEOSGeometry *gw_union(struct gw_job *, GEOSGeometry **geoms, size_t n,
	    int *coverage);

/* Centroid of g in *x, *y (a point on the surface when the centroid is
 * empty); -1 for an empty geometry or a GEOS failure. */
int	 gw_centroid(GEOSContextHandle_t, const GEOSGeometry *g, double *x,
	    double *y);

/* The text form of a geometry type name for a dimension and multi flag:
 * "MultiPolygon", "LineString", ... ("Geometry" for GW_DIM_UNKNOWN). */
const char *gw_geom_typename(int dim, int multi);

#endif

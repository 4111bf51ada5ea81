/*
 * union.c: the union of many geometries, as a coverage when it can be
 * (see gw_union() in geom.h).
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gis/geom.h"

/* The area of g (0 for non-polygons), or -1 on failure. */
static double
area_of(GEOSContextHandle_t ctx, const GEOSGeometry *g)
{
	double	 a;

	if (GEOSArea_r(ctx, g, &a) != 1)
		return -1;
	return a;
}

GEOSGeometry *
gw_union(struct gw_job *job, GEOSGeometry **geoms, size_t n, int *coverage)
{
	GEOSContextHandle_t	 ctx = gw_geos();
	GEOSGeometry		*coll, *u = NULL;
	double			 sum = 0, a;
	size_t			 i;
	int			 srid, polygonal = 1, t;

	if (coverage != NULL)
		*coverage = 0;
	if (n == 0) {
		gw_job_error(job, "nothing to merge");
		return NULL;
	}
	srid = GEOSGetSRID_r(ctx, geoms[0]);
	for (i = 0; i < n; i++) {
		t = GEOSGeomTypeId_r(ctx, geoms[i]);
		if (t != GEOS_POLYGON && t != GEOS_MULTIPOLYGON)
			polygonal = 0;
		else if (polygonal) {
			if ((a = area_of(ctx, geoms[i])) < 0)
				polygonal = 0;
			sum += a;
		}
	}
	if (n == 1 && polygonal) {
		/* A valid (multi)polygon is its own union. */
		if (gw_geom_quick_valid(ctx, geoms[0]) ||
		    GEOSisValid_r(ctx, geoms[0]) == 1) {
			if (coverage != NULL)
				*coverage = 1;
			return geoms[0];
		}
	}
	if ((coll = GEOSGeom_createCollection_r(ctx, GEOS_GEOMETRYCOLLECTION,
	    geoms, (unsigned int)n)) == NULL) {
		for (i = 0; i < n; i++)
			GEOSGeom_destroy_r(ctx, geoms[i]);
		gw_job_error(job, "merging geometries: %s", gw_geos_error());
		return NULL;
	}
	if (polygonal && n > 1) {
		/*
		 * GEOS 3.11's coverage union matches shared edges; it throws
		 * on most non-coverages, but check what it returns: one valid
		 * polygon or multipolygon (a collection of overlapping
		 * polygons is "valid" too), and no area lost to overlaps (a
		 * relative 1e-11 is far above rounding in the area sums and
		 * far below any real overlap).
		 */
		u = GEOSCoverageUnion_r(ctx, coll);
		if (u != NULL && (((t = GEOSGeomTypeId_r(ctx, u)) !=
		    GEOS_POLYGON && t != GEOS_MULTIPOLYGON) ||
		    GEOSisValid_r(ctx, u) != 1 ||
		    (a = area_of(ctx, u)) < 0 ||
		    fabs(a - sum) > 1e-11 * sum)) {
			GEOSGeom_destroy_r(ctx, u);
			u = NULL;
		}
		if (u != NULL && coverage != NULL)
			*coverage = 1;
	}
	if (u == NULL && (u = GEOSUnaryUnion_r(ctx, coll)) == NULL) {
		gw_job_error(job, "merging geometries: %s", gw_geos_error());
		GEOSGeom_destroy_r(ctx, coll);
		return NULL;
	}
	GEOSGeom_destroy_r(ctx, coll);
	GEOSSetSRID_r(ctx, u, srid);
	return u;
}

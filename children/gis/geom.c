/*
 * geom.c: geometry helpers on GEOS: type names, a quick exact validity
 * test, repair, extraction by dimension, centroid (see geom.h).
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gis/geom.h"

const char *
gw_geom_typename(int dim, int multi)
{
	switch (dim) {
	case GW_DIM_POINT:
		return multi ? "MultiPoint" : "Point";
	case GW_DIM_LINE:
		return multi ? "MultiLineString" : "LineString";
	case GW_DIM_POLYGON:
		return multi ? "MultiPolygon" : "Polygon";
	}
	return "Geometry";
}

/*
 * The sign of the orientation of a, b, c if floating point tells it for
 * certain (Shewchuk's orient2d filter), else 0: collinear or too close to
 * tell.
 */
static int
orient_sure(const double *a, const double *b, const double *c)
{
	/* (3 + 16 eps) eps, eps = 2^-53 */
	static const double	 errbound = 3.3306690738754716e-16;
	double			 l, r, det, sum;

	l = (a[0] - c[0]) * (b[1] - c[1]);
	r = (a[1] - c[1]) * (b[0] - c[0]);
	det = l - r;
	if (l > 0) {
		if (r <= 0)
			return 1;
		sum = l + r;
	} else if (l < 0) {
		if (r >= 0)
			return -1;
		sum = -l - r;
	} else		/* l is exactly 0: det = -r, whose sign is exact */
		return r < 0 ? 1 : r > 0 ? -1 : 0;
	if (det >= errbound * sum)
		return 1;
	if (-det >= errbound * sum)
		return -1;
	return 0;
}

#define QUICK_MAXPOINTS	64

/*
 * gw_geom_quick_valid: 1 if g is certainly valid, 0 if it cannot tell (then
 * GEOS decides).  It only accepts a polygon (or a one-part multipolygon)
 * without holes of at most QUICK_MAXPOINTS points whose ring is certainly
 * simple:
 * finite coordinates, no repeated point, consecutive edges certainly not
 * collinear, and no two non-consecutive edges with overlapping bounding
 * boxes (which cannot meet).  Such a ring bounds a valid polygon.  This
 * spares GEOSisValid, which allocates a graph per geometry, for the small
 * simple polygons (parcels, tracts, cells) that make most layers.
 */
int
gw_geom_quick_valid(GEOSContextHandle_t ctx, const GEOSGeometry *g)
{
	const GEOSCoordSequence	*cs;
	double			 p[QUICK_MAXPOINTS][2];
	double			 lo[QUICK_MAXPOINTS][2], hi[QUICK_MAXPOINTS][2];
	unsigned int		 n;
	int			 i, j, m, t;

	t = GEOSGeomTypeId_r(ctx, g);
	if (t == GEOS_MULTIPOLYGON) {
		if (GEOSGetNumGeometries_r(ctx, g) != 1)
			return 0;
		g = GEOSGetGeometryN_r(ctx, g, 0);
		t = GEOSGeomTypeId_r(ctx, g);
	}
	if (t != GEOS_POLYGON || GEOSGetNumInteriorRings_r(ctx, g) != 0)
		return 0;
	if ((g = GEOSGetExteriorRing_r(ctx, g)) == NULL ||
	    (cs = GEOSGeom_getCoordSeq_r(ctx, g)) == NULL ||
	    !GEOSCoordSeq_getSize_r(ctx, cs, &n) || n < 4 ||
	    n > QUICK_MAXPOINTS ||
	    !GEOSCoordSeq_copyToBuffer_r(ctx, cs, &p[0][0], 0, 0))
		return 0;
	m = (int)n - 1;		/* edges; p[m] == p[0] */
	if (p[m][0] != p[0][0] || p[m][1] != p[0][1])
		return 0;
	for (i = 0; i < m; i++) {
		if (!isfinite(p[i][0]) || !isfinite(p[i][1]) ||
		    (p[i][0] == p[i + 1][0] && p[i][1] == p[i + 1][1]))
			return 0;
		if (orient_sure(p[i], p[i + 1], p[(i + 2) % m]) == 0)
			return 0;
		lo[i][0] = fmin(p[i][0], p[i + 1][0]);
		hi[i][0] = fmax(p[i][0], p[i + 1][0]);
		lo[i][1] = fmin(p[i][1], p[i + 1][1]);
		hi[i][1] = fmax(p[i][1], p[i + 1][1]);
	}
	for (i = 0; i < m; i++)
		for (j = i + 2; j < m; j++) {
			if (i == 0 && j == m - 1)
				continue;	/* consecutive through p[0] */
			if (lo[i][0] <= hi[j][0] && lo[j][0] <= hi[i][0] &&
			    lo[i][1] <= hi[j][1] && lo[j][1] <= hi[i][1])
				return 0;
		}
	return 1;
}

int
gw_geom_repair(struct gw_job *job, GEOSGeometry **g, long long *nrepaired,
    const char *what)
{
	GEOSContextHandle_t	 ctx = gw_geos();
	GEOSGeometry		*v;
	char			 valid;

	if (gw_geom_quick_valid(ctx, *g) || (valid = GEOSisValid_r(ctx, *g)) == 1)
		return 0;
	if (valid == 2)
		return gw_job_error(job, "%s: cannot check validity: %s",
		    what, gw_geos_error());
	if ((v = GEOSMakeValid_r(ctx, *g)) == NULL)
		return gw_job_error(job, "%s: cannot repair an invalid geometry:"
		    " %s", what, gw_geos_error());
	GEOSSetSRID_r(ctx, v, GEOSGetSRID_r(ctx, *g));
	GEOSGeom_destroy_r(ctx, *g);
	*g = v;
	if (nrepaired != NULL)
		(*nrepaired)++;
	return 0;
}

/* Appends the parts of g of dimension dim to parts (clones). */
static int
collect_parts(GEOSContextHandle_t ctx, const GEOSGeometry *g, int dim,
    GEOSGeometry ***parts, size_t *n, size_t *cap)
{
	int		 i, ng, t;
	GEOSGeometry	*c, **np;

	t = GEOSGeomTypeId_r(ctx, g);
	if (t == GEOS_MULTIPOINT || t == GEOS_MULTILINESTRING ||
	    t == GEOS_MULTIPOLYGON || t == GEOS_GEOMETRYCOLLECTION) {
		ng = GEOSGetNumGeometries_r(ctx, g);
		for (i = 0; i < ng; i++)
			if (collect_parts(ctx, GEOSGetGeometryN_r(ctx, g, i),
			    dim, parts, n, cap) == -1)
				return -1;
		return 0;
	}
	if (GEOSisEmpty_r(ctx, g))
		return 0;
	if ((dim == GW_DIM_POINT && t != GEOS_POINT) ||
	    (dim == GW_DIM_LINE && t != GEOS_LINESTRING &&
	    t != GEOS_LINEARRING) ||
	    (dim == GW_DIM_POLYGON && t != GEOS_POLYGON))
		return 0;
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 8;
		if ((np = reallocarray(*parts, *cap, sizeof(*np))) == NULL)
			return -1;
		*parts = np;
	}
	if (t == GEOS_LINEARRING) {
		c = GEOSGeom_createLineString_r(ctx,
		    GEOSCoordSeq_clone_r(ctx, GEOSGeom_getCoordSeq_r(ctx, g)));
	} else
		c = GEOSGeom_clone_r(ctx, g);
	if (c == NULL)
		return -1;
	(*parts)[(*n)++] = c;
	return 0;
}

GEOSGeometry *
gw_geom_extract(GEOSContextHandle_t ctx, const GEOSGeometry *g, int dim)
{
	GEOSGeometry	**parts = NULL, *r;
	size_t		  n = 0, cap = 0, i;
	int		  type;

	switch (dim) {
	case GW_DIM_POINT:
		type = GEOS_MULTIPOINT;
		break;
	case GW_DIM_LINE:
		type = GEOS_MULTILINESTRING;
		break;
	case GW_DIM_POLYGON:
		type = GEOS_MULTIPOLYGON;
		break;
	default:
		return GEOSGeom_clone_r(ctx, g);
	}
	if (collect_parts(ctx, g, dim, &parts, &n, &cap) == -1) {
		for (i = 0; i < n; i++)
			GEOSGeom_destroy_r(ctx, parts[i]);
		free(parts);
		return NULL;
	}
	/* createCollection takes the parts (not the array) on success. */
	r = GEOSGeom_createCollection_r(ctx, type, parts, (unsigned int)n);
	if (r == NULL)
		for (i = 0; i < n; i++)
			GEOSGeom_destroy_r(ctx, parts[i]);
	else
		GEOSSetSRID_r(ctx, r, GEOSGetSRID_r(ctx, g));
	free(parts);
	return r;
}

int
gw_centroid(GEOSContextHandle_t ctx, const GEOSGeometry *g, double *x,
    double *y)
{
	GEOSGeometry	*c;
	int		 rv = -1;

	if (GEOSisEmpty_r(ctx, g))
		return -1;
	if ((c = GEOSGetCentroid_r(ctx, g)) == NULL)
		return -1;
	if (GEOSisEmpty_r(ctx, c)) {
		GEOSGeom_destroy_r(ctx, c);
		if ((c = GEOSPointOnSurface_r(ctx, g)) == NULL)
			return -1;
	}
	if (GEOSGeomGetX_r(ctx, c, x) == 1 && GEOSGeomGetY_r(ctx, c, y) == 1)
		rv = 0;
	GEOSGeom_destroy_r(ctx, c);
	return rv;
}

/*
 * crs.h: the one SRID -> CRS resolver of the job programs, and
 * transformations between SRIDs, with one PROJ context per process (as
 * PostGIS's lwgeom_transform.c does for its backends).
 *
 * NOTES
 *   An SRID becomes a CRS through spatial_ref_sys: "auth_name:auth_srid"
 *   (PROJ's full definition, with its datum transformations), else srtext,
 *   else proj4text.  Programs that need PROJ themselves (an ellipsoid, a
 *   projection of their own) use gw_proj() and gw_crs_of_srid(), never a
 *   context or a spatial_ref_sys query of their own; programs that build
 *   their CRS with another library (GDAL's OGRSpatialReference) read the
 *   row with gw_srs_lookup() (gis/srs.h).  What the SRID's own definition
 *   tells (is it geographic, its unit, is it Mercator) is read from the
 *   row, with no proj.db search where its proj4text suffices.
 */
#ifndef GW_CRS_H
#define GW_CRS_H

#include <stddef.h>

#include <proj.h>

#include "gwworker.h"
#include "gis/geom.h"
#include "gis/srs.h"

/* The process's PROJ context (made on first use, destroyed at exit) and the
 * text of its last error ("unknown error" if none). */
PJ_CONTEXT *gw_proj(void);

/* An idle preparation (gw_worker_idle()) for programs whose layers are
 * often in another CRS than their work: gw_idle_postgis() (execf.h), then
 * PROJ's context and database, opened with EPSG:4326 (~20 ms of a fresh
 * process's time: sqlite reading proj.db's schema). */
void	 gw_idle_proj(PGconn *);
const char *gw_proj_reason(void);

/* The CRS of srid as a new PJ (proj_destroy() it), or NULL after a job
 * error: "SRID n is not in spatial_ref_sys", or PROJ's reason. */
PJ	*gw_crs_of_srid(struct gw_job *, int srid);

/* The ellipsoid of srid's CRS (of its base CRS for a bound one): semi-major
 * axis *a in metres and flattening *f; -1 after a job error naming param. */
int	 gw_crs_ellipsoid(struct gw_job *, const char *param, int srid,
	    double *a, double *f);

/* PROJ: a transformation from one SRID to another (spatial_ref_sys looked up
 * as auth_name:auth_srid, else srtext, else proj4text), x = easting or
 * longitude whatever the CRS's axis order. */
struct gw_transform;
int	 gw_transform_new(struct gw_job *, int from_srid, int to_srid,
	    struct gw_transform **out);
/*
 * gw_transform_new() in its two halves, for a caller that keeps the
 * connection busy meanwhile (cursor.c: the server plans and reads while
 * PROJ works): gw_transform_lookup() runs the SQL (both SRIDs' rows of
 * spatial_ref_sys), gw_transform_build() none (PROJ only) and releases the
 * rows whatever it returns.
 */
struct gw_transform_rows {
	struct gw_srs	 from, to;
};
int	 gw_transform_lookup(struct gw_job *, int from_srid, int to_srid,
	    struct gw_transform_rows *);
int	 gw_transform_build(struct gw_job *, struct gw_transform_rows *,
	    struct gw_transform **out);
void	 gw_transform_free(struct gw_transform *);
/* A new geometry: g transformed, with SRID to_srid; NULL after a job error
 * (a point outside the CRS's domain, say). */
GEOSGeometry *gw_transform_geom(struct gw_job *, struct gw_transform *,
	    const GEOSGeometry *g);
/*
 * gw_transform_to_def: a transformation from an SRID to a CRS given as a
 * PROJ definition ("+proj=laea ... +type=crs", WKT), x = easting or
 * longitude; for gw_transform_xy().
 */
int	 gw_transform_to_def(struct gw_job *, int from_srid, const char *def,
	    struct gw_transform **out);
/* Transform n points in place (inverse: from the target CRS back); the
 * number of points outside the CRS's domain (now infinite or NaN), for the
 * caller to word. */
size_t	 gw_transform_xy(struct gw_transform *, int inverse, double *x,
	    double *y, size_t n);
/* Transform n points in place; -1 after a job error if one fails. */
int	 gw_transform_points(struct gw_job *, struct gw_transform *, double *x,
	    double *y, size_t n);

/*
 * gw_crs_info: whether srid is geographic and the factor from its linear
 * unit to metres (1 for geographic), from PROJ.
 */
int	 gw_crs_info(struct gw_job *, int srid, int *geographic,
	    double *to_metre);

/* The same from a PROJ.4 string (spatial_ref_sys.proj4text): 0 if the
 * string tells (+proj=longlat, +units=, +to_meter=), 1 if PROJ must. */
int	 gw_crs_from_proj4(const char *proj4, int *geographic,
	    double *to_metre);

#endif

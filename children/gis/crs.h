/*
 * crs.h: coordinate reference systems and transformations with PROJ (one
 * PROJ context per process, gis/crs.c).
 */
#ifndef GW_CRS_H
#define GW_CRS_H

#include <stddef.h>

#include "gwworker.h"
#include "gis/geom.h"

/* PROJ: a transformation from one SRID to another (spatial_ref_sys looked up
 * as auth_name:auth_srid, else srtext, else proj4text), x = easting or
 * longitude whatever the CRS's axis order. */
struct gw_transform;
int	 gw_transform_new(struct gw_job *, int from_srid, int to_srid,
	    struct gw_transform **out);
void	 gw_transform_free(struct gw_transform *);
/* A new geometry: g transformed, with SRID to_srid; NULL after a job error
 * (a point outside the CRS's domain, say). */
GEOSGeometry *gw_transform_geom(struct gw_job *, struct gw_transform *,
	    const GEOSGeometry *g);
/* Transform n points in place. */
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

/*
 * geojson.h: GeoJSON parameters to GEOS geometries.
 */
#ifndef GW_GEOJSON_H
#define GW_GEOJSON_H

#include <jansson.h>

#include "gwworker.h"
#include "gis/geom.h"

/*
 * gw_geojson_geometry: a GEOS geometry from the GeoJSON value geojson (a
 * geometry, Feature or FeatureCollection; object or string) given by
 * parameter param, in CRS from_srid, transformed to to_srid (0: keep), and
 * repaired if invalid (*nrepaired, may be NULL).
 */
int	 gw_geojson_geometry(struct gw_job *, const char *param, json_t *geojson,
	    int from_srid, int to_srid, long long *nrepaired, GEOSGeometry **out);

#endif

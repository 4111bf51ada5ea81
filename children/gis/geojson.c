/*
 * geojson.c: a GeoJSON parameter (geometry, Feature or FeatureCollection)
 * to a GEOS geometry in the wanted CRS (see geojson.h).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "gis/crs.h"
#include "gis/geojson.h"

int
gw_geojson_geometry(struct gw_job *job, const char *param, json_t *geojson,
    int from_srid, int to_srid, long long *nrepaired, GEOSGeometry **out)
{
	GEOSContextHandle_t	 ctx = gw_geos();
	GEOSGeoJSONReader	*rd;
	GEOSGeometry		*g, *t;
	struct gw_transform	*tr = NULL;
	char			*text = NULL;
	const char		*s;

	*out = NULL;
	if (json_is_string(geojson))
		s = json_string_value(geojson);
	else if (json_is_object(geojson)) {
		if ((text = json_dumps(geojson, JSON_COMPACT)) == NULL)
			return gw_job_error(job, "out of memory");
		s = text;
	} else
		return gw_job_error(job, "%s: expected a GeoJSON geometry "
		    "object", param);
	if ((rd = GEOSGeoJSONReader_create_r(ctx)) == NULL) {
		free(text);
		return gw_job_error(job, "GEOS: %s", gw_geos_error());
	}
	g = GEOSGeoJSONReader_readGeometry_r(ctx, rd, s);
	GEOSGeoJSONReader_destroy_r(ctx, rd);
	free(text);
	if (g == NULL)
		return gw_job_error(job, "%s: not valid GeoJSON: %s", param,
		    gw_geos_error());
	if (GEOSisEmpty_r(ctx, g)) {
		GEOSGeom_destroy_r(ctx, g);
		return gw_job_error(job, "%s: the geometry is empty", param);
	}
	GEOSSetSRID_r(ctx, g, from_srid);
	if (to_srid > 0 && to_srid != from_srid) {
		if (gw_transform_new(job, from_srid, to_srid, &tr) == -1) {
			GEOSGeom_destroy_r(ctx, g);
			return -1;
		}
		t = gw_transform_geom(job, tr, g);
		gw_transform_free(tr);
		GEOSGeom_destroy_r(ctx, g);
		if (t == NULL)
			return -1;
		g = t;
	}
	if (gw_geom_repair(job, &g, nrepaired, param) == -1) {
		GEOSGeom_destroy_r(ctx, g);
		return -1;
	}
	*out = g;
	return 0;
}

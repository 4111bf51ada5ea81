/*
 * srs.c: the one reader of spatial_ref_sys (see srs.h).
 *
 * NOTES
 *   libpq only: no PROJ, GEOS or GDAL, so that raster_clip, which builds
 *   its CRSs with GDAL, reads the same row without linking PROJ's glue.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gis/srs.h"

int
gw_srs_lookup(struct gw_job *job, const char *param, int srid,
    struct gw_srs *out)
{
	PGresult	*res;
	char		 buf[16];
	const char	*vals[1] = { buf };
	const char	*v[4];
	int		 i;

	memset(out, 0, sizeof(*out));
	snprintf(buf, sizeof(buf), "%d", srid);
	if ((res = gw_exec(job, param != NULL ? param : "spatial_ref_sys",
	    "SELECT auth_name, auth_srid, srtext, proj4text"
	    " FROM spatial_ref_sys WHERE srid = $1::int", 1, vals)) == NULL)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return gw_job_error(job, "%s%sSRID %d is not in "
		    "spatial_ref_sys", param != NULL ? param : "",
		    param != NULL ? ": " : "", srid);
	}
	for (i = 0; i < 4; i++)
		v[i] = PQgetisnull(res, 0, i) ||
		    *PQgetvalue(res, 0, i) == '\0' ? NULL : PQgetvalue(res, 0, i);
	out->srid = srid;
	out->auth_name = v[0];
	out->auth_srid = v[1] != NULL ? atoi(v[1]) : 0;
	out->srtext = v[2];
	out->proj4text = v[3];
	out->res = res;
	return 0;
}

void
gw_srs_free(struct gw_srs *s)
{
	PQclear(s->res);
	memset(s, 0, sizeof(*s));
}

int
gw_srs_mercator(const struct gw_srs *s)
{
	const char	*p;

	if (s->proj4text != NULL)
		for (p = s->proj4text; (p = strstr(p, "+proj=merc")) != NULL;
		    p += 10)
			if (p[10] == ' ' || p[10] == '\0')
				return 1;
	return s->srtext != NULL &&
	    strcasestr(s->srtext, "PROJECTION[\"Mercator") != NULL;
}

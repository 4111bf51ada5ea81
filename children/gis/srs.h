/*
 * srs.h: the one reader of spatial_ref_sys: the row that defines a PostGIS
 * SRID, for crs.c (PROJ) and for programs that build their CRS with GDAL.
 *
 * NOTES
 *   Functions return 0, or -1 after gw_job_error() said why.
 */
#ifndef GW_SRS_H
#define GW_SRS_H

#include "gwworker.h"

/*
 * A row of spatial_ref_sys: the SRID's own definition.  The strings point
 * into res (NULL where the column is NULL or empty); auth_srid is 0 if NULL.
 */
struct gw_srs {
	int		 srid;
	const char	*auth_name;
	int		 auth_srid;
	const char	*srtext;
	const char	*proj4text;
	PGresult	*res;
};

/* gw_srs_lookup: the row of srid into *out (for gw_srs_free()), or -1
 * after a job error "[param: ]SRID n is not in spatial_ref_sys". */
int	 gw_srs_lookup(struct gw_job *, const char *param, int srid,
	    struct gw_srs *out);
void	 gw_srs_free(struct gw_srs *);
/* Whether the row defines a Mercator projection (+proj=merc in proj4text,
 * or a WKT PROJECTION["Mercator...]), whose metres stretch with latitude. */
int	 gw_srs_mercator(const struct gw_srs *);

#endif

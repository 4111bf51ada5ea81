/*
 * overlay_crs.c: gw_crs_from_proj4(), which reads a CRS's kind and unit
 * from spatial_ref_sys.proj4text without a PROJ database look-up, must agree
 * with PROJ itself.  For every EPSG CRS in PROJ's database (projected and
 * geographic), PROJ writes the PROJ.4 string (as PostGIS's spatial_ref_sys
 * holds it) and says whether the CRS is geographic and what its first axis
 * unit is in metres; the parser must say the same or decline.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <proj.h>

#include "gis/crs.h"
#include "tap.h"

int
main(void)
{
	PJ_CONTEXT		*ctx = proj_context_create();
	PROJ_CRS_INFO		**list;
	PJ			*crs, *h, *cs;
	PJ_TYPE			 t;
	const char		*p4;
	double			 f, f2;
	int			 n, i, g, g2, told = 0, bad = 0, geo = 0, feet = 0;

	proj_log_level(ctx, PJ_LOG_NONE);	/* CRSs PROJ.4 cannot express */
	list = proj_get_crs_info_list_from_database(ctx, "EPSG", NULL, &n);
	ok(list != NULL && n > 1000, "PROJ lists %d EPSG CRSs", n);
	for (i = 0; list != NULL && i < n; i++) {
		if (list[i]->deprecated || (list[i]->type != PJ_TYPE_PROJECTED_CRS &&
		    list[i]->type != PJ_TYPE_GEOGRAPHIC_2D_CRS))
			continue;
		if ((crs = proj_create_from_database(ctx, "EPSG",
		    list[i]->code, PJ_CATEGORY_CRS, 0, NULL)) == NULL)
			continue;
		p4 = proj_as_proj_string(ctx, crs, PJ_PROJ_4, NULL);
		if (p4 == NULL || gw_crs_from_proj4(p4, &g, &f) != 0) {
			proj_destroy(crs);
			continue;
		}
		told++;
		t = proj_get_type(crs);
		h = NULL;
		if (t == PJ_TYPE_BOUND_CRS)
			h = proj_get_source_crs(ctx, crs);
		if (h != NULL)
			t = proj_get_type(h);
		g2 = t == PJ_TYPE_GEOGRAPHIC_2D_CRS ||
		    t == PJ_TYPE_GEOGRAPHIC_3D_CRS;
		f2 = 1;
		if (!g2 && (cs = proj_crs_get_coordinate_system(ctx,
		    h ? h : crs)) != NULL) {
			proj_cs_get_axis_info(ctx, cs, 0, NULL, NULL, NULL, &f2,
			    NULL, NULL, NULL);
			proj_destroy(cs);
		}
		geo += g;
		feet += !g && fabs(f - 0.3048) < 0.001;
		if (g != g2 || fabs(f - f2) > 1e-12 * f2) {
			if (++bad <= 10)
				printf("# EPSG:%s %s: parsed %d %.12g, PROJ %d "
				    "%.12g\n", list[i]->code, p4, g, f, g2, f2);
		}
		proj_destroy(h);
		proj_destroy(crs);
	}
	ok(bad == 0, "%d CRSs read from their PROJ.4 strings (%d geographic, "
	    "%d in feet), all as PROJ says", told, geo, feet);
	ok(told > 3000, "the parser decides most of them");
	ok(gw_crs_from_proj4("+proj=geocent +datum=WGS84", &g, &f) == 1,
	    "geocentric: left to PROJ");
	ok(gw_crs_from_proj4("+proj=utm +zone=18 +units=furlong", &g, &f) ==
	    1, "unknown unit: left to PROJ");
	ok(gw_crs_from_proj4("+proj=lcc +to_meter=0.3048006096012192", &g,
	    &f) == 0 && !g && f == 0.3048006096012192, "+to_meter read");
	proj_crs_info_list_destroy(list);
	proj_context_destroy(ctx);
	return done_testing();
}

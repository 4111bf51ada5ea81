/*
 * overlay_valid.c: gw_geom_quick_valid(), the cheap validity test that
 * spares GEOSisValid for small simple polygons, must never call valid what
 * GEOS calls invalid.  Checked on hand-made cases (bow-tie, self-touching
 * ring, spike, repeated points, holes) and on random polygons on a coarse
 * integer grid (full of collinear points, touching and crossing edges),
 * each compared with GEOSisValid_r.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gis/geom.h"
#include "tap.h"

static GEOSGeometry *
wkt(GEOSContextHandle_t ctx, const char *s)
{
	GEOSWKTReader	*r = GEOSWKTReader_create_r(ctx);
	GEOSGeometry	*g = GEOSWKTReader_read_r(ctx, r, s);

	GEOSWKTReader_destroy_r(ctx, r);
	return g;
}

static const struct {
	const char	*wkt;
	int		 quick;		/* what quick_valid must say */
	int		 valid;		/* what GEOS says */
} cases[] = {
	{ "POLYGON((0 0,10 0,10 10,0 10,0 0))", 1, 1 },
	{ "POLYGON((0 0,10 0,0 10,0 0))", 1, 1 },
	{ "MULTIPOLYGON(((0 0,10 0,10 10,0 10,0 0)))", 1, 1 },
	{ "POLYGON((0 0,10 10,10 0,0 10,0 0))", 0, 0 },			/* bow-tie */
	{ "POLYGON((0 0,10 0,10 10,5 10,7 5,3 5,5 10,0 10,0 0))", 0, 0 },	/* self-touching */
	{ "POLYGON((0 0,10 0,10 10,10 20,10 10,0 10,0 0))", 0, 0 },	/* spike */
	{ "POLYGON((0 0,5 0,10 0,10 10,0 10,0 0))", 0, 1 },		/* collinear: GEOS decides */
	{ "POLYGON((0 0,10 0,10 0,10 10,0 10,0 0))", 0, 1 },		/* repeated point */
	{ "POLYGON((0 0,10 0,10 10,0 10,0 0),(2 2,4 2,4 4,2 2))", 0, 1 },	/* hole */
	{ "MULTIPOLYGON(((0 0,1 0,1 1,0 0)),((5 5,6 5,6 6,5 5)))", 0, 1 },
	{ "POLYGON((0 0,10 0,20 0,0 0))", 0, 0 },				/* zero area */
	{ "LINESTRING(0 0,1 1)", 0, 1 },
};

int
main(void)
{
	GEOSContextHandle_t	 ctx = gw_geos();
	GEOSGeometry		*g;
	GEOSCoordSequence	*cs;
	size_t			 i;
	int			 k, n, q, v, bad = 0, nquick = 0, nvalid = 0;
	int			 regular_ok = 1;
	char			 w[64];

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		g = wkt(ctx, cases[i].wkt);
		ok(g != NULL, "parsed %s", cases[i].wkt);
		if (g == NULL)
			continue;
		ok(GEOSisValid_r(ctx, g) == cases[i].valid,
		    "GEOS says %s for %s", cases[i].valid ? "valid" : "invalid",
		    cases[i].wkt);
		ok(gw_geom_quick_valid(ctx, g) == cases[i].quick,
		    "quick test says %s for %s", cases[i].quick ? "valid" :
		    "cannot tell", cases[i].wkt);
		GEOSGeom_destroy_r(ctx, g);
	}

	/* Random rings of 3 to 12 distinct-ish points on a 6 x 6 grid. */
	srand(42);
	for (k = 0; k < 200000; k++) {
		n = 3 + rand() % 10;
		cs = GEOSCoordSeq_create_r(ctx, (unsigned int)n + 1, 2);
		for (i = 0; i < (size_t)n; i++)
			GEOSCoordSeq_setXY_r(ctx, cs, (unsigned int)i,
			    rand() % 6, rand() % 6);
		{
			double x, y;

			GEOSCoordSeq_getXY_r(ctx, cs, 0, &x, &y);
			GEOSCoordSeq_setXY_r(ctx, cs, (unsigned int)n, x, y);
		}
		g = GEOSGeom_createPolygon_r(ctx,
		    GEOSGeom_createLinearRing_r(ctx, cs), NULL, 0);
		q = gw_geom_quick_valid(ctx, g);
		v = GEOSisValid_r(ctx, g);
		nquick += q;
		nvalid += v == 1;
		if (q && v != 1) {
			bad++;
			if (bad < 5) {
				GEOSWKTWriter *wr = GEOSWKTWriter_create_r(ctx);
				char *s = GEOSWKTWriter_write_r(ctx, wr, g);

				printf("# quick valid, GEOS invalid: %s\n", s);
				GEOSFree_r(ctx, s);
				GEOSWKTWriter_destroy_r(ctx, wr);
			}
		}
		GEOSGeom_destroy_r(ctx, g);
	}
	ok(bad == 0, "200000 random grid polygons: never valid for the quick "
	    "test and invalid for GEOS (%d valid for GEOS, %d accepted by "
	    "the quick test)", nvalid, nquick);
	ok(nquick > 1000, "the quick test accepts a fair share (%d)", nquick);

	/* Regular polygons of 3 to 64 vertices, at any rotation: accepted. */
	for (n = 3; n <= 63; n++) {
		cs = GEOSCoordSeq_create_r(ctx, (unsigned int)n + 1, 2);
		for (k = 0; k <= n; k++) {
			double a = 0.1 + 2 * M_PI * (k % n) / n;

			GEOSCoordSeq_setXY_r(ctx, cs, (unsigned int)k,
			    500000 + 1000 * cos(a), 4000000 + 1000 * sin(a));
		}
		g = GEOSGeom_createPolygon_r(ctx,
		    GEOSGeom_createLinearRing_r(ctx, cs), NULL, 0);
		if (!gw_geom_quick_valid(ctx, g) || GEOSisValid_r(ctx, g) != 1) {
			regular_ok = 0;
			snprintf(w, sizeof(w), "%d", n);
			printf("# regular %s-gon not accepted\n", w);
		}
		GEOSGeom_destroy_r(ctx, g);
	}
	ok(regular_ok, "regular polygons of 3 to 63 vertices accepted");
	return done_testing();
}

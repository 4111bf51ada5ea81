/*
 * t/unit/stats_weights.c: the k-d tree and the spatial weights of
 * children/weights.c against brute force (every pair measured: planar
 * Euclid, or PROJ's geod_inverse called directly) and against a lattice of
 * squares whose rook and queen neighbours are known by hand.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../children/weights.h"
#include "tap.h"

#define N	1500

static double
urand(struct gw_rng *r)
{
	return (gw_rng_next(r) >> 11) * 0x1.0p-53;
}

/* Brute force: the k nearest of point i (index order breaks ties). */
static void
brute_knn(size_t n, const double *d, size_t k, uint32_t *out)
{
	size_t		 a, b, best;
	char		*used = calloc(n, 1);

	if (used == NULL)
		exit(1);
	for (a = 0; a < k; a++) {
		best = SIZE_MAX;
		for (b = 0; b < n; b++) {
			if (used[b] || isnan(d[b]))
				continue;
			if (best == SIZE_MAX || d[b] < d[best])
				best = b;
		}
		out[a] = (uint32_t)best;
		used[best] = 1;
	}
	free(used);
}

static void
test_points(int geographic)
{
	struct gw_metric	 m = { 0 };
	struct gw_ptset		 s;
	struct gw_kdhits	 h = { 0 };
	struct geod_geodesic	 g;
	struct gw_nbr		 nb;
	struct gw_rng		 r;
	double			*x, *y, *d, band, maxnn = 0, used, dd;
	uint32_t		 idx[8], want[8];
	double			 kd[8];
	size_t			 i, j, nf, bad_knn = 0, bad_band = 0, cnt;
	const char		*what = geographic ? "geodesic" : "planar";
	char			 err[256];

	x = calloc(N, sizeof(*x));
	y = calloc(N, sizeof(*y));
	d = calloc(N, sizeof(*d));
	if (x == NULL || y == NULL || d == NULL)
		exit(1);
	gw_rng_seed(&r, geographic ? 11 : 12);
	for (i = 0; i < N; i++) {
		if (geographic) {
			/* Around the globe, the poles and the antimeridian
			 * included, to catch wrap-around mistakes. */
			x[i] = -180 + 360 * urand(&r);
			y[i] = -89 + 178 * urand(&r);
		} else {
			x[i] = 1000 * urand(&r);
			y[i] = 500 * urand(&r);
		}
	}
	/* Clustered duplicates: two points on the same spot. */
	x[1] = x[0];
	y[1] = y[0];
	m.geographic = geographic;
	m.a = 6378137;
	m.f = 1 / 298.257223563;
	m.to_metre = geographic ? 1 : 0.3048;	/* feet */
	geod_init(&g, m.a, m.f);
	if (gw_ptset_build(&s, x, y, N, &m) == -1)
		exit(1);
	for (i = 0; i < N; i++) {
		for (j = 0; j < N; j++) {
			if (j == i)
				d[j] = NAN;
			else if (geographic)
				geod_inverse(&g, y[i], x[i], y[j], x[j], &d[j],
				    NULL, NULL);
			else
				d[j] = 0.3048 * hypot(x[j] - x[i], y[j] - y[i]);
		}
		brute_knn(N, d, 8, want);
		if (d[want[0]] > maxnn)
			maxnn = d[want[0]];
		if (gw_ptset_knn(&s, x[i], y[i], 8, i, 0, idx, kd, &nf,
		    &h) == -1)
			exit(1);
		for (j = 0; j < 8; j++)
			if (nf != 8 || (idx[j] != want[j] &&
			    fabs(d[idx[j]] - d[want[j]]) > 1e-9) ||
			    fabs(kd[j] - d[want[j]]) > 1e-6 * (1 + kd[j]))
				bad_knn++;
	}
	ok(bad_knn == 0, "%s: 8 nearest equal brute force for %d points "
	    "(%zu wrong)", what, N, bad_knn);
	gw_ptset_min_band(&s, &band);
	is_near(band, maxnn, 1e-9, "%s: default band = largest nearest "
	    "distance", what);

	/* Fixed band twice the default: each row equals brute force. */
	if (gw_weights_distance(&s, GW_W_FIXED, 2 * band, 0, SIZE_MAX, &nb,
	    &used, err, sizeof(err)) == -1)
		exit(1);
	for (i = 0; i < N; i += 7) {
		cnt = 0;
		for (j = 0; j < N; j++) {
			if (j == i)
				continue;
			if (geographic)
				geod_inverse(&g, y[i], x[i], y[j], x[j], &dd,
				    NULL, NULL);
			else
				dd = 0.3048 * hypot(x[j] - x[i], y[j] - y[i]);
			if (dd <= 2 * band * (1 - 1e-12))
				cnt++;
		}
		if (cnt != GW_NBR_COUNT(&nb, i))
			bad_band++;
	}
	ok(bad_band == 0, "%s: band neighbour counts equal brute force "
	    "(%zu wrong)", what, bad_band);
	gw_nbr_free(&nb);

	/* Default band: nobody is left without a neighbour. */
	gw_weights_distance(&s, GW_W_INVDIST, 0, 0, SIZE_MAX, &nb, &used,
	    err, sizeof(err));
	cnt = 0;
	for (i = 0; i < N; i++)
		if (GW_NBR_COUNT(&nb, i) == 0)
			cnt++;
	ok(cnt == 0 && used == band, "%s: default band leaves no feature "
	    "alone", what);
	ok(nb.w[nb.start[0]] == 1, "%s: duplicate point weight capped at 1",
	    what);
	gw_nbr_free(&nb);

	gw_weights_distance(&s, GW_W_KNN, 0, 5, SIZE_MAX, &nb, &used, err,
	    sizeof(err));
	cnt = 0;
	for (i = 0; i < N; i++)
		if (GW_NBR_COUNT(&nb, i) != 5)
			cnt++;
	ok(cnt == 0, "%s: k = 5 gives 5 neighbours each", what);
	gw_nbr_free(&nb);
	ok(gw_weights_distance(&s, GW_W_FIXED, 1e12, 0, 10000, &nb, &used,
	    err, sizeof(err)) == -1 && strstr(err, "too wide") != NULL,
	    "%s: a band that makes too many pairs is refused: %s", what, err);

	gw_nbr_free(&nb);
	gw_kdhits_free(&h);
	gw_ptset_free(&s);
	free(x);
	free(y);
	free(d);
}

static void
test_contiguity(void)
{
	GEOSContextHandle_t	 ctx = GEOS_init_r();
	GEOSGeometry		*g[9];
	struct gw_nbr		 rook, queen;
	char			 wkt[256], err[256];
	GEOSWKTReader		*rd = GEOSWKTReader_create_r(ctx);
	int			 i;

	/* A 3 x 3 lattice of unit squares, numbered row by row. */
	for (i = 0; i < 9; i++) {
		int	 c = i % 3, r = i / 3;

		snprintf(wkt, sizeof(wkt), "POLYGON((%d %d,%d %d,%d %d,%d %d,"
		    "%d %d))", c, r, c + 1, r, c + 1, r + 1, c, r + 1, c, r);
		g[i] = GEOSWKTReader_read_r(ctx, rd, wkt);
	}
	ok(gw_weights_contiguity(ctx, g, 9, 0, &rook, err, sizeof(err)) == 0,
	    "rook weights");
	ok(gw_weights_contiguity(ctx, g, 9, 1, &queen, err, sizeof(err)) == 0,
	    "queen weights");
	/* Centre: 4 rook, 8 queen; corner: 2 and 3; edge middle: 3 and 5. */
	ok(GW_NBR_COUNT(&rook, 4) == 4 && GW_NBR_COUNT(&queen, 4) == 8,
	    "centre square: 4 rook, 8 queen neighbours");
	ok(GW_NBR_COUNT(&rook, 0) == 2 && GW_NBR_COUNT(&queen, 0) == 3,
	    "corner square: 2 rook, 3 queen neighbours");
	ok(GW_NBR_COUNT(&rook, 1) == 3 && GW_NBR_COUNT(&queen, 1) == 5,
	    "edge square: 3 rook, 5 queen neighbours");
	ok(rook.idx[rook.start[0]] == 1 && rook.idx[rook.start[0] + 1] == 3,
	    "corner's rook neighbours are 1 and 3, in order");
	gw_nbr_free(&rook);
	gw_nbr_free(&queen);
	for (i = 0; i < 9; i++)
		GEOSGeom_destroy_r(ctx, g[i]);
	GEOSWKTReader_destroy_r(ctx, rd);
	GEOS_finish_r(ctx);
}

int
main(void)
{
	enum gw_concept	 c;

	ok(gw_concept_parse("contiguity_edges_corners", &c) == 0 &&
	    c == GW_W_QUEEN, "concept names parse");
	ok(gw_concept_parse("queen", &c) == -1, "unknown concept refused");
	test_points(0);
	test_points(1);
	test_contiguity();
	return done_testing();
}

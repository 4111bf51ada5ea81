/*
 * t/unit/stats_weights.c: the k-d tree and the spatial weights of
 * children/weights.c against brute force (every pair measured: planar
 * Euclid, or PROJ's geod_inverse called directly) and against a lattice of
 * squares whose rook and queen neighbours are known by hand; the same
 * lattice written with floating-point noise (coordinates as sums of 0.1,
 * then perturbed by 1e-12 relative), in planar units and in degrees, must
 * give exactly those neighbours with the default snap.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gis/weights.h"
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
	ok(gw_weights_contiguity(ctx, g, 9, 0, 0, &rook, NULL, err,
	    sizeof(err)) == 0, "rook weights");
	ok(gw_weights_contiguity(ctx, g, 9, 1, 0, &queen, NULL, err,
	    sizeof(err)) == 0, "queen weights");
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

/*
 * A side x side lattice of cells of size d from (x0, y0), cell r * side + c.
 * noise 0: every corner is x0 + c * d exactly as the neighbours compute it.
 * noise 1: each cell adds d to its own left edge (so its right edge is
 * x0 + c * d + d, not x0 + (c + 1) * d: 0.30000000000000004 against 0.3),
 * and every vertex of every cell is scaled by its own 1 + u, |u| <= 1e-12.
 */
static void
lattice(GEOSContextHandle_t ctx, GEOSGeometry **g, int side, double x0,
    double y0, double d, int noise, struct gw_rng *rng)
{
	GEOSCoordSequence	*cs;
	double			 xy[10], ax, ay, bx, by;
	int			 r, c, k;

	for (r = 0; r < side; r++)
		for (c = 0; c < side; c++) {
			ax = x0 + c * d;
			ay = y0 + r * d;
			bx = noise ? ax + d : x0 + (c + 1) * d;
			by = noise ? ay + d : y0 + (r + 1) * d;
			xy[0] = ax, xy[1] = ay, xy[2] = bx, xy[3] = ay;
			xy[4] = bx, xy[5] = by, xy[6] = ax, xy[7] = by;
			for (k = 0; noise && k < 8; k++)
				xy[k] *= 1 + 1e-12 * (2 * urand(rng) - 1);
			xy[8] = xy[0], xy[9] = xy[1];
			cs = GEOSCoordSeq_copyFromBuffer_r(ctx, xy, 5, 0, 0);
			g[r * side + c] = GEOSGeom_createPolygon_r(ctx,
			    GEOSGeom_createLinearRing_r(ctx, cs), NULL, 0);
		}
}

/* Rows of nb that are not the lattice's rook (queen) neighbours. */
static size_t
lattice_wrong(const struct gw_nbr *nb, int side, int queen)
{
	size_t	 bad = 0, m, want;
	int	 i, j, dr, dc;

	for (i = 0; i < side * side; i++) {
		want = 0;
		for (m = nb->start[i]; m < nb->start[i + 1]; m++) {
			j = (int)nb->idx[m];
			dr = abs(j / side - i / side);
			dc = abs(j % side - i % side);
			if (queen ? dr > 1 || dc > 1 : dr + dc != 1)
				bad++;
		}
		for (dr = -1; dr <= 1; dr++)
			for (dc = -1; dc <= 1; dc++)
				if ((dr || dc) && (queen || !dr || !dc) &&
				    i / side + dr >= 0 && i / side + dr < side &&
				    i % side + dc >= 0 && i % side + dc < side)
					want++;
		if (want != GW_NBR_COUNT(nb, i))
			bad++;
	}
	return bad;
}

/* Pairs of a that b lacks (each pair once). */
static size_t
pairs_missing(const struct gw_nbr *a, const struct gw_nbr *b)
{
	size_t	 i, m, k, miss = 0;

	for (i = 0; i < a->n; i++)
		for (m = a->start[i]; m < a->start[i + 1]; m++) {
			if (a->idx[m] < i)
				continue;
			for (k = b->start[i]; k < b->start[i + 1]; k++)
				if (b->idx[k] == a->idx[m])
					break;
			if (k == b->start[i + 1])
				miss++;
		}
	return miss;
}

static void
test_snap(void)
{
	GEOSContextHandle_t	 ctx = GEOS_init_r();
	struct gw_rng		 rng;
	struct gw_nbr		 nb, ex;
	GEOSGeometry		*g[400];
	char			 err[256];
	size_t			 ns, ns0, miss;
	int			 side = 20, i, queen, noise, deg;
	const char		*what;

	gw_rng_seed(&rng, 7);
	for (deg = 0; deg <= 1; deg++)
	for (noise = 0; noise <= 1; noise++) {
		/* Planar: 0.1 units; degrees: 0.001 degree cells west of
		 * Greenwich (the noise is relative to 75 there). */
		if (deg)
			lattice(ctx, g, side, -75.3, 40.1, 0.001, noise, &rng);
		else
			lattice(ctx, g, side, 0, 0, 0.1, noise, &rng);
		for (queen = 0; queen <= 1; queen++) {
			what = queen ? "queen" : "rook";
			ok(gw_weights_contiguity(ctx, g, side * side, queen,
			    GW_SNAP_DEFAULT, &nb, &ns, err, sizeof(err)) == 0,
			    "%s%s lattice, %s, default snap: built", deg ?
			    "degree " : "", noise ? "noisy" : "exact", what);
			ok(lattice_wrong(&nb, side, queen) == 0,
			    "%s%s lattice, %s, default snap: the exact "
			    "lattice's neighbours (%zu wrong rows)", deg ?
			    "degree " : "", noise ? "noisy" : "exact", what,
			    lattice_wrong(&nb, side, queen));
			ok(gw_weights_contiguity(ctx, g, side * side, queen,
			    0, &ex, &ns0, err, sizeof(err)) == 0 && ns0 == 0,
			    "snap 0 built, nothing snapped");
			miss = pairs_missing(&nb, &ex);
			ok(ns == miss, "%s%s lattice, %s: %zu links found "
			    "only by snapping, as counted (%zu)", deg ?
			    "degree " : "", noise ? "noisy" : "exact", what,
			    miss, ns);
			if (noise)
				ok(miss > 0 && lattice_wrong(&ex, side,
				    queen) > 0, "%s%s lattice, %s: snap 0 "
				    "misses %zu links", deg ? "degree " : "",
				    "noisy", what, miss);
			else
				ok(miss == 0 && pairs_missing(&ex, &nb) == 0,
				    "%sexact lattice, %s: snap 0 and default "
				    "snap agree", deg ? "degree " : "", what);
			gw_nbr_free(&nb);
			gw_nbr_free(&ex);
		}
		for (i = 0; i < side * side; i++)
			GEOSGeom_destroy_r(ctx, g[i]);
	}
	GEOS_finish_r(ctx);
}

/*
 * Hand-made cases of the snap rule: a T-junction (rook with and without
 * snap), a corner gap of 1e-9 (queen only, and only with snap), a gap of
 * 1e-6 (nothing at the default snap, queen at snap 1e-5), two squares whose
 * shared edge is shorter than 2 snap (queen, not rook).
 */
static void
test_snap_cases(void)
{
	GEOSContextHandle_t	 ctx = GEOS_init_r();
	GEOSWKTReader		*rd = GEOSWKTReader_create_r(ctx);
	struct gw_nbr		 nb;
	GEOSGeometry		*g[2];
	char			 err[256];
	size_t			 ns;
	size_t			 t;
	static const struct {
		const char	*a, *b, *what;
		double		 snap;
		int		 rook, queen, snapped;
	} cases[] = {
		{ "POLYGON((0 0,2 0,2 1,0 1,0 0))",
		  "POLYGON((0.5 1,1.5 1,1.5 2,0.5 2,0.5 1))",
		  "T-junctions, exact", 0, 1, 1, 0 },
		{ "POLYGON((0 0,2 0,2 1,0 1,0 0))",
		  "POLYGON((0.5 1,1.5 1,1.5 2,0.5 2,0.5 1))",
		  "T-junctions, default snap", GW_SNAP_DEFAULT, 1, 1, 0 },
		{ "POLYGON((0 0,2 0,2 1,0 1,0 0))",
		  "POLYGON((1 1.000000001,3 1.000000001,3 2,1 2,"
		  "1 1.000000001))",
		  "bricks 1e-9 apart", GW_SNAP_DEFAULT, 1, 1, 1 },
		{ "POLYGON((0 0,1 0,1 1,0 1,0 0))",
		  "POLYGON((1.000000001 1,2 1,2 2,1.000000001 2,"
		  "1.000000001 1))",
		  "corner 1e-9 apart", GW_SNAP_DEFAULT, 0, 1, 1 },
		{ "POLYGON((0 0,1 0,1 1,0 1,0 0))",
		  "POLYGON((1.000001 0,2 0,2 1,1.000001 1,1.000001 0))",
		  "edge 1e-6 apart", GW_SNAP_DEFAULT, 0, 0, 0 },
		{ "POLYGON((0 0,1 0,1 1,0 1,0 0))",
		  "POLYGON((1.000001 0,2 0,2 1,1.000001 1,1.000001 0))",
		  "edge 1e-6 apart, snap 1e-5", 1e-5, 1, 1, 1 },
		{ "POLYGON((0 0,1 0,1 1,0 1,0 0))",
		  "POLYGON((1 0.99999,2 0.99999,2 2,1 2,1 0.99999))",
		  "shared edge 1e-5 long, snap 1e-5", 1e-5, 0, 1, 0 },
	};

	for (t = 0; t < sizeof(cases) / sizeof(cases[0]); t++) {
		g[0] = GEOSWKTReader_read_r(ctx, rd, cases[t].a);
		g[1] = GEOSWKTReader_read_r(ctx, rd, cases[t].b);
		ok(gw_weights_contiguity(ctx, g, 2, 0, cases[t].snap, &nb, &ns,
		    err, sizeof(err)) == 0 && nb.start[2] == 2u *
		    cases[t].rook && ns == (size_t)(cases[t].rook &&
		    cases[t].snapped), "%s: rook %s", cases[t].what,
		    cases[t].rook ? "neighbours" : "not neighbours");
		gw_nbr_free(&nb);
		ok(gw_weights_contiguity(ctx, g, 2, 1, cases[t].snap, &nb, &ns,
		    err, sizeof(err)) == 0 && nb.start[2] == 2u *
		    cases[t].queen && ns == (size_t)(cases[t].queen &&
		    cases[t].snapped), "%s: queen %s", cases[t].what,
		    cases[t].queen ? "neighbours" : "not neighbours");
		gw_nbr_free(&nb);
		GEOSGeom_destroy_r(ctx, g[0]);
		GEOSGeom_destroy_r(ctx, g[1]);
	}
	ok(gw_weights_contiguity(ctx, g, 0, 1, -1, &nb, &ns, err,
	    sizeof(err)) == -1, "a negative snap is refused: %s", err);
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
	test_snap();
	test_snap_cases();
	return done_testing();
}

/*
 * nearest_analysis.c: the nearest_analysis job program (doc/nearest_analysis.md).
 *
 * For every input feature, its k nearest features of near (another table,
 * or the input itself without the feature), within search_radius if given:
 * one output row per pair with the distance in metres, the angle, the
 * nearest point on the near feature and a line from the input to it.  The
 * result holds the Average Nearest Neighbor summary (stats.c) of the
 * distances to the nearest feature.
 *
 * NOTES
 *   Two searches.  When both layers are points, a k-d tree over near
 *   (weights.c: planar metres, or geodesics on the ellipsoid, exact).
 *   Otherwise a GEOS STRtree over near, queried with the input's envelope
 *   grown until k candidates lie within the grown distance: every feature
 *   nearer than that distance intersects the grown envelope, so the answer
 *   is exact for planar distances.  Geodesic distances between lines or
 *   polygons are measured between the nearest points found in a local
 *   equirectangular frame around the input feature (longitude scaled by the
 *   cosine of its latitude), then as a geodesic on the ellipsoid; exact for
 *   points, within a small fraction of the distance otherwise.
 *   method "geodesic" on a projected CRS reads both layers in EPSG:4326 and
 *   writes the output back in the input's CRS.  Everything runs in the
 *   job's transaction: a failure leaves no output.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gis/crs.h"
#include "jobs/statsjob.h"

#define DEG2RAD		(M_PI / 180.0)
#define MAX_K		1000

static const char *const keys[] = { "input", "geometry_column", "id_column",
	"near", "near_geometry_column", "near_id_column", "output", "overwrite",
	"k", "search_radius", "method", "area", NULL };

/* The features of a layer kept in memory, and what the read left out. */
struct lyr {
	struct gw_layer	*l;
	struct gw_fset	 fs;
	long long	 nskipped;
	long long	 nrepaired;
};

/* One answer for an input feature. */
struct hit {
	uint32_t	 j;
	double		 d;		/* metres */
	double		 ax, ay;	/* nearest point on the input */
	double		 bx, by;	/* nearest point on the near feature */
	double		 az;		/* angle, degrees */
};

struct ctx {
	struct gw_job		*job;
	GEOSContextHandle_t	 gc;
	struct lyr		*in;
	struct lyr		*nr;
	int			 self;		/* near is the input */
	int			 geodesic;
	double			 to_metre;
	struct geod_geodesic	 geod;
	double			 radius;	/* search_radius, m; 0: none */
	size_t			 k;
	GEOSSTRtree		*tree;
	uint32_t		*tids;
	double			 maxr;		/* a distance that covers all */
	/* scratch */
	struct hit		*cand;
	size_t			 ncand;
	size_t			 candcap;
	double			 scale;		/* equirectangular cos(lat0) */
	int			 oom;
};

static void
lyr_free(struct lyr *y)
{
	gw_fset_free(&y->fs);
	gw_layer_free(y->l);
	memset(y, 0, sizeof(*y));
}

static int
keep(struct gw_job *job, struct gw_feature *f, void *arg)
{
	struct gw_fset	*fs = arg;

	if (gw_fset_add(job, fs, f) == -1)
		return -1;
	return gw_fset_point(job, fs, fs->n - 1, NULL);
}

static int
read_lyr(struct gw_job *job, struct lyr *y, int to_srid, double from,
    double to)
{
	struct gw_read	 rd;

	memset(&rd, 0, sizeof(rd));
	rd.repair = 1;
	rd.to_srid = to_srid;
	rd.progress_from = from;
	rd.progress_to = to;
	y->fs.l = y->l;
	if (gw_layer_read(job, y->l, &rd, keep, &y->fs) == -1)
		return -1;
	y->nskipped = rd.nskipped;
	y->nrepaired = rd.nrepaired;
	return 0;
}

/* Geodesic distance and azimuth (at a) between two lon/lat points. */
static double
geo(const struct ctx *c, double ax, double ay, double bx, double by,
    double *az)
{
	double	 d, a1;

	geod_inverse(&c->geod, ay, ax, by, bx, &d, &a1, NULL);
	if (az != NULL)
		*az = a1;
	return d;
}

static int
scale_xy(double *x, double *y, void *arg)
{
	*x *= *(double *)arg;
	(void)y;
	return 1;
}

static int
unscale_xy(double *x, double *y, void *arg)
{
	*x /= *(double *)arg;
	(void)y;
	return 1;
}

/*
 * Distance from input feature i to near feature j, with the nearest points
 * and the angle, into h.  Returns -1 on a GEOS failure.
 */
static int
measure(struct ctx *c, size_t i, uint32_t j, struct hit *h)
{
	GEOSContextHandle_t	 gc = c->gc;
	const GEOSGeometry	*a = c->in->fs.geoms[i], *b = c->nr->fs.geoms[j];
	GEOSGeometry		*sa = NULL, *sb = NULL;
	GEOSCoordSequence	*cs;
	double			 dx, dy;
	int			 pa, pb;

	h->j = j;
	pa = GEOSGeomTypeId_r(gc, a) == GEOS_POINT;
	pb = GEOSGeomTypeId_r(gc, b) == GEOS_POINT;
	if (pa && pb) {
		h->ax = c->in->fs.x[i];
		h->ay = c->in->fs.y[i];
		h->bx = c->nr->fs.x[j];
		h->by = c->nr->fs.y[j];
	} else {
		if (c->geodesic) {
			/* Nearest points in the local equirectangular frame. */
			if ((sa = GEOSGeom_transformXY_r(gc, a, scale_xy,
			    &c->scale)) == NULL ||
			    (sb = GEOSGeom_transformXY_r(gc, b, scale_xy,
			    &c->scale)) == NULL)
				goto fail;
			cs = GEOSNearestPoints_r(gc, sa, sb);
		} else
			cs = GEOSNearestPoints_r(gc, a, b);
		if (cs == NULL)
			goto fail;
		GEOSCoordSeq_getXY_r(gc, cs, 0, &h->ax, &h->ay);
		GEOSCoordSeq_getXY_r(gc, cs, 1, &h->bx, &h->by);
		GEOSCoordSeq_destroy_r(gc, cs);
		if (c->geodesic) {
			unscale_xy(&h->ax, &h->ay, &c->scale);
			unscale_xy(&h->bx, &h->by, &c->scale);
		}
	}
	if (c->geodesic)
		h->d = geo(c, h->ax, h->ay, h->bx, h->by, &h->az);
	else {
		dx = (h->bx - h->ax) * c->to_metre;
		dy = (h->by - h->ay) * c->to_metre;
		h->d = sqrt(dx * dx + dy * dy);
		h->az = atan2(dy, dx) / DEG2RAD;
	}
	if (sa != NULL)
		GEOSGeom_destroy_r(gc, sa);
	if (sb != NULL)
		GEOSGeom_destroy_r(gc, sb);
	return 0;
 fail:
	if (sa != NULL)
		GEOSGeom_destroy_r(gc, sa);
	if (sb != NULL)
		GEOSGeom_destroy_r(gc, sb);
	return -1;
}

static int
cmp_hit(const void *pa, const void *pb)
{
	const struct hit	*a = pa, *b = pb;

	if (a->d != b->d)
		return a->d < b->d ? -1 : 1;
	return (a->j > b->j) - (a->j < b->j);
}

struct qarg {
	struct ctx	*c;
	size_t		 i;
	int		 fail;
};

static void
tree_cb(void *item, void *arg)
{
	struct qarg	*q = arg;
	struct ctx	*c = q->c;
	uint32_t	 j = *(uint32_t *)item;
	struct hit	*p;
	size_t		 cap;

	if (q->fail || (c->self && j == q->i))
		return;
	if (c->ncand == c->candcap) {
		cap = c->candcap ? c->candcap * 2 : 64;
		if ((p = reallocarray(c->cand, cap, sizeof(*p))) == NULL) {
			q->fail = 1;
			return;
		}
		c->cand = p;
		c->candcap = cap;
	}
	if (measure(c, q->i, j, &c->cand[c->ncand]) == -1) {
		q->fail = 1;
		return;
	}
	c->ncand++;
}

/*
 * The k nearest of input feature i by STRtree and a growing envelope: the
 * candidates inside the envelope grown by R include every feature within
 * distance R; stop when k of them are within R.  Sorted hits go to out.
 */
static int
search_tree(struct ctx *c, size_t i, struct hit *out, size_t *nout)
{
	GEOSContextHandle_t	 gc = c->gc;
	GEOSGeometry		*env = NULL;
	struct qarg		 q = { c, i, 0 };
	double			 xmin, ymin, xmax, ymax, R, dx, dy, lat, m;
	size_t			 n, w;

	*nout = 0;
	if (GEOSGeom_getExtent_r(gc, c->in->fs.geoms[i], &xmin, &ymin, &xmax,
	    &ymax) == 0)
		return -1;
	/* A first guess: the mean spacing of near features, times k. */
	R = c->maxr / sqrt((double)c->nr->fs.n + 1) * sqrt((double)c->k) + 1;
	if (c->radius > 0 && R > c->radius)
		R = c->radius;
	for (;;) {
		if (c->geodesic) {
			/* 110 km per degree of latitude is less than any
			 * on the ellipsoid; the longitude span at the most
			 * poleward latitude reached. */
			dy = R / 110000.0 * 1.01;
			lat = fmax(fabs(ymin - dy), fabs(ymax + dy));
			dx = lat >= 89.9 ? 360 :
			    R / (111000.0 * cos(lat * DEG2RAD)) * 1.01;
			if (dx > 360)
				dx = 360;
		} else
			dx = dy = R / c->to_metre * (1 + 1e-9);
		if ((env = GEOSGeom_createRectangle_r(gc, xmin - dx, ymin - dy,
		    xmax + dx, ymax + dy)) == NULL)
			return -1;
		c->ncand = 0;
		GEOSSTRtree_query_r(gc, c->tree, env, tree_cb, &q);
		GEOSGeom_destroy_r(gc, env);
		if (q.fail)
			return -1;
		n = 0;
		for (w = 0; w < c->ncand; w++)
			if (c->cand[w].d <= R)
				n++;
		if (n >= c->k || R >= c->maxr ||
		    (c->radius > 0 && R >= c->radius))
			break;
		R *= 2;
		if (c->radius > 0 && R > c->radius)
			R = c->radius;
		if (R > c->maxr)
			R = c->maxr;
	}
	qsort(c->cand, c->ncand, sizeof(*c->cand), cmp_hit);
	m = c->radius > 0 ? c->radius : INFINITY;
	for (w = 0; w < c->ncand && *nout < c->k; w++) {
		/* Within R only, unless R covers everything. */
		if (c->cand[w].d > m || (R < c->maxr && c->cand[w].d > R))
			break;
		out[(*nout)++] = c->cand[w];
	}
	return 0;
}

/* The state of one nearest_analysis job, phase to phase. */
struct nearest {
	struct ctx		 c;
	struct lyr		 in, nr;	/* nr = in (shared): c.self */
	struct gw_metric	 m;
	struct gw_ptset		 ps;
	struct gw_kdhits	 kh;
	struct gw_transform	*back;		/* 4326 -> input, or NULL */
	struct hit		*hits;		/* c.k of them */
	uint32_t		*kidx;
	double			*kd;
	double			*nn;		/* nearest other, for ANN */
	size_t			 nnn;
	double			 area;		/* study area, m^2; 0: derive */
	long long		 k, nrows, nnone;
	const char		*method, *outname;
	char			 obuf[128], fullname[256];
	int			 overwrite, to_srid, usetree;
};

/* method: geodesic or planar, checked against the input's CRS. */
static int
nearest_method(struct gw_job *job, struct nearest *ns)
{
	const struct gw_layer	*l = ns->in.l;

	if (ns->method == NULL)
		ns->method = l->geographic ? "geodesic" : "planar";
	if (strcmp(ns->method, "geodesic") == 0)
		ns->c.geodesic = 1;
	else if (strcmp(ns->method, "planar") != 0)
		return gw_job_error(job, "parameter 'method' must be "
		    "\"planar\" or \"geodesic\"");
	if (!ns->c.geodesic && l->geographic)
		return gw_job_error(job, "method: planar distances in metres "
		    "need a projected CRS; %s.%s is geographic (SRID %d): use "
		    "\"geodesic\"", l->schema, l->table, l->srid);
	if (l->srid <= 0 && ns->c.geodesic && !l->geographic)
		return gw_job_error(job, "method: geodesic distances need a "
		    "known CRS; %s.%s has no SRID", l->schema, l->table);
	/* Geodesic on a projected CRS: work in EPSG:4326, write back. */
	if (ns->c.geodesic && !l->geographic) {
		ns->to_srid = 4326;
		if (gw_transform_new(job, 4326, l->srid, &ns->back) == -1)
			return -1;
	}
	return 0;
}

/* Parameters and layers: input, near (or the input itself), method. */
static int
nearest_params(struct gw_job *job, struct nearest *ns)
{
	struct ctx	*c = &ns->c;
	const char	*input, *gcol, *idcol, *near, *ngcol, *nidcol;

	if (gw_param_check_keys(job, keys) == -1 ||
	    gw_param_string(job, "input", 1, NULL, &input) == -1 ||
	    gw_param_string(job, "geometry_column", 0, NULL, &gcol) == -1 ||
	    gw_param_string(job, "id_column", 0, NULL, &idcol) == -1 ||
	    gw_param_string(job, "near", 0, NULL, &near) == -1 ||
	    gw_param_string(job, "near_geometry_column", 0, NULL, &ngcol) == -1 ||
	    gw_param_string(job, "near_id_column", 0, NULL, &nidcol) == -1 ||
	    gw_param_int(job, "k", 1, 1, MAX_K, &ns->k) == -1 ||
	    gw_param_double(job, "search_radius", 0, 1e-6, 1e9,
	    &c->radius) == -1 ||
	    gw_param_double(job, "area", 0, 1e-6, 1e15, &ns->area) == -1 ||
	    gw_param_string(job, "method", 0, NULL, &ns->method) == -1 ||
	    gw_output_name(job, ns->obuf, sizeof(ns->obuf), &ns->outname,
	    &ns->overwrite) == -1)
		return -1;
	c->k = (size_t)ns->k;
	if (gw_layer_resolve(job, "input", input, gcol, idcol, &ns->in.l) == -1)
		return -1;
	if (gw_layer_need_id(job, ns->in.l, "id_column") == -1)
		return -1;
	c->self = near == NULL;
	if (!c->self) {
		if (gw_layer_resolve(job, "near", near, ngcol, nidcol,
		    &ns->nr.l) == -1)
			return -1;
		if (gw_layer_need_id(job, ns->nr.l, "near_id_column") == -1)
			return -1;
		/* The input itself named as near: a feature is not its own
		 * nearest, as when near is omitted. */
		if (ns->nr.l->relid == ns->in.l->relid &&
		    strcmp(ns->nr.l->geom_column, ns->in.l->geom_column) == 0 &&
		    ns->nr.l->id_index == ns->in.l->id_index) {
			gw_layer_free(ns->nr.l);
			ns->nr.l = NULL;
			c->self = 1;
		}
	} else if (ngcol != NULL || nidcol != NULL)
		return gw_job_error(job, "near_geometry_column and "
		    "near_id_column need a near table");
	return nearest_method(job, ns);
}

/* Reads both layers, and sets up the metric and the scratch arrays. */
static int
nearest_read(struct gw_job *job, struct nearest *ns)
{
	struct ctx	*c = &ns->c;

	if (read_lyr(job, &ns->in, ns->to_srid, 0, c->self ? 0.3 : 0.2) == -1)
		return -1;
	if (c->self)
		ns->nr = ns->in;	/* shared: freed once, as in */
	else if (read_lyr(job, &ns->nr, ns->to_srid ? ns->to_srid :
	    ns->in.l->srid, 0.2, 0.3) == -1)
		return -1;
	if (ns->in.fs.n == 0)
		return gw_job_error(job, "input: %s.%s has no feature with a "
		    "geometry", ns->in.l->schema, ns->in.l->table);
	if (ns->nr.fs.n == 0 || (c->self && ns->nr.fs.n < 2))
		return gw_job_error(job, "%s: %s.%s has %s", c->self ? "input" :
		    "near", ns->nr.l->schema, ns->nr.l->table, c->self ?
		    "fewer than two features: none has a nearest other "
		    "feature" : "no feature with a geometry");

	if (ns->to_srid) {
		ns->m.geographic = 1;
		ns->m.a = 6378137;
		ns->m.f = 1 / 298.257223563;
		ns->m.to_metre = 1;
	} else if (gw_layer_metric(job, ns->in.l, &ns->m) == -1)
		return -1;
	c->in = &ns->in;
	c->nr = &ns->nr;
	c->to_metre = ns->m.to_metre;
	geod_init(&c->geod, ns->m.a, ns->m.f);

	if ((ns->hits = calloc(c->k, sizeof(*ns->hits))) == NULL ||
	    (ns->kidx = calloc(c->k, sizeof(*ns->kidx))) == NULL ||
	    (ns->kd = calloc(c->k, sizeof(*ns->kd))) == NULL ||
	    (ns->nn = calloc(ns->in.fs.n, sizeof(*ns->nn))) == NULL)
		return gw_job_error(job, "out of memory");
	return 0;
}

/* The search index over near: an STR tree of the geometries, or a k-d tree
 * when both layers are points. */
static int
nearest_index(struct gw_job *job, struct nearest *ns)
{
	struct ctx	*c = &ns->c;
	GEOSGeometry	*g;
	double		 xmin, ymin, xmax, ymax, e[4];
	size_t		 i;

	ns->usetree = ns->in.fs.nnotpoint > 0 || ns->nr.fs.nnotpoint > 0;
	if (!ns->usetree) {
		if (gw_ptset_build(&ns->ps, ns->nr.fs.x, ns->nr.fs.y,
		    ns->nr.fs.n, &ns->m) == -1)
			return gw_job_error(job, "out of memory");
		return 0;
	}
	if ((c->tree = GEOSSTRtree_create_r(c->gc, 10)) == NULL ||
	    (c->tids = calloc(ns->nr.fs.n, sizeof(*c->tids))) == NULL)
		return gw_job_error(job, "out of memory");
	xmin = ymin = INFINITY;
	xmax = ymax = -INFINITY;
	for (i = 0; i < ns->nr.fs.n + ns->in.fs.n; i++) {
		g = i < ns->nr.fs.n ? ns->nr.fs.geoms[i] :
		    ns->in.fs.geoms[i - ns->nr.fs.n];
		if (i < ns->nr.fs.n) {
			c->tids[i] = (uint32_t)i;
			GEOSSTRtree_insert_r(c->gc, c->tree, g, &c->tids[i]);
		}
		GEOSGeom_getExtent_r(c->gc, g, &e[0], &e[1], &e[2], &e[3]);
		xmin = fmin(xmin, e[0]);
		ymin = fmin(ymin, e[1]);
		xmax = fmax(xmax, e[2]);
		ymax = fmax(ymax, e[3]);
	}
	/* A distance no pair can exceed. */
	if (c->geodesic)
		c->maxr = 20100000;
	else
		c->maxr = hypot(xmax - xmin, ymax - ymin) * c->to_metre *
		    1.001 + 1;
	return 0;
}

/* The nearest of input feature i in ns->hits[0..*nh-1]. */
static int
nearest_search(struct gw_job *job, struct nearest *ns, size_t i, size_t *nh)
{
	struct lyr	*in = &ns->in, *nr = &ns->nr;
	struct hit	*h;
	size_t		 r;

	if (ns->usetree) {
		ns->c.scale = cos(in->fs.y[i] * DEG2RAD);
		if (ns->c.scale < 1e-6)
			ns->c.scale = 1e-6;
		if (search_tree(&ns->c, i, ns->hits, nh) == -1)
			return gw_job_error(job, "input %s = %s: GEOS failed "
			    "measuring distances: %s", in->l->id_column,
			    in->fs.ids[i], gw_geos_error());
		return 0;
	}
	if (gw_ptset_knn(&ns->ps, in->fs.x[i], in->fs.y[i], ns->c.k,
	    ns->c.self ? i : SIZE_MAX, ns->c.radius, ns->kidx, ns->kd, nh,
	    &ns->kh) == -1)
		return gw_job_error(job, "out of memory");
	for (r = 0; r < *nh; r++) {
		h = &ns->hits[r];
		h->j = ns->kidx[r];
		h->d = ns->kd[r];
		h->ax = in->fs.x[i];
		h->ay = in->fs.y[i];
		h->bx = nr->fs.x[ns->kidx[r]];
		h->by = nr->fs.y[ns->kidx[r]];
		gw_ptset_dist(&ns->ps, in->fs.x[i], in->fs.y[i], ns->kidx[r],
		    &h->az);
	}
	return 0;
}

/* Writes the row of input feature i and its r-th nearest: the line between
 * them, in the input's CRS. */
static int
nearest_row(struct gw_job *job, struct nearest *ns, struct gw_output *out,
    size_t i, size_t r)
{
	GEOSContextHandle_t	 gc = ns->c.gc;
	const struct hit	*h = &ns->hits[r];
	GEOSCoordSequence	*cs;
	GEOSGeometry		*line;
	const char		*vals[7];
	char			 b[7][40];
	double			 p[4] = { h->ax, h->ay, h->bx, h->by };
	int			 rc;

	if (ns->back != NULL && (gw_transform_points(job, ns->back, p, p + 1,
	    1) == -1 || gw_transform_points(job, ns->back, p + 2, p + 3,
	    1) == -1))
		return -1;
	if ((cs = GEOSCoordSeq_create_r(gc, 2, 2)) == NULL ||
	    !GEOSCoordSeq_setXY_r(gc, cs, 0, p[0], p[1]) ||
	    !GEOSCoordSeq_setXY_r(gc, cs, 1, p[2], p[3]) ||
	    (line = GEOSGeom_createLineString_r(gc, cs)) == NULL)
		return gw_job_error(job, "GEOS: %s", gw_geos_error());
	vals[0] = ns->in.fs.ids[i];
	vals[1] = ns->nr.fs.ids[h->j];
	snprintf(b[2], sizeof(b[2]), "%zu", r + 1);
	vals[2] = b[2];
	vals[3] = gw_sjob_fmt(b[3], sizeof(b[3]), h->d);
	vals[4] = h->d > 0 ? gw_sjob_fmt(b[4], sizeof(b[4]), h->az) : "0";
	vals[5] = gw_sjob_fmt(b[5], sizeof(b[5]), p[2]);
	vals[6] = gw_sjob_fmt(b[6], sizeof(b[6]), p[3]);
	rc = gw_output_row(job, out, vals, line);
	GEOSGeom_destroy_r(gc, line);
	return rc;
}

/* The output table: a row per input feature and each of its nearest. */
static int
nearest_write(struct gw_job *job, struct nearest *ns)
{
	const struct lyr	*in = &ns->in, *nr = &ns->nr;
	struct gw_output	*out;
	struct gw_colspec	 cols[7] = {
		{ "in_id", in->l->columns[in->l->id_index].type },
		{ "near_id", nr->l->columns[nr->l->id_index].type },
		{ "near_rank", "integer" },
		{ "near_dist", "double precision" },
		{ "near_angle", "double precision" },
		{ "near_x", "double precision" },
		{ "near_y", "double precision" },
	};
	size_t			 i, r, nh;
	int			 rc;

	gw_progress(job, 0.35, "searching the %zu nearest of %zu features "
	    "for %zu features", ns->c.k, nr->fs.n, in->fs.n);
	if (gw_output_create(job, ns->outname, ns->overwrite, cols, 7, "geom",
	    "LineString", in->l->srid, &out) == -1)
		return -1;
	for (i = 0; i < in->fs.n; i++) {
		if (nearest_search(job, ns, i, &nh) == -1)
			goto fail;
		if (nh == 0) {
			ns->nnone++;
			continue;
		}
		for (r = 0; r < nh; r++)
			if (nearest_row(job, ns, out, i, r) == -1)
				goto fail;
		if ((i & 4095) == 4095)
			gw_progress(job, 0.35 + 0.55 * (double)i /
			    (double)in->fs.n, "%zu of %zu features searched",
			    i + 1, in->fs.n);
	}
	gw_progress(job, 0.9, "indexing the output");
	snprintf(ns->fullname, sizeof(ns->fullname), "%s",
	    gw_output_fullname(out));
	rc = gw_output_finish(job, out, &ns->nrows);	/* frees out */
	return rc;
 fail:
	gw_output_free(out);
	return -1;
}

/* The area of polygon mrr (lon/lat) on the ellipsoid, m^2; 0 if GEOS
 * cannot give its ring. */
static double
geodesic_area(struct nearest *ns, const GEOSGeometry *mrr)
{
	GEOSContextHandle_t	 gc = ns->c.gc;
	const GEOSGeometry	*ring;
	const GEOSCoordSequence	*rs;
	unsigned int		 np, q;
	double			 A = 0, P, *lat, *lon;

	if (GEOSGeomTypeId_r(gc, mrr) != GEOS_POLYGON ||
	    (ring = GEOSGetExteriorRing_r(gc, mrr)) == NULL ||
	    (rs = GEOSGeom_getCoordSeq_r(gc, ring)) == NULL ||
	    !GEOSCoordSeq_getSize_r(gc, rs, &np))
		return 0;
	lat = calloc(np, sizeof(double));
	lon = calloc(np, sizeof(double));
	if (lat != NULL && lon != NULL) {
		for (q = 0; q < np; q++)
			GEOSCoordSeq_getXY_r(gc, rs, q, &lon[q], &lat[q]);
		geod_polygonarea(&ns->c.geod, lat, lon, (int)np - 1, &A, &P);
	}
	free(lat);
	free(lon);
	return fabs(A);
}

/*
 * The study area for ANN: given, or the minimum-area rectangle around the
 * input's points (centroids): planar area scaled to m^2, or the rectangle's
 * area on the ellipsoid.
 */
static int
nearest_area(struct gw_job *job, struct nearest *ns)
{
	GEOSContextHandle_t	 gc = ns->c.gc;
	GEOSGeometry		**pts, *mp, *mrr;
	size_t			 i, n = ns->in.fs.n;

	if (ns->area != 0 || n < 2)
		return 0;
	if ((pts = calloc(n, sizeof(*pts))) == NULL)
		return gw_job_error(job, "out of memory");
	for (i = 0; i < n; i++)
		if ((pts[i] = GEOSGeom_createPointFromXY_r(gc, ns->in.fs.x[i],
		    ns->in.fs.y[i])) == NULL) {
			while (i > 0)
				GEOSGeom_destroy_r(gc, pts[--i]);
			free(pts);
			return gw_job_error(job, "GEOS: %s", gw_geos_error());
		}
	mp = GEOSGeom_createCollection_r(gc, GEOS_MULTIPOINT, pts,
	    (unsigned)n);
	free(pts);	/* taken by the collection, or lost below */
	if (mp == NULL || (mrr = GEOSMinimumRotatedRectangle_r(gc, mp)) ==
	    NULL) {
		if (mp != NULL)
			GEOSGeom_destroy_r(gc, mp);
		return gw_job_error(job, "GEOS: %s", gw_geos_error());
	}
	if (ns->m.geographic)
		ns->area = geodesic_area(ns, mrr);
	else {
		GEOSArea_r(gc, mrr, &ns->area);
		ns->area *= ns->c.to_metre * ns->c.to_metre;
	}
	GEOSGeom_destroy_r(gc, mrr);
	GEOSGeom_destroy_r(gc, mp);
	return 0;
}

/*
 * ANN is a statistic of the input's point pattern, as ArcGIS's Average
 * Nearest Neighbor: the distance from each input point (centroid) to the
 * nearest other one, whatever near is.
 */
static int
nearest_ann(struct gw_job *job, struct nearest *ns)
{
	size_t	 i, nh;

	ns->nnn = 0;
	if (ns->in.fs.n < 2)
		return 0;
	gw_ptset_free(&ns->ps);
	if (gw_ptset_build(&ns->ps, ns->in.fs.x, ns->in.fs.y, ns->in.fs.n,
	    &ns->m) == -1)
		return gw_job_error(job, "out of memory");
	for (i = 0; i < ns->in.fs.n; i++) {
		if (gw_ptset_knn(&ns->ps, ns->in.fs.x[i], ns->in.fs.y[i], 1,
		    i, 0, ns->kidx, ns->kd, &nh, &ns->kh) == -1)
			return gw_job_error(job, "out of memory");
		if (nh == 1)
			ns->nn[ns->nnn++] = ns->kd[0];
	}
	return 0;
}

/* The job's result: counts, parameters and the ANN statistic. */
static int
nearest_result(struct gw_job *job, struct nearest *ns, json_t **result)
{
	const struct ctx	*c = &ns->c;
	struct gw_ann		 ann;
	json_t			*res, *ja;

	if ((res = json_object()) == NULL || (ja = json_object()) == NULL) {
		json_decref(res);
		return gw_job_error(job, "out of memory");
	}
	json_object_set_new(res, "output", json_string(ns->fullname));
	json_object_set_new(res, "feature_count",
	    json_integer((json_int_t)ns->in.fs.n));
	json_object_set_new(res, "near_count",
	    json_integer((json_int_t)ns->nr.fs.n));
	json_object_set_new(res, "near", json_string(c->self ?
	    "input" : ns->nr.l->table));
	json_object_set_new(res, "rows", json_integer(ns->nrows));
	json_object_set_new(res, "no_near", json_integer(ns->nnone));
	json_object_set_new(res, "k", json_integer(ns->k));
	json_object_set_new(res, "search_radius", c->radius > 0 ?
	    json_real(c->radius) : json_null());
	json_object_set_new(res, "method", json_string(ns->method));
	json_object_set_new(res, "skipped_geometries",
	    json_integer(ns->in.nskipped + (c->self ? 0 : ns->nr.nskipped)));
	json_object_set_new(res, "repaired_geometries",
	    json_integer(ns->in.nrepaired + (c->self ? 0 : ns->nr.nrepaired)));
	if (gw_ann(ns->nnn, ns->nn, ns->area, &ann) == 0) {
		json_object_set_new(ja, "observed_mean_distance",
		    json_real(ann.observed));
		json_object_set_new(ja, "expected_mean_distance",
		    json_real(ann.expected));
		json_object_set_new(ja, "nearest_neighbor_ratio",
		    json_real(ann.ratio));
		json_object_set_new(ja, "z_score", json_real(ann.zscore));
		json_object_set_new(ja, "p_value", json_real(ann.pvalue));
		json_object_set_new(ja, "area", json_real(ann.area));
		json_object_set_new(ja, "n", json_integer((json_int_t)ann.n));
		json_object_set_new(res, "ann", ja);
	} else {
		json_decref(ja);
		json_object_set_new(res, "ann", json_null());
	}
	*result = res;
	return 0;
}

static void
nearest_free(struct nearest *ns)
{
	if (ns->c.tree != NULL)
		GEOSSTRtree_destroy_r(ns->c.gc, ns->c.tree);
	free(ns->c.tids);
	free(ns->c.cand);
	gw_transform_free(ns->back);
	gw_ptset_free(&ns->ps);
	gw_kdhits_free(&ns->kh);
	free(ns->hits);
	free(ns->kidx);
	free(ns->kd);
	free(ns->nn);
	if (!ns->c.self)
		lyr_free(&ns->nr);
	lyr_free(&ns->in);
}

static int
run_nearest(struct gw_job *job, json_t **result)
{
	struct nearest	 ns;
	int		 rv = -1;

	memset(&ns, 0, sizeof(ns));
	ns.c.job = job;
	ns.c.gc = gw_geos();
	if (nearest_params(job, &ns) == -1 ||
	    nearest_read(job, &ns) == -1 ||
	    nearest_index(job, &ns) == -1 ||
	    nearest_write(job, &ns) == -1 ||
	    nearest_area(job, &ns) == -1 ||
	    nearest_ann(job, &ns) == -1 ||
	    nearest_result(job, &ns, result) == -1)
		goto done;
	rv = 0;
 done:
	nearest_free(&ns);
	return rv;
}

int
main(int argc, char *argv[])
{
	gw_worker_idle(gw_idle_proj);
	return gw_worker_main(argc, argv, "nearest_analysis", run_nearest);
}

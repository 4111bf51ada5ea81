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

/* The features of a layer kept in memory. */
struct lyr {
	struct gw_layer	*l;
	size_t		 n;
	size_t		 cap;
	char		**ids;
	GEOSGeometry	**g;
	double		*x;		/* point coordinates, or centroid */
	double		*y;
	int		 allpoints;	/* every geometry a single point */
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
	GEOSContextHandle_t	 gc = gw_geos();
	size_t			 i;

	for (i = 0; i < y->n; i++) {
		free(y->ids[i]);
		if (y->g[i] != NULL)
			GEOSGeom_destroy_r(gc, y->g[i]);
	}
	free(y->ids);
	free(y->g);
	free(y->x);
	free(y->y);
	gw_layer_free(y->l);
	memset(y, 0, sizeof(*y));
}

static int
keep(struct gw_job *job, struct gw_feature *f, void *arg)
{
	struct lyr		*y = arg;
	GEOSContextHandle_t	 gc = gw_geos();
	void			*p;
	size_t			 cap;

	if (f->id == NULL)
		return gw_job_error(job, "%s: feature %lld has a NULL id (%s)",
		    y->l->param, f->seq + 1, y->l->id_column);
	if (y->n == y->cap) {
		cap = y->cap ? y->cap * 2 : 1024;
		if ((p = reallocarray(y->ids, cap, sizeof(*y->ids))) == NULL)
			goto oom;
		y->ids = p;
		if ((p = reallocarray(y->g, cap, sizeof(*y->g))) == NULL)
			goto oom;
		y->g = p;
		if ((p = reallocarray(y->x, cap, sizeof(*y->x))) == NULL)
			goto oom;
		y->x = p;
		if ((p = reallocarray(y->y, cap, sizeof(*y->y))) == NULL)
			goto oom;
		y->y = p;
		y->cap = cap;
	}
	if (GEOSGeomTypeId_r(gc, f->geom) == GEOS_POINT) {
		GEOSGeomGetX_r(gc, f->geom, &y->x[y->n]);
		GEOSGeomGetY_r(gc, f->geom, &y->y[y->n]);
	} else {
		y->allpoints = 0;
		if (gw_centroid(gc, f->geom, &y->x[y->n], &y->y[y->n]) == -1)
			return gw_job_error(job, "%s %s = %s: no centroid",
			    y->l->param, y->l->id_column, f->id);
	}
	if ((y->ids[y->n] = strdup(f->id)) == NULL)
		goto oom;
	y->g[y->n++] = f->geom;
	f->geom = NULL;
	return 0;
 oom:
	return gw_job_error(job, "out of memory reading %s", y->l->param);
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
	y->allpoints = 1;
	if (gw_layer_read(job, y->l, &rd, keep, y) == -1)
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
	const GEOSGeometry	*a = c->in->g[i], *b = c->nr->g[j];
	GEOSGeometry		*sa = NULL, *sb = NULL;
	GEOSCoordSequence	*cs;
	double			 dx, dy;
	int			 pa, pb;

	h->j = j;
	pa = GEOSGeomTypeId_r(gc, a) == GEOS_POINT;
	pb = GEOSGeomTypeId_r(gc, b) == GEOS_POINT;
	if (pa && pb) {
		h->ax = c->in->x[i];
		h->ay = c->in->y[i];
		h->bx = c->nr->x[j];
		h->by = c->nr->y[j];
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
	if (GEOSGeom_getExtent_r(gc, c->in->g[i], &xmin, &ymin, &xmax,
	    &ymax) == 0)
		return -1;
	/* A first guess: the mean spacing of near features, times k. */
	R = c->maxr / sqrt((double)c->nr->n + 1) * sqrt((double)c->k) + 1;
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

static int
run_nearest(struct gw_job *job, json_t **result)
{
	struct ctx		 c;
	struct lyr		 in, nr;
	struct gw_metric	 m;
	struct gw_ptset		 ps;
	struct gw_kdhits	 kh = { 0 };
	struct gw_transform	*back = NULL;
	struct gw_output	*out = NULL;
	struct gw_colspec	 cols[7];
	struct gw_ann		 ann;
	struct hit		*hits = NULL;
	GEOSGeometry		*line = NULL, *mrr = NULL, *mp = NULL,
				**pts = NULL;
	GEOSCoordSequence	*cs;
	const char		*input, *gcol, *idcol, *near, *ngcol, *nidcol;
	const char		*method, *outname, *vals[7];
	char			 obuf[128], fullname[256], b[7][40];
	uint32_t		*kidx = NULL;
	double			*kd = NULL, *nn = NULL, area = 0;
	double			 xmin, ymin, xmax, ymax, e[4];
	long long		 k, nrows = 0, nnone = 0;
	size_t			 i, r, nh, nnn = 0;
	int			 overwrite, rv = -1, rc, to_srid = 0, usetree;
	json_t			*res = NULL, *ja;

	memset(&c, 0, sizeof(c));
	memset(&in, 0, sizeof(in));
	memset(&nr, 0, sizeof(nr));
	memset(&ps, 0, sizeof(ps));
	c.job = job;
	c.gc = gw_geos();
	if (gw_param_check_keys(job, keys) == -1 ||
	    gw_param_string(job, "input", 1, NULL, &input) == -1 ||
	    gw_param_string(job, "geometry_column", 0, NULL, &gcol) == -1 ||
	    gw_param_string(job, "id_column", 0, NULL, &idcol) == -1 ||
	    gw_param_string(job, "near", 0, NULL, &near) == -1 ||
	    gw_param_string(job, "near_geometry_column", 0, NULL, &ngcol) == -1 ||
	    gw_param_string(job, "near_id_column", 0, NULL, &nidcol) == -1 ||
	    gw_param_int(job, "k", 1, 1, MAX_K, &k) == -1 ||
	    gw_param_double(job, "search_radius", 0, 1e-6, 1e9,
	    &c.radius) == -1 ||
	    gw_param_double(job, "area", 0, 1e-6, 1e15, &area) == -1 ||
	    gw_param_string(job, "method", 0, NULL, &method) == -1 ||
	    gw_output_name(job, obuf, sizeof(obuf), &outname, &overwrite) == -1)
		goto done;
	c.k = (size_t)k;
	if (gw_layer_resolve(job, "input", input, gcol, idcol, &in.l) == -1)
		goto done;
	if (in.l->id_index < 0) {
		gw_job_error(job, "id_column: %s.%s has no single-column primary "
		    "key; name the column that identifies its features",
		    in.l->schema, in.l->table);
		goto done;
	}
	c.self = near == NULL;
	if (!c.self) {
		if (gw_layer_resolve(job, "near", near, ngcol, nidcol,
		    &nr.l) == -1)
			goto done;
		if (nr.l->id_index < 0) {
			gw_job_error(job, "near_id_column: %s.%s has no "
			    "single-column primary key; name the column that "
			    "identifies its features", nr.l->schema,
			    nr.l->table);
			goto done;
		}
		/* The input itself named as near: a feature is not its own
		 * nearest, as when near is omitted. */
		if (nr.l->relid == in.l->relid &&
		    strcmp(nr.l->geom_column, in.l->geom_column) == 0 &&
		    nr.l->id_index == in.l->id_index) {
			gw_layer_free(nr.l);
			nr.l = NULL;
			c.self = 1;
		}
	} else if (ngcol != NULL || nidcol != NULL) {
		gw_job_error(job, "near_geometry_column and near_id_column need "
		    "a near table");
		goto done;
	}
	if (method == NULL)
		method = in.l->geographic ? "geodesic" : "planar";
	if (strcmp(method, "geodesic") == 0)
		c.geodesic = 1;
	else if (strcmp(method, "planar") != 0) {
		gw_job_error(job, "parameter 'method' must be \"planar\" or "
		    "\"geodesic\"");
		goto done;
	}
	if (!c.geodesic && in.l->geographic) {
		gw_job_error(job, "method: planar distances in metres need a "
		    "projected CRS; %s.%s is geographic (SRID %d): use "
		    "\"geodesic\"", in.l->schema, in.l->table, in.l->srid);
		goto done;
	}
	if (in.l->srid <= 0 && c.geodesic && !in.l->geographic) {
		gw_job_error(job, "method: geodesic distances need a known CRS; "
		    "%s.%s has no SRID", in.l->schema, in.l->table);
		goto done;
	}
	/* Geodesic on a projected CRS: work in EPSG:4326, write back. */
	if (c.geodesic && !in.l->geographic) {
		to_srid = 4326;
		if (gw_transform_new(job, 4326, in.l->srid, &back) == -1)
			goto done;
	}

	if (read_lyr(job, &in, to_srid, 0, c.self ? 0.3 : 0.2) == -1)
		goto done;
	if (c.self)
		nr = in;	/* shared: freed once, as in */
	else if (read_lyr(job, &nr, to_srid ? to_srid : in.l->srid, 0.2,
	    0.3) == -1)
		goto done;
	if (in.n == 0) {
		gw_job_error(job, "input: %s.%s has no feature with a geometry",
		    in.l->schema, in.l->table);
		goto done;
	}
	if (nr.n == 0 || (c.self && nr.n < 2)) {
		gw_job_error(job, "%s: %s.%s has %s", c.self ? "input" : "near",
		    nr.l->schema, nr.l->table, c.self ? "fewer than two "
		    "features: none has a nearest other feature" :
		    "no feature with a geometry");
		goto done;
	}

	if (to_srid) {
		m.geographic = 1;
		m.a = 6378137;
		m.f = 1 / 298.257223563;
		m.to_metre = 1;
	} else if (gw_layer_metric(job, in.l, &m) == -1)
		goto done;
	c.in = &in;
	c.nr = &nr;
	c.to_metre = m.to_metre;
	geod_init(&c.geod, m.a, m.f);

	if ((hits = calloc(c.k, sizeof(*hits))) == NULL ||
	    (kidx = calloc(c.k, sizeof(*kidx))) == NULL ||
	    (kd = calloc(c.k, sizeof(*kd))) == NULL ||
	    (nn = calloc(in.n, sizeof(*nn))) == NULL) {
		gw_job_error(job, "out of memory");
		goto done;
	}
	usetree = !(in.allpoints && nr.allpoints);
	if (usetree) {
		if ((c.tree = GEOSSTRtree_create_r(c.gc, 10)) == NULL ||
		    (c.tids = calloc(nr.n, sizeof(*c.tids))) == NULL) {
			gw_job_error(job, "out of memory");
			goto done;
		}
		xmin = ymin = INFINITY;
		xmax = ymax = -INFINITY;
		for (i = 0; i < nr.n + in.n; i++) {
			GEOSGeometry *g = i < nr.n ? nr.g[i] : in.g[i - nr.n];

			if (i < nr.n) {
				c.tids[i] = (uint32_t)i;
				GEOSSTRtree_insert_r(c.gc, c.tree, g, &c.tids[i]);
			}
			GEOSGeom_getExtent_r(c.gc, g, &e[0], &e[1], &e[2], &e[3]);
			xmin = fmin(xmin, e[0]);
			ymin = fmin(ymin, e[1]);
			xmax = fmax(xmax, e[2]);
			ymax = fmax(ymax, e[3]);
		}
		/* A distance no pair can exceed. */
		if (c.geodesic)
			c.maxr = 20100000;
		else
			c.maxr = hypot(xmax - xmin, ymax - ymin) * c.to_metre *
			    1.001 + 1;
	} else if (gw_ptset_build(&ps, nr.x, nr.y, nr.n, &m) == -1) {
		gw_job_error(job, "out of memory");
		goto done;
	}
	gw_progress(job, 0.35, "searching the %zu nearest of %zu features "
	    "for %zu features", c.k, nr.n, in.n);

	cols[0].name = "in_id";
	cols[0].type = in.l->columns[in.l->id_index].type;
	cols[1].name = "near_id";
	cols[1].type = nr.l->columns[nr.l->id_index].type;
	cols[2].name = "near_rank";
	cols[2].type = "integer";
	cols[3].name = "near_dist";
	cols[3].type = "double precision";
	cols[4].name = "near_angle";
	cols[4].type = "double precision";
	cols[5].name = "near_x";
	cols[5].type = "double precision";
	cols[6].name = "near_y";
	cols[6].type = "double precision";
	if (gw_output_create(job, outname, overwrite, cols, 7, "geom",
	    "LineString", in.l->srid, &out) == -1)
		goto done;

	for (i = 0; i < in.n; i++) {
		if (usetree) {
			c.scale = cos(in.y[i] * DEG2RAD);
			if (c.scale < 1e-6)
				c.scale = 1e-6;
			if (search_tree(&c, i, hits, &nh) == -1) {
				gw_job_error(job, "input %s = %s: GEOS failed "
				    "measuring distances: %s", in.l->id_column,
				    in.ids[i], gw_geos_error());
				goto done;
			}
		} else {
			if (gw_ptset_knn(&ps, in.x[i], in.y[i], c.k,
			    c.self ? i : SIZE_MAX, c.radius, kidx, kd, &nh,
			    &kh) == -1) {
				gw_job_error(job, "out of memory");
				goto done;
			}
			for (r = 0; r < nh; r++) {
				hits[r].j = kidx[r];
				hits[r].d = kd[r];
				hits[r].ax = in.x[i];
				hits[r].ay = in.y[i];
				hits[r].bx = nr.x[kidx[r]];
				hits[r].by = nr.y[kidx[r]];
				gw_ptset_dist(&ps, in.x[i], in.y[i], kidx[r],
				    &hits[r].az);
			}
		}
		if (nh == 0) {
			nnone++;
			continue;
		}
		for (r = 0; r < nh; r++) {
			double	 p[4] = { hits[r].ax, hits[r].ay, hits[r].bx,
				    hits[r].by };

			if (back != NULL && gw_transform_points(job, back, p,
			    p + 1, 1) == -1)
				goto done;
			if (back != NULL && gw_transform_points(job, back,
			    p + 2, p + 3, 1) == -1)
				goto done;
			if ((cs = GEOSCoordSeq_create_r(c.gc, 2, 2)) == NULL ||
			    !GEOSCoordSeq_setXY_r(c.gc, cs, 0, p[0], p[1]) ||
			    !GEOSCoordSeq_setXY_r(c.gc, cs, 1, p[2], p[3]) ||
			    (line = GEOSGeom_createLineString_r(c.gc,
			    cs)) == NULL) {
				gw_job_error(job, "GEOS: %s", gw_geos_error());
				goto done;
			}
			vals[0] = in.ids[i];
			vals[1] = nr.ids[hits[r].j];
			snprintf(b[2], sizeof(b[2]), "%zu", r + 1);
			vals[2] = b[2];
			vals[3] = gw_sjob_fmt(b[3], sizeof(b[3]), hits[r].d);
			vals[4] = hits[r].d > 0 ?
			    gw_sjob_fmt(b[4], sizeof(b[4]), hits[r].az) : "0";
			vals[5] = gw_sjob_fmt(b[5], sizeof(b[5]), p[2]);
			vals[6] = gw_sjob_fmt(b[6], sizeof(b[6]), p[3]);
			rc = gw_output_row(job, out, vals, line);
			GEOSGeom_destroy_r(c.gc, line);
			line = NULL;
			if (rc == -1)
				goto done;
		}
		if ((i & 4095) == 4095)
			gw_progress(job, 0.35 + 0.55 * (double)i / (double)in.n,
			    "%zu of %zu features searched", i + 1, in.n);
	}
	gw_progress(job, 0.9, "indexing the output");
	snprintf(fullname, sizeof(fullname), "%s", gw_output_fullname(out));
	rc = gw_output_finish(job, out, &nrows);
	out = NULL;	/* freed by gw_output_finish, even on failure */
	if (rc == -1)
		goto done;

	/*
	 * The study area for ANN: given, or the minimum-area rectangle
	 * around the input's points (centroids): planar area scaled to m^2,
	 * or the rectangle's area on the ellipsoid.
	 */
	if (area == 0 && in.n >= 2) {
		if ((pts = calloc(in.n, sizeof(*pts))) == NULL) {
			gw_job_error(job, "out of memory");
			goto done;
		}
		for (i = 0; i < in.n; i++)
			if ((pts[i] = GEOSGeom_createPointFromXY_r(c.gc, in.x[i],
			    in.y[i])) == NULL) {
				while (i > 0)
					GEOSGeom_destroy_r(c.gc, pts[--i]);
				gw_job_error(job, "GEOS: %s", gw_geos_error());
				goto done;
			}
		mp = GEOSGeom_createCollection_r(c.gc, GEOS_MULTIPOINT, pts,
		    (unsigned)in.n);
		free(pts);	/* taken by the collection, or lost below */
		pts = NULL;
		if (mp == NULL || (mrr = GEOSMinimumRotatedRectangle_r(c.gc,
		    mp)) == NULL) {
			gw_job_error(job, "GEOS: %s", gw_geos_error());
			goto done;
		}
		if (m.geographic) {
			const GEOSGeometry	*ring;
			const GEOSCoordSequence	*rs;
			unsigned int		 np, q;
			double			 A = 0, P;

			if (GEOSGeomTypeId_r(c.gc, mrr) == GEOS_POLYGON &&
			    (ring = GEOSGetExteriorRing_r(c.gc, mrr)) != NULL &&
			    (rs = GEOSGeom_getCoordSeq_r(c.gc, ring)) != NULL &&
			    GEOSCoordSeq_getSize_r(c.gc, rs, &np)) {
				double	*lat = calloc(np, sizeof(double));
				double	*lon = calloc(np, sizeof(double));

				if (lat != NULL && lon != NULL) {
					for (q = 0; q < np; q++)
						GEOSCoordSeq_getXY_r(c.gc, rs,
						    q, &lon[q], &lat[q]);
					geod_polygonarea(&c.geod, lat, lon,
					    (int)np - 1, &A, &P);
				}
				free(lat);
				free(lon);
			}
			area = fabs(A);
		} else {
			GEOSArea_r(c.gc, mrr, &area);
			area *= c.to_metre * c.to_metre;
		}
	}

	/*
	 * ANN is a statistic of the input's point pattern, as ArcGIS's
	 * Average Nearest Neighbor: the distance from each input point
	 * (centroid) to the nearest other one, whatever near is.
	 */
	nnn = 0;
	if (in.n >= 2) {
		gw_ptset_free(&ps);
		if (gw_ptset_build(&ps, in.x, in.y, in.n, &m) == -1) {
			gw_job_error(job, "out of memory");
			goto done;
		}
		for (i = 0; i < in.n; i++) {
			if (gw_ptset_knn(&ps, in.x[i], in.y[i], 1, i, 0, kidx,
			    kd, &nh, &kh) == -1) {
				gw_job_error(job, "out of memory");
				goto done;
			}
			if (nh == 1)
				nn[nnn++] = kd[0];
		}
	}

	if ((res = json_object()) == NULL || (ja = json_object()) == NULL) {
		gw_job_error(job, "out of memory");
		goto done;
	}
	json_object_set_new(res, "output", json_string(fullname));
	json_object_set_new(res, "feature_count", json_integer((json_int_t)in.n));
	json_object_set_new(res, "near_count", json_integer((json_int_t)nr.n));
	json_object_set_new(res, "near", json_string(c.self ?
	    "input" : nr.l->table));
	json_object_set_new(res, "rows", json_integer(nrows));
	json_object_set_new(res, "no_near", json_integer(nnone));
	json_object_set_new(res, "k", json_integer(k));
	json_object_set_new(res, "search_radius", c.radius > 0 ?
	    json_real(c.radius) : json_null());
	json_object_set_new(res, "method", json_string(method));
	json_object_set_new(res, "skipped_geometries",
	    json_integer(in.nskipped + (c.self ? 0 : nr.nskipped)));
	json_object_set_new(res, "repaired_geometries",
	    json_integer(in.nrepaired + (c.self ? 0 : nr.nrepaired)));
	if (gw_ann(nnn, nn, area, &ann) == 0) {
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
	res = NULL;
	rv = 0;
 done:
	json_decref(res);
	if (line != NULL)
		GEOSGeom_destroy_r(c.gc, line);
	if (mrr != NULL)
		GEOSGeom_destroy_r(c.gc, mrr);
	if (mp != NULL)
		GEOSGeom_destroy_r(c.gc, mp);
	if (c.tree != NULL)
		GEOSSTRtree_destroy_r(c.gc, c.tree);
	free(c.tids);
	free(c.cand);
	gw_output_free(out);
	gw_transform_free(back);
	gw_ptset_free(&ps);
	gw_kdhits_free(&kh);
	free(hits);
	free(kidx);
	free(kd);
	free(nn);
	if (!c.self)
		lyr_free(&nr);
	lyr_free(&in);
	return rv;
}

int
main(int argc, char *argv[])
{
	return gw_worker_main(argc, argv, "nearest_analysis", run_nearest);
}

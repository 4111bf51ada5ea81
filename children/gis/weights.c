/*
 * weights.c: spatial weights and nearest-neighbour queries in metres (see
 * weights.h).
 *
 * NOTES
 *   Every neighbour search goes through the k-d tree (points) or a GEOS
 *   STRtree (polygon contiguity), so building weights for n features costs
 *   O(n log n) plus the number of neighbour pairs, never O(n^2).
 *
 *   Geographic exactness: the k nearest by geodesic distance are found by
 *   asking the tree for the k nearest chords, taking G, the largest geodesic
 *   among them, and then every point within chord G: any point closer than G
 *   on the ellipsoid is within chord G, so the k geodesically nearest are
 *   among those.  Radius queries are padded by 1e-9 relative and decided by
 *   the exact distance afterwards, so that the default band (the largest
 *   nearest-neighbour distance, computed by the same code) always includes
 *   the pair that defines it.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gis/weights.h"

#define DEG2RAD	(M_PI / 180.0)
#define PAD	(1 + 1e-9)

static const struct {
	const char	*name;
	enum gw_concept	 c;
} concepts[] = {
	{ "fixed_distance", GW_W_FIXED },
	{ "inverse_distance", GW_W_INVDIST },
	{ "inverse_distance_squared", GW_W_INVDIST2 },
	{ "k_nearest", GW_W_KNN },
	{ "contiguity_edges", GW_W_ROOK },
	{ "contiguity_edges_corners", GW_W_QUEEN },
};

int
gw_concept_parse(const char *s, enum gw_concept *c)
{
	size_t	 i;

	for (i = 0; i < sizeof(concepts) / sizeof(concepts[0]); i++)
		if (strcmp(s, concepts[i].name) == 0) {
			*c = concepts[i].c;
			return 0;
		}
	return -1;
}

const char *
gw_concept_name(enum gw_concept c)
{
	size_t	 i;

	for (i = 0; i < sizeof(concepts) / sizeof(concepts[0]); i++)
		if (concepts[i].c == c)
			return concepts[i].name;
	return "?";
}

static void
to_ecef(const struct gw_ptset *s, double lon, double lat, double *out)
{
	double	 phi = lat * DEG2RAD, lam = lon * DEG2RAD, sp = sin(phi), N;

	N = s->a / sqrt(1 - s->e2 * sp * sp);
	out[0] = N * cos(phi) * cos(lam);
	out[1] = N * cos(phi) * sin(lam);
	out[2] = N * (1 - s->e2) * sp;
}

int
gw_ptset_build(struct gw_ptset *s, const double *x, const double *y, size_t n,
    const struct gw_metric *m)
{
	size_t	 i, dim;

	memset(s, 0, sizeof(*s));
	s->n = n;
	s->geographic = m->geographic;
	s->to_metre = m->to_metre > 0 ? m->to_metre : 1;
	dim = s->geographic ? 3 : 2;
	if ((s->c = calloc(n ? n * dim : 1, sizeof(*s->c))) == NULL)
		goto fail;
	if (s->geographic) {
		s->a = m->a;
		s->e2 = m->f * (2 - m->f);
		geod_init(&s->geod, m->a, m->f);
		if ((s->lon = calloc(n ? n : 1, sizeof(*s->lon))) == NULL ||
		    (s->lat = calloc(n ? n : 1, sizeof(*s->lat))) == NULL)
			goto fail;
		for (i = 0; i < n; i++) {
			s->lon[i] = x[i];
			s->lat[i] = y[i];
			to_ecef(s, x[i], y[i], s->c + 3 * i);
		}
	} else {
		for (i = 0; i < n; i++) {
			s->c[2 * i] = x[i] * s->to_metre;
			s->c[2 * i + 1] = y[i] * s->to_metre;
		}
	}
	if (gw_kdtree_build(&s->tree, s->c, n, (int)dim) == -1)
		goto fail;
	return 0;
fail:
	gw_ptset_free(s);
	return -1;
}

void
gw_ptset_free(struct gw_ptset *s)
{
	gw_kdtree_free(&s->tree);
	free(s->c);
	free(s->lon);
	free(s->lat);
	memset(s, 0, sizeof(*s));
}

double
gw_ptset_dist(const struct gw_ptset *s, double x, double y, size_t j,
    double *az)
{
	double	 d, a1, dx, dy;

	if (s->geographic) {
		geod_inverse(&s->geod, y, x, s->lat[j], s->lon[j], &d, &a1,
		    NULL);
		if (az != NULL)
			*az = a1;
		return d;
	}
	dx = s->c[2 * j] - x * s->to_metre;
	dy = s->c[2 * j + 1] - y * s->to_metre;
	if (az != NULL)
		*az = atan2(dy, dx) / DEG2RAD;
	return sqrt(dx * dx + dy * dy);
}

/* Query point in tree space. */
static void
tree_point(const struct gw_ptset *s, double x, double y, double *q)
{
	if (s->geographic)
		to_ecef(s, x, y, q);
	else {
		q[0] = x * s->to_metre;
		q[1] = y * s->to_metre;
	}
}

/* Sorts hits by (exact distance in d2[], index): insertion sort, as hit
 * lists are short. */
static void
sort_hits(struct gw_kdhits *h)
{
	size_t		 i, j;
	uint32_t	 ti;
	double		 td;

	for (i = 1; i < h->n; i++) {
		ti = h->idx[i];
		td = h->d2[i];
		for (j = i; j > 0 && (h->d2[j - 1] > td ||
		    (h->d2[j - 1] == td && h->idx[j - 1] > ti)); j--) {
			h->idx[j] = h->idx[j - 1];
			h->d2[j] = h->d2[j - 1];
		}
		h->idx[j] = ti;
		h->d2[j] = td;
	}
}

int
gw_ptset_knn(const struct gw_ptset *s, double x, double y, size_t k,
    size_t skip, double maxdist, uint32_t *idx, double *d, size_t *nfound,
    struct gw_kdhits *h)
{
	double	 q[3], G = 0, dj;
	size_t	 i, m = 0;

	*nfound = 0;
	tree_point(s, x, y, q);
	if (gw_kdtree_knn(&s->tree, q, k, skip, h) == -1)
		return -1;
	if (s->geographic) {
		for (i = 0; i < h->n; i++) {
			dj = gw_ptset_dist(s, x, y, h->idx[i], NULL);
			if (dj > G)
				G = dj;
		}
		if (maxdist > 0 && G > maxdist)
			G = maxdist;
		if (h->n == k) {
			h->n = 0;
			if (gw_kdtree_radius(&s->tree, q, G * PAD + 1e-9,
			    skip, h) == -1)
				return -1;
		}
		/* From here d2[] holds exact geodesic distances. */
		for (i = 0; i < h->n; i++)
			h->d2[i] = gw_ptset_dist(s, x, y, h->idx[i], NULL);
		sort_hits(h);
	} else {
		for (i = 0; i < h->n; i++)
			h->d2[i] = sqrt(h->d2[i]);
	}
	for (i = 0; i < h->n && m < k; i++) {
		if (maxdist > 0 && h->d2[i] > maxdist)
			break;
		idx[m] = h->idx[i];
		d[m] = h->d2[i];
		m++;
	}
	*nfound = m;
	return 0;
}

/* Coordinates of point i in its CRS (what gw_ptset_knn takes). */
static void
point_xy(const struct gw_ptset *s, size_t i, double *x, double *y)
{
	if (s->geographic) {
		*x = s->lon[i];
		*y = s->lat[i];
	} else {
		/* Divide back only when scaled: exact for to_metre == 1. */
		*x = s->to_metre == 1 ? s->c[2 * i] : s->c[2 * i] / s->to_metre;
		*y = s->to_metre == 1 ? s->c[2 * i + 1] :
		    s->c[2 * i + 1] / s->to_metre;
	}
}

/* Exact distance between set points i and j, metres. */
static double
pair_dist(const struct gw_ptset *s, size_t i, size_t j)
{
	double	 d, dx, dy;

	if (s->geographic) {
		geod_inverse(&s->geod, s->lat[i], s->lon[i], s->lat[j],
		    s->lon[j], &d, NULL, NULL);
		return d;
	}
	dx = s->c[2 * j] - s->c[2 * i];
	dy = s->c[2 * j + 1] - s->c[2 * i + 1];
	return sqrt(dx * dx + dy * dy);
}

int
gw_ptset_min_band(const struct gw_ptset *s, double *band)
{
	struct gw_kdhits h = { 0 };
	uint32_t	 idx;
	double		 d = 0, x, y;
	size_t		 i, p, nf;

	*band = 0;
	for (p = 0; p < s->n; p++) {
		i = gw_kdtree_order(&s->tree, p);
		point_xy(s, i, &x, &y);
		if (s->geographic) {
			if (gw_ptset_knn(s, x, y, 1, i, 0, &idx, &d, &nf,
			    &h) == -1)
				goto fail;
		} else {
			/* Exactly as the band query measures the pair. */
			double	 q[2] = { s->c[2 * i], s->c[2 * i + 1] };

			if (gw_kdtree_knn(&s->tree, q, 1, i, &h) == -1)
				goto fail;
			nf = h.n;
			if (nf)
				d = pair_dist(s, i, h.idx[0]);
		}
		if (nf && d > *band)
			*band = d;
	}
	gw_kdhits_free(&h);
	return 0;
fail:
	gw_kdhits_free(&h);
	return -1;
}

/* Makes room for need elements of size bytes in *p (capacity *cap, doubled
 * from 64).  -1: out of memory, *p unchanged. */
static int
grow(void **p, size_t *cap, size_t need, size_t size)
{
	void	*q;
	size_t	 c;

	if (need <= *cap)
		return 0;
	for (c = *cap ? *cap : 64; c < need; c *= 2)
		;
	if ((q = reallocarray(*p, c, size)) == NULL)
		return -1;
	*p = q;
	*cap = c;
	return 0;
}

/* A growing CSR, row after row. */
struct csr_builder {
	struct gw_nbr	 nb;
	size_t		 nnz;
	size_t		 capidx;
	size_t		 capw;
};

static int
csr_push(struct csr_builder *b, uint32_t j, double w)
{
	if (grow((void **)&b->nb.idx, &b->capidx, b->nnz + 1,
	    sizeof(*b->nb.idx)) == -1 ||
	    grow((void **)&b->nb.w, &b->capw, b->nnz + 1,
	    sizeof(*b->nb.w)) == -1)
		return -1;
	b->nb.idx[b->nnz] = j;
	b->nb.w[b->nnz++] = w;
	return 0;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t	 x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/*
 * The state of one gw_weights_distance(): rows are built in the tree's
 * order into b, row i at rowat[i] (rowlen[i] neighbours), then copied out
 * in feature order.
 */
struct dist_build {
	const struct gw_ptset	*s;
	enum gw_concept		 c;
	double			 band;
	size_t			 k;
	struct csr_builder	 b;
	struct gw_kdhits	 h;
	uint32_t		*kidx;		/* k nearest: scratch */
	double			*kd;
	size_t			*rowat;
	size_t			*rowlen;
};

static void
dist_free(struct dist_build *db)
{
	gw_nbr_free(&db->b.nb);
	gw_kdhits_free(&db->h);
	free(db->kidx);
	free(db->kd);
	free(db->rowat);
	free(db->rowlen);
}

/* Row i of the k nearest: weight 1 each.  -1: out of memory. */
static int
dist_knn_row(struct dist_build *db, size_t i)
{
	double	 x, y;
	size_t	 j, nf;

	point_xy(db->s, i, &x, &y);
	if (gw_ptset_knn(db->s, x, y, db->k, i, 0, db->kidx, db->kd, &nf,
	    &db->h) == -1)
		return -1;
	qsort(db->kidx, nf, sizeof(*db->kidx), cmp_u32);
	for (j = 0; j < nf; j++)
		if (csr_push(&db->b, db->kidx[j], 1.0) == -1)
			return -1;
	return 0;
}

/* Row i of a distance band: fixed or inverse distance (squared) weights.
 * -1: out of memory. */
static int
dist_band_row(struct dist_build *db, size_t i)
{
	const struct gw_ptset	*s = db->s;
	struct gw_kdhits	*h = &db->h;
	double			 d, w;
	size_t			 j, dim = s->geographic ? 3 : 2;

	h->n = 0;
	if (gw_kdtree_radius(&s->tree, s->c + dim * i, db->band * PAD, i,
	    h) == -1)
		return -1;
	qsort(h->idx, h->n, sizeof(*h->idx), cmp_u32);
	for (j = 0; j < h->n; j++) {
		d = pair_dist(s, i, h->idx[j]);
		if (d > db->band)
			continue;
		if (db->c == GW_W_FIXED)
			w = 1;
		else if (db->c == GW_W_INVDIST)
			w = 1 / (d < 1 ? 1 : d);
		else
			w = 1 / (d < 1 ? 1 : d * d);
		if (csr_push(&db->b, h->idx[j], w) == -1)
			return -1;
	}
	return 0;
}

/* The rows, built in the tree's order, into out in feature order. */
static int
dist_rows_out(struct dist_build *db, struct gw_nbr *out)
{
	size_t	 i, n = db->s->n;

	if (gw_nbr_alloc(out, n, db->b.nnz) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		out->start[i + 1] = out->start[i] + db->rowlen[i];
		memcpy(out->idx + out->start[i], db->b.nb.idx + db->rowat[i],
		    db->rowlen[i] * sizeof(*out->idx));
		memcpy(out->w + out->start[i], db->b.nb.w + db->rowat[i],
		    db->rowlen[i] * sizeof(*out->w));
	}
	return 0;
}

int
gw_weights_distance(const struct gw_ptset *s, enum gw_concept c, double band,
    size_t k, size_t max_pairs, struct gw_nbr *out, double *band_used,
    char *err, size_t errlen)
{
	struct dist_build	 db = { .s = s, .c = c, .k = k,
				    .b = { .nb = { .n = s->n } } };
	size_t			 i, p, row;
	int			 rc;

	memset(out, 0, sizeof(*out));
	*band_used = 0;
	if ((db.rowat = calloc(s->n + 1, sizeof(*db.rowat))) == NULL ||
	    (db.rowlen = calloc(s->n + 1, sizeof(*db.rowlen))) == NULL)
		goto oom;
	if (c == GW_W_KNN) {
		if (k == 0) {
			snprintf(err, errlen, "k must be at least 1");
			goto fail;
		}
		if ((db.kidx = calloc(k, sizeof(*db.kidx))) == NULL ||
		    (db.kd = calloc(k, sizeof(*db.kd))) == NULL)
			goto oom;
	} else if (band <= 0 && gw_ptset_min_band(s, &band) == -1)
		goto oom;
	db.band = band;
	*band_used = c == GW_W_KNN ? 0 : band;

	/*
	 * Rows are searched in the tree's spatial order, so that
	 * consecutive searches read the same part of the tree, and put in
	 * feature order afterwards.
	 */
	for (p = 0; p < s->n; p++) {
		i = gw_kdtree_order(&s->tree, p);
		row = db.b.nnz;
		rc = c == GW_W_KNN ? dist_knn_row(&db, i) :
		    dist_band_row(&db, i);
		if (rc == -1)
			goto oom;
		if (db.b.nnz > max_pairs) {
			snprintf(err, errlen, "more than %zu neighbour pairs: "
			    "the distance band (%.6g m) is too wide for the "
			    "data", max_pairs, band);
			goto fail;
		}
		db.rowat[i] = row;
		db.rowlen[i] = db.b.nnz - row;
	}
	if (dist_rows_out(&db, out) == -1)
		goto oom;
	dist_free(&db);
	return 0;
oom:
	snprintf(err, errlen, "out of memory building spatial weights");
fail:
	dist_free(&db);
	return -1;
}

/* Contiguity: STRtree candidates of feature i. */
struct cand {
	uint32_t	*j;
	size_t		 n;
	size_t		 cap;
	int		 oom;
};

static void
cand_cb(void *item, void *arg)
{
	struct cand	*c = arg;

	if (c->oom)
		return;
	if (grow((void **)&c->j, &c->cap, c->n + 1, sizeof(*c->j)) == -1) {
		c->oom = 1;
		return;
	}
	c->j[c->n++] = *(uint32_t *)item;
}

/*
 * The vertices of the polygons, for the contact points of snap > 0, copied
 * out of GEOS the first time a polygon needs them (exactly noded data
 * seldom does): all coordinates in one array, ring after ring; ring r is
 * the points rs[r] .. rs[r + 1] - 1, and polygon p, once copied (got[p]),
 * the rings pr0[p] .. pr1[p] - 1.  A line of a repaired geometry is a
 * ring too (its segments are the boundary); a point is a ring of one
 * point.  box: 4 per polygon (xmin, ymin, xmax, ymax).
 */
struct shapes {
	GEOSContextHandle_t	 ctx;
	GEOSGeometry *const	*g;
	double			*xy;
	size_t			 np, capp;
	size_t			*rs;
	size_t			 nr, capr;
	size_t			*pr0, *pr1;
	char			*got;
	double			*box;
};

static int
shapes_ring(struct shapes *s, GEOSContextHandle_t ctx, const GEOSGeometry *l)
{
	const GEOSCoordSequence	*cs;
	unsigned int		 m;

	if ((cs = GEOSGeom_getCoordSeq_r(ctx, l)) == NULL ||
	    !GEOSCoordSeq_getSize_r(ctx, cs, &m))
		return -2;
	if (m == 0)
		return 0;
	if (grow((void **)&s->xy, &s->capp, s->np + m,
	    2 * sizeof(*s->xy)) == -1 ||
	    grow((void **)&s->rs, &s->capr, s->nr + 2, sizeof(*s->rs)) == -1)
		return -1;
	if (!GEOSCoordSeq_copyToBuffer_r(ctx, cs, s->xy + 2 * s->np, 0, 0))
		return -2;
	s->np += m;
	s->rs[++s->nr] = s->np;
	return 0;
}

/* Appends the rings of g; -1 out of memory, -2 GEOS failure. */
static int
shapes_geom(struct shapes *s, GEOSContextHandle_t ctx, const GEOSGeometry *g)
{
	int	 t, k, m, rv;

	switch ((t = GEOSGeomTypeId_r(ctx, g))) {
	case GEOS_POINT:
	case GEOS_LINESTRING:
	case GEOS_LINEARRING:
		return shapes_ring(s, ctx, g);
	case GEOS_POLYGON:
		if (GEOSisEmpty_r(ctx, g))
			return 0;
		if ((rv = shapes_ring(s, ctx, GEOSGetExteriorRing_r(ctx,
		    g))) != 0)
			return rv;
		if ((m = GEOSGetNumInteriorRings_r(ctx, g)) < 0)
			return -2;
		for (k = 0; k < m; k++)
			if ((rv = shapes_ring(s, ctx,
			    GEOSGetInteriorRingN_r(ctx, g, k))) != 0)
				return rv;
		return 0;
	case -1:
		return -2;
	default:
		if ((m = GEOSGetNumGeometries_r(ctx, g)) < 0)
			return -2;
		for (k = 0; k < m; k++)
			if ((rv = shapes_geom(s, ctx,
			    GEOSGetGeometryN_r(ctx, g, k))) != 0)
				return rv;
		return 0;
	}
}

static void
shapes_free(struct shapes *s)
{
	free(s->xy);
	free(s->rs);
	free(s->pr0);
	free(s->pr1);
	free(s->got);
	free(s->box);
	memset(s, 0, sizeof(*s));
}

static int
shapes_init(struct shapes *s, GEOSContextHandle_t ctx,
    GEOSGeometry *const *g, size_t n)
{
	memset(s, 0, sizeof(*s));
	s->ctx = ctx;
	s->g = g;
	if ((s->pr0 = calloc(n ? n : 1, sizeof(*s->pr0))) == NULL ||
	    (s->pr1 = calloc(n ? n : 1, sizeof(*s->pr1))) == NULL ||
	    (s->got = calloc(n ? n : 1, sizeof(*s->got))) == NULL ||
	    (s->box = calloc(n ? 4 * n : 1, sizeof(*s->box))) == NULL ||
	    (s->rs = calloc(1024, sizeof(*s->rs))) == NULL)
		return -1;
	s->capr = 1024;
	return 0;
}

/* Copies polygon p's rings if not done yet; -1 out of memory, -2 GEOS
 * failure. */
static int
shapes_get(struct shapes *s, size_t p)
{
	double	*b;
	size_t	 k;
	int	 rv;

	if (s->got[p])
		return 0;
	s->pr0[p] = s->nr;
	if (s->g[p] != NULL && (rv = shapes_geom(s, s->ctx, s->g[p])) != 0)
		return rv;
	s->pr1[p] = s->nr;
	b = s->box + 4 * p;
	b[0] = b[1] = INFINITY;
	b[2] = b[3] = -INFINITY;
	for (k = s->rs[s->pr0[p]]; k < s->rs[s->pr1[p]]; k++) {
		b[0] = fmin(b[0], s->xy[2 * k]);
		b[1] = fmin(b[1], s->xy[2 * k + 1]);
		b[2] = fmax(b[2], s->xy[2 * k]);
		b[3] = fmax(b[3], s->xy[2 * k + 1]);
	}
	s->got[p] = 1;
	return 0;
}

/* Whether (x, y) is within snap of box b (4 doubles). */
static int
in_box(const double *b, double x, double y, double snap)
{
	return x >= b[0] - snap && x <= b[2] + snap && y >= b[1] - snap &&
	    y <= b[3] + snap;
}

/* Squared distance from p to the segment a b. */
static double
seg_dist2(const double *p, const double *a, const double *b)
{
	double	 dx = b[0] - a[0], dy = b[1] - a[1], l2, t, ex, ey;

	l2 = dx * dx + dy * dy;
	t = l2 > 0 ? ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / l2 : 0;
	t = t < 0 ? 0 : t > 1 ? 1 : t;
	ex = p[0] - (a[0] + t * dx);
	ey = p[1] - (a[1] + t * dy);
	return ex * ex + ey * ey;
}

/* Scratch of the rook test: the segments of one polygon near the other
 * (indices of their two points) and the contact points found so far. */
struct contacts {
	size_t		*seg;
	size_t		 nseg, capseg;
	double		*pt;
	size_t		 npt, cappt;
};

/*
 * Contact points of polygon a's vertices on polygon b's boundary, added to
 * c.  Returns 1 as soon as there is one (queen) or two contacts more than
 * 2 snap apart (rook), 0 when not (yet), -1 out of memory.
 */
static int
contacts_one(const struct shapes *s, size_t a, size_t b, double snap,
    int queen, struct contacts *c)
{
	const double	*ba = s->box + 4 * a, *bb = s->box + 4 * b, *v, *p, *q;
	double		 s2 = snap * snap, far2 = 4 * s2, dx, dy;
	size_t		 r, k, m, st, e, h;

	/* b's segments that come within snap of a's box: the indices of
	 * their two points (a ring of one point: that point twice). */
	c->nseg = 0;
	for (r = s->pr0[b]; r < s->pr1[b]; r++) {
		st = s->rs[r];
		e = s->rs[r + 1];
		for (k = st; k + 1 < e || k == st; k++) {
			p = s->xy + 2 * k;
			q = k + 1 < e ? p + 2 : p;
			if (fmax(p[0], q[0]) < ba[0] - snap ||
			    fmin(p[0], q[0]) > ba[2] + snap ||
			    fmax(p[1], q[1]) < ba[1] - snap ||
			    fmin(p[1], q[1]) > ba[3] + snap)
				continue;
			if (grow((void **)&c->seg, &c->capseg, c->nseg + 1,
			    2 * sizeof(*c->seg)) == -1)
				return -1;
			c->seg[2 * c->nseg] = k;
			c->seg[2 * c->nseg++ + 1] = k + 1 < e ? k + 1 : k;
		}
	}
	if (c->nseg == 0)
		return 0;
	for (k = s->rs[s->pr0[a]]; k < s->rs[s->pr1[a]]; k++) {
		v = s->xy + 2 * k;
		if (!in_box(bb, v[0], v[1], snap))
			continue;
		for (m = 0; m < c->nseg; m++) {
			p = s->xy + 2 * c->seg[2 * m];
			q = s->xy + 2 * c->seg[2 * m + 1];
			if (v[0] < fmin(p[0], q[0]) - snap ||
			    v[0] > fmax(p[0], q[0]) + snap ||
			    v[1] < fmin(p[1], q[1]) - snap ||
			    v[1] > fmax(p[1], q[1]) + snap)
				continue;
			if (seg_dist2(v, p, q) <= s2)
				break;
		}
		if (m == c->nseg)
			continue;
		if (queen)
			return 1;
		/* A contact: is it a corner's, or a stretch's? */
		for (h = 0; h < c->npt; h++) {
			dx = c->pt[2 * h] - v[0];
			dy = c->pt[2 * h + 1] - v[1];
			if (dx * dx + dy * dy > far2)
				return 1;
		}
		if (grow((void **)&c->pt, &c->cappt, c->npt + 1,
		    2 * sizeof(*c->pt)) == -1)
			return -1;
		c->pt[2 * c->npt] = v[0];
		c->pt[2 * c->npt++ + 1] = v[1];
	}
	return 0;
}

/* snap > 0: 1 if polygons i and j have a contact point (queen), or two
 * more than 2 snap apart (rook), 0 if not, -1 out of memory, -2 GEOS
 * failure. */
static int
near_snap(struct shapes *s, size_t i, size_t j, double snap,
    int queen, struct contacts *c)
{
	int	 r;

	if ((r = shapes_get(s, i)) != 0 || (r = shapes_get(s, j)) != 0)
		return r;
	c->npt = 0;
	if ((r = contacts_one(s, i, j, snap, queen, c)) != 0)
		return r;
	return contacts_one(s, j, i, snap, queen, c);
}

/* The exact rook rule: 1, 0, or 2 on GEOS failure. */
static int
rook_exact(GEOSContextHandle_t ctx, const GEOSPreparedGeometry *pg,
    const GEOSGeometry *a, const GEOSGeometry *b)
{
	char	*mat;
	char	 r;
	int	 hit;

	if ((r = GEOSPreparedIntersects_r(ctx, pg, b)) != 1)
		return r;
	if ((mat = GEOSRelate_r(ctx, a, b)) == NULL)
		return 2;
	/* II 2: overlapping; BB 1: a shared edge. */
	hit = mat[0] == '2' || mat[4] == '1';
	GEOSFree_r(ctx, mat);
	return hit;
}

/* A rectangle: the box of g widened by snap, the STRtree query of
 * snap > 0.  NULL on failure. */
static GEOSGeometry *
query_box(GEOSContextHandle_t ctx, const GEOSGeometry *g, double snap)
{
	GEOSCoordSequence	*cs;
	GEOSGeometry		*ring;
	double			 x0, y0, x1, y1, xy[10];

	if (!GEOSGeom_getXMin_r(ctx, g, &x0) ||
	    !GEOSGeom_getYMin_r(ctx, g, &y0) ||
	    !GEOSGeom_getXMax_r(ctx, g, &x1) ||
	    !GEOSGeom_getYMax_r(ctx, g, &y1))
		return NULL;
	x0 -= snap, y0 -= snap, x1 += snap, y1 += snap;
	xy[0] = x0, xy[1] = y0, xy[2] = x1, xy[3] = y0, xy[4] = x1;
	xy[5] = y1, xy[6] = x0, xy[7] = y1, xy[8] = x0, xy[9] = y0;
	if ((cs = GEOSCoordSeq_copyFromBuffer_r(ctx, xy, 5, 0, 0)) == NULL)
		return NULL;
	if ((ring = GEOSGeom_createLinearRing_r(ctx, cs)) == NULL)
		return NULL;
	return GEOSGeom_createPolygon_r(ctx, ring, NULL, 0);
}

/*
 * Decides whether i and j (j > i, candidates of the tree) are neighbours:
 * 1 and *snapped set when they are, 0 when not, -1 out of memory, -2 GEOS
 * failure.
 */
static int
contiguous(GEOSContextHandle_t ctx, GEOSGeometry *const *g,
    const GEOSPreparedGeometry *pg, size_t i, size_t j, int queen,
    double snap, struct shapes *s, struct contacts *c, int *snapped)
{
	int	 r;

	*snapped = 0;
	if (snap == 0) {
		r = queen ? GEOSPreparedIntersects_r(ctx, pg, g[j]) :
		    rook_exact(ctx, pg, g[i], g[j]);
		return r == 2 ? -2 : r;
	}
	if (queen) {
		if ((r = GEOSPreparedIntersects_r(ctx, pg, g[j])) != 0)
			return r == 2 ? -2 : 1;
		/* Disjoint: the distance between them is reached at a
		 * vertex of one, so within snap means a contact point. */
		if ((r = near_snap(s, i, j, snap, 1, c)) == 1)
			*snapped = 1;
		return r;
	}
	if ((r = near_snap(s, i, j, snap, 0, c)) != 1)
		return r;
	if ((r = rook_exact(ctx, pg, g[i], g[j])) == 2)
		return -2;
	*snapped = !r;
	return 1;
}

/* The contiguous pairs pi[k], pj[k] (k < np) as rows of out, both
 * directions, each row's neighbours in order, weight 1.  -1: out of
 * memory. */
static int
pairs_to_rows(struct gw_nbr *out, size_t n, const uint32_t *pi,
    const uint32_t *pj, size_t np)
{
	size_t	*fill, i, m;

	if (gw_nbr_alloc(out, n, 2 * np) == -1)
		return -1;
	for (m = 0; m < np; m++) {
		out->start[pi[m] + 1]++;
		out->start[pj[m] + 1]++;
	}
	for (i = 0; i < n; i++)
		out->start[i + 1] += out->start[i];
	if ((fill = calloc(n ? n : 1, sizeof(*fill))) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		fill[i] = out->start[i];
	for (m = 0; m < np; m++) {
		out->idx[fill[pi[m]]] = pj[m];
		out->w[fill[pi[m]]++] = 1;
		out->idx[fill[pj[m]]] = pi[m];
		out->w[fill[pj[m]]++] = 1;
	}
	free(fill);
	for (i = 0; i < n; i++)
		qsort(out->idx + out->start[i], out->start[i + 1] -
		    out->start[i], sizeof(*out->idx), cmp_u32);
	return 0;
}

/* The state of one gw_weights_contiguity(): the tree of the polygons, the
 * scratch of the tests, and the neighbour pairs found, each once. */
struct cont_build {
	GEOSContextHandle_t	 ctx;
	GEOSGeometry *const	*g;
	size_t			 n;
	int			 queen;
	double			 snap;
	GEOSSTRtree		*tree;
	uint32_t		*ids;		/* the tree's items */
	struct shapes		 s;		/* snap > 0 */
	struct contacts		 ct;
	struct cand		 c;
	uint32_t		*pi, *pj;	/* pair k: pi[k] < pj[k] */
	size_t			 np, capi, capj;
	size_t			 nsnap;
};

static void
cont_free(struct cont_build *cb)
{
	if (cb->tree != NULL)
		GEOSSTRtree_destroy_r(cb->ctx, cb->tree);
	shapes_free(&cb->s);
	free(cb->ct.seg);
	free(cb->ct.pt);
	free(cb->c.j);
	free(cb->ids);
	free(cb->pi);
	free(cb->pj);
}

/* The STRtree of the non-empty polygons.  -1 out of memory, -2 GEOS. */
static int
cont_tree(struct cont_build *cb)
{
	size_t	 i;

	if ((cb->ids = calloc(cb->n ? cb->n : 1, sizeof(*cb->ids))) == NULL)
		return -1;
	if (cb->snap > 0 && shapes_init(&cb->s, cb->ctx, cb->g, cb->n) == -1)
		return -1;
	if ((cb->tree = GEOSSTRtree_create_r(cb->ctx, 10)) == NULL)
		return -2;
	for (i = 0; i < cb->n; i++) {
		cb->ids[i] = (uint32_t)i;
		if (cb->g[i] != NULL && !GEOSisEmpty_r(cb->ctx, cb->g[i]))
			GEOSSTRtree_insert_r(cb->ctx, cb->tree, cb->g[i],
			    &cb->ids[i]);
	}
	return 0;
}

/* The tree's candidates for polygon i in cb->c (its box widened by snap
 * when snap > 0).  -1 out of memory, -2 GEOS. */
static int
cont_candidates(struct cont_build *cb, size_t i)
{
	GEOSGeometry	*qb;

	cb->c.n = 0;
	if (cb->snap > 0) {
		if ((qb = query_box(cb->ctx, cb->g[i], cb->snap)) == NULL)
			return -2;
		GEOSSTRtree_query_r(cb->ctx, cb->tree, qb, cand_cb, &cb->c);
		GEOSGeom_destroy_r(cb->ctx, qb);
	} else
		GEOSSTRtree_query_r(cb->ctx, cb->tree, cb->g[i], cand_cb,
		    &cb->c);
	return cb->c.oom ? -1 : 0;
}

/* The neighbours j > i of polygon i, added to the pairs.  -1 out of
 * memory, -2 GEOS. */
static int
cont_row(struct cont_build *cb, size_t i)
{
	const GEOSPreparedGeometry	*pg;
	size_t				 m;
	uint32_t			 j;
	int				 hit, sn, rv = 0;

	if ((rv = cont_candidates(cb, i)) != 0)
		return rv;
	if ((pg = GEOSPrepare_r(cb->ctx, cb->g[i])) == NULL)
		return -2;
	for (m = 0; m < cb->c.n; m++) {
		if ((j = cb->c.j[m]) <= i)
			continue;	/* each pair once */
		hit = contiguous(cb->ctx, cb->g, pg, i, j, cb->queen,
		    cb->snap, &cb->s, &cb->ct, &sn);
		if (hit < 0) {
			rv = hit;
			break;
		}
		if (!hit)
			continue;
		cb->nsnap += sn;
		if (grow((void **)&cb->pi, &cb->capi, cb->np + 1,
		    sizeof(*cb->pi)) == -1 || grow((void **)&cb->pj,
		    &cb->capj, cb->np + 1, sizeof(*cb->pj)) == -1) {
			rv = -1;
			break;
		}
		cb->pi[cb->np] = (uint32_t)i;
		cb->pj[cb->np++] = j;
	}
	GEOSPreparedGeom_destroy_r(cb->ctx, pg);
	return rv;
}

int
gw_weights_contiguity(GEOSContextHandle_t ctx, GEOSGeometry *const *g,
    size_t n, int queen, double snap, struct gw_nbr *out, size_t *nsnapped,
    char *err, size_t errlen)
{
	struct cont_build	 cb = { .ctx = ctx, .g = g, .n = n,
				    .queen = queen, .snap = snap };
	size_t			 i;
	int			 rc;

	memset(out, 0, sizeof(*out));
	if (!(snap >= 0) || !isfinite(snap)) {
		snprintf(err, errlen, "snap must be a finite number >= 0");
		return -1;
	}
	rc = cont_tree(&cb);
	for (i = 0; rc == 0 && i < n; i++)
		if (g[i] != NULL && !GEOSisEmpty_r(ctx, g[i]))
			rc = cont_row(&cb, i);
	if (rc == 0 && pairs_to_rows(out, n, cb.pi, cb.pj, cb.np) == -1)
		rc = -1;
	if (rc == 0 && nsnapped != NULL)
		*nsnapped = cb.nsnap;
	if (rc == -1)
		snprintf(err, errlen, "out of memory building contiguity "
		    "weights");
	else if (rc == -2)
		snprintf(err, errlen, "GEOS failed building contiguity "
		    "weights");
	if (rc != 0)
		gw_nbr_free(out);
	cont_free(&cb);
	return rc == 0 ? 0 : -1;
}

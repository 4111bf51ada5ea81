/*
 * overlay.c: clip and erase_analysis (see overlay.h, doc/clip.md and
 * doc/erase_analysis.md).
 *
 * The mask (clip or erase features) is read first, transformed into the
 * input's SRID, repaired, reduced to its polygons and merged into one
 * polygonal geometry, whose polygons are put in an STRtree with a prepared
 * geometry each.  The input is then streamed once.  For each feature the
 * tree gives the mask polygons whose envelopes meet it; a feature that no
 * mask polygon meets, or that one of them covers, is decided by prepared
 * predicates alone and copied unchanged (or dropped) without any overlay;
 * only features crossing the mask boundary are intersected with (or
 * differenced from) the few mask polygons they meet.  Results keep the
 * feature's own dimension: the points and lines an intersection of polygons
 * may produce are dropped.
 *
 * NOTES
 *   The mask polygons are the parts of one valid polygonal union, so they
 *   are disjoint (at most touching at points): a multipolygon made of any
 *   subset of them is valid without a further union.
 *   The output is created after the mask is built and before the input is
 *   read, and rows are flushed with COPY between the cursor's batches.
 */
#include "config.h"

#include <sys/types.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gis/crs.h"
#include "gis/cursor.h"
#include "gis/geojson.h"
#include "gis/geom.h"
#include "gis/layer.h"
#include "gis/output.h"
#include "gis/quote.h"
#include "gis/filter.h"
#include "jobs/overlay.h"

struct mask {
	GEOSGeometry			 *geom;		/* the union */
	const GEOSGeometry		**parts;	/* its polygons */
	const GEOSPreparedGeometry	**prep;
	size_t				  nparts;
	GEOSSTRtree			 *tree;		/* items: part index + 1 */
	long long			  nfeatures;
	long long			  nrepaired;
	int				  coverage;
};

struct overlay {
	enum gw_overlay_op	 op;
	const struct gw_layer	*in;
	struct mask		*mask;
	struct gw_output	*out;
	int			 dim;		/* of the output column */
	int			 single_point;	/* output column is Point */
	int			 binary;	/* attributes pass through binary */
	int			 byid;		/* unchanged features: ids only */
	char			**ids;		/* ... which gw_output_copy_rows() */
	size_t			 nids, capids;	/* copies inside the server */
	/* Scratch for tree queries. */
	size_t			*cand;
	size_t			 ncand;
	/* Counts for the result. */
	long long		 whole;		/* written without an overlay */
	long long		 cut;		/* written after an overlay */
	long long		 dropped;
	long long		 written;
	long long		 nrepaired;
};

static void
mask_free(struct mask *m)
{
	GEOSContextHandle_t	 ctx = gw_geos();
	size_t			 i;

	if (m == NULL)
		return;
	if (m->tree != NULL)
		GEOSSTRtree_destroy_r(ctx, m->tree);
	for (i = 0; m->prep != NULL && i < m->nparts; i++)
		if (m->prep[i] != NULL)
			GEOSPreparedGeom_destroy_r(ctx, m->prep[i]);
	free(m->prep);
	free(m->parts);
	if (m->geom != NULL)
		GEOSGeom_destroy_r(ctx, m->geom);
	free(m);
}

/* Polygons of the mask features, gathered by the read callback. */
struct gather {
	GEOSGeometry	**geoms;
	size_t		  n;
	size_t		  cap;
};

static int
gather_polygons(struct gw_job *job, struct gw_feature *f, void *arg)
{
	struct gather	*ga = arg;
	GEOSGeometry	*p, **n;

	if ((p = gw_geom_extract(gw_geos(), f->geom, GW_DIM_POLYGON)) == NULL)
		return gw_job_error(job, "GEOS: %s", gw_geos_error());
	if (GEOSisEmpty_r(gw_geos(), p)) {
		GEOSGeom_destroy_r(gw_geos(), p);
		return 0;
	}
	if (ga->n == ga->cap) {
		ga->cap = ga->cap ? ga->cap * 2 : 64;
		if ((n = reallocarray(ga->geoms, ga->cap, sizeof(*n))) == NULL) {
			GEOSGeom_destroy_r(gw_geos(), p);
			return gw_job_error(job, "out of memory");
		}
		ga->geoms = n;
	}
	ga->geoms[ga->n++] = p;
	return 0;
}

/*
 * Builds the mask from the table parameter mp (with mp_filter) or from the
 * GeoJSON parameter mp_geometry (with mp_srid), in the input's SRID.
 */
/* The mask from the GeoJSON parameter pg, transformed to the input's CRS:
 * its polygons in ga. */
static int
mask_from_geojson(struct gw_job *job, const char *mp, const char *pg,
    json_t *geojson, int srid, const struct gw_layer *in, struct mask *m,
    struct gather *ga)
{
	GEOSContextHandle_t	 ctx = gw_geos();
	GEOSGeometry		*g;

	if (in->srid == 0)
		return gw_job_error(job, "input: the geometries have no SRID, "
		    "so %s cannot be transformed to them", pg);
	if (gw_geojson_geometry(job, pg, geojson, srid, in->srid,
	    &m->nrepaired, &g) == -1)
		return -1;
	m->nfeatures = 1;
	if ((ga->geoms = calloc(1, sizeof(*ga->geoms))) == NULL) {
		GEOSGeom_destroy_r(ctx, g);
		return gw_job_error(job, "out of memory");
	}
	ga->cap = 1;
	ga->geoms[0] = gw_geom_extract(ctx, g, GW_DIM_POLYGON);
	GEOSGeom_destroy_r(ctx, g);
	if (ga->geoms[0] == NULL)
		return gw_job_error(job, "GEOS: %s", gw_geos_error());
	if (GEOSisEmpty_r(ctx, ga->geoms[0])) {
		GEOSGeom_destroy_r(ctx, ga->geoms[0]);
		return gw_job_error(job, "%s: the geometry has no polygon (a "
		    "%s mask must be a Polygon or MultiPolygon)", pg, mp);
	}
	ga->n = 1;
	return 0;
}

/* The mask from the table parameter mp (filtered by pf), read in the
 * input's CRS: its polygons in ga. */
static int
mask_from_table(struct gw_job *job, const char *mp, const char *pf,
    const char *table, const char *gcol, json_t *filter,
    const struct gw_layer *in, struct mask *m, struct gather *ga)
{
	struct gw_layer	*ml = NULL;
	struct gw_read	 rd;
	char		*where = NULL;
	int		 rv = -1;

	if (gw_layer_resolve(job, mp, table, gcol, NULL, &ml) == -1)
		return -1;
	if ((ml->srid == 0) != (in->srid == 0)) {
		gw_job_error(job, "%s: one of %s.%s and the input has an "
		    "SRID and the other none; cannot transform", mp,
		    ml->schema, ml->table);
		goto done;
	}
	if (filter != NULL && !json_is_null(filter) &&
	    filter_sql(job, job->conn, ml->schema, ml->table, filter,
	    pf, NULL, &where) == -1)
		goto done;
	memset(&rd, 0, sizeof(rd));
	rd.where = where;
	rd.to_srid = in->srid;
	rd.repair = 1;
	rd.progress_from = 0;
	rd.progress_to = 0.1;
	if (gw_layer_read(job, ml, &rd, gather_polygons, ga) == -1)
		goto done;
	m->nfeatures = rd.nread - rd.nskipped;
	m->nrepaired = rd.nrepaired;
	if (ga->n == 0) {
		if (where != NULL)
			gw_job_error(job, "%s: no polygon of %s.%s matches %s",
			    mp, ml->schema, ml->table, pf);
		else
			gw_job_error(job, "%s: %s.%s has no polygons", mp,
			    ml->schema, ml->table);
		goto done;
	}
	rv = 0;
 done:
	free(where);
	gw_layer_free(ml);
	return rv;
}

/*
 * One polygonal union of ga (also of a single geometry: the polygons of a
 * GeoJSON FeatureCollection may overlap), which it takes, then its polygons
 * indexed and prepared.
 */
static int
mask_index(struct gw_job *job, struct mask *m, struct gather *ga)
{
	GEOSContextHandle_t	 ctx = gw_geos();
	size_t			 i;

	m->geom = gw_union(job, ga->geoms, ga->n, &m->coverage);
	ga->n = 0;	/* gw_union() took them */
	if (m->geom == NULL)
		return -1;
	m->nparts = (size_t)GEOSGetNumGeometries_r(ctx, m->geom);
	if ((m->parts = calloc(m->nparts + 1, sizeof(*m->parts))) == NULL ||
	    (m->prep = calloc(m->nparts + 1, sizeof(*m->prep))) == NULL ||
	    (m->tree = GEOSSTRtree_create_r(ctx, 10)) == NULL)
		return gw_job_error(job, "out of memory");
	for (i = 0; i < m->nparts; i++) {
		m->parts[i] = GEOSGetGeometryN_r(ctx, m->geom, (int)i);
		if ((m->prep[i] = GEOSPrepare_r(ctx, m->parts[i])) == NULL)
			return gw_job_error(job, "GEOS: %s", gw_geos_error());
		GEOSSTRtree_insert_r(ctx, m->tree, m->parts[i],
		    (void *)(uintptr_t)(i + 1));
	}
	return 0;
}

static int
mask_build(struct gw_job *job, const char *mp, const struct gw_layer *in,
    struct mask **out)
{
	GEOSContextHandle_t	 ctx = gw_geos();
	struct mask		*m;
	struct gather		 ga = { 0 };
	char			 pf[64], pg[64], ps[64], pc[64];
	const char		*table, *gcol;
	json_t			*filter, *geojson;
	long long		 srid;
	size_t			 i;
	int			 rv = -1;

	*out = NULL;
	snprintf(pf, sizeof(pf), "%s_filter", mp);
	snprintf(pg, sizeof(pg), "%s_geometry", mp);
	snprintf(ps, sizeof(ps), "%s_srid", mp);
	snprintf(pc, sizeof(pc), "%s_geometry_column", mp);
	if (gw_param_string(job, mp, 0, NULL, &table) == -1 ||
	    gw_param_string(job, pc, 0, NULL, &gcol) == -1 ||
	    gw_param_int(job, ps, 4326, 1, 999999, &srid) == -1)
		return -1;
	filter = json_object_get(job->params, pf);
	geojson = json_object_get(job->params, pg);
	if (geojson != NULL && json_is_null(geojson))
		geojson = NULL;
	if (table != NULL && geojson != NULL)
		return gw_job_error(job, "%s: give either %s (a table) or %s "
		    "(GeoJSON), not both", mp, mp, pg);
	if (table == NULL && geojson == NULL)
		return gw_job_error(job, "%s: a table is required (or %s, a "
		    "GeoJSON geometry)", mp, pg);
	if (geojson != NULL && filter != NULL && !json_is_null(filter))
		return gw_job_error(job, "%s: only applies to the %s table, "
		    "not to %s", pf, mp, pg);
	if (table != NULL && json_object_get(job->params, ps) != NULL)
		return gw_job_error(job, "%s: only applies to %s, not to the "
		    "%s table (whose SRID is known)", ps, pg, mp);
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return gw_job_error(job, "out of memory");
	if ((geojson != NULL ? mask_from_geojson(job, mp, pg, geojson,
	    (int)srid, in, m, &ga) : mask_from_table(job, mp, pf, table, gcol,
	    filter, in, m, &ga)) == -1 ||
	    mask_index(job, m, &ga) == -1)
		goto done;
	*out = m;
	m = NULL;
	rv = 0;
 done:
	for (i = 0; i < ga.n; i++)
		GEOSGeom_destroy_r(ctx, ga.geoms[i]);
	free(ga.geoms);
	mask_free(m);
	return rv;
}

static void
collect_candidate(void *item, void *arg)
{
	struct overlay	*ov = arg;

	ov->cand[ov->ncand++] = (size_t)(uintptr_t)item - 1;
}

static int
write_feature(struct gw_job *job, struct overlay *ov, struct gw_feature *f,
    const GEOSGeometry *g)
{
	GEOSContextHandle_t	 ctx = gw_geos();
	const char		*vals[1];

	/* A Point column gets the single point of a one-point result. */
	if (ov->single_point && GEOSGeomTypeId_r(ctx, g) == GEOS_MULTIPOINT &&
	    GEOSGetNumGeometries_r(ctx, g) == 1)
		g = GEOSGetGeometryN_r(ctx, g, 0);
	vals[0] = NULL;
	if ((ov->binary ? gw_output_row_raw(job, ov->out, f->nvalues ?
	    f->values : vals, f->lengths, g) : gw_output_row(job, ov->out,
	    f->nvalues ? f->values : vals, g)) == -1)
		return -1;
	ov->written++;
	return 0;
}

/* Notes the id of a feature that goes out unchanged (and valid as read):
 * the server copies it at the end, without its data travelling twice. */
static int
keep_id(struct gw_job *job, struct overlay *ov, const char *id)
{
	char	**n;

	if (ov->nids == ov->capids) {
		ov->capids = ov->capids ? ov->capids * 2 : 1024;
		if ((n = reallocarray(ov->ids, ov->capids, sizeof(*n))) ==
		    NULL)
			return gw_job_error(job, "out of memory");
		ov->ids = n;
	}
	if ((ov->ids[ov->nids] = strdup(id)) == NULL)
		return gw_job_error(job, "out of memory");
	ov->nids++;
	ov->written++;
	return 0;
}

/* The job error of a failed overlay on feature f; returns -1. */
static int
overlay_failed(struct gw_job *job, const struct overlay *ov,
    const struct gw_feature *f)
{
	if (f->id != NULL)
		return gw_job_error(job, "input %s = %s: overlay failed: %s",
		    ov->in->id_column, f->id, gw_geos_error());
	return gw_job_error(job, "input row %lld: overlay failed: %s",
	    f->seq + 1, gw_geos_error());
}

/*
 * Repairs f's geometry if it is invalid.  *dim gets the dimension to keep:
 * the layer's, or the feature's in a mixed layer.  Returns 1 if the
 * repaired geometry has nothing of that dimension (drop it), 0, or -1
 * after a job error.
 */
static int
overlay_repair(struct gw_job *job, struct overlay *ov, struct gw_feature *f,
    int *dim)
{
	GEOSContextHandle_t	 ctx = gw_geos();
	GEOSGeometry		*x;
	long long		 repaired = ov->nrepaired;
	char			 what[128];

	if (!gw_geom_quick_valid(ctx, f->geom)) {
		if (f->id != NULL)
			snprintf(what, sizeof(what), "input %s = %s",
			    ov->in->id_column, f->id);
		else
			snprintf(what, sizeof(what), "input row %lld",
			    f->seq + 1);
		if (gw_geom_repair(job, &f->geom, &ov->nrepaired, what) == -1)
			return -1;
	}
	*dim = ov->in->dim;
	if (*dim == GW_DIM_UNKNOWN)
		*dim = GEOSGeom_getDimensions_r(ctx, f->geom);
	else if (repaired != ov->nrepaired) {
		/* MakeValid may return a collection (a polygon and the line
		 * a collapsed part became): keep the layer's dimension. */
		if ((x = gw_geom_extract(ctx, f->geom, *dim)) == NULL)
			return overlay_failed(job, ov, f);
		GEOSGeom_destroy_r(ctx, f->geom);
		f->geom = x;
		if (GEOSisEmpty_r(ctx, f->geom))
			return 1;
	}
	return 0;
}

/* f cut by (clip) or minus (erase) the mask polygons ov->cand[] that meet
 * it: written unless nothing is left. */
static int
overlay_cut(struct gw_job *job, struct overlay *ov, struct gw_feature *f,
    int dim)
{
	GEOSContextHandle_t	 ctx = gw_geos();
	const struct mask	*m = ov->mask;
	GEOSGeometry		*local = NULL, *r = NULL, *x = NULL;
	GEOSGeometry		**clones = NULL;
	size_t			 i;
	int			 rv = -1;

	if (ov->ncand == 1)
		local = (GEOSGeometry *)m->parts[ov->cand[0]];
	else {
		if ((clones = calloc(ov->ncand, sizeof(*clones))) == NULL)
			return gw_job_error(job, "out of memory");
		for (i = 0; i < ov->ncand; i++)
			if ((clones[i] = GEOSGeom_clone_r(ctx,
			    m->parts[ov->cand[i]])) == NULL)
				goto geos;
		local = GEOSGeom_createCollection_r(ctx, GEOS_MULTIPOLYGON,
		    clones, (unsigned int)ov->ncand);
		if (local == NULL)
			goto geos;
		free(clones);
		clones = NULL;
	}
	if (ov->op == GW_OVERLAY_CLIP)
		r = GEOSIntersection_r(ctx, f->geom, local);
	else
		r = GEOSDifference_r(ctx, f->geom, local);
	if (r == NULL || (x = gw_geom_extract(ctx, r, dim)) == NULL)
		goto geos;
	if (GEOSisEmpty_r(ctx, x))
		ov->dropped++;
	else {
		GEOSSetSRID_r(ctx, x, ov->in->srid);
		if (write_feature(job, ov, f, x) == -1)
			goto done;
		ov->cut++;
	}
	rv = 0;
	goto done;
 geos:
	overlay_failed(job, ov, f);
 done:
	if (clones != NULL) {
		for (i = 0; i < ov->ncand; i++)
			if (clones[i] != NULL)
				GEOSGeom_destroy_r(ctx, clones[i]);
		free(clones);
	}
	if (ov->ncand > 1 && local != NULL)
		GEOSGeom_destroy_r(ctx, local);
	if (r != NULL)
		GEOSGeom_destroy_r(ctx, r);
	if (x != NULL)
		GEOSGeom_destroy_r(ctx, x);
	return rv;
}

static int
overlay_feature(struct gw_job *job, struct gw_feature *f, void *arg)
{
	GEOSContextHandle_t	 ctx = gw_geos();
	struct overlay		*ov = arg;
	struct mask		*m = ov->mask;
	size_t			 i, k = 0;
	long long		 repaired = ov->nrepaired;
	int			 dim, rc, covered = 0, touches = 0;

	ov->ncand = 0;
	GEOSSTRtree_query_r(ctx, m->tree, f->geom, collect_candidate, ov);
	/*
	 * Read without repair: a feature whose envelope meets no mask polygon
	 * is dropped by clip as it is (repairing never grows an envelope);
	 * every other one is repaired before any predicate or overlay.
	 */
	if (ov->ncand == 0 && ov->op == GW_OVERLAY_CLIP) {
		ov->dropped++;
		return 0;
	}
	if ((rc = overlay_repair(job, ov, f, &dim)) == -1)
		return -1;
	if (rc == 1) {
		ov->dropped++;
		return 0;
	}
	for (i = 0; i < ov->ncand && !covered; i++)
		if (GEOSPreparedCovers_r(ctx, m->prep[ov->cand[i]], f->geom)
		    == 1)
			covered = 1;
	if (!covered) {
		/* Keep only the candidates that really meet the feature. */
		for (i = 0; i < ov->ncand; i++)
			if (GEOSPreparedIntersects_r(ctx, m->prep[ov->cand[i]],
			    f->geom) == 1)
				ov->cand[k++] = ov->cand[i];
		ov->ncand = k;
		touches = k > 0;
	}
	if (!covered && touches)
		return overlay_cut(job, ov, f, dim);

	/* Decided without an overlay. */
	if ((ov->op == GW_OVERLAY_CLIP) == (covered != 0)) {
		ov->whole++;
		if (ov->byid && f->id != NULL && repaired == ov->nrepaired)
			return keep_id(job, ov, f->id);
		return write_feature(job, ov, f, f->geom);
	}
	ov->dropped++;
	return 0;
}

/* "<geom> IS NOT NULL", and "AND NOT ST_IsEmpty(<geom>)" if nonempty (which
 * reads every geometry: slower), with geom quoted, as a new string; NULL
 * after a job error. */
static char *
quoted_not_null(struct gw_job *job, const char *column, int nonempty)
{
	char	*q, *s;

	if ((q = gw_quote_ident(job, column)) == NULL)
		return NULL;
	if ((nonempty ? asprintf(&s, "%s IS NOT NULL AND NOT ST_IsEmpty(%s)",
	    q, q) : asprintf(&s, "%s IS NOT NULL", q)) == -1) {
		s = NULL;
		gw_job_error(job, "out of memory");
	}
	free(q);
	return s;
}

/* The state of one clip or erase job, phase to phase. */
struct overlayjob {
	struct overlay		 ov;
	const char		*mp;		/* "clip" or "erase" */
	struct gw_layer		*in;
	struct gw_colspec	*cols;		/* the input's columns */
	int			*all;		/* ... all of them read */
	struct gw_read		 rd;
	const char		*oname;
	char			 obuf[128];
	int			 overwrite;
	char			*notnull;	/* "<geom> IS NOT NULL" */
	long long		 ninput;	/* features with a geometry */
	long long		 nskipped;	/* -1: not known */
};

/* Parameters: the input, the output's name, and the mask. */
static int
overlay_params(struct gw_job *job, struct overlayjob *oj)
{
	static const char *const clip_keys[] = { "input", "geometry_column",
	    "id_column", "output", "overwrite", "clip", "clip_filter",
	    "clip_geometry", "clip_srid", "clip_geometry_column", NULL };
	static const char *const erase_keys[] = { "input", "geometry_column",
	    "id_column", "output", "overwrite", "erase", "erase_filter",
	    "erase_geometry", "erase_srid", "erase_geometry_column", NULL };
	const char	*input, *gcol, *idcol;

	if (gw_param_check_keys(job, oj->ov.op == GW_OVERLAY_CLIP ?
	    clip_keys : erase_keys) == -1 ||
	    gw_param_string(job, "input", 1, NULL, &input) == -1 ||
	    gw_param_string(job, "geometry_column", 0, NULL, &gcol) == -1 ||
	    gw_param_string(job, "id_column", 0, NULL, &idcol) == -1 ||
	    gw_output_name(job, oj->obuf, sizeof(oj->obuf), &oj->oname,
	    &oj->overwrite) == -1)
		return -1;
	if (gw_layer_resolve(job, "input", input, gcol, idcol, &oj->in) == -1)
		return -1;
	oj->ov.in = oj->in;
	if (strcmp(oj->in->table, oj->oname) == 0 &&
	    strcmp(oj->in->schema, job->settings->output_schema ?
	    job->settings->output_schema : "public") == 0)
		return gw_job_error(job, "output: %s.%s is the input table",
		    oj->in->schema, oj->in->table);
	return mask_build(job, oj->mp, oj->in, &oj->ov.mask);
}

/* The output: every input column, then the input's geometry column, of
 * the input's dimension (Multi* except for Point layers). */
static int
overlay_output(struct gw_job *job, struct overlayjob *oj)
{
	const struct gw_layer	*in = oj->in;
	struct overlay		*ov = &oj->ov;
	int			 i, multi;

	if ((oj->cols = calloc(in->ncolumns + 1, sizeof(*oj->cols))) == NULL ||
	    (oj->all = calloc(in->ncolumns + 1, sizeof(*oj->all))) == NULL)
		return gw_job_error(job, "out of memory");
	for (i = 0; i < in->ncolumns; i++) {
		oj->cols[i].name = in->columns[i].name;
		oj->cols[i].type = in->columns[i].type;
		oj->all[i] = i;
	}
	multi = strcasecmp(in->geom_type, "POINT") != 0;
	ov->single_point = !multi;
	if (gw_output_create(job, oj->oname, oj->overwrite, oj->cols,
	    in->ncolumns, in->geom_column, gw_geom_typename(in->dim, multi),
	    in->srid, &ov->out) == -1)
		return -1;

	/* Attributes go through untouched: in binary when every type can. */
	ov->binary = 1;
	for (i = 0; i < in->ncolumns; i++)
		if (!in->columns[i].binary)
			ov->binary = 0;
	if (ov->binary)
		gw_output_binary(ov->out);
	ov->byid = in->id_pkey;
	return 0;
}

/*
 * Clip reads only the features whose bounding box meets one of the mask
 * polygons' (the input's GiST index finds them; one box for all when there
 * are many polygons); the others are dropped unread, and counted.
 */
static int
overlay_envelopes(struct gw_job *job, struct overlayjob *oj)
{
	const struct mask	*m = oj->ov.mask;
	struct gw_read		*rd = &oj->rd;
	size_t			 k, n = 0;

	if (m->nparts <= GW_MAX_ENVELOPES) {
		for (k = 0; k < m->nparts; k++)
			if (GEOSGeom_getExtent_r(gw_geos(), m->parts[k],
			    &rd->envelopes[k][0], &rd->envelopes[k][1],
			    &rd->envelopes[k][2], &rd->envelopes[k][3]) != 1)
				break;
		n = k == m->nparts ? k : 0;
	}
	if (n == 0 && GEOSGeom_getExtent_r(gw_geos(), m->geom,
	    &rd->envelopes[0][0], &rd->envelopes[0][1],
	    &rd->envelopes[0][2], &rd->envelopes[0][3]) == 1)
		n = 1;
	if (n == 0)
		return gw_job_error(job, "GEOS: %s", gw_geos_error());
	rd->nenvelopes = (int)n;
	if ((oj->notnull = quoted_not_null(job, oj->in->geom_column, 0)) ==
	    NULL || gw_layer_count(job, oj->in, oj->notnull, &oj->ninput) == -1)
		return -1;
	return 0;
}

/* Reads the input through overlay_feature(), and counts what it read. */
static int
overlay_read(struct gw_job *job, struct overlayjob *oj)
{
	struct overlay	*ov = &oj->ov;
	struct gw_read	*rd = &oj->rd;
	const char	*geom = oj->in->geom_column;

	memset(rd, 0, sizeof(*rd));
	rd->binary = ov->binary;
	rd->prefetch = 1;
	rd->columns = oj->all;
	rd->ncolumns = oj->in->ncolumns;
	rd->repair = 0;		/* overlay_feature() repairs what it keeps */
	rd->progress_from = 0.1;
	rd->progress_to = 0.95;
	if ((ov->cand = calloc(ov->mask->nparts + 1, sizeof(*ov->cand))) ==
	    NULL)
		return gw_job_error(job, "out of memory");
	if (ov->op == GW_OVERLAY_CLIP && overlay_envelopes(job, oj) == -1)
		return -1;
	if (gw_layer_read(job, oj->in, rd, overlay_feature, ov) == -1)
		return -1;
	if (ov->op == GW_OVERLAY_CLIP) {
		/*
		 * Rows with an empty geometry were counted as input; if no
		 * feature was read, tell an empty input (NULL or empty
		 * geometries only) from a clip that meets nothing.
		 */
		if (rd->nread - rd->nskipped == 0 && oj->ninput > 0) {
			free(oj->notnull);
			if ((oj->notnull = quoted_not_null(job, geom, 1)) ==
			    NULL || gw_layer_count(job, oj->in, oj->notnull,
			    &oj->ninput) == -1)
				return -1;
		}
		ov->dropped += oj->ninput - (rd->nread - rd->nskipped);
		oj->nskipped = -1;		/* not known: unread rows */
	} else {
		oj->ninput = rd->nread - rd->nskipped;
		oj->nskipped = rd->nskipped;
	}
	if (oj->ninput == 0)
		return gw_job_error(job, "input: %s.%s has no features with a "
		    "geometry", oj->in->schema, oj->in->table);
	return 0;
}

/* The job's result, before the output is finished. */
static json_t *
overlay_result(struct overlayjob *oj)
{
	const struct overlay	*ov = &oj->ov;
	int			 clip = ov->op == GW_OVERLAY_CLIP;
	json_t			*r;

	r = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b}",
	    "output", gw_output_fullname(ov->out),
	    "feature_count", (json_int_t)ov->written,
	    "input_count", (json_int_t)oj->ninput,
	    "copied_whole", (json_int_t)ov->whole,
	    "cut", (json_int_t)ov->cut,
	    "dropped", (json_int_t)ov->dropped,
	    "repaired_geometries", (json_int_t)ov->nrepaired,
	    clip ? "clip_features" : "erase_features",
	    (json_int_t)ov->mask->nfeatures,
	    clip ? "clip_repaired_geometries" : "erase_repaired_geometries",
	    (json_int_t)ov->mask->nrepaired,
	    "mask_coverage_union", ov->mask->coverage);
	if (r != NULL && oj->nskipped >= 0 && json_object_set_new(r,
	    "skipped_null_geometries", json_integer(oj->nskipped)) == -1) {
		json_decref(r);
		r = NULL;
	}
	return r;
}

/* Copies the unchanged features by id, then finishes the output: the
 * result's feature_count is what the table holds. */
static int
overlay_finish(struct gw_job *job, struct overlayjob *oj, json_t **result)
{
	struct overlay	*ov = &oj->ov;
	json_t		*r;
	long long	 nrows;
	int		 rc;

	if (gw_output_copy_rows(job, ov->out, oj->in,
	    (const char *const *)ov->ids, ov->nids) == -1)
		return -1;
	gw_progress(job, 0.95, "indexing %lld features", ov->written);
	if ((r = overlay_result(oj)) == NULL)
		return gw_job_error(job, "out of memory");
	rc = gw_output_finish(job, ov->out, &nrows);
	ov->out = NULL;		/* freed by gw_output_finish, even on failure */
	if (rc == -1) {
		json_decref(r);
		return -1;
	}
	if (json_object_set_new(r, "feature_count", json_integer(nrows)) ==
	    -1) {
		json_decref(r);
		return gw_job_error(job, "out of memory");
	}
	if (nrows != ov->written)
		log_warnx("%lld rows written, %lld expected: input rows "
		    "changed meanwhile?", nrows, ov->written);
	*result = r;
	return 0;
}

static void
overlayjob_free(struct overlayjob *oj)
{
	struct overlay	*ov = &oj->ov;
	size_t		 i;

	gw_output_free(ov->out);
	for (i = 0; i < ov->nids; i++)
		free(ov->ids[i]);
	free(ov->ids);
	free(oj->notnull);
	free(ov->cand);
	mask_free(ov->mask);
	free(oj->cols);
	free(oj->all);
	gw_layer_free(oj->in);
}

static int
overlay_run(struct gw_job *job, enum gw_overlay_op op, json_t **result)
{
	struct overlayjob	 oj;
	int			 rv = -1;

	memset(&oj, 0, sizeof(oj));
	oj.ov.op = op;
	oj.mp = op == GW_OVERLAY_CLIP ? "clip" : "erase";
	if (overlay_params(job, &oj) == -1 ||
	    overlay_output(job, &oj) == -1 ||
	    overlay_read(job, &oj) == -1 ||
	    overlay_finish(job, &oj, result) == -1)
		goto done;
	rv = 0;
 done:
	overlayjob_free(&oj);
	return rv;
}

/* The program's overlay: a process runs one job type all its life. */
static enum gw_overlay_op	 program_op;

static int
run_overlay(struct gw_job *job, json_t **result)
{
	return overlay_run(job, program_op, result);
}

int
gw_overlay_main(int argc, char *argv[], enum gw_overlay_op op)
{
	program_op = op;
	gw_worker_idle(gw_idle_proj);
	return gw_worker_main(argc, argv, op == GW_OVERLAY_CLIP ? "clip" :
	    "erase_analysis", run_overlay);
}

/*
 * statsjob.c: parameters, features and weights shared by hotspot_analysis
 * and outlier_analysis (see statsjob.h).
 *
 * NOTES
 *   Everything a gw_sjob holds is freed by gw_sjob_free(), whatever point
 *   the job failed at.  Features are kept in memory (id text, geometry,
 *   value): the statistics need every value before the first output row.
 *   Weights are limited to GW_MAX_PAIRS neighbour pairs so that a distance
 *   band far too wide for the data fails with a message instead of
 *   exhausting memory_limit.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gis/crs.h"
#include "jobs/statsjob.h"

#define GW_MAX_PAIRS	((size_t)200 * 1000 * 1000)

int
gw_layer_metric(struct gw_job *job, const struct gw_layer *l,
    struct gw_metric *m)
{
	memset(m, 0, sizeof(*m));
	m->geographic = l->geographic;
	m->to_metre = l->to_metre > 0 ? l->to_metre : 1;
	m->a = 6378137;
	m->f = 1 / 298.257223563;
	if (!l->geographic || l->srid <= 0)
		return 0;
	return gw_crs_ellipsoid(job, l->param, l->srid, &m->a, &m->f);
}

const char *
gw_layer_outtype(const struct gw_layer *l)
{
	if (l->dim == GW_DIM_POINT && strcasecmp(l->geom_type, "POINT") == 0)
		return "Point";
	return gw_geom_typename(l->dim, 1);
}

int
gw_sjob_init(struct gw_job *job, struct gw_sjob *sj)
{
	const char	*input, *gcol, *idcol, *field, *concept;
	struct gw_column *c;

	memset(sj, 0, sizeof(*sj));
	sj->field = -1;
	if (gw_param_string(job, "input", 1, NULL, &input) == -1 ||
	    gw_param_string(job, "geometry_column", 0, NULL, &gcol) == -1 ||
	    gw_param_string(job, "id_column", 0, NULL, &idcol) == -1 ||
	    gw_param_string(job, "field", 1, NULL, &field) == -1 ||
	    gw_param_string(job, "conceptualization", 0, "fixed_distance",
	    &concept) == -1 ||
	    gw_param_double(job, "distance", 0, 1e-6, 1e9, &sj->distance) == -1 ||
	    gw_param_int(job, "k", 8, 1, 1000, &sj->k) == -1 ||
	    gw_param_bool(job, "fdr", 0, &sj->fdr) == -1 ||
	    gw_param_double(job, "snap", GW_SNAP_DEFAULT, 0, 1e9,
	    &sj->snap) == -1)
		return -1;
	if (gw_concept_parse(concept, &sj->concept) == -1)
		return gw_job_error(job, "parameter 'conceptualization' must be "
		    "one of fixed_distance, inverse_distance, "
		    "inverse_distance_squared, k_nearest, contiguity_edges, "
		    "contiguity_edges_corners");
	if (sj->distance > 0 && (sj->concept == GW_W_KNN ||
	    sj->concept == GW_W_ROOK || sj->concept == GW_W_QUEEN))
		return gw_job_error(job, "parameter 'distance' does not apply "
		    "to conceptualization %s", concept);
	if (json_object_get(job->params, "snap") != NULL &&
	    sj->concept != GW_W_ROOK && sj->concept != GW_W_QUEEN)
		return gw_job_error(job, "parameter 'snap' applies only to "
		    "conceptualizations contiguity_edges and "
		    "contiguity_edges_corners");
	if (json_object_get(job->params, "k") != NULL &&
	    sj->concept != GW_W_KNN)
		return gw_job_error(job, "parameter 'k' applies only to "
		    "conceptualization k_nearest");
	if (gw_output_name(job, sj->outbuf, sizeof(sj->outbuf), &sj->output,
	    &sj->overwrite) == -1)
		return -1;
	if (gw_layer_resolve(job, "input", input, gcol, idcol,
	    &sj->layer) == -1)
		return -1;
	sj->fs.l = sj->layer;
	if (gw_layer_need_id(job, sj->layer, "id_column") == -1)
		return -1;
	if ((sj->field = gw_layer_column(sj->layer, field)) == -1)
		return gw_job_error(job, "field: %s.%s has no column \"%s\"",
		    sj->layer->schema, sj->layer->table, field);
	c = &sj->layer->columns[sj->field];
	if (!c->numeric)
		return gw_job_error(job, "field: column \"%s\" is of type %s; "
		    "a numeric column is needed", c->name, c->type);
	if ((sj->concept == GW_W_ROOK || sj->concept == GW_W_QUEEN) &&
	    sj->layer->dim != GW_DIM_POLYGON)
		return gw_job_error(job, "conceptualization: %s needs polygons;"
		    " %s.%s has %s geometries", concept, sj->layer->schema,
		    sj->layer->table, sj->layer->geom_type);
	return 0;
}

/* Makes *p an array of cap elements of size bytes; -1 out of memory (*p
 * unchanged). */
static int
resize(void *p, size_t cap, size_t size)
{
	void	*q;

	if ((q = reallocarray(*(void **)p, cap, size)) == NULL)
		return -1;
	*(void **)p = q;
	return 0;
}

int
gw_fset_add(struct gw_job *job, struct gw_fset *fs, struct gw_feature *f)
{
	size_t	 cap;

	if (f->id == NULL)
		return gw_job_error(job, "%s: feature %lld has a NULL id (%s)",
		    fs->l->param, f->seq + 1, fs->l->id_column);
	if (fs->n == fs->cap) {
		cap = fs->cap ? fs->cap * 2 : 1024;
		if (resize(&fs->ids, cap, sizeof(*fs->ids)) == -1 ||
		    resize(&fs->geoms, cap, sizeof(*fs->geoms)) == -1 ||
		    resize(&fs->x, cap, sizeof(*fs->x)) == -1 ||
		    resize(&fs->y, cap, sizeof(*fs->y)) == -1)
			goto oom;
		fs->cap = cap;
	}
	if ((fs->ids[fs->n] = strdup(f->id)) == NULL)
		goto oom;
	fs->x[fs->n] = fs->y[fs->n] = NAN;
	fs->geoms[fs->n++] = f->geom;
	f->geom = NULL;
	return 0;
 oom:
	return gw_job_error(job, "out of memory reading %s", fs->l->param);
}

int
gw_fset_point(struct gw_job *job, struct gw_fset *fs, size_t i,
    const GEOSGeometry *g)
{
	GEOSContextHandle_t	 ctx = gw_geos();

	if (GEOSGeomTypeId_r(ctx, fs->geoms[i]) == GEOS_POINT) {
		if (GEOSGeomGetX_r(ctx, fs->geoms[i], &fs->x[i]) != 1 ||
		    GEOSGeomGetY_r(ctx, fs->geoms[i], &fs->y[i]) != 1)
			return gw_job_error(job, "%s %s = %s: GEOS: %s",
			    fs->l->param, fs->l->id_column, fs->ids[i],
			    gw_geos_error());
		return 0;
	}
	fs->nnotpoint++;
	if (gw_centroid(ctx, g ? g : fs->geoms[i], &fs->x[i], &fs->y[i]) == -1)
		return gw_job_error(job, "%s %s = %s: no centroid: %s",
		    fs->l->param, fs->l->id_column, fs->ids[i],
		    gw_geos_error());
	return 0;
}

void
gw_fset_free(struct gw_fset *fs)
{
	GEOSContextHandle_t	 ctx = gw_geos();
	size_t			 i;

	for (i = 0; i < fs->n; i++) {
		free(fs->ids[i]);
		if (fs->geoms[i] != NULL)
			GEOSGeom_destroy_r(ctx, fs->geoms[i]);
	}
	free(fs->ids);
	free(fs->geoms);
	free(fs->x);
	free(fs->y);
	memset(fs, 0, sizeof(*fs));
}

/*
 * Keeps one feature: id and geometry as read (sj->fs), a repaired copy if
 * it was invalid (for the analysis), the centroid of that and its value.
 */
static int
keep_feature(struct gw_job *job, struct gw_feature *f, void *arg)
{
	struct gw_sjob		*sj = arg;
	GEOSContextHandle_t	 ctx = gw_geos();
	const GEOSGeometry	*g;
	const char		*v = f->values[0];
	char			*end, what[160];
	size_t			 i = sj->fs.n;
	double			 x = NAN;
	char			 valid;

	if (gw_fset_add(job, &sj->fs, f) == -1)
		return -1;
	if (sj->cap < sj->fs.cap) {
		if (resize(&sj->val, sj->fs.cap, sizeof(*sj->val)) == -1 ||
		    resize(&sj->ageoms, sj->fs.cap, sizeof(*sj->ageoms)) == -1)
			return gw_job_error(job, "out of memory reading the "
			    "input");
		sj->cap = sj->fs.cap;
	}
	g = sj->fs.geoms[i];
	sj->ageoms[i] = NULL;
	sj->val[i] = NAN;
	snprintf(what, sizeof(what), "input %s = %s", sj->layer->id_column,
	    f->id);
	if (v != NULL) {
		x = strtod(v, &end);
		if (end == v || *end != '\0' || !isfinite(x))
			return gw_job_error(job, "field: %s: value \"%s\" is "
			    "not a finite number", what, v);
	}
	/* A point is valid and its own centroid. */
	if (GEOSGeomTypeId_r(ctx, g) != GEOS_POINT) {
		if ((valid = GEOSisValid_r(ctx, g)) == 2)
			return gw_job_error(job, "%s: GEOS: %s", what,
			    gw_geos_error());
		if (!valid && ((sj->ageoms[i] = GEOSGeom_clone_r(ctx,
		    g)) == NULL || gw_geom_repair(job, &sj->ageoms[i],
		    &sj->nrepaired, what) == -1))
			return -1;
	}
	if (gw_fset_point(job, &sj->fs, i, sj->ageoms[i]) == -1)
		return -1;
	sj->val[i] = x;
	if (isnan(x))
		sj->nnull++;
	return 0;
}

/* The spatial weights of the nv features with a value: contiguity of
 * their geometries ag, or distances between their points px, py. */
static int
sjob_weights(struct gw_job *job, struct gw_sjob *sj, GEOSGeometry **ag,
    const double *px, const double *py, const struct gw_metric *m)
{
	struct gw_ptset	 ps;
	char		 err[256];
	size_t		 i;
	int		 rc;

	memset(&ps, 0, sizeof(ps));
	gw_progress(job, 0.4, "building %s weights for %zu features",
	    gw_concept_name(sj->concept), sj->nv);
	if (sj->concept == GW_W_ROOK || sj->concept == GW_W_QUEEN) {
		if (gw_weights_contiguity(gw_geos(), ag, sj->nv,
		    sj->concept == GW_W_QUEEN, sj->snap, &sj->nb,
		    &sj->nsnapped, err, sizeof(err)) == -1)
			return gw_job_error(job, "conceptualization: %s", err);
	} else {
		if (gw_ptset_build(&ps, px, py, sj->nv, m) == -1)
			return gw_job_error(job, "out of memory");
		rc = gw_weights_distance(&ps, sj->concept, sj->distance,
		    (size_t)sj->k, GW_MAX_PAIRS, &sj->nb, &sj->band, err,
		    sizeof(err));
		gw_ptset_free(&ps);
		if (rc == -1)
			return gw_job_error(job, "distance: %s", err);
	}
	for (i = 0; i < sj->nv; i++)
		if (GW_NBR_COUNT(&sj->nb, i) == 0)
			sj->nisolated++;
	if (sj->nisolated == sj->nv)
		return gw_job_error(job, "distance: no feature has a "
		    "neighbour%s", sj->concept == GW_W_ROOK ||
		    sj->concept == GW_W_QUEEN ? " (no two polygons touch)" :
		    "; give a larger distance");
	if (sj->concept == GW_W_ROOK || sj->concept == GW_W_QUEEN)
		gw_progress(job, 0.5, "weights: %zu neighbour links, %zu of "
		    "them found only within snap %g", sj->nb.start[sj->nv] / 2,
		    sj->nsnapped, sj->snap);
	else
		gw_progress(job, 0.5, "weights: %zu neighbour pairs",
		    sj->nb.start[sj->nv]);
	return 0;
}

int
gw_sjob_load(struct gw_job *job, struct gw_sjob *sj)
{
	struct gw_read		 rd;
	struct gw_metric	 m;
	GEOSGeometry		**ag = NULL;
	double			*px = NULL, *py = NULL;
	size_t			 i, j;
	uint64_t		 t0;
	int			 rv = -1, constant = 1;

	memset(&rd, 0, sizeof(rd));
	t0 = now_ms();
	rd.columns = &sj->field;
	rd.ncolumns = 1;
	rd.progress_from = 0;
	rd.progress_to = 0.4;
	if (gw_layer_read(job, sj->layer, &rd, keep_feature, sj) == -1)
		return -1;
	sj->nskipped = rd.nskipped;
	if (gw_layer_metric(job, sj->layer, &m) == -1)
		return -1;
	sj->ms_read = now_ms() - t0;
	t0 = now_ms();

	/* The analysis: features with a value. */
	sj->nv = sj->fs.n - (size_t)sj->nnull;
	if (sj->nv < 3)
		return gw_job_error(job, "input: %zu feature%s with a geometry "
		    "and a non-NULL \"%s\"; at least 3 are needed", sj->nv,
		    sj->nv == 1 ? "" : "s",
		    sj->layer->columns[sj->field].name);
	if ((sj->vmap = calloc(sj->nv, sizeof(*sj->vmap))) == NULL ||
	    (sj->x = calloc(sj->nv, sizeof(*sj->x))) == NULL ||
	    (px = calloc(sj->nv, sizeof(*px))) == NULL ||
	    (py = calloc(sj->nv, sizeof(*py))) == NULL ||
	    (ag = calloc(sj->nv, sizeof(*ag))) == NULL) {
		gw_job_error(job, "out of memory");
		goto done;
	}
	for (i = j = 0; i < sj->fs.n; i++) {
		if (isnan(sj->val[i]))
			continue;
		sj->vmap[j] = (uint32_t)i;
		sj->x[j] = sj->val[i];
		px[j] = sj->fs.x[i];
		py[j] = sj->fs.y[i];
		ag[j] = sj->ageoms[i] ? sj->ageoms[i] : sj->fs.geoms[i];
		if (sj->x[j] != sj->x[0])
			constant = 0;
		j++;
	}
	if (constant) {
		gw_job_error(job, "field: every feature has the same \"%s\" "
		    "(%g); the statistic is undefined for a constant field",
		    sj->layer->columns[sj->field].name, sj->x[0]);
		goto done;
	}

	if (sjob_weights(job, sj, ag, px, py, &m) == -1)
		goto done;
	sj->ms_weights = now_ms() - t0;
	rv = 0;
 done:
	free(px);
	free(py);
	free(ag);
	return rv;
}

int
gw_sjob_write(struct gw_job *job, struct gw_sjob *sj,
    const struct gw_colspec *stats, int nstats, gw_sjob_row_fn row,
    void *arg, double from, char *outname, size_t outlen)
{
	struct gw_output	*out;
	struct gw_colspec	 cols[GW_SJOB_MAXSTATS + 1];
	const char		*vals[GW_SJOB_MAXSTATS + 1];
	size_t			 i, j;
	int			 k;

	if (nstats > GW_SJOB_MAXSTATS)
		fatalx("gw_sjob_write: %d columns, at most %d", nstats,
		    GW_SJOB_MAXSTATS);
	cols[0].name = sj->layer->id_column;
	cols[0].type = sj->layer->columns[sj->layer->id_index].type;
	for (k = 0; k < nstats; k++)
		cols[k + 1] = stats[k];
	if (gw_output_create(job, sj->output, sj->overwrite, cols, nstats + 1,
	    "geom", gw_layer_outtype(sj->layer), sj->layer->srid, &out) == -1)
		return -1;
	for (i = j = 0; i < sj->fs.n; i++) {
		vals[0] = sj->fs.ids[i];
		for (k = 1; k <= nstats; k++)
			vals[k] = NULL;
		if (j < sj->nv && sj->vmap[j] == i)
			row(arg, j++, vals + 1);
		if (gw_output_row(job, out, vals, sj->fs.geoms[i]) == -1) {
			gw_output_free(out);
			return -1;
		}
		if ((i & 4095) == 4095)
			gw_progress(job, from + (0.95 - from) * (double)i /
			    (double)sj->fs.n, "%zu of %zu rows written", i + 1,
			    sj->fs.n);
	}
	gw_progress(job, 0.95, "indexing the output");
	snprintf(outname, outlen, "%s", gw_output_fullname(out));
	return gw_output_finish(job, out, NULL);	/* frees out */
}

int
gw_sjob_run(struct gw_job *job, struct gw_sjob *sj,
    const struct gw_sjob_stat *st, void *arg, json_t **result)
{
	char		 outname[256];
	uint64_t	 t0, ms_stat, ms_write;
	json_t		*r;

	t0 = now_ms();
	if (st->compute(job, arg) == -1)
		return -1;
	ms_stat = now_ms() - t0;
	t0 = now_ms();
	if (gw_sjob_write(job, sj, st->cols, st->ncols, st->row, arg,
	    st->write_from, outname, sizeof(outname)) == -1)
		return -1;
	ms_write = now_ms() - t0;
	if ((r = json_object()) == NULL ||
	    json_object_set_new(r, "output", json_string(outname)) == -1 ||
	    json_object_set_new(r, "field", json_string(
	    sj->layer->columns[sj->field].name)) == -1 ||
	    st->result(arg, r) == -1 ||
	    gw_sjob_result(sj, r, ms_stat, ms_write) == -1) {
		json_decref(r);
		return gw_job_error(job, "out of memory");
	}
	*result = r;
	return 0;
}

const char *
gw_sjob_fmt(char *buf, size_t len, double v)
{
	if (isnan(v))
		return NULL;
	snprintf(buf, len, "%.17g", v);
	return buf;
}

int
gw_sjob_result(struct gw_sjob *sj, json_t *r, uint64_t ms_stat,
    uint64_t ms_write)
{
	json_t	*ph;
	size_t	 i, nnz = sj->nb.start != NULL ? sj->nb.start[sj->nv] : 0;
	size_t	 mn = SIZE_MAX, mx = 0, c;
	int	 contig = sj->concept == GW_W_ROOK || sj->concept == GW_W_QUEEN;

	for (i = 0; i < sj->nv; i++) {
		c = GW_NBR_COUNT(&sj->nb, i);
		if (c < mn)
			mn = c;
		if (c > mx)
			mx = c;
	}
	if (json_object_set_new(r, "feature_count", json_integer((json_int_t)sj->fs.n)) ||
	    json_object_set_new(r, "analyzed_count", json_integer((json_int_t)sj->nv)) ||
	    json_object_set_new(r, "null_values", json_integer(sj->nnull)) ||
	    json_object_set_new(r, "no_neighbors", json_integer((json_int_t)sj->nisolated)) ||
	    json_object_set_new(r, "skipped_geometries", json_integer(sj->nskipped)) ||
	    json_object_set_new(r, "repaired_geometries", json_integer(sj->nrepaired)) ||
	    json_object_set_new(r, "conceptualization", json_string(gw_concept_name(sj->concept))) ||
	    json_object_set_new(r, "distance_band", sj->band > 0 ? json_real(sj->band) : json_null()) ||
	    json_object_set_new(r, "k", sj->concept == GW_W_KNN ? json_integer(sj->k) : json_null()) ||
	    json_object_set_new(r, "distance_unit", json_string(sj->layer->geographic ? "m (geodesic)" : "m")) ||
	    json_object_set_new(r, "neighbors_min", json_integer((json_int_t)(mn == SIZE_MAX ? 0 : mn))) ||
	    json_object_set_new(r, "neighbors_max", json_integer((json_int_t)mx)) ||
	    json_object_set_new(r, "neighbors_mean", json_real(sj->nv ? (double)nnz / (double)sj->nv : 0)) ||
	    json_object_set_new(r, "fdr", json_boolean(sj->fdr)))
		return -1;
	/* Contiguity: links are pairs of neighbours, each counted once. */
	if (contig ? json_object_set_new(r, "snap", json_real(sj->snap)) ||
	    json_object_set_new(r, "neighbor_links", json_integer((json_int_t)(nnz / 2))) ||
	    json_object_set_new(r, "snapped_links", json_integer((json_int_t)sj->nsnapped)) :
	    json_object_set_new(r, "snap", json_null()) ||
	    json_object_set_new(r, "neighbor_links", json_null()) ||
	    json_object_set_new(r, "snapped_links", json_null()))
		return -1;
	if ((ph = json_object()) == NULL ||
	    json_object_set_new(r, "phase_ms", ph) ||
	    json_object_set_new(ph, "read", json_integer((json_int_t)sj->ms_read)) ||
	    json_object_set_new(ph, "weights", json_integer((json_int_t)sj->ms_weights)) ||
	    json_object_set_new(ph, "statistic", json_integer((json_int_t)ms_stat)) ||
	    json_object_set_new(ph, "write", json_integer((json_int_t)ms_write)))
		return -1;
	return 0;
}

void
gw_sjob_free(struct gw_sjob *sj)
{
	GEOSContextHandle_t	 ctx = gw_geos();
	size_t			 i;

	/* ageoms may be shorter than fs if growing it failed. */
	for (i = 0; i < sj->fs.n && i < sj->cap; i++)
		if (sj->ageoms[i] != NULL)
			GEOSGeom_destroy_r(ctx, sj->ageoms[i]);
	gw_fset_free(&sj->fs);
	free(sj->ageoms);
	free(sj->val);
	free(sj->vmap);
	free(sj->x);
	gw_nbr_free(&sj->nb);
	gw_layer_free(sj->layer);
	memset(sj, 0, sizeof(*sj));
}

/*
 * dissolve.c: the dissolve job program (doc/dissolve.md).
 *
 * Features are read once (in id order, for first/last) and grouped by the
 * text of their group fields in a hash table; each group keeps its
 * geometries and one accumulator per statistic.  Each group's geometries are
 * then merged with gw_union(), which tries a coverage union first (adjacent,
 * non-overlapping polygons such as counties merge by dropping their shared
 * edges, far faster than an overlay) and falls back to GEOS's general union
 * when the group is not a clean coverage.  Rows are written in the order the
 * groups were first met.
 *
 * NOTES
 *   Statistics skip NULLs.  Numbers are accumulated in double precision
 *   (Neumaier-compensated sums, Welford's variance); min, max, first and
 *   last keep the value's own text, so they are written back exactly in the
 *   field's type.  Text min/max compare bytes (the C collation).
 *   A group's geometries are destroyed as soon as it is merged, so the peak
 *   memory is the input's geometries plus one merged group.
 */
#include "config.h"

#include <sys/types.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gis/execf.h"
#include "gis/cursor.h"
#include "gis/geom.h"
#include "gis/layer.h"
#include "gis/output.h"

enum dstat {
	ST_SUM, ST_MEAN, ST_MIN, ST_MAX, ST_COUNT, ST_STD, ST_RANGE,
	ST_FIRST, ST_LAST
};

static const char *const stat_names[] = {
	"sum", "mean", "min", "max", "count", "std", "range", "first", "last",
	NULL
};

struct statspec {
	enum dstat	 stat;
	int		 col;		/* in the layer */
	int		 pos;		/* in the values read */
	int		 numeric;
	char		 name[64];	/* output column: sum_pop */
};

struct acc {
	long long	 n;
	double		 sum, comp;	/* Neumaier */
	double		 mean, m2;	/* Welford */
	double		 min, max;
	char		*mintext, *maxtext, *first, *last;
};

struct group {
	char		*key;
	size_t		 keylen;
	uint64_t	 hash;
	char		**gvalues;	/* group field values; NULL = NULL */
	GEOSGeometry	**geoms;
	size_t		 n, cap;
	struct acc	*acc;
	struct group	*next;		/* hash chain */
};

struct dissolve {
	struct statspec	*stats;
	size_t		 nstats;
	int		*gpos;		/* group fields' positions in values */
	size_t		 ngroupf;
	struct group	**buckets;
	size_t		 nbuckets;
	struct group	**groups;	/* in order of first appearance */
	size_t		 ngroups, capgroups;
	struct strbuf_s {
		char	*data;
		size_t	 cap;
	} key;
};

static uint64_t
fnv1a(const char *s, size_t n)
{
	uint64_t	 h = 1469598103934665603ULL;
	size_t		 i;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static void
group_free(struct group *g, size_t ngroupf, size_t nstats)
{
	GEOSContextHandle_t	 ctx = gw_geos();
	size_t			 i;

	if (g == NULL)
		return;
	for (i = 0; i < g->n; i++)
		GEOSGeom_destroy_r(ctx, g->geoms[i]);
	free(g->geoms);
	if (g->gvalues != NULL)
		for (i = 0; i < ngroupf; i++)
			free(g->gvalues[i]);
	free(g->gvalues);
	if (g->acc != NULL)
		for (i = 0; i < nstats; i++) {
			free(g->acc[i].mintext);
			free(g->acc[i].maxtext);
			free(g->acc[i].first);
			free(g->acc[i].last);
		}
	free(g->acc);
	free(g->key);
	free(g);
}

/* The group key: per field a tag byte (N for NULL, V then the value and a
 * NUL), so that NULL and "" are different groups. */
static int
make_key(struct dissolve *d, struct gw_feature *f, size_t *len)
{
	size_t	 need = 1, i, n = 0;
	char	*p;

	for (i = 0; i < d->ngroupf; i++)
		need += 2 + (f->values[d->gpos[i]] ?
		    (size_t)f->lengths[d->gpos[i]] : 0);
	if (need > d->key.cap) {
		if ((p = realloc(d->key.data, need)) == NULL)
			return -1;
		d->key.data = p;
		d->key.cap = need;
	}
	p = d->key.data;
	for (i = 0; i < d->ngroupf; i++) {
		const char *v = f->values[d->gpos[i]];

		if (v == NULL)
			p[n++] = 'N';
		else {
			p[n++] = 'V';
			memcpy(p + n, v, (size_t)f->lengths[d->gpos[i]]);
			n += (size_t)f->lengths[d->gpos[i]];
			p[n++] = '\0';
		}
	}
	*len = n;
	return 0;
}

static int
rehash(struct dissolve *d)
{
	struct group	**nb, *g;
	size_t		  nn = d->nbuckets ? d->nbuckets * 2 : 1024, i;

	if ((nb = calloc(nn, sizeof(*nb))) == NULL)
		return -1;
	for (i = 0; i < d->ngroups; i++) {
		g = d->groups[i];
		g->next = nb[g->hash & (nn - 1)];
		nb[g->hash & (nn - 1)] = g;
	}
	free(d->buckets);
	d->buckets = nb;
	d->nbuckets = nn;
	return 0;
}

static struct group *
find_group(struct gw_job *job, struct dissolve *d, struct gw_feature *f)
{
	struct group	*g, **ng;
	uint64_t	 h;
	size_t		 len, i;

	if (make_key(d, f, &len) == -1)
		goto nomem;
	h = fnv1a(d->key.data, len);
	if (d->nbuckets > 0)
		for (g = d->buckets[h & (d->nbuckets - 1)]; g != NULL;
		    g = g->next)
			if (g->hash == h && g->keylen == len &&
			    memcmp(g->key, d->key.data, len) == 0)
				return g;
	if ((g = calloc(1, sizeof(*g))) == NULL)
		goto nomem;
	g->hash = h;
	g->keylen = len;
	if ((g->key = malloc(len + 1)) == NULL ||
	    (g->gvalues = calloc(d->ngroupf + 1, sizeof(char *))) == NULL ||
	    (g->acc = calloc(d->nstats + 1, sizeof(struct acc))) == NULL) {
		group_free(g, d->ngroupf, d->nstats);
		goto nomem;
	}
	memcpy(g->key, d->key.data, len);
	for (i = 0; i < d->ngroupf; i++)
		if (f->values[d->gpos[i]] != NULL &&
		    (g->gvalues[i] = strdup(f->values[d->gpos[i]])) == NULL) {
			group_free(g, d->ngroupf, d->nstats);
			goto nomem;
		}
	if (d->ngroups == d->capgroups) {
		d->capgroups = d->capgroups ? d->capgroups * 2 : 256;
		if ((ng = reallocarray(d->groups, d->capgroups,
		    sizeof(*ng))) == NULL) {
			group_free(g, d->ngroupf, d->nstats);
			goto nomem;
		}
		d->groups = ng;
	}
	d->groups[d->ngroups++] = g;	/* freed with groups[] from now */
	if (d->ngroups > d->nbuckets) {
		if (rehash(d) == -1)	/* links every group, g too */
			goto nomem;
	} else {
		g->next = d->buckets[h & (d->nbuckets - 1)];
		d->buckets[h & (d->nbuckets - 1)] = g;
	}
	return g;
 nomem:
	gw_job_error(job, "out of memory");
	return NULL;
}

/* Replaces *slot with a copy of v. */
static int
set_text(char **slot, const char *v)
{
	char	*c;

	if ((c = strdup(v)) == NULL)
		return -1;
	free(*slot);
	*slot = c;
	return 0;
}

static int
accumulate(struct statspec *s, struct acc *a, const char *v)
{
	double	 x, t, delta;

	if (v == NULL)
		return 0;
	a->n++;
	if (s->stat == ST_FIRST && a->first == NULL &&
	    set_text(&a->first, v) == -1)
		return -1;
	if (s->stat == ST_LAST && set_text(&a->last, v) == -1)
		return -1;
	if (!s->numeric) {
		if (s->stat == ST_MIN && (a->mintext == NULL ||
		    strcmp(v, a->mintext) < 0) && set_text(&a->mintext, v) == -1)
			return -1;
		if (s->stat == ST_MAX && (a->maxtext == NULL ||
		    strcmp(v, a->maxtext) > 0) && set_text(&a->maxtext, v) == -1)
			return -1;
		return 0;
	}
	x = strtod(v, NULL);
	/* Neumaier's compensated sum. */
	t = a->sum + x;
	if (fabs(a->sum) >= fabs(x))
		a->comp += (a->sum - t) + x;
	else
		a->comp += (x - t) + a->sum;
	a->sum = t;
	/* Welford. */
	delta = x - a->mean;
	a->mean += delta / (double)a->n;
	a->m2 += delta * (x - a->mean);
	if (a->n == 1 || x < a->min) {
		a->min = x;
		if ((s->stat == ST_MIN || s->stat == ST_RANGE) &&
		    set_text(&a->mintext, v) == -1)
			return -1;
	}
	if (a->n == 1 || x > a->max) {
		a->max = x;
		if ((s->stat == ST_MAX || s->stat == ST_RANGE) &&
		    set_text(&a->maxtext, v) == -1)
			return -1;
	}
	return 0;
}

static int
dissolve_feature(struct gw_job *job, struct gw_feature *f, void *arg)
{
	struct dissolve	*d = arg;
	struct group	*g;
	GEOSGeometry	**ng;
	size_t		 i;

	if ((g = find_group(job, d, f)) == NULL)
		return -1;
	for (i = 0; i < d->nstats; i++)
		if (accumulate(&d->stats[i], &g->acc[i],
		    f->values[d->stats[i].pos]) == -1)
			return gw_job_error(job, "out of memory");
	if (g->n == g->cap) {
		g->cap = g->cap ? g->cap * 2 : 8;
		if ((ng = reallocarray(g->geoms, g->cap, sizeof(*ng))) == NULL)
			return gw_job_error(job, "out of memory");
		g->geoms = ng;
	}
	g->geoms[g->n++] = f->geom;
	f->geom = NULL;		/* the group keeps it */
	return 0;
}

/* The text of statistic s of a (NULL: SQL NULL) into buf. */
static const char *
stat_value(const struct statspec *s, const struct acc *a, char *buf,
    size_t bufsz)
{
	if (s->stat == ST_COUNT) {
		snprintf(buf, bufsz, "%lld", a->n);
		return buf;
	}
	if (a->n == 0)
		return NULL;
	switch (s->stat) {
	case ST_SUM:
		snprintf(buf, bufsz, "%.17g", a->sum + a->comp);
		return buf;
	case ST_MEAN:
		snprintf(buf, bufsz, "%.17g", (a->sum + a->comp) /
		    (double)a->n);
		return buf;
	case ST_STD:
		if (a->n < 2)
			return NULL;
		snprintf(buf, bufsz, "%.17g", sqrt(a->m2 / (double)(a->n - 1)));
		return buf;
	case ST_RANGE:
		snprintf(buf, bufsz, "%.17g", a->max - a->min);
		return buf;
	case ST_MIN:
		return a->mintext;
	case ST_MAX:
		return a->maxtext;
	case ST_FIRST:
		return a->first;
	case ST_LAST:
		return a->last;
	case ST_COUNT:
		break;
	}
	return NULL;
}

/* Parses the statistics parameter into d->stats (columns to read added to
 * cols/ncols). */
static int
parse_stats(struct gw_job *job, const struct gw_layer *in, json_t *js,
    struct dissolve *d, int *cols, int *ncols)
{
	json_t		*o, *jf, *jst;
	const char	*key, *fname, *sname;
	size_t		 i, k;
	int		 col, j;

	if (js == NULL || json_is_null(js))
		return 0;
	if (!json_is_array(js))
		return gw_job_error(job, "statistics: expected a list of "
		    "{\"field\": ..., \"stat\": ...} objects");
	if ((d->stats = calloc(json_array_size(js) + 1,
	    sizeof(*d->stats))) == NULL)
		return gw_job_error(job, "out of memory");
	json_array_foreach(js, i, o) {
		json_t *v;

		if (!json_is_object(o))
			return gw_job_error(job, "statistics[%zu]: expected an "
			    "object {\"field\": ..., \"stat\": ...}", i);
		json_object_foreach(o, key, v)
			if (strcmp(key, "field") != 0 &&
			    strcmp(key, "stat") != 0)
				return gw_job_error(job, "statistics[%zu]: "
				    "unknown key \"%s\" (expected field and "
				    "stat)", i, key);
		jf = json_object_get(o, "field");
		jst = json_object_get(o, "stat");
		if (!json_is_string(jf) || !json_is_string(jst))
			return gw_job_error(job, "statistics[%zu]: \"field\" "
			    "and \"stat\" must both be strings", i);
		fname = json_string_value(jf);
		sname = json_string_value(jst);
		for (k = 0; stat_names[k] != NULL; k++)
			if (strcmp(stat_names[k], sname) == 0)
				break;
		if (stat_names[k] == NULL)
			return gw_job_error(job, "statistics[%zu]: unknown "
			    "statistic \"%s\" (expected sum, mean, min, max, "
			    "count, std, range, first or last)", i, sname);
		if ((col = gw_layer_column(in, fname)) == -1)
			return gw_job_error(job, "statistics[%zu]: %s.%s has no "
			    "column \"%s\"", i, in->schema, in->table, fname);
		d->stats[i].stat = (enum dstat)k;
		d->stats[i].col = col;
		d->stats[i].numeric = in->columns[col].numeric;
		if (!d->stats[i].numeric && (k == ST_SUM || k == ST_MEAN ||
		    k == ST_STD || k == ST_RANGE))
			return gw_job_error(job, "statistics[%zu]: \"%s\" needs "
			    "a numeric field; \"%s\" is %s", i, sname, fname,
			    in->columns[col].type);
		if ((size_t)snprintf(d->stats[i].name, sizeof(d->stats[i].name),
		    "%s_%s", sname, fname) >= sizeof(d->stats[i].name))
			return gw_job_error(job, "statistics[%zu]: the output "
			    "column name %s_%s is longer than 63 bytes", i,
			    sname, fname);
		for (j = 0; j < *ncols; j++)
			if (cols[j] == col)
				break;
		if (j == *ncols)
			cols[(*ncols)++] = col;
		d->stats[i].pos = j;
		d->nstats++;
	}
	return 0;
}

/* The state of one dissolve job, phase to phase. */
struct dissolvejob {
	struct dissolve		 d;
	struct gw_layer		*in;
	struct gw_output	*out;
	struct gw_colspec	*ocols;		/* group fields, statistics */
	struct gw_read		 rd;
	const char		*oname;
	const char		**vals;		/* a row's values */
	char			 obuf[128];
	char			 (*nbuf)[64];	/* statistics as text */
	int			*gidx;		/* group fields: columns */
	size_t			 ngidx;
	int			*cols;		/* columns read */
	int			 ncols;
	int			 overwrite, multipart, dim;
	int			 ncoverage;	/* groups merged as coverage */
	long long		 nfeatures;
};

/* Parameters: the input, its group fields and the statistics asked. */
static int
dissolve_params(struct gw_job *job, struct dissolvejob *dj)
{
	static const char *const keys[] = { "input", "geometry_column",
	    "id_column", "output", "overwrite", "fields", "statistics",
	    "multipart", NULL };
	struct dissolve	*d = &dj->d;
	const char	*input, *gcol, *idcol;
	size_t		 i, j;

	if (gw_param_check_keys(job, keys) == -1 ||
	    gw_param_string(job, "input", 1, NULL, &input) == -1 ||
	    gw_param_string(job, "geometry_column", 0, NULL, &gcol) == -1 ||
	    gw_param_string(job, "id_column", 0, NULL, &idcol) == -1 ||
	    gw_param_bool(job, "multipart", 1, &dj->multipart) == -1 ||
	    gw_output_name(job, dj->obuf, sizeof(dj->obuf), &dj->oname,
	    &dj->overwrite) == -1)
		return -1;
	if (gw_layer_resolve(job, "input", input, gcol, idcol, &dj->in) == -1)
		return -1;
	if (strcmp(dj->in->table, dj->oname) == 0 &&
	    strcmp(dj->in->schema, job->settings->output_schema ?
	    job->settings->output_schema : "public") == 0)
		return gw_job_error(job, "output: %s.%s is the input table",
		    dj->in->schema, dj->in->table);
	if (gw_layer_columns(job, dj->in, "fields", json_object_get(
	    job->params, "fields"), &dj->gidx, &dj->ngidx) == -1)
		return -1;
	if ((dj->cols = calloc(dj->ngidx + json_array_size(json_object_get(
	    job->params, "statistics")) + 1, sizeof(*dj->cols))) == NULL ||
	    (d->gpos = calloc(dj->ngidx + 1, sizeof(*d->gpos))) == NULL)
		return gw_job_error(job, "out of memory");
	for (i = 0; i < dj->ngidx; i++) {
		for (j = 0; j < i; j++)
			if (dj->gidx[j] == dj->gidx[i])
				return gw_job_error(job, "fields: \"%s\" is "
				    "given twice",
				    dj->in->columns[dj->gidx[i]].name);
		dj->cols[dj->ncols] = dj->gidx[i];
		d->gpos[i] = dj->ncols++;
	}
	d->ngroupf = dj->ngidx;
	return parse_stats(job, dj->in, json_object_get(job->params,
	    "statistics"), d, dj->cols, &dj->ncols);
}

/* The output table: group fields (their types), then statistics. */
static int
dissolve_output(struct gw_job *job, struct dissolvejob *dj)
{
	const struct dissolve	*d = &dj->d;
	const struct gw_layer	*in = dj->in;
	struct gw_colspec	*oc;
	size_t			 i, ngidx = dj->ngidx;

	if ((dj->ocols = calloc(ngidx + d->nstats + 1,
	    sizeof(*dj->ocols))) == NULL ||
	    (dj->vals = calloc(ngidx + d->nstats + 1,
	    sizeof(*dj->vals))) == NULL ||
	    (dj->nbuf = calloc(d->nstats + 1, sizeof(*dj->nbuf))) == NULL)
		return gw_job_error(job, "out of memory");
	for (i = 0; i < ngidx; i++) {
		dj->ocols[i].name = in->columns[dj->gidx[i]].name;
		dj->ocols[i].type = in->columns[dj->gidx[i]].type;
	}
	for (i = 0; i < d->nstats; i++) {
		oc = &dj->ocols[ngidx + i];
		oc->name = d->stats[i].name;
		switch (d->stats[i].stat) {
		case ST_COUNT:
			oc->type = "bigint";
			break;
		case ST_SUM: case ST_MEAN: case ST_STD: case ST_RANGE:
			oc->type = "double precision";
			break;
		default:
			oc->type = in->columns[d->stats[i].col].type;
		}
	}
	dj->dim = in->dim;
	return gw_output_create(job, dj->oname, dj->overwrite, dj->ocols,
	    (int)(ngidx + d->nstats), in->geom_column,
	    gw_geom_typename(dj->dim, dj->multipart), in->srid, &dj->out);
}

/* Reads the input into groups, with their statistics. */
static int
dissolve_read(struct gw_job *job, struct dissolvejob *dj)
{
	struct gw_read	*rd = &dj->rd;
	size_t		 i;

	memset(rd, 0, sizeof(*rd));
	rd->columns = dj->cols;
	rd->ncolumns = dj->ncols;
	/* first and last follow the id column; sorting costs, so only then. */
	for (i = 0; i < dj->d.nstats; i++)
		if (dj->d.stats[i].stat == ST_FIRST ||
		    dj->d.stats[i].stat == ST_LAST)
			rd->order_by_id = 1;
	rd->repair = 1;
	rd->prefetch = 1;
	rd->progress_from = 0;
	rd->progress_to = 0.4;
	if (gw_layer_read(job, dj->in, rd, dissolve_feature, &dj->d) == -1)
		return -1;
	dj->nfeatures = rd->nread - rd->nskipped;
	if (dj->nfeatures == 0)
		return gw_job_error(job, "input: %s.%s has no features with a "
		    "geometry", dj->in->schema, dj->in->table);
	return 0;
}

/* Merges group g and writes it: one row, or one per part. */
static int
dissolve_group(struct gw_job *job, struct dissolvejob *dj, struct group *g)
{
	GEOSContextHandle_t	 ctx = gw_geos();
	const struct dissolve	*d = &dj->d;
	const GEOSGeometry	*w;
	GEOSGeometry		*u, *x;
	size_t			 j, k, nparts;
	int			 cov, rv = -1;

	u = gw_union(job, g->geoms, g->n, &cov);
	g->n = 0;	/* gw_union took them */
	if (u == NULL)
		return -1;
	dj->ncoverage += cov;
	if (dj->dim != GW_DIM_UNKNOWN) {
		/* Keep the layer's dimension (a union of polygons is
		 * polygonal; this drops nothing for valid input). */
		x = gw_geom_extract(ctx, u, dj->dim);
		GEOSGeom_destroy_r(ctx, u);
		if ((u = x) == NULL)
			return gw_job_error(job, "GEOS: %s", gw_geos_error());
		GEOSSetSRID_r(ctx, u, dj->in->srid);
	}
	for (j = 0; j < dj->ngidx; j++)
		dj->vals[j] = g->gvalues[j];
	for (j = 0; j < d->nstats; j++)
		dj->vals[dj->ngidx + j] = stat_value(&d->stats[j], &g->acc[j],
		    dj->nbuf[j], sizeof(dj->nbuf[j]));
	nparts = (size_t)GEOSGetNumGeometries_r(ctx, u);
	if (dj->multipart || dj->dim == GW_DIM_UNKNOWN || nparts <= 1) {
		w = u;
		if (!dj->multipart && nparts == 1)
			w = GEOSGetGeometryN_r(ctx, u, 0);
		if (!GEOSisEmpty_r(ctx, u) &&
		    gw_output_row(job, dj->out, dj->vals, w) == -1)
			goto done;
	} else
		for (k = 0; k < nparts; k++)
			if (gw_output_row(job, dj->out, dj->vals,
			    GEOSGetGeometryN_r(ctx, u, (int)k)) == -1)
				goto done;
	rv = 0;
 done:
	GEOSGeom_destroy_r(ctx, u);
	return rv;
}

/* Merges every group, then finishes the output. */
static int
dissolve_merge(struct gw_job *job, struct dissolvejob *dj, long long *nrows)
{
	const struct dissolve	*d = &dj->d;
	uint64_t		 t0 = now_ms();
	size_t			 i;
	int			 rc;

	for (i = 0; i < d->ngroups; i++) {
		if (dissolve_group(job, dj, d->groups[i]) == -1)
			return -1;
		if (i % 64 == 0 || i + 1 == d->ngroups)
			gw_progress(job, 0.4 + 0.55 * (double)(i + 1) /
			    (double)d->ngroups, "%zu of %zu groups merged",
			    i + 1, d->ngroups);
	}
	log_debug("%zu groups merged in %llu ms (%d by coverage union)",
	    d->ngroups, (unsigned long long)(now_ms() - t0), dj->ncoverage);
	rc = gw_output_finish(job, dj->out, nrows);
	dj->out = NULL;		/* freed by gw_output_finish, even on failure */
	return rc;
}

static void
dissolvejob_free(struct dissolvejob *dj)
{
	struct dissolve	*d = &dj->d;
	size_t		 i;

	gw_output_free(dj->out);
	for (i = 0; i < d->ngroups; i++)
		group_free(d->groups[i], d->ngroupf, d->nstats);
	free(d->groups);
	free(d->buckets);
	free(d->key.data);
	free(d->stats);
	free(d->gpos);
	free(dj->ocols);
	free(dj->vals);
	free(dj->nbuf);
	free(dj->cols);
	free(dj->gidx);
	gw_layer_free(dj->in);
}

static int
run_dissolve(struct gw_job *job, json_t **result)
{
	struct dissolvejob	 dj;
	char			 fullname[160];
	long long		 nrows;
	int			 rv = -1;

	memset(&dj, 0, sizeof(dj));
	if (dissolve_params(job, &dj) == -1 ||
	    dissolve_output(job, &dj) == -1 ||
	    dissolve_read(job, &dj) == -1)
		goto done;
	strlcpy(fullname, gw_output_fullname(dj.out), sizeof(fullname));
	if (dissolve_merge(job, &dj, &nrows) == -1)
		goto done;
	*result = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:b}",
	    "output", fullname,
	    "feature_count", (json_int_t)nrows,
	    "input_count", (json_int_t)dj.nfeatures,
	    "group_count", (json_int_t)dj.d.ngroups,
	    "coverage_union_groups", (json_int_t)dj.ncoverage,
	    "repaired_geometries", (json_int_t)dj.rd.nrepaired,
	    "skipped_null_geometries", (json_int_t)dj.rd.nskipped,
	    "multipart", dj.multipart);
	if (*result == NULL) {
		gw_job_error(job, "out of memory");
		goto done;
	}
	rv = 0;
 done:
	dissolvejob_free(&dj);
	return rv;
}

int
main(int argc, char *argv[])
{
	gw_worker_idle(gw_idle_postgis);
	return gw_worker_main(argc, argv, "dissolve", run_dissolve);
}

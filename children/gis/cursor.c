/*
 * cursor.c: the one cursor reader (see cursor.h).
 *
 * Reading is a NO SCROLL cursor fetched in binary batches: the geometry
 * arrives as EWKB (PostGIS's binary send), attributes as text (cast in the
 * query, so that they write back exactly with their own type's input
 * function) or in their binary send format.  Between batches the connection
 * is idle, so a callback may flush output rows with COPY while the read goes
 * on.
 *
 * NOTES
 *   All SQL runs on job->conn inside the job's transaction.  Errors go to
 *   gw_job_error() naming the layer's parameter and the feature.
 */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "common.h"
#include "gis/crs.h"
#include "gis/cursor.h"
#include "gis/execf.h"
#include "gis/quote.h"
#include "gis/strbuf.h"

#define GW_FETCH_ROWS	2000		/* rows per FETCH */

/*
 * The number of rows a read will see, for progress: the planner's estimate
 * (pg_class.reltuples) of an analyzed table read whole, else a count.
 */
static int
estimate_rows(struct gw_job *job, const struct gw_layer *l, const char *where,
    long long *out)
{
	PGresult	*res;
	const char	*vals[1];
	char		 relid[16];
	double		 n = -1;

	if (where == NULL) {
		snprintf(relid, sizeof(relid), "%u", l->relid);
		vals[0] = relid;
		if ((res = gw_exec(job, l->param, "SELECT reltuples FROM "
		    "pg_class WHERE oid = $1", 1, vals)) == NULL)
			return -1;
		if (PQntuples(res) == 1)
			n = strtod(PQgetvalue(res, 0, 0), NULL);
		PQclear(res);
		if (n >= 1) {
			*out = (long long)n;
			return 0;
		}
	}
	return gw_layer_count(job, l, where, out);
}

/*
 * Prefetching: while a feature batch is worked on, the next FETCH is already
 * on its way (fetch_pending), so the server reads and sends while GEOS
 * computes.  Meanwhile the connection cannot run a COPY: an output flush
 * waits (deferred) until the reader has the batch.
 */
static int		 fetch_pending;
static gw_flush_fn	 deferred;
static void		*deferred_arg;

int
gw_cursor_busy(void)
{
	return fetch_pending;
}

void
gw_cursor_defer(gw_flush_fn flush, void *arg)
{
	deferred = flush;
	deferred_arg = arg;
}

void
gw_cursor_undefer(void *arg)
{
	if (deferred_arg == arg) {
		deferred = NULL;
		deferred_arg = NULL;
	}
}

/* Runs the flush that waited for the connection, if any. */
static int
run_deferred(struct gw_job *job)
{
	gw_flush_fn	 flush = deferred;
	void		*arg = deferred_arg;

	if (flush == NULL)
		return 0;
	deferred = NULL;
	deferred_arg = NULL;
	return flush(job, arg);
}

static int
send_fetch(struct gw_job *job, const struct gw_layer *l, const char *fetch)
{
	if (!PQsendQueryParams(job->conn, fetch, 0, NULL, NULL, NULL, NULL,
	    1))
		return gw_job_error(job, "%s: %s", l->param,
		    PQerrorMessage(job->conn));
	fetch_pending = 1;
	return 0;
}

/* The result of the pending FETCH (NULL if the connection failed). */
static PGresult *
fetch_result(struct gw_job *job)
{
	PGresult	*res, *extra;

	res = PQgetResult(job->conn);
	while ((extra = PQgetResult(job->conn)) != NULL)
		PQclear(extra);
	fetch_pending = 0;
	return res;
}

/* "input fid = 12" or "input row 12": a feature, for messages. */
static void
feature_name(const struct gw_layer *l, const struct gw_feature *f, char *buf,
    size_t bufsz)
{
	if (f->id != NULL)
		snprintf(buf, bufsz, "%s %s = %s", l->param, l->id_column,
		    f->id);
	else
		snprintf(buf, bufsz, "%s row %lld", l->param, f->seq + 1);
}

/* The state of one gw_layer_read(). */
struct reader {
	struct gw_job		*job;
	const struct gw_layer	*l;
	struct gw_read		*r;
	gw_feature_fn		 fn;
	void			*arg;
	int			 idcol;		/* the id is column 1 */
	GEOSWKBReader		*wkb;
	struct gw_transform	*tr;		/* to r->to_srid, or NULL */
	const char		**values;	/* a row's asked columns */
	int			*lengths;
	char			 envbuf[4 * GW_MAX_ENVELOPES + 1][32];
	const char		*envvals[4 * GW_MAX_ENVELOPES + 1];
	int			 nenv;		/* parameters of envvals */
};

/*
 * Appends the envelope condition to q: the GiST index of the layer, if
 * any, serves it (a BitmapOr of one index scan per envelope).  Its values
 * are parameters in rd->envvals.
 */
static void
cursor_envelopes(struct reader *rd, struct gw_strbuf *q)
{
	const struct gw_read	*r = rd->r;
	int			 ne, k, i;

	ne = r->nenvelopes > GW_MAX_ENVELOPES ? GW_MAX_ENVELOPES :
	    r->nenvelopes;
	gw_sb_printf(q, " %s (", r->where != NULL ? "AND" : "WHERE");
	for (k = 0; k < ne; k++) {
		gw_sb_printf(q, "%sgw_t.", k ? " OR " : "");
		gw_sb_ident(rd->job, q, rd->l->geom_column);
		gw_sb_printf(q, " && ST_MakeEnvelope($%d, $%d, $%d, $%d, $%d)",
		    4 * k + 1, 4 * k + 2, 4 * k + 3, 4 * k + 4, 4 * ne + 1);
		for (i = 0; i < 4; i++) {
			snprintf(rd->envbuf[4 * k + i], sizeof(rd->envbuf[0]),
			    "%.17g", r->envelopes[k][i]);
			rd->envvals[4 * k + i] = rd->envbuf[4 * k + i];
		}
	}
	gw_sb_puts(q, ")");
	snprintf(rd->envbuf[4 * ne], sizeof(rd->envbuf[0]), "%d",
	    rd->l->srid);
	rd->envvals[4 * ne] = rd->envbuf[4 * ne];
	rd->nenv = 4 * ne + 1;
}

/* DECLARE cur ... SELECT geom, id::text, col::text, ...: the cursor's
 * statement, into q. */
static void
cursor_declare(struct reader *rd, const char *cur, struct gw_strbuf *q)
{
	struct gw_job		*job = rd->job;
	const struct gw_layer	*l = rd->l;
	const struct gw_read	*r = rd->r;
	int			 i;

	gw_sb_printf(q, "DECLARE %s NO SCROLL CURSOR FOR SELECT ", cur);
	gw_sb_ident(job, q, l->geom_column);
	gw_sb_puts(q, " AS gw_geom");
	if (rd->idcol) {
		gw_sb_puts(q, ", ");
		gw_sb_ident(job, q, l->columns[l->id_index].name);
		gw_sb_puts(q, "::text AS gw_id");
	}
	/* Aliased, so that ORDER BY below means the column, not its text. */
	for (i = 0; i < r->ncolumns; i++) {
		gw_sb_puts(q, ", ");
		gw_sb_ident(job, q, l->columns[r->columns[i]].name);
		gw_sb_printf(q, "%s AS gw_c%d", r->binary ? "" : "::text", i);
	}
	gw_sb_printf(q, " FROM %s AS gw_t", l->qualified);
	if (r->where != NULL)
		gw_sb_printf(q, " WHERE (%s)", r->where);
	if (r->nenvelopes > 0)
		cursor_envelopes(rd, q);
	if (r->order_by_id && rd->idcol) {
		gw_sb_puts(q, " ORDER BY gw_t.");
		gw_sb_ident(job, q, l->columns[l->id_index].name);
	}
}

static PGresult	*cursor_first(struct reader *);

/*
 * The DECLARE and the first FETCH go out together, in libpq's pipeline
 * mode, and the reader takes their results later (cursor_first): meanwhile
 * the client builds the layer's transformation.  In a fresh process and a
 * fresh backend both sides have tens of milliseconds of their own to do:
 * PROJ opens proj.db and searches its operations, the server plans, loads
 * postgis-3.so if nothing has yet, and reads the first batch.
 */
static int
cursor_open(struct reader *rd, struct gw_strbuf *q, const char *fetch)
{
	PGconn	*conn = rd->job->conn;
	int	 ok;

	if (q->failed) {
		gw_sb_free(q);
		return gw_job_error(rd->job, "out of memory");
	}
	ok = PQenterPipelineMode(conn) &&
	    PQsendQueryParams(conn, q->data, rd->nenv, NULL, rd->envvals,
	    NULL, NULL, 0) &&
	    PQsendQueryParams(conn, fetch, 0, NULL, NULL, NULL, NULL, 1) &&
	    PQpipelineSync(conn);
	gw_sb_free(q);
	fetch_pending = 1;
	if (!ok) {
		gw_job_error(rd->job, "%s: %s", rd->l->param,
		    PQerrorMessage(conn));
		PQclear(cursor_first(rd));	/* out of pipeline mode */
		return -1;
	}
	return 0;
}

/*
 * The results of cursor_open, up to the pipeline's end: the first batch,
 * or NULL after a job error (the DECLARE's, or a lost connection).
 */
static PGresult *
cursor_first(struct reader *rd)
{
	PGconn		*conn = rd->job->conn;
	PGresult	*res, *batch = NULL, *err = NULL;
	int		 nulls = 0;

	/* Each statement's results end with a NULL; the Sync ends all.  Two
	 * NULLs in a row: nothing more will come (the connection is gone). */
	while (nulls < 2) {
		if ((res = PQgetResult(conn)) == NULL) {
			nulls++;
			continue;
		}
		nulls = 0;
		switch (PQresultStatus(res)) {
		case PGRES_PIPELINE_SYNC:
			PQclear(res);
			nulls = 2;
			break;
		case PGRES_COMMAND_OK:
		case PGRES_PIPELINE_ABORTED:
			PQclear(res);
			break;
		case PGRES_TUPLES_OK:
			if (batch == NULL) {
				batch = res;
				break;
			}
			PQclear(res);
			break;
		default:
			if (err == NULL)
				err = res;
			else
				PQclear(res);
		}
	}
	PQexitPipelineMode(conn);
	fetch_pending = 0;
	if (err != NULL || batch == NULL) {
		gw_job_pgerror(rd->job, rd->l->param, err);
		PQclear(err);
		PQclear(batch);
		return NULL;
	}
	return batch;
}

/* Row i of a batch: its feature, repaired and transformed as asked, to
 * the callback (NULL or empty geometries skipped unless keep_empty). */
static int
cursor_row(struct reader *rd, PGresult *res, int i)
{
	GEOSContextHandle_t	 ctx = gw_geos();
	struct gw_read		*r = rd->r;
	struct gw_feature	 f;
	GEOSGeometry		*t;
	char			 what[128];
	int			 j, c, rv = -1;

	memset(&f, 0, sizeof(f));
	f.seq = r->nread++;
	f.id = rd->idcol && !PQgetisnull(res, i, 1) ?
	    PQgetvalue(res, i, 1) : NULL;
	for (j = 0; j < r->ncolumns; j++) {
		c = 1 + rd->idcol + j;
		rd->values[j] = PQgetisnull(res, i, c) ? NULL :
		    PQgetvalue(res, i, c);
		rd->lengths[j] = PQgetlength(res, i, c);
	}
	f.values = rd->values;
	f.lengths = rd->lengths;
	f.nvalues = r->ncolumns;
	if (!PQgetisnull(res, i, 0)) {
		f.geom = GEOSWKBReader_read_r(ctx, rd->wkb,
		    (const unsigned char *)PQgetvalue(res, i, 0),
		    (size_t)PQgetlength(res, i, 0));
		if (f.geom == NULL) {
			feature_name(rd->l, &f, what, sizeof(what));
			return gw_job_error(rd->job, "%s: unreadable geometry: "
			    "%s", what, gw_geos_error());
		}
		if (GEOSisEmpty_r(ctx, f.geom)) {
			GEOSGeom_destroy_r(ctx, f.geom);
			f.geom = NULL;
		}
	}
	if (f.geom == NULL) {
		r->nskipped++;
		if (!r->keep_empty)
			return 0;
	}
	if (f.geom != NULL && r->repair && !gw_geom_quick_valid(ctx, f.geom)) {
		feature_name(rd->l, &f, what, sizeof(what));
		if (gw_geom_repair(rd->job, &f.geom, &r->nrepaired,
		    what) == -1)
			goto done;
	}
	if (f.geom != NULL && rd->tr != NULL) {
		if ((t = gw_transform_geom(rd->job, rd->tr, f.geom)) == NULL)
			goto done;
		GEOSGeom_destroy_r(ctx, f.geom);
		f.geom = t;
	}
	if (rd->fn(rd->job, &f, rd->arg) == -1)
		goto done;
	rv = 0;
 done:
	if (f.geom != NULL)
		GEOSGeom_destroy_r(ctx, f.geom);
	return rv;
}

/* Batch after batch, from the first (cursor_first) until the cursor is
 * exhausted: with prefetch, the next FETCH on its way while this batch is
 * worked.  res is the first batch, cleared here. */
static int
cursor_batches(struct reader *rd, const char *fetch, PGresult *res,
    long long total)
{
	struct gw_job	*job = rd->job;
	struct gw_read	*r = rd->r;
	int		 i, n;

	for (;;) {
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			gw_job_pgerror(job, rd->l->param, res);
			goto fail;
		}
		if ((n = PQntuples(res)) == 0)
			break;
		/* The connection is free: flush what waited, then ask for
		 * the next batch while this one is worked. */
		if (r->prefetch && (run_deferred(job) == -1 ||
		    send_fetch(job, rd->l, fetch) == -1))
			goto fail;
		for (i = 0; i < n; i++)
			if (cursor_row(rd, res, i) == -1)
				goto fail;
		PQclear(res);
		if (total > 0)
			gw_progress(job, r->progress_from +
			    (r->progress_to - r->progress_from) *
			    fmin(1, (double)r->nread / (double)total),
			    "%s: %lld of about %lld features read",
			    rd->l->param, r->nread, total);
		if (r->prefetch)
			res = fetch_result(job);
		else
			res = PQexecParams(job->conn, fetch, 0, NULL, NULL,
			    NULL, NULL, 1);
	}
	PQclear(res);
	return 0;
 fail:
	PQclear(res);
	return -1;
}

int
gw_layer_read(struct gw_job *job, const struct gw_layer *l, struct gw_read *r,
    gw_feature_fn fn, void *arg)
{
	static int		 cursors;
	struct reader		 rd;
	struct gw_transform_rows rows;
	struct gw_strbuf	 q = { 0 };
	PGresult		*res, *first = NULL;
	char			 cur[32], fetch[64];
	long long		 total = 0;
	uint64_t		 t0;
	int			 rv = -1, open = 0, transform, built;

	memset(&rd, 0, sizeof(rd));
	rd.job = job;
	rd.l = l;
	rd.r = r;
	rd.fn = fn;
	rd.arg = arg;
	rd.idcol = l->id_index >= 0;
	r->nread = r->nrepaired = r->nskipped = 0;
	t0 = now_ms();
	snprintf(cur, sizeof(cur), "gw_features_%d", ++cursors);
	/* (With an envelope, the whole layer's estimate: progress then
	 * undercounts, which is better than a second scan.) */
	if (r->progress_to > r->progress_from && estimate_rows(job, l,
	    r->nenvelopes > 0 ? NULL : r->where, &total) == -1)
		return -1;
	transform = r->to_srid > 0 && l->srid > 0 && r->to_srid != l->srid;
	if (transform && gw_transform_lookup(job, l->srid, r->to_srid,
	    &rows) == -1)
		return -1;
	snprintf(fetch, sizeof(fetch), "FETCH %d FROM %s", GW_FETCH_ROWS, cur);
	cursor_declare(&rd, cur, &q);
	if (cursor_open(&rd, &q, fetch) == -1) {
		if (transform) {
			gw_srs_free(&rows.from);
			gw_srs_free(&rows.to);
		}
		goto done;
	}
	/* PROJ works while the server does (cursor_open). */
	built = !transform || gw_transform_build(job, &rows, &rd.tr) == 0;
	first = cursor_first(&rd);
	open = first != NULL;
	if (!built || first == NULL)
		goto done;
	if ((rd.wkb = GEOSWKBReader_create_r(gw_geos())) == NULL) {
		gw_job_error(job, "GEOS: %s", gw_geos_error());
		goto done;
	}
	if ((rd.values = calloc(r->ncolumns + 1, sizeof(*rd.values))) ==
	    NULL ||
	    (rd.lengths = calloc(r->ncolumns + 1, sizeof(*rd.lengths))) ==
	    NULL) {
		gw_job_error(job, "out of memory");
		goto done;
	}
	res = first;
	first = NULL;
	if (cursor_batches(&rd, fetch, res, total) == -1)
		goto done;
	rv = 0;
	log_debug("%s: %lld rows read in %llu ms", l->param, r->nread,
	    (unsigned long long)(now_ms() - t0));
 done:
	if (fetch_pending) {
		/* A failure while a batch was on its way: drop it. */
		while ((res = PQgetResult(job->conn)) != NULL)
			PQclear(res);
		fetch_pending = 0;
	}
	if (open) {
		snprintf(fetch, sizeof(fetch), "CLOSE %s", cur);
		res = PQexec(job->conn, fetch);
		if (rv == 0 && PQresultStatus(res) != PGRES_COMMAND_OK)
			rv = gw_job_pgerror(job, l->param, res);
		PQclear(res);
	}
	PQclear(first);
	if (rd.wkb != NULL)
		GEOSWKBReader_destroy_r(gw_geos(), rd.wkb);
	gw_transform_free(rd.tr);
	free(rd.values);
	free(rd.lengths);
	return rv;
}

/* Type oids of the binary values decoded below (pg_type.h). */
#define GW_INT8OID		20
#define GW_INT2OID		21
#define GW_INT4OID		23
#define GW_FLOAT4OID		700
#define GW_FLOAT8OID		701
#define GW_DATEOID		1082
#define GW_TIMESTAMPOID		1114
#define GW_TIMESTAMPTZOID	1184
#define GW_NUMERICOID		1700

/* A big-endian unsigned integer of n bytes. */
static uint64_t
be_uint(const char *v, int n)
{
	const unsigned char	*b = (const unsigned char *)v;
	uint64_t		 u = 0;
	int			 i;

	for (i = 0; i < n; i++)
		u = u << 8 | b[i];
	return u;
}

/*
 * A numeric in its binary send format (ndigits, weight, sign, dscale, then
 * ndigits base-10000 digits, all int16) as the double nearest its decimal
 * value: what numeric::float8 computes (strtod of its text).
 */
static int
numeric_double(const char *v, int len, double *out)
{
	int		 ndigits, weight, sign, i;
	char		*s, *p;

	if (len < 8)
		return -1;
	ndigits = (int)be_uint(v, 2);
	weight = (int16_t)be_uint(v + 2, 2);
	sign = (int)be_uint(v + 4, 2);
	if (len != 8 + 2 * ndigits)
		return -1;
	switch (sign) {
	case 0xC000: *out = NAN; return 0;
	case 0xD000: *out = INFINITY; return 0;
	case 0xF000: *out = -INFINITY; return 0;
	}
	if ((s = malloc(4 * (size_t)ndigits + 32)) == NULL)
		return -1;
	/* -0.DDDDDDDD...e<4 (weight + 1)>: the exact decimal value. */
	p = s + sprintf(s, "%s0.", sign == 0x4000 ? "-" : "");
	for (i = 0; i < ndigits; i++)
		p += sprintf(p, "%04d", (int)be_uint(v + 8 + 2 * i, 2));
	sprintf(p, "0e%d", 4 * (weight + 1));
	*out = strtod(s, NULL);
	free(s);
	return 0;
}

int
gw_value_double(unsigned int typid, const char *v, int len, double *out)
{
	uint64_t	 u;
	uint32_t	 u32;
	float		 f;

	if (v == NULL)
		return -1;
	switch (typid) {
	case GW_INT2OID:
		if (len != 2)
			return -1;
		*out = (int16_t)be_uint(v, 2);
		return 0;
	case GW_INT4OID:
		if (len != 4)
			return -1;
		*out = (int32_t)be_uint(v, 4);
		return 0;
	case GW_INT8OID:
		if (len != 8)
			return -1;
		*out = (double)(int64_t)be_uint(v, 8);
		return 0;
	case GW_FLOAT4OID:
		if (len != 4)
			return -1;
		u32 = (uint32_t)be_uint(v, 4);
		memcpy(&f, &u32, sizeof(f));
		*out = f;
		return 0;
	case GW_FLOAT8OID:
		if (len != 8)
			return -1;
		u = be_uint(v, 8);
		memcpy(out, &u, sizeof(*out));
		return 0;
	case GW_NUMERICOID:
		return numeric_double(v, len, out);
	default:
		return -1;
	}
}

/*
 * s seconds and r microseconds (0 <= r < 1000000) since 2000-01-01, as
 * PostgreSQL's dates and timestamps count, as seconds since 1970 rounded
 * once, as extract(epoch ...)::float8 does: exactly, by division, within
 * 285 years of 1970, else through the decimal text.
 */
static double
epoch_of(int64_t s, int64_t r)
{
	char	 buf[48];

	s += 946684800;			/* 2000-01-01 - 1970-01-01 */
	if (s > -9000000000LL && s < 9000000000LL)
		return (double)(s * 1000000 + r) / 1e6;
	if (s < 0 && r > 0)
		snprintf(buf, sizeof(buf), "-%lld.%06lld", -(long long)s - 1,
		    1000000 - (long long)r);
	else
		snprintf(buf, sizeof(buf), "%lld.%06lld", (long long)s,
		    (long long)r);
	return strtod(buf, NULL);
}

int
gw_value_epoch(unsigned int typid, const char *v, int len, double *out)
{
	int64_t		 us, s, r;
	int32_t		 days;

	if (v == NULL)
		return -1;
	switch (typid) {
	case GW_DATEOID:
		if (len != 4)
			return -1;
		days = (int32_t)be_uint(v, 4);
		if (days == INT32_MIN || days == INT32_MAX) {
			*out = days == INT32_MIN ? -INFINITY : INFINITY;
			return 0;
		}
		*out = epoch_of((int64_t)days * 86400, 0);
		return 0;
	case GW_TIMESTAMPOID:
	case GW_TIMESTAMPTZOID:
		if (len != 8)
			return -1;
		us = (int64_t)be_uint(v, 8);
		if (us == INT64_MIN || us == INT64_MAX) {
			*out = us == INT64_MIN ? -INFINITY : INFINITY;
			return 0;
		}
		s = us / 1000000;
		if ((r = us % 1000000) < 0) {
			r += 1000000;
			s--;
		}
		*out = epoch_of(s, r);
		return 0;
	default:
		return -1;
	}
}

/*
 * output.c: the one COPY writer (see output.h).
 *
 * Writing queues rows in COPY text (or binary) format in a buffer that is
 * sent with COPY ... FROM STDIN whenever it passes GW_COPY_FLUSH bytes, and
 * once more at the end; geometries are written as EWKB with the output's
 * SRID.
 *
 * NOTES
 *   All SQL runs on job->conn inside the job's transaction.  While the
 *   cursor reader has a prefetched FETCH on the connection, a flush is left
 *   to it (gw_cursor_defer()).
 */
#include "config.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "common.h"
#include "gis/cursor.h"
#include "gis/execf.h"
#include "gis/output.h"
#include "gis/quote.h"
#include "gis/strbuf.h"

#define GW_COPY_FLUSH	(1 << 20)	/* bytes of COPY data per flush */

static int	 output_flush(struct gw_job *, struct gw_output *);

struct gw_output {
	char			*fullname;	/* schema.table, unquoted */
	char			*copy;		/* COPY ... FROM STDIN */
	char			*qualified;
	char			*geom_column;	/* quoted */
	int			 ncols;
	int			 srid;
	int			 multi;		/* promote to Multi* */
	int			 binary;	/* COPY (FORMAT binary) */
	struct gw_strbuf		 buf;
	GEOSWKBWriter		*wkb;
	long long		 nrows;
};

void
gw_output_free(struct gw_output *o)
{
	if (o == NULL)
		return;
	gw_cursor_undefer(o);
	free(o->fullname);
	free(o->copy);
	free(o->qualified);
	free(o->geom_column);
	gw_sb_free(&o->buf);
	if (o->wkb != NULL)
		GEOSWKBWriter_destroy_r(gw_geos(), o->wkb);
	free(o);
}

const char *
gw_output_fullname(const struct gw_output *o)
{
	return o->fullname;
}

int
gw_output_name(struct gw_job *job, char *buf, size_t bufsz, const char **name,
    int *overwrite)
{
	const char	*s, *p;

	if (gw_param_string(job, "output", 0, NULL, &s) == -1 ||
	    gw_param_bool(job, "overwrite", 0, overwrite) == -1)
		return -1;
	if (s == NULL) {
		snprintf(buf, bufsz, "%s_%lld", job->type, job->id);
		s = buf;
	}
	if (*s == '\0' || strlen(s) > 63)
		return gw_job_error(job, "output: expected a table name of 1 to "
		    "63 characters");
	if (isdigit((unsigned char)*s))
		return gw_job_error(job, "output: a table name must not start "
		    "with a digit");
	for (p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_')
			return gw_job_error(job, "output: \"%s\" is not a plain "
			    "table name (letters, digits and _ only)", s);
	*name = s;
	return gw_job_lock_output(job, s);
}

/* The output's column names: none twice, none the geometry column's, none
 * longer than PostgreSQL keeps. */
static int
output_check_columns(struct gw_job *job, const struct gw_colspec *cols,
    int ncols, const char *geom_column)
{
	int	 i, j;

	for (i = 0; i < ncols; i++) {
		if (strcmp(cols[i].name, geom_column) == 0)
			return gw_job_error(job, "output: column \"%s\" would "
			    "clash with the geometry column", cols[i].name);
		for (j = 0; j < i; j++)
			if (strcmp(cols[i].name, cols[j].name) == 0)
				return gw_job_error(job, "output: column \"%s\" "
				    "would appear twice", cols[i].name);
		if (strlen(cols[i].name) > 63)
			return gw_job_error(job, "output: column name \"%s\" is "
			    "longer than 63 bytes", cols[i].name);
	}
	return 0;
}

/* o->fullname, o->qualified and the quoted geometry column. */
static int
output_names(struct gw_job *job, struct gw_output *o, const char *schema,
    const char *name, const char *geom_column)
{
	if (asprintf(&o->fullname, "%s.%s", schema, name) == -1) {
		o->fullname = NULL;
		return gw_job_error(job, "out of memory");
	}
	if ((o->qualified = gw_quote_qualified(job, schema, name)) == NULL ||
	    (o->geom_column = gw_quote_ident(job, geom_column)) == NULL)
		return -1;
	return 0;
}

/* The schema must exist; a table of the output's name is dropped if
 * overwrite, anything else of that name refused. */
static int
output_replace(struct gw_job *job, struct gw_output *o, const char *schema,
    const char *name, int overwrite)
{
	const char	*vals[2] = { schema, name };
	PGresult	*res;
	char		 kind;

	if ((res = gw_exec(job, "output",
	    "SELECT 1 FROM pg_namespace WHERE nspname = $1", 1, vals)) == NULL)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return gw_job_error(job, "output: the output schema \"%s\" "
		    "does not exist (output_schema in the configuration)",
		    schema);
	}
	PQclear(res);
	if ((res = gw_exec(job, "output",
	    "SELECT c.relkind FROM pg_class c JOIN pg_namespace n"
	    " ON n.oid = c.relnamespace WHERE n.nspname = $1"
	    " AND c.relname = $2", 2, vals)) == NULL)
		return -1;
	kind = PQntuples(res) > 0 ? *PQgetvalue(res, 0, 0) : 0;
	PQclear(res);
	if (kind == 0)
		return 0;
	if (kind != 'r')
		return gw_job_error(job, "output: %s exists and is not a table;"
		    " it is not replaced", o->fullname);
	if (!overwrite)
		return gw_job_error(job, "output: table %s already exists (set "
		    "\"overwrite\": true to replace it)", o->fullname);
	return gw_runf(job, "output: dropping the existing table",
	    "DROP TABLE %s", o->qualified);
}

/* CREATE TABLE, and the COPY statement that fills it in o->copy; with no
 * geometry column if geom_type is NULL. */
static int
output_table(struct gw_job *job, struct gw_output *o,
    const struct gw_colspec *cols, int ncols, const char *geom_type)
{
	struct gw_strbuf	 q = { 0 };
	int			 i;

	gw_sb_printf(&q, "CREATE TABLE %s (", o->qualified);
	for (i = 0; i < ncols; i++) {
		gw_sb_puts(&q, i > 0 ? ", " : "");
		gw_sb_ident(job, &q, cols[i].name);
		gw_sb_printf(&q, " %s", cols[i].type);
	}
	if (geom_type != NULL) {
		gw_sb_printf(&q, "%s%s geometry(%s", ncols > 0 ? ", " : "",
		    o->geom_column, geom_type);
		if (o->srid > 0)
			gw_sb_printf(&q, ", %d", o->srid);
		gw_sb_puts(&q, ")");
	}
	gw_sb_puts(&q, ")");
	if (gw_run_sb(job, "output: creating the table", &q, 0, NULL) == -1)
		return -1;

	gw_sb_printf(&q, "COPY %s (", o->qualified);
	for (i = 0; i < ncols; i++) {
		gw_sb_puts(&q, i > 0 ? ", " : "");
		gw_sb_ident(job, &q, cols[i].name);
	}
	if (geom_type != NULL)
		gw_sb_printf(&q, "%s%s", ncols > 0 ? ", " : "", o->geom_column);
	gw_sb_puts(&q, ") FROM STDIN");
	/* Room for " (FORMAT binary)", should gw_output_binary() ask. */
	gw_sb_puts(&q, "                 ");
	if (q.failed) {
		gw_sb_free(&q);
		return gw_job_error(job, "out of memory");
	}
	q.len -= 17;
	q.data[q.len] = '\0';
	o->copy = q.data;
	return 0;
}

int
gw_output_create(struct gw_job *job, const char *name, int overwrite,
    const struct gw_colspec *cols, int ncols, const char *geom_column,
    const char *geom_type, int srid, struct gw_output **out)
{
	GEOSContextHandle_t	 ctx = gw_geos();
	struct gw_output	*o;
	const char		*schema = job->settings->output_schema;

	*out = NULL;
	if (schema == NULL || *schema == '\0')
		schema = "public";
	if (output_check_columns(job, cols, ncols, geom_column) == -1)
		return -1;
	if ((o = calloc(1, sizeof(*o))) == NULL)
		return gw_job_error(job, "out of memory");
	o->ncols = ncols;
	o->srid = srid;
	o->multi = strncmp(geom_type, "Multi", 5) == 0;
	if (output_names(job, o, schema, name, geom_column) == -1 ||
	    output_replace(job, o, schema, name, overwrite) == -1 ||
	    output_table(job, o, cols, ncols, geom_type) == -1)
		goto fail;
	if ((o->wkb = GEOSWKBWriter_create_r(ctx)) == NULL) {
		gw_job_error(job, "GEOS: %s", gw_geos_error());
		goto fail;
	}
	GEOSWKBWriter_setOutputDimension_r(ctx, o->wkb, 2);
	GEOSWKBWriter_setByteOrder_r(ctx, o->wkb, GEOS_WKB_NDR);
	GEOSWKBWriter_setIncludeSRID_r(ctx, o->wkb, 0);
	*out = o;
	return 0;
 fail:
	gw_output_free(o);
	return -1;
}

/* Appends s in COPY text format: backslash escapes for \ and controls. */
static int
copy_text(struct gw_strbuf *sb, const char *s)
{
	const char	*p;
	char		 esc[2] = { '\\', 0 };

	if (s == NULL)
		return gw_sb_add(sb, "\\N", 2);
	for (p = s; *p; p++) {
		switch (*p) {
		case '\\': esc[1] = '\\'; break;
		case '\t': esc[1] = 't'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		default:
			continue;
		}
		if (gw_sb_add(sb, s, (size_t)(p - s)) == -1 ||
		    gw_sb_add(sb, esc, 2) == -1)
			return -1;
		s = p + 1;
	}
	return gw_sb_add(sb, s, (size_t)(p - s));
}

static int
output_flush_deferred(struct gw_job *job, void *o)
{
	return output_flush(job, o);
}

static int
output_flush(struct gw_job *job, struct gw_output *o)
{
	PGresult	*res;
	int		 rv = 0;

	if (gw_cursor_busy()) {
		/* gw_layer_read() flushes it once its batch is in. */
		gw_cursor_defer(output_flush_deferred, o);
		return 0;
	}
	gw_cursor_undefer(o);
	if (o->buf.len == 0)
		return 0;
	if (o->binary) {
		/* The file trailer: a field count of -1. */
		if (gw_sb_add(&o->buf, "\377\377", 2) == -1)
			return gw_job_error(job, "out of memory");
	}
	res = PQexecParams(job->conn, o->copy, 0, NULL, NULL, NULL, NULL,
	    o->binary);
	if (PQresultStatus(res) != PGRES_COPY_IN) {
		gw_job_pgerror(job, "output: COPY", res);
		PQclear(res);
		return -1;
	}
	PQclear(res);
	if (PQputCopyData(job->conn, o->buf.data, (int)o->buf.len) != 1)
		rv = gw_job_error(job, "output: COPY: %s",
		    PQerrorMessage(job->conn));
	if (PQputCopyEnd(job->conn, rv == 0 ? NULL : "aborted") != 1 && rv == 0)
		rv = gw_job_error(job, "output: COPY: %s",
		    PQerrorMessage(job->conn));
	while ((res = PQgetResult(job->conn)) != NULL) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK && rv == 0)
			rv = gw_job_pgerror(job, "output: COPY", res);
		PQclear(res);
	}
	o->buf.len = 0;
	return rv;
}

/* Appends a 16- or 32-bit big-endian integer. */
static void
sb_be(struct gw_strbuf *sb, uint32_t v, int bytes)
{
	unsigned char	 b[4];
	int		 i;

	for (i = 0; i < bytes; i++)
		b[i] = (v >> (8 * (bytes - 1 - i))) & 0xff;
	gw_sb_add(sb, (const char *)b, (size_t)bytes);
}

/* The EWKB of g (promoted to Multi* if o wants it) with o's SRID, as a new
 * buffer to free(); NULL after a job error. */
static unsigned char *
output_ewkb(struct gw_job *job, struct gw_output *o, const GEOSGeometry *g,
    size_t *len)
{
	GEOSContextHandle_t	 ctx = gw_geos();
	GEOSGeometry		*multi = NULL;
	unsigned char		*w, *e;
	uint32_t		 type, srid;
	size_t			 n, i;
	int			 t;

	t = GEOSGeomTypeId_r(ctx, g);
	if (o->multi && (t == GEOS_POINT || t == GEOS_LINESTRING ||
	    t == GEOS_POLYGON)) {
		GEOSGeometry *c = GEOSGeom_clone_r(ctx, g);

		if (c == NULL ||
		    (multi = GEOSGeom_createCollection_r(ctx, t == GEOS_POINT ?
		    GEOS_MULTIPOINT : t == GEOS_LINESTRING ?
		    GEOS_MULTILINESTRING : GEOS_MULTIPOLYGON, &c, 1)) == NULL) {
			if (c != NULL)
				GEOSGeom_destroy_r(ctx, c);
			gw_job_error(job, "GEOS: %s", gw_geos_error());
			return NULL;
		}
		g = multi;
	}
	w = GEOSWKBWriter_write_r(ctx, o->wkb, g, &n);
	if (multi != NULL)
		GEOSGeom_destroy_r(ctx, multi);
	if (w == NULL || n < 5) {
		if (w != NULL)
			GEOSFree_r(ctx, w);
		gw_job_error(job, "output: cannot write a geometry: %s",
		    gw_geos_error());
		return NULL;
	}
	/* EWKB: the little-endian type word gets the SRID flag, then the
	 * SRID follows it. */
	if ((e = malloc(n + 4)) == NULL) {
		GEOSFree_r(ctx, w);
		gw_job_error(job, "out of memory");
		return NULL;
	}
	memcpy(&type, w + 1, 4);
	type |= 0x20000000;
	srid = (uint32_t)o->srid;
	e[0] = w[0];
	for (i = 0; i < 4; i++) {
		e[1 + i] = (type >> (8 * i)) & 0xff;
		e[5 + i] = (srid >> (8 * i)) & 0xff;
	}
	memcpy(e + 9, w + 5, n - 5);
	GEOSFree_r(ctx, w);
	*len = n + 4;
	return e;
}

/* A row was appended to o->buf: counted, and sent once the buffer is
 * large enough. */
static int
row_queued(struct gw_job *job, struct gw_output *o)
{
	if (o->buf.failed)
		return gw_job_error(job, "out of memory");
	o->nrows++;
	if (o->buf.len >= GW_COPY_FLUSH)
		return output_flush(job, o);
	return 0;
}

int
gw_output_row(struct gw_job *job, struct gw_output *o,
    const char *const *values, const GEOSGeometry *geom)
{
	static const char	 hex[] = "0123456789ABCDEF";
	unsigned char		*e;
	size_t			 len, i;
	char			*d;
	int			 k;

	if (o->binary)
		return gw_job_error(job, "output: text rows on binary COPY");
	for (k = 0; k < o->ncols; k++) {
		copy_text(&o->buf, values[k]);
		gw_sb_add(&o->buf, "\t", 1);
	}
	if (geom == NULL)
		gw_sb_add(&o->buf, "\\N\n", 3);
	else {
		if ((e = output_ewkb(job, o, geom, &len)) == NULL)
			return -1;
		if (gw_sb_reserve(&o->buf, 2 * len + 1) == 0) {
			d = o->buf.data + o->buf.len;
			for (i = 0; i < len; i++) {
				*d++ = hex[e[i] >> 4];
				*d++ = hex[e[i] & 15];
			}
			*d++ = '\n';
			o->buf.len = (size_t)(d - o->buf.data);
			o->buf.data[o->buf.len] = '\0';
		}
		free(e);
	}
	return row_queued(job, o);
}

void
gw_output_binary(struct gw_output *o)
{
	if (o->binary || o->nrows > 0)
		return;
	o->binary = 1;
	strcat(o->copy, " (FORMAT binary)");	/* room made at creation */
}

int
gw_output_row_raw(struct gw_job *job, struct gw_output *o,
    const char *const *values, const int *lengths, const GEOSGeometry *geom)
{
	unsigned char		*e = NULL;
	size_t			 len = 0;
	int			 k;

	if (!o->binary)
		return gw_job_error(job, "output: raw rows need binary COPY");
	if (geom != NULL && (e = output_ewkb(job, o, geom, &len)) == NULL)
		return -1;
	if (o->buf.len == 0) {
		/* The file header: signature, flags, extension length. */
		gw_sb_add(&o->buf, "PGCOPY\n\377\r\n", 11);
		sb_be(&o->buf, 0, 4);
		sb_be(&o->buf, 0, 4);
	}
	sb_be(&o->buf, (uint32_t)(o->ncols + 1), 2);
	for (k = 0; k < o->ncols; k++) {
		if (values[k] == NULL)
			sb_be(&o->buf, 0xffffffffU, 4);
		else {
			sb_be(&o->buf, (uint32_t)lengths[k], 4);
			gw_sb_add(&o->buf, values[k], (size_t)lengths[k]);
		}
	}
	if (e == NULL)
		sb_be(&o->buf, 0xffffffffU, 4);
	else {
		sb_be(&o->buf, (uint32_t)len, 4);
		gw_sb_add(&o->buf, (const char *)e, len);
		free(e);
	}
	return row_queued(job, o);
}

/* Appends s to sb as a double-quoted element of an array literal. */
static void
sb_array_elem(struct gw_strbuf *sb, const char *s)
{
	const char	*p;

	gw_sb_add(sb, "\"", 1);
	for (p = s; *p; p++) {
		if (*p == '"' || *p == '\\')
			gw_sb_add(sb, "\\", 1);
		gw_sb_add(sb, p, 1);
	}
	gw_sb_add(sb, "\"", 1);
}

int
gw_output_copy_rows(struct gw_job *job, struct gw_output *o,
    const struct gw_layer *l, const char *const *ids, size_t n)
{
	struct gw_strbuf	 q = { 0 }, arr = { 0 };
	PGresult	*res = NULL;
	const char	*vals[1];
	size_t		 i;
	int		 k, rv = -1;

	if (n == 0)
		return 0;
	if (!l->id_pkey || o->ncols != l->ncolumns)
		return gw_job_error(job, "output: rows can be copied by id "
		    "only from a layer keyed by its primary key");
	if (output_flush(job, o) == -1)
		return -1;
	gw_sb_add(&arr, "{", 1);
	for (i = 0; i < n; i++) {
		if (i > 0)
			gw_sb_add(&arr, ",", 1);
		sb_array_elem(&arr, ids[i]);
	}
	gw_sb_add(&arr, "}", 1);
	gw_sb_printf(&q, "INSERT INTO %s (", o->qualified);
	for (k = 0; k < l->ncolumns; k++) {
		gw_sb_ident(job, &q, l->columns[k].name);
		gw_sb_puts(&q, ", ");
	}
	gw_sb_printf(&q, "%s) SELECT ", o->geom_column);
	for (k = 0; k < l->ncolumns; k++) {
		gw_sb_puts(&q, "gw_t.");
		gw_sb_ident(job, &q, l->columns[k].name);
		gw_sb_puts(&q, ", ");
	}
	gw_sb_printf(&q, "%sST_Force2D(gw_t.", o->multi ? "ST_Multi(" : "");
	gw_sb_ident(job, &q, l->geom_column);
	gw_sb_printf(&q, ")%s FROM %s AS gw_t WHERE gw_t.", o->multi ? ")" : "",
	    l->qualified);
	gw_sb_ident(job, &q, l->columns[l->id_index].name);
	/* The type is the catalog's format_type of the key column. */
	gw_sb_printf(&q, " = ANY ($1::%s[])", l->columns[l->id_index].type);
	if (q.failed || arr.failed) {
		gw_job_error(job, "out of memory");
		goto done;
	}
	vals[0] = arr.data;
	if ((res = gw_exec(job, "output: copying unchanged features", q.data,
	    1, vals)) == NULL)
		goto done;
	o->nrows += strtoll(PQcmdTuples(res), NULL, 10);
	rv = 0;
 done:
	PQclear(res);
	gw_sb_free(&q);
	gw_sb_free(&arr);
	return rv;
}

int
gw_output_finish(struct gw_job *job, struct gw_output *o, long long *nrows)
{
	uint64_t	 t0 = now_ms();
	int		 rv = -1;

	if (output_flush(job, o) == -1)
		goto done;
	log_debug("output: last COPY in %llu ms",
	    (unsigned long long)(now_ms() - t0));
	if (gw_runf(job, "output: creating the spatial index",
	    "CREATE INDEX ON %s USING gist (%s)", o->qualified,
	    o->geom_column) == -1)
		goto done;
	if (gw_runf(job, "output: ANALYZE", "ANALYZE %s",
	    o->qualified) == -1)
		goto done;
	log_debug("output: %lld rows, COPY, index and ANALYZE in %llu ms",
	    o->nrows, (unsigned long long)(now_ms() - t0));
	if (nrows != NULL)
		*nrows = o->nrows;
	rv = 0;
 done:
	gw_output_free(o);
	return rv;
}

int
gw_output_create_table(struct gw_job *job, const char *name, int overwrite,
    const struct gw_colspec *cols, int ncols, struct gw_output **out)
{
	struct gw_output	*o;
	const char		*schema = job->settings->output_schema;

	*out = NULL;
	if (schema == NULL || *schema == '\0')
		schema = "public";
	/* No geometry column: "" clashes with no column name. */
	if (output_check_columns(job, cols, ncols, "") == -1)
		return -1;
	if ((o = calloc(1, sizeof(*o))) == NULL)
		return gw_job_error(job, "out of memory");
	o->ncols = ncols;
	if (asprintf(&o->fullname, "%s.%s", schema, name) == -1) {
		o->fullname = NULL;
		gw_job_error(job, "out of memory");
		goto fail;
	}
	if ((o->qualified = gw_quote_qualified(job, schema, name)) == NULL ||
	    output_replace(job, o, schema, name, overwrite) == -1 ||
	    output_table(job, o, cols, ncols, NULL) == -1)
		goto fail;
	*out = o;
	return 0;
 fail:
	gw_output_free(o);
	return -1;
}

int
gw_output_values(struct gw_job *job, struct gw_output *o,
    const char *const *values)
{
	int	 k;

	if (o->geom_column != NULL || o->binary)
		return gw_job_error(job, "output: a row without its geometry");
	for (k = 0; k < o->ncols; k++) {
		copy_text(&o->buf, values[k]);
		gw_sb_add(&o->buf, k + 1 < o->ncols ? "\t" : "\n", 1);
	}
	return row_queued(job, o);
}

int
gw_output_finish_table(struct gw_job *job, struct gw_output *o,
    const char *const *key, int nkey, long long *nrows)
{
	struct gw_strbuf	 q = { 0 };
	int			 i, rv = -1;

	if (output_flush(job, o) == -1)
		goto done;
	if (nkey > 0) {
		gw_sb_printf(&q, "ALTER TABLE %s ADD PRIMARY KEY (",
		    o->qualified);
		for (i = 0; i < nkey; i++) {
			gw_sb_ident(job, &q, key[i]);
			gw_sb_puts(&q, i + 1 < nkey ? ", " : ")");
		}
		if (gw_run_sb(job, "output: adding the primary key",
		    &q, 0, NULL) == -1)
			goto done;
	}
	if (gw_runf(job, "output: ANALYZE", "ANALYZE %s",
	    o->qualified) == -1)
		goto done;
	if (nrows != NULL)
		*nrows = o->nrows;
	rv = 0;
 done:
	gw_sb_free(&q);
	gw_output_free(o);
	return rv;
}

/*
 * features.c: reading layers from PostGIS and writing output tables, for
 * every vector job program (see features.h for the contracts).
 *
 * Reading is a NO SCROLL cursor fetched in binary batches: the geometry
 * arrives as EWKB (PostGIS's binary send), attributes as text (cast in the
 * query, so that they write back exactly with their own type's input
 * function).  Between batches the connection is idle, so a callback may
 * flush output rows with COPY while the read goes on.
 *
 * Writing queues rows in COPY text format in a buffer that is sent with
 * COPY ... FROM STDIN whenever it passes GW_COPY_FLUSH bytes, and once more
 * at the end; geometries are written as hex EWKB with the output's SRID.
 *
 * NOTES
 *   All SQL runs on job->conn inside the job's transaction.  Identifiers in
 *   SQL are always the catalog's spelling quoted with PQescapeIdentifier;
 *   parameters are bound ($1, ...), never pasted.
 *   Errors go to gw_job_error() naming the parameter; GEOS messages are kept
 *   by the context handlers and added to the job error where useful.
 */
#include "config.h"

#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "features.h"

#define GW_FETCH_ROWS	2000		/* rows per FETCH */
#define GW_COPY_FLUSH	(1 << 20)	/* bytes of COPY data per flush */

/* Type oids of the numeric types (pg_type.h). */
#define INT8OID		20
#define INT2OID		21
#define INT4OID		23
#define FLOAT4OID	700
#define FLOAT8OID	701
#define NUMERICOID	1700

static GEOSContextHandle_t	 geos_ctx;
static char			 geos_msg[1024];

static void
geos_handler(const char *msg, void *arg)
{
	(void)arg;
	strlcpy(geos_msg, msg, sizeof(geos_msg));
}

static void
geos_cleanup(void)
{
	if (geos_ctx != NULL)
		GEOS_finish_r(geos_ctx);
	geos_ctx = NULL;
}

GEOSContextHandle_t
gw_geos(void)
{
	if (geos_ctx == NULL) {
		if ((geos_ctx = GEOS_init_r()) == NULL)
			fatalx("GEOS_init_r failed");
		atexit(geos_cleanup);
		GEOSContext_setErrorMessageHandler_r(geos_ctx, geos_handler,
		    NULL);
		GEOSContext_setNoticeMessageHandler_r(geos_ctx, geos_handler,
		    NULL);
	}
	return geos_ctx;
}

const char *
gw_geos_error(void)
{
	return geos_msg;
}

/* A quoted identifier as a new string (free()), or NULL with a job error. */
static char *
quote_ident(struct gw_job *job, const char *name)
{
	char	*q, *s;

	if ((q = PQescapeIdentifier(job->conn, name, strlen(name))) == NULL) {
		gw_job_error(job, "cannot quote identifier: %s",
		    PQerrorMessage(job->conn));
		return NULL;
	}
	s = strdup(q);
	PQfreemem(q);
	if (s == NULL)
		gw_job_error(job, "out of memory");
	return s;
}

/* A growable string; NULL data after an allocation failure. */
struct strbuf {
	char	*data;
	size_t	 len;
	size_t	 cap;
	int	 failed;
};

static int
sb_reserve(struct strbuf *sb, size_t more)
{
	size_t	 ncap;
	char	*n;

	if (sb->failed)
		return -1;
	if (sb->len + more + 1 <= sb->cap)
		return 0;
	ncap = sb->cap ? sb->cap : 256;
	while (ncap < sb->len + more + 1)
		ncap *= 2;
	if ((n = realloc(sb->data, ncap)) == NULL) {
		sb->failed = 1;
		return -1;
	}
	sb->data = n;
	sb->cap = ncap;
	return 0;
}

static int
sb_add(struct strbuf *sb, const char *s, size_t n)
{
	if (sb_reserve(sb, n) == -1)
		return -1;
	memcpy(sb->data + sb->len, s, n);
	sb->len += n;
	sb->data[sb->len] = '\0';
	return 0;
}

static int
sb_puts(struct strbuf *sb, const char *s)
{
	return sb_add(sb, s, strlen(s));
}

static int
sb_printf(struct strbuf *sb, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || sb_reserve(sb, (size_t)n) == -1)
		return -1;
	va_start(ap, fmt);
	vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb->len += (size_t)n;
	return 0;
}

/* Appends name quoted as an identifier. */
static int
sb_ident(struct gw_job *job, struct strbuf *sb, const char *name)
{
	char	*q;
	int	 rv;

	if ((q = quote_ident(job, name)) == NULL)
		return -1;
	rv = sb_puts(sb, q);
	free(q);
	return rv;
}

static void
sb_free(struct strbuf *sb)
{
	free(sb->data);
	memset(sb, 0, sizeof(*sb));
}

void
gw_layer_free(struct gw_layer *l)
{
	int	 i;

	if (l == NULL)
		return;
	free(l->schema);
	free(l->table);
	free(l->qualified);
	free(l->geom_column);
	free(l->geom_type);
	free(l->id_column);
	for (i = 0; i < l->ncolumns; i++) {
		free(l->columns[i].name);
		free(l->columns[i].type);
	}
	free(l->columns);
	free(l);
}

int
gw_layer_column(const struct gw_layer *l, const char *name)
{
	int	 i;

	for (i = 0; i < l->ncolumns; i++)
		if (strcmp(l->columns[i].name, name) == 0)
			return i;
	return -1;
}

static int
dim_of_type(const char *t)
{
	if (strcasecmp(t, "POINT") == 0 || strcasecmp(t, "MULTIPOINT") == 0)
		return GW_DIM_POINT;
	if (strcasecmp(t, "LINESTRING") == 0 ||
	    strcasecmp(t, "MULTILINESTRING") == 0)
		return GW_DIM_LINE;
	if (strcasecmp(t, "POLYGON") == 0 || strcasecmp(t, "MULTIPOLYGON") == 0)
		return GW_DIM_POLYGON;
	return GW_DIM_UNKNOWN;
}

const char *
gw_geom_typename(int dim, int multi)
{
	switch (dim) {
	case GW_DIM_POINT:
		return multi ? "MultiPoint" : "Point";
	case GW_DIM_LINE:
		return multi ? "MultiLineString" : "LineString";
	case GW_DIM_POLYGON:
		return multi ? "MultiPolygon" : "Polygon";
	}
	return "Geometry";
}

/* Finds the table: pg_class row by schema and name, or by name visible on
 * the search_path.  0 found, 1 not found, -1 error. */
static int
find_table(struct gw_job *job, struct gw_layer *l, const char *name)
{
	const char	*vals[2];
	char		*schema = NULL, *dot;
	const char	*table = name;
	PGresult	*res;
	int		 rv = -1;

	if ((dot = strchr(name, '.')) != NULL) {
		if ((schema = strndup(name, (size_t)(dot - name))) == NULL)
			return gw_job_error(job, "out of memory");
		table = dot + 1;
	}
	vals[0] = schema;
	vals[1] = table;
	res = gw_exec(job, l->param,
	    "SELECT c.oid, n.nspname, c.relname FROM pg_class c"
	    " JOIN pg_namespace n ON n.oid = c.relnamespace"
	    " WHERE c.relname = $2 AND c.relkind IN ('r', 'v', 'm', 'f', 'p')"
	    " AND (($1::text IS NULL AND pg_table_is_visible(c.oid))"
	    "  OR n.nspname = $1)", 2, vals);
	free(schema);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 0) {
		rv = 1;
		goto done;
	}
	l->relid = (unsigned int)strtoul(PQgetvalue(res, 0, 0), NULL, 10);
	l->schema = strdup(PQgetvalue(res, 0, 1));
	l->table = strdup(PQgetvalue(res, 0, 2));
	if (l->schema == NULL || l->table == NULL) {
		gw_job_error(job, "out of memory");
		goto done;
	}
	rv = 0;
 done:
	PQclear(res);
	return rv;
}

int
gw_layer_resolve(struct gw_job *job, const char *param, const char *name,
    const char *geom_column, const char *id_column, struct gw_layer **out)
{
	struct gw_layer	*l;
	PGresult	*res = NULL;
	struct strbuf	 geoms = { 0 };
	char		 relid[16], *qs = NULL, *qt = NULL;
	const char	*vals[2];
	int		 i, n, ngeom = 0, k;

	*out = NULL;
	if (name == NULL || *name == '\0')
		return gw_job_error(job, "%s: a table name is required", param);
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return gw_job_error(job, "out of memory");
	l->param = param;
	l->id_index = -1;
	if ((k = find_table(job, l, name)) != 0) {
		if (k == 1)
			gw_job_error(job, "%s: table \"%s\" does not exist",
			    param, name);
		goto fail;
	}
	if ((qs = quote_ident(job, l->schema)) == NULL ||
	    (qt = quote_ident(job, l->table)) == NULL)
		goto fail;
	if (asprintf(&l->qualified, "%s.%s", qs, qt) == -1) {
		l->qualified = NULL;
		gw_job_error(job, "out of memory");
		goto fail;
	}

	/* Every live column, with the geometry ones' typmod SRID and type. */
	snprintf(relid, sizeof(relid), "%u", l->relid);
	vals[0] = relid;
	res = gw_exec(job, param,
	    "SELECT a.attname, format_type(a.atttypid, a.atttypmod),"
	    " a.atttypid, t.typname = 'geometry',"
	    " t.typsend <> 0 AND t.typreceive <> 0,"
	    " CASE WHEN t.typname = 'geometry' AND a.atttypmod >= 0 THEN"
	    "  postgis_typmod_srid(a.atttypmod) ELSE 0 END,"
	    " CASE WHEN t.typname = 'geometry' AND a.atttypmod >= 0 THEN"
	    "  postgis_typmod_type(a.atttypmod) ELSE 'GEOMETRY' END"
	    " FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid"
	    " WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped"
	    " ORDER BY a.attnum", 1, vals);
	if (res == NULL)
		goto fail;
	n = PQntuples(res);
	if ((l->columns = calloc(n ? n : 1, sizeof(*l->columns))) == NULL) {
		gw_job_error(job, "out of memory");
		goto fail;
	}
	for (i = 0; i < n; i++) {
		const char *an = PQgetvalue(res, i, 0);
		int isgeom = strcmp(PQgetvalue(res, i, 3), "t") == 0;

		if (isgeom) {
			ngeom++;
			if (geoms.len)
				sb_puts(&geoms, ", ");
			sb_puts(&geoms, an);
			if (geom_column == NULL ? ngeom == 1 :
			    strcmp(geom_column, an) == 0) {
				free(l->geom_column);
				free(l->geom_type);
				l->geom_column = strdup(an);
				l->srid = atoi(PQgetvalue(res, i, 5));
				l->geom_type = strdup(PQgetvalue(res, i, 6));
				if (l->geom_column == NULL ||
				    l->geom_type == NULL) {
					gw_job_error(job, "out of memory");
					goto fail;
				}
				/* "PolygonZ" and such: drop the suffix. */
				k = (int)strlen(l->geom_type);
				while (k > 0 && (l->geom_type[k - 1] == 'Z' ||
				    l->geom_type[k - 1] == 'M'))
					l->geom_type[--k] = '\0';
				l->dim = dim_of_type(l->geom_type);
			}
			continue;
		}
		l->columns[l->ncolumns].name = strdup(an);
		l->columns[l->ncolumns].type = strdup(PQgetvalue(res, i, 1));
		l->columns[l->ncolumns].typid =
		    (unsigned int)strtoul(PQgetvalue(res, i, 2), NULL, 10);
		if (l->columns[l->ncolumns].name == NULL ||
		    l->columns[l->ncolumns].type == NULL) {
			l->ncolumns++;
			gw_job_error(job, "out of memory");
			goto fail;
		}
		l->columns[l->ncolumns].binary =
		    strcmp(PQgetvalue(res, i, 4), "t") == 0;
		switch (l->columns[l->ncolumns].typid) {
		case INT2OID: case INT4OID: case INT8OID:
		case FLOAT4OID: case FLOAT8OID: case NUMERICOID:
			l->columns[l->ncolumns].numeric = 1;
		}
		l->ncolumns++;
	}
	PQclear(res);
	res = NULL;
	if (geoms.failed) {
		gw_job_error(job, "out of memory");
		goto fail;
	}
	if (ngeom == 0) {
		gw_job_error(job, "%s: table %s.%s has no geometry column",
		    param, l->schema, l->table);
		goto fail;
	}
	if (l->geom_column == NULL) {
		gw_job_error(job, "geometry_column: %s.%s has no geometry "
		    "column \"%s\" (it has: %s)", l->schema, l->table,
		    geom_column, geoms.data);
		goto fail;
	}
	if (geom_column == NULL && ngeom > 1) {
		gw_job_error(job, "geometry_column: %s.%s has several geometry "
		    "columns (%s); name one", l->schema, l->table, geoms.data);
		goto fail;
	}

	/* An unconstrained column: take the SRID of its first geometry. */
	if (l->srid == 0) {
		struct strbuf q = { 0 };

		sb_puts(&q, "SELECT ST_SRID(");
		sb_ident(job, &q, l->geom_column);
		sb_printf(&q, ") FROM %s WHERE ", l->qualified);
		sb_ident(job, &q, l->geom_column);
		sb_puts(&q, " IS NOT NULL LIMIT 1");
		if (q.failed) {
			sb_free(&q);
			gw_job_error(job, "out of memory");
			goto fail;
		}
		res = gw_exec(job, param, q.data, 0, NULL);
		sb_free(&q);
		if (res == NULL)
			goto fail;
		if (PQntuples(res) == 1)
			l->srid = atoi(PQgetvalue(res, 0, 0));
		PQclear(res);
		res = NULL;
	}

	res = gw_exec(job, param,
	    "SELECT a.attname FROM pg_index i JOIN pg_attribute a"
	    " ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]"
	    " WHERE i.indrelid = $1 AND i.indisprimary"
	    " AND i.indnatts = 1", 1, vals);
	if (res == NULL)
		goto fail;
	k = PQntuples(res) == 1 ? gw_layer_column(l, PQgetvalue(res, 0, 0)) :
	    -1;
	PQclear(res);
	res = NULL;
	if (id_column != NULL) {
		if ((l->id_index = gw_layer_column(l, id_column)) == -1) {
			gw_job_error(job, "id_column: %s.%s has no column "
			    "\"%s\"", l->schema, l->table, id_column);
			goto fail;
		}
	} else
		l->id_index = k;
	l->id_pkey = l->id_index >= 0 && l->id_index == k;
	if (l->id_index >= 0 &&
	    (l->id_column = strdup(l->columns[l->id_index].name)) == NULL) {
		gw_job_error(job, "out of memory");
		goto fail;
	}

	l->to_metre = 1;
	if (l->srid > 0 && gw_crs_info(job, l->srid, &l->geographic,
	    &l->to_metre) == -1)
		goto fail;

	free(qs);
	free(qt);
	sb_free(&geoms);
	*out = l;
	return 0;
 fail:
	PQclear(res);
	free(qs);
	free(qt);
	sb_free(&geoms);
	gw_layer_free(l);
	return -1;
}

int
gw_layer_columns(struct gw_job *job, const struct gw_layer *l,
    const char *param, json_t *fields, int **idx, size_t *n)
{
	size_t	 i;
	json_t	*v;
	int	*a;

	*idx = NULL;
	*n = 0;
	if (fields == NULL || json_is_null(fields))
		return 0;
	if (json_is_string(fields)) {
		/* One field given as a string: accept it as a list of one. */
		if ((a = calloc(1, sizeof(*a))) == NULL)
			return gw_job_error(job, "out of memory");
		if ((a[0] = gw_layer_column(l, json_string_value(fields))) ==
		    -1) {
			free(a);
			return gw_job_error(job, "%s: %s.%s has no column "
			    "\"%s\"", param, l->schema, l->table,
			    json_string_value(fields));
		}
		*idx = a;
		*n = 1;
		return 0;
	}
	if (!json_is_array(fields))
		return gw_job_error(job, "%s: expected a list of column names",
		    param);
	if ((a = calloc(json_array_size(fields) + 1, sizeof(*a))) == NULL)
		return gw_job_error(job, "out of memory");
	json_array_foreach(fields, i, v) {
		if (!json_is_string(v)) {
			free(a);
			return gw_job_error(job, "%s: expected a list of column "
			    "names, item %zu is not a string", param, i + 1);
		}
		if ((a[i] = gw_layer_column(l, json_string_value(v))) == -1) {
			free(a);
			return gw_job_error(job, "%s: %s.%s has no column "
			    "\"%s\"", param, l->schema, l->table,
			    json_string_value(v));
		}
	}
	*idx = a;
	*n = json_array_size(fields);
	return 0;
}

int
gw_layer_count(struct gw_job *job, const struct gw_layer *l,
    const char *where, long long *out)
{
	struct strbuf	 q = { 0 };
	PGresult	*res;

	sb_printf(&q, "SELECT count(*) FROM %s", l->qualified);
	if (where != NULL)
		sb_printf(&q, " WHERE (%s)", where);
	if (q.failed) {
		sb_free(&q);
		return gw_job_error(job, "out of memory");
	}
	res = gw_exec(job, l->param, q.data, 0, NULL);
	sb_free(&q);
	if (res == NULL)
		return -1;
	*out = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return 0;
}

/*
 * The sign of the orientation of a, b, c if floating point tells it for
 * certain (Shewchuk's orient2d filter), else 0: collinear or too close to
 * tell.
 */
static int
orient_sure(const double *a, const double *b, const double *c)
{
	/* (3 + 16 eps) eps, eps = 2^-53 */
	static const double	 errbound = 3.3306690738754716e-16;
	double			 l, r, det, sum;

	l = (a[0] - c[0]) * (b[1] - c[1]);
	r = (a[1] - c[1]) * (b[0] - c[0]);
	det = l - r;
	if (l > 0) {
		if (r <= 0)
			return 1;
		sum = l + r;
	} else if (l < 0) {
		if (r >= 0)
			return -1;
		sum = -l - r;
	} else		/* l is exactly 0: det = -r, whose sign is exact */
		return r < 0 ? 1 : r > 0 ? -1 : 0;
	if (det >= errbound * sum)
		return 1;
	if (-det >= errbound * sum)
		return -1;
	return 0;
}

#define QUICK_MAXPOINTS	64

/*
 * gw_geom_quick_valid: 1 if g is certainly valid, 0 if it cannot tell (then
 * GEOS decides).  It only accepts a polygon (or a one-part multipolygon)
 * without holes of at most QUICK_MAXPOINTS points whose ring is certainly
 * simple:
 * finite coordinates, no repeated point, consecutive edges certainly not
 * collinear, and no two non-consecutive edges with overlapping bounding
 * boxes (which cannot meet).  Such a ring bounds a valid polygon.  This
 * spares GEOSisValid, which allocates a graph per geometry, for the small
 * simple polygons (parcels, tracts, cells) that make most layers.
 */
int
gw_geom_quick_valid(GEOSContextHandle_t ctx, const GEOSGeometry *g)
{
	const GEOSCoordSequence	*cs;
	double			 p[QUICK_MAXPOINTS][2];
	double			 lo[QUICK_MAXPOINTS][2], hi[QUICK_MAXPOINTS][2];
	unsigned int		 n;
	int			 i, j, m, t;

	t = GEOSGeomTypeId_r(ctx, g);
	if (t == GEOS_MULTIPOLYGON) {
		if (GEOSGetNumGeometries_r(ctx, g) != 1)
			return 0;
		g = GEOSGetGeometryN_r(ctx, g, 0);
		t = GEOSGeomTypeId_r(ctx, g);
	}
	if (t != GEOS_POLYGON || GEOSGetNumInteriorRings_r(ctx, g) != 0)
		return 0;
	if ((g = GEOSGetExteriorRing_r(ctx, g)) == NULL ||
	    (cs = GEOSGeom_getCoordSeq_r(ctx, g)) == NULL ||
	    !GEOSCoordSeq_getSize_r(ctx, cs, &n) || n < 4 ||
	    n > QUICK_MAXPOINTS ||
	    !GEOSCoordSeq_copyToBuffer_r(ctx, cs, &p[0][0], 0, 0))
		return 0;
	m = (int)n - 1;		/* edges; p[m] == p[0] */
	if (p[m][0] != p[0][0] || p[m][1] != p[0][1])
		return 0;
	for (i = 0; i < m; i++) {
		if (!isfinite(p[i][0]) || !isfinite(p[i][1]) ||
		    (p[i][0] == p[i + 1][0] && p[i][1] == p[i + 1][1]))
			return 0;
		if (orient_sure(p[i], p[i + 1], p[(i + 2) % m]) == 0)
			return 0;
		lo[i][0] = fmin(p[i][0], p[i + 1][0]);
		hi[i][0] = fmax(p[i][0], p[i + 1][0]);
		lo[i][1] = fmin(p[i][1], p[i + 1][1]);
		hi[i][1] = fmax(p[i][1], p[i + 1][1]);
	}
	for (i = 0; i < m; i++)
		for (j = i + 2; j < m; j++) {
			if (i == 0 && j == m - 1)
				continue;	/* consecutive through p[0] */
			if (lo[i][0] <= hi[j][0] && lo[j][0] <= hi[i][0] &&
			    lo[i][1] <= hi[j][1] && lo[j][1] <= hi[i][1])
				return 0;
		}
	return 1;
}

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

int
gw_geom_repair(struct gw_job *job, GEOSGeometry **g, long long *nrepaired,
    const char *what)
{
	GEOSContextHandle_t	 ctx = gw_geos();
	GEOSGeometry		*v;
	char			 valid;

	if (gw_geom_quick_valid(ctx, *g) || (valid = GEOSisValid_r(ctx, *g)) == 1)
		return 0;
	if (valid == 2)
		return gw_job_error(job, "%s: cannot check validity: %s",
		    what, gw_geos_error());
	if ((v = GEOSMakeValid_r(ctx, *g)) == NULL)
		return gw_job_error(job, "%s: cannot repair an invalid geometry:"
		    " %s", what, gw_geos_error());
	GEOSSetSRID_r(ctx, v, GEOSGetSRID_r(ctx, *g));
	GEOSGeom_destroy_r(ctx, *g);
	*g = v;
	if (nrepaired != NULL)
		(*nrepaired)++;
	return 0;
}

/* Appends the parts of g of dimension dim to parts (clones). */
static int
collect_parts(GEOSContextHandle_t ctx, const GEOSGeometry *g, int dim,
    GEOSGeometry ***parts, size_t *n, size_t *cap)
{
	int		 i, ng, t;
	GEOSGeometry	*c, **np;

	t = GEOSGeomTypeId_r(ctx, g);
	if (t == GEOS_MULTIPOINT || t == GEOS_MULTILINESTRING ||
	    t == GEOS_MULTIPOLYGON || t == GEOS_GEOMETRYCOLLECTION) {
		ng = GEOSGetNumGeometries_r(ctx, g);
		for (i = 0; i < ng; i++)
			if (collect_parts(ctx, GEOSGetGeometryN_r(ctx, g, i),
			    dim, parts, n, cap) == -1)
				return -1;
		return 0;
	}
	if (GEOSisEmpty_r(ctx, g))
		return 0;
	if ((dim == GW_DIM_POINT && t != GEOS_POINT) ||
	    (dim == GW_DIM_LINE && t != GEOS_LINESTRING &&
	    t != GEOS_LINEARRING) ||
	    (dim == GW_DIM_POLYGON && t != GEOS_POLYGON))
		return 0;
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 8;
		if ((np = reallocarray(*parts, *cap, sizeof(*np))) == NULL)
			return -1;
		*parts = np;
	}
	if (t == GEOS_LINEARRING) {
		c = GEOSGeom_createLineString_r(ctx,
		    GEOSCoordSeq_clone_r(ctx, GEOSGeom_getCoordSeq_r(ctx, g)));
	} else
		c = GEOSGeom_clone_r(ctx, g);
	if (c == NULL)
		return -1;
	(*parts)[(*n)++] = c;
	return 0;
}

GEOSGeometry *
gw_geom_extract(GEOSContextHandle_t ctx, const GEOSGeometry *g, int dim)
{
	GEOSGeometry	**parts = NULL, *r;
	size_t		  n = 0, cap = 0, i;
	int		  type;

	switch (dim) {
	case GW_DIM_POINT:
		type = GEOS_MULTIPOINT;
		break;
	case GW_DIM_LINE:
		type = GEOS_MULTILINESTRING;
		break;
	case GW_DIM_POLYGON:
		type = GEOS_MULTIPOLYGON;
		break;
	default:
		return GEOSGeom_clone_r(ctx, g);
	}
	if (collect_parts(ctx, g, dim, &parts, &n, &cap) == -1) {
		for (i = 0; i < n; i++)
			GEOSGeom_destroy_r(ctx, parts[i]);
		free(parts);
		return NULL;
	}
	/* createCollection takes the parts (not the array) on success. */
	r = GEOSGeom_createCollection_r(ctx, type, parts, (unsigned int)n);
	if (r == NULL)
		for (i = 0; i < n; i++)
			GEOSGeom_destroy_r(ctx, parts[i]);
	else
		GEOSSetSRID_r(ctx, r, GEOSGetSRID_r(ctx, g));
	free(parts);
	return r;
}

int
gw_centroid(GEOSContextHandle_t ctx, const GEOSGeometry *g, double *x,
    double *y)
{
	GEOSGeometry	*c;
	int		 rv = -1;

	if (GEOSisEmpty_r(ctx, g))
		return -1;
	if ((c = GEOSGetCentroid_r(ctx, g)) == NULL)
		return -1;
	if (GEOSisEmpty_r(ctx, c)) {
		GEOSGeom_destroy_r(ctx, c);
		if ((c = GEOSPointOnSurface_r(ctx, g)) == NULL)
			return -1;
	}
	if (GEOSGeomGetX_r(ctx, c, x) == 1 && GEOSGeomGetY_r(ctx, c, y) == 1)
		rv = 0;
	GEOSGeom_destroy_r(ctx, c);
	return rv;
}

/*
 * Prefetching: while a feature batch is worked on, the next FETCH is already
 * on its way (fetch_pending), so the server reads and sends while GEOS
 * computes.  Meanwhile the connection cannot run a COPY: an output flush
 * waits (deferred) until the reader has the batch.
 */
static int		 fetch_pending;
static struct gw_output	*deferred;
static int		 output_flush(struct gw_job *, struct gw_output *);

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

int
gw_layer_read(struct gw_job *job, const struct gw_layer *l, struct gw_read *r,
    gw_feature_fn fn, void *arg)
{
	static int		 cursors;
	GEOSContextHandle_t	 ctx = gw_geos();
	GEOSWKBReader		*wkb = NULL;
	struct gw_transform	*tr = NULL;
	struct strbuf		 q = { 0 };
	struct gw_feature	 f;
	PGresult		*res = NULL;
	const char		**values = NULL;
	int			*lengths = NULL;
	char			 cur[32], fetch[64], what[128];
	long long		 total = 0;
	uint64_t		 t0;
	char			 envbuf[4 * GW_MAX_ENVELOPES + 1][32];
	const char		*envvals[4 * GW_MAX_ENVELOPES + 1];
	int			 nenv = 0, k;
	int			 i, j, n, ncol, rv = -1, idcol, open = 0;

	r->nread = r->nrepaired = r->nskipped = 0;
	t0 = now_ms();
	snprintf(cur, sizeof(cur), "gw_features_%d", ++cursors);
	/* (With an envelope, the whole layer's estimate: progress then
	 * undercounts, which is better than a second scan.) */
	if (r->progress_to > r->progress_from && estimate_rows(job, l,
	    r->nenvelopes > 0 ? NULL : r->where, &total) == -1)
		return -1;
	if (r->to_srid > 0 && l->srid > 0 && r->to_srid != l->srid &&
	    gw_transform_new(job, l->srid, r->to_srid, &tr) == -1)
		return -1;

	/* SELECT geom, id::text, col::text, ... */
	sb_printf(&q, "DECLARE %s NO SCROLL CURSOR FOR SELECT ", cur);
	sb_ident(job, &q, l->geom_column);
	sb_puts(&q, " AS gw_geom");
	idcol = l->id_index >= 0;
	if (idcol) {
		sb_puts(&q, ", ");
		sb_ident(job, &q, l->columns[l->id_index].name);
		sb_puts(&q, "::text AS gw_id");
	}
	/* Aliased, so that ORDER BY below means the column, not its text. */
	for (i = 0; i < r->ncolumns; i++) {
		sb_puts(&q, ", ");
		sb_ident(job, &q, l->columns[r->columns[i]].name);
		sb_printf(&q, "%s AS gw_c%d", r->binary ? "" : "::text", i);
	}
	sb_printf(&q, " FROM %s AS gw_t", l->qualified);
	if (r->where != NULL)
		sb_printf(&q, " WHERE (%s)", r->where);
	if (r->nenvelopes > 0) {
		/* The GiST index of the layer, if any, serves this (a
		 * BitmapOr of one index scan per envelope). */
		int ne = r->nenvelopes > GW_MAX_ENVELOPES ? GW_MAX_ENVELOPES :
		    r->nenvelopes;

		sb_printf(&q, " %s (", r->where != NULL ? "AND" : "WHERE");
		for (k = 0; k < ne; k++) {
			sb_printf(&q, "%sgw_t.", k ? " OR " : "");
			sb_ident(job, &q, l->geom_column);
			sb_printf(&q, " && ST_MakeEnvelope($%d, $%d, $%d, $%d, "
			    "$%d)", 4 * k + 1, 4 * k + 2, 4 * k + 3, 4 * k + 4,
			    4 * ne + 1);
			for (i = 0; i < 4; i++) {
				snprintf(envbuf[4 * k + i], sizeof(envbuf[0]),
				    "%.17g", r->envelopes[k][i]);
				envvals[4 * k + i] = envbuf[4 * k + i];
			}
		}
		sb_puts(&q, ")");
		snprintf(envbuf[4 * ne], sizeof(envbuf[0]), "%d", l->srid);
		envvals[4 * ne] = envbuf[4 * ne];
		nenv = 4 * ne + 1;
	}
	if (r->order_by_id && idcol) {
		sb_puts(&q, " ORDER BY gw_t.");
		sb_ident(job, &q, l->columns[l->id_index].name);
	}
	if (q.failed) {
		gw_job_error(job, "out of memory");
		goto done;
	}
	if ((res = gw_exec(job, l->param, q.data, nenv, envvals)) == NULL)
		goto done;
	PQclear(res);
	res = NULL;
	open = 1;

	if ((wkb = GEOSWKBReader_create_r(ctx)) == NULL) {
		gw_job_error(job, "GEOS: %s", gw_geos_error());
		goto done;
	}
	ncol = r->ncolumns;
	if ((values = calloc(ncol + 1, sizeof(*values))) == NULL ||
	    (lengths = calloc(ncol + 1, sizeof(*lengths))) == NULL) {
		gw_job_error(job, "out of memory");
		goto done;
	}
	snprintf(fetch, sizeof(fetch), "FETCH %d FROM %s", GW_FETCH_ROWS, cur);
	if (r->prefetch && send_fetch(job, l, fetch) == -1)
		goto done;
	for (;;) {
		if (r->prefetch)
			res = fetch_result(job);
		else
			res = PQexecParams(job->conn, fetch, 0, NULL, NULL,
			    NULL, NULL, 1);
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			gw_job_pgerror(job, l->param, res);
			goto done;
		}
		if ((n = PQntuples(res)) == 0)
			break;
		if (r->prefetch) {
			/* The connection is free: flush what waited, then
			 * ask for the next batch while this one is worked. */
			if (deferred != NULL && output_flush(job, deferred) == -1)
				goto done;
			if (send_fetch(job, l, fetch) == -1)
				goto done;
		}
		for (i = 0; i < n; i++) {
			memset(&f, 0, sizeof(f));
			f.seq = r->nread++;
			f.id = idcol && !PQgetisnull(res, i, 1) ?
			    PQgetvalue(res, i, 1) : NULL;
			for (j = 0; j < ncol; j++) {
				values[j] = PQgetisnull(res, i, 1 + idcol + j) ?
				    NULL : PQgetvalue(res, i, 1 + idcol + j);
				lengths[j] = PQgetlength(res, i, 1 + idcol + j);
			}
			f.values = values;
			f.lengths = lengths;
			f.nvalues = ncol;
			if (!PQgetisnull(res, i, 0)) {
				f.geom = GEOSWKBReader_read_r(ctx, wkb,
				    (const unsigned char *)PQgetvalue(res, i, 0),
				    (size_t)PQgetlength(res, i, 0));
				if (f.geom == NULL) {
					feature_name(l, &f, what, sizeof(what));
					gw_job_error(job, "%s: unreadable "
					    "geometry: %s", what,
					    gw_geos_error());
					goto done;
				}
				if (GEOSisEmpty_r(ctx, f.geom)) {
					GEOSGeom_destroy_r(ctx, f.geom);
					f.geom = NULL;
				}
			}
			if (f.geom == NULL) {
				r->nskipped++;
				if (!r->keep_empty)
					continue;
			}
			if (f.geom != NULL && r->repair &&
			    !gw_geom_quick_valid(ctx, f.geom) &&
			    (feature_name(l, &f, what, sizeof(what)),
			    gw_geom_repair(job, &f.geom, &r->nrepaired,
			    what)) == -1)
				goto fail_feature;
			if (f.geom != NULL && tr != NULL) {
				GEOSGeometry *t;

				if ((t = gw_transform_geom(job, tr, f.geom)) ==
				    NULL)
					goto fail_feature;
				GEOSGeom_destroy_r(ctx, f.geom);
				f.geom = t;
			}
			if (fn(job, &f, arg) == -1)
				goto fail_feature;
			if (f.geom != NULL)
				GEOSGeom_destroy_r(ctx, f.geom);
			continue;
 fail_feature:
			if (f.geom != NULL)
				GEOSGeom_destroy_r(ctx, f.geom);
			goto done;
		}
		PQclear(res);
		res = NULL;
		if (total > 0)
			gw_progress(job, r->progress_from +
			    (r->progress_to - r->progress_from) *
			    fmin(1, (double)r->nread / (double)total),
			    "%s: %lld of about %lld features read", l->param,
			    r->nread, total);
	}
	rv = 0;
	log_debug("%s: %lld rows read in %llu ms", l->param, r->nread,
	    (unsigned long long)(now_ms() - t0));
 done:
	PQclear(res);
	if (fetch_pending) {
		/* A failure while a batch was on its way: drop it. */
		while ((res = PQgetResult(job->conn)) != NULL)
			PQclear(res);
		fetch_pending = 0;
	}
	res = NULL;
	if (open) {
		snprintf(fetch, sizeof(fetch), "CLOSE %s", cur);
		res = PQexec(job->conn, fetch);
		if (rv == 0 && PQresultStatus(res) != PGRES_COMMAND_OK)
			rv = gw_job_pgerror(job, l->param, res);
		PQclear(res);
	}
	if (wkb != NULL)
		GEOSWKBReader_destroy_r(ctx, wkb);
	gw_transform_free(tr);
	free(values);
	free(lengths);
	sb_free(&q);
	return rv;
}

/* Output. */

struct gw_output {
	char			*fullname;	/* schema.table, unquoted */
	char			*copy;		/* COPY ... FROM STDIN */
	char			*qualified;
	char			*geom_column;	/* quoted */
	int			 ncols;
	int			 srid;
	int			 multi;		/* promote to Multi* */
	int			 binary;	/* COPY (FORMAT binary) */
	struct strbuf		 buf;
	GEOSWKBWriter		*wkb;
	long long		 nrows;
};

void
gw_output_free(struct gw_output *o)
{
	if (o == NULL)
		return;
	if (deferred == o)
		deferred = NULL;
	free(o->fullname);
	free(o->copy);
	free(o->qualified);
	free(o->geom_column);
	sb_free(&o->buf);
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
	return 0;
}

int
gw_output_create(struct gw_job *job, const char *name, int overwrite,
    const struct gw_colspec *cols, int ncols, const char *geom_column,
    const char *geom_type, int srid, struct gw_output **out)
{
	GEOSContextHandle_t	 ctx = gw_geos();
	struct gw_output	*o;
	struct strbuf		 q = { 0 };
	PGresult		*res = NULL;
	const char		*schema = job->settings->output_schema;
	const char		*vals[2];
	char			*qs = NULL, *qt = NULL;
	int			 i, j;

	*out = NULL;
	if (schema == NULL || *schema == '\0')
		schema = "public";
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
	if ((o = calloc(1, sizeof(*o))) == NULL)
		return gw_job_error(job, "out of memory");
	o->ncols = ncols;
	o->srid = srid;
	o->multi = strncmp(geom_type, "Multi", 5) == 0;
	if (asprintf(&o->fullname, "%s.%s", schema, name) == -1) {
		o->fullname = NULL;
		gw_job_error(job, "out of memory");
		goto fail;
	}
	if ((qs = quote_ident(job, schema)) == NULL ||
	    (qt = quote_ident(job, name)) == NULL ||
	    (o->geom_column = quote_ident(job, geom_column)) == NULL)
		goto fail;
	if (asprintf(&o->qualified, "%s.%s", qs, qt) == -1) {
		o->qualified = NULL;
		gw_job_error(job, "out of memory");
		goto fail;
	}

	vals[0] = schema;
	vals[1] = name;
	if ((res = gw_exec(job, "output",
	    "SELECT 1 FROM pg_namespace WHERE nspname = $1", 1, vals)) == NULL)
		goto fail;
	if (PQntuples(res) == 0) {
		gw_job_error(job, "output: the output schema \"%s\" does not "
		    "exist (output_schema in the configuration)", schema);
		goto fail;
	}
	PQclear(res);
	if ((res = gw_exec(job, "output",
	    "SELECT c.relkind FROM pg_class c JOIN pg_namespace n"
	    " ON n.oid = c.relnamespace WHERE n.nspname = $1"
	    " AND c.relname = $2", 2, vals)) == NULL)
		goto fail;
	if (PQntuples(res) > 0) {
		const char *kind = PQgetvalue(res, 0, 0);

		if (*kind != 'r') {
			gw_job_error(job, "output: %s exists and is not a table;"
			    " it is not replaced", o->fullname);
			goto fail;
		}
		if (!overwrite) {
			gw_job_error(job, "output: table %s already exists (set "
			    "\"overwrite\": true to replace it)", o->fullname);
			goto fail;
		}
		PQclear(res);
		sb_printf(&q, "DROP TABLE %s", o->qualified);
		if (q.failed || (res = gw_exec(job, "output: dropping the "
		    "existing table", q.data, 0, NULL)) == NULL)
			goto fail;
		q.len = 0;
	}
	PQclear(res);
	res = NULL;

	sb_printf(&q, "CREATE TABLE %s (", o->qualified);
	for (i = 0; i < ncols; i++) {
		sb_ident(job, &q, cols[i].name);
		sb_printf(&q, " %s, ", cols[i].type);
	}
	sb_printf(&q, "%s geometry(%s", o->geom_column, geom_type);
	if (srid > 0)
		sb_printf(&q, ", %d", srid);
	sb_puts(&q, "))");
	if (q.failed) {
		gw_job_error(job, "out of memory");
		goto fail;
	}
	if ((res = gw_exec(job, "output: creating the table", q.data, 0,
	    NULL)) == NULL)
		goto fail;
	PQclear(res);
	res = NULL;

	q.len = 0;
	sb_printf(&q, "COPY %s (", o->qualified);
	for (i = 0; i < ncols; i++) {
		sb_ident(job, &q, cols[i].name);
		sb_puts(&q, ", ");
	}
	sb_printf(&q, "%s) FROM STDIN", o->geom_column);
	/* Room for " (FORMAT binary)", should gw_output_binary() ask. */
	sb_puts(&q, "                 ");
	q.len -= 17;
	q.data[q.len] = '\0';
	if (q.failed) {
		gw_job_error(job, "out of memory");
		goto fail;
	}
	o->copy = q.data;
	memset(&q, 0, sizeof(q));

	if ((o->wkb = GEOSWKBWriter_create_r(ctx)) == NULL) {
		gw_job_error(job, "GEOS: %s", gw_geos_error());
		goto fail;
	}
	GEOSWKBWriter_setOutputDimension_r(ctx, o->wkb, 2);
	GEOSWKBWriter_setByteOrder_r(ctx, o->wkb, GEOS_WKB_NDR);
	GEOSWKBWriter_setIncludeSRID_r(ctx, o->wkb, 0);
	free(qs);
	free(qt);
	*out = o;
	return 0;
 fail:
	PQclear(res);
	sb_free(&q);
	free(qs);
	free(qt);
	gw_output_free(o);
	return -1;
}

/* Appends s in COPY text format: backslash escapes for \ and controls. */
static int
copy_text(struct strbuf *sb, const char *s)
{
	const char	*p;
	char		 esc[2] = { '\\', 0 };

	if (s == NULL)
		return sb_add(sb, "\\N", 2);
	for (p = s; *p; p++) {
		switch (*p) {
		case '\\': esc[1] = '\\'; break;
		case '\t': esc[1] = 't'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		default:
			continue;
		}
		if (sb_add(sb, s, (size_t)(p - s)) == -1 ||
		    sb_add(sb, esc, 2) == -1)
			return -1;
		s = p + 1;
	}
	return sb_add(sb, s, (size_t)(p - s));
}

static int
output_flush(struct gw_job *job, struct gw_output *o)
{
	PGresult	*res;
	int		 rv = 0;

	if (fetch_pending) {
		deferred = o;	/* gw_layer_read() flushes it */
		return 0;
	}
	if (deferred == o)
		deferred = NULL;
	if (o->buf.len == 0)
		return 0;
	if (o->binary) {
		/* The file trailer: a field count of -1. */
		if (sb_add(&o->buf, "\377\377", 2) == -1)
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
sb_be(struct strbuf *sb, uint32_t v, int bytes)
{
	unsigned char	 b[4];
	int		 i;

	for (i = 0; i < bytes; i++)
		b[i] = (v >> (8 * (bytes - 1 - i))) & 0xff;
	sb_add(sb, (const char *)b, (size_t)bytes);
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
		sb_add(&o->buf, "\t", 1);
	}
	if (geom == NULL)
		sb_add(&o->buf, "\\N\n", 3);
	else {
		if ((e = output_ewkb(job, o, geom, &len)) == NULL)
			return -1;
		if (sb_reserve(&o->buf, 2 * len + 1) == 0) {
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
	if (o->buf.failed)
		return gw_job_error(job, "out of memory");
	o->nrows++;
	if (o->buf.len >= GW_COPY_FLUSH)
		return output_flush(job, o);
	return 0;
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
		sb_add(&o->buf, "PGCOPY\n\377\r\n", 11);
		sb_be(&o->buf, 0, 4);
		sb_be(&o->buf, 0, 4);
	}
	sb_be(&o->buf, (uint32_t)(o->ncols + 1), 2);
	for (k = 0; k < o->ncols; k++) {
		if (values[k] == NULL)
			sb_be(&o->buf, 0xffffffffU, 4);
		else {
			sb_be(&o->buf, (uint32_t)lengths[k], 4);
			sb_add(&o->buf, values[k], (size_t)lengths[k]);
		}
	}
	if (e == NULL)
		sb_be(&o->buf, 0xffffffffU, 4);
	else {
		sb_be(&o->buf, (uint32_t)len, 4);
		sb_add(&o->buf, (const char *)e, len);
		free(e);
	}
	if (o->buf.failed)
		return gw_job_error(job, "out of memory");
	o->nrows++;
	if (o->buf.len >= GW_COPY_FLUSH)
		return output_flush(job, o);
	return 0;
}

/* Appends s to sb as a double-quoted element of an array literal. */
static void
sb_array_elem(struct strbuf *sb, const char *s)
{
	const char	*p;

	sb_add(sb, "\"", 1);
	for (p = s; *p; p++) {
		if (*p == '"' || *p == '\\')
			sb_add(sb, "\\", 1);
		sb_add(sb, p, 1);
	}
	sb_add(sb, "\"", 1);
}

int
gw_output_copy_rows(struct gw_job *job, struct gw_output *o,
    const struct gw_layer *l, const char *const *ids, size_t n)
{
	struct strbuf	 q = { 0 }, arr = { 0 };
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
	sb_add(&arr, "{", 1);
	for (i = 0; i < n; i++) {
		if (i > 0)
			sb_add(&arr, ",", 1);
		sb_array_elem(&arr, ids[i]);
	}
	sb_add(&arr, "}", 1);
	sb_printf(&q, "INSERT INTO %s (", o->qualified);
	for (k = 0; k < l->ncolumns; k++) {
		sb_ident(job, &q, l->columns[k].name);
		sb_puts(&q, ", ");
	}
	sb_printf(&q, "%s) SELECT ", o->geom_column);
	for (k = 0; k < l->ncolumns; k++) {
		sb_puts(&q, "gw_t.");
		sb_ident(job, &q, l->columns[k].name);
		sb_puts(&q, ", ");
	}
	sb_printf(&q, "%sST_Force2D(gw_t.", o->multi ? "ST_Multi(" : "");
	sb_ident(job, &q, l->geom_column);
	sb_printf(&q, ")%s FROM %s AS gw_t WHERE gw_t.", o->multi ? ")" : "",
	    l->qualified);
	sb_ident(job, &q, l->columns[l->id_index].name);
	/* The type is the catalog's format_type of the key column. */
	sb_printf(&q, " = ANY ($1::%s[])", l->columns[l->id_index].type);
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
	sb_free(&q);
	sb_free(&arr);
	return rv;
}

int
gw_output_finish(struct gw_job *job, struct gw_output *o, long long *nrows)
{
	struct strbuf	 q = { 0 };
	PGresult	*res;
	uint64_t	 t0 = now_ms();
	int		 rv = -1;

	if (output_flush(job, o) == -1)
		goto done;
	log_debug("output: last COPY in %llu ms",
	    (unsigned long long)(now_ms() - t0));
	sb_printf(&q, "CREATE INDEX ON %s USING gist (%s)", o->qualified,
	    o->geom_column);
	if (q.failed) {
		gw_job_error(job, "out of memory");
		goto done;
	}
	if ((res = gw_exec(job, "output: creating the spatial index", q.data,
	    0, NULL)) == NULL)
		goto done;
	PQclear(res);
	q.len = 0;
	sb_printf(&q, "ANALYZE %s", o->qualified);
	if (q.failed) {
		gw_job_error(job, "out of memory");
		goto done;
	}
	if ((res = gw_exec(job, "output: ANALYZE", q.data, 0, NULL)) == NULL)
		goto done;
	PQclear(res);
	log_debug("output: %lld rows, COPY, index and ANALYZE in %llu ms",
	    o->nrows, (unsigned long long)(now_ms() - t0));
	if (nrows != NULL)
		*nrows = o->nrows;
	rv = 0;
 done:
	sb_free(&q);
	gw_output_free(o);
	return rv;
}

int
gw_geojson_geometry(struct gw_job *job, const char *param, json_t *geojson,
    int from_srid, int to_srid, long long *nrepaired, GEOSGeometry **out)
{
	GEOSContextHandle_t	 ctx = gw_geos();
	GEOSGeoJSONReader	*rd;
	GEOSGeometry		*g, *t;
	struct gw_transform	*tr = NULL;
	char			*text = NULL;
	const char		*s;

	*out = NULL;
	if (json_is_string(geojson))
		s = json_string_value(geojson);
	else if (json_is_object(geojson)) {
		if ((text = json_dumps(geojson, JSON_COMPACT)) == NULL)
			return gw_job_error(job, "out of memory");
		s = text;
	} else
		return gw_job_error(job, "%s: expected a GeoJSON geometry "
		    "object", param);
	if ((rd = GEOSGeoJSONReader_create_r(ctx)) == NULL) {
		free(text);
		return gw_job_error(job, "GEOS: %s", gw_geos_error());
	}
	g = GEOSGeoJSONReader_readGeometry_r(ctx, rd, s);
	GEOSGeoJSONReader_destroy_r(ctx, rd);
	free(text);
	if (g == NULL)
		return gw_job_error(job, "%s: not valid GeoJSON: %s", param,
		    gw_geos_error());
	if (GEOSisEmpty_r(ctx, g)) {
		GEOSGeom_destroy_r(ctx, g);
		return gw_job_error(job, "%s: the geometry is empty", param);
	}
	GEOSSetSRID_r(ctx, g, from_srid);
	if (to_srid > 0 && to_srid != from_srid) {
		if (gw_transform_new(job, from_srid, to_srid, &tr) == -1) {
			GEOSGeom_destroy_r(ctx, g);
			return -1;
		}
		t = gw_transform_geom(job, tr, g);
		gw_transform_free(tr);
		GEOSGeom_destroy_r(ctx, g);
		if (t == NULL)
			return -1;
		g = t;
	}
	if (gw_geom_repair(job, &g, nrepaired, param) == -1) {
		GEOSGeom_destroy_r(ctx, g);
		return -1;
	}
	*out = g;
	return 0;
}

/* The area of g (0 for non-polygons), or -1 on failure. */
static double
area_of(GEOSContextHandle_t ctx, const GEOSGeometry *g)
{
	double	 a;

	if (GEOSArea_r(ctx, g, &a) != 1)
		return -1;
	return a;
}

GEOSGeometry *
gw_union(struct gw_job *job, GEOSGeometry **geoms, size_t n, int *coverage)
{
	GEOSContextHandle_t	 ctx = gw_geos();
	GEOSGeometry		*coll, *u = NULL;
	double			 sum = 0, a;
	size_t			 i;
	int			 srid, polygonal = 1, t;

	if (coverage != NULL)
		*coverage = 0;
	if (n == 0) {
		gw_job_error(job, "nothing to merge");
		return NULL;
	}
	srid = GEOSGetSRID_r(ctx, geoms[0]);
	for (i = 0; i < n; i++) {
		t = GEOSGeomTypeId_r(ctx, geoms[i]);
		if (t != GEOS_POLYGON && t != GEOS_MULTIPOLYGON)
			polygonal = 0;
		else if (polygonal) {
			if ((a = area_of(ctx, geoms[i])) < 0)
				polygonal = 0;
			sum += a;
		}
	}
	if (n == 1 && polygonal) {
		/* A valid (multi)polygon is its own union. */
		if (gw_geom_quick_valid(ctx, geoms[0]) ||
		    GEOSisValid_r(ctx, geoms[0]) == 1) {
			if (coverage != NULL)
				*coverage = 1;
			return geoms[0];
		}
	}
	if ((coll = GEOSGeom_createCollection_r(ctx, GEOS_GEOMETRYCOLLECTION,
	    geoms, (unsigned int)n)) == NULL) {
		for (i = 0; i < n; i++)
			GEOSGeom_destroy_r(ctx, geoms[i]);
		gw_job_error(job, "merging geometries: %s", gw_geos_error());
		return NULL;
	}
	if (polygonal && n > 1) {
		/*
		 * GEOS 3.11's coverage union matches shared edges; it throws
		 * on most non-coverages, but check what it returns: one valid
		 * polygon or multipolygon (a collection of overlapping
		 * polygons is "valid" too), and no area lost to overlaps (a
		 * relative 1e-11 is far above rounding in the area sums and
		 * far below any real overlap).
		 */
		u = GEOSCoverageUnion_r(ctx, coll);
		if (u != NULL && (((t = GEOSGeomTypeId_r(ctx, u)) !=
		    GEOS_POLYGON && t != GEOS_MULTIPOLYGON) ||
		    GEOSisValid_r(ctx, u) != 1 ||
		    (a = area_of(ctx, u)) < 0 ||
		    fabs(a - sum) > 1e-11 * sum)) {
			GEOSGeom_destroy_r(ctx, u);
			u = NULL;
		}
		if (u != NULL && coverage != NULL)
			*coverage = 1;
	}
	if (u == NULL && (u = GEOSUnaryUnion_r(ctx, coll)) == NULL) {
		gw_job_error(job, "merging geometries: %s", gw_geos_error());
		GEOSGeom_destroy_r(ctx, coll);
		return NULL;
	}
	GEOSGeom_destroy_r(ctx, coll);
	GEOSSetSRID_r(ctx, u, srid);
	return u;
}

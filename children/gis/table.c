/*
 * table.c: a table parameter found in the catalog, with its columns (see
 * table.h).
 *
 * NOTES
 *   Two statements, both with bound parameters: the pg_class row, then the
 *   pg_attribute rows.  The geometry facts of a column (typmod SRID and
 *   type) come in the same column query, decoded here rather than by
 *   PostGIS's functions, so that a layer needs no second look at the
 *   catalog and the backend loads no PostGIS for it.  Needs no GEOS, PROJ
 *   or GDAL: create_view links it without them.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "gis/quote.h"
#include "gis/table.h"

/* Longest "schema.table": two identifiers of NAMEDATALEN - 1 bytes. */
#define TABLE_NAME_MAX	(2 * 63 + 1)

/* Type oids of the numeric types (pg_type.h). */
#define INT8OID		20
#define INT2OID		21
#define INT4OID		23
#define FLOAT4OID	700
#define FLOAT8OID	701
#define NUMERICOID	1700

void
gw_column_free(struct gw_column *c)
{
	free(c->name);
	free(c->type);
	free(c->casttype);
	free(c->geomtype);
	memset(c, 0, sizeof(*c));
}

void
gw_table_free(struct gw_table *t)
{
	int	 i;

	for (i = 0; i < t->ncolumns; i++)
		gw_column_free(&t->columns[i]);
	free(t->columns);
	free(t->schema);
	free(t->table);
	free(t->qualified);
	memset(t, 0, sizeof(*t));
}

const struct gw_column *
gw_table_column(const struct gw_table *t, const char *name)
{
	int	 i;

	for (i = 0; i < t->ncolumns; i++)
		if (strcmp(t->columns[i].name, name) == 0)
			return &t->columns[i];
	return NULL;
}

/*
 * A PostGIS typmod (geometry or geography), decoded here as liblwgeom's
 * TYPMOD_GET_* macros do: the SRID in bits 8-28 (signed), the type in bits
 * 2-7, Z in bit 1, M in bit 0.  Decoding it in the client keeps the catalog
 * query out of postgis-3.so: its typmod functions would load the library
 * into the backend (~25 ms) before the job has any use for it, while the
 * first read can load it as the client builds its transformation (see
 * cursor.c).  t/134 checks both texts against PostGIS's own.
 */
static const char *const lwtype_names[] = {
	"Geometry", "Point", "LineString", "Polygon", "MultiPoint",
	"MultiLineString", "MultiPolygon", "GeometryCollection",
	"CircularString", "CompoundCurve", "CurvePolygon", "MultiCurve",
	"MultiSurface", "PolyhedralSurface", "Triangle", "Tin"
};
#define TYPMOD_SRID(m)	((((m) & 0x0FFFFF00) - ((m) & 0x10000000)) >> 8)
#define TYPMOD_TYPE(m)	(((m) & 0x000000FC) >> 2)
#define TYPMOD_Z(m)	(((m) & 0x00000002) >> 1)
#define TYPMOD_M(m)	((m) & 0x00000001)

/* postgis_typmod_type(): "Geometry", "PolygonZ", "PointZM", ... */
static void
typmod_type(int m, char *buf, size_t len)
{
	int	 type = TYPMOD_TYPE(m);

	snprintf(buf, len, "%s%s%s", type < (int)(sizeof(lwtype_names) /
	    sizeof(lwtype_names[0])) ? lwtype_names[type] : "Geometry",
	    TYPMOD_Z(m) ? "Z" : "", TYPMOD_M(m) ? "M" : "");
}

/* format_type(oid, m) of a PostGIS type named base: base, followed by
 * postgis_typmod_out()'s "(PolygonZ,4326)" unless the typmod says nothing. */
static char *
typmod_format(const char *base, int m)
{
	char	 type[32], *s;
	int	 srid = TYPMOD_SRID(m), n;

	if (srid == 0 && TYPMOD_TYPE(m) == 0 && !TYPMOD_Z(m) && !TYPMOD_M(m))
		return strdup(base);
	typmod_type(m, type, sizeof(type));
	if (srid != 0)
		n = asprintf(&s, "%s(%s,%d)", base, type, srid);
	else
		n = asprintf(&s, "%s(%s)", base, type);
	return n == -1 ? NULL : s;
}

/* The next row of the column query, as t's next column.  -1: out of
 * memory. */
static int
column_add(PGresult *res, struct gw_table *t)
{
	int			 i = t->ncolumns;
	struct gw_column	*c = &t->columns[t->ncolumns++];
	int			 typmod = atoi(PQgetvalue(res, i, 8));
	char			 type[32] = "GEOMETRY";

	c->name = strdup(PQgetvalue(res, i, 0));
	c->casttype = strdup(PQgetvalue(res, i, 2));
	c->typid = (unsigned int)strtoul(PQgetvalue(res, i, 3), NULL, 10);
	c->category = PQgetvalue(res, i, 4)[0];
	c->attnum = atoi(PQgetvalue(res, i, 5));
	c->binary = strcmp(PQgetvalue(res, i, 6), "t") == 0;
	c->geometry = strcmp(PQgetvalue(res, i, 7), "t") == 0;
	if (!PQgetisnull(res, i, 1))
		c->type = strdup(PQgetvalue(res, i, 1));
	else if (c->casttype != NULL)
		c->type = typmod_format(c->casttype, typmod);
	if (c->geometry && typmod >= 0) {
		c->srid = TYPMOD_SRID(typmod);
		typmod_type(typmod, type, sizeof(type));
	}
	c->geomtype = strdup(type);
	switch (c->typid) {
	case INT2OID: case INT4OID: case INT8OID:
	case FLOAT4OID: case FLOAT8OID: case NUMERICOID:
		c->numeric = 1;
	}
	if (c->name == NULL || c->type == NULL || c->casttype == NULL ||
	    c->geomtype == NULL)
		return -1;
	return 0;
}

/*
 * Every live column of relation relid.  The category is the base type's for
 * a domain, so that a domain over integer is compared as a number.  The
 * type text of a column whose typmod PostGIS writes (its C function
 * postgis_typmod_out, behind geometry_typmod_out and geography_typmod_out)
 * comes NULL, to be made
 * from its typmod here (above).
 */
static int
table_columns(struct gw_job *job, const char *param, const char *relid,
    struct gw_table *t)
{
	static const char *sql =
	    "SELECT a.attname, CASE WHEN m.prosrc = 'postgis_typmod_out'"
	    "  AND a.atttypmod >= 0 THEN NULL"
	    "  ELSE format_type(a.atttypid, a.atttypmod) END,"
	    " format_type(a.atttypid, NULL), a.atttypid, b.typcategory,"
	    " a.attnum, t.typsend <> 0 AND t.typreceive <> 0,"
	    " t.typname = 'geometry', a.atttypmod"
	    " FROM pg_catalog.pg_attribute a"
	    " JOIN pg_catalog.pg_type t ON t.oid = a.atttypid"
	    " JOIN pg_catalog.pg_type b ON b.oid = CASE WHEN t.typtype = 'd'"
	    "  THEN t.typbasetype ELSE t.oid END"
	    " LEFT JOIN pg_catalog.pg_proc m ON m.oid = t.typmodout"
	    " WHERE a.attrelid = $1::pg_catalog.oid AND a.attnum > 0"
	    " AND NOT a.attisdropped ORDER BY a.attnum";
	PGresult	*res;
	int		 n, rc;

	if ((res = gw_exec(job, param, sql, 1, &relid)) == NULL)
		return -1;
	n = PQntuples(res);
	rc = (t->columns = calloc(n ? n : 1, sizeof(*t->columns))) == NULL ?
	    -1 : 0;
	while (rc == 0 && t->ncolumns < n)
		rc = column_add(res, t);
	PQclear(res);
	if (rc == -1)
		return gw_job_error(job, "out of memory");
	return 0;
}

int
gw_table_lookup(struct gw_job *job, const char *param, const char *schema,
    const char *table, struct gw_table *t)
{
	const char	*vals[2] = { schema, table };
	PGresult	*res;
	int		 rv = -1;

	memset(t, 0, sizeof(*t));
	res = gw_exec(job, param,
	    "SELECT c.oid, n.nspname, c.relname, c.relkind"
	    " FROM pg_catalog.pg_class c"
	    " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
	    " WHERE c.relname = $2 AND c.relkind IN ('r', 'v', 'm', 'p', 'f')"
	    " AND (($1::text IS NULL AND pg_catalog.pg_table_is_visible(c.oid))"
	    "  OR n.nspname = $1)", 2, vals);
	if (res == NULL)
		return -1;
	if (PQntuples(res) != 1) {
		rv = 1;
		goto done;
	}
	t->relid = (unsigned int)strtoul(PQgetvalue(res, 0, 0), NULL, 10);
	t->schema = strdup(PQgetvalue(res, 0, 1));
	t->table = strdup(PQgetvalue(res, 0, 2));
	t->relkind = PQgetvalue(res, 0, 3)[0];
	if (t->schema == NULL || t->table == NULL) {
		gw_job_error(job, "out of memory");
		goto done;
	}
	/* input_schemas, on the schema the catalog resolved (whatever the
	 * spelling or the search_path). */
	if (gw_job_check_readable(job, param, t->schema, t->table) == -1 ||
	    (t->qualified = gw_quote_qualified(job, t->schema,
	    t->table)) == NULL ||
	    table_columns(job, param, PQgetvalue(res, 0, 0), t) == -1)
		goto done;
	rv = 0;
 done:
	PQclear(res);
	return rv;
}

int
gw_table_resolve(struct gw_job *job, const char *param, const char *name,
    struct gw_table *t)
{
	const char	*dot;
	char		*schema;
	int		 rv;

	memset(t, 0, sizeof(*t));
	if (name == NULL || *name == '\0')
		return gw_job_error(job, "%s: expected a table name "
		    "(\"schema.table\" or \"table\")", param);
	if (strlen(name) > TABLE_NAME_MAX)
		return gw_job_error(job, "%s: table name too long", param);
	if ((dot = strchr(name, '.')) == NULL)
		return gw_table_lookup(job, param, NULL, name, t);
	if ((schema = strndup(name, (size_t)(dot - name))) == NULL)
		return gw_job_error(job, "out of memory");
	rv = gw_table_lookup(job, param, schema, dot + 1, t);
	free(schema);
	return rv;
}

/*
 * layer.c: a layer parameter checked against the catalog and described:
 * table, geometry column and type, SRID and its CRS kind and unit, id
 * column, columns with their types (see layer.h).
 *
 * NOTES
 *   All SQL runs on job->conn inside the job's transaction.  Identifiers
 *   in SQL are always the catalog's spelling, quoted; parameters are bound
 *   ($1, ...), never pasted.  Errors go to gw_job_error() naming the
 *   parameter.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libpq-fe.h>

#include "gis/crs.h"
#include "gis/execf.h"
#include "gis/layer.h"
#include "gis/quote.h"
#include "gis/strbuf.h"

/* Type oids of the numeric types (pg_type.h). */
#define INT8OID		20
#define INT2OID		21
#define INT4OID		23
#define FLOAT4OID	700
#define FLOAT8OID	701
#define NUMERICOID	1700

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
	/* input_schemas, on the schema the catalog resolved (whatever the
	 * spelling or the search_path). */
	if (gw_job_check_readable(job, l->param, l->schema, l->table) == -1)
		goto done;
	rv = 0;
 done:
	PQclear(res);
	return rv;
}

/* The table named name, found in the catalog: l->schema, l->table, l->relid
 * and l->qualified. */
static int
layer_find(struct gw_job *job, struct gw_layer *l, const char *name)
{
	int	 k;

	if ((k = find_table(job, l, name)) != 0) {
		if (k == 1)
			gw_job_error(job, "%s: table \"%s\" does not exist",
			    l->param, name);
		return -1;
	}
	if ((l->qualified = gw_quote_qualified(job, l->schema,
	    l->table)) == NULL)
		return -1;
	return 0;
}

/* Row i of the column query, a geometry column, becomes the layer's. */
static int
layer_geom_column(struct gw_job *job, struct gw_layer *l, PGresult *res,
    int i)
{
	int	 k;

	free(l->geom_column);
	free(l->geom_type);
	l->geom_column = strdup(PQgetvalue(res, i, 0));
	l->srid = atoi(PQgetvalue(res, i, 5));
	l->geom_type = strdup(PQgetvalue(res, i, 6));
	if (l->geom_column == NULL || l->geom_type == NULL)
		return gw_job_error(job, "out of memory");
	/* "PolygonZ" and such: drop the suffix. */
	k = (int)strlen(l->geom_type);
	while (k > 0 && (l->geom_type[k - 1] == 'Z' ||
	    l->geom_type[k - 1] == 'M'))
		l->geom_type[--k] = '\0';
	l->dim = dim_of_type(l->geom_type);
	return 0;
}

/* Row i of the column query, any other column, goes to l->columns. */
static int
layer_add_column(struct gw_job *job, struct gw_layer *l, PGresult *res,
    int i)
{
	struct gw_column	*c = &l->columns[l->ncolumns++];

	c->name = strdup(PQgetvalue(res, i, 0));
	c->type = strdup(PQgetvalue(res, i, 1));
	c->typid = (unsigned int)strtoul(PQgetvalue(res, i, 2), NULL, 10);
	if (c->name == NULL || c->type == NULL)
		return gw_job_error(job, "out of memory");
	c->binary = strcmp(PQgetvalue(res, i, 4), "t") == 0;
	switch (c->typid) {
	case INT2OID: case INT4OID: case INT8OID:
	case FLOAT4OID: case FLOAT8OID: case NUMERICOID:
		c->numeric = 1;
	}
	return 0;
}

/* Every live column, with the geometry ones' typmod SRID and type; the
 * geometry column asked (NULL: the only one), or an error naming those the
 * table has. */
static int
layer_read_columns(struct gw_job *job, struct gw_layer *l,
    const char *relid, const char *geom_column)
{
	const char		*vals[1] = { relid }, *an;
	struct gw_strbuf	 geoms = { 0 };
	PGresult		*res;
	int			 i, n, ngeom = 0, rv = -1;

	res = gw_exec(job, l->param,
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
		return -1;
	n = PQntuples(res);
	if ((l->columns = calloc(n ? n : 1, sizeof(*l->columns))) == NULL) {
		gw_job_error(job, "out of memory");
		goto done;
	}
	for (i = 0; i < n; i++) {
		an = PQgetvalue(res, i, 0);
		if (strcmp(PQgetvalue(res, i, 3), "t") != 0) {
			if (layer_add_column(job, l, res, i) == -1)
				goto done;
			continue;
		}
		ngeom++;
		if (geoms.len)
			gw_sb_puts(&geoms, ", ");
		gw_sb_puts(&geoms, an);
		if ((geom_column == NULL ? ngeom == 1 :
		    strcmp(geom_column, an) == 0) &&
		    layer_geom_column(job, l, res, i) == -1)
			goto done;
	}
	if (geoms.failed)
		gw_job_error(job, "out of memory");
	else if (ngeom == 0)
		gw_job_error(job, "%s: table %s.%s has no geometry column",
		    l->param, l->schema, l->table);
	else if (l->geom_column == NULL)
		gw_job_error(job, "geometry_column: %s.%s has no geometry "
		    "column \"%s\" (it has: %s)", l->schema, l->table,
		    geom_column, geoms.data);
	else if (geom_column == NULL && ngeom > 1)
		gw_job_error(job, "geometry_column: %s.%s has several geometry "
		    "columns (%s); name one", l->schema, l->table, geoms.data);
	else
		rv = 0;
 done:
	PQclear(res);
	gw_sb_free(&geoms);
	return rv;
}

/* An unconstrained column: the SRID of its first geometry. */
static int
layer_first_srid(struct gw_job *job, struct gw_layer *l)
{
	struct gw_strbuf	 q = { 0 };
	PGresult		*res;

	gw_sb_puts(&q, "SELECT ST_SRID(");
	gw_sb_ident(job, &q, l->geom_column);
	gw_sb_printf(&q, ") FROM %s WHERE ", l->qualified);
	gw_sb_ident(job, &q, l->geom_column);
	gw_sb_puts(&q, " IS NOT NULL LIMIT 1");
	if ((res = gw_exec_sb(job, l->param, &q, 0, NULL)) == NULL)
		return -1;
	if (PQntuples(res) == 1)
		l->srid = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

/* The id column: id_column, else the single-column primary key if any. */
static int
layer_id(struct gw_job *job, struct gw_layer *l, const char *relid,
    const char *id_column)
{
	const char	*vals[1] = { relid };
	PGresult	*res;
	int		 k;

	res = gw_exec(job, l->param,
	    "SELECT a.attname FROM pg_index i JOIN pg_attribute a"
	    " ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]"
	    " WHERE i.indrelid = $1 AND i.indisprimary"
	    " AND i.indnatts = 1", 1, vals);
	if (res == NULL)
		return -1;
	k = PQntuples(res) == 1 ? gw_layer_column(l, PQgetvalue(res, 0, 0)) :
	    -1;
	PQclear(res);
	if (id_column != NULL) {
		if ((l->id_index = gw_layer_column(l, id_column)) == -1)
			return gw_job_error(job, "id_column: %s.%s has no "
			    "column \"%s\"", l->schema, l->table, id_column);
	} else
		l->id_index = k;
	l->id_pkey = l->id_index >= 0 && l->id_index == k;
	if (l->id_index >= 0 &&
	    (l->id_column = strdup(l->columns[l->id_index].name)) == NULL)
		return gw_job_error(job, "out of memory");
	return 0;
}

int
gw_layer_resolve(struct gw_job *job, const char *param, const char *name,
    const char *geom_column, const char *id_column, struct gw_layer **out)
{
	struct gw_layer	*l;
	char		 relid[16];

	*out = NULL;
	if (name == NULL || *name == '\0')
		return gw_job_error(job, "%s: a table name is required", param);
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return gw_job_error(job, "out of memory");
	l->param = param;
	l->id_index = -1;
	if (layer_find(job, l, name) == -1)
		goto fail;
	snprintf(relid, sizeof(relid), "%u", l->relid);
	if (layer_read_columns(job, l, relid, geom_column) == -1 ||
	    (l->srid == 0 && layer_first_srid(job, l) == -1) ||
	    layer_id(job, l, relid, id_column) == -1)
		goto fail;
	l->to_metre = 1;
	if (l->srid > 0 && gw_crs_info(job, l->srid, &l->geographic,
	    &l->to_metre) == -1)
		goto fail;
	*out = l;
	return 0;
 fail:
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
	struct gw_strbuf	 q = { 0 };
	PGresult	*res;

	gw_sb_printf(&q, "SELECT count(*) FROM %s", l->qualified);
	if (where != NULL)
		gw_sb_printf(&q, " WHERE (%s)", where);
	if ((res = gw_exec_sb(job, l->param, &q, 0, NULL)) == NULL)
		return -1;
	*out = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return 0;
}

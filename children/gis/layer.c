/*
 * layer.c: a layer parameter: the table (gis/table.c) and what a geometry
 * program needs to know of it: geometry column and type, SRID and its CRS
 * kind and unit, id column (see layer.h).
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
	for (i = 0; i < l->ncolumns; i++)
		gw_column_free(&l->columns[i]);
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

/* Column c, a geometry column, becomes the layer's. */
static int
layer_geom_column(struct gw_job *job, struct gw_layer *l,
    const struct gw_column *c)
{
	int	 k;

	free(l->geom_column);
	free(l->geom_type);
	l->geom_column = strdup(c->name);
	l->srid = c->srid;
	l->geom_type = strdup(c->geomtype);
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

/*
 * The layer takes over table t: its name, and its columns but the geometry
 * ones (moved, so that gw_table_free(t) leaves them alone); the geometry
 * column asked (NULL: the only one), or an error naming those the table
 * has.
 */
static int
layer_take_table(struct gw_job *job, struct gw_layer *l, struct gw_table *t,
    const char *geom_column)
{
	struct gw_strbuf	 geoms = { 0 };
	struct gw_column	*c;
	int			 i, ngeom = 0, rv = -1;

	l->schema = t->schema;
	l->table = t->table;
	l->qualified = t->qualified;
	l->relid = t->relid;
	t->schema = t->table = t->qualified = NULL;
	if ((l->columns = calloc(t->ncolumns ? t->ncolumns : 1,
	    sizeof(*l->columns))) == NULL)
		return gw_job_error(job, "out of memory");
	for (i = 0; i < t->ncolumns; i++) {
		c = &t->columns[i];
		if (!c->geometry) {
			l->columns[l->ncolumns++] = *c;
			memset(c, 0, sizeof(*c));
			continue;
		}
		ngeom++;
		if (geoms.len)
			gw_sb_puts(&geoms, ", ");
		gw_sb_puts(&geoms, c->name);
		if ((geom_column == NULL ? ngeom == 1 :
		    strcmp(geom_column, c->name) == 0) &&
		    layer_geom_column(job, l, c) == -1)
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
	struct gw_table	 t;
	char		 relid[16];
	int		 k;

	*out = NULL;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return gw_job_error(job, "out of memory");
	l->param = param;
	l->id_index = -1;
	if ((k = gw_table_resolve(job, param, name, &t)) == 1)
		gw_job_error(job, "%s: table \"%s\" does not exist", param,
		    name);
	if (k == 0)
		k = layer_take_table(job, l, &t, geom_column);
	gw_table_free(&t);
	if (k != 0)
		goto fail;
	snprintf(relid, sizeof(relid), "%u", l->relid);
	if ((l->srid == 0 && layer_first_srid(job, l) == -1) ||
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
gw_layer_need_id(struct gw_job *job, const struct gw_layer *l,
    const char *idparam)
{
	if (l->id_index >= 0)
		return 0;
	return gw_job_error(job, "%s: %s.%s has no single-column primary key; "
	    "name the column that identifies its features", idparam,
	    l->schema, l->table);
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

/*
 * create_view.c: the create_view job program.  Makes a view (or a
 * materialized view) in output_schema over a table, with chosen columns, a
 * structured attribute filter (filter.c) and an optional spatial filter.
 *
 * Parameters: input, name (default create_view_<job id>), columns (default
 * all), filter, spatial_filter {geometry, srid (4326), predicate
 * (intersects | within | dwithin), distance (metres, dwithin only)},
 * geometry_column (the one spatial_filter tests; default the only one),
 * materialized (false), replace (false).
 *
 * NOTES
 *   A view cannot hold bind parameters, so every value in its definition is
 *   a literal: PQescapeLiteral of the value, cast to a type named by the
 *   catalog, and checked by the server beforehand with a bound parameter.
 *   Identifiers are the catalog's spelling, quoted with PQescapeIdentifier;
 *   the view name must be a plain identifier.  Numbers (SRIDs, distance) are
 *   printed by this program from validated JSON numbers.
 *   A geometry column without a type modifier is cast in the view to
 *   geometry(type, srid) when the data has one SRID (and one type), so that
 *   geometry_columns, and a map server reading it, knows its SRID.
 *   dwithin measures on the spheroid (geography), whatever the CRS.
 *   Everything runs in the job's transaction: the view exists only if the
 *   job completes.
 */
#include "config.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gwworker.h"
#include "gis/execf.h"
#include "gis/filter.h"
#include "gis/quote.h"
#include "gis/strbuf.h"

#define WGS84	4326

struct cview {
	struct gw_job		*job;
	PGconn			*conn;
	struct gw_table	 t;
	const char		*name;
	char			 namebuf[GW_NAMELEN];
	int			 materialized;
	int			 replace;
	const struct gw_column **cols;	/* the view's columns */
	size_t			 ncols;
	const struct gw_column *geom;	/* spatial_filter's column */
	char			*qview;		/* "schema"."name" */
	char			*where;		/* attribute filter */
	char			*spatial;	/* spatial filter or NULL */
};

static int	run_create_view(struct gw_job *, json_t **);

int
main(int argc, char *argv[])
{
	gw_worker_idle(gw_idle_postgis);
	return gw_worker_main(argc, argv, "create_view", run_create_view);
}

/* Only geometry is cast and served; geography columns go as they are. */
static int
is_geometry(const struct gw_column *c)
{
	return strcmp(c->casttype, "geometry") == 0;
}

/* A plain identifier: what a map server, and a person, can type unquoted. */
static int
plain_identifier(const char *s)
{
	const char	*p;

	if (*s == '\0' || strlen(s) >= GW_NAMELEN ||
	    !(isalpha((unsigned char)*s) || *s == '_'))
		return 0;
	for (p = s; *p != '\0'; p++)
		if (!(isalnum((unsigned char)*p) || *p == '_') ||
		    (unsigned char)*p >= 0x80)
			return 0;
	return 1;
}

/* The text built in sb, in *out; -1 (after a job error) when rc, the
 * result of building it, is -1 or when sb ran out of memory. */
static int
sb_take(struct cview *v, struct gw_strbuf *sb, int rc, char **out)
{
	*out = NULL;
	if (sb->failed)
		rc = gw_job_error(v->job, "out of memory");
	if (rc == -1) {
		gw_sb_free(sb);
		return -1;
	}
	*out = sb->data;
	return 0;
}

static int
get_columns(struct cview *v)
{
	json_t		*cols, *e;
	const char	*name;
	size_t		 i, j;

	cols = json_object_get(v->job->params, "columns");
	if (cols == NULL || json_is_null(cols)) {
		v->ncols = v->t.ncolumns;
		if ((v->cols = calloc(v->ncols ? v->ncols : 1,
		    sizeof(*v->cols))) == NULL)
			return gw_job_error(v->job, "out of memory");
		for (i = 0; i < v->ncols; i++)
			v->cols[i] = &v->t.columns[i];
		return 0;
	}
	if (!json_is_array(cols) || json_array_size(cols) == 0)
		return gw_job_error(v->job, "columns: expected a non-empty array "
		    "of column names");
	if ((v->cols = calloc(json_array_size(cols), sizeof(*v->cols))) ==
	    NULL)
		return gw_job_error(v->job, "out of memory");
	json_array_foreach(cols, i, e) {
		if (!json_is_string(e))
			return gw_job_error(v->job, "columns[%zu]: expected a "
			    "column name", i);
		name = json_string_value(e);
		if ((v->cols[i] = gw_table_column(&v->t, name)) == NULL)
			return gw_job_error(v->job, "columns[%zu]: no column "
			    "\"%.64s\" in %s.%s", i, name, v->t.schema,
			    v->t.table);
		for (j = 0; j < i; j++)
			if (v->cols[j] == v->cols[i])
				return gw_job_error(v->job, "columns[%zu]: "
				    "\"%s\" is listed twice", i, name);
		v->ncols++;
	}
	return 0;
}

/* The geometry column spatial_filter tests: geometry_column, else the only
 * geometry column of the table. */
static int
get_geometry_column(struct cview *v)
{
	const char	*name;
	int		 i;

	if (gw_param_string(v->job, "geometry_column", 0, NULL, &name) == -1)
		return -1;
	if (name != NULL) {
		if ((v->geom = gw_table_column(&v->t, name)) == NULL)
			return gw_job_error(v->job, "geometry_column: no column "
			    "\"%.64s\" in %s.%s", name, v->t.schema,
			    v->t.table);
		if (!is_geometry(v->geom))
			return gw_job_error(v->job, "geometry_column: \"%s\" is "
			    "%s, not geometry", v->geom->name, v->geom->casttype);
		return 0;
	}
	for (i = 0; i < v->t.ncolumns; i++) {
		if (!is_geometry(&v->t.columns[i]))
			continue;
		if (v->geom != NULL)
			return gw_job_error(v->job, "geometry_column: %s.%s has "
			    "several geometry columns; name one", v->t.schema,
			    v->t.table);
		v->geom = &v->t.columns[i];
	}
	return 0;
}

/*
 * What the rows of geometry column c hold: *srid (0 if none or mixed), a
 * type name in type ("" if mixed) and whether it is 2D.  For a column
 * without a type modifier (one with it says so in c->srid).
 */
static int
geometry_shape(struct cview *v, const struct gw_column *c, int *srid,
    char *type, size_t typesz, int *flat)
{
	PGresult	*res;
	char		*qcol;

	*srid = 0;
	*type = '\0';
	*flat = 0;
	if ((qcol = gw_quote_ident(v->job, c->name)) == NULL)
		return -1;
	res = gw_execf(v->job, "reading the geometry column's SRID",
	    "SELECT min(ST_SRID(%s)), max(ST_SRID(%s)), "
	    "min(GeometryType(%s)), max(GeometryType(%s)), max(ST_NDims(%s)) "
	    "FROM %s", qcol, qcol, qcol, qcol, qcol, v->t.qualified);
	free(qcol);
	if (res == NULL)
		return -1;
	if (!PQgetisnull(res, 0, 0) &&
	    strcmp(PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1)) == 0)
		*srid = atoi(PQgetvalue(res, 0, 0));
	if (!PQgetisnull(res, 0, 2) &&
	    strcmp(PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3)) == 0)
		snprintf(type, typesz, "%s", PQgetvalue(res, 0, 2));
	*flat = !PQgetisnull(res, 0, 4) && atoi(PQgetvalue(res, 0, 4)) == 2;
	PQclear(res);
	return 0;
}

/*
 * spatial_filter: checks the GeoJSON and SRID with the server (bound
 * parameters), then writes the predicate with the GeoJSON as a literal.
 */
/* A spatial filter, checked: its GeoJSON (compact), SRID, predicate and
 * distance. */
struct spatial {
	char		*geojson;
	int		 srid;
	const char	*pred;		/* intersects, within or dwithin */
	double		 dist;		/* dwithin: metres */
	int		 valid;		/* else repaired with ST_MakeValid */
};

/* spatial_filter's geometry as compact GeoJSON text in sp->geojson (only
 * JSON re-serialized by jansson reaches the literal). */
static int
spatial_geojson(struct cview *v, json_t *sf, struct spatial *sp)
{
	json_t	*jg, *jt, *geom;
	int	 rv = -1;

	jg = json_object_get(sf, "geometry");
	if (json_is_string(jg)) {
		/* GeoJSON given as text: parsed, so that only JSON
		 * re-serialized by jansson reaches the literal. */
		if ((jg = json_loads(json_string_value(jg), 0, NULL)) == NULL)
			return gw_job_error(v->job, "spatial_filter.geometry: "
			    "not valid JSON");
	} else
		json_incref(jg);
	if (json_is_object(jg) && (jt = json_object_get(jg, "type")) != NULL &&
	    json_is_string(jt) &&
	    strcmp(json_string_value(jt), "Feature") == 0) {
		geom = json_object_get(jg, "geometry");
		json_incref(geom);
		json_decref(jg);
		jg = geom;
	}
	if (!json_is_object(jg))
		gw_job_error(v->job, "spatial_filter.geometry: expected a "
		    "GeoJSON geometry or Feature");
	else if ((sp->geojson = json_dumps(jg, JSON_COMPACT |
	    JSON_ENSURE_ASCII)) == NULL)
		gw_job_error(v->job, "out of memory");
	else
		rv = 0;
	json_decref(jg);
	return rv;
}

/* spatial_filter's srid, predicate and distance. */
static int
spatial_options(struct cview *v, json_t *sf, struct spatial *sp)
{
	json_t	*js, *jp, *jd;

	js = json_object_get(sf, "srid");
	if (js == NULL || json_is_null(js))
		sp->srid = WGS84;
	else if (!json_is_integer(js) || json_integer_value(js) <= 0 ||
	    json_integer_value(js) > 999999)
		return gw_job_error(v->job, "spatial_filter.srid: expected a "
		    "positive integer SRID");
	else
		sp->srid = (int)json_integer_value(js);

	jp = json_object_get(sf, "predicate");
	if (jp == NULL || json_is_null(jp))
		sp->pred = "intersects";
	else if (!json_is_string(jp) ||
	    (strcmp(json_string_value(jp), "intersects") != 0 &&
	    strcmp(json_string_value(jp), "within") != 0 &&
	    strcmp(json_string_value(jp), "dwithin") != 0))
		return gw_job_error(v->job, "spatial_filter.predicate: "
		    "expected \"intersects\", \"within\" or \"dwithin\"");
	else
		sp->pred = json_string_value(jp);

	jd = json_object_get(sf, "distance");
	if (strcmp(sp->pred, "dwithin") == 0) {
		if (!json_is_number(jd) || !isfinite(json_number_value(jd)) ||
		    json_number_value(jd) < 0)
			return gw_job_error(v->job, "spatial_filter.distance: "
			    "dwithin needs a distance in metres (a number >= "
			    "0)");
		sp->dist = json_number_value(jd);
	} else if (jd != NULL && !json_is_null(jd))
		return gw_job_error(v->job, "spatial_filter.distance: only the "
		    "dwithin predicate takes a distance");
	return 0;
}

/* The server reads the geometry: not empty, an SRID it knows; whether it
 * is valid. */
static int
spatial_check(struct cview *v, struct spatial *sp)
{
	static const char *sql_check =
	    "SELECT ST_IsEmpty(g), ST_IsValid(g), ST_IsValidReason(g), "
	    "  EXISTS (SELECT 1 FROM spatial_ref_sys WHERE srid = $2::int) "
	    "FROM (SELECT ST_GeomFromGeoJSON($1) AS g) s";
	const char	*values[2];
	char		 srid_s[32];
	PGresult	*res;
	int		 rv = -1;

	snprintf(srid_s, sizeof(srid_s), "%d", sp->srid);
	values[0] = sp->geojson;
	values[1] = srid_s;
	if ((res = PQexecParams(v->conn, sql_check, 2, NULL, values, NULL,
	    NULL, 0)) == NULL || PQresultStatus(res) != PGRES_TUPLES_OK)
		gw_job_error(v->job, "spatial_filter.geometry: not a GeoJSON "
		    "geometry PostGIS can read: %s", res ? PQresultErrorField(
		    res, PG_DIAG_MESSAGE_PRIMARY) : PQerrorMessage(v->conn));
	else if (strcmp(PQgetvalue(res, 0, 3), "t") != 0)
		gw_job_error(v->job, "spatial_filter.srid: SRID %d is not in "
		    "spatial_ref_sys", sp->srid);
	else if (strcmp(PQgetvalue(res, 0, 0), "t") == 0)
		gw_job_error(v->job, "spatial_filter.geometry: the geometry is "
		    "empty");
	else {
		sp->valid = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
		if (!sp->valid)
			log_info("spatial_filter.geometry is invalid (%s): "
			    "repaired with ST_MakeValid", PQgetvalue(res, 0, 2));
		rv = 0;
	}
	PQclear(res);
	return rv;
}

/* The filter as SQL in v->spatial, the geometry transformed to the
 * column's SRID tsrid (to geography for dwithin). */
static int
spatial_expr(struct cview *v, const struct spatial *sp, int tsrid)
{
	struct gw_strbuf	 sb = { 0 };
	char			*lit;
	int			 dw = strcmp(sp->pred, "dwithin") == 0, rc;

	if ((lit = gw_quote_literal(v->job, sp->geojson)) == NULL)
		return -1;
	gw_sb_puts(&sb, dw ? "ST_DWithin(ST_Transform(src." :
	    strcmp(sp->pred, "within") == 0 ? "ST_Within(src." :
	    "ST_Intersects(src.");
	if ((rc = gw_sb_ident(v->job, &sb, v->geom->name)) == 0) {
		if (dw)
			gw_sb_printf(&sb, ", %d)::geography", WGS84);
		/* The filter's geometry, in the column's SRID or WGS 84. */
		gw_sb_printf(&sb, ", ST_Transform(%sST_SetSRID("
		    "ST_GeomFromGeoJSON(%s::text), %d)%s, %d)",
		    sp->valid ? "" : "ST_MakeValid(", lit, sp->srid,
		    sp->valid ? "" : ")", dw ? WGS84 : tsrid);
		if (dw)
			gw_sb_printf(&sb, "::geography, %.17g)", sp->dist);
		else
			gw_sb_puts(&sb, ")");
	}
	free(lit);
	return sb_take(v, &sb, rc, &v->spatial);
}

static int
spatial_sql(struct cview *v, json_t *sf)
{
	static const char *const keys[] = { "geometry", "srid", "predicate",
	    "distance", NULL };
	struct spatial	 sp;
	const char	*key;
	json_t		*unused;
	char		 type[64];
	size_t		 i;
	int		 tsrid, flat, rv = -1;

	if (!json_is_object(sf))
		return gw_job_error(v->job, "spatial_filter: expected an object "
		    "{\"geometry\": GeoJSON, \"srid\": 4326, \"predicate\": "
		    "\"intersects\"}");
	json_object_foreach(sf, key, unused) {
		for (i = 0; keys[i] != NULL; i++)
			if (strcmp(key, keys[i]) == 0)
				break;
		if (keys[i] == NULL)
			return gw_job_error(v->job, "spatial_filter: unknown key "
			    "\"%.64s\"", key);
	}
	if (v->geom == NULL)
		return gw_job_error(v->job, "spatial_filter: %s.%s has no "
		    "geometry column", v->t.schema, v->t.table);
	memset(&sp, 0, sizeof(sp));
	if (spatial_geojson(v, sf, &sp) == -1 ||
	    spatial_options(v, sf, &sp) == -1 ||
	    spatial_check(v, &sp) == -1)
		goto done;
	if ((tsrid = v->geom->srid) == 0 && geometry_shape(v, v->geom, &tsrid,
	    type, sizeof(type), &flat) == -1)
		goto done;
	if (tsrid == 0) {
		gw_job_error(v->job, "geometry_column: \"%s\" has no single "
		    "SRID, so spatial_filter cannot be transformed to it",
		    v->geom->name);
		goto done;
	}
	rv = spatial_expr(v, &sp, tsrid);
 done:
	free(sp.geojson);
	return rv;
}

/* An existing relation of the view's name: dropped if it is a view and
 * replace is set, else an error. */
static int
check_existing(struct cview *v)
{
	static const char *sql =
	    "SELECT c.relkind FROM pg_catalog.pg_class c "
	    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
	    "WHERE n.nspname = $1 AND c.relname = $2";
	PGresult	*res;
	const char	*values[2];
	char		 kind;

	values[0] = v->job->settings->output_schema;
	values[1] = v->name;
	if ((res = gw_exec(v->job, "looking for an existing view", sql, 2,
	    values)) == NULL)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return 0;
	}
	kind = PQgetvalue(res, 0, 0)[0];
	PQclear(res);
	if (kind != 'v' && kind != 'm')
		return gw_job_error(v->job, "name: \"%s\" already exists in "
		    "schema \"%s\" and is not a view; refusing to replace it",
		    v->name, v->job->settings->output_schema);
	if (!v->replace)
		return gw_job_error(v->job, "name: view \"%s\" already exists in "
		    "schema \"%s\" (set replace to true to replace it)",
		    v->name, v->job->settings->output_schema);
	if (gw_runf(v->job, "name: dropping the old view",
	    "DROP %sVIEW %s", kind == 'm' ? "MATERIALIZED " : "",
	    v->qview) == -1)
		return -1;
	return 0;
}

/* The select list: every column qualified with src, geometry columns
 * without a type modifier cast to one when the data allows. */
static int
select_list(struct cview *v, char **out)
{
	struct gw_strbuf	 sb = { 0 };
	const struct gw_column	*c;
	char			 type[64];
	size_t			 i;
	int			 srid, flat, rc = 0;

	for (i = 0; i < v->ncols && rc == 0; i++) {
		c = v->cols[i];
		srid = flat = 0;
		if (is_geometry(c) && strcmp(c->type, "geometry") == 0 &&
		    geometry_shape(v, c, &srid, type, sizeof(type),
		    &flat) == -1) {
			gw_sb_free(&sb);
			return -1;
		}
		gw_sb_puts(&sb, i > 0 ? ", src." : "src.");
		rc = gw_sb_ident(v->job, &sb, c->name);
		/* type comes from GeometryType() or the typmod: PostGIS's
		 * words */
		if (rc == 0 && srid > 0 && flat) {
			gw_sb_printf(&sb, "::geometry(%s, %d) AS ",
			    *type ? type : "Geometry", srid);
			rc = gw_sb_ident(v->job, &sb, c->name);
		}
	}
	return sb_take(v, &sb, rc, out);
}

/* Parameters that need no database: the view's name and kind. */
static int
cview_params(struct gw_job *job, struct cview *v, const char **input)
{
	static const char *const keys[] = { "input", "name", "columns",
	    "filter", "spatial_filter", "geometry_column", "materialized",
	    "replace", NULL };
	const char	*schema = job->settings->output_schema;

	if (gw_param_check_keys(job, keys) == -1 ||
	    gw_param_string(job, "input", 1, NULL, input) == -1 ||
	    gw_param_bool(job, "materialized", 0, &v->materialized) == -1 ||
	    gw_param_bool(job, "replace", 0, &v->replace) == -1)
		return -1;
	snprintf(v->namebuf, sizeof(v->namebuf), "create_view_%lld", job->id);
	if (gw_param_string(job, "name", 0, v->namebuf, &v->name) == -1)
		return -1;
	if (!plain_identifier(v->name))
		return gw_job_error(job, "name: expected a plain identifier "
		    "(ASCII letters, digits and _, not starting with a digit, "
		    "at most %d bytes)", GW_NAMELEN - 1);
	if (schema == NULL || *schema == '\0')
		return gw_job_error(job, "no output_schema configured");
	return gw_job_lock_output(job, v->name);
}

/* The input, its columns and filters: the view's select list in *select,
 * and its quoted name, checked against what exists. */
static int
cview_definition(struct gw_job *job, struct cview *v, const char *input,
    char **select)
{
	json_t	*sf;

	if (filter_resolve_table(job, "input", input, &v->t) == -1 ||
	    get_columns(v) == -1 || get_geometry_column(v) == -1)
		return -1;
	gw_progress(job, 0.1, "building the view's definition");
	if (filter_sql_table(job, v->conn, &v->t, json_object_get(job->params,
	    "filter"), "filter", "src", &v->where) == -1)
		return -1;
	sf = json_object_get(job->params, "spatial_filter");
	if (sf != NULL && !json_is_null(sf) && spatial_sql(v, sf) == -1)
		return -1;
	if (select_list(v, select) == -1)
		return -1;
	if ((v->qview = gw_quote_qualified(job, job->settings->output_schema,
	    v->name)) == NULL)
		return -1;
	return check_existing(v);
}

/*
 * CREATE [MATERIALIZED] VIEW; a materialized one gets a GiST index per
 * geometry column, and statistics.  A view is security_invoker: whoever
 * reads it reads the underlying rows with their own rights (grants, row
 * level security), never the daemon's.  A materialized view holds the
 * job's own snapshot; the runtime grants it to output_readers only
 * (doc/confinement.md).
 */
static int
cview_create(struct gw_job *job, struct cview *v, const char *select)
{
	PGresult	*res;
	char		*sql, *qcol;
	size_t		 i;

	if (asprintf(&sql, "CREATE %sVIEW %s%s AS SELECT %s FROM %s AS src "
	    "WHERE %s%s%s%s", v->materialized ? "MATERIALIZED " : "",
	    v->qview, v->materialized ? "" : " WITH (security_invoker = true)",
	    select, v->t.qualified, v->where, v->spatial ?
	    " AND (" : "", v->spatial ? v->spatial : "", v->spatial ?
	    ")" : "") == -1)
		return gw_job_error(job, "out of memory");
	log_info("creating %s: %s", v->qview, sql);
	gw_progress(job, 0.3, "creating the view");
	res = gw_exec(job, "creating the view", sql, 0, NULL);
	free(sql);
	if (res == NULL)
		return -1;
	PQclear(res);
	if (!v->materialized)
		return 0;
	for (i = 0; i < v->ncols; i++) {
		if (!is_geometry(v->cols[i]))
			continue;
		if ((qcol = gw_quote_ident(job, v->cols[i]->name)) == NULL)
			return -1;
		res = gw_execf(job, "indexing the materialized view",
		    "CREATE INDEX ON %s USING gist (%s)", v->qview, qcol);
		free(qcol);
		if (res == NULL)
			return -1;
		PQclear(res);
	}
	if (gw_runf(job, "analyzing the materialized view",
	    "ANALYZE %s", v->qview) == -1)
		return -1;
	return 0;
}

/* The view's rows, and its columns as the view has them (geometry casts
 * included), for the result. */
static int
cview_describe(struct gw_job *job, struct cview *v, long long *nrows,
    json_t **cols)
{
	static const char *sql_cols =
	    "SELECT a.attname, "
	    "  pg_catalog.format_type(a.atttypid, a.atttypmod) "
	    "FROM pg_catalog.pg_attribute a "
	    "JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
	    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
	    "WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 "
	    "  AND NOT a.attisdropped ORDER BY a.attnum";
	const char	*values[2] = { job->settings->output_schema, v->name };
	PGresult	*res;
	int		 i;

	gw_progress(job, 0.6, "counting the view's rows");
	if ((res = gw_execf(job, "counting the view's rows",
	    "SELECT count(*) FROM %s", v->qview)) == NULL)
		return -1;
	*nrows = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	if ((res = gw_exec(job, "reading the view's columns", sql_cols, 2,
	    values)) == NULL)
		return -1;
	if ((*cols = json_array()) == NULL)
		goto oom;
	for (i = 0; i < PQntuples(res); i++)
		if (json_array_append_new(*cols, json_pack("{s:s, s:s}",
		    "name", PQgetvalue(res, i, 0),
		    "type", PQgetvalue(res, i, 1))) == -1)
			goto oom;
	PQclear(res);
	return 0;
 oom:
	PQclear(res);
	return gw_job_error(job, "out of memory");
}

static int
run_create_view(struct gw_job *job, json_t **result)
{
	const char	*schema = job->settings->output_schema;
	struct cview	 v;
	json_t		*cols = NULL;
	const char	*input;
	char		*select = NULL, *output = NULL;
	long long	 nrows;
	int		 rv = -1;

	memset(&v, 0, sizeof(v));
	v.job = job;
	v.conn = job->conn;
	if (cview_params(job, &v, &input) == -1)
		return -1;
	if (cview_definition(job, &v, input, &select) == -1 ||
	    cview_create(job, &v, select) == -1 ||
	    cview_describe(job, &v, &nrows, &cols) == -1)
		goto done;
	if (asprintf(&output, "%s.%s", schema, v.name) == -1) {
		output = NULL;
		goto oom;
	}
	if ((*result = json_pack("{s:s, s:s, s:s, s:b, s:O, s:I, s:I, s:s?}",
	    "output", output, "view", v.name, "schema", schema,
	    "materialized", v.materialized, "columns", cols,
	    "feature_count", (json_int_t)nrows, "row_count", (json_int_t)nrows,
	    "geometry_column", v.geom ? v.geom->name : NULL)) == NULL)
		goto oom;
	log_info("created %s view %s: %lld rows", v.materialized ?
	    "materialized" : "plain", v.qview, nrows);
	rv = 0;
	goto done;
 oom:
	gw_job_error(job, "out of memory");
 done:
	json_decref(cols);
	gw_table_free(&v.t);
	free(v.cols);
	free(v.qview);
	free(v.where);
	free(v.spatial);
	free(select);
	free(output);
	return rv;
}

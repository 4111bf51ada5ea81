/*
 * filter.c: structured attribute filters to SQL boolean expressions, on a
 * table of the catalog (gis/table.h; see filter.h for the filter grammar).
 *
 * NOTES
 *   Every identifier comes from pg_attribute / pg_class and is written with
 *   PQescapeIdentifier; every value is first checked by the server with a
 *   bound parameter ("SELECT $1::type") and then written as
 *   PQescapeLiteral(value)::type.  Type names come from format_type() of the
 *   catalog, never from a parameter.  A check that fails leaves the job's
 *   transaction aborted; that is fine, as the job then fails and rolls back.
 *   Functions return 0 / -1 (after gw_job_error) and free what they create
 *   before returning.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gis/filter.h"
#include "gis/quote.h"
#include "gis/strbuf.h"

struct fctx {
	struct gw_job			*job;
	PGconn				*conn;
	const struct gw_table	*t;
	const char			*qualifier;
	struct gw_strbuf		 sb;
	int				 nodes;
};

static int	node_sql(struct fctx *, json_t *, const char *, int);
static int	cond_sql(struct fctx *, json_t *, const char *);
static int	value_sql(struct fctx *, const struct gw_column *, json_t *,
		    const char *);
static int	check_keys(struct fctx *, json_t *, const char *,
		    const char *const []);

/* The message is the filter programs' own: t/310 and t/301 hold them to it. */
int
filter_resolve_table(struct gw_job *job, const char *param, const char *name,
    struct gw_table *t)
{
	const char	*dot;
	int		 k;

	if ((k = gw_table_resolve(job, param, name, t)) != 1)
		return k;
	if ((dot = strchr(name, '.')) != NULL)
		return gw_job_error(job, "%s: no table or view \"%.64s\" in "
		    "schema \"%.*s\"", param, dot + 1,
		    (int)(dot - name < 64 ? dot - name : 64), name);
	return gw_job_error(job, "%s: no table or view \"%.64s\" in the "
	    "search path", param, name);
}

/* Rejects any key of object o not in allowed, naming path. */
static int
check_keys(struct fctx *f, json_t *o, const char *path,
    const char *const allowed[])
{
	const char	*key;
	json_t		*v;
	int		 i;

	json_object_foreach(o, key, v) {
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(key, allowed[i]) == 0)
				break;
		if (allowed[i] == NULL)
			return gw_job_error(f->job, "%s: unknown key \"%.64s\"",
			    path, key);
	}
	return 0;
}

/*
 * A node: a group ({"all": [...]}, {"any": [...]}) or a condition.  path is
 * where it sits ("filter.all[2]"), for messages.
 */
static int
node_sql(struct fctx *f, json_t *node, const char *path, int depth)
{
	json_t		*list, *child;
	const char	*glue;
	char		 cpath[512];
	size_t		 i;
	int		 any;

	if (!json_is_object(node))
		return gw_job_error(f->job, "%s: expected an object "
		    "({\"all\": [...]}, {\"any\": [...]} or "
		    "{\"field\": ..., \"op\": ..., \"value\": ...})", path);
	if (++f->nodes > FILTER_MAX_NODES)
		return gw_job_error(f->job, "%s: more than %d conditions",
		    path, FILTER_MAX_NODES);
	if (json_object_get(node, "field") != NULL ||
	    json_object_get(node, "op") != NULL)
		return cond_sql(f, node, path);

	if (json_object_size(node) != 1)
		return gw_job_error(f->job, "%s: expected exactly one of "
		    "\"all\", \"any\" or a condition with \"field\" and \"op\"",
		    path);
	if ((list = json_object_get(node, "all")) != NULL)
		any = 0;
	else if ((list = json_object_get(node, "any")) != NULL)
		any = 1;
	else {
		check_keys(f, node, path,
		    (const char *const []){ "all", "any", "field", "op", NULL });
		return gw_job_error(f->job, "%s: expected \"all\", \"any\" or "
		    "a condition", path);
	}
	if (depth >= FILTER_MAX_DEPTH)
		return gw_job_error(f->job, "%s: nested deeper than %d levels",
		    path, FILTER_MAX_DEPTH);
	if (!json_is_array(list))
		return gw_job_error(f->job, "%s.%s: expected an array of "
		    "conditions", path, any ? "any" : "all");

	if (json_array_size(list) == 0) {
		gw_sb_puts(&f->sb, any ? "FALSE" : "TRUE");
		return 0;
	}
	glue = any ? " OR " : " AND ";
	gw_sb_puts(&f->sb, "(");
	json_array_foreach(list, i, child) {
		if (i > 0)
			gw_sb_puts(&f->sb, glue);
		snprintf(cpath, sizeof(cpath), "%s.%s[%zu]", path,
		    any ? "any" : "all", i);
		if (node_sql(f, child, cpath, depth + 1) == -1)
			return -1;
	}
	gw_sb_puts(&f->sb, ")");
	return 0;
}

/* Whether a column of this category can be filtered on at all. */
static int
filterable(const struct gw_column *c)
{
	if (strchr("NSBDTEI", c->category) != NULL)
		return 1;
	return strcmp(c->casttype, "uuid") == 0;
}

static const char *
expected_json(const struct gw_column *c)
{
	switch (c->category) {
	case 'N':
		return "a number";
	case 'B':
		return "true or false";
	default:
		return "a string";
	}
}

/*
 * Appends one value as a typed literal of the column's type, after the server
 * said the value is valid for that type.
 */
static int
value_sql(struct fctx *f, const struct gw_column *c, json_t *v,
    const char *path)
{
	PGresult	*res;
	const char	*text;
	char		 num[64], *sql = NULL, *lit = NULL;
	int		 ok;

	if (++f->nodes > FILTER_MAX_NODES)
		return gw_job_error(f->job, "%s: more than %d values", path,
		    FILTER_MAX_NODES);
	switch (c->category) {
	case 'N':
		ok = json_is_number(v);
		break;
	case 'B':
		ok = json_is_boolean(v);
		break;
	default:
		ok = json_is_string(v);
		break;
	}
	if (json_is_null(v))
		return gw_job_error(f->job, "%s: null is not a value (use the "
		    "is_null or not_null op)", path);
	if (!ok)
		return gw_job_error(f->job, "%s: \"%s\" is %s; expected %s",
		    path, c->name, c->casttype, expected_json(c));

	if (json_is_integer(v)) {
		snprintf(num, sizeof(num), "%lld",
		    (long long)json_integer_value(v));
		text = num;
	} else if (json_is_real(v)) {
		snprintf(num, sizeof(num), "%.17g", json_real_value(v));
		text = num;
	} else if (json_is_boolean(v)) {
		text = json_is_true(v) ? "true" : "false";
	} else {
		text = json_string_value(v);
		if (strlen(text) != json_string_length(v))
			return gw_job_error(f->job, "%s: the value holds a NUL "
			    "character", path);
	}

	/* The server checks the value for the type; the message names it. */
	if (asprintf(&sql, "SELECT $1::%s", c->casttype) == -1)
		return gw_job_error(f->job, "out of memory");
	res = PQexecParams(f->conn, sql, 1, NULL, &text, NULL, NULL, 0);
	free(sql);
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
		gw_job_error(f->job, "%s: not a valid %s for \"%s\": %s", path,
		    c->casttype, c->name, res ? PQresultErrorField(res,
		    PG_DIAG_MESSAGE_PRIMARY) : PQerrorMessage(f->conn));
		PQclear(res);
		return -1;
	}
	PQclear(res);

	if ((lit = gw_quote_literal(f->job, text)) == NULL)
		return -1;
	gw_sb_puts(&f->sb, lit);
	gw_sb_puts(&f->sb, "::");
	gw_sb_puts(&f->sb, c->casttype);
	free(lit);
	return 0;
}

/*
 * A LIKE pattern must not end with its escape character, the backslash (an
 * odd number of trailing backslashes): PostgreSQL would only say so when the
 * view is read, and only for rows the matcher gets that far on.
 */
static int
like_check(struct fctx *f, json_t *v, const char *path)
{
	const char	*text = json_string_value(v);
	size_t		 n = strlen(text), k = 0;

	while (k < n && text[n - k - 1] == '\\')
		k++;
	if (k % 2 == 1)
		return gw_job_error(f->job, "%s: not a valid LIKE pattern: it "
		    "ends with the escape character \\ (write \\\\ for a "
		    "backslash)", path);
	return 0;
}

/* The condition's column, checked, as "(qualifier.column" in f->sb. */
static const struct gw_column *
cond_column(struct fctx *f, const char *field, const char *path)
{
	const struct gw_column	*c;
	char				*qcol;

	if ((c = gw_table_column(f->t, field)) == NULL) {
		gw_job_error(f->job, "%s.field: no column \"%.64s\" in %s.%s",
		    path, field, f->t->schema, f->t->table);
		return NULL;
	}
	if (!filterable(c)) {
		gw_job_error(f->job, "%s.field: \"%s\" is %s, which cannot be "
		    "filtered on%s", path, c->name, c->casttype,
		    strcmp(c->casttype, "geometry") == 0 ||
		    strcmp(c->casttype, "geography") == 0 ?
		    " (use spatial_filter)" : "");
		return NULL;
	}
	if ((qcol = gw_quote_ident(f->job, c->name)) == NULL)
		return NULL;
	gw_sb_puts(&f->sb, "(");
	if (f->qualifier != NULL) {
		gw_sb_puts(&f->sb, f->qualifier);
		gw_sb_puts(&f->sb, ".");
	}
	gw_sb_puts(&f->sb, qcol);
	free(qcol);
	return c;
}

/* in, not_in: a non-empty array of values. */
static int
cond_list(struct fctx *f, const struct gw_column *c, const char *op,
    json_t *v, const char *path)
{
	char	 vpath[600];
	json_t	*e;
	size_t	 i;

	if (!json_is_array(v) || json_array_size(v) == 0)
		return gw_job_error(f->job, "%s.value: op %s needs a non-empty "
		    "array of values", path, op);
	gw_sb_puts(&f->sb, op[0] == 'i' ? " IN (" : " NOT IN (");
	json_array_foreach(v, i, e) {
		if (i > 0)
			gw_sb_puts(&f->sb, ", ");
		snprintf(vpath, sizeof(vpath), "%s.value[%zu]", path, i);
		if (value_sql(f, c, e, vpath) == -1)
			return -1;
	}
	gw_sb_puts(&f->sb, "))");
	return 0;
}

/* between: [low, high]. */
static int
cond_between(struct fctx *f, const struct gw_column *c, json_t *v,
    const char *path)
{
	char	 vpath[600];
	size_t	 i;

	if (!json_is_array(v) || json_array_size(v) != 2)
		return gw_job_error(f->job, "%s.value: op between needs "
		    "[low, high]", path);
	for (i = 0; i < 2; i++) {
		gw_sb_puts(&f->sb, i == 0 ? " BETWEEN " : " AND ");
		snprintf(vpath, sizeof(vpath), "%s.value[%zu]", path, i);
		if (value_sql(f, c, json_array_get(v, i), vpath) == -1)
			return -1;
	}
	gw_sb_puts(&f->sb, ")");
	return 0;
}

static int
cond_sql(struct fctx *f, json_t *node, const char *path)
{
	static const char *const keys[] = { "field", "op", "value", NULL };
	static const struct {
		const char	*op;
		const char	*sql;
	} cmp[] = {
		{ "=", " = " }, { "!=", " <> " }, { "<", " < " },
		{ "<=", " <= " }, { ">", " > " }, { ">=", " >= " },
		{ "like", " LIKE " }, { "ilike", " ILIKE " },
	};
	const struct gw_column	*c;
	json_t				*jf, *jo, *v;
	const char			*field, *op;
	char				 vpath[600];
	size_t				 i;
	int				 like;

	if (check_keys(f, node, path, keys) == -1)
		return -1;
	jf = json_object_get(node, "field");
	jo = json_object_get(node, "op");
	v = json_object_get(node, "value");
	if (!json_is_string(jf) || *(field = json_string_value(jf)) == '\0')
		return gw_job_error(f->job, "%s.field: expected a column name",
		    path);
	if (!json_is_string(jo))
		return gw_job_error(f->job, "%s.op: expected one of = != < <= "
		    "> >= in not_in like ilike is_null not_null between", path);
	op = json_string_value(jo);
	if ((c = cond_column(f, field, path)) == NULL)
		return -1;
	snprintf(vpath, sizeof(vpath), "%s.value", path);

	if (strcmp(op, "is_null") == 0 || strcmp(op, "not_null") == 0) {
		if (v != NULL && !json_is_null(v))
			return gw_job_error(f->job, "%s: op %s takes no value",
			    path, op);
		gw_sb_puts(&f->sb, op[0] == 'i' ? " IS NULL)" : " IS NOT NULL)");
		return 0;
	}
	if (v == NULL)
		return gw_job_error(f->job, "%s: op %s needs a value", vpath,
		    op);
	for (i = 0; i < sizeof(cmp) / sizeof(cmp[0]); i++)
		if (strcmp(op, cmp[i].op) == 0)
			break;
	if (i < sizeof(cmp) / sizeof(cmp[0])) {
		like = strcmp(op, "like") == 0 || strcmp(op, "ilike") == 0;
		if (like && c->category != 'S')
			return gw_job_error(f->job, "%s: op %s needs a string "
			    "column; \"%s\" is %s", path, op, c->name, c->casttype);
		if (json_is_array(v) || json_is_object(v))
			return gw_job_error(f->job, "%s: op %s takes one value, "
			    "not a list", vpath, op);
		if (like && json_is_string(v) && like_check(f, v, vpath) == -1)
			return -1;
		gw_sb_puts(&f->sb, cmp[i].sql);
		if (value_sql(f, c, v, vpath) == -1)
			return -1;
		gw_sb_puts(&f->sb, ")");
		return 0;
	}
	if (strcmp(op, "in") == 0 || strcmp(op, "not_in") == 0)
		return cond_list(f, c, op, v, path);
	if (strcmp(op, "between") == 0)
		return cond_between(f, c, v, path);
	return gw_job_error(f->job, "%s.op: unknown op \"%.32s\"; expected one "
	    "of = != < <= > >= in not_in like ilike is_null not_null between",
	    path, op);
}

int
filter_sql_table(struct gw_job *job, PGconn *conn,
    const struct gw_table *t, json_t *filter, const char *param,
    const char *qualifier, char **out)
{
	struct fctx	 f;

	*out = NULL;
	memset(&f, 0, sizeof(f));
	f.job = job;
	f.conn = conn;
	f.t = t;
	f.qualifier = qualifier;
	if (filter == NULL || json_is_null(filter))
		gw_sb_puts(&f.sb, "TRUE");
	else if (node_sql(&f, filter, param, 0) == -1) {
		free(f.sb.data);
		return -1;
	}
	if (f.sb.failed) {
		free(f.sb.data);
		return gw_job_error(job, "out of memory");
	}
	*out = f.sb.data;
	return 0;
}

int
filter_sql(struct gw_job *job, PGconn *conn, const char *schema,
    const char *table, json_t *filter, const char *param,
    const char *qualifier, char **out)
{
	struct gw_table	 t;
	int		 rv;

	*out = NULL;
	if ((rv = gw_table_lookup(job, param, schema, table, &t)) == 1)
		rv = gw_job_error(job, "%s: no table or view \"%.64s\" in "
		    "schema \"%.64s\"", param, table, schema);
	if (rv == 0)
		rv = filter_sql_table(job, conn, &t, filter, param, qualifier,
		    out);
	gw_table_free(&t);
	return rv;
}

/*
 * filter.h: structured attribute filters (the "filter" of create_view, the
 * "clip_filter" of clip and raster_clip) turned into SQL boolean expressions,
 * on a table of the catalog (gis/table.h).
 *
 * A filter is JSON:
 *
 *	{"all": [COND, ...]}		every COND holds (empty list: TRUE)
 *	{"any": [COND, ...]}		at least one holds (empty list: FALSE)
 *	{"field": F, "op": OP, "value": V}
 *
 * where a COND is itself one of the three forms (nesting up to
 * FILTER_MAX_DEPTH levels), F names a column of the table, and OP is one of
 * = != < <= > >= (V a scalar), in not_in (V a non-empty array), like ilike
 * (V a string, the field a string column), between (V [low, high]),
 * is_null not_null (no V).  A JSON null is never a value: use is_null.
 * A LIKE pattern may not end with its escape character (a lone trailing
 * backslash), which PostgreSQL would only reject when the view is read.
 *
 * NOTES
 *   No part of a parameter is pasted into SQL as text.  Every field is looked
 *   up in pg_attribute and quoted with PQescapeIdentifier; every value is
 *   checked by the server against the column's type with a bound parameter
 *   (so "2024-02-30" for a date column fails with a message naming the
 *   field), then written as PQescapeLiteral(value)::type, where type is
 *   format_type(atttypid, NULL) from the catalog (no typmod: a varchar(3)
 *   cast would truncate the value and change the comparison).  The result can
 *   therefore live in a view, which cannot hold bind parameters.
 *   Errors name the parameter and the path of the offending node, e.g.
 *   filter.all[2].value: "pop" is integer; expected a number.
 */
#ifndef GW_FILTER_H
#define GW_FILTER_H

#include <libpq-fe.h>
#include <jansson.h>

#include "gwworker.h"
#include "gis/table.h"

#define FILTER_MAX_DEPTH	16	/* nesting of all / any */
#define FILTER_MAX_NODES	10000	/* conditions and values, all told */

/*
 * filter_resolve_table: gw_table_resolve() for a filter's table, with the
 * message for a name that is not there ("input: no table or view \"x\" in
 * schema \"public\"").  Returns 0, or -1 after a job error; release t with
 * gw_table_free() in either case.
 */
int	 filter_resolve_table(struct gw_job *, const char *param,
	    const char *name, struct gw_table *t);

/*
 * filter_sql: checks the JSON filter (NULL or JSON null: no filter) against
 * the columns of schema.table and stores in *out a new (malloc'ed) SQL
 * boolean expression, fully parenthesised, "TRUE" for no filter.  Column
 * references are qualified with qualifier (already quoted, e.g. "src"), or
 * bare when it is NULL.  param names the parameter in error messages
 * ("filter", "clip_filter").  Returns 0, or -1 with a job error naming
 * param, the node and what was expected; *out is then NULL.  Statements run
 * on conn (the job's transaction: they only read the catalog).
 */
int	 filter_sql(struct gw_job *, PGconn *conn, const char *schema,
	    const char *table, json_t *filter, const char *param,
	    const char *qualifier, char **out);

/* The same against an already resolved table (no catalog round trip). */
int	 filter_sql_table(struct gw_job *, PGconn *conn,
	    const struct gw_table *, json_t *filter, const char *param,
	    const char *qualifier, char **out);

#endif

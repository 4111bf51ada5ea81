/*
 * table.h: the one model of a table in the job programs: a relation named by
 * a parameter, found in the catalog, with its columns as the catalog spells
 * and types them.  Filters (gis/filter.h) and create_view work on a
 * gw_table; a layer (gis/layer.h) is a gw_table whose geometry column, SRID
 * and id column have been worked out.
 *
 * NOTES
 *   One catalog query path: the relation by name, then its columns, both
 *   with bound parameters on job->conn in the job's transaction.  Only the
 *   catalog's spelling of a name, quoted (gis/quote.h), ever reaches SQL.
 *   input_schemas is checked on the schema the catalog resolved.
 *   Functions return 0, or -1 after gw_job_error() named the parameter.
 */
#ifndef GW_TABLE_H
#define GW_TABLE_H

#include <stddef.h>

#include "gwworker.h"

/* A column of a table, as the catalog spells and types it. */
struct gw_column {
	char		*name;		/* attname, unquoted */
	char		*type;		/* format_type(atttypid, atttypmod) */
	char		*casttype;	/* format_type(atttypid, NULL): for casts,
					 * which a typmod would truncate */
	unsigned int	 typid;		/* atttypid */
	char		 category;	/* pg_type.typcategory, of the base type
					 * for a domain */
	int		 attnum;
	int		 numeric;	/* int2/4/8, float4/8, numeric */
	int		 binary;	/* the type has binary send/receive */
	int		 geometry;	/* PostGIS geometry (not a domain) */
	int		 srid;		/* geometry: the typmod's SRID, else 0 */
	char		*geomtype;	/* geometry: the typmod's type
					 * ("PolygonZ"), else "GEOMETRY" */
};

struct gw_table {
	char		 *schema;	/* nspname, unquoted */
	char		 *table;	/* relname, unquoted */
	char		 *qualified;	/* "schema"."table", quoted for SQL */
	unsigned int	  relid;	/* pg_class oid */
	char		  relkind;	/* r v m p f */
	struct gw_column *columns;	/* every live column, attnum order */
	int		  ncolumns;
};

/*
 * gw_table_resolve: finds the table, view, materialized view, partitioned
 * or foreign table name ("schema.table", or "table" looked up in the
 * search_path) given by parameter param, and loads it into *t.  Returns 0,
 * 1 when there is no such relation (no job error: the caller words it), or
 * -1 after a job error (an empty or too long name, input_schemas, the
 * server).  Release t with gw_table_free() in every case.
 */
int	 gw_table_resolve(struct gw_job *, const char *param, const char *name,
	    struct gw_table *t);

/* The same for a schema (NULL: the search_path) and table given apart. */
int	 gw_table_lookup(struct gw_job *, const char *param, const char *schema,
	    const char *table, struct gw_table *t);

void	 gw_table_free(struct gw_table *);
void	 gw_column_free(struct gw_column *);

/* The column named name (exact, case-sensitive match), or NULL. */
const struct gw_column *gw_table_column(const struct gw_table *,
	    const char *name);

#endif

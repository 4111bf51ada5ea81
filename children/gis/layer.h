/*
 * layer.h: a layer: a table (gis/table.h) named by a parameter ("input",
 * "clip", "near", ...) with what the geometry programs need to know of it:
 * its geometry column, geometry type, SRID and that CRS's kind and unit, its
 * id column, and its other columns.
 *
 * NOTES
 *   Functions return 0 on success and -1 after gw_job_error() said why, in
 *   words naming the parameter ("input: table \"x\" does not exist").
 *   Identifiers from parameters are looked up in the catalog and only the
 *   catalog's spelling, quoted (gis/quote.h), reaches SQL.
 */
#ifndef GW_LAYER_H
#define GW_LAYER_H

#include <stddef.h>

#include <jansson.h>

#include "gwworker.h"
#include "gis/geom.h"
#include "gis/table.h"

/* The schema, table, qualified name, relid and columns are the gw_table's
 * that gw_table_resolve() found, taken over by the layer. */
struct gw_layer {
	const char	*param;		/* the parameter it came from: "input" */
	char		*schema;
	char		*table;
	char		*qualified;	/* "schema"."table", quoted for SQL */
	unsigned int	 relid;		/* pg_class oid */
	char		*geom_column;
	char		*geom_type;	/* POLYGON, MULTIPOLYGON, GEOMETRY, ... */
	int		 dim;		/* GW_DIM_* from geom_type */
	int		 srid;		/* 0 if the column is not constrained */
	int		 geographic;	/* the CRS is geographic (degrees) */
	double		 to_metre;	/* linear unit to metres (1 if geographic) */
	char		*id_column;	/* NULL: none given and no 1-column pkey */
	int		 id_index;	/* in columns[], or -1 */
	int		 id_pkey;	/* the id column is the primary key */
	struct gw_column *columns;	/* every column except the geometry ones */
	int		 ncolumns;
};

/*
 * gw_layer_resolve: describe table name (schema.table or table, looked up
 * with the search_path) given by parameter param.  geom_column NULL: the
 * table's only geometry column; id_column NULL: the single-column primary key
 * if any (else none).  Errors name param, or "geometry_column"/"id_column".
 * On success *out is a new layer for gw_layer_free().
 */
int	 gw_layer_resolve(struct gw_job *, const char *param, const char *name,
	    const char *geom_column, const char *id_column, struct gw_layer **out);
void	 gw_layer_free(struct gw_layer *);

/* For the programs whose features need an id (an output row names its
 * feature): fails, naming idparam, when layer has no id column. */
int	 gw_layer_need_id(struct gw_job *, const struct gw_layer *,
	    const char *idparam);

/* Index of column name in layer->columns, or -1. */
int	 gw_layer_column(const struct gw_layer *, const char *name);

/*
 * gw_layer_columns: look up fields (a JSON array of strings, the parameter
 * param) in the layer; *idx gets a new array of *n column indexes (free()
 * it).  A missing column or a non-string fails with a message naming param.
 */
int	 gw_layer_columns(struct gw_job *, const struct gw_layer *,
	    const char *param, json_t *fields, int **idx, size_t *n);

/* Number of rows of layer matching where (NULL: all). */
int	 gw_layer_count(struct gw_job *, const struct gw_layer *,
	    const char *where, long long *out);

#endif

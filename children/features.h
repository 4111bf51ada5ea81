/*
 * features.h: the feature I/O every vector job program shares.
 *
 * Reading: gw_layer_resolve() checks a table parameter ("input", "clip",
 * "near", ...) against the catalog and describes it (schema, table, geometry
 * column, id column, SRID, geometry type, CRS kind, unit); gw_layer_read()
 * streams its features, each as an id (text), a GEOS geometry and chosen
 * attribute columns (text, typed by the layer's column list), through a
 * callback.  Writing: gw_output_create() makes the output table in the
 * configured output_schema, gw_output_row() queues a row for COPY,
 * gw_output_finish() sends what is left, adds the GiST index and ANALYZEs.
 * Everything runs in the job's transaction (job->conn), so the output commits
 * together with the job's 'completed' status or not at all.
 *
 * Also here: GeoJSON parameters to GEOS, PROJ transforms between SRIDs, a
 * centroid helper and the GEOS context with its error message.
 *
 * NOTES
 *   Functions return 0 on success and -1 after gw_job_error() said why, in
 *   words naming the parameter ("input: table \"x\" does not exist"), unless
 *   their comment says otherwise.
 *   Identifiers from parameters are looked up in the catalog and only the
 *   catalog's spelling, quoted with PQescapeIdentifier, reaches SQL; values
 *   are bound as parameters.
 *   One GEOS context per process (gw_geos()); its notice and error handlers
 *   keep the last message for gw_geos_error().  Child processes are single
 *   threaded.
 *   Include this file as "features.h" from the children/ sources and never put
 *   children/ on the include path (-I): its name would shadow glibc's own
 *   <features.h>.
 *   Outputs are 2D (Z and M are dropped when written); invalid geometries
 *   are repaired with GEOSMakeValid when asked and counted.
 */
#ifndef GW_FEATURES_H
#define GW_FEATURES_H

#include <libpq-fe.h>
#include <jansson.h>
#define GEOS_USE_ONLY_R_API
#include <geos_c.h>

#include "gwworker.h"

/* Geometry dimension of a layer: what its geometry type says. */
#define GW_DIM_UNKNOWN	-1	/* GEOMETRY, GEOMETRYCOLLECTION, mixed */
#define GW_DIM_POINT	0
#define GW_DIM_LINE	1
#define GW_DIM_POLYGON	2

/* A column of a layer, as the catalog spells and types it. */
struct gw_column {
	char		*name;		/* attname */
	char		*type;		/* format_type(atttypid, atttypmod) */
	unsigned int	 typid;		/* atttypid */
	int		 numeric;	/* int2/4/8, float4/8, numeric */
	int		 binary;	/* the type has binary send/receive */
};

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
	struct gw_column *columns;	/* every column except the geometry one */
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

/* Index of column name in layer->columns, or -1. */
int	 gw_layer_column(const struct gw_layer *, const char *name);

/*
 * gw_layer_columns: look up fields (a JSON array of strings, the parameter
 * param) in the layer; *idx gets a new array of *n column indexes (free()
 * it).  A missing column or a non-string fails with a message naming param.
 */
int	 gw_layer_columns(struct gw_job *, const struct gw_layer *,
	    const char *param, json_t *fields, int **idx, size_t *n);

/* A feature handed to a gw_feature_fn. */
struct gw_feature {
	long long	  seq;		/* 0, 1, ... in reading order */
	const char	 *id;		/* id column as text; NULL if none/NULL */
	GEOSGeometry	 *geom;		/* the callback may take it: set NULL */
	const char *const *values;	/* the asked columns as text (binary
					 * with gw_read.binary); NULL = NULL */
	const int	 *lengths;	/* their sizes in bytes */
	int		  nvalues;
};

/* Returns 0 to go on, -1 to stop the read (after gw_job_error()). */
typedef int (*gw_feature_fn)(struct gw_job *, struct gw_feature *, void *arg);

#define GW_MAX_ENVELOPES	16

struct gw_read {
	const int	*columns;	/* indexes into layer->columns, or NULL */
	int		 ncolumns;
	const char	*where;		/* SQL boolean expression (filter_sql()
					 * output, built from the catalog), or NULL */
	int		 order_by_id;	/* ORDER BY the id column (first/last) */
	int		 to_srid;	/* transform to this SRID; 0: keep */
	int		 repair;	/* GEOSMakeValid invalid geometries */
	int		 keep_empty;	/* hand NULL/empty geometries as NULL geom */
	int		 prefetch;	/* fetch the next batch while the callback
					 * works: it may then run no SQL but
					 * gw_output_row*() (whose flushes wait) */
	int		 nenvelopes;	/* > 0: only features whose bounding box
					 * meets one of these (layer's SRID) */
	double		 envelopes[GW_MAX_ENVELOPES][4];	/* xmin ymin xmax ymax */
	int		 binary;	/* values in the types' binary send format
					 * (all columns must have .binary), for
					 * gw_output_row_raw(); else text */
	double		 progress_from;	/* gw_progress() range while reading */
	double		 progress_to;	/* (equal: no progress reports) */
	/* Filled by gw_layer_read(): */
	long long	 nread;		/* rows read */
	long long	 nrepaired;	/* invalid geometries repaired */
	long long	 nskipped;	/* NULL or empty geometries skipped */
};

/*
 * gw_layer_read: stream the features of layer (a cursor fetched in binary
 * batches, so that the connection is free between batches and the callback
 * may write output) and call fn for each.  The geometry is the callback's
 * to take (set f->geom = NULL), otherwise it is destroyed after the call.
 */
int	 gw_layer_read(struct gw_job *, const struct gw_layer *, struct gw_read *,
	    gw_feature_fn fn, void *arg);

/* Number of rows of layer matching where (NULL: all). */
int	 gw_layer_count(struct gw_job *, const struct gw_layer *,
	    const char *where, long long *out);

/* An output column: name (any text, quoted here) and SQL type.  The type is
 * pasted into SQL: it must come from the catalog (gw_column.type) or be a
 * constant of the program, never from a parameter. */
struct gw_colspec {
	const char	*name;
	const char	*type;
};

struct gw_output;

/*
 * gw_output_name: the "output" parameter (default <job_type>_<job id>) and
 * "overwrite" (default false).  The name must be a plain identifier of at
 * most 63 bytes (it is quoted anyway).  *name points into the job's params
 * or into buf.
 */
int	 gw_output_name(struct gw_job *, char *buf, size_t bufsz,
	    const char **name, int *overwrite);

/*
 * gw_output_create: create table name in job->settings->output_schema with
 * cols then a geometry column geom_column of geometry(geom_type, srid).  An
 * existing table is refused unless overwrite (then dropped; a view or other
 * relation of that name is always refused).  Duplicate column names are
 * refused with a message naming them.  *out is for gw_output_finish() or
 * gw_output_free().
 */
int	 gw_output_create(struct gw_job *, const char *name, int overwrite,
	    const struct gw_colspec *cols, int ncols, const char *geom_column,
	    const char *geom_type, int srid, struct gw_output **out);

/*
 * gw_output_row: queue one row: ncols text values (NULL: SQL NULL; text
 * input syntax of the column's type) and the geometry (NULL: SQL NULL; not
 * taken, the caller still owns it).  Flushed with COPY every megabyte; must
 * not be called while another COPY is in progress on the connection.
 */
int	 gw_output_row(struct gw_job *, struct gw_output *,
	    const char *const *values, const GEOSGeometry *geom);

/*
 * gw_output_binary: switch out (before its first row) to binary COPY, whose
 * rows are given with gw_output_row_raw(): values in the binary send format
 * of their columns' types (as gw_layer_read() gives them with .binary set),
 * lengths[i] their sizes.  Faster: the server parses no text.
 */
void	 gw_output_binary(struct gw_output *);
int	 gw_output_row_raw(struct gw_job *, struct gw_output *,
	    const char *const *values, const int *lengths,
	    const GEOSGeometry *geom);

/*
 * gw_output_copy_rows: append to out, inside the server, the rows of layer
 * whose primary key (layer->id_pkey) is one of ids[0..n-1] (text): every
 * column as it is and the geometry 2D (and Multi* if out is), with no
 * round trip of their data.  out's columns must be the layer's, in order.
 * For features that go to the output unchanged.
 */
int	 gw_output_copy_rows(struct gw_job *, struct gw_output *,
	    const struct gw_layer *layer, const char *const *ids, size_t n);

/* Flush, CREATE INDEX ... USING gist, ANALYZE, free out.  *nrows (may be
 * NULL) gets the number of rows written.  out is freed even on failure. */
int	 gw_output_finish(struct gw_job *, struct gw_output *, long long *nrows);
void	 gw_output_free(struct gw_output *);
/* schema.table of the output as text (not quoted), for the result; valid
 * until gw_output_finish() or gw_output_free(). */
const char *gw_output_fullname(const struct gw_output *);

/* The process's GEOS context (created on first use) and its last error or
 * notice message ("" if none). */
GEOSContextHandle_t gw_geos(void);
const char *gw_geos_error(void);

/*
 * gw_geom_repair: if *g is invalid, replace it with GEOSMakeValid's result
 * and add 1 to *nrepaired.  Returns -1 (job error naming what) if GEOS fails.
 */
int	 gw_geom_repair(struct gw_job *, GEOSGeometry **g, long long *nrepaired,
	    const char *what);

/*
 * gw_geom_quick_valid: 1 if g is certainly valid by a cheap exact test (a
 * small polygon without holes whose ring is certainly simple), 0 if it
 * cannot tell.  gw_geom_repair() tries it before GEOSisValid.
 */
int	 gw_geom_quick_valid(GEOSContextHandle_t, const GEOSGeometry *g);

/*
 * gw_geom_extract: a new geometry holding only the parts of g of dimension
 * dim (GW_DIM_*), as a Multi* (or an empty one), NULL if GEOS fails.
 */
GEOSGeometry *gw_geom_extract(GEOSContextHandle_t, const GEOSGeometry *g,
	    int dim);

/*
 * gw_union: the union of geoms[0..n-1], which it takes (destroys) whatever
 * happens.  Polygons are first merged as a coverage (GEOSCoverageUnion_r,
 * much faster for adjacent, non-overlapping polygons such as counties); that
 * result is kept only if GEOS accepted the input, the result is valid and its
 * area equals the sum of the input areas (no overlap), else the general
 * GEOSUnaryUnion_r runs.  A single valid (multi)polygon is returned as it
 * is.  *coverage (may be NULL) is 1 if the general union was not needed.
 * Returns a new geometry with the SRID of geoms[0], or NULL after a job
 * error.
 */
GEOSGeometry *gw_union(struct gw_job *, GEOSGeometry **geoms, size_t n,
	    int *coverage);

/* Centroid of g in *x, *y (a point on the surface when the centroid is
 * empty); -1 for an empty geometry or a GEOS failure. */
int	 gw_centroid(GEOSContextHandle_t, const GEOSGeometry *g, double *x,
	    double *y);

/* PROJ: a transformation from one SRID to another (spatial_ref_sys looked up
 * as auth_name:auth_srid, else srtext, else proj4text), x = easting or
 * longitude whatever the CRS's axis order. */
struct gw_transform;
int	 gw_transform_new(struct gw_job *, int from_srid, int to_srid,
	    struct gw_transform **out);
void	 gw_transform_free(struct gw_transform *);
/* A new geometry: g transformed, with SRID to_srid; NULL after a job error
 * (a point outside the CRS's domain, say). */
GEOSGeometry *gw_transform_geom(struct gw_job *, struct gw_transform *,
	    const GEOSGeometry *g);
/* Transform n points in place. */
int	 gw_transform_points(struct gw_job *, struct gw_transform *, double *x,
	    double *y, size_t n);

/*
 * gw_crs_info: whether srid is geographic and the factor from its linear
 * unit to metres (1 for geographic), from PROJ.
 */
int	 gw_crs_info(struct gw_job *, int srid, int *geographic,
	    double *to_metre);

/* The same from a PROJ.4 string (spatial_ref_sys.proj4text): 0 if the
 * string tells (+proj=longlat, +units=, +to_meter=), 1 if PROJ must. */
int	 gw_crs_from_proj4(const char *proj4, int *geographic,
	    double *to_metre);

/*
 * gw_geojson_geometry: a GEOS geometry from the GeoJSON value geojson (a
 * geometry, Feature or FeatureCollection; object or string) given by
 * parameter param, in CRS from_srid, transformed to to_srid (0: keep), and
 * repaired if invalid (*nrepaired, may be NULL).
 */
int	 gw_geojson_geometry(struct gw_job *, const char *param, json_t *geojson,
	    int from_srid, int to_srid, long long *nrepaired, GEOSGeometry **out);

/* The text form of a geometry type name for a dimension and multi flag:
 * "MultiPolygon", "LineString", ... ("Geometry" for GW_DIM_UNKNOWN). */
const char *gw_geom_typename(int dim, int multi);

#endif

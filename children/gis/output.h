/*
 * output.h: the one COPY writer: gw_output_create() makes the output table
 * in the configured output_schema, gw_output_row() queues a row for COPY,
 * gw_output_finish() sends what is left, adds the GiST index and ANALYZEs.
 *
 * NOTES
 *   Everything runs in the job's transaction (job->conn), so the output
 *   commits together with the job's 'completed' status or not at all.
 *   Outputs are 2D (Z and M are dropped when written).  Functions return 0,
 *   or -1 after gw_job_error() said why.
 */
#ifndef GW_OUTPUT_H
#define GW_OUTPUT_H

#include <stddef.h>

#include "gwworker.h"
#include "gis/geom.h"
#include "gis/layer.h"

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
 * or into buf.  The name is locked for the job (gw_job_lock_output): a
 * second running job with the same output fails here.
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

/*
 * An output table without geometry, for the figures that go with a layer
 * (one row per location and time step, say):
 *
 * gw_output_create_table: like gw_output_create() (the same name rules,
 * overwrite and messages) for a table of cols only; a type may carry a
 * column constraint ("integer NOT NULL").
 * gw_output_values: queue one row of ncols text values (NULL: SQL NULL),
 * flushed with COPY as gw_output_row() does.
 * gw_output_finish_table: flush, add the primary key of the nkey columns
 * named in key (none if nkey is 0), ANALYZE, free out (even on failure);
 * *nrows (may be NULL) gets the number of rows written.
 *
 * Such an output takes no gw_output_row*(), gw_output_copy_rows() or
 * gw_output_finish(): they write a geometry.
 */
int	 gw_output_create_table(struct gw_job *, const char *name,
	    int overwrite, const struct gw_colspec *cols, int ncols,
	    struct gw_output **out);
int	 gw_output_values(struct gw_job *, struct gw_output *,
	    const char *const *values);
int	 gw_output_finish_table(struct gw_job *, struct gw_output *,
	    const char *const *key, int nkey, long long *nrows);

#endif

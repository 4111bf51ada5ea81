/*
 * cursor.h: the one cursor reader: gw_layer_read() streams the features of
 * a layer, each as an id (text), a GEOS geometry and chosen attribute
 * columns, through a callback.
 *
 * NOTES
 *   A NO SCROLL cursor fetched in binary batches on job->conn, inside the
 *   job's transaction; between batches the connection is idle, so that a
 *   callback may write output (gis/output.h) while the read goes on.  With
 *   prefetch, the next FETCH is in flight while the callback works, and a
 *   COPY must wait: gw_cursor_busy() and gw_cursor_defer() are for the COPY
 *   writer, not for job programs.
 */
#ifndef GW_CURSOR_H
#define GW_CURSOR_H

#include "gwworker.h"
#include "gis/geom.h"
#include "gis/layer.h"

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

/*
 * For the COPY writer: gw_cursor_busy() is 1 while a prefetched FETCH holds
 * the connection; gw_cursor_defer() leaves flush(job, arg) for the reader to
 * run as soon as the batch has arrived (one flush at most, a second call
 * replaces it); gw_cursor_undefer(arg) forgets it if it was arg's.
 */
typedef int (*gw_flush_fn)(struct gw_job *, void *arg);
int	 gw_cursor_busy(void);
void	 gw_cursor_defer(gw_flush_fn flush, void *arg);
void	 gw_cursor_undefer(void *arg);

/*
 * Values of a binary read (gw_read.binary), by their column's type
 * (gw_column.typid):
 *
 * gw_value_double: an int2, int4, int8, float4, float8 or numeric value as
 * value::float8 gives it (numeric NaN and infinities as NAN, +-INFINITY).
 * gw_value_epoch: a date, timestamp or timestamptz value as seconds since
 * 1970-01-01 00:00 UTC, as extract(epoch FROM value::timestamptz) gives it
 * with TimeZone UTC (a timestamp and a date are read as UTC; infinities as
 * +-INFINITY).
 * Both return 0, or -1 if the type is none of these or the value is not
 * its binary format (a NULL: v == NULL); they set no job error.
 */
int	 gw_value_double(unsigned int typid, const char *v, int len,
	    double *out);
int	 gw_value_epoch(unsigned int typid, const char *v, int len,
	    double *out);

#endif

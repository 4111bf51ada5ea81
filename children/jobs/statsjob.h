/*
 * statsjob.h: what the local statistics job programs (hotspot_analysis,
 * outlier_analysis) share between reading their parameters and writing
 * their output: the common parameters, the features with their field
 * values, and the spatial weights built over them.
 *
 * NOTES
 *   Features whose field is NULL stay in the output, with NULL statistics,
 *   and are counted (null_values); they take no part in the analysis.
 *   Features with a NULL or empty geometry are skipped by the reader and
 *   counted (skipped_geometries).  Invalid geometries are repaired for the
 *   analysis (centroids, contiguity) and counted; the output keeps the
 *   geometry as read.  Functions return 0, or -1 after gw_job_error().
 */
#ifndef GW_STATSJOB_H
#define GW_STATSJOB_H

#include "gis/cursor.h"
#include "gis/geom.h"
#include "gis/layer.h"
#include "gis/output.h"
#include "gis/weights.h"

/* The parameters every local statistic takes, for gw_param_check_keys. */
#define GW_SJOB_KEYS	"input", "geometry_column", "id_column", "output", \
	"overwrite", "field", "conceptualization", "distance", "k", "fdr", \
	"snap"

/*
 * Features of a layer kept in memory, for the programs that need them all
 * before their first output row: id as text, geometry as read, and a point
 * each (the point itself, or a centroid).
 */
struct gw_fset {
	const struct gw_layer *l;
	size_t		 n;
	size_t		 cap;
	char		**ids;
	GEOSGeometry	**geoms;
	double		*x;
	double		*y;
	size_t		 nnotpoint;	/* geometries that are not one point */
};

/* gw_fset_add: keeps feature f as fs->n - 1: its id (a NULL id fails,
 * naming the layer's parameter) and its geometry (taken: f->geom is set
 * NULL).  The point is gw_fset_point()'s to set. */
int	 gw_fset_add(struct gw_job *, struct gw_fset *, struct gw_feature *f);

/* The point of feature i: its geometry's own for a point, else the centroid
 * of g (NULL: of its geometry). */
int	 gw_fset_point(struct gw_job *, struct gw_fset *, size_t i,
	    const GEOSGeometry *g);
void	 gw_fset_free(struct gw_fset *);

struct gw_sjob {
	struct gw_layer	*layer;
	int		 field;		/* index in layer->columns */
	enum gw_concept	 concept;
	double		 distance;	/* the parameter, m; 0: default */
	long long	 k;
	int		 fdr;
	double		 snap;		/* contiguity tolerance, layer units */
	const char	*output;	/* output table name */
	int		 overwrite;
	char		 outbuf[128];

	struct gw_fset	 fs;		/* features read, centroids of the
					 * repaired geometries */
	size_t		 cap;		/* of val and ageoms */
	double		*val;		/* NAN where the field is NULL */
	GEOSGeometry	**ageoms;	/* repaired, for contiguity */

	size_t		 nv;		/* features in the analysis */
	uint32_t	*vmap;		/* analysis index -> feature index */
	double		*x;		/* field values of the analysis */
	struct gw_nbr	 nb;		/* over the analysis, self excluded */
	double		 band;		/* distance band used, m (0: none) */
	size_t		 nisolated;	/* analysis features with no neighbour */
	size_t		 nsnapped;	/* contiguity pairs found only by snap */
	long long	 nrepaired;
	long long	 nskipped;
	long long	 nnull;
	uint64_t	 ms_read;	/* time spent reading the input */
	uint64_t	 ms_weights;	/* building the weights */
};

/* Reads and checks the common parameters and resolves the input layer and
 * the field (which must be numeric). */
int	 gw_sjob_init(struct gw_job *, struct gw_sjob *);

/* Reads the features (progress from 0 to 0.4) and builds the weights
 * (to 0.5).  Fails when fewer than 3 features have a value, or the field is
 * constant. */
int	 gw_sjob_load(struct gw_job *, struct gw_sjob *);

/*
 * gw_sjob_write: the output table of a local statistic: the layer's id
 * column, then the nstats columns of stats (at most GW_SJOB_MAXSTATS), then
 * the geometry; a row per feature.  For the j-th feature with a value,
 * row(arg, j, vals) fills vals[0..nstats-1] (they start NULL: SQL NULL);
 * the others have NULL statistics.  Progress goes from `from` to 0.95.
 * outname gets the output's schema.table.  Returns 0, or -1 after a job
 * error.
 */
#define GW_SJOB_MAXSTATS	8
typedef void (*gw_sjob_row_fn)(void *arg, size_t j, const char **vals);
int	 gw_sjob_write(struct gw_job *, struct gw_sjob *,
	    const struct gw_colspec *stats, int nstats, gw_sjob_row_fn row,
	    void *arg, double from, char *outname, size_t outlen);

/*
 * What a local statistic does between gw_sjob_load() and its result, for
 * gw_sjob_run(): compute(job, arg) the statistic; write the output from
 * progress write_from with ncols columns cols, filled by row (see
 * gw_sjob_write); result(arg, r) adds the statistic's own keys to the
 * job's result r (0, or -1 when out of memory).
 */
struct gw_sjob_stat {
	int		(*compute)(struct gw_job *, void *arg);
	const struct gw_colspec *cols;
	int		 ncols;
	gw_sjob_row_fn	 row;
	double		 write_from;
	int		(*result)(void *arg, json_t *r);
};

/* Computes, writes and makes the result of a loaded statistic: output,
 * field, the statistic's keys, then gw_sjob_result()'s, in *result. */
int	 gw_sjob_run(struct gw_job *, struct gw_sjob *,
	    const struct gw_sjob_stat *, void *arg, json_t **result);

/* Formats a double for COPY: NULL (SQL NULL) for NAN. */
const char *gw_sjob_fmt(char *buf, size_t len, double v);

/* Adds what every result holds (feature counts, weights, band) to result,
 * with "phase_ms": read and weights from sj, statistic and write given. */
int	 gw_sjob_result(struct gw_sjob *, json_t *result, uint64_t ms_stat,
	    uint64_t ms_write);

void	 gw_sjob_free(struct gw_sjob *);

/* The output geometry type for a layer's features: Point for a POINT
 * layer, the Multi* of its dimension otherwise, Geometry when mixed. */
const char *gw_layer_outtype(const struct gw_layer *);

/* The metric of a layer: planar unit, or geographic with the ellipsoid of
 * its SRID (from PROJ; WGS 84 when the layer has no SRID). */
int	 gw_layer_metric(struct gw_job *, const struct gw_layer *,
	    struct gw_metric *);

#endif

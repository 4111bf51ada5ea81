/*
 * outlier_analysis.c: the outlier_analysis job program, Anselin Local
 * Moran's I (doc/outlier_analysis.md).
 *
 * Reads the input's features and field, builds the spatial weights
 * (statsjob.c), row-standardizes them unless told not to, and computes every
 * feature's Local Moran's I, its z-score under total randomization and its
 * p-value: analytic when permutations is 0, else the conditional permutation
 * pseudo p-value (stats.c).  A feature significant at 0.05 (or at the
 * Benjamini-Hochberg threshold for 0.05 when fdr is set) gets its cluster
 * or outlier type: HH, LL (clusters), HL, LH (outliers).
 *
 * NOTES
 *   The permutations are reproducible: the same seed gives the same pseudo
 *   p-values (the default seed is fixed, not drawn from the clock).
 *   Everything runs in the job's transaction: a failure leaves no output.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gis/crs.h"
#include "jobs/statsjob.h"

#define DEFAULT_SEED	12345

static const char *const keys[] = { GW_SJOB_KEYS, "standardization",
	"permutations", "seed", NULL };

static void
perm_progress(void *arg, double f)
{
	struct gw_job	*job = arg;

	gw_progress(job, 0.55 + 0.3 * f, "permutations: %.0f%% done", f * 100);
}

/* The state of one outlier_analysis job. */
struct outlier {
	struct gw_sjob	 sj;
	const char	*stdz;		/* standardization: row or none */
	long long	 nperm, seed;
	double		*I, *z, *p;	/* of the features with a value */
	double		 alpha;		/* significance (FDR-corrected) */
	double		 mean;		/* of the field */
	long long	 counts[4];	/* HH, LL, HL, LH */
	char		 bi[32], bz[32], bp[32], bn[16];
};

static const struct gw_colspec outlier_cols[] = {
	{ "lmi_index", "double precision" },
	{ "lmi_zscore", "double precision" },
	{ "lmi_pvalue", "double precision" },
	{ "co_type", "text" },
	{ "n_neighbors", "integer" },
};

/* Parameters, then the features and their weights. */
static int
outlier_params(struct gw_job *job, struct outlier *o)
{
	int	 rowstd;

	if (gw_param_check_keys(job, keys) == -1 ||
	    gw_param_string(job, "standardization", 0, "row", &o->stdz) == -1 ||
	    gw_param_int(job, "permutations", 499, 0, 9999, &o->nperm) == -1 ||
	    gw_param_int(job, "seed", DEFAULT_SEED, 0, INT64_MAX,
	    &o->seed) == -1)
		return -1;
	if (strcmp(o->stdz, "row") == 0)
		rowstd = 1;
	else if (strcmp(o->stdz, "none") == 0)
		rowstd = 0;
	else
		return gw_job_error(job, "parameter 'standardization' must be "
		    "\"row\" or \"none\"");
	if (gw_sjob_init(job, &o->sj) == -1 || gw_sjob_load(job, &o->sj) == -1)
		return -1;
	if (rowstd)
		gw_nbr_row_standardize(&o->sj.nb);
	return 0;
}

/* Local Moran's I, its p-values (analytic or by permutations) and the
 * significance level. */
static int
outlier_compute(struct gw_job *job, void *arg)
{
	struct outlier	*o = arg;
	struct gw_sjob	*sj = &o->sj;
	size_t		 j;

	if ((o->I = calloc(sj->nv, sizeof(*o->I))) == NULL ||
	    (o->z = calloc(sj->nv, sizeof(*o->z))) == NULL ||
	    (o->p = calloc(sj->nv, sizeof(*o->p))) == NULL)
		return gw_job_error(job, "out of memory");
	if (gw_local_moran(sj->nv, sj->x, &sj->nb, o->I, o->z, o->p) == -1)
		return gw_job_error(job, "Local Moran's I: out of memory");
	if (o->nperm > 0) {
		gw_progress(job, 0.55, "%lld permutations", o->nperm);
		if (gw_local_moran_perm(sj->nv, sj->x, &sj->nb,
		    (unsigned)o->nperm, (uint64_t)o->seed, o->p, perm_progress,
		    job) == -1)
			return gw_job_error(job, "permutations: out of memory");
	}
	o->alpha = 0.05;
	if (sj->fdr && (o->alpha = gw_fdr_threshold(sj->nv, o->p, 0.05)) < 0)
		return gw_job_error(job, "FDR: out of memory");
	for (j = 0; j < sj->nv; j++)
		o->mean += sj->x[j];
	o->mean /= (double)sj->nv;
	gw_progress(job, 0.85, "writing the output");
	return 0;
}

/* The statistics of the j-th feature with a value (gw_sjob_row_fn). */
static void
outlier_row(void *arg, size_t j, const char **vals)
{
	static const char *const types[] = { "HH", "LL", "HL", "LH" };
	struct outlier	*o = arg;
	double		 d;
	int		 t;

	vals[0] = gw_sjob_fmt(o->bi, sizeof(o->bi), o->I[j]);
	vals[1] = gw_sjob_fmt(o->bz, sizeof(o->bz), o->z[j]);
	vals[2] = gw_sjob_fmt(o->bp, sizeof(o->bp), o->p[j]);
	snprintf(o->bn, sizeof(o->bn), "%zu", GW_NBR_COUNT(&o->sj.nb, j));
	vals[4] = o->bn;
	/* The sign of I says cluster or outlier, the sign of the deviation
	 * high or low. */
	if (!isnan(o->p[j]) && o->p[j] <= o->alpha && o->I[j] != 0) {
		d = o->sj.x[j] - o->mean;
		if (o->I[j] > 0)
			t = d > 0 ? 0 : 1;
		else
			t = d > 0 ? 2 : 3;
		o->counts[t]++;
		vals[3] = types[t];
	}
}

/* What the result holds of Local Moran's I (gw_sjob_run() adds the
 * rest). */
static int
outlier_result(void *arg, json_t *r)
{
	struct outlier	*o = arg;
	struct gw_sjob	*sj = &o->sj;

	json_object_set_new(r, "standardization", json_string(o->stdz));
	json_object_set_new(r, "permutations", json_integer(o->nperm));
	json_object_set_new(r, "seed", o->nperm > 0 ? json_integer(o->seed) :
	    json_null());
	json_object_set_new(r, "pvalue", json_string(o->nperm > 0 ?
	    "conditional permutation (pseudo p)" :
	    "analytic (total randomization)"));
	json_object_set_new(r, "significance_pvalue", json_real(o->alpha));
	json_object_set_new(r, "HH", json_integer(o->counts[0]));
	json_object_set_new(r, "LL", json_integer(o->counts[1]));
	json_object_set_new(r, "HL", json_integer(o->counts[2]));
	json_object_set_new(r, "LH", json_integer(o->counts[3]));
	log_info("Local Moran's I on %zu features: %lld HH, %lld LL, %lld HL, "
	    "%lld LH", sj->nv, o->counts[0], o->counts[1], o->counts[2],
	    o->counts[3]);
	return 0;
}

static const struct gw_sjob_stat outlier_stat = {
	outlier_compute, outlier_cols, 5, outlier_row, 0.85, outlier_result
};

static int
run_outlier(struct gw_job *job, json_t **result)
{
	struct outlier	 o;
	int		 rv = -1;

	memset(&o, 0, sizeof(o));
	if (outlier_params(job, &o) == 0)
		rv = gw_sjob_run(job, &o.sj, &outlier_stat, &o, result);
	free(o.I);
	free(o.z);
	free(o.p);
	gw_sjob_free(&o.sj);
	return rv;
}

int
main(int argc, char *argv[])
{
	gw_worker_idle(gw_idle_proj);
	return gw_worker_main(argc, argv, "outlier_analysis", run_outlier);
}

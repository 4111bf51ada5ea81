/*
 * hotspot_analysis.c: the hotspot_analysis job program, Getis-Ord Gi*
 * (doc/hotspot_analysis.md).
 *
 * Reads the input's features and field, builds the spatial weights the
 * parameters ask for (statsjob.c, weights.c), computes every feature's Gi*
 * z-score with the feature among its own neighbours (stats.c), its two-sided
 * p-value and its confidence bin, optionally under a Benjamini-Hochberg false
 * discovery rate, and writes one output row per input feature.
 *
 * NOTES
 *   Features whose field is NULL, and features with no neighbour, get NULL
 *   statistics and are counted in the result.  Everything runs in the job's
 *   transaction: a failure leaves no output table.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gis/crs.h"
#include "jobs/statsjob.h"

static const char *const keys[] = { GW_SJOB_KEYS, NULL };

/* The state of one hotspot_analysis job. */
struct hotspot {
	struct gw_sjob	 sj;
	double		*z, *p;		/* Gi* of the features with a value */
	double		 t90, t95, t99;	/* p-value thresholds of the bins */
	long long	 bins[7];	/* features per bin, -3..3 */
	char		 bz[32], bp[32], bb[8], bn[16];
};

static const struct gw_colspec hotspot_cols[] = {
	{ "gi_zscore", "double precision" },
	{ "gi_pvalue", "double precision" },
	{ "gi_bin", "integer" },
	{ "n_neighbors", "integer" },
};

/* Gi* and the thresholds of its bins (FDR-corrected if asked). */
static int
hotspot_compute(struct gw_job *job, void *arg)
{
	struct hotspot	*h = arg;
	struct gw_sjob	*sj = &h->sj;

	if ((h->z = calloc(sj->nv, sizeof(*h->z))) == NULL ||
	    (h->p = calloc(sj->nv, sizeof(*h->p))) == NULL)
		return gw_job_error(job, "out of memory");
	/* The feature is its own neighbour with weight 1, the largest any
	 * weight can have (inverse distances are capped at 1, see
	 * weights.h). */
	if (gw_gistar(sj->nv, sj->x, &sj->nb, 1.0, h->z, h->p) == -1)
		return gw_job_error(job, "Gi*: out of memory");
	if (sj->fdr) {
		h->t90 = gw_fdr_threshold(sj->nv, h->p, 0.10);
		h->t95 = gw_fdr_threshold(sj->nv, h->p, 0.05);
		h->t99 = gw_fdr_threshold(sj->nv, h->p, 0.01);
		if (h->t90 < 0 || h->t95 < 0 || h->t99 < 0)
			return gw_job_error(job, "FDR: out of memory");
	} else {
		h->t90 = 0.10;
		h->t95 = 0.05;
		h->t99 = 0.01;
	}
	gw_progress(job, 0.6, "Gi* computed; writing the output");
	return 0;
}

/* The statistics of the j-th feature with a value (gw_sjob_row_fn). */
static void
hotspot_row(void *arg, size_t j, const char **vals)
{
	struct hotspot	*h = arg;
	double		 zz = h->z[j], pp = h->p[j];
	int		 bin;

	bin = gw_gi_bin(zz, pp, h->t90, h->t95, h->t99);
	snprintf(h->bn, sizeof(h->bn), "%zu", GW_NBR_COUNT(&h->sj.nb, j));
	vals[3] = h->bn;
	vals[0] = gw_sjob_fmt(h->bz, sizeof(h->bz), zz);
	vals[1] = gw_sjob_fmt(h->bp, sizeof(h->bp), pp);
	if (!isnan(zz)) {
		h->bins[bin + 3]++;
		snprintf(h->bb, sizeof(h->bb), "%d", bin);
		vals[2] = h->bb;
	}
}

/* What the result holds of Gi* (gw_sjob_run() adds the rest). */
static int
hotspot_result(void *arg, json_t *r)
{
	struct hotspot	*h = arg;
	struct gw_sjob	*sj = &h->sj;
	json_t		*jb;

	if ((jb = json_object()) == NULL ||
	    json_object_set_new(r, "bins", jb) == -1)
		return -1;
	json_object_set_new(jb, "hot_99", json_integer(h->bins[6]));
	json_object_set_new(jb, "hot_95", json_integer(h->bins[5]));
	json_object_set_new(jb, "hot_90", json_integer(h->bins[4]));
	json_object_set_new(jb, "not_significant", json_integer(h->bins[3]));
	json_object_set_new(jb, "cold_90", json_integer(h->bins[2]));
	json_object_set_new(jb, "cold_95", json_integer(h->bins[1]));
	json_object_set_new(jb, "cold_99", json_integer(h->bins[0]));
	if (sj->fdr) {
		json_object_set_new(r, "fdr_pvalue_90", json_real(h->t90));
		json_object_set_new(r, "fdr_pvalue_95", json_real(h->t95));
		json_object_set_new(r, "fdr_pvalue_99", json_real(h->t99));
	}
	log_info("Gi* on %zu features: %lld hot, %lld cold (90 %% or more)",
	    sj->nv, h->bins[4] + h->bins[5] + h->bins[6],
	    h->bins[0] + h->bins[1] + h->bins[2]);
	return 0;
}

static const struct gw_sjob_stat hotspot_stat = {
	hotspot_compute, hotspot_cols, 4, hotspot_row, 0.6, hotspot_result
};

static int
run_hotspot(struct gw_job *job, json_t **result)
{
	struct hotspot	 h;
	int		 rv = -1;

	memset(&h, 0, sizeof(h));
	if (gw_param_check_keys(job, keys) == 0 &&
	    gw_sjob_init(job, &h.sj) == 0 && gw_sjob_load(job, &h.sj) == 0)
		rv = gw_sjob_run(job, &h.sj, &hotspot_stat, &h, result);
	free(h.z);
	free(h.p);
	gw_sjob_free(&h.sj);
	return rv;
}

int
main(int argc, char *argv[])
{
	gw_worker_idle(gw_idle_proj);
	return gw_worker_main(argc, argv, "hotspot_analysis", run_hotspot);
}

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

static int
run_outlier(struct gw_job *job, json_t **result)
{
	struct gw_sjob		 sj;
	struct gw_output	*out = NULL;
	struct gw_colspec	 cols[6];
	double			*I = NULL, *z = NULL, *p = NULL, alpha, d, mean = 0;
	const char		*vals[6], *stdz, *type;
	char			 bi[32], bz[32], bp[32], bn[16], outname[256];
	long long		 nperm, seed, nrows, counts[4] = { 0 };
	size_t			 i, j;
	uint64_t		 t0, ms_stat, ms_write;
	json_t			*r = NULL;
	int			 rv = -1, rc, rowstd;

	memset(&sj, 0, sizeof(sj));
	if (gw_param_check_keys(job, keys) == -1 ||
	    gw_param_string(job, "standardization", 0, "row", &stdz) == -1 ||
	    gw_param_int(job, "permutations", 499, 0, 9999, &nperm) == -1 ||
	    gw_param_int(job, "seed", DEFAULT_SEED, 0, INT64_MAX, &seed) == -1)
		goto done;
	if (strcmp(stdz, "row") == 0)
		rowstd = 1;
	else if (strcmp(stdz, "none") == 0)
		rowstd = 0;
	else {
		gw_job_error(job, "parameter 'standardization' must be \"row\" "
		    "or \"none\"");
		goto done;
	}
	if (gw_sjob_init(job, &sj) == -1 || gw_sjob_load(job, &sj) == -1)
		goto done;
	if (rowstd)
		gw_nbr_row_standardize(&sj.nb);

	t0 = now_ms();
	if ((I = calloc(sj.nv, sizeof(*I))) == NULL ||
	    (z = calloc(sj.nv, sizeof(*z))) == NULL ||
	    (p = calloc(sj.nv, sizeof(*p))) == NULL) {
		gw_job_error(job, "out of memory");
		goto done;
	}
	if (gw_local_moran(sj.nv, sj.x, &sj.nb, I, z, p) == -1) {
		gw_job_error(job, "Local Moran's I: out of memory");
		goto done;
	}
	if (nperm > 0) {
		gw_progress(job, 0.55, "%lld permutations", nperm);
		if (gw_local_moran_perm(sj.nv, sj.x, &sj.nb, (unsigned)nperm,
		    (uint64_t)seed, p, perm_progress, job) == -1) {
			gw_job_error(job, "permutations: out of memory");
			goto done;
		}
	}
	alpha = 0.05;
	if (sj.fdr && (alpha = gw_fdr_threshold(sj.nv, p, 0.05)) < 0) {
		gw_job_error(job, "FDR: out of memory");
		goto done;
	}
	for (j = 0; j < sj.nv; j++)
		mean += sj.x[j];
	mean /= (double)sj.nv;
	gw_progress(job, 0.85, "writing the output");
	ms_stat = now_ms() - t0;
	t0 = now_ms();

	cols[0].name = sj.layer->id_column;
	cols[0].type = sj.layer->columns[sj.layer->id_index].type;
	cols[1].name = "lmi_index";
	cols[1].type = "double precision";
	cols[2].name = "lmi_zscore";
	cols[2].type = "double precision";
	cols[3].name = "lmi_pvalue";
	cols[3].type = "double precision";
	cols[4].name = "co_type";
	cols[4].type = "text";
	cols[5].name = "n_neighbors";
	cols[5].type = "integer";
	if (gw_output_create(job, sj.output, sj.overwrite, cols, 6, "geom",
	    gw_layer_outtype(sj.layer), sj.layer->srid, &out) == -1)
		goto done;
	for (i = j = 0; i < sj.n; i++) {
		vals[0] = sj.ids[i];
		for (rc = 1; rc < 6; rc++)
			vals[rc] = NULL;
		if (j < sj.nv && sj.vmap[j] == i) {
			vals[1] = gw_sjob_fmt(bi, sizeof(bi), I[j]);
			vals[2] = gw_sjob_fmt(bz, sizeof(bz), z[j]);
			vals[3] = gw_sjob_fmt(bp, sizeof(bp), p[j]);
			snprintf(bn, sizeof(bn), "%zu", GW_NBR_COUNT(&sj.nb, j));
			vals[5] = bn;
			/* The sign of I says cluster or outlier, the sign
			 * of the deviation high or low. */
			if (!isnan(p[j]) && p[j] <= alpha && I[j] != 0) {
				d = sj.x[j] - mean;
				if (I[j] > 0)
					rc = d > 0 ? 0 : 1;
				else
					rc = d > 0 ? 2 : 3;
				type = (const char *[]){ "HH", "LL", "HL",
				    "LH" }[rc];
				counts[rc]++;
				vals[4] = type;
			}
			j++;
		}
		if (gw_output_row(job, out, vals, sj.geoms[i]) == -1)
			goto done;
		if ((i & 4095) == 4095)
			gw_progress(job, 0.85 + 0.1 * (double)i / (double)sj.n,
			    "%zu of %zu rows written", i + 1, sj.n);
	}
	gw_progress(job, 0.95, "indexing the output");
	snprintf(outname, sizeof(outname), "%s", gw_output_fullname(out));
	rc = gw_output_finish(job, out, &nrows);
	out = NULL;	/* freed by gw_output_finish, even on failure */
	if (rc == -1)
		goto done;
	ms_write = now_ms() - t0;

	if ((r = json_object()) == NULL) {
		gw_job_error(job, "out of memory");
		goto done;
	}
	json_object_set_new(r, "output", json_string(outname));
	json_object_set_new(r, "field",
	    json_string(sj.layer->columns[sj.field].name));
	json_object_set_new(r, "standardization", json_string(stdz));
	json_object_set_new(r, "permutations", json_integer(nperm));
	json_object_set_new(r, "seed", nperm > 0 ? json_integer(seed) :
	    json_null());
	json_object_set_new(r, "pvalue", json_string(nperm > 0 ?
	    "conditional permutation (pseudo p)" :
	    "analytic (total randomization)"));
	json_object_set_new(r, "significance_pvalue", json_real(alpha));
	json_object_set_new(r, "HH", json_integer(counts[0]));
	json_object_set_new(r, "LL", json_integer(counts[1]));
	json_object_set_new(r, "HL", json_integer(counts[2]));
	json_object_set_new(r, "LH", json_integer(counts[3]));
	if (gw_sjob_result(&sj, r, ms_stat, ms_write) == -1) {
		gw_job_error(job, "out of memory");
		goto done;
	}
	log_info("Local Moran's I on %zu features: %lld HH, %lld LL, %lld HL, "
	    "%lld LH", sj.nv, counts[0], counts[1], counts[2], counts[3]);
	*result = r;
	r = NULL;
	rv = 0;
 done:
	json_decref(r);
	gw_output_free(out);
	free(I);
	free(z);
	free(p);
	gw_sjob_free(&sj);
	return rv;
}

int
main(int argc, char *argv[])
{
	return gw_worker_main(argc, argv, "outlier_analysis", run_outlier);
}

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

#include "jobs/statsjob.h"

static const char *const keys[] = { GW_SJOB_KEYS, NULL };

static int
run_hotspot(struct gw_job *job, json_t **result)
{
	struct gw_sjob		 sj;
	struct gw_output	*out = NULL;
	struct gw_colspec	 cols[5];
	double			*z = NULL, *p = NULL, t90, t95, t99, zz, pp;
	const char		*vals[5];
	char			 bz[32], bp[32], bb[8], bn[16], outname[256];
	long long		 bins[7] = { 0 }, nrows;
	size_t			 i, j;
	uint64_t		 t0, ms_stat, ms_write;
	json_t			*r = NULL, *jb;
	int			 rv = -1, rc, bin = 0;

	memset(&sj, 0, sizeof(sj));
	if (gw_param_check_keys(job, keys) == -1 ||
	    gw_sjob_init(job, &sj) == -1 || gw_sjob_load(job, &sj) == -1)
		goto done;

	t0 = now_ms();
	if ((z = calloc(sj.nv, sizeof(*z))) == NULL ||
	    (p = calloc(sj.nv, sizeof(*p))) == NULL) {
		gw_job_error(job, "out of memory");
		goto done;
	}
	/* The feature is its own neighbour with weight 1, the largest any
	 * weight can have (inverse distances are capped at 1, see
	 * weights.h). */
	if (gw_gistar(sj.nv, sj.x, &sj.nb, 1.0, z, p) == -1) {
		gw_job_error(job, "Gi*: out of memory");
		goto done;
	}
	if (sj.fdr) {
		t90 = gw_fdr_threshold(sj.nv, p, 0.10);
		t95 = gw_fdr_threshold(sj.nv, p, 0.05);
		t99 = gw_fdr_threshold(sj.nv, p, 0.01);
		if (t90 < 0 || t95 < 0 || t99 < 0) {
			gw_job_error(job, "FDR: out of memory");
			goto done;
		}
	} else {
		t90 = 0.10;
		t95 = 0.05;
		t99 = 0.01;
	}
	gw_progress(job, 0.6, "Gi* computed; writing the output");
	ms_stat = now_ms() - t0;
	t0 = now_ms();

	cols[0].name = sj.layer->id_column;
	cols[0].type = sj.layer->columns[sj.layer->id_index].type;
	cols[1].name = "gi_zscore";
	cols[1].type = "double precision";
	cols[2].name = "gi_pvalue";
	cols[2].type = "double precision";
	cols[3].name = "gi_bin";
	cols[3].type = "integer";
	cols[4].name = "n_neighbors";
	cols[4].type = "integer";
	if (gw_output_create(job, sj.output, sj.overwrite, cols, 5, "geom",
	    gw_layer_outtype(sj.layer), sj.layer->srid, &out) == -1)
		goto done;
	for (i = j = 0; i < sj.n; i++) {
		vals[0] = sj.ids[i];
		if (j < sj.nv && sj.vmap[j] == i) {
			zz = z[j];
			pp = p[j];
			bin = gw_gi_bin(zz, pp, t90, t95, t99);
			snprintf(bn, sizeof(bn), "%zu", GW_NBR_COUNT(&sj.nb, j));
			vals[4] = bn;
			if (!isnan(zz))
				bins[bin + 3]++;
			j++;
		} else {
			zz = pp = NAN;
			vals[4] = NULL;
		}
		vals[1] = gw_sjob_fmt(bz, sizeof(bz), zz);
		vals[2] = gw_sjob_fmt(bp, sizeof(bp), pp);
		if (isnan(zz))
			vals[3] = NULL;
		else {
			snprintf(bb, sizeof(bb), "%d", bin);
			vals[3] = bb;
		}
		if (gw_output_row(job, out, vals, sj.geoms[i]) == -1)
			goto done;
		if ((i & 4095) == 4095)
			gw_progress(job, 0.6 + 0.35 * (double)i / (double)sj.n,
			    "%zu of %zu rows written", i + 1, sj.n);
	}
	gw_progress(job, 0.95, "indexing the output");
	snprintf(outname, sizeof(outname), "%s", gw_output_fullname(out));
	rc = gw_output_finish(job, out, &nrows);
	out = NULL;	/* freed by gw_output_finish, even on failure */
	if (rc == -1)
		goto done;
	ms_write = now_ms() - t0;

	if ((r = json_object()) == NULL || (jb = json_object()) == NULL) {
		gw_job_error(job, "out of memory");
		goto done;
	}
	json_object_set_new(r, "bins", jb);
	json_object_set_new(jb, "hot_99", json_integer(bins[6]));
	json_object_set_new(jb, "hot_95", json_integer(bins[5]));
	json_object_set_new(jb, "hot_90", json_integer(bins[4]));
	json_object_set_new(jb, "not_significant", json_integer(bins[3]));
	json_object_set_new(jb, "cold_90", json_integer(bins[2]));
	json_object_set_new(jb, "cold_95", json_integer(bins[1]));
	json_object_set_new(jb, "cold_99", json_integer(bins[0]));
	json_object_set_new(r, "output", json_string(outname));
	if (sj.fdr) {
		json_object_set_new(r, "fdr_pvalue_90", json_real(t90));
		json_object_set_new(r, "fdr_pvalue_95", json_real(t95));
		json_object_set_new(r, "fdr_pvalue_99", json_real(t99));
	}
	json_object_set_new(r, "field",
	    json_string(sj.layer->columns[sj.field].name));
	if (gw_sjob_result(&sj, r, ms_stat, ms_write) == -1) {
		gw_job_error(job, "out of memory");
		goto done;
	}
	log_info("Gi* on %zu features: %lld hot, %lld cold (90 %% or more)",
	    sj.nv, bins[4] + bins[5] + bins[6], bins[0] + bins[1] + bins[2]);
	*result = r;
	r = NULL;
	rv = 0;
 done:
	json_decref(r);
	gw_output_free(out);
	free(z);
	free(p);
	gw_sjob_free(&sj);
	return rv;
}

int
main(int argc, char *argv[])
{
	return gw_worker_main(argc, argv, "hotspot_analysis", run_hotspot);
}

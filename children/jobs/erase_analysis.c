/*
 * erase_analysis.c: the erase_analysis job program.
 *
 * erase_analysis: input features minus the union of the erase features
 * (doc/erase_analysis.md).
 * The work is in overlay.c, shared with the other overlay type.
 */
#include "config.h"

#include "gwworker.h"
#include "jobs/overlay.h"

static int
run_erase_analysis(struct gw_job *job, json_t **result)
{
	return gw_overlay_run(job, GW_OVERLAY_ERASE, result);
}

int
main(int argc, char *argv[])
{
	return gw_worker_main(argc, argv, "erase_analysis", run_erase_analysis);
}

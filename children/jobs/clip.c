/*
 * clip.c: the clip job program.
 *
 * clip: input features cut to the union of the clip features (doc/clip.md).
 * The work is in overlay.c, shared with the other overlay type.
 */
#include "config.h"

#include "gwworker.h"
#include "jobs/overlay.h"

static int
run_clip(struct gw_job *job, json_t **result)
{
	return gw_overlay_run(job, GW_OVERLAY_CLIP, result);
}

int
main(int argc, char *argv[])
{
	return gw_worker_main(argc, argv, "clip", run_clip);
}

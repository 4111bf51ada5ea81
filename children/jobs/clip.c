/*
 * clip.c: the clip job program.
 *
 * clip: input features cut to the union of the clip features (doc/clip.md).
 * The work is in overlay.c, shared with the other overlay type.
 */
#include "config.h"

#include "jobs/overlay.h"

int
main(int argc, char *argv[])
{
	return gw_overlay_main(argc, argv, GW_OVERLAY_CLIP);
}

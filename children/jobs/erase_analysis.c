/*
 * erase_analysis.c: the erase_analysis job program.
 *
 * erase_analysis: input features minus the union of the erase features
 * (doc/erase_analysis.md).
 * The work is in overlay.c, shared with the other overlay type.
 */
#include "config.h"

#include "jobs/overlay.h"

int
main(int argc, char *argv[])
{
	return gw_overlay_main(argc, argv, GW_OVERLAY_ERASE);
}

/*
 * overlay.h: what clip and erase_analysis share (children/overlay.c): input
 * features against the union of mask polygons (a table with an optional
 * structured filter, or a GeoJSON geometry), keeping the input's attributes
 * and geometry dimension.
 */
#ifndef GW_OVERLAY_H
#define GW_OVERLAY_H

#include <jansson.h>

#include "gwworker.h"

enum gw_overlay_op {
	GW_OVERLAY_CLIP,	/* input ∩ mask; parameters clip, clip_... */
	GW_OVERLAY_ERASE	/* input − mask; parameters erase, erase_... */
};

/* The main() of both job programs: gw_worker_main() with the job type of
 * op ("clip" or "erase_analysis") and the overlay as its job function. */
int	 gw_overlay_main(int argc, char *argv[], enum gw_overlay_op op);

#endif

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

/* A gw_job_fn body for both job types. */
int	 gw_overlay_run(struct gw_job *, enum gw_overlay_op, json_t **result);

#endif

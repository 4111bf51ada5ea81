/*
 * geos.c: the process's GEOS context, made on first use, and the last
 * message its notice and error handlers kept (see geom.h).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gis/geom.h"

static GEOSContextHandle_t	 geos_ctx;
static char			 geos_msg[1024];

static void
geos_handler(const char *msg, void *arg)
{
	(void)arg;
	strlcpy(geos_msg, msg, sizeof(geos_msg));
}

static void
geos_cleanup(void)
{
	if (geos_ctx != NULL)
		GEOS_finish_r(geos_ctx);
	geos_ctx = NULL;
}

GEOSContextHandle_t
gw_geos(void)
{
	if (geos_ctx == NULL) {
		if ((geos_ctx = GEOS_init_r()) == NULL)
			fatalx("GEOS_init_r failed");
		atexit(geos_cleanup);
		GEOSContext_setErrorMessageHandler_r(geos_ctx, geos_handler,
		    NULL);
		GEOSContext_setNoticeMessageHandler_r(geos_ctx, geos_handler,
		    NULL);
	}
	return geos_ctx;
}

const char *
gw_geos_error(void)
{
	return geos_msg;
}

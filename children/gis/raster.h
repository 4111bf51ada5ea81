/*
 * raster.h: the GDAL helpers of raster_clip: a hardened GDAL set-up, the
 * guard that lets a raster parameter open only a local file inside
 * raster_root, band statistics through the mask band, and a progress adapter.
 *
 * NOTES
 *   Only raster_clip links GDAL, and only through raster.c and raster_clip.c.
 *   raster_gdal_init() must run before any other GDAL call: it registers the
 *   drivers and sets the process-wide configuration options that keep GDAL
 *   off the network and from listing or writing sidecar files.
 *   Functions return 0 / -1 after gw_job_error() said why.
 */
#ifndef GW_RASTER_H
#define GW_RASTER_H

#include <limits.h>

#include <gdal.h>
#include <jansson.h>

#include "gwworker.h"

/* The drivers a raster parameter may be opened with, NULL-terminated:
 * single-file formats that neither read from the network nor refer to other
 * files (no VRT, no WMS/WCS, no subdataset syntax, no sidecar headers). */
extern const char *const raster_allowed_drivers[];

/* Registers the drivers and locks GDAL down (see raster.c).  Call once. */
void	 raster_gdal_init(void);

/* The first GDAL failure message since the last raster_gdal_reset() ("" if
 * none), and whether a write failed for lack of space ('S') or because the
 * file grew past RLIMIT_FSIZE ('F'), else 0. */
const char *raster_gdal_error(void);
int	 raster_gdal_io_error(void);
void	 raster_gdal_reset(void);

/*
 * raster_resolve: checks the path given by parameter param against root
 * (raster_root): URLs, /vsi paths and driver-prefixed names are refused;
 * a relative path is taken inside root; the result, with every symbolic link
 * followed (realpath), must be a regular file inside root.  On success out
 * holds that resolved path.  Nothing is opened.
 */
int	 raster_resolve(struct gw_job *, const char *param, const char *root,
	    const char *path, char out[PATH_MAX]);

/*
 * raster_open: opens the resolved path read-only with the allowed drivers
 * only, and checks that every file GDAL reads for it (GDALGetFileList) is
 * inside root.  *out is the dataset (GDALClose it).
 */
int	 raster_open(struct gw_job *, const char *param, const char *root,
	    const char *path, GDALDatasetH *out);

/* Per-band statistics over the pixels the band's mask marks valid (nodata,
 * alpha and NaN excluded). */
struct raster_band_stats {
	double		min;
	double		max;
	double		mean;
	double		stddev;		/* population, as GDAL's statistics */
	long long	count;		/* valid pixels */
};

/*
 * raster_stats: statistics of band 1..nbands of ds into st (nbands
 * entries), reading block rows; progress from from to to.
 */
int	 raster_stats(struct gw_job *, GDALDatasetH ds, int nbands,
	    struct raster_band_stats *st, double from, double to);

/* A GDALProgressFunc that maps GDAL's 0..1 into a range of the job's
 * progress; pass a struct raster_progress as the progress argument. */
struct raster_progress {
	struct gw_job	*job;
	double		 from;
	double		 to;
	const char	*what;
};
int CPL_STDCALL raster_progress_fn(double, const char *, void *);

#endif

/*
 * raster.c: GDAL set-up, the raster_root path guard, band statistics and
 * progress for raster_clip.
 *
 * NOTES
 *   The path guard works in three layers, each enough on its own for the
 *   cases it names, so that a mistake in one is caught by the next:
 *   1. the parameter text: URLs, /vsi... virtual file systems, driver
 *      prefixes (NETCDF:..., GTIFF_DIR:...), inline datasets (<VRTDataset>,
 *      {...}) and control characters are refused with a message saying so;
 *   2. the file system: realpath() (every symbolic link followed) must name
 *      a regular file inside realpath(raster_root); GDAL is then given that
 *      resolved path, never the parameter;
 *   3. GDAL: GDALOpenEx with an explicit list of local-file drivers, then
 *      every file of GDALGetFileList() must resolve inside the root too
 *      (a sidecar .ovr or world file is fine, a link out of the root is not).
 *   Network: the allowed drivers and resolved local paths leave GDAL no way
 *   to a URL; on top of that /vsicurl is limited to an extension no file has,
 *   HTTP goes to a proxy that does not exist and PROJ's network grids are
 *   off.  GDAL_DISABLE_READDIR_ON_OPEN keeps GDAL from listing directories
 *   and GDAL_PAM_ENABLED=NO from writing .aux.xml files (in raster_root or in
 *   the output directory).
 *   All of this is process-wide state, which is fine: a child runs one job.
 */
#include "config.h"

#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_string.h>
#include <ogr_srs_api.h>

#include "gis/raster.h"

/*
 * Formats held in one file.  Formats whose header, CRS or georeferencing
 * lives in a sidecar (.hdr, .prj, .gri, world files) are left out: with
 * GDAL_DISABLE_READDIR_ON_OPEN=EMPTY_DIR most cannot be opened at all, and
 * those that probe for the sidecar by name would open a link planted next to
 * the raster before GDALGetFileList() could be checked.
 */
const char *const raster_allowed_drivers[] = {
	"GTiff", "JP2OpenJPEG", NULL
};

static char	gdal_error[1024];	/* first failure since the reset */
static int	gdal_io_error;		/* 'S' disk full, 'F' file too large */

/*
 * GDAL errors go to the log.  The first failure since raster_gdal_reset() is
 * kept for the job: later ones are mostly its consequences ("cannot read the
 * directory" after "No space left on device").
 */
static void CPL_STDCALL
error_handler(CPLErr cls, CPLErrorNum num, const char *msg)
{
	switch (cls) {
	case CE_Debug:
	case CE_None:
		return;
	case CE_Warning:
		log_warnx("GDAL warning %d: %s", (int)num, msg);
		return;
	default:
		log_warnx("GDAL error %d: %s", (int)num, msg);
		if (gdal_error[0] == '\0')
			snprintf(gdal_error, sizeof(gdal_error), "%s", msg);
		if (gdal_io_error == 0 && strstr(msg, "No space left") != NULL)
			gdal_io_error = 'S';
		if (gdal_io_error == 0 && strstr(msg, "File too large") != NULL)
			gdal_io_error = 'F';
		return;
	}
}

const char *
raster_gdal_error(void)
{
	return gdal_error;
}

int
raster_gdal_io_error(void)
{
	return gdal_io_error;
}

void
raster_gdal_reset(void)
{
	gdal_error[0] = '\0';
	gdal_io_error = 0;
	CPLErrorReset();
}

void
raster_gdal_init(void)
{
	CPLSetErrorHandler(error_handler);
	CPLSetConfigOption("GDAL_DISABLE_READDIR_ON_OPEN", "EMPTY_DIR");
	CPLSetConfigOption("GDAL_PAM_ENABLED", "NO");
	CPLSetConfigOption("CPL_VSIL_CURL_ALLOWED_EXTENSIONS",
	    ".geoworkerd-no-network");
	CPLSetConfigOption("GDAL_HTTP_PROXY", "127.0.0.1:9");
	CPLSetConfigOption("GDAL_HTTP_MAX_RETRY", "0");
	CPLSetConfigOption("GDAL_HTTP_TIMEOUT", "1");
	CPLSetConfigOption("PROJ_NETWORK", "OFF");
	CPLSetConfigOption("GDAL_VRT_ENABLE_PYTHON", "NO");
	OSRSetPROJEnableNetwork(0);
	GDALAllRegister();
}

/* Whether path names root or something under it (both resolved). */
static int
inside(const char *root, const char *path)
{
	size_t	 n = strlen(root);

	if (strcmp(root, "/") == 0)
		return path[0] == '/';
	return strncmp(path, root, n) == 0 && (path[n] == '/' ||
	    path[n] == '\0');
}

/* Whether a path has a ".." component. */
static int
has_dotdot(const char *p)
{
	while (*p != '\0') {
		if (p[0] == '.' && p[1] == '.' && (p[2] == '/' || p[2] == '\0'))
			return 1;
		if ((p = strchr(p, '/')) == NULL)
			return 0;
		p++;
	}
	return 0;
}

int
raster_resolve(struct gw_job *job, const char *param, const char *root,
    const char *path, char out[PATH_MAX])
{
	char		 rroot[PATH_MAX], cand[PATH_MAX];
	const char	*p;
	struct stat	 sb;

	if (root == NULL || *root == '\0')
		return gw_job_error(job, "%s: no raster_root is configured, so no "
		    "raster may be opened", param);
	if (realpath(root, rroot) == NULL)
		return gw_job_error(job, "%s: raster_root %s: %s", param, root,
		    strerror(errno));

	if (*path == '\0')
		return gw_job_error(job, "%s: expected the path of a raster file "
		    "inside raster_root", param);
	if (strlen(path) >= PATH_MAX - strlen(rroot) - 2)
		return gw_job_error(job, "%s: path too long", param);
	for (p = path; *p != '\0'; p++)
		if (iscntrl((unsigned char)*p))
			return gw_job_error(job, "%s: control characters are not "
			    "allowed in a raster path", param);
	if (strstr(path, "://") != NULL)
		return gw_job_error(job, "%s: URLs are refused: the raster must "
		    "be a file inside raster_root", param);
	if (strncasecmp(path, "/vsi", 4) == 0 || strcasestr(path, "/vsi") !=
	    NULL || strncasecmp(path, "vsi", 3) == 0)
		return gw_job_error(job, "%s: GDAL virtual file systems "
		    "(/vsicurl/, /vsizip/, ...) are refused: the raster must be a "
		    "plain file inside raster_root", param);
	if (strchr(path, ':') != NULL) {
		for (p = path; isalnum((unsigned char)*p) || *p == '_'; p++)
			;
		if (*p == ':' && p > path)
			return gw_job_error(job, "%s: driver-prefixed names "
			    "(NETCDF:..., GTIFF_DIR:..., HDF5:...) are refused: "
			    "the raster must be a plain file inside raster_root",
			    param);
		return gw_job_error(job, "%s: ':' is not allowed in a raster "
		    "path", param);
	}
	if (path[0] == '<' || path[0] == '{')
		return gw_job_error(job, "%s: inline datasets are refused: the "
		    "raster must be a file inside raster_root", param);

	if ((path[0] == '/' ? snprintf(cand, sizeof(cand), "%s", path) :
	    snprintf(cand, sizeof(cand), "%s/%s", rroot, path)) >=
	    (int)sizeof(cand))
		return gw_job_error(job, "%s: path too long", param);
	if (realpath(cand, out) == NULL) {
		if (errno == ENOENT || errno == ENOTDIR) {
			if (has_dotdot(path) || (path[0] == '/' &&
			    !inside(rroot, path)))
				return gw_job_error(job, "%s: \"%s\" is outside "
				    "raster_root: refused", param, path);
			return gw_job_error(job, "%s: no file \"%s\" in "
			    "raster_root", param, path);
		}
		return gw_job_error(job, "%s: \"%s\": %s", param, path,
		    strerror(errno));
	}
	if (!inside(rroot, out))
		return gw_job_error(job, "%s: \"%s\" resolves outside raster_root "
		    "(symbolic links are followed): refused", param, path);
	if (stat(out, &sb) == -1)
		return gw_job_error(job, "%s: \"%s\": %s", param, path,
		    strerror(errno));
	if (!S_ISREG(sb.st_mode))
		return gw_job_error(job, "%s: \"%s\" is not a regular file",
		    param, path);
	return 0;
}

int
raster_open(struct gw_job *job, const char *param, const char *root,
    const char *path, GDALDatasetH *out)
{
	GDALDatasetH	 ds;
	char		 rroot[PATH_MAX], rfile[PATH_MAX], **files;
	int		 i;

	*out = NULL;
	if (realpath(root, rroot) == NULL)
		return gw_job_error(job, "%s: raster_root %s: %s", param, root,
		    strerror(errno));
	raster_gdal_reset();
	ds = GDALOpenEx(path, GDAL_OF_RASTER | GDAL_OF_READONLY |
	    GDAL_OF_VERBOSE_ERROR, raster_allowed_drivers, NULL, NULL);
	if (ds == NULL)
		return gw_job_error(job, "%s: cannot open the raster with GDAL "
		    "(formats allowed: GeoTIFF / COG, JPEG 2000): %s", param,
		    raster_gdal_error());

	files = GDALGetFileList(ds);
	for (i = 0; files != NULL && files[i] != NULL; i++) {
		if (realpath(files[i], rfile) == NULL)
			continue;	/* not there: GDAL cannot read it either */
		if (!inside(rroot, rfile)) {
			CSLDestroy(files);
			GDALClose(ds);
			return gw_job_error(job, "%s: the raster refers to a file "
			    "outside raster_root: refused", param);
		}
	}
	CSLDestroy(files);
	*out = ds;
	return 0;
}

int CPL_STDCALL
raster_progress_fn(double f, const char *msg, void *arg)
{
	struct raster_progress	*p = arg;

	if (f < 0)
		f = 0;
	if (f > 1)
		f = 1;
	gw_progress(p->job, p->from + (p->to - p->from) * f, "%s", p->what);
	return TRUE;
}

int
raster_stats(struct gw_job *job, GDALDatasetH ds, int nbands,
    struct raster_band_stats *st, double from, double to)
{
	GDALRasterBandH	 band, mask;
	double		*buf = NULL, *shift = NULL, *sum = NULL, *sumsq = NULL;
	double		 d, var;
	unsigned char	*mbuf = NULL;
	int		 width, height, rows, y, n, b, rv = -1;
	size_t		 i, npix;

	width = GDALGetRasterXSize(ds);
	height = GDALGetRasterYSize(ds);
	rows = width > 0 ? 1048576 / width : 1;
	if (rows < 1)
		rows = 1;
	if (rows > height)
		rows = height;
	npix = (size_t)width * rows;
	if ((buf = reallocarray(NULL, npix, sizeof(*buf))) == NULL ||
	    (mbuf = malloc(npix)) == NULL ||
	    (shift = calloc(nbands, sizeof(*shift))) == NULL ||
	    (sum = calloc(nbands, sizeof(*sum))) == NULL ||
	    (sumsq = calloc(nbands, sizeof(*sumsq))) == NULL) {
		gw_job_error(job, "out of memory");
		goto done;
	}
	for (b = 0; b < nbands; b++) {
		st[b].min = INFINITY;
		st[b].max = -INFINITY;
		st[b].count = 0;
	}

	/* Band-sequential: each band and its mask read by strips of rows.
	 * Sums are taken about the band's first valid value (shift), which
	 * keeps the variance from cancelling for data far from zero. */
	for (b = 0; b < nbands; b++) {
		band = GDALGetRasterBand(ds, b + 1);
		mask = GDALGetMaskBand(band);
		for (y = 0; y < height; y += rows) {
			n = y + rows > height ? height - y : rows;
			if (GDALRasterIO(band, GF_Read, 0, y, width, n, buf,
			    width, n, GDT_Float64, 0, 0) != CE_None ||
			    GDALRasterIO(mask, GF_Read, 0, y, width, n, mbuf,
			    width, n, GDT_Byte, 0, 0) != CE_None) {
				gw_job_error(job, "reading the output band %d: %s",
				    b + 1, raster_gdal_error());
				goto done;
			}
			for (i = 0; i < (size_t)width * n; i++) {
				if (mbuf[i] == 0 || isnan(buf[i]))
					continue;
				if (st[b].count++ == 0)
					shift[b] = buf[i];
				d = buf[i] - shift[b];
				sum[b] += d;
				sumsq[b] += d * d;
				if (buf[i] < st[b].min)
					st[b].min = buf[i];
				if (buf[i] > st[b].max)
					st[b].max = buf[i];
			}
			gw_progress(job, from + (to - from) * (b + (double)(y +
			    n) / height) / nbands, "band statistics");
		}
		if (st[b].count > 0) {
			st[b].mean = shift[b] + sum[b] / st[b].count;
			var = (sumsq[b] - sum[b] * sum[b] / st[b].count) /
			    st[b].count;
			st[b].stddev = var > 0 ? sqrt(var) : 0;
		} else
			st[b].min = st[b].max = st[b].mean = st[b].stddev = NAN;
	}
	rv = 0;
 done:
	free(buf);
	free(mbuf);
	free(shift);
	free(sum);
	free(sumsq);
	return rv;
}

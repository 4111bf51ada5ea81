/*
 * raster_clip.c: the raster_clip job program.  Clips a raster inside
 * raster_root to polygons (a table, optionally filtered, or GeoJSON) with
 * GDALWarp and a cutline, as `gdalwarp -cutline -crop_to_cutline` does,
 * and writes a Cloud Optimized GeoTIFF (or a GTiff) to
 * output_root/<job id>/<output>.
 *
 * Parameters: raster, clip + clip_filter | clip_geometry + clip_srid (4326),
 * crop (true), all_touched (false), nodata, output (raster_clip_<id>.tif),
 * format (COG | GTiff).
 *
 * NOTES
 *   Order of work: check every parameter, resolve and open the raster
 *   (raster.c's guard), read the clip polygons in their own CRS, check they
 *   overlap the raster, write them as the cutline to /vsimem/ (process
 *   memory) with their CRS, so that GDALWarp reprojects them to the
 *   raster's CRS exactly as gdalwarp does with a cutline file (densified to
 *   about one source pixel per segment first, then transformed), warp into
 *   memory (or, past mem_budget(), into a temporary GTiff in the job's
 *   directory), copy that with the COG driver under a temporary name,
 *   compute the band statistics, and only then rename the file to its
 *   final name.
 *   Every file is made in the attempt's staging directory
 *   (gw_job_staging), which the runtime publishes as output_root/<job id>/
 *   only after the job's completion has committed: a failed job (bad input,
 *   GDAL error, disk full, EFBIG from file_size_limit), a job whose
 *   transaction does not commit, a killed one or a stale attempt leaves no
 *   file where readers look.  SIGXFSZ is ignored so that file_size_limit shows as a
 *   write error GDAL reports, not as a killed child with a partial file.
 *   The cutline is the multipolygon of all the clip polygons, as gdalwarp
 *   builds it from a layer (overlaps are burnt once, not cut out); an
 *   invalid polygon is repaired (OGR_G_MakeValid) where gdalwarp would
 *   refuse the cutline.  t/300-raster-clip.t compares the pixels.
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <limits.h>
#include <malloc.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <cpl_conv.h>
#include <cpl_string.h>
#include <cpl_vsi.h>
#include <gdal_utils.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>

#include "gwworker.h"
#include "gis/execf.h"
#include "gis/filter.h"
#include "gis/quote.h"
#include "gis/raster.h"
#include "gis/srs.h"


struct clip {
	struct gw_job		*job;
	GDALDatasetH		 src;
	OGRSpatialReferenceH	 rsrs;		/* the raster's CRS */
	OGRSpatialReferenceH	 csrs;		/* the cutline's CRS */
	OGRGeometryH		 cut;		/* multipolygon, in csrs */
	long long		 nfeatures;	/* clip features read */
	long long		 nrepaired;
	char			 dir[PATH_MAX];	/* this attempt's staging */
	char			 cutpath[64];	/* /vsimem/ cutline */
};

static int	run_raster_clip(struct gw_job *, json_t **);

int
main(int argc, char *argv[])
{
	/* file_size_limit must fail a write (EFBIG), not kill the child
	 * halfway through a file. */
	signal(SIGXFSZ, SIG_IGN);
	raster_gdal_init();
	/*
	 * The job's process keeps the memory it frees for its next
	 * allocations instead of giving it back to the kernel, to be faulted
	 * in again page by page: glibc serves a block of 128 KiB or more with
	 * its own mmap and unmaps it when freed, and trims the heap's top past
	 * 128 KiB, and a warp allocates and frees buffers of megabytes, chunk
	 * after chunk.  One canton at 8000^2: 38,700 page faults, 22,900 with
	 * this (bench/raster_clip.sh).  Set in the fork server, whose
	 * children inherit it.
	 */
	mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);	/* glibc's maximum */
	mallopt(M_TRIM_THRESHOLD, 512 * 1024 * 1024);
	gw_worker_idle(gw_idle_postgis);
	return gw_worker_main(argc, argv, "raster_clip", run_raster_clip);
}

/* The output file name: one plain name, made of safe characters. */
static int
check_output_name(struct gw_job *job, const char *name)
{
	const char	*p;

	if (*name == '\0' || strlen(name) > 200 || name[0] == '.' ||
	    name[0] == '-')
		goto bad;
	for (p = name; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' ||
		    *p == '.'))
			goto bad;
	return 0;
 bad:
	return gw_job_error(job, "output: expected a file name (letters, "
	    "digits, '_', '-', '.', not starting with '.' or '-', at most 200 "
	    "bytes), not a path");
}

/*
 * A CRS from a PostGIS SRID, with x = easting/longitude: GDAL's own EPSG
 * definition for an EPSG row, else the row's srtext (WKT), else its
 * proj4text.
 */
static int
srs_from_srid(struct gw_job *job, const char *param, int srid,
    OGRSpatialReferenceH *out)
{
	OGRSpatialReferenceH	 srs;
	struct gw_srs		 row;
	OGRErr			 err = OGRERR_FAILURE;

	*out = NULL;
	if (gw_srs_lookup(job, param, srid, &row) == -1)
		return -1;
	if ((srs = OSRNewSpatialReference(NULL)) == NULL) {
		gw_srs_free(&row);
		return gw_job_error(job, "out of memory");
	}
	if (row.auth_name != NULL && strcasecmp(row.auth_name, "EPSG") == 0)
		err = OSRImportFromEPSG(srs, row.auth_srid);
	if (err != OGRERR_NONE && row.srtext != NULL)
		err = OSRImportFromWkt(srs, (char *[]){ (char *)row.srtext });
	if (err != OGRERR_NONE && row.proj4text != NULL)
		err = OSRImportFromProj4(srs, row.proj4text);
	gw_srs_free(&row);
	if (err != OGRERR_NONE) {
		OSRDestroySpatialReference(srs);
		return gw_job_error(job, "%s: GDAL cannot read the CRS of SRID "
		    "%d", param, srid);
	}
	OSRSetAxisMappingStrategy(srs, OAMS_TRADITIONAL_GIS_ORDER);
	*out = srs;
	return 0;
}

/*
 * Copies the polygons of g, in the cutline's CRS, into the cutline: g's
 * own, or those of the collection OGR_G_MakeValid may have made of it
 * (its points and lines dropped).
 */
static int
cut_add(struct clip *c, OGRGeometryH g)
{
	OGRGeometryH		 part;
	OGRwkbGeometryType	 t, pt;
	int			 i, j, n, np;

	t = wkbFlatten(OGR_G_GetGeometryType(g));
	n = t == wkbPolygon ? 1 : OGR_G_GetGeometryCount(g);
	for (i = 0; i < n; i++) {
		part = t == wkbPolygon ? g : OGR_G_GetGeometryRef(g, i);
		pt = wkbFlatten(OGR_G_GetGeometryType(part));
		if (pt == wkbPolygon) {
			if (OGR_G_AddGeometry(c->cut, part) != OGRERR_NONE)
				return gw_job_error(c->job, "out of memory");
		} else if (pt == wkbMultiPolygon) {
			np = OGR_G_GetGeometryCount(part);
			for (j = 0; j < np; j++)
				if (OGR_G_AddGeometry(c->cut,
				    OGR_G_GetGeometryRef(part, j)) !=
				    OGRERR_NONE)
					return gw_job_error(c->job,
					    "out of memory");
		}
	}
	return 0;
}

/*
 * Adds the polygons of g (in CRS srs) to the cutline, transformed to the
 * cutline's CRS (the first feature's) if need be.  Takes g.  Anything but
 * (multi)polygons is refused.
 */
static int
add_polygons(struct clip *c, const char *what, OGRGeometryH g,
    OGRSpatialReferenceH srs)
{
	OGRCoordinateTransformationH	 ct = NULL;
	OGRGeometryH			 fixed;
	OGRwkbGeometryType		 t;
	int				 rv = -1;

	OGR_G_FlattenTo2D(g);
	t = wkbFlatten(OGR_G_GetGeometryType(g));
	if (t != wkbPolygon && t != wkbMultiPolygon) {
		gw_job_error(c->job, "%s: a %s; raster_clip needs polygons",
		    what, OGR_G_GetGeometryName(g));
		goto done;
	}
	if (OGR_G_IsEmpty(g)) {
		rv = 0;
		goto done;
	}
	if (!OGR_G_IsValid(g)) {
		if ((fixed = OGR_G_MakeValid(g)) == NULL) {
			gw_job_error(c->job, "%s: invalid polygon that GEOS "
			    "cannot repair: %s", what, raster_gdal_error());
			goto done;
		}
		OGR_G_DestroyGeometry(g);
		g = fixed;
		c->nrepaired++;
	}
	if (c->csrs == NULL) {
		if ((c->csrs = OSRClone(srs)) == NULL) {
			gw_job_error(c->job, "out of memory");
			goto done;
		}
		OSRSetAxisMappingStrategy(c->csrs, OAMS_TRADITIONAL_GIS_ORDER);
	} else if (!OSRIsSame(srs, c->csrs)) {
		if ((ct = OCTNewCoordinateTransformation(srs, c->csrs)) ==
		    NULL) {
			gw_job_error(c->job, "%s: no transformation to the CRS "
			    "of the first clip polygon: %s", what,
			    raster_gdal_error());
			goto done;
		}
		if (OGR_G_Transform(g, ct) != OGRERR_NONE) {
			gw_job_error(c->job, "%s: cannot be transformed to the "
			    "CRS of the first clip polygon", what);
			goto done;
		}
	}
	rv = cut_add(c, g);
 done:
	if (ct != NULL)
		OCTDestroyCoordinateTransformation(ct);
	OGR_G_DestroyGeometry(g);
	return rv;
}

/* The only geometry column of the clip table. */
static const struct gw_column *
clip_geometry_column(struct clip *c, const struct gw_table *t)
{
	const struct gw_column	*g = NULL;
	int			 i;

	for (i = 0; i < t->ncolumns; i++) {
		if (strcmp(t->columns[i].casttype, "geometry") != 0)
			continue;
		if (g != NULL) {
			gw_job_error(c->job, "clip: %s.%s has several geometry "
			    "columns", t->schema, t->table);
			return NULL;
		}
		g = &t->columns[i];
	}
	if (g == NULL)
		gw_job_error(c->job, "clip: %s.%s has no geometry column",
		    t->schema, t->table);
	return g;
}

/* Reads the clip polygons of a table (clip, clip_filter) with a cursor. */
static int
read_clip_table(struct clip *c, const char *name)
{
	struct gw_job			*job = c->job;
	struct gw_table			 t;
	const struct gw_column		*gc;
	OGRSpatialReferenceH		 srs = NULL;
	OGRGeometryH			 g;
	PGresult			*res = NULL;
	char				*where = NULL, *qcol = NULL, *sql = NULL;
	char				 what[64];
	uint32_t			 nsrid;
	int				 i, n, srid, cur_srid = -1, rv = -1;

	if (filter_resolve_table(job, "clip", name, &t) == -1 ||
	    (gc = clip_geometry_column(c, &t)) == NULL ||
	    filter_sql_table(job, job->conn, &t, json_object_get(job->params,
	    "clip_filter"), "clip_filter", "src", &where) == -1 ||
	    (qcol = gw_quote_ident(job, gc->name)) == NULL)
		goto done;
	if (asprintf(&sql, "DECLARE gw_clip NO SCROLL CURSOR FOR "
	    "SELECT ST_AsBinary(ST_Force2D(src.%s)), ST_SRID(src.%s) "
	    "FROM %s AS src WHERE %s AND src.%s IS NOT NULL "
	    "AND NOT ST_IsEmpty(src.%s)", qcol, qcol, t.qualified, where, qcol,
	    qcol) == -1) {
		sql = NULL;
		gw_job_error(job, "out of memory");
		goto done;
	}
	if ((res = gw_exec(job, "clip: reading the polygons", sql, 0, NULL)) ==
	    NULL)
		goto done;
	PQclear(res);
	for (;;) {
		res = PQexecParams(job->conn, "FETCH " "1000" " FROM gw_clip",
		    0, NULL, NULL, NULL, NULL, 1);
		if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
			gw_job_pgerror(job, "clip: reading the polygons", res);
			goto done;
		}
		if ((n = PQntuples(res)) == 0)
			break;
		for (i = 0; i < n; i++) {
			memcpy(&nsrid, PQgetvalue(res, i, 1), 4);
			srid = (int)ntohl(nsrid);
			snprintf(what, sizeof(what), "clip: feature %lld",
			    c->nfeatures + 1);
			if (srid != cur_srid) {
				if (srs != NULL)
					OSRDestroySpatialReference(srs);
				srs = NULL;
				if (srid <= 0) {
					gw_job_error(job, "%s has no SRID", what);
					goto done;
				}
				if (srs_from_srid(job, "clip", srid, &srs) == -1)
					goto done;
				cur_srid = srid;
			}
			g = NULL;
			if (OGR_G_CreateFromWkb((unsigned char *)PQgetvalue(res,
			    i, 0), NULL, &g, PQgetlength(res, i, 0)) !=
			    OGRERR_NONE) {
				gw_job_error(job, "%s: unreadable geometry", what);
				goto done;
			}
			if (add_polygons(c, what, g, srs) == -1)
				goto done;
			c->nfeatures++;
		}
		PQclear(res);
		res = NULL;
	}
	PQclear(res);
	res = NULL;
	if ((res = gw_exec(job, "clip: reading the polygons", "CLOSE gw_clip",
	    0, NULL)) == NULL)
		goto done;
	rv = 0;
 done:
	PQclear(res);
	if (srs != NULL)
		OSRDestroySpatialReference(srs);
	gw_table_free(&t);
	free(where);
	free(qcol);
	free(sql);
	return rv;
}

/* Reads clip_geometry: a GeoJSON geometry, Feature or FeatureCollection
 * (object or text) in clip_srid. */
static int
read_clip_geojson(struct clip *c, json_t *gj)
{
	struct gw_job		*job = c->job;
	OGRSpatialReferenceH	 srs = NULL;
	OGRGeometryH		 g;
	json_t			*parsed = NULL, *feats, *f, *geom, *type;
	long long		 srid;
	char			*text, what[64];
	size_t			 i, n;
	int			 rv = -1;

	if (gw_param_int(job, "clip_srid", 4326, 1, 999999, &srid) == -1 ||
	    srs_from_srid(job, "clip_srid", (int)srid, &srs) == -1)
		return -1;
	if (json_is_string(gj)) {
		if ((parsed = json_loads(json_string_value(gj), 0, NULL)) ==
		    NULL) {
			gw_job_error(job, "clip_geometry: not valid JSON");
			goto done;
		}
		gj = parsed;
	}
	type = json_object_get(gj, "type");
	if (!json_is_object(gj) || !json_is_string(type)) {
		gw_job_error(job, "clip_geometry: expected a GeoJSON geometry, "
		    "Feature or FeatureCollection");
		goto done;
	}
	feats = NULL;
	if (strcmp(json_string_value(type), "FeatureCollection") == 0) {
		feats = json_object_get(gj, "features");
		if (!json_is_array(feats)) {
			gw_job_error(job, "clip_geometry.features: expected an "
			    "array");
			goto done;
		}
		n = json_array_size(feats);
	} else
		n = 1;
	for (i = 0; i < n; i++) {
		f = feats != NULL ? json_array_get(feats, i) : gj;
		geom = f;
		type = json_object_get(f, "type");
		if (json_is_string(type) &&
		    strcmp(json_string_value(type), "Feature") == 0)
			geom = json_object_get(f, "geometry");
		snprintf(what, sizeof(what), feats ?
		    "clip_geometry.features[%zu]" : "clip_geometry", i);
		if (!json_is_object(geom)) {
			gw_job_error(job, "%s: expected a GeoJSON geometry",
			    what);
			goto done;
		}
		if ((text = json_dumps(geom, JSON_COMPACT)) == NULL) {
			gw_job_error(job, "out of memory");
			goto done;
		}
		g = OGR_G_CreateGeometryFromJson(text);
		free(text);
		if (g == NULL) {
			gw_job_error(job, "%s: not a GeoJSON geometry GDAL can "
			    "read: %s", what, raster_gdal_error());
			goto done;
		}
		if (add_polygons(c, what, g, srs) == -1)
			goto done;
		c->nfeatures++;
	}
	rv = 0;
 done:
	json_decref(parsed);
	OSRDestroySpatialReference(srs);
	return rv;
}

/*
 * Checks there are clip polygons and that, transformed to the raster's CRS,
 * they overlap the raster's footprint.
 */
static int
check_cutline(struct clip *c)
{
	OGRCoordinateTransformationH	 ct;
	OGRGeometryH			 g, ring, foot;
	double				 gt[6], w, h;
	int				 ok;

	if (OGR_G_GetGeometryCount(c->cut) == 0)
		return gw_job_error(c->job, "clip: no clip polygons (is the table "
		    "empty, or does clip_filter match nothing?)");
	if (GDALGetGeoTransform(c->src, gt) != CE_None)
		return gw_job_error(c->job, "raster: the raster has no "
		    "georeferencing (geotransform)");
	if ((g = OGR_G_Clone(c->cut)) == NULL)
		return gw_job_error(c->job, "out of memory");
	if (!OSRIsSame(c->csrs, c->rsrs)) {
		if ((ct = OCTNewCoordinateTransformation(c->csrs, c->rsrs)) ==
		    NULL) {
			OGR_G_DestroyGeometry(g);
			return gw_job_error(c->job, "clip: no transformation "
			    "to the raster's CRS: %s", raster_gdal_error());
		}
		ok = OGR_G_Transform(g, ct) == OGRERR_NONE;
		OCTDestroyCoordinateTransformation(ct);
		if (!ok) {
			OGR_G_DestroyGeometry(g);
			return gw_job_error(c->job, "clip: the clip polygons "
			    "cannot be transformed to the raster's CRS (outside "
			    "its domain?)");
		}
	}
	w = GDALGetRasterXSize(c->src);
	h = GDALGetRasterYSize(c->src);
	ring = OGR_G_CreateGeometry(wkbLinearRing);
	foot = OGR_G_CreateGeometry(wkbPolygon);
	if (ring == NULL || foot == NULL) {
		OGR_G_DestroyGeometry(ring);
		OGR_G_DestroyGeometry(foot);
		OGR_G_DestroyGeometry(g);
		return gw_job_error(c->job, "out of memory");
	}
	OGR_G_AddPoint_2D(ring, gt[0], gt[3]);
	OGR_G_AddPoint_2D(ring, gt[0] + w * gt[1], gt[3] + w * gt[4]);
	OGR_G_AddPoint_2D(ring, gt[0] + w * gt[1] + h * gt[2],
	    gt[3] + w * gt[4] + h * gt[5]);
	OGR_G_AddPoint_2D(ring, gt[0] + h * gt[2], gt[3] + h * gt[5]);
	OGR_G_AddPoint_2D(ring, gt[0], gt[3]);
	OGR_G_AddGeometryDirectly(foot, ring);
	ok = OGR_G_Intersects(g, foot);
	OGR_G_DestroyGeometry(foot);
	OGR_G_DestroyGeometry(g);
	if (!ok)
		return gw_job_error(c->job, "clip: the clip polygons do not "
		    "overlap the raster (compared in the raster's CRS)");
	return 0;
}

/* Writes the cutline to /vsimem/ (process memory) for GDALWarp. */
static int
write_cutline(struct clip *c)
{
	GDALDriverH	 drv;
	GDALDatasetH	 ds;
	OGRLayerH	 layer;
	OGRFeatureH	 f;
	int		 ok;

	snprintf(c->cutpath, sizeof(c->cutpath), "/vsimem/gw_cutline_%lld.fgb",
	    c->job->id);
	if ((drv = GDALGetDriverByName("FlatGeobuf")) == NULL)
		return gw_job_error(c->job, "GDAL has no FlatGeobuf driver");
	if ((ds = GDALCreate(drv, c->cutpath, 0, 0, 0, GDT_Unknown, NULL)) ==
	    NULL)
		return gw_job_error(c->job, "writing the cutline: %s",
		    raster_gdal_error());
	layer = GDALDatasetCreateLayer(ds, "cutline", c->csrs, wkbMultiPolygon,
	    NULL);
	ok = layer != NULL;
	if (ok) {
		f = OGR_F_Create(OGR_L_GetLayerDefn(layer));
		ok = f != NULL && OGR_F_SetGeometry(f, c->cut) == OGRERR_NONE &&
		    OGR_L_CreateFeature(layer, f) == OGRERR_NONE;
		if (f != NULL)
			OGR_F_Destroy(f);
	}
	GDALClose(ds);
	if (!ok)
		return gw_job_error(c->job, "writing the cutline: %s",
		    raster_gdal_error());
	return 0;
}

/* Whether v is a value of type dt (so that it can be its nodata). */
static int
representable(GDALDataType dt, double v)
{
	if (GDALDataTypeIsFloating(dt))
		return dt == GDT_Float64 || fabs(v) <= FLT_MAX;
	if (v != floor(v))
		return 0;
	switch (dt) {
	case GDT_Byte:
		return v >= 0 && v <= 255;
	case GDT_UInt16:
		return v >= 0 && v <= 65535;
	case GDT_Int16:
		return v >= -32768 && v <= 32767;
	case GDT_UInt32:
		return v >= 0 && v <= 4294967295.0;
	case GDT_Int32:
		return v >= -2147483648.0 && v <= 2147483647.0;
	default:
		return 0;
	}
}

/* The lowest and highest values of an integer type; 0 for others. */
static int
type_range(GDALDataType dt, double *lo, double *hi)
{
	switch (dt) {
	case GDT_Byte:
		*lo = 0, *hi = 255;
		return 1;
	case GDT_UInt16:
		*lo = 0, *hi = 65535;
		return 1;
	case GDT_Int16:
		*lo = -32768, *hi = 32767;
		return 1;
	case GDT_UInt32:
		*lo = 0, *hi = 4294967295.0;
		return 1;
	case GDT_Int32:
		*lo = -2147483648.0, *hi = 2147483647.0;
		return 1;
	default:
		return 0;
	}
}

/*
 * The output's nodata: the parameter, else the source's (gdalwarp carries
 * it over by itself), else a value outside the range of every band, else an
 * alpha band.  *how: 'p' parameter, 's' source, 'c' chosen, 'a' alpha.
 */
static int
choose_nodata(struct clip *c, double *nodata, char *how)
{
	GDALRasterBandH	 band;
	GDALDataType	 dt;
	double		 mm[2], lo = INFINITY, hi = -INFINITY, tlo, thi;
	int		 has, b, nb;

	nb = GDALGetRasterCount(c->src);
	band = GDALGetRasterBand(c->src, 1);
	dt = GDALGetRasterDataType(band);
	if (json_object_get(c->job->params, "nodata") != NULL &&
	    !json_is_null(json_object_get(c->job->params, "nodata"))) {
		if (gw_param_double(c->job, "nodata", NAN, -DBL_MAX, DBL_MAX,
		    nodata) == -1)
			return -1;
		if (!representable(dt, *nodata))
			return gw_job_error(c->job, "nodata: %g is not a value "
			    "of the raster's type %s", *nodata,
			    GDALGetDataTypeName(dt));
		*how = 'p';
		return 0;
	}
	*nodata = GDALGetRasterNoDataValue(band, &has);
	if (has) {
		*how = 's';
		return 0;
	}

	/* Exact range of the whole source: a full read, which a nodata
	 * parameter avoids (doc/raster_clip.md). */
	gw_progress(c->job, 0.05, "scanning the raster for a nodata value");
	for (b = 1; b <= nb; b++) {
		if (GDALComputeRasterMinMax(GDALGetRasterBand(c->src, b), FALSE,
		    mm) != CE_None)
			return gw_job_error(c->job, "raster: reading band %d: %s",
			    b, raster_gdal_error());
		if (mm[0] < lo)
			lo = mm[0];
		if (mm[1] > hi)
			hi = mm[1];
	}
	*how = 'c';
	if (GDALDataTypeIsFloating(dt)) {
		*nodata = dt == GDT_Float32 ? -FLT_MAX : -DBL_MAX;
		if (lo > *nodata)
			return 0;
		*nodata = dt == GDT_Float32 ? FLT_MAX : DBL_MAX;
		if (hi < *nodata)
			return 0;
	} else if (type_range(dt, &tlo, &thi)) {
		*nodata = tlo;
		if (lo > tlo)
			return 0;
		*nodata = thi;
		if (hi < thi)
			return 0;
	}
	*how = 'a';
	return 0;
}

/* The EPSG code of the raster's CRS, or 0. */
static int
srs_epsg(OGRSpatialReferenceH srs)
{
	OGRSpatialReferenceH	 s;
	const char		*auth, *code;
	int			 epsg = 0;

	if (srs == NULL || (s = OSRClone(srs)) == NULL)
		return 0;
	auth = OSRGetAuthorityName(s, NULL);
	if (auth == NULL || strcasecmp(auth, "EPSG") != 0)
		OSRAutoIdentifyEPSG(s);
	auth = OSRGetAuthorityName(s, NULL);
	code = OSRGetAuthorityCode(s, NULL);
	if (auth != NULL && strcasecmp(auth, "EPSG") == 0 && code != NULL)
		epsg = atoi(code);
	OSRDestroySpatialReference(s);
	return epsg;
}

/* The job error for a failed GDAL write, saying why in an operator's
 * words when it is the disk or the file size limit. */
static int
write_error(struct gw_job *job, const char *what)
{
	switch (raster_gdal_io_error()) {
	case 'S':
		return gw_job_error(job, "%s: the disk holding output_root is "
		    "full (%s)", what, raster_gdal_error());
	case 'F':
		return gw_job_error(job, "%s: the output exceeds the "
		    "file_size_limit of raster_clip (%s)", what,
		    raster_gdal_error());
	default:
		return gw_job_error(job, "%s: %s", what, *raster_gdal_error() ?
		    raster_gdal_error() : "GDAL failed");
	}
}

/* Closes ds, returning -1 with a job error if GDAL failed while flushing
 * it (GDALClose returns nothing in GDAL 3.6). */
static int
close_checked(struct gw_job *job, GDALDatasetH ds, const char *what)
{
	raster_gdal_reset();
	GDALClose(ds);
	if (CPLGetLastErrorType() >= CE_Failure || *raster_gdal_error())
		return write_error(job, what);
	return 0;
}

/* Bytes of a dataset's pixels, all bands. */
static double
raster_bytes(GDALDatasetH ds)
{
	int	 b, n = GDALGetRasterCount(ds);
	double	 sum = 0;

	for (b = 1; b <= n; b++)
		sum += (double)GDALGetRasterXSize(ds) * GDALGetRasterYSize(ds) *
		    GDALGetDataTypeSizeBytes(GDALGetRasterDataType(
		    GDALGetRasterBand(ds, b)));
	return sum;
}

/*
 * How large an output may be held in memory before the COG copy: a quarter
 * of the address space limit (memory_limit), at most 512 MiB.  GDAL's block
 * cache and the COG driver need the rest.
 */
static double
mem_budget(void)
{
	struct rlimit	 rl;
	double		 budget = 512.0 * 1024 * 1024;

	if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur / 4.0 < budget)
		budget = rl.rlim_cur / 4.0;
	return budget;
}

/* The state of one raster_clip job, phase to phase. */
struct clipjob {
	struct clip			 c;
	const char			*raster, *clip, *output, *format;
	json_t				*gj;	/* clip_geometry, or NULL */
	int				 crop, all_touched;
	int				 cog;	/* format COG, else GTiff */
	int				 nb;	/* bands */
	double				 nodata;
	char				 how;	/* choose_nodata()'s choice */
	char				 defname[64];
	char				 final[PATH_MAX];	/* published */
	char				 staged[PATH_MAX];	/* in staging */
	char				 tmp[PATH_MAX];		/* written */
	char				 warptmp[PATH_MAX];	/* for a COG */
	char				**argv;	/* gdalwarp's options */
	double				 bytes;	/* the output grid's size */
	GDALDatasetH			 inter;	/* the pixels a COG copies */
	GDALDatasetH			 out;
	struct raster_band_stats	*st;
	int				 width, height;
	double				 gt[6];
	double				 minx, miny, maxx, maxy;
	json_t				*bands;
};

/* Parameters: which raster, which polygons (a table or GeoJSON), how. */
static int
clip_params(struct gw_job *job, struct clipjob *cj)
{
	static const char *const keys[] = { "raster", "clip", "clip_filter",
	    "clip_geometry", "clip_srid", "crop", "all_touched", "nodata",
	    "output", "format", NULL };

	snprintf(cj->defname, sizeof(cj->defname), "raster_clip_%lld.tif",
	    job->id);
	if (gw_param_check_keys(job, keys) == -1 ||
	    gw_param_string(job, "raster", 1, NULL, &cj->raster) == -1 ||
	    gw_param_string(job, "clip", 0, NULL, &cj->clip) == -1 ||
	    gw_param_bool(job, "crop", 1, &cj->crop) == -1 ||
	    gw_param_bool(job, "all_touched", 0, &cj->all_touched) == -1 ||
	    gw_param_string(job, "output", 0, cj->defname, &cj->output) == -1 ||
	    gw_param_string(job, "format", 0, "COG", &cj->format) == -1)
		return -1;
	if (check_output_name(job, cj->output) == -1)
		return -1;
	if (strcasecmp(cj->format, "COG") != 0 &&
	    strcasecmp(cj->format, "GTiff") != 0)
		return gw_job_error(job, "format: expected \"COG\" or \"GTiff\"");
	cj->cog = strcasecmp(cj->format, "COG") == 0;
	cj->gj = json_object_get(job->params, "clip_geometry");
	if (cj->gj != NULL && json_is_null(cj->gj))
		cj->gj = NULL;
	if ((cj->clip == NULL) == (cj->gj == NULL))
		return gw_job_error(job, "clip: give exactly one of clip (a "
		    "table) and clip_geometry (GeoJSON)");
	if (cj->gj != NULL &&
	    json_object_get(job->params, "clip_filter") != NULL)
		return gw_job_error(job, "clip_filter: only with clip (a table)");
	if (cj->clip != NULL &&
	    json_object_get(job->params, "clip_srid") != NULL)
		return gw_job_error(job, "clip_srid: only with clip_geometry "
		    "(a table has its own SRID)");
	if (job->settings->output_root == NULL ||
	    *job->settings->output_root == '\0')
		return gw_job_error(job, "no output_root is configured");
	return 0;
}

/* The raster: guarded path, then opened with the allowed drivers. */
static int
clip_open(struct gw_job *job, struct clipjob *cj)
{
	struct clip	*c = &cj->c;
	char		 path[PATH_MAX];

	if (raster_resolve(job, "raster", job->settings->raster_root,
	    cj->raster, path) == -1 || raster_open(job, "raster",
	    job->settings->raster_root, path, &c->src) == -1)
		return -1;
	log_info("raster %s: %s, %dx%d, %d bands", path,
	    GDALGetDriverShortName(GDALGetDatasetDriver(c->src)),
	    GDALGetRasterXSize(c->src), GDALGetRasterYSize(c->src),
	    GDALGetRasterCount(c->src));
	cj->nb = GDALGetRasterCount(c->src);
	if (cj->nb < 1)
		return gw_job_error(job, "raster: the dataset has no bands");
	if (GDALGetSpatialRef(c->src) == NULL)
		return gw_job_error(job, "raster: the raster has no CRS, so "
		    "the clip polygons cannot be placed on it");
	if ((c->rsrs = OSRClone(GDALGetSpatialRef(c->src))) == NULL ||
	    (c->cut = OGR_G_CreateGeometry(wkbMultiPolygon)) == NULL)
		return gw_job_error(job, "out of memory");
	OSRSetAxisMappingStrategy(c->rsrs, OAMS_TRADITIONAL_GIS_ORDER);
	return 0;
}

/* The clip polygons, in their own CRS, written as the cutline; the nodata
 * value or alpha band of the output. */
static int
clip_polygons(struct gw_job *job, struct clipjob *cj)
{
	struct clip	*c = &cj->c;

	gw_progress(job, 0.01, "reading the clip polygons");
	if ((cj->clip != NULL ? read_clip_table(c, cj->clip) :
	    read_clip_geojson(c, cj->gj)) == -1)
		return -1;
	if (check_cutline(c) == -1 ||
	    choose_nodata(c, &cj->nodata, &cj->how) == -1 ||
	    write_cutline(c) == -1)
		return -1;
	return 0;
}

/*
 * This attempt's own staging directory (see gw_job_staging): the runtime
 * renames it to output_root/<job id>/ once the job's completion has
 * committed, and removes it if the job fails.
 */
static int
clip_paths(struct gw_job *job, struct clipjob *cj)
{
	struct clip	*c = &cj->c;
	const char	*stage, *output = cj->output;

	if ((stage = gw_job_staging(job)) == NULL)
		return -1;
	if (gw_job_output_path(job, output, cj->final,
	    sizeof(cj->final)) == -1)
		return -1;
	if (snprintf(c->dir, sizeof(c->dir), "%s", stage) >=
	    (int)sizeof(c->dir) ||
	    snprintf(cj->staged, sizeof(cj->staged), "%s/%s", c->dir,
	    output) >= (int)sizeof(cj->staged) ||
	    snprintf(cj->tmp, sizeof(cj->tmp), "%s/.%s.part", c->dir,
	    output) >= (int)sizeof(cj->tmp) ||
	    snprintf(cj->warptmp, sizeof(cj->warptmp), "%s/.%s.warp.tif",
	    c->dir, output) >= (int)sizeof(cj->warptmp))
		return gw_job_error(job, "output: path too long");
	return 0;
}

/*
 * The warp: the options gdalwarp is given on the command line.  A first
 * GDALWarp into a virtual (VRT) dataset only computes the output's grid (no
 * pixel is read), to choose where the pixels go: for a COG, into memory
 * when they fit in mem_budget(), else into a temporary tiled GeoTIFF, which
 * the COG driver then copies (reading it twice: overviews, then the image);
 * for a GTiff, straight into the output.  The real warp is GDALWarp into
 * that dataset, which warps in large chunks: copying from the VRT instead
 * would warp (and burn the cutline) once per 512x128 block, many times
 * slower.
 */
static int
clip_probe(struct gw_job *job, struct clipjob *cj)
{
	GDALWarpAppOptions	*wopts = NULL;
	GDALDatasetH		 warped;
	char			**probe_argv = NULL, ndbuf[64];
	int			 usage = 0, rv = -1;

	cj->argv = CSLAddString(cj->argv, "-cutline");
	cj->argv = CSLAddString(cj->argv, cj->c.cutpath);
	if (cj->crop)
		cj->argv = CSLAddString(cj->argv, "-crop_to_cutline");
	if (cj->all_touched) {
		cj->argv = CSLAddString(cj->argv, "-wo");
		cj->argv = CSLAddString(cj->argv, "CUTLINE_ALL_TOUCHED=TRUE");
	}
	if (cj->how == 'a')
		cj->argv = CSLAddString(cj->argv, "-dstalpha");
	else if (cj->how != 's') {
		snprintf(ndbuf, sizeof(ndbuf), "%.17g", cj->nodata);
		cj->argv = CSLAddString(cj->argv, "-dstnodata");
		cj->argv = CSLAddString(cj->argv, ndbuf);
	}
	if (cj->argv == NULL ||
	    (probe_argv = CSLDuplicate(cj->argv)) == NULL ||
	    (probe_argv = CSLAddString(probe_argv, "-of")) == NULL ||
	    (probe_argv = CSLAddString(probe_argv, "VRT")) == NULL ||
	    (wopts = GDALWarpAppOptionsNew(probe_argv, NULL)) == NULL) {
		gw_job_error(job, "GDALWarp options: %s", raster_gdal_error());
		goto done;
	}
	raster_gdal_reset();
	if ((warped = GDALWarp("", NULL, 1, &cj->c.src, wopts,
	    &usage)) == NULL) {
		if (strstr(raster_gdal_error(), "must be larger than zero"))
			gw_job_error(job, "clip: the clip polygons cover less "
			    "than one pixel of the raster");
		else
			gw_job_error(job, "clipping the raster: %s",
			    raster_gdal_error());
		goto done;
	}
	cj->bytes = raster_bytes(warped);
	log_info("output grid %dx%d, %d bands, %.0f MiB", GDALGetRasterXSize(
	    warped), GDALGetRasterYSize(warped), GDALGetRasterCount(warped),
	    cj->bytes / 1048576);
	GDALClose(warped);
	rv = 0;
 done:
	if (wopts != NULL)
		GDALWarpAppOptionsFree(wopts);
	CSLDestroy(probe_argv);
	return rv;
}

/* The real warp, into memory, a temporary GeoTIFF or the output; then, for
 * a COG, the copy that writes it.  cj->tmp is written and closed. */
static int
clip_warp(struct gw_job *job, struct clipjob *cj)
{
	struct raster_progress	 prog;
	GDALWarpAppOptions	*wopts;
	GDALDatasetH		 warped, out;
	GDALDriverH		 cog;
	const char		*dest;
	int			 usage = 0;

	cj->argv = CSLAddString(cj->argv, "-of");
	if (cj->cog && cj->bytes <= mem_budget()) {
		cj->argv = CSLAddString(cj->argv, "MEM");
		dest = "";
	} else {
		cj->argv = CSLAddString(cj->argv, "GTiff");
		cj->argv = CSLAddString(cj->argv, "-co");
		cj->argv = CSLAddString(cj->argv, "TILED=YES");
		cj->argv = CSLAddString(cj->argv, "-co");
		cj->argv = CSLAddString(cj->argv, "BIGTIFF=IF_SAFER");
		if (!cj->cog) {
			cj->argv = CSLAddString(cj->argv, "-co");
			cj->argv = CSLAddString(cj->argv, "COMPRESS=DEFLATE");
			dest = cj->tmp;
		} else
			dest = cj->warptmp;
	}
	if (cj->argv == NULL ||
	    (wopts = GDALWarpAppOptionsNew(cj->argv, NULL)) == NULL)
		return gw_job_error(job, "GDALWarp options: %s",
		    raster_gdal_error());
	prog.job = job;
	prog.from = 0.1;
	prog.to = cj->cog ? 0.6 : 0.9;
	prog.what = "warping";
	GDALWarpAppOptionsSetProgress(wopts, raster_progress_fn, &prog);
	raster_gdal_reset();
	warped = GDALWarp(dest, NULL, 1, &cj->c.src, wopts, &usage);
	GDALWarpAppOptionsFree(wopts);
	if (warped == NULL) {
		write_error(job, "clipping the raster");
		return -1;
	}
	if (!cj->cog)
		return close_checked(job, warped, "writing the output");

	cj->inter = warped;
	if ((cog = GDALGetDriverByName("COG")) == NULL)
		return gw_job_error(job, "GDAL has no COG driver");
	prog.from = 0.6;
	prog.to = 0.9;
	prog.what = "writing the COG";
	raster_gdal_reset();
	out = GDALCreateCopy(cog, cj->tmp, cj->inter, FALSE,
	    (char *[]){ "BIGTIFF=IF_SAFER", NULL }, raster_progress_fn, &prog);
	if (out == NULL) {
		write_error(job, "writing the COG");
		return -1;
	}
	return close_checked(job, out, "writing the output");
}

/* What was written: the grid read back from the file itself. */
static int
clip_readback(struct gw_job *job, struct clipjob *cj)
{
	double	 x[4], y[4], px, py;
	int	 i;

	if ((cj->out = GDALOpenEx(cj->tmp, GDAL_OF_RASTER | GDAL_OF_READONLY,
	    (const char *const []){ "GTiff", NULL }, NULL, NULL)) == NULL)
		return gw_job_error(job, "reading the output back: %s",
		    raster_gdal_error());
	cj->width = GDALGetRasterXSize(cj->out);
	cj->height = GDALGetRasterYSize(cj->out);
	GDALGetGeoTransform(cj->out, cj->gt);
	for (i = 0; i < 4; i++) {
		px = (i & 1) ? cj->width : 0;
		py = (i & 2) ? cj->height : 0;
		x[i] = cj->gt[0] + px * cj->gt[1] + py * cj->gt[2];
		y[i] = cj->gt[3] + px * cj->gt[4] + py * cj->gt[5];
	}
	cj->minx = cj->maxx = x[0];
	cj->miny = cj->maxy = y[0];
	for (i = 1; i < 4; i++) {
		cj->minx = fmin(cj->minx, x[i]);
		cj->maxx = fmax(cj->maxx, x[i]);
		cj->miny = fmin(cj->miny, y[i]);
		cj->maxy = fmax(cj->maxy, y[i]);
	}
	return 0;
}

/*
 * The statistics of each band, from the pixels the COG driver copied (in
 * memory or an uncompressed temporary file: the same values, cheaper to
 * read than the compressed output), else from the file.
 */
static int
clip_stats(struct gw_job *job, struct clipjob *cj)
{
	struct raster_band_stats	*st;
	json_t				*jb;
	int				 b;

	if ((cj->st = st = calloc(cj->nb, sizeof(*st))) == NULL)
		return gw_job_error(job, "out of memory");
	if (raster_stats(job, cj->inter != NULL ? cj->inter : cj->out, cj->nb,
	    st, 0.9, 1.0) == -1)
		return -1;
	if (cj->inter != NULL) {
		GDALClose(cj->inter);
		cj->inter = NULL;
		if (access(cj->warptmp, F_OK) == 0 && unlink(cj->warptmp) == -1)
			log_warn("unlink %s", cj->warptmp);
	}
	if (st[0].count == 0)
		return gw_job_error(job, "clip: no pixel centre of the raster "
		    "lies in the clip polygons (all_touched: true keeps every "
		    "pixel they touch)");
	if ((cj->bands = json_array()) == NULL)
		return gw_job_error(job, "out of memory");
	for (b = 0; b < cj->nb; b++) {
		jb = json_pack("{s:i, s:s, s:f, s:f, s:f, s:f, s:I}",
		    "band", b + 1, "type", GDALGetDataTypeName(
		    GDALGetRasterDataType(GDALGetRasterBand(cj->out, b + 1))),
		    "min", st[b].count ? st[b].min : 0,
		    "max", st[b].count ? st[b].max : 0,
		    "mean", st[b].count ? st[b].mean : 0,
		    "stddev", st[b].count ? st[b].stddev : 0,
		    "valid_count", (json_int_t)st[b].count);
		if (jb == NULL)
			return gw_job_error(job, "out of memory");
		if (st[b].count == 0) {
			json_object_set_new(jb, "min", json_null());
			json_object_set_new(jb, "max", json_null());
			json_object_set_new(jb, "mean", json_null());
			json_object_set_new(jb, "stddev", json_null());
		}
		if (json_array_append_new(cj->bands, jb) == -1)
			return gw_job_error(job, "out of memory");
	}
	return 0;
}

/* The output into its staged name, and the job's result. */
static int
clip_result(struct gw_job *job, struct clipjob *cj, json_t **result)
{
	json_t	*jnodata;
	int	 srid;

	srid = srs_epsg(cj->c.rsrs);
	GDALClose(cj->out);
	cj->out = NULL;
	if (rename(cj->tmp, cj->staged) == -1)
		return gw_job_error(job, "output: rename to %s: %s",
		    cj->staged, strerror(errno));
	if (cj->how == 'a' || isnan(cj->nodata))
		jnodata = json_null();
	else
		jnodata = json_real(cj->nodata);
	*result = json_pack("{s:s, s:s, s:s, s:i, s:i, s:i, s:[f,f,f,f], "
	    "s:[f,f], s:o, s:o, s:b, s:O, s:I, s:I, s:b, s:b}",
	    "output", cj->final, "path", cj->final,
	    "format", cj->cog ? "COG" : "GTiff",
	    "width", cj->width, "height", cj->height, "band_count", cj->nb,
	    "bounds", cj->minx, cj->miny, cj->maxx, cj->maxy,
	    "pixel_size", fabs(cj->gt[1]), fabs(cj->gt[5]),
	    "srid", srid ? json_integer(srid) : json_null(),
	    "nodata", jnodata, "alpha", cj->how == 'a',
	    "bands", cj->bands, "feature_count", (json_int_t)cj->c.nfeatures,
	    "repaired_count", (json_int_t)cj->c.nrepaired,
	    "crop", cj->crop, "all_touched", cj->all_touched);
	if (*result == NULL)
		return gw_job_error(job, "out of memory");
	log_info("wrote %s: %dx%d, %d bands, %lld valid pixels in band 1",
	    cj->final, cj->width, cj->height, cj->nb, cj->st[0].count);
	return 0;
}

static void
clipjob_free(struct clipjob *cj)
{
	struct clip	*c = &cj->c;

	if (cj->out != NULL)
		GDALClose(cj->out);
	if (cj->inter != NULL)
		GDALClose(cj->inter);
	if (c->src != NULL)
		GDALClose(c->src);
	if (c->cutpath[0] != '\0')
		VSIUnlink(c->cutpath);
	CSLDestroy(cj->argv);
	if (c->cut != NULL)
		OGR_G_DestroyGeometry(c->cut);
	if (c->rsrs != NULL)
		OSRDestroySpatialReference(c->rsrs);
	if (c->csrs != NULL)
		OSRDestroySpatialReference(c->csrs);
	json_decref(cj->bands);
	free(cj->st);
}

static int
run_raster_clip(struct gw_job *job, json_t **result)
{
	struct clipjob	 cj;
	int		 rv = -1;

	memset(&cj, 0, sizeof(cj));
	cj.c.job = job;
	if (clip_params(job, &cj) == -1 ||
	    clip_open(job, &cj) == -1 ||
	    clip_polygons(job, &cj) == -1 ||
	    clip_paths(job, &cj) == -1 ||
	    clip_probe(job, &cj) == -1 ||
	    clip_warp(job, &cj) == -1 ||
	    clip_readback(job, &cj) == -1 ||
	    clip_stats(job, &cj) == -1 ||
	    clip_result(job, &cj, result) == -1)
		goto done;
	rv = 0;
 done:
	clipjob_free(&cj);
	return rv;
}

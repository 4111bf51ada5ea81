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
#include "gis/filter.h"
#include "gis/quote.h"
#include "gis/raster.h"


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

/* A CRS from a PostGIS SRID (as spatial_ref_sys defines it), with x =
 * easting/longitude. */
static int
srs_from_srid(struct gw_job *job, const char *param, int srid,
    OGRSpatialReferenceH *out)
{
	static const char *sql = "SELECT auth_name, auth_srid, srtext, "
	    "proj4text FROM spatial_ref_sys WHERE srid = $1::int";
	OGRSpatialReferenceH	 srs;
	PGresult		*res;
	const char		*v;
	char			 s[32];
	OGRErr			 err = OGRERR_FAILURE;

	*out = NULL;
	snprintf(s, sizeof(s), "%d", srid);
	v = s;
	if ((res = gw_exec(job, param, sql, 1, &v)) == NULL)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return gw_job_error(job, "%s: SRID %d is not in spatial_ref_sys",
		    param, srid);
	}
	if ((srs = OSRNewSpatialReference(NULL)) == NULL) {
		PQclear(res);
		return gw_job_error(job, "out of memory");
	}
	if (strcasecmp(PQgetvalue(res, 0, 0), "EPSG") == 0)
		err = OSRImportFromEPSG(srs, atoi(PQgetvalue(res, 0, 1)));
	if (err != OGRERR_NONE && *PQgetvalue(res, 0, 2) != '\0')
		err = OSRImportFromWkt(srs, (char *[]){ PQgetvalue(res, 0, 2) });
	if (err != OGRERR_NONE && *PQgetvalue(res, 0, 3) != '\0')
		err = OSRImportFromProj4(srs, PQgetvalue(res, 0, 3));
	PQclear(res);
	if (err != OGRERR_NONE) {
		OSRDestroySpatialReference(srs);
		return gw_job_error(job, "%s: GDAL cannot read the CRS of SRID %d",
		    param, srid);
	}
	OSRSetAxisMappingStrategy(srs, OAMS_TRADITIONAL_GIS_ORDER);
	*out = srs;
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
	OGRGeometryH			 part, fixed;
	OGRwkbGeometryType		 t;
	int				 i, n, rv = -1;

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
	/* MakeValid may return a collection: keep its polygons. */
	t = wkbFlatten(OGR_G_GetGeometryType(g));
	n = t == wkbPolygon ? 1 : OGR_G_GetGeometryCount(g);
	for (i = 0; i < n; i++) {
		part = t == wkbPolygon ? g : OGR_G_GetGeometryRef(g, i);
		if (wkbFlatten(OGR_G_GetGeometryType(part)) == wkbPolygon) {
			if (OGR_G_AddGeometry(c->cut, part) != OGRERR_NONE) {
				gw_job_error(c->job, "out of memory");
				goto done;
			}
		} else if (wkbFlatten(OGR_G_GetGeometryType(part)) ==
		    wkbMultiPolygon) {
			int j;
			for (j = 0; j < OGR_G_GetGeometryCount(part); j++)
				if (OGR_G_AddGeometry(c->cut,
				    OGR_G_GetGeometryRef(part, j)) !=
				    OGRERR_NONE) {
					gw_job_error(c->job, "out of memory");
					goto done;
				}
		}
	}
	rv = 0;
 done:
	if (ct != NULL)
		OCTDestroyCoordinateTransformation(ct);
	OGR_G_DestroyGeometry(g);
	return rv;
}

/* The only geometry column of the clip table. */
static const struct filter_column *
clip_geometry_column(struct clip *c, const struct filter_table *t)
{
	const struct filter_column	*g = NULL;
	size_t				 i;

	for (i = 0; i < t->ncolumns; i++) {
		if (strcmp(t->columns[i].type, "geometry") != 0)
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
	struct filter_table		 t;
	const struct filter_column	*gc;
	OGRSpatialReferenceH		 srs = NULL;
	OGRGeometryH			 g;
	PGresult			*res = NULL;
	char				*where = NULL, *qcol = NULL, *sql = NULL;
	char				 what[64];
	uint32_t			 nsrid;
	int				 i, n, srid, cur_srid = -1, rv = -1;

	if (filter_resolve_table(job, job->conn, "clip", name, &t) == -1 ||
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
	filter_table_free(&t);
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

static int
run_raster_clip(struct gw_job *job, json_t **result)
{
	static const char *const keys[] = { "raster", "clip", "clip_filter",
	    "clip_geometry", "clip_srid", "crop", "all_touched", "nodata",
	    "output", "format", NULL };
	struct clip			 c;
	struct raster_progress		 prog;
	struct raster_band_stats	*st = NULL;
	GDALWarpAppOptions		*wopts = NULL;
	GDALDatasetH			 warped = NULL, inter = NULL;
	GDALDatasetH			 out = NULL;
	GDALDriverH			 cog;
	json_t				*bands = NULL, *jnodata;
	const char			*raster, *clip, *output, *format;
	char				 path[PATH_MAX], defname[64], ndbuf[64];
	char				 final[PATH_MAX], tmp[PATH_MAX], staged[PATH_MAX];
	const char			*stage;
	char				 warptmp[PATH_MAX], **argv = NULL;
	char				**probe_argv = NULL;
	const char			*dest;
	double				 nodata = 0, gt[6], x[4], y[4], bytes;
	double				 minx, miny, maxx, maxy;
	int				 crop, all_touched, usage = 0, b, nb;
	int				 width, height, i, srid, rv = -1;
	char				 how = 0;
	json_t				*gj;

	memset(&c, 0, sizeof(c));
	c.job = job;
	snprintf(defname, sizeof(defname), "raster_clip_%lld.tif", job->id);
	if (gw_param_check_keys(job, keys) == -1 ||
	    gw_param_string(job, "raster", 1, NULL, &raster) == -1 ||
	    gw_param_string(job, "clip", 0, NULL, &clip) == -1 ||
	    gw_param_bool(job, "crop", 1, &crop) == -1 ||
	    gw_param_bool(job, "all_touched", 0, &all_touched) == -1 ||
	    gw_param_string(job, "output", 0, defname, &output) == -1 ||
	    gw_param_string(job, "format", 0, "COG", &format) == -1)
		return -1;
	if (check_output_name(job, output) == -1)
		return -1;
	if (strcasecmp(format, "COG") != 0 && strcasecmp(format, "GTiff") != 0)
		return gw_job_error(job, "format: expected \"COG\" or \"GTiff\"");
	gj = json_object_get(job->params, "clip_geometry");
	if (gj != NULL && json_is_null(gj))
		gj = NULL;
	if ((clip == NULL) == (gj == NULL))
		return gw_job_error(job, "clip: give exactly one of clip (a "
		    "table) and clip_geometry (GeoJSON)");
	if (gj != NULL && json_object_get(job->params, "clip_filter") != NULL)
		return gw_job_error(job, "clip_filter: only with clip (a table)");
	if (clip != NULL && json_object_get(job->params, "clip_srid") != NULL)
		return gw_job_error(job, "clip_srid: only with clip_geometry "
		    "(a table has its own SRID)");
	if (job->settings->output_root == NULL ||
	    *job->settings->output_root == '\0')
		return gw_job_error(job, "no output_root is configured");

	/* The raster: guarded path, then opened with the allowed drivers. */
	if (raster_resolve(job, "raster", job->settings->raster_root, raster,
	    path) == -1 || raster_open(job, "raster",
	    job->settings->raster_root, path, &c.src) == -1)
		return -1;
	log_info("raster %s: %s, %dx%d, %d bands", path,
	    GDALGetDriverShortName(GDALGetDatasetDriver(c.src)),
	    GDALGetRasterXSize(c.src), GDALGetRasterYSize(c.src),
	    GDALGetRasterCount(c.src));
	nb = GDALGetRasterCount(c.src);
	if (nb < 1) {
		gw_job_error(job, "raster: the dataset has no bands");
		goto done;
	}
	if (GDALGetSpatialRef(c.src) == NULL) {
		gw_job_error(job, "raster: the raster has no CRS, so the clip "
		    "polygons cannot be placed on it");
		goto done;
	}
	if ((c.rsrs = OSRClone(GDALGetSpatialRef(c.src))) == NULL ||
	    (c.cut = OGR_G_CreateGeometry(wkbMultiPolygon)) == NULL) {
		gw_job_error(job, "out of memory");
		goto done;
	}
	OSRSetAxisMappingStrategy(c.rsrs, OAMS_TRADITIONAL_GIS_ORDER);

	/* The clip polygons, in their own CRS. */
	gw_progress(job, 0.01, "reading the clip polygons");
	if ((clip != NULL ? read_clip_table(&c, clip) :
	    read_clip_geojson(&c, gj)) == -1)
		goto done;
	if (check_cutline(&c) == -1 || choose_nodata(&c, &nodata, &how) == -1 ||
	    write_cutline(&c) == -1)
		goto done;

	/*
	 * This attempt's own staging directory (see gw_job_staging): the
	 * runtime renames it to output_root/<job id>/ once the job's
	 * completion has committed, and removes it if the job fails.
	 */
	if ((stage = gw_job_staging(job)) == NULL)
		goto done;
	if (gw_job_output_path(job, output, final, sizeof(final)) == -1)
		goto done;
	if (snprintf(c.dir, sizeof(c.dir), "%s", stage) >= (int)sizeof(c.dir) ||
	    snprintf(staged, sizeof(staged), "%s/%s", c.dir, output) >=
	    (int)sizeof(staged) ||
	    snprintf(tmp, sizeof(tmp), "%s/.%s.part", c.dir, output) >=
	    (int)sizeof(tmp) ||
	    snprintf(warptmp, sizeof(warptmp), "%s/.%s.warp.tif", c.dir,
	    output) >= (int)sizeof(warptmp)) {
		gw_job_error(job, "output: path too long");
		goto done;
	}

	/*
	 * The warp: the options gdalwarp is given on the command line.  A
	 * first GDALWarp into a virtual (VRT) dataset only computes the
	 * output's grid (no pixel is read), to choose where the pixels go:
	 * for a COG, into memory when they fit in mem_budget(), else into a
	 * temporary tiled GeoTIFF, which the COG driver then copies (reading
	 * it twice: overviews, then the image); for a GTiff, straight into
	 * the output.  The real warp is GDALWarp into that dataset, which
	 * warps in large chunks: copying from the VRT instead would warp (and
	 * burn the cutline) once per 512x128 block, many times slower.
	 */
	argv = CSLAddString(argv, "-cutline");
	argv = CSLAddString(argv, c.cutpath);
	if (crop)
		argv = CSLAddString(argv, "-crop_to_cutline");
	if (all_touched) {
		argv = CSLAddString(argv, "-wo");
		argv = CSLAddString(argv, "CUTLINE_ALL_TOUCHED=TRUE");
	}
	if (how == 'a')
		argv = CSLAddString(argv, "-dstalpha");
	else if (how != 's') {
		snprintf(ndbuf, sizeof(ndbuf), "%.17g", nodata);
		argv = CSLAddString(argv, "-dstnodata");
		argv = CSLAddString(argv, ndbuf);
	}
	if (argv == NULL || (probe_argv = CSLDuplicate(argv)) == NULL ||
	    (probe_argv = CSLAddString(probe_argv, "-of")) == NULL ||
	    (probe_argv = CSLAddString(probe_argv, "VRT")) == NULL ||
	    (wopts = GDALWarpAppOptionsNew(probe_argv, NULL)) == NULL) {
		gw_job_error(job, "GDALWarp options: %s", raster_gdal_error());
		goto done;
	}
	raster_gdal_reset();
	warped = GDALWarp("", NULL, 1, &c.src, wopts, &usage);
	if (warped == NULL) {
		if (strstr(raster_gdal_error(), "must be larger than zero"))
			gw_job_error(job, "clip: the clip polygons cover less "
			    "than one pixel of the raster");
		else
			gw_job_error(job, "clipping the raster: %s",
			    raster_gdal_error());
		goto done;
	}
	bytes = raster_bytes(warped);
	log_info("output grid %dx%d, %d bands, %.0f MiB", GDALGetRasterXSize(
	    warped), GDALGetRasterYSize(warped), GDALGetRasterCount(warped),
	    bytes / 1048576);
	GDALClose(warped);
	warped = NULL;
	GDALWarpAppOptionsFree(wopts);
	wopts = NULL;

	argv = CSLAddString(argv, "-of");
	if (strcasecmp(format, "COG") == 0 && bytes <= mem_budget()) {
		argv = CSLAddString(argv, "MEM");
		dest = "";
	} else {
		argv = CSLAddString(argv, "GTiff");
		argv = CSLAddString(argv, "-co");
		argv = CSLAddString(argv, "TILED=YES");
		argv = CSLAddString(argv, "-co");
		argv = CSLAddString(argv, "BIGTIFF=IF_SAFER");
		if (strcasecmp(format, "GTiff") == 0) {
			argv = CSLAddString(argv, "-co");
			argv = CSLAddString(argv, "COMPRESS=DEFLATE");
			dest = tmp;
		} else
			dest = warptmp;
	}
	if (argv == NULL || (wopts = GDALWarpAppOptionsNew(argv, NULL)) ==
	    NULL) {
		gw_job_error(job, "GDALWarp options: %s", raster_gdal_error());
		goto done;
	}
	prog.job = job;
	prog.from = 0.1;
	prog.to = strcasecmp(format, "COG") == 0 ? 0.6 : 0.9;
	prog.what = "warping";
	GDALWarpAppOptionsSetProgress(wopts, raster_progress_fn, &prog);
	raster_gdal_reset();
	if ((warped = GDALWarp(dest, NULL, 1, &c.src, wopts, &usage)) ==
	    NULL) {
		write_error(job, "clipping the raster");
		goto done;
	}

	if (strcasecmp(format, "COG") == 0) {
		if ((cog = GDALGetDriverByName("COG")) == NULL) {
			gw_job_error(job, "GDAL has no COG driver");
			goto done;
		}
		inter = warped;
		warped = NULL;
		prog.from = 0.6;
		prog.to = 0.9;
		prog.what = "writing the COG";
		raster_gdal_reset();
		out = GDALCreateCopy(cog, tmp, inter, FALSE,
		    (char *[]){ "BIGTIFF=IF_SAFER", NULL }, raster_progress_fn,
		    &prog);
		if (out == NULL) {
			write_error(job, "writing the COG");
			goto done;
		}
	} else {
		out = warped;
		warped = NULL;
	}
	i = close_checked(job, out, "writing the output");
	out = NULL;
	if (i == -1)
		goto done;

	/*
	 * What was written: the grid read back from the file itself; the
	 * statistics from the pixels the COG driver copied (in memory or an
	 * uncompressed temporary file: the same values, cheaper to read than
	 * the compressed output), else from the file.
	 */
	if ((out = GDALOpenEx(tmp, GDAL_OF_RASTER | GDAL_OF_READONLY,
	    (const char *const []){ "GTiff", NULL }, NULL, NULL)) == NULL) {
		gw_job_error(job, "reading the output back: %s",
		    raster_gdal_error());
		goto done;
	}
	width = GDALGetRasterXSize(out);
	height = GDALGetRasterYSize(out);
	GDALGetGeoTransform(out, gt);
	for (i = 0; i < 4; i++) {
		double px = (i & 1) ? width : 0, py = (i & 2) ? height : 0;
		x[i] = gt[0] + px * gt[1] + py * gt[2];
		y[i] = gt[3] + px * gt[4] + py * gt[5];
	}
	minx = maxx = x[0];
	miny = maxy = y[0];
	for (i = 1; i < 4; i++) {
		minx = fmin(minx, x[i]), maxx = fmax(maxx, x[i]);
		miny = fmin(miny, y[i]), maxy = fmax(maxy, y[i]);
	}
	if ((st = calloc(nb, sizeof(*st))) == NULL) {
		gw_job_error(job, "out of memory");
		goto done;
	}
	if (raster_stats(job, inter != NULL ? inter : out, nb, st, 0.9,
	    1.0) == -1)
		goto done;
	if (inter != NULL) {
		GDALClose(inter);
		inter = NULL;
		if (access(warptmp, F_OK) == 0 && unlink(warptmp) == -1)
			log_warn("unlink %s", warptmp);
	}
	if (st[0].count == 0) {
		gw_job_error(job, "clip: no pixel centre of the raster lies in "
		    "the clip polygons (all_touched: true keeps every pixel "
		    "they touch)");
		goto done;
	}
	if ((bands = json_array()) == NULL)
		goto oom;
	for (b = 0; b < nb; b++) {
		json_t *jb = json_pack("{s:i, s:s, s:f, s:f, s:f, s:f, s:I}",
		    "band", b + 1, "type", GDALGetDataTypeName(
		    GDALGetRasterDataType(GDALGetRasterBand(out, b + 1))),
		    "min", st[b].count ? st[b].min : 0,
		    "max", st[b].count ? st[b].max : 0,
		    "mean", st[b].count ? st[b].mean : 0,
		    "stddev", st[b].count ? st[b].stddev : 0,
		    "valid_count", (json_int_t)st[b].count);
		if (jb == NULL)
			goto oom;
		if (st[b].count == 0) {
			json_object_set_new(jb, "min", json_null());
			json_object_set_new(jb, "max", json_null());
			json_object_set_new(jb, "mean", json_null());
			json_object_set_new(jb, "stddev", json_null());
		}
		if (json_array_append_new(bands, jb) == -1)
			goto oom;
	}
	srid = srs_epsg(c.rsrs);
	GDALClose(out);
	out = NULL;

	if (rename(tmp, staged) == -1) {
		gw_job_error(job, "output: rename to %s: %s", staged,
		    strerror(errno));
		goto done;
	}
	if (how == 'a' || isnan(nodata))
		jnodata = json_null();
	else
		jnodata = json_real(nodata);
	*result = json_pack("{s:s, s:s, s:s, s:i, s:i, s:i, s:[f,f,f,f], "
	    "s:[f,f], s:o, s:o, s:b, s:O, s:I, s:I, s:b, s:b}",
	    "output", final, "path", final,
	    "format", strcasecmp(format, "COG") == 0 ? "COG" : "GTiff",
	    "width", width, "height", height, "band_count", nb,
	    "bounds", minx, miny, maxx, maxy,
	    "pixel_size", fabs(gt[1]), fabs(gt[5]),
	    "srid", srid ? json_integer(srid) : json_null(),
	    "nodata", jnodata, "alpha", how == 'a',
	    "bands", bands, "feature_count", (json_int_t)c.nfeatures,
	    "repaired_count", (json_int_t)c.nrepaired,
	    "crop", crop, "all_touched", all_touched);
	if (*result == NULL)
		goto oom;
	log_info("wrote %s: %dx%d, %d bands, %lld valid pixels in band 1",
	    final, width, height, nb, st[0].count);
	rv = 0;
	goto done;
 oom:
	gw_job_error(job, "out of memory");
 done:
	if (out != NULL)
		GDALClose(out);
	if (inter != NULL)
		GDALClose(inter);
	if (warped != NULL)
		GDALClose(warped);
	if (c.src != NULL)
		GDALClose(c.src);
	if (c.cutpath[0] != '\0')
		VSIUnlink(c.cutpath);
	if (wopts != NULL)
		GDALWarpAppOptionsFree(wopts);
	CSLDestroy(argv);
	CSLDestroy(probe_argv);
	if (c.cut != NULL)
		OGR_G_DestroyGeometry(c.cut);
	if (c.rsrs != NULL)
		OSRDestroySpatialReference(c.rsrs);
	if (c.csrs != NULL)
		OSRDestroySpatialReference(c.csrs);
	json_decref(bands);
	free(st);
	return rv;
}

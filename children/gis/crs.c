/*
 * crs.c: coordinate reference systems and transformations with PROJ, for
 * the vector job programs (prototypes in crs.h).
 *
 * A PostGIS SRID is turned into a PROJ CRS through spatial_ref_sys: first
 * "auth_name:auth_srid" (EPSG:4326, ESRI:102003, ...), which gives PROJ's
 * full definition with its datum transformations, else the row's srtext
 * (WKT), else its proj4text.  Transformations are normalized for
 * visualization, so x is always easting or longitude, as in PostGIS.
 * The row comes from gw_srs_lookup() (srs.c), the one query of
 * spatial_ref_sys.
 *
 * NOTES
 *   One PROJ context per process, created on first use; child processes are
 *   single threaded.  Errors name the SRID and PROJ's reason.
 */
#include "config.h"

#include <sys/types.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gis/crs.h"
#include "gis/execf.h"

struct gw_transform {
	PJ		*pj;
	int		 to_srid;
	struct gw_job	*job;
	int		 failed;
};

static PJ_CONTEXT	*proj_ctx;

/* At exit, so that leak checkers see only real leaks. */
static void
gw_proj_cleanup(void)
{
	if (proj_ctx != NULL)
		proj_context_destroy(proj_ctx);
	proj_ctx = NULL;
}

PJ_CONTEXT *
gw_proj(void)
{
	if (proj_ctx == NULL) {
		if ((proj_ctx = proj_context_create()) == NULL)
			fatalx("proj_context_create failed");
		atexit(gw_proj_cleanup);
	}
	return proj_ctx;
}

const char *
gw_proj_reason(void)
{
	int	 e = proj_context_errno(gw_proj());

	return e ? proj_context_errno_string(gw_proj(), e) : "unknown error";
}

void
gw_idle_proj(PGconn *conn)
{
	gw_idle_postgis(conn);
	proj_destroy(proj_create(gw_proj(), "EPSG:4326"));
}

/* The CRS of a spatial_ref_sys row: auth_name:auth_srid, else srtext,
 * else proj4text. */
static PJ *
crs_of_row(struct gw_job *job, const struct gw_srs *s)
{
	PJ	*crs = NULL;
	char	 def[128];

	if (s->auth_name != NULL && s->auth_srid != 0) {
		snprintf(def, sizeof(def), "%s:%d", s->auth_name, s->auth_srid);
		crs = proj_create(gw_proj(), def);
	}
	if (crs == NULL && s->srtext != NULL)
		crs = proj_create(gw_proj(), s->srtext);
	if (crs == NULL && s->proj4text != NULL)
		crs = proj_create(gw_proj(), s->proj4text);
	if (crs == NULL)
		gw_job_error(job, "SRID %d: PROJ cannot use its definition: %s",
		    s->srid, gw_proj_reason());
	return crs;
}

PJ *
gw_crs_of_srid(struct gw_job *job, int srid)
{
	struct gw_srs	 s;
	PJ		*crs;

	if (gw_srs_lookup(job, NULL, srid, &s) == -1)
		return NULL;
	crs = crs_of_row(job, &s);
	gw_srs_free(&s);
	return crs;
}

/* The value of +key= in a PROJ string, or NULL. */
static const char *
proj4_value(const char *p, const char *key, size_t *len)
{
	size_t		 n = strlen(key);
	const char	*v;

	for (v = p; (v = strstr(v, key)) != NULL; v += n)
		if ((v == p || v[-1] == ' ') && v[n] == '=') {
			v += n + 1;
			*len = strcspn(v, " ");
			return v;
		}
	return NULL;
}

/*
 * The CRS kind and unit from spatial_ref_sys.proj4text, which PostGIS keeps
 * for every SRID: no PROJ database look-up for the common case.  0 if it
 * told, 1 if PROJ must.
 */
int
gw_crs_from_proj4(const char *p, int *geographic, double *to_metre)
{
	static const struct {
		const char	*name;
		double		 f;
	} units[] = {
		{ "m", 1 }, { "km", 1000 }, { "ft", 0.3048 },
		{ "us-ft", 1200.0 / 3937.0 }, { "yd", 0.9144 },
		{ "us-yd", 3600.0 / 3937.0 }, { "mi", 1609.344 },
		{ "us-mi", 6336000.0 / 3937.0 }, { "fath", 1.8288 },
		{ "link", 0.201168 }, { "ind-ft", 0.30479841 },
		{ "dm", 0.1 }, { "cm", 0.01 },
	};
	const char	*v;
	char		 buf[32], *end;
	size_t		 n, i;

	if ((v = proj4_value(p, "+proj", &n)) == NULL || n == 0 ||
	    n >= sizeof(buf))
		return 1;
	memcpy(buf, v, n);
	buf[n] = '\0';
	if (strcmp(buf, "longlat") == 0 || strcmp(buf, "latlong") == 0 ||
	    strcmp(buf, "lonlat") == 0 || strcmp(buf, "latlon") == 0) {
		*geographic = 1;
		*to_metre = 1;
		return 0;
	}
	if (strcmp(buf, "geocent") == 0 || strstr(p, "+axis=") != NULL)
		return 1;
	*geographic = 0;
	if ((v = proj4_value(p, "+to_meter", &n)) != NULL) {
		*to_metre = strtod(v, &end);
		return end == v + n && *to_metre > 0 ? 0 : 1;
	}
	if ((v = proj4_value(p, "+units", &n)) == NULL) {
		*to_metre = 1;		/* PROJ's default */
		return 0;
	}
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strlen(units[i].name) == n &&
		    strncmp(units[i].name, v, n) == 0) {
			*to_metre = units[i].f;
			return 0;
		}
	return 1;
}

/*
 * The CRS kind and unit from PROJ's object of the row (for auth_name:
 * auth_srid, a proj.db look-up): for the definitions whose proj4text does
 * not tell.
 */
static int
crs_info_proj(struct gw_job *job, const struct gw_srs *s, int *geographic,
    double *to_metre)
{
	PJ_CONTEXT	*ctx = gw_proj();
	PJ		*crs, *h = NULL, *cs = NULL;
	PJ_TYPE		 t;
	double		 f = 1;
	int		 rv = -1;

	if ((crs = crs_of_row(job, s)) == NULL)
		return -1;
	t = proj_get_type(crs);
	if (t == PJ_TYPE_BOUND_CRS) {
		h = proj_get_source_crs(ctx, crs);
	} else if (t == PJ_TYPE_COMPOUND_CRS) {
		h = proj_crs_get_sub_crs(ctx, crs, 0);
	}
	if (h != NULL)
		t = proj_get_type(h);
	*geographic = t == PJ_TYPE_GEOGRAPHIC_2D_CRS ||
	    t == PJ_TYPE_GEOGRAPHIC_3D_CRS || t == PJ_TYPE_GEOGRAPHIC_CRS;
	if (*geographic) {
		*to_metre = 1;
		rv = 0;
		goto done;
	}
	if ((cs = proj_crs_get_coordinate_system(ctx, h ? h : crs)) == NULL ||
	    !proj_cs_get_axis_info(ctx, cs, 0, NULL, NULL, NULL, &f, NULL,
	    NULL, NULL)) {
		gw_job_error(job, "SRID %d: cannot read the CRS's unit: %s",
		    s->srid, gw_proj_reason());
		goto done;
	}
	*to_metre = f > 0 ? f : 1;
	rv = 0;
 done:
	proj_destroy(cs);
	proj_destroy(h);
	proj_destroy(crs);
	return rv;
}

int
gw_crs_info(struct gw_job *job, int srid, int *geographic, double *to_metre)
{
	struct gw_srs	 s;
	int		 rv;

	if (gw_srs_lookup(job, NULL, srid, &s) == -1)
		return -1;
	if (s.proj4text != NULL &&
	    gw_crs_from_proj4(s.proj4text, geographic, to_metre) == 0)
		rv = 0;
	else
		rv = crs_info_proj(job, &s, geographic, to_metre);
	gw_srs_free(&s);
	return rv;
}

/*
 * The transformation from src to dst (both destroyed here), normalized so
 * that x is easting or longitude; to names dst in messages.
 */
static int
transform_make(struct gw_job *job, PJ *src, PJ *dst, int from_srid,
    const char *to, int to_srid, struct gw_transform **out)
{
	PJ_CONTEXT		*ctx = gw_proj();
	PJ			*pj = NULL, *norm = NULL;
	struct gw_transform	*t;

	*out = NULL;
	if ((pj = proj_create_crs_to_crs_from_pj(ctx, src, dst, NULL,
	    NULL)) == NULL ||
	    (norm = proj_normalize_for_visualization(ctx, pj)) == NULL) {
		gw_job_error(job, "no transformation from SRID %d to %s: %s",
		    from_srid, to, gw_proj_reason());
		goto done;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		gw_job_error(job, "out of memory");
		goto done;
	}
	t->pj = norm;
	t->to_srid = to_srid;
	norm = NULL;
	*out = t;
 done:
	proj_destroy(norm);
	proj_destroy(pj);
	proj_destroy(src);
	proj_destroy(dst);
	return *out != NULL ? 0 : -1;
}

int
gw_crs_ellipsoid(struct gw_job *job, const char *param, int srid, double *a,
    double *f)
{
	PJ_CONTEXT	*ctx = gw_proj();
	PJ		*crs, *src = NULL, *ell = NULL;
	double		 b, invf;
	int		 inv, rv = -1;

	if ((crs = gw_crs_of_srid(job, srid)) == NULL)
		return -1;
	if (proj_get_type(crs) == PJ_TYPE_BOUND_CRS)
		src = proj_get_source_crs(ctx, crs);
	if ((ell = proj_get_ellipsoid(ctx, src ? src : crs)) == NULL ||
	    !proj_ellipsoid_get_parameters(ctx, ell, a, &b, &inv, &invf)) {
		gw_job_error(job, "%s: SRID %d: PROJ cannot read its ellipsoid",
		    param, srid);
		goto done;
	}
	*f = inv && invf > 0 ? 1 / invf : (*a - b) / *a;
	rv = 0;
 done:
	proj_destroy(ell);
	proj_destroy(src);
	proj_destroy(crs);
	return rv;
}

int
gw_transform_lookup(struct gw_job *job, int from_srid, int to_srid,
    struct gw_transform_rows *rows)
{
	memset(rows, 0, sizeof(*rows));
	if (gw_srs_lookup(job, NULL, from_srid, &rows->from) == -1)
		return -1;
	if (gw_srs_lookup(job, NULL, to_srid, &rows->to) == -1) {
		gw_srs_free(&rows->from);
		return -1;
	}
	return 0;
}

int
gw_transform_build(struct gw_job *job, struct gw_transform_rows *rows,
    struct gw_transform **out)
{
	PJ	*src = NULL, *dst = NULL;
	char	 to[32];
	int	 rv = -1;

	*out = NULL;
	if ((src = crs_of_row(job, &rows->from)) != NULL &&
	    (dst = crs_of_row(job, &rows->to)) != NULL) {
		snprintf(to, sizeof(to), "SRID %d", rows->to.srid);
		rv = transform_make(job, src, dst, rows->from.srid, to,
		    rows->to.srid, out);
	} else
		proj_destroy(src);
	gw_srs_free(&rows->from);
	gw_srs_free(&rows->to);
	return rv;
}

int
gw_transform_new(struct gw_job *job, int from_srid, int to_srid,
    struct gw_transform **out)
{
	struct gw_transform_rows	 rows;

	*out = NULL;
	if (gw_transform_lookup(job, from_srid, to_srid, &rows) == -1)
		return -1;
	return gw_transform_build(job, &rows, out);
}

int
gw_transform_to_def(struct gw_job *job, int from_srid, const char *def,
    struct gw_transform **out)
{
	PJ	*src, *dst;

	*out = NULL;
	if ((src = gw_crs_of_srid(job, from_srid)) == NULL)
		return -1;
	if ((dst = proj_create(gw_proj(), def)) == NULL) {
		gw_job_error(job, "PROJ cannot use %s: %s", def,
		    gw_proj_reason());
		proj_destroy(src);
		return -1;
	}
	return transform_make(job, src, dst, from_srid, def, 0, out);
}

void
gw_transform_free(struct gw_transform *t)
{
	if (t == NULL)
		return;
	proj_destroy(t->pj);
	free(t);
}

size_t
gw_transform_xy(struct gw_transform *t, int inverse, double *x, double *y,
    size_t n)
{
	size_t	 i, bad = 0;

	proj_trans_generic(t->pj, inverse ? PJ_INV : PJ_FWD, x, sizeof(*x), n,
	    y, sizeof(*y), n, NULL, 0, 0, NULL, 0, 0);
	for (i = 0; i < n; i++)
		if (!isfinite(x[i]) || !isfinite(y[i]))
			bad++;
	return bad;
}

int
gw_transform_points(struct gw_job *job, struct gw_transform *t, double *x,
    double *y, size_t n)
{
	if (gw_transform_xy(t, 0, x, y, n) > 0)
		return gw_job_error(job, "a coordinate cannot be transformed "
		    "to SRID %d (outside the CRS's area?)", t->to_srid);
	return 0;
}

static int
transform_xy(double *x, double *y, void *arg)
{
	struct gw_transform	*t = arg;
	PJ_COORD		 c;

	c = proj_coord(*x, *y, 0, 0);
	c = proj_trans(t->pj, PJ_FWD, c);
	if (!isfinite(c.xy.x) || !isfinite(c.xy.y)) {
		t->failed = 1;
		return 0;
	}
	*x = c.xy.x;
	*y = c.xy.y;
	return 1;
}

GEOSGeometry *
gw_transform_geom(struct gw_job *job, struct gw_transform *t,
    const GEOSGeometry *g)
{
	GEOSContextHandle_t	 ctx = gw_geos();
	GEOSGeometry		*r;

	t->failed = 0;
	r = GEOSGeom_transformXY_r(ctx, g, transform_xy, t);
	if (r == NULL || t->failed) {
		if (r != NULL)
			GEOSGeom_destroy_r(ctx, r);
		gw_job_error(job, "a coordinate cannot be transformed to SRID "
		    "%d (outside the CRS's area?)", t->to_srid);
		return NULL;
	}
	GEOSSetSRID_r(ctx, r, t->to_srid);
	return r;
}

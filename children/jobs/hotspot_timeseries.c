/*
 * hotspot_timeseries.c: the hotspot_timeseries job program, Emerging Hot
 * Spot Analysis (ArcGIS Pro's Create Space Time Cube By Aggregating Points
 * followed by Emerging Hot Spot Analysis).
 *
 * The points of "input" are aggregated into a space-time cube of square
 * cells of cell_size metres by time steps of time_step, the last step ending
 * at the last timestamp; each bin gets the Gi* of its space-time
 * neighbourhood (cube.c) with a Benjamini-Hochberg corrected confidence bin,
 * each location the Mann-Kendall trend of its Gi* z-scores and a category
 * (mannkendall.c).  Output: the locations table (one cell polygon per
 * location with data) and <output>_bins (one row per location and step).
 *
 * NOTES
 *   PostgreSQL does all the time arithmetic: the step boundaries are
 *   end - k * time_step (time_step bound as a parameter and cast to
 *   interval), so that any interval works, months included; the program only
 *   binary-searches each point's epoch among them.  The job's transaction
 *   runs with TimeZone UTC, so that a day is 24 hours and a timestamp
 *   without time zone is read as UTC.
 *
 *   Cells are measured in metres: a projected CRS in metres (or feet: its
 *   unit is converted) is used as it is; a geographic CRS, or Mercator
 *   (whose metres are not metres away from the equator), is projected with
 *   PROJ, here, into a Lambert azimuthal equal-area plane centred on the
 *   data, and the cell polygons are projected back.
 *
 *   Points are streamed by the cursor reader (gis/cursor.h) and both tables
 *   written by the COPY writer (gis/output.h); memory is the cube
 *   (locations x steps doubles, and three arrays of that size for Gi*), not
 *   the points.
 *   Errors name the parameter; nothing is written before every check passed,
 *   and a failed job's output is rolled back by the runtime.
 */
#include "config.h"

#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <jansson.h>

#include "gwworker.h"
#include "gis/crs.h"
#include "gis/cursor.h"
#include "gis/execf.h"
#include "gis/geom.h"
#include "gis/layer.h"
#include "gis/output.h"
#include "gis/quote.h"
#include "num/stats.h"
#include "num/cube.h"
#include "num/mannkendall.h"

#define JOB_TYPE	"hotspot_timeseries"
#define MAX_STEPS	10000		/* time steps: far more than any trend needs */
#define MAX_BINS	100000000LL	/* locations x steps */
#define POINT_BATCH	50000		/* points projected per PROJ call */
#define BOUNDARY_CHUNK	256

/* PostgreSQL type oids of the time_field types accepted. */
#define OID_DATE	1082
#define OID_TIMESTAMP	1114
#define OID_TIMESTAMPTZ	1184

static const char *const allowed_keys[] = {
	"input", "geometry_column", "time_field", "field", "cell_size",
	"time_step", "neighborhood_distance", "neighborhood_time_steps",
	"output", "overwrite", NULL
};

struct ts {
	struct gw_job	*job;
	struct gw_layer	*layer;
	const char	*outname;	/* the output; outname_bins too */
	char		 outbuf[128];
	char		 binsname[128];
	int		 overwrite;
	const char	*time_step;
	int		 field_idx;	/* -1: counts */
	int		 time_idx;
	int		 ksteps;
	double		 cell;
	int		 cell_default;
	double		 dist;
	int		 dist_default;

	/* The SQL text of the point expressions, built from the catalog. */
	char		*time_sql;	/* "t"::timestamptz */
	char		*geom_sql;	/* "geom" */
	char		*ok_sql;	/* the row is used */

	long long	 nrows;		/* rows of input */
	long long	 npoints;	/* used */
	int		 srid;
	int		 laea;		/* projected here, else native */
	char		 proj[256];	/* the LAEA definition */
	struct gw_transform *tr;	/* input CRS -> LAEA, lon/lat order */
	double		 to_metre;
	double		 xmin, ymin, xmax, ymax;	/* metres */
	char		*tmin_text, *tmax_text;
	double		 tmin, tmax;	/* epoch */

	int		 nsteps;
	double		*bound;		/* nsteps + 1 epochs, descending */
	char	       **bound_text;	/* the same, as timestamptz text */
	int		 nbound;	/* strings in bound_text */

	/* Points read, gathered for one projection call (aggregate()). */
	double		 gcols, grows;	/* the grid, in cells */
	double		*px, *py;	/* metres (before any projection) */
	double		*pe, *pv;	/* epoch, value */
	int		 np;
	long long	 naggregated;

	struct cube	 cube;
	double		*z, *p;
	signed char	*bin;
	int		*nnbr;
	struct mk_result *trend;	/* of the Gi* z-scores */
	struct mk_result *vtrend;	/* of the values (counts) */
	unsigned char	*category;
	long long	 ncat[EHS_NCATEGORIES];
	struct mk_result overall;
};

/* Runs sql, a statement without parameters or rows, with the runtime's
 * gw_exec(); 0, or -1 after a job error "what: <server message>". */
static int
exec_simple(struct gw_job *job, const char *what, const char *sql)
{
	PGresult	*res;

	if ((res = gw_exec(job, what, sql, 0, NULL)) == NULL)
		return -1;
	PQclear(res);
	return 0;
}

/*
 * The parameters, checked before anything is read.  An absent or null
 * cell_size / neighborhood_distance is computed from the data later.
 */
static int
read_params(struct ts *ts)
{
	struct gw_job	*job = ts->job;
	const char	*input, *geomcol, *timef, *field;
	long long	 k;
	json_t		*v;
	int		 i;
	struct gw_column *col;

	if (gw_param_check_keys(job, allowed_keys) == -1)
		return -1;
	if (gw_param_string(job, "input", 1, NULL, &input) == -1 ||
	    gw_param_string(job, "geometry_column", 0, NULL, &geomcol) == -1 ||
	    gw_param_string(job, "time_field", 1, NULL, &timef) == -1 ||
	    gw_param_string(job, "field", 0, NULL, &field) == -1 ||
	    gw_param_string(job, "time_step", 1, NULL, &ts->time_step) == -1 ||
	    gw_param_int(job, "neighborhood_time_steps", 1, 0, MAX_STEPS,
	    &k) == -1)
		return -1;
	ts->ksteps = (int)k;

	v = json_object_get(job->params, "cell_size");
	if (v == NULL || json_is_null(v)) {
		ts->cell_default = 1;
	} else if (gw_param_double(job, "cell_size", NAN, 1e-3, 1e7,
	    &ts->cell) == -1)
		return -1;
	v = json_object_get(job->params, "neighborhood_distance");
	if (v == NULL || json_is_null(v)) {
		ts->dist_default = 1;
	} else if (gw_param_double(job, "neighborhood_distance", NAN, 1e-3,
	    1e8, &ts->dist) == -1)
		return -1;

	if (gw_layer_resolve(job, "input", input, geomcol, NULL,
	    &ts->layer) == -1)
		return -1;
	if (ts->layer->dim != GW_DIM_POINT && ts->layer->dim != GW_DIM_UNKNOWN)
		return gw_job_error(job, "input: %s has %s geometries; "
		    "hotspot_timeseries aggregates points",
		    ts->layer->qualified, ts->layer->geom_type);

	if ((i = gw_layer_column(ts->layer, timef)) == -1)
		return gw_job_error(job, "time_field: %s has no column \"%s\"",
		    ts->layer->qualified, timef);
	col = &ts->layer->columns[i];
	if (col->typid != OID_DATE && col->typid != OID_TIMESTAMP &&
	    col->typid != OID_TIMESTAMPTZ)
		return gw_job_error(job, "time_field: column \"%s\" is %s; "
		    "expected a date, timestamp or timestamptz column",
		    col->name, col->type);
	ts->time_idx = i;

	ts->field_idx = -1;
	if (field != NULL) {
		if ((i = gw_layer_column(ts->layer, field)) == -1)
			return gw_job_error(job, "field: %s has no column "
			    "\"%s\"", ts->layer->qualified, field);
		col = &ts->layer->columns[i];
		if (!col->numeric)
			return gw_job_error(job, "field: column \"%s\" is %s; "
			    "expected a numeric column", col->name, col->type);
		ts->field_idx = i;
	}
	/* Both output names are locked from here on. */
	if (gw_output_name(job, ts->outbuf, sizeof(ts->outbuf), &ts->outname,
	    &ts->overwrite) == -1)
		return -1;
	if (strlen(ts->outname) + 5 > 63)
		return gw_job_error(job, "output: \"%s\" is too long: the bins "
		    "table \"%s_bins\" must fit in 63 bytes", ts->outname,
		    ts->outname);
	snprintf(ts->binsname, sizeof(ts->binsname), "%s_bins", ts->outname);
	return gw_job_lock_output(job, ts->binsname);
}

/* The SQL fragments of the point query, from the catalog's names only. */
static int
build_sql(struct ts *ts)
{
	struct gw_job	*job = ts->job;
	char		*qt = NULL, *qg = NULL, *qf = NULL;
	int		 ret = -1;

	if ((qt = gw_quote_ident(job,
	    ts->layer->columns[ts->time_idx].name)) == NULL ||
	    (qg = gw_quote_ident(job, ts->layer->geom_column)) == NULL)
		goto done;
	if (ts->field_idx != -1 && (qf = gw_quote_ident(job,
	    ts->layer->columns[ts->field_idx].name)) == NULL)
		goto done;
	if (asprintf(&ts->time_sql, "%s::timestamptz", qt) == -1) {
		ts->time_sql = NULL;
		goto nomem;
	}
	if ((ts->geom_sql = strdup(qg)) == NULL)
		goto nomem;
	if (asprintf(&ts->ok_sql, "%s IS NOT NULL AND NOT ST_IsEmpty(%s) AND "
	    "%s IS NOT NULL AND %s IS NOT NULL", qg, qg, qt,
	    qf ? qf : "true") == -1) {
		ts->ok_sql = NULL;
		goto nomem;
	}
	ret = 0;
	goto done;
nomem:
	gw_job_error(job, "out of memory");
done:
	free(qt);
	free(qg);
	free(qf);
	return ret;
}

/* time_step must be a positive PostgreSQL interval.  A cast error aborts
 * the statement only, thanks to the savepoint. */
static int
check_time_step(struct ts *ts)
{
	struct gw_job	*job = ts->job;
	PGresult	*res;
	const char	*v[1] = { ts->time_step };
	int		 ok;

	if (exec_simple(job, "savepoint", "SAVEPOINT gw_time_step") == -1)
		return -1;
	res = PQexecParams(job->conn, "SELECT $1::text::interval > "
	    "interval '0', now() - $1::text::interval < now()", 1, NULL, v,
	    NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		PQclear(res);
		if (exec_simple(job, "rollback to savepoint",
		    "ROLLBACK TO SAVEPOINT gw_time_step") == -1)
			return -1;
		return gw_job_error(job, "time_step: \"%s\" is not a "
		    "PostgreSQL interval (expected e.g. \"1 day\", \"1 week\", "
		    "\"1 month\")", ts->time_step);
	}
	ok = strcmp(PQgetvalue(res, 0, 0), "t") == 0 &&
	    strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	PQclear(res);
	if (!ok)
		return gw_job_error(job, "time_step: \"%s\" is not a positive "
		    "interval", ts->time_step);
	return exec_simple(job, "release savepoint",
	    "RELEASE SAVEPOINT gw_time_step");
}

/* Whether srid's CRS is a Mercator projection (its metres stretch). */
static int
is_mercator(struct ts *ts, int *merc)
{
	struct gw_srs	 s;

	if (gw_srs_lookup(ts->job, NULL, ts->srid, &s) == -1)
		return -1;
	*merc = gw_srs_mercator(&s);
	gw_srs_free(&s);
	return 0;
}

/*
 * The transformation from the input's CRS to the LAEA plane centred on the
 * data (ts->proj), and the extent of the input's bounding box in that
 * plane: its boundary, densified, projected.  PostGIS could project each
 * point too, but it builds its PROJ object anew for every call with a
 * PROJ string: far too slow for a million points.
 */
static int
laea_setup(struct ts *ts)
{
	char		 crs[300];
	double		 bx[256], by[256], f;
	int		 i;

	snprintf(crs, sizeof(crs), "%s +type=crs", ts->proj);
	if (gw_transform_to_def(ts->job, ts->srid, crs, &ts->tr) == -1)
		return -1;

	/* 64 points a side, counter-clockwise. */
	for (i = 0; i < 64; i++) {
		f = i / 64.0;
		bx[i] = ts->xmin + f * (ts->xmax - ts->xmin);
		by[i] = ts->ymin;
		bx[64 + i] = ts->xmax;
		by[64 + i] = ts->ymin + f * (ts->ymax - ts->ymin);
		bx[128 + i] = ts->xmax - f * (ts->xmax - ts->xmin);
		by[128 + i] = ts->ymax;
		bx[192 + i] = ts->xmin;
		by[192 + i] = ts->ymax - f * (ts->ymax - ts->ymin);
	}
	if (gw_transform_xy(ts->tr, 0, bx, by, 256) > 0)
		return gw_job_error(ts->job, "input: the extent of %s cannot "
		    "be projected to %s", ts->layer->qualified, ts->proj);
	ts->xmin = ts->ymin = HUGE_VAL;
	ts->xmax = ts->ymax = -HUGE_VAL;
	for (i = 0; i < 256; i++) {
		ts->xmin = fmin(ts->xmin, bx[i]);
		ts->ymin = fmin(ts->ymin, by[i]);
		ts->xmax = fmax(ts->xmax, bx[i]);
		ts->ymax = fmax(ts->ymax, by[i]);
	}
	return 0;
}

/*
 * One pass over the input: how many rows and usable points, the time range,
 * the SRID and the extent in the layer's CRS.  Then the metric frame: the
 * extent in metres, projected if needed.
 */
/* Row 0 of the survey query into ts: counts, SRID, time range, extent. */
static int
survey_row(struct ts *ts, PGresult *res)
{
	struct gw_job	*job = ts->job;
	const char	*input = ts->layer->qualified;
	long long	 nonpoint;
	int		 sridmin, sridmax;

	ts->nrows = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	ts->npoints = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	nonpoint = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
	if (ts->npoints == 0)
		return gw_job_error(job, "input: %s has no point with a "
		    "geometry, a time (time_field)%s: the time window is empty",
		    input, ts->field_idx != -1 ? " and a value (field)" : "");
	if (nonpoint > 0)
		return gw_job_error(job, "input: %lld geometries of %s are not "
		    "points; hotspot_timeseries aggregates points", nonpoint,
		    input);
	sridmin = atoi(PQgetvalue(res, 0, 3));
	sridmax = atoi(PQgetvalue(res, 0, 4));
	if (sridmin != sridmax)
		return gw_job_error(job, "input: %s mixes SRIDs %d and %d",
		    input, sridmin, sridmax);
	ts->srid = sridmin;
	if (ts->srid <= 0)
		return gw_job_error(job, "input: %s has no SRID, so distances "
		    "in metres cannot be measured", input);
	if ((ts->tmin_text = strdup(PQgetvalue(res, 0, 5))) == NULL ||
	    (ts->tmax_text = strdup(PQgetvalue(res, 0, 6))) == NULL)
		return gw_job_error(job, "out of memory");
	ts->tmin = strtod(PQgetvalue(res, 0, 7), NULL);
	ts->tmax = strtod(PQgetvalue(res, 0, 8), NULL);
	ts->xmin = strtod(PQgetvalue(res, 0, 9), NULL);
	ts->ymin = strtod(PQgetvalue(res, 0, 10), NULL);
	ts->xmax = strtod(PQgetvalue(res, 0, 11), NULL);
	ts->ymax = strtod(PQgetvalue(res, 0, 12), NULL);
	return 0;
}

/* The metric frame: the input's own CRS scaled to metres, or (geographic
 * or Mercator) the LAEA projection centred on the middle of the extent. */
static int
survey_frame(struct ts *ts)
{
	struct gw_job	*job = ts->job;
	PGresult	*res;
	char		 b[3][32];
	const char	*v[3] = { b[0], b[1], b[2] };
	int		 merc;

	/* gw_layer_resolve() told for the layer's SRID; the rows may have
	 * another if the column is not constrained. */
	if (ts->srid == ts->layer->srid) {
		ts->laea = ts->layer->geographic;
		ts->to_metre = ts->layer->to_metre;
	} else if (gw_crs_info(job, ts->srid, &ts->laea, &ts->to_metre) == -1)
		return -1;
	if (!ts->laea) {
		if (is_mercator(ts, &merc) == -1)
			return -1;
		ts->laea = merc;
	}
	if (!ts->laea) {
		ts->xmin *= ts->to_metre;
		ts->ymin *= ts->to_metre;
		ts->xmax *= ts->to_metre;
		ts->ymax *= ts->to_metre;
		return 0;
	}
	snprintf(b[0], sizeof(b[0]), "%.17g", (ts->xmin + ts->xmax) / 2);
	snprintf(b[1], sizeof(b[1]), "%.17g", (ts->ymin + ts->ymax) / 2);
	snprintf(b[2], sizeof(b[2]), "%d", ts->srid);
	if ((res = gw_exec(job, "finding the centre of the input",
	    "SELECT ST_X(c), ST_Y(c) FROM ST_Transform(ST_SetSRID("
	    "ST_MakePoint($1::float8, $2::float8), $3::int), 4326) c",
	    3, v)) == NULL)
		return -1;
	snprintf(ts->proj, sizeof(ts->proj), "+proj=laea +lat_0=%.6f "
	    "+lon_0=%.6f +x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs",
	    strtod(PQgetvalue(res, 0, 1), NULL),
	    strtod(PQgetvalue(res, 0, 0), NULL));
	PQclear(res);
	ts->to_metre = 1;
	return laea_setup(ts);
}

static int
survey(struct ts *ts)
{
	struct gw_job	*job = ts->job;
	PGresult	*res;
	int		 rc;

	if ((res = gw_execf(job, "reading input",
	    "SELECT count(*), count(*) FILTER (WHERE ok), "
	    "count(*) FILTER (WHERE ok AND ST_GeometryType(g) <> 'ST_Point'), "
	    "min(ST_SRID(g)) FILTER (WHERE ok), "
	    "max(ST_SRID(g)) FILTER (WHERE ok), "
	    "min(t) FILTER (WHERE ok)::text, max(t) FILTER (WHERE ok)::text, "
	    "extract(epoch FROM min(t) FILTER (WHERE ok)), "
	    "extract(epoch FROM max(t) FILTER (WHERE ok)), "
	    "ST_XMin(ST_Extent(g) FILTER (WHERE ok)), "
	    "ST_YMin(ST_Extent(g) FILTER (WHERE ok)), "
	    "ST_XMax(ST_Extent(g) FILTER (WHERE ok)), "
	    "ST_YMax(ST_Extent(g) FILTER (WHERE ok)) "
	    "FROM (SELECT %s AS g, %s AS t, (%s) AS ok FROM %s) s",
	    ts->geom_sql, ts->time_sql, ts->ok_sql,
	    ts->layer->qualified)) == NULL)
		return -1;
	if (PQntuples(res) != 1)
		rc = gw_job_error(job, "input: %s has no rows",
		    ts->layer->qualified);
	else
		rc = survey_row(ts, res);
	PQclear(res);
	if (rc == -1)
		return -1;
	return survey_frame(ts);
}

/*
 * The step boundaries end - k * time_step, k = 0, 1, ..., computed by
 * PostgreSQL a chunk at a time, until one falls before the first point.
 * Step t (0 = oldest) covers (bound[nsteps - t], bound[nsteps - 1 - t]].
 */
static int
time_steps(struct ts *ts)
{
	struct gw_job	*job = ts->job;
	PGresult	*res;
	char		 from[16], to[16];
	const char	*v[4] = { ts->tmax_text, ts->time_step, from, to };
	double		*nb;
	char	       **nt;
	int		 k0, i, n, cap = 0, count = 0;

	for (k0 = 0; ; k0 += BOUNDARY_CHUNK) {
		snprintf(from, sizeof(from), "%d", k0);
		snprintf(to, sizeof(to), "%d", k0 + BOUNDARY_CHUNK - 1);
		if ((res = gw_exec(job, "computing time steps",
		    "SELECT extract(epoch FROM $1::timestamptz - "
		    "k * $2::text::interval), "
		    "($1::timestamptz - k * $2::text::interval)::text "
		    "FROM generate_series($3::int, $4::int) k ORDER BY k",
		    4, v)) == NULL)
			return -1;
		n = PQntuples(res);
		if (count + n > cap) {
			cap = count + n;
			nb = reallocarray(ts->bound, cap, sizeof(*nb));
			if (nb != NULL)
				ts->bound = nb;
			nt = reallocarray(ts->bound_text, cap, sizeof(*nt));
			if (nt != NULL)
				ts->bound_text = nt;
			if (nb == NULL || nt == NULL) {
				PQclear(res);
				return gw_job_error(job, "out of memory");
			}
		}
		for (i = 0; i < n; i++) {
			ts->bound[count] = strtod(PQgetvalue(res, i, 0), NULL);
			if ((ts->bound_text[count] =
			    strdup(PQgetvalue(res, i, 1))) == NULL) {
				PQclear(res);
				return gw_job_error(job, "out of memory");
			}
			ts->nbound = count + 1;
			if (count > 0 &&
			    !(ts->bound[count] < ts->bound[count - 1])) {
				PQclear(res);
				count++;
				return gw_job_error(job, "time_step: \"%s\" "
				    "does not move back in time from %s",
				    ts->time_step, ts->bound_text[count - 2]);
			}
			count++;
			ts->nsteps = count - 1;
			if (ts->bound[count - 1] < ts->tmin) {
				PQclear(res);
				goto found;
			}
			if (count > MAX_STEPS + 1) {
				PQclear(res);
				return gw_job_error(job, "time_step: \"%s\" "
				    "makes more than %d time steps between %s "
				    "and %s; use a longer time_step",
				    ts->time_step, MAX_STEPS, ts->tmin_text,
				    ts->tmax_text);
			}
		}
		PQclear(res);
	}
found:
	if (ts->nsteps < 2)
		return gw_job_error(job, "time_step: every point falls in one "
		    "time step of \"%s\" (from %s to %s); a trend needs at "
		    "least 2 time steps, use a shorter time_step",
		    ts->time_step, ts->tmin_text, ts->tmax_text);
	return 0;
}

/* The step of a point at epoch e (tmin <= e <= tmax): the largest k with
 * e <= bound[k], counted from the oldest step. */
static int
step_of(const struct ts *ts, double e)
{
	int	 lo = 0, hi = ts->nsteps - 1, mid;

	/* bound[lo] >= e always; find the largest such index < nsteps. */
	while (lo < hi) {
		mid = (lo + hi + 1) / 2;
		if (e <= ts->bound[mid])
			lo = mid;
		else
			hi = mid - 1;
	}
	return ts->nsteps - 1 - lo;
}

/* The default cell size: the larger of the longest side of the extent /
 * 100 and the mean nearest-neighbour distance expected of as many points
 * spread at random over the extent (0.5 / sqrt(n / area)). */
static int
default_cell(struct ts *ts)
{
	double	 w = ts->xmax - ts->xmin, h = ts->ymax - ts->ymin;
	double	 c;

	c = (w > h ? w : h) / 100;
	if (w * h > 0 && 0.5 * sqrt(w * h / (double)ts->npoints) > c)
		c = 0.5 * sqrt(w * h / (double)ts->npoints);
	if (!(c > 0))
		return gw_job_error(ts->job, "input: every point of %s is "
		    "at the same place: there is a single location",
		    ts->layer->qualified);
	/* Two significant digits: a cell size a person can quote. */
	c = pow(10, floor(log10(c)) - 1) * ceil(c / pow(10, floor(log10(c)) -
	    1));
	ts->cell = c;
	return 0;
}

/* The job error for an allocation of the cube that failed: what it holds
 * and what to change (memory_limit is RLIMIT_AS, so this is the usual way
 * a too large cube ends). */
static int
cube_nomem(struct ts *ts)
{
	return gw_job_error(ts->job, "out of memory for a cube of %zu "
	    "locations x %d time steps (about %.0f MB); raise memory_limit of "
	    "[hotspot_timeseries], or use a larger cell_size or time_step",
	    ts->cube.nloc, ts->nsteps,
	    (double)ts->cube.nloc * ts->nsteps * 40 / 1e6 + 20);
}

/* The cube over the grid; a grid whose cell indexes would not fit is
 * rejected before anything is read. */
static int
aggregate_open(struct ts *ts)
{
	struct gw_job	*job = ts->job;

	ts->gcols = (ts->xmax - ts->xmin) / ts->cell;
	ts->grows = (ts->ymax - ts->ymin) / ts->cell;
	if (ts->gcols > 1e9 || ts->grows > 1e9)
		return gw_job_error(job, "cell_size: %g m makes a grid of "
		    "%.0f x %.0f cells over the input; use a larger cell_size",
		    ts->cell, ts->gcols + 1, ts->grows + 1);
	if (cube_init(&ts->cube, ts->cell, ts->xmin, ts->ymin,
	    ts->nsteps) == -1)
		return gw_job_error(job, "out of memory");
	if ((ts->px = calloc(POINT_BATCH, sizeof(*ts->px))) == NULL ||
	    (ts->py = calloc(POINT_BATCH, sizeof(*ts->py))) == NULL ||
	    (ts->pe = calloc(POINT_BATCH, sizeof(*ts->pe))) == NULL ||
	    (ts->pv = calloc(POINT_BATCH, sizeof(*ts->pv))) == NULL)
		return gw_job_error(job, "out of memory");
	return 0;
}

/* The points gathered (ts->np) into the cube: projected to metres in one
 * call, each checked against what survey() measured. */
static int
aggregate_flush(struct ts *ts)
{
	struct gw_job	*job = ts->job;
	const char	*input = ts->layer->qualified;
	double		 x, y, gx, gy;
	int		 i;

	if (ts->tr != NULL)
		gw_transform_xy(ts->tr, 0, ts->px, ts->py, (size_t)ts->np);
	for (i = 0; i < ts->np; i++) {
		x = ts->px[i];
		y = ts->py[i];
		if (!isfinite(x) || !isfinite(y))
			return gw_job_error(job, "input: a point of %s could "
			    "not be projected to metres", input);
		if (!isfinite(ts->pv[i]))
			return gw_job_error(job, "field: a value of %s is not "
			    "a finite number (%g)", input, ts->pv[i]);
		if (!(ts->pe[i] > ts->bound[ts->nsteps] &&
		    ts->pe[i] <= ts->bound[0]))
			return gw_job_error(job, "input: a point of %s lies "
			    "outside the time range it was measured with (was "
			    "the table changed meanwhile?)", input);
		gx = floor((x - ts->xmin) / ts->cell);
		gy = floor((y - ts->ymin) / ts->cell);
		if (gx < -1 || gy < -1 || gx > ts->gcols + 1 ||
		    gy > ts->grows + 1)
			return gw_job_error(job, "input: a point of %s lies "
			    "outside the extent it was measured with (was the "
			    "table changed meanwhile?)", input);
		if (cube_add(&ts->cube, x, y, step_of(ts, ts->pe[i]),
		    ts->pv[i]) == -1)
			return cube_nomem(ts);
	}
	ts->naggregated += ts->np;
	ts->np = 0;
	gw_progress(job, 0.05 + 0.45 * (double)ts->naggregated /
	    (double)ts->npoints, "aggregated %lld of %lld points",
	    ts->naggregated, ts->npoints);
	if ((long long)ts->cube.nloc * ts->nsteps > MAX_BINS)
		return gw_job_error(job, "cell_size: the cube has more than "
		    "%lld bins (%zu locations x %d time steps); use a larger "
		    "cell_size or time_step", MAX_BINS, ts->cube.nloc,
		    ts->nsteps);
	return 0;
}

/* A point of the reader: its coordinates (in the layer's unit, times
 * to_metre), time and value gathered for aggregate_flush(). */
static int
aggregate_point(struct gw_job *job, struct gw_feature *f, void *arg)
{
	GEOSContextHandle_t	 h = gw_geos();
	struct ts		*ts = arg;
	const struct gw_column	*tc = &ts->layer->columns[ts->time_idx];
	double			*x = &ts->px[ts->np], *y = &ts->py[ts->np];
	int			 k = ts->np;

	if (GEOSGeomGetX_r(h, f->geom, x) != 1 ||
	    GEOSGeomGetY_r(h, f->geom, y) != 1)
		return gw_job_error(job, "input: a geometry of %s is not a "
		    "point (was the table changed meanwhile?)",
		    ts->layer->qualified);
	*x *= ts->to_metre;
	*y *= ts->to_metre;
	/* NAN for what cannot be read: the checks then say which. */
	if (gw_value_epoch(tc->typid, f->values[0], f->lengths[0],
	    &ts->pe[k]) == -1)
		ts->pe[k] = NAN;
	ts->pv[k] = 1;
	if (ts->field_idx != -1 && gw_value_double(ts->layer->columns[
	    ts->field_idx].typid, f->values[1], f->lengths[1],
	    &ts->pv[k]) == -1)
		ts->pv[k] = NAN;
	if (++ts->np == POINT_BATCH)
		return aggregate_flush(ts);
	return 0;
}

/* Streams the points of the input (the rows survey() counted as used)
 * into the cube, through the cursor reader. */
static int
aggregate(struct ts *ts)
{
	struct gw_read	 rd;
	int		 cols[2] = { ts->time_idx, ts->field_idx };

	if (aggregate_open(ts) == -1)
		return -1;
	memset(&rd, 0, sizeof(rd));
	rd.columns = cols;
	rd.ncolumns = ts->field_idx != -1 ? 2 : 1;
	rd.where = ts->ok_sql;
	rd.binary = 1;		/* no text to format or to parse */
	rd.prefetch = 1;
	if (gw_layer_read(ts->job, ts->layer, &rd, aggregate_point, ts) == -1 ||
	    aggregate_flush(ts) == -1)
		return -1;
	if (ts->cube.nloc < 2)
		return gw_job_error(ts->job, "input: every point falls in a "
		    "single location (cell_size %g m); there is nothing to "
		    "compare it with, use a smaller cell_size", ts->cell);
	return 0;
}

/* Gi* of every bin and its FDR-corrected confidence bin. */
static int
analyse_gistar(struct ts *ts)
{
	struct gw_job	*job = ts->job;
	struct cube	*c = &ts->cube;
	size_t		 n = c->nloc * (size_t)c->nsteps, i;
	double		 t90, t95, t99;
	int		 r;

	if (ts->dist_default && cube_nearest_distance(c, &ts->dist) == -1)
		return gw_job_error(job, "input: a single location");
	if ((ts->z = calloc(n, sizeof(*ts->z))) == NULL ||
	    (ts->p = calloc(n, sizeof(*ts->p))) == NULL ||
	    (ts->bin = calloc(n, sizeof(*ts->bin))) == NULL ||
	    (ts->nnbr = calloc(c->nloc, sizeof(*ts->nnbr))) == NULL)
		return cube_nomem(ts);
	gw_progress(job, 0.55, "Gi* of %zu bins", n);
	if ((r = cube_gistar(c, ts->dist, ts->ksteps, ts->z, ts->p,
	    ts->nnbr)) == -1)
		return cube_nomem(ts);
	if (r == 1)
		return gw_job_error(job, "%s: every bin of the cube has the "
		    "same value; Gi* is undefined", ts->field_idx != -1 ?
		    "field" : "input");
	for (i = 0; i < n; i++)
		if (isnan(ts->z[i]))
			return gw_job_error(job, "neighborhood_distance: %g m "
			    "and neighborhood_time_steps %d take in the whole "
			    "cube; Gi* compares a neighbourhood with the "
			    "whole, use a smaller neighbourhood", ts->dist,
			    ts->ksteps);
	if ((t90 = gw_fdr_threshold(n, ts->p, 0.10)) < 0 ||
	    (t95 = gw_fdr_threshold(n, ts->p, 0.05)) < 0 ||
	    (t99 = gw_fdr_threshold(n, ts->p, 0.01)) < 0)
		return cube_nomem(ts);
	for (i = 0; i < n; i++)
		ts->bin[i] = (signed char)gw_gi_bin(ts->z[i], ts->p[i], t90,
		    t95, t99);
	return 0;
}

/* Each location's trends (of its Gi* z-scores and of its values) and
 * category; the trend of the whole cube's values per step. */
static int
analyse_trends(struct ts *ts)
{
	struct cube	*c = &ts->cube;
	size_t		 i, T = c->nsteps;
	double		*total;
	int		 t, ret = -1;

	if ((ts->trend = calloc(c->nloc, sizeof(*ts->trend))) == NULL ||
	    (ts->vtrend = calloc(c->nloc, sizeof(*ts->vtrend))) == NULL ||
	    (ts->category = calloc(c->nloc, sizeof(*ts->category))) == NULL ||
	    (total = calloc(T, sizeof(*total))) == NULL)
		return cube_nomem(ts);
	gw_progress(ts->job, 0.7, "trends of %zu locations", c->nloc);
	for (i = 0; i < c->nloc; i++) {
		if (mk_test(ts->z + i * T, T, &ts->trend[i]) == -1 ||
		    mk_test(c->val + i * T, T, &ts->vtrend[i]) == -1) {
			cube_nomem(ts);
			goto done;
		}
		ts->category[i] = (unsigned char)ehs_classify(ts->bin + i * T,
		    T, ts->trend[i].z, ts->trend[i].p);
		ts->ncat[ts->category[i]]++;
		for (t = 0; t < (int)T; t++)
			total[t] += c->val[i * T + (size_t)t];
	}
	if (mk_test(total, T, &ts->overall) == -1) {
		cube_nomem(ts);
		goto done;
	}
	ret = 0;
done:
	free(total);
	return ret;
}

/* A cell polygon in the output's CRS: the square in the metric plane,
 * densified and projected back when that plane is the LAEA one. */
static GEOSGeometry *
cell_polygon(struct ts *ts, size_t loc)
{
	GEOSContextHandle_t	 h = gw_geos();
	GEOSCoordSequence	*seq;
	GEOSGeometry		*ring, *poly;
	double			 x0, y0, c = ts->cell, f;
	double			 xs[4 * 8 + 1], ys[4 * 8 + 1];
	unsigned int		 seg = ts->tr != NULL ? 8 : 1, i, k = 0;

	x0 = ts->xmin + ts->cube.col[loc] * c;
	y0 = ts->ymin + ts->cube.row[loc] * c;
	/* Counter-clockwise from the lower-left corner. */
	for (i = 0; i < seg; i++, k++) {
		xs[k] = x0 + c * i / seg;
		ys[k] = y0;
	}
	for (i = 0; i < seg; i++, k++) {
		xs[k] = x0 + c;
		ys[k] = y0 + c * i / seg;
	}
	for (i = 0; i < seg; i++, k++) {
		xs[k] = x0 + c - c * i / seg;
		ys[k] = y0 + c;
	}
	for (i = 0; i < seg; i++, k++) {
		xs[k] = x0;
		ys[k] = y0 + c - c * i / seg;
	}
	xs[k] = xs[0];
	ys[k] = ys[0];
	k++;
	if (ts->tr != NULL)
		gw_transform_xy(ts->tr, 1, xs, ys, k);
	f = ts->tr != NULL ? 1 : 1 / ts->to_metre;
	if ((seq = GEOSCoordSeq_create_r(h, k, 2)) == NULL)
		return NULL;
	for (i = 0; i < k; i++)
		GEOSCoordSeq_setXY_r(h, seq, i, xs[i] * f, ys[i] * f);
	if ((ring = GEOSGeom_createLinearRing_r(h, seq)) == NULL)
		return NULL;	/* seq is the ring's, even on failure */
	if ((poly = GEOSGeom_createPolygon_r(h, ring, NULL, 0)) == NULL) {
		GEOSGeom_destroy_r(h, ring);
		return NULL;
	}
	GEOSSetSRID_r(h, poly, ts->srid);
	return poly;
}

static const struct gw_colspec loc_cols[] = {
	{ "location_id", "integer" },
	{ "category", "text" },
	{ "trend_zscore", "double precision" },
	{ "trend_pvalue", "double precision" },
	{ "hot_bins", "integer" },
	{ "cold_bins", "integer" },
	{ "n_neighbors", "integer" },
	{ "total", "double precision" },
	{ "count_trend_zscore", "double precision" },
	{ "count_trend_pvalue", "double precision" },
};
#define NLOCCOLS	(sizeof(loc_cols) / sizeof(loc_cols[0]))

static const struct gw_colspec bin_cols[] = {
	{ "location_id", "integer NOT NULL" },
	{ "time_step", "integer NOT NULL" },
	{ "time_start", "timestamptz NOT NULL" },
	{ "time_end", "timestamptz NOT NULL" },
	{ "value", "double precision NOT NULL" },
	{ "gi_zscore", "double precision" },
	{ "gi_pvalue", "double precision" },
	{ "gi_bin", "smallint NOT NULL" },
};
#define NBINCOLS	(sizeof(bin_cols) / sizeof(bin_cols[0]))
static const char *const bin_key[] = { "location_id", "time_step" };

/* One row per location: its cell polygon, category, trends and counts. */
static int
write_locations(struct ts *ts, struct gw_output *out)
{
	struct gw_job	*job = ts->job;
	struct cube	*c = &ts->cube;
	GEOSGeometry	*g;
	char		 vb[NLOCCOLS][32];
	const char	*vals[NLOCCOLS];
	size_t		 i, T = c->nsteps, t;
	int		 hot, cold, rc;
	double		 total;

	for (t = 0; t < NLOCCOLS; t++)
		vals[t] = vb[t];
	for (i = 0; i < c->nloc; i++) {
		hot = cold = 0;
		total = 0;
		for (t = 0; t < T; t++) {
			hot += ts->bin[i * T + t] > 0;
			cold += ts->bin[i * T + t] < 0;
			total += c->val[i * T + t];
		}
		snprintf(vb[0], sizeof(vb[0]), "%zu", i + 1);
		vals[1] = ehs_category_name(ts->category[i]);
		snprintf(vb[2], sizeof(vb[2]), "%.17g", ts->trend[i].z);
		snprintf(vb[3], sizeof(vb[3]), "%.17g", ts->trend[i].p);
		snprintf(vb[4], sizeof(vb[4]), "%d", hot);
		snprintf(vb[5], sizeof(vb[5]), "%d", cold);
		/* Other locations, as hotspot_analysis counts them. */
		snprintf(vb[6], sizeof(vb[6]), "%d", ts->nnbr[i] - 1);
		snprintf(vb[7], sizeof(vb[7]), "%.17g", total);
		snprintf(vb[8], sizeof(vb[8]), "%.17g", ts->vtrend[i].z);
		snprintf(vb[9], sizeof(vb[9]), "%.17g", ts->vtrend[i].p);
		if ((g = cell_polygon(ts, i)) == NULL)
			return gw_job_error(job, "making cell polygons: %s",
			    gw_geos_error());
		rc = gw_output_row(job, out, vals, g);
		GEOSGeom_destroy_r(gw_geos(), g);
		if (rc == -1)
			return -1;
	}
	return 0;
}

/* One row per location and time step: the bin's value and Gi*. */
static int
write_bins(struct ts *ts, struct gw_output *bins)
{
	struct cube	*c = &ts->cube;
	char		 vb[NBINCOLS][32];
	const char	*vals[NBINCOLS];
	size_t		 i, k, T = c->nsteps, t;

	for (t = 0; t < NBINCOLS; t++)
		vals[t] = vb[t];
	for (i = 0; i < c->nloc; i++) {
		for (t = 0; t < T; t++) {
			k = i * T + t;
			snprintf(vb[0], sizeof(vb[0]), "%zu", i + 1);
			snprintf(vb[1], sizeof(vb[1]), "%zu", t + 1);
			/* Step t covers (bound[T - t], bound[T - 1 - t]]. */
			vals[2] = ts->bound_text[T - t];
			vals[3] = ts->bound_text[T - 1 - t];
			snprintf(vb[4], sizeof(vb[4]), "%.17g", c->val[k]);
			snprintf(vb[5], sizeof(vb[5]), "%.17g", ts->z[k]);
			snprintf(vb[6], sizeof(vb[6]), "%.17g", ts->p[k]);
			vals[5] = isnan(ts->z[k]) ? NULL : vb[5];
			vals[6] = isnan(ts->p[k]) ? NULL : vb[6];
			snprintf(vb[7], sizeof(vb[7]), "%d", ts->bin[k]);
			if (gw_output_values(ts->job, bins, vals) == -1)
				return -1;
		}
		if (i % 1000 == 999)
			gw_progress(ts->job, 0.85 + 0.1 * (double)i /
			    (double)c->nloc, "writing bins");
	}
	return 0;
}

/*
 * Writes the locations table and <output>_bins.  Both are created (or
 * refused) before a row is written, the bins table first.
 */
static int
write_output(struct ts *ts, json_t *result)
{
	struct gw_job	*job = ts->job;
	struct gw_output *out = NULL, *bins = NULL;
	json_t		*binsfull = NULL;
	long long	 nrows;
	int		 rc, ret = -1;

	if (gw_output_create_table(job, ts->binsname, ts->overwrite, bin_cols,
	    NBINCOLS, &bins) == -1 ||
	    gw_output_create(job, ts->outname, ts->overwrite, loc_cols, NLOCCOLS,
	    "geom", "Polygon", ts->srid, &out) == -1)
		goto done;
	gw_progress(job, 0.8, "writing %zu locations", ts->cube.nloc);
	if (write_locations(ts, out) == -1)
		goto done;
	json_object_set_new(result, "output",
	    json_string(gw_output_fullname(out)));
	rc = gw_output_finish(job, out, &nrows);
	out = NULL;
	if (rc == -1)
		goto done;

	gw_progress(job, 0.85, "writing %zu bins", ts->cube.nloc *
	    (size_t)ts->nsteps);
	binsfull = json_string(gw_output_fullname(bins));
	if (write_bins(ts, bins) == -1)
		goto done;
	rc = gw_output_finish_table(job, bins, bin_key, 2, NULL);
	bins = NULL;
	if (rc == -1)
		goto done;
	json_object_set_new(result, "bins_output", binsfull);
	binsfull = NULL;
	json_object_set_new(result, "feature_count", json_integer(nrows));
	ret = 0;
done:
	json_decref(binsfull);
	gw_output_free(out);
	gw_output_free(bins);
	return ret;
}

/* The JSON of a Mann-Kendall result, with its direction in words. */
static json_t *
trend_json(const struct mk_result *mk)
{
	return json_pack("{s:f, s:f, s:f, s:s}", "zscore", mk->z, "pvalue",
	    mk->p, "tau", mk->tau, "direction", mk->p >= EHS_TREND_ALPHA ?
	    "no significant trend" : mk->z > 0 ? "increasing" : "decreasing");
}

/* Fills the result JSON r: the cube's dimensions, the defaults used, the
 * count per category and the trend of the whole cube's counts. */
static int
make_result(struct ts *ts, json_t *r)
{
	json_t	*cats;
	int	 i, rows, cols;

	if ((cats = json_object()) == NULL)
		return gw_job_error(ts->job, "out of memory");
	for (i = 0; i < EHS_NCATEGORIES; i++)
		json_object_set_new(cats, ehs_category_name(i),
		    json_integer(ts->ncat[i]));
	cols = (int)floor((ts->xmax - ts->xmin) / ts->cell) + 1;
	rows = (int)floor((ts->ymax - ts->ymin) / ts->cell) + 1;
	json_object_set_new(r, "categories", cats);
	json_object_set_new(r, "input_rows", json_integer(ts->nrows));
	json_object_set_new(r, "point_count", json_integer(ts->npoints));
	json_object_set_new(r, "skipped_rows",
	    json_integer(ts->nrows - ts->npoints));
	json_object_set_new(r, "cell_size", json_real(ts->cell));
	json_object_set_new(r, "cell_size_default",
	    json_boolean(ts->cell_default));
	json_object_set_new(r, "neighborhood_distance", json_real(ts->dist));
	json_object_set_new(r, "neighborhood_distance_default",
	    json_boolean(ts->dist_default));
	json_object_set_new(r, "neighborhood_time_steps",
	    json_integer(ts->ksteps));
	json_object_set_new(r, "time_step", json_string(ts->time_step));
	json_object_set_new(r, "rows", json_integer(rows));
	json_object_set_new(r, "columns", json_integer(cols));
	json_object_set_new(r, "time_steps", json_integer(ts->nsteps));
	json_object_set_new(r, "locations", json_integer(ts->cube.nloc));
	json_object_set_new(r, "bins", json_integer((json_int_t)ts->cube.nloc *
	    ts->nsteps));
	json_object_set_new(r, "first_time", json_string(ts->tmin_text));
	json_object_set_new(r, "last_time", json_string(ts->tmax_text));
	json_object_set_new(r, "cube_start",
	    json_string(ts->bound_text[ts->nsteps]));
	json_object_set_new(r, "cube_end", json_string(ts->bound_text[0]));
	json_object_set_new(r, "srid", json_integer(ts->srid));
	json_object_set_new(r, "projection", json_string(ts->tr != NULL ?
	    ts->proj : "input CRS"));
	json_object_set_new(r, "count_trend", trend_json(&ts->overall));
	return 0;
}

static void
ts_free(struct ts *ts)
{
	int	 i;

	if (ts->layer != NULL)
		gw_layer_free(ts->layer);
	free(ts->time_sql);
	free(ts->geom_sql);
	free(ts->px);
	free(ts->py);
	free(ts->pe);
	free(ts->pv);
	free(ts->ok_sql);
	free(ts->tmin_text);
	free(ts->tmax_text);
	if (ts->bound_text != NULL)
		for (i = 0; i < ts->nbound; i++)
			free(ts->bound_text[i]);
	free(ts->bound_text);
	free(ts->bound);
	cube_free(&ts->cube);
	gw_transform_free(ts->tr);
	free(ts->z);
	free(ts->p);
	free(ts->bin);
	free(ts->nnbr);
	free(ts->trend);
	free(ts->vtrend);
	free(ts->category);
}

static int
run_hotspot_timeseries(struct gw_job *job, json_t **result)
{
	struct ts	 ts;
	json_t		*r = NULL;
	int		 ret = -1;

	memset(&ts, 0, sizeof(ts));
	ts.job = job;
	if (read_params(&ts) == -1 || build_sql(&ts) == -1)
		goto done;
	if (exec_simple(job, "setting the time zone",
	    "SET LOCAL TimeZone TO 'UTC'") == -1)
		goto done;
	if (check_time_step(&ts) == -1)
		goto done;
	gw_progress(job, 0.01, "surveying input");
	if (survey(&ts) == -1 || time_steps(&ts) == -1)
		goto done;
	if (ts.cell_default && default_cell(&ts) == -1)
		goto done;
	log_info("cube: %lld points, cell %g m, %d steps of %s from %s to %s",
	    ts.npoints, ts.cell, ts.nsteps, ts.time_step,
	    ts.bound_text[ts.nsteps], ts.bound_text[0]);
	if (aggregate(&ts) == -1 || analyse_gistar(&ts) == -1 ||
	    analyse_trends(&ts) == -1)
		goto done;
	if ((r = json_object()) == NULL) {
		gw_job_error(job, "out of memory");
		goto done;
	}
	if (write_output(&ts, r) == -1 || make_result(&ts, r) == -1)
		goto done;
	log_info("cube: %zu locations x %d steps, neighbourhood %g m x %d "
	    "steps", ts.cube.nloc, ts.nsteps, ts.dist, ts.ksteps);
	*result = r;
	r = NULL;
	ret = 0;
done:
	json_decref(r);
	ts_free(&ts);
	return ret;
}

int
main(int argc, char *argv[])
{
	gw_worker_idle(gw_idle_proj);
	return gw_worker_main(argc, argv, JOB_TYPE, run_hotspot_timeseries);
}

/*
 * execf.h: SQL made with printf or in a string buffer, run in the job's
 * transaction.
 *
 * NOTES
 *   Only for SQL whose pasted parts are quoted identifiers (gis/quote.h),
 *   numbers or text the program built; values from parameters are bound
 *   with gw_exec() instead.
 */
#ifndef GW_EXECF_H
#define GW_EXECF_H

#include <libpq-fe.h>

#include "gwworker.h"
#include "gis/strbuf.h"

/*
 * gw_execf: runs the SQL fmt makes, without parameters.  Returns the result
 * (PQclear it), or NULL after a job error ("what: <server message>", or out
 * of memory).
 */
PGresult *gw_execf(struct gw_job *, const char *what, const char *fmt, ...)
	    __attribute__((__format__(__printf__, 3, 4)));

/*
 * gw_exec_sb: runs the SQL built in sb, with nparams text parameters, and
 * frees sb.  Returns the result (PQclear it), or NULL after a job error
 * (out of memory when sb->failed).
 */
PGresult *gw_exec_sb(struct gw_job *, const char *what, struct gw_strbuf *sb,
	    int nparams, const char *const *values);

/* The same for a command whose result is not wanted: 0, or -1 after a job
 * error. */
int	 gw_runf(struct gw_job *, const char *what, const char *fmt, ...)
	    __attribute__((__format__(__printf__, 3, 4)));
int	 gw_run_sb(struct gw_job *, const char *what, struct gw_strbuf *sb,
	    int nparams, const char *const *values);

/*
 * Idle preparations (gw_worker_idle()) of the GIS programs.
 * gw_idle_postgis: the backend loads PostGIS's library (postgis-3.so), which
 * the first geometry a job reads or writes would otherwise load, ~25 ms of a
 * fresh backend's time.  gw_idle_proj (crs.h) does that and opens PROJ's
 * database too.
 */
void	 gw_idle_postgis(PGconn *);

#endif

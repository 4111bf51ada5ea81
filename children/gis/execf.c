/*
 * execf.c: SQL made with printf or in a string buffer, run in the job's
 * transaction (see execf.h).
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "gis/execf.h"

static PGresult *
vexecf(struct gw_job *job, const char *what, const char *fmt, va_list ap)
{
	PGresult	*res;
	char		*sql;

	if (vasprintf(&sql, fmt, ap) == -1) {
		gw_job_error(job, "out of memory");
		return NULL;
	}
	res = gw_exec(job, what, sql, 0, NULL);
	free(sql);
	return res;
}

PGresult *
gw_execf(struct gw_job *job, const char *what, const char *fmt, ...)
{
	va_list		 ap;
	PGresult	*res;

	va_start(ap, fmt);
	res = vexecf(job, what, fmt, ap);
	va_end(ap);
	return res;
}

int
gw_runf(struct gw_job *job, const char *what, const char *fmt, ...)
{
	va_list		 ap;
	PGresult	*res;

	va_start(ap, fmt);
	res = vexecf(job, what, fmt, ap);
	va_end(ap);
	PQclear(res);
	return res == NULL ? -1 : 0;
}

PGresult *
gw_exec_sb(struct gw_job *job, const char *what, struct gw_strbuf *sb,
    int nparams, const char *const *values)
{
	PGresult	*res = NULL;

	if (sb->failed)
		gw_job_error(job, "out of memory");
	else
		res = gw_exec(job, what, sb->data, nparams, values);
	gw_sb_free(sb);
	return res;
}

int
gw_run_sb(struct gw_job *job, const char *what, struct gw_strbuf *sb,
    int nparams, const char *const *values)
{
	PGresult	*res = gw_exec_sb(job, what, sb, nparams, values);

	PQclear(res);
	return res == NULL ? -1 : 0;
}

void
gw_idle_postgis(PGconn *conn)
{
	/* A C function of postgis-3.so; where PostGIS is out of the
	 * search_path this fails, and the job loads the library itself. */
	PQclear(PQexec(conn, "SELECT postgis_lib_version()"));
}

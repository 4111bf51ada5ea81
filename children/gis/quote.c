/*
 * quote.c: identifiers quoted for SQL with PQescapeIdentifier (see quote.h).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "gis/quote.h"

/* A quoted identifier as a new string (free()), or NULL with a job error. */
char *
gw_quote_ident(struct gw_job *job, const char *name)
{
	char	*q, *s;

	if ((q = PQescapeIdentifier(job->conn, name, strlen(name))) == NULL) {
		gw_job_error(job, "cannot quote identifier: %s",
		    PQerrorMessage(job->conn));
		return NULL;
	}
	s = strdup(q);
	PQfreemem(q);
	if (s == NULL)
		gw_job_error(job, "out of memory");
	return s;
}

/* Appends name quoted as an identifier. */
int
gw_sb_ident(struct gw_job *job, struct gw_strbuf *sb, const char *name)
{
	char	*q;
	int	 rv;

	if ((q = gw_quote_ident(job, name)) == NULL)
		return -1;
	rv = gw_sb_puts(sb, q);
	free(q);
	return rv;
}

/*
 * quote.c: identifiers quoted for SQL with PQescapeIdentifier (see quote.h).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "gis/quote.h"

/* s escaped by escape (PQescapeIdentifier or PQescapeLiteral) as a new
 * string (free()), or NULL with a job error saying what could not be quoted. */
static char *
quote(struct gw_job *job, const char *s,
    char *(*escape)(PGconn *, const char *, size_t), const char *what)
{
	char	*q, *copy;

	if ((q = escape(job->conn, s, strlen(s))) == NULL) {
		gw_job_error(job, "cannot quote %s: %s", what,
		    PQerrorMessage(job->conn));
		return NULL;
	}
	copy = strdup(q);
	PQfreemem(q);
	if (copy == NULL)
		gw_job_error(job, "out of memory");
	return copy;
}

char *
gw_quote_ident(struct gw_job *job, const char *name)
{
	return quote(job, name, PQescapeIdentifier, "identifier");
}

char *
gw_quote_literal(struct gw_job *job, const char *value)
{
	return quote(job, value, PQescapeLiteral, "value");
}

char *
gw_quote_qualified(struct gw_job *job, const char *schema, const char *name)
{
	struct gw_strbuf	 sb = { 0 };

	if (gw_sb_ident(job, &sb, schema) == -1 || gw_sb_puts(&sb, ".") == -1 ||
	    gw_sb_ident(job, &sb, name) == -1) {
		if (sb.failed)
			gw_job_error(job, "out of memory");
		gw_sb_free(&sb);
		return NULL;
	}
	return sb.data;
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

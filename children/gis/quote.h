/*
 * quote.h: the one quoter of identifiers and literals of the job programs.
 *
 * NOTES
 *   Identifiers reach SQL only as the catalog spells them, quoted here with
 *   PQescapeIdentifier on the job's connection; values are bound as
 *   parameters, never pasted.
 */
#ifndef GW_QUOTE_H
#define GW_QUOTE_H

#include "gwworker.h"
#include "gis/strbuf.h"

/* name quoted as an identifier, as a new string (free()), or NULL after a
 * job error. */
char	*gw_quote_ident(struct gw_job *, const char *name);

/* value quoted as a string literal (E'' where it must), as a new string
 * (free()), or NULL after a job error: for values that must be pasted, as
 * in a view's definition; elsewhere values are bound as parameters. */
char	*gw_quote_literal(struct gw_job *, const char *value);

/* "schema"."name", quoted, as a new string (free()), or NULL after a job
 * error. */
char	*gw_quote_qualified(struct gw_job *, const char *schema,
	    const char *name);

/* Append name quoted as an identifier to sb; -1 after a job error or when
 * out of memory (then sb->failed). */
int	 gw_sb_ident(struct gw_job *, struct gw_strbuf *sb, const char *name);

#endif

/*
 * quote.h: the one identifier quoter of the job programs.
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

/* Append name quoted as an identifier to sb; -1 after a job error or when
 * out of memory (then sb->failed). */
int	 gw_sb_ident(struct gw_job *, struct gw_strbuf *sb, const char *name);

#endif

/*
 * strbuf.h: the one growable string of the GIS library, for SQL text, COPY
 * data and messages (liblwgeom's stringbuffer.c is the model).
 *
 * NOTES
 *   A failed allocation sets .failed and makes every later call a no-op
 *   that returns -1, so that a builder may append a whole statement and
 *   check once at the end.  Zero-initialize (= { 0 }) before use; free with
 *   gw_sb_free(), which leaves an empty buffer that can be used again.
 */
#ifndef GW_STRBUF_H
#define GW_STRBUF_H

#include <stddef.h>

struct gw_strbuf {
	char	*data;		/* NUL-terminated; NULL until the first add */
	size_t	 len;
	size_t	 cap;
	int	 failed;	/* an allocation failed */
};

/* Make room for more bytes (and a NUL); 0, or -1 when out of memory. */
int	 gw_sb_reserve(struct gw_strbuf *, size_t more);
/* Append n bytes of s, a string, printf output; 0 or -1 as above. */
int	 gw_sb_add(struct gw_strbuf *, const char *s, size_t n);
int	 gw_sb_puts(struct gw_strbuf *, const char *s);
int	 gw_sb_printf(struct gw_strbuf *, const char *fmt, ...)
	    __attribute__((__format__(__printf__, 2, 3)));
void	 gw_sb_free(struct gw_strbuf *);

#endif

/*
 * strbuf.c: the growable string of the GIS library (see strbuf.h).
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gis/strbuf.h"

int
gw_sb_reserve(struct gw_strbuf *sb, size_t more)
{
	size_t	 ncap;
	char	*n;

	if (sb->failed)
		return -1;
	if (sb->len + more + 1 <= sb->cap)
		return 0;
	ncap = sb->cap ? sb->cap : 256;
	while (ncap < sb->len + more + 1)
		ncap *= 2;
	if ((n = realloc(sb->data, ncap)) == NULL) {
		sb->failed = 1;
		return -1;
	}
	sb->data = n;
	sb->cap = ncap;
	return 0;
}

int
gw_sb_add(struct gw_strbuf *sb, const char *s, size_t n)
{
	if (gw_sb_reserve(sb, n) == -1)
		return -1;
	memcpy(sb->data + sb->len, s, n);
	sb->len += n;
	sb->data[sb->len] = '\0';
	return 0;
}

int
gw_sb_puts(struct gw_strbuf *sb, const char *s)
{
	return gw_sb_add(sb, s, strlen(s));
}

int
gw_sb_printf(struct gw_strbuf *sb, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || gw_sb_reserve(sb, (size_t)n) == -1)
		return -1;
	va_start(ap, fmt);
	vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb->len += (size_t)n;
	return 0;
}

void
gw_sb_free(struct gw_strbuf *sb)
{
	free(sb->data);
	memset(sb, 0, sizeof(*sb));
}

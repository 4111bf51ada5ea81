/*
 * util.c: units and small helpers shared by every process.
 *
 * NOTES
 *   Sizes are bytes with binary K/M/G/T suffixes ("512M", "2G") or
 *   "unlimited".  Durations are a sum of number-unit pairs ("90s", "1h30m",
 *   "250ms"); a bare number is seconds.  Both reject anything trailing,
 *   negative numbers and overflow, so a typo in the INI is an error, not a
 *   surprise.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common.h"

int
parse_size(const char *s, uint64_t *out)
{
	unsigned long long	 v, mult = 1;
	char			*end;

	while (isspace((unsigned char)*s))
		s++;
	if (strcasecmp(s, "unlimited") == 0 || strcasecmp(s, "infinity") == 0) {
		*out = GW_UNLIMITED;
		return 0;
	}
	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -1;
	switch (toupper((unsigned char)*end)) {
	case 'K': mult = 1ULL << 10; end++; break;
	case 'M': mult = 1ULL << 20; end++; break;
	case 'G': mult = 1ULL << 30; end++; break;
	case 'T': mult = 1ULL << 40; end++; break;
	}
	if (mult > 1 && (*end == 'i' || *end == 'I'))
		end++;
	if (*end == 'B' || *end == 'b')
		end++;
	while (isspace((unsigned char)*end))
		end++;
	if (*end != '\0' || v > UINT64_MAX / mult)
		return -1;
	*out = v * mult;
	return 0;
}

int
parse_duration(const char *s, uint64_t *out)
{
	unsigned long long	 v, mult;
	uint64_t		 total = 0;
	char			*end;
	int			 parts = 0;

	while (isspace((unsigned char)*s))
		s++;
	while (*s != '\0') {
		if (!isdigit((unsigned char)*s))
			return -1;
		errno = 0;
		v = strtoull(s, &end, 10);
		if (errno == ERANGE)
			return -1;
		if (strncmp(end, "ms", 2) == 0) {
			mult = 1;
			end += 2;
		} else {
			switch (*end) {
			case 's': mult = 1000; end++; break;
			case 'm': mult = 60 * 1000; end++; break;
			case 'h': mult = 3600 * 1000; end++; break;
			case 'd': mult = 86400 * 1000; end++; break;
			case '\0': case ' ': case '\t':
				if (parts > 0)
					return -1;
				mult = 1000;
				break;
			default:
				return -1;
			}
		}
		if (v > (UINT64_MAX - total) / mult)
			return -1;
		total += v * mult;
		parts++;
		s = end;
		while (isspace((unsigned char)*s))
			s++;
	}
	if (parts == 0)
		return -1;
	*out = total;
	return 0;
}

int
parse_bool(const char *s, int *out)
{
	if (strcasecmp(s, "yes") == 0 || strcasecmp(s, "true") == 0 ||
	    strcasecmp(s, "on") == 0 || strcmp(s, "1") == 0)
		*out = 1;
	else if (strcasecmp(s, "no") == 0 || strcasecmp(s, "false") == 0 ||
	    strcasecmp(s, "off") == 0 || strcmp(s, "0") == 0)
		*out = 0;
	else
		return -1;
	return 0;
}

int
parse_int(const char *s, long long min, long long max, long long *out)
{
	long long	 v;
	char		*end;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (end == s || errno == ERANGE)
		return -1;
	while (isspace((unsigned char)*end))
		end++;
	if (*end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* format_size: "2G", "512M", "1536K", "unlimited": the shortest exact form. */
const char *
format_size(uint64_t v, char *buf, size_t len)
{
	static const char	 units[] = "KMGT";
	int			 i;

	if (v == GW_UNLIMITED) {
		snprintf(buf, len, "unlimited");
		return buf;
	}
	for (i = 3; i >= 0; i--) {
		uint64_t m = 1ULL << (10 * (i + 1));
		if (v >= m && v % m == 0) {
			snprintf(buf, len, "%" PRIu64 "%c", v / m, units[i]);
			return buf;
		}
	}
	snprintf(buf, len, "%" PRIu64, v);
	return buf;
}

/* format_duration: whole seconds as "7200 s", else milliseconds. */
const char *
format_duration(uint64_t ms, char *buf, size_t len)
{
	if (ms % 1000 == 0)
		snprintf(buf, len, "%" PRIu64 " s", ms / 1000);
	else
		snprintf(buf, len, "%" PRIu64 " ms", ms);
	return buf;
}

uint64_t
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A job type names a program in child_dir: [a-z0-9_], 1..63 characters. */
int
valid_type_name(const char *s)
{
	size_t	 n = 0;

	for (; *s != '\0'; s++, n++)
		if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) ||
		    *s == '_'))
			return 0;
	return n > 0 && n <= 52;	/* "geoworkerd_" + name is a channel */
}

void *
xcalloc(size_t n, size_t size)
{
	void	*p;

	if ((p = calloc(n, size)) == NULL)
		fatal("calloc(%zu, %zu) failed", n, size);
	return p;
}

char *
xstrdup(const char *s)
{
	char	*p;

	if ((p = strdup(s)) == NULL)
		fatal("strdup failed");
	return p;
}

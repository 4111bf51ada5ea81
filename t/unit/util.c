/*
 * util.c: unit tests of the units (sizes, durations) and of the INI parser:
 * what an operator types must mean what geoworkerd.ini(5) says, and every
 * mistake must be refused with its file and line.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "tap.h"

static const char *
write_ini(const char *text)
{
	static char	 path[] = "/tmp/gwunit-XXXXXX";
	int		 fd;

	strcpy(path, "/tmp/gwunit-XXXXXX");
	if ((fd = mkstemp(path)) == -1)
		abort();
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		abort();
	close(fd);
	return path;
}

static void
bad_config(const char *text, const char *want, const char *what)
{
	const char		*path = write_ini(text);
	char			 err[1024];
	struct gw_config	*c = config_load(path, err, sizeof(err));

	ok(c == NULL && strstr(err, want) != NULL, "%s refused: want '%s', got '%s'",
	    what, want, c ? "(accepted)" : err);
	config_free(c);
	unlink(path);
}

int
main(void)
{
	uint64_t		 v;
	char			 err[1024], buf[32];
	struct gw_config	*c;
	struct gw_typeconf	*t;
	const char		*path;

	ok(parse_size("2G", &v) == 0 && v == 2ULL << 30, "2G");
	ok(parse_size("512M", &v) == 0 && v == 512ULL << 20, "512M");
	ok(parse_size("1536k", &v) == 0 && v == 1536ULL << 10, "1536k");
	ok(parse_size("4GiB", &v) == 0 && v == 4ULL << 30, "4GiB");
	ok(parse_size("100", &v) == 0 && v == 100, "bare bytes");
	ok(parse_size("unlimited", &v) == 0 && v == GW_UNLIMITED, "unlimited");
	ok(parse_size("-1G", &v) == -1, "negative size refused");
	ok(parse_size("2X", &v) == -1, "unknown suffix refused");
	ok(parse_size("", &v) == -1, "empty size refused");
	ok(parse_size("99999999999999999999", &v) == -1, "overflow refused");
	ok(parse_size("20000000T", &v) == -1, "overflow by suffix refused");

	ok(parse_duration("5s", &v) == 0 && v == 5000, "5s");
	ok(parse_duration("2h", &v) == 0 && v == 7200000, "2h");
	ok(parse_duration("1h30m", &v) == 0 && v == 5400000, "1h30m");
	ok(parse_duration("250ms", &v) == 0 && v == 250, "250ms");
	ok(parse_duration("30", &v) == 0 && v == 30000, "bare seconds");
	ok(parse_duration("1d", &v) == 0 && v == 86400000, "1d");
	ok(parse_duration("5x", &v) == -1, "unknown unit refused");
	ok(parse_duration("s", &v) == -1, "unit alone refused");
	ok(parse_duration("10 20", &v) == -1, "two bare numbers refused");

	ok(strcmp(format_size(2ULL << 30, buf, sizeof(buf)), "2G") == 0, "format 2G");
	ok(strcmp(format_size(1536ULL << 10, buf, sizeof(buf)), "1536K") == 0,
	    "format 1536K");
	ok(strcmp(format_duration(3600000, buf, sizeof(buf)), "3600 s") == 0,
	    "format 3600 s");

	path = write_ini(
	    "; comment\n"
	    "[database]\nconninfo = dbname=gis user=geoworker\n\n"
	    "[daemon]\nnode_name = n1\npoll_interval = 2s\nlog_dir =\n"
	    "[defaults]\nchildren = 1\nmemory_limit = 2G\ntimeout = 2h\n"
	    "max_attempts = 3\n"
	    "[hotspot_analysis]\nchildren = 2\nmemory_limit = 4G\n"
	    "[dissolve]\n");
	c = config_load(path, err, sizeof(err));
	ok(c != NULL, "sample configuration loads (%s)", c ? "ok" : err);
	if (c != NULL) {
		t = config_type(c, "hotspot_analysis");
		ok(t && t->children == 2 && t->memory_limit == 4ULL << 30,
		    "type section overrides defaults");
		ok(t && t->timeout == 7200000 && t->max_attempts == 3,
		    "type inherits [defaults]");
		t = config_type(c, "dissolve");
		ok(t && t->children == 1 && t->memory_limit == 2ULL << 30,
		    "an empty section enables the type with the defaults");
		ok(config_type(c, "clip") == NULL, "a type without section is off");
		ok(strcmp(c->node_name, "n1") == 0 && c->poll_interval == 2000,
		    "daemon keys");
		ok(c->log_dir == NULL, "empty log_dir means stderr");
		ok(strcmp(c->output_schema, "analysis") == 0,
		    "output_schema defaults to analysis");
	}
	config_free(c);
	unlink(path);

	bad_config("[database]\nconninfo = x\n[dissolve]\nchildren = lots\n",
	    ":4: bad value for children", "bad value with its line");
	bad_config("[database]\nconninfo = x\n[daemon]\nfoo = 1\n",
	    ":4: unknown key 'foo'", "unknown key with its line");
	bad_config("[database]\nconninfo = x\n\n[Hot-Spots]\n",
	    ":4: bad section name [Hot-Spots]", "bad section name with its line");
	bad_config("[daemon]\nnode_name = a\n", "conninfo is required",
	    "missing conninfo");
	bad_config("[database]\nconninfo = x\nconninfo = y\n",
	    ":3: key 'conninfo' repeated", "repeated key");
	bad_config("[database]\nconninfo = x\n[defaults]\nmemory_limit = 2Q\n",
	    ":4: bad value for memory_limit", "bad size");
	bad_config("[database]\nconninfo = x\n[daemon]\nraster_root = rel\n",
	    "absolute", "relative raster_root");
	bad_config("[database]\nconninfo = x\n[dissolve]\n[dissolve]\n",
	    ":4: section [dissolve] repeated", "repeated section");
	return done_testing();
}

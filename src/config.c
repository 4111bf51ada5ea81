/*
 * config.c: the INI file (see etc/geoworkerd.ini and geoworkerd.ini(5)).
 *
 * NOTES
 *   inih reads key = value pairs; this file knows the sections and keys, and
 *   turns every value into its unit.  Any unknown section or key, a bad value,
 *   a repeated key or a missing required key is an error naming the file and
 *   line, and config_load() then returns NULL: the caller keeps the
 *   configuration it had (on SIGHUP) or refuses to start.
 *
 *   Section headers are found by a scan of our own before inih runs, because
 *   inih does not report an empty section, and "[selftest]" alone must enable
 *   a type with the defaults.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ini.h>

#include "common.h"

struct parse_state {
	struct gw_config	*conf;
	char			*err;
	size_t			 errlen;
	char			 seen[256][GW_NAMELEN * 2];	/* section.key */
	int			 nseen;
};

struct gw_typeconf *
config_type(struct gw_config *conf, const char *name)
{
	struct gw_typeconf	*t;

	TAILQ_FOREACH(t, &conf->types, entry)
		if (strcmp(t->name, name) == 0)
			return t;
	return NULL;
}

static void
type_defaults(struct gw_typeconf *t)
{
	t->enabled = 1;
	t->fork_server = 1;
	t->children = 1;
	t->memory_limit = 2ULL << 30;
	t->cpu_limit = 3600ULL * 1000;
	t->file_size_limit = 10ULL << 30;
	t->open_files = 1024;
	t->timeout = 7200ULL * 1000;
	t->max_attempts = 1;
	t->retry_delay = 30ULL * 1000;
	t->max_retry_delay = 3600ULL * 1000;
	t->keep_completed = 30ULL * 86400 * 1000;
	t->keep_failed = 90ULL * 86400 * 1000;
	t->keep_cancelled = 30ULL * 86400 * 1000;
	t->nice = 10;
}

static int
set_string(char **field, const char *value)
{
	char	*p;

	if ((p = strdup(value)) == NULL)
		return -1;
	free(*field);
	*field = p;
	return 0;
}

/* A retention: a duration, or "forever" (never removed). */
static int
parse_keep(const char *value, uint64_t *out)
{
	if (strcasecmp(value, "forever") == 0) {
		*out = GW_UNLIMITED;
		return 1;
	}
	return parse_duration(value, out) == 0 && *out >= 1000 ? 1 : -1;
}

/*
 * Database object names as the INI gives them: one name (list 0) or names
 * separated by commas (list 1), each a plain identifier of letters, digits,
 * _ and $ (not starting with a digit), at most 63 bytes.  Quoted names are
 * not supported: the check keeps the INI readable and the names safe.
 */
int
valid_name_list(const char *s, int list)
{
	const char	*p = s;
	size_t		 n;

	for (;;) {
		while (*p == ' ')
			p++;
		for (n = 0; p[n] != '\0' && p[n] != ',' && p[n] != ' '; n++)
			if (!(isalnum((unsigned char)p[n]) || p[n] == '_' ||
			    p[n] == '$') || (n == 0 && isdigit((unsigned char)p[n])))
				return 0;
		if (n == 0 || n > 63)
			return 0;
		p += n;
		while (*p == ' ')
			p++;
		if (*p == '\0')
			return 1;
		if (*p != ',' || !list)
			return 0;
		p++;
	}
}

/* Returns 1 if handled, 0 if the key is unknown, -1 if the value is bad. */
static int
type_key(struct gw_typeconf *t, const char *name, const char *value)
{
	long long	 v;

	if (strcmp(name, "enabled") == 0)
		return parse_bool(value, &t->enabled) == 0 ? 1 : -1;
	if (strcmp(name, "fork_server") == 0)
		return parse_bool(value, &t->fork_server) == 0 ? 1 : -1;
	if (strcmp(name, "children") == 0) {
		if (parse_int(value, 0, 256, &v) == -1)
			return -1;
		t->children = (int)v;
		return 1;
	}
	if (strcmp(name, "memory_limit") == 0)
		return parse_size(value, &t->memory_limit) == 0 &&
		    t->memory_limit >= (32ULL << 20) ? 1 : -1;
	if (strcmp(name, "cpu_limit") == 0)
		return parse_duration(value, &t->cpu_limit) == 0 &&
		    t->cpu_limit >= 1000 ? 1 : -1;
	if (strcmp(name, "file_size_limit") == 0)
		return parse_size(value, &t->file_size_limit) == 0 ? 1 : -1;
	if (strcmp(name, "open_files") == 0)
		return parse_size(value, &t->open_files) == 0 &&
		    t->open_files >= 32 ? 1 : -1;
	if (strcmp(name, "timeout") == 0)
		return parse_duration(value, &t->timeout) == 0 &&
		    t->timeout >= 1000 ? 1 : -1;
	if (strcmp(name, "max_attempts") == 0) {
		if (parse_int(value, 1, 100, &v) == -1)
			return -1;
		t->max_attempts = (int)v;
		return 1;
	}
	if (strcmp(name, "retry_delay") == 0)
		return parse_duration(value, &t->retry_delay) == 0 &&
		    t->retry_delay <= 366ULL * 86400 * 1000 ? 1 : -1;
	if (strcmp(name, "max_retry_delay") == 0)
		return parse_duration(value, &t->max_retry_delay) == 0 &&
		    t->max_retry_delay <= 366ULL * 86400 * 1000 ? 1 : -1;
	if (strcmp(name, "keep_completed") == 0)
		return parse_keep(value, &t->keep_completed);
	if (strcmp(name, "keep_failed") == 0)
		return parse_keep(value, &t->keep_failed);
	if (strcmp(name, "keep_cancelled") == 0)
		return parse_keep(value, &t->keep_cancelled);
	if (strcmp(name, "job_role") == 0) {
		if (*value != '\0' && !valid_name_list(value, 0))
			return -1;
		strlcpy(t->job_role, value, sizeof(t->job_role));
		return 1;
	}
	if (strcmp(name, "input_schemas") == 0) {
		if (!valid_name_list(value, 1) || strlen(value) >=
		    sizeof(t->input_schemas))
			return -1;
		strlcpy(t->input_schemas, value, sizeof(t->input_schemas));
		return 1;
	}
	if (strcmp(name, "nice") == 0) {
		if (parse_int(value, -20, 19, &v) == -1)
			return -1;
		t->nice = (int)v;
		return 1;
	}
	return 0;
}

static int
daemon_key(struct gw_config *c, const char *name, const char *value)
{
	static const struct {
		const char	*name;
		size_t		 off;
	} strings[] = {
		{ "node_name", offsetof(struct gw_config, node_name) },
		{ "pidfile", offsetof(struct gw_config, pidfile) },
		{ "status_file", offsetof(struct gw_config, status_file) },
		{ "log_dir", offsetof(struct gw_config, log_dir) },
		{ "child_dir", offsetof(struct gw_config, child_dir) },
		{ "raster_root", offsetof(struct gw_config, raster_root) },
		{ "output_root", offsetof(struct gw_config, output_root) },
		{ "output_schema", offsetof(struct gw_config, output_schema) },
		{ "user", offsetof(struct gw_config, user) },
		{ "output_readers", offsetof(struct gw_config, output_readers) },
		{ "output_group", offsetof(struct gw_config, output_group) },
		{ "input_schemas", offsetof(struct gw_config, input_schemas) },
		{ "metrics_listen", offsetof(struct gw_config, metrics_listen) },
	}, durations[] = {
		{ "poll_interval", offsetof(struct gw_config, poll_interval) },
		{ "heartbeat_interval",
		    offsetof(struct gw_config, heartbeat_interval) },
		{ "orphan_timeout", offsetof(struct gw_config, orphan_timeout) },
		{ "shutdown_grace", offsetof(struct gw_config, shutdown_grace) },
		{ "db_timeout", offsetof(struct gw_config, db_timeout) },
		{ "max_respawn_delay",
		    offsetof(struct gw_config, max_respawn_delay) },
	};
	size_t	 i;

	for (i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
		if (strcmp(name, strings[i].name) == 0)
			return set_string((char **)((char *)c + strings[i].off),
			    value) == 0 ? 1 : -1;
	for (i = 0; i < sizeof(durations) / sizeof(durations[0]); i++)
		if (strcmp(name, durations[i].name) == 0)
			return parse_duration(value,
			    (uint64_t *)((char *)c + durations[i].off)) == 0 ?
			    1 : -1;
	return 0;
}

static int
handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse_state	*st = user;
	struct gw_config	*c = st->conf;
	struct gw_typeconf	*t;
	char			 full[GW_NAMELEN * 2];
	int			 i, r;

	snprintf(full, sizeof(full), "%s.%s", section, name);
	for (i = 0; i < st->nseen; i++)
		if (strcmp(st->seen[i], full) == 0) {
			snprintf(st->err, st->errlen, "key '%s' repeated in [%s]",
			    name, section);
			return 0;
		}
	if (st->nseen < (int)(sizeof(st->seen) / sizeof(st->seen[0])))
		strlcpy(st->seen[st->nseen++], full, sizeof(st->seen[0]));

	if (strcmp(section, "database") == 0) {
		if (strcmp(name, "conninfo") == 0)
			r = set_string(&c->conninfo, value) == 0 ? 1 : -1;
		else
			r = 0;
	} else if (strcmp(section, "daemon") == 0)
		r = daemon_key(c, name, value);
	else if (strcmp(section, "defaults") == 0)
		r = type_key(&c->defaults, name, value);
	else if ((t = config_type(c, section)) != NULL)
		r = type_key(t, name, value);
	else {
		snprintf(st->err, st->errlen, "key outside a section: %s", name);
		return 0;
	}
	if (r == 0) {
		snprintf(st->err, st->errlen, "unknown key '%s' in [%s]", name,
		    section);
		return 0;
	}
	if (r == -1) {
		snprintf(st->err, st->errlen, "bad value for %s in [%s]: '%s'",
		    name, section, value);
		return 0;
	}
	return 1;
}

/*
 * Finds the section headers, creating a type entry for each job type, so that
 * values of [defaults] can later be inherited by the types that did not set
 * them.  Returns -1 with the message and *line set on an unknown section.
 */
static int
scan_sections(FILE *fp, struct gw_config *c, char *err, size_t errlen,
    int *errline)
{
	char			 buf[1024], *s, *e;
	struct gw_typeconf	*t;
	int			 line = 0;

	while (fgets(buf, sizeof(buf), fp) != NULL) {
		line++;
		for (s = buf; *s == ' ' || *s == '\t'; s++)
			;
		if (*s != '[')
			continue;
		if ((e = strchr(++s, ']')) == NULL) {
			snprintf(err, errlen, "unterminated section header");
			*errline = line;
			return -1;
		}
		*e = '\0';
		if (strcmp(s, "database") == 0 || strcmp(s, "daemon") == 0 ||
		    strcmp(s, "defaults") == 0)
			continue;
		/* Any other section is a job type: a program of that name
		 * in child_dir (geoworkerd -t checks that it can run). */
		if (!valid_type_name(s)) {
			snprintf(err, errlen, "bad section name [%s]: a job "
			    "type is a program name of letters, digits and _ "
			    "(at most 52 characters)", s);
			*errline = line;
			return -1;
		}
		if (config_type(c, s) != NULL) {
			snprintf(err, errlen, "section [%s] repeated", s);
			*errline = line;
			return -1;
		}
		if ((t = calloc(1, sizeof(*t))) == NULL) {
			snprintf(err, errlen, "out of memory");
			*errline = line;
			return -1;
		}
		strlcpy(t->name, s, sizeof(t->name));
		t->line = line;
		TAILQ_INSERT_TAIL(&c->types, t, entry);
	}
	rewind(fp);
	return 0;
}

static unsigned long	 generations;

/* Marker for "not set in the type's section": inherit from [defaults]. */
#define UNSET_U64	(UINT64_MAX - 1)
#define UNSET_INT	INT_MIN

static void
type_unset(struct gw_typeconf *t)
{
	t->enabled = t->fork_server = UNSET_INT;
	t->children = t->max_attempts = t->nice = UNSET_INT;
	t->memory_limit = t->cpu_limit = t->file_size_limit = UNSET_U64;
	t->open_files = t->timeout = t->retry_delay = UNSET_U64;
	t->max_retry_delay = UNSET_U64;
	t->keep_completed = t->keep_failed = t->keep_cancelled = UNSET_U64;
	t->job_role[0] = '\x01';		/* unset */
	t->input_schemas[0] = '\x01';
}

static void
type_inherit(struct gw_typeconf *t, const struct gw_typeconf *d)
{
#define INHERIT(f, unset) do { if (t->f == (unset)) t->f = d->f; } while (0)
	INHERIT(enabled, UNSET_INT);
	INHERIT(fork_server, UNSET_INT);
	INHERIT(children, UNSET_INT);
	INHERIT(max_attempts, UNSET_INT);
	INHERIT(nice, UNSET_INT);
	INHERIT(memory_limit, UNSET_U64);
	INHERIT(cpu_limit, UNSET_U64);
	INHERIT(file_size_limit, UNSET_U64);
	INHERIT(open_files, UNSET_U64);
	INHERIT(timeout, UNSET_U64);
	INHERIT(retry_delay, UNSET_U64);
	INHERIT(max_retry_delay, UNSET_U64);
	INHERIT(keep_completed, UNSET_U64);
	INHERIT(keep_failed, UNSET_U64);
	INHERIT(keep_cancelled, UNSET_U64);
	if (t->job_role[0] == '\x01')
		strlcpy(t->job_role, d->job_role, sizeof(t->job_role));
	if (t->input_schemas[0] == '\x01')
		strlcpy(t->input_schemas, d->input_schemas,
		    sizeof(t->input_schemas));
#undef INHERIT
}

struct gw_config *
config_load(const char *path, char *err, size_t errlen)
{
	struct gw_config	*c;
	struct gw_typeconf	*t;
	struct parse_state	*st = NULL;
	FILE			*fp;
	char			 host[256], msg[512] = "";
	int			 line = 0, r;

	if ((fp = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (st = calloc(1, sizeof(*st))) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		fclose(fp);
		free(c);
		return NULL;
	}
	TAILQ_INIT(&c->types);
	type_defaults(&c->defaults);
	c->poll_interval = 5000;
	c->heartbeat_interval = 10000;
	c->orphan_timeout = 60000;
	c->shutdown_grace = 30000;
	c->db_timeout = 5000;
	c->max_respawn_delay = 60000;

	if (scan_sections(fp, c, msg, sizeof(msg), &line) == -1)
		goto fail;
	TAILQ_FOREACH(t, &c->types, entry)
		type_unset(t);
	st->conf = c;
	st->err = msg;
	st->errlen = sizeof(msg);
	if ((r = ini_parse_file(fp, handler, st)) != 0) {
		line = r;
		if (msg[0] == '\0')
			snprintf(msg, sizeof(msg), "syntax error");
		goto fail;
	}
	line = 0;
	TAILQ_FOREACH(t, &c->types, entry)
		type_inherit(t, &c->defaults);

	if (c->conninfo == NULL) {
		snprintf(msg, sizeof(msg), "[database] conninfo is required");
		goto fail;
	}
	if (c->node_name == NULL || c->node_name[0] == '\0') {
		if (gethostname(host, sizeof(host)) == -1)
			strlcpy(host, "localhost", sizeof(host));
		host[sizeof(host) - 1] = '\0';
		if (set_string(&c->node_name, host) == -1)
			goto nomem;
	}
	if (c->child_dir == NULL && set_string(&c->child_dir, GW_LIBEXECDIR) == -1)
		goto nomem;
	if (c->output_schema == NULL && set_string(&c->output_schema, "analysis") == -1)
		goto nomem;
	if (c->log_dir != NULL && c->log_dir[0] == '\0') {
		free(c->log_dir);
		c->log_dir = NULL;
	}
	if (c->status_file != NULL && c->status_file[0] == '\0') {
		free(c->status_file);
		c->status_file = NULL;
	}
	if (c->pidfile != NULL && c->pidfile[0] == '\0') {
		free(c->pidfile);
		c->pidfile = NULL;
	}
	if ((c->raster_root && c->raster_root[0] != '/') ||
	    (c->output_root && c->output_root[0] != '/')) {
		snprintf(msg, sizeof(msg), "raster_root and output_root must be "
		    "absolute paths");
		goto fail;
	}
	if (c->poll_interval < 100 || c->heartbeat_interval < 100) {
		snprintf(msg, sizeof(msg), "poll_interval and heartbeat_interval "
		    "must be at least 100ms");
		goto fail;
	}
	if (c->orphan_timeout != 0 && c->orphan_timeout < 2 * c->heartbeat_interval) {
		snprintf(msg, sizeof(msg), "orphan_timeout must be 0 (off) or at "
		    "least twice heartbeat_interval");
		goto fail;
	}
	if (c->input_schemas == NULL && set_string(&c->input_schemas,
	    "public") == -1)
		goto nomem;
	if (!valid_name_list(c->input_schemas, 1) || (c->output_readers &&
	    *c->output_readers && !valid_name_list(c->output_readers, 1))) {
		snprintf(msg, sizeof(msg), "input_schemas and output_readers "
		    "are comma-separated names of letters, digits, _ and $");
		goto fail;
	}
	TAILQ_FOREACH(t, &c->types, entry)
		if (t->input_schemas[0] == '\0')
			strlcpy(t->input_schemas, c->input_schemas,
			    sizeof(t->input_schemas));
	if (c->db_timeout < 1000) {
		snprintf(msg, sizeof(msg), "db_timeout must be at least 1s");
		goto fail;
	}
	if ((c->path = strdup(path)) == NULL)
		goto nomem;
	c->generation = ++generations;
	fclose(fp);
	free(st);
	return c;

nomem:
	snprintf(msg, sizeof(msg), "out of memory");
fail:
	if (line > 0)
		snprintf(err, errlen, "%s:%d: %s", path, line, msg);
	else
		snprintf(err, errlen, "%s: %s", path, msg);
	fclose(fp);
	free(st);
	config_free(c);
	return NULL;
}

void
config_free(struct gw_config *c)
{
	struct gw_typeconf	*t;

	if (c == NULL)
		return;
	while ((t = TAILQ_FIRST(&c->types)) != NULL) {
		TAILQ_REMOVE(&c->types, t, entry);
		free(t);
	}
	free(c->path);
	free(c->conninfo);
	free(c->node_name);
	free(c->pidfile);
	free(c->status_file);
	free(c->log_dir);
	free(c->child_dir);
	free(c->raster_root);
	free(c->output_root);
	free(c->output_schema);
	free(c->user);
	free(c->output_readers);
	free(c->output_group);
	free(c->input_schemas);
	free(c->metrics_listen);
	free(c);
}

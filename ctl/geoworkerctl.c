/*
 * geoworkerctl.c: the command line of geoworkerctl(8): options, the
 * configuration, the connection, and the helpers every command shares.
 *
 * NOTES
 *   Options may come before or after the command (getopt_long permutes);
 *   each command accepts only the options its table below names, so that a
 *   misplaced --status is an error and not silently ignored.  Every SQL
 *   statement binds its values (PQexecParams); the commands build JSON from
 *   the rows (row_to_json) and print it either as a table or as is.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

/* Long options are bits above any character, so that a set of them fits. */
enum {
	OPT_STATUS = 1 << 8, OPT_TYPE = 1 << 9, OPT_OLDER = 1 << 10,
	OPT_NEWER = 1 << 11, OPT_LIMIT = 1 << 12, OPT_PRIORITY = 1 << 13,
	OPT_KEY = 1 << 14, OPT_WAIT = 1 << 15, OPT_TIMEOUT = 1 << 16,
	OPT_ATTEMPTS = 1 << 17, OPT_DELAY = 1 << 18
};

static const struct command {
	const char	*name;
	int		 (*fn)(struct ctl *);
	int		 min_args, max_args;
	int		 options;
	int		 needs_db;
	const char	*usage;
} commands[] = {
	{ "status", cmd_status, 0, 0, OPT_TIMEOUT, 0, "status [--timeout D]" },
	{ "nodes", cmd_nodes, 0, 0, 0, 1, "nodes" },
	{ "jobs", cmd_jobs, 0, 0, OPT_STATUS | OPT_TYPE | OPT_OLDER |
	    OPT_NEWER | OPT_LIMIT, 1, "jobs [--status S] [--type T] "
	    "[--older-than D] [--newer-than D] [--limit N]" },
	{ "show", cmd_show, 1, 1, 0, 1, "show ID" },
	{ "enqueue", cmd_enqueue, 2, 2, OPT_PRIORITY | OPT_KEY | OPT_WAIT |
	    OPT_TIMEOUT | OPT_ATTEMPTS | OPT_DELAY, 1, "enqueue TYPE JSON "
	    "[--priority N] [--key K] [--max-attempts N] [--delay D] "
	    "[--wait [--timeout D]]" },
	{ "wait", cmd_wait, 1, 1, OPT_TIMEOUT, 1, "wait ID [--timeout D]" },
	{ "cancel", cmd_cancel, 1, 1, 0, 1, "cancel ID" },
	{ "retry", cmd_retry, 1, 1, 0, 1, "retry ID" },
	{ "dismiss", cmd_dismiss, 1, 1, 0, 1, "dismiss ID" },
	{ "purge", cmd_purge, 0, 0, OPT_OLDER | OPT_STATUS | OPT_TYPE, 1,
	    "purge --older-than D [--status S] [--type T]" },
};
#define NCOMMANDS	(sizeof(commands) / sizeof(commands[0]))

static const struct option longopts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "json", no_argument, NULL, 'J' },
	{ "help", no_argument, NULL, 'h' },
	{ "status", required_argument, NULL, OPT_STATUS },
	{ "type", required_argument, NULL, OPT_TYPE },
	{ "older-than", required_argument, NULL, OPT_OLDER },
	{ "newer-than", required_argument, NULL, OPT_NEWER },
	{ "limit", required_argument, NULL, OPT_LIMIT },
	{ "priority", required_argument, NULL, OPT_PRIORITY },
	{ "key", required_argument, NULL, OPT_KEY },
	{ "wait", no_argument, NULL, OPT_WAIT },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "max-attempts", required_argument, NULL, OPT_ATTEMPTS },
	{ "delay", required_argument, NULL, OPT_DELAY },
	{ NULL, 0, NULL, 0 }
};

static void
usage(FILE *fp)
{
	size_t	 i;

	fprintf(fp, "usage: geoworkerctl [-c config] [--json] command ...\n");
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(fp, "       geoworkerctl %s\n", commands[i].usage);
	fprintf(fp, "durations: 30s, 5m, 2h, 7d; see geoworkerctl(8)\n");
}

void
ctl_warnx(const char *fmt, ...)
{
	va_list	 ap;

	fputs("geoworkerctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int
opt_duration(const char *name, const char *arg, int64_t *out)
{
	uint64_t	 ms;

	if (parse_duration(arg, &ms) == -1 || ms > INT64_MAX) {
		ctl_warnx("--%s: bad duration '%s' (30s, 5m, 2h, 7d)", name, arg);
		return -1;
	}
	*out = (int64_t)ms;
	return 0;
}

static int
opt_int(const char *name, const char *arg, long long min, long long max,
    long long *out)
{
	if (parse_int(arg, min, max, out) == -1) {
		ctl_warnx("--%s: expected an integer from %lld to %lld, not '%s'",
		    name, min, max, arg);
		return -1;
	}
	return 0;
}

/* A job id operand: a positive integer.  Returns -1 with a message if not. */
int
ctl_job_id(const char *s, long long *id)
{
	if (parse_int(s, 1, INT64_MAX, id) == -1) {
		ctl_warnx("'%s' is not a job id", s);
		return -1;
	}
	return 0;
}

/* The server's NOTICEs, on stderr as our own messages. */
static void
notice(void *arg, const char *msg)
{
	struct ctl	*c = arg;
	size_t		 len = strlen(msg);

	if (strncmp(msg, "NOTICE:  ", 9) == 0) {
		msg += 9;
		len -= 9;
	}
	while (len > 0 && msg[len - 1] == '\n')
		len--;
	fprintf(stderr, "geoworkerctl: %.*s\n", (int)len, msg);
	c->noticed = 1;
}

/*
 * ctl_connect: opens the connection named by [database] conninfo, giving up
 * after db_timeout.  Returns GWCTL_EXIT_OK, or GWCTL_EXIT_UNREACHABLE with
 * libpq's message on stderr.
 */
int
ctl_connect(struct ctl *c)
{
	const char	*keys[] = { "dbname", "fallback_application_name",
	    "connect_timeout", NULL };
	const char	*vals[4];
	char		 timeout[32];

	snprintf(timeout, sizeof(timeout), "%llu",
	    (unsigned long long)(c->conf->db_timeout + 999) / 1000);
	vals[0] = c->conf->conninfo;
	vals[1] = "geoworkerctl";
	vals[2] = timeout;
	vals[3] = NULL;
	c->conn = PQconnectdbParams(keys, vals, 1);
	if (c->conn == NULL || PQstatus(c->conn) != CONNECTION_OK) {
		ctl_warnx("cannot connect to the database (%s): %s",
		    c->conf->conninfo, c->conn ? PQerrorMessage(c->conn) :
		    "out of memory");
		return GWCTL_EXIT_UNREACHABLE;
	}
	PQsetNoticeProcessor(c->conn, notice, c);
	return GWCTL_EXIT_OK;
}

/*
 * ctl_query: runs sql with n text parameters (NULL entries are SQL NULL).
 * Returns the result, which the caller clears, or NULL after printing the
 * server's message.
 */
PGresult *
ctl_query(struct ctl *c, const char *sql, int n, const char *const *params)
{
	PGresult	*res;
	ExecStatusType	 st;

	res = PQexecParams(c->conn, sql, n, NULL, params, NULL, NULL, 0);
	st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
		ctl_warnx("%s", res ? PQresultErrorMessage(res) :
		    PQerrorMessage(c->conn));
		PQclear(res);
		return NULL;
	}
	return res;
}

/*
 * ctl_query_json: runs sql, whose rows have one json column, and returns
 * them as a new JSON array (the caller decrefs), or NULL after a message.
 */
json_t *
ctl_query_json(struct ctl *c, const char *sql, int n, const char *const *params)
{
	PGresult	*res;
	json_t		*rows, *row;
	json_error_t	 jerr;
	int		 i;

	if ((res = ctl_query(c, sql, n, params)) == NULL)
		return NULL;
	if ((rows = json_array()) == NULL) {
		PQclear(res);
		ctl_warnx("out of memory");
		return NULL;
	}
	for (i = 0; i < PQntuples(res); i++) {
		row = json_loads(PQgetvalue(res, i, 0), JSON_DECODE_ANY, &jerr);
		if (row == NULL || json_array_append_new(rows, row) == -1) {
			ctl_warnx("bad JSON from the server: %s", jerr.text);
			json_decref(rows);
			PQclear(res);
			return NULL;
		}
	}
	PQclear(res);
	return rows;
}

/* Prints one JSON document on stdout (--json). */
void
ctl_print_json(json_t *doc)
{
	json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
}

static const struct command *
find_command(const char *name)
{
	size_t	 i;

	for (i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

int
main(int argc, char *argv[])
{
	const struct command	*cmd;
	struct ctl		 c;
	const char		*path = GW_SYSCONFDIR "/geoworkerd.ini";
	char			 err[1024];
	int			 ch, seen = 0, rv;

	memset(&c, 0, sizeof(c));
	c.older_than = c.newer_than = c.timeout = c.delay = -1;
	c.limit = 50;
	c.priority = 0;
	c.max_attempts = -1;

	while ((ch = getopt_long(argc, argv, "c:hJ", longopts, NULL)) != -1) {
		if (ch >= OPT_STATUS)
			seen |= ch;
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'J':
			c.json = 1;
			break;
		case 'h':
			usage(stdout);
			return GWCTL_EXIT_OK;
		case OPT_STATUS:
			c.status = optarg;
			break;
		case OPT_TYPE:
			c.type = optarg;
			break;
		case OPT_KEY:
			c.key = optarg;
			break;
		case OPT_WAIT:
			c.wait = 1;
			break;
		case OPT_OLDER:
			if (opt_duration("older-than", optarg, &c.older_than) == -1)
				return GWCTL_EXIT_USAGE;
			break;
		case OPT_NEWER:
			if (opt_duration("newer-than", optarg, &c.newer_than) == -1)
				return GWCTL_EXIT_USAGE;
			break;
		case OPT_TIMEOUT:
			if (opt_duration("timeout", optarg, &c.timeout) == -1)
				return GWCTL_EXIT_USAGE;
			break;
		case OPT_DELAY:
			if (opt_duration("delay", optarg, &c.delay) == -1)
				return GWCTL_EXIT_USAGE;
			break;
		case OPT_LIMIT:
			if (opt_int("limit", optarg, 1, 1000000, &c.limit) == -1)
				return GWCTL_EXIT_USAGE;
			break;
		case OPT_PRIORITY:
			if (opt_int("priority", optarg, -1000000, 1000000,
			    &c.priority) == -1)
				return GWCTL_EXIT_USAGE;
			break;
		case OPT_ATTEMPTS:
			if (opt_int("max-attempts", optarg, 1, 100,
			    &c.max_attempts) == -1)
				return GWCTL_EXIT_USAGE;
			break;
		default:
			usage(stderr);
			return GWCTL_EXIT_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		usage(stderr);
		return GWCTL_EXIT_USAGE;
	}
	if ((cmd = find_command(argv[0])) == NULL) {
		ctl_warnx("unknown command '%s'", argv[0]);
		usage(stderr);
		return GWCTL_EXIT_USAGE;
	}
	if (argc - 1 < cmd->min_args || argc - 1 > cmd->max_args ||
	    (seen & ~cmd->options) != 0 || (c.timeout >= 0 &&
	    cmd->fn == cmd_enqueue && !c.wait)) {
		fprintf(stderr, "usage: geoworkerctl [-c config] [--json] %s\n",
		    cmd->usage);
		return GWCTL_EXIT_USAGE;
	}
	c.argc = argc - 1;
	c.argv = argv + 1;

	if ((c.conf = config_load(path, err, sizeof(err))) == NULL) {
		ctl_warnx("%s", err);
		return GWCTL_EXIT_USAGE;
	}
	rv = GWCTL_EXIT_OK;
	if (cmd->needs_db)
		rv = ctl_connect(&c);
	if (rv == GWCTL_EXIT_OK)
		rv = cmd->fn(&c);
	if (fflush(stdout) == EOF && rv == GWCTL_EXIT_OK) {
		ctl_warnx("stdout: %s", strerror(errno));
		rv = GWCTL_EXIT_NOTHING;
	}
	PQfinish(c.conn);
	config_free(c.conf);
	return rv;
}

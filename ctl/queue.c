/*
 * queue.c: the geoworkerctl commands that read and change background_jobs:
 * nodes, jobs, show, enqueue, wait, cancel, retry, dismiss, purge.
 *
 * NOTES
 *   Changes go through the SQL functions of sql/geoworkerd.sql
 *   (geoworkerd_enqueue, _cancel, _retry, _dismiss, _expire), so that the
 *   web application, psql and this tool obey the same rules; their NOTICEs
 *   (why a job was not retried, which output was kept) reach stderr.  Every value is
 *   a bound parameter; durations travel as "N milliseconds" cast to
 *   interval.  Rows come back as row_to_json() so that the table and the
 *   --json output show the same fields.
 */
#include "config.h"

#include <sys/select.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"

#define PURGE_BATCH	"1000"

static const char *const statuses[] = {
	"queued", "running", "completed", "failed", "cancelled", NULL
};

/*
 * A job as JSON: every column the table has, so that the tool works on a
 * schema older or newer than itself and shows the application's own
 * columns too.  Listings leave out params and result, which can be large.
 */
#define JOB_ROW		"row_to_json(b)"
#define JOB_SUMMARY	"(to_jsonb(b) - 'params' - 'result')"

static char *
interval_ms(int64_t ms, char *buf, size_t len)
{
	snprintf(buf, len, "%lld milliseconds", (long long)ms);
	return buf;
}

/*
 * A comma-separated list of statuses, each one the table knows; only those
 * in allowed (NULL: all) are accepted.  Returns -1 after a message.
 */
static int
check_statuses(const char *list, const char *const *allowed)
{
	char		*copy, *s, *p;
	const char	*const *a;
	int		 rv = 0, ok;

	if ((copy = strdup(list)) == NULL)
		return -1;
	for (p = copy; (s = strsep(&p, ",")) != NULL; ) {
		ok = 0;
		for (a = allowed ? allowed : statuses; *a != NULL; a++)
			if (strcmp(*a, s) == 0)
				ok = 1;
		if (!ok) {
			ctl_warnx("--status: '%s' is not one of %s", s, allowed ?
			    "completed, failed, cancelled" :
			    "queued, running, completed, failed, cancelled");
			rv = -1;
		}
	}
	free(copy);
	return rv;
}

int
cmd_nodes(struct ctl *c)
{
	static const struct ctl_col cols[] = {
		{ "NODE", "node", COL_TEXT, 0 },
		{ "RUNNING", "running", COL_INT, 0 },
		{ "TYPES", "types", COL_TEXT, 60 },
		{ "LAST HEARTBEAT", "last_heartbeat", COL_TIME, 0 },
		{ "OLDEST START", "oldest_start", COL_TIME, 0 },
	};
	const char	*sql =
	    "SELECT row_to_json(n) FROM ("
	    " SELECT worker_host AS node, count(*) AS running,"
	    "  string_agg(DISTINCT job_type, ',') AS types,"
	    "  max(heartbeat_at) AS last_heartbeat,"
	    "  min(started_at) AS oldest_start"
	    " FROM background_jobs"
	    " WHERE status = 'running' AND worker_host IS NOT NULL"
	    "  AND heartbeat_at > now() - $1::interval"
	    " GROUP BY worker_host ORDER BY worker_host) n";
	const char	*totals_sql =
	    "SELECT row_to_json(t) FROM ("
	    " SELECT count(*) FILTER (WHERE status = 'queued') AS queued,"
	    "  count(*) FILTER (WHERE status = 'running') AS running,"
	    "  count(*) FILTER (WHERE status = 'running' AND (heartbeat_at IS NULL"
	    "   OR heartbeat_at <= now() - $1::interval)) AS stale"
	    " FROM background_jobs WHERE status IN ('queued', 'running')) t";
	const char	*params[1];
	char		 iv[64];
	json_t		*nodes, *totals, *doc;
	uint64_t	 recent;

	/* A node is live if it refreshed a heartbeat within orphan_timeout. */
	recent = c->conf->orphan_timeout ? c->conf->orphan_timeout :
	    6 * c->conf->heartbeat_interval;
	params[0] = interval_ms((int64_t)recent, iv, sizeof(iv));
	if ((nodes = ctl_query_json(c, sql, 1, params)) == NULL)
		return GWCTL_EXIT_UNREACHABLE;
	if ((totals = ctl_query_json(c, totals_sql, 1, params)) == NULL) {
		json_decref(nodes);
		return GWCTL_EXIT_UNREACHABLE;
	}
	doc = json_copy(json_array_get(totals, 0));
	json_decref(totals);
	json_object_set_new(doc, "live_within_s", json_real(recent / 1000.0));
	json_object_set_new(doc, "nodes", nodes);
	if (c->json)
		ctl_print_json(doc);
	else {
		if (json_array_size(nodes) > 0)
			table_print(cols, sizeof(cols) / sizeof(cols[0]), nodes);
		else
			printf("no node runs a job\n");
		printf("\n%zu live node%s, %lld running job%s (%lld without a "
		    "heartbeat for %.0f s), %lld queued\n",
		    json_array_size(nodes), json_array_size(nodes) == 1 ? "" : "s",
		    (long long)json_integer_value(json_object_get(doc, "running")),
		    json_integer_value(json_object_get(doc, "running")) == 1 ?
		    "" : "s",
		    (long long)json_integer_value(json_object_get(doc, "stale")),
		    recent / 1000.0,
		    (long long)json_integer_value(json_object_get(doc, "queued")));
	}
	json_decref(doc);
	return GWCTL_EXIT_OK;
}

int
cmd_jobs(struct ctl *c)
{
	static const struct ctl_col cols[] = {
		{ "ID", "id", COL_INT, 0 },
		{ "TYPE", "job_type", COL_TEXT, 0 },
		{ "STATUS", "status", COL_TEXT, 0 },
		{ "PRI", "priority", COL_INT, 0 },
		{ "TRIES", "attempts", COL_INT, 0 },
		{ "PROGRESS", "progress", COL_PROGRESS, 0 },
		{ "NODE", "worker_host", COL_TEXT, 20 },
		{ "CREATED", "created_at", COL_TIME, 0 },
		{ "ENDED", "completed_at", COL_TIME, 0 },
		{ "ERROR", "error_message", COL_TEXT, 50 },
	};
	const char	*sql =
	    "SELECT " JOB_SUMMARY " FROM background_jobs b"
	    " WHERE ($1::text IS NULL OR status = ANY (string_to_array($1, ',')))"
	    "  AND ($2::text IS NULL OR job_type = ANY (string_to_array($2, ',')))"
	    "  AND ($3::interval IS NULL OR created_at < now() - $3::interval)"
	    "  AND ($4::interval IS NULL OR created_at >= now() - $4::interval)"
	    " ORDER BY created_at DESC, id DESC LIMIT $5::bigint";
	const char	*params[5];
	char		 older[64], newer[64], limit[32];
	json_t		*rows;

	if (c->status && check_statuses(c->status, NULL) == -1)
		return GWCTL_EXIT_USAGE;
	snprintf(limit, sizeof(limit), "%lld", c->limit);
	params[0] = c->status;
	params[1] = c->type;
	params[2] = c->older_than >= 0 ?
	    interval_ms(c->older_than, older, sizeof(older)) : NULL;
	params[3] = c->newer_than >= 0 ?
	    interval_ms(c->newer_than, newer, sizeof(newer)) : NULL;
	params[4] = limit;
	if ((rows = ctl_query_json(c, sql, 5, params)) == NULL)
		return GWCTL_EXIT_UNREACHABLE;
	if (c->json) {
		json_t *doc = json_pack("{s:o}", "jobs", rows);

		ctl_print_json(doc);
		json_decref(doc);
		return GWCTL_EXIT_OK;
	}
	if (json_array_size(rows) == 0)
		printf("no job\n");
	else
		table_print(cols, sizeof(cols) / sizeof(cols[0]), rows);
	json_decref(rows);
	return GWCTL_EXIT_OK;
}

/* The job row as a JSON object (params and result included), or NULL. */
static json_t *
fetch_job(struct ctl *c, long long id, int *rv)
{
	const char	*sql = "SELECT " JOB_ROW " FROM background_jobs b"
	    " WHERE id = $1::bigint";
	const char	*params[1];
	char		 idbuf[32];
	json_t		*rows, *job;

	snprintf(idbuf, sizeof(idbuf), "%lld", id);
	params[0] = idbuf;
	if ((rows = ctl_query_json(c, sql, 1, params)) == NULL) {
		*rv = GWCTL_EXIT_UNREACHABLE;
		return NULL;
	}
	if ((job = json_array_get(rows, 0)) == NULL) {
		ctl_warnx("no job %lld", id);
		*rv = GWCTL_EXIT_NOTHING;
	} else
		json_incref(job);
	json_decref(rows);
	return job;
}

static void
print_job(json_t *job)
{
	static const struct ctl_col fields[] = {
		{ "id", "id", COL_INT, 0 },
		{ "type", "job_type", COL_TEXT, 0 },
		{ "status", "status", COL_TEXT, 0 },
		{ "priority", "priority", COL_INT, 0 },
		{ "attempts", "attempts", COL_INT, 0 },
		{ "max attempts", "max_attempts", COL_INT, 0 },
		{ "progress", "progress", COL_PROGRESS, 0 },
		{ "progress message", "progress_message", COL_TEXT, 0 },
		{ "key", "job_key", COL_TEXT, 0 },
		{ "node", "worker_host", COL_TEXT, 0 },
		{ "pid", "worker_pid", COL_INT, 0 },
		{ "created", "created_at", COL_TIME, 0 },
		{ "run after", "run_after", COL_TIME, 0 },
		{ "started", "started_at", COL_TIME, 0 },
		{ "heartbeat", "heartbeat_at", COL_TIME, 0 },
		{ "ended", "completed_at", COL_TIME, 0 },
		{ "error", "error_message", COL_TEXT, 0 },
	};
	char	 cell[256], *s;
	size_t	 i;

	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		printf("%-17s %s\n", fields[i].head,
		    table_cell(&fields[i], job, cell, sizeof(cell)));
	s = json_dumps(json_object_get(job, "params"), JSON_INDENT(2) |
	    JSON_ENCODE_ANY);
	printf("params:\n%s\n", s ? s : "null");
	free(s);
	s = json_dumps(json_object_get(job, "result"), JSON_INDENT(2) |
	    JSON_ENCODE_ANY);
	printf("result:\n%s\n", s ? s : "null");
	free(s);
}

int
cmd_show(struct ctl *c)
{
	json_t		*job;
	long long	 id;
	int		 rv = GWCTL_EXIT_OK;

	if (ctl_job_id(c->argv[0], &id) == -1)
		return GWCTL_EXIT_USAGE;
	if ((job = fetch_job(c, id, &rv)) == NULL)
		return rv;
	if (c->json)
		ctl_print_json(job);
	else
		print_job(job);
	json_decref(job);
	return GWCTL_EXIT_OK;
}

/*
 * Waits until job id ends, on LISTEN geoworkerd_done, checking the row every
 * second as well (a notification can be missed, or the job may have ended
 * before we listened).  Prints the final row.  Returns 0 if it completed,
 * 1 if it failed or was cancelled (or does not exist), 3 if the database
 * went away, 4 on timeout.
 */
static int
wait_job(struct ctl *c, long long id)
{
	PGresult	*res;
	PGnotify	*n;
	json_t		*job = NULL;
	const char	*status;
	struct timeval	 tv;
	fd_set		 fds;
	uint64_t	 deadline = 0, now;
	int		 rv = GWCTL_EXIT_OK, sock;

	if ((res = ctl_query(c, "LISTEN geoworkerd_done", 0, NULL)) == NULL)
		return GWCTL_EXIT_UNREACHABLE;
	PQclear(res);
	if (c->timeout >= 0)
		deadline = now_ms() + (uint64_t)c->timeout;
	for (;;) {
		json_decref(job);
		if ((job = fetch_job(c, id, &rv)) == NULL)
			return rv;
		status = json_string_value(json_object_get(job, "status"));
		if (status && strcmp(status, "queued") != 0 &&
		    strcmp(status, "running") != 0)
			break;
		now = now_ms();
		if (deadline && now >= deadline) {
			ctl_warnx("job %lld is still %s after %.1f s", id, status,
			    c->timeout / 1000.0);
			rv = GWCTL_EXIT_TIMEOUT;
			goto print;
		}
		/* Sleep until a notification, a second, or the deadline. */
		if ((sock = PQsocket(c->conn)) < 0) {
			ctl_warnx("lost the database connection");
			json_decref(job);
			return GWCTL_EXIT_UNREACHABLE;
		}
		tv.tv_sec = 1;
		tv.tv_usec = 0;
		if (deadline && deadline - now < 1000) {
			tv.tv_sec = 0;
			tv.tv_usec = (suseconds_t)(deadline - now) * 1000;
		}
		FD_ZERO(&fds);
		FD_SET(sock, &fds);
		if (select(sock + 1, &fds, NULL, NULL, &tv) == -1 &&
		    errno != EINTR) {
			ctl_warnx("select: %s", strerror(errno));
			json_decref(job);
			return GWCTL_EXIT_UNREACHABLE;
		}
		if (PQconsumeInput(c->conn) == 0) {
			ctl_warnx("%s", PQerrorMessage(c->conn));
			json_decref(job);
			return GWCTL_EXIT_UNREACHABLE;
		}
		/* Any notification makes us look; the row is the truth. */
		while ((n = PQnotifies(c->conn)) != NULL)
			PQfreemem(n);
	}
	rv = strcmp(status, "completed") == 0 ? GWCTL_EXIT_OK :
	    GWCTL_EXIT_NOTHING;
print:
	if (c->json)
		ctl_print_json(job);
	else
		printf("job %lld %s%s%s\n", id, status,
		    json_string_value(json_object_get(job, "error_message")) ?
		    ": " : "",
		    json_string_value(json_object_get(job, "error_message")) ?: "");
	json_decref(job);
	return rv;
}

int
cmd_wait(struct ctl *c)
{
	long long	 id;

	if (ctl_job_id(c->argv[0], &id) == -1)
		return GWCTL_EXIT_USAGE;
	return wait_job(c, id);
}

int
cmd_enqueue(struct ctl *c)
{
	const char	*sql = "SELECT geoworkerd_enqueue($1::text, $2::jsonb,"
	    " $3::integer, now() + $4::interval, $5::integer, $6::text)";
	const char	*params[6];
	char		 prio[32], delay[64], attempts[32], prog[4096];
	json_t		*p, *doc;
	json_error_t	 jerr;
	PGresult	*res;
	long long	 id;

	/* A typo would sit in the queue for ever: refuse a type that the
	 * INI does not name and no program in child_dir runs. */
	snprintf(prog, sizeof(prog), "%s/%s", c->conf->child_dir, c->argv[0]);
	if (!valid_type_name(c->argv[0]) || (config_type(c->conf,
	    c->argv[0]) == NULL && access(prog, X_OK) == -1)) {
		ctl_warnx("unknown job type '%s' (no section in %s, no program "
		    "%s)", c->argv[0], c->conf->path, prog);
		return GWCTL_EXIT_USAGE;
	}
	if ((p = json_loads(c->argv[1], JSON_REJECT_DUPLICATES, &jerr)) == NULL ||
	    !json_is_object(p)) {
		ctl_warnx("the parameters must be a JSON object: %s",
		    p ? "not an object" : jerr.text);
		json_decref(p);
		return GWCTL_EXIT_USAGE;
	}
	json_decref(p);
	snprintf(prio, sizeof(prio), "%lld", c->priority);
	snprintf(attempts, sizeof(attempts), "%lld", c->max_attempts);
	params[0] = c->argv[0];
	params[1] = c->argv[1];
	params[2] = prio;
	params[3] = interval_ms(c->delay >= 0 ? c->delay : 0, delay, sizeof(delay));
	params[4] = c->max_attempts > 0 ? attempts : NULL;
	params[5] = c->key;
	if ((res = ctl_query(c, sql, 6, params)) == NULL)
		return GWCTL_EXIT_NOTHING;
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0) ||
	    parse_int(PQgetvalue(res, 0, 0), 1, INT64_MAX, &id) == -1) {
		ctl_warnx("geoworkerd_enqueue returned no job id");
		PQclear(res);
		return GWCTL_EXIT_NOTHING;
	}
	PQclear(res);
	if (c->wait)
		return wait_job(c, id);
	if (c->json) {
		doc = json_pack("{s:I, s:s}", "id", (json_int_t)id, "job_type",
		    c->argv[0]);
		ctl_print_json(doc);
		json_decref(doc);
	} else
		printf("%lld\n", id);
	return GWCTL_EXIT_OK;
}

/*
 * cancel, retry and dismiss: one SQL function each, true when it changed
 * the job.  On false the message says what state the job is in.
 */
static int
job_action(struct ctl *c, const char *fn, const char *done)
{
	const char	*params[1];
	char		 sql[128];
	PGresult	*res;
	json_t		*job, *doc;
	long long	 id;
	int		 changed, rv = GWCTL_EXIT_OK;

	if (ctl_job_id(c->argv[0], &id) == -1)
		return GWCTL_EXIT_USAGE;
	snprintf(sql, sizeof(sql), "SELECT %s($1::bigint)", fn);
	params[0] = c->argv[0];
	if ((res = ctl_query(c, sql, 1, params)) == NULL)
		return GWCTL_EXIT_NOTHING;
	changed = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	/* A dismissed job is gone: there is no row left to show. */
	if (changed && strcmp(fn, "geoworkerd_dismiss") == 0)
		job = json_pack("{s:n}", "status");
	else if ((job = fetch_job(c, id, &rv)) == NULL)
		return rv;
	if (c->json) {
		doc = json_pack("{s:I, s:b, s:O}", "id", (json_int_t)id,
		    "changed", changed, "status", json_object_get(job, "status"));
		ctl_print_json(doc);
		json_decref(doc);
	} else if (changed)
		printf("job %lld %s\n", id, done);
	/* The function's NOTICE, if any, already said why on stderr. */
	if (!changed && !c->noticed)
		ctl_warnx("job %lld not %s: it is %s", id, done,
		    json_string_value(json_object_get(job, "status")));
	json_decref(job);
	return changed ? GWCTL_EXIT_OK : GWCTL_EXIT_NOTHING;
}

int
cmd_cancel(struct ctl *c)
{
	return job_action(c, "geoworkerd_cancel", "cancelled");
}

int
cmd_retry(struct ctl *c)
{
	return job_action(c, "geoworkerd_retry", "queued again");
}

int
cmd_dismiss(struct ctl *c)
{
	return job_action(c, "geoworkerd_dismiss", "dismissed");
}

/*
 * purge: geoworkerd_expire() in batches until nothing is left, so that no
 * single transaction holds many row locks.  Queued and running jobs are
 * never purged.
 */
int
cmd_purge(struct ctl *c)
{
	static const char *const ended[] = {
		"completed", "failed", "cancelled", NULL
	};
	const char	*sql = "SELECT geoworkerd_expire($1::text, $2::text,"
	    " $3::interval, $4::integer)";
	const char	*params[4], *const *s;
	char		 older[64];
	PGresult	*res;
	json_t		*doc, *types, *t;
	size_t		 i;
	long long	 n, total = 0;

	if (c->older_than < 0) {
		ctl_warnx("purge needs --older-than");
		return GWCTL_EXIT_USAGE;
	}
	if (c->status && (strchr(c->status, ',') != NULL ||
	    check_statuses(c->status, ended) == -1)) {
		if (strchr(c->status, ','))
			ctl_warnx("--status: one of completed, failed, cancelled");
		return GWCTL_EXIT_USAGE;
	}
	/* geoworkerd_expire works on one type and status at a time. */
	if (c->type != NULL) {
		if ((types = json_pack("[s]", c->type)) == NULL)
			return GWCTL_EXIT_NOTHING;
	} else if ((types = ctl_query_json(c, "SELECT to_json(t) FROM (SELECT"
	    " DISTINCT job_type FROM background_jobs WHERE status IN"
	    " ('completed', 'failed', 'cancelled') ORDER BY 1) s(t)", 0,
	    NULL)) == NULL)
		return GWCTL_EXIT_UNREACHABLE;
	params[2] = interval_ms(c->older_than, older, sizeof(older));
	params[3] = PURGE_BATCH;
	json_array_foreach(types, i, t) {
		params[0] = json_string_value(t);
		for (s = ended; *s != NULL; s++) {
			if (c->status && strcmp(c->status, *s) != 0)
				continue;
			params[1] = *s;
			do {
				if ((res = ctl_query(c, sql, 4, params)) == NULL) {
					json_decref(types);
					return GWCTL_EXIT_NOTHING;
				}
				n = 0;
				if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
					parse_int(PQgetvalue(res, 0, 0), 0, INT64_MAX,
					    &n);
				PQclear(res);
				total += n;
			} while (n >= atoi(PURGE_BATCH));
		}
	}
	json_decref(types);
	if (c->json) {
		doc = json_pack("{s:I}", "purged", (json_int_t)total);
		ctl_print_json(doc);
		json_decref(doc);
	} else
		printf("purged %lld job%s\n", total, total == 1 ? "" : "s");
	return GWCTL_EXIT_OK;
}

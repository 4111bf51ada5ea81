/*
 * db.c: the master's one database connection: heartbeats and progress of
 * the jobs its children hold, failures and re-queues of the jobs of children
 * that died, sweeps of orphaned jobs, cancellations, queue counts.
 *
 * NOTES
 *   The master must never hang on the database.  Every statement is sent
 *   asynchronously and waited for at most db_timeout (also set as the
 *   server's statement_timeout); past that the connection is dropped and
 *   re-made later, with back-off.  What the master owes the database (a
 *   crashed child's job to fail or re-queue, the start-up sweep) goes into a
 *   queue of pending writes, written in order as soon as the database
 *   answers, so that nothing is lost while it is away.  Every write is
 *   fenced on status 'running', node and attempts, so that a pending write
 *   replayed late never touches a job that has moved on.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "geoworkerd.h"

enum pending_kind { PENDING_SWEEP, PENDING_LOST };

struct pending {
	enum pending_kind	 kind;
	char			 type[GW_NAMELEN];
	long long		 job_id;
	int			 attempts;
	pid_t			 pid;
	int			 retry;
	int			 uncount;
	char			 message[512];
	TAILQ_ENTRY(pending)	 entry;
};
static TAILQ_HEAD(, pending) pendings = TAILQ_HEAD_INITIALIZER(pendings);
static int		 npending;

static PGconn		*conn;
static uint64_t		 retry_at_ms, retry_delay_ms = 1000;
static uint64_t		 next_heartbeat_ms, next_sweep_ms, last_progress_ms;
static int		 was_down;

int
db_up(void)
{
	return conn != NULL;
}

int
db_socket(void)
{
	return conn ? PQsocket(conn) : -1;
}

int
db_pending(void)
{
	return npending;
}

void
db_close(void)
{
	if (conn != NULL)
		PQfinish(conn);
	conn = NULL;
}

static void
db_lost(const char *what)
{
	log_warnx("database: %s: %s; retrying in %" PRIu64 " s", what,
	    conn ? PQerrorMessage(conn) : "no connection", retry_delay_ms / 1000);
	db_close();
	retry_at_ms = now_ms() + retry_delay_ms;
	if (retry_delay_ms < 30000)
		retry_delay_ms *= 2;
	was_down = 1;
}

/*
 * Runs one statement, waiting at most db_timeout.  Returns the result, or
 * NULL if the connection failed (it is then dropped) or the statement did.
 */
static PGresult *
query(const char *what, const char *sql, int n, const char *const *values)
{
	PGresult	*res, *last = NULL;
	struct pollfd	 pfd;
	uint64_t	 deadline;
	int		 left;

	if (conn == NULL)
		return NULL;
	if (!PQsendQueryParams(conn, sql, n, NULL, values, NULL, NULL, 0)) {
		db_lost(what);
		return NULL;
	}
	deadline = now_ms() + gw->conf->db_timeout;
	for (;;) {
		while (!PQisBusy(conn)) {
			if ((res = PQgetResult(conn)) == NULL)
				goto done;
			PQclear(last);
			last = res;
		}
		left = (int)(deadline - now_ms());
		if ((int64_t)(deadline - now_ms()) <= 0) {
			PQclear(last);
			db_lost("statement timed out");
			return NULL;
		}
		pfd.fd = PQsocket(conn);
		pfd.events = POLLIN;
		if (poll(&pfd, 1, left) == -1 && errno != EINTR) {
			PQclear(last);
			db_lost("poll failed");
			return NULL;
		}
		if (!PQconsumeInput(conn)) {
			PQclear(last);
			db_lost(what);
			return NULL;
		}
	}
done:
	if (last == NULL || (PQresultStatus(last) != PGRES_COMMAND_OK &&
	    PQresultStatus(last) != PGRES_TUPLES_OK)) {
		if (PQstatus(conn) != CONNECTION_OK) {
			PQclear(last);
			db_lost(what);
			return NULL;
		}
		log_warnx("database: %s failed: %s", what, last ?
		    PQresultErrorMessage(last) : PQerrorMessage(conn));
		PQclear(last);
		return NULL;
	}
	return last;
}

static void
db_connect(void)
{
	const char	*keys[] = { "dbname", "fallback_application_name",
	    "connect_timeout", "options", "keepalives_idle",
	    "keepalives_interval", "keepalives_count", NULL };
	const char	*vals[8];
	char		 timeout[24], options[64];
	PGresult	*res;
	struct gw_type	*t;

	snprintf(timeout, sizeof(timeout), "%" PRIu64,
	    (gw->conf->db_timeout + 999) / 1000);
	snprintf(options, sizeof(options), "-c statement_timeout=%" PRIu64,
	    gw->conf->db_timeout);
	vals[0] = gw->conf->conninfo;
	vals[1] = "geoworkerd master";
	vals[2] = timeout;
	vals[3] = options;
	vals[4] = "10";
	vals[5] = "5";
	vals[6] = "3";
	vals[7] = NULL;
	conn = PQconnectdbParams(keys, vals, 1);
	if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
		db_lost("cannot connect");
		return;
	}
	if ((res = query("LISTEN", "LISTEN geoworkerd_cancel", 0, NULL)) == NULL) {
		if (conn != NULL)
			db_lost("LISTEN failed");
		return;
	}
	PQclear(res);
	PQsetnonblocking(conn, 0);
	retry_delay_ms = 1000;
	if (was_down) {
		log_info("database: connected again; %d pending writes", npending);
		/* Children died while it was away: start them again now. */
		TAILQ_FOREACH(t, &gw->types, entry) {
			t->next_spawn_ms = 0;
			t->early_deaths = 0;
		}
	} else
		log_info("database: connected");
	was_down = 0;
}

void
db_init(void)
{
	db_close();
	retry_at_ms = 0;
	db_connect();
}

/* A JSON object {"type": value} of the types' max_attempts / retry_delay. */
static char *
type_map(int which)
{
	struct gw_type	*t;
	json_t		*o;
	char		*s;

	if ((o = json_object()) == NULL)
		fatalx("out of memory");
	TAILQ_FOREACH(t, &gw->types, entry)
		json_object_set_new(o, t->name, json_integer(which == 0 ?
		    t->conf.max_attempts : (json_int_t)t->conf.retry_delay));
	if ((s = json_dumps(o, JSON_COMPACT)) == NULL)
		fatalx("out of memory");
	json_decref(o);
	return s;
}

/*
 * The SET clause shared by every write that takes a job away from a worker
 * that is gone: back to 'queued' with run_after backed off while attempts
 * remain ($A: retryable, $B: JSON max_attempts per type, $C: JSON
 * retry_delay in ms per type), else 'failed'.
 */
#define LOST_SET(A, B, C, MSG) \
	" SET status = CASE WHEN " A " AND attempts < coalesce(max_attempts," \
	"   (" B "::jsonb ->> job_type)::int, 1) THEN 'queued' ELSE 'failed' END," \
	" run_after = CASE WHEN " A " AND attempts < coalesce(max_attempts," \
	"   (" B "::jsonb ->> job_type)::int, 1) THEN now() + coalesce((" C \
	"   ::jsonb ->> job_type)::bigint, 30000) * power(2, greatest(attempts - 1, 0))" \
	"   * interval '1 millisecond' ELSE run_after END," \
	" completed_at = CASE WHEN " A " AND attempts < coalesce(max_attempts," \
	"   (" B "::jsonb ->> job_type)::int, 1) THEN NULL ELSE now() END," \
	" error_message = " MSG ", heartbeat_at = NULL "

static int
write_lost(struct pending *p)
{
	static const char *lost =
	    "UPDATE background_jobs"
	    LOST_SET("$6::boolean", "$7", "$8", "$5")
	    " WHERE status = 'running' AND worker_host = $1 AND"
	    " (($2::bigint <> 0 AND id = $2::bigint AND attempts = $3::int) OR"
	    "  ($2::bigint = 0 AND worker_pid = $4::int))"
	    " RETURNING id, status";
	static const char *requeue =
	    "UPDATE background_jobs SET status = 'queued',"
	    " attempts = greatest(attempts - 1, 0), run_after = now(),"
	    " error_message = $5, heartbeat_at = NULL"
	    " WHERE status = 'running' AND worker_host = $1 AND"
	    " (($2::bigint <> 0 AND id = $2::bigint AND attempts = $3::int) OR"
	    "  ($2::bigint = 0 AND worker_pid = $4::int))"
	    " RETURNING id, status";
	const char	*v[8];
	char		 id[24], att[16], pid[16], *ma, *rd;
	PGresult	*res;
	int		 i;

	snprintf(id, sizeof(id), "%lld", p->job_id);
	snprintf(att, sizeof(att), "%d", p->attempts);
	snprintf(pid, sizeof(pid), "%d", (int)p->pid);
	ma = type_map(0);
	rd = type_map(1);
	v[0] = gw->conf->node_name;
	v[1] = id;
	v[2] = att;
	v[3] = pid;
	v[4] = p->message;
	v[5] = p->retry ? "true" : "false";
	v[6] = ma;
	v[7] = rd;
	res = query("recording a lost job", p->uncount ? requeue : lost,
	    p->uncount ? 5 : 8, v);
	free(ma);
	free(rd);
	if (res == NULL)
		return conn == NULL ? -1 : 0;	/* a failed statement is dropped */
	for (i = 0; i < PQntuples(res); i++)
		log_info("%s: job %s is now %s: %s", p->type,
		    PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), p->message);
	PQclear(res);
	return 0;
}

/*
 * A PostgreSQL array literal of the children's pids (JOB_IDS 0) or of the
 * jobs they hold (1): "{812,813}".  The caller frees it.
 */
static char *
children_array(int job_ids)
{
	struct child	*ch;
	char		*out, num[24];
	size_t		 len = 3;

	TAILQ_FOREACH(ch, &gw->children, entry)
		len += 22;
	out = xcalloc(1, len);
	strlcat(out, "{", len);
	TAILQ_FOREACH(ch, &gw->children, entry) {
		if (job_ids && ch->job_id == 0)
			continue;
		snprintf(num, sizeof(num), "%s%lld", out[1] ? "," : "",
		    job_ids ? ch->job_id : (long long)ch->pid);
		strlcat(out, num, len);
	}
	strlcat(out, "}", len);
	return out;
}

/* Jobs this node left running when a previous master died. */
static int
write_sweep(void)
{
	static const char *sql =
	    "UPDATE background_jobs"
	    LOST_SET("true", "$3", "$4",
	    "'worker lost: geoworkerd on ' || $1 || ' restarted while the job"
	    " ran (pid ' || coalesce(worker_pid::text, '?') || ')'")
	    " WHERE status = 'running' AND worker_host = $1"
	    " AND NOT (coalesce(worker_pid, 0) = ANY ($2::int[]))"
	    " RETURNING id, job_type, status";
	char		*pids, *ma, *rd;
	const char	*v[4];
	PGresult	*res;
	int		 i;

	pids = children_array(0);
	ma = type_map(0);
	rd = type_map(1);
	v[0] = gw->conf->node_name;
	v[1] = pids;
	v[2] = ma;
	v[3] = rd;
	res = query("start-up sweep", sql, 4, v);
	free(pids);
	free(ma);
	free(rd);
	if (res == NULL)
		return conn == NULL ? -1 : 0;
	for (i = 0; i < PQntuples(res); i++)
		log_warnx("%s: job %s left running by a previous master on this "
		    "node is now %s", PQgetvalue(res, i, 1), PQgetvalue(res, i, 0),
		    PQgetvalue(res, i, 2));
	PQclear(res);
	return 0;
}

static void
pending_add(struct pending *p)
{
	TAILQ_INSERT_TAIL(&pendings, p, entry);
	npending++;
}

void
db_startup_sweep(void)
{
	struct pending	*p = xcalloc(1, sizeof(*p));

	p->kind = PENDING_SWEEP;
	pending_add(p);
}

void
db_child_lost(const char *type, long long job_id, int attempts, pid_t pid,
    int retry, int uncount, const char *message)
{
	struct pending	*p = xcalloc(1, sizeof(*p));

	p->kind = PENDING_LOST;
	strlcpy(p->type, type, sizeof(p->type));
	p->job_id = job_id;
	p->attempts = attempts;
	p->pid = pid;
	p->retry = retry;
	p->uncount = uncount;
	strlcpy(p->message, message, sizeof(p->message));
	pending_add(p);
	db_flush(0);
}

/* Writes the pending writes in order while the database answers. */
void
db_flush(uint64_t deadline_ms)
{
	struct pending	*p;
	int		 r;

	while ((p = TAILQ_FIRST(&pendings)) != NULL) {
		if (conn == NULL) {
			if (deadline_ms == 0 || now_ms() >= deadline_ms)
				return;
			db_connect();
			if (conn == NULL)
				return;
		}
		r = p->kind == PENDING_SWEEP ? write_sweep() : write_lost(p);
		if (r == -1)
			return;		/* connection lost: keep it for later */
		TAILQ_REMOVE(&pendings, p, entry);
		npending--;
		free(p);
	}
}

/*
 * A held job the heartbeat did not find: it was cancelled or taken away, or
 * the child has just recorded it (the heartbeat waited for its commit).
 * Returns 1 only in the first case, after logging it.
 */
static int
taken_away(struct child *ch)
{
	const char	*v[3];
	char		 id[24], att[16];
	PGresult	*res;
	int		 gone;

	snprintf(id, sizeof(id), "%lld", ch->job_id);
	snprintf(att, sizeof(att), "%d", ch->attempts);
	v[0] = id;
	v[1] = att;
	v[2] = gw->conf->node_name;
	res = query("checking a job", "SELECT status FROM background_jobs"
	    " WHERE id = $1 AND NOT (status IN ('completed', 'failed') AND"
	    " attempts = $2::int AND worker_host = $3)", 3, v);
	if (res == NULL)
		return 0;
	gone = PQntuples(res) > 0;
	if (gone)
		log_warnx("%s: job %lld is %s, no longer running for this "
		    "node; killing child %d", ch->type->name, ch->job_id,
		    PQgetvalue(res, 0, 0), (int)ch->pid);
	PQclear(res);
	return gone;
}

/*
 * Refreshes heartbeat_at and progress of every job a child holds.  A held job
 * that is no longer 'running' for us was cancelled or taken away: its child
 * is killed.
 */
void
db_heartbeat(void)
{
	static const char *sql =
	    "UPDATE background_jobs b SET heartbeat_at = now(),"
	    " progress = coalesce(p.progress, b.progress),"
	    " progress_message = coalesce(p.msg, b.progress_message)"
	    " FROM jsonb_to_recordset($2::jsonb)"
	    "  AS p(id bigint, attempts int, progress real, msg text)"
	    " WHERE b.id = p.id AND b.attempts = p.attempts"
	    " AND b.status = 'running' AND b.worker_host = $1"
	    " RETURNING b.id";
	struct child	*ch;
	json_t		*rows, *row;
	char		*s;
	const char	*v[2];
	PGresult	*res;
	int		 i, found;

	if ((rows = json_array()) == NULL)
		fatalx("out of memory");
	TAILQ_FOREACH(ch, &gw->children, entry) {
		if (ch->state != CHILD_BUSY || ch->job_id == 0)
			continue;
		row = json_pack("{s:I, s:i}", "id", (json_int_t)ch->job_id,
		    "attempts", ch->attempts);
		if (row == NULL)
			fatalx("out of memory");
		if (ch->progress_dirty) {
			json_object_set_new(row, "progress",
			    json_real(ch->progress));
			if (ch->progress_msg[0] != '\0')
				json_object_set_new(row, "msg",
				    json_string(ch->progress_msg));
		}
		json_array_append_new(rows, row);
	}
	if (json_array_size(rows) == 0) {
		json_decref(rows);
		return;
	}
	s = json_dumps(rows, JSON_COMPACT);
	json_decref(rows);
	if (s == NULL)
		fatalx("out of memory");
	v[0] = gw->conf->node_name;
	v[1] = s;
	res = query("heartbeat", sql, 2, v);
	free(s);
	if (res == NULL)
		return;
	TAILQ_FOREACH(ch, &gw->children, entry) {
		if (ch->state != CHILD_BUSY || ch->job_id == 0)
			continue;
		ch->progress_dirty = 0;
		found = 0;
		for (i = 0; i < PQntuples(res); i++)
			if (strtoll(PQgetvalue(res, i, 0), NULL, 10) == ch->job_id)
				found = 1;
		if (!found && ch->killed == KILL_NONE && !ch->done &&
		    taken_away(ch))
			child_kill(ch, KILL_CANCEL);
	}
	PQclear(res);
}

/* Jobs of any node whose heartbeat stopped: their node died. */
static void
orphan_sweep(void)
{
	static const char *sql =
	    "UPDATE background_jobs"
	    LOST_SET("true", "$3", "$4",
	    "'worker lost: no heartbeat from ' || coalesce(worker_host, '?')"
	    " || ' (pid ' || coalesce(worker_pid::text, '?') || ') for ' ||"
	    " $2 || ' ms (orphan_timeout)'")
	    " WHERE status = 'running'"
	    " AND coalesce(heartbeat_at, started_at, created_at) <"
	    "  now() - $2 * interval '1 millisecond'"
	    " AND NOT (worker_host = $1 AND id = ANY ($5::bigint[]))"
	    " RETURNING id, job_type, status, worker_host";
	char		 timeout[24], *ma, *rd, *ids;
	const char	*v[5];
	PGresult	*res;
	int		 i;

	ids = children_array(1);
	snprintf(timeout, sizeof(timeout), "%" PRIu64, gw->conf->orphan_timeout);
	ma = type_map(0);
	rd = type_map(1);
	v[0] = gw->conf->node_name;
	v[1] = timeout;
	v[2] = ma;
	v[3] = rd;
	v[4] = ids;
	res = query("orphan sweep", sql, 5, v);
	free(ma);
	free(rd);
	free(ids);
	if (res == NULL)
		return;
	for (i = 0; i < PQntuples(res); i++)
		log_warnx("%s: job %s of node %s had no heartbeat for %s ms; "
		    "now %s", PQgetvalue(res, i, 1), PQgetvalue(res, i, 0),
		    PQgetvalue(res, i, 3), timeout, PQgetvalue(res, i, 2));
	PQclear(res);
}

/* Reads cancel notifications. */
void
db_read(void)
{
	PGnotify	*n;
	struct child	*ch;

	if (conn == NULL)
		return;
	if (!PQconsumeInput(conn)) {
		db_lost("reading notifications");
		return;
	}
	while ((n = PQnotifies(conn)) != NULL) {
		if (strcmp(n->relname, "geoworkerd_cancel") == 0 &&
		    (ch = child_by_job(strtoll(n->extra, NULL, 10))) != NULL &&
		    ch->killed == KILL_NONE) {
			log_info("%s: job %lld cancelled; killing child %d",
			    ch->type->name, ch->job_id, (int)ch->pid);
			child_kill(ch, KILL_CANCEL);
		}
		PQfreemem(n);
	}
}

long
db_queued(const char *type)
{
	const char	*v[1] = { type };
	PGresult	*res;
	long		 n;

	res = query("counting queued jobs", "SELECT count(*) FROM background_jobs"
	    " WHERE status = 'queued' AND job_type = $1", 1, v);
	if (res == NULL)
		return -1;
	n = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return n;
}

/* The timers: reconnect, pending writes, heartbeats, progress, sweeps. */
void
db_poll(uint64_t now, uint64_t *next)
{
	struct child	*ch;
	uint64_t	 hb = gw->conf->heartbeat_interval;
	int		 dirty = 0;

	if (conn == NULL) {
		if (now >= retry_at_ms)
			db_connect();
		if (conn == NULL) {
			if (retry_at_ms < *next)
				*next = retry_at_ms;
			return;
		}
	}
	db_flush(0);
	TAILQ_FOREACH(ch, &gw->children, entry)
		if (ch->progress_dirty)
			dirty = 1;
	if (now >= next_heartbeat_ms || (dirty && now - last_progress_ms >= 1000)) {
		db_heartbeat();
		next_heartbeat_ms = now + hb;
		last_progress_ms = now;
	}
	if (conn != NULL && gw->conf->orphan_timeout > 0 && now >= next_sweep_ms) {
		orphan_sweep();
		next_sweep_ms = now + (gw->conf->orphan_timeout / 4 > hb ?
		    gw->conf->orphan_timeout / 4 : hb);
	}
	if (next_heartbeat_ms < *next)
		*next = next_heartbeat_ms;
	if (dirty && last_progress_ms + 1000 < *next)
		*next = last_progress_ms + 1000;
	if (gw->conf->orphan_timeout > 0 && next_sweep_ms < *next)
		*next = next_sweep_ms;
	if (npending > 0 && now + 1000 < *next)
		*next = now + 1000;
}

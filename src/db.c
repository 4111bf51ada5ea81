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

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <inttypes.h>
#include <signal.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "geoworkerd.h"

enum pending_kind { PENDING_SWEEP, PENDING_LOST, PENDING_STAGING };

struct pending {
	enum pending_kind	 kind;
	char			 type[GW_NAMELEN];
	long long		 job_id;
	int			 attempts;
	pid_t			 pid;
	int			 retry;
	int			 uncount;
	int			 dblost;
	int			 outage;
	int			 seen;		/* connection losses seen */
	char			 message[512];
	TAILQ_ENTRY(pending)	 entry;
};
static TAILQ_HEAD(, pending) pendings = TAILQ_HEAD_INITIALIZER(pendings);
static int		 npending;

static void
pending_add(struct pending *p)
{
	TAILQ_INSERT_TAIL(&pendings, p, entry);
	npending++;
}

static PGconn		*conn;
static uint64_t		 retry_at_ms, retry_delay_ms = 1000;
static uint64_t		 next_heartbeat_ms, next_sweep_ms, last_progress_ms;
static uint64_t		 next_staging_ms, lost_at_ms, next_retention_ms;
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
	lost_at_ms = now_ms();
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

/* The server's NOTICEs (retention keeping an output, say) go to the log. */
static void
on_notice(void *arg, const char *message)
{
	size_t	 n = strlen(message);

	while (n > 0 && message[n - 1] == '\n')
		n--;
	log_info("database: %.*s", (int)n, message);
}

static void
db_connect(void)
{
	const char	*keys[] = { "gssencmode", "dbname",
	    "fallback_application_name", "connect_timeout", "options",
	    "keepalives_idle", "keepalives_interval", "keepalives_count",
	    "tcp_user_timeout", NULL };
	const char	*vals[10];
	char		 timeout[24], options[64];
	PGresult	*res;
	struct gw_type	*t;

	snprintf(timeout, sizeof(timeout), "%" PRIu64,
	    (gw->conf->db_timeout + 999) / 1000);
	snprintf(options, sizeof(options), "-c statement_timeout=%" PRIu64,
	    gw->conf->db_timeout);
	vals[0] = "disable";	/* before dbname: the conninfo may say otherwise */
	vals[1] = gw->conf->conninfo;
	vals[2] = "geoworkerd master";
	vals[3] = timeout;
	vals[4] = options;
	vals[5] = "10";
	vals[6] = "5";
	vals[7] = "3";
	vals[8] = "30000";
	vals[9] = NULL;
	conn = PQconnectdbParams(keys, vals, 1);
	if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
		db_lost("cannot connect");
		return;
	}
	if ((res = query("LISTEN", "LISTEN geoworkerd_cancel", 0, NULL)) == NULL ||
	    (PQclear(res), res = query("LISTEN", "LISTEN geoworkerd_done", 0,
	    NULL)) == NULL) {
		if (conn != NULL)
			db_lost("LISTEN failed");
		return;
	}
	PQclear(res);
	PQsetNoticeProcessor(conn, on_notice, NULL);
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

/*
 * A JSON object of the types' retry settings, for the statements below:
 * {"type": {"max_attempts": n, "retry_delay": ms, "max_retry_delay": ms}}.
 * A type this node does not run falls back to the defaults in the SQL.
 */
static char *
type_map(void)
{
	struct gw_type	*t;
	json_t		*o, *e;
	char		*s;

	if ((o = json_object()) == NULL)
		fatalx("out of memory");
	TAILQ_FOREACH(t, &gw->types, entry) {
		e = json_pack("{s:i, s:I, s:I}", "max_attempts",
		    t->conf.max_attempts, "retry_delay",
		    (json_int_t)t->conf.retry_delay, "max_retry_delay",
		    (json_int_t)t->conf.max_retry_delay);
		if (e == NULL || json_object_set_new(o, t->name, e) == -1)
			fatalx("out of memory");
	}
	if ((s = json_dumps(o, JSON_COMPACT)) == NULL)
		fatalx("out of memory");
	json_decref(o);
	return s;
}

/*
 * The SET clause shared by every write that takes a job away from a worker
 * that is gone.  T: the type map above.  R: may it be retried.  F: does this
 * run not count against max_attempts (shutdown; a database outage, at most
 * GW_MAX_FREE_LOSSES times a job).  L: did the run lose its database
 * connection.  CL: the connection losses so far.  MSG: the error message.
 *
 * attempts never goes down, so that (id, attempts) names one run for ever;
 * the runs that do not count are counted in free_attempts, and the attempts
 * that count are attempts - free_attempts.  Back-off: retry_delay doubled
 * per counted attempt, capped at max_retry_delay (computed in float8 and
 * capped before it becomes an interval, so no row can overflow); a free run
 * goes back at once, except a repeated connection loss, which backs off too.
 * Right-hand sides read the row as it was before the UPDATE.
 */
#define TYPEVAL(T, K, DEF) \
	"coalesce((" T "::jsonb -> job_type ->> '" K "')::float8, " DEF ")"
#define BACKOFF(T, N) \
	"least(" TYPEVAL(T, "retry_delay", "30000") " * power(2, least(" \
	"greatest(" N " - 1, 0), 40)), " TYPEVAL(T, "max_retry_delay", \
	"3600000") ") * interval '1 millisecond'"
#define FREE(F) "CASE WHEN " F " THEN 1 ELSE 0 END"
#define REQUEUE(T, R, F) \
	"((" R ") AND attempts - free_attempts - " FREE(F) " < coalesce(" \
	"max_attempts, " TYPEVAL(T, "max_attempts", "1") "::int, 1))"
#define LOST_SET(T, R, F, L, CL, MSG) \
	" SET status = CASE WHEN " REQUEUE(T, R, F) " THEN 'queued'" \
	"   ELSE 'failed' END," \
	" run_after = CASE WHEN NOT " REQUEUE(T, R, F) " THEN run_after" \
	"   WHEN " F " AND NOT (" L " AND " CL " > 0) THEN now()" \
	"   WHEN " F " THEN now() + " BACKOFF(T, CL) \
	"   ELSE now() + " BACKOFF(T, "(attempts - free_attempts)") " END," \
	" completed_at = CASE WHEN " REQUEUE(T, R, F) " THEN NULL" \
	"   ELSE clock_timestamp() END," \
	" free_attempts = free_attempts + " FREE(F) "," \
	" connection_losses = " CL " + CASE WHEN " L " THEN 1 ELSE 0 END," \
	" error_message = CASE WHEN " L " THEN " MSG " || ' (' ||" \
	"   (" CL " + 1) || CASE WHEN " CL " = 0" \
	"   THEN ' time)' ELSE ' times)' END ELSE " MSG " END," \
	" heartbeat_at = NULL "

/*
 * The job of a child that died.  Fenced on node, pid and, when the master
 * knew the job, its id and attempt: a write replayed late never touches a
 * later run.
 */
/*
 * The connection losses this master saw per job.  A job that crashes the
 * server right after its claim can lose the claim itself (it commits
 * asynchronously) and with it the count in the row: this memory is the
 * floor of connection_losses, so such a job cannot run for ever either.
 */
#define NSEEN	256
static struct { long long id; int n; } seen_losses[NSEEN];
static int next_seen;

static int
note_loss(long long id)
{
	int	 i;

	for (i = 0; i < NSEEN; i++)
		if (seen_losses[i].id == id)
			return ++seen_losses[i].n;
	seen_losses[next_seen].id = id;
	seen_losses[next_seen].n = 1;
	next_seen = (next_seen + 1) % NSEEN;
	return 1;
}

#define SEEN	"greatest(connection_losses, $11::int - 1)"

static int
write_lost(struct pending *p)
{
	/* The claim itself was lost: the row is queued again as it was. */
	static const char *unclaimed =
	    "UPDATE background_jobs SET"
	    " connection_losses = greatest(connection_losses, $3::int),"
	    " status = CASE WHEN $3::int - " GW_STR(GW_MAX_FREE_LOSSES)
	    "  >= coalesce(max_attempts, (($2::jsonb -> job_type ->>"
	    "  'max_attempts')::int), 1) THEN 'failed' ELSE status END,"
	    " completed_at = CASE WHEN $3::int - " GW_STR(GW_MAX_FREE_LOSSES)
	    "  >= coalesce(max_attempts, (($2::jsonb -> job_type ->>"
	    "  'max_attempts')::int), 1) THEN clock_timestamp() END,"
	    " error_message = $4 || ' (' || $3 || ' times)',"
	    " run_after = greatest(run_after, now() + " BACKOFF("$2", "$3::int")
	    ")"
	    " WHERE id = $1 AND status = 'queued' AND $3::int > 1"
	    " RETURNING id, status, error_message";
	static const char *sql =
	    "UPDATE background_jobs"
	    LOST_SET("$5", "$6::boolean", "($7::boolean OR ($8::boolean AND"
	    " $9::boolean AND " SEEN " < " GW_STR(GW_MAX_FREE_LOSSES) "))",
	    "$8::boolean", SEEN, "$10")
	    " WHERE status = 'running' AND worker_host = $1 AND"
	    " worker_pid = $4::int AND"
	    " ($2::bigint = 0 OR (id = $2::bigint AND attempts = $3::int))"
	    " RETURNING id, status, error_message";
	const char	*v[11];
	char		 id[24], att[16], pid[16], nseen[16], *tm;
	PGresult	*res;
	int		 i, n;

	snprintf(nseen, sizeof(nseen), "%d", p->seen);
	snprintf(id, sizeof(id), "%lld", p->job_id);
	snprintf(att, sizeof(att), "%d", p->attempts);
	snprintf(pid, sizeof(pid), "%d", (int)p->pid);
	tm = type_map();
	v[0] = gw->conf->node_name;
	v[1] = id;
	v[2] = att;
	v[3] = pid;
	v[4] = tm;
	v[5] = p->retry ? "true" : "false";
	v[6] = p->uncount ? "true" : "false";
	v[7] = p->dblost ? "true" : "false";
	v[8] = p->outage ? "true" : "false";
	v[9] = p->message;
	v[10] = nseen;
	res = query("recording a lost job", sql, 11, v);
	if (res != NULL && PQntuples(res) == 0 && p->dblost && p->job_id != 0) {
		PQclear(res);
		v[0] = id;
		v[1] = tm;
		v[2] = nseen;
		v[3] = p->message;
		res = query("recording a lost job", unclaimed, 4, v);
	}
	free(tm);
	if (res == NULL)
		return conn == NULL ? -1 : 0;	/* a failed statement is dropped */
	n = PQntuples(res);
	for (i = 0; i < n; i++)
		log_info("%s: job %s is now %s: %s", p->type,
		    PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
		    PQgetvalue(res, i, 2));
	if (n == 0)
		log_debug("%s: the lost run of job %lld (pid %d) was no longer "
		    "in the database", p->type, p->job_id, (int)p->pid);
	PQclear(res);
	return 0;
}

/*
 * A PostgreSQL array literal of integers, "{812,813}", built for a bound
 * parameter: int_array(n) makes room for n, int_array_add appends one.  The
 * caller frees a.
 */
struct int_array {
	char	*a;
	size_t	 len;
};

static struct int_array
int_array(size_t n)
{
	struct int_array ia;

	ia.len = 3 + n * 22;
	ia.a = xcalloc(1, ia.len);
	strlcat(ia.a, "{}", ia.len);
	return ia;
}

static void
int_array_add(struct int_array *ia, long long v)
{
	size_t	 end = strlen(ia->a) - 1;	/* the closing brace */

	snprintf(ia->a + end, ia->len - end, "%s%lld}", end > 1 ? "," : "", v);
}

/* The children's pids (job_ids 0) or the jobs they hold (1). */
static char *
children_array(int job_ids)
{
	struct child	*ch;
	struct int_array ia;
	size_t		 n = 0;

	TAILQ_FOREACH(ch, &gw->children, entry)
		n++;
	ia = int_array(n);
	TAILQ_FOREACH(ch, &gw->children, entry)
		if (!job_ids || ch->job_id != 0)
			int_array_add(&ia, job_ids ? ch->job_id :
			    (long long)ch->pid);
	return ia.a;
}

/*
 * Is pid a live process at least job_age seconds old (the job's age by the
 * database clock, now() - started_at)?  A job run by hand (PROGRAM -j ID)
 * on this node is such a process; a pid reused after the job's process died
 * is younger.  Ages, not dates: the process's age is the system's uptime
 * less its start (both since boot), so a wall clock stepped since boot does
 * not matter.  One second of slack for the rounding of both.
 */
static int
process_older_than(pid_t pid, double job_age)
{
	char		 path[64], buf[1024], *p, state;
	unsigned long long start;
	double		 uptime;
	FILE		*fp;
	int		 i;

	if (pid <= 0 || kill(pid, 0) == -1)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return 0;
	p = fgets(buf, sizeof(buf), fp);
	fclose(fp);
	if (p == NULL || (p = strrchr(buf, ')')) == NULL)
		return 0;
	if (sscanf(p + 2, "%c", &state) != 1 || state == 'Z' || state == 'X')
		return 0;
	/* Field 22 is the start time in clock ticks since boot; p + 2 is
	 * field 3. */
	for (i = 3, p += 2; i < 22 && p != NULL; i++)
		if ((p = strchr(p, ' ')) != NULL)
			p++;
	if (p == NULL || sscanf(p, "%llu", &start) != 1 ||
	    (fp = fopen("/proc/uptime", "r")) == NULL)
		return 1;
	i = fscanf(fp, "%lf", &uptime);
	fclose(fp);
	if (i != 1)
		return 1;
	return uptime - (double)start / sysconf(_SC_CLK_TCK) + 1 >= job_age;
}

/*
 * Jobs this node left running when a previous master died.  The children of
 * that master died with it (PR_SET_PDEATHSIG); a job whose process still
 * lives was run by hand and keeps its own heartbeat, so it is left to the
 * orphan sweep.
 */
static int
write_sweep(void)
{
	static const char *find =
	    "SELECT id, attempts, coalesce(worker_pid, 0),"
	    " extract(epoch FROM now() - coalesce(started_at, created_at))"
	    " FROM background_jobs"
	    " WHERE status = 'running' AND worker_host = $1"
	    " AND NOT (coalesce(worker_pid, 0) = ANY ($2::int[]))";
	static const char *sql =
	    "UPDATE background_jobs"
	    LOST_SET("$3", "true", "false", "false", "connection_losses",
	    "'worker lost: geoworkerd on ' || $1 || ' restarted while the job"
	    " ran (pid ' || coalesce(worker_pid::text, '?') || ')'")
	    " WHERE status = 'running' AND worker_host = $1"
	    " AND (id, attempts) IN (SELECT * FROM unnest($2::bigint[],"
	    "  $4::int[]))"
	    " RETURNING id, job_type, status";
	char		*pids, *tm;
	struct int_array ids, atts;
	const char	*v[4];
	PGresult	*res;
	int		 i, n = 0;

	pids = children_array(0);
	v[0] = gw->conf->node_name;
	v[1] = pids;
	res = query("start-up sweep", find, 2, v);
	free(pids);
	if (res == NULL)
		return conn == NULL ? -1 : 0;
	ids = int_array(PQntuples(res));
	atts = int_array(PQntuples(res));
	for (i = 0; i < PQntuples(res); i++) {
		if (process_older_than(atoi(PQgetvalue(res, i, 2)),
		    strtod(PQgetvalue(res, i, 3), NULL))) {
			log_info("job %s: its process %s still runs (by hand?); "
			    "left to it", PQgetvalue(res, i, 0),
			    PQgetvalue(res, i, 2));
			continue;
		}
		int_array_add(&ids, strtoll(PQgetvalue(res, i, 0), NULL, 10));
		int_array_add(&atts, strtoll(PQgetvalue(res, i, 1), NULL, 10));
		n++;
	}
	PQclear(res);
	if (n == 0) {
		free(ids.a);
		free(atts.a);
		return 0;
	}
	tm = type_map();
	v[1] = ids.a;
	v[2] = tm;
	v[3] = atts.a;
	res = query("start-up sweep", sql, 4, v);
	free(ids.a);
	free(atts.a);
	free(tm);
	if (res == NULL)
		return conn == NULL ? -1 : 0;
	for (i = 0; i < PQntuples(res); i++)
		log_warnx("%s: job %s left running by a previous master on this "
		    "node is now %s", PQgetvalue(res, i, 1), PQgetvalue(res, i, 0),
		    PQgetvalue(res, i, 2));
	PQclear(res);
	return 0;
}

/*
 * Staged files of a run (see outputs.c): published if the run completed the
 * job, left alone while the row still says the run is going on, else
 * removed.  n pairs of (id, attempt).
 */
static int
resolve_staging(const long long *ids, const int *atts, int n)
{
	static const char *sql =
	    "SELECT s.id, s.att, CASE WHEN b.status = 'completed' AND"
	    " b.attempts = s.att THEN 'publish' WHEN b.status = 'running' AND"
	    " b.attempts = s.att THEN 'keep' ELSE 'remove' END"
	    " FROM unnest($1::bigint[], $2::int[]) AS s(id, att)"
	    " LEFT JOIN background_jobs b ON b.id = s.id";
	const char	*root = gw->conf->output_root;
	struct int_array idv, attv;
	char		 dir[4096];
	const char	*v[2];
	PGresult	*res;
	long long	 id;
	int		 i, att;

	if (root == NULL || n == 0)
		return 0;
	idv = int_array(n);
	attv = int_array(n);
	for (i = 0; i < n; i++) {
		int_array_add(&idv, ids[i]);
		int_array_add(&attv, atts[i]);
	}
	v[0] = idv.a;
	v[1] = attv.a;
	res = query("checking staged outputs", sql, 2, v);
	free(idv.a);
	free(attv.a);
	if (res == NULL)
		return conn == NULL ? -1 : 0;
	for (i = 0; i < PQntuples(res); i++) {
		id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
		att = atoi(PQgetvalue(res, i, 1));
		if (staging_dir(root, id, att, dir, sizeof(dir)) == -1)
			continue;
		switch (PQgetvalue(res, i, 2)[0]) {
		case 'p':
			if (staging_publish(root, id, att) == -1)
				log_warn("job %lld: publishing %s failed", id, dir);
			else
				log_info("job %lld: published the outputs its "
				    "process staged before it died", id);
			break;
		case 'r':
			if (access(dir, F_OK) == -1)
				break;
			if (remove_tree(dir) == -1)
				log_warn("job %lld: removing %s failed", id, dir);
			else
				log_info("job %lld: removed the staged outputs "
				    "of attempt %d", id, att);
			break;
		}
	}
	PQclear(res);
	return 0;
}

static int
write_staging(struct pending *p)
{
	char	 dir[4096];

	if (gw->conf->output_root == NULL ||
	    staging_dir(gw->conf->output_root, p->job_id, p->attempts, dir,
	    sizeof(dir)) == -1 || access(dir, F_OK) == -1)
		return 0;
	return resolve_staging(&p->job_id, &p->attempts, 1);
}

/* Every staging directory under output_root: what dead processes left. */
void
db_staging_sweep(void)
{
	char		 top[4096];
	DIR		*d;
	struct dirent	*e;
	long long	*ids = NULL, id;
	int		*atts = NULL, n = 0, cap = 0, att;

	if (gw->conf->output_root == NULL || conn == NULL)
		return;
	snprintf(top, sizeof(top), "%s/" GW_STAGING, gw->conf->output_root);
	if ((d = opendir(top)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (staging_parse(e->d_name, &id, &att) == -1)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			ids = reallocarray(ids, cap, sizeof(*ids));
			atts = reallocarray(atts, cap, sizeof(*atts));
			if (ids == NULL || atts == NULL)
				fatalx("out of memory");
		}
		ids[n] = id;
		atts[n++] = att;
		if (n == 1000)
			break;		/* the rest on the next sweep */
	}
	closedir(d);
	resolve_staging(ids, atts, n);
	free(ids);
	free(atts);
}

void
db_staging_check(long long job_id, int attempts)
{
	struct pending	*p;

	if (gw->conf->output_root == NULL)
		return;
	p = xcalloc(1, sizeof(*p));
	p->kind = PENDING_STAGING;
	p->job_id = job_id;
	p->attempts = attempts;
	pending_add(p);
	db_flush(0);
}

/*
 * Was the database away for everyone since since_ms (the start of a job whose
 * child lost its connection)?  Yes if the master's own connection went down
 * since then, or is down, or fails a probe now.
 */
int
db_outage_since(uint64_t since_ms)
{
	PGresult	*res;

	if (conn == NULL || (lost_at_ms != 0 && lost_at_ms >= since_ms))
		return 1;
	if ((res = query("probing the database", "SELECT 1", 0, NULL)) == NULL)
		return 1;
	PQclear(res);
	return 0;
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
    int retry, int uncount, int dblost, int outage, const char *message)
{
	struct pending	*p = xcalloc(1, sizeof(*p));

	p->kind = PENDING_LOST;
	strlcpy(p->type, type, sizeof(p->type));
	p->job_id = job_id;
	p->attempts = attempts;
	p->pid = pid;
	p->retry = retry;
	p->uncount = uncount;
	p->dblost = dblost;
	p->outage = outage;
	p->seen = dblost && job_id != 0 ? note_loss(job_id) : 0;
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
		switch (p->kind) {
		case PENDING_SWEEP:
			r = write_sweep();
			break;
		case PENDING_LOST:
			r = write_lost(p);
			break;
		case PENDING_STAGING:
			r = write_staging(p);
			break;
		default:
			fatalx("unknown pending write %d", p->kind);
		}
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
	const char	*v[4];
	char		 id[24], att[16], pid[16];
	PGresult	*res;
	int		 gone;

	snprintf(id, sizeof(id), "%lld", ch->job_id);
	snprintf(att, sizeof(att), "%d", ch->attempts);
	snprintf(pid, sizeof(pid), "%d", (int)ch->pid);
	v[0] = id;
	v[1] = att;
	v[2] = gw->conf->node_name;
	v[3] = pid;
	/* Still this run's: running, or just recorded by the child itself
	 * (the master's own writes clear heartbeat_at).  A deleted row
	 * (dismissed) is gone too. */
	res = query("checking a job", "SELECT 1 FROM background_jobs"
	    " WHERE id = $1 AND attempts = $2::int AND worker_host = $3"
	    " AND worker_pid = $4::int AND (status IN ('running', 'completed')"
	    " OR (status = 'failed' AND heartbeat_at IS NOT NULL))", 4, v);
	if (res == NULL)
		return 0;
	gone = PQntuples(res) == 0;
	if (gone)
		log_warnx("%s: job %lld is no longer running for this node "
		    "(cancelled, dismissed or taken away); killing child %d",
		    ch->type->name, ch->job_id, (int)ch->pid);
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
	    "  AS p(id bigint, attempts int, pid int, progress real, msg text)"
	    " WHERE b.id = p.id AND b.attempts = p.attempts"
	    " AND b.worker_pid = p.pid"
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
		row = json_pack("{s:I, s:i, s:i}", "id", (json_int_t)ch->job_id,
		    "attempts", ch->attempts, "pid", (int)ch->pid);
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
	    LOST_SET("$3", "true", "false", "false", "connection_losses",
	    "'worker lost: no heartbeat from ' || coalesce(worker_host, '?')"
	    " || ' (pid ' || coalesce(worker_pid::text, '?') || ') for ' ||"
	    " $2 || ' ms (orphan_timeout)'")
	    " WHERE status = 'running'"
	    " AND coalesce(heartbeat_at, started_at, created_at) <"
	    "  now() - $2 * interval '1 millisecond'"
	    " AND NOT (worker_host = $1 AND id = ANY ($4::bigint[]))"
	    " RETURNING id, job_type, status, worker_host";
	char		 timeout[24], *tm, *ids;
	const char	*v[4];
	PGresult	*res;
	int		 i;

	ids = children_array(1);
	snprintf(timeout, sizeof(timeout), "%" PRIu64, gw->conf->orphan_timeout);
	tm = type_map();
	v[0] = gw->conf->node_name;
	v[1] = timeout;
	v[2] = tm;
	v[3] = ids;
	res = query("orphan sweep", sql, 4, v);
	free(tm);
	free(ids);
	if (res == NULL)
		return;
	for (i = 0; i < PQntuples(res); i++)
		log_warnx("%s: job %s of node %s had no heartbeat for %s ms; "
		    "now %s", PQgetvalue(res, i, 1), PQgetvalue(res, i, 0),
		    PQgetvalue(res, i, 3), timeout, PQgetvalue(res, i, 2));
	PQclear(res);
}

/* The job id in a geoworkerd_done payload ({"id": 42, ...}); 0 if none. */
static long long
done_id(const char *payload)
{
	json_t		*o, *id;
	long long	 v = 0;

	if ((o = json_loads(payload, 0, NULL)) == NULL)
		return 0;
	if ((id = json_object_get(o, "id")) != NULL && json_is_integer(id))
		v = json_integer_value(id);
	json_decref(o);
	return v;
}

/* Reads cancel and done notifications. */
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
		} else if (strcmp(n->relname, "geoworkerd_done") == 0 &&
		    (ch = child_by_job(done_id(n->extra))) != NULL &&
		    ch->killed == KILL_NONE && !ch->done && taken_away(ch)) {
			/* Ended by someone else (a sweep, by hand): the child
			 * is killed at once, not at the next heartbeat. */
			child_kill(ch, KILL_CANCEL);
		}
		PQfreemem(n);
	}
}

static void	empty_trash(void);

/*
 * Retention: finished jobs older than their type's keep_completed,
 * keep_failed or keep_cancelled are deleted with their outputs by
 * geoworkerd_expire() (sql/geoworkerd.sql: in batches, never a queued or
 * running job, one node at a time per type and status by an advisory lock).
 * Files cannot be removed by SQL: the function lists them in
 * geoworkerd_trash, and this node removes those inside its output_root.
 * Returns the period until the next run (ms).
 */
static uint64_t
retention(void)
{
	static const char *states[] = { "completed", "failed", "cancelled" };
	struct gw_type	*t;
	const char	*v[3];
	char		 ms[64];
	uint64_t	 keep, period = 60000;
	PGresult	*res;
	int		 i, round, n;

	TAILQ_FOREACH(t, &gw->types, entry) {
		for (i = 0; i < 3; i++) {
			keep = i == 0 ? t->conf.keep_completed : i == 1 ?
			    t->conf.keep_failed : t->conf.keep_cancelled;
			if (keep == GW_UNLIMITED)
				continue;
			if (keep / 2 < period)
				period = keep / 2 < 1000 ? 1000 : keep / 2;
			snprintf(ms, sizeof(ms), "%llu milliseconds",
			    (unsigned long long)keep);
			v[0] = t->name;
			v[1] = states[i];
			v[2] = ms;
			for (round = 0; round < 10 && conn != NULL; round++) {
				res = query("retention", "SELECT geoworkerd_expire("
				    "$1, $2, $3::interval, 100)", 3, v);
				if (res == NULL)
					return period;
				n = atoi(PQgetvalue(res, 0, 0));
				PQclear(res);
				if (n > 0)
					log_info("%s: retention removed %d %s jobs "
					    "older than %s and their outputs",
					    t->name, n, states[i], ms);
				if (n < 100)
					break;
			}
		}
	}
	empty_trash();
	return period;
}

/* Removes the files geoworkerd_trash lists inside this node's output_root. */
static void
empty_trash(void)
{
	const char	*root = gw->conf->output_root;
	const char	*v[2];
	char		 prefix[4096], dir[4096], real[PATH_MAX];
	PGresult	*res, *del;
	long long	 job;
	int		 i;

	if (root == NULL || conn == NULL)
		return;
	snprintf(prefix, sizeof(prefix), "%s/", root);
	v[0] = prefix;
	res = query("reading geoworkerd_trash", "SELECT id, job_id, path FROM"
	    " geoworkerd_trash WHERE starts_with(path, $1) ORDER BY id"
	    " LIMIT 500", 1, v);
	if (res == NULL)
		return;
	for (i = 0; i < PQntuples(res); i++) {
		job = strtoll(PQgetvalue(res, i, 1), NULL, 10);
		/* Only the job's own directory, output_root/<job id>, and
		 * only if it really is there (no link leads out of it). */
		if (published_dir(root, job, dir, sizeof(dir)) == 0 &&
		    realpath(dir, real) != NULL && strcmp(real, dir) == 0) {
			if (remove_tree(dir) == -1)
				log_warn("job %lld: removing %s failed", job, dir);
			else
				log_info("job %lld: removed %s", job, dir);
		}
		v[0] = PQgetvalue(res, i, 0);
		if ((del = query("emptying geoworkerd_trash", "DELETE FROM"
		    " geoworkerd_trash WHERE id = $1", 1, v)) != NULL)
			PQclear(del);
	}
	PQclear(res);
}

/*
 * The queue of every type, for metrics.c: fn is called once per type that
 * has queued jobs, with their number and the seconds the oldest runnable one
 * has waited since it became runnable (as the "job" message counts a
 * wait).  Returns -1 (fn not called) when the database did not answer.
 */
int
db_queue_stats(void (*fn)(const char *, long, double))
{
	PGresult	*res;
	int		 i;

	res = query("reading the queue", "SELECT job_type, count(*),"
	    " coalesce(extract(epoch FROM now() - min(greatest(created_at,"
	    "  run_after)) FILTER (WHERE run_after <= now())), 0)::float8"
	    " FROM background_jobs WHERE status = 'queued' GROUP BY job_type",
	    0, NULL);
	if (res == NULL)
		return -1;
	for (i = 0; i < PQntuples(res); i++)
		fn(PQgetvalue(res, i, 0), strtol(PQgetvalue(res, i, 1), NULL, 10),
		    strtod(PQgetvalue(res, i, 2), NULL));
	PQclear(res);
	return 0;
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
	if (conn != NULL && now >= next_staging_ms) {
		db_staging_sweep();
		next_staging_ms = now + 60000;
	}
	if (conn != NULL && now >= next_retention_ms && !gw->stopping)
		next_retention_ms = now + retention();
	if (next_retention_ms < *next)
		*next = next_retention_ms;
	if (next_heartbeat_ms < *next)
		*next = next_heartbeat_ms;
	if (dirty && last_progress_ms + 1000 < *next)
		*next = last_progress_ms + 1000;
	if (gw->conf->orphan_timeout > 0 && next_sweep_ms < *next)
		*next = next_sweep_ms;
	if (npending > 0 && now + 1000 < *next)
		*next = now + 1000;
}

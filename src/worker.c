/*
 * worker.c: the runtime of a job program (see gwworker.h for its contract).
 *
 * NOTES
 *   Life of a child: connect, LISTEN on "geoworkerd_<type>", tell the master
 *   "ready", then wait on the database socket and the master socket (never
 *   polling faster than poll_interval) until a claim succeeds.  The claim
 *   commits status 'running' with this node, pid and attempts+1; those three
 *   fence every later write, so a job that the master or another node took
 *   away (cancelled, orphan-swept, re-queued) is never overwritten.  Then
 *   "job <id> <attempts>" goes to the master, the job runs inside one
 *   transaction, and its output commits together with status 'completed', or
 *   is rolled back and the job recorded 'failed'.  "done <outcome>" goes to
 *   the master and the process exits.
 *
 *   Messages to the master are single SOCK_SEQPACKET datagrams on the fd
 *   named by GW_MASTER_FD.  EOF on it means the master died: an idle child
 *   exits at once; a busy one is killed by PR_SET_PDEATHSIG, set by the
 *   master between fork and exec.
 *
 *   Errors: anything a user caused ends as the job's error_message; a lost
 *   database connection exits with GW_EXIT_DBLOST so that the master re-queues
 *   the job once the database is back.
 */
#include "config.h"

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "gwworker.h"

extern char **environ;

struct gw_cleanup {
	void			(*fn)(void *);
	void			 *arg;
	struct gw_cleanup	 *next;
};

static volatile sig_atomic_t	 got_term;
static int			 master_fd = -1;
static struct gw_settings	 settings;
static struct gw_config		*manual_conf;
static const char		*conninfo;
static uint64_t			 poll_interval = 5000;
static uint64_t			 heartbeat_interval = 10000;
static char			 connect_timeout[24] = "5";
static const char		*limit_error;	/* a limit the master could not set */
static char			 staging[PATH_MAX];	/* this attempt's files */
static long long		 wait_ms;	/* queued -> claimed */
static const char		*memory_limit_text;
static uint64_t			 progress_sent_ms, progress_logged_ms;
static double			 progress_sent = -1, progress_logged = -1;

static void
on_term(int sig)
{
	got_term = 1;
}

static void
to_master(const char *fmt, ...)
{
	char	 buf[512];
	va_list	 ap;
	int	 n;

	if (master_fd == -1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	if (send(master_fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT) == -1 &&
	    errno != EAGAIN)
		log_debug("send to master failed (%d: %s)", errno, strerror(errno));
}

int
gw_job_error(struct gw_job *job, const char *fmt, ...)
{
	va_list	 ap;

	if (job->error[0] == '\0') {
		va_start(ap, fmt);
		vsnprintf(job->error, sizeof(job->error), fmt, ap);
		va_end(ap);
	}
	return -1;
}

int
gw_job_pgerror(struct gw_job *job, const char *prefix, PGresult *res)
{
	const char	*msg = NULL;
	char		 clean[1024];
	size_t		 n;

	if (res != NULL)
		msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	if (msg == NULL)
		msg = PQerrorMessage(job->conn);
	strlcpy(clean, msg ? msg : "unknown error", sizeof(clean));
	n = strlen(clean);
	while (n > 0 && (clean[n - 1] == '\n' || clean[n - 1] == ' '))
		clean[--n] = '\0';
	return gw_job_error(job, "%s: %s", prefix, clean);
}

PGresult *
gw_exec(struct gw_job *job, const char *what, const char *sql, int nparams,
    const char *const *values)
{
	PGresult	*res;

	res = PQexecParams(job->conn, sql, nparams, NULL, values, NULL, NULL, 0);
	if (res == NULL || (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK)) {
		gw_job_pgerror(job, what, res);
		log_debug("%s failed: %s", what, sql);
		PQclear(res);
		return NULL;
	}
	return res;
}

void
gw_progress(struct gw_job *job, double fraction, const char *fmt, ...)
{
	char		 msg[256] = "";
	va_list		 ap;
	uint64_t	 now = now_ms();

	if (!(fraction >= 0))
		fraction = 0;
	if (fraction > 1)
		fraction = 1;
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
	}
	if (now - progress_sent_ms >= 250 || fraction - progress_sent >= 0.01 ||
	    fraction == 1) {
		to_master("progress %.4f %s", fraction, msg);
		progress_sent_ms = now;
		progress_sent = fraction;
	}
	if (fraction - progress_logged >= 0.1 || now - progress_logged_ms >= 30000) {
		log_info("progress %.0f%%%s%s", fraction * 100,
		    msg[0] ? ": " : "", msg);
		progress_logged_ms = now;
		progress_logged = fraction;
	}
}

int
gw_job_on_failure(struct gw_job *job, void (*fn)(void *), void *arg)
{
	struct gw_cleanup	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -1;
	c->fn = fn;
	c->arg = arg;
	c->next = job->cleanups;
	job->cleanups = c;
	return 0;
}

static void
run_cleanups(struct gw_job *job, int failed)
{
	struct gw_cleanup	*c;

	while ((c = job->cleanups) != NULL) {
		job->cleanups = c->next;
		if (failed)
			c->fn(c->arg);
		free(c);
	}
}

/* Files: see src/outputs.c for the staging and publishing rule. */

static void	discard_files(void);

const char *
gw_job_staging(struct gw_job *job)
{
	const char	*root = job->settings->output_root;
	char		 top[PATH_MAX];

	if (staging[0] != '\0')
		return staging;
	if (root == NULL || *root == '\0') {
		gw_job_error(job, "no output_root is configured");
		return NULL;
	}
	if (snprintf(top, sizeof(top), "%s/" GW_STAGING, root) >=
	    (int)sizeof(top) || staging_dir(root, job->id, job->attempts,
	    staging, sizeof(staging)) == -1) {
		staging[0] = '\0';
		gw_job_error(job, "output_root: path too long");
		return NULL;
	}
	if ((mkdir(top, 0755) == -1 && errno != EEXIST) ||
	    remove_tree(staging) == -1 || mkdir(staging, 0755) == -1) {
		gw_job_error(job, "output_root: cannot make %s: %s", staging,
		    strerror(errno));
		staging[0] = '\0';
		return NULL;
	}
	/*
	 * output_group: the directory (published as it is) belongs to the
	 * group, which may read it (2750: what is made in it takes the group),
	 * and files are made group-readable, not world-readable (umask 027).
	 */
	if (job->settings->output_group != NULL) {
		struct group	*gr = getgrnam(job->settings->output_group);

		if (gr == NULL || chown(staging, (uid_t)-1, gr->gr_gid) == -1 ||
		    chmod(staging, 02750) == -1) {
			gw_job_error(job, "output_group %s: %s",
			    job->settings->output_group, gr == NULL ?
			    "no such group" : strerror(errno));
			discard_files();
			staging[0] = '\0';
			return NULL;
		}
		umask(027);
	}
	return staging;
}

int
gw_job_output_path(struct gw_job *job, const char *name, char *buf,
    size_t len)
{
	char	 dir[PATH_MAX];

	if (job->settings->output_root == NULL ||
	    published_dir(job->settings->output_root, job->id, dir,
	    sizeof(dir)) == -1 ||
	    snprintf(buf, len, "%s/%s", dir, name) >= (int)len)
		return gw_job_error(job, "output: path too long");
	return 0;
}

/* After the commit: the staged files become output_root/<id>/. */
static void
publish_files(struct gw_job *job)
{
	if (staging[0] == '\0')
		return;
	if (staging_publish(job->settings->output_root, job->id,
	    job->attempts) == -1)
		log_warn("publishing %s failed; the master retries when it "
		    "reaps this process", staging);
}

static void
discard_files(void)
{
	if (staging[0] != '\0' && remove_tree(staging) == -1)
		log_warn("removing %s failed; the master's sweep retries",
		    staging);
}

/*
 * input_schemas: every table, view or materialized view a job parameter
 * names is checked here after the catalog resolved it (so search_path,
 * quoting and spellings all land on the same schema name).
 */
int
gw_job_check_readable(struct gw_job *job, const char *param,
    const char *schema, const char *name)
{
	const char	*list = job->settings->input_schemas;
	const char	*p;
	size_t		 n = strlen(schema);

	if (strcmp(schema, job->settings->output_schema) == 0)
		return 0;
	if (list == NULL || *list == '\0')
		list = "public";
	for (p = list; *p != '\0';) {
		while (*p == ' ' || *p == ',')
			p++;
		if (strncmp(p, schema, n) == 0 && (p[n] == '\0' ||
		    p[n] == ',' || p[n] == ' '))
			return 0;
		while (*p != '\0' && *p != ',')
			p++;
	}
	return gw_job_error(job, "%s: %s.%s is in schema %s, which jobs may "
	    "not read (input_schemas: %s; and the output schema %s)", param,
	    schema, name, schema, list, job->settings->output_schema);
}

/* Parameters. */

int
gw_param_check_keys(struct gw_job *job, const char *const allowed[])
{
	const char	*key;
	json_t		*value;
	int		 i;

	json_object_foreach(job->params, key, value) {
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(allowed[i], key) == 0)
				break;
		if (allowed[i] == NULL)
			return gw_job_error(job, "unknown parameter '%s'", key);
	}
	return 0;
}

int
gw_param_string(struct gw_job *job, const char *key, int required,
    const char *def, const char **out)
{
	json_t	*v = json_object_get(job->params, key);

	if (v == NULL || json_is_null(v)) {
		if (required)
			return gw_job_error(job, "parameter '%s' is required", key);
		*out = def;
		return 0;
	}
	if (!json_is_string(v))
		return gw_job_error(job, "parameter '%s' must be a string", key);
	if (json_string_length(v) != strlen(json_string_value(v)))
		return gw_job_error(job, "parameter '%s' contains a NUL character",
		    key);
	*out = json_string_value(v);
	return 0;
}

int
gw_param_bool(struct gw_job *job, const char *key, int def, int *out)
{
	json_t	*v = json_object_get(job->params, key);

	if (v == NULL || json_is_null(v)) {
		*out = def;
		return 0;
	}
	if (!json_is_boolean(v))
		return gw_job_error(job, "parameter '%s' must be true or false",
		    key);
	*out = json_is_true(v);
	return 0;
}

int
gw_param_int(struct gw_job *job, const char *key, long long def, long long min,
    long long max, long long *out)
{
	json_t		*v = json_object_get(job->params, key);
	double		 d;

	if (v == NULL || json_is_null(v)) {
		*out = def;
		return 0;
	}
	d = json_is_real(v) ? json_real_value(v) : 0.5;
	if (json_is_integer(v))
		*out = json_integer_value(v);
	else if (json_is_real(v) && d == floor(d) && fabs(d) < 9e15)
		*out = (long long)d;
	else
		return gw_job_error(job, "parameter '%s' must be an integer "
		    "between %lld and %lld", key, min, max);
	if (*out < min || *out > max)
		return gw_job_error(job, "parameter '%s' must be an integer "
		    "between %lld and %lld, not %lld", key, min, max, *out);
	return 0;
}

int
gw_param_double(struct gw_job *job, const char *key, double def, double min,
    double max, double *out)
{
	json_t	*v = json_object_get(job->params, key);

	if (v == NULL || json_is_null(v)) {
		if (isnan(def))
			return gw_job_error(job, "parameter '%s' is required", key);
		*out = def;
		return 0;
	}
	if (!json_is_number(v))
		return gw_job_error(job, "parameter '%s' must be a number", key);
	*out = json_number_value(v);
	if (!isfinite(*out) || *out < min || *out > max)
		return gw_job_error(job, "parameter '%s' must be a number between "
		    "%g and %g, not %g", key, min, max, *out);
	return 0;
}

/* Database. */

/*
 * Connects with what a job needs and nothing else: no GSSAPI probe, a
 * connect timeout, TCP keepalives and a TCP user timeout, so that a database
 * host that vanishes without resetting the connection is noticed within
 * about 30 s (keepalives: 10 s idle + 3 probes 5 s apart; unacknowledged
 * data: 30 s).  They come before the conninfo, which may override each.
 *
 * Two settings travel in the start-up packet instead of a SET each, after
 * the conninfo's own "options" (or PGOPTIONS): the claim commits
 * asynchronously (synchronous_commit=off; run_job turns it on for the
 * outcome), and a DBA's idle_in_transaction_session_timeout must not kill a
 * job that computes between its reads and its writes.
 */
static PGconn *
db_connect(const char *type)
{
	const char	*keys[] = { "gssencmode", "connect_timeout",
	    "keepalives_idle", "keepalives_interval", "keepalives_count",
	    "tcp_user_timeout", "fallback_application_name", "dbname",
	    "options", NULL };
	const char	*vals[] = { "disable", connect_timeout, "10", "5", "3",
	    "30000", NULL, conninfo, NULL, NULL };
	static char	*options;
	char		 app[GW_NAMELEN + 16];
	PQconninfoOption *opts, *o;
	const char	*base;
	PGconn		*conn;

	if (options == NULL) {
		base = getenv("PGOPTIONS");
		if ((opts = PQconninfoParse(conninfo, NULL)) != NULL) {
			for (o = opts; o->keyword != NULL; o++)
				if (strcmp(o->keyword, "options") == 0 &&
				    o->val != NULL)
					base = o->val;
		}
		if (asprintf(&options, "%s%s-c synchronous_commit=off "
		    "-c idle_in_transaction_session_timeout=0",
		    base ? base : "", base && *base ? " " : "") == -1)
			gw_nomem();
		PQconninfoFree(opts);
	}
	snprintf(app, sizeof(app), "geoworkerd %s", type);
	vals[6] = app;
	vals[8] = options;
	conn = PQconnectdbParams(keys, vals, 1);
	if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
		log_warnx("cannot connect to the database: %s",
		    conn ? PQerrorMessage(conn) : "out of memory");
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

static int
simple(PGconn *conn, const char *sql)
{
	PGresult	*res = PQexec(conn, sql);
	int		 ok = PQresultStatus(res) == PGRES_COMMAND_OK;

	if (!ok)
		log_warnx("%s failed: %s", sql, PQerrorMessage(conn));
	PQclear(res);
	return ok ? 0 : -1;
}

static _Noreturn void
db_lost(PGconn *conn, const char *what)
{
	log_warnx("%s: database connection lost: %s", what,
	    PQerrorMessage(conn));
	exit(GW_EXIT_DBLOST);
}

/*
 * Claims one job.  Returns 1 with job filled, 0 if none is queued, -1 if the
 * database failed.  The claim is its own short transaction: a child that
 * crashes after it leaves a 'running' row the master finds by node and pid.
 */
static int
claim(PGconn *conn, const char *type, long long want, struct gw_job *job)
{
	static const char *sql =
	    "UPDATE background_jobs j SET status = 'running',"
	    " attempts = j.attempts + 1, started_at = now(), heartbeat_at = now(),"
	    " completed_at = NULL, worker_host = $2, worker_pid = $3,"
	    " progress = 0, progress_message = NULL, error_message = NULL,"
	    " result = NULL"
	    " FROM (SELECT id FROM background_jobs"
	    "  WHERE status = 'queued' AND job_type = $1 AND"
	    "  (($4::bigint IS NULL AND run_after <= now()) OR id = $4::bigint)"
	    "  ORDER BY priority DESC, created_at, id"
	    "  LIMIT 1 FOR UPDATE SKIP LOCKED) c"
	    " WHERE j.id = c.id"
	    " RETURNING j.id, coalesce(j.params::text, '{}'), j.attempts,"
	    " round(1000 * extract(epoch FROM now() - greatest(j.created_at,"
	    "  j.run_after)))::bigint";
	const char	*values[4];
	char		 pid[16], idbuf[24];
	PGresult	*res;
	json_error_t	 jerr;

	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	snprintf(idbuf, sizeof(idbuf), "%lld", want);
	values[0] = type;
	values[1] = settings.node_name;
	values[2] = pid;
	values[3] = want > 0 ? idbuf : NULL;
	res = PQexecParams(conn, sql, 4, NULL, values, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		log_warnx("claiming a job failed: %s", PQerrorMessage(conn));
		PQclear(res);
		return -1;
	}
	if (PQntuples(res) == 0) {
		PQclear(res);
		return 0;
	}
	job->id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	job->attempts = atoi(PQgetvalue(res, 0, 2));
	wait_ms = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
	job->params = json_loads(PQgetvalue(res, 0, 1), 0, &jerr);
	PQclear(res);
	return 1;
}

/*
 * Writes the outcome, fenced by node, pid and attempts.  Returns 1 if the row
 * was ours, 0 if it was taken away, -1 if the statement failed.
 */
static int
record(struct gw_job *job, const char *status, const char *result,
    const char *error)
{
	static const char *sql =
	    "UPDATE background_jobs SET status = $2, result = $3::jsonb,"
	    " error_message = $4, completed_at = clock_timestamp(),"
	    " progress = CASE WHEN $2 = 'completed' THEN 1 ELSE progress END"
	    " WHERE id = $1 AND status = 'running' AND worker_host = $5"
	    " AND worker_pid = $6 AND attempts = $7";
	const char	*values[7];
	char		 id[24], pid[16], att[16];
	PGresult	*res;
	int		 r;

	snprintf(id, sizeof(id), "%lld", job->id);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	snprintf(att, sizeof(att), "%d", job->attempts);
	values[0] = id;
	values[1] = status;
	values[2] = result;
	values[3] = error;
	values[4] = settings.node_name;
	values[5] = pid;
	values[6] = att;
	res = PQexecParams(job->conn, sql, 7, NULL, values, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		log_warnx("recording job %lld as %s failed: %s", job->id, status,
		    PQerrorMessage(job->conn));
		r = -1;
	} else
		r = strcmp(PQcmdTuples(res), "1") == 0;
	PQclear(res);
	return r;
}

/* Words an allocation failure inside a library the way the master would. */
static void
word_nomem(struct gw_job *job)
{
	char	 msg[sizeof(job->error)];

	if (strstr(job->error, "bad_alloc") == NULL &&
	    strstr(job->error, "ut of memory") == NULL &&
	    strstr(job->error, "annot allocate memory") == NULL)
		return;
	snprintf(msg, sizeof(msg), "out of memory (memory_limit %s): %.1900s",
	    memory_limit_text ? memory_limit_text : "unlimited", job->error);
	strlcpy(job->error, msg, sizeof(job->error));
}

/*
 * A job run by hand has no master to refresh its heartbeat: a thread of its
 * own does, over a connection of its own, fenced like every write.  If the
 * row is no longer this run's (cancelled, swept, re-queued), the process
 * exits at once as a killed child would.
 */
struct manual_hb {
	long long	 id;
	int		 attempts;
	char		 type[GW_NAMELEN];
	PGconn		*conn;
};

/*
 * Held by the heartbeat thread while it uses libpq.  At exit the main
 * thread takes it for good (hb_stop, an atexit handler registered after
 * libpq and OpenSSL registered theirs, so it runs before their clean-up):
 * the thread is never inside libpq or libcrypto while they are torn down.
 */
static pthread_mutex_t	 hb_lock = PTHREAD_MUTEX_INITIALIZER;

static int		 hb_running;

static void
hb_stop(void)
{
	if (hb_running) {
		pthread_mutex_lock(&hb_lock);
		hb_running = 0;
	}
}

static void *
manual_heartbeat(void *arg)
{
	static const char *sql =
	    "UPDATE background_jobs SET heartbeat_at = now()"
	    " WHERE id = $1 AND attempts = $2 AND status = 'running'"
	    " AND worker_host = $3 AND worker_pid = $4";
	struct manual_hb	*hb = arg;
	const char		*v[4];
	char			 id[24], att[16], pid[16];
	PGconn			*c = hb->conn;
	PGresult		*res;
	struct timespec		 ts;

	snprintf(id, sizeof(id), "%lld", hb->id);
	snprintf(att, sizeof(att), "%d", hb->attempts);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	v[0] = id;
	v[1] = att;
	v[2] = settings.node_name;
	v[3] = pid;
	for (;;) {
		ts.tv_sec = heartbeat_interval / 1000;
		ts.tv_nsec = (heartbeat_interval % 1000) * 1000000L;
		while (nanosleep(&ts, &ts) == -1)
			;
		pthread_mutex_lock(&hb_lock);
		if (c == NULL && (c = db_connect(hb->type)) == NULL) {
			pthread_mutex_unlock(&hb_lock);
			continue;
		}
		res = PQexecParams(c, sql, 4, NULL, v, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			if (PQstatus(c) != CONNECTION_OK) {
				PQfinish(c);
				c = NULL;
			}
		} else if (strcmp(PQcmdTuples(res), "0") == 0) {
			log_warnx("job %lld is no longer running for this "
			    "process (cancelled or taken away); stopping", hb->id);
			discard_files();
			_exit(GW_EXIT_FENCED);
		}
		PQclear(res);
		pthread_mutex_unlock(&hb_lock);
	}
	return NULL;
}

static void
start_manual_heartbeat(struct gw_job *job)
{
	static struct manual_hb	 hb;
	pthread_t		 tid;
	pthread_attr_t		 attr;

	hb.id = job->id;
	hb.attempts = job->attempts;
	strlcpy(hb.type, job->type, sizeof(hb.type));
	/* Connected here, before hb_stop is registered: whatever libpq and
	 * OpenSSL register at exit is then registered first, and runs last. */
	hb.conn = db_connect(job->type);
	if (atexit(hb_stop) != 0)
		fatalx("atexit failed");
	hb_running = 1;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&tid, &attr, manual_heartbeat, &hb) != 0)
		fatalx("cannot start the heartbeat thread");
	pthread_attr_destroy(&attr);
}

/*
 * The job reads and writes as job_role when the type has one, so that the
 * database's grants and row-level security decide what it sees.  Its
 * outcome is recorded as the daemon's role again (RESET ROLE).
 */
static int
become_job_role(struct gw_job *job)
{
	const char	*role = job->settings->job_role;
	char		*ident, *sql;
	PGresult	*res;

	if (role == NULL || *role == '\0')
		return 0;
	if ((ident = PQescapeIdentifier(job->conn, role, strlen(role))) == NULL)
		gw_nomem();
	if (asprintf(&sql, "SET LOCAL ROLE %s", ident) == -1)
		gw_nomem();
	PQfreemem(ident);
	res = gw_exec(job, "job_role", sql, 0, NULL);
	free(sql);
	if (res == NULL) {
		log_warnx("job_role %s: %s", role, job->error);
		return -1;
	}
	PQclear(res);
	return 0;
}

/*
 * Two live jobs must not write one output: a job holds a transaction lock
 * on the name of each table or view it writes in output_schema, for as long
 * as it runs (gis/output.c takes it when it reads the "output" parameter,
 * create_view for its "name").  A job that cannot take it fails at once,
 * naming the job that holds it.  Files need none: each job's files are in a
 * directory of its own.
 */
int
gw_job_lock_output(struct gw_job *job, const char *name)
{
	const char	*v[2], *role = job->settings->job_role;
	char		 full[256], id[24];
	PGresult	*res;
	int		 locked;

	snprintf(full, sizeof(full), "%s.%s", job->settings->output_schema,
	    name);
	snprintf(id, sizeof(id), "%lld", job->id);
	v[0] = full;
	if ((res = gw_exec(job, "claiming the output name", "SELECT"
	    " pg_try_advisory_xact_lock(hashtext('geoworkerd output'),"
	    " hashtext($1))", 1, v)) == NULL)
		return -1;
	locked = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (locked)
		return 0;
	/* Who holds it: background_jobs is the daemon's to read, not
	 * job_role's.  The job fails anyway; its role comes back for what
	 * it may still do before it returns. */
	if (role != NULL && *role != '\0') {
		if ((res = gw_exec(job, "claiming the output name",
		    "RESET ROLE", 0, NULL)) == NULL)
			return -1;
		PQclear(res);
	}
	v[0] = id;
	v[1] = name;
	res = gw_exec(job, "claiming the output name", "SELECT min(id) FROM"
	    " background_jobs WHERE status = 'running' AND id <> $1::bigint"
	    " AND (params ->> 'output' = $2 OR params ->> 'name' = $2)", 2, v);
	if (res == NULL || become_job_role(job) == -1) {
		PQclear(res);
		return -1;
	}
	if (PQgetisnull(res, 0, 0))
		gw_job_error(job, "output: another running job is writing %s; "
		    "run this one when it has finished, or choose another name",
		    full);
	else
		gw_job_error(job, "output: job %s is writing %s; run this one "
		    "when it has finished, or choose another name",
		    PQgetvalue(res, 0, 0), full);
	PQclear(res);
	return -1;
}

/*
 * output_readers: SELECT on every table, view and materialized view the
 * job created in output_schema (their catalog rows carry its transaction
 * id), granted in the job's transaction, so an output is never visible
 * without its grant.
 */
static int
grant_outputs(struct gw_job *job)
{
	const char	*readers = job->settings->output_readers, *v[1];
	char		*list = NULL, *roles = NULL, *sql, *p, *tok, *ident, *save;
	size_t		 len = 0;
	PGresult	*res;
	int		 i, rv = 0;

	if (readers == NULL || *readers == '\0')
		return 0;
	v[0] = job->settings->output_schema;
	res = gw_exec(job, "finding the outputs", "SELECT c.oid::regclass::text"
	    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
	    " WHERE n.nspname = $1 AND c.relkind IN ('r', 'v', 'm', 'p')"
	    " AND c.xmin::text = (txid_current() % 4294967296)::text", 1, v);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return 0;
	}
	for (i = 0; i < PQntuples(res); i++)
		len += strlen(PQgetvalue(res, i, 0)) + 2;
	list = calloc(1, len + 1);
	roles = calloc(1, strlen(readers) * 3 + 8);
	if ((p = strdup(readers)) == NULL || list == NULL || roles == NULL)
		gw_nomem();
	for (i = 0; i < PQntuples(res); i++) {
		if (i > 0)
			strcat(list, ", ");
		strcat(list, PQgetvalue(res, i, 0));
	}
	PQclear(res);
	for (tok = strtok_r(p, ", ", &save); tok != NULL;
	    tok = strtok_r(NULL, ", ", &save)) {
		if ((ident = PQescapeIdentifier(job->conn, tok,
		    strlen(tok))) == NULL)
			gw_nomem();
		if (*roles != '\0')
			strcat(roles, ", ");
		strcat(roles, ident);
		PQfreemem(ident);
	}
	if (asprintf(&sql, "GRANT SELECT ON %s TO %s", list, roles) == -1)
		gw_nomem();
	if ((res = gw_exec(job, "output_readers: granting SELECT", sql, 0,
	    NULL)) == NULL)
		rv = -1;
	PQclear(res);
	free(sql);
	free(list);
	free(roles);
	free(p);
	return rv;
}

/*
 * The end of a job's process, once its outcome is recorded (or fenced): the
 * connection closed, stdio flushed, and no exit handlers.  The libraries'
 * handlers (OpenSSL, GnuTLS, GDAL, the destructors that free their caches)
 * only free memory the kernel is about to take back, and each page they
 * write is one a forked child first copies from its fork server: for a
 * small job they cost more than the job.  Whatever must reach a file is
 * closed by the job function itself before it returns (see gwworker(3)).
 */
static _Noreturn void
job_exit(struct gw_job *job, int code)
{
	PQfinish(job->conn);
	job->conn = NULL;
	fflush(NULL);
	_exit(code);
}

static _Noreturn void
run_job(struct gw_job *job, gw_job_fn run)
{
	json_t		*result = NULL;
	char		*text = NULL, *ptext;
	uint64_t	 start = now_ms(), elapsed;
	struct rusage	 ru;
	int		 ok = -1, r;

	/* The third number: how long the job waited to be claimed (ms), for
	 * the master's metrics. */
	to_master("job %lld %d %lld", job->id, job->attempts, wait_ms);
	log_setjob(job->type, job->id);
	if (master_fd == -1)
		start_manual_heartbeat(job);
	setproctitle("%s job %lld", job->type, job->id);
	ptext = job->params ? json_dumps(job->params, JSON_COMPACT |
	    JSON_REAL_PRECISION(15)) : NULL;
	log_info("started (attempt %d): %.1000s", job->attempts,
	    ptext ? ptext : "{}");
	free(ptext);

	if (limit_error != NULL)
		gw_job_error(job, "%s", limit_error);
	else if (job->params == NULL || !json_is_object(job->params))
		gw_job_error(job, "params must be a JSON object");
	/* The outcome commits synchronously (the claim did not). */
	else if (simple(job->conn, "BEGIN; SET LOCAL synchronous_commit = on")
	    == -1)
		db_lost(job->conn, "BEGIN");
	else if (become_job_role(job) == 0) {
		ok = run(job, &result);
		if (ok == 0 && (result == NULL || !json_is_object(result))) {
			gw_job_error(job, "internal error: the job produced no "
			    "result");
			ok = -1;
		}
		if (ok == 0 && grant_outputs(job) == -1)
			ok = -1;
		if (ok == 0 && job->settings->job_role != NULL &&
		    simple(job->conn, "RESET ROLE") == -1)
			ok = gw_job_pgerror(job, "RESET ROLE", NULL);
	}
	elapsed = now_ms() - start;
	/* A run by hand: no heartbeat from here on, or one could find the
	 * row completed by this very process and take it for taken away. */
	hb_stop();
	if (ok == 0) {
		if (json_object_get(result, "elapsed_ms") == NULL)
			json_object_set_new(result, "elapsed_ms",
			    json_integer((json_int_t)elapsed));
		if ((text = json_dumps(result, JSON_COMPACT)) == NULL)
			gw_nomem();
		r = record(job, "completed", text, NULL);
		if (r == 1 && simple(job->conn, "COMMIT") == 0) {
			publish_files(job);
			to_master("done completed");
			getrusage(RUSAGE_SELF, &ru);
			log_info("completed in %llu ms, peak memory %ld KiB: %.500s",
			    (unsigned long long)elapsed, ru.ru_maxrss, text);
			free(text);
			json_decref(result);
			run_cleanups(job, 0);
			job_exit(job, GW_EXIT_OK);
		}
		free(text);
		json_decref(result);
		if (PQstatus(job->conn) != CONNECTION_OK) {
			/* The commit may have happened: the master decides
			 * whether these files are published or removed. */
			run_cleanups(job, 1);
			db_lost(job->conn, "completing the job");
		}
		if (r == 0) {
			simple(job->conn, "ROLLBACK");
			discard_files();
			run_cleanups(job, 1);
			log_warnx("the job was taken away while it ran (cancelled "
			    "or re-queued); its output was discarded");
			job_exit(job, GW_EXIT_FENCED);
		}
		gw_job_pgerror(job, "writing the output", NULL);
	}
	if (PQtransactionStatus(job->conn) != PQTRANS_IDLE)
		simple(job->conn, "ROLLBACK");
	discard_files();
	run_cleanups(job, 1);
	if (PQstatus(job->conn) != CONNECTION_OK)
		db_lost(job->conn, "running the job");
	if (job->error[0] == '\0')
		strlcpy(job->error, "the job failed without saying why",
		    sizeof(job->error));
	word_nomem(job);
	if (simple(job->conn, "SET synchronous_commit = on") == -1)
		db_lost(job->conn, "SET");
	r = record(job, "failed", NULL, job->error);
	if (r == -1)
		db_lost(job->conn, "recording the failure");
	getrusage(RUSAGE_SELF, &ru);
	if (r == 0)
		log_warnx("failed, but the job was taken away meanwhile: %s",
		    job->error);
	else
		log_warnx("failed after %llu ms, peak memory %ld KiB: %s",
		    (unsigned long long)elapsed, ru.ru_maxrss, job->error);
	to_master("done failed");
	job_exit(job, r == 0 ? GW_EXIT_FENCED : GW_EXIT_OK);
}

void
gw_nomem(void)
{
	static const char msg[] = "out of memory\n";

	(void)write(STDERR_FILENO, msg, sizeof(msg) - 1);
	_exit(GW_EXIT_NOMEM);
}

/*
 * The fork server (see src/forksrv.c): this process has loaded the program's
 * libraries and registered its drivers (main() did that before calling
 * gw_worker_main), and opens nothing else: no connection, no thread.  For
 * each "fork" datagram from the master, which carries the new child's
 * socket, it forks twice and answers "pid N".  The grandchild waits until it
 * is the master's (the master is a child subreaper), then returns from here
 * as a fresh child: the socket on fd 3, its own process group, and the rest
 * of gw_worker_main as after an exec.
 */
static void	become_forked_child(int, pid_t, const char *, int);

/*
 * Has the program file this process runs been replaced (a package upgrade)
 * since it started?  Checked before each claim, so that no job runs the old
 * program once the new one is in place.  Only for children of a master,
 * which start them by an absolute path.
 */
static char		 program[PATH_MAX];
static struct stat	 program_st;

static void
note_program(const char *argv0)
{
	if (argv0[0] != '/' || stat("/proc/self/exe", &program_st) == -1)
		return;
	strlcpy(program, argv0, sizeof(program));
}

static int
program_replaced(void)
{
	struct stat	 st;

	if (program[0] == '\0' || master_fd == -1)
		return 0;
	if (stat(program, &st) == -1)
		return 0;	/* gone: the master words that */
	return st.st_ino != program_st.st_ino || st.st_dev != program_st.st_dev;
}

static void
warm_openssl(void)
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 len;

	OPENSSL_init_ssl(OPENSSL_INIT_LOAD_CONFIG, NULL);
	(void)RAND_status();
	(void)HMAC(EVP_sha256(), "k", 1, (const unsigned char *)"d", 1, md,
	    &len);
}

static void
fork_server(const char *type, int debug)
{
	char		 buf[16], cbuf[CMSG_SPACE(sizeof(int))];
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cmsg;
	pid_t		 master = getppid(), mid, pid;
	ssize_t		 n;
	int		 fd, p[2], status;

	setproctitle("%s fork server", type);
	/*
	 * What every child would otherwise do for itself: read the time zone
	 * (log lines), seed jansson's hash tables (from /dev/urandom), and
	 * initialize the OpenSSL that libpq uses for SCRAM and TLS (its
	 * configuration, its provider, the SHA-256 HMAC, the random generator's
	 * instance: a few ms a connection).  No random numbers are drawn here,
	 * and OpenSSL reseeds its generator in each forked process before it
	 * draws any.
	 */
	tzset();
	json_object_seed(0);
	warm_openssl();
	to_master("server");
	for (;;) {
		memset(&msg, 0, sizeof(msg));
		iov.iov_base = buf;
		iov.iov_len = sizeof(buf);
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = cbuf;
		msg.msg_controllen = sizeof(cbuf);
		if ((n = recvmsg(master_fd, &msg, MSG_CMSG_CLOEXEC)) == -1) {
			if (errno == EINTR)
				continue;
			exit(GW_EXIT_ERROR);
		}
		if (n == 0)
			exit(GW_EXIT_OK);	/* the master is gone */
		fd = -1;
		if ((cmsg = CMSG_FIRSTHDR(&msg)) != NULL &&
		    cmsg->cmsg_type == SCM_RIGHTS)
			memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));
		if (fd == -1)
			continue;
		if (pipe2(p, O_CLOEXEC) == -1) {
			close(fd);
			to_master("pid -1");
			continue;
		}
		if ((mid = fork()) == 0) {
			if ((pid = fork()) == 0) {
				close(p[0]);
				close(p[1]);
				become_forked_child(fd, master, type, debug);
				return;
			}
			(void)write(p[1], &pid, sizeof(pid));
			_exit(0);
		}
		close(p[1]);
		close(fd);
		pid = -1;
		if (mid != -1) {
			while (waitpid(mid, &status, 0) == -1 && errno == EINTR)
				;
			if (read(p[0], &pid, sizeof(pid)) != sizeof(pid))
				pid = -1;
		}
		close(p[0]);
		to_master("pid %d", (int)pid);
	}
}

/* In the grandchild of the fork server: become a child of the master. */
static void
become_forked_child(int fd, pid_t master, const char *type, int debug)
{
	struct timespec	 ts = { 0, 100000 };
	int		 i;

	/* Reparented when the intermediate process exits, which it does at
	 * once; only then can PR_SET_PDEATHSIG be tied to the master. */
	for (i = 0; getppid() != master; i++) {
		if (i > 20000)
			_exit(GW_EXIT_ERROR);
		nanosleep(&ts, NULL);
	}
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != master)
		_exit(GW_EXIT_ERROR);
	setpgid(0, 0);
	if (dup2(fd, master_fd) == -1)
		_exit(GW_EXIT_ERROR);
	close(fd);
	closefrom(master_fd + 1);
	/* The log's journal socket was among them: open it again. */
	log_init(type, debug);
}

static void
usage(const char *type)
{
	fprintf(stderr, "usage: %s [-d] [-c config] [-j job_id]\n"
	    "Started by geoworkerd(8); by hand, runs one queued %s job.\n",
	    type, type);
	exit(GW_EXIT_USAGE);
}

/* Settings come from the master's environment, or from -c when run by hand. */
static void
load_settings(const char *type, const char *confpath)
{
	char		 err[1024], buf[32];
	const char	*s;
	uint64_t	 v;
	struct gw_typeconf *tc;

	if (confpath == NULL && getenv("GW_CONNINFO") != NULL) {
		conninfo = getenv("GW_CONNINFO");
		settings.node_name = getenv("GW_NODE_NAME");
		settings.output_schema = getenv("GW_OUTPUT_SCHEMA");
		settings.raster_root = getenv("GW_RASTER_ROOT");
		settings.output_root = getenv("GW_OUTPUT_ROOT");
		settings.output_readers = getenv("GW_OUTPUT_READERS");
		settings.output_group = getenv("GW_OUTPUT_GROUP");
		settings.input_schemas = getenv("GW_INPUT_SCHEMAS");
		settings.job_role = getenv("GW_JOB_ROLE");
		memory_limit_text = getenv("GW_MEMORY_LIMIT");
		if ((s = getenv("GW_POLL_INTERVAL")) != NULL &&
		    parse_duration(s, &v) == 0 && v >= 100)
			poll_interval = v;
		if ((s = getenv("GW_CONNECT_TIMEOUT")) != NULL)
			strlcpy(connect_timeout, s, sizeof(connect_timeout));
		limit_error = getenv("GW_LIMIT_ERROR");
		if ((s = getenv("GW_MASTER_FD")) != NULL)
			master_fd = atoi(s);
	} else {
		if (confpath == NULL)
			confpath = GW_SYSCONFDIR "/geoworkerd.ini";
		if ((manual_conf = config_load(confpath, err, sizeof(err))) == NULL)
			fatalx("%s", err);
		conninfo = manual_conf->conninfo;
		settings.node_name = manual_conf->node_name;
		settings.output_schema = manual_conf->output_schema;
		settings.raster_root = manual_conf->raster_root;
		settings.output_root = manual_conf->output_root;
		settings.output_readers = manual_conf->output_readers;
		settings.output_group = manual_conf->output_group;
		settings.input_schemas = manual_conf->input_schemas;
		poll_interval = manual_conf->poll_interval;
		heartbeat_interval = manual_conf->heartbeat_interval;
		snprintf(connect_timeout, sizeof(connect_timeout), "%llu",
		    (unsigned long long)(manual_conf->db_timeout + 999) / 1000);
		if ((tc = config_type(manual_conf, type)) != NULL) {
			format_size(tc->memory_limit, buf, sizeof(buf));
			memory_limit_text = strdup(buf);
			settings.input_schemas = tc->input_schemas;
			if (tc->job_role[0] != '\0')
				settings.job_role = tc->job_role;
		}
	}
	if (conninfo == NULL || settings.node_name == NULL ||
	    settings.output_schema == NULL)
		fatalx("GW_CONNINFO, GW_NODE_NAME and GW_OUTPUT_SCHEMA must be set "
		    "(started by geoworkerd), or -c given");
}

/* What the program prepares while idle (gw_worker_idle), or NULL. */
static gw_idle_fn	 idle_fn;

void
gw_worker_idle(gw_idle_fn fn)
{
	idle_fn = fn;
}

/*
 * The first claim found nothing: the program prepares what its jobs will
 * need (its libraries in the backend, PROJ's database), in time no job
 * waits for.  The session must come back idle, outside a transaction.
 */
static void
prepare_idle(PGconn *conn)
{
	uint64_t	 t0 = now_ms();

	if (idle_fn == NULL)
		return;
	idle_fn(conn);
	if (PQtransactionStatus(conn) != PQTRANS_IDLE &&
	    PQstatus(conn) == CONNECTION_OK)
		fatalx("the program's idle preparation left a transaction "
		    "open");
	log_debug("prepared while idle in %llu ms",
	    (unsigned long long)(now_ms() - t0));
}

int
gw_worker_main(int argc, char *argv[], const char *type, gw_job_fn run)
{
	struct gw_job	 job;
	struct sigaction sa;
	struct pollfd	 pfd[2];
	PGconn		*conn;
	PGnotify	*n;
	const char	*confpath = NULL, *s;
	long long	 want = 0;
	char		 listen[GW_NAMELEN + 64], buf[64];
	static char	 typebuf[GW_NAMELEN];
	int		 ch, debug = 0, r, nfd, listening;

	/* setproctitle_init() may reuse argv's memory: type may point there. */
	strlcpy(typebuf, type, sizeof(typebuf));
	type = typebuf;
	note_program(argv[0]);
	setproctitle_init(argc, argv, environ);
	log_init(type, 0);
	while ((ch = getopt(argc, argv, "c:dj:")) != -1) {
		switch (ch) {
		case 'c':
			confpath = optarg;
			break;
		case 'd':
			debug = 1;
			break;
		case 'j':
			if (parse_int(optarg, 1, INT64_MAX, &want) == -1)
				usage(type);
			break;
		default:
			usage(type);
		}
	}
	log_init(type, debug);
	load_settings(type, want > 0 && confpath == NULL ?
	    GW_SYSCONFDIR "/geoworkerd.ini" : confpath);
	if (want > 0)
		master_fd = -1;
	else if ((s = getenv("GW_FORK_SERVER")) != NULL && master_fd != -1) {
		if (strcmp(s, "2") == 0)
			unsetenv("LD_BIND_NOW");	/* set by the master */
		unsetenv("GW_FORK_SERVER");
		fork_server(type, debug);	/* returns in each child it forks */
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	setproctitle("%s connecting", type);
	if ((conn = db_connect(type)) == NULL)
		exit(GW_EXIT_DBLOST);
	/*
	 * The claim commits asynchronously (db_connect): if the server crashes
	 * before it is flushed, the job is simply queued again, and this
	 * child, whose connection died with the server, exits without running
	 * it.  The job's outcome is committed synchronously (run_job).
	 */
	to_master("ready");
	setproctitle("%s idle", type);
	snprintf(listen, sizeof(listen), "LISTEN \"geoworkerd_%s\"", type);
	listening = 0;

	memset(&job, 0, sizeof(job));
	job.type = type;
	job.conn = conn;
	job.settings = &settings;
	for (;;) {
		if (got_term) {
			log_debug("told to stop while idle");
			PQfinish(conn);
			exit(GW_EXIT_OK);
		}
		if (program_replaced()) {
			/* An upgrade: the next job runs the new program. */
			log_info("the program file was replaced; making way for "
			    "a new child");
			to_master("upgrade");
			PQfinish(conn);
			exit(GW_EXIT_OK);
		}
		if ((r = claim(conn, type, want, &job)) == 1)
			break;
		if (r == -1) {
			if (PQstatus(conn) != CONNECTION_OK)
				db_lost(conn, "claim");
			exit(GW_EXIT_ERROR);
		}
		if (want > 0)
			fatalx("job %lld is not a queued %s job", want, type);
		/*
		 * Nothing to do: listen, then claim again before waiting, for
		 * a job queued between the claim and the LISTEN.  A child
		 * that finds a job at once (a busy queue) never listens.
		 */
		if (!listening) {
			prepare_idle(conn);
			if (simple(conn, listen) == -1)
				db_lost(conn, "LISTEN");
			listening = 1;
			continue;
		}
		nfd = 0;
		pfd[nfd].fd = PQsocket(conn);
		pfd[nfd++].events = POLLIN;
		if (master_fd != -1) {
			pfd[nfd].fd = master_fd;
			pfd[nfd++].events = POLLIN;
		}
		if (poll(pfd, nfd, (int)poll_interval) == -1 && errno != EINTR)
			fatal("poll");
		if (nfd > 1 && pfd[1].revents != 0) {
			ssize_t got = recv(master_fd, buf, sizeof(buf), MSG_DONTWAIT);
			if (got == 0 || (got == -1 && errno != EAGAIN &&
			    errno != EINTR)) {
				log_debug("master went away; exiting");
				exit(GW_EXIT_OK);
			}
		}
		if (pfd[0].revents != 0) {
			if (!PQconsumeInput(conn))
				db_lost(conn, "waiting for jobs");
			while ((n = PQnotifies(conn)) != NULL)
				PQfreemem(n);
		}
	}
	/*
	 * SIGTERM stays caught and is ignored from here on: the master may have
	 * sent it to stop what it still took for an idle child, before it read
	 * our "job" message.  A busy child is stopped only by SIGKILL (timeout,
	 * cancel, the end of shutdown_grace), which the master words itself.
	 */
	run_job(&job, run);
}

/*
 * children.c: the master's side of its children: fork, limits, exec, the
 * messages they send, reaping, and the words for how each one died.
 *
 * NOTES
 *   Between fork and exec the child runs only async-signal-safe work plus
 *   setenv (the master is single-threaded): its own process group (so that a
 *   terminal's ^C reaches only the master), PR_SET_PDEATHSIG then a check
 *   that the master is still its parent (it must come after the prctl, not
 *   before, or a master dying in between is missed), resource limits,
 *   niceness, default signal dispositions, the socket on fd 3, stdout and
 *   stderr on the type's log file, and exec.
 *
 *   The master learns which job a child holds from its "job" message, but
 *   does not depend on it: a child that dies between its claim and the
 *   message still has its row found by node and pid (db_child_lost).
 *
 *   A type whose children die before claiming anything is throttled: its
 *   next start waits 0.5 s, 1 s, 2 s, ... up to max_respawn_delay.
 */
#include "config.h"

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "geoworkerd.h"

#define CHILD_FD	3

const char *
signal_text(int sig, char *buf, size_t len)
{
	const char	*d = strsignal(sig);

	snprintf(buf, len, "signal %d (%s)", sig, d ? d : "unknown");
	return buf;
}

/*
 * Sets one limit.  Returns 0, or -1 with the reason in err (for the job's
 * error_message, or geoworkerd -t).
 */
static int
set_limit(int resource, const char *key, uint64_t value, char *err,
    size_t errlen)
{
	struct rlimit	 rl;
	char		 v[32];

	if (value == GW_UNLIMITED)
		rl.rlim_cur = rl.rlim_max = RLIM_INFINITY;
	else
		rl.rlim_cur = rl.rlim_max = (rlim_t)value;
	if (resource == RLIMIT_CPU && value != GW_UNLIMITED)
		rl.rlim_max = rl.rlim_cur + 5;	/* SIGXCPU first, SIGKILL later */
	if (setrlimit(resource, &rl) == 0)
		return 0;
	if (value == GW_UNLIMITED)
		strlcpy(v, "unlimited", sizeof(v));
	else if (resource == RLIMIT_CPU || resource == RLIMIT_NOFILE)
		snprintf(v, sizeof(v), "%llu", (unsigned long long)value);
	else
		format_size(value, v, sizeof(v));
	snprintf(err, errlen, "%s = %s cannot be applied: setrlimit failed "
	    "(%d: %s)", key, v, errno, strerror(errno));
	return -1;
}

/*
 * Applies a type's limits and niceness to this process.  Returns 0, or -1
 * with the first failure in err.  Used between fork and exec, and by
 * geoworkerd -t in a throwaway process.
 */
int
child_limits(const struct gw_typeconf *tc, char *err, size_t errlen)
{
	int	 bad = 0;

	bad |= set_limit(RLIMIT_AS, "memory_limit", tc->memory_limit, err,
	    errlen);
	if (!bad)
		bad |= set_limit(RLIMIT_CPU, "cpu_limit",
		    tc->cpu_limit == GW_UNLIMITED ? GW_UNLIMITED :
		    (tc->cpu_limit + 999) / 1000, err, errlen);
	if (!bad)
		bad |= set_limit(RLIMIT_FSIZE, "file_size_limit",
		    tc->file_size_limit, err, errlen);
	if (!bad)
		bad |= set_limit(RLIMIT_NOFILE, "open_files", tc->open_files,
		    err, errlen);
	if (!bad)
		bad |= set_limit(RLIMIT_CORE, "core size", 0, err, errlen);
	errno = 0;
	if (!bad && setpriority(PRIO_PROCESS, 0, tc->nice) == -1 && errno != 0) {
		snprintf(err, errlen, "nice = %d cannot be applied: "
		    "setpriority failed (%d: %s)", tc->nice, errno,
		    strerror(errno));
		bad = -1;
	}
	return bad ? -1 : 0;
}

/*
 * Runs in the new child (or, with server set, the type's fork server:
 * forksrv.c); never returns.
 */
void
child_exec(struct gw_type *t, int fd, pid_t master, int server)
{
	struct gw_config	*c = gw->conf;
	struct gw_typeconf	*tc = &t->conf;
	char			 path[PATH_MAX], buf[64], lim[512], *argv[3];
	sigset_t		 set;
	int			 logfd, sig;

	/*
	 * Signals arrive blocked (child_spawn blocks them across fork): the
	 * master's handlers, which write to its self-pipe, must be gone
	 * before any signal can be delivered here.
	 */
	for (sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&set);
	sigprocmask(SIG_SETMASK, &set, NULL);
	setpgid(0, 0);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != master)
		_exit(GW_EXIT_ERROR);

	if (fd != CHILD_FD) {
		if (dup2(fd, CHILD_FD) == -1)
			_exit(GW_EXIT_ERROR);
	} else
		fcntl(fd, F_SETFD, 0);
	if (c->log_dir != NULL) {
		snprintf(path, sizeof(path), "%s/worker_%s.log", c->log_dir, t->name);
		if ((logfd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0640)) != -1) {
			dup2(logfd, STDOUT_FILENO);
			dup2(logfd, STDERR_FILENO);
			if (logfd > CHILD_FD)
				close(logfd);
		}
	}
	closefrom(CHILD_FD + 1);

	/* A limit that cannot be set fails the next job with the reason,
	 * rather than letting it run without the limit. */
	if (child_limits(tc, lim, sizeof(lim)) == -1)
		setenv("GW_LIMIT_ERROR", lim, 1);

	setenv("GW_CONNINFO", c->conninfo, 1);
	setenv("GW_NODE_NAME", c->node_name, 1);
	setenv("GW_OUTPUT_SCHEMA", c->output_schema, 1);
	if (c->raster_root)
		setenv("GW_RASTER_ROOT", c->raster_root, 1);
	if (c->output_root)
		setenv("GW_OUTPUT_ROOT", c->output_root, 1);
	if (c->output_readers && *c->output_readers)
		setenv("GW_OUTPUT_READERS", c->output_readers, 1);
	if (c->output_group && *c->output_group)
		setenv("GW_OUTPUT_GROUP", c->output_group, 1);
	setenv("GW_INPUT_SCHEMAS", tc->input_schemas, 1);
	if (tc->job_role[0] != '\0')
		setenv("GW_JOB_ROLE", tc->job_role, 1);
	snprintf(buf, sizeof(buf), "%llums", (unsigned long long)c->poll_interval);
	setenv("GW_POLL_INTERVAL", buf, 1);
	snprintf(buf, sizeof(buf), "%llu",
	    (unsigned long long)(c->db_timeout + 999) / 1000);
	setenv("GW_CONNECT_TIMEOUT", buf, 1);
	setenv("GW_MEMORY_LIMIT", format_size(tc->memory_limit, buf, sizeof(buf)), 1);
	snprintf(buf, sizeof(buf), "%d", CHILD_FD);
	setenv("GW_MASTER_FD", buf, 1);
	/*
	 * A fork server binds every symbol of every library once, at exec
	 * (LD_BIND_NOW), so that the children it forks neither look symbols up
	 * nor copy the pages of the tables they would write.  "2" tells it that
	 * the variable is ours, to remove before it forks any child.
	 */
	unsetenv("GW_FORK_SERVER");
	if (server && getenv("LD_BIND_NOW") == NULL) {
		setenv("LD_BIND_NOW", "1", 1);
		setenv("GW_FORK_SERVER", "2", 1);
	} else if (server)
		setenv("GW_FORK_SERVER", "1", 1);

	snprintf(path, sizeof(path), "%s/%s", c->child_dir, t->name);
	argv[0] = path;
	argv[1] = gw->debug ? "-d" : NULL;
	argv[2] = NULL;
	execv(path, argv);
	log_warn("%s: cannot run %s", t->name, path);
	_exit(127);
}

static void	set_state(struct child *, enum child_state);

/*
 * Forks and execs one child of type t.  Returns 0, or -1 if fork or the
 * socketpair failed (the type is then throttled like an early death).
 */
int
child_spawn(struct gw_type *t)
{
	struct child	*ch;
	sigset_t	 all, old;
	int		 sv[2];
	pid_t		 pid;

	if (t->conf.fork_server && server_fork(t, &pid, &sv[0]) == 0) {
		ch = xcalloc(1, sizeof(*ch));
		fcntl(sv[0], F_SETFL, O_NONBLOCK);
		goto account;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("%s: socketpair failed", t->name);
		return -1;
	}
	if ((ch = calloc(1, sizeof(*ch))) == NULL) {
		log_warn("%s: out of memory for a child", t->name);
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	/* Blocked across fork: see child_exec. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	switch (pid = fork()) {
	case -1:
		sigprocmask(SIG_SETMASK, &old, NULL);
		log_warn("%s: fork failed", t->name);
		close(sv[0]);
		close(sv[1]);
		free(ch);
		return -1;
	case 0:
		close(sv[0]);
		child_exec(t, sv[1], gw->pid, 0);
	}
	/* Its own process group, set on both sides so that a kill of the
	 * group right after fork cannot miss it. */
	setpgid(pid, pid);
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(sv[1]);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
account:
	ch->pid = pid;
	ch->fd = sv[0];
	ch->type = t;
	ch->state = CHILD_NEW;
	ch->forked_ms = now_ms();
	ch->progress = -1;
	TAILQ_INSERT_TAIL(&gw->children, ch, entry);
	set_state(ch, CHILD_STARTING);
	log_debug("%s: started child %d", t->name, (int)pid);
	return 0;
}

struct child *
child_by_job(long long id)
{
	struct child	*ch;

	TAILQ_FOREACH(ch, &gw->children, entry)
		if (ch->job_id == id && ch->state == CHILD_BUSY)
			return ch;
	return NULL;
}

static const char *const state_names[] = {
	"new", "starting", "idle", "busy", "stopping", "dead"
};

/*
 * Every change of a child's state goes through here, and so does every count
 * that follows from it (the type's live, idle and busy, the master's
 * nchildren): Postfix's master_spawn.c keeps its accounting so.  A
 * transition that cannot happen is a bug that would make the counts drift:
 * it stops the master.
 */
static void
set_state(struct child *ch, enum child_state st)
{
	static const unsigned char allowed[CHILD_DEAD + 1] = {
		[CHILD_NEW] = 1 << CHILD_STARTING,
		[CHILD_STARTING] = 1 << CHILD_IDLE | 1 << CHILD_BUSY |
		    1 << CHILD_STOPPING | 1 << CHILD_DEAD,
		[CHILD_IDLE] = 1 << CHILD_BUSY | 1 << CHILD_STOPPING |
		    1 << CHILD_DEAD,
		/* A child told to stop may have claimed a job already. */
		[CHILD_STOPPING] = 1 << CHILD_BUSY | 1 << CHILD_DEAD,
		[CHILD_BUSY] = 1 << CHILD_DEAD,
		[CHILD_DEAD] = 0,
	};
	struct gw_type	*t = ch->type;

	if (!(allowed[ch->state] & (1 << st)))
		fatalx("%s: child %d: impossible transition %s -> %s", t->name,
		    (int)ch->pid, state_names[ch->state], state_names[st]);
	if (ch->state == CHILD_IDLE)
		t->idle--;
	else if (ch->state == CHILD_BUSY)
		t->busy--;
	if (ch->state == CHILD_NEW) {
		t->live++;
		gw->nchildren++;
	}
	ch->state = st;
	if (st == CHILD_IDLE)
		t->idle++;
	else if (st == CHILD_BUSY)
		t->busy++;
	else if (st == CHILD_DEAD) {
		t->live--;
		gw->nchildren--;
	}
	if (t->idle < 0 || t->busy < 0 || t->live < 0 || gw->nchildren < 0 ||
	    t->idle + t->busy > t->live)
		fatalx("%s: child accounting broken: live %d, idle %d, busy %d",
		    t->name, t->live, t->idle, t->busy);
}

/* Asks an idle or starting child to exit; a busy one finishes its job. */
void
child_stop(struct child *ch)
{
	if (ch->state == CHILD_BUSY || ch->state == CHILD_STOPPING)
		return;
	set_state(ch, CHILD_STOPPING);
	if (kill(ch->pid, SIGTERM) == -1 && errno != ESRCH)
		log_warn("kill(%d, SIGTERM) failed", (int)ch->pid);
}

void
child_kill(struct child *ch, enum kill_reason why)
{
	if (ch->killed == KILL_NONE)
		ch->killed = why;
	/* The whole group: whatever the job started dies with it. */
	if (kill(-ch->pid, SIGKILL) == -1 && errno != ESRCH)
		log_warn("kill(-%d, SIGKILL) failed", (int)ch->pid);
	if (kill(ch->pid, SIGKILL) == -1 && errno != ESRCH)
		log_warn("kill(%d, SIGKILL) failed", (int)ch->pid);
}

/* Reads the messages a child sent: ready, job, progress, done. */
void
child_read(struct child *ch)
{
	char		 buf[512], *msg;
	ssize_t		 n;
	long long	 id;
	int		 att;
	double		 frac;

	for (;;) {
		n = recv(ch->fd, buf, sizeof(buf) - 1, 0);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			/* EOF: the child is exiting; SIGCHLD follows. */
			close(ch->fd);
			ch->fd = -1;
			return;
		}
		buf[n] = '\0';
		if (strcmp(buf, "ready") == 0) {
			ch->ready_ms = now_ms();
			if (ch->state == CHILD_STARTING)
				set_state(ch, CHILD_IDLE);
		} else if (strcmp(buf, "upgrade") == 0) {
			/* Its program was replaced: it exits to make way. */
			if (ch->state == CHILD_IDLE || ch->state == CHILD_STARTING)
				set_state(ch, CHILD_STOPPING);
		} else if (sscanf(buf, "job %lld %d %lld", &id, &att,
		    &ch->wait_ms) >= 2 &&
		    ch->state != CHILD_BUSY) {
			ch->job_id = id;
			ch->attempts = att;
			ch->job_start_ms = now_ms();
			ch->type->early_deaths = 0;
			set_state(ch, CHILD_BUSY);
			log_info("%s: child %d took job %lld (attempt %d)",
			    ch->type->name, (int)ch->pid, id, att);
		} else if (strncmp(buf, "progress ", 9) == 0) {
			frac = strtod(buf + 9, &msg);
			while (*msg == ' ')
				msg++;
			ch->progress = frac;
			strlcpy(ch->progress_msg, msg, sizeof(ch->progress_msg));
			ch->progress_dirty = 1;
		} else if (strncmp(buf, "done ", 5) == 0) {
			ch->done = 1;
			if (strcmp(buf + 5, "completed") == 0)
				ch->type->completed++;
			else
				ch->type->failed++;
		} else
			log_warnx("%s: child %d sent an unknown message: %.60s",
			    ch->type->name, (int)ch->pid, buf);
	}
}

/*
 * Words the death of a child holding a job for error_message, and says
 * whether the job may be retried (retry), goes back without counting the
 * attempt (uncount), or lost its database connection (dblost: db.c decides
 * whether that was an outage, see GW_MAX_FREE_LOSSES).  Returns 0 if there is
 * nothing to write.
 */
static int
word_death(struct child *ch, int status, const struct rusage *ru, char *msg,
    size_t len, int *retry, int *uncount, int *dblost)
{
	struct gw_typeconf	*tc = &ch->type->conf;
	char			 sig[96], lim[32];
	uint64_t		 cpu_ms;
	int			 s;

	*retry = 1;
	*uncount = 0;
	*dblost = 0;
	cpu_ms = (uint64_t)ru->ru_utime.tv_sec * 1000 + ru->ru_utime.tv_usec / 1000 +
	    (uint64_t)ru->ru_stime.tv_sec * 1000 + ru->ru_stime.tv_usec / 1000;
	switch (ch->killed) {
	case KILL_TIMEOUT:
		snprintf(msg, len, "timed out after %s",
		    format_duration(tc->timeout, lim, sizeof(lim)));
		return 1;
	case KILL_CANCEL:
		return 0;	/* the row is no longer ours to write */
	case KILL_SHUTDOWN:
		snprintf(msg, len, "interrupted: geoworkerd on %s stopped before "
		    "the job finished (shutdown_grace %s); re-queued",
		    gw->conf->node_name,
		    format_duration(gw->conf->shutdown_grace, lim, sizeof(lim)));
		*uncount = 1;
		return 1;
	case KILL_NONE:
		break;
	}
	if (WIFSIGNALED(status)) {
		s = WTERMSIG(status);
		if (s == SIGXCPU || (s == SIGKILL && tc->cpu_limit != GW_UNLIMITED &&
		    cpu_ms + 50 >= tc->cpu_limit)) {
			snprintf(msg, len, "CPU time limit of %s exceeded",
			    format_duration(tc->cpu_limit, lim, sizeof(lim)));
			return 1;
		}
		if (s == SIGXFSZ) {
			snprintf(msg, len, "file size limit of %s exceeded "
			    "(file_size_limit)", format_size(tc->file_size_limit,
			    lim, sizeof(lim)));
			return 1;
		}
		signal_text(s, sig, sizeof(sig));
		if ((s == SIGSEGV || s == SIGABRT || s == SIGBUS) &&
		    tc->memory_limit != GW_UNLIMITED &&
		    (uint64_t)ru->ru_maxrss * 1024 >= tc->memory_limit / 4 * 3)
			snprintf(msg, len, "out of memory (memory_limit %s): "
			    "worker crashed: killed by %s",
			    format_size(tc->memory_limit, lim, sizeof(lim)), sig);
		else
			snprintf(msg, len, "worker crashed: killed by %s", sig);
		return 1;
	}
	switch (WEXITSTATUS(status)) {
	case GW_EXIT_OK:
		if (ch->done)
			return 0;
		snprintf(msg, len, "worker exited without recording the job");
		return 1;
	case GW_EXIT_FENCED:
		return 0;
	case GW_EXIT_NOMEM:
		snprintf(msg, len, "out of memory (memory_limit %s)",
		    format_size(tc->memory_limit, lim, sizeof(lim)));
		return 1;
	case GW_EXIT_DBLOST:
		snprintf(msg, len, "the database connection was lost during "
		    "the job");
		*dblost = 1;
		return 1;
	default:
		snprintf(msg, len, "worker exited with status %d",
		    WEXITSTATUS(status));
		return 1;
	}
}

static void
describe_exit(int status, char *buf, size_t len)
{
	char	 sig[96];

	if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by %s", signal_text(WTERMSIG(status),
		    sig, sizeof(sig)));
	else
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
}

static void
child_gone(struct child *ch, int status, const struct rusage *ru)
{
	struct gw_type	*t = ch->type;
	char		 how[128], msg[512];
	uint64_t	 now = now_ms(), delay;
	int		 retry, uncount, dblost, held, stopped, bad;

	metrics_child_gone(ch, status);
	if (ch->fd != -1) {
		child_read(ch);		/* a last "job" or "done" may be queued */
		if (ch->fd != -1)
			close(ch->fd);
	}
	describe_exit(status, how, sizeof(how));
	held = ch->state == CHILD_BUSY || ch->job_id != 0;
	bad = WIFSIGNALED(status) || WEXITSTATUS(status) != GW_EXIT_OK;
	/*
	 * An idle or starting child told to stop (reload, shutdown, surplus)
	 * exits, or dies of the SIGTERM if it had not yet set its handler:
	 * neither is a crash, and it held nothing (it ignores SIGTERM once it
	 * has claimed a job).
	 */
	stopped = ch->state == CHILD_STOPPING && !held &&
	    ((WIFEXITED(status) && WEXITSTATUS(status) == GW_EXIT_OK) ||
	    (WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM));
	if (bad && !stopped && WEXITSTATUS(status) != GW_EXIT_FENCED &&
	    ch->killed != KILL_CANCEL && ch->killed != KILL_SHUTDOWN)
		t->crashed++;

	/*
	 * A child may hold a job the master never heard of (it died between
	 * the claim and its message): the row is then found by node and pid.
	 */
	if ((held || bad) && !stopped && word_death(ch, status, ru, msg,
	    sizeof(msg), &retry, &uncount, &dblost)) {
		if (held)
			log_warnx("%s: child %d holding job %lld %s",
			    t->name, (int)ch->pid, ch->job_id, how);
		if (!uncount && ch->killed != KILL_SHUTDOWN && held)
			t->failed++;
		db_child_lost(t->name, ch->job_id, ch->attempts, ch->pid,
		    retry, uncount, dblost, dblost &&
		    db_outage_since(ch->job_start_ms), msg);
	}
	/* Files it staged: published if its completion committed, else
	 * removed (see outputs.c). */
	if (held && ch->job_id != 0)
		db_staging_check(ch->job_id, ch->attempts);
	if (!held && !stopped && ch->state != CHILD_STOPPING && !gw->stopping) {
		/* Died before claiming anything: throttle the type. */
		delay = respawn_delay(++t->early_deaths);
		t->next_spawn_ms = now + delay;
		log_warnx("%s: child %d %s before claiming a job; next start in "
		    "%.1f s", t->name, (int)ch->pid, how, delay / 1000.0);
	} else
		log_debug("%s: child %d %s", t->name, (int)ch->pid, how);

	set_state(ch, CHILD_DEAD);
	TAILQ_REMOVE(&gw->children, ch, entry);
	free(ch);
}

/* The throttle after the nth death in a row: 0.5 s doubled, up to
 * max_respawn_delay (children, and fork servers in forksrv.c). */
uint64_t
respawn_delay(int n)
{
	uint64_t	 delay = 500ULL << (n > 16 ? 16 : n < 1 ? 0 : n - 1);

	return delay > gw->conf->max_respawn_delay ?
	    gw->conf->max_respawn_delay : delay;
}

/* Reaps every child that has exited: never loses a SIGCHLD. */
void
child_reap(void)
{
	struct child	*ch;
	struct rusage	 ru;
	pid_t		 pid;
	int		 status;

	for (;;) {
		pid = wait4(-1, &status, WNOHANG, &ru);
		if (pid == 0 || (pid == -1 && errno == ECHILD))
			return;
		if (pid == -1) {
			if (errno == EINTR)
				continue;
			log_warn("wait4 failed");
			return;
		}
		if (server_reaped(pid, status))
			continue;
		TAILQ_FOREACH(ch, &gw->children, entry)
			if (ch->pid == pid)
				break;
		/* As a child subreaper the master also inherits what a job's
		 * process left behind when it died. */
		if (ch == NULL)
			log_debug("reaped process %d (not a child)", (int)pid);
		else
			child_gone(ch, status, &ru);
	}
}

void
children_check_timeouts(uint64_t now)
{
	struct child	*ch;
	char		 d[32];

	TAILQ_FOREACH(ch, &gw->children, entry) {
		if (ch->state != CHILD_BUSY || ch->killed != KILL_NONE ||
		    ch->type->conf.timeout == GW_UNLIMITED)
			continue;
		if (now - ch->job_start_ms >= ch->type->conf.timeout) {
			log_warnx("%s: job %lld ran past its timeout of %s; "
			    "killing child %d", ch->type->name, ch->job_id,
			    format_duration(ch->type->conf.timeout, d, sizeof(d)),
			    (int)ch->pid);
			child_kill(ch, KILL_TIMEOUT);
		}
	}
}

/* Starts the children each type lacks, unless it is throttled. */
void
children_spawn_due(uint64_t now, uint64_t *next)
{
	struct gw_type	*t;
	struct child	*ch;
	int		 have;

	if (gw->stopping) {
		servers_stop();
		return;
	}
	TAILQ_FOREACH(t, &gw->types, entry)
		server_check(t, now);
	/*
	 * No child starts while the master cannot write to the database, or
	 * owes it writes: a job whose child just died is recorded (its
	 * attempt, its connection losses, its back-off) before any child can
	 * claim it again, and children do not die in a loop while the
	 * database is away.
	 */
	if (!db_up() || db_pending() > 0) {
		if (db_up() && now + 100 < *next)
			*next = now + 100;
		return;
	}
	TAILQ_FOREACH(t, &gw->types, entry) {
		if (t->removed || !t->conf.enabled)
			continue;
		have = 0;
		TAILQ_FOREACH(ch, &gw->children, entry)
			if (ch->type == t && ch->state != CHILD_STOPPING &&
			    ch->state != CHILD_BUSY)
				have++;
		/* children = idle slots: a busy child's slot is refilled
		 * only when it exits, so at most `children` run at once. */
		have += t->busy;
		while (have < t->conf.children) {
			if (now < t->next_spawn_ms) {
				if (t->next_spawn_ms < *next)
					*next = t->next_spawn_ms;
				break;
			}
			if (child_spawn(t) == -1) {
				t->early_deaths++;
				t->next_spawn_ms = now + 1000;
				break;
			}
			have++;
		}
	}
}

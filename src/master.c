/*
 * master.c: geoworkerd, the master process.
 *
 * NOTES
 *   One master, started by one systemd service, reads the INI file and keeps
 *   `children` idle processes per enabled job type, each the type's own
 *   program (Postfix's master(8) is the model).  A child claims one job, runs
 *   it and exits; the master starts a fresh one in its place.
 *
 *   Signal handlers only write the signal number to a self-pipe; the loop
 *   below does all the work, so no SIGCHLD is lost and nothing runs inside a
 *   handler.  The loop waits in poll(2) on the self-pipe, every child's
 *   socket, the database socket and the metrics sockets, until the next
 *   timer (heartbeat, sweep, respawn, job timeout, shutdown grace, systemd
 *   watchdog).
 *
 *   Two ways to stop: SIGTERM (and SIGINT) give busy children
 *   shutdown_grace, then kill them and re-queue their jobs; SIGUSR2 drains:
 *   no more claims, and the master exits once every busy job has ended by
 *   itself (or at its type's timeout).  A SIGTERM during a drain starts the
 *   grace time.
 *
 *   Under systemd with WatchdogSec=, WATCHDOG=1 is sent from the top of the
 *   loop every half of the interval: a master stuck anywhere stops sending.
 *
 *   Errors before the daemon runs (bad options, bad INI, pidfile taken) go
 *   to stderr with exit status 1; after, to the log, and only a failure to
 *   fork or poll at all stops the master.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "geoworkerd.h"

struct master		*gw;
static int		 sigpipe[2] = { -1, -1 };
extern char		**environ;

static void
on_signal(int sig)
{
	int		 saved = errno;
	unsigned char	 c = (unsigned char)sig;

	(void)write(sigpipe[1], &c, 1);
	errno = saved;
}

static void
usage(void)
{
	fprintf(stderr, "usage: geoworkerd [-dftV] [-c config]\n"
	    "  -c config  configuration file (default %s/geoworkerd.ini)\n"
	    "  -d         debug logging\n"
	    "  -f         stay in the foreground (systemd runs it so)\n"
	    "  -t         check the configuration and exit\n"
	    "  -V         print the version and exit\n", GW_SYSCONFDIR);
	exit(1);
}

struct gw_type *
type_find(const char *name)
{
	struct gw_type	*t;

	TAILQ_FOREACH(t, &gw->types, entry)
		if (strcmp(t->name, name) == 0)
			return t;
	return NULL;
}

/* For log.c: whether a line's "TYPE: " prefix names a job type. */
static int
is_type(const char *name)
{
	return gw != NULL && type_find(name) != NULL;
}

/* Applies tc's limits in a child process; -1 with the reason in err. */
static int
probe_limits(const struct gw_typeconf *tc, char *err, size_t errlen)
{
	int	 fd[2], status;
	ssize_t	 n;
	pid_t	 pid;

	if (pipe2(fd, O_CLOEXEC) == -1)
		return 0;
	switch (pid = fork()) {
	case -1:
		close(fd[0]);
		close(fd[1]);
		return 0;
	case 0:
		close(fd[0]);
		if (child_limits(tc, err, errlen) == -1) {
			(void)write(fd[1], err, strlen(err));
			_exit(1);
		}
		_exit(0);
	}
	close(fd[1]);
	n = read(fd[0], err, errlen - 1);
	close(fd[0]);
	waitpid(pid, &status, 0);
	if (n <= 0)
		return 0;
	err[n] = '\0';
	return -1;
}

/* Checks what the INI cannot: the programs run, the limits apply. */
static int
check_runtime(struct gw_config *c, int verbose)
{
	struct gw_typeconf	*tc;
	char			 path[PATH_MAX];
	int			 bad = 0;

	TAILQ_FOREACH(tc, &c->types, entry) {
		if (!tc->enabled)
			continue;
		snprintf(path, sizeof(path), "%s/%s", c->child_dir, tc->name);
		if (access(path, X_OK) == -1) {
			fprintf(stderr, "%s:%d: [%s]: cannot run %s: %s\n",
			    c->path, tc->line, tc->name, path, strerror(errno));
			bad = 1;
		}
	}
	/* Each type's limits, applied in a throwaway process as a child
	 * would apply them: what cannot be applied is refused here. */
	TAILQ_FOREACH(tc, &c->types, entry) {
		if (tc->enabled && probe_limits(tc, path, sizeof(path)) == -1) {
			fprintf(stderr, "%s:%d: [%s]: %s\n", c->path, tc->line,
			    tc->name, path);
			bad = 1;
		}
	}
	if (c->log_dir != NULL && access(c->log_dir, W_OK) == -1) {
		fprintf(stderr, "%s: log_dir %s: %s\n", c->path, c->log_dir,
		    strerror(errno));
		bad = 1;
	}
	if (verbose && !bad)
		fprintf(stderr, "%s: configuration OK\n", c->path);
	return bad ? -1 : 0;
}

/*
 * Makes the type list match the configuration: new types are added, removed
 * ones marked so that their idle children stop and no more start.
 */
static void
apply_config(struct gw_config *c)
{
	struct gw_typeconf	*tc;
	struct gw_type		*t;

	TAILQ_FOREACH(t, &gw->types, entry)
		t->removed = 1;
	TAILQ_FOREACH(tc, &c->types, entry) {
		if ((t = type_find(tc->name)) == NULL) {
			t = xcalloc(1, sizeof(*t));
			strlcpy(t->name, tc->name, sizeof(t->name));
			TAILQ_INSERT_TAIL(&gw->types, t, entry);
		}
		t->conf = *tc;
		t->removed = !tc->enabled;
		t->next_spawn_ms = 0;
		t->early_deaths = 0;
	}
}

static int
open_logs(struct gw_config *c)
{
	char	 path[PATH_MAX];

	if (c->log_dir == NULL)
		return 0;
	snprintf(path, sizeof(path), "%s/geoworkerd.log", c->log_dir);
	if (log_reopen(path) == -1) {
		log_warn("cannot open %s", path);
		return -1;
	}
	return 0;
}

/*
 * Started as root with user = NAME (not root): the pidfile is made, then the
 * master becomes NAME for good.  Returns -1 after saying why on stderr.
 */
static int
drop_privileges(struct gw_config *c, struct pidfh *pfh)
{
	struct passwd	*pw;

	if (geteuid() != 0 || c->user == NULL || strcmp(c->user, "root") == 0)
		return 0;
	if ((pw = getpwnam(c->user)) == NULL) {
		fprintf(stderr, "geoworkerd: user %s: no such user\n", c->user);
		return -1;
	}
	if (pfh != NULL && c->pidfile != NULL &&
	    chown(c->pidfile, pw->pw_uid, pw->pw_gid) == -1)
		fprintf(stderr, "geoworkerd: chown %s: %s\n", c->pidfile,
		    strerror(errno));
	if (setgroups(1, &pw->pw_gid) == -1 || setresgid(pw->pw_gid,
	    pw->pw_gid, pw->pw_gid) == -1 || setresuid(pw->pw_uid, pw->pw_uid,
	    pw->pw_uid) == -1) {
		fprintf(stderr, "geoworkerd: cannot become %s: %s\n", c->user,
		    strerror(errno));
		return -1;
	}
	return 0;
}

static void
reload(void)
{
	struct gw_config	*c;
	struct child		*ch;
	char			 err[1024];
	int			 conninfo_changed;

	sd_notify(0, "RELOADING=1");
	log_info("reloading %s", gw->conf->path);
	if ((c = config_load(gw->conf->path, err, sizeof(err))) == NULL) {
		log_warnx("reload: %s; keeping the old configuration", err);
		sd_notify(0, "READY=1");
		return;
	}
	/* The node's name fences every row its busy children hold. */
	if (strcmp(c->node_name, gw->conf->node_name) != 0) {
		log_warnx("reload: node_name cannot change from %s to %s while "
		    "geoworkerd runs (it names the jobs its children hold); "
		    "restart it; keeping the old configuration",
		    gw->conf->node_name, c->node_name);
		config_free(c);
		sd_notify(0, "READY=1");
		return;
	}
	conninfo_changed = strcmp(c->conninfo, gw->conf->conninfo) != 0;
	config_free(gw->conf);
	gw->conf = c;
	open_logs(c);
	apply_config(c);
	if (conninfo_changed)
		db_init();
	metrics_reload();
	/* Idle children restart with the new limits and settings. */
	TAILQ_FOREACH(ch, &gw->children, entry)
		child_stop(ch);
	log_info("reloaded: %s", c->path);
	sd_notify(0, "READY=1");
}

static void
begin_stop(int sig)
{
	struct child	*ch;
	char		 d[32];

	if (gw->stopping) {
		/* A SIGTERM during a drain: the grace time starts now. */
		if (gw->draining && sig != SIGUSR2) {
			gw->draining = 0;
			gw->stop_deadline_ms = now_ms() + gw->conf->shutdown_grace;
			log_info("stopping on signal %d during the drain: busy "
			    "children have %s", sig, format_duration(
			    gw->conf->shutdown_grace, d, sizeof(d)));
		}
		return;
	}
	gw->stopping = 1;
	sd_notify(0, "STOPPING=1");
	if (sig == SIGUSR2) {
		gw->draining = 1;
		gw->stop_deadline_ms = UINT64_MAX;
		log_info("draining on signal %d: idle children exit now, busy "
		    "ones finish their jobs (within their type's timeout)", sig);
	} else {
		gw->stop_deadline_ms = now_ms() + gw->conf->shutdown_grace;
		log_info("stopping on signal %d: idle children exit now, busy "
		    "ones have %s", sig, format_duration(gw->conf->shutdown_grace,
		    d, sizeof(d)));
	}
	TAILQ_FOREACH(ch, &gw->children, entry)
		child_stop(ch);
}

static void
handle_signals(void)
{
	unsigned char	 buf[64];
	ssize_t		 n, i;
	int		 dump = 0, hup = 0, term = 0, chld = 0, drain = 0;

	while ((n = read(sigpipe[0], buf, sizeof(buf))) > 0)
		for (i = 0; i < n; i++)
			switch (buf[i]) {
			case SIGCHLD: chld = 1; break;
			case SIGHUP: hup = 1; break;
			case SIGUSR1: dump = 1; break;
			case SIGUSR2: drain = 1; break;
			case SIGTERM: case SIGINT: term = buf[i]; break;
			}
	if (chld)
		child_reap();
	if (drain)
		begin_stop(SIGUSR2);
	if (term)
		begin_stop(term);
	if (hup && !gw->stopping)
		reload();
	if (dump)
		status_dump();
}

static void
setup_signals(void)
{
	struct sigaction	 sa;

	if (pipe2(sigpipe, O_CLOEXEC | O_NONBLOCK) == -1)
		fatal("pipe2");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static void
main_loop(void)
{
	struct pollfd	*pfd = NULL;
	struct child	**who = NULL, *ch, *next_ch;
	size_t		 cap = 0, n, i, mfirst, mn;
	uint64_t	 now, next, wd_usec, wd_every = 0, wd_next = 0;
	int		 timeout, dbfd, ready_sent = 0, r;

	/* The watchdog's interval is systemd's, for this pid only. */
	if (sd_watchdog_enabled(0, &wd_usec) > 0) {
		wd_every = wd_usec / 2000 > 0 ? wd_usec / 2000 : 1;
		log_info("watchdog: WATCHDOG=1 every %llu ms",
		    (unsigned long long)wd_every);
	}
	for (;;) {
		now = now_ms();
		next = now + 60000;
		if (wd_every != 0) {
			if (now >= wd_next) {
				sd_notify(0, "WATCHDOG=1");
				wd_next = now + wd_every;
			}
			if (wd_next < next)
				next = wd_next;
		}
		if (gw->stopping) {
			if (gw->nchildren == 0)
				break;
			if (now >= gw->stop_deadline_ms) {
				TAILQ_FOREACH(ch, &gw->children, entry)
					if (ch->killed == KILL_NONE) {
						if (ch->state == CHILD_BUSY)
							log_warnx("%s: job %lld did not "
							    "finish within shutdown_grace; "
							    "killing child %d",
							    ch->type->name, ch->job_id,
							    (int)ch->pid);
						child_kill(ch, KILL_SHUTDOWN);
					}
			} else if (gw->stop_deadline_ms < next)
				next = gw->stop_deadline_ms;
		}
		children_check_timeouts(now);
		children_spawn_due(now, &next);
		db_poll(now, &next);
		metrics_timers(now, &next);
		TAILQ_FOREACH(ch, &gw->children, entry)
			if (ch->state == CHILD_BUSY && ch->killed == KILL_NONE &&
			    ch->type->conf.timeout != GW_UNLIMITED &&
			    ch->job_start_ms + ch->type->conf.timeout < next)
				next = ch->job_start_ms + ch->type->conf.timeout;
		if (!ready_sent) {
			sd_notify(0, "READY=1");
			log_info("ready: %d children started", gw->nchildren);
			ready_sent = 1;
		}
		status_title();

		if (cap < (size_t)gw->nchildren + 2 + GW_METRICS_MAXFD) {
			cap = gw->nchildren + 16 + GW_METRICS_MAXFD;
			free(pfd);
			free(who);
			pfd = xcalloc(cap, sizeof(*pfd));
			who = xcalloc(cap, sizeof(*who));
		}
		n = 0;
		pfd[n].fd = sigpipe[0];
		pfd[n].events = POLLIN;
		who[n++] = NULL;
		if ((dbfd = db_socket()) != -1) {
			pfd[n].fd = dbfd;
			pfd[n].events = POLLIN;
			who[n++] = NULL;
		}
		mfirst = n;
		mn = (size_t)metrics_pollfds(pfd + n, GW_METRICS_MAXFD);
		for (i = 0; i < mn; i++)
			who[n++] = NULL;
		TAILQ_FOREACH(ch, &gw->children, entry)
			if (ch->fd != -1) {
				pfd[n].fd = ch->fd;
				pfd[n].events = POLLIN;
				who[n++] = ch;
			}
		now = now_ms();
		timeout = next > now ? (int)(next - now) : 0;
		if ((r = poll(pfd, n, timeout)) == -1) {
			if (errno == EINTR)
				continue;
			fatal("poll");
		}
		if (r == 0)
			continue;
		/* Children first: a "job" message must precede its SIGCHLD. */
		for (i = 0; i < n; i++) {
			if (who[i] == NULL || pfd[i].revents == 0)
				continue;
			/* who[i] may have been freed by an earlier reap: look
			 * it up again. */
			TAILQ_FOREACH_SAFE(ch, &gw->children, entry, next_ch)
				if (ch == who[i] && ch->fd == pfd[i].fd)
					metrics_child_read(ch);
		}
		if (dbfd != -1 && pfd[1].revents != 0)
			db_read();
		metrics_handle(pfd + mfirst, (int)mn);
		if (pfd[0].revents != 0)
			handle_signals();
	}
	free(pfd);
	free(who);
}

int
main(int argc, char *argv[])
{
	struct gw_config	*conf;
	struct pidfh		*pfh = NULL;
	const char		*confpath = GW_SYSCONFDIR "/geoworkerd.ini";
	char			 err[1024], abspath[PATH_MAX];
	pid_t			 other;
	int			 ch, foreground = 0, test = 0, debug = 0;

	setproctitle_init(argc, argv, environ);
	while ((ch = getopt(argc, argv, "c:dftVh")) != -1) {
		switch (ch) {
		case 'c':
			confpath = optarg;
			break;
		case 'd':
			debug = 1;
			break;
		case 'f':
			foreground = 1;
			break;
		case 't':
			test = 1;
			break;
		case 'V':
			printf("geoworkerd %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	/* Absolute: daemon() changes directory, and SIGHUP reads it again. */
	if (realpath(confpath, abspath) != NULL)
		confpath = abspath;
	if ((conf = config_load(confpath, err, sizeof(err))) == NULL) {
		fprintf(stderr, "geoworkerd: %s\n", err);
		return 1;
	}
	if (geteuid() == 0 && (conf->user == NULL || conf->user[0] == '\0')) {
		fprintf(stderr, "geoworkerd: refusing to run as root: set "
		    "user = in [daemon] (the unit runs it as User=geoworker; "
		    "user = root insists)\n");
		config_free(conf);
		return 1;
	}
	/* A missing program fails the check, but not the start: its type is
	 * throttled like any type whose children die young. */
	if (check_runtime(conf, test) == -1 && test) {
		config_free(conf);
		return 1;
	}
	if (test) {
		config_free(conf);
		return 0;
	}
	if (conf->pidfile != NULL &&
	    (pfh = pidfile_open(conf->pidfile, 0644, &other)) == NULL) {
		if (errno == EEXIST)
			fprintf(stderr, "geoworkerd: already running as pid %d "
			    "(%s)\n", (int)other, conf->pidfile);
		else
			fprintf(stderr, "geoworkerd: cannot open pidfile %s: %s\n",
			    conf->pidfile, strerror(errno));
		config_free(conf);
		return 1;
	}
	if (drop_privileges(conf, pfh) == -1) {
		config_free(conf);
		return 1;
	}
	if (!foreground && conf->log_dir == NULL)
		fprintf(stderr, "geoworkerd: warning: running in the background "
		    "without log_dir: the log is discarded (use -f under systemd, "
		    "or set log_dir)\n");
	if (!foreground && daemon(0, 0) == -1) {
		fprintf(stderr, "geoworkerd: daemon: %s\n", strerror(errno));
		return 1;
	}
	if (pfh != NULL)
		pidfile_write(pfh);

	log_init("geoworkerd", debug);
	log_setnode(conf->node_name);
	log_settypes(is_type);
	gw = xcalloc(1, sizeof(*gw));
	gw->conf = conf;
	gw->pid = getpid();
	gw->debug = debug;
	gw->started_ms = now_ms();
	gw->started_at = time(NULL);
	TAILQ_INIT(&gw->types);
	TAILQ_INIT(&gw->children);
	open_logs(conf);
	setup_signals();
	apply_config(conf);
	log_info("starting: pid %d, node %s, %s", (int)gw->pid, conf->node_name,
	    conf->path);

	/* The sweep is queued before any child exists, and excludes the pids
	 * of the children alive when it runs. */
	db_startup_sweep();
	db_init();
	metrics_reload();
	main_loop();
	metrics_close();

	db_flush(now_ms() + gw->conf->db_timeout);
	if (db_pending() > 0)
		log_warnx("stopping with %d writes the database did not take; "
		    "the next start sweeps their jobs", db_pending());
	db_close();
	log_info("stopped");
	if (pfh != NULL)
		pidfile_remove(pfh);
	config_free(gw->conf);
	return 0;
}

/*
 * status.c: `geoworkerctl status`, the live state of the master running on
 * this machine, from the master itself.
 *
 * NOTES
 *   The master writes status_file (to a temporary name, then rename) on
 *   SIGUSR1.  We note the file's identity (inode, size, mtime in ns) and
 *   content, signal the pid of pidfile, and wait, bounded, until the file
 *   is a new one: a file older than our signal would show a state that may
 *   be minutes old.  Signalling needs the daemon's user or root, as kill(1)
 *   does; the status file itself is world-readable under the unit.
 *
 *   A live master holds an flock(2) on its pidfile (libbsd's pidfile_open).
 *   If we can take a shared lock, nobody holds it: the file is stale and its
 *   pid may belong to another process by now, which must not get SIGUSR1.
 *   The lock is dropped at once; a master starting in that instant would
 *   find the pidfile taken and exit, and systemd starts it again.
 */
#include "config.h"

#include <sys/file.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"

#define STATUS_WAIT_MS	10000	/* default --timeout */

struct snapshot {
	int		 exists;
	ino_t		 ino;
	off_t		 size;
	struct timespec	 mtime;
	char		*text;
};

static char *
slurp(const char *path)
{
	FILE	*fp;
	char	*buf = NULL;
	size_t	 len = 0;

	if ((fp = fopen(path, "r")) == NULL)
		return NULL;
	if (getdelim(&buf, &len, '\0', fp) == -1) {
		free(buf);
		buf = NULL;
	}
	fclose(fp);
	return buf;
}

static void
snapshot(const char *path, struct snapshot *s)
{
	struct stat	 st;

	memset(s, 0, sizeof(*s));
	if (stat(path, &st) == -1)
		return;
	s->exists = 1;
	s->ino = st.st_ino;
	s->size = st.st_size;
	s->mtime = st.st_mtim;
	s->text = slurp(path);
}

static int
snapshot_changed(const struct snapshot *a, const struct snapshot *b)
{
	if (a->exists != b->exists)
		return 1;
	if (!b->exists)
		return 0;
	if (a->ino != b->ino || a->size != b->size ||
	    a->mtime.tv_sec != b->mtime.tv_sec ||
	    a->mtime.tv_nsec != b->mtime.tv_nsec)
		return 1;
	/* Same inode, size and time (a coarse clock): compare the content. */
	return a->text && b->text && strcmp(a->text, b->text) != 0;
}

/*
 * The pid in pidfile, if that process lives.  Returns 0, or -1 after a
 * message saying why there is no master to ask.
 */
static int
master_pid(const char *pidfile, pid_t *pid)
{
	char		 buf[32];
	long long	 v;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(pidfile, O_RDONLY | O_CLOEXEC)) == -1) {
		ctl_warnx("no master runs: cannot open %s: %s", pidfile,
		    strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		ctl_warnx("no master runs: %s is stale (no process holds its "
		    "lock)", pidfile);
		close(fd);
		return -1;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (parse_int(buf, 2, 1 << 30, &v) == -1) {
		ctl_warnx("no master runs: %s holds no pid", pidfile);
		return -1;
	}
	*pid = (pid_t)v;
	if (kill(*pid, 0) == -1 && errno == ESRCH) {
		ctl_warnx("no master runs: pid %d of %s is gone", (int)*pid,
		    pidfile);
		return -1;
	}
	return 0;
}

static void
print_status(json_t *st)
{
	static const struct ctl_col types[] = {
		{ "TYPE", "type", COL_TEXT, 0 },
		{ "CONFIGURED", "configured", COL_INT, 0 },
		{ "LIVE", "live", COL_INT, 0 },
		{ "IDLE", "idle", COL_INT, 0 },
		{ "BUSY", "busy", COL_INT, 0 },
		{ "QUEUED", "queued", COL_INT, 0 },
		{ "COMPLETED", "completed", COL_INT, 0 },
		{ "FAILED", "failed", COL_INT, 0 },
		{ "CRASHED", "crashed", COL_INT, 0 },
		{ "STATE", "state", COL_TEXT, 0 },
	};
	static const struct ctl_col busy[] = {
		{ "PID", "pid", COL_INT, 0 },
		{ "TYPE", "type", COL_TEXT, 0 },
		{ "JOB", "job", COL_INT, 0 },
		{ "ELAPSED", "elapsed_s", COL_SECONDS, 0 },
		{ "PROGRESS", "progress", COL_PROGRESS, 0 },
		{ "MEMORY", "rss_bytes", COL_BYTES, 0 },
	};
	json_t		*a, *t;
	size_t		 i;
	const char	*state;

	printf("master pid %lld on node %s, up %lld s, database %s, "
	    "%lld pending writes%s\n\n",
	    (long long)json_integer_value(json_object_get(st, "pid")),
	    json_string_value(json_object_get(st, "node")) ?: "?",
	    (long long)json_integer_value(json_object_get(st, "uptime_s")),
	    json_string_value(json_object_get(st, "database")) ?: "?",
	    (long long)json_integer_value(json_object_get(st, "pending_writes")),
	    json_is_true(json_object_get(st, "stopping")) ? ", stopping" : "");
	a = json_object_get(st, "types");
	json_array_foreach(a, i, t) {
		state = json_is_true(json_object_get(t, "removed")) ? "removed" :
		    json_is_true(json_object_get(t, "throttled")) ? "throttled" :
		    "ok";
		json_object_set_new(t, "state", json_string(state));
	}
	table_print(types, sizeof(types) / sizeof(types[0]), a);
	a = json_object_get(st, "busy");
	if (json_array_size(a) > 0) {
		putchar('\n');
		table_print(busy, sizeof(busy) / sizeof(busy[0]), a);
	} else
		printf("\nno busy child\n");
}

int
cmd_status(struct ctl *c)
{
	struct snapshot	 before, now;
	struct timespec	 pause = { 0, 20 * 1000 * 1000 };
	json_t		*st;
	json_error_t	 jerr;
	uint64_t	 deadline;
	pid_t		 pid;
	int		 rv = GWCTL_EXIT_OK, changed = 0;

	if (c->conf->pidfile == NULL || c->conf->status_file == NULL) {
		ctl_warnx("%s: status needs pidfile and status_file in [daemon]",
		    c->conf->path);
		return GWCTL_EXIT_USAGE;
	}
	if (master_pid(c->conf->pidfile, &pid) == -1)
		return GWCTL_EXIT_UNREACHABLE;
	snapshot(c->conf->status_file, &before);
	if (kill(pid, SIGUSR1) == -1) {
		ctl_warnx("kill(%d, SIGUSR1) failed (%d: %s): run as the "
		    "daemon's user or root", (int)pid, errno, strerror(errno));
		free(before.text);
		return GWCTL_EXIT_UNREACHABLE;
	}
	deadline = now_ms() + (uint64_t)(c->timeout >= 0 ? c->timeout :
	    STATUS_WAIT_MS);
	memset(&now, 0, sizeof(now));
	for (;;) {
		snapshot(c->conf->status_file, &now);
		if ((changed = snapshot_changed(&before, &now)) && now.text)
			break;
		if (now_ms() >= deadline)
			break;
		free(now.text);
		now.text = NULL;
		nanosleep(&pause, NULL);
	}
	if (!changed || now.text == NULL) {
		ctl_warnx("master %d did not rewrite %s within %.1f s", (int)pid,
		    c->conf->status_file, (c->timeout >= 0 ? c->timeout :
		    STATUS_WAIT_MS) / 1000.0);
		rv = GWCTL_EXIT_TIMEOUT;
		goto done;
	}
	if ((st = json_loads(now.text, 0, &jerr)) == NULL) {
		ctl_warnx("%s:%d: %s", c->conf->status_file, jerr.line, jerr.text);
		rv = GWCTL_EXIT_NOTHING;
		goto done;
	}
	if (c->json)
		ctl_print_json(st);
	else
		print_status(st);
	json_decref(st);
done:
	free(before.text);
	free(now.text);
	return rv;
}

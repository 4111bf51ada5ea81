/*
 * forksrv.c: the master's side of the fork servers.
 *
 * NOTES
 *   Loading a job program's libraries (GDAL alone pulls in over a hundred)
 *   and registering its drivers costs more than many small jobs.  So a
 *   type's program is exec'd once, with GW_FORK_SERVER=1, as a server that
 *   has done that and opens nothing else (no connection, no thread); each
 *   child is then forked from it (src/worker.c, fork_server()).
 *
 *   Everything the master promises of a child still holds.  The server
 *   forks twice, so that each job's process is reparented to the master,
 *   which is a child subreaper (PR_SET_CHILD_SUBREAPER): the master reaps it
 *   with wait4, words its death, kills and heartbeats it like a child it
 *   exec'd itself.  The child's resource limits and niceness are the ones
 *   the master set on the server when it exec'd it (inherited by fork; CPU
 *   time starts again at zero in each process), and it runs one job in a
 *   process of its own.
 *
 *   A request is one datagram "fork" on the server's socket carrying the new
 *   child's end of a fresh socketpair (SCM_RIGHTS); the server answers "pid
 *   N".  The master waits for that answer at most FORK_WAIT_MS: a server
 *   that does not answer is killed and the child is started the classic way
 *   (fork and exec).  A server that dies is started again with back-off.
 *   A reload (a new configuration) or a new program file (an upgrade: its
 *   inode, size or mtime changed) replaces the server before the next fork.
 */
#include "config.h"

#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "geoworkerd.h"

#define FORK_WAIT_MS	2000

static const char *
program_path(struct gw_type *t, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", gw->conf->child_dir, t->name);
	return buf;
}

/* Has the program file changed since the server was exec'd? */
static int
program_changed(struct gw_type *t)
{
	struct stat	 st;
	char		 path[PATH_MAX];

	if (stat(program_path(t, path, sizeof(path)), &st) == -1)
		return 1;
	return st.st_ino != t->server_st.st_ino ||
	    st.st_dev != t->server_st.st_dev ||
	    st.st_size != t->server_st.st_size ||
	    st.st_mtim.tv_sec != t->server_st.st_mtim.tv_sec ||
	    st.st_mtim.tv_nsec != t->server_st.st_mtim.tv_nsec;
}

/* An upgrade: the idle children of the old program make way for new ones. */
static void
recycle_idle(struct gw_type *t)
{
	struct child	*ch;

	TAILQ_FOREACH(ch, &gw->children, entry)
		if (ch->type == t)
			child_stop(ch);		/* a busy one finishes its job */
}

/* A server that failed is started again after a back-off. */
static uint64_t
server_backoff(struct gw_type *t)
{
	uint64_t	 delay = respawn_delay(++t->server_deaths);

	t->server_next_ms = now_ms() + delay;
	return delay;
}

/* Stops the server; failed: it broke (else it is replaced or not wanted). */
static void
server_stop(struct gw_type *t, const char *why, int failed)
{
	uint64_t	 delay;

	if (t->server_pid <= 0)
		return;
	if (t->server_stopped)
		return;
	if (failed) {
		delay = server_backoff(t);
		log_warnx("%s: fork server %d died (%s); children are started "
		    "by exec until it is back (in %.1f s)", t->name,
		    (int)t->server_pid, why, delay / 1000.0);
	} else
		log_debug("%s: stopping fork server %d (%s)", t->name,
		    (int)t->server_pid, why);
	if (kill(t->server_pid, SIGKILL) == -1 && errno != ESRCH)
		log_warn("kill(%d, SIGKILL) failed", (int)t->server_pid);
	if (t->server_fd != -1)
		close(t->server_fd);
	t->server_fd = -1;
	t->server_ready = 0;
	/* server_pid stays until the reap, so that it is not mistaken for
	 * an unknown child. */
	t->server_stopped = 1;
}

static void
server_start(struct gw_type *t)
{
	static int	 subreaper;
	sigset_t	 all, old;
	char		 path[PATH_MAX];
	int		 sv[2];
	pid_t		 pid;

	if (!subreaper) {
		if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1) {
			log_warn("prctl(PR_SET_CHILD_SUBREAPER) failed; no fork "
			    "servers");
			subreaper = -1;
		} else
			subreaper = 1;
	}
	if (subreaper == -1)
		return;
	if (stat(program_path(t, path, sizeof(path)), &t->server_st) == -1)
		return;		/* child_spawn words the missing program */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("%s: socketpair failed", t->name);
		return;
	}
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	if ((pid = fork()) == 0) {
		close(sv[0]);
		child_exec(t, sv[1], gw->pid, 1);
		_exit(127);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(sv[1]);
	if (pid == -1) {
		log_warn("%s: fork failed", t->name);
		close(sv[0]);
		return;
	}
	setpgid(pid, pid);
	t->server_pid = pid;
	t->server_fd = sv[0];
	t->server_ready = 0;
	t->server_stopped = 0;
	t->server_generation = gw->conf->generation;
	t->server_conf = t->conf;
	log_debug("%s: started fork server %d", t->name, (int)pid);
}

/* Reads "server" (ready) if the server sent it; never blocks. */
static void
server_poll_ready(struct gw_type *t)
{
	char	 buf[32];
	ssize_t	 n;

	if (t->server_pid <= 0 || t->server_stopped || t->server_ready)
		return;
	n = recv(t->server_fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	if (n > 0) {
		buf[n] = '\0';
		if (strcmp(buf, "server") == 0) {
			t->server_ready = 1;
			t->server_deaths = 0;
			log_debug("%s: fork server %d ready", t->name,
			    (int)t->server_pid);
		}
	} else if (n == 0)
		server_stop(t, "its socket closed", 1);
}

/*
 * Keeps the type's server current: started when there is none (after its
 * back-off), replaced after a reload or an upgrade of the program.
 */
void
server_check(struct gw_type *t, uint64_t now)
{
	if (!t->conf.fork_server || t->removed || !t->conf.enabled ||
	    gw->stopping) {
		server_stop(t, "not wanted", 0);
		return;
	}
	if (t->server_pid > 0 && !t->server_stopped &&
	    (t->server_generation != gw->conf->generation ||
	    memcmp(&t->server_conf, &t->conf, sizeof(t->conf)) != 0))
		server_stop(t, "configuration reloaded", 0);
	else if (t->server_pid > 0 && !t->server_stopped && program_changed(t)) {
		server_stop(t, "its program changed", 0);
		recycle_idle(t);
	}
	if (t->server_pid == 0 && now >= t->server_next_ms)
		server_start(t);
	server_poll_ready(t);
}

/*
 * Asks the server for a new child.  Returns 0 with *pid and *fd (the
 * master's end of the child's socket), or -1: start it the classic way.
 */
int
server_fork(struct gw_type *t, pid_t *pid, int *fd)
{
	char		 buf[64], cbuf[CMSG_SPACE(sizeof(int))];
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cmsg;
	struct pollfd	 pfd;
	uint64_t	 deadline;
	ssize_t		 n;
	int		 sv[2], r;

	server_poll_ready(t);
	if (!t->server_ready || t->server_stopped)
		return -1;
	if (program_changed(t)) {
		server_stop(t, "its program changed", 0);
		recycle_idle(t);
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1)
		return -1;
	memset(&msg, 0, sizeof(msg));
	memset(cbuf, 0, sizeof(cbuf));
	iov.iov_base = "fork";
	iov.iov_len = 4;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf;
	msg.msg_controllen = sizeof(cbuf);
	cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &sv[1], sizeof(int));
	if (sendmsg(t->server_fd, &msg, MSG_NOSIGNAL) == -1) {
		log_warn("%s: sending to fork server %d failed", t->name,
		    (int)t->server_pid);
		goto fail;
	}
	close(sv[1]);
	sv[1] = -1;
	deadline = now_ms() + FORK_WAIT_MS;
	for (;;) {
		pfd.fd = t->server_fd;
		pfd.events = POLLIN;
		r = poll(&pfd, 1, (int)(deadline > now_ms() ?
		    deadline - now_ms() : 0));
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			log_warnx("%s: fork server %d did not answer", t->name,
			    (int)t->server_pid);
			goto fail;
		}
		n = recv(t->server_fd, buf, sizeof(buf) - 1, 0);
		if (n <= 0)
			goto fail;
		buf[n] = '\0';
		if (sscanf(buf, "pid %d", pid) == 1 && *pid > 0)
			break;
		if (strcmp(buf, "server") != 0)
			goto fail;
	}
	setpgid(*pid, *pid);
	*fd = sv[0];
	return 0;
fail:
	close(sv[0]);
	if (sv[1] != -1)
		close(sv[1]);
	server_stop(t, "it did not fork", 1);
	return -1;
}

/* Was pid a fork server?  Then it is accounted for here. */
int
server_reaped(pid_t pid, int status)
{
	struct gw_type	*t;
	uint64_t	 delay;
	char		 how[96];

	TAILQ_FOREACH(t, &gw->types, entry) {
		if (t->server_pid <= 0 || t->server_pid != pid)
			continue;
		if (!t->server_stopped) {
			delay = server_backoff(t);
			if (WIFSIGNALED(status))
				signal_text(WTERMSIG(status), how, sizeof(how));
			else
				snprintf(how, sizeof(how), "status %d",
				    WEXITSTATUS(status));
			log_warnx("%s: fork server %d died (%s); children are "
			    "started by exec until it is back (in %.1f s)",
			    t->name, (int)pid, how, delay / 1000.0);
		}
		if (!t->server_stopped && t->server_fd != -1)
			close(t->server_fd);
		t->server_fd = -1;
		t->server_pid = 0;
		t->server_ready = 0;
		t->server_stopped = 0;
		return 1;
	}
	return 0;
}

void
servers_stop(void)
{
	struct gw_type	*t;

	TAILQ_FOREACH(t, &gw->types, entry)
		server_stop(t, "stopping", 0);
}

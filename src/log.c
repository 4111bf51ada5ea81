/*
 * log.c: one line per event on stderr, which is the journal under systemd or
 * a worker_<type>.log file when log_dir is set.
 *
 * NOTES
 *   Every line carries the time, the level, the process name and pid, and the
 *   job type and id when the process holds a job:
 *     2026-11-29T14:10:17.123Z info hotspot_analysis[812] job 42: started
 *   Lines are written with one write(2) so that lines of children sharing a
 *   file do not interleave.  Safe to call from the master loop, never from a
 *   signal handler.
 *
 *   When stderr is the journal's stream (JOURNAL_STREAM names its device and
 *   inode: systemd sets it so), each event goes to journald as one entry
 *   instead, with fields it can filter on: MESSAGE, PRIORITY (7 debug,
 *   6 info, 4 warning, 3 error), SYSLOG_IDENTIFIER=geoworkerd, NODE, and
 *   JOB_ID and JOB_TYPE while the process holds a job (and on the master's
 *   lines about a job: see log_settypes).  The entry is one
 *   datagram of journald's native protocol on its socket
 *   (https://systemd.io/JOURNAL_NATIVE_PROTOCOL/), what sd_journal_send(3)
 *   sends: written here so that the job programs and geoworkerctl, which
 *   link this file, need not link libsystemd.  Should the datagram fail,
 *   the plain line goes to stderr, which is the journal too.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

static char		 log_proc[GW_NAMELEN] = "geoworkerd";
static char		 log_type[GW_NAMELEN];
static long long	 log_jobid;
static int		 log_debugging;
static char		 log_node[GW_NAMELEN];
static int		 journal_fd = -1;	/* -1: plain lines on stderr */
static int		(*log_istype)(const char *);	/* the master's types */

#define JOURNAL_SOCKET	"/run/systemd/journal/socket"

static const char *const level_names[] = { "debug", "info", "warning", "error" };

/* Whether stderr is the stream systemd connected to the journal. */
static int
stderr_is_journal(void)
{
	const char		*e = getenv("JOURNAL_STREAM");
	struct stat		 st;
	unsigned long long	 dev, ino;

	if (e == NULL || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &st) == -1)
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

/* Chooses between journal entries and plain lines, by what stderr is. */
static void
journal_setup(void)
{
	if (journal_fd != -1) {
		close(journal_fd);
		journal_fd = -1;
	}
	if (stderr_is_journal())
		journal_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
}

void
log_init(const char *procname, int debug)
{
	const char	*node;

	log_setproc(procname);
	log_debugging = debug;
	/* A job program learns its node from the master's environment. */
	if (log_node[0] == '\0' && (node = getenv("GW_NODE_NAME")) != NULL)
		log_setnode(node);
	journal_setup();
}

void
log_setnode(const char *node)
{
	strlcpy(log_node, node ? node : "", sizeof(log_node));
}

/*
 * The master holds no job of its own, but many of its lines are about one:
 * "hotspot: child 812 took job 42 (attempt 1)", "job 42: published ...".
 * With istype set, a journal entry gets JOB_ID from the first "job N" of
 * such a line, and JOB_TYPE from its "TYPE: " prefix when istype knows it.
 */
void
log_settypes(int (*istype)(const char *))
{
	log_istype = istype;
}

/* The job a master's line is about, by the convention above. */
static void
line_job(const char *msg, char *type, size_t typelen, long long *id)
{
	const char	*p;
	size_t		 n;

	*id = 0;
	type[0] = '\0';
	n = strspn(msg, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
	if (n > 0 && n < typelen && msg[n] == ':') {
		memcpy(type, msg, n);
		type[n] = '\0';
		if (!log_istype(type))
			type[0] = '\0';
	}
	for (p = msg; (p = strstr(p, "job ")) != NULL; p += 4)
		if ((p == msg || p[-1] == ' ') && p[4] >= '1' && p[4] <= '9') {
			*id = strtoll(p + 4, NULL, 10);
			break;
		}
	if (*id == 0)
		type[0] = '\0';
}

void
log_setproc(const char *procname)
{
	strlcpy(log_proc, procname, sizeof(log_proc));
}

void
log_setjob(const char *type, long long job_id)
{
	strlcpy(log_type, type ? type : "", sizeof(log_type));
	log_jobid = job_id;
}

/*
 * log_reopen: point stderr (and stdout) at path, opened for appending.
 * Returns -1 and leaves stderr as it was if path cannot be opened.
 */
int
log_reopen(const char *path)
{
	int	 fd;

	if (path == NULL)
		return 0;
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640)) == -1)
		return -1;
	if (dup2(fd, STDERR_FILENO) == -1 || dup2(fd, STDOUT_FILENO) == -1) {
		close(fd);
		return -1;
	}
	close(fd);
	journal_setup();
	return 0;
}

/*
 * Sends one journal entry: MESSAGE is pre followed by the len bytes of msg
 * (any bytes: the protocol's binary form), and msg[len] is the newline that
 * ends the field.  Returns -1 if journald did not take it.
 */
static int
journal_send(enum gw_loglevel level, const char *pre, const char *msg,
    size_t len)
{
	static const int	 prio[] = { 7, 6, 4, 3 };
	struct sockaddr_un	 sun;
	struct msghdr		 mh;
	struct iovec		 iov[5];
	unsigned char		 size[8];
	char			 fields[512];
	uint64_t		 l = strlen(pre) + len;
	char			 jtype[GW_NAMELEN];
	long long		 jid = log_jobid;
	int			 i, n;

	for (i = 0; i < 8; i++)
		size[i] = (unsigned char)(l >> (8 * i));	/* little-endian */
	n = snprintf(fields, sizeof(fields), "PRIORITY=%d\n"
	    "SYSLOG_IDENTIFIER=geoworkerd\n", prio[level]);
	if (log_node[0] != '\0' && n > 0 && (size_t)n < sizeof(fields))
		n += snprintf(fields + n, sizeof(fields) - n, "NODE=%s\n",
		    log_node);
	strlcpy(jtype, log_type, sizeof(jtype));
	if (jid == 0 && log_istype != NULL)
		line_job(msg, jtype, sizeof(jtype), &jid);
	if (jid > 0 && n > 0 && (size_t)n < sizeof(fields))
		n += snprintf(fields + n, sizeof(fields) - n, "JOB_ID=%lld\n",
		    jid);
	if (jid > 0 && jtype[0] != '\0' && n > 0 && (size_t)n < sizeof(fields))
		n += snprintf(fields + n, sizeof(fields) - n, "JOB_TYPE=%s\n",
		    jtype);
	if (n < 0 || (size_t)n >= sizeof(fields))
		return -1;
	iov[0].iov_base = fields;
	iov[0].iov_len = (size_t)n;
	iov[1].iov_base = "MESSAGE\n";
	iov[1].iov_len = 8;
	iov[2].iov_base = size;
	iov[2].iov_len = sizeof(size);
	iov[3].iov_base = (void *)pre;
	iov[3].iov_len = strlen(pre);
	iov[4].iov_base = (void *)msg;
	iov[4].iov_len = len + 1;	/* and its newline */
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strlcpy(sun.sun_path, JOURNAL_SOCKET, sizeof(sun.sun_path));
	memset(&mh, 0, sizeof(mh));
	mh.msg_name = &sun;
	mh.msg_namelen = sizeof(sun);
	mh.msg_iov = iov;
	mh.msg_iovlen = 5;
	return sendmsg(journal_fd, &mh, MSG_NOSIGNAL) == -1 ? -1 : 0;
}

void
vlog_msg(enum gw_loglevel level, int with_errno, const char *fmt, va_list ap)
{
	char		 line[4096], stamp[32];
	struct timespec	 ts;
	struct tm	 tm;
	size_t		 len, head, pidend, start;
	int		 saved_errno = errno, n;

	if (level == GW_LOG_DEBUG && !log_debugging)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line, sizeof(line), "%s.%03ldZ %s ", stamp,
	    ts.tv_nsec / 1000000, level_names[level]);
	head = n > 0 ? (size_t)n : 0;
	n = snprintf(line + head, sizeof(line) - head, "%s", log_proc);
	head += n > 0 ? (size_t)n : 0;
	n = snprintf(line + head, sizeof(line) - head, "[%d]", (int)getpid());
	len = pidend = head + (n > 0 ? (size_t)n : 0);
	if (log_jobid > 0 && len < sizeof(line))
		len += snprintf(line + len, sizeof(line) - len, " job %lld", log_jobid);
	if (len < sizeof(line))
		len += snprintf(line + len, sizeof(line) - len, ": ");
	if (len < sizeof(line)) {
		n = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
		len += n > 0 ? (size_t)n : 0;
	}
	if (with_errno && len < sizeof(line))
		len += snprintf(line + len, sizeof(line) - len, " (%d: %s)",
		    saved_errno, strerror(saved_errno));
	if (len >= sizeof(line) - 1)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	/*
	 * The journal stamps, ranks and names the entry itself: its MESSAGE
	 * is the line without time, level and pid ("job 42: started", and
	 * the process name first in a job program's).
	 */
	if (journal_fd != -1) {
		if (strcmp(log_proc, "geoworkerd") == 0)
			start = pidend + (line[pidend] == ':' ? 2 : 1);
		else
			start = pidend;
		if (start < len && journal_send(level, start == pidend ?
		    log_proc : "", line + start, len - 1 - start) == 0) {
			errno = saved_errno;
			return;
		}
	}
	(void)write(STDERR_FILENO, line, len);
	errno = saved_errno;
}

#define LOGFN(name, level, with_errno)					\
void									\
name(const char *fmt, ...)						\
{									\
	va_list	 ap;							\
									\
	va_start(ap, fmt);						\
	vlog_msg(level, with_errno, fmt, ap);				\
	va_end(ap);							\
}
LOGFN(log_debug, GW_LOG_DEBUG, 0)
LOGFN(log_info, GW_LOG_INFO, 0)
LOGFN(log_warnx, GW_LOG_WARN, 0)
LOGFN(log_warn, GW_LOG_WARN, 1)

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog_msg(GW_LOG_ERR, 0, fmt, ap);
	va_end(ap);
	exit(GW_EXIT_ERROR);
}

void
fatal(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog_msg(GW_LOG_ERR, 1, fmt, ap);
	va_end(ap);
	exit(GW_EXIT_ERROR);
}

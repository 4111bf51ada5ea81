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
 */
#include "config.h"

#include <sys/time.h>
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

static const char *const level_names[] = { "debug", "info", "warning", "error" };

void
log_init(const char *procname, int debug)
{
	log_setproc(procname);
	log_debugging = debug;
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
	return 0;
}

void
vlog_msg(enum gw_loglevel level, int with_errno, const char *fmt, va_list ap)
{
	char		 line[4096], stamp[32];
	struct timespec	 ts;
	struct tm	 tm;
	size_t		 len;
	int		 saved_errno = errno, n;

	if (level == GW_LOG_DEBUG && !log_debugging)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line, sizeof(line), "%s.%03ldZ %s %s[%d]", stamp,
	    ts.tv_nsec / 1000000, level_names[level], log_proc, (int)getpid());
	len = n > 0 ? (size_t)n : 0;
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

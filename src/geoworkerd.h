/*
 * geoworkerd.h: the master's structures and prototypes, grouped by file.
 *
 * NOTES
 *   The master knows nothing about the work: it forks and execs one program
 *   per job type, watches its children through a socket each and SIGCHLD,
 *   and keeps the background_jobs rows of the jobs they hold honest
 *   (heartbeats, failures, re-queues, orphans).  It links neither GEOS nor
 *   GDAL.
 */
#ifndef GW_GEOWORKERD_H
#define GW_GEOWORKERD_H

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "common.h"

enum child_state {
	CHILD_NEW,		/* allocated, not yet counted */
	CHILD_STARTING,		/* forked, not yet connected and listening */
	CHILD_IDLE,		/* waiting for a job */
	CHILD_BUSY,		/* holds job_id */
	CHILD_STOPPING,		/* told to exit (reload, shutdown, surplus) */
	CHILD_DEAD		/* reaped; about to be freed */
};

/* Why the master itself killed a child: words the job's failure. */
enum kill_reason {
	KILL_NONE,
	KILL_TIMEOUT,		/* wall clock: timeout */
	KILL_CANCEL,		/* the job was cancelled or taken away */
	KILL_SHUTDOWN		/* shutdown_grace ran out: re-queue */
};

struct gw_type;

struct child {
	pid_t			 pid;
	int			 fd;		/* our end of the socketpair */
	struct gw_type		*type;
	enum child_state	 state;
	enum kill_reason	 killed;
	long long		 job_id;	/* 0: none held */
	int			 attempts;	/* fences the job row */
	long long		 wait_ms;	/* how long the job was queued */
	int			 done;		/* sent "done": outcome recorded */
	uint64_t		 forked_ms;
	uint64_t		 ready_ms;
	uint64_t		 job_start_ms;
	double			 progress;
	char			 progress_msg[200];
	int			 progress_dirty;
	int			 outcome;	/* metrics: what "done" said */
	TAILQ_ENTRY(child)	 entry;
};
TAILQ_HEAD(childlist, child);

/* What a child's "done" message said (metrics.c tells them apart). */
#define CHILD_OUTCOME_NONE	0
#define CHILD_OUTCOME_COMPLETED	1
#define CHILD_OUTCOME_FAILED	2

/*
 * A histogram as OpenMetrics exposes it: bucket[i] counts the observations
 * <= the i-th bound of its kind (metrics.c holds the bounds), the last one
 * is +Inf.  Counts are per bucket here, made cumulative when exposed.
 */
#define GW_HIST_BUCKETS	14
struct gw_hist {
	uint64_t		 bucket[GW_HIST_BUCKETS];
	uint64_t		 count;
	double			 sum;
};

/*
 * A job type's metrics: one outcome per run that ended (see doc/metrics.md),
 * and the queue as the database last said (queued -1: not known).  They
 * live in struct gw_type, so a reload keeps them.
 */
struct gw_typemetrics {
	uint64_t		 completed, failed, crashed, timed_out;
	uint64_t		 cancelled, interrupted;
	struct gw_hist		 duration;	/* claim to reap, seconds */
	struct gw_hist		 wait;		/* queued to claimed, seconds */
	long			 queued;
	double			 oldest_s;
};

/* A job type's live state; survives reloads, which replace conf. */
struct gw_type {
	char			 name[GW_NAMELEN];
	struct gw_typeconf	 conf;
	int			 removed;	/* gone from the INI on reload */
	int			 live, idle, busy;
	unsigned long		 completed, failed, crashed;
	struct gw_typemetrics	 m;
	int			 early_deaths;	/* in a row, before a claim */
	uint64_t		 next_spawn_ms;	/* throttle */
	/* The fork server (forksrv.c); server_fd is valid while server_pid
	 * > 0 and !server_stopped. */
	pid_t			 server_pid;
	int			 server_fd;
	int			 server_ready;
	int			 server_stopped;	/* killed, not yet reaped */
	int			 server_deaths;
	uint64_t		 server_next_ms;
	unsigned long		 server_generation;
	struct gw_typeconf	 server_conf;
	struct stat		 server_st;	/* its program when exec'd */
	TAILQ_ENTRY(gw_type)	 entry;
};
TAILQ_HEAD(typelist, gw_type);

struct master {
	struct gw_config	*conf;
	struct typelist		 types;
	struct childlist	 children;
	pid_t			 pid;
	int			 debug;
	int			 stopping;
	int			 draining;	/* SIGUSR2: no deadline */
	uint64_t		 stop_deadline_ms;	/* UINT64_MAX: none */
	uint64_t		 started_ms;
	time_t			 started_at;
	int			 nchildren;
};

extern struct master	*gw;

/* children.c */
int	 child_limits(const struct gw_typeconf *, char *err, size_t errlen);
void	 child_exec(struct gw_type *, int fd, pid_t master, int server)
	    __attribute__((noreturn));
int	 child_spawn(struct gw_type *);
void	 child_reap(void);
void	 child_read(struct child *);
void	 child_stop(struct child *);
void	 child_kill(struct child *, enum kill_reason);
struct child *child_by_job(long long);
void	 children_check_timeouts(uint64_t now);
void	 children_spawn_due(uint64_t now, uint64_t *next);
uint64_t respawn_delay(int deaths);
const char *signal_text(int sig, char *buf, size_t len);

/* forksrv.c */
void	 server_check(struct gw_type *, uint64_t now);
int	 server_fork(struct gw_type *, pid_t *pid, int *fd);
int	 server_reaped(pid_t, int status);
void	 servers_stop(void);

/* metrics.c */
void	 metrics_reload(void);		/* (re)opens metrics_listen */
void	 metrics_close(void);
int	 metrics_pollfds(struct pollfd *, int max);
void	 metrics_handle(const struct pollfd *, int n);
void	 metrics_timers(uint64_t now, uint64_t *next);
void	 metrics_child_read(struct child *);
void	 metrics_child_gone(struct child *, int status);
void	 metrics_queue(const char *type, long queued, double oldest_s);
int	 metrics_queue_refresh(uint64_t now, int force);
#define GW_METRICS_MAXFD	5	/* the listener and 4 clients */

/* db.c */
void	 db_init(void);
void	 db_close(void);
int	 db_up(void);
int	 db_socket(void);
void	 db_poll(uint64_t now, uint64_t *next);
void	 db_read(void);
void	 db_heartbeat(void);
void	 db_startup_sweep(void);
void	 db_child_lost(const char *type, long long job_id, int attempts,
	    pid_t pid, int retry, int uncount, int dblost, int outage,
	    const char *message);
int	 db_outage_since(uint64_t since_ms);
void	 db_staging_check(long long job_id, int attempts);
void	 db_staging_sweep(void);
int	 db_queue_stats(void (*)(const char *type, long queued, double oldest_s));
int	 db_pending(void);
void	 db_flush(uint64_t deadline_ms);

/* status.c */
void	 status_dump(void);
void	 status_title(void);

/* master.c */
struct gw_type *type_find(const char *name);

#endif

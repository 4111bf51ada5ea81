/*
 * common.h: what the master and every job program share: logging, unit
 * parsing (sizes, durations) and the configuration.
 *
 * NOTES
 *   Functions return 0 on success and -1 on failure unless their comment says
 *   otherwise.  Nothing here links GEOS, PROJ or GDAL.
 */
#ifndef GW_COMMON_H
#define GW_COMMON_H

#include <sys/types.h>
#include <sys/queue.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define GW_NAMELEN	64	/* a job type or identifier, NUL included */
#define GW_XSTR(x)	#x
#define GW_STR(x)	GW_XSTR(x)	/* a macro's value as a string literal */

/*
 * Exit codes of a job program, read by the master to word the failure of the
 * job the child held (see doc/geoworkerd.8).
 */
#define GW_EXIT_OK		0	/* job recorded, or idle child told to stop */
#define GW_EXIT_ERROR		1	/* unexpected failure */
#define GW_EXIT_USAGE		2	/* bad arguments or environment */
#define GW_EXIT_NOMEM		3	/* an allocation failed: memory_limit */
#define GW_EXIT_DBLOST		4	/* the database went away */
#define GW_EXIT_FENCED		5	/* the job was taken away (cancelled, orphaned) */

/*
 * A database outage (the master lost its connection too) re-queues the jobs
 * it interrupted without spending an attempt, but only this many times per
 * job: a job whose own work crashes the server would otherwise run for ever.
 */
#define GW_MAX_FREE_LOSSES	3

/* log.c */
enum gw_loglevel { GW_LOG_DEBUG, GW_LOG_INFO, GW_LOG_WARN, GW_LOG_ERR };
void	 log_init(const char *procname, int debug);
void	 log_setproc(const char *procname);
void	 log_setjob(const char *type, long long job_id);
void	 log_setnode(const char *node);	/* NODE= of journal entries */
void	 log_settypes(int (*)(const char *));	/* JOB_TYPE= of the master's */
int	 log_reopen(const char *path);	/* stderr now goes to path; NULL: keep */
void	 log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 fatalx(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
void	 fatal(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
void	 vlog_msg(enum gw_loglevel, int with_errno, const char *, va_list);

/* util.c */
int	 parse_size(const char *, uint64_t *);		/* "2G", "512M", "unlimited" */
int	 parse_duration(const char *, uint64_t *);	/* "30s", "5m", "2h", ms */
int	 parse_bool(const char *, int *);
int	 parse_int(const char *, long long, long long, long long *);
const char *format_size(uint64_t, char *, size_t);
const char *format_duration(uint64_t, char *, size_t);
uint64_t now_ms(void);				/* CLOCK_MONOTONIC */
int	 valid_type_name(const char *);
void	*xcalloc(size_t, size_t);
char	*xstrdup(const char *);

/* outputs.c: a job's files (see the NOTES there) */
#define GW_STAGING	".staging"	/* under output_root */
int	 staging_dir(const char *root, long long id, int attempt, char *, size_t);
int	 published_dir(const char *root, long long id, char *, size_t);
int	 staging_parse(const char *name, long long *id, int *attempt);
int	 staging_publish(const char *root, long long id, int attempt);
int	 remove_tree(const char *path);	/* rm -r without following links */

/* config.c */
#define GW_UNLIMITED	UINT64_MAX

struct gw_typeconf {
	char			 name[GW_NAMELEN];
	int			 enabled;
	int			 fork_server;		/* fork jobs from a server */
	int			 children;
	uint64_t		 memory_limit;		/* bytes */
	uint64_t		 cpu_limit;		/* ms */
	uint64_t		 file_size_limit;	/* bytes */
	uint64_t		 open_files;		/* RLIMIT_NOFILE */
	uint64_t		 timeout;		/* ms, wall clock */
	int			 max_attempts;
	uint64_t		 retry_delay;		/* ms, doubled per attempt */
	uint64_t		 max_retry_delay;	/* ms, cap of the back-off */
	uint64_t		 keep_completed;	/* ms; GW_UNLIMITED: for ever */
	uint64_t		 keep_failed;
	uint64_t		 keep_cancelled;
	char			 job_role[GW_NAMELEN];	/* SET ROLE; "": none */
	char			 input_schemas[512];	/* "": the daemon's */
	int			 nice;
	int			 line;			/* where the section starts */
	TAILQ_ENTRY(gw_typeconf) entry;
};
TAILQ_HEAD(gw_typelist, gw_typeconf);

struct gw_config {
	unsigned long		 generation;		/* one per config_load */
	char			*path;
	char			*conninfo;
	char			*node_name;
	char			*pidfile;
	char			*status_file;
	char			*log_dir;
	char			*child_dir;
	char			*raster_root;
	char			*output_root;
	char			*output_schema;
	char			*user;			/* drop to it when root */
	char			*output_readers;	/* roles, comma-separated */
	char			*output_group;		/* Unix group of files */
	char			*input_schemas;		/* schemas jobs may read */
	char			*metrics_listen;	/* host:port, or NULL */
	uint64_t		 poll_interval;		/* ms */
	uint64_t		 heartbeat_interval;	/* ms */
	uint64_t		 orphan_timeout;	/* ms */
	uint64_t		 shutdown_grace;	/* ms */
	uint64_t		 db_timeout;		/* ms: connect and statement */
	uint64_t		 max_respawn_delay;	/* ms: throttle ceiling */
	struct gw_typeconf	 defaults;
	struct gw_typelist	 types;
};

/*
 * config_load: parse path into a new configuration.  On failure returns NULL
 * and writes "file:line: what is wrong" into err.
 */
struct gw_config *config_load(const char *path, char *err, size_t errlen);
int	 valid_name_list(const char *, int list);
void	 config_free(struct gw_config *);
struct gw_typeconf *config_type(struct gw_config *, const char *name);

#endif

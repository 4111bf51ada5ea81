/*
 * ctl.h: geoworkerctl(8), the operator's command-line tool.  It reads the
 * daemon's INI (src/config.c) for the connection and the pid and status
 * files, and talks to the queue through libpq and the SQL functions of
 * sql/geoworkerd.sql, never through ad-hoc UPDATEs.
 *
 * NOTES
 *   Every command prints a human-readable table by default and one JSON
 *   document with --json.  Exit codes are the GWCTL_EXIT_* below, documented
 *   in geoworkerctl(8); a command function returns one of them.
 *   Nothing here links GEOS, PROJ or GDAL.
 */
#ifndef GW_CTL_H
#define GW_CTL_H

#include <stdint.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "common.h"

#define GWCTL_EXIT_OK		0	/* done; the job completed */
#define GWCTL_EXIT_NOTHING	1	/* nothing done; the job failed or was cancelled */
#define GWCTL_EXIT_USAGE	2	/* bad arguments or configuration */
#define GWCTL_EXIT_UNREACHABLE	3	/* no master runs, or no database */
#define GWCTL_EXIT_TIMEOUT	4	/* --timeout passed */

/* The command line, once parsed; unset options are NULL or -1. */
struct ctl {
	struct gw_config	*conf;
	int			 json;		/* --json */
	const char		*status;	/* --status */
	const char		*type;		/* --type */
	const char		*key;		/* --key */
	int64_t			 older_than;	/* --older-than, ms */
	int64_t			 newer_than;	/* --newer-than, ms */
	int64_t			 timeout;	/* --timeout, ms */
	int64_t			 delay;		/* --delay, ms */
	long long		 limit;		/* --limit */
	long long		 priority;	/* --priority */
	long long		 max_attempts;	/* --max-attempts */
	int			 wait;		/* --wait */
	int			 argc;		/* the command's operands */
	char			**argv;
	PGconn			*conn;		/* opened by ctl_connect() */
	int			 noticed;	/* the server sent a NOTICE */
};

/* geoworkerctl.c */
int	 ctl_connect(struct ctl *);
PGresult *ctl_query(struct ctl *, const char *sql, int n,
	    const char *const *params);
json_t	*ctl_query_json(struct ctl *, const char *sql, int n,
	    const char *const *params);
int	 ctl_job_id(const char *, long long *);
void	 ctl_print_json(json_t *);
void	 ctl_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));

/* table.c: aligned columns for the human-readable output. */
enum ctl_col_kind { COL_TEXT, COL_INT, COL_TIME, COL_PROGRESS, COL_SECONDS,
	COL_BYTES };
struct ctl_col {
	const char		*head;
	const char		*key;
	enum ctl_col_kind	 kind;
	int			 max;		/* cut longer text; 0: never */
};
void	 table_print(const struct ctl_col *, size_t ncols, json_t *rows);
char	*table_cell(const struct ctl_col *, json_t *row, char *buf, size_t len);

/* status.c: the running master's own view (SIGUSR1, status_file). */
int	 cmd_status(struct ctl *);

/* queue.c: the background_jobs queue. */
int	 cmd_nodes(struct ctl *);
int	 cmd_jobs(struct ctl *);
int	 cmd_show(struct ctl *);
int	 cmd_enqueue(struct ctl *);
int	 cmd_wait(struct ctl *);
int	 cmd_cancel(struct ctl *);
int	 cmd_retry(struct ctl *);
int	 cmd_dismiss(struct ctl *);
int	 cmd_purge(struct ctl *);

#endif

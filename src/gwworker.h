/*
 * gwworker.h: the runtime every job program links (src/worker.c).
 *
 * A job program is a main() that calls gw_worker_main() with its job type and
 * one function that runs a job.  The runtime connects to PostgreSQL, LISTENs,
 * claims one job of the type with FOR UPDATE SKIP LOCKED, tells the master
 * which job it holds, opens a transaction on job->conn and calls the function.
 * On success it writes the result and status 'completed' in that same
 * transaction (so the job's output and its status commit together), fenced so
 * that a job taken away meanwhile (cancelled, orphan-swept) is not
 * overwritten; on failure it rolls back and records status 'failed' with the
 * message the function gave.  Then the process exits; the master starts a new
 * one.
 *
 * Run by hand (no master): PROGRAM -c /etc/geoworkerd.ini [-j JOBID] [-d]
 * claims the next job of its type, or job JOBID if it is queued, and runs it.
 */
#ifndef GW_GWWORKER_H
#define GW_GWWORKER_H

#include <stdarg.h>
#include <libpq-fe.h>
#include <jansson.h>

#include "common.h"

/* What a job program may know of the daemon's configuration. */
struct gw_settings {
	const char	*node_name;
	const char	*output_schema;	/* vector outputs and views go here */
	const char	*raster_root;	/* raster inputs resolve inside it */
	const char	*output_root;	/* raster outputs: output_root/<job id>/ */
	const char	*output_readers; /* roles granted SELECT on outputs, or NULL */
	const char	*output_group;	/* group that may read output files, or NULL */
	const char	*input_schemas;	/* schemas a job may read (+ output_schema) */
	const char	*job_role;	/* the role the job runs as, or NULL */
};

struct gw_job {
	long long			 id;
	const char			*type;
	json_t				*params;	/* owned by the runtime */
	int				 attempts;	/* this one included */
	PGconn				*conn;		/* in BEGIN; never COMMIT it */
	const struct gw_settings	*settings;
	char				 error[2048];	/* set by gw_job_error */
	struct gw_cleanup		*cleanups;
};

/*
 * A job function.  Returns 0 with *result set to a new JSON object (the
 * runtime takes it, and adds "elapsed_ms"), or -1 after gw_job_error() said
 * why, in words a GIS user can act on.  Everything it created in job->conn is
 * rolled back on -1.
 */
typedef int (*gw_job_fn)(struct gw_job *job, json_t **result);

/*
 * gw_worker_idle: fn runs once in a job process whose first claim found no
 * job, before it waits for one: it prepares what the program's jobs will
 * need (a library in the backend, a database of PROJ's), in time that no
 * job waits for.  It never delays a job: a process that finds a job at once
 * does not call it.  fn may run SQL on conn and must leave the session idle
 * outside a transaction; it reports nothing (a failure there is the job's
 * to meet).  Call before gw_worker_main().
 */
typedef void (*gw_idle_fn)(PGconn *conn);
void	 gw_worker_idle(gw_idle_fn fn);

/* Never returns: exits with one of the GW_EXIT_* codes of common.h. */
int	 gw_worker_main(int argc, char *argv[], const char *type, gw_job_fn run)
	    __attribute__((noreturn));

/* Sets the job's error message (the first call wins) and returns -1. */
int	 gw_job_error(struct gw_job *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/* Copies the message of a failed libpq result or connection into the job's
 * error, after prefix ("reading input: ..."), and returns -1. */
int	 gw_job_pgerror(struct gw_job *, const char *prefix, PGresult *);

/*
 * Reports progress (0..1) and a short message.  Cheap: sent to the master,
 * which writes it to background_jobs at most once a second; also logged at
 * most every 10 % or 30 s.
 */
void	 gw_progress(struct gw_job *, double fraction, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

/* Runs fn(arg) if the job fails or its transaction does not commit (files
 * written outside the database, say).  Returns -1 only if out of memory. */
int	 gw_job_on_failure(struct gw_job *, void (*fn)(void *), void *arg);

/*
 * Parameter accessors.  Each returns 0 and stores the value (or the default
 * when the key is absent or JSON null and def is given), or -1 with a job
 * error naming the parameter and what was expected.  A required parameter is
 * one whose accessor is called with required = 1.
 */
int	 gw_param_check_keys(struct gw_job *, const char *const allowed[]);
int	 gw_param_string(struct gw_job *, const char *key, int required,
	    const char *def, const char **out);
int	 gw_param_bool(struct gw_job *, const char *key, int def, int *out);
int	 gw_param_int(struct gw_job *, const char *key, long long def,
	    long long min, long long max, long long *out);
int	 gw_param_double(struct gw_job *, const char *key, double def,
	    double min, double max, double *out);	/* def NAN: required */

/*
 * Files.  A job that writes files writes them only into the directory
 * gw_job_staging() returns (made on the first call; owned by the runtime),
 * which is this attempt's own.  After the job's 'completed' status has
 * committed, the runtime renames it to output_root/<job id>/, the place
 * readers look (gw_job_output_path() names a file there, for the result);
 * if the job fails, is taken away or dies, the staging directory is removed
 * (by the runtime, else by the master).  Returns NULL with a job error.
 */
const char *gw_job_staging(struct gw_job *);
int	 gw_job_output_path(struct gw_job *, const char *name, char *buf,
	    size_t len);

/*
 * Locks output_schema.name for this job until it ends, so that no other
 * running job writes an output of that name: 0, or -1 with the job error
 * "output: job N is writing schema.name; ...".  Call it as soon as the name
 * is known (gw_output_name does, for the "output" parameter).
 */
int	 gw_job_lock_output(struct gw_job *, const char *name);

/*
 * Returns 0 if jobs may read schema.name (a relation the catalog resolved
 * for parameter param): its schema is in input_schemas or is the output
 * schema.  Else -1 with a job error naming the parameter and the rule.
 */
int	 gw_job_check_readable(struct gw_job *, const char *param,
	    const char *schema, const char *name);

/* Exits at once with GW_EXIT_NOMEM: the master records the job "out of
 * memory (memory_limit N)".  For allocation failures in job code. */
void	 gw_nomem(void) __attribute__((noreturn));

/* Runs sql with text parameters in the job's transaction.  Returns the result
 * (PQclear it) or NULL after setting the job error "what: <server message>". */
PGresult *gw_exec(struct gw_job *, const char *what, const char *sql,
	    int nparams, const char *const *values);

#endif

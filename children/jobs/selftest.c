/*
 * selftest.c: a job program for the tests only (built by make check, never
 * installed).  Its parameters make it behave like a job that succeeds,
 * fails, or dies in each way the master must report:
 *
 *   {"sleeper": true}        first fork a grandchild that sleeps 300 s and
 *                            report its pid as progress "sleeper <pid>"
 *                            (a timeout or cancel must kill it too)
 *   {"sleep": 2.5}           wall-clock time (timeout, heartbeats, cancel)
 *   {"spin": 3}              CPU time (cpu_limit)
 *   {"allocate": 3e9}        bytes, touched (memory_limit)
 *   {"signal": 11}           raise a signal (crash reporting)
 *   {"exit": 7}              exit with a status while holding the job
 *   {"fail": "message"}      fail the job with that message
 *   {"result": {...}}        merged into the result JSON
 *   {"kill_backend": 15}     send the signal to the job's own backend
 *                            (as root: a connection lost by one job;
 *                            9 crashes the whole cluster)
 *   {"file": "name"}         write a file into the job's staging
 *                            directory (published with the completion)
 *   {"table": "name"}        create output_schema.name in the job's
 *                            transaction (atomic output with the status)
 *   {"output": "name"}       the same, named as a job names its output
 *                            (the runtime's output lock; result "output")
 *   {"progress": 4}          report progress in that many steps
 *   {"show": ["lock_timeout"]} the session's settings, in result "show"
 *
 * Steps run in the order above, so {"sleep": 1, "signal": 9} sleeps first,
 * except that "file" and "table" are written before "sleep" when
 * "write_first" is true (a job killed while its output exists).
 * Its job type is the name it is run under, so that a test can make several
 * types of it with symbolic links.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gwworker.h"

static const char *const keys[] = {
	"sleep", "spin", "allocate", "signal", "exit", "fail", "result",
	"table", "progress", "kill_backend", "file", "write_first", "sleeper", "output",
	"show", NULL
};

static void
sleep_ms(double ms)
{
	struct timespec	 ts;

	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)fmod(ms, 1000) * 1000000L;
	while (nanosleep(&ts, &ts) == -1)
		;
}

/* The settings named by "show", as the job's session sees them. */
static int
show_settings(struct gw_job *job, json_t *out)
{
	json_t		*names = json_object_get(job->params, "show"), *v, *shown;
	const char	*name;
	PGresult	*res;
	size_t		 i;

	if (names == NULL)
		return 0;
	if (!json_is_array(names))
		return gw_job_error(job, "show must be a list of setting names");
	if ((shown = json_object()) == NULL)
		gw_nomem();
	json_object_set_new(out, "show", shown);
	json_array_foreach(names, i, v) {
		if ((name = json_string_value(v)) == NULL)
			return gw_job_error(job, "show[%zu] must be a string", i);
		if ((res = gw_exec(job, "show", "SELECT current_setting($1)",
		    1, &name)) == NULL)
			return -1;
		json_object_set_new(shown, name,
		    json_string(PQgetvalue(res, 0, 0)));
		PQclear(res);
	}
	return 0;
}

/* Writes the file and the table the parameters ask for. */
static int
write_outputs(struct gw_job *job, json_t *out)
{
	const char	*table, *file, *dir;
	PGresult	*res;
	char		*sql, *ident, path[4096], final[4096];
	FILE		*fp;

	if (gw_param_string(job, "file", 0, NULL, &file) == -1)
		return -1;
	if (file != NULL) {
		if (strchr(file, '/') != NULL || file[0] == '.' || *file == '\0')
			return gw_job_error(job, "parameter 'file' must be a "
			    "plain file name");
		if ((dir = gw_job_staging(job)) == NULL)
			return -1;
		snprintf(path, sizeof(path), "%s/%s", dir, file);
		if ((fp = fopen(path, "w")) == NULL)
			return gw_job_error(job, "file: %s: %s", path,
			    strerror(errno));
		fprintf(fp, "job %lld attempt %d pid %d\n", job->id,
		    job->attempts, (int)getpid());
		if (fclose(fp) != 0)
			return gw_job_error(job, "file: %s: %s", path,
			    strerror(errno));
		if (gw_job_output_path(job, file, final, sizeof(final)) == -1)
			return -1;
		json_object_set_new(out, "path", json_string(final));
	}

	if (gw_param_string(job, "table", 0, NULL, &table) == -1)
		return -1;
	if (table == NULL && gw_param_string(job, "output", 0, NULL,
	    &table) == -1)
		return -1;
	if (table != NULL) {
		if ((ident = PQescapeIdentifier(job->conn, table,
		    strlen(table))) == NULL)
			return gw_job_pgerror(job, "parameter 'table'", NULL);
		sql = NULL;
		if (asprintf(&sql, "CREATE TABLE %s.%s AS SELECT 1 AS one",
		    job->settings->output_schema, ident) == -1)
			gw_nomem();
		PQfreemem(ident);
		res = gw_exec(job, "creating the table", sql, 0, NULL);
		free(sql);
		if (res == NULL)
			return -1;
		PQclear(res);
		if (asprintf(&sql, "%s.%s", job->settings->output_schema,
		    table) == -1)
			gw_nomem();
		json_object_set_new(out, "output", json_string(sql));
		free(sql);
	}
	return 0;
}

/* sleeper, then sleep (in progress steps if asked): wall-clock time. */
static int
selftest_wait(struct gw_job *job)
{
	double		 secs;
	long long	 steps, i;
	int		 sleeper;
	pid_t		 kid;

	if (gw_param_bool(job, "sleeper", 0, &sleeper) == -1)
		return -1;
	if (sleeper) {
		if ((kid = fork()) == 0) {
			sleep(300);
			_exit(0);
		}
		gw_progress(job, 0.01, "sleeper %d", (int)kid);
	}
	if (gw_param_double(job, "sleep", 0, 0, 86400, &secs) == -1 ||
	    gw_param_int(job, "progress", 0, 0, 1000, &steps) == -1)
		return -1;
	for (i = 1; i <= steps; i++) {
		sleep_ms(secs * 1000 / steps);
		gw_progress(job, (double)i / steps, "step %lld of %lld", i, steps);
	}
	if (steps == 0 && secs > 0)
		sleep_ms(secs * 1000);
	return 0;
}

/* spin, then allocate: CPU time and memory. */
static int
selftest_burn(struct gw_job *job)
{
	volatile unsigned char	*p;
	double			 secs, bytes;
	clock_t			 until;
	long long		 i;

	if (gw_param_double(job, "spin", 0, 0, 86400, &secs) == -1)
		return -1;
	until = clock() + (clock_t)(secs * CLOCKS_PER_SEC);
	while (clock() < until)
		;
	if (gw_param_double(job, "allocate", 0, 0, 1e15, &bytes) == -1)
		return -1;
	if (bytes > 0) {
		if ((p = malloc((size_t)bytes)) == NULL)
			gw_nomem();
		for (i = 0; i < (long long)bytes; i += 4096)
			p[i] = 1;
		free((void *)p);
	}
	return 0;
}

/* signal, exit, kill_backend: the ways to die. */
static int
selftest_die(struct gw_job *job)
{
	long long	 sig, code;

	if (gw_param_int(job, "signal", 0, 0, 64, &sig) == -1)
		return -1;
	if (sig > 0)
		raise((int)sig);
	if (gw_param_int(job, "exit", -1, 0, 255, &code) == -1)
		return -1;
	if (code >= 0)
		exit((int)code);
	if (gw_param_int(job, "kill_backend", 0, 0, 64, &sig) == -1)
		return -1;
	if (sig > 0) {
		kill(PQbackendPID(job->conn), (int)sig);
		sleep_ms(200);
	}
	return 0;
}

static int
run_selftest(struct gw_job *job, json_t **result)
{
	const char	*fail, *output;
	json_t		*extra, *out;
	int		 first;

	if (gw_param_check_keys(job, keys) == -1)
		return -1;
	/* As a job that names its output: locked from the start. */
	if (gw_param_string(job, "output", 0, NULL, &output) == -1 ||
	    (output != NULL && gw_job_lock_output(job, output) == -1))
		return -1;
	if ((out = json_object()) == NULL)
		gw_nomem();
	if (gw_param_bool(job, "write_first", 0, &first) == -1 ||
	    (first && write_outputs(job, out) == -1) ||
	    selftest_wait(job) == -1 || selftest_burn(job) == -1 ||
	    selftest_die(job) == -1 ||
	    gw_param_string(job, "fail", 0, NULL, &fail) == -1 ||
	    (!first && write_outputs(job, out) == -1))
		goto fail;
	if (show_settings(job, out) == -1)
		goto fail;
	if (fail != NULL) {
		gw_job_error(job, "%s", fail);
		goto fail;
	}
	*result = out;
	extra = json_object_get(job->params, "result");
	if (extra != NULL && json_is_object(extra))
		json_object_update(*result, extra);
	json_object_set_new(*result, "pid", json_integer(getpid()));
	return 0;
fail:
	json_decref(out);
	return -1;
}

int
main(int argc, char *argv[])
{
	const char	*name = strrchr(argv[0], '/');

	name = name ? name + 1 : argv[0];
	gw_worker_main(argc, argv, valid_type_name(name) ? name : "selftest",
	    run_selftest);
}

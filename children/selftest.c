/*
 * selftest.c: a job program for the tests only (built by make check, never
 * installed).  Its parameters make it behave like a job that succeeds,
 * fails, or dies in each way the master must report:
 *
 *   {"sleep": 2.5}           wall-clock time (timeout, heartbeats, cancel)
 *   {"spin": 3}              CPU time (cpu_limit)
 *   {"allocate": 3e9}        bytes, touched (memory_limit)
 *   {"signal": 11}           raise a signal (crash reporting)
 *   {"exit": 7}              exit with a status while holding the job
 *   {"fail": "message"}      fail the job with that message
 *   {"result": {...}}        merged into the result JSON
 *   {"table": "name"}        create output_schema.name in the job's
 *                            transaction (atomic output with the status)
 *   {"progress": 4}          report progress in that many steps
 *
 * Steps run in the order above, so {"sleep": 1, "signal": 9} sleeps first.
 * Its job type is the name it is run under, so that a test can make several
 * types of it with symbolic links.
 */
#include "config.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gwworker.h"

static const char *const keys[] = {
	"sleep", "spin", "allocate", "signal", "exit", "fail", "result",
	"table", "progress", NULL
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

static int
run_selftest(struct gw_job *job, json_t **result)
{
	double		 secs, bytes;
	long long	 sig, code, steps, i;
	const char	*fail, *table;
	json_t		*extra;
	PGresult	*res;
	char		*sql, *ident;
	volatile unsigned char *p;
	clock_t		 until;

	if (gw_param_check_keys(job, keys) == -1)
		return -1;
	if (gw_param_double(job, "sleep", 0, 0, 86400, &secs) == -1)
		return -1;
	if (gw_param_int(job, "progress", 0, 0, 1000, &steps) == -1)
		return -1;
	for (i = 1; i <= steps; i++) {
		sleep_ms(secs * 1000 / steps);
		gw_progress(job, (double)i / steps, "step %lld of %lld", i, steps);
	}
	if (steps == 0 && secs > 0)
		sleep_ms(secs * 1000);

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

	if (gw_param_int(job, "signal", 0, 0, 64, &sig) == -1)
		return -1;
	if (sig > 0)
		raise((int)sig);
	if (gw_param_int(job, "exit", -1, 0, 255, &code) == -1)
		return -1;
	if (code >= 0)
		exit((int)code);

	if (gw_param_string(job, "fail", 0, NULL, &fail) == -1)
		return -1;
	if (fail != NULL)
		return gw_job_error(job, "%s", fail);

	if (gw_param_string(job, "table", 0, NULL, &table) == -1)
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
	}

	if ((*result = json_object()) == NULL)
		gw_nomem();
	extra = json_object_get(job->params, "result");
	if (extra != NULL && json_is_object(extra))
		json_object_update(*result, extra);
	json_object_set_new(*result, "pid", json_integer(getpid()));
	return 0;
}

int
main(int argc, char *argv[])
{
	const char	*name = strrchr(argv[0], '/');

	name = name ? name + 1 : argv[0];
	gw_worker_main(argc, argv, valid_type_name(name) ? name : "selftest",
	    run_selftest);
}

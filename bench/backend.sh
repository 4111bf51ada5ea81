#!/bin/sh
# bench/backend.sh: what a job's statements cost its fresh backend, beside a
# bare connection, on one throwaway cluster (doc/performance.md).  Each line
# is `pgbench -C -t N` (a new connection per transaction, one client, a
# Unix socket with trust) running one script, and the CPU the postmaster's
# reaped children (the backends) and the postmaster used, per connection:
#   - a bare connection (SELECT 1);
#   - a SELECT by primary key on background_jobs (a table touched once);
#   - the claim alone (the child's UPDATE ... FOR UPDATE SKIP LOCKED);
#   - claim + outcome (BEGIN; SET LOCAL synchronous_commit = on; the
#     completing UPDATE; COMMIT), as an empty job's session sends them;
#   - the same with the done-notify trigger disabled (its PL/pgSQL);
#   - the claim with the secondary indexes, the triggers and the check
#     constraints dropped (what the schema itself costs).
# PRELOAD=plpgsql sets shared_preload_libraries.
# Run: sh bench/backend.sh [N]   (N connections a line, 400; wraps itself
# in pg_virtualenv)
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-400}
if [ -z "${PGHOST:-}" ]; then
	exec pg_virtualenv -t ${PRELOAD:+-o shared_preload_libraries=$PRELOAD} \
	    "$0" "$n"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export PGDATABASE=bbench PGOPTIONS='-c client_min_messages=warning'
createdb bbench
psql -X -q -f "$src/sql/geoworkerd.sql"
sockdir=$(psql -X -A -t -c "SHOW unix_socket_directories" | cut -d, -f1)
hba=$(psql -X -A -t -c "SHOW hba_file")
sed -i 's/^local\(.*\)\(peer\|md5\|scram-sha-256\)$/local\1trust/' "$hba"
psql -X -q -c "SELECT pg_reload_conf()" >/dev/null
pm=$(head -1 "$(psql -X -A -t -c "SHOW data_directory")/postmaster.pid")
cpu() { awk '{print $14 + $15 + $16 + $17}' "/proc/$1/stat"; }
sql() { psql -X -q -c "$1"; }

run() {	# $1: label, $2: script
	sql "TRUNCATE background_jobs; INSERT INTO background_jobs (job_type, params)
	    SELECT 'selftest', '{}' FROM generate_series(1, $n)"
	p0=$(cpu "$pm")
	# The job's start-up settings (src/worker.c, db_connect).
	out=$(PGOPTIONS="-c synchronous_commit=off -c idle_in_transaction_session_timeout=0" \
	    pgbench -n -C -c 1 -j 1 -t "$n" -f "$2" -h "$sockdir" bbench 2>&1)
	p1=$(cpu "$pm")
	printf '%-52s %7s conn/s  %6s ms CPU a connection\n' "$1" \
	    "$(echo "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | cut -d. -f1)" \
	    "$(echo "scale=1; ($p1 - $p0) * 1000 / $(getconf CLK_TCK) / $n" | bc)"
}

claim="UPDATE background_jobs j SET status = 'running', attempts = j.attempts + 1,
    started_at = now(), heartbeat_at = now(), completed_at = NULL,
    worker_host = 'bench', worker_pid = 1, progress = 0, progress_message = NULL,
    error_message = NULL, result = NULL
    FROM (SELECT id FROM background_jobs WHERE status = 'queued'
        AND job_type = 'selftest' AND run_after <= now()
        ORDER BY priority DESC, created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) c
    WHERE j.id = c.id RETURNING j.id \\gset"
echo "SELECT 1;" > "$work/bare.sql"
echo "SELECT id FROM background_jobs WHERE id = 1;" > "$work/pkey.sql"
echo "$claim" | tr '\n' ' ' > "$work/claim.sql"
echo >> "$work/claim.sql"
{ cat "$work/claim.sql"
  echo "BEGIN; SET LOCAL synchronous_commit = on;"
  echo "UPDATE background_jobs SET status = 'completed', result = '{\"elapsed_ms\": 0}', completed_at = clock_timestamp(), progress = 1 WHERE id = :id AND status = 'running';"
  echo "COMMIT;"; } > "$work/job.sql"

run "bare connection (SELECT 1)" "$work/bare.sql"
run "SELECT by primary key on background_jobs" "$work/pkey.sql"
run "claim" "$work/claim.sql"
run "claim + outcome (an empty job's statements)" "$work/job.sql"
sql "ALTER TABLE background_jobs DISABLE TRIGGER background_jobs_notify_done"
run "claim + outcome, done-notify trigger disabled" "$work/job.sql"
sql "DROP INDEX background_jobs_output_idx, background_jobs_finished_idx,
    background_jobs_key_idx, background_jobs_running_idx;
    ALTER TABLE background_jobs DISABLE TRIGGER USER;
    ALTER TABLE background_jobs DROP CONSTRAINT background_jobs_status_check,
    DROP CONSTRAINT background_jobs_progress_check"
run "claim, no secondary index, trigger or check" "$work/claim.sql"
run "bare connection (SELECT 1) again" "$work/bare.sql"

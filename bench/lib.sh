# bench/lib.sh: what the benches share.  Sourced first thing:
#
#   bench_setup USAGE "$@"   checks that a BUILDDIR is given; without PGHOST,
#                            runs the bench again inside pg_virtualenv (a
#                            throwaway cluster: fsync, synchronous_commit
#                            and autovacuum off, shared_buffers 256MB,
#                            work_mem 64MB); sets BUILDDIR and SRCDIR
#
# then, inside the cluster:
#
#   bench_init DB TYPE ...   a fresh database DB with the schema; $TMP (removed
#                            at exit) and $TMP/bench.ini naming TYPE ..., each
#                            with one child at nice 0; extra [daemon] lines
#                            from $BENCH_DAEMON ($TMP in them: that folder)
#   q SQL                    one statement in DB, unaligned, tuples only
#   pm_ticks                 CPU ticks of the backends that have exited (the
#                            postmaster's reaped children)
#   bench_start              geoworkerd -f on bench.ini (its log: $TMP/gw.log),
#                            ready when it returns, stopped at exit
#   bench_job TYPE PARAMS    runs one job through the daemon, as production
#                            does: a child forked from the type's fork server,
#                            connected and waiting before the job is queued;
#                            sets JOB_ID and JOB_CPU (ms: the job's process
#                            and its backend); exits if the job did not
#                            complete
#   jobq ID EXPR             EXPR of job ID's row (e.g. result->>'elapsed_ms')
#
# Its own variables start with an underscore or are named above, so that a
# bench's loop counters survive the calls.
#
# The job is queued with run_after 0.5 s ahead, so that the psql that queues
# it has exited, and its backend been reaped, before the CPU count starts.
# What the job costs is then the job's process (the master reaps it) and its
# backend (the postmaster reaps it), both counted when they exit.

HZ=$(getconf CLK_TCK)

bench_setup() {
	_usage=$1
	shift
	if [ $# -lt 1 ]; then
		echo "usage: $0 $_usage" >&2
		exit 2
	fi
	if [ -z "${PGHOST:-}" ]; then
		exec pg_virtualenv -t -o fsync=off -o synchronous_commit=off \
		    -o autovacuum=off -o shared_buffers=256MB -o work_mem=64MB \
		    "$0" "$@"
	fi
	PGOPTIONS='-c client_min_messages=warning'
	export PGOPTIONS
	BUILDDIR=$(cd "$1" && pwd)
	SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
}
MASTER=

bench_cleanup() {
	if [ -n "$MASTER" ]; then
		kill "$MASTER" 2>/dev/null || true
		wait "$MASTER" 2>/dev/null || true
	fi
	rm -rf "$TMP"
	[ -z "${DB:-}" ] || dropdb --force --if-exists "$DB" >/dev/null 2>&1 || true
}

bench_init() {
	DB=$1
	shift
	TMP=$(mktemp -d)
	trap bench_cleanup EXIT
	dropdb --if-exists "$DB" >/dev/null 2>&1 || true
	createdb "$DB"
	psql -X -q -d "$DB" -v ON_ERROR_STOP=1 -f "$SRCDIR/sql/geoworkerd.sql" \
	    >/dev/null 2>&1
	{
		printf '[database]\nconninfo = dbname=%s\n' "$DB"
		printf '[daemon]\nnode_name = bench\nchild_dir = %s/children\n' \
		    "$BUILDDIR"
		printf 'output_schema = analysis\npoll_interval = 200ms\n'
		[ "$(id -u)" != 0 ] || echo "user = root"
		[ -z "${BENCH_DAEMON:-}" ] ||
		    printf '%s\n' "$BENCH_DAEMON" | sed "s|\$TMP|$TMP|g"
		for _t in "$@"; do
			printf '[%s]\nchildren = 1\nnice = 0\n' "$_t"
		done
	} > "$TMP/bench.ini"
	PMPID=$(head -1 "$(q 'SHOW data_directory')/postmaster.pid")
}

q() { psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }

# (No psql here: its own backend would be counted.)
pm_ticks() { sed 's/.*) //' "/proc/$PMPID/stat" | awk '{print $14 + $15}'; }

master_ticks() { sed 's/.*) //' "/proc/$MASTER/stat" | awk '{print $14 + $15}'; }

bench_start() {
	"$BUILDDIR/src/geoworkerd" -f -c "$TMP/bench.ini" 2> "$TMP/gw.log" &
	MASTER=$!
	_waits=0
	until grep -q 'ready: ' "$TMP/gw.log"; do
		_waits=$((_waits + 1))
		if [ $_waits -ge 100 ] || ! kill -0 "$MASTER" 2>/dev/null; then
			cat "$TMP/gw.log" >&2
			exit 1
		fi
		sleep 0.1
	done
	sleep 1	# the children connect and wait
}

jobq() { q "SELECT $2 FROM background_jobs WHERE id = $1"; }

bench_job() {
	JOB_ID=$(q "INSERT INTO background_jobs (job_type, params, run_after)
	    VALUES ('$1', '$2', now() + interval '0.5 s') RETURNING id")
	sleep 0.25
	_p0=$(pm_ticks) _m0=$(master_ticks)
	_waits=0
	until grep -Eq "job $JOB_ID: (completed|failed)" "$TMP/gw.log"; do
		_waits=$((_waits + 1))
		if [ $_waits -ge 36000 ]; then	# an hour
			echo "job $JOB_ID ($1) did not end" >&2
			exit 1
		fi
		sleep 0.1
	done
	sleep 0.3	# the job's process and its backend are reaped
	JOB_CPU=$(( ($(pm_ticks) - _p0 + $(master_ticks) - _m0) * 1000 / HZ ))
	if [ "$(jobq "$JOB_ID" status)" != completed ]; then
		echo "job $JOB_ID ($1) $(jobq "$JOB_ID" status): $(jobq "$JOB_ID" error_message)" >&2
		exit 1
	fi
}

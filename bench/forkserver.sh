#!/bin/sh
# bench/forkserver.sh BUILDDIR [JOBS]: what the fork server saves on small
# GIS jobs.  JOBS tiny dissolve jobs (10 squares into one) and as many
# create_view jobs run through the daemon with 2 children, with
# fork_server = yes and = no, on one throwaway cluster; prints for each the
# jobs/s and the CPU per job of the master and its children (the job
# processes it reaps, and the fork server's own time), from /proc.
# Run: sh bench/forkserver.sh build [200]   (wraps itself in pg_virtualenv)
set -eu
build=$(cd "${1:?usage: bench/forkserver.sh BUILDDIR [JOBS]}" && pwd)
jobs=${2:-200}
src=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${PGHOST:-}" ]; then
	exec pg_virtualenv -t -o max_connections=100 "$0" "$build" "$jobs"
fi
work=$(mktemp -d)
trap 'kill $master 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
export PGDATABASE=fsbench PGOPTIONS='-c client_min_messages=warning'
createdb fsbench
psql -X -q -f "$src/sql/geoworkerd.sql"
psql -X -q -c "CREATE TABLE squares AS SELECT g AS id, g % 2 AS k,
    ST_MakeEnvelope(g, 0, g + 1, 1, 32633) AS geom FROM generate_series(1, 10) g;
    ALTER TABLE squares ADD PRIMARY KEY (id)"
sql() { psql -X -A -t -q -c "$1"; }
cpu() { awk '{print $14 + $15 + $16 + $17}' "/proc/$1/stat"; }
servers_cpu() {
	n=0
	for p in $(pgrep -P "$master" 2>/dev/null); do
		grep -q 'fork server' "/proc/$p/cmdline" 2>/dev/null &&
		    n=$((n + $(awk '{print $14 + $15}' "/proc/$p/stat")))
	done
	echo $n
}
run() {	# $1 fork_server, $2 type, $3 params
	cat > "$work/gw.ini" <<INI
[database]
conninfo = dbname=fsbench
[daemon]
$( [ "$(id -u)" = 0 ] && echo "user = root" )
node_name = fsbench
child_dir = $build/children
output_root = $work
[defaults]
nice = 0
fork_server = $1
children = 2
[$2]
INI
	"$build/src/geoworkerd" -f -c "$work/gw.ini" 2>"$work/gw.log" &
	master=$!
	until grep -q 'ready: ' "$work/gw.log"; do sleep 0.05; done
	sleep 1
	sql "TRUNCATE background_jobs; DROP SCHEMA analysis CASCADE; CREATE SCHEMA analysis"
	m0=$(cpu "$master"); s0=$(servers_cpu)
	t0=$(date +%s.%N)
	sql "INSERT INTO background_jobs (job_type, params) SELECT '$2', $3 FROM generate_series(1, $jobs) g"
	until [ "$(sql "SELECT count(*) FROM background_jobs WHERE status IN ('completed', 'failed')")" = "$jobs" ]; do sleep 0.5; done
	t1=$(date +%s.%N)
	m1=$(cpu "$master"); s1=$(servers_cpu)
	failed=$(sql "SELECT count(*) FROM background_jobs WHERE status = 'failed'")
	kill -TERM "$master"; wait "$master" || true
	echo "$2, fork_server = $1: $(echo "scale=1; $jobs / ($t1 - $t0)" | bc) jobs/s, CPU per job (master + children + server) $(echo "scale=2; ($m1 - $m0 + $s1 - $s0) * 1000 / $(getconf CLK_TCK) / $jobs" | bc) ms ($failed failed)"
}
for fs in yes no yes no; do
	run "$fs" dissolve "json_build_object('input', 'squares', 'fields', json_build_array('k'), 'output', 'd_' || g)::jsonb"
done
for fs in yes no; do
	run "$fs" create_view "json_build_object('input', 'squares', 'name', 'v_' || g)::jsonb"
done

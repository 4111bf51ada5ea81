#!/bin/sh
# bench/supervisor.sh BUILDDIR [JOBS]: the supervisor's own costs, beside the
# floor PostgreSQL sets, in one run on one throwaway cluster:
#   - wake-up latency: INSERT to 'running' with idle children (median, p99),
#     from the database's own timestamps (created_at -> started_at);
#   - throughput: empty selftest jobs completed per second with 2 children
#     (CHILDREN=n to change), over TCP and over a Unix socket with password
#     (scram-sha-256), and over a Unix socket with trust (as peer), beside
#     `pgbench -C` with 2 clients (a fresh connection per transaction: the
#     floor of one connection per job), with the CPU per job of the master,
#     the fork servers, the job processes and the backends, and pgbench's;
#   - the master's CPU time while idle for 30 s.
# PRELOAD=plpgsql (or any list) sets shared_preload_libraries.
# FORK_SERVER=no execs every child instead of forking it from the type's
# fork server (the default), to compare the two.
# Run: sh bench/supervisor.sh build [2000]   (wraps itself in pg_virtualenv)
set -eu
build=$(cd "${1:?usage: bench/supervisor.sh BUILDDIR [JOBS]}" && pwd)
jobs=${2:-2000}
src=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${PGHOST:-}" ]; then
	exec pg_virtualenv -t -o max_connections=100 -o track_commit_timestamp=on \
	    ${PRELOAD:+-o shared_preload_libraries=$PRELOAD} \
	    "$0" "$build" "$jobs"
fi
work=$(mktemp -d)
trap 'kill $master 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
export PGDATABASE=bench PGOPTIONS='-c client_min_messages=warning'
createdb bench
psql -X -q -f "$src/sql/geoworkerd.sql"
sockdir=$(psql -X -A -t -c "SHOW unix_socket_directories" | cut -d, -f1)
hba=$(psql -X -A -t -c "SHOW hba_file")
# Password authentication on the socket too, so both paths pay the same.
sed -i 's/^local\(.*\)peer$/local\1scram-sha-256/; s/^local\(.*\)trust$/local\1scram-sha-256/' "$hba"
psql -X -q -c "SELECT pg_reload_conf()"

start_daemon() {	# $1: conninfo
	cat > "$work/gw.ini" <<INI
[database]
conninfo = $1
[daemon]
node_name = bench
child_dir = $build/children
poll_interval = 5s
heartbeat_interval = 10s
$( [ "$(id -u)" = 0 ] && echo "user = root" )
[defaults]
nice = 0
fork_server = ${FORK_SERVER:-yes}
[selftest]
children = ${CHILDREN:-2}
INI
	"$build/src/geoworkerd" -f -c "$work/gw.ini" 2>"$work/gw.log" &
	master=$!
	until grep -q 'ready: ' "$work/gw.log"; do sleep 0.05; done
	sleep 0.5
}
stop_daemon() { kill -TERM "$master"; wait "$master" || true; }
sql() { psql -X -A -t -q -c "$1"; }

if [ -z "${SKIP_LATENCY:-}" ]; then
echo "== wake-up latency: INSERT to running, idle children (200 jobs, one at a time)"
start_daemon "dbname=bench host=localhost"
sql "TRUNCATE background_jobs"
sql "CREATE TABLE insert_xmin (id bigint, xmin_of_insert xid)"
i=0
while [ $i -lt 200 ]; do
	r=$(sql "INSERT INTO background_jobs (job_type, params) VALUES ('selftest', '{}') RETURNING id || ' ' || xmin")
	id=${r% *}
	until [ "$(sql "SELECT status FROM background_jobs WHERE id = $id")" = completed ]; do sleep 0.01; done
	sql "INSERT INTO insert_xmin VALUES ($id, '${r#* }')"
	sleep 0.15	# the replacement child connects and listens
	i=$((i + 1))
done
# created_at is the INSERT's transaction start, so it includes the commit
# (a WAL flush); the commit timestamp isolates what happens after it.
sql "SELECT format('INSERT to running: median %s ms, p99 %s ms, max %s ms (n=%s)',
	round((percentile_cont(0.5) WITHIN GROUP (ORDER BY d))::numeric, 2),
	round((percentile_cont(0.99) WITHIN GROUP (ORDER BY d))::numeric, 2),
	round(max(d)::numeric, 2), count(*))
	FROM (SELECT extract(epoch FROM started_at - created_at) * 1000 AS d FROM background_jobs) s"
sql "SELECT format('commit to running: median %s ms, p99 %s ms, max %s ms (n=%s)',
	round((percentile_cont(0.5) WITHIN GROUP (ORDER BY d))::numeric, 2),
	round((percentile_cont(0.99) WITHIN GROUP (ORDER BY d))::numeric, 2),
	round(max(d)::numeric, 2), count(*))
	FROM (SELECT extract(epoch FROM started_at - pg_xact_commit_timestamp(xmin_of_insert)) * 1000 AS d
	      FROM background_jobs JOIN insert_xmin USING (id)) s"
echo
echo "== master CPU while idle for 30 s"
t0=$(awk '{print $14 + $15}' "/proc/$master/stat")
sleep 30
t1=$(awk '{print $14 + $15}' "/proc/$master/stat")
echo "$((t1 - t0)) clock ticks ($(getconf CLK_TCK)/s) of CPU in 30 s"
stop_daemon
fi

# CPU ticks of a process and of the children it reaped (the master reaps
# every job's process; the postmaster every backend), and its own.
cpu() { awk '{print $14 + $15 + $16 + $17}' "/proc/$1/stat"; }
own() { awk '{print $14 + $15}' "/proc/$1/stat"; }
servers_cpu() {	# the fork servers' own ticks
	n=0
	for p in $(pgrep -P "$master" 2>/dev/null); do
		grep -q 'fork server' "/proc/$p/cmdline" 2>/dev/null &&
		    n=$((n + $(own "$p")))
	done
	echo $n
}
ms() { echo "scale=2; $1 * 1000 / $(getconf CLK_TCK) / $2" | bc; }
throughput() {	# $1: label, $2: conninfo
	start_daemon "$2"
	sql "TRUNCATE background_jobs"
	pm=$(head -1 "$(sql "SHOW data_directory")/postmaster.pid")
	sql "INSERT INTO background_jobs (job_type, params) SELECT 'selftest', '{}' FROM generate_series(1, $jobs)"
	m0=$(cpu "$master"); mo0=$(own "$master"); p0=$(cpu "$pm"); s0=$(servers_cpu)
	t0=$(date +%s.%N)
	# One session waits for the last job (its backend's CPU is counted
	# with the jobs' but is one backend, not one per poll).
	sql "DO \$\$ BEGIN
	    WHILE (SELECT count(*) FROM background_jobs WHERE status = 'completed') < $jobs
	    LOOP PERFORM pg_sleep(0.05); END LOOP; END \$\$"
	t1=$(date +%s.%N)
	m1=$(cpu "$master"); mo1=$(own "$master"); p1=$(cpu "$pm"); s1=$(servers_cpu)
	stop_daemon
	echo "$1: $jobs jobs in $(echo "$t1 - $t0" | bc) s: $(echo "scale=1; $jobs / ($t1 - $t0)" | bc) jobs/s"
	echo "$1: CPU per job: master $(ms $((mo1 - mo0)) $jobs) ms, fork servers $(ms $((s1 - s0)) $jobs) ms, job processes $(ms $((m1 - m0 - mo1 + mo0)) $jobs) ms, backends + postmaster $(ms $((p1 - p0)) $jobs) ms; all $(ms $((m1 - m0 + s1 - s0 + p1 - p0)) $jobs) ms"
}
pgb() {	# $1: label, $2: host; pgbench -C's rate and its CPU per connection
	p0=$(cpu "$pm")
	out=$(/usr/bin/time -f '%U %S' -o "$work/pgb.time" pgbench -n -C -c 2 -j 2 -T 10 \
	    -f "$work/select1.sql" -h "$2" bench 2>/dev/null)
	p1=$(cpu "$pm")
	n=$(echo "$out" | sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p')
	tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -1)
	c=$(awk -v hz="$(getconf CLK_TCK)" '{printf "%d", ($1 + $2) * hz}' "$work/pgb.time")
	echo "pgbench -C over $1: $tps connections/s; CPU per connection: pgbench $(ms "$c" "$n") ms, backends + postmaster $(ms $((p1 - p0)) "$n") ms"
}
echo
echo "== throughput: empty jobs, ${CHILDREN:-2} children, against pgbench -C -c 2 (SELECT 1, new connection each)"
echo "SELECT 1;" > "$work/select1.sql"
for path in "tcp host=localhost" "socket host=$sockdir"; do
	label=${path%% *}
	host=${path#* }
	throughput "geoworkerd over $label + scram" "dbname=bench $host"
	pgb "$label + scram" "${host#host=}"
done
# A Unix socket with peer (here trust: the same on the server's side)
# authentication, as doc/performance.md recommends.
sed -i 's/^local\(.*\)scram-sha-256$/local\1trust/' "$hba"
psql -X -q -h localhost -c "SELECT pg_reload_conf()"
throughput "geoworkerd over socket + trust" "dbname=bench host=$sockdir"
pgb "socket + trust" "$sockdir"

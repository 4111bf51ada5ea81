#!/bin/sh
# bench/timeseries.sh: run time and memory of hotspot_timeseries as the
# number of points and of time steps grow.
#
#   bench/timeseries.sh BUILDDIR [POINTS:STEPS ...]
#       (default: 250000:50 500000:50 1000000:50 1000000:10 1000000:25
#        1000000:100)
#
# Without PGHOST it wraps itself in pg_virtualenv (a throwaway cluster).
# For each POINTS:STEPS it makes POINTS random points (setseed, so the same
# every time) over a 10 km x 10 km square in UTM 33N and over STEPS weeks,
# then runs one job by hand (PROGRAM -c INI -j ID) with 100 m cells (10,000
# locations), 1-week steps, a 200 m neighbourhood and 1 previous step.
# Reported: the job's own elapsed_ms (from the claim to the output written,
# COPY of the bins and indexes included, so PostgreSQL's share of the work
# too), the job program's CPU time (user + system, /usr/bin/time), the
# child's peak RSS (ru_maxrss from its log line), and the cube's size from
# the result.  Each is run
# RUNS times (default 1) and the fastest run kept.
set -eu
. "$(dirname "$0")/lib.sh"
bench_setup "BUILDDIR [POINTS:STEPS ...]" "$@"
shift
[ $# -gt 0 ] || set -- 250000:50 500000:50 1000000:50 1000000:10 1000000:25 \
    1000000:100
bench_init gw_bench_timeseries hotspot_timeseries

# Runs the job once; prints "elapsed_ms peak_kib cpu_s locations steps bins"
# (cpu_s: user + system time of the job program itself, which the load of
# a shared machine disturbs less than the wall clock).
runjob1() {
	id=$(q "INSERT INTO background_jobs (job_type, params) VALUES ('hotspot_timeseries', '$1') RETURNING id")
	/usr/bin/time -f '%U %S' -o "$TMP/cpu" \
	    "$BUILDDIR/children/hotspot_timeseries" -c "$TMP/bench.ini" -j "$id" 2> "$TMP/job.log" || true
	st=$(q "SELECT status FROM background_jobs WHERE id = $id")
	if [ "$st" != completed ]; then
		echo "job $id $st: $(q "SELECT error_message FROM background_jobs WHERE id = $id")" >&2
		exit 1
	fi
	kib=$(sed -n 's/.*peak memory \([0-9]*\) KiB.*/\1/p' "$TMP/job.log" | tail -1)
	cpu=$(awk '{ printf "%.2f", $1 + $2 }' "$TMP/cpu")
	q "SELECT (result->>'elapsed_ms') || ' ${kib:-?} ' || '$cpu ' || (result->>'locations') || ' ' ||
	    (result->>'time_steps') || ' ' || (result->>'bins') FROM background_jobs WHERE id = $id"
}
RUNS=${RUNS:-1}
runjob() {
	best=
	i=0
	while [ $i -lt "$RUNS" ]; do
		r=$(runjob1 "$@")
		if [ -z "$best" ] || [ "${r%% *}" -lt "${best%% *}" ]; then best=$r; fi
		i=$((i + 1))
	done
	echo "$best"
}

printf '%9s %6s %10s %6s %9s %9s %7s %10s\n' points weeks locations steps bins job_ms cpu_s peak_KiB
for spec in "$@"; do
	n=${spec%%:*}
	s=${spec##*:}
	q "SET client_min_messages = warning; DROP TABLE IF EXISTS ev;
	   SELECT setseed(0.42);
	   CREATE TABLE ev (id serial PRIMARY KEY, geom geometry(Point, 32633), t timestamptz);
	   INSERT INTO ev (geom, t)
	   SELECT ST_SetSRID(ST_MakePoint(500000 + random() * 10000,
	       4000000 + random() * 10000), 32633),
	       timestamptz '2024-01-01 00:00+00' + random() * ($s * interval '1 week')
	   FROM generate_series(1, $n);
	   ANALYZE ev;" >/dev/null
	set -- $(runjob '{"input":"ev","time_field":"t","cell_size":100,"time_step":"1 week","neighborhood_distance":200,"neighborhood_time_steps":1,"output":"bench","overwrite":true}')
	printf '%9s %6s %10s %6s %9s %9s %7s %10s\n' "$n" "$s" "$4" "$5" "$6" "$1" "$3" "$2"
done
dropdb "$DB"

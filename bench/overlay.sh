#!/bin/sh
# bench/overlay.sh: dissolve, clip and erase_analysis against the equivalent
# PostGIS SQL, side by side, on the same data in the same database.
#
#   bench/overlay.sh BUILDDIR [SIZE ...]       (default sizes: 3000 30000)
#
# Without PGHOST it wraps itself in pg_virtualenv (a throwaway cluster).
# For each size it makes a coverage of SIZE Voronoi polygons (projected,
# EPSG:32119) in 100 contiguous groups, and a clip/erase layer of five
# overlapping circles stored in EPSG:4326.  Each job runs once by hand
# (PROGRAM -c INI -j ID), timed by its own elapsed_ms; its peak memory is the
# child's ru_maxrss from its log line.  PostGIS runs the SQL an expert would
# write (ST_Union ... GROUP BY; ST_Intersection / ST_Difference with the
# covered and untouched features short-cut by ST_Covers / ST_Intersects; and,
# as clip_naive, the plain ST_Intersection most people write),
# including CREATE TABLE, the GiST index and ANALYZE, timed by
# clock_timestamp() in the same session.  CPU time too: the job's own plus
# its backend's, against the PostGIS session's backend (see pm_ticks below);
# on a loaded machine the CPU ratio is the steadier figure.  Each is run RUNS
# times (default 3) and the smallest wall and CPU times kept.  Ratios =
# PostGIS / job (above 1: the job is faster).
set -eu
if [ $# -lt 1 ]; then
	echo "usage: $0 BUILDDIR [SIZE ...]" >&2
	exit 2
fi
if [ -z "${PGHOST:-}" ]; then
	exec pg_virtualenv -t -o fsync=off -o synchronous_commit=off -o autovacuum=off \
	    -o shared_buffers=256MB -o work_mem=64MB "$0" "$@"
fi
BUILDDIR=$(cd "$1" && pwd)
SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
shift
[ $# -gt 0 ] || set -- 3000 30000
DB=gw_bench_overlay
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

dropdb --if-exists "$DB" >/dev/null 2>&1 || true
createdb "$DB"
psql -X -q -d "$DB" -v ON_ERROR_STOP=1 -f "$SRCDIR/sql/geoworkerd.sql" >/dev/null 2>&1
cat > "$TMP/bench.ini" <<EOF
[database]
conninfo = dbname=$DB
[daemon]
$( [ "$(id -u)" = 0 ] && echo "user = root" )
output_schema = analysis
[dissolve]
[clip]
[erase_analysis]
EOF

q() { psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }

# CPU time, steadier than wall-clock time on a shared machine: the job's
# own (user + system, /usr/bin/time) plus that of the PostgreSQL backends
# that exited meanwhile (the postmaster's cutime + cstime grow by their CPU
# when it reaps them): the job's backend, or the psql session's running the
# PostGIS SQL.  Run on a server with nothing else on it.
PMPID=$(head -1 "$(q 'SHOW data_directory')/postmaster.pid" 2>/dev/null || true)
HZ=$(getconf CLK_TCK)
pm_ticks() {
	if [ -n "$PMPID" ] && [ -r "/proc/$PMPID/stat" ]; then
		sed 's/.*) //' "/proc/$PMPID/stat" | awk '{print $14 + $15}'
	else
		echo 0
	fi
}

# Best of $RUNS runs (the machine may be shared): the smallest wall-clock
# time and the smallest CPU time, each over the runs.
RUNS=${RUNS:-3}
best_of() {
	fn=$1
	shift
	bw= bc= rest=
	i=0
	while [ $i -lt "$RUNS" ]; do
		r=$($fn "$@")
		w=${r%% *}
		r=${r#* }
		c=${r%% *}
		rest=${r#* }
		if [ -z "$bw" ] || [ "$w" -lt "$bw" ]; then bw=$w; fi
		if [ -z "$bc" ] || [ "$c" -lt "$bc" ]; then bc=$c; fi
		i=$((i + 1))
	done
	echo "$bw $bc $rest"
}
runjob() { best_of runjob1 "$@"; }
runsql() { best_of runsql1 "$@"; }

# Runs job TYPE with PARAMS (JSON) once; prints
# "elapsed_ms cpu_ms peak_kib features".
runjob1() {
	id=$(q "INSERT INTO background_jobs (job_type, params) VALUES ('$1', '$2') RETURNING id")
	t0=$(pm_ticks)
	/usr/bin/time -f '%U %S' -o "$TMP/time" \
	    "$BUILDDIR/children/$1" -c "$TMP/bench.ini" -j "$id" 2> "$TMP/job.log" || true
	sleep 0.3
	t1=$(pm_ticks)
	st=$(q "SELECT status FROM background_jobs WHERE id = $id")
	if [ "$st" != completed ]; then
		echo "job $id ($1) $st: $(q "SELECT error_message FROM background_jobs WHERE id = $id")" >&2
		exit 1
	fi
	kib=$(sed -n 's/.*peak memory \([0-9]*\) KiB.*/\1/p' "$TMP/job.log" | tail -1)
	cpu=$(awk -v t="$((t1 - t0))" -v hz="$HZ" '{printf "%d", ($1 + $2) * 1000 + t * 1000 / hz}' "$TMP/time")
	q "SELECT (result->>'elapsed_ms') || ' $cpu ${kib:-0} ' || (result->>'feature_count') FROM background_jobs WHERE id = $id"
}

# Runs SQL (statements creating table analysis.T) in one session once;
# prints "ms cpu_ms rows 0".
runsql1() {
	t0=$(pm_ticks)
	out=$(psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$DB" <<EOF | tail -1
\\set QUIET on
SET client_min_messages = warning;
DROP TABLE IF EXISTS analysis.$1;
SELECT clock_timestamp() AS t0 \\gset
$2;
CREATE INDEX ON analysis.$1 USING gist (geom);
ANALYZE analysis.$1;
SELECT round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) * 1000)::bigint
    || ' ' || (SELECT count(*) FROM analysis.$1);
EOF
)
	sleep 0.3
	t1=$(pm_ticks)
	set -- $out
	echo "$1 $(( (t1 - t0) * 1000 / HZ )) $2 0"
}

# report NAME PG_WALL PG_CPU PG_ROWS: one line of the table.
report() {
	printf '%-10s %7s %7s %7s %6.2f %7s %7s %6.2f %7s %7s %8s\n' "$1" "$npoly" \
	    "$jms" "$2" "$(echo "$2 / $jms" | bc -l)" \
	    "$jcpu" "$3" "$(echo "$3 / ($jcpu + 0.001)" | bc -l)" "$jrows" "$4" "$kib"
}

printf '%-10s %7s %7s %7s %6s %7s %7s %6s %7s %7s %8s\n' job polygons \
    job_ms pg_ms ratio job_cpu pg_cpu ratio job_out pg_out peak_KiB
for n in "$@"; do
	q "SET client_min_messages = warning; DROP TABLE IF EXISTS cov, clipper;
	   SELECT setseed(0.42);
	   CREATE TABLE cov (id serial PRIMARY KEY, grp int, v double precision,
	       name text, geom geometry(Polygon, 32119));
	   WITH pts AS (SELECT ST_Collect(ST_MakePoint(400000 + random() * 400000,
	           50000 + random() * 250000)) AS g FROM generate_series(1, $n)),
	       box AS (SELECT ST_MakeEnvelope(400000, 50000, 800000, 300000, 32119) AS b),
	       cells AS (SELECT (ST_Dump(ST_VoronoiPolygons(g, 0,
	           (SELECT b FROM box)))).geom AS c FROM pts)
	   INSERT INTO cov (grp, v, name, geom)
	   SELECT floor((ST_X(ST_Centroid(i)) - 400000) / 40000) * 10 +
	       floor((ST_Y(ST_Centroid(i)) - 50000) / 25000),
	       round((random() * 1000)::numeric, 2), 'cell', i
	   FROM (SELECT ST_Intersection(ST_SetSRID(c, 32119), (SELECT b FROM box)) AS i
	       FROM cells) s WHERE GeometryType(i) = 'POLYGON';
	   CREATE INDEX ON cov USING gist (geom); ANALYZE cov;
	   CREATE TABLE clipper (id serial PRIMARY KEY, geom geometry(Polygon, 4326));
	   INSERT INTO clipper (geom) SELECT ST_Buffer(ST_SetSRID(ST_MakePoint(x, y), 4326)::geography, r)::geometry
	   FROM (VALUES (-79.5, 35.2, 40000), (-79.0, 35.4, 50000), (-78.2, 35.0, 30000),
	       (-77.5, 35.6, 60000), (-80.2, 35.8, 25000)) v(x, y, r);"
	npoly=$(q "SELECT count(*) FROM cov")

	set -- $(runjob dissolve '{"input":"cov","fields":["grp"],"statistics":[{"field":"v","stat":"sum"},{"field":"v","stat":"mean"}],"output":"d_job","overwrite":true}')
	jms=$1 jcpu=$2 kib=$3 jrows=$4
	set -- $(runsql d_pg "CREATE TABLE analysis.d_pg AS SELECT grp, sum(v) AS sum_v, avg(v) AS mean_v,
	    ST_Multi(ST_Union(geom))::geometry(MultiPolygon, 32119) AS geom FROM cov GROUP BY grp")
	report dissolve "$@"

	set -- $(runjob dissolve '{"input":"cov","output":"d1_job","overwrite":true}')
	jms=$1 jcpu=$2 kib=$3 jrows=$4
	set -- $(runsql d1_pg "CREATE TABLE analysis.d1_pg AS SELECT ST_Multi(ST_Union(geom))::geometry(MultiPolygon, 32119) AS geom FROM cov")
	report dissolve1 "$@"

	set -- $(runjob clip '{"input":"cov","clip":"clipper","output":"c_job","overwrite":true}')
	jms=$1 jcpu=$2 kib=$3 jrows=$4
	set -- $(runsql c_pg "CREATE TABLE analysis.c_pg AS
	    WITH m AS (SELECT ST_Union(ST_Transform(geom, 32119)) AS g FROM clipper)
	    SELECT * FROM (SELECT c.id, c.grp, c.v, c.name,
	        CASE WHEN ST_Covers(m.g, c.geom) THEN ST_Multi(c.geom)
	        ELSE ST_Multi(ST_CollectionExtract(ST_Intersection(c.geom, m.g), 3)) END AS geom
	    FROM cov c, m WHERE ST_Intersects(c.geom, m.g)) s WHERE NOT ST_IsEmpty(geom)")
	report clip "$@"

	# What most people write: ST_Intersection for every intersecting
	# feature, no ST_Covers short cut.
	set -- $(runsql cn_pg "CREATE TABLE analysis.cn_pg AS
	    WITH m AS (SELECT ST_Union(ST_Transform(geom, 32119)) AS g FROM clipper)
	    SELECT * FROM (SELECT c.id, c.grp, c.v, c.name,
	        ST_Multi(ST_CollectionExtract(ST_Intersection(c.geom, m.g), 3)) AS geom
	    FROM cov c, m WHERE ST_Intersects(c.geom, m.g)) s WHERE NOT ST_IsEmpty(geom)")
	report clip_naive "$@"

	set -- $(runjob erase_analysis '{"input":"cov","erase":"clipper","output":"e_job","overwrite":true}')
	jms=$1 jcpu=$2 kib=$3 jrows=$4
	set -- $(runsql e_pg "CREATE TABLE analysis.e_pg AS
	    WITH m AS (SELECT ST_Union(ST_Transform(geom, 32119)) AS g FROM clipper)
	    SELECT * FROM (SELECT c.id, c.grp, c.v, c.name,
	        CASE WHEN NOT ST_Intersects(m.g, c.geom) THEN ST_Multi(c.geom)
	        ELSE ST_Multi(ST_CollectionExtract(ST_Difference(c.geom, m.g), 3)) END AS geom
	    FROM cov c, m WHERE NOT ST_Covers(m.g, c.geom)) s WHERE NOT ST_IsEmpty(geom)")
	report erase "$@"
done
dropdb "$DB"

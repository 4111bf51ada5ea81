#!/bin/sh
# bench/overlay.sh: dissolve, clip and erase_analysis against the equivalent
# PostGIS SQL, side by side, on the same data in the same database.
#
#   bench/overlay.sh BUILDDIR [SIZE ...]       (default sizes: 3000 30000)
#
# Without PGHOST it wraps itself in pg_virtualenv (a throwaway cluster).
# For each size it makes a coverage of SIZE Voronoi polygons (projected,
# EPSG:32119) in 100 contiguous groups, and a clip/erase layer of five
# overlapping circles stored in EPSG:4326.  Each job runs through geoworkerd
# as in production (bench/lib.sh): a child forked from the type's fork
# server, connected, and prepared while idle (gw_worker_idle(3): PostGIS
# loaded in its backend, PROJ's database opened) before the job is queued.
# It is timed by its own elapsed_ms (from its claim to its outcome); its
# peak memory is the child's ru_maxrss from its log line.  (A job run by
# hand, PROGRAM -c INI -j ID, prepares nothing and opens a second
# connection for its own heartbeat.)  PostGIS runs the SQL an expert would
# write (ST_Union ... GROUP BY; ST_Intersection / ST_Difference with the
# covered and untouched features short-cut by ST_Covers / ST_Intersects; and,
# as clip_naive, the plain ST_Intersection most people write), including
# CREATE TABLE, the GiST index and ANALYZE, timed by clock_timestamp() in
# the same session: pg_ms in a new session, which loads PostGIS and PROJ's
# database on first use as a job's fresh backend would, pg_warm in a
# session that ran the same statements once already (an application's
# pooled connection).  CPU time too: the job's process plus its backend,
# against the new PostGIS session's backend (see bench/lib.sh); on a loaded
# machine the CPU ratio is the steadier figure.  Each is run RUNS times
# (default 3) and each figure's smallest value kept.  Ratios = PostGIS /
# job (above 1: the job is faster).
set -eu
. "$(dirname "$0")/lib.sh"
bench_setup "BUILDDIR [SIZE ...]" "$@"
shift
[ $# -gt 0 ] || set -- 3000 30000
bench_init gw_bench_overlay dissolve clip erase_analysis
bench_start

# Best of $RUNS runs (the machine may be shared): each figure's smallest
# value over the runs.
RUNS=${RUNS:-3}
best_of() {
	_k=0
	while [ $_k -lt "$RUNS" ]; do
		$1 "$2" "$3"
		_k=$((_k + 1))
	done | awk '{ for (f = 1; f <= NF; f++) if (NR == 1 || $f < m[f]) m[f] = $f }
	    END { for (f = 1; f <= NF; f++) printf "%s%s", m[f], f < NF ? " " : "\n" }'
}
runjob() { best_of runjob1 "$@"; }
runsql() { best_of runsql1 "$@"; }

# Runs job TYPE with PARAMS (JSON) once through the daemon; prints
# "elapsed_ms cpu_ms peak_kib features".
runjob1() {
	bench_job "$1" "$2"
	kib=$(sed -n "s/.*job $JOB_ID: completed.*peak memory \\([0-9]*\\) KiB.*/\\1/p" "$TMP/gw.log")
	echo "$(jobq "$JOB_ID" "result->>'elapsed_ms'") $JOB_CPU ${kib:-0} $(jobq "$JOB_ID" "result->>'feature_count'")"
}

# Runs SQL (statements creating table analysis.T, then its GiST index and
# ANALYZE) in a new session; prints "ms cpu_ms rows warm_ms": its time in a
# fresh session (PostGIS's library and PROJ's database loaded on first use,
# as in a job's backend), that session's CPU (its backend, connection
# included), and, from another session that runs it twice, its time the
# second time (a warm session).
runsql1() {
	t0=$(pm_ticks)
	out=$(sql_timed "$1" "$2" |
	    psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$DB" | tail -1)
	sleep 0.3
	t1=$(pm_ticks)
	warm=$( (sql_timed "$1" "$2"; sql_timed "$1" "$2") |
	    psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$DB" | tail -1)
	set -- $out
	echo "$1 $(( (t1 - t0) * 1000 / HZ )) $2 ${warm%% *}"
}
# The statements of runsql1, timed, as psql's input.
sql_timed() {
	cat <<EOF
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
}

# report NAME PG_WALL PG_CPU PG_ROWS PG_WARM: one line of the table.
report() {
	printf '%-10s %7s %7s %7s %6.2f %7s %6.2f %7s %7s %6.2f %7s %7s %8s\n' "$1" \
	    "$npoly" "$jms" "$2" "$(echo "$2 / $jms" | bc -l)" \
	    "$5" "$(echo "$5 / $jms" | bc -l)" "$jcpu" "$3" \
	    "$(echo "$3 / ($jcpu + 0.001)" | bc -l)" "$jrows" "$4" "$kib"
}

printf '%-10s %7s %7s %7s %6s %7s %6s %7s %7s %6s %7s %7s %8s\n' job polygons \
    job_ms pg_ms ratio pg_warm ratio job_cpu pg_cpu ratio job_out pg_out \
    peak_KiB
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

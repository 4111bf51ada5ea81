#!/bin/sh
# bench/growth.sh: time and peak memory of every job type as its input
# grows (issue 12's growth figures; doc/<type>.md, "Size, time and memory").
#
#   bench/growth.sh BUILDDIR [SIZE ...]     (default: 10000 100000 1000000)
#
# Without PGHOST it wraps itself in pg_virtualenv (a throwaway cluster).
# For each SIZE n, in EPSG:32119 (metres), over a square of side
# sqrt(n) x 100 m (the density stays the same as n grows):
#   - cov: a grid of n 100 m squares (id primary key, GiST index), grp in
#     32 x 32 = 1024 contiguous blocks, v random;
#   - clipper: five overlapping circles (64 segments a quarter) stored in
#     EPSG:4326, covering about 45 % of the grid;
#   - pts: n random points with a spatially patterned value v;
#     nearpts: n / 10 random points.
# Runs, each once, by hand (PROGRAM -c INI -j ID):
#   dissolve by grp with sum and mean of v, dissolve with no fields; clip
#   and erase_analysis of cov by clipper; nearest_analysis pts -> nearpts
#   and cov -> nearpts (k = 1); hotspot_analysis and outlier_analysis (499
#   permutations) on pts with the default weights (fixed distance band, the
#   smallest that gives every point a neighbour) and with k = 8 nearest;
#   create_view over pts, plain with a filter and materialized.
# WIDE_BANDS (metres, default none) adds a hotspot_analysis with each of
# these fixed distance bands: at one point a hectare, a band of r metres
# gives each point about pi r^2 / 10^4 neighbours (800 m: 200).
# Then raster_clip, whose size is the raster's: terra's elev.tif resampled to
# S x S pixels (RASTER_SIZES, default "2000 4000 8000 16000"; "" to skip),
# clipped to the 12 cantons of lux.shp, as bench/raster_clip.sh does.
#
# JOBS (default: all), a list of the names in the first column, runs only
# those.
# Each run is limited as geoworkerd limits a child: RLIMIT_AS of
# MEMORY_LIMIT (default 2G, memory_limit's default; 0: none) and a wall
# clock of TIMEOUT seconds (default 600, then SIGKILL).  One line a run:
# elapsed_ms is the job's own (from its result; the wall time of the process
# when it did not complete), cpu_ms the job program's user + system time
# (/usr/bin/time), peak_KiB its peak RSS (the log line "peak memory N KiB",
# else /usr/bin/time's), rows the output table's rows (pixels for
# raster_clip), status completed, or what stopped it.  The load average is
# printed before and after each size: the machine may be shared.
set -eu
. "$(dirname "$0")/lib.sh"
bench_setup "BUILDDIR [SIZE ...]" "$@"
shift
[ $# -gt 0 ] || set -- 10000 100000 1000000
TIMEOUT=${TIMEOUT:-600}
MEMORY_LIMIT=${MEMORY_LIMIT:-2G}
RASTER_SIZES=${RASTER_SIZES-2000 4000 8000 16000}
WIDE_BANDS=${WIDE_BANDS-}
TERRA=/usr/lib/R/site-library/terra/ex
case $MEMORY_LIMIT in
0) aslimit=unlimited ;;
*[Gg]) aslimit=$(( ${MEMORY_LIMIT%?} * 1024 * 1024 )) ;;
*[Mm]) aslimit=$(( ${MEMORY_LIMIT%?} * 1024 )) ;;
*) echo "MEMORY_LIMIT: 2G, 512M or 0" >&2; exit 2 ;;
esac

BENCH_DAEMON='raster_root = $TMP/rasters
output_root = $TMP/out'
bench_init gw_bench_growth dissolve clip erase_analysis nearest_analysis hotspot_analysis outlier_analysis create_view raster_clip
mkdir "$TMP/rasters" "$TMP/out"

load() { echo "# $(date -u +%H:%M:%S) $1: load average $(cut -d' ' -f1-3 /proc/loadavg)"; }

# run NAME FEATURES TYPE PARAMS: runs the job once, prints its line.
run() {
	name=$1 nf=$2 type=$3
	case " ${JOBS:-$name} " in
	*" $name "*) ;;
	*) return 0 ;;
	esac
	id=$(q "INSERT INTO background_jobs (job_type, params) VALUES ('$type', '$4') RETURNING id")
	rc=0
	/usr/bin/time -f '%U %S %M %e' -o "$TMP/time" \
	    timeout --foreground -s KILL "$TIMEOUT" sh -c 'ulimit -v "$1"; shift; exec "$@"' sh \
	    "$aslimit" "$BUILDDIR/children/$type" -c "$TMP/bench.ini" -j "$id" \
	    2> "$TMP/job.log" || rc=$?
	set -- $(tail -1 "$TMP/time")
	cpu=$(awk -v u="$1" -v s="$2" 'BEGIN { printf "%d", (u + s) * 1000 }')
	rss=$3 wall=$(awk -v e="$4" 'BEGIN { printf "%d", e * 1000 }')
	kib=$(sed -n 's/.*peak memory \([0-9]*\) KiB.*/\1/p' "$TMP/job.log" | tail -1)
	st=$(q "SELECT status FROM background_jobs WHERE id = $id")
	if [ "$st" = completed ]; then
		ms=$(q "SELECT result->>'elapsed_ms' FROM background_jobs WHERE id = $id")
		case $type in
		create_view) rows=$(q "SELECT result->>'row_count' FROM background_jobs WHERE id = $id") ;;
		raster_clip) rows=$(q "SELECT ((result->>'width')::bigint * (result->>'height')::bigint) FROM background_jobs WHERE id = $id") ;;
		*) rows=$(q "SELECT count(*) FROM $(q "SELECT result->>'output' FROM background_jobs WHERE id = $id")") ;;
		esac
		case $type in
		hotspot_analysis|outlier_analysis) st="$st$(q "SELECT format(' (%s%s neighbours a feature)',
		    CASE WHEN (result->>'distance_band')::numeric > 0 THEN 'band ' ||
		        round((result->>'distance_band')::numeric) || ' m, ' ELSE '' END,
		    round((result->>'neighbors_mean')::numeric, 1))
		    FROM background_jobs WHERE id = $id")" ;;
		esac
	else
		ms=$wall rows=-
		if [ "$rc" = 137 ] && [ "$wall" -ge $((TIMEOUT * 1000 - 1000)) ]; then
			st="killed after ${TIMEOUT}s"
		else
			st="$st exit $rc: $(q "SELECT coalesce(error_message, '') FROM background_jobs WHERE id = $id" | head -1 | cut -c1-100)"
			tail -3 "$TMP/job.log" | sed 's/^/#   /'
		fi
	fi
	printf '%-20s %9s %10s %10s %9s %10s  %s\n' "$name" "$nf" "$ms" "$cpu" \
	    "${kib:-$rss}" "$rows" "$st"
}

printf '# %s, %s CPUs, %s MiB RAM; memory_limit %s, timeout %ss\n' \
    "$(uname -sr)" "$(nproc)" "$(awk '/MemTotal/ { print int($2 / 1024) }' /proc/meminfo)" \
    "$MEMORY_LIMIT" "$TIMEOUT"
printf '%-20s %9s %10s %10s %9s %10s  %s\n' job features elapsed_ms cpu_ms \
    peak_KiB rows status
for n in "$@"; do
	m=$((n / 10))
	load "size $n: making the data"
	q "DROP TABLE IF EXISTS cov, clipper, pts, nearpts;
	   SELECT setseed(0.42);
	   CREATE TABLE cov (id serial PRIMARY KEY, grp int, v double precision,
	       geom geometry(Polygon, 32119));
	   INSERT INTO cov (grp, v, geom)
	   SELECT (i * 32 / s) * 32 + j * 32 / s, round((random() * 1000)::numeric, 2),
	       ST_MakeEnvelope(400000 + i * 100, 50000 + j * 100,
	           400100 + i * 100, 50100 + j * 100, 32119)
	   FROM (SELECT g % s AS i, g / s AS j, s
	       FROM (SELECT ceil(sqrt($n))::int AS s) k, generate_series(0, $n - 1) g) c;
	   CREATE INDEX ON cov USING gist (geom); ANALYZE cov;
	   CREATE TABLE clipper (id serial PRIMARY KEY, geom geometry(Polygon, 4326));
	   INSERT INTO clipper (geom)
	   SELECT ST_Transform(ST_Buffer(ST_SetSRID(ST_MakePoint(400000 + x * l,
	       50000 + y * l), 32119), r * l, 64), 4326)
	   FROM (SELECT ceil(sqrt($n)) * 100 AS l) k, (VALUES (0.3, 0.3, 0.2),
	       (0.7, 0.35, 0.15), (0.5, 0.7, 0.25), (0.2, 0.8, 0.1),
	       (0.85, 0.8, 0.12)) v(x, y, r);
	   CREATE TABLE pts (id int PRIMARY KEY, v float8, geom geometry(Point, 32119));
	   INSERT INTO pts SELECT g, sin(x / 5000) + cos(y / 7000)
	       + sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()),
	       ST_SetSRID(ST_MakePoint(400000 + x, 50000 + y), 32119)
	   FROM (SELECT g, random() * l AS x, random() * l AS y
	       FROM (SELECT ceil(sqrt($n)) * 100 AS l) k, generate_series(1, $n) g) p;
	   CREATE TABLE nearpts (id int PRIMARY KEY, geom geometry(Point, 32119));
	   INSERT INTO nearpts SELECT g, ST_SetSRID(ST_MakePoint(400000 + random() * l,
	       50000 + random() * l), 32119)
	   FROM (SELECT ceil(sqrt($n)) * 100 AS l) k, generate_series(1, $m) g;
	   CREATE INDEX ON pts USING gist (geom); CREATE INDEX ON nearpts USING gist (geom);
	   ANALYZE pts; ANALYZE nearpts;" >/dev/null
	load "size $n: running"
	run dissolve_grp "$n" dissolve '{"input":"cov","fields":["grp"],"statistics":[{"field":"v","stat":"sum"},{"field":"v","stat":"mean"}],"output":"g_dissolve","overwrite":true}'
	run dissolve_all "$n" dissolve '{"input":"cov","output":"g_dissolve1","overwrite":true}'
	run clip "$n" clip '{"input":"cov","clip":"clipper","output":"g_clip","overwrite":true}'
	run erase_analysis "$n" erase_analysis '{"input":"cov","erase":"clipper","output":"g_erase","overwrite":true}'
	run nearest_pts "$n" nearest_analysis '{"input":"pts","near":"nearpts","k":1,"output":"g_near","overwrite":true}'
	run nearest_poly "$n" nearest_analysis '{"input":"cov","near":"nearpts","k":1,"output":"g_nearpoly","overwrite":true}'
	run hotspot_band "$n" hotspot_analysis '{"input":"pts","field":"v","output":"g_gi","overwrite":true}'
	run hotspot_knn8 "$n" hotspot_analysis '{"input":"pts","field":"v","conceptualization":"k_nearest","k":8,"output":"g_gi8","overwrite":true}'
	run outlier_band "$n" outlier_analysis '{"input":"pts","field":"v","output":"g_lmi","overwrite":true}'
	run outlier_knn8 "$n" outlier_analysis '{"input":"pts","field":"v","conceptualization":"k_nearest","k":8,"output":"g_lmi8","overwrite":true}'
	for d in $WIDE_BANDS; do
		run "hotspot_band${d}m" "$n" hotspot_analysis '{"input":"pts","field":"v","distance":'"$d"',"output":"g_giw","overwrite":true}'
	done
	run create_view "$n" create_view '{"input":"pts","filter":{"field":"v","op":">","value":1},"name":"g_view","replace":true}'
	run create_view_mat "$n" create_view '{"input":"pts","filter":{"field":"v","op":">","value":1},"materialized":true,"name":"g_mview","replace":true}'
	q "DROP TABLE IF EXISTS analysis.g_dissolve, analysis.g_dissolve1, analysis.g_clip,
	   analysis.g_erase, analysis.g_near, analysis.g_nearpoly, analysis.g_gi,
	   analysis.g_gi8, analysis.g_giw, analysis.g_lmi, analysis.g_lmi8 CASCADE;
	   DROP MATERIALIZED VIEW IF EXISTS analysis.g_mview;
	   DROP VIEW IF EXISTS analysis.g_view" >/dev/null
	load "size $n: done"
done

if [ -n "$RASTER_SIZES" ]; then
	ogr2ogr -f PostgreSQL "PG:dbname=$DB" "$TERRA/lux.shp" -nln lux \
	    -lco GEOMETRY_NAME=geom -overwrite
	for s in $RASTER_SIZES; do
		load "raster $s x $s: making it"
		rm -f "$TMP/rasters/big.tif"
		gdalwarp -q -ts "$s" "$s" -r bilinear -co TILED=YES \
		    -co BIGTIFF=IF_SAFER "$TERRA/elev.tif" "$TMP/rasters/big.tif"
		load "raster $s x $s: running"
		run raster_clip "${s}x$s" raster_clip '{"raster":"big.tif","clip":"lux"}'
		rm -rf "$TMP/out"/[0-9]*
		load "raster $s x $s: done"
	done
fi
dropdb "$DB"

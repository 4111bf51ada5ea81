#!/bin/sh
# bench/raster_clip.sh: raster_clip against the gdalwarp command doing the
# same clip, in one run, as a ratio of wall-clock times.
#
#   bench/raster_clip.sh BUILDDIR [SIZE]      (SIZE: pixels a side, 8000)
#
# Without PGHOST it wraps itself in pg_virtualenv (a throwaway cluster).
# The raster is terra's elev.tif (Luxembourg, Int16 with nodata) resampled
# to SIZE x SIZE (bilinear, tiled GTiff); the clip polygons are terra's
# lux.shp cantons: all 12 (most of the raster) and the one of Clervaux (a
# corner).  Each case runs RUNS times (default 3), alternating, and the
# fastest run is kept, for the job (the program run by hand with -j: start,
# database connection, claim, polygons read from PostGIS, warp, COG,
# statistics, commit) and for
#   gdalwarp -q -of COG -cutline lux.shp [-cwhere ...] -crop_to_cutline \
#       -co BIGTIFF=IF_SAFER big.tif out.tif
# Both wall-clock and CPU (user + system, of the process and its children)
# times are reported, with their ratios job / gdalwarp: on a shared machine
# the CPU ratio is the steadier one.  job_own is the job's own elapsed_ms
# (claim to output written) in its fastest run.  The two outputs are compared with
# gdalinfo -checksum.
# DAEMON=1 runs each job through geoworkerd instead (one child, forked from
# the type's fork server, as in production): job_wall is then the row's
# completed_at - created_at (from the INSERT's transaction to the outcome),
# job_cpu the job process's CPU (the master's reaped children).
set -eu
if [ $# -lt 1 ]; then
	echo "usage: $0 BUILDDIR [SIZE]" >&2
	exit 2
fi
if [ -z "${PGHOST:-}" ]; then
	exec pg_virtualenv -t -o fsync=off -o synchronous_commit=off "$0" "$@"
fi
BUILDDIR=$(cd "$1" && pwd)
SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
SIZE=${2:-8000}
RUNS=${RUNS:-3}
TERRA=/usr/lib/R/site-library/terra/ex
DB=gw_bench_raster
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mkdir "$TMP/rasters" "$TMP/out" "$TMP/ref"

echo "making a ${SIZE}x${SIZE} Int16 raster from elev.tif" >&2
gdalwarp -q -ts "$SIZE" "$SIZE" -r bilinear -co TILED=YES \
    "$TERRA/elev.tif" "$TMP/rasters/big.tif"

dropdb --if-exists "$DB" >/dev/null 2>&1 || true
createdb "$DB"
psql -X -q -d "$DB" -v ON_ERROR_STOP=1 -f "$SRCDIR/sql/geoworkerd.sql" >/dev/null 2>&1
ogr2ogr -f PostgreSQL "PG:dbname=$DB" "$TERRA/lux.shp" -nln lux \
    -lco GEOMETRY_NAME=geom -overwrite
cat > "$TMP/bench.ini" <<EOF
[database]
conninfo = dbname=$DB
[daemon]
$( [ "$(id -u)" = 0 ] && echo "user = root" )
raster_root = $TMP/rasters
output_root = $TMP/out
output_schema = analysis
[raster_clip]
EOF

q() { psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }
# Runs a command; prints "wall_ms cpu_ms" (cpu: user + system of children).
timed() {
	perl -MTime::HiRes=time -e '$t = time; system(@ARGV) == 0 or exit 1;
	    @c = times; printf "%d %d\n", (time - $t) * 1000, ($c[2] + $c[3]) * 1000' "$@"
}

if [ -n "${DAEMON:-}" ]; then
	sed -i "s|^\\[daemon\\]\$|[daemon]\\nnode_name = bench\\nchild_dir = $BUILDDIR/children|; s|^\\[raster_clip\\]\$|[raster_clip]\\nchildren = 1\\nnice = 0|" \
	    "$TMP/bench.ini"
	"$BUILDDIR/src/geoworkerd" -f -c "$TMP/bench.ini" 2> "$TMP/gw.log" &
	master=$!
	trap 'kill $master 2>/dev/null; wait; rm -rf "$TMP"' EXIT
	i=0
	until grep -q 'ready: ' "$TMP/gw.log"; do
		i=$((i + 1))
		[ $i -lt 100 ] || { cat "$TMP/gw.log" >&2; exit 1; }
		sleep 0.1
	done
	sleep 1
fi
ticks() { awk '{print $16 + $17}' "/proc/$master/stat"; }

# Runs the job once; prints "wall_ms cpu_ms elapsed_ms path".
job1() {
	if [ -n "${DAEMON:-}" ]; then
		t0=$(ticks)
		id=$(q "INSERT INTO background_jobs (job_type, params) VALUES ('raster_clip', '$1') RETURNING id")
		while [ "$(q "SELECT status IN ('queued', 'running') FROM background_jobs WHERE id = $id")" = t ]; do
			sleep 0.1
		done
		sleep 0.2
		tm="$(q "SELECT round(extract(epoch FROM completed_at - created_at) * 1000) FROM background_jobs WHERE id = $id") $(( ($(ticks) - t0) * 1000 / $(getconf CLK_TCK) ))"
	else
		id=$(q "INSERT INTO background_jobs (job_type, params) VALUES ('raster_clip', '$1') RETURNING id")
		tm=$(timed "$BUILDDIR/children/raster_clip" -c "$TMP/bench.ini" -j "$id" 2> "$TMP/job.log" || true)
	fi
	st=$(q "SELECT status FROM background_jobs WHERE id = $id")
	if [ "$st" != completed ]; then
		echo "job $id $st: $(q "SELECT error_message FROM background_jobs WHERE id = $id")" >&2
		exit 1
	fi
	echo "$tm $(q "SELECT (result->>'elapsed_ms') || ' ' || (result->>'path') FROM background_jobs WHERE id = $id")"
}

# Runs gdalwarp once with "$@" as the cutline options; prints "wall cpu".
warp1() {
	rm -f "$TMP/ref/out.tif"
	timed gdalwarp -q -of COG "$@" -crop_to_cutline -co BIGTIFF=IF_SAFER \
	    "$TMP/rasters/big.tif" "$TMP/ref/out.tif"
}

checksums() { gdalinfo -checksum "$1" | sed -n 's/.*Checksum=//p' | tr '\n' ' '; }

ratio() { awk "BEGIN { printf \"%.2f\", $1 / $2 }"; }
printf '%-9s %8s %8s %8s %8s %8s %6s %6s  %s\n' case job_wall job_cpu job_own \
    gw_wall gw_cpu r_wall r_cpu pixels
bench() {
	name=$1 params=$2
	shift 2
	jw= jc= own= path= ww= wc=
	i=0
	while [ $i -lt "$RUNS" ]; do
		r=$(job1 "$params")
		set -- $r "$@"
		if [ -z "$jw" ] || [ "$1" -lt "$jw" ]; then jw=$1; own=$3; fi
		if [ -z "$jc" ] || [ "$2" -lt "$jc" ]; then jc=$2; fi
		path=$4
		shift 4
		r=$(warp1 "$@")
		set -- $r "$@"
		if [ -z "$ww" ] || [ "$1" -lt "$ww" ]; then ww=$1; fi
		if [ -z "$wc" ] || [ "$2" -lt "$wc" ]; then wc=$2; fi
		shift 2
		i=$((i + 1))
	done
	if [ "$(checksums "$path")" = "$(checksums "$TMP/ref/out.tif")" ]; then
		same=identical
	else
		same=DIFFERENT
	fi
	printf '%-9s %8s %8s %8s %8s %8s %6s %6s  %s\n' "$name" "$jw" "$jc" "$own" \
	    "$ww" "$wc" "$(ratio "$jw" "$ww")" "$(ratio "$jc" "$wc")" "$same"
}

bench all12 '{"raster": "big.tif", "clip": "lux"}' -cutline "$TERRA/lux.shp"
bench clervaux '{"raster": "big.tif", "clip": "lux", "clip_filter": {"field": "name_2", "op": "=", "value": "Clervaux"}}' \
    -cutline "$TERRA/lux.shp" -cwhere "NAME_2 = 'Clervaux'"
if [ -n "${DAEMON:-}" ]; then
	kill "$master"
	wait "$master" || true
fi
dropdb --force "$DB"

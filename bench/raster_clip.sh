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
# fastest run is kept, for the job, run through geoworkerd as in production
# (bench/lib.sh: a child of the type's fork server, connected and prepared
# while idle before the job is queued; from its claim to its outcome:
# polygons read from PostGIS, warp, COG, statistics, commit), and for the
# command an analyst would run:
#   gdalwarp -q -of COG -cutline lux.shp [-cwhere ...] -crop_to_cutline \
#       -co BIGTIFF=IF_SAFER big.tif out.tif
# Both wall-clock and CPU times are reported, with their ratios job /
# gdalwarp: the job's elapsed_ms and the CPU of its process and its
# backend; gdalwarp's whole run (start-up included) and its user + system
# time.  On a shared machine the CPU ratio is the steadier one.  The two
# outputs are compared with gdalinfo -checksum.
set -eu
. "$(dirname "$0")/lib.sh"
bench_setup "BUILDDIR [SIZE]" "$@"
SIZE=${2:-8000}
RUNS=${RUNS:-3}
TERRA=/usr/lib/R/site-library/terra/ex
BENCH_DAEMON='raster_root = $TMP/rasters
output_root = $TMP/out'
bench_init gw_bench_raster raster_clip
mkdir "$TMP/rasters" "$TMP/out" "$TMP/ref"

echo "making a ${SIZE}x${SIZE} Int16 raster from elev.tif" >&2
gdalwarp -q -ts "$SIZE" "$SIZE" -r bilinear -co TILED=YES \
    "$TERRA/elev.tif" "$TMP/rasters/big.tif"
ogr2ogr -f PostgreSQL "PG:dbname=$DB" "$TERRA/lux.shp" -nln lux \
    -lco GEOMETRY_NAME=geom -overwrite
bench_start

# Runs a command; prints "wall_ms cpu_ms" (cpu: user + system of children).
timed() {
	perl -MTime::HiRes=time -e '$t = time; system(@ARGV) == 0 or exit 1;
	    @c = times; printf "%d %d\n", (time - $t) * 1000, ($c[2] + $c[3]) * 1000' "$@"
}

# Runs the job once; prints "wall_ms cpu_ms path".
job1() {
	bench_job raster_clip "$1"
	echo "$(jobq "$JOB_ID" "result->>'elapsed_ms'") $JOB_CPU $(jobq "$JOB_ID" "result->>'path'")"
}

# Runs gdalwarp once with "$@" as the cutline options; prints "wall cpu".
warp1() {
	rm -f "$TMP/ref/out.tif"
	timed gdalwarp -q -of COG "$@" -crop_to_cutline -co BIGTIFF=IF_SAFER \
	    "$TMP/rasters/big.tif" "$TMP/ref/out.tif"
}

checksums() { gdalinfo -checksum "$1" | sed -n 's/.*Checksum=//p' | tr '\n' ' '; }

ratio() { awk "BEGIN { printf \"%.2f\", $1 / $2 }"; }
printf '%-9s %8s %8s %8s %8s %6s %6s  %s\n' case job_ms job_cpu \
    gw_ms gw_cpu r_wall r_cpu pixels
bench() {
	name=$1 params=$2
	shift 2
	jw= jc= path= ww= wc=
	_r=0
	while [ $_r -lt "$RUNS" ]; do
		r=$(job1 "$params")
		set -- $r "$@"
		if [ -z "$jw" ] || [ "$1" -lt "$jw" ]; then jw=$1; fi
		if [ -z "$jc" ] || [ "$2" -lt "$jc" ]; then jc=$2; fi
		path=$3
		shift 3
		r=$(warp1 "$@")
		set -- $r "$@"
		if [ -z "$ww" ] || [ "$1" -lt "$ww" ]; then ww=$1; fi
		if [ -z "$wc" ] || [ "$2" -lt "$wc" ]; then wc=$2; fi
		shift 2
		_r=$((_r + 1))
	done
	if [ "$(checksums "$path")" = "$(checksums "$TMP/ref/out.tif")" ]; then
		same=identical
	else
		same=DIFFERENT
	fi
	printf '%-9s %8s %8s %8s %8s %6s %6s  %s\n' "$name" "$jw" "$jc" \
	    "$ww" "$wc" "$(ratio "$jw" "$ww")" "$(ratio "$jc" "$wc")" "$same"
}

bench all12 '{"raster": "big.tif", "clip": "lux"}' -cutline "$TERRA/lux.shp"
bench clervaux '{"raster": "big.tif", "clip": "lux", "clip_filter": {"field": "name_2", "op": "=", "value": "Clervaux"}}' \
    -cutline "$TERRA/lux.shp" -cwhere "NAME_2 = 'Clervaux'"

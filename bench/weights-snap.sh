#!/bin/sh
# bench/weights-snap.sh: what the contiguity tolerance costs.  Builds rook
# and queen weights with hotspot_analysis for SIZE square polygons, with
# the default snap (spdep's, 1.49e-8 layer units) and with snap 0 (the exact
# GEOS predicates), and prints the weights phase of each (the job's
# result phase_ms.weights: STRtree, predicates, neighbour lists) and the
# ratio snap / exact.
#
#   bench/weights-snap.sh BUILDDIR [SIZE ...]        (default size: 100000)
#
# Without PGHOST it wraps itself in pg_virtualenv (a throwaway cluster).
# Two layers of SIZE cells (a grid about twice as wide as high, SRID 32617):
#   exact  cells of 100 m, corners computed alike by every cell that shares
#          them, so both rules find the same links (the fair comparison);
#   noisy  cells of 0.1 m from the origin, each cell's far corner its near
#          one plus 0.1 (0.30000000000000004 against 0.3), every vertex
#          moved by up to 1e-12 relative: the default snap finds the
#          lattice's links, snap 0 a fraction of them (shown for
#          information: the two rules do different work there).
# "links" is snap's / exact's neighbour links; "snapped" those found only
# by snapping.
# Each job runs five times, snap and exact alternately, and the best of
# each is shown (the machine may be shared).  The links and those found only by snapping are printed too.
set -eu
. "$(dirname "$0")/lib.sh"
bench_setup "BUILDDIR [SIZE ...]" "$@"
shift
[ $# -gt 0 ] || set -- 100000
bench_init gw_bench_snap hotspot_analysis

# Runs hotspot_analysis with PARAMS once; prints "weights_ms links snapped".
runjob1() {
	id=$(q "INSERT INTO background_jobs (job_type, params) VALUES ('hotspot_analysis', '$1') RETURNING id")
	"$BUILDDIR/children/hotspot_analysis" -c "$TMP/bench.ini" -j "$id" 2> "$TMP/job.log" || true
	st=$(q "SELECT status FROM background_jobs WHERE id = $id")
	if [ "$st" != completed ]; then
		echo "job $id $st: $(q "SELECT error_message FROM background_jobs WHERE id = $id")" >&2
		exit 1
	fi
	q "SELECT concat_ws(' ', result->'phase_ms'->>'weights', result->>'neighbor_links',
	    result->>'snapped_links') FROM background_jobs WHERE id = $id"
}

# Runs PARAMS with the default snap and with snap 0, alternately, five
# times each (the machine may be shared: alternating spreads a slow spell
# over both, and the best run is the least disturbed); prints
# "snap_ms links snapped exact_ms exact_links".
runpair() {
	bs= be=
	for rep in 1 2 3 4 5; do
		r1=$(runjob1 "{$1}")
		r2=$(runjob1 "{$1, \"snap\": 0}")
		if [ -z "$bs" ] || [ "${r1%% *}" -lt "${bs%% *}" ]; then bs=$r1; fi
		if [ -z "$be" ] || [ "${r2%% *}" -lt "${be%% *}" ]; then be=$r2; fi
	done
	set -- $be
	echo "$bs $1 $2"
}

# e(): 1 + up to 1e-12 relative noise, drawn anew at every call.
q "CREATE FUNCTION e() RETURNS float8 LANGUAGE sql VOLATILE
   AS 'SELECT 1 + (random() - 0.5) * 2e-12'" >/dev/null

printf '%-6s %-6s %8s %9s %9s %6s %13s %8s\n' layer rule cells snap_ms exact_ms ratio links snapped
for n in "$@"; do
	cols=$(awk -v n="$n" 'BEGIN { printf "%d", sqrt(2 * n) }')
	q "SELECT setseed(0.25);
	   DROP TABLE IF EXISTS exact, noisy;
	   CREATE TABLE exact (id int PRIMARY KEY, v float8, geom geometry(Polygon, 32617));
	   INSERT INTO exact SELECT g, sin(g / 97.0) + random(),
	       ST_MakeEnvelope(400000 + c * 100, 4000000 + r * 100,
	       400000 + (c + 1) * 100, 4000000 + (r + 1) * 100, 32617)
	   FROM (SELECT g, (g - 1) % $cols AS c, (g - 1) / $cols AS r
	       FROM generate_series(1, $n) g) s;
	   CREATE TABLE noisy (id int PRIMARY KEY, v float8, geom geometry(Polygon, 32617));
	   INSERT INTO noisy SELECT g, sin(g / 97.0) + random(),
	       ST_SetSRID(ST_MakePolygon(ST_MakeLine(ARRAY[p0, p1, p2, p3, p0])), 32617)
	   FROM (SELECT g,
	       ST_MakePoint(x0 * e(), y0 * e()) AS p0,
	       ST_MakePoint((x0 + 0.1) * e(), y0 * e()) AS p1,
	       ST_MakePoint((x0 + 0.1) * e(), (y0 + 0.1) * e()) AS p2,
	       ST_MakePoint(x0 * e(), (y0 + 0.1) * e()) AS p3
	       FROM (SELECT g, ((g - 1) % $cols) * 0.1::float8 AS x0,
	           ((g - 1) / $cols) * 0.1::float8 AS y0
	           FROM generate_series(1, $n) g) s) t;
	   ANALYZE exact; ANALYZE noisy;" >/dev/null
	for layer in exact noisy; do
		for concept in contiguity_edges contiguity_edges_corners; do
			rule=rook
			[ "$concept" = contiguity_edges ] || rule=queen
			p="\"input\": \"$layer\", \"field\": \"v\", \"conceptualization\": \"$concept\", \"output\": \"b_$layer\", \"overwrite\": true"
			read -r sm sl ss em el <<EOF
$(runpair "$p")
EOF
			printf '%-6s %-6s %8d %9d %9d %6s %13s %8s\n' "$layer" "$rule" "$n" "$sm" "$em" \
			    "$(awk -v a="$sm" -v b="$em" 'BEGIN { printf "%.2f", a / (b > 0 ? b : 1) }')" \
			    "$sl/$el" "$ss"
		done
	done
done

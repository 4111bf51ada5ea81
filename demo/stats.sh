# demo/stats.sh: the spatial statistics job types on real data (sourced by
# demo/run, with PGHOST/PGDATABASE set, the schema loaded, the daemon
# running and gw_wait_job defined).
#
# Loads North Carolina's counties (sf's nc.gpkg, SIDS 1974-78) in NC State
# Plane metres and the 281 NY8 census tracts (spData, leukaemia cases, UTM
# 18N), then queues one job of each type with psql, waits for it, and prints
# its result and a few output rows.

stats_nc=/usr/lib/R/site-library/sf/gpkg/nc.gpkg
stats_ny=/usr/lib/R/site-library/spData/shapes/NY8_utm18.shp

stats_psql() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }

# Queues a job of type $1 with params $2 (JSON), waits, prints the result.
stats_job() {
	stats_id=$(stats_psql -A -t -c "INSERT INTO background_jobs (job_type, params)
	    VALUES ('$1', '$2') RETURNING id")
	echo "== $1 (job $stats_id): $2"
	gw_wait_job "$stats_id"
	stats_psql -c "SELECT status, error_message, jsonb_pretty(result) AS result
	    FROM background_jobs WHERE id = $stats_id"
}

echo "== loading nc (100 counties) and ny8 (281 tracts)"
ogr2ogr -f PostgreSQL PG: "$stats_nc" -nln demo_nc -lco GEOMETRY_NAME=geom \
    -lco FID=fid -nlt MULTIPOLYGON -t_srs EPSG:32119 -overwrite
ogr2ogr -f PostgreSQL PG: "$stats_ny" -nln demo_ny8 -lco GEOMETRY_NAME=geom \
    -lco FID=fid -nlt PROMOTE_TO_MULTI -overwrite
stats_psql -c "ALTER TABLE demo_nc ADD COLUMN IF NOT EXISTS sid_rate float8;
    UPDATE demo_nc SET sid_rate = 1000.0 * sid74 / bir74"

# Gi* of the SIDS rate per 1000 births, queen contiguity, with FDR.
stats_job hotspot_analysis '{"input": "demo_nc", "field": "sid_rate",
    "conceptualization": "contiguity_edges_corners", "fdr": true,
    "output": "demo_nc_hotspots", "overwrite": true}'
stats_psql -c "SELECT n.name, round(h.gi_zscore::numeric, 3) AS gi_z,
    round(h.gi_pvalue::numeric, 4) AS p, h.gi_bin, h.n_neighbors
    FROM analysis.demo_nc_hotspots h JOIN demo_nc n USING (fid)
    WHERE h.gi_bin <> 0 ORDER BY h.gi_zscore DESC"

# Local Moran's I of the leukaemia cases, 8 nearest tracts, 999 permutations.
stats_job outlier_analysis '{"input": "demo_ny8", "field": "cases",
    "conceptualization": "k_nearest", "k": 8, "permutations": 999,
    "seed": 1, "output": "demo_ny8_outliers", "overwrite": true}'
stats_psql -c "SELECT co_type, count(*), round(avg(lmi_index)::numeric, 3) AS mean_i
    FROM analysis.demo_ny8_outliers GROUP BY co_type ORDER BY co_type"

# The 3 nearest other counties of each county, and the ANN summary.
stats_job nearest_analysis '{"input": "demo_nc", "k": 3,
    "output": "demo_nc_nearest", "overwrite": true}'
stats_psql -c "SELECT a.name AS county, b.name AS near, o.near_rank,
    round(o.near_dist::numeric) AS metres, round(o.near_angle::numeric, 1) AS angle
    FROM analysis.demo_nc_nearest o JOIN demo_nc a ON a.fid = o.in_id
    JOIN demo_nc b ON b.fid = o.near_id WHERE a.name IN ('Wake', 'Dare')
    ORDER BY a.name, o.near_rank"

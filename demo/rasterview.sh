# demo/rasterview.sh: raster_clip and create_view on real data (sourced by
# demo/run, with PGHOST/PGDATABASE set, the schema loaded, the daemon running
# with both types enabled, gw_wait_job defined, and GW_RASTER_ROOT /
# GW_OUTPUT_ROOT naming the daemon's raster_root and output_root).
#
# Data: terra's elevation of Luxembourg (elev.tif) and its 12 cantons
# (lux.shp), and stars' Landsat 7 scene of Olinda, Brazil (L7_ETMs.tif,
# 6 bands, UTM 25S) clipped by a polygon given as GeoJSON in WGS 84.

rv_terra=/usr/lib/R/site-library/terra/ex
rv_stars=/usr/lib/R/site-library/stars/tif

rv_psql() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }

# Queues a job of type $1 with params $2 (JSON), waits, prints the result.
rv_job() {
	rv_id=$(rv_psql -A -t -c "INSERT INTO background_jobs (job_type, params)
	    VALUES ('$1', '$2') RETURNING id")
	echo "== $1 (job $rv_id): $2"
	gw_wait_job "$rv_id"
	rv_psql -A -t -c "SELECT status || coalesce(': ' || error_message, '')
	    FROM background_jobs WHERE id = $rv_id"
	rv_psql -A -t -c "SELECT jsonb_pretty(result - 'bands' - 'columns')
	    FROM background_jobs WHERE id = $rv_id AND result IS NOT NULL"
	rv_psql -c "SELECT b.band, b.type, b.min, b.max, round(b.mean, 3) AS mean,
	    round(b.stddev, 3) AS stddev, b.valid_count
	    FROM background_jobs j, jsonb_to_recordset(j.result->'bands') AS b(band int,
	    type text, min float8, max float8, mean numeric, stddev numeric,
	    valid_count bigint) WHERE j.id = $rv_id AND j.result ? 'bands'"
	rv_psql -A -t -c "SELECT 'columns: ' || string_agg((c->>'name') || ' ' ||
	    (c->>'type'), ', ') FROM background_jobs j,
	    jsonb_array_elements(j.result->'columns') c
	    WHERE j.id = $rv_id AND j.result ? 'columns'"
}

echo "== copying elev.tif and L7_ETMs.tif into raster_root, loading lux (12 cantons)"
cp "$rv_terra/elev.tif" "$rv_stars/L7_ETMs.tif" "$GW_RASTER_ROOT/"
ogr2ogr -f PostgreSQL PG: "$rv_terra/lux.shp" -nln demo_lux \
    -lco GEOMETRY_NAME=geom -lco FID=fid -nlt PROMOTE_TO_MULTI -overwrite

# The elevation of the cantons of the Diekirch district, as a COG.
rv_job raster_clip '{"raster": "elev.tif", "clip": "demo_lux",
    "clip_filter": {"field": "name_1", "op": "=", "value": "Diekirch"},
    "output": "diekirch_elev.tif"}'
rv_out=$(rv_psql -A -t -c "SELECT result->>'path' FROM background_jobs WHERE id = $rv_id")
[ -n "$rv_out" ] && gdalinfo "$rv_out" | grep -E 'Driver|Size is|LAYOUT|NoData|Origin'

# Six Landsat bands inside a polygon given in WGS 84 over a UTM raster; the
# scene has no nodata and uses 1..255, so the job picks 0.
rv_job raster_clip '{"raster": "L7_ETMs.tif", "all_touched": true,
    "clip_geometry": {"type": "Polygon", "coordinates": [[[-34.90, -8.03],
      [-34.84, -8.035], [-34.83, -7.98], [-34.87, -7.955], [-34.905, -7.99],
      [-34.90, -8.03]]]},
    "output": "olinda.tif"}'

# A refused path: nothing outside raster_root is ever opened.
rv_job raster_clip '{"raster": "../../etc/passwd", "clip": "demo_lux"}'

# A view of the large cantons near Luxembourg City, served as is by a map
# server through geometry_columns.
rv_job create_view '{"input": "demo_lux", "name": "demo_lux_near_city",
    "columns": ["fid", "name_1", "name_2", "area", "geom"],
    "filter": {"all": [{"field": "area", "op": ">=", "value": 200},
      {"field": "name_2", "op": "not_in", "value": ["Vianden"]}]},
    "spatial_filter": {"geometry": {"type": "Point", "coordinates": [6.13, 49.61]},
      "predicate": "dwithin", "distance": 25000},
    "replace": true}'
rv_psql -c "SELECT name_1, name_2, area FROM analysis.demo_lux_near_city ORDER BY name_2"
rv_psql -c "SELECT f_table_schema, f_table_name, f_geometry_column, type, srid
    FROM geometry_columns WHERE f_table_name = 'demo_lux_near_city'"

# An injection attempt in a value ends up as a value.
rv_job create_view '{"input": "demo_lux", "name": "demo_lux_injection",
    "filter": {"field": "name_2", "op": "=",
      "value": "x'"''"'; DROP TABLE demo_lux; --"}, "replace": true}'
rv_psql -c "SELECT count(*) AS cantons_still_there FROM demo_lux"

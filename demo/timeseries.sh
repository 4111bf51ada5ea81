# demo/timeseries.sh: Emerging Hot Spot Analysis on real data (sourced by
# demo/run, with PGHOST/PGDATABASE set, the schema loaded, the daemon
# running and gw_wait_job defined).
#
# The data: the 647 gorilla nest sites of the Kagwene Gorilla Sanctuary,
# Cameroon, found from January 2006 to May 2009 (Funwi-Gabga and Mateu
# 2012; R package spatstat.data, "gorillas"), UTM zone 32N metres.  R
# writes them out as CSV, psql loads them; one hotspot_timeseries job
# builds a cube of 250 m cells by quarters, and the script prints the
# result and what the two output tables hold.

ts_psql() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }

echo "== loading the gorilla nest sites (spatstat.data::gorillas)"
ts_csv=$(mktemp)
Rscript -e 'suppressMessages(library(spatstat.data)); data(gorillas);
    d <- data.frame(x = gorillas$x, y = gorillas$y,
        found = format(gorillas$marks$date), grp = gorillas$marks$group);
    write.csv(d, commandArgs(TRUE)[1], row.names = FALSE)' "$ts_csv"
ts_psql -c "DROP TABLE IF EXISTS demo_gorilla_nests;
    CREATE TABLE demo_gorilla_nests (id serial PRIMARY KEY, x float8, y float8,
        found date, grp text, geom geometry(Point, 32632))"
ts_psql -c "\\copy demo_gorilla_nests (x, y, found, grp) FROM '$ts_csv' WITH (FORMAT csv, HEADER)"
ts_psql -c "UPDATE demo_gorilla_nests SET geom = ST_SetSRID(ST_MakePoint(x, y), 32632)"
rm -f "$ts_csv"
ts_psql -c "SELECT count(*) AS nests, min(found), max(found) FROM demo_gorilla_nests"

# 250 m cells, 3-month steps ending at the last find, Gi* over the cells
# within 500 m in the same and the previous quarter.
ts_params='{"input": "demo_gorilla_nests", "time_field": "found",
    "cell_size": 250, "time_step": "3 months", "neighborhood_distance": 500,
    "neighborhood_time_steps": 1, "output": "demo_gorilla_ehsa",
    "overwrite": true}'
ts_id=$(ts_psql -A -t -c "INSERT INTO background_jobs (job_type, params)
    VALUES ('hotspot_timeseries', '$ts_params') RETURNING id")
echo "== hotspot_timeseries (job $ts_id): $ts_params"
gw_wait_job "$ts_id"

echo "== locations by category"
ts_psql -c "SELECT category, count(*) AS locations, sum(total) AS nests,
    round(avg(trend_zscore)::numeric, 2) AS mean_trend_z
    FROM analysis.demo_gorilla_ehsa GROUP BY category ORDER BY count(*) DESC"
echo "== the patterned locations: cell centre (UTM 32N), hot/cold quarters"
ts_psql -c "SELECT location_id, category,
    round(ST_X(ST_Centroid(geom))) AS x, round(ST_Y(ST_Centroid(geom))) AS y,
    hot_bins, cold_bins, total AS nests, round(trend_zscore::numeric, 2) AS trend_z,
    round(trend_pvalue::numeric, 4) AS trend_p
    FROM analysis.demo_gorilla_ehsa WHERE category <> 'no_pattern'
    ORDER BY category, location_id LIMIT 20"
echo "== nests per quarter over the whole sanctuary"
ts_psql -c "SELECT time_step, time_start::date, time_end::date, sum(value) AS nests,
    count(*) FILTER (WHERE gi_bin > 0) AS hot_bins,
    count(*) FILTER (WHERE gi_bin < 0) AS cold_bins
    FROM analysis.demo_gorilla_ehsa_bins GROUP BY 1, 2, 3 ORDER BY 1"

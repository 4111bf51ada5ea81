# demo/overlay.sh: dissolve, clip and erase_analysis on real data (sourced by
# demo/run, with PGHOST/PGDATABASE set, the schema loaded, the daemon running
# with every type enabled, and gw_wait_job defined).
#
# North Carolina's 100 counties (sf's nc.gpkg) in NC State Plane metres
# (EPSG:32119) and NY8's 281 census tracts (spData, UTM 18N): the counties
# dissolved into three regions with birth statistics, the tracts dissolved
# into towns, the counties clipped to a GeoJSON box given in longitude and
# latitude, and erased by circles stored in EPSG:4326.  Each result is
# compared on the spot with the PostGIS SQL that computes the same thing.

ov_nc=/usr/lib/R/site-library/sf/gpkg/nc.gpkg
ov_ny=/usr/lib/R/site-library/spData/shapes/NY8_utm18.shp

echo "== overlay: loading nc (100 counties, EPSG:32119) and ny8 (281 tracts)"
ogr2ogr -f PostgreSQL PG: "$ov_nc" -nln demo_ov_nc -lco GEOMETRY_NAME=geom \
    -lco FID=fid -nlt MULTIPOLYGON -t_srs EPSG:32119 -overwrite
ogr2ogr -f PostgreSQL PG: "$ov_ny" -nln demo_ov_ny8 -lco GEOMETRY_NAME=geom \
    -lco FID=fid -nlt PROMOTE_TO_MULTI -overwrite
psql -X -q -v ON_ERROR_STOP=1 -c "SET client_min_messages = warning;
    ALTER TABLE demo_ov_nc ADD COLUMN IF NOT EXISTS region text;
    UPDATE demo_ov_nc SET region = CASE
        WHEN ST_X(ST_Centroid(geom)) < 400000 THEN 'mountains'
        WHEN ST_X(ST_Centroid(geom)) < 700000 THEN 'piedmont'
        ELSE 'coastal plain' END;
    DROP TABLE IF EXISTS demo_ov_circles;
    CREATE TABLE demo_ov_circles (id serial PRIMARY KEY, name text,
        geom geometry(Polygon, 4326));
    INSERT INTO demo_ov_circles (name, geom) VALUES
      ('Raleigh 40 km', ST_Buffer(ST_SetSRID(ST_Point(-78.64, 35.78), 4326)::geography, 40000)::geometry),
      ('Charlotte 30 km', ST_Buffer(ST_SetSRID(ST_Point(-80.84, 35.23), 4326)::geography, 30000)::geometry);"

echo
echo "== dissolve: counties into three regions, births summed"
ov_id=$(psql -X -q -A -t -v ON_ERROR_STOP=1 -c "INSERT INTO background_jobs (job_type, params)
    VALUES ('dissolve', '{\"input\": \"demo_ov_nc\", \"fields\": [\"region\"],
      \"statistics\": [{\"field\": \"bir74\", \"stat\": \"sum\"},
                       {\"field\": \"sid74\", \"stat\": \"sum\"},
                       {\"field\": \"name\", \"stat\": \"count\"},
                       {\"field\": \"bir74\", \"stat\": \"max\"}],
      \"output\": \"demo_nc_regions\", \"overwrite\": true}') RETURNING id")
gw_wait_job "$ov_id"
psql -X -q -c "SELECT o.region, o.count_name AS counties, o.sum_bir74, o.sum_sid74,
        o.max_bir74, round((ST_Area(o.geom) / 1e6)::numeric) AS km2,
        round((ST_Area(r.u) / 1e6)::numeric) AS postgis_km2
    FROM analysis.demo_nc_regions o JOIN (SELECT region, ST_Union(geom) AS u
        FROM demo_ov_nc GROUP BY region) r USING (region) ORDER BY o.region"

echo
echo "== dissolve: NY8 tracts into towns (a coverage: merged by coverage union)"
ov_id=$(psql -X -q -A -t -v ON_ERROR_STOP=1 -c "INSERT INTO background_jobs (job_type, params)
    VALUES ('dissolve', '{\"input\": \"demo_ov_ny8\", \"fields\": [\"areaname\"],
      \"statistics\": [{\"field\": \"pop8\", \"stat\": \"sum\"},
                       {\"field\": \"cases\", \"stat\": \"sum\"}],
      \"output\": \"demo_ny8_towns\", \"overwrite\": true}') RETURNING id")
gw_wait_job "$ov_id"
psql -X -q -c "SELECT areaname, sum_pop8, round(sum_cases::numeric, 2) AS cases,
        ST_NumGeometries(geom) AS parts, round((ST_Area(geom) / 1e6)::numeric, 1) AS km2
    FROM analysis.demo_ny8_towns ORDER BY sum_pop8 DESC LIMIT 8"

echo
echo "== clip: counties cut to a box given as GeoJSON in longitude/latitude"
ov_id=$(psql -X -q -A -t -v ON_ERROR_STOP=1 -c "INSERT INTO background_jobs (job_type, params)
    VALUES ('clip', '{\"input\": \"demo_ov_nc\",
      \"clip_geometry\": {\"type\": \"Polygon\", \"coordinates\":
        [[[-80.0, 35.4], [-78.3, 35.4], [-78.3, 36.3], [-80.0, 36.3], [-80.0, 35.4]]]},
      \"clip_srid\": 4326, \"output\": \"demo_nc_clip\", \"overwrite\": true}') RETURNING id")
gw_wait_job "$ov_id"
psql -X -q -c "SELECT (SELECT count(*) FROM analysis.demo_nc_clip) AS features,
        (SELECT round((sum(ST_Area(geom)) / 1e6)::numeric, 3) FROM analysis.demo_nc_clip) AS km2,
        (SELECT round((sum(ST_Area(ST_CollectionExtract(ST_Intersection(n.geom, b.g), 3))) / 1e6)::numeric, 3)
         FROM demo_ov_nc n, (SELECT ST_Transform(ST_MakeEnvelope(-80.0, 35.4, -78.3, 36.3, 4326), 32119) AS g) b
         WHERE ST_Intersects(n.geom, b.g)) AS postgis_km2"
psql -X -q -c "SELECT name, round((ST_Area(geom) / 1e6)::numeric, 1) AS km2_kept FROM analysis.demo_nc_clip
    ORDER BY km2_kept DESC LIMIT 5"

echo
echo "== erase_analysis: counties minus 40 and 30 km circles stored in EPSG:4326"
ov_id=$(psql -X -q -A -t -v ON_ERROR_STOP=1 -c "INSERT INTO background_jobs (job_type, params)
    VALUES ('erase_analysis', '{\"input\": \"demo_ov_nc\", \"erase\": \"demo_ov_circles\",
      \"output\": \"demo_nc_erase\", \"overwrite\": true}') RETURNING id")
gw_wait_job "$ov_id"
psql -X -q -c "SELECT (SELECT count(*) FROM analysis.demo_nc_erase) AS features,
        (SELECT round((sum(ST_Area(geom)) / 1e6)::numeric, 3) FROM analysis.demo_nc_erase) AS km2,
        (SELECT round((sum(ST_Area(ST_Difference(n.geom, c.u))) / 1e6)::numeric, 3)
         FROM demo_ov_nc n, (SELECT ST_Union(ST_Transform(geom, 32119)) AS u FROM demo_ov_circles) c)
         AS postgis_km2"
psql -X -q -c "SELECT name, round((ST_Area(o.geom) / 1e6)::numeric, 1) AS km2_left,
        round((ST_Area(n.geom) / 1e6)::numeric, 1) AS km2_before
    FROM analysis.demo_nc_erase o JOIN demo_ov_nc n USING (fid, name)
    WHERE NOT ST_Equals(o.geom, n.geom) ORDER BY name"

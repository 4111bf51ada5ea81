# children/gis/gis.mk: libgwgis, the GIS glue every job program shares:
# the GEOS context and geometry helpers, the one spatial_ref_sys reader
# (srs.c: libpq only, so raster_clip's GDAL CRSs use it too), the one CRS
# resolver (one PROJ context), the table model, the cursor reader, the COPY writer, GeoJSON,
# the string buffer, identifier quoter and printf SQL, filters, spatial weights and
# raster access.  It talks to PostgreSQL, GEOS, PROJ and GDAL; a program
# links only the objects it uses (create_view: table, filter, quote, execf
# and strbuf, so neither GEOS nor GDAL).  Beneath it: libgwnum and
# libgwworker.

noinst_LIBRARIES += children/gis/libgwgis.a
children_gis_libgwgis_a_SOURCES = \
	children/gis/strbuf.c children/gis/strbuf.h \
	children/gis/quote.c children/gis/quote.h \
	children/gis/execf.c children/gis/execf.h \
	children/gis/geos.c children/gis/geom.c children/gis/union.c \
	children/gis/geom.h \
	children/gis/srs.c children/gis/srs.h \
	children/gis/crs.c children/gis/crs.h \
	children/gis/table.c children/gis/table.h \
	children/gis/layer.c children/gis/layer.h \
	children/gis/cursor.c children/gis/cursor.h \
	children/gis/output.c children/gis/output.h \
	children/gis/geojson.c children/gis/geojson.h \
	children/gis/filter.c children/gis/filter.h \
	children/gis/weights.c children/gis/weights.h \
	children/gis/raster.c children/gis/raster.h
children_gis_libgwgis_a_CFLAGS = $(AM_CFLAGS) $(GEOS_CFLAGS) $(PROJ_CFLAGS) \
	$(GDAL_CFLAGS) $(PQ_CFLAGS) $(JANSSON_CFLAGS)

GW_GIS_CFLAGS = $(AM_CFLAGS) $(GEOS_CFLAGS) $(PROJ_CFLAGS) $(PQ_CFLAGS) \
	$(JANSSON_CFLAGS)
GW_GIS_LIBS = children/gis/libgwgis.a $(GW_NUM_LIBS) $(GW_WORKER_LIBS) \
	$(GEOS_LIBS) $(PROJ_LIBS)

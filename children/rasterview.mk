# children/rasterview.mk: the raster_clip and create_view job programs.
#
# filter.c (structured attribute filters to SQL) goes into the shared library
# for the clip programs too.  GDAL is linked into raster_clip only; create_view
# needs neither GEOS nor GDAL (its spatial filter is PostGIS SQL).

children_libgwgis_a_SOURCES += children/filter.c children/filter.h

pkglibexec_PROGRAMS += children/create_view children/raster_clip

children_create_view_SOURCES = children/create_view.c
children_create_view_CFLAGS = $(AM_CFLAGS) $(PQ_CFLAGS) $(JANSSON_CFLAGS)
children_create_view_LDADD = children/libgwgis.a $(GW_WORKER_LIBS) -lm

children_raster_clip_SOURCES = children/raster_clip.c children/raster.c \
	children/raster.h
children_raster_clip_CFLAGS = $(AM_CFLAGS) $(GDAL_CFLAGS) $(PQ_CFLAGS) \
	$(JANSSON_CFLAGS)
children_raster_clip_LDADD = children/libgwgis.a $(GW_WORKER_LIBS) \
	$(GDAL_LIBS) -lm

EXTRA_DIST += demo/rasterview.sh

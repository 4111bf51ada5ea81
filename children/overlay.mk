# children/overlay.mk: the shared GIS library (feature I/O, PROJ, GeoJSON)
# and the vector overlay job programs: dissolve, clip, erase_analysis.
#
# Other fragments append their shared sources to the library with
#   children_libgwgis_a_SOURCES += children/weights.c ...
# and link it first: children_X_LDADD = children/libgwgis.a $(GW_WORKER_LIBS) ...

noinst_LIBRARIES += children/libgwgis.a
children_libgwgis_a_SOURCES = children/features.c children/features.h \
	children/proj.c
children_libgwgis_a_CFLAGS = $(AM_CFLAGS) $(GEOS_CFLAGS) $(PROJ_CFLAGS) \
	$(PQ_CFLAGS) $(JANSSON_CFLAGS)

GW_GIS_LIBS = children/libgwgis.a $(GW_WORKER_LIBS) $(GEOS_LIBS) $(PROJ_LIBS)
GW_GIS_CFLAGS = $(AM_CFLAGS) $(GEOS_CFLAGS) $(PROJ_CFLAGS) $(PQ_CFLAGS) \
	$(JANSSON_CFLAGS)

pkglibexec_PROGRAMS += children/dissolve children/clip children/erase_analysis

children_dissolve_SOURCES = children/dissolve.c
children_dissolve_CFLAGS = $(GW_GIS_CFLAGS)
children_dissolve_LDADD = $(GW_GIS_LIBS) -lm

children_clip_SOURCES = children/clip.c children/overlay.c children/overlay.h
children_clip_CFLAGS = $(GW_GIS_CFLAGS)
children_clip_LDADD = $(GW_GIS_LIBS) -lm

children_erase_analysis_SOURCES = children/erase_analysis.c \
	children/overlay.c children/overlay.h
children_erase_analysis_CFLAGS = $(GW_GIS_CFLAGS)
children_erase_analysis_LDADD = $(GW_GIS_LIBS) -lm

EXTRA_DIST += demo/overlay.sh

# Unit test: the quick validity test never disagrees with GEOS.
check_PROGRAMS += t/unit/overlay_valid
t_unit_overlay_valid_SOURCES = t/unit/overlay_valid.c t/unit/tap.h
t_unit_overlay_valid_CFLAGS = $(GW_GIS_CFLAGS)
t_unit_overlay_valid_LDADD = $(GW_GIS_LIBS) -lm

# Unit test: CRS kind and unit from PROJ.4 strings agree with PROJ.
check_PROGRAMS += t/unit/overlay_crs
t_unit_overlay_crs_SOURCES = t/unit/overlay_crs.c t/unit/tap.h
t_unit_overlay_crs_CFLAGS = $(GW_GIS_CFLAGS)
t_unit_overlay_crs_LDADD = $(GW_GIS_LIBS) -lm

# children/jobs/jobs.mk: the job programs, one per job type, and the
# test-only selftest.  Sources are in children/jobs/; the programs are built
# as children/<type> so that a build tree's children/ is a child_dir.
#
# libgwjob holds the code two or more programs of a family share: overlay.c
# (clip, erase_analysis) and statsjob.c (hotspot, outlier, nearest).

noinst_LIBRARIES += children/jobs/libgwjob.a
children_jobs_libgwjob_a_SOURCES = children/jobs/overlay.c \
	children/jobs/overlay.h children/jobs/statsjob.c children/jobs/statsjob.h
children_jobs_libgwjob_a_CFLAGS = $(GW_GIS_CFLAGS)

GW_JOB_LIBS = children/jobs/libgwjob.a $(GW_GIS_LIBS)

pkglibexec_PROGRAMS += children/dissolve children/clip \
	children/erase_analysis children/hotspot_analysis \
	children/outlier_analysis children/nearest_analysis \
	children/hotspot_timeseries children/create_view children/raster_clip

children_dissolve_SOURCES = children/jobs/dissolve.c
children_dissolve_CFLAGS = $(GW_GIS_CFLAGS)
children_dissolve_LDADD = $(GW_GIS_LIBS)

children_clip_SOURCES = children/jobs/clip.c
children_clip_CFLAGS = $(GW_GIS_CFLAGS)
children_clip_LDADD = $(GW_JOB_LIBS)

children_erase_analysis_SOURCES = children/jobs/erase_analysis.c
children_erase_analysis_CFLAGS = $(GW_GIS_CFLAGS)
children_erase_analysis_LDADD = $(GW_JOB_LIBS)

children_hotspot_analysis_SOURCES = children/jobs/hotspot_analysis.c
children_hotspot_analysis_CFLAGS = $(GW_GIS_CFLAGS)
children_hotspot_analysis_LDADD = $(GW_JOB_LIBS)

children_outlier_analysis_SOURCES = children/jobs/outlier_analysis.c
children_outlier_analysis_CFLAGS = $(GW_GIS_CFLAGS)
children_outlier_analysis_LDADD = $(GW_JOB_LIBS)

children_nearest_analysis_SOURCES = children/jobs/nearest_analysis.c
children_nearest_analysis_CFLAGS = $(GW_GIS_CFLAGS)
children_nearest_analysis_LDADD = $(GW_JOB_LIBS)

children_hotspot_timeseries_SOURCES = children/jobs/hotspot_timeseries.c
children_hotspot_timeseries_CFLAGS = $(GW_GIS_CFLAGS)
children_hotspot_timeseries_LDADD = $(GW_GIS_LIBS)

# create_view needs neither GEOS nor GDAL (its spatial filter is PostGIS
# SQL); GDAL is linked into raster_clip only.
children_create_view_SOURCES = children/jobs/create_view.c
children_create_view_CFLAGS = $(AM_CFLAGS) $(PQ_CFLAGS) $(JANSSON_CFLAGS)
children_create_view_LDADD = children/gis/libgwgis.a $(GW_WORKER_LIBS) -lm

children_raster_clip_SOURCES = children/jobs/raster_clip.c
children_raster_clip_CFLAGS = $(AM_CFLAGS) $(GDAL_CFLAGS) $(PQ_CFLAGS) \
	$(JANSSON_CFLAGS)
children_raster_clip_LDADD = children/gis/libgwgis.a $(GW_WORKER_LIBS) \
	$(GDAL_LIBS) -lm

# The test-only job program: built for the tests, never installed.
check_PROGRAMS += children/selftest
children_selftest_SOURCES = children/jobs/selftest.c
children_selftest_CFLAGS = $(AM_CFLAGS) $(PQ_CFLAGS) $(JANSSON_CFLAGS)
children_selftest_LDADD = $(GW_WORKER_LIBS)

# The demo fragments (demo/run sources them); docs, tests, test data and the
# bench are shipped by Makefile.am's wildcards.
EXTRA_DIST += demo/overlay.sh demo/stats.sh demo/rasterview.sh \
	demo/timeseries.sh

# children/stats.mk: the spatial statistics job programs (hotspot_analysis,
# outlier_analysis, nearest_analysis) and what they share: the k-d tree,
# spatial weights, the statistics themselves (children/stats.h, reused by
# hotspot_timeseries) and the common job code of the local statistics.

children_libgwgis_a_SOURCES += children/stats.c children/stats.h \
	children/kdtree.c children/kdtree.h children/weights.c children/weights.h \
	children/statsjob.c children/statsjob.h

pkglibexec_PROGRAMS += children/hotspot_analysis children/outlier_analysis \
	children/nearest_analysis

children_hotspot_analysis_SOURCES = children/hotspot_analysis.c
children_hotspot_analysis_CFLAGS = $(GW_GIS_CFLAGS)
children_hotspot_analysis_LDADD = $(GW_GIS_LIBS) -lm

children_outlier_analysis_SOURCES = children/outlier_analysis.c
children_outlier_analysis_CFLAGS = $(GW_GIS_CFLAGS)
children_outlier_analysis_LDADD = $(GW_GIS_LIBS) -lm

children_nearest_analysis_SOURCES = children/nearest_analysis.c
children_nearest_analysis_CFLAGS = $(GW_GIS_CFLAGS)
children_nearest_analysis_LDADD = $(GW_GIS_LIBS) -lm

# Unit tests of the pure code: hand-worked values and brute force.
check_PROGRAMS += t/unit/stats t/unit/stats_weights
t_unit_stats_SOURCES = t/unit/stats.c t/unit/tap.h
t_unit_stats_CFLAGS = $(GW_GIS_CFLAGS)
t_unit_stats_LDADD = $(GW_GIS_LIBS) -lm
t_unit_stats_weights_SOURCES = t/unit/stats_weights.c t/unit/tap.h
t_unit_stats_weights_CFLAGS = $(GW_GIS_CFLAGS)
t_unit_stats_weights_LDADD = $(GW_GIS_LIBS) -lm

# The demo fragment (demo/run sources it); docs, tests, test data and the
# bench are shipped by Makefile.am's wildcards.
EXTRA_DIST += demo/stats.sh

# children/timeseries.mk: the hotspot_timeseries job program (Emerging Hot
# Spot Analysis), its unit tests, docs, demo and benchmark.  The normal
# distribution and the FDR come from stats.c, in children/libgwgis.a.

pkglibexec_PROGRAMS += children/hotspot_timeseries
children_hotspot_timeseries_SOURCES = children/hotspot_timeseries.c \
	children/cube.c children/cube.h children/mannkendall.c \
	children/mannkendall.h
children_hotspot_timeseries_CFLAGS = $(GW_GIS_CFLAGS)
children_hotspot_timeseries_LDADD = $(GW_GIS_LIBS) -lm

# Unit tests: Mann-Kendall, the classification rules, the cube and its Gi*.
check_PROGRAMS += t/unit/timeseries
t_unit_timeseries_SOURCES = t/unit/timeseries.c t/unit/tap.h \
	children/cube.c children/cube.h children/mannkendall.c \
	children/mannkendall.h
t_unit_timeseries_LDADD = children/libgwgis.a $(BSD_LIBS) -lm

EXTRA_DIST += demo/timeseries.sh

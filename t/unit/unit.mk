# t/unit/unit.mk: the C unit tests (TAP on stdout), run by prove with the
# perl tests.  Each links the one library it tests: the numerical ones
# libgwnum alone, without a database, GEOS or PROJ.

check_PROGRAMS += t/unit/util
t_unit_util_SOURCES = t/unit/util.c t/unit/tap.h
t_unit_util_CFLAGS = $(AM_CFLAGS) $(INIH_CFLAGS) $(JANSSON_CFLAGS)
t_unit_util_LDADD = src/libgwcommon.a $(INIH_LIBS) $(JANSSON_LIBS) $(BSD_LIBS)

# Statistics: hand-worked values and brute force.
check_PROGRAMS += t/unit/stats
t_unit_stats_SOURCES = t/unit/stats.c t/unit/tap.h
t_unit_stats_LDADD = $(GW_NUM_LIBS)

# Mann-Kendall, the classification rules, the cube and its Gi*.
check_PROGRAMS += t/unit/timeseries
t_unit_timeseries_SOURCES = t/unit/timeseries.c t/unit/tap.h
t_unit_timeseries_LDADD = $(GW_NUM_LIBS) $(BSD_LIBS)

# Spatial weights against brute force.
check_PROGRAMS += t/unit/stats_weights
t_unit_stats_weights_SOURCES = t/unit/stats_weights.c t/unit/tap.h
t_unit_stats_weights_CFLAGS = $(GW_GIS_CFLAGS)
t_unit_stats_weights_LDADD = $(GW_GIS_LIBS)

# The quick validity test never disagrees with GEOS.
check_PROGRAMS += t/unit/overlay_valid
t_unit_overlay_valid_SOURCES = t/unit/overlay_valid.c t/unit/tap.h
t_unit_overlay_valid_CFLAGS = $(GW_GIS_CFLAGS)
t_unit_overlay_valid_LDADD = $(GW_GIS_LIBS)

# CRS kind and unit from PROJ.4 strings agree with PROJ.
check_PROGRAMS += t/unit/overlay_crs
t_unit_overlay_crs_SOURCES = t/unit/overlay_crs.c t/unit/tap.h
t_unit_overlay_crs_CFLAGS = $(GW_GIS_CFLAGS)
t_unit_overlay_crs_LDADD = $(GW_GIS_LIBS)

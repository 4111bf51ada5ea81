# children/num/num.mk: libgwnum, the numerical code of the job programs:
# statistics (normal distribution, FDR, Gi*, Moran's I), the k-d tree, the
# space-time cube and Mann-Kendall.  It needs neither libpq nor GEOS nor
# PROJ: only libc and libm.

noinst_LIBRARIES += children/num/libgwnum.a
children_num_libgwnum_a_SOURCES = children/num/stats.c children/num/stats.h \
	children/num/kdtree.c children/num/kdtree.h \
	children/num/cube.c children/num/cube.h \
	children/num/mannkendall.c children/num/mannkendall.h

GW_NUM_LIBS = children/num/libgwnum.a -lm

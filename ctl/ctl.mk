# ctl/ctl.mk: geoworkerctl(8), the operator's tool: status of the running
# master, the queue (jobs, show, nodes) and the actions on it (enqueue, wait,
# cancel, retry, dismiss, purge).  Links what the master links, minus
# libsystemd.

sbin_PROGRAMS += ctl/geoworkerctl
ctl_geoworkerctl_SOURCES = ctl/geoworkerctl.c ctl/status.c ctl/queue.c \
	ctl/table.c ctl/ctl.h
ctl_geoworkerctl_CFLAGS = $(AM_CFLAGS) $(PQ_CFLAGS) $(JANSSON_CFLAGS)
ctl_geoworkerctl_LDADD = src/libgwcommon.a $(PQ_LIBS) $(JANSSON_LIBS) \
	$(INIH_LIBS) $(BSD_LIBS)

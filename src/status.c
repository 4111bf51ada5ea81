/*
 * status.c: what the master says about itself: the SIGUSR1 dump (lines in
 * the log, the same as JSON in status_file), the process title, and the
 * systemd STATUS= line.
 *
 * NOTES
 *   status_file is written to a temporary name and renamed, so a reader never
 *   sees half a file.  The queued counts come from the database and are null
 *   while it is away: the dump must not wait on it for long (db.c bounds it).
 */
#include "config.h"

#include <sys/stat.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <systemd/sd-daemon.h>

#include "geoworkerd.h"

/* Resident memory of pid in bytes, from /proc; 0 if unknown. */
static unsigned long long
rss_of(pid_t pid)
{
	char			 path[64], line[256];
	unsigned long long	 kb = 0;
	FILE			*fp;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "VmRSS: %llu kB", &kb) == 1)
			break;
	fclose(fp);
	return kb * 1024;
}

void
status_dump(void)
{
	struct gw_type	*t;
	struct child	*ch;
	json_t		*root, *types, *busy, *o;
	uint64_t	 now = now_ms();
	char		 tmp[4096], sz[32];
	long		 queued;
	FILE		*fp;
	int		 fd = -1, known;

	root = json_object();
	types = json_array();
	busy = json_array();
	if (!root || !types || !busy)
		fatalx("out of memory");
	log_info("status: pid %d, node %s, up %llu s, database %s, %d pending "
	    "writes%s", (int)gw->pid, gw->conf->node_name,
	    (unsigned long long)((now - gw->started_ms) / 1000),
	    db_up() ? "up" : "DOWN", db_pending(),
	    gw->draining ? ", draining" : gw->stopping ? ", stopping" : "");
	known = metrics_queue_refresh(now, 1);
	TAILQ_FOREACH(t, &gw->types, entry) {
		queued = known ? t->m.queued : -1;
		log_info("status: type %s: children %d configured, %d live, "
		    "%d idle, %d busy; %lu completed, %lu failed, %lu crashed "
		    "since start; %ld queued%s", t->name, t->conf.children,
		    t->live, t->idle, t->busy, t->completed, t->failed,
		    t->crashed, queued, t->removed ? " (removed)" :
		    now < t->next_spawn_ms ? " (throttled)" : "");
		o = json_pack("{s:s, s:i, s:i, s:i, s:i, s:I, s:I, s:I, s:b, s:b}",
		    "type", t->name, "configured", t->conf.children,
		    "live", t->live, "idle", t->idle, "busy", t->busy,
		    "completed", (json_int_t)t->completed,
		    "failed", (json_int_t)t->failed,
		    "crashed", (json_int_t)t->crashed,
		    "throttled", now < t->next_spawn_ms,
		    "removed", t->removed);
		if (o == NULL)
			fatalx("out of memory");
		json_object_set_new(o, "queued", queued >= 0 ?
		    json_integer(queued) : json_null());
		json_array_append_new(types, o);
	}
	TAILQ_FOREACH(ch, &gw->children, entry) {
		if (ch->state != CHILD_BUSY)
			continue;
		unsigned long long rss = rss_of(ch->pid);
		log_info("status: busy child %d: type %s, job %lld, %.1f s, "
		    "memory %s, progress %.0f%%", (int)ch->pid, ch->type->name,
		    ch->job_id, (now - ch->job_start_ms) / 1000.0,
		    format_size(rss / 1024 * 1024, sz, sizeof(sz)),
		    ch->progress < 0 ? 0 : ch->progress * 100);
		o = json_pack("{s:i, s:s, s:I, s:f, s:I, s:f}",
		    "pid", (int)ch->pid, "type", ch->type->name,
		    "job", (json_int_t)ch->job_id,
		    "elapsed_s", (now - ch->job_start_ms) / 1000.0,
		    "rss_bytes", (json_int_t)rss,
		    "progress", ch->progress < 0 ? 0.0 : ch->progress);
		if (o == NULL)
			fatalx("out of memory");
		json_array_append_new(busy, o);
	}
	json_object_set_new(root, "pid", json_integer(gw->pid));
	json_object_set_new(root, "node", json_string(gw->conf->node_name));
	json_object_set_new(root, "uptime_s",
	    json_integer((json_int_t)((now - gw->started_ms) / 1000)));
	json_object_set_new(root, "started_at", json_integer(gw->started_at));
	json_object_set_new(root, "database", json_string(db_up() ? "up" : "down"));
	json_object_set_new(root, "pending_writes", json_integer(db_pending()));
	json_object_set_new(root, "stopping", json_boolean(gw->stopping));
	json_object_set_new(root, "draining", json_boolean(gw->draining));
	json_object_set_new(root, "types", types);
	json_object_set_new(root, "busy", busy);

	/* A fresh temporary name (mkstemp: O_EXCL, never a planted link)
	 * beside the file, renamed over it. */
	if (gw->conf->status_file != NULL) {
		snprintf(tmp, sizeof(tmp), "%s.XXXXXX", gw->conf->status_file);
		if ((fd = mkstemp(tmp)) == -1 || (fp = fdopen(fd, "w")) == NULL) {
			log_warn("status: cannot write %s", tmp);
			if (fd != -1) {
				close(fd);
				unlink(tmp);
			}
		} else {
			fchmod(fd, 0644);
			json_dumpf(root, fp, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
			fputc('\n', fp);
			if (fclose(fp) != 0 || rename(tmp, gw->conf->status_file) == -1) {
				log_warn("status: cannot write %s",
				    gw->conf->status_file);
				unlink(tmp);
			}
		}
	}
	json_decref(root);
}

/* The process title and the systemd status line: busy / idle counts. */
void
status_title(void)
{
	struct gw_type	*t;
	int		 busy = 0, idle = 0;

	TAILQ_FOREACH(t, &gw->types, entry) {
		busy += t->busy;
		idle += t->idle;
	}
	setproctitle("master%s: %d busy, %d idle%s", gw->draining ?
	    " (draining)" : gw->stopping ? " (stopping)" : "", busy, idle,
	    db_up() ? "" : ", database down");
	sd_notifyf(0, "STATUS=%d busy, %d idle%s%s", busy, idle,
	    db_up() ? "" : ", database down", gw->draining ? ", draining" :
	    gw->stopping ? ", stopping" : "");
}

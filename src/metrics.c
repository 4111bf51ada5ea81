/*
 * metrics.c: the master's OpenMetrics endpoint (GET /metrics on
 * metrics_listen) and the counts and histograms it shows.
 *
 * NOTES
 *   The endpoint is a tiny HTTP/1.0 responder inside the master's poll loop:
 *   one non-blocking listening socket and at most MAXCLIENTS connections,
 *   each with a bounded request (REQMAX bytes) and a deadline (CLIENT_MS)
 *   for the whole exchange; each connection gets one response and is closed.
 *   Nothing here blocks: a slow or silent client only uses up its slot
 *   until its deadline.  While every slot is taken the listener is not
 *   polled, so new clients wait in the backlog.
 *
 *   What the master learns of a job's end it learns in children.c; the one
 *   place that sees every end is the reaping of the child, so that is where
 *   each run gets its one outcome (metrics_child_gone, called first thing
 *   when a child is reaped).  A "done" message says completed or failed:
 *   metrics_child_read wraps child_read to tell which it was.  The counts
 *   live in struct gw_type, which a reload keeps.
 *
 *   The queue gauges come from the master's own database connection, asked
 *   at most every QUEUE_MS and only when someone scrapes: the answer is
 *   bounded by db_timeout like every query of the master.
 *
 *   Errors: a metrics_listen that cannot be opened is logged and the master
 *   runs without the endpoint (a SIGHUP tries again); a client error closes
 *   that client.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "geoworkerd.h"

#define MAXCLIENTS	(GW_METRICS_MAXFD - 1)
#define REQMAX		2048	/* request line and headers */
#define CLIENT_MS	5000	/* a whole exchange */
#define QUEUE_MS	5000	/* the queue gauges are at most this old */

#define CONTENT_TYPE	"application/openmetrics-text; version=1.0.0; charset=utf-8"
#define CONTENT_TYPE_TEXT "text/plain; version=0.0.4; charset=utf-8"

/* Upper bounds of the histogram buckets; the last bucket is +Inf. */
static const double duration_bounds[GW_HIST_BUCKETS - 1] = {
	0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 1800, 3600, 7200
};
static const double wait_bounds[GW_HIST_BUCKETS - 1] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60
};

struct mclient {
	int		 fd;		/* -1: free slot */
	uint64_t	 deadline_ms;
	char		 req[REQMAX];
	size_t		 reqlen;
	char		*out;		/* the response, once the request is read */
	size_t		 outlen, outoff;
};

static int		 listen_fd = -1;
static char		*listen_spec;	/* what listen_fd was opened for */
static struct mclient	 clients[MAXCLIENTS];	/* fd -1 from metrics_reload */
static int		 clients_ready;
static uint64_t		 queue_at_ms;
static int		 queue_known;

static void
hist_observe(struct gw_hist *h, const double *bounds, double v)
{
	int	 i;

	for (i = 0; i < GW_HIST_BUCKETS - 1 && v > bounds[i]; i++)
		;
	h->bucket[i]++;
	h->count++;
	h->sum += v;
}

/*
 * child_read, noting what a "done" message said (completed or failed: only
 * the type's count tells them apart) and the queue wait of a claim.
 */
void
metrics_child_read(struct child *ch)
{
	struct gw_type	*t = ch->type;
	unsigned long	 completed = t->completed;
	int		 was_done = ch->done, was_busy = ch->state == CHILD_BUSY;

	child_read(ch);
	if (!was_done && ch->done)
		ch->outcome = t->completed != completed ?
		    CHILD_OUTCOME_COMPLETED : CHILD_OUTCOME_FAILED;
	if (!was_busy && ch->state == CHILD_BUSY)
		hist_observe(&t->m.wait, wait_bounds, ch->wait_ms / 1000.0);
}

/*
 * Called by children.c when ch has been reaped, before it looks at it: reads
 * the messages still queued, then counts the run's one outcome and its
 * duration.  A child that held no job counts nothing here.
 */
void
metrics_child_gone(struct child *ch, int status)
{
	struct gw_typemetrics	*m = &ch->type->m;

	if (ch->fd != -1)
		metrics_child_read(ch);
	if (ch->state != CHILD_BUSY && ch->job_id == 0)
		return;
	if (ch->job_start_ms != 0)
		hist_observe(&m->duration, duration_bounds,
		    (now_ms() - ch->job_start_ms) / 1000.0);
	/* The child's own word first: the row says what it recorded. */
	if (ch->outcome == CHILD_OUTCOME_COMPLETED)
		m->completed++;
	else if (ch->outcome == CHILD_OUTCOME_FAILED)
		m->failed++;
	else if (ch->killed == KILL_TIMEOUT)
		m->timed_out++;
	else if (ch->killed == KILL_CANCEL ||
	    (WIFEXITED(status) && WEXITSTATUS(status) == GW_EXIT_FENCED))
		m->cancelled++;
	else if (ch->killed == KILL_SHUTDOWN)
		m->interrupted++;
	else
		m->crashed++;
}

/* Called by db_queue_stats for each type with queued jobs. */
void
metrics_queue(const char *type, long queued, double oldest_s)
{
	struct gw_type	*t;

	if ((t = type_find(type)) == NULL)
		return;
	t->m.queued = queued;
	t->m.oldest_s = oldest_s;
}

/*
 * The queue counts (t->m.queued, t->m.oldest_s), read again if older than
 * QUEUE_MS, or always with force (a status dump).  Returns whether they are
 * known (the database answered).
 */
int
metrics_queue_refresh(uint64_t now, int force)
{
	struct gw_type	*t;

	if (!force && queue_known && now - queue_at_ms < QUEUE_MS)
		return 1;
	queue_at_ms = now;
	TAILQ_FOREACH(t, &gw->types, entry) {
		t->m.queued = 0;
		t->m.oldest_s = 0;
	}
	queue_known = db_up() && db_queue_stats(metrics_queue) == 0;
	return queue_known;
}

/*
 * A family's metadata.  OpenMetrics names a counter's family without the
 * _total of its samples; the older Prometheus text format (text != 0) names
 * it with.
 */
static void
family(FILE *fp, int text, const char *name, const char *type,
    const char *help)
{
	const char	*sfx = text && strcmp(type, "counter") == 0 ? "_total" : "";

	fprintf(fp, "# TYPE %s%s %s\n# HELP %s%s %s\n", name, sfx, type, name,
	    sfx, help);
}

static void
counter(FILE *fp, int text, const char *name, const char *help, size_t off)
{
	struct gw_type	*t;

	family(fp, text, name, "counter", help);
	TAILQ_FOREACH(t, &gw->types, entry)
		fprintf(fp, "%s_total{type=\"%s\"} %llu\n", name, t->name,
		    (unsigned long long)*(uint64_t *)((char *)&t->m + off));
}

static void
histogram(FILE *fp, int text, const char *name, const char *help, size_t off,
    const double *bounds)
{
	struct gw_type	*t;
	struct gw_hist	*h;
	uint64_t	 cum;
	int		 i;

	family(fp, text, name, "histogram", help);
	TAILQ_FOREACH(t, &gw->types, entry) {
		h = (struct gw_hist *)((char *)&t->m + off);
		for (cum = 0, i = 0; i < GW_HIST_BUCKETS; i++) {
			cum += h->bucket[i];
			if (i < GW_HIST_BUCKETS - 1)
				fprintf(fp, "%s_bucket{type=\"%s\",le=\"%g\"} "
				    "%llu\n", name, t->name, bounds[i],
				    (unsigned long long)cum);
			else
				fprintf(fp, "%s_bucket{type=\"%s\",le=\"+Inf\"} "
				    "%llu\n", name, t->name,
				    (unsigned long long)cum);
		}
		fprintf(fp, "%s_sum{type=\"%s\"} %.6f\n", name, t->name, h->sum);
		fprintf(fp, "%s_count{type=\"%s\"} %llu\n", name, t->name,
		    (unsigned long long)h->count);
	}
}

/*
 * The exposition, in a buffer the caller frees; NULL when out of memory.
 * OpenMetrics 1.0.0, or with text the Prometheus text format 0.0.4 (the
 * same samples: only counter metadata and the final # EOF differ).  Type
 * names need no escaping in a label value: valid_type_name allows letters,
 * digits and underscores only.
 */
static char *
exposition(int text, size_t *len)
{
	static const char *const states[] = { "idle", "busy", "starting" };
	struct gw_type	*t;
	struct child	*ch;
	char		*buf = NULL;
	FILE		*fp;
	int		 i, n;

	metrics_queue_refresh(now_ms(), 0);
	if ((fp = open_memstream(&buf, len)) == NULL)
		return NULL;
	family(fp, text, "geoworkerd_up", "gauge", "1 while the master runs.");
	fprintf(fp, "geoworkerd_up 1\n");
	family(fp, text, "geoworkerd_start_time_seconds", "gauge",
	    "When the master started, in seconds since the Unix epoch.");
	fprintf(fp, "geoworkerd_start_time_seconds %lld\n",
	    (long long)gw->started_at);
	family(fp, text, "geoworkerd_database_up", "gauge",
	    "1 while the master's database connection is up.");
	fprintf(fp, "geoworkerd_database_up %d\n", db_up() ? 1 : 0);

	counter(fp, text, "geoworkerd_jobs_completed", "Runs the job program "
	    "recorded as completed.", offsetof(struct gw_typemetrics, completed));
	counter(fp, text, "geoworkerd_jobs_failed", "Runs the job program recorded "
	    "as failed.", offsetof(struct gw_typemetrics, failed));
	counter(fp, text, "geoworkerd_jobs_crashed", "Runs whose child died without "
	    "recording the job (signal, exit status).",
	    offsetof(struct gw_typemetrics, crashed));
	counter(fp, text, "geoworkerd_jobs_timed_out", "Runs killed by the master "
	    "at the type's timeout.", offsetof(struct gw_typemetrics, timed_out));
	counter(fp, text, "geoworkerd_jobs_cancelled", "Runs ended because the job "
	    "was cancelled or taken away.",
	    offsetof(struct gw_typemetrics, cancelled));
	counter(fp, text, "geoworkerd_jobs_interrupted", "Runs killed at stop after "
	    "shutdown_grace and re-queued.",
	    offsetof(struct gw_typemetrics, interrupted));

	family(fp, text, "geoworkerd_children", "gauge",
	    "Children of the master by job type and state.");
	TAILQ_FOREACH(t, &gw->types, entry)
		for (i = 0; i < 3; i++) {
			if (i == 0)
				n = t->idle;
			else if (i == 1)
				n = t->busy;
			else {
				n = 0;
				TAILQ_FOREACH(ch, &gw->children, entry)
					if (ch->type == t &&
					    ch->state == CHILD_STARTING)
						n++;
			}
			fprintf(fp, "geoworkerd_children{type=\"%s\",state=\"%s\"}"
			    " %d\n", t->name, states[i], n);
		}

	family(fp, text, "geoworkerd_queue_depth", "gauge",
	    "Queued jobs by type (absent while the database does not answer).");
	if (queue_known)
		TAILQ_FOREACH(t, &gw->types, entry)
			fprintf(fp, "geoworkerd_queue_depth{type=\"%s\"} %ld\n",
			    t->name, t->m.queued);
	family(fp, text, "geoworkerd_queue_oldest_seconds", "gauge",
	    "How long the oldest runnable queued job has waited.");
	if (queue_known)
		TAILQ_FOREACH(t, &gw->types, entry)
			fprintf(fp, "geoworkerd_queue_oldest_seconds{type=\"%s\"} "
			    "%.3f\n", t->name, t->m.oldest_s);

	histogram(fp, text, "geoworkerd_job_duration_seconds", "Wall-clock time "
	    "of a run, from its claim to the reaping of its child.",
	    offsetof(struct gw_typemetrics, duration), duration_bounds);
	histogram(fp, text, "geoworkerd_job_wait_seconds", "Time a job waited in "
	    "the queue before a child claimed it.",
	    offsetof(struct gw_typemetrics, wait), wait_bounds);
	if (!text)
		fprintf(fp, "# EOF\n");
	if (fclose(fp) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

static void
client_close(struct mclient *c)
{
	char	 junk[512];

	/* Unread input would make close() send a reset, which may cut the
	 * response short at the client. */
	while (read(c->fd, junk, sizeof(junk)) > 0)
		;
	close(c->fd);
	c->fd = -1;
	free(c->out);
	c->out = NULL;
	c->reqlen = c->outlen = c->outoff = 0;
}

/*
 * Whether the request asks for the Prometheus text format only: an Accept
 * header that names text/plain and not OpenMetrics (promtool, older
 * scrapers).  Anything else gets OpenMetrics.
 */
static int
wants_text(const char *req)
{
	const char	*a, *end;
	char		 accept[512];
	size_t		 n;

	for (a = req; (a = strchr(a, '\n')) != NULL; a++)
		if (strncasecmp(a + 1, "Accept:", 7) == 0)
			break;
	if (a == NULL)
		return 0;
	a += 8;
	if ((end = strchr(a, '\n')) == NULL)
		end = a + strlen(a);
	n = (size_t)(end - a) < sizeof(accept) - 1 ? (size_t)(end - a) :
	    sizeof(accept) - 1;
	memcpy(accept, a, n);
	accept[n] = '\0';
	return strcasestr(accept, "text/plain") != NULL &&
	    strcasestr(accept, "application/openmetrics-text") == NULL;
}

/* Makes the response to the request in c->req; -1 if out of memory. */
static int
client_respond(struct mclient *c)
{
	const char	*status = "200 OK", *ctype = CONTENT_TYPE;
	char		*body = NULL, *sp, *path;
	size_t		 blen = 0;
	int		 n, get, text;

	c->req[c->reqlen] = '\0';
	if ((text = wants_text(c->req)))
		ctype = CONTENT_TYPE_TEXT;
	get = strncmp(c->req, "GET ", 4) == 0;
	path = (sp = strchr(c->req, ' ')) != NULL ? sp + 1 : "";
	if (strncmp(path, "/metrics", 8) != 0 || (path[8] != ' ' &&
	    path[8] != '?' && path[8] != '\r' && path[8] != '\n')) {
		status = "404 Not Found";
		ctype = "text/plain; charset=utf-8";
	} else if (!get) {
		status = "405 Method Not Allowed";
		ctype = "text/plain; charset=utf-8";
	} else if ((body = exposition(text, &blen)) == NULL) {
		status = "500 Internal Server Error";
		ctype = "text/plain; charset=utf-8";
	}
	if (body == NULL) {
		if ((body = strdup(status)) == NULL)
			return -1;
		blen = strlen(body);
	}
	n = asprintf(&c->out, "HTTP/1.0 %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n%.*s", status,
	    ctype, blen, (int)blen, body);
	free(body);
	if (n < 0) {
		c->out = NULL;
		return -1;
	}
	c->outlen = (size_t)n;
	c->outoff = 0;
	return 0;
}

static void
client_read(struct mclient *c)
{
	ssize_t	 n;

	n = read(c->fd, c->req + c->reqlen, sizeof(c->req) - 1 - c->reqlen);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_close(c);
		return;
	}
	c->reqlen += (size_t)n;
	c->req[c->reqlen] = '\0';
	if (strstr(c->req, "\r\n\r\n") == NULL && strstr(c->req, "\n\n") == NULL) {
		if (c->reqlen >= sizeof(c->req) - 1)
			client_close(c);	/* too long for a scrape */
		return;
	}
	if (client_respond(c) == -1) {
		log_warnx("metrics: out of memory for a response");
		client_close(c);
	}
}

static void
client_write(struct mclient *c)
{
	ssize_t	 n;

	n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_close(c);
		return;
	}
	c->outoff += (size_t)n;
	if (c->outoff == c->outlen) {
		shutdown(c->fd, SHUT_WR);
		client_close(c);
	}
}

static void
accept_clients(void)
{
	int	 fd, i;

	for (i = 0; i < MAXCLIENTS; i++) {
		if (clients[i].fd != -1)
			continue;
		fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("metrics: accept failed");
			return;
		}
		clients[i].fd = fd;
		clients[i].deadline_ms = now_ms() + CLIENT_MS;
	}
}

/*
 * Opens a listening socket on spec ("host:port", "[v6addr]:port").
 * Returns the descriptor, or -1 after logging why.
 */
static int
listen_on(const char *spec)
{
	struct addrinfo	 hints, *res, *ai;
	char		 host[256], *port, *end;
	int		 fd = -1, one = 1, e;

	if (strlcpy(host, spec, sizeof(host)) >= sizeof(host))
		goto bad;
	if (host[0] == '[') {
		if ((end = strchr(host, ']')) == NULL || end[1] != ':')
			goto bad;
		*end = '\0';
		port = end + 2;
		/* Moves the address (up to the NUL at end) over the '[';
		 * the port after it stays where it is. */
		memmove(host, host + 1, strlen(host + 1) + 1);
	} else {
		if ((port = strrchr(host, ':')) == NULL || strchr(host, ':') != port)
			goto bad;
		*port++ = '\0';
	}
	if (*host == '\0' || *port == '\0')
		goto bad;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((e = getaddrinfo(host, port, &hints, &res)) != 0) {
		log_warnx("metrics: metrics_listen = %s: %s", spec,
		    gai_strerror(e));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd == -1)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
			    sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, 16) == 0)
			break;
		e = errno;
		close(fd);
		fd = -1;
		errno = e;
	}
	if (fd == -1)
		log_warn("metrics: cannot listen on %s", spec);
	freeaddrinfo(res);
	return fd;
bad:
	log_warnx("metrics: metrics_listen = %s: want host:port or "
	    "[address]:port", spec);
	return -1;
}

/*
 * Opens metrics_listen, or closes the endpoint if the key is gone; keeps the
 * socket if the address did not change.  Called at start, before the loop
 * polls anything of this file, and on SIGHUP.
 */
void
metrics_reload(void)
{
	const char	*spec = gw->conf->metrics_listen;
	int		 i;

	if (!clients_ready) {
		for (i = 0; i < MAXCLIENTS; i++)
			clients[i].fd = -1;
		clients_ready = 1;
	}
	if (spec != NULL && *spec == '\0')
		spec = NULL;
	if (listen_fd != -1 && spec != NULL && listen_spec != NULL &&
	    strcmp(spec, listen_spec) == 0)
		return;
	if (listen_fd != -1) {
		close(listen_fd);
		listen_fd = -1;
		log_info("metrics: stopped listening on %s", listen_spec);
	}
	free(listen_spec);
	listen_spec = NULL;
	if (spec == NULL)
		return;
	if ((listen_fd = listen_on(spec)) == -1)
		return;
	listen_spec = xstrdup(spec);
	log_info("metrics: listening on %s", spec);
}

void
metrics_close(void)
{
	int	 i;

	for (i = 0; i < MAXCLIENTS; i++)
		if (clients[i].fd != -1)
			client_close(&clients[i]);
	if (listen_fd != -1)
		close(listen_fd);
	listen_fd = -1;
	free(listen_spec);
	listen_spec = NULL;
}

/* Fills at most max entries of pfd; returns how many. */
int
metrics_pollfds(struct pollfd *pfd, int max)
{
	int	 i, n = 0, full = 1;

	for (i = 0; i < MAXCLIENTS && n < max; i++) {
		if (clients[i].fd == -1) {
			full = 0;
			continue;
		}
		pfd[n].fd = clients[i].fd;
		pfd[n].events = clients[i].out != NULL ? POLLOUT : POLLIN;
		pfd[n++].revents = 0;
	}
	if (listen_fd != -1 && !full && n < max) {
		pfd[n].fd = listen_fd;
		pfd[n].events = POLLIN;
		pfd[n++].revents = 0;
	}
	return n;
}

/* Serves the entries metrics_pollfds filled, after poll. */
void
metrics_handle(const struct pollfd *pfd, int n)
{
	int	 i, j;

	for (i = 0; i < n; i++) {
		if (pfd[i].revents == 0)
			continue;
		if (pfd[i].fd == listen_fd) {
			accept_clients();
			continue;
		}
		for (j = 0; j < MAXCLIENTS; j++) {
			if (clients[j].fd != pfd[i].fd)
				continue;
			if (clients[j].out != NULL)
				client_write(&clients[j]);
			else
				client_read(&clients[j]);
		}
	}
}

/* Closes the clients past their deadline; the next deadline into *next. */
void
metrics_timers(uint64_t now, uint64_t *next)
{
	int	 i;

	for (i = 0; i < MAXCLIENTS; i++) {
		if (clients[i].fd == -1)
			continue;
		if (now >= clients[i].deadline_ms)
			client_close(&clients[i]);
		else if (clients[i].deadline_ms < *next)
			*next = clients[i].deadline_ms;
	}
}

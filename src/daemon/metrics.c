/* SPDX-License-Identifier: ISC */
/*
 * The counters, and the metrics listener. Its clients are scrapers: one
 * request each (HTTP/1.0 or 1.1, Connection: close), answered at once,
 * bounded in size and time, a few at a time; they never hold the server.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "answer.h"
#include "http.h"
#include "listen.h"
#include "log.h"
#include "metrics.h"
#include "ring.h"
#include "rules.h"
#include "server.h"

#define SCRAPERS_MAX		16	/* clients at once */
#define SCRAPE_USEC		(5 * 1000 * 1000)	/* to send, and read */

struct metric {
	const char	*name;		/* after echoreplyd_ */
	const char	*type;
	const char	*help;
};

static const struct metric metrics[] = {
	{ "connections_open", "gauge", "Stream connections open." },
	{ "connections_accepted_total", "counter",
	    "Stream connections accepted since start." },
	{ "refused_total", "counter", "Connections and datagrams refused "
	    "(access lists, limits, rates) since start." },
	{ "messages_total", "counter", "Messages answered since start." },
	{ "errors_total", "counter", "Errors since start: messages too "
	    "long, late PROXY headers and handshakes, replies not sent." },
	{ "received_bytes_total", "counter", "Bytes received from clients "
	    "since start." },
	{ "sent_bytes_total", "counter", "Bytes sent to clients since "
	    "start." },
	{ "log_records_lost_total", "counter", "Log records dropped because "
	    "the log output was blocked or failing." },
	{ "control_clients", "gauge", "Clients of the control socket." },
	{ "recorded_messages", "gauge", "Messages kept for the control "
	    "socket." },
	{ "sources", "gauge", "Client addresses tracked for per-source "
	    "limits and rates." },
	{ "sources_evicted_total", "counter", "Client addresses forgotten "
	    "while their rates were refilling, to keep the bound." },
	{ "uptime_seconds", "gauge", "Seconds since the server started." },
};
#define NMETRICS	(sizeof(metrics) / sizeof(metrics[0]))

/* The counters, in metrics' order. */
static void
counters(struct server *srv, uint64_t *v)
{
	struct server_stats	 st;
	struct ring		*ring = server_ring(srv);

	server_stats(srv, &st);
	v[0] = st.open;
	v[1] = st.accepted;
	v[2] = st.refused;
	v[3] = st.messages;
	v[4] = st.errors;
	v[5] = st.bytes_in;
	v[6] = st.bytes_out;
	v[7] = st.log_lost;
	v[8] = st.control_clients;
	v[9] = ring != NULL ? ring_count(ring) : 0;
	v[10] = st.sources;
	v[11] = st.sources_evicted;
	v[12] = st.uptime_usec / 1000000;
}

/* Rule names are letters, digits and '_.-:[]/': no escape needed. */
static const char *
rule_label_at(const struct conf *conf, size_t i)
{
	return i == 0 ? "-" : answer_rule_label(rules_get(conf->rules, i - 1));
}

void
metrics_stats(struct server *srv, struct buf *out)
{
	const struct conf	*conf = server_conf(srv);
	const uint64_t		*by_rule;
	uint64_t		 v[NMETRICS];
	size_t			 i, n;

	counters(srv, v);
	for (i = 0; i < NMETRICS; i++) {
		/* the metric's name without the suffix of counters */
		n = strlen(metrics[i].name);
		if (n > 6 && strcmp(metrics[i].name + n - 6, "_total") == 0)
			n -= 6;
		(void)buf_printf(out, "stat %.*s %llu\n", (int)n,
		    metrics[i].name, (unsigned long long)v[i]);
	}
	by_rule = server_rule_messages(srv, &n);
	for (i = 0; i < n; i++)
		if (by_rule[i] > 0)
			(void)buf_printf(out, "stat rule_messages rule=%s "
			    "%llu\n", rule_label_at(conf, i),
			    (unsigned long long)by_rule[i]);
}

/* A label value: \, " and newline escaped. */
static void
label(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++)
		if (*s == '\\' || *s == '"')
			(void)buf_printf(b, "\\%c", *s);
		else if (*s == '\n')
			(void)buf_printf(b, "\\n");
		else
			(void)buf_append(b, s, 1);
}

void
metrics_text(struct server *srv, struct buf *out)
{
	const struct conf	*conf = server_conf(srv);
	const struct listener	*l;
	const uint64_t		*by_rule;
	uint64_t		 v[NMETRICS];
	size_t			 i, n;

	counters(srv, v);
	for (i = 0; i < NMETRICS; i++)
		(void)buf_printf(out, "# HELP echoreplyd_%s %s\n"
		    "# TYPE echoreplyd_%s %s\nechoreplyd_%s %llu\n",
		    metrics[i].name, metrics[i].help, metrics[i].name,
		    metrics[i].type, metrics[i].name, (unsigned long long)v[i]);
	(void)buf_printf(out, "# HELP echoreplyd_listener_connections Stream "
	    "connections open on a listener.\n"
	    "# TYPE echoreplyd_listener_connections gauge\n");
	for (i = 0; (l = server_listener(srv, i)) != NULL; i++) {
		(void)buf_printf(out, "echoreplyd_listener_connections"
		    "{listener=\"");
		label(out, l->name);
		(void)buf_printf(out, "\"} %zu\n", l->nconns);
	}
	(void)buf_printf(out, "# HELP echoreplyd_rule_messages_total Messages "
	    "answered by a rule (rule=\"-\": the default reply) since the "
	    "configuration was loaded.\n"
	    "# TYPE echoreplyd_rule_messages_total counter\n");
	by_rule = server_rule_messages(srv, &n);
	for (i = 0; i < n; i++)
		if (by_rule[i] > 0) {
			(void)buf_printf(out, "echoreplyd_rule_messages_total"
			    "{rule=\"");
			label(out, rule_label_at(conf, i));
			(void)buf_printf(out, "\"} %llu\n",
			    (unsigned long long)by_rule[i]);
		}
}

struct metrics;

/* One scraper: its request, then our answer, then closed. */
struct scraper {
	struct metrics	*m;
	struct scraper	*next;
	int		 fd;
	sd_event_source	*src;
	sd_event_source	*timer;
	char		 in[HTTP_HEAD_MAX];
	size_t		 inlen;
	struct buf	 out;
	size_t		 outoff;
	bool		 answered;
};

struct metrics {
	struct server	*srv;
	int		 fd;
	sd_event_source	*src;
	struct scraper	*scrapers;
	size_t		 n;
	char		 desc[ADDR_PEER_MAX];
};

static void
scraper_free(struct scraper *s)
{
	struct scraper	**pp;

	for (pp = &s->m->scrapers; *pp != NULL; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	s->m->n--;
	sd_event_source_disable_unref(s->src);
	sd_event_source_disable_unref(s->timer);
	close(s->fd);
	buf_free(&s->out);
	free(s);
}

/* The whole answer, head and body, queued. */
static void
respond(struct scraper *s, int status, const char *reason, bool head_only,
    const char *extra)
{
	struct buf	 body = { 0 };

	if (status == 200)
		metrics_text(s->m->srv, &body);
	else
		(void)buf_printf(&body, "%d %s\n", status, reason);
	(void)buf_printf(&s->out, "HTTP/1.1 %d %s\r\n"
	    "Content-Type: text/plain; %scharset=utf-8\r\n"
	    "Content-Length: %zu\r\n%sConnection: close\r\n\r\n", status,
	    reason, status == 200 ? "version=0.0.4; " : "", body.len,
	    extra != NULL ? extra : "");
	if (!head_only && body.len > 0)
		(void)buf_append(&s->out, body.data, body.len);
	buf_free(&body);
	s->answered = true;
}

static void
scraper_request(struct scraper *s)
{
	struct http_request	 req;
	ssize_t			 r;

	if ((r = http_parse(s->in, s->inlen, &req)) == 0)
		return;		/* more to come */
	if (r == -EMSGSIZE)
		respond(s, 431, "Request Header Fields Too Large", false, NULL);
	else if (r == -ENAMETOOLONG)
		respond(s, 414, "URI Too Long", false, NULL);
	else if (r == -EPROTONOSUPPORT)
		respond(s, 505, "HTTP Version Not Supported", false, NULL);
	else if (r < 0)
		respond(s, 400, "Bad Request", false, NULL);
	else if (req.method == HTTP_OTHER)
		respond(s, 405, "Method Not Allowed", false,
		    "Allow: GET, HEAD\r\n");
	else if (strcmp(req.path, "/metrics") != 0)
		respond(s, 404, "Not Found", req.method == HTTP_HEAD, NULL);
	else
		respond(s, 200, "OK", req.method == HTTP_HEAD, NULL);
}

/* Sends what it can; true when the scraper is done with (or gone). */
static bool
scraper_write(struct scraper *s)
{
	ssize_t	 n;

	while (s->outoff < s->out.len) {
		n = send(s->fd, s->out.data + s->outoff,
		    s->out.len - s->outoff, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return errno != EAGAIN;
		s->outoff += (size_t)n;
	}
	return true;
}

static int
scraper_event(sd_event_source *src, int fd, uint32_t revents, void *arg)
{
	struct scraper	*s = arg;
	ssize_t		 n;

	(void)src;
	if (!s->answered && (revents & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
		n = recv(fd, s->in + s->inlen, sizeof(s->in) - s->inlen,
		    MSG_DONTWAIT);
		if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
			scraper_free(s);
			return 0;
		}
		if (n > 0) {
			s->inlen += (size_t)n;
			scraper_request(s);
		}
	}
	if (!s->answered)
		return 0;
	if (scraper_write(s)) {
		/* what the scraper sent past its request is not read */
		shutdown(s->fd, SHUT_RDWR);
		scraper_free(s);
		return 0;
	}
	sd_event_source_set_io_events(s->src, EPOLLOUT);
	return 0;
}

static int
scraper_late(sd_event_source *src, uint64_t usec, void *arg)
{
	struct scraper	*s = arg;

	(void)src;
	(void)usec;
	log_debug("metrics: a scraper took more than %d s; closed",
	    SCRAPE_USEC / 1000000);
	scraper_free(s);
	return 0;
}

static int
metrics_accept(sd_event_source *src, int lfd, uint32_t revents, void *arg)
{
	struct metrics	*m = arg;
	struct scraper	*s;
	sd_event	*e = server_event(m->srv);
	int		 fd;

	(void)src;
	(void)revents;
	if ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) ==
	    -1) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			log_warn("metrics: accept");
		return 0;
	}
	if (m->n >= SCRAPERS_MAX || (s = calloc(1, sizeof(*s))) == NULL) {
		log_debug("metrics: %zu scrapers already; one closed", m->n);
		close(fd);
		return 0;
	}
	s->m = m;
	s->fd = fd;
	if (sd_event_add_io(e, &s->src, fd, EPOLLIN, scraper_event, s) < 0 ||
	    sd_event_add_time_relative(e, &s->timer, CLOCK_MONOTONIC,
	    SCRAPE_USEC, 100 * 1000, scraper_late, s) < 0) {
		sd_event_source_disable_unref(s->src);
		close(fd);
		free(s);
		return 0;
	}
	s->next = m->scrapers;
	m->scrapers = s;
	m->n++;
	return 0;
}

int
metrics_open(const struct conf *conf, int passed, struct metrics **out)
{
	struct metrics	*m;
	uint16_t	 port;
	char		 addr[ADDR_TEXT_MAX];
	int		 fd = passed, on = 1, r;

	*out = NULL;
	if (passed < 0 && conf->metrics_listen == NULL)
		return 0;
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		if (passed >= 0)
			close(passed);
		return -ENOMEM;
	}
	m->fd = -1;
	if (passed < 0) {
		addr_format(&conf->metrics_sa.sa, addr, sizeof(addr), &port);
		addr_format_peer(addr, port, m->desc, sizeof(m->desc));
		if ((fd = socket(conf->metrics_sa.sa.sa_family, SOCK_STREAM |
		    SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1 ||
		    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on,
		    sizeof(on)) == -1 ||
		    bind(fd, &conf->metrics_sa.sa,
		    conf->metrics_sa.sa.sa_family == AF_INET ?
		    sizeof(struct sockaddr_in) :
		    sizeof(struct sockaddr_in6)) == -1 ||
		    listen(fd, 16) == -1) {
			r = -errno;
			log_warn("metrics listener %s", m->desc);
			if (fd != -1)
				close(fd);
			free(m);
			return r;
		}
	} else
		strlcpy(m->desc, "passed by the service manager",
		    sizeof(m->desc));
	m->fd = fd;
	*out = m;
	return 0;
}

int
metrics_start(struct metrics *m, struct server *srv)
{
	int	 r;

	m->srv = srv;
	if ((r = sd_event_add_io(server_event(srv), &m->src, m->fd, EPOLLIN,
	    metrics_accept, m)) < 0)
		return r;
	log_info("metrics on %s (GET /metrics)", m->desc);
	return 0;
}

void
metrics_free(struct metrics *m)
{
	struct scraper	*s;

	if (m == NULL)
		return;
	while ((s = m->scrapers) != NULL) {
		m->scrapers = s->next;	/* scraper_free() finds it no more */
		scraper_free(s);
	}
	sd_event_source_disable_unref(m->src);
	if (m->fd >= 0)
		close(m->fd);
	free(m);
}

/* SPDX-License-Identifier: ISC */
/*
 * The control socket: requests of one line, answers of data lines and a
 * last "ok" or "error CLASS TEXT" line (echoreplyd(8), CONTROL SOCKET).
 * Every client is served on the loop without blocking: what it does not
 * read waits in a bounded queue, and a follower that falls behind loses
 * lines (and is told how many) rather than holding the server up.
 */
/* strsvisx() is the same in both vis flavours */
#define LIBBSD_NETBSD_VIS
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <vis.h>

#include "buf.h"
#include "conn.h"
#include "control.h"
#include "escape.h"
#include "listen.h"
#include "log.h"
#include "metrics.h"
#include "monotonic.h"
#include "ring.h"
#include "rules.h"
#include "server.h"

#define CONTROL_DEFAULT_DIR	"/run/echoreplyd"
#define CONTROL_FILE		"control"
#define REQUEST_MAX		4096	/* bytes of a request, its \n too */
#define CLIENTS_MAX		64
#define ANSWER_MAX		(64 * 1024 * 1024)	/* queued for one */
#define FOLLOW_MAX		(1024 * 1024)	/* queued for a follower */
#define FOLLOW_BATCH		(256 * 1024)	/* sent at once, */
#define FOLLOW_USEC		(10 * 1000)	/* or after this long */
#define FOLLOW_SNDBUF		(2 * FOLLOW_BATCH)	/* asked for */
#define WAIT_MAX_MS		3600000
#define WAIT_SCAN_USEC		250	/* a wait reads the ring so long a
					   turn of the loop, at most */
#define MESSAGE_TEXT_MAX	65536	/* as the ring keeps them */
#define ASKS_MAX		100000	/* waiting for the operator */
#define ASK_TEXT_MAX		4096	/* bytes of its message shown */
#define VALUE_MAX		256	/* bytes of a key=value's value */
#define VALUE_SIZE		(4 * VALUE_MAX + 1)	/* escaped */

/* A string literal, without its NUL. */
#define put(b, lit)	buf_append((b), (lit), sizeof(lit) - 1)

enum cmode {
	CMODE_REQUESTS,		/* answering requests */
	CMODE_FOLLOW,		/* streaming messages */
	CMODE_WAIT,		/* waiting for a message */
	CMODE_OPERATOR,		/* a console: asks out, answers in */
};

/* A message that waits for the operator's answer. */
struct ask {
	struct ask	*next;
	uint64_t	 id;
	uint64_t	 conn;
	char		*line;		/* "ask id=..." */
	char		*shown;		/* what a terminal shows */
};

struct control;

struct cclient {
	struct control	*ctl;
	struct cclient	*next;
	int		 fd;
	sd_event_source	*src;
	sd_event_source	*timer;		/* a wait's timeout */
	sd_event_source	*scan;		/* a wait's turns through the ring */
	uint32_t	 events;
	enum cmode	 mode;
	char		 in[REQUEST_MAX];
	size_t		 inlen;
	struct buf	 out;
	size_t		 outoff;
	uint64_t	 seq;		/* the next message it has not seen */
	uint64_t	 lost;		/* follow: lines dropped, not yet said */
	bool		 compact;	/* follow: "=" for what repeats */
	uint64_t	 said_seq;	/* the last message line it was sent, */
	uint64_t	 said_usec;	/* its time */
	uint64_t	 said_conn;	/* and connection */
	uint64_t	 wait_ms;
	uint64_t	 wait_from;	/* the first recorded after it began */
	uint64_t	 scan_end;	/* once expired: the next then */
	regex_t		 re;
	bool		 re_set;
	bool		 closing;	/* once what is queued is sent */
	bool		 resume;	/* its wait is over */
	bool		 scanning;	/* its wait reads the ring in turns */
	bool		 expired;	/* its timeout came while it did */
	bool		 rd_eof;	/* it sent all it will */
	bool		 tty;		/* the daemon's own terminal */
	sd_event_source	*osrc;		/* its output, when it waits */
	int		 oflags;	/* its output's flags before */
	int		 ofd;		/* where it is written: fd, or 1 */
	uid_t		 uid;
};

struct control {
	struct server		*srv;
	struct control_hooks	 hooks;
	int			 fd;
	sd_event_source		*src;
	struct cclient		*clients;
	size_t			 nclients;
	sd_event_source		*flush;		/* after messages came */
	bool			 flushing;	/* it is due */
	sd_event_source		*tick;		/* followers' lines go */
	bool			 ticking;	/* it is armed */
	size_t			 watchers;	/* following or waiting */
	size_t			 scanners;	/* waits reading in turns */
	size_t			 consoles;	/* operators */
	struct ask		*asks, **asks_tail;	/* oldest first */
	size_t			 nasks;
	uint64_t		 ask_seq;
	bool			 interactive;	/* a console on stdin */
	bool			 tty_console;	/* it is among the clients */
	bool			 group_set;
	gid_t			 group;
	long long		 overflow_uid;	/* never trusted: permitted(); */
	long long		 overflow_gid;	/* -1: none */
	char			 path[CONF_PATH_MAX];	/* to remove; "" */
	char			*text;		/* an escaped message */
	/* what say_message() said last of the time and the connection */
	uint64_t		 time_usec;
	char			 time[64];
	size_t			 time_len;
	uint64_t		 seq;
	char			 seq_text[32];	/* "message seq=N" */
	size_t			 seq_len;	/* of N */
	uint64_t		 who_conn;
	char			 who[64 + 2 * VALUE_SIZE];
	char			 time_who[64 + 64 + 2 * VALUE_SIZE];
	char			 bytes_text[32];	/* " bytes=N \"" */
	size_t			 who_len;
	size_t			 time_who_len;
	uint64_t		 bytes_of;	/* the length bytes_text says */
	size_t			 bytes_len;
	char			*match;		/* a message with its NUL */
};

static void	client_free(struct cclient *);
static void	client_update(struct cclient *);
static void	client_run(struct cclient *);
static void	recorded(void *, const struct ring_entry *);
static void	set_scanning(struct cclient *, bool);
static void	flush_soon(struct control *);
static int	client_event(sd_event_source *, int, uint32_t, void *);
static int	console_tty(struct control *);
static void	follow_tick(struct control *);
static void	tty_out(struct cclient *);
static long long overflow_id(const char *, const char *);

const char *
control_path(const struct control *ctl)
{
	return ctl->path;
}

/*
 * Where the control socket goes: the file's control_socket, else the
 * runtime directory systemd made, else /run/echoreplyd if it exists.
 * False for none; *explicit says whether the file asked for it.
 */
static bool
socket_path(const struct conf *conf, char *path, size_t len, bool *explicit)
{
	const char	*dir;
	struct stat	 st;
	size_t		 n;

	*explicit = conf->control_socket != NULL;
	if (conf->control_socket != NULL) {
		strlcpy(path, conf->control_socket, len);
		return path[0] != '\0';
	}
	if ((dir = getenv("RUNTIME_DIRECTORY")) != NULL && *dir != '\0') {
		/* the first of a colon-separated list */
		n = strcspn(dir, ":");
		if (snprintf(path, len, "%.*s/%s", (int)n, dir,
		    CONTROL_FILE) >= (int)len)
			return false;
		return true;
	}
	if (stat(CONTROL_DEFAULT_DIR, &st) == -1 || !S_ISDIR(st.st_mode)) {
		log_info("no control socket: %s does not exist (set "
		    "control_socket)", CONTROL_DEFAULT_DIR);
		return false;
	}
	snprintf(path, len, "%s/%s", CONTROL_DEFAULT_DIR, CONTROL_FILE);
	return true;
}

static int
socket_make(struct control *ctl, const char *path, uid_t owner)
{
	struct sockaddr_un	 sun;
	mode_t			 mask;
	int			 fd, r;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	listen_remove_stale(path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		return -errno;
	/* made with its mode: no moment when others could connect */
	mask = umask(ctl->group_set ? 0117 : 0177);
	r = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	(void)umask(mask);
	if (r == -1) {
		r = -errno;
		close(fd);
		return r;
	}
	strlcpy(ctl->path, path, sizeof(ctl->path));
	/* root and the user we become; control_group's members too */
	if (((owner != (uid_t)-1 || ctl->group_set) &&
	    fchownat(AT_FDCWD, path, owner, ctl->group_set ? ctl->group :
	    (gid_t)-1, AT_SYMLINK_NOFOLLOW) == -1) ||
	    listen(fd, CLIENTS_MAX) == -1) {
		r = -errno;
		close(fd);
		return r;
	}
	ctl->fd = fd;
	return 0;
}

int
control_open(const struct conf *conf, int passed, bool interactive,
    struct control **out)
{
	struct control	*ctl;
	struct group	*gr;
	struct passwd	*pw;
	char		 path[CONF_PATH_MAX];
	uid_t		 owner;
	bool		 explicit;
	int		 r;

	*out = NULL;
	if ((ctl = calloc(1, sizeof(*ctl))) == NULL ||
	    (ctl->text = malloc(ESCAPE_SIZE(MESSAGE_TEXT_MAX))) == NULL ||
	    (ctl->match = malloc(MESSAGE_TEXT_MAX + 1)) == NULL) {
		if (passed >= 0)
			close(passed);
		control_free(ctl);
		return -ENOMEM;
	}
	ctl->fd = -1;
	ctl->time_usec = UINT64_MAX;	/* say_message() has said none */
	ctl->bytes_of = UINT64_MAX;
	ctl->interactive = interactive;
	ctl->asks_tail = &ctl->asks;
	ctl->overflow_uid = overflow_id("/proc/sys/kernel/overflowuid",
	    "/proc/self/uid_map");
	ctl->overflow_gid = overflow_id("/proc/sys/kernel/overflowgid",
	    "/proc/self/gid_map");
	if (conf->control_group != NULL) {
		/* cppcheck-suppress getgrnamCalled ; one thread */
		if ((gr = getgrnam(conf->control_group)) == NULL) {
			log_warnx("control_group %s: no such group",
			    conf->control_group);
			control_free(ctl);
			if (passed >= 0)
				close(passed);
			return -ENOENT;
		}
		ctl->group_set = true;
		ctl->group = gr->gr_gid;
	}
	if (passed >= 0) {
		ctl->fd = passed;
		*out = ctl;
		return 0;
	}
	if (!socket_path(conf, path, sizeof(path), &explicit)) {
		if (interactive)
			*out = ctl;
		else
			control_free(ctl);
		return 0;
	}
	/* the user we become must be able to use it (and root can) */
	owner = (uid_t)-1;
	if (conf->user != NULL && geteuid() == 0) {
		/* cppcheck-suppress getpwnamCalled ; one thread */
		pw = getpwnam(conf->user);
		if (pw != NULL)
			owner = pw->pw_uid;
	}
	if ((r = socket_make(ctl, path, owner)) < 0) {
		if (!explicit) {
			log_info("no control socket: %s: %s", path,
			    strerror(-r));
			if (interactive)
				*out = ctl;
			else
				control_free(ctl);
			return 0;
		}
		log_warnx("control socket %s: %s", path, strerror(-r));
		control_free(ctl);
		return r;
	}
	*out = ctl;
	return 0;
}

/* Appends a formatted line to the client's queue. */
static void __attribute__((format(printf, 2, 3)))
say(struct cclient *cl, const char *fmt, ...)
{
	va_list	 ap;
	char	*line;
	int	 n;

	va_start(ap, fmt);
	n = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (n < 0 || buf_append(&cl->out, line, (size_t)n) < 0 ||
	    buf_append(&cl->out, "\n", 1) < 0)
		cl->closing = true;
	if (n >= 0)
		free(line);
}

/*
 * A value of key=value at p, no space nor control byte in it; returns
 * the end. Names and addresses need no escape (and libbsd's vis is slow:
 * it goes through wide characters), so only the others are escaped. p
 * has room for VALUE_SIZE bytes.
 */
static char *
value(char *p, const char *s, size_t len)
{
	static const unsigned char plain[256] = {
		['!'] = 1, ['#' ... '['] = 1, [']' ... '~'] = 1,
	};
	size_t	 i;

	if (len > VALUE_MAX)
		len = VALUE_MAX;
	for (i = 0; i < len && plain[(unsigned char)s[i]]; i++)
		;
	if (i == len) {
		memcpy(p, s, len);
		return p + len;
	}
	return p + strsvisx(p, s, len, VIS_CSTYLE | VIS_WHITE | VIS_OCTAL,
	    "\"");
}

static void
say_value(struct buf *b, const char *s, size_t len)
{
	char	 v[VALUE_SIZE];

	(void)buf_append(b, v, (size_t)(value(v, s, len) - v));
}

static size_t
queued(const struct cclient *cl)
{
	return cl->out.len - cl->outoff;
}

/* v in decimal at p, zero-padded to width digits; returns the end. */
static char *
decimal(char *p, uint64_t v, int width)
{
	static const char pairs[] =
	    "00010203040506070809101112131415161718192021222324252627282930"
	    "31323334353637383940414243444546474849505152535455565758596061"
	    "6263646566676869707172737475767778798081828384858687888990919293"
	    "949596979899";
	char	 d[24], *q = d + sizeof(d);
	size_t	 n;

	/* two digits per division */
	while (v >= 100) {
		q -= 2;
		memcpy(q, pairs + v % 100 * 2, 2);
		v /= 100;
	}
	if (v >= 10) {
		q -= 2;
		memcpy(q, pairs + v * 2, 2);
	} else
		*--q = (char)('0' + v);
	while (d + sizeof(d) - q < width)
		*--q = '0';
	n = (size_t)(d + sizeof(d) - q);
	memcpy(p, q, n);
	return p + n;
}

/* The decimal number in d[0..*len) plus one. */
static void
count_up(char *d, size_t *len)
{
	size_t	 i = *len;

	while (i > 0 && d[i - 1] == '9')
		d[--i] = '0';
	if (i > 0) {
		d[i - 1]++;
		return;
	}
	memmove(d + 1, d, *len);	/* 99 + 1: one digit more */
	d[0] = '1';
	(*len)++;
}

#define SEQ_AT		(sizeof("message seq=") - 1)

/* A string literal at p; returns the end. */
#define lit(p, s)	((char *)memcpy((p), (s), sizeof(s) - 1) + sizeof(s) - 1)

/*
 * One recorded message as a line. A follower gets every message the
 * server answers: written in place, no printf, no copy of the text, and
 * what the last line said of the time and the connection said again
 * (a loop iteration reads many messages, each connection several).
 */
static void
say_message(struct cclient *cl, const struct ring_entry *e)
{
	struct control		*ctl = cl->ctl;
	const struct listener	*l;
	struct tm		 tm;
	time_t			 t;
	size_t			 n, need;
	char			*p;
	bool			 again = false, same;

	/* compact: the line before said all up to rule= (and seq - 1) */
	same = cl->compact && e->conn != 0 && e->conn == cl->said_conn &&
	    e->time_usec == cl->said_usec && e->seq == cl->said_seq + 1;
	cl->said_seq = e->seq;
	cl->said_usec = e->time_usec;
	cl->said_conn = e->conn;
	if (same)
		goto rest;
	if (e->time_usec != ctl->time_usec) {
		t = (time_t)(e->time_usec / 1000000);
		gmtime_r(&t, &tm);
		p = lit(ctl->time, " time=");
		p += strftime(p, 32, "%Y-%m-%dT%H:%M:%S", &tm);
		p = lit(p, ".");
		p = decimal(p, e->time_usec % 1000000, 6);
		p = lit(p, "Z");
		ctl->time_len = (size_t)(p - ctl->time);
		ctl->time_usec = e->time_usec;
		again = true;
	}
	if (e->conn == 0 || e->conn != ctl->who_conn) {
		l = server_listener(ctl->srv, e->listener);
		p = lit(ctl->who, " conn=");
		p = decimal(p, e->conn, 0);
		p = lit(p, " client=");
		p = value(p, e->client, e->client_len);
		p = lit(p, " listener=");
		if (l != NULL)
			p = value(p, l->name, strlen(l->name));
		ctl->who_len = (size_t)(p - ctl->who);
		ctl->who_conn = e->conn;
		again = true;
	}
	if (again) {
		/* the two together: one copy per line */
		memcpy(ctl->time_who, ctl->time, ctl->time_len);
		memcpy(ctl->time_who + ctl->time_len, ctl->who, ctl->who_len);
		ctl->time_who_len = ctl->time_len + ctl->who_len;
	}
rest:
	if (e->full_len != ctl->bytes_of) {
		/* most messages are as long as the one before */
		p = lit(ctl->bytes_text, " bytes=");
		p = lit(decimal(p, e->full_len, 0), " \"");
		ctl->bytes_len = (size_t)(p - ctl->bytes_text);
		ctl->bytes_of = e->full_len;
	}
	/* the numbers, the two parts above, the rule, the text, its quotes */
	need = 80 + sizeof(ctl->time_who) + VALUE_SIZE +
	    ESCAPE_SIZE(e->msg_len);
	if (need > cl->out.cap - cl->out.len &&
	    buf_reserve(&cl->out, need) < 0) {
		cl->closing = true;
		return;
	}
	p = cl->out.data + cl->out.len;
	if (same)
		p = lit(p, "=");
	else {
		if (e->seq == ctl->seq + 1 && ctl->seq != 0)
			count_up(ctl->seq_text + SEQ_AT, &ctl->seq_len);
		else
			ctl->seq_len = (size_t)(decimal(lit(ctl->seq_text,
			    "message seq="), e->seq, 0) - ctl->seq_text) -
			    SEQ_AT;
		ctl->seq = e->seq;
		/*
		 * The short parts copied whole, past their end (need
		 * leaves room, and what is past the end is written over):
		 * a copy of a size known here is a few moves, a call to
		 * memcpy() many more.
		 */
		memcpy(p, ctl->seq_text, sizeof(ctl->seq_text));
		p += SEQ_AT + ctl->seq_len;
		memcpy(p, ctl->time_who, ctl->time_who_len);
		p += ctl->time_who_len;
	}
	p = lit(p, " rule=");
	if (e->rule != NULL)
		p = value(p, e->rule, e->rule_len);
	else
		p = lit(p, "-");
	memcpy(p, ctl->bytes_text, sizeof(ctl->bytes_text));
	p += ctl->bytes_len;
	n = escape_n(p, e->msg, e->msg_len, MESSAGE_TEXT_MAX);
	p = lit(p + n, "\"\n");
	cl->out.len = (size_t)(p - cl->out.data);
}

static bool
matches(struct cclient *cl, const struct ring_entry *e)
{
	/* a copy with its NUL: sanitizers' regexec() reads up to one */
	memcpy(cl->ctl->match, e->msg, e->msg_len);
	cl->ctl->match[e->msg_len] = '\0';
	return regexec(&cl->re, cl->ctl->match, 0, NULL, 0) == 0;
}

static void
watch(struct control *ctl, bool on)
{
	if (on && ctl->watchers++ == 0)
		server_watch(ctl->srv, recorded, ctl);
	else if (!on && --ctl->watchers == 0)
		server_watch(ctl->srv, NULL, NULL);
}

/* A wait or a follow is over: the client's requests go on. */
static void
unwatch(struct cclient *cl)
{
	if (cl->mode != CMODE_FOLLOW && cl->mode != CMODE_WAIT)
		return;
	watch(cl->ctl, false);
	cl->timer = sd_event_source_disable_unref(cl->timer);
	cl->scan = sd_event_source_disable_unref(cl->scan);
	set_scanning(cl, false);
	cl->expired = false;
	if (cl->re_set)
		regfree(&cl->re);
	cl->re_set = false;
	cl->mode = CMODE_REQUESTS;
}

/*
 * A wait reads on from cl->seq up to end, or the newest, or until the
 * deadline (CLOCK_MONOTONIC; 0: none). True when one matched: it is said,
 * and "ok".
 */
static bool
wait_scan(struct cclient *cl, uint64_t end, uint64_t deadline)
{
	struct ring		*ring = server_ring(cl->ctl->srv);
	struct ring_entry	 e;
	uint64_t		 first, start;

	first = ring_first(ring);
	if (end > ring_next(ring))
		end = ring_next(ring);
	if (first != 0 && cl->seq < first)
		cl->seq = first;	/* dropped before it got there */
	for (start = cl->seq; cl->seq < end; cl->seq++) {
		/* one at least: a turn that began late still reads */
		if (deadline != 0 && cl->seq > start && mono_ns() / 1000 >= deadline)
			break;
		if (ring_get(ring, cl->seq, &e) && matches(cl, &e)) {
			say_message(cl, &e);
			say(cl, "ok");
			cl->seq++;
			return true;
		}
	}
	return false;
}

/*
 * The ring is about to drop first to end - 1. A wait still reading it in
 * turns reads now those of them recorded since it began (before its time
 * was up); the older ones go unread, as if it had come a moment later.
 */
static void
dropping(void *arg, uint64_t first, uint64_t end)
{
	struct control	*ctl = arg;
	struct cclient	*cl;
	uint64_t	 limit;

	(void)first;
	for (cl = ctl->clients; cl != NULL; cl = cl->next) {
		if (!cl->scanning || cl->seq >= end)
			continue;
		if (cl->seq < cl->wait_from)	/* of those, the older go */
			cl->seq = cl->wait_from < end ? cl->wait_from : end;
		limit = cl->expired && cl->scan_end < end ? cl->scan_end : end;
		if (cl->seq < limit && wait_scan(cl, limit, 0)) {
			unwatch(cl);
			cl->resume = true;	/* the requests that waited */
			flush_soon(ctl);
			continue;
		}
		if (cl->seq < end)
			cl->seq = end;
	}
}

/* A wait starts or stops reading the ring in turns (scan_due()). */
static void
set_scanning(struct cclient *cl, bool on)
{
	struct control	*ctl = cl->ctl;
	struct ring	*ring = server_ring(ctl->srv);

	if (cl->scanning == on)
		return;
	cl->scanning = on;
	if (on && ctl->scanners++ == 0)
		ring_on_drop(ring, dropping, ctl);
	else if (!on && --ctl->scanners == 0)
		ring_on_drop(ring, NULL, NULL);
}

/* A wait's answer is out, or its timeout: its next requests are run. */
static void
wait_over(struct cclient *cl)
{
	unwatch(cl);
	client_run(cl);
	client_update(cl);
}

/* A turn of a wait through the ring, when the loop has served others. */
static int
scan_due(sd_event_source *s, uint64_t usec, void *arg)
{
	struct cclient	*cl = arg;
	uint64_t	 end;

	(void)usec;
	/* once its time is up, those recorded before it, no more */
	end = cl->expired ? cl->scan_end :
	    ring_next(server_ring(cl->ctl->srv));
	if (wait_scan(cl, end, mono_ns() / 1000 + WAIT_SCAN_USEC)) {
		wait_over(cl);
		return 0;
	}
	if (cl->seq < end) {
		/* a time already past: it comes back after what is due */
		(void)sd_event_source_set_time(s, 1);
		(void)sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
		return 0;
	}
	if (cl->expired) {
		say(cl, "error timeout no message matched in %llu ms",
		    (unsigned long long)cl->wait_ms);
		wait_over(cl);
		return 0;
	}
	/* read up to the newest: recorded() goes on from here */
	set_scanning(cl, false);
	return 0;
}

/*
 * The new messages for a follower or a waiter: from its seq to the
 * newest. Returns true when a wait has found its message.
 */
static bool
catch_up(struct cclient *cl)
{
	struct ring		*ring = server_ring(cl->ctl->srv);
	struct ring_entry	 e;
	uint64_t		 first, next;

	if (ring == NULL)
		return false;
	if (cl->mode == CMODE_WAIT)
		return wait_scan(cl, UINT64_MAX, 0);
	first = ring_first(ring);
	next = ring_next(ring);
	if (first != 0 && cl->seq < first) {
		if (cl->mode == CMODE_FOLLOW)
			cl->lost += first - cl->seq;
		cl->seq = first;
	}
	for (; cl->seq < next; cl->seq++) {
		if (!ring_get(ring, cl->seq, &e))
			continue;
		if (queued(cl) >= FOLLOW_MAX) {
			/* kept, all of them, and none has room */
			cl->lost += next - cl->seq;
			cl->seq = next;
			break;
		}
		if (cl->lost > 0) {
			say(cl, "lost count=%llu", (unsigned long long)cl->lost);
			cl->lost = 0;
		}
		say_message(cl, &e);
	}
	return false;
}

/*
 * Once the loop is done with the connections: what the followers got goes
 * out, and the requests that waited behind a wait are answered (not in
 * recorded(), which runs in the middle of a connection's message).
 */
static int
flush_due(sd_event_source *s, void *arg)
{
	struct control	*ctl = arg;
	struct cclient	*cl, *next;

	(void)s;
	ctl->flushing = false;
	for (cl = ctl->clients; cl != NULL; cl = next) {
		next = cl->next;
		if (cl->resume) {
			cl->resume = false;
			client_run(cl);
		}
		/*
		 * A follower's lines go in batches: a write (and a wake-up
		 * of the follower on another core) per loop iteration cost
		 * the server more than formatting them.
		 */
		if (cl->mode == CMODE_FOLLOW && queued(cl) < FOLLOW_BATCH &&
		    cl->events == EPOLLIN) {
			follow_tick(ctl);
			continue;
		}
		client_update(cl);
	}
	return 0;
}

static int
tick_due(sd_event_source *s, uint64_t usec, void *arg)
{
	struct control	*ctl = arg;
	struct cclient	*cl, *next;

	(void)s;
	(void)usec;
	ctl->ticking = false;
	for (cl = ctl->clients; cl != NULL; cl = next) {
		next = cl->next;
		if (cl->mode == CMODE_FOLLOW)
			client_update(cl);
	}
	return 0;
}

/* What followers were given goes out within FOLLOW_USEC at the latest. */
static void
follow_tick(struct control *ctl)
{
	sd_event	*e = server_event(ctl->srv);

	if (ctl->ticking)
		return;
	ctl->ticking = true;
	if (ctl->tick == NULL) {
		if (sd_event_add_time_relative(e, &ctl->tick, CLOCK_MONOTONIC,
		    FOLLOW_USEC, 1000, tick_due, ctl) < 0)
			ctl->ticking = false;
		else
			(void)sd_event_source_set_enabled(ctl->tick,
			    SD_EVENT_ONESHOT);
		return;
	}
	(void)sd_event_source_set_time_relative(ctl->tick, FOLLOW_USEC);
	(void)sd_event_source_set_enabled(ctl->tick, SD_EVENT_ONESHOT);
}

static void
flush_soon(struct control *ctl)
{
	if (ctl->flushing)
		return;		/* already due */
	ctl->flushing = true;
	if (ctl->flush == NULL)
		(void)sd_event_add_defer(server_event(ctl->srv), &ctl->flush,
		    flush_due, ctl);
	else
		(void)sd_event_source_set_enabled(ctl->flush,
		    SD_EVENT_ONESHOT);
}

/* The server recorded message e, and someone follows or waits. */
static void
recorded(void *arg, const struct ring_entry *e)
{
	struct control	*ctl = arg;
	struct cclient	*cl;

	for (cl = ctl->clients; cl != NULL; cl = cl->next) {
		if (cl->mode == CMODE_REQUESTS)
			continue;
		/* a follower that has had every other: this one as it is */
		if (cl->mode == CMODE_FOLLOW && cl->seq == e->seq &&
		    cl->lost == 0 && queued(cl) < FOLLOW_MAX) {
			say_message(cl, e);
			cl->seq++;
			continue;
		}
		if (cl->scanning)
			continue;	/* its turns get there */
		if (catch_up(cl) && cl->mode == CMODE_WAIT) {
			unwatch(cl);
			cl->resume = true;	/* the requests that waited */
		}
	}
	flush_soon(ctl);
}

static int
wait_expired(sd_event_source *s, uint64_t usec, void *arg)
{
	struct cclient	*cl = arg;

	(void)s;
	(void)usec;
	if (cl->scanning) {
		/* what was recorded before its time was up is read first */
		cl->expired = true;
		cl->scan_end = ring_next(server_ring(cl->ctl->srv));
		return 0;
	}
	say(cl, "error timeout no message matched in %llu ms",
	    (unsigned long long)cl->wait_ms);
	wait_over(cl);
	return 0;
}

static bool
number(const char *s, long long min, long long max, long long *v)
{
	const char	*errstr;

	if (s == NULL)
		return false;
	*v = strtonum(s, min, max, &errstr);
	return errstr == NULL;
}

/* "wait TIMEOUT_MS all|new REGEX" */
static void
cmd_wait(struct cclient *cl, char *args)
{
	struct ring	*ring = server_ring(cl->ctl->srv);
	sd_event	*e = server_event(cl->ctl->srv);
	char		*ms, *which, err[160];
	long long	 v;
	size_t		 nsub;

	ms = strsep(&args, " ");
	which = strsep(&args, " ");
	if (!number(ms, 1, WAIT_MAX_MS, &v) || which == NULL ||
	    (strcmp(which, "all") != 0 && strcmp(which, "new") != 0) ||
	    args == NULL || *args == '\0') {
		say(cl, "error usage wait TIMEOUT_MS all|new REGEX (TIMEOUT_MS "
		    "1 to %d)", WAIT_MAX_MS);
		return;
	}
	if (ring == NULL) {
		say(cl, "error failed no messages are recorded "
		    "(recorded_messages is 0)");
		return;
	}
	/* checked and compiled once, as the daemon's rules are */
	if (rules_check_pattern(RULES_REGEX, args, REG_NOSUB, &cl->re, &nsub,
	    err, sizeof(err)) < 0) {
		say(cl, "error usage %s", err);
		return;
	}
	cl->re_set = true;
	cl->wait_ms = (uint64_t)v;
	cl->mode = CMODE_WAIT;
	cl->seq = strcmp(which, "all") == 0 ? ring_first(ring) : ring_next(ring);
	if (cl->seq == 0)
		cl->seq = ring_next(ring);
	cl->wait_from = ring_next(ring);
	watch(cl->ctl, true);
	if (sd_event_add_time_relative(e, &cl->timer, CLOCK_MONOTONIC,
	    cl->wait_ms * 1000, 1000, wait_expired, cl) < 0) {
		unwatch(cl);
		say(cl, "error failed cannot arm a timer");
		return;
	}
	/*
	 * What is kept is read a turn of the loop at a time, so that a
	 * gibibyte of ring and a costly pattern do not hold up serving.
	 */
	if (wait_scan(cl, UINT64_MAX, mono_ns() / 1000 + WAIT_SCAN_USEC)) {
		unwatch(cl);
		return;
	}
	if (cl->seq == ring_next(ring))
		return;
	if (sd_event_add_time(e, &cl->scan, CLOCK_MONOTONIC, 1, 1, scan_due,
	    cl) >= 0)
		set_scanning(cl, true);
	else if (wait_scan(cl, UINT64_MAX, 0))	/* all at once, then */
		unwatch(cl);
}

/* "follow [N] [compact]" */
static void
cmd_follow(struct cclient *cl, char *args)
{
	struct ring	*ring = server_ring(cl->ctl->srv);
	long long	 n = 0;
	uint64_t	 next;
	char		*word;
	bool		 counted = false, compact = false;
	int		 sndbuf;

	while ((word = strsep(&args, " ")) != NULL) {
		if (!compact && strcmp(word, "compact") == 0)
			compact = true;
		else if (!counted && !compact &&
		    number(word, 0, 1000000, &n))
			counted = true;
		else {
			say(cl, "error usage follow [N] [compact]");
			return;
		}
	}
	if (ring == NULL) {
		say(cl, "error failed no messages are recorded "
		    "(recorded_messages is 0)");
		return;
	}
	say(cl, "ok following");
	next = ring_next(ring);
	cl->seq = (uint64_t)n < next ? next - (uint64_t)n : 1;
	cl->mode = CMODE_FOLLOW;
	cl->compact = compact;
	/*
	 * Room for a batch while the one before is still unread: fewer,
	 * larger writes wake the follower less often. The kernel caps it
	 * at net.core.wmem_max, which still holds one batch.
	 */
	sndbuf = FOLLOW_SNDBUF;
	(void)setsockopt(cl->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf,
	    sizeof(sndbuf));
	watch(cl->ctl, true);
	(void)catch_up(cl);
}

/* "messages [N]" */
static void
cmd_messages(struct cclient *cl, char *args)
{
	struct ring		*ring = server_ring(cl->ctl->srv);
	struct ring_entry	 e;
	long long		 n = 1000000;
	uint64_t		 seq, next, count = 0;

	if (args != NULL && !number(args, 0, 1000000, &n)) {
		say(cl, "error usage messages [N]");
		return;
	}
	if (ring == NULL) {
		say(cl, "ok 0 messages (recorded_messages is 0)");
		return;
	}
	next = ring_next(ring);
	seq = (uint64_t)n < next ? next - (uint64_t)n : 1;
	if (seq < ring_first(ring))
		seq = ring_first(ring);
	/* stop at the bound rather than write all of a large ring first */
	for (; ring_first(ring) != 0 && seq < next &&
	    cl->out.len <= ANSWER_MAX; seq++)
		if (ring_get(ring, seq, &e)) {
			say_message(cl, &e);
			count++;
		}
	say(cl, "ok %llu messages", (unsigned long long)count);
}

static void
cmd_connections(struct cclient *cl)
{
	struct listener		*l;
	struct idle_entry	*ie;
	struct conn		*c;
	uint64_t		 now = 0;
	size_t			 i, n = 0;

	sd_event_now(server_event(cl->ctl->srv), CLOCK_MONOTONIC, &now);
	for (i = 0; (l = server_listener(cl->ctl->srv, i)) != NULL; i++)
		for (ie = l->idle.head; ie != NULL; ie = ie->next) {
			c = conn_of_idle(ie);
			(void)put(&cl->out, "connection id=");
			say(cl, "%llu client=%s listener=%s age_ms=%llu "
			    "messages=%llu bytes_in=%llu bytes_out=%llu "
			    "state=%s", (unsigned long long)c->id, c->peer,
			    l->name,
			    (unsigned long long)((now - c->started) / 1000),
			    (unsigned long long)c->msgs,
			    (unsigned long long)c->bytes_in,
			    (unsigned long long)c->bytes_out, conn_state(c));
			n++;
		}
	say(cl, "ok %zu connections", n);
}

static void
cmd_listeners(struct cclient *cl)
{
	const struct listener	*l;
	size_t			 i;

	for (i = 0; (l = server_listener(cl->ctl->srv, i)) != NULL; i++)
		say(cl, "listener name=%s kind=%s address=%s connections=%zu "
		    "max_connections=%zu tls=%s proxy=%s", l->name,
		    l->type == SOCK_DGRAM ? "UDP" : l->family == AF_UNIX ?
		    "Unix" : "TCP", l->desc, l->nconns,
		    l->svc->max_connections, l->tls != NULL ? "yes" : "no",
		    l->svc->proxy_versions != 0 ? "yes" : "no");
	say(cl, "ok %zu listeners", i);
}

static void
cmd_stats(struct cclient *cl)
{
	metrics_stats(cl->ctl->srv, &cl->out);
	say(cl, "ok");
}

static void
cmd_metrics(struct cclient *cl)
{
	metrics_text(cl->ctl->srv, &cl->out);
	say(cl, "ok");
}

/* "push ID TEXT" or "push listener NAME TEXT" */
static void
cmd_push(struct cclient *cl, char *args)
{
	struct listener		*l = NULL;
	struct idle_entry	*ie, *next, *last;
	struct conn		*c = NULL;
	char			*what, *text, *bytes;
	long long		 id = 0;
	size_t			 i, n = 0;
	int			 len, r, failed = 0;

	what = strsep(&args, " ");
	if (what != NULL && strcmp(what, "listener") == 0) {
		what = strsep(&args, " ");
		for (i = 0; what != NULL &&
		    (l = server_listener(cl->ctl->srv, i)) != NULL; i++)
			if (strcmp(l->name, what) == 0)
				break;
		if (what != NULL && l == NULL) {
			say(cl, "error notfound no listener %s", what);
			return;
		}
	} else if (number(what, 1, INT64_MAX, &id) &&
	    (c = server_conn(cl->ctl->srv, (uint64_t)id)) == NULL) {
		say(cl, "error notfound no connection %lld", id);
		return;
	}
	if ((l == NULL && c == NULL) || (text = args) == NULL) {
		say(cl, "error usage push ID|listener NAME TEXT");
		return;
	}
	if (l != NULL && l->type == SOCK_DGRAM) {
		say(cl, "error usage %s is a UDP listener: nobody to push to",
		    l->name);
		return;
	}
	/* C escapes: any byte can be pushed */
	if ((bytes = malloc(strlen(text) + 1)) == NULL) {
		say(cl, "error failed out of memory");
		return;
	}
	if ((len = unescape(bytes, text)) < 0) {
		free(bytes);
		say(cl, "error usage TEXT has a bad escape");
		return;
	}
	if (c != NULL) {
		r = conn_push(c, bytes, (size_t)len);
		n = r >= 0 || r == CONN_GONE ? 1 : 0;
		failed = n == 0 ? r : 0;
	} else
		/* a write moves a connection to the end: stop at the last */
		for (ie = l->idle.head, last = l->idle.tail; ie != NULL;
		    ie = next) {
			next = ie->next;
			r = conn_push(conn_of_idle(ie), bytes, (size_t)len);
			if (r >= 0 || r == CONN_GONE)
				n++;
			if (ie == last)
				break;
		}
	free(bytes);
	if (failed == -EPIPE)
		say(cl, "error failed connection %lld is not written to now",
		    id);
	else if (failed == -ENOBUFS)
		say(cl, "error busy connection %lld has max_queued_bytes "
		    "waiting already", id);
	else if (failed < 0)
		say(cl, "error failed %s", strerror(-failed));
	else
		say(cl, "ok pushed to %zu connections", n);
}

static void
cmd_kick(struct cclient *cl, char *args)
{
	struct conn	*c;
	long long	 id;

	if (!number(args, 1, INT64_MAX, &id)) {
		say(cl, "error usage kick ID");
		return;
	}
	if ((c = server_conn(cl->ctl->srv, (uint64_t)id)) == NULL) {
		say(cl, "error notfound no connection %lld", id);
		return;
	}
	(void)conn_kick(c);
	say(cl, "ok closing %lld", id);
}

static void
report_problem(const char *line, void *arg)
{
	say(arg, "problem %s", line);
}

static void
cmd_reload(struct cclient *cl)
{
	if (cl->ctl->hooks.reload(cl->ctl->hooks.arg, report_problem, cl))
		say(cl, "ok reloaded");
	else
		say(cl, "error config %s has errors; the running configuration "
		    "is kept", server_conf(cl->ctl->srv)->path);
}

/* Tells every console; out once the loop is done with the connections. */
static void
consoles_say(struct control *ctl, const struct ask *a, const char *why)
{
	struct cclient	*cl;

	for (cl = ctl->clients; cl != NULL; cl = cl->next) {
		if (cl->mode != CMODE_OPERATOR || cl->closing)
			continue;
		if (queued(cl) > FOLLOW_MAX) {
			/* it does not read: it is no console any more (freed
			 * once the loop is done with the connections) */
			log_warnx("control: an operator console reads nothing; "
			    "closed");
			cl->out.len = cl->outoff;
			cl->closing = true;
			continue;
		}
		if (why == NULL)
			say(cl, "%s", cl->tty ? a->shown : a->line);
		else if (cl->tty)
			say(cl, "[%llu] %s", (unsigned long long)a->id,
			    strcmp(why, "timeout") == 0 ? "no answer in time: "
			    "the rule's reply was sent" :
			    strcmp(why, "closed") == 0 ? "the client is gone" :
			    why);
		else
			say(cl, "gone id=%llu %s", (unsigned long long)a->id,
			    why);
	}
	flush_soon(ctl);
}

/* serve_ctx.ask: a message for the operators, if any is attached. */
static uint64_t
ask_new(void *arg, struct conn *c, const void *msg, size_t len)
{
	struct control	*ctl = arg;
	struct ask	*a;
	char		 head[256];
	size_t		 n;

	if (ctl->consoles == 0 || ctl->nasks >= ASKS_MAX ||
	    (a = calloc(1, sizeof(*a))) == NULL)
		return 0;
	a->id = ++ctl->ask_seq;
	a->conn = c->id;
	n = escape_n(ctl->text, msg, len, ASK_TEXT_MAX);
	snprintf(head, sizeof(head), "ask id=%llu conn=%llu client=%s "
	    "listener=%s bytes=%zu", (unsigned long long)a->id,
	    (unsigned long long)c->id, c->peer, c->l->name, len);
	if (asprintf(&a->line, "%s \"%.*s\"", head, (int)n, ctl->text) == -1)
		a->line = NULL;
	if (a->line == NULL || asprintf(&a->shown, "[%llu] %s on %s: \"%.*s\"",
	    (unsigned long long)a->id, c->peer, c->l->name, (int)n,
	    ctl->text) == -1) {
		free(a->line);
		free(a);
		return 0;
	}
	*ctl->asks_tail = a;
	ctl->asks_tail = &a->next;
	ctl->nasks++;
	consoles_say(ctl, a, NULL);
	return a->id;
}

/* serve_ctx.ask_over: answered, timed out, or its client is gone. */
static void
ask_over(void *arg, uint64_t id, const char *why)
{
	struct control	*ctl = arg;
	struct ask	**pp, *a;

	for (pp = &ctl->asks; (a = *pp) != NULL; pp = &a->next)
		if (a->id == id)
			break;
	if (a == NULL)
		return;
	if ((*pp = a->next) == NULL)
		ctl->asks_tail = pp;
	ctl->nasks--;
	consoles_say(ctl, a, why);
	free(a->line);
	free(a->shown);
	free(a);
}

/* The operator's answer: to ask id, or (0) the oldest. */
static void
operator_answer(struct cclient *cl, uint64_t id, const char *text, size_t len)
{
	struct control	*ctl = cl->ctl;
	struct ask	*a;
	struct conn	*c;
	int		 r;

	for (a = ctl->asks; a != NULL && id != 0 && a->id != id; a = a->next)
		;
	if (a == NULL) {
		if (cl->tty)
			say(cl, "(no message waits for an answer)");
		else
			say(cl, "error notfound no message %llu waits for an "
			    "answer", (unsigned long long)id);
		return;
	}
	id = a->id;
	if ((c = server_conn(ctl->srv, a->conn)) == NULL)
		r = -ENOENT;
	else
		r = conn_answer(c, id, text, len);	/* frees a */
	if (r == -ENOENT) {
		ask_over(ctl, id, "closed");
		if (!cl->tty)
			say(cl, "error notfound connection of %llu is gone",
			    (unsigned long long)id);
	} else if (r < 0 && r != CONN_GONE)
		say(cl, "error failed %s", strerror(-r));
	else if (!cl->tty)
		say(cl, "ok answered %llu", (unsigned long long)id);
}

/* A line from a console: "answer ID TEXT", or, typed, the answer. */
static void
console_line(struct cclient *cl, char *line)
{
	char		*word, *args = line, *bytes;
	long long	 id;
	int		 len;

	word = strsep(&args, " ");
	if (strcmp(word, "answer") != 0 ||
	    !number(strsep(&args, " "), 1, INT64_MAX, &id) || args == NULL) {
		say(cl, "error usage answer ID TEXT");
		return;
	}
	if ((bytes = malloc(strlen(args) + 1)) == NULL) {
		say(cl, "error failed out of memory");
		return;
	}
	if ((len = unescape(bytes, args)) < 0)
		say(cl, "error usage TEXT has a bad escape");
	else
		operator_answer(cl, (uint64_t)id, bytes, (size_t)len);
	free(bytes);
}

/* "operator": from now on a console. */
static void
cmd_operator(struct cclient *cl)
{
	struct ask	*a;

	if (cl->ctl->consoles++ == 0)
		server_operator(cl->ctl->srv, ask_new, ask_over, cl->ctl);
	cl->mode = CMODE_OPERATOR;
	if (!cl->tty)
		say(cl, "ok operator");
	for (a = cl->ctl->asks; a != NULL; a = a->next)
		say(cl, "%s", cl->tty ? a->shown : a->line);
}

/* The last console is gone: whatever waits for it gets its fallback. */
static void
console_gone(struct control *ctl)
{
	struct conn	*c;
	uint64_t	 id;

	if (--ctl->consoles > 0)
		return;
	/* no new asks meanwhile: ask_new() sees no console */
	while (ctl->asks != NULL) {
		id = ctl->asks->id;
		c = server_conn(ctl->srv, ctl->asks->conn);
		if (c == NULL || conn_answer(c, id, NULL, 0) == -ENOENT)
			ask_over(ctl, id, "closed");
	}
	server_operator(ctl->srv, NULL, NULL, NULL);
}

static const char *const help[] = {
	"connections", "listeners", "messages [N]", "follow [N] [compact]",
	"wait TIMEOUT_MS all|new REGEX", "stats", "metrics",
	"push ID TEXT", "push listener NAME TEXT", "kick ID", "reload",
	"operator", "help", NULL
};

static void
request(struct cclient *cl, char *line)
{
	char	*word, *args = line;
	size_t	 i;

	word = strsep(&args, " ");
	if (args != NULL && *args == '\0')
		args = NULL;
	if (strcmp(word, "connections") == 0)
		cmd_connections(cl);
	else if (strcmp(word, "listeners") == 0)
		cmd_listeners(cl);
	else if (strcmp(word, "messages") == 0)
		cmd_messages(cl, args);
	else if (strcmp(word, "follow") == 0)
		cmd_follow(cl, args);
	else if (strcmp(word, "wait") == 0)
		cmd_wait(cl, args);
	else if (strcmp(word, "stats") == 0)
		cmd_stats(cl);
	else if (strcmp(word, "metrics") == 0)
		cmd_metrics(cl);
	else if (strcmp(word, "push") == 0)
		cmd_push(cl, args);
	else if (strcmp(word, "kick") == 0)
		cmd_kick(cl, args);
	else if (strcmp(word, "reload") == 0)
		cmd_reload(cl);
	else if (strcmp(word, "operator") == 0 && args != NULL)
		say(cl, "error usage operator takes no argument");
	else if (strcmp(word, "operator") == 0)
		cmd_operator(cl);
	else if (strcmp(word, "help") == 0) {
		for (i = 0; help[i] != NULL; i++)
			say(cl, "help %s", help[i]);
		say(cl, "ok");
	} else if (*word == '\0')
		say(cl, "error usage empty request (try help)");
	else {
		(void)put(&cl->out, "error usage no command ");
		say_value(&cl->out, word, strlen(word));
		say(cl, " (try help)");
	}
}

/* Answers the whole requests it has, unless it is waiting or following. */
static void
client_run(struct cclient *cl)
{
	char	*nl;
	size_t	 used, len, mark;

	while ((cl->mode == CMODE_REQUESTS || cl->mode == CMODE_OPERATOR) &&
	    !cl->closing && (nl = memchr(cl->in, '\n', cl->inlen)) != NULL) {
		*nl = '\0';
		used = (size_t)(nl - cl->in) + 1;
		len = used - 1;
		if (len > 0 && cl->in[len - 1] == '\r')
			cl->in[--len] = '\0';
		mark = cl->out.len;
		if (cl->tty && cl->mode == CMODE_OPERATOR)
			/* a typed line is the answer, every byte of it */
			operator_answer(cl, 0, cl->in, len);
		else if (memchr(cl->in, '\0', len) != NULL)
			/* read as a string, it would be cut short there */
			say(cl, "error usage a request holds a NUL byte "
			    "(in TEXT it is \\000)");
		else if (cl->mode == CMODE_OPERATOR)
			console_line(cl, cl->in);
		else
			request(cl, cl->in);
		memmove(cl->in, cl->in + used, cl->inlen - used);
		cl->inlen -= used;
		if (queued(cl) > ANSWER_MAX) {
			/* this answer goes; those before it stay */
			cl->out.len = mark;
			say(cl, "error busy answer longer than %d bytes",
			    ANSWER_MAX);
			cl->closing = true;
		}
	}
	if (cl->mode != CMODE_FOLLOW && !cl->closing &&
	    cl->inlen == sizeof(cl->in) &&
	    memchr(cl->in, '\n', cl->inlen) == NULL) {
		say(cl, "error usage request longer than %d bytes",
		    REQUEST_MAX);
		cl->closing = true;
	}
}

/* Writes what it can; false when the client is gone. */
static bool
client_write(struct cclient *cl)
{
	ssize_t	 n;

	while (queued(cl) > 0) {
		if (cl->tty)
			n = write(cl->ofd, cl->out.data + cl->outoff,
			    queued(cl));
		else
			n = send(cl->fd, cl->out.data + cl->outoff, queued(cl),
			    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return false;
		}
		cl->outoff += (size_t)n;
	}
	if (queued(cl) == 0) {
		cl->out.len = cl->outoff = 0;
		if (cl->out.cap > FOLLOW_MAX)
			buf_free(&cl->out);	/* a long answer's room */
	} else if (cl->outoff > cl->out.len / 2) {
		memmove(cl->out.data, cl->out.data + cl->outoff, queued(cl));
		cl->out.len -= cl->outoff;
		cl->outoff = 0;
	}
	return true;
}

static int
tty_writable(sd_event_source *s, int fd, uint32_t revents, void *arg)
{
	(void)s;
	(void)fd;
	(void)revents;
	client_update(arg);
	return 0;
}

/*
 * The terminal console's standard output is non-blocking: a terminal
 * held with ^S, or a pipe nobody reads, never stops the server. What it
 * does not take waits for EPOLLOUT on it (a file, which epoll cannot
 * watch, takes all at once).
 */
static void
tty_out(struct cclient *cl)
{
	if (queued(cl) == 0) {
		if (cl->osrc != NULL)
			(void)sd_event_source_set_enabled(cl->osrc,
			    SD_EVENT_OFF);
		return;
	}
	if (cl->osrc == NULL) {
		if (sd_event_add_io(server_event(cl->ctl->srv), &cl->osrc,
		    cl->ofd, EPOLLOUT, tty_writable, cl) < 0)
			cl->osrc = NULL;
		return;
	}
	(void)sd_event_source_set_enabled(cl->osrc, SD_EVENT_ON);
}

/* Writes, then watches for what it needs next; frees it when done. */
static void
client_update(struct cclient *cl)
{
	uint32_t	 ev = 0;
	bool		 ok;

	ok = client_write(cl);
	/* a follower that lost lines is told once it has room again */
	if (ok && cl->mode == CMODE_FOLLOW && cl->lost > 0 &&
	    queued(cl) < FOLLOW_MAX / 2) {
		say(cl, "lost count=%llu", (unsigned long long)cl->lost);
		cl->lost = 0;
		ok = client_write(cl);
	}
	if (!ok || ((cl->closing || (cl->rd_eof &&
	    cl->mode == CMODE_REQUESTS)) && queued(cl) == 0)) {
		client_free(cl);
		return;
	}
	if (!cl->closing && !cl->rd_eof && cl->inlen < sizeof(cl->in))
		ev |= EPOLLIN;
	if (cl->tty)
		tty_out(cl);	/* its output is another descriptor */
	else if (queued(cl) > 0)
		ev |= EPOLLOUT;
	if (ev != cl->events) {
		sd_event_source_set_io_events(cl->src, ev);
		sd_event_source_set_enabled(cl->src, ev != 0 ? SD_EVENT_ON :
		    SD_EVENT_OFF);
		cl->events = ev;
	}
}

static int
client_event(sd_event_source *s, int fd, uint32_t revents, void *arg)
{
	struct cclient	*cl = arg;
	ssize_t		 n;

	(void)s;
	if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		if (cl->tty)
			n = read(fd, cl->in + cl->inlen,
			    sizeof(cl->in) - cl->inlen);
		else
			n = recv(fd, cl->in + cl->inlen,
			    sizeof(cl->in) - cl->inlen, MSG_DONTWAIT);
		if (n == 0 && !cl->tty && cl->mode != CMODE_FOLLOW &&
		    cl->mode != CMODE_OPERATOR) {
			/* half closed: what it asked is still answered */
			cl->rd_eof = true;
			client_run(cl);
			client_update(cl);
			return 0;
		}
		if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
			if (cl->tty)
				log_info("interactive: end of input; rules "
				    "answer from now on");
			client_free(cl);
			return 0;
		}
		if (n > 0) {
			if (cl->mode == CMODE_FOLLOW)
				cl->inlen = 0;	/* nothing more to answer */
			else
				cl->inlen += (size_t)n;
		}
		client_run(cl);
	}
	client_update(cl);
	return 0;
}

/*
 * The id the kernel shows for a user or group that has none in our user
 * namespace (65534 unless the sysctl says another), or -1 when every id
 * has one (the map is the whole identity: the first namespace), so that
 * the id is a user like any other.
 */
static long long
overflow_id(const char *sysctl, const char *map)
{
	unsigned long long	 v[3];
	char			 line[128], *p, *end;
	FILE			*fp;
	bool			 whole = false;
	size_t			 i;

	if ((fp = fopen(map, "re")) != NULL) {
		/* one line, "0 0 4294967295" */
		if (fgets(line, sizeof(line), fp) != NULL) {
			p = line;
			for (i = 0; i < 3; i++, p = end) {
				errno = 0;
				v[i] = strtoull(p, &end, 10);
				if (end == p || errno != 0)
					break;
			}
			whole = i == 3 && v[0] == 0 && v[1] == 0 &&
			    v[2] == 4294967295ULL &&
			    fgets(line, sizeof(line), fp) == NULL;
		}
		fclose(fp);
	}
	if (whole)
		return -1;
	v[0] = 65534;
	if ((fp = fopen(sysctl, "re")) != NULL) {
		if (fgets(line, sizeof(line), fp) != NULL) {
			errno = 0;
			v[0] = strtoull(line, &end, 10);
			if (end == line || errno != 0 || v[0] > UINT32_MAX)
				v[0] = 65534;
		}
		fclose(fp);
	}
	return (long long)v[0];
}

/*
 * root, our own user, and control_group's members. In a user namespace
 * that does not map every id, the overflow ids are anyone's: a peer from
 * outside shows as them, so they stand neither for our own user nor for
 * control_group.
 */
static bool
permitted(const struct control *ctl, int fd, const struct ucred *uc)
{
	gid_t		 groups[256];
	socklen_t	 len = sizeof(groups);
	size_t		 i;

	if (uc->uid == 0)
		return true;
	if ((long long)uc->uid == ctl->overflow_uid)
		return false;
	if (uc->uid == geteuid())
		return true;
	if (!ctl->group_set || (long long)ctl->group == ctl->overflow_gid)
		return false;
	if (uc->gid == ctl->group)
		return true;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == -1)
		return false;
	for (i = 0; i < len / sizeof(groups[0]); i++)
		if (groups[i] == ctl->group)
			return true;
	return false;
}

static void
refuse(int fd, const char *line)
{
	(void)send(fd, line, strlen(line), MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
}

static int
control_accept(sd_event_source *s, int lfd, uint32_t revents, void *arg)
{
	struct control	*ctl = arg;
	struct cclient	*cl;
	struct ucred	 uc;
	socklen_t	 len = sizeof(uc);
	char		 line[128];
	int		 fd;

	(void)s;
	(void)revents;
	if ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) ==
	    -1) {
		if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warn("control socket: accept");
		return 0;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) == -1) {
		log_warn("control socket: SO_PEERCRED");
		close(fd);
		return 0;
	}
	if (!permitted(ctl, fd, &uc)) {
		if ((long long)uc.uid == ctl->overflow_uid)
			log_warnx("control: uid %u (pid %d) refused: the "
			    "overflow uid, which a user of another user "
			    "namespace shows as", (unsigned int)uc.uid,
			    (int)uc.pid);
		else
			log_warnx("control: uid %u (pid %d) refused: not "
			    "root, the daemon's user, nor in control_group",
			    (unsigned int)uc.uid, (int)uc.pid);
		snprintf(line, sizeof(line), "error denied uid %u is not "
		    "allowed\n", (unsigned int)uc.uid);
		refuse(fd, line);
		return 0;
	}
	/* the -i console is no socket's: it takes none of their places */
	if (ctl->nclients - (ctl->tty_console ? 1 : 0) >= CLIENTS_MAX) {
		log_warnx("control: uid %u (pid %d) refused: %d control "
		    "clients already", (unsigned int)uc.uid, (int)uc.pid,
		    CLIENTS_MAX);
		refuse(fd, "error busy too many control clients\n");
		return 0;
	}
	if ((cl = calloc(1, sizeof(*cl))) == NULL) {
		refuse(fd, "error failed out of memory\n");
		return 0;
	}
	cl->ctl = ctl;
	cl->fd = cl->ofd = fd;
	cl->uid = uc.uid;
	cl->events = EPOLLIN;
	if (sd_event_add_io(server_event(ctl->srv), &cl->src, fd, EPOLLIN,
	    client_event, cl) < 0) {
		free(cl);
		refuse(fd, "error failed cannot watch the connection\n");
		return 0;
	}
	/* answered before the next batch of clients: within a batch */
	(void)sd_event_source_set_priority(cl->src, SD_EVENT_PRIORITY_IMPORTANT);
	cl->next = ctl->clients;
	ctl->clients = cl;
	server_control_clients(ctl->srv, ++ctl->nclients);
	log_debug("control: uid %u (pid %d) connected", (unsigned int)uc.uid,
	    (int)uc.pid);
	return 0;
}

static void
client_free(struct cclient *cl)
{
	struct control	*ctl = cl->ctl;
	struct cclient	**pp;

	unwatch(cl);
	if (cl->mode == CMODE_OPERATOR) {
		cl->mode = CMODE_REQUESTS;
		console_gone(ctl);
	}
	for (pp = &ctl->clients; *pp != NULL; pp = &(*pp)->next)
		if (*pp == cl) {
			*pp = cl->next;
			break;
		}
	server_control_clients(ctl->srv, --ctl->nclients);
	if (cl->tty)
		ctl->tty_console = false;
	sd_event_source_disable_unref(cl->src);
	sd_event_source_disable_unref(cl->osrc);
	if (!cl->tty)
		close(cl->fd);	/* never 0: a socket would get it */
	else if (cl->oflags != -1)
		(void)fcntl(cl->ofd, F_SETFL, cl->oflags);
	buf_free(&cl->out);
	free(cl);
}

int
control_start(struct control *ctl, struct server *srv,
    const struct control_hooks *hooks)
{
	int	 r;

	ctl->srv = srv;
	ctl->hooks = *hooks;
	if (ctl->interactive && (r = console_tty(ctl)) < 0)
		return r;
	if (ctl->fd < 0)
		return 0;
	if ((r = sd_event_add_io(server_event(srv), &ctl->src, ctl->fd,
	    EPOLLIN, control_accept, ctl)) < 0)
		return r;
	(void)sd_event_source_set_priority(ctl->src,
	    SD_EVENT_PRIORITY_IMPORTANT);
	if (ctl->path[0] != '\0')
		log_info("control socket %s", ctl->path);
	else
		log_info("control socket passed by the service manager");
	return 0;
}

/*
 * The console on the daemon's own terminal (-i): each message a rule
 * asks about is printed, and each line typed answers the oldest.
 */
static int
console_tty(struct control *ctl)
{
	struct cclient	*cl;
	int		 r;

	if ((cl = calloc(1, sizeof(*cl))) == NULL)
		return -ENOMEM;
	cl->ctl = ctl;
	cl->fd = STDIN_FILENO;
	cl->ofd = STDOUT_FILENO;
	cl->tty = true;
	cl->events = EPOLLIN;
	if ((r = sd_event_add_io(server_event(ctl->srv), &cl->src, cl->fd,
	    EPOLLIN, client_event, cl)) < 0) {
		/* /dev/null or a file: no console, the rules answer */
		log_warnx("interactive: cannot watch standard input (%s); "
		    "no console", strerror(-r));
		free(cl);
		return 0;
	}
	if ((cl->oflags = fcntl(cl->ofd, F_GETFL)) != -1)
		(void)fcntl(cl->ofd, F_SETFL, cl->oflags | O_NONBLOCK);
	cl->next = ctl->clients;
	ctl->clients = cl;
	ctl->tty_console = true;
	server_control_clients(ctl->srv, ++ctl->nclients);
	cmd_operator(cl);
	log_info("interactive: messages the rules ask the operator about "
	    "are shown here; each line typed answers the oldest");
	return 0;
}

void
control_free(struct control *ctl)
{
	struct cclient	*cl;
	struct ask	*a;

	if (ctl == NULL)
		return;
	if (ctl->srv != NULL) {
		/* the server closes the connections: no fallbacks now */
		server_operator(ctl->srv, NULL, NULL, NULL);
		server_watch(ctl->srv, NULL, NULL);
	}
	for (cl = ctl->clients; cl != NULL; cl = cl->next)
		if (cl->mode == CMODE_OPERATOR)
			cl->mode = CMODE_REQUESTS;
	while ((a = ctl->asks) != NULL) {
		ctl->asks = a->next;
		free(a->line);
		free(a->shown);
		free(a);
	}
	while (ctl->clients != NULL)
		client_free(ctl->clients);
	sd_event_source_disable_unref(ctl->flush);
	sd_event_source_disable_unref(ctl->tick);
	sd_event_source_disable_unref(ctl->src);
	if (ctl->fd >= 0)
		close(ctl->fd);
	if (ctl->path[0] != '\0' && unlink(ctl->path) == -1 && errno != ENOENT)
		log_debug("cannot remove %s: %s", ctl->path, strerror(errno));
	free(ctl->text);
	free(ctl->match);
	free(ctl);
}

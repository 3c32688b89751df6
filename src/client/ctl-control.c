/* SPDX-License-Identifier: ISC */
/* strnvisx() is the same in both vis flavours; take the NetBSD one. */
#define LIBBSD_NETBSD_VIS
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>
#include <vis.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include "buf.h"
#include "config.h"
#include "ctl-control.h"
#include "ctl-opts.h"
#include "ctl-report.h"
#include "monotonic.h"

#define REQUEST_MAX	4096		/* bytes of a request, its "\n" too */
#define LINE_MAX_BYTES	(1024 * 1024)	/* of a line of the answer */
#define READ_BYTES	65536		/* of standard input at once */
#define RECV_BYTES	(256 * 1024)	/* of the answer: a follower's batch */
#define TIMEOUT_MS	10000		/* without -t */
#define WAIT_GRACE_MS	5000		/* for wait's answer, after its time */
#define FOLLOW_MAX	1000000		/* messages follow may go back */
#define ASKS_MAX	65536		/* operator: asks kept unanswered */
#define ASK_ID_MAX	64		/* bytes of an ask's ID */
#define EX_NOTSEEN	1		/* wait: no message matched */
#define VIS_ANSWER	(VIS_CSTYLE | VIS_NL | VIS_TAB | VIS_OCTAL)

enum kind {
	KIND_PLAIN,		/* an answer, then done */
	KIND_METRICS,		/* the same, Prometheus lines only */
	KIND_FOLLOW,		/* after its ok, lines until the end */
	KIND_OPERATOR		/* after its ok, the console */
};

/* What an ask or gone line says. */
struct ask_line {
	const char	*id, *client, *listener, *text;
	size_t		 idlen, clientlen, listenerlen, textlen;
};

static struct {
	const char	*path;
	int		 fd;
	enum kind	 kind;
	bool		 quiet;
	uint64_t	 silence_ns;	/* an answer owed: how long to wait */
	uint64_t	 deadline;	/* for the next byte, while owed */
	size_t		 owed;		/* final lines still to come */
	bool		 started;	/* the command's final line came */
	bool		 done;
	bool		 out_dead;	/* the daemon takes no more */
	struct buf	 out;
	size_t		 out_off;
	struct buf	 in;		/* received, not yet a whole line */
	size_t		 in_scan;	/* bytes of in without a "\n" */

	/* follow: the last full message line, for those after it */
	char		 seq[32];	/* "message seq=N" */
	size_t		 seqlen;	/* 0: none yet */
	char		 who[2048];	/* " time=... listener=L" */
	size_t		 wholen;

	/* the operator's console */
	char		**asks;		/* their IDs, oldest first */
	size_t		 nasks, asks_cap;
	bool		 stdin_eof;
	struct buf	 sin;		/* standard input, not a line yet */
	bool		 sin_skip;	/* in a line too long to send */
} k;

static volatile sig_atomic_t	 stop;

static void	say(const char *, ...) __attribute__((format(printf, 1, 2)));

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* -- where -- */

static const char *
socket_path(const struct opts *o, const struct conf *conf, char *buf,
    size_t len)
{
	const char	*dir;

	if (o->control_socket != NULL)
		return o->control_socket;
	if (conf != NULL && conf->control_socket != NULL) {
		if (conf->control_socket[0] == '\0')
			report_die(EX_UNAVAILABLE, "%s: control_socket is "
			    "\"\": the daemon has no control socket",
			    conf->path);
		return conf->control_socket;
	}
	/* systemd lists several directories with ":"; ours is the first */
	if ((dir = getenv("RUNTIME_DIRECTORY")) != NULL && dir[0] != '\0' &&
	    dir[0] != ':') {
		snprintf(buf, len, "%.*s/control", (int)strcspn(dir, ":"), dir);
		return buf;
	}
	return OPTS_CONTROL_DEFAULT;
}

static void
control_connect(int timeout_ms)
{
	struct sockaddr_un	 sun;
	struct timeval		 tv;
	int			 fd, flags;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, k.path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path))
		report_die(EX_UNAVAILABLE, "control socket %s: %s", k.path,
		    strerror(ENAMETOOLONG));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		report_die(EX_OSERR, "socket: %s", strerror(errno));
	/* a full backlog makes connect() wait, this long at most */
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1)
		report_die(EX_OSERR, "setsockopt: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		if (errno == EAGAIN || errno == EINPROGRESS)
			report_die(EX_TEMPFAIL, "control socket %s: timed out",
			    k.path);
		report_die(EX_UNAVAILABLE, "control socket %s: %s", k.path,
		    strerror(errno));
	}
	if ((flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1)
		report_die(EX_OSERR, "fcntl: %s", strerror(errno));
	k.fd = fd;
}

/* -- the request -- */

static void
append(const char *s, size_t len)
{
	if (buf_append(&k.out, s, len) < 0)
		report_die(EX_OSERR, "out of memory");
}

static void
append_str(const char *s)
{
	append(s, strlen(s));
}

static void
append_words(char **w, int n)
{
	int	 i;

	for (i = 0; i < n; i++) {
		if (i > 0)
			append(" ", 1);
		append_str(w[i]);
	}
}

/* wait [--new] [--] REGEX: the time and the mode go in between. */
static void
request_wait(char **w, int n, int timeout_ms)
{
	const char	*mode = "all";
	char		 ms[16];
	int		 i = 1;

	while (i < n) {
		if (strcmp(w[i], "--new") == 0) {
			mode = "new";
			i++;
		} else {
			if (strcmp(w[i], "--") == 0)
				i++;
			break;
		}
	}
	if (i == n)
		report_usage("wait needs a regular expression");
	snprintf(ms, sizeof(ms), "%d", timeout_ms);
	append_str("wait ");
	append_str(ms);
	append(" ", 1);
	append_str(mode);
	append(" ", 1);
	append_words(w + i, n - i);
	k.silence_ns += (uint64_t)WAIT_GRACE_MS * 1000000;
}

/* follow [N]: N checked here, and sent as the number it is. */
static void
request_follow(char **w, int n)
{
	const char	*errstr;
	char		 num[16];
	long long	 back;

	if (n > 2)
		report_usage("follow takes one number at most");
	append_str("follow");
	if (n == 2) {
		back = strtonum(w[1], 0, FOLLOW_MAX, &errstr);
		if (errstr != NULL)
			report_usage("follow %s: the number of messages is %s "
			    "(0 to %d)", w[1], errstr, FOLLOW_MAX);
		snprintf(num, sizeof(num), " %lld", back);
		append_str(num);
	}
	/* a third of the bytes for the daemon to write; printed whole */
	append_str(" compact");
	k.kind = KIND_FOLLOW;
}

/* The request line onto the output; what kind of answer it gets. */
static void
request(const struct opts *o, int timeout_ms)
{
	char		**w = o->messages;
	int		 n = o->nmessages;

	if (w[0][0] == '\0')
		report_usage("the command is empty");
	k.kind = KIND_PLAIN;
	if (strcmp(w[0], "wait") == 0)
		request_wait(w, n, timeout_ms);
	else if (strcmp(w[0], "follow") == 0)
		request_follow(w, n);
	else {
		if (strcmp(w[0], "metrics") == 0)
			k.kind = KIND_METRICS;
		else if (strcmp(w[0], "operator") == 0) {
			if (n > 1)
				report_usage("operator takes no arguments");
			k.kind = KIND_OPERATOR;
		}
		append_words(w, n);
	}
	append("\n", 1);
	if (k.out.len > REQUEST_MAX)
		report_usage("the command is %zu bytes long; a request may "
		    "have %d with its line end", k.out.len, REQUEST_MAX);
	k.owed = 1;
}

/* -- what comes back -- */

static void
say(const char *fmt, ...)
{
	va_list	 ap;
	int	 r;

	if (k.quiet)
		return;
	va_start(ap, fmt);
	r = vfprintf(stdout, fmt, ap);
	va_end(ap);
	if (r < 0)
		report_die(EX_IOERR, "standard output: %s", strerror(errno));
}

static void
print_line(const char *line, size_t len)
{
	if (k.quiet)
		return;
	/* a follower prints a million lines a second: no lock for each */
	if (fwrite_unlocked(line, 1, len, stdout) != len ||
	    putc_unlocked('\n', stdout) == EOF)
		report_die(EX_IOERR, "standard output: %s", strerror(errno));
}

/* Whether the line is word, alone or before a space; *rest: what follows. */
static bool
word_is(const char *line, size_t len, const char *word, const char **rest,
    size_t *restlen)
{
	size_t	 n;

	if (len == 0 || line[0] != word[0])
		return false;	/* most lines, at the first byte */
	n = strlen(word);
	if (len < n || memcmp(line, word, n) != 0 || (len > n &&
	    line[n] != ' '))
		return false;
	while (n < len && line[n] == ' ')
		n++;
	*rest = line + n;
	*restlen = len - n;
	return true;
}

static bool
same(const char *s, size_t len, const char *word)
{
	return strlen(word) == len && memcmp(s, word, len) == 0;
}

/*
 * An error line, its CLASS and TEXT in rest: the TEXT (without one, the
 * line), and the exit status.
 */
static int
error_of(const char *line, size_t linelen, const char *rest, size_t len,
    const char **text, size_t *tlen)
{
	static const struct {
		const char	*name;
		int		 status;
	} classes[] = {
		{ "usage",	EX_USAGE },
		{ "notfound",	EX_NOINPUT },
		{ "timeout",	EX_NOTSEEN },
		{ "config",	EX_CONFIG },
		{ "denied",	EX_NOPERM },
		{ "busy",	EX_TEMPFAIL },
		{ "failed",	EX_SOFTWARE },
	};
	size_t	 n = 0, i;

	while (n < len && rest[n] != ' ')
		n++;
	for (i = n; i < len && rest[i] == ' '; i++)
		;
	if (i < len) {
		*text = rest + i;
		*tlen = len - i;
	} else {
		*text = line;
		*tlen = linelen;
	}
	for (i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
		if (same(rest, n, classes[i].name))
			return classes[i].status;
	return EX_SOFTWARE;
}

static void
on_final(const char *line, size_t linelen, bool ok, const char *rest,
    size_t len)
{
	const char	*text = NULL;
	size_t		 tlen = 0;
	int		 status = 0;

	if (!ok)
		status = error_of(line, linelen, rest, len, &text, &tlen);
	else if (len > 0)
		report_verbose("%.*s", (int)len, rest);
	else
		report_verbose("ok");
	if (k.owed == 0) {
		/* none owed: only an error that ends it all comes so */
		if (!ok)
			report_die(status, "%.*s", (int)tlen, text);
		return;
	}
	k.owed--;
	if (!k.started) {
		k.started = true;
		if (!ok)
			report_die(status, "%.*s", (int)tlen, text);
		if (k.kind != KIND_FOLLOW && k.kind != KIND_OPERATOR)
			k.done = true;
		return;
	}
	/* the answer to an answer of the operator's */
	if (!ok)
		report_warnx("%.*s", (int)tlen, text);
}

/*
 * The fields of an ask or gone line: its ID (id=, else a word that is no
 * key=value, else conn=), client=, listener=, and the quoted text last.
 */
static void
parse_ask(const char *p, size_t len, struct ask_line *a)
{
	const char	*end = p + len, *tok, *eq, *conn = NULL;
	size_t		 n, connlen = 0;

	memset(a, 0, sizeof(*a));
	while (p < end) {
		while (p < end && *p == ' ')
			p++;
		if (p == end)
			break;
		if (*p == '"') {
			a->text = p;
			a->textlen = (size_t)(end - p);
			break;
		}
		for (tok = p; p < end && *p != ' '; p++)
			;
		n = (size_t)(p - tok);
		if ((eq = memchr(tok, '=', n)) == NULL) {
			if (a->id == NULL) {
				a->id = tok;
				a->idlen = n;
			}
			continue;
		}
		if (same(tok, (size_t)(eq - tok), "id")) {
			a->id = eq + 1;
			a->idlen = n - 3;
		} else if (same(tok, (size_t)(eq - tok), "client") &&
		    a->client == NULL) {
			a->client = eq + 1;
			a->clientlen = n - 7;
		} else if (same(tok, (size_t)(eq - tok), "listener") &&
		    a->listener == NULL) {
			a->listener = eq + 1;
			a->listenerlen = n - 9;
		} else if (same(tok, (size_t)(eq - tok), "conn")) {
			conn = eq + 1;
			connlen = n - 5;
		}
	}
	if (a->id == NULL) {
		a->id = conn;
		a->idlen = connlen;
	}
}

static ssize_t
ask_find(const char *id, size_t len)
{
	size_t	 i;

	for (i = 0; i < k.nasks; i++)
		if (same(id, len, k.asks[i]))
			return (ssize_t)i;
	return -1;
}

static void
ask_drop(size_t i)
{
	free(k.asks[i]);
	memmove(k.asks + i, k.asks + i + 1, (k.nasks - i - 1) *
	    sizeof(*k.asks));
	k.nasks--;
}

/* An ask: shown, and kept for the next line typed. False: not one. */
static bool
on_ask(const char *rest, size_t len)
{
	struct ask_line	 a;
	char		**v;
	size_t		 cap;

	parse_ask(rest, len, &a);
	if (a.id == NULL || a.idlen == 0 || a.idlen > ASK_ID_MAX)
		return false;
	say("[%.*s] %.*s on %.*s: %.*s\n", (int)a.idlen, a.id,
	    a.client ? (int)a.clientlen : 1, a.client ? a.client : "?",
	    a.listener ? (int)a.listenerlen : 1, a.listener ? a.listener : "?",
	    a.text ? (int)a.textlen : 2, a.text ? a.text : "\"\"");
	if (ask_find(a.id, a.idlen) != -1)
		return true;
	if (k.nasks == ASKS_MAX) {
		report_warnx("%d asks are waiting already: [%.*s] cannot be "
		    "answered here", ASKS_MAX, (int)a.idlen, a.id);
		return true;
	}
	if (k.nasks == k.asks_cap) {
		cap = k.asks_cap ? k.asks_cap * 2 : 16;
		if ((v = reallocarray(k.asks, cap, sizeof(*v))) == NULL)
			report_die(EX_OSERR, "out of memory");
		k.asks = v;
		k.asks_cap = cap;
	}
	if ((k.asks[k.nasks] = strndup(a.id, a.idlen)) == NULL)
		report_die(EX_OSERR, "out of memory");
	k.nasks++;
	return true;
}

/* An ask withdrawn: no line typed may answer it now. */
static bool
on_gone(const char *rest, size_t len)
{
	struct ask_line	 a;
	ssize_t		 i;

	parse_ask(rest, len, &a);
	if (a.id == NULL || a.idlen == 0)
		return false;
	if ((i = ask_find(a.id, a.idlen)) != -1) {
		ask_drop((size_t)i);
		say("[%.*s] gone\n", (int)a.idlen, a.id);
	}
	return true;
}

/* The decimal number that ends d[0..*len) plus one. */
static void
count_up(char *d, size_t *len, size_t from)
{
	size_t	 i = *len;

	while (i > from && d[i - 1] == '9')
		d[--i] = '0';
	if (i > from) {
		d[i - 1]++;
		return;
	}
	memmove(d + from + 1, d + from, *len - from);	/* 99 + 1 */
	d[from] = '1';
	(*len)++;
}

#define SEQ_WORD	"message seq="

/*
 * A follower's message line. A full one is kept: seq=, and what follows
 * it up to rule= (the values before rule= have no space in them). A
 * compact one ("=" and rule= on) is the message after the line before,
 * from the same connection at the same time: printed whole.
 */
static void
on_message(const char *line, size_t len)
{
	const char	*p, *end = line + len, *rule;
	size_t		 n;

	if (line[0] == '=') {
		if (k.seqlen == 0)
			report_die(EX_PROTOCOL, "control socket %s: a compact "
			    "message line before any full one", k.path);
		if (k.seqlen == sizeof(k.seq))
			report_die(EX_PROTOCOL, "control socket %s: a message "
			    "number past 2^64", k.path);
		count_up(k.seq, &k.seqlen, sizeof(SEQ_WORD) - 1);
		if (k.quiet)
			return;
		if (fwrite_unlocked(k.seq, 1, k.seqlen, stdout) != k.seqlen ||
		    fwrite_unlocked(k.who, 1, k.wholen, stdout) != k.wholen)
			report_die(EX_IOERR, "standard output: %s",
			    strerror(errno));
		print_line(line + 1, len - 1);
		return;
	}
	p = line + sizeof(SEQ_WORD) - 1;
	while (p < end && *p >= '0' && *p <= '9')
		p++;
	n = (size_t)(p - line);
	rule = memmem(p, (size_t)(end - p), " rule=", 6);
	if (n == sizeof(SEQ_WORD) - 1 || n > sizeof(k.seq) - 1 ||
	    rule == NULL || (size_t)(rule - p) > sizeof(k.who))
		k.seqlen = 0;	/* not one a compact line can follow */
	else {
		memcpy(k.seq, line, n);
		k.seqlen = n;
		memcpy(k.who, p, (size_t)(rule - p));
		k.wholen = (size_t)(rule - p);
	}
	print_line(line, len);
}

static void
on_data(const char *line, size_t len)
{
	const char	*rest;
	size_t		 restlen;

	if (k.kind == KIND_FOLLOW && k.started && len > 0 &&
	    ((line[0] == '=' && (len == 1 || line[1] == ' ')) ||
	    (len > sizeof(SEQ_WORD) - 1 &&
	    memcmp(line, SEQ_WORD, sizeof(SEQ_WORD) - 1) == 0))) {
		on_message(line, len);
		return;
	}
	if (k.kind == KIND_METRICS && !(len > 0 && line[0] == '#') &&
	    !(len >= 11 && memcmp(line, "echoreplyd_", 11) == 0))
		return;
	if (k.kind == KIND_OPERATOR && k.started) {
		if (word_is(line, len, "ask", &rest, &restlen) &&
		    on_ask(rest, restlen))
			return;
		if (word_is(line, len, "gone", &rest, &restlen) &&
		    on_gone(rest, restlen))
			return;
	}
	print_line(line, len);
}

static void
on_line(const char *line, size_t len)
{
	const char	*rest;
	size_t		 restlen;

	if (word_is(line, len, "ok", &rest, &restlen))
		on_final(line, len, true, rest, restlen);
	else if (word_is(line, len, "error", &rest, &restlen))
		on_final(line, len, false, rest, restlen);
	else
		on_data(line, len);
}

static void
closed(int err)
{
	/* following, the end is the daemon's to choose */
	if (k.kind == KIND_FOLLOW && k.started && (err == 0 ||
	    err == ECONNRESET)) {
		k.done = true;
		return;
	}
	report_die(EX_PROTOCOL, "control socket %s: closed %s%s%s", k.path,
	    k.started ? "by the daemon" : "before the answer",
	    err ? ": " : "", err ? strerror(err) : "");
}

static void __attribute__((noreturn))
too_long(void)
{
	report_die(EX_PROTOCOL, "control socket %s: a line of the answer is "
	    "longer than %d bytes", k.path, LINE_MAX_BYTES);
}

static void
receive(void)
{
	char	*nl, *p;
	size_t	 off = 0;
	ssize_t	 n;

	if (buf_reserve(&k.in, RECV_BYTES) < 0)
		report_die(EX_OSERR, "out of memory");
	n = recv(k.fd, k.in.data + k.in.len, RECV_BYTES, 0);
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		closed(errno);
		return;
	}
	if (n == 0) {
		closed(0);
		return;
	}
	k.in.len += (size_t)n;
	k.deadline = mono_ns() + k.silence_ns;
	while (!k.done && (nl = memchr(k.in.data + k.in_scan, '\n',
	    k.in.len - k.in_scan)) != NULL) {
		p = k.in.data + off;
		if ((size_t)(nl - p) > LINE_MAX_BYTES)
			too_long();
		on_line(p, (size_t)(nl - p));
		off = k.in_scan = (size_t)(nl - k.in.data) + 1;
	}
	if (k.done)
		return;
	memmove(k.in.data, k.in.data + off, k.in.len - off);
	k.in.len -= off;
	k.in_scan = k.in.len;
	if (k.in.len > LINE_MAX_BYTES)
		too_long();
}

static void
send_out(void)
{
	ssize_t	 n;

	n = send(k.fd, k.out.data + k.out_off, k.out.len - k.out_off,
	    MSG_NOSIGNAL);
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		/* what it said before it closed is still to be read */
		k.out_dead = true;
		k.out.len = k.out_off = 0;
		return;
	}
	k.out_off += (size_t)n;
	if (k.out_off == k.out.len)
		k.out.len = k.out_off = 0;
}

/* -- the operator's lines -- */

/* A line typed answers the oldest ask, escaped so that any byte passes. */
static void
answer(const char *line, size_t len)
{
	static char	 esc[REQUEST_MAX * 4 + 1];
	const char	*id;
	int		 n;

	if (k.nasks == 0) {
		report_warnx("no ask is waiting for an answer: the line is not "
		    "sent");
		return;
	}
	id = k.asks[0];
	n = strnvisx(esc, sizeof(esc), line, len, VIS_ANSWER);
	if (n < 0 || strlen("answer ") + strlen(id) + 1 + (size_t)n + 1 >
	    REQUEST_MAX) {
		report_warnx("the answer to [%s] is longer than a request may "
		    "be (%d bytes, escaped): it is not sent", id, REQUEST_MAX);
		return;
	}
	if (!k.out_dead) {
		append_str("answer ");
		append_str(id);
		append(" ", 1);
		append(esc, (size_t)n);
		append("\n", 1);
	}
	ask_drop(0);
	if (k.owed++ == 0)
		k.deadline = mono_ns() + k.silence_ns;
}

static void
stdin_line(const char *line, size_t len)
{
	if (k.sin_skip) {
		k.sin_skip = false;
		return;
	}
	if (len >= REQUEST_MAX) {
		report_warnx("standard input: a line of %zu bytes is too long "
		    "to send", len);
		return;
	}
	answer(line, len);
}

static void
read_stdin(void)
{
	char	*nl;
	size_t	 off = 0;
	ssize_t	 n;

	if (buf_reserve(&k.sin, READ_BYTES) < 0)
		report_die(EX_OSERR, "out of memory");
	n = read(STDIN_FILENO, k.sin.data + k.sin.len, READ_BYTES);
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		report_die(EX_IOERR, "standard input: %s", strerror(errno));
	}
	if (n == 0)
		k.stdin_eof = true;
	k.sin.len += (size_t)n;
	while ((nl = memchr(k.sin.data + off, '\n', k.sin.len - off)) !=
	    NULL) {
		stdin_line(k.sin.data + off, (size_t)(nl - (k.sin.data + off)));
		off = (size_t)(nl - k.sin.data) + 1;
	}
	if (k.stdin_eof && off < k.sin.len) {
		stdin_line(k.sin.data + off, k.sin.len - off);
		off = k.sin.len;
	}
	memmove(k.sin.data, k.sin.data + off, k.sin.len - off);
	k.sin.len -= off;
	if (k.sin.len >= REQUEST_MAX) {
		if (!k.sin_skip)
			report_warnx("standard input: a line of more than %d "
			    "bytes is too long to send", REQUEST_MAX);
		k.sin_skip = true;
		k.sin.len = 0;
	}
}

/* -- the loop -- */

static bool
finished(void)
{
	return k.done || (k.kind == KIND_OPERATOR && k.stdin_eof &&
	    k.owed == 0);
}

/* Signals in mask are let in only while waiting: they stop it. */
static void
run(const sigset_t *mask)
{
	struct pollfd	 pfd[2];
	struct timespec	 ts, *tsp;
	uint64_t	 now, left;

	while (!finished()) {
		report_flush();
		pfd[0].fd = k.fd;
		pfd[0].events = POLLIN;
		if (!k.out_dead && k.out_off < k.out.len)
			pfd[0].events |= POLLOUT;
		pfd[1].fd = k.kind == KIND_OPERATOR && k.started &&
		    !k.stdin_eof ? STDIN_FILENO : -1;
		pfd[1].events = POLLIN;
		pfd[0].revents = pfd[1].revents = 0;

		tsp = NULL;	/* the clock runs while an answer is owed */
		if (k.owed > 0) {
			if ((now = mono_ns()) >= k.deadline)
				report_die(EX_TEMPFAIL, "timed out waiting for "
				    "the answer from control socket %s",
				    k.path);
			left = k.deadline - now;
			ts.tv_sec = (time_t)(left / 1000000000);
			ts.tv_nsec = (long)(left % 1000000000);
			tsp = &ts;
		}
		if (ppoll(pfd, 2, tsp, mask) == -1) {
			if (errno != EINTR)
				report_die(EX_OSERR, "poll: %s",
				    strerror(errno));
			if (stop)
				return;
			continue;
		}
		if (pfd[0].revents & POLLOUT)
			send_out();
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))
			receive();
		if (!finished() && pfd[1].revents & (POLLIN | POLLHUP |
		    POLLERR))
			read_stdin();
	}
}

void
control_run(const struct opts *o, const struct conf *conf)
{
	char			 path[4096];
	int			 timeout_ms;
	sigset_t		 block, orig;
	struct sigaction	 sa;
	bool			 streams;
	size_t			 i;

	timeout_ms = o->timeout_set ? o->timeout_ms : TIMEOUT_MS;
	k.fd = -1;
	k.quiet = o->quiet;
	k.silence_ns = (uint64_t)timeout_ms * 1000000;
	k.path = socket_path(o, conf, path, sizeof(path));
	request(o, timeout_ms);

	control_connect(timeout_ms);
	k.deadline = mono_ns() + k.silence_ns;
	/* following or at the console, an interrupt ends it well */
	streams = k.kind == KIND_FOLLOW || k.kind == KIND_OPERATOR;
	if (streams) {
		sigemptyset(&block);
		sigaddset(&block, SIGINT);
		sigaddset(&block, SIGTERM);
		if (sigprocmask(SIG_BLOCK, &block, &orig) == -1)
			report_die(EX_OSERR, "sigprocmask: %s",
			    strerror(errno));
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_signal;
		sigemptyset(&sa.sa_mask);
		if (sigaction(SIGINT, &sa, NULL) == -1 ||
		    sigaction(SIGTERM, &sa, NULL) == -1)
			report_die(EX_OSERR, "sigaction: %s", strerror(errno));
	}
	run(streams ? &orig : NULL);

	report_flush();
	close(k.fd);
	buf_free(&k.out);
	buf_free(&k.in);
	buf_free(&k.sin);
	for (i = 0; i < k.nasks; i++)
		free(k.asks[i]);
	free(k.asks);
}

/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <poll.h>
#include <sys/time.h>
#include <stddef.h>
#include <systemd/sd-daemon.h>

#include "escape.h"
#include "journal.h"
#include "log.h"
#include "monotonic.h"

#define JOURNAL_SOCKET	"/run/systemd/journal/socket"

/* the longest message record, escaped, with room for its fields */
#define LOG_BUF_SIZE	(ESCAPE_SIZE(LOG_MESSAGE_MAX) + 1024)
#define LOG_LINE_MAX	8192
#define LOG_IDENT	"echoreplyd"

static struct {
	int		 journal;	/* native journal protocol */
	int		 prefix;	/* "<N>" priority prefixes on stderr */
	int		 level;		/* highest priority value that is logged */
	int		 buffered;
	int		 fd;		/* where records go, never blocking */
	int		 sock;		/* fd is a socket: send(MSG_DONTWAIT) */
	unsigned long	 lost;		/* records dropped since the last report */
	size_t		 len;
	char		 buf[LOG_BUF_SIZE];
} logger = { 0, 0, LOG_INFO, 0, STDERR_FILENO, 0, 0, 0, { 0 } };
static uint64_t	 lost_reported;	/* records lost, and said so */

uint64_t
log_lost(void)
{
	return lost_reported + logger.lost;
}

static int
stderr_is_journal(void)
{
	const char		*e;
	char			*end;
	unsigned long long	 dev, ino;
	struct stat		 st;

	/* systemd sets it to "device:inode", both in decimal */
	if ((e = getenv("JOURNAL_STREAM")) == NULL)
		return 0;
	errno = 0;
	dev = strtoull(e, &end, 10);
	if (end == e || *end != ':' || errno == ERANGE)
		return 0;
	e = end + 1;
	ino = strtoull(e, &end, 10);
	if (end == e || errno == ERANGE)
		return 0;
	if (fstat(STDERR_FILENO, &st) == -1)
		return 0;
	return st.st_dev == dev && st.st_ino == ino;
}

/*
 * A log sink that stalls (a pipe nobody reads) must not stall the daemon:
 * write to it without blocking, through a descriptor of our own so that
 * O_NONBLOCK does not leak to whoever shares stderr with us.
 */
static void
open_sink(void)
{
	struct stat	 st;
	int		 fd;

	if (logger.fd != STDERR_FILENO || logger.sock)
		return;		/* done already */
	if (fstat(STDERR_FILENO, &st) == -1)
		return;
	if (S_ISSOCK(st.st_mode)) {
		logger.sock = 1;
		return;
	}
	if (!S_ISFIFO(st.st_mode) && !S_ISCHR(st.st_mode))
		return;		/* a file: writes do not block */
	fd = open("/proc/self/fd/2", O_WRONLY | O_NONBLOCK | O_CLOEXEC |
	    O_NOCTTY);
	if (fd != -1)
		logger.fd = fd;
}

/*
 * Whether the journal's socket is there, to say at start that records go
 * to standard error instead.
 */
static bool
journal_present(void)
{
	struct stat	 st;

	return stat(JOURNAL_SOCKET, &st) == 0 && S_ISSOCK(st.st_mode);
}

void
log_init(bool debug, int verbose, enum conf_log_target target)
{
	bool	 missing = false;

	log_flush();
	logger.journal = !debug && (target == CONF_LOG_JOURNAL ||
	    (target == CONF_LOG_AUTO && stderr_is_journal()));
	if (logger.journal && !journal_present()) {
		logger.journal = false;
		missing = true;
	}
	logger.prefix = !debug;
	logger.level = verbose > 0 ? LOG_DEBUG : LOG_INFO;
	open_sink();
	if (missing)
		log_warnx("no journal at %s: logging to standard error",
		    JOURNAL_SOCKET);
}

bool
log_pending(void)
{
	return logger.len > 0;
}

static unsigned long
count_records(const char *p, size_t n)
{
	unsigned long	 k = 0;
	const char	*e = p + n;

	while (p < e && (p = memchr(p, '\n', (size_t)(e - p))) != NULL) {
		k++;
		p++;
	}
	return k;
}

void
log_set_buffered(bool on)
{
	if (!on)
		log_flush();
	logger.buffered = on;
}

bool
log_enabled(int priority)
{
	return priority <= logger.level;
}

static ssize_t
sink_write(const char *p, size_t n)
{
	if (logger.sock)
		return send(logger.fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
	return write(logger.fd, p, n);
}

/* The lost records said on the stream, once it takes writes again. */
static void
stream_note_lost(void)
{
	char	 note[96];
	int	 m;

	m = snprintf(note, sizeof(note), "%slog: %lu records lost: the log "
	    "output was blocked or failing\n", logger.prefix ? "<4>" : "",
	    logger.lost);
	if (m > 0 && sink_write(note, (size_t)m) == m) {
		lost_reported += logger.lost;
		logger.lost = 0;
	}
}

void
log_flush(void)
{
	size_t	 off = 0;
	ssize_t	 n;

	while (off < logger.len) {
		n = sink_write(logger.buf + off, logger.len - off);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;	/* keep the rest for the next flush */
			/* a broken sink: drop, but count what was lost */
			logger.lost += count_records(logger.buf + off,
			    logger.len - off);
			off = logger.len;
			break;
		}
		off += (size_t)n;
	}
	memmove(logger.buf, logger.buf + off, logger.len - off);
	logger.len -= off;
	if (logger.lost > 0 && logger.len == 0 && off > 0)
		stream_note_lost();
}


static void
to_stderr(int priority, const char *text)
{
	char	 line[LOG_LINE_MAX + 8];
	int	 n;

	if (logger.prefix)
		n = snprintf(line, sizeof(line), "<%d>%s\n", priority, text);
	else
		n = snprintf(line, sizeof(line), "%s\n", text);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	if (logger.len + (size_t)n > sizeof(logger.buf))
		log_flush();
	if (logger.len + (size_t)n > sizeof(logger.buf)) {
		logger.lost++;	/* the sink is stalled and the buffer full */
		return;
	}
	memcpy(logger.buf + logger.len, line, (size_t)n);
	logger.len += (size_t)n;
	if (!logger.buffered)
		log_flush();
}

/* Appends "NAME=value" to iov; the strings must outlive the call. */
#define ADD_FIELD(iov, n, str) do {					\
	(iov)[(n)].iov_base = (void *)(str);				\
	(iov)[(n)].iov_len = strlen(str);				\
	(n)++;								\
} while (0)

/* Client-chosen TLS facts (SNI, ALPN, subject) go escaped, as messages do. */
#define TLS_FIELD_MAX	256
#define TLS_FIELDS	6

struct tls_fields {
	char	 v[TLS_FIELDS][sizeof("TLS_CLIENT_FINGERPRINT=") +
		    ESCAPE_SIZE(TLS_FIELD_MAX)];
};

static int
add_tls(struct iovec *iov, int n, const struct template_tls *t,
    struct tls_fields *tf)
{
	static const char *const names[TLS_FIELDS] = {
		"TLS_VERSION=", "TLS_CIPHER=", "TLS_SNI=", "TLS_ALPN=",
		"TLS_CLIENT_SUBJECT=", "TLS_CLIENT_FINGERPRINT="
	};
	const char	*vals[TLS_FIELDS] = {
		t->version, t->cipher, t->sni, t->alpn, t->client_subject,
		t->client_fingerprint
	};
	size_t		 i, k;

	for (i = 0; i < TLS_FIELDS; i++) {
		if (vals[i] == NULL || vals[i][0] == '\0')
			continue;
		k = strlcpy(tf->v[i], names[i], sizeof(tf->v[i]));
		escape(tf->v[i] + k, vals[i], strlen(vals[i]), TLS_FIELD_MAX);
		ADD_FIELD(iov, n, tf->v[i]);
	}
	return n;
}

/*
 * The journal's native protocol, sent without blocking. sd_journal_sendv()
 * waits while journald does not read (stopped, stuck, slow), and every
 * client would wait with it: here a record the journal has no room for is
 * dropped and counted, as on the stderr back ends.
 */
#define JOURNAL_SNDBUF	(8 * 1024 * 1024)
#define JOURNAL_FIELDS	(16 + TLS_FIELDS)
#define JOURNAL_DROPPED	1	/* journal_sendv(): full, record counted */

static int	 journal_fd = -1;
static bool	 journal_wait;	/* log_finish(): sends may block */

/*
 * Sends one record. Returns 0, JOURNAL_DROPPED when the journal had no
 * room (the record is counted as lost), or -errno when there is no journal
 * to send to (the caller writes to stderr instead).
 */
static int
journal_sendv(const struct iovec *iov, int n)
{
	static struct sockaddr_un sun = { AF_UNIX, JOURNAL_SOCKET };
	struct iovec	 w[JOURNAL_FIELDS * JOURNAL_IOV_PER_FIELD];
	uint64_t	 lens[JOURNAL_FIELDS];
	struct msghdr	 mh;
	int		 size = JOURNAL_SNDBUF;

	if (journal_fd == -1) {
		journal_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		if (journal_fd == -1)
			return -errno;
		/* room for bursts; the kernel holds it to its wmem_max */
		(void)setsockopt(journal_fd, SOL_SOCKET, SO_SNDBUF, &size,
		    sizeof(size));
	}
	if (n > JOURNAL_FIELDS)
		n = JOURNAL_FIELDS;
	memset(&mh, 0, sizeof(mh));
	mh.msg_name = &sun;
	mh.msg_namelen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
	    sizeof(JOURNAL_SOCKET));
	mh.msg_iov = w;
	mh.msg_iovlen = (size_t)journal_encode(iov, n, w, lens);
	while (sendmsg(journal_fd, &mh, (journal_wait ? 0 : MSG_DONTWAIT) |
	    MSG_NOSIGNAL) == -1) {
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			return JOURNAL_DROPPED;
		/*
		 * EMSGSIZE, ENOBUFS too: the longest record (LOG_MESSAGE_MAX
		 * escaped, about 270 KB) fits the raised send buffer; where
		 * the kernel allows less, stderr has it, without its fields
		 */
		return -errno;
	}
	return 0;
}

/* After records were dropped, the first one that goes through says so. */
static void
journal_note_lost(void)
{
	struct iovec	 iov[3];
	char		 msg[128];
	int		 n = 0;

	snprintf(msg, sizeof(msg), "MESSAGE=log: %lu records lost: the "
	    "journal did not keep up", logger.lost);
	ADD_FIELD(iov, n, msg);
	ADD_FIELD(iov, n, "PRIORITY=4");
	ADD_FIELD(iov, n, "SYSLOG_IDENTIFIER=" LOG_IDENT);
	if (journal_sendv(iov, n) == 0) {
		lost_reported += logger.lost;
		logger.lost = 0;
	}
}

void
log_finish(unsigned int timeout_ms)
{
	struct pollfd	 pfd;
	struct timeval	 tv;
	uint64_t	 deadline = mono_ns() / 1000000 + timeout_ms, now;

	for (;;) {
		log_flush();
		if (!logger.journal && logger.len == 0 && logger.lost > 0)
			stream_note_lost();
		if ((logger.len == 0 && logger.lost == 0) || logger.journal ||
		    (now = mono_ns() / 1000000) >= deadline)
			break;
		pfd.fd = logger.fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, (int)(deadline - now)) <= 0)
			break;
	}
	if (!logger.journal || logger.lost == 0 || journal_fd == -1)
		return;
	/* the note blocks, for what is left of timeout_ms at most */
	now = mono_ns() / 1000000;
	if (now >= deadline)
		now = deadline - 1;
	tv.tv_sec = (time_t)((deadline - now) / 1000);
	tv.tv_usec = (suseconds_t)((deadline - now) % 1000 * 1000);
	if (fcntl(journal_fd, F_SETFL, fcntl(journal_fd, F_GETFL) &
	    ~O_NONBLOCK) == -1 || setsockopt(journal_fd, SOL_SOCKET,
	    SO_SNDTIMEO, &tv, sizeof(tv)) == -1)
		return;
	journal_wait = true;
	journal_note_lost();
	journal_wait = false;
}

static int
to_journal(int priority, const char *msgid, const struct log_fields *f,
    const char *text, int errnum)
{
	static struct tls_fields tf;
	struct iovec	 iov[14 + TLS_FIELDS];
	char		 msg[LOG_LINE_MAX + 16], prio[16], mid[48], err[24];
	char		 port[24], *addr = NULL, *lis = NULL, *rule = NULL;
	char		*cmsg = NULL, *paddr = NULL, pport[24];
	int		 n = 0, r;

	snprintf(msg, sizeof(msg), "MESSAGE=%s", text);
	ADD_FIELD(iov, n, msg);
	snprintf(prio, sizeof(prio), "PRIORITY=%d", priority);
	ADD_FIELD(iov, n, prio);
	ADD_FIELD(iov, n, "SYSLOG_IDENTIFIER=" LOG_IDENT);
	if (msgid != NULL) {
		snprintf(mid, sizeof(mid), "MESSAGE_ID=%s", msgid);
		ADD_FIELD(iov, n, mid);
	}
	if (errnum > 0) {
		snprintf(err, sizeof(err), "ERRNO=%d", errnum);
		ADD_FIELD(iov, n, err);
	}
	if (f != NULL) {
		if (f->client_address != NULL &&
		    asprintf(&addr, "CLIENT_ADDRESS=%s", f->client_address) > 0)
			ADD_FIELD(iov, n, addr);
		if (f->client_port != 0) {
			snprintf(port, sizeof(port), "CLIENT_PORT=%u",
			    f->client_port);
			ADD_FIELD(iov, n, port);
		}
		if (f->listener != NULL &&
		    asprintf(&lis, "LISTENER=%s", f->listener) > 0)
			ADD_FIELD(iov, n, lis);
		if (f->rule != NULL && asprintf(&rule, "RULE=%s", f->rule) > 0)
			ADD_FIELD(iov, n, rule);
		if (f->message != NULL &&
		    asprintf(&cmsg, "CLIENT_MESSAGE=%s", f->message) > 0)
			ADD_FIELD(iov, n, cmsg);
		if (f->proxy_address != NULL && asprintf(&paddr,
		    "PROXY_ADDRESS=%s", f->proxy_address) > 0) {
			ADD_FIELD(iov, n, paddr);
			snprintf(pport, sizeof(pport), "PROXY_PORT=%u",
			    f->proxy_port);
			ADD_FIELD(iov, n, pport);
		}
		if (f->tls != NULL)
			n = add_tls(iov, n, f->tls, &tf);
	}
	r = journal_sendv(iov, n);
	if (r == JOURNAL_DROPPED) {
		logger.lost++;
		r = 0;
	} else if (r == 0 && logger.lost > 0)
		journal_note_lost();
	free(addr);
	free(lis);
	free(rule);
	free(cmsg);
	free(paddr);
	return r;
}

static void
emit(int priority, const char *msgid, const struct log_fields *f,
    const char *text, int errnum)
{
	if (logger.journal &&
	    to_journal(priority, msgid, f, text, errnum) >= 0)
		return;
	to_stderr(priority, text);
}

/* Formats a record's text, with ": strerror" when errnum is not 0. */
static void __attribute__((format(printf, 3, 0)))
format_text(char *text, size_t len, const char *fmt, va_list ap, int errnum)
{
	size_t	 n;

	if (vsnprintf(text, len, fmt, ap) < 0)
		text[0] = '\0';
	n = strlen(text);
	if (errnum != 0 && n < len)
		snprintf(text + n, len - n, ": %s", strerror(errnum));
}

/*
 * The stderr back ends: formats the record straight into the buffer, one
 * pass, as this runs for every message a client sends.
 */
static void __attribute__((format(printf, 2, 0)))
to_buffer(int priority, const char *fmt, va_list ap, int errnum)
{
	char	*p;
	size_t	 room = LOG_LINE_MAX, n = 0;
	int	 m;

	if (sizeof(logger.buf) - logger.len < LOG_LINE_MAX + 1)
		log_flush();
	if (sizeof(logger.buf) - logger.len < LOG_LINE_MAX + 1) {
		logger.lost++;	/* the sink is stalled and the buffer full */
		return;
	}
	p = logger.buf + logger.len;
	if (logger.prefix)
		n = (size_t)snprintf(p, room, "<%d>", priority);
	m = vsnprintf(p + n, room - n, fmt, ap);
	if (m < 0)
		return;
	n += (size_t)m;
	if (n > room - 2)
		n = room - 2;	/* cut: the line still ends */
	if (errnum != 0) {
		m = snprintf(p + n, room - n, ": %s", strerror(errnum));
		if (m > 0)
			n += (size_t)m;
		if (n > room - 2)
			n = room - 2;
	}
	p[n++] = '\n';
	logger.len += n;
	if (!logger.buffered)
		log_flush();
}

static void __attribute__((format(printf, 4, 0)))
vlog(int priority, const char *msgid, const struct log_fields *f,
    const char *fmt, va_list ap, int errnum)
{
	char	 text[LOG_LINE_MAX];

	if (!log_enabled(priority))
		return;
	if (!logger.journal) {
		to_buffer(priority, fmt, ap, errnum);
		return;
	}
	format_text(text, sizeof(text), fmt, ap, errnum);
	emit(priority, msgid, f, text, errnum);
}

static void
put(char **p, const char *s, size_t n)
{
	memcpy(*p, s, n);
	*p += n;
}

/* Two digits a step, in place: a message number goes with every message. */
static void
put_u64(char **p, uint64_t v)
{
	static const char pairs[] =
	    "00010203040506070809101112131415161718192021222324"
	    "25262728293031323334353637383940414243444546474849"
	    "50515253545556575859606162636465666768697071727374"
	    "75767778798081828384858687888990919293949596979899";
	static const uint64_t tens[] = {
	    1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL,
	    10000000ULL, 100000000ULL, 1000000000ULL, 10000000000ULL,
	    100000000000ULL, 1000000000000ULL, 10000000000000ULL,
	    100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL,
	    100000000000000000ULL, 1000000000000000000ULL,
	    10000000000000000000ULL };
	static const uint8_t guess[65] = {	/* the digits of 2^(bits - 1) */
	    1, 1, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 6, 6, 6,
	    7, 7, 7, 7, 8, 8, 8, 9, 9, 9, 10, 10, 10, 10, 11, 11, 11, 12,
	    12, 12, 13, 13, 13, 13, 14, 14, 14, 15, 15, 15, 16, 16, 16, 16,
	    17, 17, 17, 18, 18, 18, 19, 19, 19, 19 };
	size_t		 digits;
	char		*e;

	/* from the bit length, one short at most: no loop */
	digits = guess[64 - __builtin_clzll(v | 1)];
	if (digits < sizeof(tens) / sizeof(tens[0]) && v >= tens[digits])
		digits++;
	e = *p + digits;
	*p = e;
	while (v >= 100) {
		e -= 2;
		memcpy(e, pairs + (v % 100) * 2, 2);
		v /= 100;
	}
	if (v >= 10)
		memcpy(e - 2, pairs + v * 2, 2);
	else
		e[-1] = (char)('0' + v);
}

void
log_message(const struct log_fields *f, enum log_kind kind, uint64_t n,
    const char *to, const void *msg, size_t len, size_t max)
{
	static const struct {
		char	 text[8];	/* no NUL: copied whole */
		size_t	 len;
	} kinds[] = {
		[LOG_KIND_MESSAGE] = { "message", 7 },
		[LOG_KIND_DATAGRAM] = { "datagram", 8 },
	};
	static char		 esc[ESCAPE_SIZE(LOG_MESSAGE_MAX)];
	char			*p, *start;
	size_t			 need, lto, lrule;
	size_t			 cut = max < LOG_MESSAGE_MAX ? max :
				    LOG_MESSAGE_MAX;

	if (!log_enabled(LOG_INFO))
		return;
	if (logger.journal) {
		struct log_fields g = *f;

		g.message = escape(esc, msg, len, cut);
		log_client(LOG_INFO, LOG_MSGID_MESSAGE, &g,
		    "%s %.*s%s%.0llu%s%s: \"%s\"%s%s%s", f->peer,
		    (int)kinds[kind].len, kinds[kind].text, n ? " " : "",
		    (unsigned long long)n, to ? " to " : "", to ? to : "",
		    g.message, g.rule ? " (rule " : "", g.rule ? g.rule : "",
		    g.rule ? ")" : "");
		return;
	}
	/* straight into the buffer, no printf: this runs for every message */
	lto = to != NULL ? strlen(to) : 0;
	lrule = f->rule != NULL ? f->rule_len : 0;
	/* the room for this message, not for the longest one allowed */
	need = 8 + f->peer_len + kinds[kind].len + 24 + (to ? lto + 4 : 0) +
	    ESCAPE_SIZE(len < cut ? len : cut) + 4 + (f->rule ? lrule + 8 : 0) +
	    2;
	if (need > sizeof(logger.buf)) {
		logger.lost++;	/* cannot be: the buffer holds the longest */
		return;
	}
	if (sizeof(logger.buf) - logger.len < need)
		log_flush();
	if (sizeof(logger.buf) - logger.len < need) {
		logger.lost++;
		return;
	}
	p = start = logger.buf + logger.len;
	if (logger.prefix)
		put(&p, "<6>", 3);
	put(&p, f->peer, f->peer_len);
	*p++ = ' ';
	/* eight bytes whatever the length: need leaves the room */
	memcpy(p, kinds[kind].text, sizeof(kinds[kind].text));
	p += kinds[kind].len;
	if (n > 0) {
		*p++ = ' ';
		put_u64(&p, n);
	}
	if (to != NULL) {
		put(&p, " to ", 4);
		put(&p, to, lto);
	}
	put(&p, ": \"", 3);
	p += escape_n(p, msg, len, cut);
	*p++ = '"';
	if (f->rule != NULL) {
		put(&p, " (rule ", 7);
		put(&p, f->rule, lrule);
		*p++ = ')';
	}
	*p++ = '\n';
	logger.len += (size_t)(p - start);
	if (!logger.buffered)
		log_flush();
}

void
log_client(int priority, const char *msgid, const struct log_fields *f,
    const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(priority, msgid, f, fmt, ap, 0);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	vlog(LOG_WARNING, NULL, NULL, fmt, ap, saved);
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, NULL, NULL, fmt, ap, 0);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, NULL, NULL, fmt, ap, 0);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_DEBUG, NULL, NULL, fmt, ap, 0);
	va_end(ap);
}

static void __attribute__((noreturn))
fatal_exit(const char *text, int errnum)
{
	emit(LOG_CRIT, NULL, NULL, text, errnum);
	log_flush();
	sd_notifyf(0, "STATUS=%s\nERRNO=%d", text, errnum ? errnum : EINVAL);
	exit(1);
}

void
fatal(const char *fmt, ...)
{
	char	 text[LOG_LINE_MAX];
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	format_text(text, sizeof(text), fmt, ap, saved);
	va_end(ap);
	fatal_exit(text, saved);
}

void
fatalx(const char *fmt, ...)
{
	char	 text[LOG_LINE_MAX];
	va_list	 ap;

	va_start(ap, fmt);
	format_text(text, sizeof(text), fmt, ap, 0);
	va_end(ap);
	fatal_exit(text, 0);
}

/* strnvisx() is the same in both vis flavours; take the NetBSD one. */
#define LIBBSD_NETBSD_VIS
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <vis.h>
#include <sys/stat.h>

#include "log.h"

#define LOG_BUF_SIZE	(64 * 1024)
#define LOG_LINE_MAX	8192

static struct {
	int		 prefix;	/* "<N>" priority prefixes for the journal */
	int		 level;		/* highest priority value that is logged */
	int		 buffered;
	int		 fd;		/* where records go, never blocking */
	int		 sock;		/* fd is a socket: send(MSG_DONTWAIT) */
	unsigned long	 lost;		/* records dropped since the last report */
	size_t		 len;
	char		 buf[LOG_BUF_SIZE];
} logger = { 0, LOG_INFO, 0, STDERR_FILENO, 0, 0, 0, { 0 } };

static int
stderr_is_journal(void)
{
	const char		*e;
	unsigned long long	 dev, ino;
	struct stat		 st;

	if ((e = getenv("JOURNAL_STREAM")) == NULL)
		return 0;
	if (sscanf(e, "%llu:%llu", &dev, &ino) != 2)
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

void
log_init(int debug, int verbose)
{
	logger.prefix = !debug && stderr_is_journal();
	logger.level = verbose > 0 ? LOG_DEBUG : LOG_INFO;
	open_sink();
}

int
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
log_set_buffered(int on)
{
	if (!on)
		log_flush();
	logger.buffered = on;
}

int
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

void
log_flush(void)
{
	char	 note[96];
	size_t	 off = 0;
	ssize_t	 n;
	int	 m;

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
	if (logger.lost > 0 && logger.len == 0 && off > 0) {
		m = snprintf(note, sizeof(note), "%slog: %lu records lost: the "
		    "log output was blocked or failing\n",
		    logger.prefix ? "<4>" : "", logger.lost);
		if (m > 0 && sink_write(note, (size_t)m) == m)
			logger.lost = 0;
	}
}

static void __attribute__((format(printf, 2, 0)))
vlog(int priority, const char *fmt, va_list ap, const char *errstr)
{
	char	 line[LOG_LINE_MAX];
	int	 n, m;

	if (!log_enabled(priority))
		return;
	n = 0;
	if (logger.prefix)
		n = snprintf(line, sizeof(line), "<%d>", priority);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	if (m < 0)
		return;
	n += m;
	if ((size_t)n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	if (errstr != NULL) {
		m = snprintf(line + n, sizeof(line) - (size_t)n, ": %s", errstr);
		if (m > 0)
			n += m;
		if ((size_t)n >= sizeof(line) - 1)
			n = sizeof(line) - 2;
	}
	line[n++] = '\n';
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

void
log_msg(int priority, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(priority, fmt, ap, NULL);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap, strerror(saved));
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap, NULL);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap, NULL);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap, NULL);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, strerror(saved));
	va_end(ap);
	log_flush();
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, NULL);
	va_end(ap);
	log_flush();
	exit(1);
}

char *
log_escape(char *dst, const void *src, size_t len, size_t max)
{
	size_t	 n = len < max ? len : max;
	int	 r;

	r = strnvisx(dst, LOG_ESCAPE_SIZE(max), src, n,
	    VIS_CSTYLE | VIS_OCTAL | VIS_TAB | VIS_NL | VIS_DQ);
	if (r < 0) {
		dst[0] = '\0';
		r = 0;
	}
	if (n < len)
		memcpy(dst + r, "...", 4);
	return dst;
}

/* strnvisx() is the same in both vis flavours; take the NetBSD one. */
#define LIBBSD_NETBSD_VIS
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <vis.h>
#include <sys/stat.h>

#include "log.h"

#define LOG_BUF_SIZE	(64 * 1024)
#define LOG_LINE_MAX	8192

static struct {
	int	 prefix;	/* "<N>" priority prefixes for the journal */
	int	 level;		/* highest priority value that is logged */
	int	 buffered;
	size_t	 len;
	char	 buf[LOG_BUF_SIZE];
} logger = { 0, LOG_INFO, 0, 0, { 0 } };

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

void
log_init(int debug, int verbose)
{
	logger.prefix = !debug && stderr_is_journal();
	logger.level = verbose > 0 ? LOG_DEBUG : LOG_INFO;
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

void
log_flush(void)
{
	size_t	 off = 0;
	ssize_t	 n;

	while (off < logger.len) {
		n = write(STDERR_FILENO, logger.buf + off, logger.len - off);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			break;	/* nowhere to report it; drop the records */
		}
		off += (size_t)n;
	}
	logger.len = 0;
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

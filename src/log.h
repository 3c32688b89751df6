#ifndef ECHOREPLYD_LOG_H
#define ECHOREPLYD_LOG_H

#include <stdarg.h>
#include <stddef.h>

#define LOG_ATTR_PRINTF(a, b)	__attribute__((format(printf, a, b)))

/*
 * Logging goes to stderr: plain lines with -d or outside systemd, lines
 * with a "<N>" priority prefix when stderr is connected to the journal.
 * Records are buffered; log_flush() writes them out (the server calls it
 * once per loop iteration). Before log_set_buffered(1) every record is
 * written at once.
 */
void	log_init(int debug, int verbose);
void	log_set_buffered(int);
void	log_flush(void);
/* Records wait in the buffer because the sink would block. */
int	log_pending(void);
int	log_enabled(int priority);

void	log_warn(const char *, ...) LOG_ATTR_PRINTF(1, 2);
void	log_warnx(const char *, ...) LOG_ATTR_PRINTF(1, 2);
void	log_info(const char *, ...) LOG_ATTR_PRINTF(1, 2);
void	log_debug(const char *, ...) LOG_ATTR_PRINTF(1, 2);
void	fatal(const char *, ...) LOG_ATTR_PRINTF(1, 2) __attribute__((noreturn));
void	fatalx(const char *, ...) LOG_ATTR_PRINTF(1, 2) __attribute__((noreturn));
void	log_msg(int priority, const char *, ...) LOG_ATTR_PRINTF(2, 3);

/*
 * Escapes client bytes for the log with vis(3): at most `max` source
 * bytes are escaped, and "..." is appended when the input was cut.
 * dst must hold LOG_ESCAPE_SIZE(max) bytes. Returns dst.
 */
#define LOG_ESCAPE_SIZE(max)	(4 * (size_t)(max) + 4)
char	*log_escape(char *dst, const void *src, size_t len, size_t max);

#endif

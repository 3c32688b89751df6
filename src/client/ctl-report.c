/* SPDX-License-Identifier: ISC */
#define LIBBSD_NETBSD_VIS
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <vis.h>

#include "ctl-report.h"

#define SHOW_MAX	256		/* bytes of a message shown by -v */
/* how both show what they did not write: one line, no terminal commands */
#define SHOW_VIS	(VIS_CSTYLE | VIS_OCTAL | VIS_TAB | VIS_NL)

static struct {
	bool	 quiet, verbose;
	bool	 prompted;	/* stderr is on the prompt's line */
} r;

static void	vreport(const char *, va_list)
		    __attribute__((format(printf, 1, 0)));

/*
 * One line, whatever the words of the command line put in it: a port of
 * "1\n2" or a file name with an escape sequence is shown escaped (vis(3),
 * as -v shows messages), not as a second line or a terminal's command.
 */
static void
vreport(const char *fmt, va_list ap)
{
	char	 text[1024], shown[4 * sizeof(text) + 1];

	(void)vsnprintf(text, sizeof(text), fmt, ap);
	(void)strvis(shown, text, SHOW_VIS);
	if (r.prompted)
		fputc('\n', stderr);
	fprintf(stderr, "echoreplyctl: %s\n", shown);
}

void
report_init(bool quiet, bool verbose)
{
	r.quiet = quiet;
	r.verbose = verbose;
}

void
report_usage(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vreport(fmt, ap);
	va_end(ap);
	exit(EX_USAGE);
}

void
report_warnx(const char *fmt, ...)
{
	va_list	 ap;

	if (r.quiet)
		return;
	va_start(ap, fmt);
	vreport(fmt, ap);
	va_end(ap);
}

void
report_die(int status, const char *fmt, ...)
{
	va_list	 ap;

	fflush(stdout);
	if (!r.quiet) {
		va_start(ap, fmt);
		vreport(fmt, ap);
		va_end(ap);
	}
	exit(status);
}

void
report_flush(void)
{
	if (fflush(stdout) == EOF)
		report_die(EX_IOERR, "standard output: %s", strerror(errno));
}

void
report_verbose(const char *fmt, ...)
{
	va_list	 ap;

	if (!r.verbose)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void
report_bytes(const char *prefix, const char *data, size_t len, double rtt_ms)
{
	char	 esc[SHOW_MAX * 4 + 1];
	size_t	 n = len < SHOW_MAX ? len : SHOW_MAX;

	if (!r.verbose)
		return;
	if (strnvisx(esc, sizeof(esc), data, n, SHOW_VIS) < 0)
		esc[0] = '\0';
	if (rtt_ms >= 0)
		fprintf(stderr, "%s%s%s (%.2f ms)\n", prefix, esc,
		    n < len ? "..." : "", rtt_ms);
	else
		fprintf(stderr, "%s%s%s\n", prefix, esc, n < len ? "..." : "");
}

void
report_prompt(const char *prompt)
{
	if (r.quiet || r.prompted)
		return;
	fflush(stdout);
	fputs(prompt, stderr);
	r.prompted = true;
}

void
report_prompt_done(bool eof)
{
	if (eof && r.prompted)
		fputc('\n', stderr);	/* after the ^D */
	r.prompted = false;
}

/* SPDX-License-Identifier: ISC */
/*
 * What echoreplyctl tells the user on stderr: "echoreplyctl: ..." errors
 * with sysexits(3) statuses, the -v lines and the interactive prompt.
 */
#ifndef ECHOREPLYD_CTL_REPORT_H
#define ECHOREPLYD_CTL_REPORT_H

#include <stdbool.h>
#include <stddef.h>

/* Takes -q and -v; until then everything is reported, -v lines not. */
void	report_init(bool quiet, bool verbose);

/* A command line error, reported even with -q; exits with EX_USAGE. */
void	report_usage(const char *fmt, ...)
	    __attribute__((noreturn, format(printf, 1, 2)));
/* Prints "echoreplyctl: ..." unless quiet. */
void	report_warnx(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));
/* Flushes stdout, prints "echoreplyctl: ..." unless quiet, and exits. */
void	report_die(int status, const char *fmt, ...)
	    __attribute__((noreturn, format(printf, 2, 3)));

/* Flushes stdout; exits with EX_IOERR when it cannot be written. */
void	report_flush(void);

/* A line on stderr with -v. */
void	report_verbose(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));
/*
 * With -v, prefix and the bytes in C style, cut at 256, and the round
 * trip when rtt_ms is not negative.
 */
void	report_bytes(const char *prefix, const char *data, size_t len,
	    double rtt_ms);

/*
 * Shows the prompt unless quiet or already shown. Until the input
 * arrives, a message starts on a line of its own.
 */
void	report_prompt(const char *prompt);
/* Input arrived; at its end the line the prompt is on is ended too. */
void	report_prompt_done(bool eof);

#endif

/* SPDX-License-Identifier: ISC */
/* A tiny TAP producer for the unit tests: no plan up front, exit 1 on failure. */
#ifndef ECHOREPLYD_TAP_H
#define ECHOREPLYD_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

static void __attribute__((format(printf, 4, 5)))
tap_ok(int pass, const char *file, int line, const char *fmt, ...)
{
	va_list	 ap;

	tap_n++;
	printf("%sok %d - ", pass ? "" : "not ", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!pass) {
		tap_failed++;
		printf("#   failed at %s:%d\n", file, line);
	}
}

/* Compares n bytes against an expected C string, printing both on failure. */
#define ok_bytes(got, gotlen, want, ...) do {				\
	size_t tap_wl = strlen(want);					\
	int tap_p = (size_t)(gotlen) == tap_wl && (tap_wl == 0 ||	\
	    memcmp((got), (want), tap_wl) == 0);			\
	ok(tap_p, __VA_ARGS__);						\
	if (!tap_p)							\
		printf("#   got \"%.*s\"\n#   want \"%s\"\n",		\
		    (int)(gotlen), (const char *)(got), (want));	\
} while (0)

/* Compares two C strings, printing both on failure. */
#define is(got, want, ...) do {						\
	const char *tap_g = (got), *tap_w = (want);			\
	int tap_p = strcmp(tap_g, tap_w) == 0;				\
	ok(tap_p, __VA_ARGS__);						\
	if (!tap_p)							\
		printf("#   got \"%s\"\n#   want \"%s\"\n", tap_g, tap_w); \
} while (0)

/* A string literal with its length, NUL bytes inside included. */
#define LIT(s)	(s), (sizeof(s) - 1)

static int
tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif

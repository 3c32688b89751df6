/* SPDX-License-Identifier: ISC */
#ifndef ECHOREPLYD_GLOB_H
#define ECHOREPLYD_GLOB_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Whether s[0..slen) matches the glob pat[0..plen): '*', '?', '[...]'
 * with ranges and '!' or '^', '\' quotes the next byte. With ignore_case,
 * ASCII letters match either case.
 */
bool	glob_match(const char *pat, size_t plen, const char *s, size_t slen,
	    bool ignore_case);
/* 0 when pat is well formed, else -EINVAL with a message in err. */
int	glob_check(const char *pat, char *err, size_t errlen);

#endif

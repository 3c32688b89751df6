/* SPDX-License-Identifier: ISC */
/* Byte-wise globbing: NULs and invalid UTF-8 are just bytes. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ascii.h"
#include "glob.h"

/*
 * Matches one bracket expression at pat[*pi] == '[' against c. Returns 1
 * or 0 and moves *pi past the ']', or -1 when it is not terminated.
 */
static int
glob_class(const char *pat, size_t plen, size_t *pi, unsigned char c,
    bool ci)
{
	size_t		 j = *pi + 1;
	bool		 neg = false, hit = false, first = true;
	unsigned char	 lo, hi;

	if (j < plen && (pat[j] == '!' || pat[j] == '^')) {
		neg = true;
		j++;
	}
	for (; j < plen; first = false) {
		if (pat[j] == ']' && !first) {
			*pi = j + 1;
			return hit != neg;
		}
		if (pat[j] == '\\' && j + 1 < plen)
			j++;
		lo = (unsigned char)pat[j++];
		hi = lo;
		if (j + 1 < plen && pat[j] == '-' && pat[j + 1] != ']') {
			j++;
			if (pat[j] == '\\' && j + 1 < plen)
				j++;
			hi = (unsigned char)pat[j++];
		}
		if ((c >= lo && c <= hi) ||
		    (ci && ((ascii_lower(c) >= lo && ascii_lower(c) <= hi) ||
		    (ascii_upper(c) >= lo && ascii_upper(c) <= hi))))
			hit = true;
	}
	return -1;
}

bool
glob_match(const char *pat, size_t plen, const char *s, size_t slen, bool ci)
{
	size_t		 pi = 0, si = 0, star_p = 0, star_s = 0, next;
	bool		 star = false;
	unsigned char	 c;
	int		 r;

	while (si < slen) {
		if (pi < plen && pat[pi] == '*') {
			star = true;
			star_p = ++pi;
			star_s = si;
			continue;
		}
		if (pi < plen && pat[pi] == '?') {
			pi++;
			si++;
			continue;
		}
		r = -1;
		if (pi < plen && pat[pi] == '[') {
			next = pi;
			r = glob_class(pat, plen, &next, (unsigned char)s[si],
			    ci);
			if (r == 1) {
				pi = next;
				si++;
				continue;
			}
		}
		/* a literal byte; an unterminated '[' is one too */
		if (pi < plen && r < 0) {
			c = (unsigned char)pat[pi];
			next = pi + 1;
			if (c == '\\' && pi + 1 < plen) {
				c = (unsigned char)pat[pi + 1];
				next = pi + 2;
			}
			if (c == (unsigned char)s[si] || (ci &&
			    ascii_lower(c) == ascii_lower((unsigned char)s[si]))) {
				pi = next;
				si++;
				continue;
			}
		}
		if (!star)
			return false;
		pi = star_p;
		si = ++star_s;
	}
	while (pi < plen && pat[pi] == '*')
		pi++;
	return pi == plen;
}

int
glob_check(const char *p, char *err, size_t errlen)
{
	size_t	 plen = strlen(p), i, next;

	for (i = 0; i < plen; i++) {
		if (p[i] == '\\') {
			if (++i == plen) {
				snprintf(err, errlen, "glob ends with a lone "
				    "'\\'");
				return -EINVAL;
			}
		} else if (p[i] == '[') {
			next = i;
			if (glob_class(p, plen, &next, 0, false) < 0) {
				snprintf(err, errlen, "glob has '[' without "
				    "a closing ']'");
				return -EINVAL;
			}
			i = next - 1;
		}
	}
	return 0;
}

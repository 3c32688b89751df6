/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "ascii.h"
#include "http.h"

/*
 * The head is read a line at a time, each line checked from its first
 * byte to its last, so that an error is found where it first shows: in a
 * line still cut short as in a whole one. What a line lacks at the end of
 * the bytes given is only more to wait for.
 */

static bool
is_alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z');
}

/* RFC 9110 5.6.2 */
static bool
is_tchar(unsigned char c)
{
	return is_alnum(c) ||
	    (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* RFC 3986 3.2: host and port; a userinfo is an error (RFC 9110 4.2.4) */
static bool
is_authority(unsigned char c)
{
	return is_alnum(c) ||
	    (c != '\0' && strchr("-._~!$&'()*+,;=%:[]", c) != NULL);
}

/* of a path or query: visible, and no fragment (not sent in a target) */
static bool
is_target(unsigned char c)
{
	return c >= 0x21 && c <= 0x7e && c != '#';
}

/* of a field value (RFC 9110 5.5): VCHAR, obs-text, SP, HTAB */
static bool
is_field(unsigned char c)
{
	return (c >= 0x20 && c != 0x7f) || c == '\t';
}

/*
 * The request-target at the start of s[0..n), origin-form or http
 * absolute-form: its length up to the SP after it (n when it may go on),
 * its path in req->path.
 */
static ssize_t
target(const unsigned char *s, size_t n, struct http_request *req)
{
	static const unsigned char	 scheme[] = "http://";
	size_t				 i = 0, host, plen = 0;
	bool				 query = false;

	if (n > 0 && s[0] != '/') {
		for (; i < sizeof(scheme) - 1; i++) {
			if (i == n)
				return (ssize_t)n;
			if (ascii_lower(s[i]) != scheme[i])
				return -EBADMSG;
		}
		for (host = i; i < n && is_authority(s[i]); i++)
			continue;
		if (i == n)
			return (ssize_t)n;
		/* an http URI has a host (RFC 9110 4.2.1) */
		if (i == host || (s[i] != '/' && s[i] != '?' && s[i] != ' '))
			return -EBADMSG;
	}
	for (; i < n && s[i] != ' '; i++) {
		if (!is_target(s[i]))
			return -EBADMSG;
		if (s[i] == '?')
			query = true;
		if (query)
			continue;
		if (plen == HTTP_PATH_MAX - 1)
			return -ENAMETOOLONG;
		req->path[plen++] = (char)s[i];
	}
	/* "http://host": the path is "/" (RFC 9110 4.2.3) */
	if (plen == 0)
		req->path[plen++] = '/';
	req->path[plen] = '\0';
	return (ssize_t)i;
}

/* "HTTP/1.0" or "HTTP/1.1"; any other DIGIT "." DIGIT is unsupported */
static int
version(const unsigned char *s, size_t n, bool whole,
    struct http_request *req)
{
	static const unsigned char	 form[] = "HTTP/0.0";
	size_t				 i;

	for (i = 0; i < n; i++) {
		if (i == sizeof(form) - 1)
			return -EBADMSG;
		if (form[i] == '0' ? s[i] < '0' || s[i] > '9' : s[i] != form[i])
			return -EBADMSG;
	}
	if (!whole)
		return 0;
	if (n != sizeof(form) - 1)
		return -EBADMSG;
	if (s[5] != '1' || s[7] > '1')
		return -EPROTONOSUPPORT;
	req->minor = s[7] - '0';
	return 0;
}

/* method SP request-target SP HTTP-version, its line end cut off */
static int
request_line(const unsigned char *s, size_t n, bool whole,
    struct http_request *req)
{
	size_t	 i;
	ssize_t	 t;

	for (i = 0; i < n && is_tchar(s[i]); i++)
		continue;
	if (i == n)
		return whole ? -EBADMSG : 0;
	if (i == 0 || s[i] != ' ')
		return -EBADMSG;
	if (i == 3 && memcmp(s, "GET", 3) == 0)
		req->method = HTTP_GET;
	else if (i == 4 && memcmp(s, "HEAD", 4) == 0)
		req->method = HTTP_HEAD;
	else
		req->method = HTTP_OTHER;
	i++;
	if ((t = target(s + i, n - i, req)) < 0)
		return (int)t;
	i += (size_t)t;
	if (i == n)
		return whole ? -EBADMSG : 0;
	return version(s + i + 1, n - i - 1, whole, req);
}

/* field-name ":" field-value, its line end cut off */
static int
field_line(const unsigned char *s, size_t n, bool whole)
{
	size_t	 i;

	/*
	 * A line starting with SP or HTAB, obs-fold or whitespace before the
	 * first field (RFC 9112 2.2, 5.2), has no name: rejected.
	 */
	for (i = 0; i < n && is_tchar(s[i]); i++)
		continue;
	if (i == n)
		return whole ? -EBADMSG : 0;
	if (i == 0 || s[i] != ':')
		return -EBADMSG;
	for (i++; i < n; i++)
		if (!is_field(s[i]))
			return -EBADMSG;
	return 0;
}

ssize_t
http_parse(const char *buf, size_t len, struct http_request *req)
{
	const unsigned char	*p = (const unsigned char *)buf, *lf;
	size_t			 lim, off = 0, n;
	bool			 started = false, whole;
	int			 r;

	memset(req, 0, sizeof(*req));
	if (len == 0)
		return 0;
	lim = len < HTTP_HEAD_MAX ? len : HTTP_HEAD_MAX;
	for (;;) {
		lf = memchr(p + off, '\n', lim - off);
		whole = lf != NULL;
		n = whole ? (size_t)(lf - p) - off : lim - off;
		/* the CR of a CR LF, or of one to come; any other is bad */
		if (n > 0 && p[off + n - 1] == '\r')
			n--;
		if (whole && n == 0) {
			if (started)
				return (ssize_t)(lf - p) + 1;
			/* before the request line: ignored (RFC 9112 2.2) */
			off = (size_t)(lf - p) + 1;
			continue;
		}
		if (!started)
			r = request_line(p + off, n, whole, req);
		else
			r = field_line(p + off, n, whole);
		if (r < 0)
			return r;
		if (!whole)
			return len >= HTTP_HEAD_MAX ? -EMSGSIZE : 0;
		started = true;
		off = (size_t)(lf - p) + 1;
	}
}

/* SPDX-License-Identifier: ISC */
/*
 * The little of HTTP/1.x the metrics listener needs: the head of one
 * request, parsed from the bytes received so far, never past it.
 */
#ifndef ECHOREPLYD_HTTP_H
#define ECHOREPLYD_HTTP_H

#include <stddef.h>
#include <sys/types.h>

#define HTTP_HEAD_MAX	8192	/* bytes of a request's head, at most */
#define HTTP_PATH_MAX	1024	/* of its target */

enum http_method {
	HTTP_GET,
	HTTP_HEAD,
	HTTP_OTHER,		/* any other token: answered 405 */
};

struct http_request {
	enum http_method method;
	int		 minor;			/* HTTP/1.minor: 0 or 1 */
	char		 path[HTTP_PATH_MAX];	/* the target, without "?..." */
};

/*
 * Parses the request head in buf[0..len): the request line (origin-form,
 * or "http://host/..." whose path is taken; "?..." cut off), then header
 * lines up to the empty line (each line ends with CRLF or a bare LF;
 * empty lines before the request line are skipped), whose names and
 * values are checked but not kept. Returns the length of the head when
 * it is whole (up to the empty line's LF, *req filled), 0 when more bytes
 * are needed, -EBADMSG when it is malformed (a 400), -EMSGSIZE when the
 * head is longer than HTTP_HEAD_MAX (431), -ENAMETOOLONG when the path is
 * longer than HTTP_PATH_MAX - 1 (414), -EPROTONOSUPPORT for an HTTP/x.y
 * other than 1.0 and 1.1 (505). An error is returned as soon as the bytes
 * given show it, and more bytes never change it; no byte past the head,
 * nor past HTTP_HEAD_MAX, is read.
 */
ssize_t	http_parse(const char *buf, size_t len, struct http_request *);

#endif

/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for the head of an HTTP/1.x request: the input is what
 * a client sent. Every parse is of a copy of exactly the bytes given, so
 * that a read past them is seen. Checks that a head found lies inside the
 * input and HTTP_HEAD_MAX, holds no NUL nor bare CR and ends with its
 * empty line; that what it says is what its request line says (method,
 * version, the path of an origin-form or absolute-form target), the path
 * NUL-terminated, starting with '/', of visible ASCII without '?' or '#';
 * that the head alone parses the same (no byte past it is needed), and
 * the same with its CR LFs made LFs; that its proper prefixes wait (all
 * of a head of up to 256 bytes, 64 of a longer one). That an error shows
 * at one byte and stays, however many follow (every shorter prefix
 * waits, every longer one has the same error), and
 * that -EMSGSIZE shows at HTTP_HEAD_MAX bytes exactly; that waiting is
 * only for fewer than HTTP_HEAD_MAX bytes with no NUL nor bare CR.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ascii.h"
#include "http.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static ssize_t
parse(const uint8_t *data, size_t n, struct http_request *req)
{
	uint8_t	*copy;
	ssize_t	 r;

	if (n == 0)
		return http_parse("", 0, req);
	if ((copy = malloc(n)) == NULL)
		abort();
	memcpy(copy, data, n);
	r = http_parse((const char *)copy, n, req);
	free(copy);
	return r;
}

static bool
same(const struct http_request *a, const struct http_request *b)
{
	return a->method == b->method && a->minor == b->minor &&
	    strcmp(a->path, b->path) == 0;
}

/* Whether every CR of data[0..n) but a last one is followed by an LF. */
static bool
no_bare_cr(const uint8_t *data, size_t n)
{
	size_t	 i;

	for (i = 0; i + 1 < n; i++)
		if (data[i] == '\r' && data[i + 1] != '\n')
			return false;
	return true;
}

/* What the request line of the head h[0..n) says is in req. */
static void
check_request(const uint8_t *h, size_t n, const struct http_request *req)
{
	const uint8_t	*t, *a, *e;
	size_t		 i, w, pl;

	if (memchr(req->path, '\0', sizeof(req->path)) == NULL)
		abort();
	pl = strlen(req->path);
	if (pl == 0 || req->path[0] != '/')
		abort();
	for (i = 0; i < pl; i++)
		if (req->path[i] < 0x21 || req->path[i] > 0x7e ||
		    req->path[i] == '?' || req->path[i] == '#')
			abort();
	if (req->minor != 0 && req->minor != 1)
		abort();
	/* after the empty lines, the method's word */
	for (i = 0; i < n && (h[i] == '\r' || h[i] == '\n'); i++)
		continue;
	if ((e = memchr(h + i, '\n', n - i)) == NULL)
		abort();
	if ((t = memchr(h + i, ' ', (size_t)(e - h) - i)) == NULL)
		abort();
	w = (size_t)(t - h) - i;
	if ((req->method == HTTP_GET) !=
	    (w == 3 && memcmp(h + i, "GET", 3) == 0) ||
	    (req->method == HTTP_HEAD) !=
	    (w == 4 && memcmp(h + i, "HEAD", 4) == 0) ||
	    (req->method != HTTP_GET && req->method != HTTP_HEAD &&
	    req->method != HTTP_OTHER))
		abort();
	/* the version ends the line */
	if (e[-1] == '\r')
		e--;
	if (e - t < 10 || memcmp(e - 9, " HTTP/1.", 8) != 0 ||
	    e[-1] != '0' + req->minor)
		abort();
	/* the path is the target's, or "/" for an absolute-form's without */
	t++;
	if (*t == '/')
		a = t;
	else {
		for (i = 0; i < 7; i++)
			if (ascii_lower(t[i]) != (unsigned char)"http://"[i])
				abort();
		for (a = t + 7; a < e && *a != '/' && *a != '?' && *a != ' ';
		    a++)
			continue;
		if (a == e)
			abort();
		if (*a != '/') {
			if (strcmp(req->path, "/") != 0)
				abort();
			return;
		}
	}
	if (e - a < (ptrdiff_t)pl || memcmp(a, req->path, pl) != 0 ||
	    (a[pl] != ' ' && a[pl] != '?'))
		abort();
}

/* A head: where it is, what it says, and that it needs all of itself. */
static void
check_head(const uint8_t *data, size_t size, size_t len,
    const struct http_request *req)
{
	struct http_request	 again;
	uint8_t			*lf;
	size_t			 i, j, step;

	if (len > size || len > HTTP_HEAD_MAX || len < 14 ||
	    data[len - 1] != '\n' || (data[len - 2] != '\n' &&
	    (data[len - 2] != '\r' || data[len - 3] != '\n')) ||
	    memchr(data, '\0', len) != NULL || !no_bare_cr(data, len))
		abort();
	check_request(data, len, req);
	if (parse(data, len, &again) != (ssize_t)len || !same(req, &again))
		abort();
	step = len <= 256 ? 1 : len / 64;
	for (i = 0; i < len; i += step)
		if (parse(data, i, &again) != 0)
			abort();
	if (parse(data, len - 1, &again) != 0)
		abort();
	/* LF alone is a line end as CR LF is */
	if ((lf = malloc(len)) == NULL)
		abort();
	for (i = j = 0; i < len; i++)
		if (data[i] != '\r')
			lf[j++] = data[i];
	if (parse(lf, j, &again) != (ssize_t)j || !same(req, &again))
		abort();
	free(lf);
}

/* An error: the one byte that shows it, and it stays. */
static void
check_error(const uint8_t *data, size_t size, ssize_t err)
{
	struct http_request	 req;
	size_t			 lo, hi, mid;
	ssize_t			 r;

	if (err == -EMSGSIZE) {
		if (size < HTTP_HEAD_MAX ||
		    parse(data, HTTP_HEAD_MAX - 1, &req) != 0 ||
		    parse(data, HTTP_HEAD_MAX, &req) != err ||
		    memchr(data, '\0', HTTP_HEAD_MAX) != NULL ||
		    !no_bare_cr(data, HTTP_HEAD_MAX))
			abort();
		return;
	}
	if (err != -EBADMSG && err != -ENAMETOOLONG &&
	    err != -EPROTONOSUPPORT)
		abort();
	/* seen within the limit: the shortest prefix that has it */
	lo = 0;
	hi = size < HTTP_HEAD_MAX ? size : HTTP_HEAD_MAX;
	if (parse(data, hi, &req) != err)
		abort();
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if ((r = parse(data, mid, &req)) == 0)
			lo = mid;
		else if (r == err)
			hi = mid;
		else
			abort();
	}
	/* what waits has no NUL, no bare CR: those are seen at once */
	if (memchr(data, '\0', lo) != NULL || !no_bare_cr(data, lo))
		abort();
	if (err == -ENAMETOOLONG && hi < HTTP_PATH_MAX + 2)
		abort();
	if (err == -EPROTONOSUPPORT && data[hi - 1] != '\n')
		abort();
	if (parse(data, hi + (size - hi) / 2, &req) != err ||
	    (size > hi && parse(data, size - 1, &req) != err))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_request	 req;
	ssize_t			 r;

	r = http_parse((const char *)data, size, &req);
	if (r > 0)
		check_head(data, size, (size_t)r, &req);
	else if (r == 0) {
		if (size >= HTTP_HEAD_MAX || memchr(data, '\0', size) != NULL ||
		    !no_bare_cr(data, size) ||
		    (size > 0 && parse(data, size - 1, &req) != 0))
			abort();
	} else
		check_error(data, size, r);
	return 0;
}

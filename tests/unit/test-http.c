/* SPDX-License-Identifier: ISC */
/*
 * The head of an HTTP/1.x request (src/lib/http.c), against RFC 9112:
 * requests as Prometheus and curl send them, GET, HEAD and other methods,
 * HTTP/1.0 and 1.1, bare LF line ends, the query cut off, absolute-form,
 * odd but valid fields, empty lines before the request line; every error
 * class, each seen at the byte that shows it and kept however many bytes
 * follow; every prefix of a head waiting, no byte after it read; the
 * HTTP_PATH_MAX and HTTP_HEAD_MAX limits at their exact boundaries.
 * Every parse is of a copy of exactly the bytes given, so that ASan
 * reports a read past them.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "tap.h"

#define PROMETHEUS							\
	"GET /metrics HTTP/1.1\r\n"					\
	"Host: localhost:9105\r\n"					\
	"User-Agent: Prometheus/2.45.0\r\n"				\
	"Accept: application/openmetrics-text;version=1.0.0,"		\
	"text/plain;version=0.0.4;q=0.5,*/*;q=0.1\r\n"			\
	"Accept-Encoding: gzip\r\n"					\
	"X-Prometheus-Scrape-Timeout-Seconds: 10\r\n"			\
	"\r\n"

#define CURL								\
	"GET /metrics HTTP/1.1\r\n"					\
	"Host: localhost:9105\r\n"					\
	"User-Agent: curl/7.88.1\r\n"					\
	"Accept: */*\r\n"						\
	"\r\n"

/* Parses a copy of s[0..n) that is exactly n bytes long. */
static ssize_t
parse(const char *s, size_t n, struct http_request *req)
{
	char	*copy;
	ssize_t	 r;

	if (n == 0)
		return http_parse("", 0, req);
	if ((copy = malloc(n)) == NULL)
		abort();
	memcpy(copy, s, n);
	r = http_parse(copy, n, req);
	free(copy);
	return r;
}

/* The length of the shortest prefix of s[0..n) not waiting, or n + 1. */
static size_t
shortest(const char *s, size_t n)
{
	struct http_request	 req;
	size_t			 i;

	for (i = 0; i <= n; i++)
		if (parse(s, i, &req) != 0)
			return i;
	return n + 1;
}

/* Whether every prefix of s[0..n) from..n bytes long returns want. */
static bool
steady(const char *s, size_t n, size_t from, ssize_t want)
{
	struct http_request	 req;
	ssize_t			 r;
	size_t			 i;

	for (i = from; i <= n; i++)
		if ((r = parse(s, i, &req)) != want) {
			printf("#   %zu bytes: %zd, not %zd\n", i, r, want);
			return false;
		}
	return true;
}

struct good {
	const char		*head;
	size_t			 len;
	enum http_method	 method;
	int			 minor;
	const char		*path;
	const char		*what;
};

#define GOOD(h, m, v, p, w)	{ (h), sizeof(h) - 1, (m), (v), (p), (w) }

static const struct good	 goods[] = {
	GOOD(PROMETHEUS, HTTP_GET, 1, "/metrics",
	    "a Prometheus scrape"),
	GOOD(CURL, HTTP_GET, 1, "/metrics", "curl"),
	GOOD("GET / HTTP/1.1\r\n\r\n", HTTP_GET, 1, "/", "no field at all"),
	GOOD("GET / HTTP/1.1\n\n", HTTP_GET, 1, "/", "the least, LF only"),
	GOOD("HEAD /metrics HTTP/1.0\r\n\r\n", HTTP_HEAD, 0, "/metrics",
	    "HEAD, HTTP/1.0"),
	GOOD("POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
	    HTTP_OTHER, 1, "/metrics", "POST is another method"),
	GOOD("get /metrics HTTP/1.1\r\n\r\n", HTTP_OTHER, 1, "/metrics",
	    "methods are case-sensitive: get is not GET"),
	GOOD("GETS / HTTP/1.1\r\n\r\n", HTTP_OTHER, 1, "/", "GETS"),
	GOOD("HEA / HTTP/1.0\r\n\r\n", HTTP_OTHER, 0, "/", "HEA"),
	GOOD("!#$%&'*+-.^_`|~09AZaz / HTTP/1.1\r\n\r\n", HTTP_OTHER, 1, "/",
	    "a method of every kind of tchar"),
	GOOD("GET /metrics HTTP/1.0\nHost: a\nAccept: */*\n\n", HTTP_GET, 0,
	    "/metrics", "HTTP/1.0 with LF only"),
	GOOD("GET /metrics HTTP/1.1\r\nHost: a\n\r\n", HTTP_GET, 1,
	    "/metrics", "CRLF and LF mixed"),
	GOOD("GET /x HTTP/1.1\nHost: a\r\n\n", HTTP_GET, 1, "/x",
	    "LF and CRLF mixed, an LF empty line"),
	GOOD("GET /metrics?name[]=up&x=%20 HTTP/1.1\r\n\r\n", HTTP_GET, 1,
	    "/metrics", "the query cut off"),
	GOOD("GET /metrics? HTTP/1.1\r\n\r\n", HTTP_GET, 1, "/metrics",
	    "an empty query cut off"),
	GOOD("GET /?x HTTP/1.1\r\n\r\n", HTTP_GET, 1, "/", "/?x is /"),
	GOOD("GET /a?b?c/d/?e HTTP/1.1\r\n\r\n", HTTP_GET, 1, "/a",
	    "only the first ? starts the query"),
	GOOD("GET /a/../b;c=d/%7e/~!$&'()*+,=:@ HTTP/1.1\r\n\r\n", HTTP_GET,
	    1, "/a/../b;c=d/%7e/~!$&'()*+,=:@",
	    "a path of odd characters, kept as sent"),
	GOOD("GET //x\"<>\\^`{|} HTTP/1.1\r\n\r\n", HTTP_GET, 1,
	    "//x\"<>\\^`{|}", "a path of any visible ASCII but #"),
	GOOD("GET http://localhost:9105/metrics?x=1 HTTP/1.1\r\n"
	    "Host: localhost:9105\r\n\r\n", HTTP_GET, 1, "/metrics",
	    "absolute-form: its path"),
	GOOD("GET HTTP://LOCALHOST HTTP/1.1\r\n\r\n", HTTP_GET, 1, "/",
	    "absolute-form: the scheme in capitals, no path is /"),
	GOOD("GET hTtP://h?x HTTP/1.1\r\n\r\n", HTTP_GET, 1, "/",
	    "absolute-form: a query and no path"),
	GOOD("HEAD http://[::1]:9105/metrics HTTP/1.0\r\n\r\n", HTTP_HEAD, 0,
	    "/metrics", "absolute-form: an IPv6 literal"),
	GOOD("GET http://a%2eb.example/x/y HTTP/1.1\r\n\r\n", HTTP_GET, 1,
	    "/x/y", "absolute-form: a percent-encoded host"),
	GOOD("GET / HTTP/1.1\r\n"
	    "X-Empty:\r\n"
	    "X-No-Space:v\r\n"
	    "X-Tabs:\t v \t\r\n"
	    "X-Obs-Text: caf\xc3\xa9 \x80\xff\r\n"
	    "X-Colons: a:b::c:\r\n"
	    "!#$%&'*+-.^_`|~: x\r\n"
	    "X-Quoted: \"a\\\"b\" (c) <>{}[]#?\r\n"
	    "\r\n", HTTP_GET, 1, "/", "fields with odd but valid values"),
	GOOD("\r\n\nGET /metrics HTTP/1.1\r\n\r\n", HTTP_GET, 1, "/metrics",
	    "empty lines before the request line skipped, counted"),
	GOOD("\n\n\n\nHEAD / HTTP/1.0\n\n", HTTP_HEAD, 0, "/",
	    "four LF before the request line"),
};

/* after a head: a NUL, a bare CR, a second request none of it may see */
static const char	 trailer[] = "\0\r\x01 GET /other HTTP/9.9\r\n\r\n";

static void
test_good(void)
{
	struct http_request	 req;
	const struct good	*g;
	char			 more[1024];
	size_t			 i;
	ssize_t			 r;

	for (i = 0; i < sizeof(goods) / sizeof(goods[0]); i++) {
		g = &goods[i];
		r = parse(g->head, g->len, &req);
		ok(r == (ssize_t)g->len && req.method == g->method &&
		    req.minor == g->minor && strcmp(req.path, g->path) == 0,
		    "%s (%zd, method %d, 1.%d)", g->what, r, req.method,
		    req.minor);
		if (r > 0 && strcmp(req.path, g->path) != 0)
			printf("#   path \"%s\", not \"%s\"\n", req.path,
			    g->path);
		ok(shortest(g->head, g->len) == g->len,
		    "%s: every proper prefix waits", g->what);
		memcpy(more, g->head, g->len);
		memcpy(more + g->len, trailer, sizeof(trailer) - 1);
		r = parse(more, g->len + sizeof(trailer) - 1, &req);
		ok(r == (ssize_t)g->len && req.method == g->method &&
		    req.minor == g->minor && strcmp(req.path, g->path) == 0,
		    "%s: the bytes after it change nothing (%zd)", g->what, r);
	}
	ok(http_parse(NULL, 0, &req) == 0, "nothing yet waits");
	ok(parse(LIT("\r\n\r\n\n"), &req) == 0,
	    "only empty lines wait for the request line");
}

struct bad {
	const char	*ok;		/* the longest prefix that waits */
	size_t		 oklen;
	const char	*bad;		/* its first byte shows the error */
	size_t		 badlen;
	int		 err;
	const char	*what;
};

#define BAD(o, b, e, w)	{ (o), sizeof(o) - 1, (b), sizeof(b) - 1, (e), (w) }
#define RL	"GET / HTTP/1.1\r\n"

static const struct bad	 bads[] = {
	/* the method */
	BAD("", " / HTTP/1.1\r\n\r\n", EBADMSG, "no method, a leading SP"),
	BAD("", "\t", EBADMSG, "a leading HTAB"),
	BAD("GE", "(T / HTTP/1.1\r\n\r\n", EBADMSG, "a method with ("),
	BAD("GET", "\t/ HTTP/1.1\r\n\r\n", EBADMSG, "HTAB after the method"),
	BAD("GET\r", "\n\r\n", EBADMSG, "a method alone"),
	BAD("G", "\xc3\x89T / HTTP/1.1\r\n\r\n", EBADMSG,
	    "obs-text in the method"),
	/* the target */
	BAD("GET ", " / HTTP/1.1\r\n\r\n", EBADMSG, "two SP before the target"),
	BAD("GET \r", "\n\r\n", EBADMSG, "no target"),
	BAD("GET /\r", "\n\r\n", EBADMSG, "no version (HTTP/0.9)"),
	BAD("GET /", "\t HTTP/1.1\r\n\r\n", EBADMSG, "HTAB in the target"),
	BAD("GET /metrics ", " HTTP/1.1\r\n\r\n", EBADMSG,
	    "two SP after the target"),
	BAD("OPTIONS ", "* HTTP/1.1\r\n\r\n", EBADMSG, "asterisk-form"),
	BAD("CONNECT ", "localhost:9105 HTTP/1.1\r\n\r\n", EBADMSG,
	    "authority-form"),
	BAD("GET ", "metrics HTTP/1.1\r\n\r\n", EBADMSG, "a relative target"),
	BAD("GET http", "s://h/ HTTP/1.1\r\n\r\n", EBADMSG,
	    "absolute-form https"),
	BAD("GET ", "ftp://h/ HTTP/1.1\r\n\r\n", EBADMSG, "absolute-form ftp"),
	BAD("GET http:/", "h/ HTTP/1.1\r\n\r\n", EBADMSG, "http:/ then a host"),
	BAD("GET http://", "/metrics HTTP/1.1\r\n\r\n", EBADMSG,
	    "absolute-form without a host"),
	BAD("GET http://", "?x HTTP/1.1\r\n\r\n", EBADMSG,
	    "absolute-form without a host, a query"),
	BAD("GET http://", " HTTP/1.1\r\n\r\n", EBADMSG,
	    "absolute-form, nothing after http://"),
	BAD("GET http://user", "@host/ HTTP/1.1\r\n\r\n", EBADMSG,
	    "absolute-form with a userinfo"),
	BAD("GET http://ho", "<st/ HTTP/1.1\r\n\r\n", EBADMSG,
	    "absolute-form, < in the host"),
	BAD("GET http://host", "#x HTTP/1.1\r\n\r\n", EBADMSG,
	    "absolute-form, a fragment after the host"),
	BAD("GET /metrics", "#top HTTP/1.1\r\n\r\n", EBADMSG, "a fragment"),
	BAD("GET /metrics?a", "#top HTTP/1.1\r\n\r\n", EBADMSG,
	    "a fragment after the query"),
	BAD("GET /a", "\x7f HTTP/1.1\r\n\r\n", EBADMSG, "DEL in the path"),
	BAD("GET /a", "\x80 HTTP/1.1\r\n\r\n", EBADMSG, "0x80 in the path"),
	BAD("GET /a", "\x01 HTTP/1.1\r\n\r\n", EBADMSG, "0x01 in the path"),
	BAD("GET /a?", "\xff HTTP/1.1\r\n\r\n", EBADMSG, "0xff in the query"),
	BAD("GET /a\r", "b HTTP/1.1\r\n\r\n", EBADMSG, "a CR in the path"),
	/* the version */
	BAD("GET / ", "http/1.1\r\n\r\n", EBADMSG, "http/1.1 in lower case"),
	BAD("GET / HTTP", "-1.1\r\n\r\n", EBADMSG, "HTTP-1.1"),
	BAD("GET / HTTP/", "x.1\r\n\r\n", EBADMSG, "HTTP/x.1"),
	BAD("GET / HTTP/1", "1.1\r\n\r\n", EBADMSG, "HTTP/11.1"),
	BAD("GET / HTTP/1.", "x\r\n\r\n", EBADMSG, "HTTP/1.x"),
	BAD("GET / HTTP/1.1", "0\r\n\r\n", EBADMSG, "HTTP/1.10"),
	BAD("GET / HTTP/1.1", " \r\n\r\n", EBADMSG, "a SP after the version"),
	BAD("GET / HTTP/1.1", "x\r\n\r\n", EBADMSG, "HTTP/1.1x"),
	BAD("GET / HTTP/1.\r", "\n\r\n", EBADMSG, "HTTP/1."),
	BAD("GET / HTTP/1\r", "\n\r\n", EBADMSG, "HTTP/1"),
	BAD("GET / HTTP/2.0\r", "\n\r\n", EPROTONOSUPPORT, "HTTP/2.0"),
	BAD("GET / HTTP/1.2", "\n\n", EPROTONOSUPPORT, "HTTP/1.2, LF"),
	BAD("GET / HTTP/0.9\r", "\n\r\n", EPROTONOSUPPORT, "HTTP/0.9"),
	BAD("HEAD /metrics HTTP/9.9\r", "\n", EPROTONOSUPPORT, "HTTP/9.9"),
	BAD("GET / HTTP/2.0\r", "x\n\r\n", EBADMSG,
	    "HTTP/2.0 then a bare CR: the CR first"),
	/* line ends */
	BAD("GET / HTTP/1.1\r", "X", EBADMSG, "a bare CR ending the line"),
	BAD("GET / HTTP/1.1\r", "\r\n\r\n", EBADMSG, "CR CR LF"),
	BAD(RL "X-A: a\r", "b\r\n\r\n", EBADMSG, "a bare CR in a value"),
	BAD(RL "\r", "X", EBADMSG, "a bare CR for the empty line"),
	BAD(RL "\r", "\r\n", EBADMSG, "CR CR LF for the empty line"),
	BAD("GET / HTTP/1.1\n\r", " ", EBADMSG,
	    "a bare CR for the empty line after LF"),
	BAD("\r\n\r", "GET / HTTP/1.1\r\n\r\n", EBADMSG,
	    "a bare CR before the request line"),
	/* fields */
	BAD(RL "Host", " : a\r\n\r\n", EBADMSG, "a SP before the colon"),
	BAD(RL "Host", "\t: a\r\n\r\n", EBADMSG, "a HTAB before the colon"),
	BAD(RL "Host\r", "\n\r\n", EBADMSG, "a name without a colon"),
	BAD(RL "Host: a\r\nX-A\r", "\n\r\n", EBADMSG,
	    "a second field without a colon"),
	BAD(RL, ": a\r\n\r\n", EBADMSG, "an empty name"),
	BAD(RL "X-", "(: a\r\n\r\n", EBADMSG, "a ( in the name"),
	BAD(RL "X-", "@: a\r\n\r\n", EBADMSG, "a @ in the name"),
	BAD(RL "X-", "\xe9: a\r\n\r\n", EBADMSG, "obs-text in the name"),
	BAD(RL "X-A: a\r\n", " b\r\n\r\n", EBADMSG, "obs-fold with SP"),
	BAD(RL "X-A: a\n", "\tb\n\n", EBADMSG, "obs-fold with HTAB"),
	BAD(RL, " Host: a\r\n\r\n", EBADMSG,
	    "whitespace before the first field"),
	BAD(RL "X-A: a", "\x7f\r\n\r\n", EBADMSG, "DEL in a value"),
	BAD(RL "X-A: a", "\x01\r\n\r\n", EBADMSG, "0x01 in a value"),
	BAD(RL "X-A: a", "\x1b[0m\r\n\r\n", EBADMSG, "ESC in a value"),
	/* NUL anywhere */
	BAD("", "\0GET / HTTP/1.1\r\n\r\n", EBADMSG, "NUL first"),
	BAD("\r\n", "\0GET / HTTP/1.1\r\n\r\n", EBADMSG,
	    "NUL in the empty lines before"),
	BAD("G", "\0ET / HTTP/1.1\r\n\r\n", EBADMSG, "NUL in the method"),
	BAD("GET /a", "\0 HTTP/1.1\r\n\r\n", EBADMSG, "NUL in the path"),
	BAD("GET /a?", "\0 HTTP/1.1\r\n\r\n", EBADMSG, "NUL in the query"),
	BAD("GET http://h", "\0/ HTTP/1.1\r\n\r\n", EBADMSG,
	    "NUL in the host"),
	BAD("GET / HTTP/1.", "\0\r\n\r\n", EBADMSG, "NUL in the version"),
	BAD(RL "A", "\0: b\r\n\r\n", EBADMSG, "NUL in a name"),
	BAD(RL "A: b", "\0\r\n\r\n", EBADMSG, "NUL in a value"),
	BAD(RL, "\0\r\n\r\n", EBADMSG, "NUL as a field line"),
	BAD(RL "\r", "\0", EBADMSG, "NUL after the empty line's CR"),
};

static void
test_bad(void)
{
	const struct bad	*b;
	char			 s[256];
	size_t			 i, n, at;

	for (i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		b = &bads[i];
		memcpy(s, b->ok, b->oklen);
		memcpy(s + b->oklen, b->bad, b->badlen);
		n = b->oklen + b->badlen;
		at = shortest(s, n);
		ok(at == b->oklen + 1 && steady(s, n, at, -b->err),
		    "%s: %s from byte %zu on", b->what, strerror(b->err),
		    b->oklen + 1);
		if (at != b->oklen + 1)
			printf("#   first seen at %zu\n", at);
	}
}

/* "GET " + target + " HTTP/1.1\r\n\r\n" in out; its length. */
static size_t
with_target(char *out, const char *before, size_t pathlen, const char *after)
{
	size_t	 n;

	n = (size_t)sprintf(out, "GET %s/", before);
	memset(out + n, 'p', pathlen - 1);
	n += pathlen - 1;
	n += (size_t)sprintf(out + n, "%s HTTP/1.1\r\n\r\n", after);
	return n;
}

static void
test_path_max(void)
{
	struct http_request	 req;
	static char		 s[HTTP_HEAD_MAX * 2];
	char			 query[3002];
	size_t			 n, at;
	ssize_t			 r;

	n = with_target(s, "", HTTP_PATH_MAX - 1, "");
	r = parse(s, n, &req);
	ok(r == (ssize_t)n && strlen(req.path) == HTTP_PATH_MAX - 1 &&
	    req.path[0] == '/' && req.path[HTTP_PATH_MAX - 2] == 'p',
	    "a path of HTTP_PATH_MAX - 1 bytes (%zd)", r);
	n = with_target(s, "", HTTP_PATH_MAX, "");
	at = shortest(s, n);
	ok(at == 4 + HTTP_PATH_MAX && steady(s, n, at, -ENAMETOOLONG),
	    "a path of HTTP_PATH_MAX bytes: too long from its last byte "
	    "(%zu)", at);
	query[0] = '?';
	memset(query + 1, 'q', sizeof(query) - 2);
	query[sizeof(query) - 1] = '\0';
	n = with_target(s, "", HTTP_PATH_MAX - 1, query);
	r = parse(s, n, &req);
	ok(r == (ssize_t)n && strlen(req.path) == HTTP_PATH_MAX - 1,
	    "a path of HTTP_PATH_MAX - 1 bytes and a query of 3000 (%zd)", r);
	n = with_target(s, "http://localhost:9105", HTTP_PATH_MAX - 1, "?x");
	r = parse(s, n, &req);
	ok(r == (ssize_t)n && strlen(req.path) == HTTP_PATH_MAX - 1,
	    "absolute-form, a path of HTTP_PATH_MAX - 1 bytes (%zd)", r);
	n = with_target(s, "http://localhost:9105", HTTP_PATH_MAX, "");
	at = shortest(s, n);
	ok(at == 4 + 21 + HTTP_PATH_MAX && steady(s, n, at, -ENAMETOOLONG),
	    "absolute-form, a path of HTTP_PATH_MAX bytes (%zu)", at);
	n = with_target(s, "", HTTP_PATH_MAX + 10, "");
	s[4 + HTTP_PATH_MAX + 5] = '\0';
	ok(parse(s, n, &req) == -ENAMETOOLONG,
	    "a long path with a NUL past the limit: too long first");
}

/* A head of exactly n bytes (n >= 24) in out[0..n]: one field filling it. */
static void
head_of(char *out, size_t n, const char *end)
{
	size_t	 e = strlen(end), start;

	start = (size_t)sprintf(out, "GET / HTTP/1.1\r\nX: ");
	memset(out + start, 'v', n - start - e);
	sprintf(out + n - e, "%s", end);
}

static void
test_head_max(void)
{
	struct http_request	 req;
	static char		 s[HTTP_HEAD_MAX * 2 + 1];
	size_t			 i;
	ssize_t			 r;

	head_of(s, HTTP_HEAD_MAX, "\r\n\r\n");
	memcpy(s + HTTP_HEAD_MAX, "more", 4);
	ok(parse(s, HTTP_HEAD_MAX, &req) == HTTP_HEAD_MAX,
	    "a head of exactly HTTP_HEAD_MAX bytes");
	ok(parse(s, HTTP_HEAD_MAX + 4, &req) == HTTP_HEAD_MAX,
	    "a head of exactly HTTP_HEAD_MAX bytes, more after it");
	ok(parse(s, HTTP_HEAD_MAX - 1, &req) == 0,
	    "a head of HTTP_HEAD_MAX bytes, its last byte missing, waits");
	head_of(s, HTTP_HEAD_MAX, "\n\n");
	ok(parse(s, HTTP_HEAD_MAX, &req) == HTTP_HEAD_MAX,
	    "a head of exactly HTTP_HEAD_MAX bytes ending LF LF");

	head_of(s, HTTP_HEAD_MAX + 1, "\r\n\r\n");
	ok(parse(s, HTTP_HEAD_MAX - 1, &req) == 0,
	    "a head of HTTP_HEAD_MAX + 1 bytes: HTTP_HEAD_MAX - 1 wait");
	ok(parse(s, HTTP_HEAD_MAX, &req) == -EMSGSIZE,
	    "a head of HTTP_HEAD_MAX + 1 bytes: too long at HTTP_HEAD_MAX");
	ok(parse(s, HTTP_HEAD_MAX + 1, &req) == -EMSGSIZE,
	    "a head of HTTP_HEAD_MAX + 1 bytes, all given");
	head_of(s, HTTP_HEAD_MAX + 1, "\n\n");
	ok(parse(s, HTTP_HEAD_MAX + 1, &req) == -EMSGSIZE,
	    "a head of HTTP_HEAD_MAX + 1 bytes ending LF LF");
	head_of(s, HTTP_HEAD_MAX + 2, "\r\n\r\n");
	ok(parse(s, HTTP_HEAD_MAX, &req) == -EMSGSIZE,
	    "a head whose empty line's CR is byte HTTP_HEAD_MAX + 1");

	/* no end in sight */
	head_of(s, sizeof(s) - 1, "v");
	ok(parse(s, HTTP_HEAD_MAX - 1, &req) == 0,
	    "HTTP_HEAD_MAX - 1 bytes without an end wait");
	ok(parse(s, HTTP_HEAD_MAX, &req) == -EMSGSIZE,
	    "HTTP_HEAD_MAX bytes without an end are too many");
	ok(parse(s, sizeof(s) - 1, &req) == -EMSGSIZE,
	    "2 * HTTP_HEAD_MAX bytes without an end are too many");

	/* an error inside the limit comes first, one past it is not read */
	s[HTTP_HEAD_MAX - 1] = '\x01';
	ok(parse(s, sizeof(s) - 1, &req) == -EBADMSG,
	    "a bad byte at HTTP_HEAD_MAX - 1 is seen");
	s[HTTP_HEAD_MAX - 1] = 'v';
	s[HTTP_HEAD_MAX] = '\x01';
	ok(parse(s, sizeof(s) - 1, &req) == -EMSGSIZE,
	    "a bad byte at HTTP_HEAD_MAX is past the limit: too long");

	/* empty lines before the request line count */
	for (i = 0; i + 2 <= HTTP_HEAD_MAX; i += 2)
		memcpy(s + i, "\r\n", 2);
	ok(parse(s, HTTP_HEAD_MAX, &req) == -EMSGSIZE,
	    "HTTP_HEAD_MAX bytes of empty lines are too many");
	memset(s, '\n', HTTP_HEAD_MAX - 16);
	memcpy(s + HTTP_HEAD_MAX - 16, "GET / HTTP/1.1\n\n", 16);
	r = parse(s, HTTP_HEAD_MAX, &req);
	ok(r == HTTP_HEAD_MAX && req.method == HTTP_GET,
	    "empty lines and a request up to HTTP_HEAD_MAX (%zd)", r);
}

/* Fed as a client may send it: a byte, or a few, at a time. */
static void
test_feed(void)
{
	struct http_request	 req;
	const char		*s = PROMETHEUS "GET /next HTTP/1.1\r\n\r\n";
	size_t			 n, len = sizeof(PROMETHEUS) - 1, step;
	ssize_t			 r;
	bool			 waited;

	for (step = 1; step <= 7; step += 3) {
		waited = true;
		for (n = step; ; n += step) {
			if (n > strlen(s))
				n = strlen(s);
			r = parse(s, n, &req);
			if (r != 0 || n == strlen(s))
				break;
			if (n >= len)
				waited = false;
		}
		ok(waited && r == (ssize_t)len && req.method == HTTP_GET &&
		    strcmp(req.path, "/metrics") == 0,
		    "a scrape fed %zu byte(s) at a time (%zd)", step, r);
	}
}

int
main(void)
{
	test_good();
	test_bad();
	test_path_max();
	test_head_max();
	test_feed();
	return tap_done();
}

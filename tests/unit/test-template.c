/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "template.h"
#include "tap.h"

static const regmatch_t caps[TEMPLATE_CAPTURES] = {
	{ 0, 4 }, { 1, 3 }, { -1, -1 }, { 0, 0 },
	{ -1, -1 }, { -1, -1 }, { -1, -1 }, { -1, -1 }, { -1, -1 }, { -1, -1 }
};

static const struct template_ctx ctx = {
	.message = "ping",
	.message_len = 4,
	.client_address = "192.0.2.7",
	.client_port = 40000,
	.server_address = "198.51.100.1",
	.server_port = 13008,
	.listener = "main",
	.hostname = "box",
	.rule = "r1",
	.now_usec = 1700000000123456ULL,	/* 2023-11-14T22:13:20Z */
	.message_number = 7,
	.connections = 12,
	.max_message_bytes = 8192,
	.caps = caps,
	.ncaps = TEMPLATE_CAPTURES,
};

static void
render_is(const char *src, const char *want)
{
	struct template	*t;
	struct buf		 out = { 0 };
	char			 err[256] = "";
	int			 r;

	r = template_compile(src, &t, err, sizeof(err));
	ok(r == 0, "compile \"%s\" %s", src, err);
	if (r < 0)
		return;
	ok(template_render(t, &ctx, &out) == 0, "render \"%s\"", src);
	ok_bytes(out.data, out.len, want, "\"%s\" renders", src);
	ok(strcmp(template_source(t), src) == 0, "source kept");
	buf_free(&out);
	template_free(t);
}

static void
error_is(const char *src, const char *want)
{
	struct template	*t = NULL;
	char			 err[256] = "";
	int			 r;

	r = template_compile(src, &t, err, sizeof(err));
	ok(r == -EINVAL && t == NULL, "\"%s\" is refused", src);
	ok(strcmp(err, want) == 0, "error for \"%s\": %s", src, err);
}

/* The TLS variables: what a handshake agreed on, nothing without TLS. */
static void
test_tls(void)
{
	static const struct template_tls tls = {
		"TLSv1.3", "TLS_AES_128_GCM_SHA256", "a.example", "h2",
		"CN=alice", "AB:CD"
	};
	static const char src[] = "%{tls_version}|%{tls_cipher}|%{tls_sni}|"
	    "%{tls_alpn}|%{tls_client_subject}|%{tls_client_fingerprint}";
	struct template_ctx	 c = ctx;
	struct template		*t;
	struct buf		 out = { 0 };
	char			 err[64];

	ok(template_compile(src, &t, err, sizeof(err)) == 0, "TLS variables");
	ok(template_render(t, &c, &out) == 0 && out.len == 5 &&
	    memcmp(out.data, "|||||", 5) == 0, "empty without TLS");
	out.len = 0;
	c.tls = &tls;
	ok(template_render(t, &c, &out) == 0, "render with TLS");
	ok_bytes(out.data, out.len, "TLSv1.3|TLS_AES_128_GCM_SHA256|"
	    "a.example|h2|CN=alice|AB:CD", "what the handshake agreed on");
	buf_free(&out);
	template_free(t);
}

int
main(void)
{
	struct template_ctx	 bin = ctx;
	struct template	*t;
	struct buf		 out = { 0 };
	char			 err[64];

	render_is("%{message}", "ping");
	render_is("", "");
	render_is("+PONG", "+PONG");
	render_is("100%%", "100%");
	render_is("%%{message}", "%{message}");
	render_is("<%{message}|%{message}>", "<ping|ping>");
	render_is("%{client_address}:%{client_port} on %{listener}",
	    "192.0.2.7:40000 on main");

	render_is("%{server_address}:%{server_port}", "198.51.100.1:13008");
	render_is("%{hostname}/%{rule}/%{message_number}/%{connections}",
	    "box/r1/7/12");
	render_is("%{unix_time}", "1700000000");
	render_is("%{time_utc}", "2023-11-14T22:13:20Z");
	render_is("%{max_message_bytes}", "8192");
	render_is("[%{0}][%{1}][%{2}][%{3}]", "[ping][in][][]");
	render_is("%{9}", "");
	test_tls();

	error_is("%{nope}", "unknown variable '%{nope}'");
	error_is("%{10}", "unknown variable '%{10}'");
	error_is("%{message", "unterminated variable '%{message'");
	error_is("50%", "'%' must be followed by '{name}' or '%' "
	    "(write %% for a percent sign)");
	error_is("%x", "'%' must be followed by '{name}' or '%' "
	    "(write %% for a percent sign)");
	error_is("%{}", "unknown variable '%{}'");

	/* messages are bytes: NUL inside is copied, not a terminator */
	bin.message = "a\0b";
	bin.message_len = 3;
	ok(template_compile("[%{message}]", &t, err, sizeof(err)) == 0,
	    "compile binary echo");
	ok(template_render(t, &bin, &out) == 0 && out.len == 5 &&
	    memcmp(out.data, "[a\0b]", 5) == 0, "NUL byte rendered");
	/* render appends */
	ok(template_render(t, &bin, &out) == 0 && out.len == 10,
	    "render appends to the buffer");
	template_free(t);
	buf_free(&out);
	/* binary messages as hex digits, and their length */
	bin.message = "\0\xff" "A";
	bin.message_len = 3;
	ok(template_compile("%{message_hex}/%{message_length}", &t, err,
	    sizeof(err)) == 0 && template_render(t, &bin, &out) == 0,
	    "compile and render hex and length");
	ok_bytes(out.data, out.len, "00ff41/3", "hex digits and length");
	template_free(t);
	buf_free(&out);
	render_is("[%{message_hex}]", "[70696e67]");

	/* what a template needs, so the server computes only that */
	ok(template_compile("%{message}", &t, err, sizeof(err)) == 0 &&
	    template_needs(t) == 0 && template_max_capture(t) == -1,
	    "echo needs nothing");
	template_free(t);
	ok(template_compile("%{time}%{server_port}%{3}%{1}", &t, err,
	    sizeof(err)) == 0 && template_needs(t) == (TEMPLATE_NEED_TIME |
	    TEMPLATE_NEED_SERVER) && template_max_capture(t) == 3,
	    "time, server and captures are known");
	template_free(t);

	/* the echo is told apart, so that it can skip the renderer */
	{
		static const struct {
			const char	*src;
			bool		 echo;
		} echo[] = {
			{ "%{message}", true }, { "%{message}%{message}", false },
			{ "x%{message}", false }, { "%{message}\\n", false },
			{ "", false }, { "%%", false }, { "%{0}", false },
			{ "%{client_address}", false },
		};
		size_t i;

		for (i = 0; i < sizeof(echo) / sizeof(echo[0]); i++) {
			ok(template_compile(echo[i].src, &t, err,
			    sizeof(err)) == 0 && template_is_message(t) ==
			    echo[i].echo, "\"%s\" is %sthe echo", echo[i].src,
			    echo[i].echo ? "" : "not ");
			template_free(t);
		}
	}

	/* fixed text is told apart too: no context needed to render it */
	{
		static const struct {
			const char	*src;
			const char	*text;	/* NULL: not fixed text */
		} fixed[] = {
			{ "+PONG", "+PONG" }, { "", "" }, { "a b c", "a b c" },
			{ "%{message}", NULL }, { "x%{rule}", NULL },
			{ "%{time}", NULL }, { "%{0}", NULL },
		};
		const char	*text;
		size_t		 i, len;
		bool		 is;

		for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
			text = NULL;
			len = 0;
			is = template_compile(fixed[i].src, &t, err,
			    sizeof(err)) == 0 && template_is_text(t, &text, &len);
			ok(fixed[i].text == NULL ? !is : is &&
			    len == strlen(fixed[i].text) &&
			    memcmp(text, fixed[i].text, len) == 0,
			    "\"%s\" is %sfixed text", fixed[i].src,
			    fixed[i].text != NULL ? "" : "not ");
			template_free(t);
		}
	}

	/* local time carries its offset */
	setenv("TZ", "UTC+02:30", 1);
	tzset();
	render_is("%{time}", "2023-11-14T19:43:20-02:30");
	return tap_done();
}

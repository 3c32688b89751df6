#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rules.h"
#include "tap.h"

static const struct rules_ctx ctx = {
	"ping", 4, "192.0.2.7", 40000, "main"
};

static void
render_is(const char *src, const char *want)
{
	struct rules_template	*t;
	struct buf		 out = { 0 };
	char			 err[256] = "";
	int			 r;

	r = rules_template_compile(src, &t, err, sizeof(err));
	ok(r == 0, "compile \"%s\" %s", src, err);
	if (r < 0)
		return;
	ok(rules_template_render(t, &ctx, &out) == 0, "render \"%s\"", src);
	ok_bytes(out.data, out.len, want, "\"%s\" renders", src);
	ok(strcmp(rules_template_source(t), src) == 0, "source kept");
	buf_free(&out);
	rules_template_free(t);
}

static void
error_is(const char *src, const char *want)
{
	struct rules_template	*t = NULL;
	char			 err[256] = "";
	int			 r;

	r = rules_template_compile(src, &t, err, sizeof(err));
	ok(r == -EINVAL && t == NULL, "\"%s\" is refused", src);
	ok(strcmp(err, want) == 0, "error for \"%s\": %s", src, err);
}

int
main(void)
{
	struct rules_ctx	 bin = ctx;
	struct rules_template	*t;
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

	error_is("%{nope}", "unknown variable '%{nope}'");
	error_is("%{message", "unterminated variable '%{message'");
	error_is("50%", "'%' must be followed by '{name}' or '%' "
	    "(write %% for a percent sign)");
	error_is("%x", "'%' must be followed by '{name}' or '%' "
	    "(write %% for a percent sign)");
	error_is("%{}", "unknown variable '%{}'");

	/* messages are bytes: NUL inside is copied, not a terminator */
	bin.message = "a\0b";
	bin.message_len = 3;
	ok(rules_template_compile("[%{message}]", &t, err, sizeof(err)) == 0,
	    "compile binary echo");
	ok(rules_template_render(t, &bin, &out) == 0 && out.len == 5 &&
	    memcmp(out.data, "[a\0b]", 5) == 0, "NUL byte rendered");
	/* render appends */
	ok(rules_template_render(t, &bin, &out) == 0 && out.len == 10,
	    "render appends to the buffer");
	rules_template_free(t);
	buf_free(&out);
	return tap_done();
}

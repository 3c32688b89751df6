/* SPDX-License-Identifier: ISC */
/*
 * Config validation: every tests/config/good-*.conf loads and dumps as its
 * .out file, and that dump loads again and dumps the same; every bad-*.conf
 * is refused with exactly the lines in its .err file (@FILE@ stands for the
 * path, @DIR@ for its directory); the shipped etc/echoreplyd.conf loads.
 */
#include <dirent.h>
#include <errno.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "tap.h"
#include "template.h"

static const char *srcdir;

/* The library's regcomp() calls, counted (-Wl,--wrap=regcomp). */
int	__real_regcomp(regex_t *, const char *, int);
int	__wrap_regcomp(regex_t *, const char *, int);
static int	regcomps, regcomp_flags[8];

int
__wrap_regcomp(regex_t *re, const char *pattern, int cflags)
{
	if (regcomps < 8)
		regcomp_flags[regcomps] = cflags;
	regcomps++;
	return __real_regcomp(re, pattern, cflags);
}

static void
collect(const char *line, void *arg)
{
	struct buf	*b = arg;

	buf_append(b, line, strlen(line));
	buf_append(b, "\n", 1);
}

static char *
slurp(const char *path)
{
	struct buf	 b = { 0 };
	char		 chunk[4096];
	size_t		 n;
	FILE		*fp;

	if ((fp = fopen(path, "r")) == NULL)
		return NULL;
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		buf_append(&b, chunk, n);
	fclose(fp);
	buf_append(&b, "", 1);
	return b.data;
}

/*
 * Replaces every @FILE@ in text with path, and every @DIR@ with the
 * directory it is in (for the files it includes).
 */
static char *
expand(const char *text, const char *path)
{
	struct buf	 b = { 0 };
	const char	*p, *f, *d;
	int		 dirlen = (int)(strrchr(path, '/') - path);

	for (;;) {
		f = strstr(text, "@FILE@");
		d = strstr(text, "@DIR@");
		if ((p = f == NULL || (d != NULL && d < f) ? d : f) == NULL)
			break;
		buf_append(&b, text, (size_t)(p - text));
		if (p == f) {
			buf_append(&b, path, strlen(path));
			text = p + 6;
		} else {
			buf_append(&b, path, (size_t)dirlen);
			text = p + 5;
		}
	}
	buf_append(&b, text, strlen(text) + 1);
	return b.data;
}

/* The dump of a dump: got's text loaded from a file, dumped again. */
static void
check_again(const char *name, const char *got, size_t gotlen)
{
	char		 path[] = "/tmp/test-config.XXXXXX", *again = NULL;
	struct buf	 errs = { 0 };
	struct conf	*c;
	size_t		 len = 0;
	FILE		*fp;
	int		 fd;

	if ((fd = mkstemp(path)) == -1 || (fp = fdopen(fd, "w")) == NULL ||
	    fwrite(got, 1, gotlen, fp) != gotlen || fclose(fp) != 0) {
		ok(0, "%s: dump written to %s", name, path);
		return;
	}
	c = config_load(path, collect, &errs, NULL);
	unlink(path);
	ok(c != NULL, "%s: its dump loads", name);
	if (c == NULL) {
		printf("# %.*s", (int)errs.len, errs.data);
		buf_free(&errs);
		return;
	}
	fp = open_memstream(&again, &len);
	config_dump(c, fp);
	fclose(fp);
	ok(len == gotlen && memcmp(again, got, len) == 0,
	    "%s: its dump dumps the same", name);
	free(again);
	config_free(c);
	buf_free(&errs);
}

static void
check_good(const char *dir, const char *name)
{
	char		*path, *outpath, *want, *got = NULL;
	struct buf	 errs = { 0 };
	struct conf	*c;
	size_t		 gotlen = 0;
	FILE		*mem;

	if (asprintf(&path, "%s/%s", dir, name) == -1 ||
	    asprintf(&outpath, "%s/%.*s.out", dir, (int)(strlen(name) - 5),
	    name) == -1)
		abort();
	c = config_load(path, collect, &errs, NULL);
	ok(c != NULL, "%s loads", name);
	if (c == NULL) {
		printf("# %.*s", (int)errs.len, errs.data);
		buf_free(&errs);
		free(path);
		free(outpath);
		return;
	}
	want = slurp(outpath);
	free(path);
	free(outpath);
	ok(want != NULL, "%s has an expected dump", name);
	mem = open_memstream(&got, &gotlen);
	config_dump(c, mem);
	fclose(mem);
	if (want != NULL)
		ok_bytes(got, gotlen, want, "%s dumps as expected", name);
	check_again(name, got, gotlen);
	free(want);
	free(got);
	config_free(c);
	buf_free(&errs);
}

static void
check_bad(const char *dir, const char *name)
{
	char		*path, *errpath, *tmpl, *want;
	struct buf	 errs = { 0 };
	struct conf	*c;

	if (asprintf(&path, "%s/%s", dir, name) == -1 ||
	    asprintf(&errpath, "%s/%.*s.err", dir, (int)(strlen(name) - 5),
	    name) == -1)
		abort();
	c = config_load(path, collect, &errs, NULL);
	ok(c == NULL, "%s is refused", name);
	config_free(c);
	tmpl = slurp(errpath);
	free(errpath);
	if (tmpl == NULL) {
		ok(0, "%s has expected errors", name);
		free(path);
		return;
	}
	want = expand(tmpl, path);
	free(path);
	ok_bytes(errs.data, errs.len, want, "%s errors", name);
	free(tmpl);
	free(want);
	buf_free(&errs);
}

static int
by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static void
test_files(void)
{
	struct dirent	**ents;
	char		  dir[1024];
	int		  i, n, seen = 0;

	snprintf(dir, sizeof(dir), "%s/tests/config", srcdir);
	n = scandir(dir, &ents, NULL, by_name);
	ok(n > 0, "read %s", dir);
	for (i = 0; i < n; i++) {
		const char	*name = ents[i]->d_name;
		size_t		 len = strlen(name);

		if (len > 5 && strcmp(name + len - 5, ".conf") == 0) {
			seen++;
			if (strncmp(name, "good-", 5) == 0)
				check_good(dir, name);
			else if (strncmp(name, "bad-", 4) == 0)
				check_bad(dir, name);
		}
		free(ents[i]);
	}
	if (n > 0)
		free(ents);
	ok(seen >= 10, "found the config cases (%d)", seen);
}

static void
test_shipped(void)
{
	char		 path[1024];
	struct buf	 errs = { 0 };
	struct conf	*c;

	snprintf(path, sizeof(path), "%s/etc/echoreplyd.conf", srcdir);
	c = config_load(path, collect, &errs, NULL);
	ok(c != NULL, "shipped etc/echoreplyd.conf is valid");
	if (c != NULL) {
		ok(c->nlisteners == 1 && c->listeners[0].port == 13008 &&
		    strcmp(c->listeners[0].address, "127.0.0.1") == 0,
		    "shipped config listens on 127.0.0.1:13008");
		config_free(c);
	} else
		printf("# %.*s", (int)errs.len, errs.data);
	buf_free(&errs);
}

static void
test_missing(void)
{
	struct buf	 errs = { 0 };
	struct conf	*c;
	int		 errnum = 0;

	c = config_load("/nonexistent/echoreplyd.conf", collect, &errs,
	    &errnum);
	ok(c == NULL && errnum == ENOENT, "missing file: ENOENT");
	ok_bytes(errs.data, errs.len,
	    "/nonexistent/echoreplyd.conf: No such file or directory\n",
	    "missing file error");
	buf_free(&errs);

	c = config_load(srcdir, collect, &errs, &errnum);
	ok(c == NULL, "a directory is refused");
	buf_free(&errs);

	c = config_default();
	ok(c != NULL && c->nlisteners == 1 && c->listeners[0].port ==
	    CONF_DEFAULT_PORT && c->service.framing.mode == FRAME_LINE &&
	    c->service.max_message_bytes == 8192, "built-in defaults");
	ok(c != NULL && c->nlisteners == 1 &&
	    c->listeners[0].service != &c->service &&
	    c->listeners[0].service->max_message_bytes == 8192 &&
	    strcmp(template_source(c->listeners[0].service->default_reply),
	    "%{message}") == 0,
	    "the default listener serves with a copy of the top level's");
	config_free(c);
}

/*
 * Each regex is compiled once per load, not once to check it and again
 * to use it, and without its groups when no reply uses them.
 */
static void
test_regex_once(void)
{
	char		 path[] = "/tmp/test-config.XXXXXX";
	struct buf	 errs = { 0 };
	struct conf	*c;
	FILE		*fp;
	int		 fd;

	if ((fd = mkstemp(path)) == -1 || (fp = fdopen(fd, "w")) == NULL)
		abort();
	fputs("rules = (\n"
	    "  { regex = \"^a+$\"; reply = \"plain\"; },\n"
	    "  { regex = \"^b(.*)$\"; reply = \"%{1}\"; }\n"
	    ");\n", fp);
	fclose(fp);
	regcomps = 0;
	c = config_load(path, collect, &errs, NULL);
	unlink(path);
	ok(c != NULL, "two regex rules load");
	ok(regcomps == 2, "each regex compiled once per load (%d calls)",
	    regcomps);
	ok(regcomps >= 2 && (regcomp_flags[0] & REG_NOSUB) &&
	    !(regcomp_flags[1] & REG_NOSUB),
	    "REG_NOSUB only where no reply uses a group");
	config_free(c);
	buf_free(&errs);
}

/* A listener's own settings, found by name as a passed socket's are. */
static void
test_services(void)
{
	const struct conf_service *svc;
	struct buf	 errs = { 0 };
	struct conf	*c;
	char		*path;

	if (asprintf(&path, "%s/tests/config/good-services.conf", srcdir) == -1)
		abort();
	c = config_load(path, collect, &errs, NULL);
	ok(c != NULL, "good-services.conf loads");
	if (c == NULL) {
		free(path);
		buf_free(&errs);
		return;
	}
	svc = config_service(c, "binary");
	ok(svc == c->listeners[1].service && svc->framing.mode == FRAME_RAW &&
	    svc->max_message_bytes == 512 && svc->idle_timeout_ms == 1500 &&
	    svc->max_connections == 3 && svc->source_message_burst == 20 &&
	    svc->acl.nallow == 1 && !svc->log_messages,
	    "a listener's own keys");
	ok(strcmp(template_source(svc->default_reply), "echo %{message}") == 0,
	    "a key it leaves out, written after 'listen', is the top level's");
	svc = config_service(c, "lines");
	ok(svc->framing.mode == FRAME_LINE && svc->max_message_bytes == 100 &&
	    svc->max_connections == 50 && svc->acl.nallow == 2,
	    "a listener without keys has the top level's");
	ok(config_service(c, "nobody") == &c->service,
	    "an unknown name gets the top level's");
	ok(c->max_connections == 50, "the top level's max_connections is the "
	    "limit in all");
	config_free(c);
	free(path);
	buf_free(&errs);
}

int
main(void)
{
	if ((srcdir = getenv("TOP_SRCDIR")) == NULL)
		srcdir = ".";
	test_files();
	test_shipped();
	test_missing();
	test_services();
	test_regex_once();
	return tap_done();
}

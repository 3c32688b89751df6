/* SPDX-License-Identifier: ISC */
/*
 * The configuration's text with its includes read in. The scan follows
 * libconfig 1.5's scanner: comments ("#", "//" to the end of the line,
 * "/" "*" to "*" "/"), strings and their escapes, and "@include" only at
 * the start of a line, outside comments and strings. Its state carries
 * from a file into the next, as the scanner's does.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "cfg.h"
#include "config-source.h"

enum scan_state {
	SCAN_CODE,
	SCAN_COMMENT,		/* in a block comment */
	SCAN_STRING
};

/* A file being read: the configuration's, or one it includes. */
struct frame {
	size_t			 file;		/* in cfg_source.files */
	struct buf		 body;
	size_t			 i;		/* the next byte */
	unsigned int		 line;		/* of body[i] */
	bool			 bol;		/* body[i] starts a line */
};

struct reader {
	struct parser		*p;
	struct cfg_source	*s;
	struct buf		 out;
	size_t			 cap;		/* of s->lines */
	const char		*dir;		/* relative includes start here */
	size_t			 dirlen;
	enum scan_state		 state;
	unsigned int		 string_line;	/* where an open string began */
	size_t			 string_file;
	size_t			 read;		/* bytes read, all files */
	struct frame		 stack[CFG_INCLUDE_DEPTH_MAX + 1];
	int			 depth;		/* of the file being read */
};

static const char *
file_name(const struct reader *r, size_t f)
{
	return r->s->files[f];
}

static int
order(const struct reader *r)
{
	return r->s->nlines > INT32_MAX ? INT32_MAX : (int)r->s->nlines;
}

/* A new line of text starts: it comes from line of file f. */
static int
new_line(struct reader *r, size_t f, unsigned int line)
{
	struct cfg_origin	*v;
	size_t			 cap;

	if (r->s->nlines == r->cap) {
		cap = r->cap == 0 ? 64 : r->cap * 2;
		if ((v = reallocarray(r->s->lines, cap, sizeof(*v))) == NULL)
			return -1;
		r->s->lines = v;
		r->cap = cap;
	}
	r->s->lines[r->s->nlines].file = (unsigned int)f;
	r->s->lines[r->s->nlines].line = line;
	r->s->nlines++;
	return 0;
}

/* The current line of text comes from line of file f after all. */
static void
same_line(struct reader *r, size_t f, unsigned int line)
{
	r->s->lines[r->s->nlines - 1].file = (unsigned int)f;
	r->s->lines[r->s->nlines - 1].line = line;
}

static bool
at_line_start(const struct reader *r)
{
	return r->out.len == 0 || r->out.data[r->out.len - 1] == '\n';
}

/* Copies n bytes of file f to the text; *line counts its newlines. */
static int
put(struct reader *r, size_t f, unsigned int *line, const char *b, size_t n)
{
	size_t	 i;

	if (buf_append(&r->out, b, n) < 0)
		return -1;
	for (i = 0; i < n; i++)
		if (b[i] == '\n' && new_line(r, f, ++*line) < 0)
			return -1;
	return 0;
}

static int
nomem(struct reader *r)
{
	cfg_error_at(r->p, r->s->files[0], 0, 0, "out of memory");
	return -1;
}

/* The whole of fp, within what is left of CFG_SOURCE_MAX. */
static int
slurp(struct reader *r, size_t f, FILE *fp, struct buf *b)
{
	size_t	 n;

	for (;;) {
		if (buf_reserve(b, 8192) < 0)
			return nomem(r);
		n = fread(b->data + b->len, 1, b->cap - b->len, fp);
		b->len += n;
		r->read += n;
		if (r->read > CFG_SOURCE_MAX) {
			cfg_error_at(r->p, file_name(r, f), 0, order(r),
			    "more than %d MiB of configuration, with what is "
			    "included", CFG_SOURCE_MAX / (1024 * 1024));
			return -1;
		}
		if (n == 0)
			break;
	}
	if (ferror(fp)) {
		cfg_error_at(r->p, file_name(r, f), 0, order(r), "%s",
		    strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * Matches libconfig's include_open, ^[ \t]*@include[ \t]+\", at text[i]
 * (a line's start): the index after the quote, or 0.
 */
static size_t
include_open(const char *text, size_t len, size_t i)
{
	static const char	 word[] = "@include";
	size_t			 j;

	while (i < len && (text[i] == ' ' || text[i] == '\t'))
		i++;
	if (len - i < sizeof(word) - 1 ||
	    memcmp(text + i, word, sizeof(word) - 1) != 0)
		return 0;
	i += sizeof(word) - 1;
	for (j = i; j < len && (text[j] == ' ' || text[j] == '\t'); j++)
		;
	if (j == i || j == len || text[j] != '"')
		return 0;
	return j + 1;
}

/*
 * The @include whose name starts at the top file's i: past its closing
 * quote, the file it names is read and becomes the top.
 */
static int
include(struct reader *r)
{
	struct frame	*fr = &r->stack[r->depth], *child;
	const char	*text = fr->body.data;
	struct buf	 name = { 0 };
	struct stat	 st;
	unsigned int	 at = fr->line;
	size_t		 j, len = fr->body.len;
	char		*path = NULL, **v;
	FILE		*fp = NULL;
	int		 rc = -1;

	for (j = fr->i; j < len && text[j] != '"'; j++) {
		if (text[j] == '\\' && j + 1 < len &&
		    (text[j + 1] == '\\' || text[j + 1] == '"'))
			j++;
		else if (text[j] == '\n')
			fr->line++;
		else if (text[j] == '\0') {
			cfg_error_at(r->p, file_name(r, fr->file), fr->line,
			    order(r), "a NUL byte: not a text file");
			goto out;
		}
		if (buf_append(&name, text + j, 1) < 0)
			goto nomem;
	}
	if (j == len) {
		cfg_error_at(r->p, file_name(r, fr->file), at, order(r),
		    "'@include' without the closing quote of its file name");
		goto out;
	}
	fr->i = j + 1;
	fr->bol = false;
	if (buf_append(&name, "", 1) < 0)
		goto nomem;
	if (r->depth == CFG_INCLUDE_DEPTH_MAX) {
		cfg_error_at(r->p, file_name(r, fr->file), at, order(r),
		    "'@include' more than %d files deep", CFG_INCLUDE_DEPTH_MAX);
		goto out;
	}
	if (name.data[0] == '/') {
		if ((path = strdup(name.data)) == NULL)
			goto nomem;
	} else if (asprintf(&path, "%.*s%s", (int)r->dirlen, r->dir,
	    name.data) == -1) {
		path = NULL;
		goto nomem;
	}
	if ((fp = fopen(path, "r")) == NULL ||
	    (fstat(fileno(fp), &st) == 0 && !S_ISREG(st.st_mode))) {
		cfg_error_at(r->p, file_name(r, fr->file), at, order(r),
		    "cannot include \"%s\": %s", path,
		    fp == NULL ? strerror(errno) : "not a regular file");
		goto out;
	}
	v = reallocarray(r->s->files, r->s->nfiles + 1, sizeof(*v));
	if (v == NULL)
		goto nomem;
	r->s->files = v;
	v[r->s->nfiles] = path;
	path = NULL;
	child = &r->stack[++r->depth];
	memset(child, 0, sizeof(*child));
	child->file = r->s->nfiles++;
	child->line = 1;
	child->bol = true;
	if (slurp(r, child->file, fp, &child->body) < 0)
		goto out;
	/* the directive goes, the file takes its place */
	if (!at_line_start(r) && put(r, fr->file, &at, "\n", 1) < 0)
		goto nomem;
	same_line(r, child->file, 1);
	rc = 0;
	goto out;
nomem:
	rc = nomem(r);
out:
	if (fp != NULL)
		fclose(fp);
	free(path);
	buf_free(&name);
	return rc;
}

static bool
is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F');
}

/* In a string, at the top file's i: how many bytes the next piece takes. */
static size_t
string_piece(struct reader *r, const struct frame *fr)
{
	const char	*text = fr->body.data;
	size_t		 i = fr->i, len = fr->body.len;

	if (text[i] == '"') {
		r->state = SCAN_CODE;
		return 1;
	}
	if (text[i] != '\\' || i + 1 == len)
		return 1;
	switch (text[i + 1]) {
	case 'x':
	case 'X':
		if (len - i < 4 || !is_hex(text[i + 2]) || !is_hex(text[i + 3]))
			return 1;	/* a lone backslash */
		if (text[i + 2] == '0' && text[i + 3] == '0')
			cfg_error_at(r->p, file_name(r, fr->file), fr->line,
			    order(r), "a string cannot hold a NUL byte "
			    "(\"\\x00\"): write such bytes in hex digits with "
			    "a *_hex key (exact_hex, prefix_hex, suffix_hex, "
			    "contains_hex, reply_hex, delimiter_hex)");
		return 4;
	case 'n': case 'r': case 't': case 'f': case '\\': case '"':
		return 2;
	default:
		return 1;
	}
}

/* In code, at the top file's i: how many bytes the next piece takes. */
static size_t
code_piece(struct reader *r, const struct frame *fr)
{
	const char	*text = fr->body.data;
	size_t		 i = fr->i, len = fr->body.len, n = 1;

	if (text[i] == '#' || (text[i] == '/' && i + 1 < len &&
	    text[i + 1] == '/')) {
		while (i + n < len && text[i + n] != '\n' &&
		    text[i + n] != '\0')
			n++;
	} else if (text[i] == '/' && i + 1 < len && text[i + 1] == '*') {
		r->state = SCAN_COMMENT;
		n = 2;
	} else if (text[i] == '"') {
		r->state = SCAN_STRING;
		r->string_line = fr->line;
		r->string_file = fr->file;
	} else if (text[i] == '@') {
		/* libconfig's syntax error, said better */
		cfg_error_at(r->p, file_name(r, fr->file), fr->line, order(r),
		    "'@include' must start a line, followed by its file's "
		    "name in double quotes");
		return 0;
	}
	return n;
}

/* The files, the configuration's first, onto the text for libconfig. */
static int
scan(struct reader *r)
{
	struct frame	*fr;
	const char	*text;
	size_t		 n, at;

	for (;;) {
		fr = &r->stack[r->depth];
		text = fr->body.data;
		if (fr->i == fr->body.len) {
			if (r->depth == 0)
				return 0;
			if (r->state == SCAN_STRING) {
				/* libconfig would carry it on */
				cfg_error_at(r->p, file_name(r,
				    r->string_file), r->string_line, order(r),
				    "a string is not closed by the end of its "
				    "file");
				return -1;
			}
			/* what follows the @include goes on a line of its own */
			if (!at_line_start(r) &&
			    put(r, fr->file, &fr->line, "\n", 1) < 0)
				return nomem(r);
			buf_free(&fr->body);
			fr = &r->stack[--r->depth];
			same_line(r, fr->file, fr->line);
			continue;
		}
		if (text[fr->i] == '\0') {
			cfg_error_at(r->p, file_name(r, fr->file), fr->line,
			    order(r), "a NUL byte: not a text file");
			return -1;
		}
		n = 1;
		switch (r->state) {
		case SCAN_COMMENT:
			if (text[fr->i] == '*' && fr->i + 1 < fr->body.len &&
			    text[fr->i + 1] == '/') {
				r->state = SCAN_CODE;
				n = 2;
			}
			break;
		case SCAN_STRING:
			n = string_piece(r, fr);
			break;
		case SCAN_CODE:
			if (fr->bol && (at = include_open(text, fr->body.len,
			    fr->i)) > 0) {
				fr->i = at;
				if (include(r) < 0)
					return -1;
				continue;
			}
			if ((n = code_piece(r, fr)) == 0)
				return -1;
			break;
		}
		fr->bol = text[fr->i + n - 1] == '\n';
		if (put(r, fr->file, &fr->line, text + fr->i, n) < 0)
			return nomem(r);
		fr->i += n;
	}
}

int
cfg_source_read(struct cfg_source *s, struct parser *p, const char *path,
    FILE *fp)
{
	struct reader	 r = { .p = p, .s = s };
	const char	*slash;
	int		 i, rc = -1;

	memset(s, 0, sizeof(*s));
	if ((s->files = calloc(1, sizeof(*s->files))) == NULL ||
	    (s->files[0] = strdup(path)) == NULL) {
		free(s->files);
		s->files = NULL;
		cfg_error_at(p, path, 0, 0, "out of memory");
		return -1;
	}
	s->nfiles = 1;
	/* libconfig's include directory, the file's, as a prefix */
	r.dir = path;
	r.dirlen = (slash = strrchr(path, '/')) == NULL ? 0 :
	    (size_t)(slash - path) + 1;
	r.stack[0].line = 1;
	r.stack[0].bol = true;
	if (new_line(&r, 0, 1) < 0)
		rc = nomem(&r);
	else if (slurp(&r, 0, fp, &r.stack[0].body) == 0 && scan(&r) == 0) {
		if (buf_append(&r.out, "", 1) < 0)
			rc = nomem(&r);
		else {
			s->text = r.out.data;
			s->len = r.out.len - 1;
			r.out.data = NULL;
			rc = 0;
		}
	}
	for (i = 0; i <= r.depth; i++)
		buf_free(&r.stack[i].body);
	buf_free(&r.out);
	return rc;
}

bool
cfg_source_where(const struct cfg_source *s, int n, const char **file,
    unsigned int *line)
{
	if (n < 1 || (size_t)n > s->nlines)
		return false;
	*file = s->files[s->lines[n - 1].file];
	*line = s->lines[n - 1].line;
	return true;
}

void
cfg_source_free(struct cfg_source *s)
{
	size_t	 i;

	free(s->text);
	free(s->lines);
	for (i = 0; i < s->nfiles; i++)
		free(s->files[i]);
	free(s->files);
	memset(s, 0, sizeof(*s));
}

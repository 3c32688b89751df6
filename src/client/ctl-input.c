/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "buf.h"
#include "ctl-input.h"
#include "ctl-report.h"

#define LINE_MAX_BYTES	(16 * 1024 * 1024)
#define PROMPT		"echoreplyctl> "

void
input_init(struct input *in, char **argv, int argc, long long count,
    bool no_empty)
{
	int	 i;

	memset(in, 0, sizeof(*in));
	in->argv = argv;
	in->argc = argc;
	in->count = count;
	in->no_empty = no_empty;
	if (no_empty)
		for (i = 0; i < argc; i++)
			if (argv[i][0] == '\0')
				report_usage("message %d is empty; raw framing "
				    "cannot send an empty message", i + 1);
	in->from_stdin = argc == 0;
	in->interactive = in->from_stdin && isatty(STDIN_FILENO);
}

static bool
stdin_done(const struct input *in)
{
	return !in->from_stdin || (in->in_eof && in->inb_off == in->inb.len);
}

bool
input_done(const struct input *in)
{
	return in->left == 0 && in->argi == in->argc && stdin_done(in);
}

bool
input_may_be_done(const struct input *in)
{
	return in->from_stdin && !in->interactive && in->argi >= in->argc &&
	    in->left <= 0;
}

bool
input_wants_stdin(const struct input *in)
{
	return in->need_input && !in->in_eof;
}

void
input_prompt(const struct input *in)
{
	if (in->interactive && input_wants_stdin(in))
		report_prompt(PROMPT);
}

/* Finds the next message; false when none is ready yet. */
static bool
next_message(struct input *in)
{
	char	*start, *nl = NULL;
	size_t	 avail, len;

	if (in->argi < in->argc) {
		in->cur = in->argv[in->argi];
		in->curlen = in->curtake = strlen(in->cur);
		in->left = in->count;
		return true;
	}
	if (!in->from_stdin)
		return false;
	avail = in->inb.len - in->inb_off;
	start = avail > 0 ? in->inb.data + in->inb_off : NULL;
	if (avail > 0)
		nl = memchr(start, '\n', avail);
	/* the line, or as much of it as has come */
	len = nl != NULL ? (size_t)(nl - start) : avail;
	if (len > LINE_MAX_BYTES)
		report_die(EX_DATAERR, "standard input: line %llu is longer "
		    "than %d bytes", in->lineno + 1, LINE_MAX_BYTES);
	if (nl != NULL) {
		in->curlen = len;
		in->curtake = len + 1;
	} else if (in->in_eof && avail > 0) {
		in->curlen = in->curtake = len;
	} else {
		in->need_input = !in->in_eof;
		return false;
	}
	in->lineno++;
	if (in->curlen == 0 && in->no_empty)
		report_die(EX_DATAERR, "standard input: line %llu is empty; "
		    "raw framing cannot send an empty message", in->lineno);
	in->cur = start;
	in->left = in->count;
	return true;
}

bool
input_next(struct input *in, const char **msg, size_t *len)
{
	if (in->left == 0 && !next_message(in))
		return false;
	*msg = in->cur;
	*len = in->curlen;
	if (--in->left == 0) {
		/* taken: it stays in inb until the next read */
		if (in->argi < in->argc)
			in->argi++;
		else
			in->inb_off += in->curtake;
	}
	return true;
}

void
input_read(struct input *in)
{
	ssize_t	 n;

	if (in->inb_off > 0) {
		memmove(in->inb.data, in->inb.data + in->inb_off,
		    in->inb.len - in->inb_off);
		in->inb.len -= in->inb_off;
		in->inb_off = 0;
	}
	if (buf_reserve(&in->inb, 65536) < 0)
		report_die(EX_OSERR, "out of memory");
	n = read(STDIN_FILENO, in->inb.data + in->inb.len, 65536);
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		report_die(EX_IOERR, "standard input: %s", strerror(errno));
	}
	in->need_input = false;
	if (n == 0)
		in->in_eof = true;
	else
		in->inb.len += (size_t)n;
	report_prompt_done(n == 0);
}

void
input_free(struct input *in)
{
	buf_free(&in->inb);
}

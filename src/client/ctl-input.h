/* SPDX-License-Identifier: ISC */
/*
 * The messages echoreplyctl sends: the arguments, else the lines of
 * standard input (with a prompt on a terminal), each repeated -n times.
 */
#ifndef ECHOREPLYD_CTL_INPUT_H
#define ECHOREPLYD_CTL_INPUT_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

struct input {
	char		**argv;		/* messages from the command line */
	int		 argc, argi;
	long long	 count;		/* times each message is sent */
	bool		 no_empty;	/* raw stream framing */
	bool		 from_stdin, interactive, in_eof, need_input;
	struct buf	 inb;		/* standard input not yet sent */
	size_t		 inb_off;
	unsigned long long lineno;
	const char	*cur;		/* the message being repeated */
	size_t		 curlen;
	size_t		 curtake;	/* input bytes it takes up */
	long long	 left;		/* times it is still to be sent */
};

/*
 * Messages from argv, or standard input when argc is 0. With no_empty
 * an empty message is an error: exits with EX_USAGE for an argument.
 */
void	input_init(struct input *, char **argv, int argc, long long count,
	    bool no_empty);
/*
 * The next message to send, valid until input_read(); false when none
 * is ready yet. Exits with EX_DATAERR on a line it cannot send.
 */
bool	input_next(struct input *, const char **msg, size_t *len);
/* Whether every message has been taken. */
bool	input_done(const struct input *);
/*
 * Whether what is left may turn out to be nothing: only standard input,
 * not a terminal, with no message begun.
 */
bool	input_may_be_done(const struct input *);
/* Whether standard input is to be read. */
bool	input_wants_stdin(const struct input *);
/* On a terminal, asks for the line that is wanted. */
void	input_prompt(const struct input *);
/* Reads what standard input has. */
void	input_read(struct input *);
void	input_free(struct input *);

#endif

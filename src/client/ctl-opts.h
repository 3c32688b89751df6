/* SPDX-License-Identifier: ISC */
/*
 * echoreplyctl's command line, the daemon config it reads, and what the
 * two decide: where to connect, the framing and whether a greeting comes.
 */
#ifndef ECHOREPLYD_CTL_OPTS_H
#define ECHOREPLYD_CTL_OPTS_H

#include <stdbool.h>

#include "ctl-conn.h"

struct conf;

struct opts {
	const char	*conf_path;
	const char	*host;
	long long	 port;		/* 0: not given */
	const char	*unix_path;
	bool		 udp;
	int		 family;	/* 0, AF_INET or AF_INET6 */
	bool		 raw;
	bool		 greeting;
	bool		 quiet;
	bool		 verbose;
	long long	 count;
	int		 timeout_ms;
	char		**messages;	/* the arguments after the options */
	int		 nmessages;
};

/* Fills in o; exits on a usage error or after -h or -V. */
void	opts_parse(int argc, char *argv[], struct opts *o);
/*
 * The daemon config named by -f, the installed one, or the defaults;
 * NULL when the command line names the server completely. Exits with
 * EX_CONFIG when it is not valid.
 */
struct conf *opts_config(const struct opts *);
/* Where to connect: the command line, else a listener of conf. */
void	opts_target(const struct opts *, const struct conf *,
	    struct conn_target *);
/* Whether --raw or the config asks for raw framing. */
bool	opts_raw(const struct opts *, const struct conf *);
/* Whether -g or the config says a stream starts with a greeting line. */
bool	opts_greeting(const struct opts *, const struct conf *);

#endif

/* SPDX-License-Identifier: ISC */
/*
 * echoreplyctl's command line, the daemon config it reads, and what the
 * two decide: where to connect, the framing and whether a greeting comes.
 */
#ifndef ECHOREPLYD_CTL_OPTS_H
#define ECHOREPLYD_CTL_OPTS_H

#include <stdbool.h>

#include "addr.h"
#include "ctl-conn.h"
#include "ctl-tls.h"
#include "frame.h"

struct conf;

/* The control socket when nothing names one and systemd set no directory. */
#define OPTS_CONTROL_DEFAULT	"/run/echoreplyd/control"

struct opts {
	const char	*conf_path;
	const char	*host;
	long long	 port;		/* 0: not given */
	const char	*unix_path;
	bool		 udp;
	int		 family;	/* 0, AF_INET or AF_INET6 */
	bool		 raw;
	const char	*framing;	/* --framing and its values; */
	const char	*delim;		/* NULL or 0: the config's */
	const char	*delim_hex;
	long long	 length_bytes;
	const char	*length_endian;
	bool		 counts_prefix;
	long long	 fixed_bytes;
	const char	*proxy;		/* --proxy ADDRESS:PORT */
	long long	 proxy_version;	/* 0: as the listener takes them */
	const char	*tls_ca;	/* --ca, --cert, --key, --sni */
	const char	*tls_cert;
	const char	*tls_key;
	const char	*tls_sni;
	bool		 tls;
	bool		 tls_insecure;
	bool		 greeting;
	bool		 quiet;
	bool		 verbose;
	bool		 control;	/* -C: the words are a command */
	bool		 count_set;	/* -n given */
	bool		 timeout_set;	/* -t given */
	long long	 count;
	int		 timeout_ms;
	const char	*control_socket;	/* NULL: the config's, else
						   the default */
	char		**messages;	/* the operands: the messages, or */
	int		 nmessages;	/* with -C the command's words */
};

/* Fills in o; exits on a usage error or after -h or -V. */
void	opts_parse(int argc, char *argv[], struct opts *o);
/*
 * The daemon config named by -f, the installed one, or the defaults;
 * NULL when the command line names the server (or with -C, the control
 * socket) completely. Exits with EX_CONFIG when it is not valid.
 */
struct conf *opts_config(const struct opts *);
/* Where to connect: the command line, else a listener of conf. */
void	opts_target(const struct opts *, const struct conf *,
	    struct conn_target *);
/*
 * The framing: the options over the config's for the listener (line
 * without either). Exits with EX_USAGE when they do not make one.
 */
void	opts_framing(const struct opts *, const struct conf *,
	    struct frame_spec *);
/*
 * The PROXY header to send first: its version, 0 for none. *named says
 * whether src holds the client to present (--proxy); without it, a
 * listener of the config that expects a header gets one that keeps the
 * connection's own address.
 */
unsigned int opts_proxy(const struct opts *, const struct conf *,
	    union addr_any *src, bool *named);
/* Whether -g or the config says a stream starts with a greeting line. */
bool	opts_greeting(const struct opts *, const struct conf *);
/*
 * Whether to use TLS (--tls, or the config's listener has it), and with
 * what, for the target t. Exits with EX_USAGE when the TLS options come
 * without it, or TLS with UDP.
 */
bool	opts_tls(const struct opts *, const struct conf *,
	    const struct conn_target *t, struct tls_config *);

#endif

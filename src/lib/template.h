/* SPDX-License-Identifier: ISC */
#ifndef ECHOREPLYD_TEMPLATE_H
#define ECHOREPLYD_TEMPLATE_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define TEMPLATE_CAPTURES	10	/* %{0} (the whole match) to %{9} */

/* What a template may need that costs something to find out. */
#define TEMPLATE_NEED_TIME	0x01	/* now_usec */
#define TEMPLATE_NEED_SERVER	0x02	/* server_address and server_port */
#define TEMPLATE_NEED_COUNT	0x04	/* rule_count: the rule must count */

/*
 * What a TLS connection agreed on, as text ("" for what it has not: no
 * SNI, no ALPN, no client certificate).
 */
struct template_tls {
	const char	*version;		/* "TLSv1.3" */
	const char	*cipher;		/* "TLS_AES_256_GCM_SHA384" */
	const char	*sni;			/* the server name asked for */
	const char	*alpn;			/* the protocol agreed */
	const char	*client_subject;	/* RFC 2253 */
	const char	*client_fingerprint;	/* SHA-256, "AB:CD:..." */
};

/* Everything a reply template can refer to, for one message. */
struct template_ctx {
	const char	*message;
	size_t		 message_len;
	const char	*client_address;
	unsigned int	 client_port;
	const char	*server_address;
	unsigned int	 server_port;
	const char	*proxy_address;		/* "": no PROXY header */
	unsigned int	 proxy_port;
	const char	*listener;
	const char	*hostname;
	const char	*rule;
	const char	*state;			/* the message came in */
	const char	*next_state;		/* it leaves the connection in */
	uint64_t	 rule_count;		/* the rule's matches, this one too */
	uint64_t	 now_usec;		/* CLOCK_REALTIME */
	uint64_t	 message_number;	/* on this connection, from 1 */
	uint64_t	 connections;		/* open now */
	uint64_t	 max_message_bytes;
	const regmatch_t *caps;			/* NULL: no captures */
	size_t		 ncaps;
	const struct template_tls *tls;		/* NULL: not TLS */
};

struct template;

/*
 * Compiles a template: literal bytes, "%%" for a percent sign and
 * "%{name}" variables. On error returns -EINVAL with a message in err.
 */
int	template_compile(const char *src, struct template **, char *err,
	    size_t errlen);
/* Appends the rendered bytes to out. Returns 0 or -ENOMEM. */
int	template_render(const struct template *, const struct template_ctx *,
	    struct buf *out);
/* TEMPLATE_NEED_* bits for what the template uses. */
unsigned int template_needs(const struct template *);
/* Whether the template is "%{message}" and nothing else: the echo. */
bool	template_is_message(const struct template *);
/*
 * Whether the template is fixed text, no variables ("+PONG"): then *text
 * and *len are what it renders to, whatever the context.
 */
bool	template_is_text(const struct template *, const char **text,
	    size_t *len);
/* The highest capture %{N} used, or -1 when none is. */
int	template_max_capture(const struct template *);
/* What it was compiled from; a literal's bytes in hex digits. */
const char *template_source(const struct template *);
/*
 * A template of bytes as they are, no variables (a reply given in hex):
 * 0 or -ENOMEM.
 */
int	template_literal(const void *, size_t, struct template **);
bool	template_is_literal(const struct template *);
/* Another template the same as src: 0 or -ENOMEM. */
int	template_copy(const struct template *src, struct template **);
void	template_free(struct template *);

#endif

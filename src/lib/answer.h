/* SPDX-License-Identifier: ISC */
/*
 * The one path from a message to its reply: the rule that matches, the
 * reply it picks (cycling), the template rendered with its line end, and
 * what the log is told. Stream connections, datagrams, notices (greeting,
 * too long, refused) and the dry run all answer through here.
 */
#ifndef ECHOREPLYD_ANSWER_H
#define ECHOREPLYD_ANSWER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "buf.h"
#include "config.h"
#include "frame.h"
#include "template.h"

/*
 * Fills in the costly parts of ctx that the chosen template needs
 * (TEMPLATE_NEED_* bits): the server's address, the time.
 */
typedef void (*answer_fill_fn)(struct template_ctx *, unsigned int needs,
	    void *arg);

/* Who asks, and where: what a reply may depend on besides the message. */
struct answer_env {
	const struct conf		*conf;		/* its rules */
	const struct conf_service	*svc;		/* the listener's */
	const struct sockaddr		*client;	/* NULL: matches no network */
	const char			*client_address;
	uint16_t			 client_port;
	const char			*proxy_address;	/* NULL: none */
	uint16_t			 proxy_port;
	const char			*listener;
	const char			*hostname;
	uint64_t			 message_number;
	uint64_t			 connections;	/* open now */
	const struct template_tls	*tls;		/* NULL: not TLS */
	bool				 datagram;	/* no line ends on notices */
	answer_fill_fn			 fill;
	void				*fill_arg;
};

/*
 * The counters of cycling rules for one connection (or one UDP listener).
 * The zero value is ready; a new rule set starts them again.
 */
struct answer_cycle {
	uint32_t	*v;
	uint64_t	 generation;	/* of the rule set they count for */
};

/* What the configuration does with one message, besides the bytes. */
struct answer {
	const struct rules_rule	*rule;		/* NULL: the default reply */
	const char		*rule_label;	/* for logs; NULL: default */
	size_t			 choice;	/* which of the rule's replies */
	bool			 silent;	/* no_reply */
	bool			 close;
	uint64_t		 delay_ms;
};

/*
 * Answers message m: finds the rule, picks the reply (counting in cycle,
 * when not NULL), renders it with its terminator onto out. Returns 0 or
 * -ENOMEM.
 */
int	answer_message(const struct answer_env *, const struct frame_msg *m,
	    struct answer_cycle *cycle, struct buf *out, struct answer *res);

enum answer_notice {
	ANSWER_GREETING,	/* on connect */
	ANSWER_TOO_LONG,	/* a message over max_message_bytes */
	ANSWER_REFUSED,		/* over max_connections(_per_source) */
};

/*
 * Renders the listener's notice onto out, with a line end when it frames
 * lines. Nothing when it has none (a greeting may be unset). 0 or -ENOMEM.
 */
int	answer_notice(const struct answer_env *, enum answer_notice,
	    struct buf *out);

/* The rule's name for logs: its name, or its number from 1. */
const char *answer_rule_label(const struct rules_rule *);
void	answer_cycle_free(struct answer_cycle *);

#endif

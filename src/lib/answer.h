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
#include "counts.h"
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
 * A connection's story (or a UDP listener's): its state, its counts by
 * rule (times, cycling replies, %{rule_count}) and its own draws. Made by
 * answer_state_init(); a new rule set starts the state and the counts
 * again.
 */
struct answer_state {
	uint64_t	 generation;	/* of the rule set they are for */
	uint32_t	 state;
	struct counts	 counts;
	struct rng	 rng;
};

/* What the configuration does with one message, besides the bytes. */
struct answer {
	const struct rules_rule	*rule;		/* NULL: the default reply */
	const char		*rule_label;	/* for logs; NULL: default */
	size_t			 rule_label_len;
	size_t			 choice;	/* which of the rule's replies */
	bool			 silent;	/* nothing to send */
	bool			 close;		/* once the reply is sent */
	bool			 operator;	/* asks the operator first */
	uint64_t		 delay_ms;	/* drawn, for a range */
	const struct rules_fault *fault;	/* NULL: none */
	const char		*state;		/* the message came in */
	const char		*next_state;	/* it leaves the connection in */
	uint32_t		 count;		/* the rule's, or 0 */
};

/*
 * Answers message m: finds the rule (in st's state, with its counts and
 * draws; st may be NULL: the start, nothing counted, no draws), picks the
 * reply, renders it with its terminator onto out, and applies what the
 * rule does to the bytes (duplicate, truncate, garbage). Moves st to the
 * rule's next state. Returns 0 or -ENOMEM (or -EMSGSIZE: the reply is
 * too long for its length prefix).
 */
int	answer_message(const struct answer_env *, const struct frame_msg *m,
	    struct answer_state *st, struct buf *out, struct answer *res);

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

/*
 * Bytes that answer no message (pushed from the control socket, typed by
 * the operator) framed as the listener frames replies onto out: a line
 * end, the delimiter, or the length prefix. 0, -ENOMEM, or -EMSGSIZE (too
 * long for the prefix).
 */
int	answer_push(const struct conf_service *, const void *, size_t,
	    struct buf *out);

/*
 * True when svc's stream connections may take answer_fixed() for
 * answer_message(): no rule is a pattern (rules_exact_only()), the
 * default reply is %{message} or a fixed text, nothing follows a reply
 * (no close, operator or pacing), and the framing has no length prefix.
 */
bool	answer_fixes(const struct conf *, const struct conf_service *svc);
/*
 * answer_message() for a message whose answer is fixed
 * (rules_match_fixed()): the same reply and result, without the rest of
 * the answer path. Returns 1 when answered, 0 (nothing done) when the
 * message needs answer_message(), -ENOMEM. The caller must still count,
 * log and record the message.
 */
int	answer_fixed(const struct conf *, const struct conf_service *svc,
	    struct answer_state *, const struct frame_msg *m, struct buf *out,
	    struct answer *res);
/*
 * answer_fixes(), and the answer is the message itself: no rule at all
 * and the default reply %{message}, with the message's own terminator.
 * Such a reply is the input itself wherever frame_verbatim() holds: the
 * caller may copy a run of them at once.
 */
bool	answer_mirrors(const struct conf *, const struct conf_service *svc);

/* The rule's name for logs: its name, or its number from 1. */
const char *answer_rule_label(const struct rules_rule *);
/* What the listener's connection faults do to a new connection. */
enum answer_accept {
	ANSWER_ACCEPT_OPEN,
	ANSWER_ACCEPT_CLOSE,	/* accept_close_probability */
	ANSWER_ACCEPT_RESET,	/* accept_reset_probability */
};

/*
 * The draws at accept, a connection's first: whether it is closed or
 * reset at once, and else how long its slow open lasts (*delay_ms).
 */
enum answer_accept answer_accept(struct answer_state *,
	    const struct conf_service *, uint64_t *delay_ms);

/* A story's start: its draws from (seed, stream). */
void	answer_state_init(struct answer_state *, uint64_t seed,
	    uint64_t stream);
void	answer_state_free(struct answer_state *);

#endif

#ifndef ECHOREPLYD_REPLY_H
#define ECHOREPLYD_REPLY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "buf.h"
#include "config.h"
#include "frame.h"
#include "template.h"

/* What the configuration does with one message, besides the bytes. */
struct reply {
	const struct rules_rule	*rule;		/* NULL: the default reply */
	size_t			 choice;	/* which of the rule's replies */
	bool			 silent;	/* no_reply */
	bool			 close;
	uint64_t		 delay_ms;
};

/*
 * Fills in the costly parts of ctx that the chosen template needs
 * (TEMPLATE_NEED_* bits): the server's address, the time.
 */
typedef void (*reply_fill_fn)(struct template_ctx *, unsigned int needs,
	    void *arg);

/*
 * Answers message m: finds the rule, picks the reply (cycle, when not
 * NULL, holds the per-connection counters of the rule set's cycling
 * rules), renders it with its terminator onto out. ctx comes with the
 * client's part filled in. Returns 0 or -ENOMEM.
 */
int	reply_build(const struct conf *, const struct frame_msg *m,
	    const struct sockaddr *peer, struct template_ctx *ctx,
	    reply_fill_fn fill, void *arg, uint32_t *cycle, struct buf *out,
	    struct reply *res);

/* The rule's name for logs: its name, or its number from 1. */
const char *reply_rule_label(const struct rules_rule *, char *, size_t);

#endif

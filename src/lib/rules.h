/* SPDX-License-Identifier: ISC */
#ifndef ECHOREPLYD_RULES_H
#define ECHOREPLYD_RULES_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "addr.h"
#include "template.h"

#define RULES_REGEX_MAX		4096	/* bytes of a regex */
#define RULES_REGEX_COUNT_MAX	255	/* the most a {m,n} may say */
#define RULES_REGEX_GROUPS_MAX	32	/* groups in groups */
#define RULES_REGEX_NEST_MAX	4	/* repetitions of repeated groups */

enum rules_kind {
	RULES_ANY,		/* no pattern: every message */
	RULES_EXACT,
	RULES_PREFIX,
	RULES_SUFFIX,
	RULES_CONTAINS,
	RULES_GLOB,
	RULES_REGEX,
};

/* One compiled rule. Everything here is owned by the rule set. */
struct rules_rule {
	char		 *name;		/* NULL when the rule has none */
	char		  number[24];	/* "#N", what a rule without one is called */
	size_t		  index;	/* position in the file, from 0 */
	unsigned int	  line;		/* where it was defined, for -n and logs */
	enum rules_kind	  kind;
	bool		  ignore_case;
	char		 *pattern;
	size_t		  pattern_len;
	regex_t		  re;		/* RULES_REGEX */
	char		**listeners;	/* empty: any listener */
	size_t		  nlisteners;
	struct addr_net *nets;		/* empty: any client */
	size_t		  nnets;
	char		**snis;		/* globs; empty: TLS or not */
	size_t		  nsnis;
	struct template	**replies;	/* empty: no reply */
	size_t		  nreplies;
	size_t		  cycle_slot;	/* nreplies > 1: per-connection counter */
	bool		  close;
	uint64_t	  delay_ms;
};

struct rules;

/* Describes a rule for rules_add(); the rule set copies what it keeps. */
struct rules_def {
	const char	 *name;
	unsigned int	  line;
	enum rules_kind	  kind;
	const char	 *pattern;	/* NUL-terminated, */
	size_t		  pattern_len;	/* and may hold NULs (0: strlen) */
	bool		  ignore_case;
	const char *const *listeners;
	size_t		  nlisteners;
	const struct addr_net *nets;
	size_t		  nnets;
	const char *const *snis;	/* well-formed globs */
	size_t		  nsnis;
	struct template	**replies;	/* taken over by the rule set */
	size_t		  nreplies;
	bool		  close;
	uint64_t	  delay_ms;
};

struct rules	*rules_new(void);
void		 rules_free(struct rules *);

/*
 * Checks a pattern of the given kind (regexes compile, globs are well
 * formed). On error returns -EINVAL with a message in err; *nsub is the
 * number of groups a regex has.
 */
int	rules_check_pattern(enum rules_kind, const char *, bool ignore_case,
	    size_t *nsub, char *err, size_t errlen);
/* Appends a rule. The pattern must have passed rules_check_pattern(). */
int	rules_add(struct rules *, const struct rules_def *);
size_t	rules_count(const struct rules *);
const struct rules_rule *rules_get(const struct rules *, size_t);
/* How many rules cycle through several replies. */
size_t	rules_cycle_slots(const struct rules *);
/* Tells one rule set from every other made by this process. */
uint64_t rules_generation(const struct rules *);

/*
 * The first rule, in file order, that matches the message from this
 * client (peer may be NULL: matches no network rule) on this listener,
 * which asked for this TLS server name (NULL or "": matches no rule
 * with 'sni'), or NULL. For a regex rule, caps[0..TEMPLATE_CAPTURES) receive the
 * match and its groups, with offsets into msg.
 */
const struct rules_rule *rules_match(const struct rules *, const char *msg,
	    size_t len, const char *listener, const struct sockaddr *peer,
	    const char *sni, regmatch_t caps[TEMPLATE_CAPTURES]);

const char *rules_kind_name(enum rules_kind);

#endif

/* SPDX-License-Identifier: ISC */
#ifndef ECHOREPLYD_RULES_H
#define ECHOREPLYD_RULES_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "addr.h"
#include "counts.h"
#include "rng.h"
#include "template.h"

#define RULES_REGEX_MAX		4096	/* bytes of a regex */
#define RULES_REGEX_COUNT_MAX	255	/* the most a {m,n} may say */
#define RULES_REGEX_GROUPS_MAX	32	/* groups in groups */
#define RULES_REGEX_NEST_MAX	4	/* repetitions of repeated groups */
#define RULES_REGEX_SIZE_MAX	2048	/* atoms: rules_regex_size() */
#define RULES_STATE_START	0	/* every connection's first state */
#define RULES_STATE_NONE	UINT32_MAX	/* no next_state */

/* What a rule's reply goes through on its way out (all off: zero). */
struct rules_fault {
	bool		  reset;	/* an RST after the reply */
	bool		  half_close;	/* FIN after it, reading on */
	bool		  hang;		/* no more reading */
	bool		  hang_writes;	/* nor writing */
	bool		  keep_open;	/* after garbage or truncate */
	size_t		  garbage;	/* random bytes after the reply */
	bool		  truncates;	/* to truncate bytes */
	size_t		  truncate;
	uint32_t	  duplicate;	/* copies after the first */
	uint32_t	  chunk_bytes;	/* 0: all at once */
	uint64_t	  chunk_interval_ms;
	uint64_t	  bandwidth;	/* bytes per second; 0: none */
};

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
	const char	 *label;	/* name, else number: in logs */
	size_t		  label_len;
	size_t		  index;	/* position in the file, from 0 */
	const char	 *file;		/* where it was defined (NULL: the */
	unsigned int	  line;		/* configuration's file), for -n */
	enum rules_kind	  kind;
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
	uint64_t	  delay_ms;	/* at least, */
	uint64_t	  delay_max_ms;	/* at most */
	struct rules_fault fault;
	/* scenarios */
	uint32_t	 *states;	/* empty: in any state */
	size_t		  nstates;
	double		  probability;	/* 1: always */
	uint32_t	  next_state;	/* RULES_STATE_NONE: stays */
	uint32_t	  times;	/* 0: always */
	bool		  ignore_case;
	bool		  close;
	bool		  operator;	/* asks the operator first */
	bool		  faulty;	/* any of fault is set */
	bool		  reset_counts;
	bool		  counts;	/* keeps a count per connection */
	bool		  anyone;	/* no condition on who sends it */
	/*
	 * An exact rule that anyone gets, always, with one fixed text and
	 * nothing else (no state, count, draw, delay, fault, operator or
	 * close): its reply is fixed_text, whoever sends the message.
	 */
	bool		  fixed;
	const char	 *fixed_text;	/* in the rule's template */
	size_t		  fixed_len;
};

struct rules;

/* Describes a rule for rules_add(); the rule set copies what it keeps. */
struct rules_def {
	const char	 *name;
	const char	 *file;		/* kept, not copied: outlive the set */
	unsigned int	  line;
	enum rules_kind	  kind;
	const char	 *pattern;	/* NUL-terminated, */
	size_t		  pattern_len;	/* and may hold NULs (0: strlen) */
	bool		  ignore_case;
	regex_t		 *re;		/* compiled: taken over (NULL: */
					/* rules_add() compiles it) */
	const char *const *listeners;
	size_t		  nlisteners;
	const struct addr_net *nets;
	size_t		  nnets;
	const char *const *snis;	/* well-formed globs */
	size_t		  nsnis;
	struct template	**replies;	/* taken over by the rule set */
	size_t		  nreplies;
	bool		  close;
	bool		  operator;
	uint64_t	  delay_ms;
	uint64_t	  delay_max_ms;	/* < delay_ms: the same */
	struct rules_fault fault;
	const char *const *states;	/* valid names */
	size_t		  nstates;
	const char	 *next_state;	/* NULL: none */
	uint32_t	  times;
	bool		  reset_counts;
	bool		  chancy;	/* a draw, with */
	double		  probability;	/* in [0, 1] */
};

/* Where a message is matched: who sent it, and its connection's story. */
struct rules_who {
	const char		*listener;
	const struct sockaddr	*peer;	/* NULL: matches no network rule */
	const char		*sni;	/* NULL or "": matches no 'sni' rule */
	uint32_t		 state;
	const struct counts	*counts;	/* NULL: all 0 */
	struct rng		*rng;	/* NULL: only probability 0 fails */
};

struct rules	*rules_new(void);
void		 rules_free(struct rules *);

/*
 * How large glibc's regcomp() makes a regex: its atoms (a character, a
 * bracket expression, a group), each counted once for every copy that the
 * repetitions around it make ("{m,n}": n, "{m,}": m + 1, "+": 2, "*" and
 * "?": 1), so that nested counts multiply; alternatives add up. It
 * saturates at UINT64_MAX. Pure: the pattern is not compiled.
 */
uint64_t rules_regex_size(const char *);
/*
 * Checks a pattern of the given kind: a glob is well formed; a regex is
 * within its cost (bytes, counts, nesting, and rules_regex_size() at most
 * RULES_REGEX_SIZE_MAX) and compiles, with REG_EXTENDED | cflags
 * (REG_ICASE, REG_NOSUB), into *re, which the caller then owns (for
 * rules_def.re, or regfree()); NULL re: compiled only to be checked.
 * *nsub is the number of groups a regex has. On error returns -EINVAL
 * with a message in err, and *re is not compiled.
 */
int	rules_check_pattern(enum rules_kind, const char *, int cflags,
	    regex_t *re, size_t *nsub, char *err, size_t errlen);
/* Appends a rule. The pattern must have passed rules_check_pattern(). */
int	rules_add(struct rules *, const struct rules_def *);
size_t	rules_count(const struct rules *);
const struct rules_rule *rules_get(const struct rules *, size_t);
/* The number of a state name (interned: RULES_STATE_NONE on no memory). */
uint32_t rules_state(struct rules *, const char *);
/* The name of state number n ("start" for RULES_STATE_START). */
const char *rules_state_name(const struct rules *, uint32_t);
/* Tells one rule set from every other made by this process. */
uint64_t rules_generation(const struct rules *);

/*
 * The first rule, in file order, that matches the message from who:
 * its listener, client, TLS server name, the connection's state and
 * counts (a rule with 'times' matched that often is passed over), then
 * a draw for a rule with a probability (one that fails is passed over
 * too). NULL when none does. For a regex rule, caps[0..TEMPLATE_CAPTURES)
 * receive the match and its groups, with offsets into msg.
 */
const struct rules_rule *rules_match(const struct rules *, const char *msg,
	    size_t len, const struct rules_who *,
	    regmatch_t caps[TEMPLATE_CAPTURES]);

/*
 * Where every rule is exact (rules_exact_only()), the rule that answers
 * msg whoever sends it, when that can be told without asking who: into
 * *r NULL when no rule has msg's bytes, or the first rule that has them
 * when it is fixed. False when only rules_match() can tell.
 */
bool	rules_exact_only(const struct rules *);
bool	rules_match_fixed(const struct rules *, const char *msg, size_t len,
	    const struct rules_rule **r);

const char *rules_kind_name(enum rules_kind);

#endif

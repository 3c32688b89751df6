/* SPDX-License-Identifier: ISC */
/*
 * What the unit tests build their cases from: templates, rules added the
 * way config-rules.c adds them, and client addresses. Each helper bails
 * out (exit 99) when the library refuses what a test meant to be valid.
 * static inline: every test program uses only some of them.
 */
#ifndef ECHOREPLYD_FIXTURE_H
#define ECHOREPLYD_FIXTURE_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "addr.h"
#include "rules.h"
#include "template.h"

static inline struct template *
tpl(const char *src)
{
	struct template	*t;
	char		 err[256] = "";

	if (template_compile(src, &t, err, sizeof(err)) < 0) {
		printf("Bail out! template \"%s\": %s\n", src, err);
		exit(99);
	}
	return t;
}

/* Optional parts of a rule for add_rule(). */
struct opts {
	const char *const *listeners;
	size_t		   nlisteners;
	const char *const *nets;
	size_t		   nnets;
	const char *const *snis;
	size_t		   nsnis;
	const char *const *replies;	/* NULL: one reply, the rule's name */
	size_t		   nreplies;
	bool		   no_reply;
	bool		   close;
	uint64_t	   delay_ms;
	uint64_t	   delay_max_ms;
	/* scenarios */
	const char *const *states;
	size_t		   nstates;
	const char	  *next_state;
	uint32_t	   times;
	bool		   reset_counts;
	bool		   chancy;	/* with probability */
	double		   probability;
	struct rules_fault fault;
};

/* Appends a rule the way config-rules.c does. */
static inline const struct rules_rule *
add_rule(struct rules *rs, const char *name, enum rules_kind kind,
    const char *pattern, bool ci, const struct opts *o)
{
	static const struct opts none;
	struct rules_def	 d;
	struct addr_net		 nets[8];
	struct template		*replies[8];
	regex_t			 re;
	char			 err[256] = "";
	size_t			 nsub, i;
	bool			 subs = false;

	if (o == NULL)
		o = &none;
	memset(&d, 0, sizeof(d));
	for (i = 0; i < o->nnets; i++)
		if (addr_net_parse(o->nets[i], &nets[i]) < 0) {
			printf("Bail out! network \"%s\"\n", o->nets[i]);
			exit(99);
		}
	if (o->replies != NULL) {
		for (i = 0; i < o->nreplies; i++)
			replies[i] = tpl(o->replies[i]);
		d.nreplies = o->nreplies;
	} else if (!o->no_reply) {
		replies[0] = tpl(name != NULL ? name : "unnamed");
		d.nreplies = 1;
	}
	/* compiled once, knowing whether the replies use its groups */
	for (i = 0; i < d.nreplies; i++)
		if (template_max_capture(replies[i]) >= 0)
			subs = true;
	if (pattern != NULL && rules_check_pattern(kind, pattern,
	    (ci ? REG_ICASE : 0) | (subs ? 0 : REG_NOSUB), &re, &nsub,
	    err, sizeof(err)) < 0) {
		printf("Bail out! pattern \"%s\": %s\n", pattern, err);
		exit(99);
	}
	if (kind == RULES_REGEX)
		d.re = &re;
	d.name = name;
	d.line = (unsigned int)rules_count(rs) + 10;
	d.kind = kind;
	d.pattern = pattern;
	d.ignore_case = ci;
	d.listeners = o->listeners;
	d.nlisteners = o->nlisteners;
	d.nets = nets;
	d.nnets = o->nnets;
	d.snis = o->snis;
	d.nsnis = o->nsnis;
	d.replies = replies;
	d.close = o->close;
	d.delay_ms = o->delay_ms;
	d.delay_max_ms = o->delay_max_ms;
	d.states = o->states;
	d.nstates = o->nstates;
	d.next_state = o->next_state;
	d.times = o->times;
	d.reset_counts = o->reset_counts;
	d.chancy = o->chancy;
	d.probability = o->probability;
	d.fault = o->fault;
	if (rules_add(rs, &d) < 0) {
		printf("Bail out! rules_add \"%s\"\n", name ? name : "");
		exit(99);
	}
	return rules_get(rs, rules_count(rs) - 1);
}

#define add(rs, name, kind, pat, ci) add_rule(rs, name, kind, pat, ci, NULL)

static inline const struct sockaddr *
peer4(struct sockaddr_storage *ss, const char *a)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(40000);
	if (inet_pton(AF_INET, a, &sin->sin_addr) != 1) {
		printf("Bail out! address %s\n", a);
		exit(99);
	}
	return (const struct sockaddr *)ss;
}

static inline const struct sockaddr *
peer6(struct sockaddr_storage *ss, const char *a)
{
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(40000);
	if (inet_pton(AF_INET6, a, &sin6->sin6_addr) != 1) {
		printf("Bail out! address %s\n", a);
		exit(99);
	}
	return (const struct sockaddr *)ss;
}

static inline const struct sockaddr *
peer_unix(struct sockaddr_storage *ss)
{
	struct sockaddr_un	*sun = (struct sockaddr_un *)ss;

	memset(ss, 0, sizeof(*ss));
	sun->sun_family = AF_UNIX;
	strlcpy(sun->sun_path, "/run/echoreplyd.sock", sizeof(sun->sun_path));
	return (const struct sockaddr *)ss;
}

#endif

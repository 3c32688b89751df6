/* SPDX-License-Identifier: ISC */
/*
 * Rule lookup cost against the number of exact rules: matches per second
 * with 1, 100 and 10,000 exact rules (plus a few pattern rules behind
 * them), for hits spread over all rules and for misses. A benchmark, not
 * a test: it prints figures and asserts nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rules.h"
#include "template.h"

#define ROUNDS	3
#define BATCH	100000

static double
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct rules *
build(size_t nexact)
{
	static const struct { enum rules_kind kind; const char *p; } tail[] = {
		{ RULES_PREFIX, "admin " }, { RULES_SUFFIX, ".tmp" },
		{ RULES_GLOB, "slow*" }, { RULES_CONTAINS, "secret" },
	};
	struct rules		*rs = rules_new();
	struct rules_def	 d;
	struct template		*t[1];
	char			 pat[32], err[64];
	size_t			 i;

	for (i = 0; i < nexact + 4; i++) {
		memset(&d, 0, sizeof(d));
		if (i < nexact) {
			snprintf(pat, sizeof(pat), "key-%zu", i);
			d.kind = RULES_EXACT;
			d.pattern = pat;
		} else {
			d.kind = tail[i - nexact].kind;
			d.pattern = tail[i - nexact].p;
		}
		if (template_compile("+OK", &t[0], err, sizeof(err)) < 0)
			abort();
		d.replies = t;
		d.nreplies = 1;
		if (rules_add(rs, &d) < 0)
			abort();
	}
	return rs;
}

/* Matches per second over BATCH messages, the median of ROUNDS. */
static double
rate(const struct rules *rs, char (*msgs)[32], size_t *lens, size_t nmsgs)
{
	regmatch_t	 caps[TEMPLATE_CAPTURES];
	struct rules_who who = { .listener = "main" };
	double		 r[ROUNDS], t0, tmp;
	size_t		 i, k, hits = 0;

	for (k = 0; k < ROUNDS; k++) {
		t0 = now();
		for (i = 0; i < BATCH; i++)
			hits += rules_match(rs, msgs[i % nmsgs],
			    lens[i % nmsgs], &who, caps) != NULL;
		r[k] = BATCH / (now() - t0);
	}
	if (hits == (size_t)-1)	/* keep the loop from being optimised out */
		puts("");
	for (i = 0; i < ROUNDS; i++)
		for (k = i + 1; k < ROUNDS; k++)
			if (r[k] < r[i]) {
				tmp = r[i];
				r[i] = r[k];
				r[k] = tmp;
			}
	return r[ROUNDS / 2];
}

int
main(void)
{
	static const size_t	 sizes[] = { 1, 100, 10000 };
	static char		 msgs[1024][32];
	static size_t		 lens[1024];
	struct rules		*rs;
	double			 hit, miss, base_hit = 0, base_miss = 0;
	size_t			 s, i;

	printf("exact rules  hits/s        misses/s      hits vs 1 rule  "
	    "misses vs 1 rule\n");
	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		rs = build(sizes[s]);
		for (i = 0; i < 1024; i++) {
			/* spread over every rule, first to last */
			lens[i] = (size_t)snprintf(msgs[i], sizeof(msgs[i]),
			    "key-%zu", i * 7919 % sizes[s]);
		}
		hit = rate(rs, msgs, lens, 1024);
		for (i = 0; i < 1024; i++)
			lens[i] = (size_t)snprintf(msgs[i], sizeof(msgs[i]),
			    "hello %zu", i);
		miss = rate(rs, msgs, lens, 1024);
		if (s == 0) {
			base_hit = hit;
			base_miss = miss;
		}
		printf("%-12zu %-13.0f %-13.0f %-15.2f %.2f\n", sizes[s], hit,
		    miss, hit / base_hit, miss / base_miss);
		rules_free(rs);
	}
	return 0;
}

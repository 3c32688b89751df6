/* SPDX-License-Identifier: ISC */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "ascii.h"
#include "glob.h"
#include "rules.h"

struct slot {
	uint64_t	 hash;
	uint32_t	 rule;		/* index + 1; 0 is an empty slot */
	bool		 ci;
};

struct rules {
	struct rules_rule	**v;
	size_t			  n;
	size_t			 *inexact;	/* rule indices, ascending */
	size_t			  ninexact;
	struct slot		 *slots;	/* exact rules by hash */
	size_t			  nslots;	/* a power of two */
	size_t			  nexact;
	bool			  has_cs, has_ci;
	uint64_t		  generation;
	/* state names by number ("start" is 0), and a hash table on them */
	char			**states;
	uint32_t		  nstates;
	uint32_t		 *state_slots;	/* number + 1; 0: free */
	uint32_t		  state_cap;	/* a power of two */
};

/*
 * Eight or four bytes as a number (memcpy: unaligned). In the machine's
 * byte order: the table is built and looked up on the same machine, and
 * the case folding below works byte by byte.
 */
static inline uint64_t
load64(const char *p)
{
	uint64_t	 w;

	memcpy(&w, p, sizeof(w));
	return w;
}

static inline uint64_t
load32(const char *p)
{
	uint32_t	 w;

	memcpy(&w, p, sizeof(w));
	return w;
}

/*
 * ascii_lower() of each byte of w at once: a byte from 'A' to 'Z' (the
 * high bit clear, at least 'A', at most 'Z') gets 0x20 set.
 */
static inline uint64_t
lower64(uint64_t w)
{
	const uint64_t	 ones = 0x0101010101010101ULL, highs = ones * 0x80;
	uint64_t	 low7 = w & ~highs;
	uint64_t	 ge_a = low7 + ones * (0x80 - 'A');
	uint64_t	 gt_z = low7 + ones * (0x80 - 'Z' - 1);

	return w | ((ge_a & ~gt_z & ~w & highs) >> 2);
}

/* One word into the hash: a multiply and a shift (murmur's mixing). */
static inline uint64_t
mix(uint64_t h, uint64_t w)
{
	h ^= w * 0x87c37b91114253d5ULL;
	h = (h << 31 | h >> 33) * 0x4cf5ad432745937fULL;
	return h;
}

/*
 * A word at a time: this runs once for every message an exact rule may
 * answer. The last one to seven bytes are read in at most two loads that
 * may overlap (as wyhash does); the length is mixed in, so that those
 * overlaps cannot make two lengths alike. Then murmur3's finaliser: the
 * table takes the low bits.
 */
static uint64_t
hash_bytes(const char *p, size_t n, bool ci)
{
	uint64_t	 h = 0x9e3779b97f4a7c15ULL ^ n, w;
	size_t		 i = 0;

	for (; i + 8 <= n; i += 8) {
		w = load64(p + i);
		h = mix(h, ci ? lower64(w) : w);
	}
	if (i < n) {
		if (n - i >= 4)
			w = load32(p + i) | load32(p + n - 4) << 32;
		else
			w = (uint64_t)(unsigned char)p[i] |
			    (uint64_t)(unsigned char)p[i + (n - i) / 2] << 8 |
			    (uint64_t)(unsigned char)p[n - 1] << 16;
		h = mix(h, ci ? lower64(w) : w);
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

static inline bool
eq_bytes(const char *a, const char *b, size_t n, bool ci)
{
	size_t	 i;

	if (!ci)
		return memcmp(a, b, n) == 0;
	for (i = 0; i < n; i++)
		if (ascii_lower((unsigned char)a[i]) != ascii_lower((unsigned char)b[i]))
			return false;
	return true;
}

const char *
rules_kind_name(enum rules_kind k)
{
	switch (k) {
	case RULES_EXACT:	return "exact";
	case RULES_PREFIX:	return "prefix";
	case RULES_SUFFIX:	return "suffix";
	case RULES_CONTAINS:	return "contains";
	case RULES_GLOB:	return "glob";
	case RULES_REGEX:	return "regex";
	default:		return "any";
	}
}

static uint64_t
add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t
mul_sat(uint64_t a, uint64_t b)
{
	return b != 0 && a > UINT64_MAX / b ? UINT64_MAX : a * b;
}

/*
 * The length of the bracket expression at p ("[" ... "]"): "]" first (after
 * "^") is a member, and so is a "]" that closes "[:", "[." or "[=". The
 * rest of p when it is not closed (regcomp() refuses that).
 */
static size_t
bracket_len(const char *p)
{
	size_t	 i = 1;
	char	 c;

	if (p[i] == '^')
		i++;
	if (p[i] == ']')
		i++;
	for (; p[i] != '\0' && p[i] != ']'; i++)
		if (p[i] == '[' && (p[i + 1] == ':' || p[i + 1] == '.' ||
		    p[i + 1] == '=')) {
			c = p[i + 1];
			for (i += 2; p[i] != '\0' &&
			    !(p[i] == c && p[i + 1] == ']'); i++)
				;
			if (p[i] == '\0')
				return i;
			i++;
		}
	return p[i] == ']' ? i + 1 : i;
}

/* A decimal count in a "{m,n}", up to the next non-digit; capped. */
static uint64_t
count_at(const char *p, size_t *i)
{
	uint64_t	 v = 0;

	for (; p[*i] >= '0' && p[*i] <= '9'; (*i)++)
		if ((v = v * 10 + (uint64_t)(p[*i] - '0')) > UINT32_MAX)
			v = UINT32_MAX;
	return v;
}

/*
 * The copies regcomp() makes of what a repetition at p repeats ("{2,5}":
 * 5, "{2,}": 3, "+": 2, "*" and "?": 1), its length in *n; 0 when there
 * is no repetition at p.
 */
static uint64_t
repeat_copies(const char *p, size_t *n)
{
	uint64_t	 lo, hi;
	size_t		 i = 1;

	*n = 1;
	switch (p[0]) {
	case '*':
	case '?':
		return 1;
	case '+':
		return 2;
	case '{':
		break;
	default:
		return 0;
	}
	lo = hi = count_at(p, &i);
	if (p[i] == ',') {
		i++;
		hi = p[i] >= '0' && p[i] <= '9' ? count_at(p, &i) : lo + 1;
	}
	if (p[i] != '}')
		return 0;	/* not an interval: regcomp() refuses it */
	*n = i + 1;
	if (hi < lo)
		hi = lo;
	return hi > 0 ? hi : 1;
}

uint64_t
rules_regex_size(const char *p)
{
	/* per open group: its alternatives so far, the branch, its last atom */
	struct {
		uint64_t	 alts, seq, last;
	}		 lv[RULES_REGEX_GROUPS_MAX + 1];
	uint64_t	 k, size;
	size_t		 i, n, top = 0;

	memset(&lv[0], 0, sizeof(lv[0]));
	for (i = 0; p[i] != '\0'; i += n) {
		if ((k = repeat_copies(p + i, &n)) > 0) {
			/* the last atom, k times */
			size = mul_sat(lv[top].last, k);
			lv[top].seq = add_sat(lv[top].seq - lv[top].last, size);
			lv[top].last = size;
			continue;
		}
		n = 1;
		if (p[i] == '(') {
			if (top == RULES_REGEX_GROUPS_MAX)
				return UINT64_MAX;
			top++;
			memset(&lv[top], 0, sizeof(lv[top]));
			continue;
		}
		if (p[i] == '|') {
			lv[top].alts = add_sat(lv[top].alts,
			    add_sat(lv[top].seq, 1));
			lv[top].seq = lv[top].last = 0;
			continue;
		}
		size = 1;
		if (p[i] == ')' && top > 0) {
			/* the group is an atom: itself and what it holds */
			size = add_sat(1, add_sat(lv[top].alts, lv[top].seq));
			top--;
		} else if (p[i] == '\\' && p[i + 1] != '\0')
			n = 2;
		else if (p[i] == '[')
			n = bracket_len(p + i);
		lv[top].seq = add_sat(lv[top].seq, size);
		lv[top].last = size;
	}
	for (; top > 0; top--)		/* unclosed: regcomp() refuses it */
		lv[top - 1].seq = add_sat(lv[top - 1].seq, add_sat(1,
		    add_sat(lv[top].alts, lv[top].seq)));
	return add_sat(lv[0].alts, lv[0].seq);
}

/*
 * glibc's regcomp() doubles its work for each repetition stacked on
 * another ("a++++"), and writes each bounded repetition out as that many
 * copies, so nested counts multiply: a short pattern could take minutes
 * and gigabytes to load. Refuse those, long patterns and large counts.
 */
static int
check_regex_cost(const char *p, char *err, size_t errlen)
{
	int		 depth[RULES_REGEX_GROUPS_MAX + 1];
	size_t		 i, n = strlen(p), top = 0;
	int		 atom = 0;	/* repetition depth of the last atom */
	bool		 prev_rep = false, rep;
	unsigned long	 v;
	uint64_t	 size;
	char		*end;

	if (n > RULES_REGEX_MAX) {
		snprintf(err, errlen, "regex longer than %d bytes",
		    RULES_REGEX_MAX);
		return -EINVAL;
	}
	depth[0] = 0;
	for (i = 0; i < n; i++) {
		rep = false;
		if (p[i] == '\\') {
			i++;
			atom = 0;
		} else if (p[i] == '[') {
			i += bracket_len(p + i) - 1;
			atom = 0;
		} else if (p[i] == '(') {
			if (top == RULES_REGEX_GROUPS_MAX) {
				snprintf(err, errlen, "regex nests groups "
				    "more than %d deep", RULES_REGEX_GROUPS_MAX);
				return -EINVAL;
			}
			depth[++top] = 0;
			atom = 0;
		} else if (p[i] == ')' && top > 0) {
			/* the group is an atom as deep as what it holds */
			atom = depth[top--];
		} else if (p[i] == '{') {
			for (i++; i < n && p[i] != '}'; i++) {
				if (p[i] < '0' || p[i] > '9')
					continue;
				v = strtoul(p + i, &end, 10);
				if (v > RULES_REGEX_COUNT_MAX) {
					snprintf(err, errlen, "regex repeat "
					    "count over %d",
					    RULES_REGEX_COUNT_MAX);
					return -EINVAL;
				}
				i = (size_t)(end - p) - 1;
			}
			rep = true;
		} else if (p[i] == '*' || p[i] == '+' || p[i] == '?')
			rep = true;
		else
			atom = 0;
		if (!rep) {
			prev_rep = false;
			continue;
		}
		if (prev_rep) {
			snprintf(err, errlen, "regex has a repetition on a "
			    "repetition (near \"%.20s\"); these are refused, "
			    "as they can take exponential time to compile",
			    i < n ? p + i : "");
			return -EINVAL;
		}
		prev_rep = true;
		/* repeated groups inside repeated groups: the same cost */
		if (++atom > RULES_REGEX_NEST_MAX) {
			snprintf(err, errlen, "regex repeats groups that "
			    "repeat, more than %d deep; this is refused, as "
			    "it can take exponential time to compile",
			    RULES_REGEX_NEST_MAX);
			return -EINVAL;
		}
		if (atom > depth[top])
			depth[top] = atom;
	}
	if ((size = rules_regex_size(p)) > RULES_REGEX_SIZE_MAX) {
		snprintf(err, errlen, "regex would be %llu atoms once "
		    "regcomp() has written out its repetitions (nested counts "
		    "multiply), more than %d", (unsigned long long)size,
		    RULES_REGEX_SIZE_MAX);
		return -EINVAL;
	}
	return 0;
}

int
rules_check_pattern(enum rules_kind kind, const char *pattern, int cflags,
    regex_t *re, size_t *nsub, char *err, size_t errlen)
{
	regex_t	 mine;
	int	 r;

	*nsub = 0;
	if (kind == RULES_GLOB)
		return glob_check(pattern, err, errlen);
	if (kind != RULES_REGEX)
		return 0;
	if (check_regex_cost(pattern, err, errlen) < 0)
		return -EINVAL;
	if (re == NULL)
		re = &mine;
	if ((r = regcomp(re, pattern, REG_EXTENDED | cflags)) != 0) {
		char msg[128];

		regerror(r, re, msg, sizeof(msg));
		snprintf(err, errlen, "regex does not compile: %s", msg);
		return -EINVAL;
	}
	*nsub = re->re_nsub;
	if (re == &mine)
		regfree(&mine);
	return 0;
}

/* Who asks: what a rule's conditions other than its pattern look at. */
static bool
sni_allowed(const struct rules_rule *r, const char *sni)
{
	size_t	 i;

	if (sni == NULL || sni[0] == '\0')
		return false;
	for (i = 0; i < r->nsnis; i++)
		if (glob_match(r->snis[i], strlen(r->snis[i]), sni,
		    strlen(sni), true))
			return true;
	return false;
}

static bool
allowed(const struct rules_rule *r, const struct rules_who *w)
{
	const char	*listener = w->listener;
	size_t		 i;

	if (r->anyone)
		return true;
	if (r->nstates > 0) {
		for (i = 0; i < r->nstates; i++)
			if (r->states[i] == w->state)
				break;
		if (i == r->nstates)
			return false;
	}
	if (r->times > 0 && counts_get(w->counts, r->index) >= r->times)
		return false;
	if (r->nsnis > 0 && !sni_allowed(r, w->sni))
		return false;
	if (r->nlisteners > 0) {
		if (listener == NULL)
			return false;
		for (i = 0; i < r->nlisteners; i++)
			if (strcmp(r->listeners[i], listener) == 0)
				break;
		if (i == r->nlisteners)
			return false;
	}
	return r->nnets == 0 || addr_nets_match(r->nets, r->nnets, w->peer);
}

static bool
contains(const char *s, size_t slen, const char *p, size_t plen, bool ci)
{
	size_t	 i;

	if (plen == 0)
		return true;
	if (!ci)
		return memmem(s, slen, p, plen) != NULL;
	for (i = 0; i + plen <= slen; i++)
		if (eq_bytes(s + i, p, plen, true))
			return true;
	return false;
}

static bool
match_one(const struct rules_rule *r, const char *msg, size_t len,
    regmatch_t *caps)
{
	switch (r->kind) {
	case RULES_ANY:
		return true;
	case RULES_EXACT:
		return len == r->pattern_len &&
		    eq_bytes(msg, r->pattern, len, r->ignore_case);
	case RULES_PREFIX:
		return len >= r->pattern_len &&
		    eq_bytes(msg, r->pattern, r->pattern_len, r->ignore_case);
	case RULES_SUFFIX:
		return len >= r->pattern_len && eq_bytes(msg + len -
		    r->pattern_len, r->pattern, r->pattern_len,
		    r->ignore_case);
	case RULES_CONTAINS:
		return contains(msg, len, r->pattern, r->pattern_len,
		    r->ignore_case);
	case RULES_GLOB:
		return glob_match(r->pattern, r->pattern_len, msg, len,
		    r->ignore_case);
	case RULES_REGEX:
		/* REG_STARTEND: the message is bytes, NULs included */
		caps[0].rm_so = 0;
		caps[0].rm_eo = (regoff_t)len;
		return regexec(&r->re, msg, TEMPLATE_CAPTURES, caps,
		    REG_STARTEND) == 0;
	}
	return false;
}

static void
slot_put(struct slot *slots, size_t nslots, uint64_t h, size_t rule, bool ci)
{
	size_t	 i = (size_t)h & (nslots - 1);

	while (slots[i].rule != 0)
		i = (i + 1) & (nslots - 1);
	slots[i].hash = h;
	slots[i].rule = (uint32_t)rule + 1;
	slots[i].ci = ci;
}

static int
index_exact(struct rules *rs, const struct rules_rule *r)
{
	struct slot	*ns;
	size_t		 i, n;

	if ((rs->nexact + 1) * 2 > rs->nslots) {
		n = rs->nslots ? rs->nslots * 2 : 16;
		if ((ns = calloc(n, sizeof(*ns))) == NULL)
			return -ENOMEM;
		for (i = 0; i < rs->nslots; i++)
			if (rs->slots[i].rule != 0)
				slot_put(ns, n, rs->slots[i].hash,
				    rs->slots[i].rule - 1, rs->slots[i].ci);
		free(rs->slots);
		rs->slots = ns;
		rs->nslots = n;
	}
	slot_put(rs->slots, rs->nslots, hash_bytes(r->pattern, r->pattern_len,
	    r->ignore_case), r->index, r->ignore_case);
	rs->nexact++;
	if (r->ignore_case)
		rs->has_ci = true;
	else
		rs->has_cs = true;
	return 0;
}

/*
 * The lowest-numbered exact rule from `from` on that matches and admits
 * the client (w NULL: whoever sends it). Once a message: the common
 * case, a rule for anyone, is decided here.
 */
static size_t
find_exact(const struct rules *rs, const char *msg, size_t len, bool ci,
    const struct rules_who *w, size_t from, size_t best)
{
	const struct rules_rule	*r;
	uint64_t		 h = hash_bytes(msg, len, ci);
	size_t			 i = (size_t)h & (rs->nslots - 1), idx;

	for (; rs->slots[i].rule != 0; i = (i + 1) & (rs->nslots - 1)) {
		if (rs->slots[i].hash != h || rs->slots[i].ci != ci)
			continue;
		idx = rs->slots[i].rule - 1;
		r = rs->v[idx];
		if (idx >= from && idx < best && r->pattern_len == len &&
		    eq_bytes(msg, r->pattern, len, ci) &&
		    (w == NULL || r->anyone || allowed(r, w)))
			best = idx;
	}
	return best;
}

/* The lowest-numbered exact rule from `from` on, in either table. */
static size_t
exact_best(const struct rules *rs, const char *msg, size_t len,
    const struct rules_who *w, size_t from)
{
	size_t	 best = SIZE_MAX;

	if (rs->has_cs)
		best = find_exact(rs, msg, len, false, w, from, best);
	if (rs->has_ci)
		best = find_exact(rs, msg, len, true, w, from, best);
	return best;
}

/* The first rule from index `from` on that matches, draws aside. */
static const struct rules_rule *
match_from(const struct rules *rs, const char *msg, size_t len,
    const struct rules_who *w, size_t from, size_t *pos,
    regmatch_t caps[TEMPLATE_CAPTURES])
{
	const struct rules_rule	*r;
	size_t			 best = exact_best(rs, msg, len, w, from), i;

	/* an earlier pattern rule still wins over the exact hit */
	for (i = *pos; i < rs->ninexact && rs->inexact[i] < best; i++) {
		r = rs->v[rs->inexact[i]];
		if (r->index >= from && allowed(r, w) &&
		    match_one(r, msg, len, caps)) {
			*pos = i + 1;
			return r;
		}
	}
	*pos = i;
	return best == SIZE_MAX ? NULL : rs->v[best];
}

const struct rules_rule *
rules_match(const struct rules *rs, const char *msg, size_t len,
    const struct rules_who *w, regmatch_t caps[TEMPLATE_CAPTURES])
{
	const struct rules_rule	*r;
	size_t			 pos = 0;

	if (rs->n == 0)
		return NULL;	/* the plain echo: nothing to look at */
	r = match_from(rs, msg, len, w, 0, &pos, caps);
	/* a failed draw passes the rule over: the next one that matches */
	while (r != NULL && r->probability < 1 && (w->rng != NULL ?
	    !rng_chance(w->rng, r->probability) : r->probability <= 0))
		r = match_from(rs, msg, len, w, r->index + 1, &pos, caps);
	return r;
}

bool
rules_exact_only(const struct rules *rs)
{
	return rs->ninexact == 0;
}

bool
rules_match_fixed(const struct rules *rs, const char *msg, size_t len,
    const struct rules_rule **r)
{
	size_t	 best;

	if (rs->ninexact > 0)
		return false;
	best = exact_best(rs, msg, len, NULL, 0);
	*r = best == SIZE_MAX ? NULL : rs->v[best];
	return *r == NULL || (*r)->fixed;
}

struct rules *
rules_new(void)
{
	static uint64_t		 generations;
	struct rules		*rs;

	if ((rs = calloc(1, sizeof(*rs))) != NULL)
		rs->generation = ++generations;
	return rs;
}

static void
rule_free(struct rules_rule *r)
{
	size_t	 i;

	if (r == NULL)
		return;
	free(r->name);
	free(r->pattern);
	if (r->kind == RULES_REGEX)
		regfree(&r->re);
	for (i = 0; i < r->nlisteners; i++)
		free(r->listeners[i]);
	free(r->listeners);
	for (i = 0; i < r->nsnis; i++)
		free(r->snis[i]);
	free(r->snis);
	free(r->nets);
	free(r->states);
	for (i = 0; i < r->nreplies; i++)
		template_free(r->replies[i]);
	free(r->replies);
	free(r);
}

int
rules_add(struct rules *rs, const struct rules_def *d)
{
	struct rules_rule	*r, **nv;
	size_t			*ni, i;
	int			 cflags;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		if (d->re != NULL)
			regfree(d->re);
		goto nomem;
	}
	/* the rule owns a compiled regex from here on, whatever happens */
	if (d->re != NULL)
		r->re = *d->re;
	r->index = rs->n;
	/* made once here: a label per message would be a printf each */
	snprintf(r->number, sizeof(r->number), "#%zu", r->index + 1);
	r->file = d->file;
	r->line = d->line;
	r->kind = d->kind;
	r->ignore_case = d->ignore_case;
	r->close = d->close;
	r->operator = d->operator;
	r->delay_ms = d->delay_ms;
	r->delay_max_ms = d->delay_max_ms < d->delay_ms ? d->delay_ms :
	    d->delay_max_ms;
	r->fault = d->fault;
	r->faulty = r->fault.reset || r->fault.half_close || r->fault.hang ||
	    r->fault.garbage > 0 || r->fault.truncates ||
	    r->fault.duplicate > 0 || r->fault.chunk_bytes > 0 ||
	    r->fault.bandwidth > 0;
	r->next_state = RULES_STATE_NONE;
	r->times = d->times;
	r->reset_counts = d->reset_counts;
	r->probability = d->chancy ? d->probability : 1;
	/* the rule owns the templates from here on, whatever happens */
	if (d->nreplies > 0) {
		/* NOLINTNEXTLINE(bugprone-sizeof-expression): of pointers */
		r->replies = calloc(d->nreplies, sizeof(*r->replies));
		if (r->replies == NULL)
			goto nomem;
		/* NOLINTNEXTLINE(bugprone-sizeof-expression): of pointers */
		memcpy(r->replies, d->replies, sizeof(*r->replies) *
		    d->nreplies);
		r->nreplies = d->nreplies;
	}
	if (d->name != NULL && (r->name = strdup(d->name)) == NULL)
		goto nomem;
	r->label = r->name != NULL ? r->name : r->number;
	r->label_len = strlen(r->label);
	if (d->pattern != NULL) {
		r->pattern_len = d->pattern_len > 0 ? d->pattern_len :
		    strlen(d->pattern);
		if ((r->pattern = malloc(r->pattern_len + 1)) == NULL)
			goto nomem;
		memcpy(r->pattern, d->pattern, r->pattern_len);
		r->pattern[r->pattern_len] = '\0';
	}
	if (d->kind == RULES_REGEX && d->re == NULL) {
		cflags = REG_EXTENDED | (d->ignore_case ? REG_ICASE : 0);
		for (i = 0; i < d->nreplies; i++)
			if (template_max_capture(d->replies[i]) >= 0)
				break;
		if (i == d->nreplies)
			cflags |= REG_NOSUB;
		if (regcomp(&r->re, d->pattern, cflags) != 0) {
			r->kind = RULES_ANY;	/* nothing to regfree */
			rule_free(r);
			return -EINVAL;
		}
	}
	if (d->nlisteners > 0) {
		r->listeners = calloc(d->nlisteners, sizeof(*r->listeners));
		if (r->listeners == NULL)
			goto nomem;
		for (i = 0; i < d->nlisteners; i++, r->nlisteners++)
			if ((r->listeners[i] = strdup(d->listeners[i])) == NULL)
				goto nomem;
	}
	if (d->nsnis > 0) {
		if ((r->snis = calloc(d->nsnis, sizeof(*r->snis))) == NULL)
			goto nomem;
		for (i = 0; i < d->nsnis; i++, r->nsnis++)
			if ((r->snis[i] = strdup(d->snis[i])) == NULL)
				goto nomem;
	}
	if (d->nnets > 0) {
		if ((r->nets = calloc(d->nnets, sizeof(*r->nets))) == NULL)
			goto nomem;
		memcpy(r->nets, d->nets, d->nnets * sizeof(*r->nets));
		r->nnets = d->nnets;
	}
	if (d->nstates > 0) {
		if ((r->states = calloc(d->nstates, sizeof(*r->states))) ==
		    NULL)
			goto nomem;
		for (i = 0; i < d->nstates; i++, r->nstates++)
			if ((r->states[i] = rules_state(rs, d->states[i])) ==
			    RULES_STATE_NONE)
				goto nomem;
	}
	if (d->next_state != NULL &&
	    (r->next_state = rules_state(rs, d->next_state)) ==
	    RULES_STATE_NONE)
		goto nomem;
	r->anyone = r->nstates == 0 && r->times == 0 && r->nsnis == 0 &&
	    r->nlisteners == 0 && r->nnets == 0;
	r->counts = r->times > 0 || r->nreplies > 1;
	for (i = 0; i < r->nreplies; i++)
		if (template_needs(r->replies[i]) & TEMPLATE_NEED_COUNT)
			r->counts = true;
	r->fixed = r->kind == RULES_EXACT && r->anyone && !r->counts &&
	    r->probability >= 1 && r->next_state == RULES_STATE_NONE &&
	    !r->faulty && !r->operator && !r->close && r->delay_max_ms == 0 &&
	    r->nreplies == 1 &&
	    template_is_text(r->replies[0], &r->fixed_text, &r->fixed_len);

	/* NOLINTNEXTLINE(bugprone-sizeof-expression): array of pointers */
	if ((nv = reallocarray(rs->v, rs->n + 1, sizeof(*nv))) == NULL)
		goto nomem;
	rs->v = nv;
	if (r->kind == RULES_EXACT) {
		if (index_exact(rs, r) < 0)
			goto nomem;
	} else {
		ni = reallocarray(rs->inexact, rs->ninexact + 1, sizeof(*ni));
		if (ni == NULL)
			goto nomem;
		rs->inexact = ni;
		rs->inexact[rs->ninexact++] = r->index;
	}
	rs->v[rs->n++] = r;
	return 0;
nomem:
	if (r == NULL || r->replies == NULL)
		for (i = 0; i < d->nreplies; i++)
			template_free(d->replies[i]);
	rule_free(r);
	return -ENOMEM;
}

size_t
rules_count(const struct rules *rs)
{
	return rs->n;
}

const struct rules_rule *
rules_get(const struct rules *rs, size_t i)
{
	return i < rs->n ? rs->v[i] : NULL;
}

static uint32_t
state_slot(const struct rules *rs, const char *name)
{
	uint32_t	 i;

	i = (uint32_t)hash_bytes(name, strlen(name), false) &
	    (rs->state_cap - 1);
	while (rs->state_slots[i] != 0 &&
	    strcmp(rs->states[rs->state_slots[i] - 1], name) != 0)
		i = (i + 1) & (rs->state_cap - 1);
	return i;
}

/* Twice the room for state names: 0 or -1. */
static int
states_grow(struct rules *rs)
{
	uint32_t	*ns, *old = rs->state_slots, n = rs->state_cap;
	uint32_t	 i;
	char		**nv;

	nv = reallocarray(rs->states, n ? n : 8, sizeof(*nv));
	if (nv == NULL)
		return -1;
	rs->states = nv;
	if ((ns = calloc(n ? n * 2 : 16, sizeof(*ns))) == NULL)
		return -1;
	rs->state_slots = ns;
	rs->state_cap = n ? n * 2 : 16;
	for (i = 0; i < n; i++)
		if (old[i] != 0)
			ns[state_slot(rs, rs->states[old[i] - 1])] = old[i];
	free(old);
	return 0;
}

uint32_t
rules_state(struct rules *rs, const char *name)
{
	uint32_t	 i;

	/* at most half full; the names array has room for half as many */
	if ((rs->nstates + 1) * 2 > rs->state_cap && states_grow(rs) < 0)
		return RULES_STATE_NONE;
	if (rs->nstates == 0) {
		if ((rs->states[0] = strdup("start")) == NULL)
			return RULES_STATE_NONE;
		rs->state_slots[state_slot(rs, "start")] = 1;
		rs->nstates = 1;
	}
	i = state_slot(rs, name);
	if (rs->state_slots[i] != 0)
		return rs->state_slots[i] - 1;
	if ((rs->states[rs->nstates] = strdup(name)) == NULL)
		return RULES_STATE_NONE;
	rs->state_slots[i] = ++rs->nstates;
	return rs->nstates - 1;
}

const char *
rules_state_name(const struct rules *rs, uint32_t n)
{
	return n < rs->nstates ? rs->states[n] : "start";
}

uint64_t
rules_generation(const struct rules *rs)
{
	return rs->generation;
}

void
rules_free(struct rules *rs)
{
	size_t	 i;

	if (rs == NULL)
		return;
	for (i = 0; i < rs->n; i++)
		rule_free(rs->v[i]);
	free(rs->v);
	free(rs->inexact);
	free(rs->slots);
	for (i = 0; i < rs->nstates; i++)
		free(rs->states[i]);
	free(rs->states);
	free(rs->state_slots);
	free(rs);
}

/*
 * libFuzzer target over the rule matcher and the reply renderer.
 *
 * Input: a 20-byte header (flags, a peer address, the scenario), then
 *	pattern '\0' template '\0' message
 * The pattern and template are C strings as the config file gives them;
 * the message is any bytes, NULs included. Missing parts are empty.
 *
 * It runs glob_match on arbitrary bytes, rules_check_pattern for every
 * kind, builds a rule set with one rule of each kind that accepts the
 * pattern (plus exact rules from the message, restricted and duplicate
 * ones), and checks rules_match against a plain first-match reference.
 * Header bytes 18 and 19 give rules states, next states, times,
 * reset_counts and probabilities 0 or 1/2, and how many times the message
 * is sent on one connection: the reference keeps its own state and counts
 * (with no draws, only probability 0 fails). The chosen rule's templates
 * are rendered with the fuzz message and the regex captures. A
 * disagreement with the reference aborts.
 *
 * Run with fuzz/run [seconds] rules, or build by hand from the top:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined \
 *	-fno-sanitize-recover=all -D_GNU_SOURCE -Isrc \
 *	$(pkg-config --cflags libbsd-overlay) fuzz/fuzz-rules.c src/rules.c \
 *	src/template.c src/buf.c $(pkg-config --libs libbsd-overlay) \
 *	-o fuzz-rules
 *   ./fuzz-rules -max_total_time=300 fuzz/corpus-rules
 * (-D_GNU_SOURCE: rules.c uses memmem(); configure puts it in DEFS.)
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <regex.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "buf.h"
#include "addr.h"
#include "counts.h"
#include "glob.h"
#include "rules.h"
#include "template.h"

#define HDR		20
#define ROUNDS_MAX	8	/* the message sent this often */
#define PAT_MAX		256	/* pattern and template bytes */
#define MSG_MAX		4096
#define REGEX_MAX	48	/* keep regcomp's work bounded */
#define REGEX_MSG_MAX	1024
#define GLOB_REF_MAX	512	/* message bytes the reference glob takes */

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FAIL(...) do {							\
	fprintf(stderr, "fuzz-rules: " __VA_ARGS__);			\
	fputc('\n', stderr);						\
	abort();							\
} while (0)

static unsigned char
lc(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

static bool
ref_eq(const char *a, const char *b, size_t n, bool ci)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (ci ? lc((unsigned char)a[i]) != lc((unsigned char)b[i]) :
		    a[i] != b[i])
			return false;
	return true;
}

/* ---- reference glob: dynamic programming over (pattern, message) ---- */

/* One token of a glob: what byte(s) it takes. */
struct tok {
	enum { T_STAR, T_ANY, T_BYTE, T_CLASS } kind;
	unsigned char	 c;
	bool		 neg;
	unsigned char	 lo[PAT_MAX], hi[PAT_MAX];
	size_t		 n;
};

/* Parses a bracket expression at p[i] == '['; the index past ']' or 0. */
static size_t
ref_class(const char *p, size_t plen, size_t i, struct tok *t)
{
	size_t	 j = i + 1;
	bool	 first = true;

	t->kind = T_CLASS;
	t->neg = false;
	t->n = 0;
	if (j < plen && (p[j] == '!' || p[j] == '^')) {
		t->neg = true;
		j++;
	}
	while (j < plen) {
		unsigned char lo, hi;

		if (p[j] == ']' && !first)
			return j + 1;
		first = false;
		if (p[j] == '\\' && j + 1 < plen)
			j++;
		lo = hi = (unsigned char)p[j++];
		if (j + 1 < plen && p[j] == '-' && p[j + 1] != ']') {
			j++;
			if (p[j] == '\\' && j + 1 < plen)
				j++;
			hi = (unsigned char)p[j++];
		}
		t->lo[t->n] = lo;
		t->hi[t->n] = hi;
		t->n++;
	}
	return 0;
}

static unsigned char
uc(unsigned char c)
{
	return c >= 'a' && c <= 'z' ? (unsigned char)(c - 32) : c;
}

static bool
tok_takes(const struct tok *t, unsigned char c, bool ci)
{
	size_t	 k;
	bool	 hit = false;

	switch (t->kind) {
	case T_ANY:
		return true;
	case T_BYTE:
		return c == t->c || (ci && lc(c) == lc(t->c));
	case T_CLASS:
		for (k = 0; k < t->n && !hit; k++)
			hit = (c >= t->lo[k] && c <= t->hi[k]) || (ci &&
			    ((lc(c) >= t->lo[k] && lc(c) <= t->hi[k]) ||
			    (uc(c) >= t->lo[k] && uc(c) <= t->hi[k])));
		return hit != t->neg;
	default:
		return false;
	}
}

static struct tok	 toks[PAT_MAX + 1];
static unsigned char	 dp[(PAT_MAX + 2) * (GLOB_REF_MAX + 1)];

static bool
ref_glob(const char *p, size_t plen, const char *s, size_t slen, bool ci)
{
	size_t	 nt = 0, i = 0, next, a, b, w = slen + 1;

	while (i < plen) {
		struct tok *t = &toks[nt++];

		if (p[i] == '*') {
			t->kind = T_STAR;
			i++;
		} else if (p[i] == '?') {
			t->kind = T_ANY;
			i++;
		} else if (p[i] == '[' && (next = ref_class(p, plen, i, t)) > 0) {
			i = next;
		} else {
			t->kind = T_BYTE;
			if (p[i] == '\\' && i + 1 < plen)
				i++;
			t->c = (unsigned char)p[i++];
		}
	}
	/* dp[a * w + b]: tokens a.. match s[b..] */
	for (a = nt + 1; a-- > 0; )
		for (b = slen + 1; b-- > 0; ) {
			bool m;

			if (a == nt)
				m = b == slen;
			else if (toks[a].kind == T_STAR)
				m = dp[(a + 1) * w + b] ||
				    (b < slen && dp[a * w + b + 1]);
			else
				m = b < slen && tok_takes(&toks[a],
				    (unsigned char)s[b], ci) &&
				    dp[(a + 1) * w + b + 1];
			dp[a * w + b] = m;
		}
	return dp[0];
}

/* ---- reference first match ------------------------------------------ */

struct ref_rule {
	regex_t		 re;	/* RULES_REGEX: compiled on its own */
	bool		 has_re;
	/* its scenario, as given to rules_add() */
	const char	*states[2];
	size_t		 nstates;
	const char	*next;	/* NULL: stays */
	uint32_t	 times;	/* 0: always */
	bool		 reset;
	int		 chance;	/* 0: none, 1: probability 0, 2: 1/2 */
};

/* The names of the states rules use; "start" is every connection's first. */
static const char *const state_names[] = { "start", "s1", "s2" };

/* Whether a rule admits a connection in state `state` with count `n`. */
static bool
ref_story(const struct ref_rule *rr, const char *state, uint32_t n)
{
	size_t	 i;

	if (rr->times > 0 && n >= rr->times)
		return false;
	if (rr->chance == 1)
		return false;
	if (rr->nstates == 0)
		return true;
	for (i = 0; i < rr->nstates; i++)
		if (strcmp(rr->states[i], state) == 0)
			return true;
	return false;
}

static bool
ref_net_has(const struct addr_net *n, int family, const uint8_t *a)
{
	unsigned int	 bit;

	if (family != n->family)
		return false;
	for (bit = 0; bit < n->prefix; bit++)
		if (((n->addr[bit / 8] ^ a[bit / 8]) >> (7 - bit % 8)) & 1)
			return false;
	return true;
}

static bool
ref_allowed(const struct rules_rule *r, const char *listener,
    const struct sockaddr *peer)
{
	const uint8_t	*a;
	int		 family;
	size_t		 i;
	bool		 in = false;

	if (r->nlisteners > 0) {
		for (i = 0; i < r->nlisteners; i++)
			if (listener != NULL &&
			    strcmp(listener, r->listeners[i]) == 0)
				in = true;
		if (!in)
			return false;
	}
	if (r->nnets == 0)
		return true;
	if (peer == NULL)
		return false;
	if (peer->sa_family == AF_INET) {
		family = AF_INET;
		a = (const uint8_t *)&((const struct sockaddr_in *)
		    (const void *)peer)->sin_addr;
	} else if (peer->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)peer;
		static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		    0xff, 0xff };

		a = s6->sin6_addr.s6_addr;
		family = AF_INET6;
		if (memcmp(a, mapped, 12) == 0) {
			family = AF_INET;
			a += 12;
		}
	} else
		return false;
	for (i = 0; i < r->nnets; i++)
		if (ref_net_has(&r->nets[i], family, a))
			return true;
	return false;
}

static bool
ref_match_one(const struct rules_rule *r, const struct ref_rule *rr,
    const char *msg, size_t len)
{
	const char	*p = r->pattern;
	size_t		 pl = r->pattern_len, i;
	regmatch_t	 m[1];

	switch (r->kind) {
	case RULES_ANY:
		return true;
	case RULES_EXACT:
		return len == pl && ref_eq(msg, p, pl, r->ignore_case);
	case RULES_PREFIX:
		return len >= pl && ref_eq(msg, p, pl, r->ignore_case);
	case RULES_SUFFIX:
		return len >= pl && ref_eq(msg + len - pl, p, pl,
		    r->ignore_case);
	case RULES_CONTAINS:
		for (i = 0; i + pl <= len; i++)
			if (ref_eq(msg + i, p, pl, r->ignore_case))
				return true;
		return false;
	case RULES_GLOB:
		if (len > GLOB_REF_MAX)	/* too long for the reference */
			return glob_match(p, pl, msg, len, r->ignore_case);
		return ref_glob(p, pl, msg, len, r->ignore_case);
	case RULES_REGEX:
		m[0].rm_so = 0;
		m[0].rm_eo = (regoff_t)len;
		return regexec(&rr->re, msg, 1, m, REG_STARTEND) == 0;
	}
	return false;
}

/* ---- building the rule set ------------------------------------------- */

static const char *const listener_a[] = { "a" };
static const char *const listener_ab[] = { "b", "a" };

struct build {
	struct rules	*rs;
	struct ref_rule	 ref[32];
	const char	*tsrc;		/* the fuzz template */
	uint8_t		 story[2];	/* header bytes 18, 19: the scenario */
};

/* Rule idx's scenario, from the header's bytes 18 and 19. */
static void
story_for(struct build *b, size_t idx, struct rules_def *d)
{
	struct ref_rule	*rr = &b->ref[idx];
	unsigned int	 i = (unsigned int)idx;
	uint8_t		 s = b->story[0], t = b->story[1];

	memset(rr->states, 0, sizeof(rr->states));
	rr->nstates = 0;
	rr->next = NULL;
	rr->times = 0;
	rr->reset = false;
	rr->chance = 0;
	if ((s >> (i % 4)) & 1) {
		rr->states[rr->nstates++] = state_names[i % 3];
		if (i % 2)
			rr->states[rr->nstates++] = state_names[(i + 1) % 3];
	}
	if ((s >> (4 + i % 4)) & 1)
		rr->next = state_names[(i + 1) % 3];
	if ((t >> (i % 4)) & 1)
		rr->times = 1 + i % 3;
	if ((t >> 4) & 1) {
		rr->reset = rr->next != NULL && i % 2 == 0;
		rr->chance = i % 5 == 4 ? 1 : i % 3 == 2 ? 2 : 0;
	}
	d->states = rr->states;
	d->nstates = rr->nstates;
	d->next_state = rr->next;
	d->times = rr->times;
	d->reset_counts = rr->reset;
	d->chancy = rr->chance != 0;
	d->probability = rr->chance == 1 ? 0 : 0.5;
}

/* The fuzz template when it suits a rule of this kind, else a default. */
static struct template *
reply_for(const struct build *b, enum rules_kind kind, size_t nsub, int alt)
{
	struct template	*t;
	char		 err[256];
	int		 max;

	if (alt == 0 && template_compile(b->tsrc, &t, err, sizeof(err)) == 0) {
		max = template_max_capture(t);
		if (max < 0 || (kind == RULES_REGEX && (size_t)max <= nsub))
			return t;
		template_free(t);
	}
	if (template_compile(alt == 2 ? "<%{0}|%{1}>%{message}" :
	    "%{rule}:%{message}", &t, err, sizeof(err)) < 0)
		FAIL("built-in template: %s", err);
	if (alt == 2 && (kind != RULES_REGEX || nsub < 1)) {
		template_free(t);
		return reply_for(b, kind, nsub, 1);
	}
	return t;
}

static void
add(struct build *b, enum rules_kind kind, const char *pat, bool ci,
    int restrict_to, const struct addr_net *net, int nreplies)
{
	struct rules_def	 d;
	struct template		*replies[3];
	regex_t			 re;
	char			 err[256];
	size_t			 nsub = 0, idx = rules_count(b->rs);
	int			 i;

	if (idx >= sizeof(b->ref) / sizeof(b->ref[0]))
		return;
	/* its groups may be used, so no REG_NOSUB: compiled once, kept */
	if (pat != NULL && rules_check_pattern(kind, pat, ci ? REG_ICASE : 0,
	    &re, &nsub, err, sizeof(err)) < 0)
		return;
	memset(&d, 0, sizeof(d));
	if (kind == RULES_REGEX)
		d.re = &re;
	d.kind = kind;
	d.pattern = pat;
	d.ignore_case = ci;
	d.line = (unsigned int)idx + 1;
	if (restrict_to == 1) {
		d.listeners = listener_a;
		d.nlisteners = 1;
	} else if (restrict_to == 2) {
		d.listeners = listener_ab;
		d.nlisteners = 2;
	}
	if (net != NULL) {
		d.nets = net;
		d.nnets = 1;
	}
	for (i = 0; i < nreplies; i++)
		replies[i] = reply_for(b, kind, nsub, i);
	d.replies = replies;
	d.nreplies = (size_t)nreplies;
	story_for(b, idx, &d);
	if (rules_add(b->rs, &d) < 0)
		FAIL("rules_add refused a checked %s pattern",
		    rules_kind_name(kind));
	b->ref[idx].has_re = false;
	if (kind == RULES_REGEX) {
		if (regcomp(&b->ref[idx].re, pat, REG_EXTENDED | REG_NOSUB |
		    (ci ? REG_ICASE : 0)) != 0)
			FAIL("reference regcomp refused a checked regex");
		b->ref[idx].has_re = true;
	}
}

/*
 * Patterns glibc's regcomp()/regexec() take exponential time or memory on
 * are left out: stacked repetitions ("a++++...", each one doubles the
 * tree), nested counted repetitions and back-references. The daemon
 * itself does not refuse them (see the report in the commit).
 */
static bool
regex_ok(const char *p, size_t plen)
{
	size_t	 i, braces = 0, reps = 0;

	if (plen > REGEX_MAX)
		return false;
	for (i = 0; i < plen; i++) {
		if (p[i] == '{')
			braces++;
		if (strchr("*+?{", p[i]) != NULL)
			reps++;
		if (p[i] == '\\' && i + 1 < plen && p[i + 1] >= '1' &&
		    p[i + 1] <= '9')
			return false;
	}
	return braces <= 1 && reps <= 6;
}

static uint64_t
mul3_sat(uint64_t v)
{
	return v > UINT64_MAX / 3 ? UINT64_MAX : v * 3;
}

/*
 * rules_regex_size() on any pattern: never more atoms than bytes without
 * a repetition; a group around a pattern, repeated 3 times, is 3 times
 * the pattern and the group (for one that a group cannot change: no
 * bracket, no backslash, balanced, not too deep); within the limit when
 * rules_check_pattern() takes it.
 */
static void
check_size(const char *p, size_t plen, bool ci)
{
	char		 wrapped[PAT_MAX + 8];
	uint64_t	 size = rules_regex_size(p), want;
	size_t		 i, nsub;
	char		 err[256];
	int		 depth = 0, deepest = 0;
	bool		 plain = true;

	for (i = 0; i < plen; i++)
		depth += p[i] == '(';
	/* (groups too deep to size: UINT64_MAX, refused) */
	if (strpbrk(p, "*+?{") == NULL && depth <= RULES_REGEX_GROUPS_MAX &&
	    size > plen)
		FAIL("\"%s\": size %llu without repetitions", p,
		    (unsigned long long)size);
	for (depth = 0, i = 0; i < plen && plain; i++) {
		if (p[i] == '[' || p[i] == '\\')
			plain = false;
		else if (p[i] == '(' && ++depth > deepest)
			deepest = depth;
		else if (p[i] == ')' && --depth < 0)
			plain = false;
	}
	if (plain && depth == 0 && deepest < RULES_REGEX_GROUPS_MAX) {
		snprintf(wrapped, sizeof(wrapped), "(%s){3}", p);
		want = mul3_sat(size == UINT64_MAX ? size : size + 1);
		if (rules_regex_size(wrapped) != want)
			FAIL("\"%s\": size %llu, not 3 * (%llu + 1)", wrapped,
			    (unsigned long long)rules_regex_size(wrapped),
			    (unsigned long long)size);
	}
	if (regex_ok(p, plen) && rules_check_pattern(RULES_REGEX, p,
	    ci ? REG_ICASE : 0, NULL, &nsub, err, sizeof(err)) == 0 &&
	    size > RULES_REGEX_SIZE_MAX)
		FAIL("\"%s\": taken at size %llu", p,
		    (unsigned long long)size);
}

static void
check_caps(const regmatch_t *caps, size_t len)
{
	size_t	 i;

	for (i = 0; i < TEMPLATE_CAPTURES; i++) {
		if (caps[i].rm_so == -1)
			continue;
		if (caps[i].rm_so < 0 || caps[i].rm_eo < caps[i].rm_so ||
		    (size_t)caps[i].rm_eo > len)
			FAIL("capture %zu is %d-%d in %zu bytes", i,
			    (int)caps[i].rm_so, (int)caps[i].rm_eo, len);
	}
}

static void
render(const struct rules_rule *r, const char *msg, size_t len,
    const regmatch_t *caps, const char *state, const char *next,
    uint32_t count)
{
	struct template_ctx	 ctx;
	struct buf		 out = { 0 };
	size_t			 i;

	memset(&ctx, 0, sizeof(ctx));
	ctx.message = msg;
	ctx.message_len = len;
	ctx.client_address = "192.0.2.1";
	ctx.client_port = 5;
	ctx.server_address = "::1";
	ctx.server_port = 13008;
	ctx.listener = "a";
	ctx.hostname = "fuzz";
	ctx.rule = r->name != NULL ? r->name : "#1";
	ctx.now_usec = 1700000000000000ULL;
	ctx.message_number = 1;
	ctx.connections = 1;
	ctx.max_message_bytes = MSG_MAX;
	ctx.state = state;
	ctx.next_state = next;
	ctx.rule_count = count;
	if (r->kind == RULES_REGEX) {
		ctx.caps = caps;
		ctx.ncaps = TEMPLATE_CAPTURES;
	}
	for (i = 0; i < r->nreplies; i++) {
		out.len = 0;
		if (template_render(r->replies[i], &ctx, &out) < 0)
			FAIL("template_render failed");
		if (strcmp(template_source(r->replies[i]),
		    "%{rule}:%{message}") == 0 && (out.len != strlen(ctx.rule) +
		    1 + len || memcmp(out.data + out.len - len, msg, len) != 0))
			FAIL("%%{message} did not render the message");
	}
	buf_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum rules_kind kinds[] = {
		RULES_EXACT, RULES_PREFIX, RULES_SUFFIX, RULES_CONTAINS,
		RULES_GLOB, RULES_REGEX,
	};
	uint8_t			 h[HDR] = { 0 };
	char			 pat[PAT_MAX + 1], tsrc[PAT_MAX + 1];
	char			 upper[PAT_MAX + 1];
	const char		*rest, *msg, *listener, *end;
	struct build		 b;
	struct sockaddr_storage	 ss;
	const struct sockaddr	*peer = NULL;
	const struct rules_rule	*r;
	struct addr_net	 net, rawnet;
	regmatch_t		 caps[TEMPLATE_CAPTURES];
	struct template		*t;
	char			 err[256], *mcopy;
	size_t			 restlen, plen, tlen, mlen, i, want, nsub, n;
	size_t			 round, rounds;
	bool			 ci, hasnet, g1, g2;
	struct rules_who	 who;
	struct counts		 counts;
	uint32_t		 ref_counts[32], count;
	uint32_t		 state = RULES_STATE_START;
	const char		*ref_state = "start";

	memcpy(h, data, size < HDR ? size : HDR);
	rest = size > HDR ? (const char *)data + HDR : "";
	restlen = size > HDR ? size - HDR : 0;

	/* pattern '\0' template '\0' message */
	end = memchr(rest, '\0', restlen);
	plen = end != NULL ? (size_t)(end - rest) : restlen;
	if (plen > PAT_MAX)
		plen = PAT_MAX;
	memcpy(pat, rest, plen);
	pat[plen] = '\0';
	msg = end != NULL ? end + 1 : rest + restlen;
	mlen = (size_t)(rest + restlen - msg);
	end = memchr(msg, '\0', mlen);
	tlen = end != NULL ? (size_t)(end - msg) : 0;
	if (end != NULL) {
		memcpy(tsrc, msg, tlen > PAT_MAX ? PAT_MAX : tlen);
		tsrc[tlen > PAT_MAX ? PAT_MAX : tlen] = '\0';
		msg = end + 1;
		mlen = (size_t)(rest + restlen - msg);
	} else
		strlcpy(tsrc, "%{message}", sizeof(tsrc));
	if (mlen > MSG_MAX)
		mlen = MSG_MAX;
	/*
	 * A copy of exactly its size, plus a NUL that is not part of it:
	 * the sanitizers' regexec() interceptor ignores REG_STARTEND and
	 * reads the string up to strlen() + 1 (glibc itself does not).
	 */
	if ((mcopy = malloc(mlen + 1)) == NULL)
		FAIL("malloc");
	memcpy(mcopy, msg, mlen);
	mcopy[mlen] = '\0';
	msg = mcopy;
	ci = h[0] & 1;

	/* 1. the glob matcher on arbitrary bytes, against the reference */
	n = restlen < 64 ? restlen : 64;
	g1 = glob_match(rest, n, msg, mlen, ci);
	if (mlen <= GLOB_REF_MAX && g1 != (g2 = ref_glob(rest, n, msg, mlen,
	    ci)))
		FAIL("glob_match(raw %zu bytes, %zu-byte message, ci %d) = %d, "
		    "reference %d", n, mlen, ci, g1, g2);
	g1 = glob_match(pat, plen, msg, mlen, !ci);
	if (mlen <= GLOB_REF_MAX && g1 != (g2 = ref_glob(pat, plen, msg,
	    mlen, !ci)))
		FAIL("glob_match(pattern, ci %d) = %d, reference %d", !ci, g1,
		    g2);

	/* 2. templates on their own */
	if (template_compile(tsrc, &t, err, sizeof(err)) == 0)
		template_free(t);

	/* 2b. the regex size estimate, on any pattern */
	check_size(pat, plen, ci);

	/* 3. networks: the pattern as a network, and one from raw bytes */
	hasnet = addr_net_parse(pat, &net) == 0;
	if (hasnet && (net.family == AF_INET ? net.prefix > 32 :
	    net.family == AF_INET6 ? net.prefix > 128 : true))
		FAIL("addr_net_parse(\"%s\") gave family %d prefix %u", pat,
		    net.family, net.prefix);
	memset(&rawnet, 0, sizeof(rawnet));
	rawnet.family = h[1] & 1 ? AF_INET6 : AF_INET;
	rawnet.prefix = h[1] % (rawnet.family == AF_INET ? 33 : 129);
	memcpy(rawnet.addr, h + 2, 16);
	if (h[1] & 2)	/* the client inside the network */
		memcpy(h + 2, rawnet.addr, 16);

	switch ((h[0] >> 1) & 3) {
	case 1: {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		memset(&ss, 0, sizeof(ss));
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, h + 2, 4);
		peer = (struct sockaddr *)&ss;
		break;
	}
	case 2:
	case 3: {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		memset(&ss, 0, sizeof(ss));
		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, h + 2, 16);
		if (((h[0] >> 1) & 3) == 3) {	/* IPv4-mapped */
			memset(&sin6->sin6_addr, 0, 10);
			sin6->sin6_addr.s6_addr[10] = 0xff;
			sin6->sin6_addr.s6_addr[11] = 0xff;
			memcpy(&sin6->sin6_addr.s6_addr[12], h + 2, 4);
		}
		peer = (struct sockaddr *)&ss;
		break;
	}
	default:
		if (h[0] & 0x80) {
			struct sockaddr_un *sun = (struct sockaddr_un *)&ss;

			memset(&ss, 0, sizeof(ss));
			sun->sun_family = AF_UNIX;
			peer = (struct sockaddr *)&ss;
		}
		break;
	}
	listener = h[0] & 8 ? "a" : h[0] & 0x40 ? NULL : "b";

	/* 4. a rule set: the message as an exact rule, each kind, extras */
	memset(&b, 0, sizeof(b));
	if ((b.rs = rules_new()) == NULL)
		FAIL("rules_new");
	b.tsrc = tsrc;
	b.story[0] = h[18];
	b.story[1] = h[19];
	if (memchr(msg, '\0', mlen) == NULL && mlen <= PAT_MAX) {
		char copy[PAT_MAX + 1];

		memcpy(copy, msg, mlen);
		copy[mlen] = '\0';
		for (i = 0; i <= mlen; i++)
			upper[i] = copy[i] >= 'a' && copy[i] <= 'z' ?
			    (char)(copy[i] - 32) : copy[i];
		/* restricted duplicates first, then plain ones */
		add(&b, RULES_EXACT, copy, false, h[0] & 0x10 ? 1 : 0,
		    NULL, 1);
		add(&b, RULES_EXACT, copy, false, 0, h[0] & 0x20 ? &rawnet :
		    NULL, 2);
		if (h[1] & 4)
			add(&b, RULES_EXACT, upper, true, 2, NULL, 1);
	}
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (kinds[i] == RULES_REGEX && !regex_ok(pat, plen))
			continue;
		add(&b, kinds[i], pat, (h[1] >> (i + 2)) & 1,
		    (h[1] >> 3) & 1 && i == 1 ? 1 : 0,
		    h[0] & 0x20 && i == 2 ? &rawnet : NULL,
		    kinds[i] == RULES_REGEX ? 3 : 1 + (int)(i & 1));
		if (kinds[i] == RULES_EXACT)	/* the other case too */
			add(&b, kinds[i], pat, !((h[1] >> 2) & 1), 0, NULL, 1);
	}
	if (hasnet)
		add(&b, RULES_ANY, NULL, false, 0, &net, 1);
	if (h[0] & 0x40)
		add(&b, RULES_ANY, NULL, false, 0, NULL, 1);

	/* 5. match, against the reference, round after round on one story */
	memset(&counts, 0, sizeof(counts));
	memset(ref_counts, 0, sizeof(ref_counts));
	rounds = 1 + ((b.story[1] >> 5) & 7);
	for (round = 0; round < rounds; round++) {
		const char	*before = ref_state, *after;

		if (strcmp(rules_state_name(b.rs, state), ref_state) != 0)
			FAIL("round %zu: state %s, the reference's %s", round,
			    rules_state_name(b.rs, state), ref_state);
		for (i = 0; i < TEMPLATE_CAPTURES; i++)
			caps[i].rm_so = caps[i].rm_eo = -1;
		who.listener = listener;
		who.peer = peer;
		who.sni = NULL;
		who.state = state;
		who.counts = &counts;
		who.rng = NULL;
		r = rules_match(b.rs, msg, mlen, &who, caps);
		want = SIZE_MAX;
		for (i = 0; i < rules_count(b.rs) && want == SIZE_MAX; i++) {
			const struct rules_rule *x = rules_get(b.rs, i);

			if (x->kind == RULES_REGEX && mlen > REGEX_MSG_MAX)
				continue;
			if (ref_allowed(x, listener, peer) &&
			    ref_story(&b.ref[i], ref_state, ref_counts[i]) &&
			    ref_match_one(x, &b.ref[i], msg, mlen))
				want = i;
		}
		if (mlen <= REGEX_MSG_MAX && (r == NULL ? want != SIZE_MAX :
		    r->index != want))
			FAIL("round %zu: rules_match chose rule %zd, first "
			    "match is %zd (of %zu)", round, r == NULL ?
			    (ssize_t)-1 : (ssize_t)r->index, want == SIZE_MAX ?
			    (ssize_t)-1 : (ssize_t)want, rules_count(b.rs));
		if (r == NULL)
			break;	/* the same message finds nothing again */

		/* the rule answers: counted, and the story moves on */
		count = 0;
		if (r->counts && (count = counts_bump(&counts, r->index)) == 0)
			FAIL("counts_bump");
		ref_counts[r->index]++;
		after = before;
		if (b.ref[r->index].next != NULL) {
			after = b.ref[r->index].next;
			if (r->next_state == RULES_STATE_NONE ||
			    strcmp(rules_state_name(b.rs, r->next_state),
			    after) != 0)
				FAIL("rule %zu: next_state lost", r->index);
			if (b.ref[r->index].reset &&
			    strcmp(after, ref_state) != 0) {
				counts_clear(&counts);
				memset(ref_counts, 0, sizeof(ref_counts));
			}
			state = r->next_state;
			ref_state = after;
		}
		for (i = 0; i < rules_count(b.rs); i++) {
			const struct rules_rule *x = rules_get(b.rs, i);

			if ((b.ref[i].times > 0 || x->nreplies > 1) &&
			    counts_get(&counts, i) != ref_counts[i])
				FAIL("round %zu: rule %zu counted %u, the "
				    "reference %u", round, i,
				    counts_get(&counts, i), ref_counts[i]);
		}

		/* 6. render the chosen rule's replies with its captures */
		if (r->kind == RULES_REGEX)
			check_caps(caps, mlen);
		render(r, msg, mlen, caps, before, after, count);
	}
	counts_free(&counts);

	/* 7. the regex alone, so its captures get rendered too */
	if (regex_ok(pat, plen) && rules_check_pattern(RULES_REGEX, pat,
	    ci ? REG_ICASE : 0, NULL, &nsub, err, sizeof(err)) == 0 &&
	    mlen <= REGEX_MSG_MAX) {
		struct build	 rb;

		memset(&rb, 0, sizeof(rb));
		if ((rb.rs = rules_new()) == NULL)
			FAIL("rules_new");
		rb.tsrc = tsrc;
		add(&rb, RULES_REGEX, pat, ci, 0, NULL, 3);
		for (i = 0; i < TEMPLATE_CAPTURES; i++)
			caps[i].rm_so = caps[i].rm_eo = -1;
		memset(&who, 0, sizeof(who));
		if ((r = rules_match(rb.rs, msg, mlen, &who, caps)) != NULL) {
			check_caps(caps, mlen);
			render(r, msg, mlen, caps, "start", "start", 0);
		}
		for (i = 0; i < rules_count(rb.rs); i++)
			if (rb.ref[i].has_re)
				regfree(&rb.ref[i].re);
		rules_free(rb.rs);
	}

	for (i = 0; i < rules_count(b.rs); i++)
		if (b.ref[i].has_re)
			regfree(&b.ref[i].re);
	rules_free(b.rs);
	free(mcopy);
	return 0;
}

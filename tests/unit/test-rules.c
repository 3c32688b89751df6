#define LIBBSD_NETBSD_VIS	/* strvis() is the same in both flavours */
/*
 * The rule module (src/rules.c) on its own, and reply_build (src/reply.c)
 * over it: every match kind with and without ignore_case, bytes that are
 * not text, first-match order across the exact-rule hash and the pattern
 * rules, globs, networks, listeners, captures, cycling replies.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <vis.h>

#include "buf.h"
#include "config.h"
#include "frame.h"
#include "reply.h"
#include "rules.h"
#include "template.h"
#include "tap.h"

#define is(got, want, ...) do {						\
	const char *is_g = (got), *is_w = (want);			\
	int is_p = strcmp(is_g, is_w) == 0;				\
	ok(is_p, __VA_ARGS__);						\
	if (!is_p)							\
		printf("#   got \"%s\"\n#   want \"%s\"\n", is_g, is_w); \
} while (0)

/* A string literal with its length, NUL bytes inside included. */
#define LIT(s)	(s), (sizeof(s) - 1)

static struct template *
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
	const char *const *replies;	/* NULL: one reply, the rule's name */
	size_t		   nreplies;
	bool		   no_reply;
	bool		   close;
	uint64_t	   delay_ms;
};

/* Appends a rule the way config-rules.c does; bails out when it fails. */
static const struct rules_rule *
add_rule(struct rules *rs, const char *name, enum rules_kind kind,
    const char *pattern, bool ci, const struct opts *o)
{
	static const struct opts none;
	struct rules_def	 d;
	struct rules_net	 nets[8];
	struct template		*replies[8];
	char			 err[256] = "";
	size_t			 nsub, i;

	if (o == NULL)
		o = &none;
	memset(&d, 0, sizeof(d));
	if (pattern != NULL && rules_check_pattern(kind, pattern, ci, &nsub,
	    err, sizeof(err)) < 0) {
		printf("Bail out! pattern \"%s\": %s\n", pattern, err);
		exit(99);
	}
	for (i = 0; i < o->nnets; i++)
		if (rules_parse_net(o->nets[i], &nets[i]) < 0) {
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
	d.name = name;
	d.line = (unsigned int)rules_count(rs) + 10;
	d.kind = kind;
	d.pattern = pattern;
	d.ignore_case = ci;
	d.listeners = o->listeners;
	d.nlisteners = o->nlisteners;
	d.nets = nets;
	d.nnets = o->nnets;
	d.replies = replies;
	d.close = o->close;
	d.delay_ms = o->delay_ms;
	if (rules_add(rs, &d) < 0) {
		printf("Bail out! rules_add \"%s\"\n", name ? name : "");
		exit(99);
	}
	return rules_get(rs, rules_count(rs) - 1);
}

#define add(rs, name, kind, pat, ci) add_rule(rs, name, kind, pat, ci, NULL)

/* The name of the rule a message matches, "-" for none. */
static const char *
match_peer(const struct rules *rs, const char *msg, size_t len,
    const char *listener, const struct sockaddr *peer)
{
	regmatch_t		 caps[TEMPLATE_CAPTURES];
	const struct rules_rule	*r;

	r = rules_match(rs, msg, len, listener, peer, caps);
	if (r == NULL)
		return "-";
	return r->name != NULL ? r->name : "(unnamed)";
}

static const char *
match(const struct rules *rs, const char *msg)
{
	return match_peer(rs, msg, strlen(msg), NULL, NULL);
}

/* Does a set of just this one rule match the message? */
static bool
match1(enum rules_kind kind, const char *pat, bool ci, const char *msg,
    size_t len)
{
	struct rules	*rs = rules_new();
	bool		 hit;

	add(rs, "r", kind, pat, ci);
	hit = strcmp(match_peer(rs, msg, len, NULL, NULL), "r") == 0;
	rules_free(rs);
	return hit;
}

static const struct sockaddr *
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

static const struct sockaddr *
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

static const struct sockaddr *
peer_unix(struct sockaddr_storage *ss)
{
	struct sockaddr_un	*sun = (struct sockaddr_un *)ss;

	memset(ss, 0, sizeof(*ss));
	sun->sun_family = AF_UNIX;
	strlcpy(sun->sun_path, "/run/echoreplyd.sock", sizeof(sun->sun_path));
	return (const struct sockaddr *)ss;
}

/* ---------------------------------------------------------------- */

struct mcase {
	enum rules_kind	 kind;
	const char	*pat;
	bool		 ci;
	const char	*msg;
	size_t		 len;
	bool		 want;
};
#define M(k, p, ci, s, w)	{ RULES_##k, p, ci, LIT(s), w }

static const struct mcase kinds[] = {
	/* exact */
	M(EXACT, "Hello", false, "Hello", true),
	M(EXACT, "Hello", false, "hello", false),
	M(EXACT, "Hello", false, "Hello!", false),
	M(EXACT, "Hello", false, "Hell", false),
	M(EXACT, "Hello", false, " Hello", false),
	M(EXACT, "Hello", true, "hELLO", true),
	M(EXACT, "Hello", true, "HELLO", true),
	M(EXACT, "Hello", true, "HELLO ", false),
	M(EXACT, "a.b*c", false, "a.b*c", true),
	M(EXACT, "a.b*c", false, "axb*c", false),
	/* prefix */
	M(PREFIX, "GET ", false, "GET /index", true),
	M(PREFIX, "GET ", false, "GET ", true),
	M(PREFIX, "GET ", false, "get /index", false),
	M(PREFIX, "GET ", false, "GET", false),
	M(PREFIX, "GET ", false, "xGET /", false),
	M(PREFIX, "GET ", true, "get /index", true),
	M(PREFIX, "GET ", true, "gEt ", true),
	M(PREFIX, "GET ", true, "GE", false),
	/* suffix */
	M(SUFFIX, ".txt", false, "notes.txt", true),
	M(SUFFIX, ".txt", false, ".txt", true),
	M(SUFFIX, ".txt", false, "notes.TXT", false),
	M(SUFFIX, ".txt", false, "txt", false),
	M(SUFFIX, ".txt", false, "a.txt.gz", false),
	M(SUFFIX, ".txt", true, "NOTES.TXT", true),
	M(SUFFIX, ".txt", true, "notes.TxT", true),
	M(SUFFIX, ".txt", true, "notes.tx", false),
	/* contains */
	M(CONTAINS, "foo", false, "xfooy", true),
	M(CONTAINS, "foo", false, "foo", true),
	M(CONTAINS, "foo", false, "barfoo", true),
	M(CONTAINS, "foo", false, "fo o", false),
	M(CONTAINS, "foo", false, "xFOOy", false),
	M(CONTAINS, "foo", true, "xFOOy", true),
	M(CONTAINS, "foo", true, "FoO", true),
	M(CONTAINS, "foo", true, "fo", false),
	M(CONTAINS, "aab", false, "aaab", true),	/* restart mid-match */
	M(CONTAINS, "aab", true, "AAAB", true),
	/* glob */
	M(GLOB, "h*l?o", false, "hello", true),
	M(GLOB, "h*l?o", false, "hlxo", true),
	M(GLOB, "h*l?o", false, "HELLO", false),
	M(GLOB, "h*l?o", false, "hello!", false),
	M(GLOB, "h*l?o", true, "HELLO", true),
	M(GLOB, "h*l?o", true, "HeLlO", true),
	/* regex (POSIX extended) */
	M(REGEX, "^ab+c$", false, "abbbc", true),
	M(REGEX, "^ab+c$", false, "ac", false),
	M(REGEX, "^ab+c$", false, "ABBC", false),
	M(REGEX, "^ab+c$", true, "ABBC", true),
	M(REGEX, "b+", false, "xxbxx", true),		/* unanchored */
	M(REGEX, "(GET|PUT) /", false, "PUT /x", true),
	M(REGEX, "(GET|PUT) /", true, "put /x", true),
	M(REGEX, "(GET|PUT) /", false, "POST /x", false),
	/* no pattern: every message */
	M(ANY, NULL, false, "anything", true),
	M(ANY, NULL, false, "", true),
	M(ANY, NULL, true, "ANY", true),

	/* empty message, empty pattern */
	M(EXACT, "", false, "", true),
	M(EXACT, "", false, "x", false),
	M(EXACT, "x", false, "", false),
	M(EXACT, "", true, "", true),
	M(PREFIX, "", false, "", true),
	M(PREFIX, "", false, "abc", true),
	M(PREFIX, "a", false, "", false),
	M(SUFFIX, "", false, "", true),
	M(SUFFIX, "", false, "abc", true),
	M(SUFFIX, "a", true, "", false),
	M(CONTAINS, "", false, "", true),
	M(CONTAINS, "", true, "abc", true),
	M(CONTAINS, "a", false, "", false),
	M(GLOB, "", false, "", true),
	M(GLOB, "", false, "a", false),
	M(GLOB, "*", false, "", true),
	M(GLOB, "?", false, "", false),
	M(GLOB, "**", false, "", true),
	M(REGEX, "", false, "", true),
	M(REGEX, "", false, "abc", true),
	M(REGEX, "^$", false, "", true),
	M(REGEX, "^$", false, "a", false),
	M(REGEX, "a", false, "", false),

	/* NUL bytes are message bytes like any other */
	M(EXACT, "ab", false, "ab\0", false),
	M(EXACT, "ab", false, "ab\0cd", false),
	M(PREFIX, "ab", false, "ab\0cd", true),
	M(PREFIX, "abc", false, "ab\0cd", false),
	M(SUFFIX, "cd", false, "ab\0cd", true),
	M(SUFFIX, "cd", true, "ab\0CD", true),
	M(SUFFIX, "ab", false, "ab\0", false),
	M(CONTAINS, "cd", false, "ab\0cd", true),
	M(CONTAINS, "CD", true, "ab\0cd", true),
	M(CONTAINS, "bc", false, "ab\0cd", false),
	M(CONTAINS, "x", false, "\0\0\0x", true),
	M(GLOB, "ab?cd", false, "ab\0cd", true),
	M(GLOB, "*cd", false, "ab\0cd", true),
	M(GLOB, "ab", false, "ab\0cd", false),
	M(GLOB, "ab*", false, "ab\0cd", true),
	M(GLOB, "*\\?*", false, "\0?\0", true),
	M(GLOB, "?", false, "\0", true),
	M(REGEX, "cd$", false, "ab\0cd", true),
	M(REGEX, "^ab$", false, "ab\0cd", false),
	M(REGEX, "^ab", false, "ab\0cd", true),
	M(REGEX, "d", false, "\0\0d", true),
	M(REGEX, "^a.*d$", false, "abcd", true),

	/* bytes that are not UTF-8 are matched as bytes */
	M(EXACT, "\xff\xfe", false, "\xff\xfe", true),
	M(EXACT, "\xff\xfe", true, "\xff\xfe", true),
	M(EXACT, "\xc3\xa9", true, "\xc3\x89", false),	/* no Unicode folding */
	M(PREFIX, "\xc3", false, "\xc3\x28", true),
	M(SUFFIX, "\x80", false, "abc\x80", true),
	M(CONTAINS, "\xfe\xff", false, "a\xfe\xff" "b", true),
	M(CONTAINS, "\xe9", true, "\xc9", false),	/* no Latin-1 folding */
	M(GLOB, "?\xff*", false, "\x01\xff\xfe\xfd", true),
	M(GLOB, "[\x80-\xff]", false, "\xc3", true),
	M(GLOB, "[\x80-\xff]", false, "\x7f", false),
	M(REGEX, "^\xff+$", false, "\xff\xff\xff", true),
	M(REGEX, "\xfe", false, "\xff\xff", false),
};

static void
test_kinds(void)
{
	const struct mcase	*c;
	size_t			 i;
	bool			 got;
	char			 shown[64];

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		c = &kinds[i];
		got = match1(c->kind, c->pat, c->ci, c->msg, c->len);
		strvis(shown, c->pat != NULL ? c->pat : "", VIS_CSTYLE |
		    VIS_OCTAL);
		ok(got == c->want, "%s%s \"%s\" %s %zu-byte message %zu",
		    rules_kind_name(c->kind), c->ci ? " (ignore_case)" : "",
		    shown, c->want ? "matches" : "does not match", c->len, i);
	}
	is(rules_kind_name(RULES_ANY), "any", "kind name any");
	is(rules_kind_name(RULES_CONTAINS), "contains", "kind name contains");
	is(rules_kind_name(RULES_REGEX), "regex", "kind name regex");
}

/* A message of exactly max_message_bytes, the longest there can be. */
static void
test_long_message(void)
{
	static const size_t	 sizes[] = { 8192, 16 * 1024 * 1024 };
	char			*msg, *pat;
	size_t			 i, n;

	for (i = 0; i < 2; i++) {
		n = sizes[i];
		msg = malloc(n + 1);
		pat = malloc(n + 1);
		memset(msg, 'a', n);
		msg[n - 1] = 'Z';
		msg[n] = '\0';
		memcpy(pat, msg, n + 1);
		ok(match1(RULES_EXACT, pat, false, msg, n),
		    "exact %zu-byte pattern matches a %zu-byte message", n, n);
		pat[n / 2] = 'b';
		ok(!match1(RULES_EXACT, pat, true, msg, n),
		    "exact %zu-byte pattern with one byte changed", n);
		ok(match1(RULES_SUFFIX, "aZ", false, msg, n),
		    "suffix at the end of %zu bytes", n);
		ok(match1(RULES_CONTAINS, "az", true, msg, n),
		    "contains at the end of %zu bytes", n);
		ok(!match1(RULES_CONTAINS, "Za", false, msg, n),
		    "contains absent from %zu bytes", n);
		ok(match1(RULES_GLOB, "a*Z", false, msg, n),
		    "glob over %zu bytes", n);
		ok(!match1(RULES_GLOB, "*b*", false, msg, n),
		    "glob absent from %zu bytes", n);
		ok(match1(RULES_REGEX, "^a+Z$", false, msg, n),
		    "regex over %zu bytes", n);
		free(msg);
		free(pat);
	}
}

static void
test_first_match(void)
{
	struct rules	*rs = rules_new();

	add(rs, "a", RULES_PREFIX, "a", false);
	add(rs, "ab", RULES_PREFIX, "ab", false);
	add(rs, "has-c", RULES_CONTAINS, "c", false);
	add(rs, "glob", RULES_GLOB, "*z", false);
	add(rs, "regex", RULES_REGEX, "[0-9]", false);
	add(rs, "any", RULES_ANY, NULL, false);
	add(rs, "never", RULES_EXACT, "zzz", false);
	is(match(rs, "abc"), "a", "overlapping prefixes: the first wins");
	is(match(rs, "cz"), "has-c", "contains before glob");
	is(match(rs, "x9z"), "glob", "glob before regex");
	is(match(rs, "x9"), "regex", "regex before the catch-all");
	is(match(rs, "zzz"), "glob", "earlier glob beats later exact");
	is(match(rs, "q"), "any", "catch-all");
	is(match(rs, ""), "any", "empty message to the catch-all");
	ok(rules_count(rs) == 7, "seven rules");
	ok(rules_get(rs, 6) != NULL && rules_get(rs, 6)->index == 6,
	    "rule index is its position");
	ok(rules_get(rs, 7) == NULL, "no eighth rule");
	ok(rules_get(rs, 1)->line == 11, "line kept");
	rules_free(rs);

	rs = rules_new();
	ok(rules_match(rs, LIT("x"), NULL, NULL, NULL) == NULL,
	    "an empty rule set matches nothing");
	add(rs, "only", RULES_PREFIX, "x", false);
	is(match(rs, "y"), "-", "no rule matches");
	rules_free(rs);
	rules_free(NULL);
}

static void
test_exact_order(void)
{
	struct rules		*rs;
	struct sockaddr_storage	 ss;
	static const char *const la[] = { "a" };
	static const char *const net[] = { "192.0.2.0/24" };
	struct opts		 onlya = { .listeners = la, .nlisteners = 1 };
	struct opts		 onlynet = { .nets = net, .nnets = 1 };

	rs = rules_new();
	add(rs, "prefix", RULES_PREFIX, "he", false);
	add(rs, "exact", RULES_EXACT, "hello", false);
	is(match(rs, "hello"), "prefix", "earlier prefix beats later exact");
	rules_free(rs);

	rs = rules_new();
	add(rs, "regex", RULES_REGEX, "^h", false);
	add(rs, "exact", RULES_EXACT, "hello", false);
	is(match(rs, "hello"), "regex", "earlier regex beats later exact");
	rules_free(rs);

	rs = rules_new();
	add(rs, "exact", RULES_EXACT, "hello", false);
	add(rs, "prefix", RULES_PREFIX, "he", false);
	add(rs, "regex", RULES_REGEX, "l", false);
	is(match(rs, "hello"), "exact", "earlier exact beats later prefix");
	is(match(rs, "help"), "prefix", "the prefix still works");
	is(match(rs, "ole"), "regex", "the regex still works");
	rules_free(rs);

	/* a pattern rule that does not admit the client does not hide */
	rs = rules_new();
	add_rule(rs, "prefix-a", RULES_PREFIX, "he", false, &onlya);
	add(rs, "exact", RULES_EXACT, "hello", false);
	is(match_peer(rs, LIT("hello"), "b", NULL), "exact",
	    "restricted earlier prefix skipped on another listener");
	is(match_peer(rs, LIT("hello"), "a", NULL), "prefix-a",
	    "restricted earlier prefix on its listener");
	rules_free(rs);

	rs = rules_new();
	add(rs, "first", RULES_EXACT, "dup", false);
	add(rs, "second", RULES_EXACT, "dup", false);
	add(rs, "third", RULES_EXACT, "dup", true);
	is(match(rs, "dup"), "first", "duplicate exact: the first wins");
	is(match(rs, "DUP"), "third", "duplicate exact: case-insensitive one");
	rules_free(rs);

	rs = rules_new();
	add_rule(rs, "on-a", RULES_EXACT, "dup", false, &onlya);
	add_rule(rs, "from-net", RULES_EXACT, "dup", false, &onlynet);
	add(rs, "any", RULES_EXACT, "dup", false);
	add(rs, "later", RULES_EXACT, "dup", false);
	is(match_peer(rs, LIT("dup"), "a", NULL), "on-a",
	    "duplicate exact restricted by listener: chosen on it");
	is(match_peer(rs, LIT("dup"), "b", peer4(&ss, "192.0.2.9")),
	    "from-net", "first restricted by listener: the next one");
	is(match_peer(rs, LIT("dup"), "b", peer4(&ss, "198.51.100.1")),
	    "any", "first two restricted: the third");
	is(match_peer(rs, LIT("dup"), NULL, NULL), "any",
	    "no listener, no peer: the unrestricted one");
	rules_free(rs);

	/* the same text, case-sensitive and not, in both orders */
	rs = rules_new();
	add(rs, "cs", RULES_EXACT, "Hello", false);
	add(rs, "ci", RULES_EXACT, "hello", true);
	is(match(rs, "Hello"), "cs", "case-sensitive first: its exact text");
	is(match(rs, "hello"), "ci", "case-sensitive first: other case");
	is(match(rs, "HELLO"), "ci", "case-sensitive first: upper case");
	is(match(rs, "Hello!"), "-", "neither");
	rules_free(rs);

	rs = rules_new();
	add(rs, "ci", RULES_EXACT, "hello", true);
	add(rs, "cs", RULES_EXACT, "Hello", false);
	is(match(rs, "Hello"), "ci", "case-insensitive first wins its text");
	is(match(rs, "hELLo"), "ci", "case-insensitive first: any case");
	rules_free(rs);

	/* exact with NUL: only a message that is just the pattern */
	rs = rules_new();
	add(rs, "ab", RULES_EXACT, "ab", false);
	is(match_peer(rs, LIT("ab\0"), NULL, NULL), "-",
	    "exact hash: trailing NUL is a byte");
	is(match_peer(rs, LIT("ab"), NULL, NULL), "ab", "exact hash: hit");
	rules_free(rs);
}

static void
test_many_exact(void)
{
	struct rules		*rs = rules_new();
	const struct rules_rule	*r;
	regmatch_t		 caps[TEMPLATE_CAPTURES];
	char			 name[32], pat[32], msg[32];
	size_t			 i, found = 0, wrong = 0, cased = 0;
	const size_t		 n = 10000;

	/* even rules are case-sensitive, odd ones not */
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "r%zu", i);
		snprintf(pat, sizeof(pat), "Key-%zu", i);
		add(rs, name, RULES_EXACT, pat, i % 2 == 1);
	}
	for (i = 0; i < n; i++) {
		snprintf(msg, sizeof(msg), i % 2 ? "KEY-%zu" : "Key-%zu", i);
		r = rules_match(rs, msg, strlen(msg), NULL, NULL, caps);
		if (r != NULL && r->index == i)
			found++;
		else if (wrong++ < 5)
			printf("#   \"%s\" found %s\n", msg, r == NULL ? "nothing" :
			    r->name);
		snprintf(msg, sizeof(msg), "key-%zu", i);
		r = rules_match(rs, msg, strlen(msg), NULL, NULL, caps);
		if (i % 2 == 0 ? r == NULL : r != NULL && r->index == i)
			cased++;
	}
	ok(found == n, "%zu exact rules: each message finds its own (%zu, "
	    "%zu wrong)", n, found, wrong);
	ok(cased == n, "%zu exact rules: case-sensitivity kept (%zu)", n,
	    cased);
	ok(rules_match(rs, LIT("Key-10000"), NULL, NULL, caps) == NULL,
	    "one past the last is not found");
	ok(rules_match(rs, LIT("Key-"), NULL, NULL, caps) == NULL,
	    "no rule for the bare prefix");
	add(rs, "tail", RULES_ANY, NULL, false);
	is(match(rs, "Key-9999"), "r9999", "exact hit before a later catch-all");
	is(match(rs, "nope"), "tail", "a miss falls to the catch-all");
	ok(rules_cycle_slots(rs) == 0, "no cycling rules among them");
	rules_free(rs);
}

static void
test_glob(void)
{
	static const struct {
		const char	*pat, *s;
		bool		 ci, want;
	} g[] = {
		{ "*", "", false, true },
		{ "*", "anything", false, true },
		{ "a*", "a", false, true },
		{ "*a", "ba", false, true },
		{ "*a", "ab", false, false },
		{ "a*b*c", "axxbyyc", false, true },
		{ "a*b*c", "axxbyy", false, false },
		{ "*ab*ab*", "xabyyab", false, true },
		{ "*aab", "aaaab", false, true },	/* backtracking */
		{ "???", "abc", false, true },
		{ "???", "ab", false, false },
		{ "???", "abcd", false, false },
		{ "[a-z]", "m", false, true },
		{ "[a-z]", "M", false, false },
		{ "[a-z]", "M", true, true },
		/* a range that holds upper case only still folds */
		{ "[A-_]", "z", true, true },
		{ "[A-_]", "z", false, false },
		{ "[a-z]", "Q", true, true },
		{ "[A-Z]", "q", true, true },
		{ "[a-z]", "-", false, false },
		{ "[abc]x", "bx", false, true },
		{ "[abc]x", "dx", false, false },
		{ "[ABC]", "b", true, true },
		{ "[!x]", "y", false, true },
		{ "[!x]", "x", false, false },
		{ "[!x]", "X", false, true },
		{ "[!x]", "X", true, false },
		{ "[^x]", "x", false, false },
		{ "[!a-c]", "d", false, true },
		{ "[!a-c]", "b", false, false },
		{ "[]]", "]", false, true },		/* ']' first is a member */
		{ "[!]]", "]", false, false },
		{ "[!]]", "a", false, true },
		{ "[a-]", "-", false, true },		/* '-' last is a member */
		{ "[a-]", "b", false, false },
		{ "[0-9][0-9]", "42", false, true },
		{ "[\\]]", "]", false, true },
		{ "[\\!]", "!", false, true },
		{ "\\*", "*", false, true },
		{ "\\*", "x", false, false },
		{ "\\?", "?", false, true },
		{ "\\?", "x", false, false },
		{ "\\[a]", "[a]", false, true },
		{ "\\[a]", "a", false, false },
		{ "\\\\", "\\", false, true },
		{ "a\\b", "ab", false, true },		/* escaped ordinary byte */
		{ "*\\*", "x*", false, true },
		{ "*\\*", "x", false, false },
		{ "[a-z]*.txt", "notes.txt", false, true },
		{ "[a-z]*.txt", "Notes.txt", false, false },
		{ "[a-z]*.txt", "Notes.TXT", true, true },
	};
	char	 err[256];
	size_t	 i, nsub = 99;

	for (i = 0; i < sizeof(g) / sizeof(g[0]); i++)
		ok(rules_glob(g[i].pat, strlen(g[i].pat), g[i].s,
		    strlen(g[i].s), g[i].ci) == g[i].want,
		    "glob \"%s\"%s %s \"%s\"", g[i].pat, g[i].ci ? " (ci)" : "",
		    g[i].want ? "matches" : "does not match", g[i].s);

	/* an unterminated '[' is a literal byte to rules_glob */
	ok(rules_glob(LIT("a[b"), LIT("a[b"), false), "\"a[b\" literal");
	ok(!rules_glob(LIT("a[b"), LIT("ab"), false), "\"a[b\" not a class");
	ok(rules_glob(LIT("["), LIT("["), false), "lone '[' literal");
	ok(rules_glob(LIT("[!"), LIT("[!"), false), "\"[!\" literal");
	ok(rules_glob(LIT("*["), LIT("xx["), false), "\"*[\" literal");
	ok(rules_glob(LIT("[]"), LIT("[]"), false), "\"[]\" literal");
	/* lengths are honoured: bytes past plen and slen are not looked at */
	ok(rules_glob("abc", 2, "abX", 2, false), "pattern length honoured");
	ok(!rules_glob("a*", 1, "ab", 2, false), "'*' past plen not used");

	ok(rules_check_pattern(RULES_GLOB, "a[b", false, &nsub, err,
	    sizeof(err)) == -EINVAL, "check refuses unterminated '['");
	is(err, "glob has '[' without a closing ']'", "its message");
	ok(rules_check_pattern(RULES_GLOB, "[]", false, &nsub, err,
	    sizeof(err)) == -EINVAL, "check refuses \"[]\"");
	ok(rules_check_pattern(RULES_GLOB, "x[!]", false, &nsub, err,
	    sizeof(err)) == -EINVAL, "check refuses \"x[!]\"");
	ok(rules_check_pattern(RULES_GLOB, "ab\\", true, &nsub, err,
	    sizeof(err)) == -EINVAL, "check refuses a lone trailing '\\'");
	is(err, "glob ends with a lone '\\'", "its message");
	nsub = 99;
	ok(rules_check_pattern(RULES_GLOB, "[]]\\[*?[!a-z]\\\\", false,
	    &nsub, err, sizeof(err)) == 0 && nsub == 0,
	    "check accepts a well-formed glob");
	ok(rules_check_pattern(RULES_GLOB, "\\[", false, &nsub, err,
	    sizeof(err)) == 0, "check accepts an escaped '['");
	ok(rules_check_pattern(RULES_REGEX, "a(", false, &nsub, err,
	    sizeof(err)) == -EINVAL, "check refuses a bad regex");
	ok(strncmp(err, "regex does not compile: ", 24) == 0 &&
	    strlen(err) > 24, "its message (%s)", err);
	ok(rules_check_pattern(RULES_REGEX, "*[", true, &nsub, err,
	    sizeof(err)) == -EINVAL, "check refuses another bad regex");
	ok(rules_check_pattern(RULES_REGEX, "(a)(b(c))?", false, &nsub, err,
	    sizeof(err)) == 0 && nsub == 3, "regex groups counted (%zu)", nsub);
	/* stacked repetitions cost exponential time in regcomp(): refused */
	ok(rules_check_pattern(RULES_REGEX, "a++", false, &nsub, err,
	    sizeof(err)) == -EINVAL && strstr(err, "repetition on a "
	    "repetition") != NULL, "a++ refused: %s", err);
	ok(rules_check_pattern(RULES_REGEX, "a{2}*", false, &nsub, err,
	    sizeof(err)) == -EINVAL, "a{2}* refused");
	ok(rules_check_pattern(RULES_REGEX, "((((a+)+)+)+)+", false, &nsub,
	    err, sizeof(err)) == -EINVAL, "repeated groups 5 deep refused");
	ok(rules_check_pattern(RULES_REGEX, "(((a+)+)+)+", false, &nsub,
	    err, sizeof(err)) == 0, "repeated groups 4 deep are fine: %s",
	    err);
	ok(rules_check_pattern(RULES_REGEX, "a{256}", false, &nsub, err,
	    sizeof(err)) == -EINVAL, "count over 255 refused");
	ok(rules_check_pattern(RULES_REGEX, "[+*]+ a\\++ (b+)+", false,
	    &nsub, err, sizeof(err)) == 0, "bracketed, escaped and grouped "
	    "repetitions are fine: %s", err);
	ok(rules_check_pattern(RULES_REGEX, "abc", false, &nsub, err,
	    sizeof(err)) == 0 && nsub == 0, "regex without groups");
	nsub = 99;
	ok(rules_check_pattern(RULES_PREFIX, "a[(\\", false, &nsub, err,
	    sizeof(err)) == 0 && nsub == 0, "prefix takes any text");
	ok(rules_check_pattern(RULES_EXACT, "", false, &nsub, err,
	    sizeof(err)) == 0, "exact takes the empty text");
}

static void
test_parse_net(void)
{
	static const char *const bad[] = {
		"", "/24", "192.0.2.0/", "192.0.2.0/33", "::/129", "2001:db8::/",
		"192.0.2.0/24x", "192.0.2.0/x", "192.0.2.0/24/1", "192.0.2",
		"192.0.2.256", "host.example", "192.0.2.0 /24", " 192.0.2.0",
		"192.0.2.0/2 4", "fe80::1%eth0", "2001:db8::/32 ", ":::/64",
		"192.0.2.0/100000000000000000000",
		"0000:0000:0000:0000:0000:0000:0000:0000:0000/64",
	};
	struct rules_net	 n;
	size_t			 i;
	uint8_t			 v6[16];

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(rules_parse_net(bad[i], &n) == -EINVAL,
		    "network \"%s\" refused", bad[i]);

	ok(rules_parse_net("192.0.2.0/24", &n) == 0 && n.family == AF_INET &&
	    n.prefix == 24 && memcmp(n.addr, "\xc0\x00\x02\x00", 4) == 0,
	    "192.0.2.0/24");
	ok(rules_parse_net("192.0.2.7", &n) == 0 && n.family == AF_INET &&
	    n.prefix == 32, "a lone IPv4 address is a /32");
	ok(rules_parse_net("0.0.0.0/0", &n) == 0 && n.prefix == 0, "/0");
	/* the prefix is digits only */
	ok(rules_parse_net("10.0.0.0/ 8", &n) < 0, "blank in prefix");
	ok(rules_parse_net("10.0.0.0/+8", &n) < 0, "sign in prefix");
	ok(rules_parse_net("192.0.2.1/-0", &n) < 0, "negative prefix");
	ok(rules_parse_net("10.0.0.0/", &n) < 0, "empty prefix");
	ok(rules_parse_net("10.0.0.0/0008", &n) < 0, "four digits");
	ok(rules_parse_net("10.0.0.0/8", &n) == 0 && n.prefix == 8, "/8");
	ok(rules_parse_net("127.0.0.1/8", &n) == 0 && n.prefix == 8,
	    "host bits may be set");
	ok(rules_parse_net("2001:db8::/32", &n) == 0 &&
	    n.family == AF_INET6 && n.prefix == 32, "2001:db8::/32");
	inet_pton(AF_INET6, "2001:db8::", v6);
	ok(memcmp(n.addr, v6, 16) == 0, "IPv6 network bytes");
	ok(rules_parse_net("::1", &n) == 0 && n.family == AF_INET6 &&
	    n.prefix == 128, "a lone IPv6 address is a /128");
	ok(rules_parse_net("::/0", &n) == 0 && n.prefix == 0, "::/0");
	ok(rules_parse_net("::ffff:192.0.2.1/128", &n) == 0 &&
	    n.family == AF_INET6, "mapped form is an IPv6 network");
	ok(rules_parse_net("192.0.2.0/32", &n) == 0 && n.prefix == 32,
	    "/32 at the limit");
	ok(rules_parse_net("::/128", &n) == 0 && n.prefix == 128,
	    "/128 at the limit");
}

static void
test_networks(void)
{
	static const char *const v4[] = { "192.0.2.0/23" };
	static const char *const v6[] = { "2001:db8:0:80::/57" };
	static const char *const host4[] = { "198.51.100.7/32" };
	static const char *const host6[] = { "2001:db8::1/128" };
	static const char *const all4[] = { "0.0.0.0/0" };
	static const char *const all6[] = { "::/0" };
	static const char *const two[] = { "10.0.0.0/8", "2001:db8:ff::/48" };
	struct opts		 o = { 0 };
	struct rules		*rs;
	struct sockaddr_storage	 ss;

#define NET(list) (o.nets = (list), o.nnets = sizeof(list) / sizeof((list)[0]), &o)
#define W(peer)	match_peer(rs, LIT("m"), NULL, (peer))

	rs = rules_new();
	add_rule(rs, "v4/23", RULES_EXACT, "m", false, NET(v4));
	add_rule(rs, "v6/57", RULES_PREFIX, "m", false, NET(v6));
	add_rule(rs, "host4", RULES_EXACT, "m", false, NET(host4));
	add_rule(rs, "host6", RULES_CONTAINS, "m", false, NET(host6));
	add_rule(rs, "two", RULES_EXACT, "m", false, NET(two));
	add(rs, "fallback", RULES_EXACT, "m", false);

	is(W(peer4(&ss, "192.0.2.0")), "v4/23", "/23: first address");
	is(W(peer4(&ss, "192.0.3.255")), "v4/23", "/23: last address");
	is(W(peer4(&ss, "192.0.4.0")), "fallback", "/23: one past");
	is(W(peer4(&ss, "192.0.1.255")), "fallback", "/23: one before");
	is(W(peer6(&ss, "2001:db8:0:80::")), "v6/57", "/57: first address");
	is(W(peer6(&ss, "2001:db8:0:ff:ffff::1")), "v6/57", "/57: high bits");
	is(W(peer6(&ss, "2001:db8:0:7f::1")), "fallback", "/57: bit 57 clear");
	is(W(peer6(&ss, "2001:db8:0:180::")), "fallback", "/57: byte 6 differs");
	is(W(peer4(&ss, "198.51.100.7")), "host4", "/32: the address");
	is(W(peer4(&ss, "198.51.100.6")), "fallback", "/32: its neighbour");
	is(W(peer6(&ss, "2001:db8::1")), "host6", "/128: the address");
	is(W(peer6(&ss, "2001:db8::2")), "fallback", "/128: its neighbour");
	is(W(peer4(&ss, "10.200.0.1")), "two", "list: IPv4 entry");
	is(W(peer6(&ss, "2001:db8:ff:1::9")), "two", "list: IPv6 entry");
	/* an IPv4 client on an IPv6 socket */
	is(W(peer6(&ss, "::ffff:192.0.3.1")), "v4/23",
	    "IPv4-mapped client matches an IPv4 network");
	is(W(peer6(&ss, "::ffff:198.51.100.7")), "host4",
	    "IPv4-mapped client matches an IPv4 /32");
	is(W(peer6(&ss, "::ffff:203.0.113.1")), "fallback",
	    "IPv4-mapped client outside");
	is(W(peer6(&ss, "::c000:201")), "fallback",
	    "IPv4-compatible (not mapped) address is IPv6");
	is(W(peer_unix(&ss)), "fallback", "Unix peer matches no network");
	is(W(NULL), "fallback", "NULL peer matches no network");
	rules_free(rs);

	rs = rules_new();
	add_rule(rs, "all4", RULES_EXACT, "m", false, NET(all4));
	add_rule(rs, "all6", RULES_EXACT, "m", false, NET(all6));
	is(W(peer4(&ss, "203.0.113.200")), "all4", "0.0.0.0/0: any IPv4");
	is(W(peer4(&ss, "255.255.255.255")), "all4", "0.0.0.0/0: broadcast");
	is(W(peer6(&ss, "::ffff:1.2.3.4")), "all4", "0.0.0.0/0: mapped IPv4");
	is(W(peer6(&ss, "fe80::1")), "all6", "::/0: any IPv6");
	is(W(peer_unix(&ss)), "-", "/0 does not take a Unix peer");
	is(W(NULL), "-", "/0 does not take a NULL peer");
	rules_free(rs);

	/* the same test on its own, as the access lists use it */
	{
		struct rules_net	 nets[2];

		rules_parse_net("192.0.2.0/23", &nets[0]);
		rules_parse_net("2001:db8::/32", &nets[1]);
		ok(rules_nets_match(nets, 2, peer4(&ss, "192.0.3.1")),
		    "rules_nets_match: IPv4 in the list");
		ok(rules_nets_match(nets, 2, peer6(&ss, "::ffff:192.0.2.1")),
		    "rules_nets_match: mapped IPv4 in the list");
		ok(rules_nets_match(nets, 2, peer6(&ss, "2001:db8:1::")),
		    "rules_nets_match: IPv6 in the list");
		ok(!rules_nets_match(nets, 2, peer4(&ss, "192.0.4.1")),
		    "rules_nets_match: IPv4 outside");
		ok(!rules_nets_match(nets, 1, peer6(&ss, "2001:db8:1::")),
		    "rules_nets_match: only the first n networks");
		ok(!rules_nets_match(nets, 0, peer4(&ss, "192.0.3.1")),
		    "rules_nets_match: an empty list holds nobody");
		ok(!rules_nets_match(nets, 2, peer_unix(&ss)),
		    "rules_nets_match: never a Unix peer");
		ok(!rules_nets_match(nets, 2, NULL), "rules_nets_match: NULL");
	}
#undef NET
#undef W
}

static void
test_listeners(void)
{
	static const char *const ab[] = { "a", "b" };
	static const char *const c[] = { "c" };
	struct opts		 oab = { .listeners = ab, .nlisteners = 2 };
	struct opts		 oc = { .listeners = c, .nlisteners = 1 };
	struct rules		*rs = rules_new();

	add_rule(rs, "ab", RULES_PREFIX, "x", false, &oab);
	add_rule(rs, "c", RULES_EXACT, "xy", false, &oc);
	add(rs, "any", RULES_REGEX, "^x", false);
	is(match_peer(rs, LIT("xy"), "a", NULL), "ab", "listener a");
	is(match_peer(rs, LIT("xy"), "b", NULL), "ab", "listener b");
	is(match_peer(rs, LIT("xy"), "c", NULL), "c", "listener c");
	is(match_peer(rs, LIT("xy"), "d", NULL), "any", "listener d");
	is(match_peer(rs, LIT("xy"), "A", NULL), "any",
	    "listener names are case-sensitive");
	is(match_peer(rs, LIT("xy"), "", NULL), "any", "empty listener name");
	is(match_peer(rs, LIT("xy"), NULL, NULL), "any",
	    "no listener: restricted rules do not match");
	rules_free(rs);
}

static void
test_captures(void)
{
	static const char *const rep[] = { "%{1}=%{2}" };
	static const char *const none[] = { "no captures" };
	struct opts		 o = { .replies = rep, .nreplies = 1 };
	struct opts		 on = { .replies = none, .nreplies = 1 };
	regmatch_t		 caps[TEMPLATE_CAPTURES];
	const struct rules_rule	*r;
	struct rules		*rs;
	int			 i, unused;

	rs = rules_new();
	add_rule(rs, "kv", RULES_REGEX, "([a-z]+)=([0-9]+)(;)?(x)?", false, &o);
	memset(caps, 0x5a, sizeof(caps));
	r = rules_match(rs, LIT("set key=42 now"), NULL, NULL, caps);
	ok(r != NULL, "regex with groups matches");
	ok(caps[0].rm_so == 4 && caps[0].rm_eo == 10, "%%{0} offsets %d-%d",
	    (int)caps[0].rm_so, (int)caps[0].rm_eo);
	ok(caps[1].rm_so == 4 && caps[1].rm_eo == 7, "%%{1} offsets %d-%d",
	    (int)caps[1].rm_so, (int)caps[1].rm_eo);
	ok(caps[2].rm_so == 8 && caps[2].rm_eo == 10, "%%{2} offsets");
	ok(caps[3].rm_so == -1 && caps[4].rm_so == -1,
	    "groups that took no part are -1");
	for (i = 5, unused = 0; i < TEMPLATE_CAPTURES; i++)
		unused += caps[i].rm_so == -1;
	ok(unused == TEMPLATE_CAPTURES - 5, "slots past the groups are -1");

	r = rules_match(rs, LIT("a=1;x"), NULL, NULL, caps);
	ok(r != NULL && caps[3].rm_so == 3 && caps[3].rm_eo == 4 &&
	    caps[4].rm_so == 4 && caps[4].rm_eo == 5, "optional groups taken");

	/* offsets count every byte, NULs included */
	r = rules_match(rs, LIT("\0\0z=7"), NULL, NULL, caps);
	ok(r != NULL && caps[0].rm_so == 2 && caps[0].rm_eo == 5 &&
	    caps[1].rm_so == 2 && caps[2].rm_so == 4 && caps[2].rm_eo == 5,
	    "offsets after NUL bytes (%d-%d)", (int)caps[0].rm_so,
	    (int)caps[0].rm_eo);
	rules_free(rs);

	rs = rules_new();
	add_rule(rs, "alt", RULES_REGEX, "(a)|(b)", false, &o);
	r = rules_match(rs, LIT("xb"), NULL, NULL, caps);
	ok(r != NULL && caps[1].rm_so == -1 && caps[2].rm_so == 1 &&
	    caps[2].rm_eo == 2, "alternation: only the taken group");
	rules_free(rs);

	/* a regex whose replies use no capture still matches */
	rs = rules_new();
	add_rule(rs, "nosub", RULES_REGEX, "(x+)y", true, &on);
	is(match(rs, "aXXY"), "nosub", "regex without used captures matches");
	is(match(rs, "aXX"), "-", "and misses");
	rules_free(rs);
}

static void
test_cycle_slots(void)
{
	static const char *const two[] = { "one", "two" };
	static const char *const three[] = { "a", "b", "c" };
	struct opts		 o2 = { .replies = two, .nreplies = 2 };
	struct opts		 o3 = { .replies = three, .nreplies = 3 };
	struct opts		 silent = { .no_reply = true };
	const struct rules_rule	*r1, *r2, *r3, *r4, *r5;
	struct rules		*rs = rules_new();

	ok(rules_cycle_slots(rs) == 0, "empty set: no cycle slots");
	r1 = add(rs, "single", RULES_EXACT, "s", false);
	r2 = add_rule(rs, "cyc2", RULES_PREFIX, "c2", false, &o2);
	r3 = add_rule(rs, "silent", RULES_EXACT, "n", false, &silent);
	r4 = add_rule(rs, "cyc3", RULES_EXACT, "c3", false, &o3);
	r5 = add_rule(rs, "cyc3b", RULES_REGEX, "x", false, &o3);
	ok(r1->nreplies == 1 && r3->nreplies == 0, "reply counts");
	ok(r2->nreplies == 2 && r4->nreplies == 3, "cycling reply counts");
	ok(r2->cycle_slot == 0 && r4->cycle_slot == 1 && r5->cycle_slot == 2,
	    "cycling rules get slots 0, 1, 2 (%zu %zu %zu)", r2->cycle_slot,
	    r4->cycle_slot, r5->cycle_slot);
	ok(rules_cycle_slots(rs) == 3, "three cycle slots (%zu)",
	    rules_cycle_slots(rs));
	rules_free(rs);
}

/* ---- reply_build ------------------------------------------------ */

static unsigned int	 fill_calls, fill_needs;

static void
fill(struct template_ctx *ctx, unsigned int needs, void *arg)
{
	fill_calls++;
	fill_needs |= needs;
	*(int *)arg += 1;
	if (needs & TEMPLATE_NEED_SERVER) {
		ctx->server_address = "198.51.100.1";
		ctx->server_port = 13008;
	}
	if (needs & TEMPLATE_NEED_TIME)
		ctx->now_usec = 1700000000000000ULL;
}

/* Builds the reply for msg; out gets the bytes, res the decision. */
static int
build(const struct conf *c, const char *msg, size_t len, const char *term,
    const struct sockaddr *peer, uint32_t *cycle, struct buf *out,
    struct reply *res)
{
	struct template_ctx	 ctx;
	struct frame_msg	 m;
	unsigned int		 before = fill_calls;
	int			 arg = 0, r;

	memset(&ctx, 0, sizeof(ctx));
	ctx.client_address = "192.0.2.7";
	ctx.client_port = 40000;
	ctx.listener = "main";
	ctx.hostname = "box";
	ctx.message_number = 1;
	ctx.connections = 1;
	m.data = msg;
	m.len = len;
	m.term = term;
	m.term_len = strlen(term);
	out->len = 0;
	r = reply_build(c, &m, peer, &ctx, fill, &arg, cycle, out, res);
	if (ctx.rule != NULL || ctx.caps != NULL)
		return -1000;	/* must not point at reply_build's locals */
	if ((unsigned int)arg != fill_calls - before) {
		printf("#   fill arg not passed through\n");
		return -1001;
	}
	return r;
}

static void
test_reply_build(void)
{
	static const char *const cyc[] = { "one", "two", "three" };
	static const char *const cyc2[] = { "x%{message}", "y%{message}" };
	static const char *const caps[] = {
		"%{2} of %{1} (%{0}) [%{3}] %{rule}"
	};
	static const char *const who[] = { "%{rule} %{listener} %{client_address}" };
	static const char *const srv[] = { "at %{server_address}:%{server_port}" };
	static const char *const tim[] = { "t=%{unix_time}" };
	static const char *const lan[] = { "10.0.0.0/8" };
	struct opts		 ocyc = { .replies = cyc, .nreplies = 3 };
	struct opts		 ocyc2 = { .replies = cyc2, .nreplies = 2 };
	struct opts		 ocaps = { .replies = caps, .nreplies = 1 };
	struct opts		 owho = { .replies = who, .nreplies = 1 };
	struct opts		 osrv = { .replies = srv, .nreplies = 1 };
	struct opts		 otim = { .replies = tim, .nreplies = 1 };
	struct opts		 osilent = { .no_reply = true, .close = true,
				    .delay_ms = 250 };
	struct opts		 oclose = { .close = true };
	struct opts		 odelay = { .delay_ms = 1500 };
	struct opts		 olan = { .nets = lan, .nnets = 1 };
	struct conf		*c = config_default();
	struct sockaddr_storage	 ss;
	struct reply		 res;
	struct buf		 out = { 0 };
	uint32_t		 cycle[3], cyclebis[3];
	char			 label[32];
	const char		*want[] = { "one\n", "two\n", "three\n", "one\n",
				    "two\n" };
	int			 i, r;

	if (c == NULL) {
		printf("Bail out! config_default\n");
		exit(99);
	}
	rules_free(c->rules);
	c->rules = rules_new();
	add_rule(c->rules, "silent", RULES_EXACT, "quiet", false, &osilent);
	add_rule(c->rules, "bye", RULES_EXACT, "bye", true, &oclose);
	add_rule(c->rules, "slow", RULES_PREFIX, "slow", false, &odelay);
	add_rule(c->rules, "cycle", RULES_EXACT, "next", false, &ocyc);
	add_rule(c->rules, "cycle2", RULES_PREFIX, "other", false, &ocyc2);
	add_rule(c->rules, "get", RULES_REGEX,
	    "^GET /([a-z]+)/([0-9]+)( x)?$", false, &ocaps);
	add_rule(c->rules, NULL, RULES_EXACT, "who", false, &owho);
	add_rule(c->rules, "lan", RULES_EXACT, "lan", false, &olan);
	add_rule(c->rules, "srv", RULES_EXACT, "srv", false, &osrv);
	add_rule(c->rules, "time", RULES_EXACT, "time", false, &otim);

	/* the default: echo, with the message's own terminator */
	r = build(c, LIT("hello"), "\n", NULL, NULL, &out, &res);
	ok(r == 0 && res.rule == NULL && !res.silent && !res.close &&
	    res.delay_ms == 0 && res.choice == 0, "default reply decision");
	ok_bytes(out.data, out.len, "hello\n", "default echo with LF");
	build(c, LIT("hello"), "\r\n", NULL, NULL, &out, &res);
	ok_bytes(out.data, out.len, "hello\r\n", "default echo with CRLF");
	build(c, LIT("raw"), "", NULL, NULL, &out, &res);
	ok_bytes(out.data, out.len, "raw", "default echo, raw framing");
	build(c, LIT(""), "\n", NULL, NULL, &out, &res);
	ok_bytes(out.data, out.len, "\n", "empty message echoed");
	r = build(c, LIT("a\0b"), "\n", NULL, NULL, &out, &res);
	ok(r == 0 && out.len == 4 && memcmp(out.data, "a\0b\n", 4) == 0,
	    "NUL bytes echoed");
	/* appends: what is already in out stays */
	{
		struct template_ctx	 ctx = { .client_address = "x" };
		struct frame_msg	 m = { "tail", 4, "\n", 1 };

		out.len = 0;
		buf_append(&out, "head:", 5);
		r = reply_build(c, &m, NULL, &ctx, NULL, NULL, NULL, &out, &res);
		ok_bytes(out.data, out.len, "head:tail\n",
		    "reply_build appends to out");
	}

	/* silent: no bytes at all, not even the terminator */
	r = build(c, LIT("quiet"), "\n", NULL, NULL, &out, &res);
	ok(r == 0 && res.silent && res.rule != NULL &&
	    strcmp(res.rule->name, "silent") == 0, "no_reply rule is silent");
	ok(out.len == 0, "silent rule writes nothing (%zu bytes)", out.len);
	ok(res.close && res.delay_ms == 250, "silent rule keeps close and "
	    "delay");

	r = build(c, LIT("BYE"), "\r\n", NULL, NULL, &out, &res);
	ok(r == 0 && res.close && !res.silent && res.delay_ms == 0,
	    "close rule");
	ok_bytes(out.data, out.len, "bye\r\n", "close rule still replies");

	r = build(c, LIT("slowly"), "\n", NULL, NULL, &out, &res);
	ok(r == 0 && res.delay_ms == 1500 && !res.close && !res.silent,
	    "delay rule");
	ok_bytes(out.data, out.len, "slow\n", "delayed reply rendered now");

	/* close_after_reply closes after every reply, default or rule */
	c->close_after_reply = true;
	build(c, LIT("x"), "\n", NULL, NULL, &out, &res);
	ok(res.close && res.rule == NULL, "close_after_reply: default");
	build(c, LIT("slow"), "\n", NULL, NULL, &out, &res);
	ok(res.close && res.delay_ms == 1500, "close_after_reply: rule");
	c->close_after_reply = false;

	/* cycling replies, per connection */
	ok(rules_cycle_slots(c->rules) == 2, "two cycling rules");
	memset(cycle, 0, sizeof(cycle));
	memset(cyclebis, 0, sizeof(cyclebis));
	for (i = 0; i < 5; i++) {
		build(c, LIT("next"), "\n", NULL, cycle, &out, &res);
		ok_bytes(out.data, out.len, want[i], "cycling reply %d", i + 1);
		ok(res.choice == (size_t)(i % 3), "choice %d is %d (%zu)",
		    i + 1, i % 3, res.choice);
	}
	build(c, LIT("next"), "\n", NULL, cyclebis, &out, &res);
	ok_bytes(out.data, out.len, "one\n",
	    "another connection starts at the first reply");
	build(c, LIT("other"), "\n", NULL, cycle, &out, &res);
	ok_bytes(out.data, out.len, "xother\n",
	    "a second cycling rule has its own counter");
	build(c, LIT("other2"), "\n", NULL, cycle, &out, &res);
	ok_bytes(out.data, out.len, "yother2\n", "second rule, second reply");
	build(c, LIT("next"), "\n", NULL, cycle, &out, &res);
	ok_bytes(out.data, out.len, "three\n",
	    "first rule's counter unaffected by the second");
	ok(cycle[0] == 6 && cycle[1] == 2 && cyclebis[0] == 1 &&
	    cyclebis[1] == 0, "counters %u %u %u %u", cycle[0], cycle[1],
	    cyclebis[0], cyclebis[1]);
	build(c, LIT("next"), "\n", NULL, NULL, &out, &res);
	ok_bytes(out.data, out.len, "one\n", "no counters: the first reply");
	build(c, LIT("next"), "\n", NULL, NULL, &out, &res);
	ok_bytes(out.data, out.len, "one\n", "no counters: still the first");

	/* captures */
	build(c, LIT("GET /users/42"), "\n", NULL, NULL, &out, &res);
	ok_bytes(out.data, out.len, "42 of users (GET /users/42) [] get\n",
	    "captures rendered; a group that took no part is empty");
	build(c, LIT("GET /users/42 x"), "\r\n", NULL, NULL, &out, &res);
	ok_bytes(out.data, out.len,
	    "42 of users (GET /users/42 x) [ x] get\r\n", "all groups");
	build(c, LIT("GET /Users/42"), "\n", NULL, NULL, &out, &res);
	ok(res.rule == NULL, "regex is case-sensitive without ignore_case");

	/* an unnamed rule is #N in %{rule} and in labels */
	build(c, LIT("who"), "\n", NULL, NULL, &out, &res);
	ok_bytes(out.data, out.len, "#7 main 192.0.2.7\n",
	    "unnamed rule renders as its number");
	is(reply_rule_label(res.rule, label, sizeof(label)), "#7",
	    "label of an unnamed rule");
	is(reply_rule_label(rules_get(c->rules, 1), label, sizeof(label)),
	    "bye", "label of a named rule");
	is(reply_rule_label(NULL, label, sizeof(label)), "default",
	    "label of the default");

	/* networks through reply_build's peer */
	build(c, LIT("lan"), "\n", peer4(&ss, "10.9.8.7"), NULL, &out, &res);
	ok_bytes(out.data, out.len, "lan\n", "network rule for its client");
	build(c, LIT("lan"), "\n", peer4(&ss, "11.9.8.7"), NULL, &out, &res);
	ok(res.rule == NULL, "network rule: another client gets the default");
	ok_bytes(out.data, out.len, "lan\n", "which echoes");

	/* costly parts filled only when the template needs them */
	fill_calls = fill_needs = 0;
	build(c, LIT("who"), "\n", NULL, NULL, &out, &res);
	build(c, LIT("x"), "\n", NULL, NULL, &out, &res);
	ok(fill_calls == 0, "no fill for cheap templates (%u)", fill_calls);
	build(c, LIT("srv"), "\n", NULL, NULL, &out, &res);
	ok(fill_calls == 1 && fill_needs == TEMPLATE_NEED_SERVER,
	    "fill asked for the server");
	ok_bytes(out.data, out.len, "at 198.51.100.1:13008\n", "server vars");
	fill_calls = fill_needs = 0;
	build(c, LIT("time"), "\n", NULL, NULL, &out, &res);
	ok(fill_calls == 1 && fill_needs == TEMPLATE_NEED_TIME,
	    "fill asked for the time");
	ok_bytes(out.data, out.len, "t=1700000000\n", "time var");

	/* the default_reply template is the conf's */
	template_free(c->default_reply);
	c->default_reply = tpl("[%{rule}] %{message} #%{message_number}");
	build(c, LIT("zz"), "\n", NULL, NULL, &out, &res);
	ok_bytes(out.data, out.len, "[default] zz #1\n",
	    "default_reply template");
	ok(c->max_message_bytes == 8192, "default max_message_bytes");

	buf_free(&out);
	config_free(c);
}

int
main(void)
{
	test_kinds();
	test_long_message();
	test_first_match();
	test_exact_order();
	test_many_exact();
	test_glob();
	test_parse_net();
	test_networks();
	test_listeners();
	test_captures();
	test_cycle_slots();
	test_reply_build();
	return tap_done();
}

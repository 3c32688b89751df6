/* SPDX-License-Identifier: ISC */
#define LIBBSD_NETBSD_VIS	/* strvis() is the same in both flavours */
/*
 * The rule module (src/lib/rules.c) on its own: every match kind with
 * and without ignore_case, bytes that are not text, first-match order
 * across the exact-rule hash and the pattern rules, networks, listeners,
 * captures, cycling reply slots, and the checks a pattern passes before
 * it is added. Globbing itself is test-glob's, the arithmetic of
 * networks test-addr's, replies test-answer's.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <vis.h>

#include "rules.h"
#include "template.h"
#include "fixture.h"
#include "tap.h"

/* The name of the rule a message matches, "-" for none. */
static const char *
match_peer(const struct rules *rs, const char *msg, size_t len,
    const char *listener, const struct sockaddr *peer)
{
	regmatch_t		 caps[TEMPLATE_CAPTURES];
	const struct rules_rule	*r;

	r = rules_match(rs, msg, len, listener, peer, NULL, caps);
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
	ok(rules_match(rs, LIT("x"), NULL, NULL, NULL, NULL) == NULL,
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
		r = rules_match(rs, msg, strlen(msg), NULL, NULL, NULL, caps);
		if (r != NULL && r->index == i)
			found++;
		else if (wrong++ < 5)
			printf("#   \"%s\" found %s\n", msg, r == NULL ? "nothing" :
			    r->name);
		snprintf(msg, sizeof(msg), "key-%zu", i);
		r = rules_match(rs, msg, strlen(msg), NULL, NULL, NULL, caps);
		if (i % 2 == 0 ? r == NULL : r != NULL && r->index == i)
			cased++;
	}
	ok(found == n, "%zu exact rules: each message finds its own (%zu, "
	    "%zu wrong)", n, found, wrong);
	ok(cased == n, "%zu exact rules: case-sensitivity kept (%zu)", n,
	    cased);
	ok(rules_match(rs, LIT("Key-10000"), NULL, NULL, NULL, caps) == NULL,
	    "one past the last is not found");
	ok(rules_match(rs, LIT("Key-"), NULL, NULL, NULL, caps) == NULL,
	    "no rule for the bare prefix");
	add(rs, "tail", RULES_ANY, NULL, false);
	is(match(rs, "Key-9999"), "r9999", "exact hit before a later catch-all");
	is(match(rs, "nope"), "tail", "a miss falls to the catch-all");
	ok(rules_cycle_slots(rs) == 0, "no cycling rules among them");
	rules_free(rs);
}

static void
test_check_pattern(void)
{
	char	 err[256];
	size_t	 nsub = 99;

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

/* Rules restricted to networks, on every path a rule is found by. */
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

/* The TLS server name a client asked for, as a condition of a rule. */
static const char *
match_sni(const struct rules *rs, const char *msg, const char *sni)
{
	regmatch_t		 caps[TEMPLATE_CAPTURES];
	const struct rules_rule	*r;

	r = rules_match(rs, msg, strlen(msg), "l", NULL, sni, caps);
	return r == NULL ? "-" : r->name;
}

static void
test_sni(void)
{
	static const char *const ex[] = { "*.example", "exact.test" };
	static const char *const l[] = { "l" };
	struct opts		 o = { .snis = ex, .nsnis = 2 };
	struct opts		 ol = { .snis = ex, .nsnis = 2, .listeners = l,
				    .nlisteners = 1 };
	struct rules		*rs = rules_new();

	add_rule(rs, "hashed", RULES_EXACT, "x", false, &o);
	add_rule(rs, "pattern", RULES_PREFIX, "y", false, &ol);
	add(rs, "any", RULES_ANY, NULL, false);
	is(match_sni(rs, "x", "a.example"), "hashed", "exact rule, glob SNI");
	is(match_sni(rs, "x", "A.Example"), "hashed", "SNI in another case");
	is(match_sni(rs, "x", "exact.test"), "hashed", "second SNI pattern");
	is(match_sni(rs, "x", "example"), "any", "SNI not matching");
	is(match_sni(rs, "x", ""), "any", "no SNI sent");
	is(match_sni(rs, "x", NULL), "any", "not TLS");
	is(match_sni(rs, "yes", "b.example"), "pattern",
	    "pattern rule with SNI and listener");
	is(match_sni(rs, "yes", "b.test"), "any", "pattern rule, other SNI");
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
	r = rules_match(rs, LIT("set key=42 now"), NULL, NULL, NULL, caps);
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

	r = rules_match(rs, LIT("a=1;x"), NULL, NULL, NULL, caps);
	ok(r != NULL && caps[3].rm_so == 3 && caps[3].rm_eo == 4 &&
	    caps[4].rm_so == 4 && caps[4].rm_eo == 5, "optional groups taken");

	/* offsets count every byte, NULs included */
	r = rules_match(rs, LIT("\0\0z=7"), NULL, NULL, NULL, caps);
	ok(r != NULL && caps[0].rm_so == 2 && caps[0].rm_eo == 5 &&
	    caps[1].rm_so == 2 && caps[2].rm_so == 4 && caps[2].rm_eo == 5,
	    "offsets after NUL bytes (%d-%d)", (int)caps[0].rm_so,
	    (int)caps[0].rm_eo);
	rules_free(rs);

	rs = rules_new();
	add_rule(rs, "alt", RULES_REGEX, "(a)|(b)", false, &o);
	r = rules_match(rs, LIT("xb"), NULL, NULL, NULL, caps);
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

int
main(void)
{
	test_kinds();
	test_long_message();
	test_first_match();
	test_exact_order();
	test_many_exact();
	test_check_pattern();
	test_networks();
	test_listeners();
	test_sni();
	test_captures();
	test_cycle_slots();
	return tap_done();
}

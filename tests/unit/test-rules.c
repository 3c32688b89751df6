/* SPDX-License-Identifier: ISC */
#define LIBBSD_NETBSD_VIS	/* strvis() is the same in both flavours */
/*
 * The rule module (src/lib/rules.c) on its own: every match kind with
 * and without ignore_case, bytes that are not text, first-match order
 * across the exact-rule hash and the pattern rules, networks, listeners,
 * captures, which rules count, the connection's state, times and
 * probability (on both paths), state names, and the checks a pattern
 * passes before it is added. Globbing itself is test-glob's, the arithmetic of
 * networks test-addr's, replies test-answer's.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <vis.h>

#include "ascii.h"
#include "counts.h"
#include "rng.h"
#include "rules.h"
#include "template.h"
#include "fixture.h"
#include "tap.h"

/* No listener, no client, no TLS, in the start state, nothing counted. */
static const struct rules_who nobody;

/* The name of the rule a message matches, "-" for none. */
static const char *
match_peer(const struct rules *rs, const char *msg, size_t len,
    const char *listener, const struct sockaddr *peer)
{
	regmatch_t		 caps[TEMPLATE_CAPTURES];
	const struct rules_rule	*r;
	struct rules_who	 who = { .listener = listener, .peer = peer };

	r = rules_match(rs, msg, len, &who, caps);
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
	ok(rules_match(rs, LIT("x"), &nobody, NULL) == NULL,
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
		r = rules_match(rs, msg, strlen(msg), &nobody, caps);
		if (r != NULL && r->index == i)
			found++;
		else if (wrong++ < 5)
			printf("#   \"%s\" found %s\n", msg, r == NULL ? "nothing" :
			    r->name);
		snprintf(msg, sizeof(msg), "key-%zu", i);
		r = rules_match(rs, msg, strlen(msg), &nobody, caps);
		if (i % 2 == 0 ? r == NULL : r != NULL && r->index == i)
			cased++;
	}
	ok(found == n, "%zu exact rules: each message finds its own (%zu, "
	    "%zu wrong)", n, found, wrong);
	ok(cased == n, "%zu exact rules: case-sensitivity kept (%zu)", n,
	    cased);
	ok(rules_match(rs, LIT("Key-10000"), &nobody, caps) == NULL,
	    "one past the last is not found");
	ok(rules_match(rs, LIT("Key-"), &nobody, caps) == NULL,
	    "no rule for the bare prefix");
	add(rs, "tail", RULES_ANY, NULL, false);
	is(match(rs, "Key-9999"), "r9999", "exact hit before a later catch-all");
	is(match(rs, "nope"), "tail", "a miss falls to the catch-all");
	for (i = 0, found = 0; i < rules_count(rs); i++)
		found += rules_get(rs, i)->counts;
	ok(found == 0, "none of them counts (%zu)", found);
	rules_free(rs);
}

/*
 * The exact rules' hash reads words, with the last bytes in loads that
 * may overlap, and folds case eight bytes at once: every length up to
 * three words, every byte value at some place in it. An ignore_case rule
 * finds its pattern in upper case; a byte changed by 0x20 that is not a
 * letter ('@' and '`', '[' and '{', 0xc1 and 0xe1) is a miss.
 */
static void
test_exact_lengths(void)
{
	char		 pat[32], msg[32];
	size_t		 len, k, i, hits = 0, misses = 0, cased = 0, tries = 0;
	unsigned int	 c;
	bool		 letter;

	for (len = 1; len <= 24; len++) {
		for (c = 1; c < 256; c++) {
			k = c % len;
			memset(pat, 'q', len);
			pat[len] = '\0';
			pat[k] = (char)c;
			letter = (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
			for (i = 0; i < len; i++)
				msg[i] = (char)ascii_upper((unsigned char)pat[i]);
			hits += match1(RULES_EXACT, pat, true, msg, len);
			/* case-sensitive: upper case is another message,
			 * unless there was nothing to raise */
			cased += match1(RULES_EXACT, pat, false, msg, len) ==
			    (memcmp(msg, pat, len) == 0);
			if (!letter && (c ^ 0x20) != 0) {
				memcpy(msg, pat, len);
				msg[k] = (char)(c ^ 0x20);
				misses += !match1(RULES_EXACT, pat, true, msg,
				    len);
			} else
				misses++;
			tries++;
		}
	}
	ok(hits == tries, "ignore_case exact rules, lengths 1 to 24, every "
	    "byte: found in upper case (%zu of %zu)", hits, tries);
	ok(cased == tries, "case-sensitive: upper case missed, the same "
	    "bytes found (%zu of %zu)",
	    cased, tries);
	ok(misses == tries, "a byte that is not a letter, changed by 0x20: "
	    "missed (%zu of %zu)", misses, tries);
	ok(match1(RULES_EXACT, "", false, "", 0) &&
	    !match1(RULES_EXACT, "", false, "a", 1), "the empty pattern");
}

static void
test_check_pattern(void)
{
	char	 err[256];
	size_t	 nsub = 99;

	ok(rules_check_pattern(RULES_GLOB, "a[b", 0, NULL, &nsub, err,
	    sizeof(err)) == -EINVAL, "check refuses unterminated '['");
	is(err, "glob has '[' without a closing ']'", "its message");
	ok(rules_check_pattern(RULES_GLOB, "[]", 0, NULL, &nsub, err,
	    sizeof(err)) == -EINVAL, "check refuses \"[]\"");
	ok(rules_check_pattern(RULES_GLOB, "x[!]", 0, NULL, &nsub, err,
	    sizeof(err)) == -EINVAL, "check refuses \"x[!]\"");
	ok(rules_check_pattern(RULES_GLOB, "ab\\", REG_ICASE, NULL, &nsub, err,
	    sizeof(err)) == -EINVAL, "check refuses a lone trailing '\\'");
	is(err, "glob ends with a lone '\\'", "its message");
	nsub = 99;
	ok(rules_check_pattern(RULES_GLOB, "[]]\\[*?[!a-z]\\\\", 0, NULL,
	    &nsub, err, sizeof(err)) == 0 && nsub == 0,
	    "check accepts a well-formed glob");
	ok(rules_check_pattern(RULES_GLOB, "\\[", 0, NULL, &nsub, err,
	    sizeof(err)) == 0, "check accepts an escaped '['");
	ok(rules_check_pattern(RULES_REGEX, "a(", 0, NULL, &nsub, err,
	    sizeof(err)) == -EINVAL, "check refuses a bad regex");
	ok(strncmp(err, "regex does not compile: ", 24) == 0 &&
	    strlen(err) > 24, "its message (%s)", err);
	ok(rules_check_pattern(RULES_REGEX, "*[", REG_ICASE, NULL, &nsub, err,
	    sizeof(err)) == -EINVAL, "check refuses another bad regex");
	ok(rules_check_pattern(RULES_REGEX, "(a)(b(c))?", 0, NULL, &nsub, err,
	    sizeof(err)) == 0 && nsub == 3, "regex groups counted (%zu)", nsub);
	/* stacked repetitions cost exponential time in regcomp(): refused */
	ok(rules_check_pattern(RULES_REGEX, "a++", 0, NULL, &nsub, err,
	    sizeof(err)) == -EINVAL && strstr(err, "repetition on a "
	    "repetition") != NULL, "a++ refused: %s", err);
	ok(rules_check_pattern(RULES_REGEX, "a{2}*", 0, NULL, &nsub, err,
	    sizeof(err)) == -EINVAL, "a{2}* refused");
	ok(rules_check_pattern(RULES_REGEX, "((((a+)+)+)+)+", 0, NULL, &nsub,
	    err, sizeof(err)) == -EINVAL, "repeated groups 5 deep refused");
	ok(rules_check_pattern(RULES_REGEX, "(((a+)+)+)+", 0, NULL, &nsub,
	    err, sizeof(err)) == 0, "repeated groups 4 deep are fine: %s",
	    err);
	ok(rules_check_pattern(RULES_REGEX, "a{256}", 0, NULL, &nsub, err,
	    sizeof(err)) == -EINVAL, "count over 255 refused");
	ok(rules_check_pattern(RULES_REGEX, "[+*]+ a\\++ (b+)+", 0, NULL,
	    &nsub, err, sizeof(err)) == 0, "bracketed, escaped and grouped "
	    "repetitions are fine: %s", err);
	ok(rules_check_pattern(RULES_REGEX, "abc", 0, NULL, &nsub, err,
	    sizeof(err)) == 0 && nsub == 0, "regex without groups");
	nsub = 99;
	ok(rules_check_pattern(RULES_PREFIX, "a[(\\", 0, NULL, &nsub, err,
	    sizeof(err)) == 0 && nsub == 0, "prefix takes any text");
	ok(rules_check_pattern(RULES_EXACT, "", 0, NULL, &nsub, err,
	    sizeof(err)) == 0, "exact takes the empty text");
}

/* The size of a regex once regcomp() has written its repetitions out. */
static void
test_regex_size(void)
{
	static const struct {
		const char	*re;
		uint64_t	 size;
	} cases[] = {
		{ "", 0 },
		{ "abc", 3 },
		{ "a|b", 3 },			/* each '|' counts */
		{ "a*b?c", 3 },
		{ "a+", 2 },			/* a, then a* */
		{ "a{3,5}", 5 },
		{ "a{2,}", 3 },
		{ "a{,4}", 4 },
		{ "a{0}", 1 },
		{ "a{255}", 255 },
		{ "x{", 2 },			/* no interval: two atoms */
		{ "(a|bc)+", 10 },		/* the group and its 4, twice */
		{ "[a-z]{10}", 10 },
		{ "[]a]{2}", 2 },
		{ "[^]a]{2}", 2 },
		{ "[[:alpha:](]{3}", 3 },	/* no group in a bracket */
		{ "\\({4}", 4 },
		{ "(a{255}){255}", 65280 },
		{ "^((a{255}){255}){255}", 16646656 },
		{ "(a{255}){8}", 2048 },
		{ "(.{0,255}){8}", 2048 },
		{ "((", 2 },			/* unclosed: regcomp() refuses */
	};
	char		 deep[2 * (RULES_REGEX_GROUPS_MAX + 1) + 1];
	char		 err[256], big[200] = "";
	size_t		 i, nsub;
	regex_t		 re;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ok(rules_regex_size(cases[i].re) == cases[i].size,
		    "size of \"%s\": %llu (want %llu)", cases[i].re,
		    (unsigned long long)rules_regex_size(cases[i].re),
		    (unsigned long long)cases[i].size);
	for (i = 0; i < 9; i++)
		strlcat(big, "(", sizeof(big));
	strlcat(big, "a{255}", sizeof(big));
	for (i = 0; i < 9; i++)
		strlcat(big, "){255}", sizeof(big));
	ok(rules_regex_size(big) == UINT64_MAX, "255^10 saturates");
	memset(deep, '(', RULES_REGEX_GROUPS_MAX + 1);
	memset(deep + RULES_REGEX_GROUPS_MAX + 1, ')',
	    RULES_REGEX_GROUPS_MAX + 1);
	deep[sizeof(deep) - 1] = '\0';
	ok(rules_regex_size(deep) == UINT64_MAX, "groups too deep to size");

	/* the 21-byte pattern of the QA report: refused before regcomp() */
	ok(rules_check_pattern(RULES_REGEX, "^((a{255}){255}){255}", 0, NULL,
	    &nsub, err, sizeof(err)) == -EINVAL &&
	    strstr(err, "16646656 atoms") != NULL &&
	    strstr(err, "more than 2048") != NULL, "nested counts refused: %s",
	    err);
	ok(rules_check_pattern(RULES_REGEX, "(a{255}){8}a", 0, NULL, &nsub,
	    err, sizeof(err)) == -EINVAL, "one atom over the limit refused");
	ok(rules_check_pattern(RULES_REGEX, "(a{255}){8}", REG_NOSUB, &re,
	    &nsub, err, sizeof(err)) == 0 && nsub == 1,
	    "at the limit: compiled, into the caller's regex_t: %s", err);
	ok(regexec(&re, "xaaa", 0, NULL, 0) == REG_NOMATCH,
	    "and it is the regex asked for");
	regfree(&re);
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
	struct rules_who	 who = { .listener = "l", .sni = sni };

	r = rules_match(rs, msg, strlen(msg), &who, caps);
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
	r = rules_match(rs, LIT("set key=42 now"), &nobody, caps);
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

	r = rules_match(rs, LIT("a=1;x"), &nobody, caps);
	ok(r != NULL && caps[3].rm_so == 3 && caps[3].rm_eo == 4 &&
	    caps[4].rm_so == 4 && caps[4].rm_eo == 5, "optional groups taken");

	/* offsets count every byte, NULs included */
	r = rules_match(rs, LIT("\0\0z=7"), &nobody, caps);
	ok(r != NULL && caps[0].rm_so == 2 && caps[0].rm_eo == 5 &&
	    caps[1].rm_so == 2 && caps[2].rm_so == 4 && caps[2].rm_eo == 5,
	    "offsets after NUL bytes (%d-%d)", (int)caps[0].rm_so,
	    (int)caps[0].rm_eo);
	rules_free(rs);

	rs = rules_new();
	add_rule(rs, "alt", RULES_REGEX, "(a)|(b)", false, &o);
	r = rules_match(rs, LIT("xb"), &nobody, caps);
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

/* Which rules keep a count per connection: the others cost nothing. */
static void
test_counting(void)
{
	static const char *const two[] = { "one", "two" };
	static const char *const three[] = { "a", "b", "c" };
	static const char *const counted[] = { "n=%{rule_count}" };
	struct opts		 o2 = { .replies = two, .nreplies = 2 };
	struct opts		 o3 = { .replies = three, .nreplies = 3 };
	struct opts		 silent = { .no_reply = true };
	struct opts		 ocount = { .replies = counted, .nreplies = 1 };
	struct opts		 otimes = { .times = 3 };
	struct opts		 onext = { .next_state = "b" };
	struct opts		 ochance = { .chancy = true,
				    .probability = 0.5 };
	const struct rules_rule	*r1, *r2, *r3, *r4, *r5, *r6, *r7, *r8, *r9;
	struct rules		*rs = rules_new();

	r1 = add(rs, "single", RULES_EXACT, "s", false);
	r2 = add_rule(rs, "cyc2", RULES_PREFIX, "c2", false, &o2);
	r3 = add_rule(rs, "silent", RULES_EXACT, "n", false, &silent);
	r4 = add_rule(rs, "cyc3", RULES_EXACT, "c3", false, &o3);
	r5 = add_rule(rs, "cyc3b", RULES_REGEX, "x", false, &o3);
	r6 = add_rule(rs, "counted", RULES_EXACT, "k", false, &ocount);
	r7 = add_rule(rs, "times", RULES_EXACT, "t", false, &otimes);
	r8 = add_rule(rs, "next", RULES_EXACT, "b", false, &onext);
	r9 = add_rule(rs, "chance", RULES_EXACT, "p", false, &ochance);
	ok(r1->nreplies == 1 && r3->nreplies == 0, "reply counts");
	ok(r2->nreplies == 2 && r4->nreplies == 3, "cycling reply counts");
	ok(r2->counts && r4->counts && r5->counts,
	    "cycling rules count");
	ok(r6->counts, "a reply with %%{rule_count} counts");
	ok(r7->counts && r7->times == 3, "a rule with times counts");
	ok(!r1->counts && !r3->counts && !r8->counts && !r9->counts,
	    "the others do not");
	ok(r8->next_state != RULES_STATE_NONE && r1->next_state ==
	    RULES_STATE_NONE, "next_state kept, none without it");
	ok(r9->probability == 0.5 && r1->probability == 1,
	    "probability kept, 1 without it");
	rules_free(rs);
}

/* A connection's story, as answer.c keeps it for rules_match(). */
struct story {
	uint32_t	 state;
	struct counts	 counts;
	struct rng	 rng;
	bool		 draws;	/* else no rng: only probability 0 fails */
};

static void
story_init(struct story *st, uint64_t seed)
{
	memset(st, 0, sizeof(*st));
	rng_seed(&st->rng, seed, 1);
	st->draws = true;
}

/*
 * Matches msg in st as answer.c does: the rule counted, the state moved
 * (its counts cleared for reset_counts). The rule's name, "-" for none.
 */
static const char *
step(const struct rules *rs, struct story *st, const char *msg)
{
	regmatch_t		 caps[TEMPLATE_CAPTURES];
	const struct rules_rule	*r;
	struct rules_who	 who = { .listener = "l" };

	who.state = st->state;
	who.counts = &st->counts;
	who.rng = st->draws ? &st->rng : NULL;
	if ((r = rules_match(rs, msg, strlen(msg), &who, caps)) == NULL)
		return "-";
	if (r->counts && counts_bump(&st->counts, r->index) == 0) {
		printf("Bail out! counts_bump\n");
		exit(99);
	}
	if (r->next_state != RULES_STATE_NONE) {
		if (r->reset_counts && r->next_state != st->state)
			counts_clear(&st->counts);
		st->state = r->next_state;
	}
	return r->name != NULL ? r->name : "(unnamed)";
}

/* The rule msg matches in state `state`, nothing counted. */
static const char *
match_in(const struct rules *rs, uint32_t state, const char *msg)
{
	struct story	 st = { .state = state };

	return step(rs, &st, msg);
}

static void
test_states(void)
{
	static const char *const authed[] = { "authed" };
	static const char *const ab[] = { "a", "b" };
	static const char *const start[] = { "start" };
	struct opts		 oauthed = { .states = authed, .nstates = 1 };
	struct opts		 oab = { .states = ab, .nstates = 2 };
	struct opts		 ostart = { .states = start, .nstates = 1 };
	struct opts		 ologin = { .next_state = "authed" };
	struct opts		 ologout = { .states = authed, .nstates = 1,
				    .next_state = "start" };
	const struct rules_rule	*r;
	struct rules		*rs = rules_new();
	struct story		 st;
	uint32_t		 sa, sb, sc, sauth;

	r = add_rule(rs, "in-authed", RULES_EXACT, "x", false, &oauthed);
	add_rule(rs, "in-a-or-b", RULES_PREFIX, "x", false, &oab);
	add_rule(rs, "in-start", RULES_CONTAINS, "y", false, &ostart);
	add_rule(rs, "login", RULES_EXACT, "login", false, &ologin);
	add_rule(rs, "logout", RULES_EXACT, "logout", false, &ologout);
	add(rs, "any-state", RULES_GLOB, "*", false);
	sauth = rules_state(rs, "authed");
	sa = rules_state(rs, "a");
	sb = rules_state(rs, "b");
	sc = rules_state(rs, "c");
	ok(r->nstates == 1 && r->states[0] == sauth,
	    "a rule's state is the interned name's number");
	is(match_in(rs, RULES_STATE_START, "x"), "any-state",
	    "state rules do not match in start");
	is(match_in(rs, sauth, "x"), "in-authed", "exact rule in its state");
	is(match_in(rs, sa, "x"), "in-a-or-b", "pattern rule in its first "
	    "state");
	is(match_in(rs, sb, "x"), "in-a-or-b", "and in its second");
	is(match_in(rs, sc, "x"), "any-state", "another state: neither");
	is(match_in(rs, RULES_STATE_START, "y"), "in-start",
	    "state \"start\" named: matches in the start");
	is(match_in(rs, sa, "y"), "any-state", "and only there");

	story_init(&st, 1);
	is(step(rs, &st, "x"), "any-state", "story: x at the start");
	is(step(rs, &st, "logout"), "any-state",
	    "story: logout only when authed");
	is(step(rs, &st, "login"), "login", "story: login");
	ok(st.state == sauth, "story: login moves to authed");
	is(step(rs, &st, "x"), "in-authed", "story: x when authed");
	is(step(rs, &st, "login"), "login", "story: login again");
	ok(st.state == sauth, "story: still authed");
	is(step(rs, &st, "logout"), "logout", "story: logout");
	ok(st.state == RULES_STATE_START, "story: back at the start");
	is(step(rs, &st, "x"), "any-state", "story: x at the start again");
	counts_free(&st.counts);
	rules_free(rs);
}

static void
test_times(void)
{
	struct opts		 o2 = { .times = 2 };
	struct opts		 o1 = { .times = 1 };
	struct rules		*rs = rules_new();
	struct story		 st, other;
	const struct rules_rule	*twice;

	twice = add_rule(rs, "twice", RULES_EXACT, "t", false, &o2);
	add_rule(rs, "once", RULES_PREFIX, "t", false, &o1);
	add(rs, "after", RULES_ANY, NULL, false);
	story_init(&st, 1);
	story_init(&other, 1);
	is(step(rs, &st, "t"), "twice", "times = 2: first");
	is(step(rs, &st, "t"), "twice", "times = 2: second");
	is(step(rs, &st, "t"), "once", "then the next rule (times = 1)");
	is(step(rs, &st, "t"), "after", "then the one after");
	is(step(rs, &st, "t"), "after", "and it stays there");
	ok(counts_get(&st.counts, twice->index) == 2 &&
	    counts_get(&st.counts, 1) == 1 && counts_get(&st.counts, 2) == 0,
	    "counts %u %u %u", counts_get(&st.counts, twice->index),
	    counts_get(&st.counts, 1), counts_get(&st.counts, 2));
	is(step(rs, &other, "t"), "twice",
	    "another connection counts apart");
	is(match(rs, "t"), "twice", "no counts: times never runs out");
	counts_clear(&st.counts);
	is(step(rs, &st, "t"), "twice", "counts cleared: the first again");
	counts_free(&st.counts);
	counts_free(&other.counts);
	rules_free(rs);
}

/* How often each of the first rules answers msg in n draws. */
static void
draws(const struct rules *rs, const char *msg, struct story *st, size_t n,
    size_t *hits, size_t nhits)
{
	regmatch_t		 caps[TEMPLATE_CAPTURES];
	const struct rules_rule	*r;
	struct rules_who	 who = { .listener = "l" };
	size_t			 i;

	memset(hits, 0, nhits * sizeof(*hits));
	who.rng = st->draws ? &st->rng : NULL;
	for (i = 0; i < n; i++) {
		r = rules_match(rs, msg, strlen(msg), &who, caps);
		if (r == NULL)
			hits[nhits - 1]++;	/* the last: none */
		else if (r->index < nhits - 1)
			hits[r->index]++;
	}
}

static void
test_probability(void)
{
	struct opts		 o0 = { .chancy = true, .probability = 0 };
	struct opts		 o1 = { .chancy = true, .probability = 1 };
	struct opts		 ohalf = { .chancy = true, .probability = 0.5 };
	struct rules		*rs;
	struct story		 st, none = { 0 };
	size_t			 hits[4];

	story_init(&st, 42);
	rs = rules_new();
	add_rule(rs, "never", RULES_EXACT, "p", false, &o0);
	add_rule(rs, "always", RULES_PREFIX, "p", false, &o1);
	add(rs, "rest", RULES_ANY, NULL, false);
	draws(rs, "p", &st, 1000, hits, 4);
	ok(hits[0] == 0 && hits[1] == 1000, "probability 0 never, 1 always "
	    "(%zu %zu)", hits[0], hits[1]);
	draws(rs, "p", &none, 1000, hits, 4);
	ok(hits[0] == 0 && hits[1] == 1000, "without draws too (%zu %zu)",
	    hits[0], hits[1]);
	rules_free(rs);

	rs = rules_new();
	add_rule(rs, "half", RULES_PREFIX, "p", false, &ohalf);
	add(rs, "next", RULES_EXACT, "p", false);
	draws(rs, "p", &st, 1000, hits, 3);
	/* 1000 draws of 1/2: sigma 15.8, 4 sigma either side */
	ok(hits[0] >= 437 && hits[0] <= 563 && hits[1] == 1000 - hits[0] &&
	    hits[2] == 0, "probability 0.5: %zu of 1000, the next rule the "
	    "%zu others", hits[0], hits[1]);
	draws(rs, "p", &none, 100, hits, 3);
	ok(hits[0] == 100, "probability 0.5 without draws: always (%zu)",
	    hits[0]);
	draws(rs, "q", &st, 100, hits, 3);
	ok(hits[2] == 100, "no draw for a rule that does not match (%zu)",
	    hits[2]);
	rules_free(rs);

	/* the draws are the generator's: the same seed, the same picks */
	{
		struct story	 a, b;
		size_t		 i, same = 0;

		story_init(&a, 7);
		story_init(&b, 7);
		rs = rules_new();
		add_rule(rs, "half", RULES_EXACT, "p", false, &ohalf);
		add(rs, "next", RULES_ANY, NULL, false);
		for (i = 0; i < 200; i++)
			same += strcmp(step(rs, &a, "p"),
			    step(rs, &b, "p")) == 0;
		ok(same == 200, "the same seed draws the same (%zu of 200)",
		    same);
		rules_free(rs);
	}
}

/* times, state and probability on exact rules found by their hash */
static void
test_exact_conditions(void)
{
	static const char *const authed[] = { "authed" };
	struct opts		 o1 = { .times = 1 };
	struct opts		 oauthed = { .states = authed, .nstates = 1 };
	struct opts		 o0 = { .chancy = true, .probability = 0 };
	struct opts		 ohalf = { .chancy = true, .probability = 0.5 };
	struct rules		*rs;
	struct story		 st;
	size_t			 hits[4];

	rs = rules_new();
	add_rule(rs, "first", RULES_EXACT, "m", false, &o1);
	add_rule(rs, "second", RULES_EXACT, "m", false, &o1);
	add(rs, "pattern", RULES_PREFIX, "m", false);
	story_init(&st, 1);
	is(step(rs, &st, "m"), "first", "exact with times: first");
	is(step(rs, &st, "m"), "second",
	    "exhausted: a later exact rule, same pattern");
	is(step(rs, &st, "m"), "pattern", "both exhausted: a pattern rule");
	is(step(rs, &st, "m"), "pattern", "still");
	counts_free(&st.counts);
	rules_free(rs);

	rs = rules_new();
	add_rule(rs, "e1", RULES_EXACT, "m", false, &o1);
	add_rule(rs, "p1", RULES_PREFIX, "m", false, &o1);
	add(rs, "e2", RULES_EXACT, "m", false);
	add(rs, "any", RULES_ANY, NULL, false);
	story_init(&st, 1);
	is(step(rs, &st, "m"), "e1", "exact, pattern, exact: the first");
	is(step(rs, &st, "m"), "p1", "then the pattern rule between them");
	is(step(rs, &st, "m"), "e2", "then the later exact rule");
	is(step(rs, &st, "m"), "e2", "which has no times");
	counts_free(&st.counts);
	rules_free(rs);

	/* case-insensitive and sensitive exact rules of one text */
	rs = rules_new();
	add_rule(rs, "ci", RULES_EXACT, "M", true, &o1);
	add(rs, "cs", RULES_EXACT, "m", false);
	story_init(&st, 1);
	is(step(rs, &st, "m"), "ci", "case-insensitive exact with times");
	is(step(rs, &st, "m"), "cs", "then the case-sensitive one");
	counts_free(&st.counts);
	rules_free(rs);

	rs = rules_new();
	add_rule(rs, "authed", RULES_EXACT, "m", false, &oauthed);
	add(rs, "pattern", RULES_CONTAINS, "m", false);
	add(rs, "late", RULES_EXACT, "m", false);
	is(match_in(rs, RULES_STATE_START, "m"), "pattern",
	    "exact rule in another state: the pattern rule after it");
	is(match_in(rs, rules_state(rs, "authed"), "m"), "authed",
	    "in its state: the exact rule");
	rules_free(rs);

	/* failed draws, on both paths, in both orders */
	rs = rules_new();
	add_rule(rs, "e0", RULES_EXACT, "m", false, &o0);
	add_rule(rs, "p0", RULES_PREFIX, "m", false, &o0);
	add(rs, "e", RULES_EXACT, "m", false);
	add(rs, "any", RULES_ANY, NULL, false);
	is(match(rs, "m"), "e", "exact, pattern fail their draws: the next "
	    "exact rule");
	rules_free(rs);

	rs = rules_new();
	add_rule(rs, "p0", RULES_PREFIX, "m", false, &o0);
	add_rule(rs, "e0", RULES_EXACT, "m", false, &o0);
	add(rs, "re", RULES_REGEX, "^m$", false);
	add(rs, "e", RULES_EXACT, "m", false);
	is(match(rs, "m"), "re", "pattern, exact fail their draws: the next "
	    "pattern rule");
	rules_free(rs);

	rs = rules_new();
	add_rule(rs, "coin", RULES_EXACT, "m", false, &ohalf);
	add_rule(rs, "coin2", RULES_EXACT, "m", false, &ohalf);
	add(rs, "tail", RULES_SUFFIX, "m", false);
	story_init(&st, 99);
	draws(rs, "m", &st, 1000, hits, 4);
	/* 1/2, 1/4, 1/4 of 1000: sigma 15.8, 13.7, 13.7 */
	ok(hits[0] >= 437 && hits[0] <= 563 && hits[1] >= 195 &&
	    hits[1] <= 305 && hits[2] >= 195 && hits[2] <= 305 &&
	    hits[0] + hits[1] + hits[2] == 1000,
	    "two exact coins and a pattern rule: %zu %zu %zu", hits[0],
	    hits[1], hits[2]);
	rules_free(rs);
}

static void
test_state_names(void)
{
	struct rules	*rs = rules_new();
	char		 name[32];
	uint32_t	 a, b, n, nums[1000];
	bool		 seen[4096] = { false };
	size_t		 i, same = 0, named = 0, distinct = 0;
	struct opts	 onext = { .next_state = "b" };
	const struct rules_rule *r;

	is(rules_state_name(rs, RULES_STATE_START), "start",
	    "state 0 is \"start\" before any name");
	ok(rules_state(rs, "start") == RULES_STATE_START, "\"start\" is 0");
	a = rules_state(rs, "a");
	b = rules_state(rs, "b");
	ok(a != RULES_STATE_START && b != RULES_STATE_START && a != b,
	    "two names, two numbers (%u %u)", a, b);
	ok(rules_state(rs, "a") == a && rules_state(rs, "b") == b,
	    "the same name, the same number");
	ok(rules_state(rs, "start") == RULES_STATE_START, "\"start\" still 0");
	is(rules_state_name(rs, a), "a", "a's name");
	is(rules_state_name(rs, 1000000), "start",
	    "an unknown number is named \"start\"");
	r = add_rule(rs, "next", RULES_EXACT, "x", false, &onext);
	ok(r->next_state == b, "a rule's next_state shares the number");
	ok(rules_state(rs, "A") != a, "names are case-sensitive");

	for (i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "s-%zu", i);
		nums[i] = rules_state(rs, name);
	}
	for (i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "s-%zu", i);
		n = rules_state(rs, name);
		same += n == nums[i];
		named += strcmp(rules_state_name(rs, n), name) == 0;
		if (n != a && n != b && n != RULES_STATE_START &&
		    n < sizeof(seen) && !seen[n]) {
			seen[n] = true;
			distinct++;
		}
	}
	ok(same == 1000 && named == 1000 && distinct == 1000,
	    "1000 names: kept %zu, named %zu, distinct %zu", same, named,
	    distinct);
	ok(rules_state(rs, "a") == a && rules_state(rs, "start") == 0,
	    "earlier names kept through growth");
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
	test_exact_lengths();
	test_check_pattern();
	test_regex_size();
	test_networks();
	test_listeners();
	test_sni();
	test_captures();
	test_counting();
	test_states();
	test_times();
	test_probability();
	test_exact_conditions();
	test_state_names();
	return tap_done();
}

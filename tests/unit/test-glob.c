/* SPDX-License-Identifier: ISC */
/*
 * Globbing (src/lib/glob.c): what glob_match() matches, byte by byte,
 * and what glob_check() refuses before a glob rule is added.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "glob.h"
#include "tap.h"

static void
test_match(void)
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
	size_t	 i;

	for (i = 0; i < sizeof(g) / sizeof(g[0]); i++)
		ok(glob_match(g[i].pat, strlen(g[i].pat), g[i].s,
		    strlen(g[i].s), g[i].ci) == g[i].want,
		    "glob \"%s\"%s %s \"%s\"", g[i].pat, g[i].ci ? " (ci)" : "",
		    g[i].want ? "matches" : "does not match", g[i].s);

	/* an unterminated '[' is a literal byte to glob_match */
	ok(glob_match(LIT("a[b"), LIT("a[b"), false), "\"a[b\" literal");
	ok(!glob_match(LIT("a[b"), LIT("ab"), false), "\"a[b\" not a class");
	ok(glob_match(LIT("["), LIT("["), false), "lone '[' literal");
	ok(glob_match(LIT("[!"), LIT("[!"), false), "\"[!\" literal");
	ok(glob_match(LIT("*["), LIT("xx["), false), "\"*[\" literal");
	ok(glob_match(LIT("[]"), LIT("[]"), false), "\"[]\" literal");
	/* lengths are honoured: bytes past plen and slen are not looked at */
	ok(glob_match("abc", 2, "abX", 2, false), "pattern length honoured");
	ok(!glob_match("a*", 1, "ab", 2, false), "'*' past plen not used");
	/* a lone trailing '\\' is a literal too; glob_check() refuses it */
	ok(glob_match(LIT("a\\"), LIT("a\\"), false), "trailing '\\' literal");
	ok(!glob_match(LIT("a\\"), LIT("a"), false), "trailing '\\' is a byte");
	/* NULs and bytes over 0x7f are bytes; only ASCII letters fold */
	ok(glob_match(LIT("a*?"), LIT("a\0\0\0"), false),
	    "'*' and '?' take NULs");
	ok(glob_match(LIT("[\0-\x01]"), LIT("\0"), false), "NUL in a range");
	ok(!glob_match(LIT("\xe9"), LIT("\xc9"), true), "no Latin-1 folding");
	ok(!glob_match(LIT("[\xe0-\xef]"), LIT("\xc9"), true),
	    "no Latin-1 folding in a class");
	ok(glob_match(LIT("*"), "", 0, false), "'*' takes the empty string");
	ok(!glob_match("", 0, LIT("a"), false),
	    "an empty glob takes nothing else");
}

static void
test_check(void)
{
	static const char *const good[] = {
		"", "*", "?", "abc", "[]]", "[!]]", "[^a]", "[a-]", "\\[",
		"\\\\", "[\\]]", "[]]\\[*?[!a-z]\\\\", "a[b]c[d-f]*",
	};
	static const char *const bad[] = {
		"[", "a[b", "[]", "[!]", "[^]", "x[!]", "[a-", "[\\]", "*[abc",
		"\\", "ab\\", "[a]\\",
	};
	char	 err[256];
	size_t	 i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ok(glob_check(good[i], err, sizeof(err)) == 0,
		    "glob_check accepts \"%s\"", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ok(glob_check(bad[i], err, sizeof(err)) == -EINVAL &&
		    err[0] != '\0', "glob_check refuses \"%s\": %s", bad[i],
		    err);
	}
	glob_check("a[b", err, sizeof(err));
	is(err, "glob has '[' without a closing ']'", "message for '['");
	glob_check("ab\\", err, sizeof(err));
	is(err, "glob ends with a lone '\\'", "message for '\\'");
	/* the message is cut to the room there is, and still a string */
	memset(err, 'x', sizeof(err));
	ok(glob_check("[", err, 8) == -EINVAL && strcmp(err, "glob ha") == 0 &&
	    err[8] == 'x', "message cut to errlen");
}

int
main(void)
{
	test_match();
	test_check();
	return tap_done();
}

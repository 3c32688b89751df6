/* SPDX-License-Identifier: ISC */
/* The "rules" list of the configuration file. */
#include <errno.h>
#include <regex.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "glob.h"
#include "hex.h"
#include "config-rules.h"
#include "rules.h"

#define RULE_REPLIES_MAX	1000
#define RULE_NAMES_MAX		256

static const struct {
	const char	*key;
	enum rules_kind	 kind;
	bool		 hex;	/* the bytes in hex digits */
} match_keys[] = {
	{ "exact",		RULES_EXACT,	false },
	{ "prefix",		RULES_PREFIX,	false },
	{ "suffix",		RULES_SUFFIX,	false },
	{ "contains",		RULES_CONTAINS,	false },
	{ "glob",		RULES_GLOB,	false },
	{ "regex",		RULES_REGEX,	false },
	{ "exact_hex",		RULES_EXACT,	true },
	{ "prefix_hex",		RULES_PREFIX,	true },
	{ "suffix_hex",		RULES_SUFFIX,	true },
	{ "contains_hex",	RULES_CONTAINS,	true },
};
#define NMATCH_KEYS	(sizeof(match_keys) / sizeof(match_keys[0]))

/*
 * The bytes of a *_hex key, NUL-terminated in *out (which the caller
 * frees), their count in *len. 0, or -1 after an error.
 */
static int
decode_hex(struct parser *p, const config_setting_t *where, const char *text,
    char **out, size_t *len)
{
	size_t	 max = strlen(text) / 2;
	ssize_t	 n;

	*out = NULL;
	if ((*out = malloc(max + 1)) == NULL) {
		cfg_error(p, where, "out of memory");
		return -1;
	}
	if ((n = hex_decode(text, *out, max)) < 0) {
		cfg_error(p, where, "'%s' must be bytes in hex digits, two per "
		    "byte (\"00ff\", \"de ad\"), not \"%.100s\"",
		    config_setting_name(where), text);
		free(*out);
		*out = NULL;
		return -1;
	}
	(*out)[n] = '\0';
	*len = (size_t)n;
	return 0;
}

/*
 * The rule names seen so far, by hash (open addressing, at most half
 * full): 100,000 named rules load in linear time, not quadratic.
 */
struct names {
	const char	**slot;
	size_t		  mask;
};

static size_t
name_slot(const struct names *ns, const char *name)
{
	uint64_t	 h = 0xcbf29ce484222325ULL;	/* FNV-1a */
	const char	*p;
	size_t		 i;

	for (p = name; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
	for (i = (size_t)h & ns->mask; ns->slot[i] != NULL &&
	    strcmp(ns->slot[i], name) != 0; i = (i + 1) & ns->mask)
		;
	return i;
}

/* Checks that the captures a template uses exist in the rule. */
static int
check_captures(struct parser *p, const config_setting_t *where,
    const struct template *t, enum rules_kind kind, size_t nsub)
{
	int	 max = template_max_capture(t);

	if (max < 0)
		return 0;
	if (kind != RULES_REGEX) {
		cfg_error(p, where, "'%%{%d}' needs a regex rule", max);
		return -1;
	}
	if ((size_t)max > nsub) {
		cfg_error(p, where, "'%%{%d}' but the regex has %zu "
		    "group%s", max, nsub, nsub == 1 ? "" : "s");
		return -1;
	}
	return 0;
}

static bool
check_state(struct parser *p, const config_setting_t *where, const char *key,
    const char *name)
{
	if (cfg_valid_name(name))
		return true;
	cfg_error(p, where, "'%s' must be a state name of 1 to %d letters, "
	    "digits or '_.-:[]/', not \"%.100s\"", key, CONF_NAME_MAX - 1,
	    name);
	return false;
}

/* What the rule needs of the connection's story, and does to it. */
static void
parse_scenario(struct parser *p, const config_setting_t *s,
    struct rules_def *d)
{
	const config_setting_t	*where;
	long long		 v = 0;

	if ((d->next_state = cfg_get_string(p, s, "next_state", &where)) !=
	    NULL && !check_state(p, where, "next_state", d->next_state))
		d->next_state = NULL;
	cfg_get_int(p, s, "times", 1, 1000000000, &v);
	d->times = (uint32_t)v;
	cfg_get_bool(p, s, "reset_counts", &d->reset_counts);
	if (d->reset_counts && config_setting_get_member(s, "next_state") ==
	    NULL)
		cfg_error(p, config_setting_get_member(s, "reset_counts"),
		    "'reset_counts' needs 'next_state': counts start again "
		    "when the state changes");
	d->chancy = config_setting_get_member(s, "probability") != NULL;
	d->probability = 1;
	cfg_get_fraction(p, s, "probability", &d->probability);
}

/* The faults of a rule's reply, and how they may combine. */
static void
parse_faults(struct parser *p, const config_setting_t *s, struct rules_def *d)
{
	static const char *const ends[] = {
		"close", "reset", "half_close", "hang", NULL
	};
	struct rules_fault	*f = &d->fault;
	const config_setting_t	*e;
	const char		*first = NULL;
	long long		 v;
	bool			 on;
	size_t			 i;

	memset(f, 0, sizeof(*f));
	cfg_get_bool(p, s, "reset", &f->reset);
	cfg_get_bool(p, s, "half_close", &f->half_close);
	cfg_get_bool(p, s, "hang", &f->hang);
	cfg_get_bool(p, s, "hang_writes", &f->hang_writes);
	cfg_get_bool(p, s, "keep_open", &f->keep_open);
	v = 0;
	cfg_get_int(p, s, "garbage", 1, 1024 * 1024, &v);
	f->garbage = (size_t)v;
	v = -1;
	cfg_get_int(p, s, "truncate", 0, 1024 * 1024, &v);
	f->truncates = v >= 0;
	f->truncate = v < 0 ? 0 : (size_t)v;
	v = 0;
	cfg_get_int(p, s, "duplicate", 1, 100, &v);
	f->duplicate = (uint32_t)v;
	v = 0;
	cfg_get_int(p, s, "chunk_bytes", 1, 1024 * 1024, &v);
	f->chunk_bytes = (uint32_t)v;
	v = 100;
	cfg_get_int(p, s, "chunk_interval_ms", 1, 60000, &v);
	f->chunk_interval_ms = (uint64_t)v;
	v = 0;
	cfg_get_int(p, s, "bandwidth_bytes_per_second", 1, 1024 * 1024 * 1024,
	    &v);
	f->bandwidth = (uint64_t)v;

	/* one way to end, at most */
	for (i = 0; ends[i] != NULL; i++) {
		on = false;
		cfg_get_bool(p, s, ends[i], &on);
		if (!on)
			continue;
		if (first != NULL)
			cfg_error(p, config_setting_get_member(s, ends[i]),
			    "'%s' and '%s' together: a rule ends a connection "
			    "one way", first, ends[i]);
		else
			first = ends[i];
	}
	if (f->hang_writes && !f->hang)
		cfg_error(p, config_setting_get_member(s, "hang_writes"),
		    "'hang_writes' needs 'hang = true'");
	if (f->keep_open && f->garbage == 0 && !f->truncates)
		cfg_error(p, config_setting_get_member(s, "keep_open"),
		    "'keep_open' needs 'garbage' or 'truncate': only they "
		    "close the connection");
	if ((e = config_setting_get_member(s, "chunk_interval_ms")) != NULL &&
	    f->chunk_bytes == 0)
		cfg_error(p, e, "'chunk_interval_ms' needs 'chunk_bytes'");
	if (f->chunk_bytes > 0 && f->bandwidth > 0)
		cfg_error(p, config_setting_get_member(s,
		    "bandwidth_bytes_per_second"), "'chunk_bytes' and "
		    "'bandwidth_bytes_per_second' together: a reply is paced "
		    "one way");
}

static void
parse_rule(struct parser *p, struct conf *c, const config_setting_t *s,
    unsigned int number, struct names *names)
{
	static const char *const known[] = {
		"name", "exact", "prefix", "suffix", "contains", "glob",
		"regex", "exact_hex", "prefix_hex", "suffix_hex",
		"contains_hex", "ignore_case", "listener", "networks", "reply",
		"reply_hex", "replies", "no_reply", "close", "delay_ms", "sni",
		"state", "next_state", "times", "reset_counts", "probability",
		"reset", "half_close", "hang", "hang_writes", "garbage",
		"truncate", "keep_open", "duplicate", "chunk_bytes",
		"chunk_interval_ms", "bandwidth_bytes_per_second", "operator",
		NULL
	};
	const config_setting_t	*ms = NULL, *e, *rs, *hx, *where;
	const config_setting_t	*rwhere[RULE_REPLIES_MAX];
	regex_t			 re;
	char			*bytes = NULL;
	const char		*strs[RULE_NAMES_MAX], *src;
	const char		*snis[RULE_NAMES_MAX];
	const char		*states[RULE_NAMES_MAX];
	struct rules_def	 d;
	struct addr_net	 nets[RULE_NAMES_MAX];
	struct template		*replies[RULE_REPLIES_MAX];
	char			 err[256];
	size_t			 i, n, nsub = 0;
	long long		 delay = 0, delay_max = 0;
	bool			 no_reply = false, subs = false, pattern_ok;
	int			 errors = p->errors;

	memset(&d, 0, sizeof(d));
	if (config_setting_type(s) != CONFIG_TYPE_GROUP) {
		cfg_error(p, s, "each rule must be a group { exact = ...; "
		    "reply = ...; }, not %s",
		    cfg_type_name(config_setting_type(s)));
		return;
	}
	cfg_where(p, s, &d.file, &d.line);
	cfg_check_keys(p, s, known, " in rule");

	if ((d.name = cfg_get_string(p, s, "name", &where)) != NULL) {
		if (!cfg_valid_name(d.name))
			cfg_error(p, where, "'name' must be 1 to %d letters, "
			    "digits or '_.-:[]/', not \"%.100s\"",
			    CONF_NAME_MAX - 1, d.name);
		if (names->slot[name_slot(names, d.name)] != NULL)
			cfg_error(p, where, "rule name \"%s\" is used twice",
			    d.name);
	}

	for (i = 0; i < NMATCH_KEYS; i++) {
		if ((e = config_setting_get_member(s, match_keys[i].key)) ==
		    NULL)
			continue;
		if (ms != NULL) {
			cfg_error(p, e, "a rule matches one way: '%s' and "
			    "'%s' together", config_setting_name(ms),
			    match_keys[i].key);
			continue;
		}
		ms = e;
		d.kind = match_keys[i].kind;
		d.pattern = cfg_get_string(p, s, match_keys[i].key, NULL);
		if (d.pattern != NULL && match_keys[i].hex &&
		    decode_hex(p, e, d.pattern, &bytes, &d.pattern_len) == 0)
			d.pattern = bytes;
	}
	cfg_get_bool(p, s, "ignore_case", &d.ignore_case);

	if ((e = config_setting_get_member(s, "listener")) != NULL) {
		d.nlisteners = cfg_get_strings(p, e, "listener", strs,
		    RULE_NAMES_MAX);
		d.listeners = strs;
	}
	if ((e = config_setting_get_member(s, "sni")) != NULL) {
		d.nsnis = cfg_get_strings(p, e, "sni", snis, RULE_NAMES_MAX);
		d.snis = snis;
		for (i = 0; i < d.nsnis; i++)
			if (glob_check(snis[i], err, sizeof(err)) < 0) {
				cfg_error(p, e, "'sni': %s", err);
				break;
			}
	}
	if ((e = config_setting_get_member(s, "networks")) != NULL) {
		d.nnets = cfg_get_nets(p, e, "networks", nets, RULE_NAMES_MAX);
		d.nets = nets;
	}

	cfg_get_bool(p, s, "no_reply", &no_reply);
	cfg_get_bool(p, s, "close", &d.close);
	cfg_get_bool(p, s, "operator", &d.operator);
	cfg_get_range(p, s, "delay_ms", 0, 3600 * 1000, &delay, &delay_max);
	d.delay_ms = (uint64_t)delay;
	d.delay_max_ms = (uint64_t)delay_max;
	if ((e = config_setting_get_member(s, "state")) != NULL) {
		d.nstates = cfg_get_strings(p, e, "state", states,
		    RULE_NAMES_MAX);
		d.states = states;
		for (i = 0; i < d.nstates; i++)
			if (!check_state(p, e, "state", states[i]))
				break;
	}
	parse_scenario(p, s, &d);
	parse_faults(p, s, &d);

	e = config_setting_get_member(s, "reply");
	rs = config_setting_get_member(s, "replies");
	hx = config_setting_get_member(s, "reply_hex");
	if (hx != NULL && (e != NULL || rs != NULL))
		cfg_error(p, hx, "a rule has one of 'reply', 'reply_hex' and "
		    "'replies'");
	else if (hx != NULL && no_reply)
		cfg_error(p, hx, "'no_reply' with a reply");
	else if (hx != NULL) {
		char	*rb;
		size_t	 rlen;

		if ((src = cfg_get_string(p, s, "reply_hex", NULL)) != NULL &&
		    decode_hex(p, hx, src, &rb, &rlen) == 0) {
			if (template_literal(rb, rlen, &replies[0]) < 0)
				cfg_error(p, hx, "out of memory");
			else {
				rwhere[0] = hx;
				d.nreplies = 1;
			}
			free(rb);
		}
	} else if (e != NULL && rs != NULL)
		cfg_error(p, rs, "a rule has 'reply' or 'replies', not both");
	else if (no_reply && (e != NULL || rs != NULL))
		cfg_error(p, e ? e : rs, "'no_reply' with a reply");
	else if (!no_reply && e == NULL && rs == NULL)
		cfg_error(p, s, "a rule needs 'reply', 'replies' or "
		    "'no_reply = true'");
	else if (e != NULL && (src = cfg_get_string(p, s, "reply", NULL)) !=
	    NULL) {
		if (template_compile(src, &replies[0], err, sizeof(err)) < 0)
			cfg_error(p, e, "'reply': %s", err);
		else {
			rwhere[0] = e;
			d.nreplies = 1;
		}
	} else if (rs != NULL) {
		const char *rstr[RULE_REPLIES_MAX];

		n = cfg_get_strings(p, rs, "replies", rstr, RULE_REPLIES_MAX);
		for (i = 0; i < n; i++) {
			where = config_setting_get_elem(rs, (unsigned int)i);
			if (where == NULL)	/* a lone string */
				where = rs;
			if (template_compile(rstr[i], &replies[d.nreplies],
			    err, sizeof(err)) < 0)
				cfg_error(p, where, "'replies': %s", err);
			else
				rwhere[d.nreplies++] = where;
		}
	}
	d.replies = replies;

	/* compiled once, knowing whether the replies use its groups */
	for (i = 0; i < d.nreplies; i++)
		if (template_max_capture(replies[i]) >= 0)
			subs = true;
	pattern_ok = d.pattern == NULL || rules_check_pattern(d.kind,
	    d.pattern, (d.ignore_case ? REG_ICASE : 0) |
	    (subs ? 0 : REG_NOSUB), &re, &nsub, err, sizeof(err)) == 0;
	if (!pattern_ok) {
		if (d.name != NULL)
			cfg_error(p, ms, "rule \"%.100s\": '%s': %s", d.name,
			    config_setting_name(ms), err);
		else
			cfg_error(p, ms, "rule #%u: '%s': %s", number,
			    config_setting_name(ms), err);
	} else if (d.kind == RULES_REGEX && d.pattern != NULL)
		d.re = &re;	/* compiled: not when 'regex' was no string */
	for (i = 0; pattern_ok && i < d.nreplies; i++)
		(void)check_captures(p, rwhere[i], replies[i], d.kind, nsub);

	if (p->errors > errors) {
		for (i = 0; i < d.nreplies; i++)
			template_free(replies[i]);
		if (d.re != NULL)
			regfree(d.re);
		free(bytes);
		return;
	}
	if (rules_add(c->rules, &d) < 0) {
		cfg_error(p, s, "out of memory");
		free(bytes);
		return;
	}
	free(bytes);
	if (d.name != NULL)
		names->slot[name_slot(names, d.name)] = d.name;
}

void
cfg_parse_rules(struct parser *p, struct conf *c, const config_setting_t *s)
{
	struct names	  names;
	unsigned int	  i, n;
	size_t		  cap = 16;

	if (config_setting_type(s) != CONFIG_TYPE_LIST) {
		cfg_error(p, s, "'rules' must be a list ( { ... }, ... ), "
		    "not %s", cfg_type_name(config_setting_type(s)));
		return;
	}
	n = (unsigned int)config_setting_length(s);
	/* names point into libconfig's tree, alive while we parse */
	while (cap < 2 * (size_t)n + 2)
		cap *= 2;
	names.mask = cap - 1;
	if ((names.slot = calloc(cap, sizeof(*names.slot))) == NULL) {
		cfg_error(p, s, "out of memory");
		return;
	}
	for (i = 0; i < n; i++)
		parse_rule(p, c, config_setting_get_elem(s, i), i + 1, &names);
	free(names.slot);
}

/* The "rules" list of the configuration file. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config-internal.h"
#include "rules.h"

#define RULE_REPLIES_MAX	1000
#define RULE_NAMES_MAX		256

static const struct {
	const char	*key;
	enum rules_kind	 kind;
} match_keys[] = {
	{ "exact",	RULES_EXACT },
	{ "prefix",	RULES_PREFIX },
	{ "suffix",	RULES_SUFFIX },
	{ "contains",	RULES_CONTAINS },
	{ "glob",	RULES_GLOB },
	{ "regex",	RULES_REGEX },
};
#define NMATCH_KEYS	(sizeof(match_keys) / sizeof(match_keys[0]))

/*
 * Reads a string or an array of strings; returns how many, 0 with an
 * error reported when something is wrong.
 */
size_t
cfg_get_strings(struct parser *p, const config_setting_t *s, const char *key,
    const char **out, size_t max)
{
	const config_setting_t	*e;
	size_t			 n, i;

	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		out[0] = config_setting_get_string(s);
		return 1;
	}
	if (config_setting_type(s) != CONFIG_TYPE_ARRAY &&
	    config_setting_type(s) != CONFIG_TYPE_LIST) {
		cfg_error(p, s, "'%s' must be a string or a list of strings, "
		    "not %s", key, cfg_type_name(config_setting_type(s)));
		return 0;
	}
	n = (size_t)config_setting_length(s);
	if (n == 0 || n > max) {
		cfg_error(p, s, "'%s' must hold 1 to %zu strings", key, max);
		return 0;
	}
	for (i = 0; i < n; i++) {
		e = config_setting_get_elem(s, (unsigned int)i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING) {
			cfg_error(p, e, "'%s' must hold strings, not %s", key,
			    cfg_type_name(config_setting_type(e)));
			return 0;
		}
		out[i] = config_setting_get_string(e);
	}
	return n;
}

size_t
cfg_get_nets(struct parser *p, const config_setting_t *s, const char *key,
    struct rules_net *nets, size_t max)
{
	const char	*strs[CFG_NETS_MAX];
	size_t		 n, i;

	if (max > CFG_NETS_MAX)
		max = CFG_NETS_MAX;
	/* an empty list is fine here: no networks */
	if ((config_setting_type(s) == CONFIG_TYPE_ARRAY ||
	    config_setting_type(s) == CONFIG_TYPE_LIST) &&
	    config_setting_length(s) == 0)
		return 0;
	n = cfg_get_strings(p, s, key, strs, max);
	for (i = 0; i < n; i++)
		if (rules_parse_net(strs[i], &nets[i]) < 0)
			cfg_error(p, s, "'%s': \"%.100s\" is not an address "
			    "or address/prefix", key, strs[i]);
	return n;
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

static void
parse_rule(struct parser *p, struct conf *c, const config_setting_t *s,
    const char **names)
{
	static const char *const known[] = {
		"name", "exact", "prefix", "suffix", "contains", "glob",
		"regex", "ignore_case", "listener", "networks", "reply",
		"replies", "no_reply", "close", "delay_ms", NULL
	};
	const config_setting_t	*ms = NULL, *e, *rs, *where;
	const char		*strs[RULE_NAMES_MAX], *src;
	struct rules_def	 d;
	struct rules_net	 nets[RULE_NAMES_MAX];
	struct template		*replies[RULE_REPLIES_MAX];
	char			 err[256];
	size_t			 i, n, nsub = 0;
	long long		 delay = 0;
	bool			 no_reply = false;
	int			 errors = p->errors;

	memset(&d, 0, sizeof(d));
	if (config_setting_type(s) != CONFIG_TYPE_GROUP) {
		cfg_error(p, s, "each rule must be a group { exact = ...; "
		    "reply = ...; }, not %s",
		    cfg_type_name(config_setting_type(s)));
		return;
	}
	d.line = config_setting_source_line(s);
	cfg_check_keys(p, s, known, " in rule");

	if ((d.name = cfg_get_string(p, s, "name", &where)) != NULL) {
		if (!cfg_valid_name(d.name))
			cfg_error(p, where, "'name' must be 1 to %d letters, "
			    "digits or '_.-:[]/', not \"%.100s\"",
			    CONF_NAME_MAX - 1, d.name);
		for (i = 0; names[i] != NULL; i++)
			if (strcmp(names[i], d.name) == 0) {
				cfg_error(p, where, "rule name \"%s\" is used "
				    "twice", d.name);
				break;
			}
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
	}
	cfg_get_bool(p, s, "ignore_case", &d.ignore_case);
	if (d.pattern != NULL && rules_check_pattern(d.kind, d.pattern,
	    d.ignore_case, &nsub, err, sizeof(err)) < 0)
		cfg_error(p, ms, "'%s': %s", config_setting_name(ms), err);

	if ((e = config_setting_get_member(s, "listener")) != NULL) {
		d.nlisteners = cfg_get_strings(p, e, "listener", strs,
		    RULE_NAMES_MAX);
		d.listeners = strs;
	}
	if ((e = config_setting_get_member(s, "networks")) != NULL) {
		d.nnets = cfg_get_nets(p, e, "networks", nets, RULE_NAMES_MAX);
		d.nets = nets;
	}

	cfg_get_bool(p, s, "no_reply", &no_reply);
	cfg_get_bool(p, s, "close", &d.close);
	cfg_get_int(p, s, "delay_ms", 0, 3600 * 1000, &delay);
	d.delay_ms = (uint64_t)delay;

	e = config_setting_get_member(s, "reply");
	rs = config_setting_get_member(s, "replies");
	if (e != NULL && rs != NULL)
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
		else if (check_captures(p, e, replies[0], d.kind, nsub) < 0)
			template_free(replies[0]);
		else
			d.nreplies = 1;
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
			else if (check_captures(p, where,
			    replies[d.nreplies], d.kind, nsub) < 0)
				template_free(replies[d.nreplies]);
			else
				d.nreplies++;
		}
	}
	d.replies = replies;

	if (p->errors > errors) {
		for (i = 0; i < d.nreplies; i++)
			template_free(replies[i]);
		return;
	}
	if (rules_add(c->rules, &d) < 0) {
		cfg_error(p, s, "out of memory");
		return;
	}
	if (d.name != NULL) {
		for (i = 0; names[i] != NULL; i++)
			;
		names[i] = d.name;
	}
}

void
cfg_parse_rules(struct parser *p, struct conf *c, const config_setting_t *s)
{
	const char	**names;
	unsigned int	  i, n;

	if (config_setting_type(s) != CONFIG_TYPE_LIST) {
		cfg_error(p, s, "'rules' must be a list ( { ... }, ... ), "
		    "not %s", cfg_type_name(config_setting_type(s)));
		return;
	}
	n = (unsigned int)config_setting_length(s);
	/* names point into libconfig's tree, alive while we parse */
	if ((names = calloc(n + 1, sizeof(*names))) == NULL) {
		cfg_error(p, s, "out of memory");
		return;
	}
	for (i = 0; i < n; i++)
		parse_rule(p, c, config_setting_get_elem(s, i), names);
	free(names);
}

static void
dump_list(FILE *fp, const char *key, char *const *v, size_t n)
{
	size_t	 i;

	fprintf(fp, " %s = [ ", key);
	for (i = 0; i < n; i++) {
		cfg_dump_string(fp, v[i]);
		fputs(i + 1 < n ? ", " : " ];", fp);
	}
}

void
cfg_dump_rules(const struct conf *c, FILE *fp)
{
	const struct rules_rule	*r;
	char			 addr[INET6_ADDRSTRLEN];
	size_t			 i, j, n = rules_count(c->rules);

	if (n == 0) {
		fputs("rules = ( );\n", fp);
		return;
	}
	fputs("rules = (\n", fp);
	for (i = 0; i < n; i++) {
		r = rules_get(c->rules, i);
		fputs("  {", fp);
		if (r->name != NULL) {
			fputs(" name = ", fp);
			cfg_dump_string(fp, r->name);
			fputc(';', fp);
		}
		if (r->kind != RULES_ANY) {
			fprintf(fp, " %s = ", rules_kind_name(r->kind));
			cfg_dump_string(fp, r->pattern);
			fprintf(fp, "; ignore_case = %s;",
			    r->ignore_case ? "true" : "false");
		}
		if (r->nlisteners > 0)
			dump_list(fp, "listener", r->listeners,
			    r->nlisteners);
		if (r->nnets > 0) {
			fputs(" networks = [ ", fp);
			for (j = 0; j < r->nnets; j++) {
				inet_ntop(r->nets[j].family, r->nets[j].addr,
				    addr, sizeof(addr));
				fprintf(fp, "\"%s/%u\"%s", addr,
				    r->nets[j].prefix,
				    j + 1 < r->nnets ? ", " : " ];");
			}
		}
		if (r->nreplies == 0)
			fputs(" no_reply = true;", fp);
		else if (r->nreplies == 1) {
			fputs(" reply = ", fp);
			cfg_dump_string(fp, template_source(r->replies[0]));
			fputc(';', fp);
		} else {
			fputs(" replies = [ ", fp);
			for (j = 0; j < r->nreplies; j++) {
				cfg_dump_string(fp,
				    template_source(r->replies[j]));
				fputs(j + 1 < r->nreplies ? ", " : " ];", fp);
			}
		}
		fprintf(fp, " close = %s; delay_ms = %llu; }%s\n",
		    r->close ? "true" : "false",
		    (unsigned long long)r->delay_ms, i + 1 < n ? "," : "");
	}
	fputs(");\n", fp);
}

/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <libconfig.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "config-source.h"

static void
add_error(struct parser *p, int order, const char *text)
{
	struct cfg_error	*e;

	p->errors++;
	if ((e = reallocarray(p->errv, p->errc + 1, sizeof(*e))) != NULL) {
		p->errv = e;
		e[p->errc].order = order;
		if ((e[p->errc].text = strdup(text)) != NULL) {
			p->errc++;
			return;
		}
	}
	p->report(text, p->arg);	/* no memory to sort it: say it now */
}

void
cfg_flush_errors(struct parser *p)
{
	struct cfg_error t;
	size_t		 i, j;

	for (i = 1; i < p->errc; i++)	/* stable insertion sort */
		for (j = i; j > 0 && p->errv[j - 1].order > p->errv[j].order;
		    j--) {
			t = p->errv[j];
			p->errv[j] = p->errv[j - 1];
			p->errv[j - 1] = t;
		}
	for (i = 0; i < p->errc; i++) {
		p->report(p->errv[i].text, p->arg);
		free(p->errv[i].text);
	}
	free(p->errv);
	p->errv = NULL;
	p->errc = 0;
}

static void __attribute__((format(printf, 5, 0)))
verror(struct parser *p, const char *file, unsigned int lineno, int order,
    const char *fmt, va_list ap)
{
	char		 msg[512], line[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (lineno > 0)
		snprintf(line, sizeof(line), "%s:%u: %s", file, lineno, msg);
	else
		snprintf(line, sizeof(line), "%s: %s", file, msg);
	add_error(p, order, line);
}

void
cfg_error_at(struct parser *p, const char *file, unsigned int lineno,
    int order, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	verror(p, file, lineno, order, fmt, ap);
	va_end(ap);
}

void
cfg_where(const struct parser *p, const config_setting_t *s,
    const char **file, unsigned int *line)
{
	int	 n = config_setting_source_line(s);

	if (p->src == NULL || !cfg_source_where(p->src, n, file, line)) {
		*file = p->path;
		*line = n > 0 ? (unsigned int)n : 0;
	}
}

void
cfg_error(struct parser *p, const config_setting_t *s, const char *fmt, ...)
{
	const char	*file = p->path;
	unsigned int	 lineno = 0;
	int		 order = 0;
	va_list		 ap;

	if (s != NULL) {
		cfg_where(p, s, &file, &lineno);
		order = config_setting_source_line(s);
	}
	va_start(ap, fmt);
	verror(p, file, lineno, order, fmt, ap);
	va_end(ap);
}

const char *
cfg_type_name(int type)
{
	switch (type) {
	case CONFIG_TYPE_GROUP:		return "a group";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:		return "an integer";
	case CONFIG_TYPE_FLOAT:		return "a number with a fraction";
	case CONFIG_TYPE_STRING:	return "a string";
	case CONFIG_TYPE_BOOL:		return "a boolean";
	case CONFIG_TYPE_ARRAY:		return "an array";
	case CONFIG_TYPE_LIST:		return "a list";
	default:			return "a value";
	}
}

void
cfg_check_keys(struct parser *p, const config_setting_t *group,
    const char *const *known, const char *where)
{
	const config_setting_t	*s;
	const char		*name;
	size_t			 k;
	int			 i;

	for (i = 0; (s = config_setting_get_elem(group, (unsigned)i)) != NULL;
	    i++) {
		if ((name = config_setting_name(s)) == NULL)
			continue;
		for (k = 0; known[k] != NULL; k++)
			if (strcmp(name, known[k]) == 0)
				break;
		if (known[k] == NULL)
			cfg_error(p, s, "unknown key '%s'%s", name, where);
	}
}

/* One integer setting, checked: false after an error. what: its form. */
static bool
get_int(struct parser *p, const config_setting_t *s, const char *key,
    const char *what, long long min, long long max, long long *out)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
		*out = config_setting_get_int(s);
		break;
	case CONFIG_TYPE_INT64:
		*out = config_setting_get_int64(s);
		break;
	default:
		cfg_error(p, s, "'%s' must be %s, not %s", key, what,
		    cfg_type_name(config_setting_type(s)));
		return false;
	}
	if (*out < min || *out > max) {
		cfg_error(p, s, "'%s' must be between %lld and %lld, not %lld",
		    key, min, max, *out);
		return false;
	}
	return true;
}

void
cfg_get_int(struct parser *p, const config_setting_t *group, const char *key,
    long long min, long long max, long long *out)
{
	const config_setting_t	*s;
	long long		 v;

	if ((s = config_setting_get_member(group, key)) != NULL &&
	    get_int(p, s, key, "an integer", min, max, &v))
		*out = v;
}

void
cfg_get_fraction(struct parser *p, const config_setting_t *group,
    const char *key, double *out)
{
	const config_setting_t	*s;
	double			 v;

	if ((s = config_setting_get_member(group, key)) == NULL)
		return;
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_FLOAT:
		v = config_setting_get_float(s);
		break;
	case CONFIG_TYPE_INT:
		v = config_setting_get_int(s);
		break;
	case CONFIG_TYPE_INT64:
		v = (double)config_setting_get_int64(s);
		break;
	default:
		cfg_error(p, s, "'%s' must be a number from 0 to 1, not %s",
		    key, cfg_type_name(config_setting_type(s)));
		return;
	}
	if (!(v >= 0 && v <= 1)) {
		cfg_error(p, s, "'%s' must be from 0 to 1, not %g", key, v);
		return;
	}
	*out = v;
}


void
cfg_get_range(struct parser *p, const config_setting_t *group,
    const char *key, long long min, long long max, long long *lo,
    long long *hi)
{
	const config_setting_t	*s;
	long long		 a, b;

	if ((s = config_setting_get_member(group, key)) == NULL)
		return;
	if (config_setting_type(s) != CONFIG_TYPE_ARRAY &&
	    config_setting_type(s) != CONFIG_TYPE_LIST) {
		if (get_int(p, s, key, "an integer or [min, max]", min, max,
		    &a))
			*lo = *hi = a;
		return;
	}
	if (config_setting_length(s) != 2) {
		cfg_error(p, s, "'%s' must be an integer or [min, max], not "
		    "%d values", key, config_setting_length(s));
		return;
	}
	if (!get_int(p, config_setting_get_elem(s, 0), key,
	    "an integer or [min, max]", min, max, &a) ||
	    !get_int(p, config_setting_get_elem(s, 1), key,
	    "an integer or [min, max]", min, max, &b))
		return;
	if (a > b) {
		cfg_error(p, s, "'%s': the range [%lld, %lld] ends before it "
		    "starts", key, a, b);
		return;
	}
	*lo = a;
	*hi = b;
}

void
cfg_get_bool(struct parser *p, const config_setting_t *group, const char *key,
    bool *out)
{
	const config_setting_t	*s;

	if ((s = config_setting_get_member(group, key)) == NULL)
		return;
	if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
		cfg_error(p, s, "'%s' must be true or false, not %s", key,
		    cfg_type_name(config_setting_type(s)));
		return;
	}
	*out = config_setting_get_bool(s);
}

const char *
cfg_get_string(struct parser *p, const config_setting_t *group, const char *key,
    const config_setting_t **where)
{
	const config_setting_t	*s;

	if ((s = config_setting_get_member(group, key)) == NULL)
		return NULL;
	if (where != NULL)
		*where = s;
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		cfg_error(p, s, "'%s' must be a string, not %s", key,
		    cfg_type_name(config_setting_type(s)));
		return NULL;
	}
	return config_setting_get_string(s);
}

bool
cfg_valid_name(const char *s)
{
	size_t	 n = strlen(s);

	if (n == 0 || n >= CONF_NAME_MAX)
		return false;
	return strspn(s, CFG_NAME_CHARS) == n;
}

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
    struct addr_net *out, size_t max)
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
		if (addr_net_parse(strs[i], &out[i]) < 0)
			cfg_error(p, s, "'%s': \"%.100s\" is not an address "
			    "or address/prefix", key, strs[i]);
	return n;
}

void
cfg_not_for(struct parser *p, const config_setting_t *group, const char *key,
    const char *what)
{
	const config_setting_t	*k;

	if ((k = config_setting_get_member(group, key)) != NULL)
		cfg_error(p, k, "'%s' is not for %s", key, what);
}

void
cfg_get_template(struct parser *p, const config_setting_t *group,
    const char *key, struct template **t)
{
	const config_setting_t	*where = NULL;
	struct template		*nt;
	const char		*str;
	char			 err[256];

	if ((str = cfg_get_string(p, group, key, &where)) == NULL)
		return;
	if (template_compile(str, &nt, err, sizeof(err)) < 0)
		cfg_error(p, where, "'%s': %s", key, err);
	else if (template_max_capture(nt) >= 0) {
		cfg_error(p, where, "'%s': '%%{%d}' needs a regex rule", key,
		    template_max_capture(nt));
		template_free(nt);
	} else {
		template_free(*t);
		*t = nt;
	}
}

bool
cfg_get_choice(struct parser *p, const config_setting_t *group,
    const char *key, const char *const *names, int *out)
{
	const config_setting_t	*where = NULL;
	const char		*str;
	char			 allowed[256];
	size_t			 len = 0;
	int			 i, n;

	if ((str = cfg_get_string(p, group, key, &where)) == NULL)
		return false;
	for (n = 0; names[n] != NULL; n++)
		if (strcmp(str, names[n]) == 0) {
			*out = n;
			return true;
		}
	/* "a", "b" or "c" */
	allowed[0] = '\0';
	for (i = 0; i < n && len < sizeof(allowed); i++)
		len += (size_t)snprintf(allowed + len, sizeof(allowed) - len,
		    "%s\"%s\"", i == 0 ? "" : i + 1 < n ? ", " : " or ",
		    names[i]);
	cfg_error(p, where, "'%s' must be %s, not \"%.100s\"", key, allowed,
	    str);
	return false;
}

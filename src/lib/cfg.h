/* SPDX-License-Identifier: ISC */
/*
 * The bottom of the config module: libconfig settings read with types and
 * ranges checked, and the errors found collected as "file:line: message"
 * and reported in file order. Only the config files include this.
 */
#ifndef ECHOREPLYD_CFG_H
#define ECHOREPLYD_CFG_H

#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>

#include "addr.h"
#include "config.h"
#include "template.h"

#define CFG_NETS_MAX	256
/* What a name (of a listener or a rule) may be made of. */
#define CFG_NAME_CHARS	"abcdefghijklmnopqrstuvwxyz" \
			"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-:[]/"

struct cfg_source;

struct cfg_error {
	int	 order;		/* the line of the text read, includes in it */
	char	*text;
};

/* One load of one file. */
struct parser {
	const char		*path;
	config_report_fn	 report;
	void			*arg;
	int			 errors;
	struct cfg_error	*errv;
	size_t			 errc;
	const struct cfg_source	*src;	/* what libconfig read */
};

/* Records "file:line: message" for the setting (NULL: the file). */
void	cfg_error(struct parser *, const config_setting_t *, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
/*
 * Records "file:line: message" (line 0: "file: message"), reported in
 * the order of order among the others.
 */
void	cfg_error_at(struct parser *, const char *file, unsigned int line,
	    int order, const char *, ...)
	    __attribute__((format(printf, 5, 6)));
/* The file (as opened) and line a setting was read from. */
void	cfg_where(const struct parser *, const config_setting_t *,
	    const char **file, unsigned int *line);
/* Reports the errors recorded, in file order, and forgets them. */
void	cfg_flush_errors(struct parser *);
const char *cfg_type_name(int);
/* Reports every member of group whose name is not in known. */
void	cfg_check_keys(struct parser *, const config_setting_t *,
	    const char *const *known, const char *where);
/* Complains about key in group: it means nothing for `what`. */
void	cfg_not_for(struct parser *, const config_setting_t *group,
	    const char *key, const char *what);
/* Each getter leaves *out alone when the key is absent. */
void	cfg_get_int(struct parser *, const config_setting_t *, const char *,
	    long long min, long long max, long long *out);
void	cfg_get_bool(struct parser *, const config_setting_t *, const char *,
	    bool *out);
/* A probability: a number from 0 to 1 (a float, or the integer 0 or 1). */
void	cfg_get_fraction(struct parser *, const config_setting_t *,
	    const char *, double *out);
/*
 * An integer, or a range [min, max] of two: *lo and *hi (both the same
 * for one integer).
 */
void	cfg_get_range(struct parser *, const config_setting_t *, const char *,
	    long long min, long long max, long long *lo, long long *hi);
const char *cfg_get_string(struct parser *, const config_setting_t *,
	    const char *, const config_setting_t **where);
/* A string or a list of strings: how many (0 after an error). */
size_t	cfg_get_strings(struct parser *, const config_setting_t *,
	    const char *key, const char **out, size_t max);
/* A network or a list of them. */
size_t	cfg_get_nets(struct parser *, const config_setting_t *,
	    const char *key, struct addr_net *out, size_t max);
/*
 * Replaces *t with the template in key, if it is there and compiles and
 * uses no regex capture.
 */
void	cfg_get_template(struct parser *, const config_setting_t *,
	    const char *key, struct template **t);
/*
 * A string that must be one of names (NULL-terminated): sets *out to its
 * index and returns true; false when the key is absent or wrong (an
 * error then says which values are allowed).
 */
bool	cfg_get_choice(struct parser *, const config_setting_t *,
	    const char *key, const char *const *names, int *out);
bool	cfg_valid_name(const char *);

#endif

/* Shared by the files of the config module; only they include libconfig. */
#ifndef ECHOREPLYD_CONFIG_INTERNAL_H
#define ECHOREPLYD_CONFIG_INTERNAL_H

#include <libconfig.h>
#include <stdbool.h>
#include <stdio.h>

#include "config.h"
#include "rules.h"

struct error {
	int	 order;		/* the main file first, then by line */
	char	*text;
};

struct parser {
	const char		*path;
	config_report_fn	 report;
	void			*arg;
	int			 errors;
	struct error		*errv;
	size_t			 errc;
};

/* Records "file:line: message" for the setting (NULL: the file). */
void	cfg_error(struct parser *, const config_setting_t *, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
const char *cfg_type_name(int);
/* Reports every member of group whose name is not in known. */
void	cfg_check_keys(struct parser *, const config_setting_t *,
	    const char *const *known, const char *where);
/* Each getter leaves *out alone when the key is absent. */
void	cfg_get_int(struct parser *, const config_setting_t *, const char *,
	    long long min, long long max, long long *out);
void	cfg_get_bool(struct parser *, const config_setting_t *, const char *,
	    bool *out);
const char *cfg_get_string(struct parser *, const config_setting_t *,
	    const char *, const config_setting_t **where);
int	cfg_valid_name(const char *);
void	cfg_dump_string(FILE *, const char *);

/* config-rules.c */
#define CFG_NETS_MAX	256
/* A string or a list of strings: how many (0 after an error). */
size_t	cfg_get_strings(struct parser *, const config_setting_t *,
	    const char *key, const char **out, size_t max);
/* A network or a list of them. */
size_t	cfg_get_nets(struct parser *, const config_setting_t *,
	    const char *key, struct rules_net *out, size_t max);
void	cfg_parse_rules(struct parser *, struct conf *, const config_setting_t *);
void	cfg_dump_rules(const struct conf *, FILE *);

#endif

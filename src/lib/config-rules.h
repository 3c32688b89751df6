/* SPDX-License-Identifier: ISC */
#ifndef ECHOREPLYD_CONFIG_RULES_H
#define ECHOREPLYD_CONFIG_RULES_H

#include "cfg.h"
#include "config.h"

/* The "rules" list, appended to c->rules in file order. */
void	cfg_parse_rules(struct parser *, struct conf *,
	    const config_setting_t *);

#endif

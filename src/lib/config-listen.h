/* SPDX-License-Identifier: ISC */
#ifndef ECHOREPLYD_CONFIG_LISTEN_H
#define ECHOREPLYD_CONFIG_LISTEN_H

#include "cfg.h"
#include "config.h"

/* The "listen" setting: a group or a list of groups, into c->listeners. */
void	cfg_parse_listeners(struct parser *, struct conf *,
	    const config_setting_t *);
/* The one listener used when the file names none. 0 or -ENOMEM. */
int	cfg_default_listener(struct conf *);

#endif

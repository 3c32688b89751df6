/* SPDX-License-Identifier: ISC */
/*
 * What a listener serves (struct conf_service): the keys are read at the
 * top level, then again in each listener's group, where whatever is left
 * out comes from the top level. Only config*.c include this.
 */
#ifndef ECHOREPLYD_CONFIG_SERVICE_H
#define ECHOREPLYD_CONFIG_SERVICE_H

#include "cfg.h"
#include "config.h"

/* The keys of a service (NULL-terminated), valid in both places. */
extern const char *const cfg_service_keys[];

/*
 * own (NULL-terminated) and the service keys, into out (max entries with
 * the NULL): the known keys of a group that holds both.
 */
void	cfg_service_keys_with(const char *const *own, const char **out,
	    size_t max);
/* The built-in defaults. Returns 0 or -ENOMEM. */
int	cfg_service_init(struct conf_service *);
/* dst becomes a copy of src with its own templates and lists; -ENOMEM. */
int	cfg_service_copy(struct conf_service *dst,
	    const struct conf_service *src);
/*
 * Reads the service keys of group into svc, over what it holds. For a
 * UDP listener (type SOCK_DGRAM) the keys that mean nothing to datagrams
 * are errors.
 */
void	cfg_parse_service(struct parser *, const config_setting_t *group,
	    int type, struct conf_service *);
void	cfg_service_free(struct conf_service *);

/* The TLS keys of a service (NULL-terminated), "tls" first. */
extern const char *const cfg_tls_keys[];
void	cfg_tls_init(struct conf_tls *);
int	cfg_tls_copy(struct conf_tls *dst, const struct conf_tls *src);
/*
 * Reads the TLS keys of group over t, then checks them together; a
 * listener's group (listener true) must not set any while TLS is off.
 */
void	cfg_parse_tls(struct parser *, const config_setting_t *group,
	    bool listener, struct conf_tls *);
void	cfg_tls_free(struct conf_tls *);

#endif

/* SPDX-License-Identifier: ISC */
/* echoreplyd --reply: what messages would get, without any socket. */
#ifndef ECHOREPLYD_DRYRUN_H
#define ECHOREPLYD_DRYRUN_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

/*
 * Prints, for each message in turn as one connection would send them,
 * the rule, the exact reply (escaped), the delay and whether it closes.
 * client is "address" or "address:port"; listener NULL means the first;
 * sni is the TLS server name the client asked for (NULL: none); the
 * draws come from seed. Returns an exit status.
 */
int	dryrun(const struct conf *, char *const *msgs, size_t n,
	    const char *client, const char *listener, const char *sni,
	    uint64_t seed);

#endif

/* SPDX-License-Identifier: ISC */
/*
 * TLS on stream listeners (OpenSSL): a context for each listener with
 * tls = true, made when a configuration is loaded, and a transport for
 * each of its connections. Built without TLS (./configure --without-tls),
 * a configuration that asks for it does not load, and says why.
 */
#ifndef ECHOREPLYD_TRANSPORT_TLS_H
#define ECHOREPLYD_TRANSPORT_TLS_H

#include "config.h"
#include "transport.h"

struct tls_ctx;		/* one listener's */
struct tls_set;		/* every one of a configuration */

/* The TLS library's version, or NULL when built without TLS. */
const char	*tls_library(void);
/*
 * Reads the certificates and keys of every service of conf that has TLS
 * on and makes their contexts. Errors go to fn as "file:line: ...",
 * and then it returns -EINVAL; warnings (a certificate that expired) go
 * there too, as "file:line: warning: ...", and do not fail. Returns 0 or
 * a negative errno.
 */
int		 tls_set_load(const struct conf *, config_report_fn fn,
		    void *arg, struct tls_set **);
/* The context of svc, one of the configuration's; NULL: no TLS. */
struct tls_ctx	*tls_set_find(const struct tls_set *,
		    const struct conf_service *svc);
/* Open connections keep what they use of it. */
void		 tls_set_free(struct tls_set *);
/* A TLS transport on an accepted socket; NULL when out of memory. */
struct transport *transport_tls_new(struct tls_ctx *, int fd);
/* At exit: what the process made once (a self-signed certificate). */
void		 tls_cleanup(void);

#endif

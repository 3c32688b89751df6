/* SPDX-License-Identifier: ISC */
/* A UDP listener: each datagram is one message, answered with one. */
#ifndef ECHOREPLYD_DGRAM_H
#define ECHOREPLYD_DGRAM_H

#include <stdbool.h>

#include "listen.h"
#include "serve.h"

struct dgram;

/* Serves the UDP listener l on ctx's loop. NULL with a negative errno. */
int	dgram_new(struct serve_ctx *, const struct listener *, struct dgram **);
/* Stops reading; replies held back by delay_ms go out now (shutdown). */
void	dgram_stop(struct dgram *);
/* Frees it; replies still held back are dropped. */
void	dgram_free(struct dgram *);

#endif

#ifndef ECHOREPLYD_LISTEN_H
#define ECHOREPLYD_LISTEN_H

#include <stddef.h>

#include "config.h"

struct listener {
	int	 fd;
	char	 name[CONF_NAME_MAX];
	char	 desc[96];	/* address and port, for logs */
};

/*
 * Opens the listening sockets the configuration names. On failure logs
 * why, closes what it opened and returns a negative errno.
 */
int	listen_open(const struct conf *, struct listener **, size_t *);
void	listen_close(struct listener *, size_t);

#endif

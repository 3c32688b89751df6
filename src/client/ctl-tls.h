/* SPDX-License-Identifier: ISC */
/*
 * echoreplyctl's TLS (OpenSSL) over a connected, non-blocking stream
 * socket: the handshake, then reads and writes for the poll() loop. Built
 * without TLS, asking for it exits with EX_UNAVAILABLE.
 */
#ifndef ECHOREPLYD_CTL_TLS_H
#define ECHOREPLYD_CTL_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* What to trust, what to present and whom to expect. */
struct tls_config {
	const char	*ca;		/* PEM; NULL: the system's store */
	const char	*cert;		/* PEM chain; NULL: none */
	const char	*key;		/* PEM; NULL: in cert */
	const char	*name;		/* checked; sent as SNI unless an IP */
	bool		 insecure;	/* no verification */
	char *const	*alpn;		/* offered, by preference */
	size_t		 nalpn;
};

struct tls_client;

/*
 * Reads the files of cfg, whose strings must outlive the client. Exits
 * with EX_NOINPUT or EX_DATAERR when they cannot be used.
 */
struct tls_client *tls_new(const struct tls_config *cfg);
/*
 * The handshake on fd within timeout_ms, peer naming the server in
 * messages; with -v, says what was agreed. Exits with a sysexits(3)
 * status when it fails.
 */
void	tls_handshake(struct tls_client *, int fd, const char *peer,
	    int timeout_ms);
/*
 * As recv() and send(), with a negative errno for an error: bytes (> 0),
 * 0 at the end of the stream (read), -EAGAIN when it must wait. Exits
 * with EX_PROTOCOL when TLS itself fails.
 */
ssize_t	tls_read(struct tls_client *, void *, size_t);
ssize_t	tls_write(struct tls_client *, const void *, size_t);
/*
 * Whether the last read waits until the socket can be written. (A write
 * that waits to read needs POLLIN, which the caller always asks for.)
 */
bool	tls_wants_write(const struct tls_client *);
/*
 * Whether bytes taken from the socket wait inside the TLS library, to be
 * read without poll() saying so.
 */
bool	tls_pending(const struct tls_client *);
/* Sends close_notify, without waiting for the server's, and frees. */
void	tls_close(struct tls_client *);

#endif

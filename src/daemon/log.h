/* SPDX-License-Identifier: ISC */
#ifndef ECHOREPLYD_LOG_H
#define ECHOREPLYD_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "template.h"

#define LOG_ATTR_PRINTF(a, b)	__attribute__((format(printf, a, b)))

/*
 * Where records go: with debug, plain lines on stderr whatever the
 * target; else the target, AUTO choosing the journal when JOURNAL_STREAM
 * names our stderr. Records to stderr are buffered; log_flush() writes
 * them out (the server calls it once per loop iteration). Before
 * log_set_buffered(1) every record is written at once. Records to the
 * journal are sent at once; if that fails they go to stderr.
 * log_init() may be called again, on reload.
 */
void	log_init(bool debug, int verbose, enum conf_log_target);
void	log_set_buffered(bool);
void	log_flush(void);
/*
 * At exit: what is still buffered, and a note of the records lost, get up
 * to timeout_ms to go out to a log output or journal that is blocked.
 */
void	log_finish(unsigned int timeout_ms);
/* Records wait in the buffer because the sink would block. */
bool	log_pending(void);
bool	log_enabled(int priority);
/* Records dropped since start (a sink that blocked or failed). */
uint64_t log_lost(void);

/* What a client record is about; the journal gets it as fields. */
struct log_fields {
	const char	*client_address;	/* CLIENT_ADDRESS= */
	unsigned int	 client_port;		/* CLIENT_PORT=; 0: none */
	const char	*listener;		/* LISTENER= */
	const char	*rule;			/* RULE=; NULL: none */
	size_t		 rule_len;	/* for log_message() only */
	const char	*message;		/* CLIENT_MESSAGE=, escaped */
	const char	*proxy_address;		/* PROXY_ADDRESS=; NULL: none */
	unsigned int	 proxy_port;		/* PROXY_PORT= */
	const struct template_tls *tls;		/* TLS_*=; NULL: not TLS */
	const char	*peer;		/* the client in the text, */
	size_t		 peer_len;	/* for log_message() only */
};

/* What log_message() calls the message: a line or a datagram. */
enum log_kind {
	LOG_KIND_MESSAGE,
	LOG_KIND_DATAGRAM,
};

/* MESSAGE_ID= of each kind of client record; see echoreplyd(8). */
#define LOG_MSGID_CONNECT	"d686d1296c434ed88e1d17355dd5b3be"
#define LOG_MSGID_MESSAGE	"0c8a54bcd36a44dbaf136f0315e05306"
#define LOG_MSGID_TOO_LONG	"21a93533bb6c4ec094592975f81b1b2a"
#define LOG_MSGID_DISCONNECT	"e93efcf4e5b14c7cad9ae559eaedf5ce"
#define LOG_MSGID_TLS		"f28b5c67d693441386aa0e01277b72ff"

/*
 * The record of one client message, "PEER KIND[ N][ to TO]: "ESCAPED"
 * [(rule R)]", with f->peer and f->rule; the message is escaped here,
 * cut at max (at most LOG_MESSAGE_MAX) bytes. No printf on the stderr
 * back ends: it runs for every message.
 */
#define LOG_MESSAGE_MAX		65536	/* bytes of a message logged, at most */
void	log_message(const struct log_fields *, enum log_kind, uint64_t n,
	    const char *to, const void *msg, size_t len, size_t max);
void	log_client(int priority, const char *msgid, const struct log_fields *,
	    const char *, ...) LOG_ATTR_PRINTF(4, 5);
void	log_warn(const char *, ...) LOG_ATTR_PRINTF(1, 2);
void	log_warnx(const char *, ...) LOG_ATTR_PRINTF(1, 2);
void	log_info(const char *, ...) LOG_ATTR_PRINTF(1, 2);
void	log_debug(const char *, ...) LOG_ATTR_PRINTF(1, 2);
/* fatal and fatalx also tell the service manager why (STATUS=, ERRNO=). */
void	fatal(const char *, ...) LOG_ATTR_PRINTF(1, 2) __attribute__((noreturn));
void	fatalx(const char *, ...) LOG_ATTR_PRINTF(1, 2) __attribute__((noreturn));

#endif

/* SPDX-License-Identifier: ISC */
/*
 * The configuration: read from a libconfig file, validated, with every
 * default filled in, and immutable from then on. Only the config files
 * (config*.c, cfg.c) see libconfig; everything else reads struct conf.
 */
#ifndef ECHOREPLYD_CONFIG_H
#define ECHOREPLYD_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "addr.h"
#include "frame.h"
#include "rules.h"
#include "template.h"

/* The one place the installed file's path is decided (Makefile.am sets it). */
#ifndef ECHOREPLYD_CONF
#define ECHOREPLYD_CONF		"/etc/echoreplyd.conf"
#endif
#define CONF_DEFAULT_PATH	ECHOREPLYD_CONF
#define CONF_DEFAULT_ADDRESS	"127.0.0.1"
#define CONF_DEFAULT_PORT	13008
#define CONF_NAME_MAX		64
#define CONF_PATH_MAX		108	/* sun_path, with its NUL */

/* Where the daemon's log goes. */
enum conf_log_target {
	CONF_LOG_AUTO,		/* the journal when stderr is connected to it */
	CONF_LOG_JOURNAL,	/* native journal protocol, with fields */
	CONF_LOG_STDERR		/* lines with "<N>" priority prefixes */
};

/* Whether a TLS listener asks for client certificates. */
enum conf_tls_verify {
	CONF_TLS_VERIFY_NONE,		/* asks for none */
	CONF_TLS_VERIFY_OPTIONAL,	/* asks; one sent must verify */
	CONF_TLS_VERIFY_REQUIRE,	/* no handshake without one */
};

/*
 * Where a setting was read: its file, as opened (one of struct conf's
 * files; NULL: conf.path), and line.
 */
struct conf_at {
	const char		*file;
	unsigned int		 line;
};

/*
 * A stream listener's TLS: what the daemon builds its context from
 * (src/daemon/transport-tls.c). The _at say where each file was named,
 * for errors found when it is read.
 */
struct conf_tls {
	bool			 on;
	bool			 self_signed;	/* made at start, in memory */
	char			*certificate;	/* PEM chain; NULL: none */
	char			*key;		/* PEM; NULL: in certificate */
	char			*client_ca;	/* PEM; NULL: none */
	enum conf_tls_verify	 verify_client;
	unsigned int		 min_version;	/* 12 or 13: TLS 1.2, 1.3 */
	char			*ciphers;	/* TLS 1.2; NULL: OpenSSL's */
	char			*ciphersuites;	/* TLS 1.3; NULL: OpenSSL's */
	char			**alpn;		/* by preference; none: off */
	size_t			 nalpn;
	bool			 session_tickets;
	uint64_t		 handshake_timeout_ms;
	struct conf_at		 at;		/* of 'tls', or its group */
	struct conf_at		 certificate_at, key_at, client_ca_at;
};

/*
 * What a listener serves: how messages are framed, what is replied when
 * no rule matches or something is wrong, and the limits on each client.
 * The top level has one; each listener has its own, a copy of the top
 * level's with the keys of its group over it (config_service() finds it).
 */
struct conf_service {
	struct frame_spec	 framing;
	uint64_t		 line_flush_ms;	/* 0: a line waits for its end */
	uint64_t		 message_timeout_ms;	/* for a whole message */
	char			*line_flush_end;	/* after such a reply */
	bool			 close_after_reply;
	bool			 operator;	/* the default reply asks */
	uint64_t		 operator_timeout_ms;
	struct template		*greeting;	/* NULL: none */
	struct template		*default_reply;
	struct template		*too_long_reply;
	struct template		*refuse_reply;
	size_t			 max_message_bytes;
	size_t			 max_queued_bytes;
	size_t			 max_connections;	/* on this listener */
	size_t			 max_connections_per_source;	/* 0: none */
	uint64_t		 idle_timeout_ms;		/* 0: none */
	double			 source_message_rate;		/* 0: none */
	double			 source_message_burst;
	size_t			 max_sources;	/* refilling, none open */
	struct addr_acl		 acl;
	unsigned int		 proxy_versions;	/* PROXY_V1|V2; 0: off */
	struct addr_acl		 proxy_acl;	/* who may send it: allow */
	uint64_t		 proxy_timeout_ms;
	bool			 log_messages;
	size_t			 log_message_bytes;
	struct conf_tls		 tls;
	/* connection faults */
	uint64_t		 open_delay_ms, open_delay_max_ms;
	double			 accept_close_probability;
	double			 accept_reset_probability;
	uint64_t		 close_after_messages;	/* 0: none */
	uint64_t		 bandwidth;	/* bytes per second; 0: none */
};

struct conf_listener {
	char			 name[CONF_NAME_MAX];
	int			 type;		/* SOCK_STREAM or SOCK_DGRAM */
	char			 address[ADDR_TEXT_MAX];	/* IP only */
	uint16_t		 port;				/* IP only */
	char			 path[CONF_PATH_MAX];	/* AF_UNIX only */
	int			 backlog;	/* stream only */
	bool			 ipv6_only;	/* IPv6 only */
	bool			 reuse_port;	/* IP only */
	struct sockaddr_storage	 sa;		/* family says which kind */
	socklen_t		 salen;
	const struct conf_service *service;	/* never NULL */
};

/* A validated configuration with every default filled in. Immutable. */
struct conf {
	char			*path;
	char			**files;	/* read: path, what it includes */
	size_t			 nfiles;
	struct conf_listener	*listeners;
	size_t			 nlisteners;
	struct conf_service	 service;	/* the top level's */
	struct conf_service	*services;	/* the listeners', in order */
	struct rules		*rules;
	uint64_t		 shutdown_timeout_ms;
	size_t			 max_connections;	/* in all */
	char			*user;		/* NULL: stay who we are */
	enum conf_log_target	 log_target;
	bool			 seeded;	/* the file sets 'seed' */
	uint64_t		 seed;
	/* the control socket: NULL, not set (the default); "", none */
	char			*control_socket;
	char			*control_group;	/* NULL: none */
	size_t			 recorded_messages;	/* kept for it */
	size_t			 recorded_bytes;
	/* the metrics listener: "address:port"; NULL, none */
	char			*metrics_listen;
	union addr_any		 metrics_sa;
};

/* Receives one error line, "file:line: message". */
typedef void (*config_report_fn)(const char *line, void *arg);

/*
 * Reads and validates a configuration file. Every error found is passed
 * to report; on any error returns NULL. With errnum non-NULL, it is set
 * to the errno when the file could not be opened, else to 0.
 */
struct conf	*config_load(const char *path, config_report_fn report,
		    void *arg, int *errnum);
/* The configuration used when there is no file at all. */
struct conf	*config_default(void);
/*
 * The settings of the listener of that name (a socket passed by the
 * service manager is named by its FileDescriptorName=): its own, or the
 * top level's when the configuration has no such listener.
 */
const struct conf_service *config_service(const struct conf *,
		    const char *listener);
/* Writes the configuration in config file syntax, defaults included. */
void		 config_dump(const struct conf *, FILE *);
void		 config_free(struct conf *);

#endif

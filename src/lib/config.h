#ifndef ECHOREPLYD_CONFIG_H
#define ECHOREPLYD_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "frame.h"
#include "rules.h"
#include "template.h"

#define CONF_DEFAULT_ADDRESS	"127.0.0.1"
#define CONF_DEFAULT_PORT	13008
#define CONF_NAME_MAX		64
#define CONF_PATH_MAX		108	/* sun_path, with its NUL */

enum conf_log_target {
	CONF_LOG_AUTO,		/* the journal when stderr is connected to it */
	CONF_LOG_JOURNAL,
	CONF_LOG_STDERR
};

struct conf_listener {
	char			 name[CONF_NAME_MAX];
	int			 type;		/* SOCK_STREAM or SOCK_DGRAM */
	char			 address[INET6_ADDRSTRLEN];	/* IP only */
	uint16_t		 port;				/* IP only */
	char			 path[CONF_PATH_MAX];	/* AF_UNIX only */
	int			 backlog;	/* stream only */
	bool			 ipv6_only;	/* IPv6 only */
	bool			 reuse_port;	/* IP only */
	struct sockaddr_storage	 sa;		/* family says which kind */
	socklen_t		 salen;
};

/* A validated configuration with every default filled in. Immutable. */
struct conf {
	char			*path;
	struct conf_listener	*listeners;
	size_t			 nlisteners;
	enum frame_mode		 framing;
	bool			 close_after_reply;
	struct template	*greeting;	/* NULL: none */
	struct rules		*rules;
	struct template		*default_reply;
	struct template		*too_long_reply;
	size_t			 max_message_bytes;
	size_t			 max_queued_bytes;
	uint64_t		 shutdown_timeout_ms;
	/* limits */
	size_t			 max_connections;
	size_t			 max_connections_per_source;	/* 0: none */
	struct template		*refuse_reply;
	uint64_t		 idle_timeout_ms;		/* 0: none */
	double			 source_message_rate;		/* 0: none */
	double			 source_message_burst;
	struct rules_net	*allow;		/* empty: everyone */
	size_t			 nallow;
	struct rules_net	*deny;
	size_t			 ndeny;
	char			*user;		/* NULL: stay who we are */
	bool			 log_messages;
	size_t			 log_message_bytes;
	enum conf_log_target	 log_target;
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
/* Writes the configuration in config file syntax, defaults included. */
void		 config_dump(const struct conf *, FILE *);
void		 config_free(struct conf *);

#endif

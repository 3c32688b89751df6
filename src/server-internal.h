/* Shared by the files of the server: the loop (server.c), stream
 * connections (conn.c) and datagrams (dgram.c). */
#ifndef ECHOREPLYD_SERVER_INTERNAL_H
#define ECHOREPLYD_SERVER_INTERNAL_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <systemd/sd-event.h>

#include "buf.h"
#include "config.h"
#include "listen.h"
#include "log.h"
#include "sources.h"
#include "template.h"

#define READ_SIZE		(64 * 1024)
#define ACCEPT_BURST		64
#define ACCEPT_PAUSE_USEC	(100 * 1000)
#define LINGER_USEC		(5 * 1000 * 1000)
#define DRAIN_BURST		16
#define CONN_BATCH		256	/* connection events per dispatch */
/* delays and rate limits are promised in ms: sd-event defaults to 250 ms */
#define TIMER_ACCURACY_USEC	1000

struct conn {
	struct conn		*prev, *next;
	struct server		*srv;
	const struct listener	*l;
	int			 fd;
	sd_event_source		*linger;
	sd_event_source		*delay;		/* a delayed reply is due */
	char			*delayed;	/* its bytes */
	size_t			 delayed_len;
	bool			 delayed_close;
	uint32_t		*cycle;		/* per cycling rule */
	uint64_t		 cycle_gen;
	uint32_t		 events;
	/* a partial message, only while one is pending */
	char			*in;
	size_t			 inlen, incap;	/* in[inlen] is a NUL */
	/* unsent output, only while some is pending */
	char			*out;
	size_t			 outoff, outlen, outcap;
	uint64_t		 msgs, bytes_in, bytes_out;
	uint64_t		 started;
	uint64_t		 active;	/* last read or write, for idle */
	struct source		*src;		/* NULL for Unix clients */
	const char		*reason;
	bool			 eof;		/* client sent FIN */
	bool			 closing;	/* no more input; close once flushed */
	bool			 lingering;	/* write side shut, discarding input */
	bool			 draining;	/* shutdown: answer what is buffered */
	bool			 paused;	/* waiting for a delayed reply */
	bool			 rearm;		/* input may wait: poll again */
	bool			 rdhup;		/* the client has sent its FIN */
	uint16_t		 port;
	union {
		struct sockaddr		sa;
		struct sockaddr_in	in;
		struct sockaddr_in6	in6;
	}			 sa;		/* the client, for networks */
	char			 addr[INET6_ADDRSTRLEN];
	char			 peer[CONF_NAME_MAX + 32];	/* for logs */
};

struct lsource {
	struct server		*srv;
	const struct listener	*l;
	sd_event_source		*src;
	uint32_t		*cycle;		/* UDP: cycling replies */
	uint64_t		 cycle_gen;
	uint64_t		 datagrams;
};

/* A UDP reply held back by a rule's delay_ms. */
struct dgram_delayed {
	struct dgram_delayed	*next;
	struct server		*srv;
	sd_event_source		*timer;
	int			 fd;
	struct sockaddr_storage	 peer;
	socklen_t		 peerlen;
	size_t			 len;
	char			 data[];
};

struct server {
	sd_event		*event;
	const struct conf	*conf;
	struct listener		*ls;
	size_t			 nls;
	struct lsource		*lsrc;
	sd_event_source		*post;
	sd_event_source		*accept_pause;
	sd_event_source		*shutdown_timer;
	struct dgram_delayed	*delayed;	/* UDP replies waiting */
	size_t			 ndelayed;
	/*
	 * Connections live in an epoll set of their own, one sd-event source
	 * for all: sd-event would poll once per connection it dispatches.
	 */
	int			 cepoll;
	sd_event_source		*csrc;
	struct epoll_event	 batch[CONN_BATCH];
	int			 batch_i, batch_n;
	struct conn		*conns;		/* least recently active first */
	struct conn		*conns_tail;
	size_t			 nconns;
	sd_event_source		*idle_timer;
	sd_event_source		*log_timer;
	struct sources		*sources;
	bool			 full;		/* refusing: max_connections */
	uint64_t		 messages, errors;
	uint64_t		 conf_gen;
	char			 hostname[256];
	uint64_t		 accepted;	/* names Unix stream clients */
	bool			 stopping;
	bool			 fd_exhausted;
	/* READ_SIZE bytes and a NUL: sanitizers' regexec() ignores
	 * REG_STARTEND and reads up to a NUL */
	char			 rbuf[READ_SIZE + 1];
	struct buf		 wbuf;
};

/* server.c */
uint64_t	server_now(const struct server *);
void		server_format_peer(const struct sockaddr_storage *, char *,
		    size_t, uint16_t *);
void		server_idle_arm(struct server *);

/* conn.c: one stream connection */
void		conn_fields(const struct conn *, struct log_fields *);
size_t		conn_queued(const struct conn *);
void		conn_append(struct conn *);
void		conn_unlink(struct conn *);
void		conn_touch(struct conn *);
void		conn_free(struct conn *, const char *reason);
/* Recomputes what to wait for; closes when done. -1 when freed. */
int		conn_update(struct conn *);
/* At shutdown: answers what is buffered, then closes. -1 when freed. */
int		conn_drain(struct conn *);
/* Handles what epoll reported for the connection. */
void		conn_event(struct conn *, uint32_t revents);
/* Registers a new connection's socket for input. */
int		conn_watch(struct conn *);
void		conn_send_greeting(struct conn *);
void		conn_ctx(const struct conn *, struct template_ctx *);
void		conn_fill_costly(struct template_ctx *, unsigned int, void *);

/* dgram.c: UDP, one datagram one message */
int		dgram_io(sd_event_source *, int, uint32_t, void *);
/* Sends every delayed reply now (shutdown) or drops them (free). */
void		dgram_flush_delayed(struct server *, bool send_them);

#endif

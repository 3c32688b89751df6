/* SPDX-License-Identifier: ISC */
/* One stream connection: read, frame, answer, write, close. */
#ifndef ECHOREPLYD_CONN_H
#define ECHOREPLYD_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "addr.h"
#include "answer.h"
#include "buf.h"
#include "config.h"
#include "idle.h"
#include "listen.h"
#include "serve.h"
#include "tally.h"
#include "transport.h"

/* What a connection function returns when the connection is gone. */
#define CONN_GONE	(-1)

/* How a reply ends its connection, once it is sent. */
enum conn_end {
	CONN_END_NONE,
	CONN_END_CLOSE,		/* a lingering close */
	CONN_END_RESET,		/* an RST */
	CONN_END_HALF_CLOSE,	/* our side shut, theirs read on */
	CONN_END_HANG,		/* no more reading */
	CONN_END_HANG_ALL,	/* nor writing */
};

struct conn {
	struct idle_entry	 idle;		/* first: see conn_of_idle() */
	struct serve_ctx	*ctx;
	struct listener		*l;		/* in its idle list */
	struct transport	*tr;		/* &plain, or one of its own */
	struct transport	 plain;
	int			 fd;
	sd_event_source		*linger;
	sd_event_source		*delay;		/* a held reply's next piece
						   is due, the slow open is
						   over, the PROXY header or
						   the TLS handshake is late,
						   or a reset waits for acks */
	sd_event_source		*again;		/* input the transport holds */
	sd_event_source		*flush;		/* a partial message's timer:
						   line_flush_ms, or
						   message_timeout_ms */
	uint64_t		 partial_since;	/* when that message began */
	char			*delayed;	/* a held reply's bytes */
	size_t			 delayed_len, delayed_off;	/* sent */
	size_t			 piece;		/* bytes at a time; 0: all */
	uint64_t		 piece_usec;	/* between pieces */
	uint64_t		 piece_due;	/* the next one's deadline */
	enum conn_end		 delayed_end;	/* once all are sent */
	unsigned int		 reset_tries;	/* acks waited for */
	uint64_t		 asking;	/* the operator: its ask's id */
	size_t			 held_own;	/* its fallback's bytes */
	struct answer_state	 story;		/* state, counts, draws */
	uint32_t		 events;
	/* a partial message, only while one is pending */
	char			*in;
	size_t			 inlen, incap;	/* in[inlen] is a NUL */
	/* unsent output, only while some is pending */
	struct buf		 out;
	size_t			 outoff;
	uint64_t		 msgs, bytes_in, bytes_out;
	uint64_t		 id;		/* its number since start */
	uint64_t		 started;
	struct tally		*tally;		/* NULL for Unix clients */
	const char		*reason;
	bool			 eof;		/* client sent FIN */
	bool			 closing;	/* no more input; close once flushed */
	bool			 lingering;	/* write side shut, discarding input */
	bool			 draining;	/* shutdown: answer what is buffered */
	bool			 paused;	/* waiting for a delayed reply */
	bool			 flushing;	/* the partial line is a message */
	bool			 proxy_wait;	/* its PROXY header is not read */
	bool			 tls_wait;	/* its TLS handshake is not done */
	bool			 resting;	/* counted in l->nresting */
	bool			 rearm;		/* input may wait: poll again */
	bool			 rdhup;		/* the client has sent its FIN */
	bool			 opening;	/* open_delay_ms not over */
	bool			 resetting;	/* an RST once flushed */
	bool			 half_closing;	/* shut our side once flushed */
	bool			 wr_shut;	/* our side is shut */
	bool			 hung;		/* not read any more */
	bool			 mute;		/* nor written */
	bool			 aborted;	/* closed with an RST */
	bool			 kicked;	/* from the control socket */
	uint16_t		 port;
	union {
		struct sockaddr		sa;
		struct sockaddr_in	in;
		struct sockaddr_in6	in6;
	}			 sa;		/* the client, for networks */
	char			 addr[ADDR_TEXT_MAX];
	char			 peer[CONF_NAME_MAX + 32];	/* for logs */
	/* the balancer that sent a PROXY header for it; "" for none */
	char			 proxy_addr[ADDR_TEXT_MAX];
	uint16_t		 proxy_port;
};

/*
 * A connection on the accepted socket fd (which it owns from now on, and
 * closes even on failure), already admitted. Logs it, watches it, sends
 * the greeting. NULL when it could not be set up (logged).
 */
struct conn	*conn_new(struct serve_ctx *, struct listener *, int fd,
		    const union addr_any *client, struct tally *,
		    uint64_t serial);
/* Once the server has counted it: the greeting. CONN_GONE if it closed. */
int		conn_start(struct conn *);
static inline struct conn *
conn_of_idle(struct idle_entry *e)
{
	return (struct conn *)(void *)e;
}
/* Handles what epoll reported for it. CONN_GONE when it closed. */
int		conn_event(struct conn *, uint32_t revents, char *rbuf);
/*
 * Shutdown: answers what is already buffered in the socket, then closes.
 * CONN_GONE when it closed.
 */
int		conn_drain(struct conn *, char *rbuf);
/* Whether it waits on a timer of its own (a delay, a lingering close). */
bool		conn_waiting(const struct conn *);
/* Quiet a while (server.c's REST_USEC): gives back what only traffic needs. */
void		conn_rest(struct conn *);
/* Bytes of replies queued and not yet sent. */
size_t		conn_queued(const struct conn *);
/* Those, and the bytes of a reply still held back by a delay. */
size_t		conn_unsent(const struct conn *);
/* Logs the end, tells the server, and frees it. */
void		conn_close(struct conn *, const char *reason);
/* Queues the listener's refuse_reply; the connection closes once sent. */
void		conn_refuse(struct conn *, const char *reason);
/* What it is doing, in a word, for the control socket. */
const char	*conn_state(const struct conn *);
/*
 * Sends bytes that answer no message, framed as its listener frames
 * replies, after what is queued. -EPIPE when it is not written any more
 * (or not yet), -ENOMEM, -EMSGSIZE, CONN_GONE; else 0.
 */
int		conn_push(struct conn *, const void *, size_t);
/* Closes it once what is queued is sent. CONN_GONE if it closed at once. */
int		conn_kick(struct conn *);
/*
 * The operator's answer to ask id: data instead of the rule's reply
 * (framed as a reply); NULL: the rule's reply now. -ENOENT when the
 * connection does not wait for that answer; else 0, or CONN_GONE.
 */
int		conn_answer(struct conn *, uint64_t id, const void *, size_t);

#endif

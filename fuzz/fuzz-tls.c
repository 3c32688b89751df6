/* SPDX-License-Identifier: ISC */
/* fuzz-needs: src/daemon/transport-tls.c src/daemon/log.c */
/* fuzz-needs: libssl libcrypto libsystemd */
/*
 * libFuzzer target for the TLS transport, on a listener with a self-signed
 * certificate and ALPN, over a socket pair. The first byte's low bit picks
 * the mode.
 * Raw: the rest is what a client sent, written between handshake steps in
 * pieces of the size the first byte says, then the client shuts its end,
 * closes it or leaves it open. Checks that the handshake ends or waits
 * for the socket within its steps, that a failure says why (plaintext
 * when the first five bytes cannot start a TLS record) and stays failed,
 * that nothing is written before it is done, and that info() is there
 * only once it is.
 * Client: an OpenSSL client (TLS 1.2 or 1.3, SNI, ALPN, a key update, as
 * the first byte says) shakes hands; one that offers no protocol of ours
 * must fail, any other must succeed, with info() saying what it agreed.
 * Then, in writes and reads of 1 byte to 64 KiB and over socket buffers
 * drawn from the next four bytes, the client sends the rest (or, now and
 * then, the rest over and over, up to 64 KiB) and the server sends some of
 * it back, and the client ends with close_notify, a shutdown(2) or a
 * close(2). The server reads only when the socket has something or
 * pending() says so, as the connection code does. It must read exactly
 * the bytes sent and then 0 (or, after a close, an error), never wait
 * while all of it and the end are there, and the client must read exactly
 * the server's bytes and then its close_notify. A client that writes bytes
 * of its own into the stream (first byte) must get only what it sent
 * before them, then an error or the end.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "config.h"
#include "transport-tls.h"

#define INPUT_MAX	65536	/* bytes of an input used, and a stream */
#define BUF_MAX		65536	/* a read, at most: the server's buffer */
#define RAW_STEPS	256	/* handshake steps on raw bytes */
#define HS_STEPS	64	/* of a real handshake, each side */
#define DATA_STEPS	256	/* reads and writes in any order */
#define DRAIN_STEPS	256	/* then everything left, then the ends */
#define SNI		"localhost"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* The client's choices, in the first byte. */
#define C_TLS13		0x02
#define C_SNI		0x04
#define C_ALPN		0x08	/* offers one of ours */
#define C_ALPN_OTHER	0x10	/* offers one that is not */
#define C_KEY_UPDATE	0x20	/* TLS 1.3: asks the server for one too */
#define C_EARLY		0x40	/* writes right after its handshake */
#define C_CORRUPT	0x80	/* writes bytes past TLS, then ends */

/* How the client ends, drawn. */
enum end {
	END_NOTIFY,		/* close_notify */
	END_SHUT,		/* shutdown(SHUT_WR), no close_notify */
	END_CLOSE,		/* close(2), a reset if input waits */
};

struct run {
	struct transport	*t;
	SSL			*cl;
	int			 fd[2];		/* the server's, the client's */
	const uint8_t		*d;
	size_t			 n;		/* bytes the client sends */
	size_t			 m;		/* the first m, sent back */
	size_t			 csent, srecv, ssent, crecv;
	size_t			 cretry, sretry; /* a write to repeat */
	size_t			 limit;		/* what the server may read */
	uint32_t		 seed;
	unsigned int		 how;
	enum end		 end;
	bool			 corrupt;	/* bytes past TLS written */
	bool			 small;		/* socket buffers made small */
	bool			 sready;	/* the server reads again */
	bool			 cending;	/* it is under way */
	bool			 cended;	/* the client's end is sent */
	bool			 seof;		/* the server is done reading */
	bool			 sdead;		/* a write failed, as it may */
	bool			 sended;	/* its shutdown, done */
	bool			 cdone;		/* the client read its end */
};

static struct tls_ctx	*server;
static SSL_CTX		*client12, *client13;

static void __attribute__((format(printf, 1, 2), noreturn))
fail(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	fputs("fuzz-tls: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	ERR_print_errors_fp(stderr);
	abort();
}

static void
report(const char *line, void *arg)
{
	(void)arg;
	fprintf(stderr, "fuzz-tls: %s\n", line);
}

static SSL_CTX *
client_ctx(int version)
{
	SSL_CTX	*ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(ctx, version) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, version) != 1)
		fail("cannot make a client context");
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	return ctx;
}

/* Once: the listener's context, as the daemon makes it, and clients. */
static void
init(void)
{
	static struct conf	*conf;
	static struct tls_set	*set;
	struct conf_tls		*tls;

	/* a client end closed under a write */
	signal(SIGPIPE, SIG_IGN);
	if ((conf = config_default()) == NULL)
		fail("no default configuration");
	tls = &conf->services[0].tls;
	tls->on = tls->self_signed = true;
	if ((tls->alpn = calloc(2, sizeof(*tls->alpn))) == NULL ||
	    (tls->alpn[0] = strdup("echo")) == NULL ||
	    (tls->alpn[1] = strdup("h2")) == NULL)
		fail("out of memory");
	tls->nalpn = 2;
	if (tls_set_load(conf, report, NULL, &set) != 0 ||
	    (server = tls_set_find(set, conf->listeners[0].service)) == NULL)
		fail("no TLS context");
	client12 = client_ctx(TLS1_2_VERSION);
	client13 = client_ctx(TLS1_3_VERSION);
}

static uint32_t
rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* 1 .. max, small as often as large: from a byte up to 64 KiB. */
static size_t
size_pick(uint32_t *s, size_t max)
{
	uint32_t	 r = rnd(s);
	size_t		 n;

	n = 1 + (r >> 8) % ((size_t)1 << (r & 31) % 17);
	return n < max ? n : max;
}

static bool
readable(int fd)
{
	struct pollfd	 p = { fd, POLLIN, 0 };

	return poll(&p, 1, 0) == 1;
}

static bool
ssl_wants(SSL *ssl, int r)
{
	int	 e = SSL_get_error(ssl, r);

	return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE;
}

static void
raw(const uint8_t *d, size_t n, unsigned int how)
{
	struct transport	*t;
	char			 why[192], buf[4096];
	size_t			 piece, off = 0, len;
	ssize_t			 w;
	int			 fd[2], i, r = 0, end = how >> 1 & 3;
	bool			 ended = false;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fd) == -1)
		fail("socketpair: %s", strerror(errno));
	if ((t = transport_tls_new(server, fd[0])) == NULL)
		fail("transport_tls_new");
	piece = (size_t)1 << (how >> 3) % 17;
	for (i = 0; i < RAW_STEPS; i++) {
		if (off < n) {
			len = i == RAW_STEPS - 1 || piece > n - off ?
			    n - off : piece;
			if ((w = write(fd[1], d + off, len)) > 0)
				off += (size_t)w;
		}
		if (off == n && !ended) {
			ended = true;
			if (end == 0)
				shutdown(fd[1], SHUT_WR);
			else if (end == 1) {
				close(fd[1]);
				fd[1] = -1;
			}
		}
		if (t->ops->info(t) != NULL ||
		    t->ops->write(t, "x", 1) != -EPIPE)
			fail("raw: usable before its handshake");
		why[0] = '\0';
		if ((r = t->ops->handshake(t, why, sizeof(why))) != 0)
			break;
		if (t->ops->wants(t) == 0)
			fail("raw: waits for nothing");
	}
	if (r < 0) {
		if (why[0] == '\0' || memchr(why, '\0', sizeof(why)) == NULL)
			fail("raw: a failure without a reason");
		/* no SSLv2 hello, and not major version 3 */
		if (n >= 5 && !(d[0] & 0x80) && d[1] != 3 &&
		    strstr(why, "plaintext") == NULL)
			fail("raw: not called plaintext: %s", why);
		if (t->ops->handshake(t, why, sizeof(why)) >= 0 ||
		    t->ops->info(t) != NULL)
			fail("raw: a failed handshake came back");
	} else if (r > 0 && t->ops->info(t) == NULL)
		fail("raw: no info after the handshake");
	/* what the connection reads until the end: discarded, or data */
	for (i = 0; i < RAW_STEPS && t->ops->read(t, buf, sizeof(buf)) > 0;
	    i++)
		continue;
	(void)t->ops->shutdown(t);
	t->ops->free(t, false);
	close(fd[0]);
	if (fd[1] != -1)
		close(fd[1]);
}

static void
client_write(struct run *x, size_t len)
{
	size_t	 w;

	if (x->csent == x->n)
		return;
	/* a write repeated is at least as long (SSL_write(3)) */
	if (len < x->cretry)
		len = x->cretry;
	if (len > x->n - x->csent)
		len = x->n - x->csent;
	ERR_clear_error();
	if (SSL_write_ex(x->cl, x->d + x->csent, len, &w) == 1) {
		x->csent += w;
		x->cretry = 0;
	} else if (ssl_wants(x->cl, 0))
		x->cretry = len;
	else if (x->corrupt)
		x->n = x->csent;	/* the server's alert came back */
	else
		fail("client write failed");
	/* the queue is the thread's: the server's must not see ours */
	ERR_clear_error();
}

static void
client_end(struct run *x)
{
	int	 r;

	if (x->cended || x->csent < x->n)
		return;
	if (!x->cending) {
		/* a key update still to go out goes first */
		ERR_clear_error();
		r = SSL_do_handshake(x->cl);
		ERR_clear_error();
		if (r != 1 && !x->corrupt)
			return;
		x->cending = true;
	}
	switch (x->end) {
	case END_NOTIFY:
		ERR_clear_error();
		if ((r = SSL_shutdown(x->cl)) >= 0)
			x->cended = true;
		else if (!ssl_wants(x->cl, r))
			fail("client close_notify failed");
		ERR_clear_error();
		break;
	case END_SHUT:
		if (shutdown(x->fd[1], SHUT_WR) == -1)
			fail("shutdown: %s", strerror(errno));
		x->cended = true;
		break;
	case END_CLOSE:
		close(x->fd[1]);
		x->fd[1] = -1;
		x->cended = x->cdone = true;
		break;
	}
}

/* Bytes of the input straight into the stream: a broken record. */
static void
client_corrupt(struct run *x)
{
	size_t	 len = 1 + rnd(&x->seed) % 16;

	if (x->corrupt || x->cending || x->cretry != 0 ||
	    len > x->n - x->csent)
		return;
	/* a part of them does it too; none when the socket is full */
	if (write(x->fd[1], x->d + x->csent, len) <= 0)
		return;
	x->corrupt = true;
	/* what the client sends after them is lost */
	x->limit = x->csent;
}

static void
client_read(struct run *x, size_t len)
{
	char	*buf;
	size_t	 got;

	if (x->cdone)
		return;
	if ((buf = malloc(len)) == NULL)
		fail("out of memory");
	ERR_clear_error();
	if (SSL_read_ex(x->cl, buf, len, &got) == 1) {
		if (got > len || got > x->m - x->crecv ||
		    memcmp(buf, x->d + x->crecv, got) != 0)
			fail("the client read %zu bytes the server did not "
			    "write, at %zu", got, x->crecv);
		x->crecv += got;
	} else if (SSL_get_error(x->cl, 0) == SSL_ERROR_ZERO_RETURN) {
		if (!x->sended || (x->crecv != x->m && !x->sdead))
			fail("the client read an end at %zu of %zu bytes",
			    x->crecv, x->m);
		x->cdone = true;
	} else if (ssl_wants(x->cl, 0))
		;
	else if (x->corrupt)
		x->cdone = true;	/* an alert, or no close_notify */
	else
		fail("client read failed (%d) at %zu of %zu bytes",
		    SSL_get_error(x->cl, 0), x->crecv, x->m);
	ERR_clear_error();
	free(buf);
}

/* Reads as the connection would; false when it would not have read. */
static bool
server_read(struct run *x, size_t len)
{
	char	*buf;
	ssize_t	 r;

	if (x->seof || !(x->sready || readable(x->fd[0]) ||
	    x->t->ops->wants(x->t) != 0))
		return false;
	/* the exact size: a byte past it is the sanitizer's */
	if ((buf = malloc(len)) == NULL)
		fail("out of memory");
	r = x->t->ops->read(x->t, buf, len);
	if (r > 0) {
		if ((size_t)r > len || (size_t)r > x->limit - x->srecv ||
		    memcmp(buf, x->d + x->srecv, (size_t)r) != 0)
			fail("the server read %zd bytes the client did not "
			    "send, at %zu of %zu", r, x->srecv, x->limit);
		x->srecv += (size_t)r;
		/* conn_update() asks after every read */
		x->sready = x->t->ops->pending(x->t);
	} else if (r == -EAGAIN)
		x->sready = false;
	else if (x->corrupt || (x->cended && ((r == 0 && x->srecv == x->n) ||
	    /* a read that must write (a key update) fails once closed */
	    (r < 0 && x->end == END_CLOSE)))) {
		x->seof = true;
		x->sready = false;
		if (x->t->ops->pending(x->t))
			fail("pending() after the end");
	} else
		fail("server read: %s, at %zu of %zu bytes", r == 0 ?
		    "the end" : strerror((int)-r), x->srecv, x->n);
	free(buf);
	return true;
}

static void
server_write(struct run *x, size_t len)
{
	ssize_t	 r;

	if (x->ssent == x->m || x->sdead)
		return;
	/* as the connection's queue: what is retried only grows */
	if (len < x->sretry)
		len = x->sretry;
	if (len > x->m - x->ssent)
		len = x->m - x->ssent;
	r = x->t->ops->write(x->t, x->d + x->ssent, len);
	if (r > 0 && (size_t)r <= len) {
		x->ssent += (size_t)r;
		x->sretry = 0;
	} else if (r == -EAGAIN)
		x->sretry = len;
	else if (r < 0 && (x->corrupt || (x->end == END_CLOSE &&
	    x->cended)))
		x->sdead = x->seof = true;	/* conn_error(): closed */
	else
		fail("server write: %zd of %zu bytes", r, len);
}

/* The connection's end: its replies out, then close_notify. */
static void
server_end(struct run *x)
{
	int	 r;

	if (!x->seof || x->sended || (x->ssent < x->m && !x->sdead))
		return;
	r = x->t->ops->shutdown(x->t);
	if (r == -EAGAIN && (x->t->ops->wants(x->t) & EPOLLOUT))
		return;		/* close_notify waits for room: again later */
	if (r != 0 && !x->corrupt && x->end != END_CLOSE)
		fail("server shutdown: %s", strerror(-r));
	x->sended = true;
}

/* 1 when both are done, 0 when the server refused, as it should. */
static int
handshake(struct run *x)
{
	const struct template_tls *info;
	const unsigned char	*alpn;
	unsigned int		 alen;
	char			 why[192], want[8];
	bool			 cdone = false, sdone = false, refused;
	int			 i, r;

	refused = (x->how & (C_ALPN | C_ALPN_OTHER)) == C_ALPN_OTHER;
	for (i = 0; i < HS_STEPS && !(cdone && sdone); i++) {
		if (!cdone) {
			ERR_clear_error();
			if ((r = SSL_do_handshake(x->cl)) == 1) {
				cdone = true;
				if (x->how & C_EARLY)
					client_write(x, size_pick(&x->seed,
					    BUF_MAX));
			} else if (!ssl_wants(x->cl, r) && !refused)
				fail("client handshake failed");
			ERR_clear_error();
		}
		if (!sdone) {
			why[0] = '\0';
			r = x->t->ops->handshake(x->t, why, sizeof(why));
			if (r < 0 && refused && why[0] != '\0')
				return 0;
			if (r < 0)
				fail("server handshake failed: %s", why);
			sdone = r == 1;
		}
	}
	if (!cdone || !sdone)
		fail("no handshake in %d steps", HS_STEPS);
	if (refused)
		fail("a handshake without a protocol in common");
	/* the connection reads right after it */
	x->sready = true;
	SSL_get0_alpn_selected(x->cl, &alpn, &alen);
	if (alen >= sizeof(want))
		fail("ALPN \"%.*s\"", (int)alen, alpn);
	if (alen > 0)
		memcpy(want, alpn, alen);
	want[alen] = '\0';
	if ((info = x->t->ops->info(x->t)) == NULL ||
	    strcmp(info->version, SSL_get_version(x->cl)) != 0 ||
	    strcmp(info->cipher, SSL_get_cipher_name(x->cl)) != 0 ||
	    strcmp(info->sni, x->how & C_SNI ? SNI : "") != 0 ||
	    strcmp(info->alpn, want) != 0 ||
	    strcmp(info->alpn, x->how & C_ALPN ? "echo" : "") != 0 ||
	    info->client_subject[0] != '\0' ||
	    info->client_fingerprint[0] != '\0')
		fail("info() is not what the client agreed");
	if (x->t->ops->wants(x->t) != 0)
		fail("waits after its handshake");
	return 1;
}

static void
key_update(struct run *x)
{
	if ((x->how & (C_TLS13 | C_KEY_UPDATE)) != (C_TLS13 | C_KEY_UPDATE) ||
	    x->cretry != 0 || x->cending || x->corrupt)
		return;
	x->how &= ~C_KEY_UPDATE;
	ERR_clear_error();
	if (SSL_key_update(x->cl, SSL_KEY_UPDATE_REQUESTED) != 1)
		fail("key update failed");
	/* sent now, or with the next write */
	(void)SSL_do_handshake(x->cl);
	ERR_clear_error();
}

static void
exchange(struct run *x)
{
	size_t	 len, steps = rnd(&x->seed) % DATA_STEPS, i;

	for (i = 0; i < steps; i++) {
		len = size_pick(&x->seed, BUF_MAX);
		switch (rnd(&x->seed) % 7) {
		case 0:
			client_write(x, len);
			break;
		case 1:
			(void)server_read(x, len);
			break;
		case 2:
			server_write(x, len);
			break;
		case 3:
			client_read(x, len);
			break;
		case 4:
			client_end(x);
			break;
		case 5:
			key_update(x);
			break;
		default:
			if (x->how & C_CORRUPT)
				client_corrupt(x);
			break;
		}
	}
	for (i = 0; i < DRAIN_STEPS && !(x->seof && x->cdone); i++) {
		client_write(x, x->n);
		client_end(x);
		server_write(x, x->m);
		server_end(x);
		client_read(x, BUF_MAX);
		/* buffers of any size, but few reads */
		len = size_pick(&x->seed, BUF_MAX) + (x->n - x->srecv) / 16;
		if (len > BUF_MAX)
			len = BUF_MAX;
		if (!x->seof && !server_read(x, len) && x->cended)
			fail("the server waits for nothing, having read %zu of "
			    "%zu bytes and not the end", x->srecv, x->n);
	}
	if (!x->seof || !x->cdone)
		fail("not done in %d steps: client sent %zu, server read %zu "
		    "of %zu; server sent %zu, client read %zu of %zu",
		    DRAIN_STEPS, x->csent, x->srecv, x->n, x->ssent, x->crecv,
		    x->m);
}

static void
client(const uint8_t *data, size_t size)
{
	static const unsigned char ours[] = "\x02h3\x04" "echo";
	static const unsigned char other[] = "\x02h3";
	struct run		 x;
	uint8_t			*stream;
	size_t			 n, copies;
	int			 i, sndbuf;

	memset(&x, 0, sizeof(x));
	if (size < 5)
		return;
	x.how = data[0];
	x.seed = (uint32_t)data[1] << 24 | (uint32_t)data[2] << 16 |
	    (uint32_t)data[3] << 8 | data[4];
	if (x.seed == 0)
		x.seed = 1;
	/* now and then the payload again and again: records of 16 KiB */
	n = size - 5;
	copies = rnd(&x.seed) % 4 == 0 ? 1 + rnd(&x.seed) % 256 : 1;
	if (n > 0 && copies > INPUT_MAX / n)
		copies = INPUT_MAX / n;
	if ((stream = malloc(n * copies + 1)) == NULL)
		fail("out of memory");
	for (x.n = 0; copies-- > 0; x.n += n)
		memcpy(stream + x.n, data + 5, n);
	x.d = stream;
	x.limit = x.n;
	x.m = rnd(&x.seed) % (x.n + 1);
	/* after bytes past TLS, only an end of the socket ends for sure */
	x.end = (enum end)(rnd(&x.seed) % 4 % 3);
	if ((x.how & C_CORRUPT) && x.end == END_NOTIFY)
		x.end = END_SHUT;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, x.fd) == -1)
		fail("socketpair: %s", strerror(errno));
	/* small ones fill: writes wait, and so do handshakes */
	if ((x.small = (sndbuf = (int)(rnd(&x.seed) % 8)) < 6))
		for (i = 0; i < 2; i++)
			if (setsockopt(x.fd[i], SOL_SOCKET, SO_SNDBUF,
			    &(int){ 2048 << sndbuf }, sizeof(int)) == -1)
				fail("SO_SNDBUF: %s", strerror(errno));
	if ((x.t = transport_tls_new(server, x.fd[0])) == NULL ||
	    (x.cl = SSL_new(x.how & C_TLS13 ? client13 : client12)) == NULL ||
	    SSL_set_fd(x.cl, x.fd[1]) != 1)
		fail("cannot make the ends");
	SSL_set_connect_state(x.cl);
	if ((x.how & C_SNI) && SSL_set_tlsext_host_name(x.cl, SNI) != 1)
		fail("SNI");
	/* alpn_select(): only the server's order decides */
	if ((x.how & C_ALPN) && SSL_set_alpn_protos(x.cl, ours,
	    sizeof(ours) - 1) != 0)
		fail("ALPN");
	else if ((x.how & (C_ALPN | C_ALPN_OTHER)) == C_ALPN_OTHER &&
	    SSL_set_alpn_protos(x.cl, other, sizeof(other) - 1) != 0)
		fail("ALPN");
	if (handshake(&x) == 1)
		exchange(&x);
	SSL_free(x.cl);
	x.t->ops->free(x.t, false);
	close(x.fd[0]);
	if (x.fd[1] != -1)
		close(x.fd[1]);
	free(stream);
	ERR_clear_error();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (server == NULL)
		init();
	if (size < 1)
		return 0;
	if (size > INPUT_MAX)
		size = INPUT_MAX;
	if (data[0] & 1)
		client(data, size);
	else
		raw(data + 1, size - 1, data[0]);
	return 0;
}

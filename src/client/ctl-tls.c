/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <arpa/inet.h>

#include "ctl-report.h"
#include "ctl-tls.h"
#include "monotonic.h"

#ifdef HAVE_TLS

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define SUBJECT_MAX	512	/* bytes of a subject shown */
#define WHY_MAX		256

struct tls_client {
	struct tls_config cfg;
	SSL_CTX		*ctx;
	SSL		*ssl;
	const char	*peer;		/* for messages */
	bool		 read_wants_write;
	bool		 full;		/* the last read filled its buffer */
	bool		 data;		/* application data has come */
	bool		 ended;		/* no more reads: end says why */
	bool		 end_owed;	/* ... not yet returned */
	ssize_t		 end;		/* 0, -errno, -EPROTO with why */
	char		 why[WHY_MAX];
};

/* The reason of the last OpenSSL error, for a sentence. */
static const char *
ssl_reason(void)
{
	unsigned long	 e = ERR_peek_last_error();
	const char	*r;

	if (e == 0)
		return "unknown error";
	if (ERR_GET_LIB(e) == ERR_LIB_SYS)
		return strerror(ERR_GET_REASON(e));
	r = ERR_reason_error_string(e);
	return r != NULL ? r : "unknown error";
}

/* Why a file could not be used: the first error says most. */
static const char *
file_reason(void)
{
	unsigned long	 e = ERR_peek_error();
	const char	*r;

	if (e == 0 || (r = ERR_reason_error_string(e)) == NULL)
		return "unknown error";
	return r;
}

/* A key with a passphrase is an error, not a prompt; *arg says it was. */
static int
no_passphrase(char *buf, int size, int rwflag, void *arg)
{
	bool	*asked = arg;

	(void)rwflag;
	if (asked != NULL)
		*asked = true;
	if (size > 0)
		buf[0] = '\0';
	return 0;
}

static void
check_readable(const char *option, const char *path)
{
	FILE	*fp;

	if ((fp = fopen(path, "r")) == NULL)
		report_die(EX_NOINPUT, "%s %s: %s", option, path,
		    strerror(errno));
	fclose(fp);
}

static void
use_ca(SSL_CTX *ctx, const struct tls_config *cfg)
{
	if (cfg->ca == NULL) {
		if (!cfg->insecure)
			(void)SSL_CTX_set_default_verify_paths(ctx);
		return;
	}
	check_readable("--ca", cfg->ca);
	if (SSL_CTX_load_verify_locations(ctx, cfg->ca, NULL) != 1)
		report_die(EX_NOINPUT, "--ca %s: no PEM certificates: %s",
		    cfg->ca, file_reason());
}

static void
use_cert(SSL_CTX *ctx, const struct tls_config *cfg)
{
	const char	*key = cfg->key != NULL ? cfg->key : cfg->cert;
	const char	*opt = cfg->key != NULL ? "--key" : "--cert";
	bool		 asked = false;

	if (cfg->cert == NULL)
		return;
	check_readable("--cert", cfg->cert);
	check_readable(opt, key);
	SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
	SSL_CTX_set_default_passwd_cb_userdata(ctx, &asked);
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->cert) != 1)
		report_die(EX_NOINPUT, "--cert %s: no PEM certificate: %s",
		    cfg->cert, file_reason());
	ERR_clear_error();
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		if (ERR_GET_REASON(ERR_peek_last_error()) ==
		    X509_R_KEY_VALUES_MISMATCH)
			report_die(EX_DATAERR, "the key in %s does not match "
			    "the certificate in %s", key, cfg->cert);
		if (asked)
			report_die(EX_NOINPUT, "%s %s: the key has a "
			    "passphrase; echoreplyctl takes keys without one",
			    opt, key);
		report_die(EX_NOINPUT, "%s %s: no PEM private key%s: %s", opt,
		    key, cfg->key == NULL ? " in it, and no --key" : "",
		    file_reason());
	}
	SSL_CTX_set_default_passwd_cb_userdata(ctx, NULL);
	if (SSL_CTX_check_private_key(ctx) != 1)
		report_die(EX_DATAERR, "the key in %s does not match the "
		    "certificate in %s", key, cfg->cert);
}

static void
use_alpn(SSL_CTX *ctx, const struct tls_config *cfg)
{
	unsigned char	*v;
	size_t		 i, n = 0, len;

	if (cfg->nalpn == 0)
		return;
	for (i = 0; i < cfg->nalpn; i++)
		n += 1 + strlen(cfg->alpn[i]);
	if ((v = malloc(n)) == NULL)
		report_die(EX_OSERR, "out of memory");
	for (i = 0, n = 0; i < cfg->nalpn; i++) {
		len = strlen(cfg->alpn[i]);	/* 1 to 255: the config says */
		v[n++] = (unsigned char)len;
		memcpy(v + n, cfg->alpn[i], len);
		n += len;
	}
	/* 0 is success here */
	if (SSL_CTX_set_alpn_protos(ctx, v, (unsigned int)n) != 0)
		report_die(EX_OSERR, "TLS: ALPN: %s", ssl_reason());
	free(v);
}

/*
 * The one client of the process, not allocated: an exit on an error
 * leaves nothing unreachable behind.
 */
static struct tls_client the_client;

struct tls_client *
tls_new(const struct tls_config *cfg)
{
	struct tls_client	*tc = &the_client;
	SSL_CTX			*ctx;

	memset(tc, 0, sizeof(*tc));
	tc->cfg = *cfg;
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		report_die(EX_OSERR, "TLS: %s", ssl_reason());
	tc->ctx = ctx;
	(void)SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* the daemon's close_notify is not waited for: replies are counted */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* the output buffer grows, moves and is written in parts */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_read_ahead(ctx, 1);
	SSL_CTX_set_verify(ctx, cfg->insecure ? SSL_VERIFY_NONE :
	    SSL_VERIFY_PEER, NULL);
	use_ca(ctx, cfg);
	use_cert(ctx, cfg);
	use_alpn(ctx, cfg);
	ERR_clear_error();
	return tc;
}

static void
subject(X509 *x, char *out, size_t len)
{
	BIO	*b;
	int	 n;

	out[0] = '\0';
	if (x == NULL || (b = BIO_new(BIO_s_mem())) == NULL)
		return;
	/* RFC 2253, control characters escaped */
	if (X509_NAME_print_ex(b, X509_get_subject_name(x), 0,
	    XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0 &&
	    (n = BIO_read(b, out, (int)len - 1)) > 0)
		out[n] = '\0';
	BIO_free(b);
}

/* An IP address in name, without an IPv6 zone, into ip; else false. */
static bool
ip_literal(const char *name, char *ip, size_t len)
{
	unsigned char	 a[sizeof(struct in6_addr)];

	if (strlcpy(ip, name, len) >= len)
		return false;
	ip[strcspn(ip, "%")] = '\0';
	return inet_pton(AF_INET, ip, a) == 1 ||
	    inet_pton(AF_INET6, ip, a) == 1;
}

/* SNI for a name; the certificate checked against the name or the IP. */
static void
expect_name(struct tls_client *tc)
{
	const char	*name = tc->cfg.name;
	char		 ip[INET6_ADDRSTRLEN + 1];

	if (ip_literal(name, ip, sizeof(ip))) {
		/* RFC 6066: no SNI with an address */
		if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(tc->ssl),
		    ip) != 1)
			report_die(EX_SOFTWARE, "TLS: cannot check %s: %s", ip,
			    ssl_reason());
		return;
	}
	SSL_set_hostflags(tc->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (SSL_set_tlsext_host_name(tc->ssl, name) != 1 ||
	    SSL_set1_host(tc->ssl, name) != 1)
		report_usage("%s is not a server name TLS can send", name);
}

static void __attribute__((noreturn))
verify_failed(struct tls_client *tc, long v)
{
	STACK_OF(X509)	*chain = SSL_get_peer_cert_chain(tc->ssl);
	char		 subj[SUBJECT_MAX];

	/* on failure the leaf is only in the chain, not the peer's */
	subject(chain != NULL && sk_X509_num(chain) > 0 ?
	    sk_X509_value(chain, 0) : NULL, subj, sizeof(subj));
	report_die(EX_NOPERM, "TLS: cannot verify the server's certificate: "
	    "%s%s%s%s%s%s", X509_verify_cert_error_string(v),
	    v == X509_V_ERR_HOSTNAME_MISMATCH ||
	    v == X509_V_ERR_IP_ADDRESS_MISMATCH ? " for " : "",
	    v == X509_V_ERR_HOSTNAME_MISMATCH ||
	    v == X509_V_ERR_IP_ADDRESS_MISMATCH ? tc->cfg.name : "",
	    subj[0] != '\0' ? " (subject " : "", subj,
	    subj[0] != '\0' ? ")" : "");
}

/* Why TLS stopped, in words; e from SSL_get_error(). */
static void
failure(int e, char *why, size_t len)
{
	unsigned long	 err = ERR_peek_last_error();
	int		 r = ERR_GET_REASON(err);

	if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL &&
	    errno == 0) || (ERR_GET_LIB(err) == ERR_LIB_SSL &&
	    r == SSL_R_UNEXPECTED_EOF_WHILE_READING))
		snprintf(why, len, "closed by the server");
	else if (e == SSL_ERROR_SYSCALL)
		snprintf(why, len, "%s", strerror(errno));
	else if (ERR_GET_LIB(err) == ERR_LIB_SSL &&
	    (r == SSL_R_WRONG_VERSION_NUMBER ||
	    r == SSL_R_UNKNOWN_PROTOCOL || r == SSL_R_PACKET_LENGTH_TOO_LONG ||
	    r == SSL_R_RECORD_LENGTH_MISMATCH))
		snprintf(why, len, "the server does not speak TLS (%s)",
		    ssl_reason());
	else
		snprintf(why, len, "%s", ssl_reason());
}

static void __attribute__((noreturn))
handshake_failed(struct tls_client *tc, int e)
{
	char	 why[WHY_MAX];
	long	 v;

	if (!tc->cfg.insecure &&
	    (v = SSL_get_verify_result(tc->ssl)) != X509_V_OK)
		verify_failed(tc, v);
	failure(e, why, sizeof(why));
	report_die(EX_PROTOCOL, "TLS handshake with %s failed: %s", tc->peer,
	    why);
}

static void
say_agreed(const struct tls_client *tc)
{
	const unsigned char	*alpn = NULL;
	unsigned int		 alpn_len = 0;
	char			 subj[SUBJECT_MAX];

	subject(SSL_get0_peer_certificate(tc->ssl), subj, sizeof(subj));
	SSL_get0_alpn_selected(tc->ssl, &alpn, &alpn_len);
	report_verbose("%s %s%s%.*s, server %s (%s)",
	    SSL_get_version(tc->ssl), SSL_get_cipher_name(tc->ssl),
	    alpn_len > 0 ? ", ALPN " : "", (int)alpn_len,
	    alpn != NULL ? (const char *)alpn : "",
	    subj[0] != '\0' ? subj : "without a subject",
	    tc->cfg.insecure ? "not verified: --insecure" : "verified");
}

void
tls_handshake(struct tls_client *tc, int fd, const char *peer,
    int timeout_ms)
{
	struct pollfd	 pfd = { fd, 0, 0 };
	uint64_t	 deadline = mono_ns() / 1000000 + (uint64_t)timeout_ms, now;
	int		 r, e;

	/* OpenSSL writes with write(), not send(MSG_NOSIGNAL) */
	signal(SIGPIPE, SIG_IGN);
	tc->peer = peer;
	if ((tc->ssl = SSL_new(tc->ctx)) == NULL ||
	    SSL_set_fd(tc->ssl, fd) != 1)
		report_die(EX_OSERR, "TLS: %s", ssl_reason());
	SSL_set_connect_state(tc->ssl);
	expect_name(tc);
	for (;;) {
		ERR_clear_error();
		errno = 0;
		if ((r = SSL_connect(tc->ssl)) == 1)
			break;
		switch ((e = SSL_get_error(tc->ssl, r))) {
		case SSL_ERROR_WANT_READ:
			pfd.events = POLLIN;
			break;
		case SSL_ERROR_WANT_WRITE:
			pfd.events = POLLOUT;
			break;
		default:
			handshake_failed(tc, e);
		}
		do {
			if ((now = mono_ns() / 1000000) >= deadline)
				report_die(EX_TEMPFAIL, "TLS handshake with "
				    "%s: timed out", peer);
			r = poll(&pfd, 1, (int)(deadline - now));
		} while (r == 0 || (r == -1 && errno == EINTR));
		if (r == -1)
			report_die(EX_OSERR, "poll: %s", strerror(errno));
	}
	ERR_clear_error();
	say_agreed(tc);
}

/* What ended the reads, returned once they are over. */
static ssize_t
read_end(struct tls_client *tc)
{
	tc->end_owed = false;
	if (tc->end == -EPROTO)
		report_die(EX_PROTOCOL, "TLS %s %s failed: %s", tc->data ?
		    "connection with" : "handshake with", tc->peer, tc->why);
	return tc->end;
}

/*
 * Fills buf until it is full or TLS wants the socket again, so that
 * whatever OpenSSL could decrypt is taken; tls_pending() says whether it
 * holds more once buf is full.
 */
ssize_t
tls_read(struct tls_client *tc, void *buf, size_t len)
{
	size_t	 total = 0, n;
	int	 e;

	if (tc->ended)
		return read_end(tc);
	tc->full = false;
	tc->read_wants_write = false;
	while (total < len) {
		ERR_clear_error();
		errno = 0;
		if (SSL_read_ex(tc->ssl, (char *)buf + total, len - total,
		    &n) == 1) {
			total += n;
			tc->data = true;
			continue;
		}
		switch ((e = SSL_get_error(tc->ssl, 0))) {
		case SSL_ERROR_WANT_READ:
			return total > 0 ? (ssize_t)total : -EAGAIN;
		case SSL_ERROR_WANT_WRITE:
			tc->read_wants_write = true;
			return total > 0 ? (ssize_t)total : -EAGAIN;
		case SSL_ERROR_ZERO_RETURN:
			tc->end = 0;
			break;
		case SSL_ERROR_SYSCALL:
			tc->end = errno != 0 ? -errno : 0;
			break;
		default:
			failure(e, tc->why, sizeof(tc->why));
			tc->end = -EPROTO;
			break;
		}
		ERR_clear_error();
		tc->ended = true;
		if (total == 0)
			return read_end(tc);
		tc->end_owed = true;
		return (ssize_t)total;
	}
	tc->full = true;
	return (ssize_t)total;
}

ssize_t
tls_write(struct tls_client *tc, const void *buf, size_t len)
{
	char	 why[WHY_MAX];
	size_t	 n;
	int	 e;

	ERR_clear_error();
	errno = 0;
	if (SSL_write_ex(tc->ssl, buf, len, &n) == 1)
		return (ssize_t)n;
	switch ((e = SSL_get_error(tc->ssl, 0))) {
	case SSL_ERROR_WANT_READ:	/* POLLIN is always asked for */
	case SSL_ERROR_WANT_WRITE:
		return -EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return -EPIPE;
	case SSL_ERROR_SYSCALL:
		return errno != 0 ? -errno : -EPIPE;
	default:
		failure(e, why, sizeof(why));
		report_die(EX_PROTOCOL, "TLS connection with %s failed: %s",
		    tc->peer, why);
	}
}

bool
tls_wants_write(const struct tls_client *tc)
{
	return tc->read_wants_write;
}

bool
tls_pending(const struct tls_client *tc)
{
	/* after a read that stopped short, what is left is a partial record */
	return tc->end_owed || (tc->full && SSL_has_pending(tc->ssl) == 1);
}

void
tls_close(struct tls_client *tc)
{
	/* close_notify, if the socket takes it now; none after an error */
	if (tc->ssl != NULL && (!tc->ended || tc->end == 0))
		(void)SSL_shutdown(tc->ssl);
	ERR_clear_error();
	SSL_free(tc->ssl);
	SSL_CTX_free(tc->ctx);
	memset(tc, 0, sizeof(*tc));
}

#else	/* !HAVE_TLS */

struct tls_client *
tls_new(const struct tls_config *cfg)
{
	(void)cfg;
	report_die(EX_UNAVAILABLE, "built without TLS (./configure "
	    "--without-tls)");
}

void
tls_handshake(struct tls_client *tc, int fd, const char *peer,
    int timeout_ms)
{
	(void)tc;
	(void)fd;
	(void)peer;
	(void)timeout_ms;
}

ssize_t
tls_read(struct tls_client *tc, void *buf, size_t len)
{
	(void)tc;
	(void)buf;
	(void)len;
	return -ENOTSUP;
}

ssize_t
tls_write(struct tls_client *tc, const void *buf, size_t len)
{
	(void)tc;
	(void)buf;
	(void)len;
	return -ENOTSUP;
}

bool
tls_wants_write(const struct tls_client *tc)
{
	(void)tc;
	return false;
}

bool
tls_pending(const struct tls_client *tc)
{
	(void)tc;
	return false;
}

void
tls_close(struct tls_client *tc)
{
	(void)tc;
}

#endif	/* HAVE_TLS */

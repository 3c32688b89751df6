/* SPDX-License-Identifier: ISC */
/*
 * The TLS transport (OpenSSL 3): contexts from the configuration, and
 * connections that never block the loop. Reads and writes go through the
 * socket's own BIO; the connection code sees only struct transport.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "transport-tls.h"

#ifdef HAVE_TLS

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define FINGERPRINT_MAX		(EVP_MAX_MD_SIZE * 3)
#define SUBJECT_MAX		512	/* bytes of a client's subject kept */
#define SELF_SIGNED_DAYS	365

struct tls_ctx {
	SSL_CTX			*ctx;
	const struct conf_service *svc;
};

/* tls_alpn in wire format, owned by its SSL_CTX (ex data). */
struct alpn {
	size_t			 len;
	unsigned char		 v[];
};

struct tls_set {
	struct tls_ctx		*v;
	size_t			 n;
};

struct tls_conn {
	struct transport	 t;		/* first: the connection's view */
	SSL			*ssl;
	uint32_t		 want;		/* EPOLLIN/EPOLLOUT for itself */
	bool			 done;		/* the handshake */
	bool			 failed;	/* no more TLS: the socket as is */
	bool			 notified;	/* close_notify sent */
	bool			 more;		/* a read stopped with room full */
	bool			 held;		/* an end read with data, unsaid */
	bool			 drained;	/* a recv() came back short */
	bool			 fin;		/* a recv() came back with 0 */
	bool			 holding;	/* record buffers, maybe */
	bool			 rested;	/* by tls_rest(), not busy since */
	ssize_t			 end;		/* once failed: what reads say */
	struct template_tls	 info;
	char			*facts;		/* what info points into */
};

/* The self-signed certificate, made once and kept for reloads. */
static EVP_PKEY	*self_key;
static X509	*self_cert;
static int	 alpn_index = -1;
static BIO_METHOD *sock_method;

/*
 * Whether SSL_free_buffers() leaves a record it has begun to read alone.
 * With only its header read, OpenSSL before 3.0.14, 3.1.6, 3.2.2 and
 * 3.3.1 freed it under the reader (CVE-2024-4741); SSL_has_pending()
 * does not see that state. The library run with, not the one built
 * with: a distribution's patched older version counts as unsafe.
 */
static bool
free_buffers_safe(void)
{
	static int	 safe = -1;
	unsigned long	 v;

	if (safe == -1) {
		v = OpenSSL_version_num() >> 4;	/* 0xMNN00PP */
		safe = v >= 0x3030001UL ||
		    (v >= 0x3020002UL && v < 0x3030000UL) ||
		    (v >= 0x3010006UL && v < 0x3020000UL) ||
		    (v >= 0x300000eUL && v < 0x3010000UL);
		if (!safe)
			log_debug("TLS: %s may free a record being read "
			    "(CVE-2024-4741): record buffers are freed after "
			    "every record, not once a connection is quiet",
			    OpenSSL_version(OPENSSL_VERSION));
	}
	return safe == 1;
}

static void
alpn_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
    void *argp)
{
	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	free(ptr);
}

/* Where the errors of one load go. */
struct report {
	const struct conf	*conf;
	config_report_fn	 fn;
	void			*arg;
	int			 errors;
	char			 last[1024];	/* listeners share a file */
};

static void __attribute__((format(printf, 4, 5)))
say(struct report *rep, const struct conf_at *at, bool warning,
    const char *fmt, ...)
{
	char		 msg[768], text[sizeof(rep->last)];
	va_list		 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(text, sizeof(text), "%s:%u: %s%s", at->file != NULL ?
	    at->file : rep->conf->path, at->line, warning ? "warning: " : "",
	    msg);
	if (!warning)
		rep->errors++;
	if (strcmp(text, rep->last) == 0)
		return;		/* the same file, inherited by another */
	strlcpy(rep->last, text, sizeof(rep->last));
	rep->fn(text, rep->arg);
}

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

static void
fingerprint(X509 *x, char *out, size_t len)
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 n = 0, i;
	size_t		 off = 0;

	out[0] = '\0';
	if (X509_digest(x, EVP_sha256(), md, &n) != 1)
		return;
	for (i = 0; i < n && off + 4 <= len; i++)
		off += (size_t)snprintf(out + off, len - off, "%s%02X",
		    i ? ":" : "", md[i]);
}

/* "Jan  1 00:00:00 2027 GMT" */
static void
asn1_time(const ASN1_TIME *t, char *out, size_t len)
{
	BIO	*b = BIO_new(BIO_s_mem());
	int	 n = 0;

	out[0] = '\0';
	if (b == NULL)
		return;
	if (ASN1_TIME_print(b, t) == 1 && (n = BIO_read(b, out,
	    (int)len - 1)) > 0)
		out[n] = '\0';
	BIO_free(b);
}

/* A key and a certificate for this host, in memory, for test setups. */
static int
self_signed_make(void)
{
	X509_EXTENSION	*ext = NULL;
	X509V3_CTX	 v3;
	X509_NAME	*name;
	BIGNUM		*serial = NULL;
	char		 host[256], san[600], fp[FINGERPRINT_MAX];
	int		 ok = 0;

	if (self_cert != NULL)
		return 0;
	if (gethostname(host, sizeof(host)) == -1)
		strlcpy(host, "localhost", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	if ((self_key = EVP_EC_gen("P-256")) == NULL ||
	    (self_cert = X509_new()) == NULL ||
	    (serial = BN_new()) == NULL)
		goto done;
	snprintf(san, sizeof(san), "DNS:localhost,IP:127.0.0.1,IP:::1%s%s",
	    strcmp(host, "localhost") != 0 ? ",DNS:" : "",
	    strcmp(host, "localhost") != 0 ? host : "");
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, self_cert, self_cert, NULL, NULL, 0);
	name = X509_get_subject_name(self_cert);
	if (X509_set_version(self_cert, 2) != 1 ||
	    BN_rand(serial, 63, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
	    BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(self_cert)) ==
	    NULL ||
	    X509_gmtime_adj(X509_getm_notBefore(self_cert), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(self_cert),
	    SELF_SIGNED_DAYS * 86400L) == NULL ||
	    X509_set_pubkey(self_cert, self_key) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)host, -1, -1, 0) != 1 ||
	    X509_set_issuer_name(self_cert, name) != 1 ||
	    (ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name,
	    san)) == NULL ||
	    X509_add_ext(self_cert, ext, -1) != 1 ||
	    X509_sign(self_cert, self_key, EVP_sha256()) == 0)
		goto done;
	fingerprint(self_cert, fp, sizeof(fp));
	log_info("made a self-signed certificate for CN=%s (%s), valid for "
	    "%d days: SHA-256 fingerprint %s", host, san, SELF_SIGNED_DAYS,
	    fp);
	ok = 1;
done:
	X509_EXTENSION_free(ext);
	BN_free(serial);
	if (!ok) {
		tls_cleanup();
		return -ENOMEM;
	}
	return 0;
}

static int
alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	const struct alpn	*a = arg;
	unsigned char		*sel;

	(void)ssl;
	/* ours first: the server's order decides */
	if (SSL_select_next_proto(&sel, outlen, a->v, (unsigned int)a->len,
	    in, inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL;	/* RFC 7301 */
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

/* Whether the file can be opened for reading; says why not. */
static bool
readable(struct report *rep, const struct conf_at *at, const char *who,
    const char *key, const char *path)
{
	FILE	*fp;

	if ((fp = fopen(path, "r")) == NULL) {
		say(rep, at, false, "%s: %s \"%s\": %s", who, key, path,
		    strerror(errno));
		return false;
	}
	fclose(fp);
	return true;
}

/* Expired, or not yet valid: the handshakes would fail; a warning. */
static void
check_dates(struct report *rep, const struct conf_at *at, const char *who,
    const char *path, X509 *x)
{
	char	 when[64];

	if (X509_cmp_current_time(X509_get0_notAfter(x)) < 0) {
		asn1_time(X509_get0_notAfter(x), when, sizeof(when));
		say(rep, at, true, "%s: tls_certificate \"%s\" expired on %s",
		    who, path, when);
	} else if (X509_cmp_current_time(X509_get0_notBefore(x)) > 0) {
		asn1_time(X509_get0_notBefore(x), when, sizeof(when));
		say(rep, at, true, "%s: tls_certificate \"%s\" is not valid "
		    "before %s", who, path, when);
	}
}

static bool
use_files(struct report *rep, SSL_CTX *ctx, const struct conf_tls *t,
    const char *who)
{
	const char	*key = t->key != NULL ? t->key : t->certificate;
	const struct conf_at *kat = t->key != NULL ? &t->key_at :
			    &t->certificate_at;

	if (!readable(rep, &t->certificate_at, who, "tls_certificate",
	    t->certificate) || !readable(rep, kat, who, t->key != NULL ?
	    "tls_key" : "tls_certificate (for its key)", key))
		return false;
	ERR_clear_error();
	if (SSL_CTX_use_certificate_chain_file(ctx, t->certificate) != 1) {
		say(rep, &t->certificate_at, false, "%s: tls_certificate "
		    "\"%s\": not a PEM certificate chain: %s", who,
		    t->certificate, ssl_reason());
		return false;
	}
	ERR_clear_error();
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		/* the key does not match: OpenSSL says so on this call */
		if (ERR_GET_REASON(ERR_peek_last_error()) ==
		    X509_R_KEY_VALUES_MISMATCH)
			say(rep, kat, false, "%s: the key in \"%s\" does not "
			    "match tls_certificate \"%s\"", who, key,
			    t->certificate);
		else
			say(rep, kat, false, "%s: %s \"%s\": no PEM private "
			    "key: %s", who, t->key != NULL ? "tls_key" :
			    "tls_certificate", key, ssl_reason());
		return false;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		say(rep, kat, false, "%s: the key in \"%s\" does not match "
		    "tls_certificate \"%s\"", who, key, t->certificate);
		return false;
	}
	check_dates(rep, &t->certificate_at, who, t->certificate,
	    SSL_CTX_get0_certificate(ctx));
	return true;
}

static bool
use_client_ca(struct report *rep, SSL_CTX *ctx, const struct conf_tls *t,
    const char *who)
{
	STACK_OF(X509_NAME)	*names;
	int			 mode = SSL_VERIFY_PEER;

	if (t->client_ca == NULL)
		return true;
	if (!readable(rep, &t->client_ca_at, who, "tls_client_ca",
	    t->client_ca))
		return false;
	ERR_clear_error();
	if (SSL_CTX_load_verify_locations(ctx, t->client_ca, NULL) != 1 ||
	    (names = SSL_load_client_CA_file(t->client_ca)) == NULL) {
		say(rep, &t->client_ca_at, false, "%s: tls_client_ca \"%s\": "
		    "no PEM certificate: %s", who, t->client_ca, ssl_reason());
		return false;
	}
	SSL_CTX_set_client_CA_list(ctx, names);
	if (t->verify_client == CONF_TLS_VERIFY_REQUIRE)
		mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
	if (t->verify_client != CONF_TLS_VERIFY_NONE)
		SSL_CTX_set_verify(ctx, mode, NULL);
	return true;
}

static bool
use_alpn(struct report *rep, SSL_CTX *ctx, const struct conf_tls *t,
    const char *who)
{
	struct alpn	*a;
	size_t		 i, n = 0;

	if (t->nalpn == 0)
		return true;
	for (i = 0; i < t->nalpn; i++)
		n += 1 + strlen(t->alpn[i]);
	if (alpn_index < 0)
		alpn_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL,
		    alpn_free);
	if (alpn_index < 0 || (a = malloc(sizeof(*a) + n)) == NULL) {
		say(rep, &t->at, false, "%s: tls_alpn: out of memory", who);
		return false;
	}
	for (i = 0, a->len = 0; i < t->nalpn; i++) {
		n = strlen(t->alpn[i]);
		a->v[a->len++] = (unsigned char)n;
		memcpy(a->v + a->len, t->alpn[i], n);
		a->len += n;
	}
	/* freed with the context, which a connection may outlive a reload */
	if (SSL_CTX_set_ex_data(ctx, alpn_index, a) != 1) {
		free(a);
		say(rep, &t->at, false, "%s: tls_alpn: out of memory", who);
		return false;
	}
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select, a);
	return true;
}

/* The context of one service; false after saying what is wrong. */
static bool
ctx_make(struct report *rep, struct tls_ctx *tc,
    const struct conf_service *svc, const char *name)
{
	const struct conf_tls	*t = &svc->tls;
	SSL_CTX			*ctx;
	char			 who[CONF_NAME_MAX + 16];

	if (name != NULL)
		snprintf(who, sizeof(who), "listener '%s'", name);
	else
		strlcpy(who, "the top level", sizeof(who));
	tc->svc = svc;
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		say(rep, &t->at, false, "%s: cannot make a TLS context: %s",
		    who, ssl_reason());
		return false;
	}
	tc->ctx = ctx;
	SSL_CTX_set_min_proto_version(ctx, t->min_version == 13 ?
	    TLS1_3_VERSION : TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION |
	    SSL_OP_IGNORE_UNEXPECTED_EOF);
	/*
	 * The output buffer moves and is written in parts. No
	 * SSL_MODE_RELEASE_BUFFERS where SSL_free_buffers() is safe:
	 * freeing the record buffers after each record and allocating them
	 * for the next cost a busy connection ~70 instructions a message
	 * (4% of its user time). A quiet one frees them (tls_rest()), as
	 * one does after its handshake.
	 */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
	    (free_buffers_safe() ? 0 : SSL_MODE_RELEASE_BUFFERS));
	SSL_CTX_set_read_ahead(ctx, 1);
	/* resumption must know which listener a session was made for */
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)who,
	    (unsigned int)strlen(who));
	if (!t->session_tickets) {
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
		SSL_CTX_set_num_tickets(ctx, 0);
	}
	if (t->self_signed) {
		if (self_signed_make() < 0 ||
		    SSL_CTX_use_certificate(ctx, self_cert) != 1 ||
		    SSL_CTX_use_PrivateKey(ctx, self_key) != 1) {
			say(rep, &t->at, false, "%s: cannot make a "
			    "self-signed certificate: %s", who, ssl_reason());
			return false;
		}
	} else if (!use_files(rep, ctx, t, who))
		return false;
	if (!use_client_ca(rep, ctx, t, who))
		return false;
	ERR_clear_error();
	if (t->ciphers != NULL && SSL_CTX_set_cipher_list(ctx,
	    t->ciphers) != 1) {
		say(rep, &t->at, false, "%s: tls_ciphers \"%s\": %s", who,
		    t->ciphers, ssl_reason());
		return false;
	}
	if (t->ciphersuites != NULL && SSL_CTX_set_ciphersuites(ctx,
	    t->ciphersuites) != 1) {
		say(rep, &t->at, false, "%s: tls_ciphersuites \"%s\": %s", who,
		    t->ciphersuites, ssl_reason());
		return false;
	}
	return use_alpn(rep, ctx, t, who);
}

const char *
tls_library(void)
{
	return OpenSSL_version(OPENSSL_VERSION);
}

int
tls_set_load(const struct conf *conf, config_report_fn fn, void *arg,
    struct tls_set **out)
{
	struct report	 rep = { conf, fn, arg, 0, "" };
	struct tls_set	*set;
	size_t		 i;

	*out = NULL;
	if ((set = calloc(1, sizeof(*set))) == NULL ||
	    (set->v = calloc(conf->nlisteners + 1, sizeof(*set->v))) == NULL) {
		free(set);
		return -ENOMEM;
	}
	/* the top level's serves passed sockets that no listener names */
	if (conf->service.tls.on)
		(void)ctx_make(&rep, &set->v[set->n++], &conf->service, NULL);
	for (i = 0; i < conf->nlisteners; i++)
		if (conf->listeners[i].service->tls.on)
			(void)ctx_make(&rep, &set->v[set->n++],
			    conf->listeners[i].service,
			    conf->listeners[i].name);
	ERR_clear_error();
	if (rep.errors > 0) {
		tls_set_free(set);
		return -EINVAL;
	}
	*out = set;
	return 0;
}

struct tls_ctx *
tls_set_find(const struct tls_set *set, const struct conf_service *svc)
{
	size_t	 i;

	if (set == NULL || !svc->tls.on)
		return NULL;
	for (i = 0; i < set->n; i++)
		if (set->v[i].svc == svc)
			return &set->v[i];
	return NULL;
}

void
tls_set_free(struct tls_set *set)
{
	size_t	 i;

	if (set == NULL)
		return;
	/* connections hold a reference to the SSL_CTX they came from */
	for (i = 0; i < set->n; i++)
		SSL_CTX_free(set->v[i].ctx);
	free(set->v);
	free(set);
}

void
tls_cleanup(void)
{
	X509_free(self_cert);
	EVP_PKEY_free(self_key);
	BIO_meth_free(sock_method);
	self_cert = NULL;
	self_key = NULL;
	sock_method = NULL;
}

/* What was agreed, kept as text for templates and logs. */
static void
tls_facts(struct tls_conn *tc)
{
	const unsigned char	*alpn = NULL;
	unsigned int		 alpn_len = 0;
	const char		*sni;
	X509			*peer;
	BIO			*b;
	char			 subject[SUBJECT_MAX], fp[FINGERPRINT_MAX];
	int			 n = 0;
	size_t			 total;

	subject[0] = fp[0] = '\0';
	SSL_get0_alpn_selected(tc->ssl, &alpn, &alpn_len);
	if ((peer = SSL_get0_peer_certificate(tc->ssl)) != NULL) {
		if ((b = BIO_new(BIO_s_mem())) != NULL) {
			if (X509_NAME_print_ex(b, X509_get_subject_name(peer),
			    0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0 &&
			    (n = BIO_read(b, subject, sizeof(subject) - 1)) > 0)
				subject[n] = '\0';
			BIO_free(b);
		}
		fingerprint(peer, fp, sizeof(fp));
	}
	sni = SSL_get_servername(tc->ssl, TLSEXT_NAMETYPE_host_name);
	tc->info.version = SSL_get_version(tc->ssl);
	tc->info.cipher = SSL_get_cipher_name(tc->ssl);
	tc->info.sni = sni != NULL ? sni : "";
	tc->info.alpn = tc->info.client_subject = "";
	tc->info.client_fingerprint = "";
	total = alpn_len + strlen(subject) + strlen(fp) + 3;
	if ((tc->facts = malloc(total)) == NULL)
		return;		/* they say nothing, then */
	if (alpn_len > 0)
		memcpy(tc->facts, alpn, alpn_len);
	tc->facts[alpn_len] = '\0';
	tc->info.alpn = tc->facts;
	tc->info.client_subject = tc->facts + alpn_len + 1;
	memcpy(tc->facts + alpn_len + 1, subject, strlen(subject) + 1);
	tc->info.client_fingerprint = tc->info.client_subject +
	    strlen(subject) + 1;
	memcpy(tc->facts + alpn_len + 1 + strlen(subject) + 1, fp,
	    strlen(fp) + 1);
}

/* The errors of bytes that are no TLS record at all. */
static bool
not_tls(int reason)
{
	switch (reason) {
	case SSL_R_WRONG_VERSION_NUMBER:
	case SSL_R_HTTP_REQUEST:
	case SSL_R_HTTPS_PROXY_REQUEST:
	case SSL_R_UNKNOWN_PROTOCOL:
	case SSL_R_PACKET_LENGTH_TOO_LONG:
	case SSL_R_RECORD_LENGTH_MISMATCH:
		return true;
	default:
		return false;
	}
}

/* Why the handshake failed, in words for the log. */
static void
handshake_why(struct tls_conn *tc, int e, char *why, size_t len)
{
	unsigned long	 err = ERR_peek_last_error();
	long		 v;
	int		 r = ERR_GET_REASON(err);

	if (e == SSL_ERROR_SYSCALL || e == SSL_ERROR_ZERO_RETURN ||
	    (e == SSL_ERROR_SSL && r == SSL_R_UNEXPECTED_EOF_WHILE_READING)) {
		snprintf(why, len, "closed during the TLS handshake%s%s",
		    errno != 0 && e == SSL_ERROR_SYSCALL ? ": " : "",
		    errno != 0 && e == SSL_ERROR_SYSCALL ? strerror(errno) :
		    "");
		return;
	}
	if (ERR_GET_LIB(err) == ERR_LIB_SSL && not_tls(r)) {
		snprintf(why, len, "sent no TLS handshake (plaintext on a TLS "
		    "port?)");
		return;
	}
	if ((v = SSL_get_verify_result(tc->ssl)) != X509_V_OK) {
		snprintf(why, len, "TLS handshake failed: client certificate: "
		    "%s", X509_verify_cert_error_string(v));
		return;
	}
	snprintf(why, len, "TLS handshake failed: %s", ssl_reason());
}

/*
 * Frees the record buffers (about 35 KiB) when no byte waits in them,
 * read or not yet written: OpenSSL takes new ones when it needs them.
 * Not with a library that frees a record still being read: there,
 * SSL_MODE_RELEASE_BUFFERS frees them after each record instead.
 */
static bool
rest(struct tls_conn *tc)
{
	if (!tc->holding || !free_buffers_safe() ||
	    SSL_has_pending(tc->ssl) == 1 || SSL_free_buffers(tc->ssl) != 1)
		return false;
	tc->holding = false;
	return true;
}

static bool
tls_rest(struct transport *t)
{
	struct tls_conn	*tc = (struct tls_conn *)(void *)t;

	tc->t.stirred = false;
	if (!tc->done || tc->failed)
		return false;
	tc->rested = true;
	return rest(tc);
}

/*
 * After a read or a close_notify that gave the connection nothing: a
 * rested connection that holds buffers again (a KeyUpdate read and
 * answered, a write that was waiting finished) asks to rest again.
 */
static void
settle(struct tls_conn *tc)
{
	if (tc->rested && tc->holding)
		tc->t.stirred = true;
}

static int
tls_handshake(struct transport *t, char *why, size_t len)
{
	struct tls_conn	*tc = (struct tls_conn *)(void *)t;
	int		 r, e;

	if (tc->done)
		return 1;
	if (tc->failed) {
		snprintf(why, len, "TLS failed");
		return -EPROTO;
	}
	ERR_clear_error();
	errno = 0;
	tc->drained = false;
	tc->holding = true;
	if ((r = SSL_do_handshake(tc->ssl)) == 1) {
		tc->done = true;
		tc->want = 0;
		tls_facts(tc);
		/* an idle connection's memory is what is left now */
		(void)rest(tc);
		/* reads and writes keep it empty from now on */
		ERR_clear_error();
		return 1;
	}
	switch ((e = SSL_get_error(tc->ssl, r))) {
	case SSL_ERROR_WANT_READ:
		tc->want = EPOLLIN;
		return 0;
	case SSL_ERROR_WANT_WRITE:
		tc->want = EPOLLOUT;
		return 0;
	default:
		tc->failed = true;
		tc->want = 0;
		handshake_why(tc, e, why, len);
		ERR_clear_error();
		return -EPROTO;
	}
}

/*
 * The socket, as OpenSSL reads and writes it. Once a recv() has come back
 * short in one read or handshake step, the socket is taken as drained
 * until the next (epoll reports what comes later): OpenSSL's next read,
 * for the rest of a record, would only be an EAGAIN, a system call for
 * nothing on every wake-up.
 */
static int
sock_read(BIO *b, char *buf, int len)
{
	struct tls_conn	*tc = BIO_get_data(b);
	ssize_t		 n;

	BIO_clear_retry_flags(b);
	if (tc->drained) {
		BIO_set_retry_read(b);
		return -1;
	}
	if ((n = recv(tc->t.fd, buf, (size_t)len, 0)) >= 0) {
		tc->drained = n < len;
		tc->fin = n == 0;
		return (int)n;
	}
	if (errno == EAGAIN || errno == EINTR) {
		tc->drained = errno == EAGAIN;
		BIO_set_retry_read(b);
	}
	return -1;
}

static int
sock_write(BIO *b, const char *buf, int len)
{
	struct tls_conn	*tc = BIO_get_data(b);
	ssize_t		 n;

	BIO_clear_retry_flags(b);
	if ((n = send(tc->t.fd, buf, (size_t)len, MSG_NOSIGNAL |
	    MSG_DONTWAIT)) >= 0)
		return (int)n;
	if (errno == EAGAIN || errno == EINTR)
		BIO_set_retry_write(b);
	return -1;
}

static long
sock_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct tls_conn	*tc = BIO_get_data(b);

	(void)num;
	(void)ptr;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1;
	case BIO_CTRL_EOF:	/* the peer closed without close_notify */
		return tc != NULL && tc->fin;
	default:
		return 0;
	}
}

static int
sock_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static BIO *
sock_bio(struct tls_conn *tc)
{
	BIO	*b;

	if (sock_method == NULL) {
		if ((sock_method = BIO_meth_new(BIO_get_new_index() |
		    BIO_TYPE_SOURCE_SINK, "echoreplyd socket")) == NULL)
			return NULL;
		if (BIO_meth_set_read(sock_method, sock_read) != 1 ||
		    BIO_meth_set_write(sock_method, sock_write) != 1 ||
		    BIO_meth_set_ctrl(sock_method, sock_ctrl) != 1 ||
		    BIO_meth_set_create(sock_method, sock_create) != 1) {
			BIO_meth_free(sock_method);
			sock_method = NULL;
			return NULL;
		}
	}
	if ((b = BIO_new(sock_method)) != NULL)
		BIO_set_data(b, tc);
	return b;
}

/*
 * TLS is over for this connection: what reads say from now on is the
 * system's error (or eof when there is none), or -EPROTO for a TLS one.
 */
static ssize_t
broken(struct tls_conn *tc, bool syscall, ssize_t eof)
{
	tc->end = !syscall ? -EPROTO : errno != 0 ? -errno : eof;
	tc->failed = true;
	ERR_clear_error();
	return tc->end;
}

/*
 * Fills buf until it is full or the socket has nothing more, as a plain
 * recv() would: a short read means all that came is read.
 */
static ssize_t
tls_read(struct transport *t, void *buf, size_t len)
{
	struct tls_conn	*tc = (struct tls_conn *)(void *)t;
	size_t		 total = 0, n;
	ssize_t		 r;

	if (!tc->done) {
		/* a failed handshake: only to discard what comes before the
		 * close */
		r = recv(t->fd, buf, len, 0);
		return r == -1 ? -errno : r;
	}
	if (tc->failed) {
		tc->held = false;
		return tc->end;		/* once broken, never bytes again */
	}
	tc->more = tc->held = tc->drained = false;
	tc->want = 0;
	tc->holding = true;
	/* the error queue is empty here: every failure below clears it */
	while (total < len) {
		errno = 0;
		if (SSL_read_ex(tc->ssl, (char *)buf + total, len - total,
		    &n) == 1) {
			total += n;
			tc->rested = false;	/* the connection's: it touches */
			/* the socket drained and OpenSSL has nothing left: the
			 * next SSL_read_ex() would only say WANT_READ */
			if (tc->drained && !SSL_has_pending(tc->ssl))
				return (ssize_t)total;
			continue;
		}
		switch (SSL_get_error(tc->ssl, 0)) {
		case SSL_ERROR_WANT_READ:
			if (total > 0)
				return (ssize_t)total;
			settle(tc);
			return -EAGAIN;
		case SSL_ERROR_WANT_WRITE:
			tc->want = EPOLLOUT;
			if (total > 0)
				return (ssize_t)total;
			settle(tc);
			return -EAGAIN;
		case SSL_ERROR_ZERO_RETURN:
			/* close_notify; with data, the next read says so */
			tc->held = total > 0;
			return (ssize_t)total;
		case SSL_ERROR_SYSCALL:
			broken(tc, true, 0);
			break;
		default:
			broken(tc, false, 0);
			break;
		}
		/* what came before the failure, then the failure */
		tc->held = total > 0;
		return total > 0 ? (ssize_t)total : tc->end;
	}
	tc->more = true;
	return (ssize_t)total;
}

static ssize_t
tls_write(struct transport *t, const void *buf, size_t len)
{
	struct tls_conn	*tc = (struct tls_conn *)(void *)t;
	size_t		 n;

	if (tc->failed || !tc->done)
		return -EPIPE;
	tc->want = 0;
	tc->holding = true;
	errno = 0;
	if (SSL_write_ex(tc->ssl, buf, len, &n) == 1) {
		tc->rested = false;	/* the connection's: it touches */
		return (ssize_t)n;
	}
	switch (SSL_get_error(tc->ssl, 0)) {
	case SSL_ERROR_WANT_WRITE:
		return -EAGAIN;
	case SSL_ERROR_WANT_READ:
		tc->want = EPOLLIN;
		return -EAGAIN;
	case SSL_ERROR_SYSCALL:
		return broken(tc, true, -EPIPE);
	default:
		return broken(tc, false, -EPIPE);
	}
}

/*
 * close_notify, once, when TLS is still whole: 0 once it is sent (or
 * cannot be), -EAGAIN while the socket has no room for it.
 */
static int
tls_notify(struct tls_conn *tc)
{
	int	 r;

	if (!tc->done || tc->failed || tc->notified)
		return 0;
	tc->want = 0;
	tc->holding = true;
	if ((r = SSL_shutdown(tc->ssl)) < 0 &&
	    SSL_get_error(tc->ssl, r) == SSL_ERROR_WANT_WRITE) {
		ERR_clear_error();
		tc->want = EPOLLOUT;
		return -EAGAIN;
	}
	ERR_clear_error();
	tc->notified = true;
	return 0;
}

static int
tls_shutdown(struct transport *t)
{
	struct tls_conn	*tc = (struct tls_conn *)(void *)t;

	/* the alert first, or the client sees a stream cut short */
	if (tls_notify(tc) == -EAGAIN)
		return -EAGAIN;
	settle(tc);
	return shutdown(t->fd, SHUT_WR) == -1 ? -errno : 0;
}

static uint32_t
tls_wants(const struct transport *t)
{
	const struct tls_conn *tc = (const struct tls_conn *)(const void *)t;

	return tc->want;
}

static bool
tls_pending(const struct transport *t)
{
	const struct tls_conn *tc = (const struct tls_conn *)(const void *)t;

	return tc->held || (tc->more && !tc->failed &&
	    SSL_has_pending(tc->ssl) == 1);
}

static const struct template_tls *
tls_info(const struct transport *t)
{
	const struct tls_conn *tc = (const struct tls_conn *)(const void *)t;

	return tc->done ? &tc->info : NULL;
}

static void
tls_free(struct transport *t, bool quiet)
{
	struct tls_conn	*tc = (struct tls_conn *)(void *)t;

	if (!quiet)
		(void)tls_notify(tc);	/* closed without a lingering close */
	SSL_free(tc->ssl);
	free(tc->facts);
	free(tc);
}

#define TLS_OPS(restfn) {						\
	.name = "tls",							\
	.handshake = tls_handshake,					\
	.read = tls_read,						\
	.write = tls_write,						\
	.shutdown = tls_shutdown,					\
	.wants = tls_wants,						\
	.pending = tls_pending,						\
	.rest = (restfn),						\
	.info = tls_info,						\
	.free = tls_free,						\
}
static const struct transport_ops tls_ops = TLS_OPS(tls_rest);
/* where SSL_free_buffers() is unsafe: SSL_MODE_RELEASE_BUFFERS instead */
static const struct transport_ops tls_ops_restless = TLS_OPS(NULL);

struct transport *
transport_tls_new(struct tls_ctx *ctx, int fd)
{
	struct tls_conn	*tc;
	BIO		*b = NULL;

	if ((tc = calloc(1, sizeof(*tc))) == NULL)
		return NULL;
	tc->t.ops = free_buffers_safe() ? &tls_ops : &tls_ops_restless;
	tc->t.fd = fd;
	if ((tc->ssl = SSL_new(ctx->ctx)) == NULL ||
	    (b = sock_bio(tc)) == NULL) {
		BIO_free(b);
		SSL_free(tc->ssl);
		free(tc);
		ERR_clear_error();
		return NULL;
	}
	SSL_set_bio(tc->ssl, b, b);	/* the SSL owns it from now on */
	SSL_set_accept_state(tc->ssl);
	tc->want = EPOLLIN;
	return &tc->t;
}

#else	/* !HAVE_TLS */

const char *
tls_library(void)
{
	return NULL;
}

int
tls_set_load(const struct conf *conf, config_report_fn fn, void *arg,
    struct tls_set **out)
{
	char	 text[512];
	size_t	 i;
	int	 errors = 0;

	*out = NULL;
	for (i = 0; i < conf->nlisteners; i++) {
		const struct conf_service *svc = conf->listeners[i].service;

		if (!svc->tls.on)
			continue;
		snprintf(text, sizeof(text), "%s:%u: listener '%s': tls = "
		    "true, but this echoreplyd is built without TLS",
		    svc->tls.at.file != NULL ? svc->tls.at.file : conf->path,
		    svc->tls.at.line, conf->listeners[i].name);
		fn(text, arg);
		errors++;
	}
	if (errors == 0 && conf->service.tls.on) {
		snprintf(text, sizeof(text), "%s:%u: tls = true, but this "
		    "echoreplyd is built without TLS",
		    conf->service.tls.at.file != NULL ?
		    conf->service.tls.at.file : conf->path,
		    conf->service.tls.at.line);
		fn(text, arg);
		errors++;
	}
	return errors > 0 ? -EINVAL : 0;
}

struct tls_ctx *
tls_set_find(const struct tls_set *set, const struct conf_service *svc)
{
	(void)set;
	(void)svc;
	return NULL;
}

void
tls_set_free(struct tls_set *set)
{
	(void)set;
}

struct transport *
transport_tls_new(struct tls_ctx *ctx, int fd)
{
	(void)ctx;
	(void)fd;
	return NULL;
}

void
tls_cleanup(void)
{
}

#endif	/* HAVE_TLS */

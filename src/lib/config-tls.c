/* SPDX-License-Identifier: ISC */
/*
 * A service's TLS keys. Only what the file says is checked here (the
 * files are read by the daemon, which reports what is wrong in them
 * with the lines kept in struct conf_tls).
 */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config-service.h"

#define TLS_ALPN_MAX	16	/* protocols in tls_alpn */

const char *const cfg_tls_keys[] = {
	"tls", "tls_certificate", "tls_key", "tls_self_signed",
	"tls_client_ca", "tls_verify_client", "tls_min_version",
	"tls_ciphers", "tls_ciphersuites", "tls_alpn", "tls_session_tickets",
	"tls_handshake_timeout_ms", NULL
};

void
cfg_tls_init(struct conf_tls *t)
{
	memset(t, 0, sizeof(*t));
	t->min_version = 12;
	t->session_tickets = true;
	t->handshake_timeout_ms = 5000;
}

static int
copy_string(char **dst, const char *src)
{
	*dst = NULL;
	if (src == NULL)
		return 0;
	return (*dst = strdup(src)) == NULL ? -ENOMEM : 0;
}

int
cfg_tls_copy(struct conf_tls *dst, const struct conf_tls *src)
{
	size_t	 i;

	*dst = *src;
	dst->certificate = dst->key = dst->client_ca = NULL;
	dst->ciphers = dst->ciphersuites = NULL;
	dst->alpn = NULL;
	dst->nalpn = 0;
	if (copy_string(&dst->certificate, src->certificate) < 0 ||
	    copy_string(&dst->key, src->key) < 0 ||
	    copy_string(&dst->client_ca, src->client_ca) < 0 ||
	    copy_string(&dst->ciphers, src->ciphers) < 0 ||
	    copy_string(&dst->ciphersuites, src->ciphersuites) < 0)
		goto fail;
	if (src->nalpn > 0 &&
	    (dst->alpn = calloc(src->nalpn, sizeof(*dst->alpn))) == NULL)
		goto fail;
	for (i = 0; i < src->nalpn; i++, dst->nalpn++)
		if ((dst->alpn[i] = strdup(src->alpn[i])) == NULL)
			goto fail;
	return 0;
fail:
	cfg_tls_free(dst);
	return -ENOMEM;
}

void
cfg_tls_free(struct conf_tls *t)
{
	size_t	 i;

	free(t->certificate);
	free(t->key);
	free(t->client_ca);
	free(t->ciphers);
	free(t->ciphersuites);
	for (i = 0; i < t->nalpn; i++)
		free(t->alpn[i]);
	free(t->alpn);
	memset(t, 0, sizeof(*t));
}

/*
 * A file named in key: relative to the directory of the file that names
 * it (the daemon runs in /). Replaces *out and sets *at when present.
 */
static void
get_file(struct parser *p, const config_setting_t *group, const char *key,
    char **out, struct conf_at *at)
{
	const config_setting_t	*where;
	const char		*str, *from;
	char			*dir = NULL, *path = NULL;

	if ((str = cfg_get_string(p, group, key, &where)) == NULL)
		return;
	if (str[0] == '\0') {
		cfg_error(p, where, "'%s' must name a file", key);
		return;
	}
	cfg_where(p, where, &at->file, &at->line);
	from = at->file;
	if (str[0] == '/')
		path = strdup(str);
	else if ((dir = strdup(from)) != NULL &&
	    asprintf(&path, "%s/%s", dirname(dir), str) == -1)
		path = NULL;
	free(dir);
	if (path == NULL) {
		cfg_error(p, where, "out of memory");
		return;
	}
	free(*out);
	*out = path;
}

static void
get_text(struct parser *p, const config_setting_t *group, const char *key,
    char **out)
{
	const config_setting_t	*where;
	const char		*str;
	char			*s;

	if ((str = cfg_get_string(p, group, key, &where)) == NULL)
		return;
	if ((s = strdup(str)) == NULL) {
		cfg_error(p, where, "out of memory");
		return;
	}
	free(*out);
	*out = s;
}

/* tls_alpn: protocol names of 1 to 255 bytes, as ALPN carries them. */
static void
get_alpn(struct parser *p, const config_setting_t *group, struct conf_tls *t)
{
	const config_setting_t	*s;
	const char		*v[TLS_ALPN_MAX];
	char			**nv;
	size_t			 n, i;

	if ((s = config_setting_get_member(group, "tls_alpn")) == NULL)
		return;
	if ((n = cfg_get_strings(p, s, "tls_alpn", v, TLS_ALPN_MAX)) == 0)
		return;
	for (i = 0; i < n; i++)
		if (v[i][0] == '\0' || strlen(v[i]) > 255) {
			cfg_error(p, s, "'tls_alpn': a protocol name is 1 to "
			    "255 bytes");
			return;
		}
	if ((nv = calloc(n, sizeof(*nv))) == NULL) {
		cfg_error(p, s, "out of memory");
		return;
	}
	for (i = 0; i < n; i++)
		if ((nv[i] = strdup(v[i])) == NULL) {
			while (i-- > 0)
				free(nv[i]);
			free(nv);
			cfg_error(p, s, "out of memory");
			return;
		}
	for (i = 0; i < t->nalpn; i++)
		free(t->alpn[i]);
	free(t->alpn);
	t->alpn = nv;
	t->nalpn = n;
}

/* The first tls_* key group sets, other than 'tls' itself; NULL: none. */
static const config_setting_t *
first_tls_key(const config_setting_t *group)
{
	const config_setting_t	*s;
	size_t			 i;

	for (i = 1; cfg_tls_keys[i] != NULL; i++)
		if ((s = config_setting_get_member(group, cfg_tls_keys[i])) !=
		    NULL)
			return s;
	return NULL;
}

void
cfg_parse_tls(struct parser *p, const config_setting_t *group, bool listener,
    struct conf_tls *t)
{
	static const char *const verifies[] = {
		[CONF_TLS_VERIFY_NONE] = "none",
		[CONF_TLS_VERIFY_OPTIONAL] = "optional",
		[CONF_TLS_VERIFY_REQUIRE] = "require", NULL
	};
	static const char *const versions[] = { "1.2", "1.3", NULL };
	const config_setting_t	*where, *other;
	long long		 v;
	int			 choice;

	if ((where = config_setting_get_member(group, "tls")) != NULL) {
		cfg_get_bool(p, group, "tls", &t->on);
		cfg_where(p, where, &t->at.file, &t->at.line);
	} else if (listener)
		cfg_where(p, group, &t->at.file, &t->at.line);
	get_file(p, group, "tls_certificate", &t->certificate,
	    &t->certificate_at);
	get_file(p, group, "tls_key", &t->key, &t->key_at);
	get_file(p, group, "tls_client_ca", &t->client_ca, &t->client_ca_at);
	cfg_get_bool(p, group, "tls_self_signed", &t->self_signed);
	if (cfg_get_choice(p, group, "tls_verify_client", verifies, &choice))
		t->verify_client = (enum conf_tls_verify)choice;
	if (cfg_get_choice(p, group, "tls_min_version", versions, &choice))
		t->min_version = choice == 0 ? 12 : 13;
	get_text(p, group, "tls_ciphers", &t->ciphers);
	get_text(p, group, "tls_ciphersuites", &t->ciphersuites);
	get_alpn(p, group, t);
	cfg_get_bool(p, group, "tls_session_tickets", &t->session_tickets);
	v = (long long)t->handshake_timeout_ms;
	cfg_get_int(p, group, "tls_handshake_timeout_ms", 1, 600 * 1000, &v);
	t->handshake_timeout_ms = (uint64_t)v;

	if (where == NULL)
		where = group;
	other = first_tls_key(group);
	if (!t->on) {
		/* a listener that names a certificate means TLS: say so */
		if (listener && other != NULL)
			cfg_error(p, other, "'%s' is set but this listener has "
			    "tls = false", config_setting_name(other));
		return;
	}
	if (t->self_signed && t->certificate != NULL)
		cfg_error(p, where, "'tls_self_signed' and 'tls_certificate' "
		    "both say which certificate: give one");
	else if (!t->self_signed && t->certificate == NULL)
		cfg_error(p, where, "tls = true needs 'tls_certificate' (and "
		    "'tls_key'), or tls_self_signed = true");
	if (t->self_signed && t->key != NULL)
		cfg_error(p, where, "'tls_key' is for 'tls_certificate', not "
		    "for tls_self_signed");
	if (t->verify_client != CONF_TLS_VERIFY_NONE && t->client_ca == NULL)
		cfg_error(p, where, "tls_verify_client \"%s\" needs "
		    "'tls_client_ca'", verifies[t->verify_client]);
}

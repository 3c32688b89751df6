/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>
#include <sys/socket.h>

#include "config.h"
#include "hex.h"
#include "proxy.h"
#include "ctl-conn.h"
#include "ctl-opts.h"
#include "ctl-report.h"

enum {
	OPT_RAW = 256, OPT_FRAMING, OPT_DELIM, OPT_DELIM_HEX, OPT_LENGTH_BYTES,
	OPT_LENGTH_ENDIAN, OPT_COUNTS_PREFIX, OPT_FIXED_BYTES, OPT_PROXY,
	OPT_PROXY_VERSION, OPT_TLS, OPT_CA, OPT_CERT, OPT_KEY, OPT_SNI,
	OPT_INSECURE, OPT_CONTROL_SOCKET
};

static void __attribute__((noreturn))
help(void)
{
	printf(
"usage: echoreplyctl [-46CghquVv] [--raw] [--framing name] [--delimiter str]\n"
"                    [--delimiter-hex hex] [--length-bytes n]\n"
"                    [--length-endian big|little] [--length-counts-prefix]\n"
"                    [--fixed-bytes n] [--proxy addr:port]\n"
"                    [--proxy-version n] [--tls] [--insecure] [--ca file]\n"
"                    [--cert file] [--key file] [--sni name] [-f file]\n"
"                    [-H host] [-n count] [-p port] [-t seconds] [-U path]\n"
"                    [message ...]\n"
"       echoreplyctl -C [-qv] [-f file] [-t seconds] [--control-socket path]\n"
"                    command [word ...]\n"
"  -f, --config FILE   daemon configuration to take the address, protocol,\n"
"                      framing and greeting (or control socket) from\n"
"                      (default %s)\n"
"  -H, --host HOST     host name or address to connect to\n"
"  -p, --port PORT     port to connect to\n"
"  -U, --unix PATH     connect to the Unix stream socket PATH\n"
"  -u, --udp           use UDP\n"
"  -4                  use IPv4 only\n"
"  -6                  use IPv6 only\n"
"      --raw           raw framing: no line feed after a message, each\n"
"                      chunk received is one reply (--framing raw)\n"
"      --framing NAME  line, raw, delimiter, length or fixed (default: the\n"
"                      listener's in the config, else line)\n"
"      --delimiter STR the delimiter of delimiter framing\n"
"      --delimiter-hex HEX  the same in hex digits (\"00\")\n"
"      --length-bytes N  the length prefix: 1, 2, 4 or 8 bytes\n"
"      --length-endian big|little  its byte order\n"
"      --length-counts-prefix  the length counts the prefix too\n"
"      --fixed-bytes N the size of every message of fixed framing\n"
"      --proxy ADDR:PORT  start with a PROXY header presenting ADDR:PORT\n"
"      --proxy-version N  of version 1 or 2 (default 1, or 2 for a v2\n"
"                      listener)\n"
"      --tls           use TLS (by itself for a TLS listener of the config)\n"
"      --ca FILE       trust the CA certificates in FILE (PEM), not the\n"
"                      system's\n"
"      --insecure      do not verify the server's certificate\n"
"      --cert FILE     present the client certificate in FILE (PEM)\n"
"      --key FILE      its private key (default: in the --cert file)\n"
"      --sni NAME      the server name to send and check the certificate\n"
"                      against (default: the host, unless an address)\n"
"  -g, --greeting      expect a greeting line before the replies\n"
"  -n, --count N       send each message N times\n"
"  -t, --timeout SECS  limit for connecting, the TLS handshake and each\n"
"                      reply (default 5); with -C, for the answer, and the\n"
"                      time wait waits (default 10)\n"
"  -C, --control       send the words as one command to the daemon's control\n"
"                      socket and print its answer\n"
"      --control-socket PATH  that socket (default: control_socket in the\n"
"                      config, else $RUNTIME_DIRECTORY/control, else\n"
"                      " OPTS_CONTROL_DEFAULT ")\n"
"  -v, --verbose       show what is sent and received, with round trip times\n"
"                      (with -C: the text of the answer's ok line)\n"
"  -q, --quiet         print nothing, only set the exit status\n"
"  -V, --version       print the version and exit\n"
"  -h, --help          print this help and exit\n"
"Each argument is one message; with none, each line of standard input is one.\n"
"With -C, the arguments are the words of one command: -C help lists them.\n",
	    CONF_DEFAULT_PATH);
	report_flush();
	exit(0);
}

#define TRY_HELP	" (echoreplyctl -h lists the options)"

/*
 * What getopt_long() returned ch for in arg, the argument it was reading
 * (opterr is 0, so it said nothing), said in one line. getopt's own
 * message named the program by the path it was run as, and the whole
 * help came after it.
 */
static void __attribute__((noreturn))
bad_option(int ch, const char *arg)
{
	if (strncmp(arg, "--", 2) != 0) {
		/* a short option, maybe in a group ("-qZ") */
		if (ch == ':')
			report_usage("option -%c needs a value" TRY_HELP,
			    optopt);
		report_usage("unknown option -%c" TRY_HELP, optopt);
	}
	if (ch == ':')
		report_usage("option %s needs a value" TRY_HELP, arg);
	if (strchr(arg, '=') != NULL)
		report_usage("option %s is unknown or takes no value" TRY_HELP,
		    arg);
	report_usage("unknown or ambiguous option %s" TRY_HELP, arg);
}

static void
report_config(const char *line, void *arg)
{
	(void)arg;
	report_warnx("%s", line);
}

static const struct conf_listener *
pick_listener(const struct opts *o, const struct conf *conf)
{
	const struct conf_listener	*l;
	size_t				 i;
	bool				 ip = o->host || o->port || o->family;

	for (i = 0; i < conf->nlisteners; i++) {
		l = &conf->listeners[i];
		if (o->udp && l->type != SOCK_DGRAM)
			continue;
		if (ip && l->sa.ss_family != AF_INET &&
		    l->sa.ss_family != AF_INET6)
			continue;
		if (o->family && l->sa.ss_family != o->family)
			continue;
		return l;
	}
	report_die(EX_CONFIG, "%s: no %s%slistener", conf->path,
	    o->family == AF_INET ? "IPv4 " : o->family == AF_INET6 ?
	    "IPv6 " : ip ? "IP " : "", o->udp ? "UDP " : "");
}

struct conf *
opts_config(const struct opts *o)
{
	struct conf	*conf;

	/* the command line may name the server completely */
	if (o->conf_path == NULL && (o->control ? o->control_socket != NULL :
	    (o->unix_path != NULL || (o->host != NULL && o->port != 0))))
		return NULL;
	/* no daemon config installed here: use the daemon's defaults */
	if (o->conf_path == NULL && access(CONF_DEFAULT_PATH, F_OK) == -1 &&
	    errno == ENOENT)
		conf = config_default();
	else
		conf = config_load(o->conf_path ? o->conf_path :
		    CONF_DEFAULT_PATH, report_config, NULL, NULL);
	if (conf == NULL)
		exit(EX_CONFIG);
	return conf;
}

void
opts_target(const struct opts *o, const struct conf *conf,
    struct conn_target *t)
{
	const struct conf_listener	*l = NULL;

	memset(t, 0, sizeof(*t));
	t->type = o->udp ? SOCK_DGRAM : SOCK_STREAM;
	t->family = o->family;
	if (o->unix_path != NULL) {
		t->family = AF_UNIX;
		t->path = o->unix_path;
	} else if (o->host == NULL || o->port == 0) {
		l = pick_listener(o, conf);
		t->type = l->type;
		if (l->sa.ss_family == AF_UNIX) {
			t->family = AF_UNIX;
			t->path = l->path;
			return;
		}
	}
	if (t->family == AF_UNIX)
		return;
	t->host = o->host;
	if (t->host == NULL) {
		t->host = l->address;
		if (strcmp(t->host, "0.0.0.0") == 0)
			t->host = "127.0.0.1";
		else if (strcmp(t->host, "::") == 0)
			t->host = "::1";
	}
	snprintf(t->port, sizeof(t->port), "%lld",
	    o->port ? o->port : (long long)l->port);
}

/*
 * What the listener we talk to serves, as far as the config says: the
 * one on the path or port given, else the one opts_target() picks, else
 * the top level's. NULL without a config.
 */
static const struct conf_service *
target_service(const struct opts *o, const struct conf *conf)
{
	const struct conf_listener	*l;
	size_t				 i;

	if (conf == NULL)
		return NULL;
	if (o->unix_path == NULL && o->port == 0)
		return pick_listener(o, conf)->service;
	for (i = 0; i < conf->nlisteners; i++) {
		l = &conf->listeners[i];
		if (o->unix_path != NULL ? l->sa.ss_family == AF_UNIX &&
		    strcmp(l->path, o->unix_path) == 0 :
		    l->sa.ss_family != AF_UNIX && l->port == o->port &&
		    (l->type == SOCK_DGRAM) == o->udp)
			return l->service;
	}
	return &conf->service;
}

void
opts_framing(const struct opts *o, const struct conf *conf,
    struct frame_spec *f)
{
	const struct conf_service	*svc = target_service(o, conf);
	enum frame_mode			 mode;
	ssize_t				 n;

	memset(f, 0, sizeof(*f));
	f->mode = FRAME_LINE;
	f->prefix_bytes = 4;
	f->big_endian = true;
	if (svc != NULL)
		*f = svc->framing;
	if (o->raw)
		f->mode = FRAME_RAW;
	if (o->framing != NULL) {
		if (frame_mode_parse(o->framing, &mode) < 0)
			report_usage("framing %s is not line, raw, delimiter, "
			    "length or fixed", o->framing);
		f->mode = mode;
	}
	if (o->delim != NULL) {
		if (o->delim[0] == '\0' || strlen(o->delim) > FRAME_DELIM_MAX)
			report_usage("the delimiter must be 1 to %d bytes",
			    FRAME_DELIM_MAX);
		f->delim_len = strlen(o->delim);
		memcpy(f->delim, o->delim, f->delim_len);
	}
	if (o->delim_hex != NULL) {
		if ((n = hex_decode(o->delim_hex, f->delim, FRAME_DELIM_MAX)) <= 0)
			report_usage("delimiter %s is not 1 to %d bytes in hex "
			    "digits", o->delim_hex, FRAME_DELIM_MAX);
		f->delim_len = (size_t)n;
	}
	if (o->length_bytes != 0)
		f->prefix_bytes = (unsigned int)o->length_bytes;
	if (o->length_endian != NULL)
		f->big_endian = strcmp(o->length_endian, "big") == 0;
	if (o->counts_prefix)
		f->prefix_counted = true;
	if (o->fixed_bytes != 0)
		f->fixed = (size_t)o->fixed_bytes;
	if (f->mode == FRAME_DELIMITER && f->delim_len == 0)
		report_usage("delimiter framing needs --delimiter or "
		    "--delimiter-hex");
	if (f->mode == FRAME_FIXED && f->fixed == 0)
		report_usage("fixed framing needs --fixed-bytes");
}

unsigned int
opts_proxy(const struct opts *o, const struct conf *conf,
    union addr_any *src, bool *named)
{
	const struct conf_service	*svc = target_service(o, conf);
	unsigned int			 takes;

	*named = false;
	takes = svc != NULL ? svc->proxy_versions : 0;
	if (o->proxy != NULL) {
		if (addr_parse_hostport(o->proxy, src) < 0)
			report_usage("--proxy %s is not ADDRESS:PORT (an IPv6 "
			    "address in brackets)", o->proxy);
		*named = true;
	} else if (takes == 0 && o->proxy_version == 0)
		return 0;
	if (o->proxy_version != 0)
		return (unsigned int)o->proxy_version;
	return takes == PROXY_V2 ? 2 : 1;
}

bool
opts_greeting(const struct opts *o, const struct conf *conf)
{
	const struct conf_service	*svc = target_service(o, conf);

	return o->greeting || (svc != NULL && svc->greeting != NULL);
}

bool
opts_tls(const struct opts *o, const struct conf *conf,
    const struct conn_target *t, struct tls_config *tc)
{
	const struct conf_service	*svc = target_service(o, conf);
	const char			*given;
	bool				 listener = svc != NULL && svc->tls.on;

	memset(tc, 0, sizeof(*tc));
	if (!o->tls && !listener) {
		given = o->tls_ca ? "--ca" : o->tls_cert ? "--cert" :
		    o->tls_sni ? "--sni" : o->tls_insecure ? "--insecure" :
		    NULL;
		if (given != NULL)
			report_usage("%s needs --tls (or a TLS listener in the "
			    "config)", given);
		return false;
	}
	if (t->type == SOCK_DGRAM)
		report_usage("TLS is for streams, and the listener is UDP");
	tc->ca = o->tls_ca;
	tc->cert = o->tls_cert;
	tc->key = o->tls_key;
	tc->insecure = o->tls_insecure;
	/* over a Unix socket there is no host: the daemon's is local */
	tc->name = o->tls_sni != NULL ? o->tls_sni :
	    t->family == AF_UNIX ? "localhost" : t->host;
	if (listener) {
		tc->alpn = svc->tls.alpn;
		tc->nalpn = svc->tls.nalpn;
	}
	return true;
}

/* -C talks to the control socket: the options for messages are no use. */
static void
check_control(const struct opts *o, int nwords)
{
	const struct {
		bool		 given;
		const char	*name;
	} no[] = {
		{ o->host != NULL, "-H" },
		{ o->port != 0, "-p" },
		{ o->unix_path != NULL, "-U" },
		{ o->udp, "-u" },
		{ o->family == AF_INET, "-4" },
		{ o->family == AF_INET6, "-6" },
		{ o->count_set, "-n" },
		{ o->greeting, "-g" },
		{ o->raw, "--raw" },
		{ o->framing != NULL, "--framing" },
		{ o->delim != NULL, "--delimiter" },
		{ o->delim_hex != NULL, "--delimiter-hex" },
		{ o->length_bytes != 0, "--length-bytes" },
		{ o->length_endian != NULL, "--length-endian" },
		{ o->counts_prefix, "--length-counts-prefix" },
		{ o->fixed_bytes != 0, "--fixed-bytes" },
		{ o->proxy != NULL, "--proxy" },
		{ o->proxy_version != 0, "--proxy-version" },
		{ o->tls, "--tls" },
		{ o->tls_insecure, "--insecure" },
		{ o->tls_ca != NULL, "--ca" },
		{ o->tls_cert != NULL, "--cert" },
		{ o->tls_key != NULL, "--key" },
		{ o->tls_sni != NULL, "--sni" },
	};
	size_t	 i;

	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (no[i].given)
			report_usage("-C cannot be used with %s: a control "
			    "command goes to the control socket", no[i].name);
	if (nwords == 0)
		report_usage("-C needs a command (echoreplyctl -C help lists "
		    "them)");
}

void
opts_parse(int argc, char *argv[], struct opts *o)
{
	static const struct option longopts[] = {
		{ "config",	required_argument,	NULL, 'f' },
		{ "control",	no_argument,		NULL, 'C' },
		{ "control-socket", required_argument,	NULL,
		    OPT_CONTROL_SOCKET },
		{ "count",	required_argument,	NULL, 'n' },
		{ "greeting",	no_argument,		NULL, 'g' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "host",	required_argument,	NULL, 'H' },
		{ "port",	required_argument,	NULL, 'p' },
		{ "quiet",	no_argument,		NULL, 'q' },
		{ "raw",	no_argument,		NULL, OPT_RAW },
		{ "framing",	required_argument,	NULL, OPT_FRAMING },
		{ "delimiter",	required_argument,	NULL, OPT_DELIM },
		{ "delimiter-hex", required_argument,	NULL, OPT_DELIM_HEX },
		{ "length-bytes", required_argument,	NULL, OPT_LENGTH_BYTES },
		{ "length-endian", required_argument,	NULL, OPT_LENGTH_ENDIAN },
		{ "length-counts-prefix", no_argument,	NULL, OPT_COUNTS_PREFIX },
		{ "fixed-bytes", required_argument,	NULL, OPT_FIXED_BYTES },
		{ "proxy",	required_argument,	NULL, OPT_PROXY },
		{ "proxy-version", required_argument,	NULL, OPT_PROXY_VERSION },
		{ "tls",	no_argument,		NULL, OPT_TLS },
		{ "ca",		required_argument,	NULL, OPT_CA },
		{ "cert",	required_argument,	NULL, OPT_CERT },
		{ "key",	required_argument,	NULL, OPT_KEY },
		{ "sni",	required_argument,	NULL, OPT_SNI },
		{ "insecure",	no_argument,		NULL, OPT_INSECURE },
		{ "timeout",	required_argument,	NULL, 't' },
		{ "udp",	no_argument,		NULL, 'u' },
		{ "unix",	required_argument,	NULL, 'U' },
		{ "verbose",	no_argument,		NULL, 'v' },
		{ "version",	no_argument,		NULL, 'V' },
		{ NULL,		0,			NULL, 0 }
	};
	static char	**words;	/* the operands, in order */
	const char	*errstr;
	int		 ch, at, i, nwords = 0;
	bool		 posix = getenv("POSIXLY_CORRECT") != NULL;
	bool		 rest = false;

	memset(o, 0, sizeof(*o));
	o->count = 1;
	o->timeout_ms = 5000;
	if ((words = calloc((size_t)argc + 1, sizeof(*words))) == NULL)
		report_die(EX_OSERR, "out of memory");

	/*
	 * "-": operands come back in their place, so that with -C the
	 * command's first word ends the options ("wait --new REGEX").
	 */
	opterr = 0;
	while (!rest) {
		at = optind;	/* in order ("-"): what the call reads */
		if ((ch = getopt_long(argc, argv, "-:46Cf:gH:hn:p:qt:U:uVv",
		    longopts, NULL)) == -1)
			break;
		switch (ch) {
		case 1:
			words[nwords++] = optarg;
			rest = o->control || posix;
			break;
		case '4':
			o->family = AF_INET;
			break;
		case '6':
			o->family = AF_INET6;
			break;
		case 'C':
			o->control = true;
			break;
		case OPT_CONTROL_SOCKET:
			if (optarg[0] == '\0')
				report_usage("the control socket path is "
				    "empty");
			o->control_socket = optarg;
			break;
		case 'f':
			o->conf_path = optarg;
			break;
		case 'g':
			o->greeting = true;
			break;
		case 'H':
			o->host = optarg;
			break;
		case 'n':
			o->count = strtonum(optarg, 1, 1000000000, &errstr);
			if (errstr != NULL)
				report_usage("count %s is %s (1 to "
				    "1000000000)", optarg, errstr);
			o->count_set = true;
			break;
		case 'p':
			o->port = strtonum(optarg, 1, 65535, &errstr);
			if (errstr != NULL)
				report_usage("port %s is %s (1 to 65535)",
				    optarg, errstr);
			break;
		case 'q':
			o->quiet = true;
			break;
		case OPT_RAW:
			o->raw = true;
			break;
		case OPT_FRAMING:
			o->framing = optarg;
			break;
		case OPT_DELIM:
			o->delim = optarg;
			break;
		case OPT_DELIM_HEX:
			o->delim_hex = optarg;
			break;
		case OPT_LENGTH_BYTES:
			o->length_bytes = strtonum(optarg, 1, 8, &errstr);
			if (errstr != NULL || (o->length_bytes & (o->length_bytes -
			    1)) != 0)
				report_usage("length bytes %s is not 1, 2, 4 or "
				    "8", optarg);
			break;
		case OPT_LENGTH_ENDIAN:
			if (strcmp(optarg, "big") != 0 &&
			    strcmp(optarg, "little") != 0)
				report_usage("length endian %s is not big or "
				    "little", optarg);
			o->length_endian = optarg;
			break;
		case OPT_COUNTS_PREFIX:
			o->counts_prefix = true;
			break;
		case OPT_FIXED_BYTES:
			o->fixed_bytes = strtonum(optarg, 1, FRAME_FIXED_MAX,
			    &errstr);
			if (errstr != NULL)
				report_usage("fixed bytes %s is %s (1 to %d)",
				    optarg, errstr, FRAME_FIXED_MAX);
			break;
		case OPT_PROXY:
			o->proxy = optarg;
			break;
		case OPT_PROXY_VERSION:
			o->proxy_version = strtonum(optarg, 1, 2, &errstr);
			if (errstr != NULL)
				report_usage("PROXY version %s is not 1 or 2",
				    optarg);
			break;
		case OPT_TLS:
			o->tls = true;
			break;
		case OPT_CA:
			o->tls_ca = optarg;
			break;
		case OPT_CERT:
			o->tls_cert = optarg;
			break;
		case OPT_KEY:
			o->tls_key = optarg;
			break;
		case OPT_SNI:
			if (optarg[0] == '\0')
				report_usage("the --sni name is empty");
			o->tls_sni = optarg;
			break;
		case OPT_INSECURE:
			o->tls_insecure = true;
			break;
		case 't':
			o->timeout_ms = (int)strtonum(optarg, 1, 3600,
			    &errstr) * 1000;
			if (errstr != NULL)
				report_usage("timeout %s is %s (1 to 3600 "
				    "seconds)", optarg, errstr);
			o->timeout_set = true;
			break;
		case 'U':
			if (optarg[0] == '\0')
				report_usage("the socket path is empty");
			o->unix_path = optarg;
			break;
		case 'u':
			o->udp = true;
			break;
		case 'V':
			printf("echoreplyctl %s\n", PACKAGE_VERSION);
			report_flush();
			exit(0);
		case 'v':
			o->verbose = true;
			break;
		case 'h':
			help();
		default:
			bad_option(ch, at < argc ? argv[at] : "");
		}
	}
	while (optind < argc)
		words[nwords++] = argv[optind++];
	if (o->control)
		check_control(o, nwords);
	else if (o->control_socket != NULL)
		report_usage("--control-socket is for -C");
	if (o->quiet && o->verbose)
		report_usage("-q and -v cannot be used together");
	if (o->unix_path != NULL && (o->host || o->port || o->udp ||
	    o->family))
		report_usage("-U cannot be used with -H, -p, -u, -4 or -6");
	if (o->raw && o->framing != NULL && strcmp(o->framing, "raw") != 0)
		report_usage("--raw and --framing %s say different things",
		    o->framing);
	if (o->delim != NULL && o->delim_hex != NULL)
		report_usage("--delimiter and --delimiter-hex say the same "
		    "thing: give one");
	if (o->udp && (o->proxy != NULL || o->proxy_version != 0))
		report_usage("the PROXY protocol is for streams, not -u");
	if (o->udp && o->tls)
		report_usage("TLS is for streams, not -u");
	if (o->tls_key != NULL && o->tls_cert == NULL)
		report_usage("--key is the key of --cert: give both");
	if (o->host != NULL && o->host[0] == '\0')
		report_usage("the host name is empty");
	for (i = 0; i < nwords; i++) {
		if (strchr(words[i], '\n') == NULL)
			continue;
		if (o->control)
			report_usage("word %d of the command contains a "
			    "newline", i + 1);
		report_usage("message %d contains a newline", i + 1);
	}
	o->messages = words;
	o->nmessages = nwords;
}


/* echoreplyctl: the command line, and where it says to connect. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>
#include <sys/socket.h>

#include "config.h"
#include "ctl.h"

#ifndef ECHOREPLYD_CONF
#define ECHOREPLYD_CONF	"/etc/echoreplyd.conf"
#endif

enum { OPT_RAW = 256 };

struct ctl_opts	 ctl_opt = { .count = 1, .timeout_ms = 5000 };

/* Command line errors are reported even with -q. */
void
ctl_usage_error(const char *fmt, ...)
{
	va_list	 ap;

	fputs("echoreplyctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EX_USAGE);
}

static void __attribute__((noreturn))
usage(int status)
{
	FILE	*fp = status == 0 ? stdout : stderr;

	fprintf(fp,
"usage: echoreplyctl [-46ghquVv] [--raw] [-f file] [-H host] [-n count]\n"
"                    [-p port] [-t seconds] [-U path] [message ...]\n"
"  -f, --config FILE   daemon configuration to take the address, protocol,\n"
"                      framing and greeting from (default %s)\n"
"  -H, --host HOST     host name or address to connect to\n"
"  -p, --port PORT     port to connect to\n"
"  -U, --unix PATH     connect to the Unix stream socket PATH\n"
"  -u, --udp           use UDP\n"
"  -4                  use IPv4 only\n"
"  -6                  use IPv6 only\n"
"      --raw           raw framing: no line feed after a message, each\n"
"                      chunk received is one reply\n"
"  -g, --greeting      expect a greeting line before the replies\n"
"  -n, --count N       send each message N times\n"
"  -t, --timeout SECS  limit for connecting and for each reply (default 5)\n"
"  -v, --verbose       show what is sent and received, with round trip times\n"
"  -q, --quiet         print nothing, only set the exit status\n"
"  -V, --version       print the version and exit\n"
"  -h, --help          print this help and exit\n"
"Each argument is one message; with none, each line of standard input is one.\n",
	    ECHOREPLYD_CONF);
	exit(status);
}

static void
report_config(const char *line, void *arg)
{
	(void)arg;
	if (!ctl_opt.quiet)
		fprintf(stderr, "echoreplyctl: %s\n", line);
}

static const struct conf_listener *
pick_listener(const struct conf *conf)
{
	const struct conf_listener	*l;
	size_t				 i;
	bool				 ip = ctl_opt.host || ctl_opt.port ||
					    ctl_opt.family;

	for (i = 0; i < conf->nlisteners; i++) {
		l = &conf->listeners[i];
		if (ctl_opt.udp && l->type != SOCK_DGRAM)
			continue;
		if (ip && l->sa.ss_family != AF_INET &&
		    l->sa.ss_family != AF_INET6)
			continue;
		if (ctl_opt.family && l->sa.ss_family != ctl_opt.family)
			continue;
		return l;
	}
	ctl_die(EX_CONFIG, "%s: no %s%slistener", conf->path,
	    ctl_opt.family == AF_INET ? "IPv4 " : ctl_opt.family == AF_INET6 ?
	    "IPv6 " : ip ? "IP " : "", ctl_opt.udp ? "UDP " : "");
}

struct conf *
ctl_read_config(void)
{
	struct conf	*conf;

	/* no daemon config installed here: use the daemon's defaults */
	if (ctl_opt.conf_path == NULL && access(ECHOREPLYD_CONF, F_OK) == -1 &&
	    errno == ENOENT)
		conf = config_default();
	else
		conf = config_load(ctl_opt.conf_path ? ctl_opt.conf_path :
		    ECHOREPLYD_CONF, report_config, NULL, NULL);
	if (conf == NULL)
		exit(EX_CONFIG);
	return conf;
}

void
ctl_choose_target(const struct conf *conf, struct ctl_target *t)
{
	const struct conf_listener	*l = NULL;

	memset(t, 0, sizeof(*t));
	t->type = ctl_opt.udp ? SOCK_DGRAM : SOCK_STREAM;
	t->family = ctl_opt.family;
	if (ctl_opt.unix_path != NULL) {
		t->family = AF_UNIX;
		t->path = ctl_opt.unix_path;
	} else if (ctl_opt.host == NULL || ctl_opt.port == 0) {
		l = pick_listener(conf);
		t->type = l->type;
		if (l->sa.ss_family == AF_UNIX) {
			t->family = AF_UNIX;
			t->path = l->path;
			return;
		}
	}
	if (t->family == AF_UNIX)
		return;
	t->host = ctl_opt.host;
	if (t->host == NULL) {
		t->host = l->address;
		if (strcmp(t->host, "0.0.0.0") == 0)
			t->host = "127.0.0.1";
		else if (strcmp(t->host, "::") == 0)
			t->host = "::1";
	}
	snprintf(t->port, sizeof(t->port), "%lld",
	    ctl_opt.port ? ctl_opt.port : (long long)l->port);
}

void
ctl_parse_options(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "config",	required_argument,	NULL, 'f' },
		{ "count",	required_argument,	NULL, 'n' },
		{ "greeting",	no_argument,		NULL, 'g' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "host",	required_argument,	NULL, 'H' },
		{ "port",	required_argument,	NULL, 'p' },
		{ "quiet",	no_argument,		NULL, 'q' },
		{ "raw",	no_argument,		NULL, OPT_RAW },
		{ "timeout",	required_argument,	NULL, 't' },
		{ "udp",	no_argument,		NULL, 'u' },
		{ "unix",	required_argument,	NULL, 'U' },
		{ "verbose",	no_argument,		NULL, 'v' },
		{ "version",	no_argument,		NULL, 'V' },
		{ NULL,		0,			NULL, 0 }
	};
	const char	*errstr;
	int		 ch, i;

	while ((ch = getopt_long(argc, argv, "46f:gH:hn:p:qt:U:uVv", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case '4':
			ctl_opt.family = AF_INET;
			break;
		case '6':
			ctl_opt.family = AF_INET6;
			break;
		case 'f':
			ctl_opt.conf_path = optarg;
			break;
		case 'g':
			ctl_opt.greeting = true;
			break;
		case 'H':
			ctl_opt.host = optarg;
			break;
		case 'n':
			ctl_opt.count = strtonum(optarg, 1, 1000000000, &errstr);
			if (errstr != NULL)
				ctl_usage_error("count %s is %s (1 to "
				    "1000000000)", optarg, errstr);
			break;
		case 'p':
			ctl_opt.port = strtonum(optarg, 1, 65535, &errstr);
			if (errstr != NULL)
				ctl_usage_error("port %s is %s (1 to 65535)",
				    optarg, errstr);
			break;
		case 'q':
			ctl_opt.quiet = true;
			break;
		case OPT_RAW:
			ctl_opt.raw = true;
			break;
		case 't':
			ctl_opt.timeout_ms = (int)strtonum(optarg, 1, 3600,
			    &errstr) * 1000;
			if (errstr != NULL)
				ctl_usage_error("timeout %s is %s (1 to 3600 "
				    "seconds)", optarg, errstr);
			break;
		case 'U':
			if (optarg[0] == '\0')
				ctl_usage_error("the socket path is empty");
			ctl_opt.unix_path = optarg;
			break;
		case 'u':
			ctl_opt.udp = true;
			break;
		case 'V':
			printf("echoreplyctl %s\n", PACKAGE_VERSION);
			exit(0);
		case 'v':
			ctl_opt.verbose = true;
			break;
		case 'h':
			usage(0);
		default:
			usage(EX_USAGE);
		}
	}
	if (ctl_opt.quiet && ctl_opt.verbose)
		ctl_usage_error("-q and -v cannot be used together");
	if (ctl_opt.unix_path != NULL && (ctl_opt.host || ctl_opt.port || ctl_opt.udp ||
	    ctl_opt.family))
		ctl_usage_error("-U cannot be used with -H, -p, -u, -4 or -6");
	if (ctl_opt.host != NULL && ctl_opt.host[0] == '\0')
		ctl_usage_error("the host name is empty");
	for (i = optind; i < argc; i++) {
		if (strchr(argv[i], '\n') != NULL)
			ctl_usage_error("message %d contains a newline",
			    i - optind + 1);
	}
}


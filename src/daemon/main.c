#include <arpa/inet.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sysexits.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "listen.h"
#include "log.h"
#include "reply.h"
#include "server.h"

#ifndef ECHOREPLYD_CONF
#define ECHOREPLYD_CONF	"/etc/echoreplyd.conf"
#endif

#define STATUS_USEC	(2 * 1000 * 1000)

static const char	*conf_path = ECHOREPLYD_CONF;
static const struct conf *cur_conf;
static struct server	*srv;
static sd_event_source	*status_timer;
static char		 last_status[256];
static bool		 activated;	/* listeners came from systemd */
static int		 debug, verbose;

static void __attribute__((noreturn))
usage(int status)
{
	FILE	*fp = status == 0 ? stdout : stderr;

	fprintf(fp,
"usage: echoreplyd [-dhnvV] [-f file]\n"
"       echoreplyd [-f file] [--client address] [--listener name]\n"
"                  --reply message ...\n"
"  -f, --config FILE  configuration file (default %s)\n"
"  -n, --check        check the configuration and exit; with -v print it\n"
"  -d, --debug        log plain text to stderr, even under systemd\n"
"  -v, --verbose      log debug records too\n"
"  -V, --version      print the version and exit\n"
"      --reply MSG    print the rule and the exact reply MSG would get, and\n"
"                     exit; repeat for several messages on one connection\n"
"      --client ADDR  with --reply: the client's address, or address:port\n"
"      --listener NAME  with --reply: the listener (default: the first)\n"
"  -h, --help         print this help and exit\n", ECHOREPLYD_CONF);
	exit(status);
}

static void
report_stderr(const char *line, void *arg)
{
	(void)arg;
	fprintf(stderr, "%s\n", line);
}

static void
report_log(const char *line, void *arg)
{
	(void)arg;
	log_warnx("%s", line);
}

static int
same_listeners(const struct conf *a, const struct conf *b)
{
	size_t	 i;

	if (a->nlisteners != b->nlisteners)
		return 0;
	for (i = 0; i < a->nlisteners; i++) {
		const struct conf_listener *x = &a->listeners[i];
		const struct conf_listener *y = &b->listeners[i];

		if (x->type != y->type || x->salen != y->salen ||
		    memcmp(&x->sa, &y->sa, x->salen) ||
		    x->backlog != y->backlog || strcmp(x->name, y->name) ||
		    x->ipv6_only != y->ipv6_only ||
		    x->reuse_port != y->reuse_port)
			return 0;
	}
	return 1;
}

static enum log_target
log_target(const struct conf *c)
{
	switch (c->log_target) {
	case CONF_LOG_JOURNAL:
		return LOG_TARGET_JOURNAL;
	case CONF_LOG_STDERR:
		return LOG_TARGET_STDERR;
	default:
		return LOG_TARGET_AUTO;
	}
}

static void
notify_status(const char *state)
{
	server_status(srv, last_status, sizeof(last_status));
	sd_notifyf(0, "%sSTATUS=%s", state, last_status);
}

/* Keeps systemctl status current, sending only what changed. */
static int
on_status_timer(sd_event_source *s, uint64_t usec, void *arg)
{
	char	 status[sizeof(last_status)];

	(void)usec;
	(void)arg;
	server_status(srv, status, sizeof(status));
	if (strcmp(status, last_status) != 0) {
		strlcpy(last_status, status, sizeof(last_status));
		sd_notifyf(0, "STATUS=%s", status);
	}
	if (sd_event_source_set_time_relative(s, STATUS_USEC) < 0 ||
	    sd_event_source_set_enabled(s, SD_EVENT_ONESHOT) < 0)
		log_warnx("cannot schedule the next status update");
	return 0;
}

/* Start-up failure: tells the service manager and the log; returns status. */
static int
start_failed(int status, int errnum, const char *why)
{
	log_warnx("%s", why);
	log_flush();
	sd_notifyf(0, "STATUS=%s\nERRNO=%d", why, errnum);
	return status;
}

/* Returns 0, or the exit status after saying why it cannot start. */
static int
get_listeners(const struct conf *conf, struct listener **ls, size_t *nls)
{
	char		 err[512];
	int		 r;

	if ((r = listen_passed(ls, nls, err, sizeof(err))) < 0)
		return start_failed(r == -EPROTONOSUPPORT ? EX_CONFIG :
		    EX_OSERR, -r, err);
	if (r > 0) {
		activated = true;
		log_info("using %zu socket%s passed by the service manager; "
		    "the 'listen' settings of %s are not used", *nls,
		    *nls == 1 ? "" : "s", conf_path);
		return 0;
	}
	if ((r = listen_open(conf, ls, nls)) < 0) {
		snprintf(err, sizeof(err), "cannot open listeners: %s",
		    strerror(-r));
		return start_failed(EX_UNAVAILABLE, -r, err);
	}
	return 0;
}

static void
reload(void)
{
	struct conf	*c;
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading "
	    "%s", (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000, conf_path);
	if ((c = config_load(conf_path, report_log, NULL, NULL)) == NULL) {
		log_warnx("reload: %s has errors; keeping the running "
		    "configuration", conf_path);
	} else {
		/* with passed sockets the listen settings are not used */
		if (!activated && !same_listeners(c, cur_conf))
			log_warnx("reload: listener changes take effect only "
			    "after a restart");
		if ((c->user == NULL) != (cur_conf->user == NULL) ||
		    (c->user != NULL && strcmp(c->user, cur_conf->user) != 0))
			log_warnx("reload: a change of 'user' takes effect "
			    "only after a restart");
		log_init(debug, verbose, log_target(c));
		config_free((struct conf *)server_set_conf(srv, c));
		cur_conf = c;
		log_info("reload: configuration %s loaded", conf_path);
	}
	notify_status("READY=1\n");
}

/* Parses "192.0.2.1", "192.0.2.1:4000", "::1" or "[::1]:4000". */
static int
parse_client(const char *s, struct sockaddr_storage *ss, char *addr,
    size_t addrlen, unsigned int *port)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;
	const char		*errstr, *colon = NULL;
	char			 buf[INET6_ADDRSTRLEN + 8];

	memset(ss, 0, sizeof(*ss));
	*port = 0;
	if (strlcpy(buf, s, sizeof(buf)) >= sizeof(buf))
		return -1;
	if (buf[0] == '[') {
		char *end = strchr(buf, ']');

		if (end == NULL || (end[1] != '\0' && end[1] != ':'))
			return -1;
		*end = '\0';
		colon = end[1] == ':' ? end + 1 : NULL;
		memmove(buf, buf + 1, strlen(buf + 1) + 1);
	} else if (strchr(buf, ':') == strrchr(buf, ':') &&
	    (colon = strchr(buf, ':')) != NULL)
		*(char *)colon = '\0';
	if (colon != NULL) {
		*port = (unsigned int)strtonum(colon + 1, 0, 65535, &errstr);
		if (errstr != NULL)
			return -1;
	}
	if (inet_pton(AF_INET, buf, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)*port);
	} else if (inet_pton(AF_INET6, buf, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)*port);
	} else
		return -1;
	strlcpy(addr, buf, addrlen);
	return 0;
}

static void
dry_fill(struct template_ctx *ctx, unsigned int needs, void *arg)
{
	struct timespec	 ts;

	(void)arg;
	if (needs & TEMPLATE_NEED_TIME) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ctx->now_usec = (uint64_t)ts.tv_sec * 1000000 +
		    (uint64_t)ts.tv_nsec / 1000;
	}
	if (needs & TEMPLATE_NEED_SERVER) {
		ctx->server_address = "127.0.0.1";
		ctx->server_port = CONF_DEFAULT_PORT;
	}
}

/*
 * Shows what each message would get, as one connection would see it,
 * without opening any socket.
 */
static int
dry_run(const struct conf *conf, char **msgs, size_t n, const char *client,
    const char *listener)
{
	struct sockaddr_storage	 ss;
	struct template_ctx	 ctx;
	struct frame_msg	 m;
	struct reply		 res;
	struct buf		 out = { 0 };
	uint32_t		*cycle;
	unsigned int		 port;
	char			 addr[INET6_ADDRSTRLEN], host[256], label[32];
	char			*esc = NULL;
	size_t			 i;

	if (parse_client(client, &ss, addr, sizeof(addr), &port) < 0) {
		fprintf(stderr, "echoreplyd: --client %s: not an address or "
		    "address:port\n", client);
		return EX_USAGE;
	}
	if (listener == NULL)
		listener = conf->listeners[0].name;
	if (gethostname(host, sizeof(host) - 1) == -1)
		strlcpy(host, "localhost", sizeof(host));
	cycle = calloc(rules_cycle_slots(conf->rules) + 1, sizeof(*cycle));
	if (cycle == NULL)
		err(1, NULL);
	for (i = 0; i < n; i++) {
		memset(&ctx, 0, sizeof(ctx));
		ctx.client_address = addr;
		ctx.client_port = port;
		ctx.listener = listener;
		ctx.hostname = host;
		ctx.message_number = i + 1;
		ctx.connections = 1;
		m.data = msgs[i];
		m.len = strlen(msgs[i]);
		m.term = conf->framing == FRAME_LINE ? "\n" : "";
		m.term_len = strlen(m.term);
		out.len = 0;
		if (reply_build(conf, &m, (struct sockaddr *)&ss, &ctx,
		    dry_fill, NULL, cycle, &out, &res) < 0)
			err(1, NULL);
		if (res.rule == NULL)
			printf("rule: default\n");
		else
			printf("rule: %s (%s:%u)\n", reply_rule_label(res.rule,
			    label, sizeof(label)), conf->path, res.rule->line);
		if (res.silent)
			printf("reply: none\n");
		else {
			free(esc);
			if ((esc = malloc(LOG_ESCAPE_SIZE(out.len))) == NULL)
				err(1, NULL);
			printf("reply: \"%s\"\n", log_escape(esc, out.data,
			    out.len, out.len));
		}
		printf("delay_ms: %llu\nclose: %s\n",
		    (unsigned long long)res.delay_ms,
		    res.close ? "true" : "false");
	}
	free(esc);
	free(cycle);
	buf_free(&out);
	return 0;
}

/*
 * A daemon started with 0, 1 or 2 closed would hand that number to its
 * first socket, and log records would go to a client.
 */
static void
sane_stdio(void)
{
	int	 fd;

	for (fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) == -1 && errno == EBADF &&
		    open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) == -1)
			exit(EX_OSERR);
}

/* As root, become the configured user once the sockets are open. */
static void
drop_privileges(const struct conf *conf)
{
	struct passwd	*pw;

	if (geteuid() != 0)
		return;
	if (conf->user == NULL) {
		log_warnx("running as root: set 'user' in %s to drop "
		    "privileges after the sockets are open", conf_path);
		return;
	}
	if ((pw = getpwnam(conf->user)) == NULL)
		fatalx("user %s: no such user", conf->user);
	if (setgroups(1, &pw->pw_gid) == -1 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1)
		fatal("cannot become user %s", conf->user);
	if (setuid(0) != -1)
		fatalx("still able to become root after dropping privileges");
	log_info("running as user %s (uid %u, gid %u)", conf->user,
	    (unsigned int)pw->pw_uid, (unsigned int)pw->pw_gid);
}

static int
on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *arg)
{
	(void)s;
	(void)arg;
	switch (si->ssi_signo) {
	case SIGHUP:
		reload();
		break;
	default:
		log_info("%s received; shutting down",
		    si->ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
		status_timer = sd_event_source_disable_unref(status_timer);
		sd_notify(0, "STOPPING=1\nSTATUS=shutting down");
		server_shutdown(srv);
		break;
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "config",	required_argument,	NULL, 'f' },
		{ "check",	no_argument,		NULL, 'n' },
		{ "debug",	no_argument,		NULL, 'd' },
		{ "verbose",	no_argument,		NULL, 'v' },
		{ "version",	no_argument,		NULL, 'V' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "reply",	required_argument,	NULL, 'R' },
		{ "client",	required_argument,	NULL, 'C' },
		{ "listener",	required_argument,	NULL, 'L' },
		{ NULL,		0,			NULL, 0 }
	};
	const char	*client = "127.0.0.1", *listener = NULL;
	char		**dry = NULL;
	size_t		 ndry = 0;
	struct listener	*ls;
	struct conf	*conf;
	sd_event	*e = NULL;
	sigset_t	 mask;
	size_t		 nls;
	int		 ch, check = 0, r;

	sane_stdio();
	while ((ch = getopt_long(argc, argv, "f:ndvVh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			conf_path = optarg;
			break;
		case 'n':
			check = 1;
			break;
		case 'd':
			debug = 1;
			break;
		case 'v':
			verbose++;
			break;
		case 'V':
			printf("echoreplyd %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(0);
		case 'R':
			dry = reallocarray(dry, ndry + 1, sizeof(*dry));
			if (dry == NULL)
				err(1, NULL);
			dry[ndry++] = optarg;
			break;
		case 'C':
			client = optarg;
			break;
		case 'L':
			listener = optarg;
			break;
		default:
			usage(EX_USAGE);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "echoreplyd: unexpected argument '%s'\n",
		    argv[optind]);
		usage(EX_USAGE);
	}

	if ((conf = config_load(conf_path, report_stderr, NULL, NULL)) == NULL) {
		if (!check)
			sd_notifyf(0, "STATUS=configuration %s has errors\n"
			    "ERRNO=%d", conf_path, EINVAL);
		return EX_CONFIG;
	}
	if (ndry > 0) {
		r = dry_run(conf, dry, ndry, client, listener);
		free(dry);
		config_free(conf);
		return r;
	}
	if (check) {
		if (verbose)
			config_dump(conf, stdout);
		else
			printf("configuration OK\n");
		config_free(conf);
		return 0;
	}

	log_init(debug, verbose, log_target(conf));
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		fatal("signal");
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) == -1)
		fatal("sigprocmask");
	if ((r = sd_event_default(&e)) < 0) {
		errno = -r;
		fatal("sd_event_default");
	}
	if (sd_event_add_signal(e, NULL, SIGTERM, on_signal, NULL) < 0 ||
	    sd_event_add_signal(e, NULL, SIGINT, on_signal, NULL) < 0 ||
	    sd_event_add_signal(e, NULL, SIGHUP, on_signal, NULL) < 0)
		fatalx("cannot watch signals");
	if ((r = get_listeners(conf, &ls, &nls)) != 0) {
		config_free(conf);
		sd_event_unref(e);
		return r;
	}
	if ((r = server_new(e, conf, ls, nls, &srv)) < 0) {
		errno = -r;
		fatal("server");
	}
	cur_conf = conf;
	for (size_t i = 0; i < nls; i++)
		log_info("listening on %s (%s, %s)", ls[i].desc, ls[i].name,
		    listen_kind(&ls[i]));
	if (getenv("NOTIFY_SOCKET") != NULL &&
	    sd_event_add_time_relative(e, &status_timer, CLOCK_MONOTONIC,
	    STATUS_USEC, 0, on_status_timer, NULL) < 0)
		log_warnx("cannot schedule status updates");
	drop_privileges(conf);
	notify_status("READY=1\n");
	/* WATCHDOG=1 from the loop when WATCHDOG_USEC/WATCHDOG_PID say so;
	 * only now, as sd-event sends the first one at once */
	if ((r = sd_event_set_watchdog(e, 1)) < 0) {
		errno = -r;
		fatal("watchdog");
	}
	log_set_buffered(1);

	r = sd_event_loop(e);
	log_set_buffered(0);
	if (r < 0) {
		errno = -r;
		log_warn("event loop");
	}
	log_info("exiting");
	sd_event_source_disable_unref(status_timer);
	server_free(srv);
	config_free((struct conf *)cur_conf);
	sd_event_unref(e);
	log_flush();
	return r < 0 ? 1 : 0;
}

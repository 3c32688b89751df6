#include <err.h>
#include <errno.h>
#include <getopt.h>
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
"  -f, --config FILE  configuration file (default %s)\n"
"  -n, --check        check the configuration and exit; with -v print it\n"
"  -d, --debug        log plain text to stderr, even under systemd\n"
"  -v, --verbose      log debug records too\n"
"  -V, --version      print the version and exit\n"
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

/* Until datagram serving exists, a UDP listener is refused up front. */
static const char *
unservable(int type)
{
	return type == SOCK_DGRAM ? "UDP is not served yet" : NULL;
}

/* Returns 0, or the exit status after saying why it cannot start. */
static int
get_listeners(const struct conf *conf, struct listener **ls, size_t *nls)
{
	char		 err[512];
	const char	*why;
	size_t		 i;
	int		 r;

	if ((r = listen_passed(ls, nls, err, sizeof(err))) < 0)
		return start_failed(r == -EPROTONOSUPPORT ? EX_CONFIG :
		    EX_OSERR, -r, err);
	if (r > 0) {
		activated = true;
		log_info("using %zu socket%s passed by the service manager; "
		    "the 'listen' settings of %s are not used", *nls,
		    *nls == 1 ? "" : "s", conf_path);
		for (i = 0; i < *nls; i++) {
			if ((why = unservable((*ls)[i].type)) == NULL)
				continue;
			snprintf(err, sizeof(err), "socket %d (%s) passed by "
			    "the service manager is a %s socket on %s: %s",
			    (*ls)[i].fd, (*ls)[i].name, listen_kind(&(*ls)[i]),
			    (*ls)[i].desc, why);
			listen_close(*ls, *nls);
			return start_failed(EX_CONFIG, EPROTONOSUPPORT, err);
		}
		return 0;
	}
	for (i = 0; i < conf->nlisteners; i++) {
		if ((why = unservable(conf->listeners[i].type)) == NULL)
			continue;
		snprintf(err, sizeof(err), "listener %s in %s: %s",
		    conf->listeners[i].name, conf_path, why);
		return start_failed(EX_CONFIG, EPROTONOSUPPORT, err);
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
		log_init(debug, verbose, log_target(c));
		config_free((struct conf *)server_set_conf(srv, c));
		cur_conf = c;
		log_info("reload: configuration %s loaded", conf_path);
	}
	notify_status("READY=1\n");
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
		{ NULL,		0,			NULL, 0 }
	};
	struct listener	*ls;
	struct conf	*conf;
	sd_event	*e = NULL;
	sigset_t	 mask;
	size_t		 nls;
	int		 ch, check = 0, r;

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

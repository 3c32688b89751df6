#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
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

static const char	*conf_path = ECHOREPLYD_CONF;
static const struct conf *cur_conf;
static struct server	*srv;

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

		if (x->salen != y->salen || memcmp(&x->sa, &y->sa, x->salen) ||
		    x->backlog != y->backlog || strcmp(x->name, y->name))
			return 0;
	}
	return 1;
}

static void
notify_status(const char *state)
{
	char	 status[256];

	server_status(srv, status, sizeof(status));
	sd_notifyf(0, "%sSTATUS=%s", state, status);
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
		if (!same_listeners(c, cur_conf))
			log_warnx("reload: listener changes take effect only "
			    "after a restart");
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
	int		 ch, check = 0, debug = 0, verbose = 0, r;

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

	log_init(debug, verbose);
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
	sd_event_set_watchdog(e, 1);

	if ((r = listen_open(conf, &ls, &nls)) < 0) {
		sd_notifyf(0, "STATUS=cannot open listeners: %s\nERRNO=%d",
		    strerror(-r), -r);
		log_flush();
		return EX_UNAVAILABLE;
	}
	if ((r = server_new(e, conf, ls, nls, &srv)) < 0) {
		errno = -r;
		fatal("server");
	}
	cur_conf = conf;
	for (size_t i = 0; i < nls; i++)
		log_info("listening on %s (%s)", ls[i].desc, ls[i].name);
	notify_status("READY=1\n");
	log_set_buffered(1);

	r = sd_event_loop(e);
	log_set_buffered(0);
	if (r < 0) {
		errno = -r;
		log_warn("event loop");
	}
	log_info("exiting");
	server_free(srv);
	config_free((struct conf *)cur_conf);
	sd_event_unref(e);
	log_flush();
	return r < 0 ? 1 : 0;
}

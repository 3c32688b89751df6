/* SPDX-License-Identifier: ISC */
/* echoreplyd: options, configuration, signals, the service manager. */
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
#include <sys/resource.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "control.h"
#include "listen.h"
#include "log.h"
#include "metrics.h"
#include "monotonic.h"
#include "dryrun.h"
#include "server.h"
#include "stdfds.h"
#include "transport-tls.h"

#define STATUS_USEC	(2 * 1000 * 1000)
#define LOG_FINISH_MS	2000	/* at exit, for a blocked log to take the rest */

/* The running daemon: what signal and timer handlers act on. */
struct daemon {
	const char	*conf_path;
	struct conf	*conf;		/* in force */
	struct tls_set	*tls;		/* its TLS contexts */
	struct server	*srv;
	struct control	*control;	/* NULL: none */
	int		 control_fd;	/* passed by the service manager */
	struct metrics	*metrics;	/* NULL: none */
	int		 metrics_fd;	/* passed too */
	sd_event_source	*status_timer;
	char		 last_status[256];
	bool		 activated;	/* listeners came from systemd */
	bool		 debug;
	bool		 interactive;	/* the operator on our terminal */
	int		 verbose;
};

/*
 * What was printed on standard output reached it, or the status says
 * not: -V, -h, -n and --reply print for scripts, and a full disk or a
 * closed pipe must not look like success.
 */
static int
stdout_status(int status)
{
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "echoreplyd: standard output: %s\n",
		    strerror(errno != 0 ? errno : EIO));
		return status != 0 ? status : EX_IOERR;
	}
	return status;
}

static void __attribute__((noreturn))
usage(int status)
{
	FILE	*fp = status == 0 ? stdout : stderr;

	fprintf(fp,
"usage: echoreplyd [-dhinvV] [-f file]\n"
"       echoreplyd [-f file] [--client address] [--listener name]\n"
"                  [--sni name] [--seed N] --reply message ...\n"
"  -f, --config FILE  configuration file (default %s)\n"
"  -n, --check        check the configuration and exit; with -v print it\n"
"  -d, --debug        log plain text to stderr, even under systemd\n"
"  -i, --interactive  the operator's console on this terminal: messages of\n"
"                     rules with 'operator' are shown, a typed line answers\n"
"  -v, --verbose      log debug records too\n"
"  -V, --version      print the version and exit\n"
"      --reply MSG    print the rule and the exact reply MSG would get, and\n"
"                     exit; repeat for several messages on one connection\n"
"      --client ADDR  with --reply: the client's address, or address:port\n"
"      --listener NAME  with --reply: the listener (default: the first)\n"
"      --sni NAME     with --reply: the TLS server name the client asked for\n"
"      --seed N       with --reply: the seed of the draws (default: the\n"
"                     file's 'seed', else a random one)\n"
"  -h, --help         print this help and exit\n", CONF_DEFAULT_PATH);
	exit(status == 0 ? stdout_status(0) : status);
}

static void
report_stderr(const char *line, void *arg)
{
	(void)arg;
	fprintf(stderr, "%s\n", line);
}

static bool
same_listeners(const struct conf *a, const struct conf *b)
{
	size_t	 i;

	if (a->nlisteners != b->nlisteners)
		return false;
	for (i = 0; i < a->nlisteners; i++) {
		const struct conf_listener *x = &a->listeners[i];
		const struct conf_listener *y = &b->listeners[i];

		if (x->type != y->type || x->salen != y->salen ||
		    memcmp(&x->sa, &y->sa, x->salen) != 0 ||
		    x->backlog != y->backlog || strcmp(x->name, y->name) != 0 ||
		    x->ipv6_only != y->ipv6_only ||
		    x->reuse_port != y->reuse_port)
			return false;
	}
	return true;
}

static void
notify_status(struct daemon *d, const char *state)
{
	server_status(d->srv, d->last_status, sizeof(d->last_status));
	sd_notifyf(0, "%sSTATUS=%s", state, d->last_status);
}

/* Keeps systemctl status current, sending only what changed. */
static int
on_status_timer(sd_event_source *s, uint64_t usec, void *arg)
{
	struct daemon	*d = arg;
	char		 status[sizeof(d->last_status)];

	(void)usec;
	server_status(d->srv, status, sizeof(status));
	if (strcmp(status, d->last_status) != 0) {
		strlcpy(d->last_status, status, sizeof(d->last_status));
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
get_listeners(struct daemon *d, struct listener **ls, size_t *nls)
{
	char		 err[512];
	int		 r;

	if ((r = listen_passed(ls, nls, &d->control_fd, &d->metrics_fd, err,
	    sizeof(err))) < 0)
		return start_failed(r == -EPROTONOSUPPORT ? EX_CONFIG :
		    EX_OSERR, -r, err);
	if (r > 0) {
		d->activated = true;
		log_info("using %zu socket%s passed by the service manager; "
		    "the 'listen' settings of %s are not used", *nls,
		    *nls == 1 ? "" : "s", d->conf_path);
		return 0;
	}
	if ((r = listen_open(d->conf, ls, nls)) < 0) {
		snprintf(err, sizeof(err), "cannot open listeners: %s",
		    strerror(-r));
		return start_failed(EX_UNAVAILABLE, -r, err);
	}
	return 0;
}

/* What a reload says: in the log, and to whoever asked for it. */
struct reload_report {
	control_report_fn	 fn;
	void			*arg;
};

static void
report_reload(const char *line, void *arg)
{
	struct reload_report	*rr = arg;

	log_warnx("%s", line);
	if (rr->fn != NULL)
		rr->fn(line, rr->arg);
}

/* SIGHUP, or the control socket's reload. True when c is in force. */
static bool
reload(struct daemon *d, control_report_fn fn, void *arg)
{
	struct reload_report	 rr = { fn, arg };
	struct conf	*c;
	struct tls_set	*tls = NULL;
	bool		 loaded = false;

	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading "
	    "%s", (unsigned long long)(mono_ns() / 1000), d->conf_path);
	/* certificates too: a bad new one keeps the old configuration */
	if ((c = config_load(d->conf_path, report_reload, &rr, NULL)) ==
	    NULL || tls_set_load(c, report_reload, &rr, &tls) < 0) {
		log_warnx("reload: %s has errors; keeping the running "
		    "configuration", d->conf_path);
		if (c != NULL)
			config_free(c);
	} else {
		/* with passed sockets the listen settings are not used */
		if (!d->activated && !same_listeners(c, d->conf))
			log_warnx("reload: listener changes take effect only "
			    "after a restart");
		if ((c->user == NULL) != (d->conf->user == NULL) ||
		    (c->user != NULL && strcmp(c->user, d->conf->user) != 0))
			log_warnx("reload: a change of 'user' takes effect "
			    "only after a restart");
		log_init(d->debug, d->verbose, c->log_target);
		/* open connections keep the TLS contexts they came with */
		(void)server_set_conf(d->srv, c, tls);
		tls_set_free(d->tls);
		config_free(d->conf);
		d->conf = c;
		d->tls = tls;
		log_info("reload: configuration %s loaded", d->conf_path);
		loaded = true;
	}
	notify_status(d, "READY=1\n");
	return loaded;
}

static bool
control_reload(void *arg, control_report_fn fn, void *report_arg)
{
	return reload(arg, fn, report_arg);
}

/* As root, become the configured user once the sockets are open. */
static void
drop_privileges(const struct daemon *d)
{
	const struct conf	*conf = d->conf;
	struct passwd	*pw;

	if (geteuid() != 0)
		return;
	if (conf->user == NULL) {
		log_warnx("running as root: set 'user' in %s to drop "
		    "privileges after the sockets are open", d->conf_path);
		return;
	}
	/* cppcheck-suppress getpwnamCalled ; one thread */
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
	struct daemon	*d = arg;

	(void)s;
	switch (si->ssi_signo) {
	case SIGHUP:
		(void)reload(d, NULL, NULL);
		break;
	case SIGUSR1: {
		/* as xinetd does: the state, in the log */
		char status[160];

		server_status(d->srv, status, sizeof(status));
		log_info("SIGUSR1 received: %s", status);
		break;
	}
	case SIGUSR2:
	case SIGALRM:
		log_debug("signal %d received; ignored", (int)si->ssi_signo);
		break;
	default:
		log_info("%s received; shutting down",
		    si->ssi_signo == SIGINT ? "SIGINT" :
		    si->ssi_signo == SIGQUIT ? "SIGQUIT" : "SIGTERM");
		d->status_timer = sd_event_source_disable_unref(
		    d->status_timer);
		sd_notify(0, "STOPPING=1\nSTATUS=shutting down");
		server_shutdown(d->srv);
		break;
	}
	return 0;
}

/*
 * The usual soft limit of 1024 open files would leave clients past about a
 * thousand waiting: take the hard limit, and say so.
 */
static void
raise_files(void)
{
	struct rlimit	 rl;
	rlim_t		 was;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1) {
		log_warn("getrlimit");
		return;
	}
	if (rl.rlim_cur == rl.rlim_max)
		return;
	was = rl.rlim_cur;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1) {
		log_warn("cannot raise the open file limit from %llu",
		    (unsigned long long)was);
		return;
	}
	if (rl.rlim_max == RLIM_INFINITY)
		log_info("open file limit raised from %llu to unlimited",
		    (unsigned long long)was);
	else
		log_info("open file limit raised from %llu to %llu",
		    (unsigned long long)was, (unsigned long long)rl.rlim_max);
}

/* Serves until a signal ends it. Returns the exit status. */
static int
serve(struct daemon *d)
{
	struct listener	*ls;
	sd_event	*e = NULL;
	const struct control_hooks hooks = { control_reload, d };
	sigset_t	 mask;
	size_t		 i, nls;
	int		 r;

	log_init(d->debug, d->verbose, d->conf->log_target);
	/* keys are read here, before privileges are dropped */
	if (tls_set_load(d->conf, report_stderr, NULL, &d->tls) < 0) {
		sd_notifyf(0, "STATUS=configuration %s has errors\nERRNO=%d",
		    d->conf_path, EINVAL);
		return EX_CONFIG;
	}
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		fatal("signal");
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	/* no signal a user may send kills it without cleaning up */
	sigaddset(&mask, SIGQUIT);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGUSR2);
	sigaddset(&mask, SIGALRM);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) == -1)
		fatal("sigprocmask");
	/*
	 * A loop of its own, not sd_event_default(): the default loop
	 * checks its thread with a gettid() syscall on every iteration.
	 */
	if ((r = sd_event_new(&e)) < 0) {
		errno = -r;
		fatal("sd_event_new");
	}
	if (sd_event_add_signal(e, NULL, SIGTERM, on_signal, d) < 0 ||
	    sd_event_add_signal(e, NULL, SIGINT, on_signal, d) < 0 ||
	    sd_event_add_signal(e, NULL, SIGHUP, on_signal, d) < 0 ||
	    sd_event_add_signal(e, NULL, SIGQUIT, on_signal, d) < 0 ||
	    sd_event_add_signal(e, NULL, SIGUSR1, on_signal, d) < 0 ||
	    sd_event_add_signal(e, NULL, SIGUSR2, on_signal, d) < 0 ||
	    sd_event_add_signal(e, NULL, SIGALRM, on_signal, d) < 0)
		fatalx("cannot watch signals");
	raise_files();
	if ((r = get_listeners(d, &ls, &nls)) != 0) {
		sd_event_unref(e);
		return r;
	}
	if ((r = server_new(e, d->conf, d->tls, ls, nls, &d->srv)) < 0) {
		errno = -r;
		fatal("server");
	}
	/* made before privileges are dropped, in a directory root owns */
	if ((r = control_open(d->conf, d->control_fd, d->interactive,
	    &d->control)) < 0) {
		server_free(d->srv);
		sd_event_unref(e);
		return start_failed(EX_UNAVAILABLE, -r, "cannot open the "
		    "control socket");
	}
	if (d->control != NULL &&
	    (r = control_start(d->control, d->srv, &hooks)) < 0) {
		errno = -r;
		fatal("control socket");
	}
	/* opened only here: without one, nobody reads the messages back */
	if (d->control == NULL)
		server_drop_ring(d->srv);
	if ((r = metrics_open(d->conf, d->metrics_fd, &d->metrics)) < 0) {
		control_free(d->control);
		server_free(d->srv);
		sd_event_unref(e);
		return start_failed(EX_UNAVAILABLE, -r, "cannot open the "
		    "metrics listener");
	}
	if (d->metrics != NULL && (r = metrics_start(d->metrics, d->srv)) < 0) {
		errno = -r;
		fatal("metrics listener");
	}
	for (i = 0; i < nls; i++)
		log_info("listening on %s (%s, %s)", ls[i].desc, ls[i].name,
		    listen_kind(&ls[i]));
	if (getenv("NOTIFY_SOCKET") != NULL &&
	    sd_event_add_time_relative(e, &d->status_timer, CLOCK_MONOTONIC,
	    STATUS_USEC, 0, on_status_timer, d) < 0)
		log_warnx("cannot schedule status updates");
	drop_privileges(d);
	notify_status(d, "READY=1\n");
	/* WATCHDOG=1 from the loop when WATCHDOG_USEC/WATCHDOG_PID say so;
	 * only now, as sd-event sends the first one at once */
	if ((r = sd_event_set_watchdog(e, 1)) < 0) {
		errno = -r;
		fatal("watchdog");
	}
	log_set_buffered(true);
	/* start-up's records written, and its clock reading forgotten */
	server_dispatched(d->srv);

	/* sd_event_loop(), with the log written after each dispatch */
	while ((r = sd_event_run(e, UINT64_MAX)) >= 0) {
		server_dispatched(d->srv);
		if (sd_event_get_state(e) == SD_EVENT_FINISHED)
			break;
	}
	log_set_buffered(false);
	if (r < 0) {
		errno = -r;
		log_warn("event loop");
	}
	log_info("exiting");
	sd_event_source_disable_unref(d->status_timer);
	metrics_free(d->metrics);
	control_free(d->control);
	server_free(d->srv);
	sd_event_unref(e);
	log_finish(LOG_FINISH_MS);
	return r < 0 ? 1 : 0;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "config",	required_argument,	NULL, 'f' },
		{ "check",	no_argument,		NULL, 'n' },
		{ "debug",	no_argument,		NULL, 'd' },
		{ "interactive", no_argument,		NULL, 'i' },
		{ "verbose",	no_argument,		NULL, 'v' },
		{ "version",	no_argument,		NULL, 'V' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "reply",	required_argument,	NULL, 'R' },
		{ "client",	required_argument,	NULL, 'C' },
		{ "listener",	required_argument,	NULL, 'L' },
		{ "sni",	required_argument,	NULL, 'S' },
		{ "seed",	required_argument,	NULL, 'E' },
		{ NULL,		0,			NULL, 0 }
	};
	struct daemon	 d = { .conf_path = CONF_DEFAULT_PATH,
	    .control_fd = -1, .metrics_fd = -1 };
	const char	*client = "127.0.0.1", *listener = NULL, *sni = NULL;
	char		**dry = NULL;
	const char	*errstr;
	size_t		 ndry = 0;
	uint64_t	 seed = 0;
	bool		 seeded = false;
	bool		 check = false;
	int		 ch, r;

	if ((r = stdfds_open(O_WRONLY)) < 0)
		errc(EX_OSERR, -r, "/dev/null");
	while ((ch = getopt_long(argc, argv, "f:ndivVh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			d.conf_path = optarg;
			break;
		case 'n':
			check = true;
			break;
		case 'd':
			d.debug = true;
			break;
		case 'i':
			d.interactive = true;
			break;
		case 'v':
			d.verbose++;
			break;
		case 'V':
			printf("echoreplyd %s\n", PACKAGE_VERSION);
			if (tls_library() != NULL)
				printf("TLS: %s\n", tls_library());
			else
				printf("TLS: not built (--without-tls)\n");
			return stdout_status(0);
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
		case 'S':
			sni = optarg;
			break;
		case 'E':
			seed = (uint64_t)strtonum(optarg, 0, INT64_MAX, &errstr);
			if (errstr != NULL) {
				fprintf(stderr, "echoreplyd: --seed %s: %s\n",
				    optarg, errstr);
				free(dry);
				return EX_USAGE;
			}
			seeded = true;
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

	if ((d.conf = config_load(d.conf_path, report_stderr, NULL,
	    NULL)) == NULL || (check && ndry == 0 &&
	    tls_set_load(d.conf, report_stderr, NULL, &d.tls) < 0)) {
		if (!check)
			sd_notifyf(0, "STATUS=configuration %s has errors\n"
			    "ERRNO=%d", d.conf_path, EINVAL);
		free(dry);
		config_free(d.conf);
		return EX_CONFIG;
	}
	if (ndry > 0)
		r = dryrun(d.conf, dry, ndry, client, listener, sni,
		    seeded ? seed : d.conf->seeded ? d.conf->seed :
		    (uint64_t)(arc4random() & INT32_MAX));
	else if (check) {
		if (d.verbose)
			config_dump(d.conf, stdout);
		else
			printf("configuration OK\n");
		r = 0;
	} else
		r = serve(&d);
	if (ndry > 0 || check)
		r = stdout_status(r);
	free(dry);
	tls_set_free(d.tls);
	config_free(d.conf);
	tls_cleanup();
	return r;
}

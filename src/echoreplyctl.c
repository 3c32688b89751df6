#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include "buf.h"
#include "config.h"

#ifndef ECHOREPLYD_CONF
#define ECHOREPLYD_CONF	"/etc/echoreplyd.conf"
#endif

#define QUEUE_HIGH	(256 * 1024)	/* stop reading stdin above this */
#define REPLY_MAX	(16 * 1024 * 1024)

static int	 timeout_ms = 5000;

static void __attribute__((noreturn, format(printf, 2, 3)))
die(int status, const char *fmt, ...)
{
	va_list	 ap;

	fflush(stdout);
	fputs("echoreplyctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(status);
}

static void __attribute__((noreturn))
usage(int status)
{
	FILE	*fp = status == 0 ? stdout : stderr;

	fprintf(fp,
"usage: echoreplyctl [-hV] [-f file] [-H host] [-p port] [-t seconds] [message ...]\n"
"  -f, --config FILE   daemon configuration to take host and port from\n"
"                      (default %s)\n"
"  -H, --host HOST     host name or address to connect to\n"
"  -p, --port PORT     port to connect to\n"
"  -t, --timeout SECS  limit for connecting and for each reply (default 5)\n"
"  -V, --version       print the version and exit\n"
"  -h, --help          print this help and exit\n"
"Each argument is one message; with none, each line of standard input is one.\n",
	    ECHOREPLYD_CONF);
	exit(status);
}

static long long
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
report_config(const char *line, void *arg)
{
	(void)arg;
	fprintf(stderr, "echoreplyctl: %s\n", line);
}

/* Waits for a non-blocking connect; returns 0 or an errno. */
static int
wait_connect(int fd)
{
	struct pollfd	 pfd = { fd, POLLOUT, 0 };
	socklen_t	 len = sizeof(int);
	int		 r, err = 0;

	do {
		r = poll(&pfd, 1, timeout_ms);
	} while (r == -1 && errno == EINTR);
	if (r == 0)
		return ETIMEDOUT;
	if (r == -1)
		return errno;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		return errno;
	return err;
}

static int
connect_to(const char *host, const char *port)
{
	struct addrinfo	 hints, *res, *ai;
	int		 fd = -1, r, err = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((r = getaddrinfo(host, port, &hints, &res)) != 0) {
		if (r == EAI_SYSTEM)
			die(EX_NOHOST, "%s: %s", host, strerror(errno));
		die(EX_NOHOST, "%s: %s", host, gai_strerror(r));
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd == -1) {
			err = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		err = errno == EINPROGRESS ? wait_connect(fd) : errno;
		if (err == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd == -1) {
		if (err == ETIMEDOUT)
			die(EX_TEMPFAIL, "connect to %s port %s: timed out",
			    host, port);
		die(EX_UNAVAILABLE, "connect to %s port %s: %s", host, port,
		    strerror(err));
	}
	return fd;
}

static void
queue_message(struct buf *q, const char *msg, size_t len)
{
	if (buf_append(q, msg, len) < 0 || buf_append(q, "\n", 1) < 0)
		die(EX_OSERR, "out of memory");
}

/* Prints each complete reply line; returns how many it printed. */
static size_t
print_replies(struct buf *in)
{
	size_t	 off = 0, n = 0, len;
	char	*nl;

	while ((nl = memchr(in->data + off, '\n', in->len - off)) != NULL) {
		len = (size_t)(nl - (in->data + off));
		if (len > 0 && in->data[off + len - 1] == '\r')
			len--;
		if (fwrite(in->data + off, 1, len, stdout) != len ||
		    putchar('\n') == EOF)
			die(EX_IOERR, "standard output: %s", strerror(errno));
		off = (size_t)(nl - in->data) + 1;
		n++;
	}
	memmove(in->data, in->data + off, in->len - off);
	in->len -= off;
	if (in->len > REPLY_MAX)
		die(EX_PROTOCOL, "reply longer than %d bytes", REPLY_MAX);
	return n;
}

/*
 * Queues stdin lines as messages while there is room. Returns the number
 * of messages queued; sets *eof at end of input.
 */
static size_t
read_stdin(struct buf *line, struct buf *q, bool *eof)
{
	char	 chunk[16384];
	ssize_t	 n;
	size_t	 count = 0, off = 0;
	char	*nl;

	n = read(STDIN_FILENO, chunk, sizeof(chunk));
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		die(EX_IOERR, "standard input: %s", strerror(errno));
	}
	if (n == 0) {
		*eof = true;
		if (line->len > 0) {
			queue_message(q, line->data, line->len);
			line->len = 0;
			count++;
		}
		return count;
	}
	if (buf_append(line, chunk, (size_t)n) < 0)
		die(EX_OSERR, "out of memory");
	while ((nl = memchr(line->data + off, '\n', line->len - off)) != NULL) {
		queue_message(q, line->data + off,
		    (size_t)(nl - (line->data + off)));
		off = (size_t)(nl - line->data) + 1;
		count++;
	}
	memmove(line->data, line->data + off, line->len - off);
	line->len -= off;
	if (line->len > REPLY_MAX)
		die(EX_DATAERR, "standard input: line longer than %d bytes",
		    REPLY_MAX);
	return count;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "config",	required_argument,	NULL, 'f' },
		{ "host",	required_argument,	NULL, 'H' },
		{ "port",	required_argument,	NULL, 'p' },
		{ "timeout",	required_argument,	NULL, 't' },
		{ "version",	no_argument,		NULL, 'V' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL,		0,			NULL, 0 }
	};
	const char	*conf_path = NULL, *host = NULL, *errstr;
	char		 portstr[16];
	struct conf	*conf = NULL;
	struct buf	 q = { 0 }, in = { 0 }, line = { 0 };
	struct pollfd	 pfd[2];
	size_t		 qoff = 0, sent = 0, replied = 0, i;
	long long	 port = 0, deadline;
	bool		 use_stdin, in_eof, peer_eof = false;
	ssize_t		 n;
	int		 ch, fd, r;

	while ((ch = getopt_long(argc, argv, "f:H:p:t:Vh", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'f':
			conf_path = optarg;
			break;
		case 'H':
			host = optarg;
			break;
		case 'p':
			port = strtonum(optarg, 1, 65535, &errstr);
			if (errstr != NULL)
				die(EX_USAGE, "port %s is %s (1 to 65535)",
				    optarg, errstr);
			break;
		case 't':
			timeout_ms = (int)strtonum(optarg, 1, 3600, &errstr) *
			    1000;
			if (errstr != NULL)
				die(EX_USAGE, "timeout %s is %s (1 to 3600 "
				    "seconds)", optarg, errstr);
			break;
		case 'V':
			printf("echoreplyctl %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(0);
		default:
			usage(EX_USAGE);
		}
	}
	argc -= optind;
	argv += optind;
	for (i = 0; i < (size_t)argc; i++)
		if (strchr(argv[i], '\n') != NULL)
			die(EX_USAGE, "message %zu contains a newline", i + 1);

	if (host == NULL || port == 0) {
		/* no daemon config installed here: use the daemon defaults */
		if (conf_path == NULL && access(ECHOREPLYD_CONF, F_OK) == -1 &&
		    errno == ENOENT)
			conf = config_default();
		else
			conf = config_load(conf_path ? conf_path :
			    ECHOREPLYD_CONF, report_config, NULL, NULL);
		if (conf == NULL)
			exit(EX_CONFIG);
		if (host == NULL) {
			host = conf->listeners[0].address;
			if (strcmp(host, "0.0.0.0") == 0)
				host = "127.0.0.1";
			else if (strcmp(host, "::") == 0)
				host = "::1";
		}
		if (port == 0)
			port = conf->listeners[0].port;
	}
	snprintf(portstr, sizeof(portstr), "%lld", port);
	fd = connect_to(host, portstr);

	use_stdin = argc == 0;
	in_eof = !use_stdin;
	for (i = 0; i < (size_t)argc; i++)
		queue_message(&q, argv[i], strlen(argv[i]));
	sent = (size_t)argc;	/* counts queued messages */
	if (use_stdin)
		fcntl(STDIN_FILENO, F_SETFL,
		    fcntl(STDIN_FILENO, F_GETFL) | O_NONBLOCK);

	deadline = now_ms() + timeout_ms;
	while (!(in_eof && replied >= sent)) {
		int wait;

		pfd[0].fd = fd;
		pfd[0].events = POLLIN | (qoff < q.len ? POLLOUT : 0);
		pfd[1].fd = (!in_eof && q.len - qoff < QUEUE_HIGH) ?
		    STDIN_FILENO : -1;
		pfd[1].events = POLLIN;
		/* the reply clock runs only while a reply is owed */
		wait = -1;
		if (replied < sent) {
			wait = (int)(deadline - now_ms());
			if (wait <= 0)
				die(EX_TEMPFAIL, "timed out waiting for a "
				    "reply from %s port %s", host, portstr);
		}
		r = poll(pfd, 2, wait);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			die(EX_OSERR, "poll: %s", strerror(errno));
		}
		if (r == 0)
			continue;
		if (pfd[1].fd != -1 && (pfd[1].revents & (POLLIN | POLLHUP))) {
			size_t added = read_stdin(&line, &q, &in_eof);

			if (replied == sent && added > 0)
				deadline = now_ms() + timeout_ms;
			sent += added;
		}
		if (pfd[0].revents & POLLOUT) {
			n = send(fd, q.data + qoff, q.len - qoff, MSG_NOSIGNAL);
			if (n == -1 && errno != EAGAIN && errno != EINTR)
				die(EX_PROTOCOL, "connection closed before "
				    "the reply: %s", strerror(errno));
			if (n > 0)
				qoff += (size_t)n;
			if (qoff == q.len)
				qoff = q.len = 0;
		}
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			if (buf_reserve(&in, 65536) < 0)
				die(EX_OSERR, "out of memory");
			n = recv(fd, in.data + in.len, 65536, 0);
			if (n == -1 && errno != EAGAIN && errno != EINTR)
				die(EX_PROTOCOL, "connection closed before "
				    "the reply: %s", strerror(errno));
			if (n == 0)
				peer_eof = true;
			if (n > 0) {
				size_t got;

				in.len += (size_t)n;
				got = print_replies(&in);
				replied += got;
				if (got > 0)
					deadline = now_ms() + timeout_ms;
			}
		}
		if (peer_eof && replied < sent)
			die(EX_PROTOCOL, "connection closed before the reply");
		if (peer_eof && !in_eof)
			die(EX_PROTOCOL, "connection closed by the server");
	}
	if (fflush(stdout) == EOF)
		die(EX_IOERR, "standard output: %s", strerror(errno));
	close(fd);
	buf_free(&q);
	buf_free(&in);
	buf_free(&line);
	config_free(conf);
	return 0;
}

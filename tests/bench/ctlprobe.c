/* SPDX-License-Identifier: ISC */
/*
 * The control socket under load, for tests/bench/run (m): the round trip
 * of one control command while the load runs. On one connection, "stats"
 * once a millisecond, each sent after the answer before it has ended
 * (its last line "ok", or "error ..."). In C so that what is measured is
 * the daemon and the scheduler, not an interpreter sharing the core.
 *
 * usage: ctlprobe latency SOCKET SECONDS
 * prints "requests=N p50_us=X p99_us=Y max_us=Z errors=E"
 */
#include <err.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define BUFSZ		(64 * 1024)	/* an answer's lines, in pieces */
#define PERIOD_NS	1000000		/* a request each millisecond */
#define TIMEOUT_S	5		/* for one answer */
#define SLICE_NS	100000		/* the shortest the kernel gives */

static int64_t
now_ns(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
cmp(const void *a, const void *b)
{
	int64_t	 x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/*
 * Reads one whole answer; returns 1 for "ok", 0 for "error". The bytes
 * of a line that ends in the next read are kept at the buffer's start.
 */
static int
answer(int fd)
{
	static char	 buf[BUFSZ + 1];
	static size_t	 len;
	char		*line, *nl;
	ssize_t		 n;
	int		 r = -1;

	while (r == -1) {
		if (len == BUFSZ)
			errx(1, "a line of the answer is longer than %d bytes",
			    BUFSZ);
		if ((n = recv(fd, buf + len, BUFSZ - len, 0)) == -1) {
			if (errno == EINTR)
				continue;
			err(1, "recv");
		}
		if (n == 0)
			errx(1, "the daemon closed");
		len += (size_t)n;
		buf[len] = '\0';
		line = buf;
		while (r == -1 && (nl = strchr(line, '\n')) != NULL) {
			if (nl - line == 2 && strncmp(line, "ok", 2) == 0)
				r = 1;
			else if (strncmp(line, "error ", 6) == 0)
				r = 0;
			line = nl + 1;
		}
		/* one request at a time: nothing follows its last line */
		len -= (size_t)(line - buf);
		memmove(buf, line, len);
	}
	return r;
}

/* struct sched_attr of sched_setattr(2), which glibc 2.36 does not declare */
struct slice_attr {
	uint32_t	size, policy;
	uint64_t	flags;
	int32_t		nice;
	uint32_t	priority;
	uint64_t	runtime, deadline, period;
};

/*
 * A short time slice (Linux 6.12's EEVDF): the probe wakes to read its
 * answer while the load generator runs on the same core, and would wait
 * out the generator's slice (~1.5 ms) first. What is left to measure is
 * the daemon. Not fatal where the kernel does not know of slices.
 */
static bool
short_slice(void)
{
	struct slice_attr	 a = { .size = sizeof(a), .runtime = SLICE_NS };

	return syscall(SYS_sched_setattr, 0, &a, 0) == 0;
}

int
main(int argc, char *argv[])
{
	struct sockaddr_un	 sun;
	struct timeval		 tv = { .tv_sec = TIMEOUT_S };
	struct timespec		 ts;
	int64_t			*times = NULL, end, t0, next;
	size_t			 n = 0, cap = 0;
	double			 secs;
	char			*ep;
	int			 fd, errors = 0;

	if (argc != 4 || strcmp(argv[1], "latency") != 0)
		errx(2, "usage: ctlprobe latency SOCKET SECONDS");
	secs = strtod(argv[3], &ep);
	if (*ep != '\0' || !(secs > 0 && secs <= 3600))
		errx(2, "%s: not a number of seconds", argv[3]);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(argv[2]) >= sizeof(sun.sun_path))
		errx(2, "%s: too long for a socket path", argv[2]);
	strcpy(sun.sun_path, argv[2]);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		err(1, "%s", argv[2]);

	if (!short_slice())
		warn("sched_setattr: no short slice; the scheduler's delays "
		    "are measured too");
	end = now_ns() + (int64_t)(secs * 1e9);
	while ((t0 = now_ns()) < end) {
		if (send(fd, "stats\n", 6, MSG_NOSIGNAL) != 6)
			err(1, "send");
		if (answer(fd) == 0)
			errors++;
		if (n == cap) {
			cap = cap ? cap * 2 : 4096;
			if ((times = reallocarray(times, cap,
			    sizeof(*times))) == NULL)
				err(1, NULL);
		}
		times[n++] = now_ns() - t0;
		next = t0 + PERIOD_NS;
		ts.tv_sec = next / 1000000000;
		ts.tv_nsec = next % 1000000000;
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts,
		    NULL) == EINTR)
			;
	}
	close(fd);
	if (n == 0)
		errx(1, "no request answered");
	qsort(times, n, sizeof(*times), cmp);
	printf("requests=%zu p50_us=%.0f p99_us=%.0f max_us=%.0f errors=%d\n",
	    n, times[n / 2] / 1e3, times[n * 99 / 100 < n - 1 ?
	    n * 99 / 100 : n - 1] / 1e3, times[n - 1] / 1e3, errors);
	free(times);
	return 0;
}

/* SPDX-License-Identifier: ISC */
/*
 * Closed standard descriptors at start (src/lib/stdfds.c): each is taken
 * by /dev/null, input reading as empty, output and error as asked:
 * writable, or failing with EBADF. Each case runs in a child whose exit
 * status has a bit per check that failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/wait.h>

#include "stdfds.h"
#include "tap.h"

/* Closes the descriptors of mask, runs stdfds_open(); the failed checks. */
static int
child(int closed, int out_flags)
{
	char	 c;
	int	 fd, bad = 0;

	for (fd = 0; fd <= 2; fd++)
		if (closed & 1 << fd)
			close(fd);
	if (stdfds_open(out_flags) != 0)
		return 1;
	for (fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) == -1)
			bad |= 2;
	if ((fd = open("/dev/null", O_RDONLY)) < 3)
		bad |= 4;
	if (closed & 1 && read(0, &c, 1) != 0)
		bad |= 8;
	if (closed & 2 && (out_flags == O_WRONLY ? write(1, "x", 1) != 1 :
	    write(1, "x", 1) != -1 || errno != EBADF))
		bad |= 16;
	if (closed & 4 && (out_flags == O_WRONLY ? write(2, "x", 1) != 1 :
	    write(2, "x", 1) != -1 || errno != EBADF))
		bad |= 32;
	return bad;
}

static void
run(int closed, int out_flags, const char *what)
{
	pid_t	 pid;
	int	 status;

	fflush(stdout);
	if ((pid = fork()) == 0)
		_exit(child(closed, out_flags));
	ok(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0, "%s", what);
}

int
main(void)
{
	run(0, O_WRONLY, "none closed: nothing to do");
	run(1, O_WRONLY, "stdin closed: reads as empty");
	run(2, O_WRONLY, "stdout closed: writes are discarded");
	run(2, O_RDONLY, "stdout closed: writes fail with EBADF");
	run(7, O_WRONLY, "all three closed: all taken, in order");
	run(6, O_RDONLY, "stdout and stderr closed: both fail with EBADF");
	run(5, O_RDONLY, "stdin and stderr closed, stdout open");
	return tap_done();
}

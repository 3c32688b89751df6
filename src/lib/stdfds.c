/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <fcntl.h>

#include "stdfds.h"

int
stdfds_open(int out_flags)
{
	int	 fd;

	/* in order: the lowest free number is the one being filled */
	for (fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) == -1 && errno == EBADF &&
		    open("/dev/null", fd == 0 ? O_RDONLY : out_flags) == -1)
			return -errno;
	return 0;
}

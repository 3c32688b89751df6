/* SPDX-License-Identifier: ISC */
/*
 * Standard input, output and error at start: a program run with one of
 * them closed would give that number to the next file or socket it
 * opens, and what it prints would go there.
 */
#ifndef ECHOREPLYD_STDFDS_H
#define ECHOREPLYD_STDFDS_H

/*
 * Opens /dev/null on each of 0, 1 and 2 that is closed: standard input
 * reads as empty; standard output and error with out_flags, O_WRONLY to
 * discard what is written, O_RDONLY for writes to fail with EBADF as on
 * the closed descriptor. 0, or a negative errno.
 */
int	stdfds_open(int out_flags);

#endif

/* SPDX-License-Identifier: ISC */
/*
 * echoreplyctl -C: one command to the daemon's control socket, its
 * answer printed, and the exit status the answer's last line says; the
 * streams of follow, and the operator's console.
 */
#ifndef ECHOREPLYD_CTL_CONTROL_H
#define ECHOREPLYD_CTL_CONTROL_H

struct conf;
struct opts;

/*
 * Runs the command of o's words on the control socket that o, else conf
 * (NULL: none was read), names, and returns once it succeeded. Exits with
 * the status of any error.
 */
void	control_run(const struct opts *o, const struct conf *conf);

#endif

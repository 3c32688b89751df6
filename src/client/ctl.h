#ifndef ECHOREPLYD_CTL_H
#define ECHOREPLYD_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <netdb.h>
#include <sys/un.h>

struct conf;

/* The command line. */
struct ctl_opts {
	const char	*conf_path;
	const char	*host;
	long long	 port;		/* 0: not given */
	const char	*unix_path;
	bool		 udp;
	int		 family;	/* 0, AF_INET or AF_INET6 */
	bool		 raw;
	bool		 greeting;
	bool		 quiet;
	bool		 verbose;
	long long	 count;
	int		 timeout_ms;
};

extern struct ctl_opts	 ctl_opt;

/* Where echoreplyctl talks to, as the command line and config decide. */
struct ctl_target {
	int			 type;		/* SOCK_STREAM or SOCK_DGRAM */
	int			 family;	/* AF_UNIX, or for IP a hint:
						   AF_UNSPEC, AF_INET, AF_INET6 */
	const char		*host;		/* IP */
	char			 port[8];	/* IP */
	const char		*path;		/* AF_UNIX */
};

/* An open connection and how to reach the next address after it. */
struct ctl_peer {
	int			 fd;
	struct addrinfo		*res;		/* IP: every address found */
	struct addrinfo		*cur;		/* IP: the one in use */
	char			 name[300];	/* for messages */
};

/* Fills in ctl_opt; exits on a usage error or after -h or -V. */
void	ctl_parse_options(int argc, char *argv[]);
/* The daemon config named by -f, the installed one, or the defaults. */
struct conf *ctl_read_config(void);
/* Where to connect: the command line, else a listener of conf. */
void	ctl_choose_target(const struct conf *, struct ctl_target *);
/* A command line error, reported even with -q; exits with EX_USAGE. */
void	ctl_usage_error(const char *fmt, ...)
	    __attribute__((noreturn, format(printf, 1, 2)));

/* Prints "echoreplyctl: ..." unless quiet, and exits with status. */
void	ctl_die(int status, const char *fmt, ...)
	    __attribute__((noreturn, format(printf, 2, 3)));
/* A line on stderr with -v. */
void	ctl_verbose(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));

/*
 * Connects to the target, trying every address in turn, each within
 * timeout_ms. Exits with a sysexits(3) status when none answers.
 */
void	ctl_connect(const struct ctl_target *, int timeout_ms,
	    struct ctl_peer *);
/*
 * Datagrams only: moves to the next address, for when the current one
 * refused. Returns false when there is none.
 */
bool	ctl_next_address(struct ctl_peer *);
void	ctl_close(struct ctl_peer *);

#endif

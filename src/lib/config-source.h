/* SPDX-License-Identifier: ISC */
/*
 * The text libconfig parses: the configuration file with each file that
 * an @include line names read in where the line stands, and where every
 * line of that text came from. libconfig 1.5 puts its include directory
 * before an absolute path too, names an included file as it was written
 * rather than as it was opened, and drops a "\x00" from a string without
 * a word (and it has no hook for includes before 1.7), so the loader
 * reads the files itself and libconfig gets one text with no @include.
 */
#ifndef ECHOREPLYD_CONFIG_SOURCE_H
#define ECHOREPLYD_CONFIG_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct parser;

#define CFG_INCLUDE_DEPTH_MAX	10		/* as libconfig's */
#define CFG_SOURCE_MAX		(64 * 1024 * 1024)	/* bytes, in all */

struct cfg_origin {
	unsigned int	 file;		/* in cfg_source.files */
	unsigned int	 line;
};

struct cfg_source {
	char			 *text;		/* NUL-terminated */
	size_t			  len;
	struct cfg_origin	 *lines;	/* [i]: line i + 1 of text */
	size_t			  nlines;
	char			**files;	/* as opened; [0]: the file */
	size_t			  nfiles;
};

/*
 * Reads the configuration file path, open as fp, and what it includes
 * into s; what is wrong goes to p as "file:line: message". Returns -1
 * when there is no text to parse (a file that cannot be read or
 * included, a NUL byte), else 0, the errors found so far in p.
 */
int	cfg_source_read(struct cfg_source *, struct parser *, const char *path,
	    FILE *fp);
/* The file and line that line n of s->text came from (false: none). */
bool	cfg_source_where(const struct cfg_source *, int n, const char **file,
	    unsigned int *line);
void	cfg_source_free(struct cfg_source *);

#endif

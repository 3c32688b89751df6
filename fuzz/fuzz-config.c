/*
 * libFuzzer target for config loading: any bytes as a configuration
 * file must give a valid configuration or error lines, never a crash or
 * a leak; a valid one must dump to text that loads again.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
ignore(const char *line, void *arg)
{
	size_t	*n = arg;

	if (line[0] == '\0')
		abort();	/* an error line always says something */
	(*n)++;
}

static struct conf *
load(const char *text, size_t len, size_t *nerr)
{
	struct conf	*c;
	char		 path[64];
	int		 fd;

	if ((fd = memfd_create("fuzz.conf", 0)) == -1)
		abort();
	if (len > 0 && write(fd, text, len) != (ssize_t)len)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	c = config_load(path, ignore, nerr, NULL);
	close(fd);
	return c;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf	*c, *again;
	char		*dump = NULL;
	size_t		 dlen = 0, nerr = 0;
	FILE		*fp;

	if (memchr(data, '@', size) != NULL)
		return 0;	/* @include would read other files */
	c = load((const char *)data, size, &nerr);
	if (c == NULL) {
		if (nerr == 0)
			abort();	/* refused without saying why */
		return 0;
	}
	if ((fp = open_memstream(&dump, &dlen)) == NULL)
		abort();
	config_dump(c, fp);
	fclose(fp);
	nerr = 0;
	if ((again = load(dump, dlen, &nerr)) == NULL)
		abort();	/* the normalised form must load again */
	config_free(again);
	config_free(c);
	free(dump);
	return 0;
}

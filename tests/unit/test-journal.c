/* SPDX-License-Identifier: ISC */
/*
 * The native journal protocol's encoding (src/lib/journal.c): plain
 * fields as "NAME=value\n", values with newlines in the binary form with
 * their length little-endian, and nothing copied.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "journal.h"
#include "tap.h"

/* Flattens what journal_encode() made, as sendmsg() would send it. */
static size_t
flatten(const struct iovec *iov, int n, char *buf, size_t cap)
{
	size_t	 len = 0;
	int	 i;

	for (i = 0; i < n; i++) {
		if (len + iov[i].iov_len > cap)
			return 0;
		memcpy(buf + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	return len;
}

static void
test_plain(void)
{
	struct iovec	 in[3], out[3 * JOURNAL_IOV_PER_FIELD];
	uint64_t	 lens[3];
	char		 buf[256];
	size_t		 len;
	int		 n;

	in[0] = (struct iovec){ "MESSAGE=hello", 13 };
	in[1] = (struct iovec){ "PRIORITY=6", 10 };
	in[2] = (struct iovec){ "EMPTY=", 6 };
	n = journal_encode(in, 3, out, lens);
	ok(n == 6, "three plain fields: two entries each (%d)", n);
	len = flatten(out, n, buf, sizeof(buf));
	ok_bytes(buf, len, "MESSAGE=hello\nPRIORITY=6\nEMPTY=\n",
	    "plain fields, one line each");
	ok(out[0].iov_base == in[0].iov_base, "the field is not copied");
}

static void
test_binary(void)
{
	static const char want[] = "MESSAGE\n\x0b\0\0\0\0\0\0\0two\nlines!\n\n"
	    "A=b\n";
	struct iovec	 in[2], out[2 * JOURNAL_IOV_PER_FIELD];
	uint64_t	 lens[2];
	char		 buf[256];
	size_t		 len;
	int		 n;

	in[0] = (struct iovec){ "MESSAGE=two\nlines!\n", 19 };
	in[1] = (struct iovec){ "A=b", 3 };
	n = journal_encode(in, 2, out, lens);
	ok(n == 7, "a value with newlines: five entries (%d)", n);
	len = flatten(out, n, buf, sizeof(buf));
	ok(len == sizeof(want) - 1 && memcmp(buf, want, len) == 0,
	    "binary form: name, length 11 little-endian, value, newline "
	    "(%zu bytes)", len);
	ok(out[3].iov_base == (char *)in[0].iov_base + 8,
	    "the value is not copied");
}

static void
test_edges(void)
{
	struct iovec	 in[2], out[2 * JOURNAL_IOV_PER_FIELD];
	uint64_t	 lens[2];
	char		 buf[64];
	size_t		 len;
	int		 n;

	/* '=' inside the value: the name ends at the first one */
	in[0] = (struct iovec){ "K=a=b\nc", 7 };
	/* no '=' at all: sent as it is, never read past its end */
	in[1] = (struct iovec){ "ODD\nX", 5 };
	n = journal_encode(in, 2, out, lens);
	len = flatten(out, n, buf, sizeof(buf));
	ok(len == 2 + 8 + 5 + 1 + 6 && memcmp(buf, "K\n\5\0\0\0\0\0\0\0a=b\nc\n"
	    "ODD\nX\n", len) == 0, "name to the first '=', a field without "
	    "one as it is (%zu bytes)", len);
	ok(journal_encode(in, 0, out, lens) == 0, "no fields, nothing");
}

int
main(void)
{
	test_plain();
	test_binary();
	test_edges();
	return tap_done();
}

#!/bin/sh
# SPDX-License-Identifier: ISC
# The black-box tests that do not depend on timing, once more with every
# daemon under valgrind memcheck: a test fails when the daemon, stopped
# with SIGTERM at its end, reports an error or a definite leak.
set -eu
# never inside the sanitizer build's own make check
if [ -n "${ECHOREPLYD_NESTED:-}" ]; then
	echo "skipped inside a nested check"
	exit 77
fi
if ! command -v valgrind >/dev/null 2>&1; then
	echo "valgrind not found (apt-get install valgrind)"
	exit 77
fi
: "${PYTHON3:=python3}"
status=0
for t in basic framing lifecycle limits concurrency faults fault_ends \
    scenarios man_faults control operator metrics reload_random; do
	if VALGRIND=1 "$PYTHON3" "$TOP_SRCDIR/tests/blackbox/test_$t.py" \
	    >"valgrind-$t.out" 2>&1; then
		echo "valgrind: test_$t.py passed"
	else
		echo "valgrind: test_$t.py FAILED:"
		cat "valgrind-$t.out"
		status=1
	fi
	rm -f "valgrind-$t.out"
done
exit $status

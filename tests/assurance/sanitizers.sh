#!/bin/sh
# SPDX-License-Identifier: ISC
# The whole test suite once more, built with AddressSanitizer and
# UndefinedBehaviorSanitizer, in a scratch build made from the
# distribution files (make distdir), so this tree is not touched.
set -eu
# never inside the sanitizer build's own make check
if [ -n "${ECHOREPLYD_NESTED:-}" ]; then
	echo "skipped inside a nested check"
	exit 77
fi
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT INT TERM
make -s -C "${top_builddir:-.}" distdir distdir="$work/src" >/dev/null
cd "$work/src"
./configure -q --enable-sanitizers --disable-nested-checks \
	--with-systemdsystemunitdir="$work/units" >/dev/null
make -s -j2 >/dev/null
# ASan: fail on the first error; LeakSanitizer runs at every exit
ECHOREPLYD_NESTED=1 ASAN_OPTIONS=abort_on_error=0:detect_leaks=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
LSAN_OPTIONS="suppressions=$work/src/fuzz/lsan.supp" \
	make -s -j2 check >/dev/null 2>&1 || {
	echo "sanitizer build: make check failed:"
	cat test-suite.log
	exit 1
}
grep -E '^# (TOTAL|PASS|FAIL|SKIP|ERROR):' test-suite.log

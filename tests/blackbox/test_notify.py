# SPDX-License-Identifier: ISC
"""The service manager protocol, captured on our own NOTIFY_SOCKET:
READY=1 with STATUS=, STATUS= kept current, RELOADING=1 with
MONOTONIC_USEC= then READY=1, WATCHDOG=1 when WATCHDOG_USEC and
WATCHDOG_PID say so, STOPPING=1; STATUS= and ERRNO= on a failed start."""

import errno
import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import Daemon, check, equal, recv_until  # noqa: E402

# WATCHDOG_PID must be the daemon's own PID: a shell that execs it knows it
WITH_OWN_PID = ["sh", "-c", 'WATCHDOG_PID=$$; export WATCHDOG_PID; '
                'exec "$@"', "sh"]
WATCHDOG_USEC = 400000


def index_of(lines_list, key, start=0):
    for i in range(start, len(lines_list)):
        if key in lines_list[i]:
            return i
    raise AssertionError("no %s after #%d in %r" % (key, start, lines_list))


def test_notify_sequence():
    d = Daemon(prefix=WITH_OWN_PID,
               env={"WATCHDOG_USEC": str(WATCHDOG_USEC)}, expect_ready=False)
    ready = d.wait_notify("READY=1")
    check("STATUS=0 clients, 0 messages, 0 refused, 0 errors" in ready,
          "READY=1 without the initial STATUS=: %r" % ready)
    with d.connect() as s:
        s.sendall(b"one\n")
        equal(recv_until(s, 1), b"one\n", "reply")
        # kept current by a timer, without being asked
        d.wait_notify("STATUS=1 clients, 1 messages, 0 refused, 0 errors")
        d.wait_notify("WATCHDOG=1")
        before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        d.signal(signal.SIGHUP)
        reloading = d.wait_notify("RELOADING=1")
        after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        usec = [l for l in reloading if l.startswith("MONOTONIC_USEC=")]
        equal(len(usec), 1, "MONOTONIC_USEC= with RELOADING=1")
        value = int(usec[0].split("=", 1)[1])
        check(before <= value <= after, "MONOTONIC_USEC=%d not in [%d, %d]"
              % (value, before, after))
        d.wait_notify("READY=1")
        d.signal(signal.SIGTERM)
        stopping = d.wait_notify("STOPPING=1")
        check(any(l.startswith("STATUS=") for l in stopping),
              "STOPPING=1 without STATUS=: %r" % stopping)
    equal(d.proc.wait(harness.WAIT), 0, "exit status")

    seen = d.notifier.drain()
    i = index_of(seen, "READY=1")
    check(index_of(seen, "WATCHDOG=1") > i, "WATCHDOG=1 before READY=1: %r" % seen)
    i = index_of(seen, "STATUS=1 clients, 1 messages, 0 refused, 0 errors", i + 1)
    i = index_of(seen, "RELOADING=1", i + 1)
    i = index_of(seen, "READY=1", i + 1)
    index_of(seen, "STOPPING=1", i + 1)


def test_reloads_back_to_back_each_notified():
    """Twelve reloads asked on the control socket, no wait in between:
    each is answered, and each says RELOADING=1 (with MONOTONIC_USEC=)
    then READY=1, in order. More datagrams than a unix socket queues by
    default (10): the notify socket must be read as systemd reads it."""
    d = harness.ControlDaemon('control_socket = "@CONTROL@";\n')
    with harness.ControlClient(d.ctl_path) as c:
        for i in range(12):
            equal(c.request("reload")[1], "ok reloaded", "reload %d" % i)
    equal(d.stop(), 0, "exit status")
    seen = d.notifier.drain()
    i = index_of(seen, "READY=1")
    last = 0
    for n in range(12):
        i = index_of(seen, "RELOADING=1", i + 1)
        usec = [int(x.split("=", 1)[1]) for x in seen[i]
                if x.startswith("MONOTONIC_USEC=")]
        equal(len(usec), 1, "MONOTONIC_USEC= in reload %d: %r" % (n, seen[i]))
        check(usec[0] > last, "MONOTONIC_USEC= went back: %r" % seen[i])
        last = usec[0]
        i = index_of(seen, "READY=1", i + 1)
    index_of(seen, "STOPPING=1", i + 1)
    equal(sum("RELOADING=1" in x for x in seen), 12, "RELOADING=1 datagrams")


def test_no_watchdog_for_another_pid():
    d = Daemon(env={"WATCHDOG_USEC": "100000", "WATCHDOG_PID": "1"})
    # three watchdog periods of the loop turning, after READY=1
    deadline = time.monotonic() + 0.3
    with d.connect() as s:
        while time.monotonic() < deadline:
            s.sendall(b"x\n")
            recv_until(s, 1)
    d.stop()
    check(not any("WATCHDOG=1" in n for n in d.notifier.drain()),
          "WATCHDOG=1 though WATCHDOG_PID names another process")


def test_failed_start_says_why():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        d = Daemon(port=port, expect_ready=False)
        lines = d.wait_notify("ERRNO=%d" % errno.EADDRINUSE)
        equal(d.proc.wait(harness.WAIT), 69, "exit status")
    check("STATUS=cannot open listeners: Address already in use" in lines,
          "STATUS= in %r" % lines)


def test_config_error_says_why():
    d = Daemon('framing = "lines";\n', expect_ready=False)
    lines = d.wait_notify("ERRNO=%d" % errno.EINVAL)
    equal(d.proc.wait(harness.WAIT), 78, "exit status")
    check("STATUS=configuration %s has errors" % d.conf in lines,
          "STATUS= in %r" % lines)


if __name__ == "__main__":
    harness.run(globals())

# SPDX-License-Identifier: ISC
"""Hostile clients side by side with well-behaved ones, for a bounded time:
the well-behaved ones get every reply, the daemon's memory stays bounded,
and it exits cleanly at the end."""

import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import Daemon, check, equal, recv_until  # noqa: E402

DURATION = 4.0   # seconds of hostile traffic


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        return [int(l.split()[1]) for l in f if l.startswith("VmRSS:")][0]


def test_hostile_and_good_clients_side_by_side():
    d = Daemon('idle_timeout_ms = 1500;\nmax_message_bytes = 1024;\n'
               'max_queued_bytes = 65536;\nlog_messages = false;\n')
    stop = threading.Event()
    errors = []
    good_done = []

    def guard(fn):
        def run():
            try:
                fn()
            except Exception as e:  # a hostile client may be cut off
                if fn.__name__.startswith("good"):
                    errors.append("%s: %r" % (fn.__name__, e))
        return run

    def good_client():
        with d.connect() as s:
            n = 0
            while not stop.is_set():
                msg = b"good %d %s\n" % (n, b"x" * (n % 50))
                s.sendall(msg)
                equal(recv_until(s, 1), msg, "good reply")
                n += 1
            good_done.append(n)

    def slowloris():
        socks = []
        for _ in range(100):
            try:
                socks.append(d.connect())
            except OSError:
                break
        while not stop.is_set():
            for s in socks:
                try:
                    s.send(b"a")
                except OSError:
                    pass
            stop.wait(0.2)
        for s in socks:
            s.close()

    def flood_no_newline():
        while not stop.is_set():
            with d.connect() as s:
                try:
                    for _ in range(64):
                        s.sendall(b"z" * 16384)
                except OSError:
                    pass

    def never_reads():
        with d.connect() as s:
            s.settimeout(0.5)
            line = b"r" * 1000 + b"\n"
            while not stop.is_set():
                try:
                    s.sendall(line * 64)
                except (socket.timeout, OSError):
                    stop.wait(0.1)

    def connect_close_flood():
        while not stop.is_set():
            try:
                s = socket.create_connection((d.address, d.port), timeout=2)
                s.close()
            except OSError:
                pass

    def resetters():
        while not stop.is_set():
            try:
                s = socket.create_connection((d.address, d.port), timeout=2)
                s.sendall(b"bye\n" * 100)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                             b"\x01\x00\x00\x00\x00\x00\x00\x00")
                s.close()
            except OSError:
                pass

    workers = [good_client] * 8 + [slowloris, flood_no_newline,
                                   never_reads, never_reads,
                                   connect_close_flood, resetters]
    threads = [threading.Thread(target=guard(w), daemon=True)
               for w in workers]
    peak = rss_kib(d.proc.pid)
    for t in threads:
        t.start()
    deadline = time.monotonic() + DURATION
    while time.monotonic() < deadline:
        peak = max(peak, rss_kib(d.proc.pid))
        time.sleep(0.1)   # sampling memory, not waiting for the daemon
    stop.set()
    for t in threads:
        t.join(harness.WAIT)
        check(not t.is_alive(), "a client thread did not finish")
    equal(errors, [], "well-behaved clients")
    equal(len(good_done), 8, "every well-behaved client finished")
    check(min(good_done) > 10, "a well-behaved client was starved: %r" %
          good_done)
    check(peak < 96 * 1024, "daemon RSS peaked at %d KiB" % peak)
    equal(d.stop(), 0, "clean exit after the storm")


if __name__ == "__main__":
    harness.run(globals())

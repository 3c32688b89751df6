# SPDX-License-Identifier: ISC
"""Black-box tests: many clients at once; no client can stall another."""

import os
import selectors
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import Daemon, check, equal, recv_until  # noqa: E402

QUICK = 3.0     # seconds a reply may take while another client misbehaves


def exchange_all(socks, msgs, timeout=harness.WAIT):
    """Sends msgs[i] on socks[i] (all non-blocking) and reads until every
    socket has as many newlines as its message; returns the replies."""
    sel = selectors.DefaultSelector()
    out = {}
    got = {}
    for i, s in enumerate(socks):
        s.setblocking(False)
        out[i] = msgs[i]
        got[i] = b""
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE, i)
    pending = set(range(len(socks)))
    deadline = time.monotonic() + timeout
    while pending:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("%d of %d clients got no full reply in "
                                 "%ss, e.g. client %d got %r" %
                                 (len(pending), len(socks), timeout,
                                  min(pending), got[min(pending)]))
        for key, ev in sel.select(left):
            i = key.data
            s = key.fileobj
            if ev & selectors.EVENT_WRITE and out[i]:
                n = s.send(out[i])
                out[i] = out[i][n:]
                if not out[i]:
                    sel.modify(s, selectors.EVENT_READ, i)
            if ev & selectors.EVENT_READ:
                chunk = s.recv(65536)
                if not chunk:
                    raise AssertionError("client %d: EOF after %r" %
                                         (i, got[i]))
                got[i] += chunk
                if got[i].count(b"\n") >= msgs[i].count(b"\n"):
                    pending.discard(i)
                    sel.unregister(s)
    sel.close()
    return [got[i] for i in range(len(socks))]


def test_100_concurrent_clients():
    d = Daemon("log_messages = false;\n")
    socks = []
    try:
        for i in range(100):
            socks.append(d.connect())
        # every client is connected before any sends
        msgs = [b"client %03d says %s\n" % (i, b"q" * i) +
                b"and %03d again\r\n" % i for i in range(100)]
        replies = exchange_all(socks, msgs)
        for i in range(100):
            equal(replies[i], msgs[i], "client %d's replies" % i)
        d.wait_log("127.0.0.1:%d connected" % socks[-1].getsockname()[1])
        check(d.log().count(" connected to ") == 100,
              "100 connect records expected")
    finally:
        for s in socks:
            s.close()


def test_silent_and_slow_clients_do_not_delay_others():
    d = Daemon()
    silent = d.connect()
    slow = d.connect()
    slow.sendall(b"half a li")
    with d.connect() as fast:
        for i in range(20):
            fast.sendall(b"fast %d\n" % i)
            equal(recv_until(fast, 1, timeout=QUICK), b"fast %d\n" % i,
                  "fast client's reply")
    # the slow client's line is complete only now
    slow.sendall(b"ne\n")
    equal(recv_until(slow, 1), b"half a line\n", "slow client's reply")
    silent.sendall(b"now\n")
    equal(recv_until(silent, 1), b"now\n", "silent client's reply")
    silent.close()
    slow.close()


class Flooder(threading.Thread):
    """Sends lines without ever reading the replies; stops when a send
    makes no progress for `stall` seconds or when all is sent."""

    def __init__(self, sock, total, stall=1.0):
        super().__init__(daemon=True)
        self.sock = sock
        self.total = total
        self.stall = stall
        self.sent = 0
        self.stalled = threading.Event()
        self.error = None

    def run(self):
        line = b"f" * 4095 + b"\n"
        chunk = line * 16
        self.sock.settimeout(self.stall)
        try:
            while self.sent < self.total:
                self.sent += self.sock.send(chunk)
        except socket.timeout:
            self.stalled.set()
        except OSError as e:
            self.error = e


def test_flooding_client_does_not_stop_others():
    d = Daemon("log_messages = false;\n")
    # far more than socket buffers plus max_queued_bytes (about 8 MB here)
    total = 32 * 1024 * 1024
    flood = d.connect()
    flooder = Flooder(flood, total)
    flooder.start()
    try:
        with d.connect() as other:
            i = 0
            deadline = time.monotonic() + harness.WAIT
            # while the flood goes on, and after it has stalled
            while not (flooder.stalled.is_set() or not flooder.is_alive()):
                check(time.monotonic() < deadline,
                      "flooder neither stalled nor finished")
                other.sendall(b"other %d\n" % i)
                equal(recv_until(other, 1, timeout=QUICK),
                      b"other %d\n" % i, "other client's reply")
                i += 1
            for j in range(i, i + 20):
                other.sendall(b"other %d\n" % j)
                equal(recv_until(other, 1, timeout=QUICK),
                      b"other %d\n" % j, "other client's reply")
        check(flooder.error is None, "flooder: %r" % flooder.error)
        check(flooder.stalled.is_set(),
              "the server took all %d bytes from a client that reads no "
              "replies (max_queued_bytes is 1 MiB)" % flooder.sent)
    finally:
        flood.close()
        flooder.join(harness.WAIT)


if __name__ == "__main__":
    harness.run(globals())

# SPDX-License-Identifier: ISC
"""The control socket's 'wait ... all' over a large ring (issue 15): it
reads the ring in turns beside serving, finds what was recorded after it
even when the ring turns over, and its timeout holds under a flood. In a
file of its own: under valgrind these take a while."""

import os
import signal
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import check, equal, recv_until  # noqa: E402
from test_control import (CtlDaemon, counter, message_line,  # noqa: E402
                          parse_stats, poll, say, unvis)


def fill(d, a, payload, count):
    """Sends `count` pipelined messages on `a` and reads their echoes;
    every one is recorded."""
    before = counter(d.stats(), "messages")
    sender = threading.Thread(target=a.sendall, args=(payload,))
    sender.start()
    got = harness.recv_until(a, count, timeout=harness.WAIT * 4)
    sender.join()
    equal(got, payload, "every message echoed")
    equal(counter(d.stats(), "messages") - before, count, "all served")


def stopped(d):
    """The daemon stopped with SIGSTOP: what is sent meanwhile waits in
    its sockets, and all of it is ready at its next epoll_wait()."""
    d.proc.send_signal(signal.SIGSTOP)

    def state():
        with open("/proc/%d/stat" % d.proc.pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("T", "t")
    poll(state, "the daemon stopped")


def together(d, w, request, a, data):
    """Sends a control request on w and data on a while the daemon is
    stopped: both are ready at its next epoll_wait(), and the control
    socket is served first."""
    w.request("stats")      # accepted: its requests are read at once
    try:
        stopped(d)
        w.send(request)
        a.sendall(data)
    finally:
        d.proc.send_signal(signal.SIGCONT)


def matched(w):
    """A wait's answer: (final line, texts of the messages said)."""
    lines, final = w.answer(timeout=harness.WAIT * 4)
    return final, [unvis(message_line(x)["text"]) for x in lines]


# Costly for regexec() over these lines (some 40 us each here), which the
# hay does not match: a wait over 20,000 of them reads for some 0.8 s.
HAY = b"hay %06d " + b"ab" * 100 + b"\n"
COSTLY = "b.*a.*x"


# under valgrind everything is some 30 times slower: fewer do as well
RING_N = 5000 if harness.VALGRIND else 20000


class Flood:
    """A client sending hay, batch after batch, and reading the echoes,
    until stop()."""

    def __init__(self, d, hay=HAY, batch=200):
        self.s = d.connect()
        self.payload = b"".join(hay % i for i in range(batch))
        self.batch = batch
        self.done = threading.Event()
        self.error = None
        self.batches = 0
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        try:
            while not self.done.is_set():
                self.s.sendall(self.payload)
                got = recv_until(self.s, self.batch)
                if got != self.payload:
                    raise AssertionError("echoes differ")
                self.batches += 1
        except Exception as e:     # noqa: BLE001
            self.error = e

    def stop(self):
        self.done.set()
        self.t.join(harness.WAIT)
        self.s.close()
        check(self.error is None, "the flood: %r" % self.error)
        return self.batches


def test_wait_all_reads_the_ring_in_turns():
    """A wait over a large ring with a costly pattern does not hold up
    serving: a message that came with it is echoed while the wait still
    reads. A timeout shorter than the reading does not cut it short: what
    was recorded before is read first, then the timeout is said."""
    n = RING_N
    d = CtlDaemon("recorded_messages = %d;\nrecorded_bytes = 67108864;\n" %
                  (n + 100))
    a = d.connect()
    fill(d, a, b"".join(HAY % i for i in range(n - 1)) + b"needle bax\n", n)
    with d.ctl() as w:
        together(d, w, "wait 60000 all " + COSTLY, a, b"live\n")
        equal(recv_until(a, 1), b"live\n", "echoed beside the wait")
        check(w.silent(0), "the wait still reads when the echo is out")
        equal(matched(w), ("ok", [b"needle bax"]), "the match at the end")
        w.send("wait 1 all " + COSTLY)
        equal(matched(w), ("ok", [b"needle bax"]),
              "found, its timeout past")
        w.send("wait 1 all b.*a.*z")
        lines, final = w.answer(timeout=harness.WAIT * 4)
        equal((lines, final.split()[:2]), ([], ["error", "timeout"]),
              "read to the end, then the timeout")
    a.close()
    equal(d.stop(), 0, "exit status")


def test_wait_all_loses_none_recorded_after_it():
    """While a wait reads a full ring, messages come in faster than it
    reads and turn the ring over: those recorded before the wait may go
    unread, but the one recorded after it is found."""
    n = 20000
    d = CtlDaemon("recorded_messages = %d;\nrecorded_bytes = 67108864;\n" %
                  n)
    a = d.connect()
    fill(d, a, b"".join(HAY % i for i in range(n)), n)
    flood = b"".join(HAY % i for i in range(4 * n))
    with d.ctl() as w:
        together(d, w, "wait 5000 all " + COSTLY, a, b"needle bax\n")
        equal(recv_until(a, 1), b"needle bax\n", "the needle echoed")
        fill(d, a, flood, 4 * n)
        equal(matched(w), ("ok", [b"needle bax"]),
              "the message after the wait")
    a.close()
    equal(d.stop(), 0, "exit status")


def test_wait_all_found_as_the_ring_drops_it():
    """The message a wait looks for, recorded after it began, is dropped
    by the ring before the wait has read that far: it is found as it is
    dropped (the one wait there was ends inside the add), and the daemon
    goes on."""
    n = 100
    d = CtlDaemon("recorded_messages = %d;\n" % n)
    a = d.connect()
    fill(d, a, b"".join(HAY % i for i in range(n)), n)
    # one read of the daemon's takes the needle and the hay behind it
    after = b"needle bax\n" + b"".join(HAY % i for i in range(2 * n))
    with d.ctl() as w:
        together(d, w, "wait 60000 all " + COSTLY, a, after)
        equal(recv_until(a, 2 * n + 1), after, "all echoed")
        equal(matched(w), ("ok", [b"needle bax"]),
              "the message after the wait")
        equal(say(a, b"still served"), b"still served\n", "serving")
    a.close()
    equal(d.stop(), 0, "exit status")


def test_wait_all_times_out_under_a_flood():
    """A wait that reads the ring in turns while a client floods: once its
    time is up it reads what was recorded until then, not what keeps
    coming, and says the timeout; serving goes on meanwhile."""
    n = 20000
    d = CtlDaemon("recorded_messages = %d;\nrecorded_bytes = 67108864;\n" %
                  n)
    a = d.connect()
    fill(d, a, b"".join(HAY % i for i in range(n)), n)
    f = Flood(d)
    try:
        poll(lambda: f.batches > 0, "the flood served")
        with d.ctl() as w:
            w.send("wait 300 all b.*a.*z")
            lines, final = w.answer(timeout=harness.WAIT * 2)
            equal((lines, final.split()[:2]), ([], ["error", "timeout"]),
                  "the timeout, the flood still on")
            check(f.t.is_alive(), "the flood still on")
    finally:
        f.stop()
    equal(say(a, b"still served"), b"still served\n", "serving")
    a.close()
    equal(d.stop(), 0, "exit status")


def test_wait_all_over_a_large_ring():
    """wait all over 200,000 recorded messages: the first match is found
    wherever it lies, the request behind the wait waits its turn, a wait
    that finds nothing times out, and serving goes on after."""
    n = 200000
    needles = (1000, 150000, n - 1)
    d = CtlDaemon("recorded_messages = %d;\nrecorded_bytes = 67108864;\n" % n)
    a = d.connect()
    payload = b"".join((b"needle %06d\n" if i in needles else
                        b"hay %06d\n") % i for i in range(n))
    sender = threading.Thread(target=a.sendall, args=(payload,))
    sender.start()
    got = harness.recv_until(a, n, timeout=harness.WAIT * 4)
    sender.join()
    equal(got, payload, "every message echoed")
    equal(counter(d.stats(), "recorded_messages"), n, "all recorded")
    with d.ctl() as w:
        w.send("wait 60000 all ^needle")
        w.send("wait 60000 all ^needle %06d$" % (n - 1))
        w.send("stats")
        equal(matched(w), ("ok", [b"needle 001000"]), "the first match")
        equal(matched(w), ("ok", [b"needle %06d" % (n - 1)]),
              "the match at the end")
        lines, final = w.answer()
        equal((final, counter(parse_stats(lines), "messages")), ("ok", n),
              "the request behind the waits")
        w.send("wait 1000 all ^nowhere")
        lines, final = w.answer(timeout=harness.WAIT * 4)
        equal((lines, final.split()[:2]), ([], ["error", "timeout"]),
              "nothing found: the timeout")
        equal(say(a, b"still served"), b"still served\n", "serving")
    a.close()
    equal(d.stop(), 0, "exit status")


if __name__ == "__main__":
    harness.run(globals())

# SPDX-License-Identifier: ISC
"""The FAULTS and SCENARIOS examples of echoreplyd.conf(5) that no dry run
can show, run through the daemon: each file as the page has it (only its
port changed), with real clients on loopback.

Draws are checked two ways: against a statistical bound, and, where the
file sets a seed, against the dry run, which draws as the first
connection does, or against a second daemon, which must draw the same."""

import codecs
import os
import re
import select
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import Daemon, check, equal, recv_until  # noqa: E402
import test_conf_examples  # noqa: E402


def example(name):
    for fname, lines in test_conf_examples.blocks():
        if fname == name:
            return "\n".join(lines) + "\n"
    raise AssertionError("no example file %s in echoreplyd.conf(5)" % name)


def start(name, proto_port=7000):
    """The daemon on the page's file; its listener moved to a free port."""
    text = example(name)
    if "listen" in text:
        port = harness.free_port()
        text = text.replace("port = %d;" % proto_port,
                            'address = "127.0.0.1"; port = %d;' % port)
        return Daemon(text, port=port, listen=False)
    return Daemon(text)


def dry(path, msgs):
    """The replies of the dry run, as bytes, one per message."""
    argv = [harness.ECHOREPLYD, "-f", path]
    for m in msgs:
        argv += ["--reply", m]
    r = subprocess.run(argv, capture_output=True, timeout=harness.WAIT)
    equal(r.returncode, 0, "dry run exit status (%r)" % r.stderr)
    out = []
    for line in r.stdout.decode().split("\n"):
        if line.startswith('reply: "'):
            out.append(codecs.escape_decode(line[8:-1].encode())[0])
        elif line == "reply: none":
            out.append(b"")
    equal(len(out), len(msgs), "replies in the dry run")
    return out


def test_flaky_fails_one_in_ten_as_the_dry_run_says():
    d = start("flaky.conf")
    n = 1000
    msgs = ["GET /%d" % i for i in range(n)]
    want = dry(d.conf, msgs)
    s = d.connect()
    got = []
    for i in range(0, n, 100):
        s.sendall("".join(m + "\n" for m in msgs[i:i + 100]).encode())
        got += [line + b"\n" for line in
                recv_until(s, 100).split(b"\n")[:-1]]
    s.close()
    fails = sum(1 for r in got if r == b"503 try again\n")
    equal(fails + sum(1 for r in got if r == b"200 ok\n"), n,
          "every reply is one of the two")
    # 0.1 of 1000: sigma 9.5; five of them
    check(52 <= fails <= 148, "%d of %d failed, not about 100" % (fails, n))
    # seed = 1: the first connection draws what the dry run drew
    equal(got, want, "the first connection's replies and the dry run's")


def test_noise_jitters_in_range_and_garbage_keeps_it_open():
    d = start("noise.conf")
    want = dry(d.conf, ["noise", "GET /"])
    s = d.connect()
    s.sendall(b"noise\n")
    garbage = b""
    while len(garbage) < 64:
        chunk = s.recv(64 - len(garbage))
        check(chunk != b"", "closed after %d bytes of garbage" % len(garbage))
        garbage += chunk
    equal(garbage, want[0], "the garbage the dry run drew with seed = 1")
    lat = []
    for i in range(3):
        t0 = time.monotonic()
        s.sendall(b"GET /%d\n" % i)
        equal(recv_until(s, 1), b"200 ok\n", "reply after the garbage")
        lat.append(time.monotonic() - t0)
    s.close()
    for x in lat:
        check(0.045 <= x <= 1.5 + 2.0, "a delay of %.3f s, not in "
              "[50, 1500] ms" % x)
    check(max(lat) - min(lat) > 0.001, "three delays all the same: %r" % lat)


def test_lossy_drops_one_datagram_in_five():
    d = start("lossy.conf")
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    n, got = 1000, set()
    for i in range(0, n, 50):
        for k in range(i, i + 50):
            u.sendto(b"%d" % k, ("127.0.0.1", d.port))
        # the replies of this batch; silence for a while ends it
        while True:
            r, _, _ = select.select([u], [], [], 0.3)
            if not r:
                break
            data = u.recv(100)
            got.add(int(data))
    u.close()
    # 0.8 of 1000 answered: sigma 12.6; five of them
    check(737 <= len(got) <= 863, "%d of %d answered, not about 800" %
          (len(got), n))
    check(all(0 <= k < n for k in got), "replies echo what was sent")


def rough_clients(port, n):
    """n clients at once: what each saw, 'reset', 'closed' or 'served'."""
    seen = [None] * n

    def one(i):
        try:
            # a reset at accept may come before connect() returns
            s = socket.create_connection(("127.0.0.1", port),
                                         timeout=harness.WAIT)
        except ConnectionResetError:
            seen[i] = "reset"
            return
        try:
            s.sendall(b"".join(b"m%d\n" % k for k in range(11)))
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except (ConnectionResetError, BrokenPipeError):
            seen[i] = "reset"
            return
        finally:
            s.close()
        want = b"".join(b"m%d\n" % k for k in range(10))
        if data == b"":
            seen[i] = "closed"
        elif data == want:
            seen[i] = "served"
        else:
            seen[i] = "wrong %r" % data[:80]

    ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(harness.WAIT * 2)
        check(not t.is_alive(), "a client of the rough listener hangs")
    return seen


def test_rough_drops_one_in_ten_and_serves_the_rest():
    n = 120
    t0 = time.monotonic()
    d = start("rough.conf")
    seen = rough_clients(d.port, n)
    took = time.monotonic() - t0
    wrong = [x for x in seen if x not in ("reset", "closed", "served")]
    equal(wrong, [], "what the clients saw")
    resets, closes = seen.count("reset"), seen.count("closed")
    # 0.05 each of 120: 6 expected, sigma 2.4
    check(resets <= 20 and closes <= 20 and resets + closes >= 1,
          "%d reset and %d closed of %d" % (resets, closes, n))
    check(took < 3.0 + 20, "served in %.1f s: open_delay_ms is at most 3 s "
          "and 10 short replies at 2000 B/s take well under one" % took)
    if resets:
        d.wait_log("reset at accept (accept_reset_probability)")
    # seed = 42: connections 1..n draw the same whichever client is which
    d2 = start("rough.conf")
    seen2 = rough_clients(d2.port, n)
    equal((seen2.count("reset"), seen2.count("closed")), (resets, closes),
          "the same seed, the same share of resets and closes")


if __name__ == "__main__":
    harness.run(globals())

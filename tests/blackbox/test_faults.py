# SPDX-License-Identifier: ISC
"""Faults (issue 14), each seen from a real client on loopback: resets,
half closes, garbage, truncation, chunks and bandwidth, hangs, delay
ranges, probabilities and the seed, duplicates, the per-listener faults
at accept, over UDP too, and a good client served beside the faulty ones."""

import math
import os
import re
import select
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import Daemon, check, equal, recv_until  # noqa: E402
from harness import TempDir  # noqa: E402

# upper bounds on durations are generous, and more so under valgrind
SLOW = harness.SLOW


def peer(s):
    """How the daemon's log names this client."""
    return "127.0.0.1:%d" % s.getsockname()[1]


def listen_line(d):
    return 'listen = { address = "127.0.0.1"; port = %d; };\n' % d.port


def read_to_eof(s, timeout=harness.WAIT):
    return recv_until(s, None, timeout=timeout)


def read_exact(s, n, timeout=harness.WAIT):
    """Exactly n bytes (fails on EOF or timeout before them)."""
    deadline = time.monotonic() + timeout
    data = b""
    while len(data) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("only %d of %d bytes within %ss: %r" %
                                 (len(data), n, timeout, data[-100:]))
        s.settimeout(left)
        chunk = s.recv(n - len(data))
        if not chunk:
            raise AssertionError("EOF after %d of %d bytes: %r" %
                                 (len(data), n, data[-100:]))
        data += chunk
    return data


def read_until_reset(s, timeout=harness.WAIT):
    """Everything before the connection is reset; fails on EOF (a FIN is
    not a reset) or when nothing ends it in time."""
    deadline = time.monotonic() + timeout
    data = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("no reset within %ss; got %r" %
                                 (timeout, data[-100:]))
        s.settimeout(left)
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            return data
        if not chunk:
            raise AssertionError("EOF (FIN) instead of a reset after %r" %
                                 data[-100:])
        data += chunk


def abort(s):
    """Closes s with an RST (so that a daemon that does not read us sees
    it), not a FIN queued behind unsent bytes."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def fill_window(s, limit=64 << 20, timeout=harness.WAIT):
    """Writes lines without blocking until send() would block; returns the
    bytes sent. Fails past `limit` bytes or `timeout` seconds."""
    block = (b"q" * 63 + b"\n") * 1024
    s.setblocking(False)
    sent = 0
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                sent += s.send(block)
            except BlockingIOError:
                return sent
            except (BrokenPipeError, ConnectionResetError) as e:
                raise AssertionError("connection ended after %d bytes: %r" %
                                     (sent, e))
            check(sent < limit, "still not blocked after %d bytes: the "
                  "daemon keeps reading" % sent)
            check(time.monotonic() < deadline, "still not blocked after "
                  "%ss (%d bytes)" % (timeout, sent))
    finally:
        s.settimeout(harness.WAIT)


def nothing_within(s, seconds):
    """True when neither a byte nor EOF arrives on s for `seconds`."""
    r, _, _ = select.select([s], [], [], seconds)
    if not r:
        return True
    s.setblocking(False)
    try:
        data = s.recv(100, socket.MSG_PEEK)
    except ConnectionResetError:
        data = "a reset"
    finally:
        s.settimeout(harness.WAIT)
    raise AssertionError("expected silence, got %r" % (data or "EOF"))


def pipelined(s, msgs, batch=500):
    """Sends msgs (one line each) in batches, reading each batch's replies
    before the next: the replies, one per message, without their \\n."""
    replies = []
    for i in range(0, len(msgs), batch):
        part = msgs[i:i + batch]
        s.sendall(b"".join(m + b"\n" for m in part))
        got = recv_until(s, len(part))
        lines = got.split(b"\n")
        equal(lines[-1], b"", "replies end with a newline")
        equal(len(lines) - 1, len(part), "replies in batch %d" % i)
        replies += lines[:-1]
    return replies


def udp_daemon(body, seed=None):
    port = harness.free_port()
    d = Daemon('listen = { name = "dg"; protocol = "udp"; '
               'address = "127.0.0.1"; port = %d; };\n' % port +
               ("seed = %d;\n" % seed if seed is not None else "") + body,
               port=port, listen=False)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(harness.WAIT)
    u.connect(("127.0.0.1", port))
    return d, u


def daemon_run(*args):
    return subprocess.run([harness.ECHOREPLYD] + list(args),
                          stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=harness.WAIT)


# -- reset -----------------------------------------------------------------

def test_reset_after_reply():
    d = Daemon('rules = ( { exact = "boom"; reply = "last words"; '
               'reset = true; } );\n')
    with d.connect() as s:
        s.sendall(b"hello\n")
        equal(recv_until(s, 1), b"hello\n", "before the reset rule")
        s.sendall(b"boom\n")
        equal(read_until_reset(s), b"last words\n",
              "the reply, then ECONNRESET")


def test_reset_after_long_reply_sends_every_byte_first():
    # the RST waits until the client's TCP has acknowledged the reply
    d = Daemon('max_message_bytes = 100000;\n'
               'rules = ( { prefix = "boom"; reply = "%{message}"; '
               'reset = true; } );\n')
    msg = b"boom" + b"z" * 60000
    with d.connect() as s:
        s.sendall(msg + b"\n")
        got = read_until_reset(s)
        equal(len(got), len(msg) + 1, "bytes before the reset")
        equal(got, msg + b"\n", "the whole reply before the reset")


def test_reset_after_truncated_reply():
    # "after the reply (if any; possibly truncated)": the end action is
    # the reset, not the close that truncate implies on its own
    d = Daemon('rules = ( { exact = "cut"; reply = "0123456789"; '
               'truncate = 4; reset = true; } );\n')
    with d.connect() as s:
        s.sendall(b"cut\n")
        equal(read_until_reset(s), b"0123", "4 bytes, then ECONNRESET")


def test_reset_without_reply():
    d = Daemon('rules = ( { exact = "rst"; no_reply = true; reset = true; '
               '} );\n')
    with d.connect() as s:
        s.sendall(b"ok\n")
        equal(recv_until(s, 1), b"ok\n", "served")
        s.sendall(b"rst\n")
        equal(read_until_reset(s), b"", "an RST and not a byte")


# -- half_close ------------------------------------------------------------

def test_half_close_keeps_reading_and_logging():
    d = Daemon('rules = ( { exact = "half"; reply = "bye half"; '
               'half_close = true; } );\n')
    s = d.connect()
    p = peer(s)
    try:
        s.sendall(b"first\n")
        equal(recv_until(s, 1), b"first\n", "before the half close")
        s.sendall(b"half\n")
        equal(read_to_eof(s), b"bye half\n", "the reply, then a FIN")
        # our side is still open: writes succeed, and the daemon reads
        # and logs them (one at a time: had it closed after the first,
        # the second would never be logged)
        s.sendall(b"after 1\n")
        d.wait_log('%s message 3: "after 1"' % p)
        s.sendall(b"after 2\n")
        d.wait_log('%s message 4: "after 2"' % p)
        check("%s disconnected" % p not in d.log(),
              "the daemon ended the half-closed connection:\n" + d.log())
        # no reply can follow a FIN; a reset would show here
        equal(s.recv(100), b"", "still EOF, not a reset")
    finally:
        s.close()
    d.wait_log("%s disconnected" % p)


# -- garbage and truncate --------------------------------------------------

def test_garbage_after_reply_then_close():
    d = Daemon('rules = ( { exact = "junk"; reply = "ok"; garbage = 37; },\n'
               '  { exact = "only"; no_reply = true; garbage = 5; } );\n')
    with d.connect() as s:
        s.sendall(b"junk\nnot answered\n")
        got = read_to_eof(s)
        equal(len(got), 3 + 37, "reply and 37 bytes of garbage: %r" % got)
        equal(got[:3], b"ok\n", "the reply comes first")
        check(len(set(got[3:])) > 1, "garbage is one byte repeated: %r" %
              got[3:])
    with d.connect() as s:
        s.sendall(b"only\n")
        equal(len(read_to_eof(s)), 5, "garbage alone with no_reply")


def test_garbage_keep_open():
    d = Daemon('rules = ( { exact = "junk"; reply = "ok"; garbage = 10; '
               'keep_open = true; } );\n')
    with d.connect() as s:
        s.sendall(b"junk\n")
        got = read_exact(s, 3 + 10)
        equal(got[:3], b"ok\n", "the reply first")
        # exactly 10: the next reply starts right after them
        s.sendall(b"next\n")
        equal(read_exact(s, 5), b"next\n", "the connection goes on")
        s.shutdown(socket.SHUT_WR)
        equal(read_to_eof(s), b"", "nothing more")


def test_truncate_then_close():
    d = Daemon('rules = ( { exact = "cut"; reply = "0123456789"; '
               'truncate = 4; },\n'
               '  { exact = "zero"; reply = "0123456789"; truncate = 0; },\n'
               '  { exact = "long"; reply = "abc"; truncate = 100; } );\n')
    with d.connect() as s:
        s.sendall(b"cut\nnever\n")
        equal(read_to_eof(s), b"0123", "the first 4 bytes, then EOF")
    with d.connect() as s:
        s.sendall(b"zero\n")
        equal(read_to_eof(s), b"", "truncate = 0: nothing, then EOF")
    with d.connect() as s:
        s.sendall(b"long\n")
        equal(read_to_eof(s), b"abc\n", "shorter than N: all of it, EOF")


def test_truncate_keep_open():
    d = Daemon('rules = ( { exact = "cut"; reply = "abcdefgh"; '
               'truncate = 3; keep_open = true; } );\n')
    with d.connect() as s:
        s.sendall(b"cut\nmore\n")
        equal(recv_until(s, 1), b"abcmore\n",
              "3 bytes, then the next message's reply")
        s.sendall(b"cut\n")
        equal(read_exact(s, 3), b"abc", "again")
        s.shutdown(socket.SHUT_WR)
        equal(read_to_eof(s), b"", "nothing more")


def test_duplicate_truncate_garbage_compose_in_order():
    # rendered "abc\n", duplicated (12 bytes), cut to 6, 3 bytes appended
    d = Daemon('rules = ( { exact = "mix"; reply = "abc"; duplicate = 2; '
               'truncate = 6; garbage = 3; } );\n')
    with d.connect() as s:
        s.sendall(b"mix\n")
        got = read_to_eof(s)
        equal(len(got), 9, "bytes: %r" % got)
        equal(got[:6], b"abc\nab", "duplicated, then cut")


# -- chunks and bandwidth --------------------------------------------------

def test_chunks_trickle_in_order():
    reply = b"0123456789abcdefghi"            # 20 bytes with the \n
    d = Daemon('rules = ( { exact = "drip"; reply = "%s"; chunk_bytes = 4; '
               'chunk_interval_ms = 100; } );\n' % reply.decode())
    with d.connect() as s:
        t0 = time.monotonic()
        s.sendall(b"drip\nafter\n")
        want = reply + b"\n" + b"after\n"
        data = b""
        arrivals = []
        deadline = t0 + harness.WAIT
        while len(data) < len(want):
            s.settimeout(max(deadline - time.monotonic(), 0.001))
            chunk = s.recv(100)
            check(chunk, "EOF after %r" % data)
            data += chunk
            arrivals.append(time.monotonic() - t0)
        total = arrivals[-1]
    equal(data, want, "the reply whole and in order, the next behind it")
    # 5 pieces, the first at once, then one every 100 ms: 0.4 s
    check(total >= 0.35, "all of it after %.3fs" % total)
    check(total < 5.0 * SLOW, "all of it only after %.3fs" % total)
    # pieces, not one write held back: the first bytes came well before
    # the last (this only fails if this client stalls for 0.2 s itself)
    check(len(arrivals) >= 2 and arrivals[-1] - arrivals[0] >= 0.2,
          "arrivals %r" % arrivals)


def test_bandwidth_on_a_rule():
    d = Daemon('rules = ( { exact = "big"; reply = "%s"; '
               'bandwidth_bytes_per_second = 4000; } );\n' % ("x" * 1999))
    with d.connect() as s:
        t0 = time.monotonic()
        s.sendall(b"big\nafter\n")
        got = recv_until(s, 2)
        took = time.monotonic() - t0
    equal(got, b"x" * 1999 + b"\nafter\n", "paced reply, then the next")
    check(took >= 0.4, "2000 bytes at 4000 B/s in %.3fs" % took)
    check(took < 5.0 * SLOW, "2000 bytes at 4000 B/s took %.3fs" % took)


def test_bandwidth_on_a_listener_and_the_rule_wins():
    pa, pb = harness.free_port(), harness.free_port()
    while pb == pa:
        pb = harness.free_port()
    d = Daemon('listen = ( { name = "fast"; address = "127.0.0.1"; '
               'port = %d; },\n'
               '  { name = "slow"; address = "127.0.0.1"; port = %d; '
               'bandwidth_bytes_per_second = 1000; } );\n'
               'rules = ( { exact = "quick"; reply = "%s"; '
               'bandwidth_bytes_per_second = 1000000; } );\n'
               % (pa, pb, "q" * 1999), port=pa, listen=False)
    msg = b"m" * 1999

    def timed(port, data, want):
        with socket.create_connection(("127.0.0.1", port),
                                      timeout=harness.WAIT) as s:
            t0 = time.monotonic()
            s.sendall(data + b"\n")
            equal(recv_until(s, 1), want + b"\n", "reply on %d" % port)
            return time.monotonic() - t0

    took = timed(pb, msg, msg)
    check(took >= 1.8, "2000 bytes at the listener's 1000 B/s in %.3fs" %
          took)
    took = timed(pb, b"quick", b"q" * 1999)
    check(took < 1.5 * SLOW, "the rule's 1 MB/s should win over the "
          "listener's 1000 B/s: %.3fs" % took)
    took = timed(pa, msg, msg)
    check(took < 1.5 * SLOW, "the other listener is not paced: %.3fs" % took)


# -- hang ------------------------------------------------------------------

def test_hang_stops_reading_but_sends_the_reply():
    d = Daemon('rules = ( { exact = "hang"; reply = "hung"; hang = true; '
               '} );\nshutdown_timeout_ms = 500;\n')
    s = d.connect()
    p = peer(s)
    try:
        # pipelined: the reply due before it and its own still go out
        s.sendall(b"before\nhang\n")
        equal(recv_until(s, 2), b"before\nhung\n",
              "the replies due, the hang message's own included")
        t0 = time.monotonic()
        sent = fill_window(s)
        print("# window full after %d bytes in %.2fs" %
              (sent, time.monotonic() - t0))
        # a round trip on another connection: the log is written once per
        # loop iteration, so what the daemon read from us is in it by now
        with d.connect() as o:
            o.sendall(b"other\n")
            equal(recv_until(o, 1), b"other\n", "another client served")
            d.wait_log('%s message 1: "other"' % peer(o))
        check("%s message 3:" % p not in d.log(),
              "the daemon read past the hang message")
        check("%s disconnected" % p not in d.log(), "hung connection ended")
    finally:
        abort(s)   # a FIN would wait behind our unsent bytes for ever
    d.wait_log("%s disconnected" % p)


def test_hang_ends_when_the_client_closes():
    d = Daemon('rules = ( { exact = "hang"; reply = "hung"; hang = true; '
               '} );\n')
    s = d.connect()
    p = peer(s)
    s.sendall(b"hang\n")
    equal(recv_until(s, 1), b"hung\n", "reply")
    s.sendall(b"unread\n")
    s.close()      # a FIN: the daemon must notice it without reading
    d.wait_log("%s disconnected" % p)


def test_hang_ends_at_idle_timeout_and_at_shutdown():
    d = Daemon('idle_timeout_ms = 300;\nshutdown_timeout_ms = 500;\n'
               'rules = ( { exact = "hang"; reply = "hung"; hang = true; '
               '} );\n')
    with d.connect() as s:
        s.sendall(b"hang\n")
        equal(recv_until(s, 1), b"hung\n", "reply")
        t0 = time.monotonic()
        s.sendall(b"more\n")   # not read: no activity
        try:
            equal(read_to_eof(s), b"", "bytes after the hang")
        except ConnectionResetError:
            pass   # closed with our bytes unread: a reset
        took = time.monotonic() - t0
    check(took >= 0.25, "closed %.3fs after the hang" % took)
    d.wait_log("(idle timeout)")
    # and one that is hung when the daemon stops does not hold it up
    s = d.connect()
    try:
        s.sendall(b"hang\n")
        equal(recv_until(s, 1), b"hung\n", "reply")
        fill_window(s)
        t0 = time.monotonic()
        equal(d.stop(), 0, "exit status")
        check(time.monotonic() - t0 < 3.0 * SLOW, "shutdown took %.1fs" %
              (time.monotonic() - t0))
    finally:
        abort(s)


def test_hang_writes_sends_nothing():
    d = Daemon('rules = ( { exact = "hangw"; reply = "never"; hang = true; '
               'hang_writes = true; } );\n')
    s = d.connect()
    p = peer(s)
    try:
        s.sendall(b"before\n")
        equal(recv_until(s, 1), b"before\n", "served before")
        s.sendall(b"hangw\n")
        d.wait_log('%s message 2: "hangw"' % p)
        # a negative check: the reply would have been written in the loop
        # iteration that logged the message (the rule has no delay), so
        # 0.3 s after the log shows it is plenty; longer only slows us
        check(nothing_within(s, 0.3), "a reply or EOF came")
        fill_window(s)   # and it does not read either
    finally:
        abort(s)
    d.wait_log("%s disconnected" % p)


# -- delay ranges ----------------------------------------------------------

def test_delay_range_jitters_within_bounds():
    lo, hi = 20, 300
    d = Daemon('seed = 7;\nrules = ( { prefix = "d"; reply = "%%{message}"; '
               'delay_ms = [ %d, %d ]; } );\n' % (lo, hi))
    lat = []
    with d.connect() as s:
        for i in range(20):
            t0 = time.monotonic()
            s.sendall(b"d%d\n" % i)
            equal(recv_until(s, 1), b"d%d\n" % i, "reply %d" % i)
            lat.append(time.monotonic() - t0)
        print("# latencies %s" % " ".join("%.0f" % (x * 1000) for x in lat))
        for i, x in enumerate(lat):
            check(x >= lo / 1000.0 - 0.005,
                  "reply %d after %.3fs, below %d ms" % (i, x, lo))
            check(x <= hi / 1000.0 + 1.0 * SLOW,
                  "reply %d after %.3fs, far above %d ms" % (i, x, hi))
        # 20 uniform draws in [20, 300] span far more than 120 ms (all in
        # one 120 ms window: ~2e-6; and the seed is fixed)
        check(max(lat) - min(lat) >= 0.12, "no jitter: %r" % lat)
        # pipelined: whatever each one draws, the replies keep their order
        t0 = time.monotonic()
        s.sendall(b"".join(b"d%d\n" % i for i in range(100, 110)))
        equal(recv_until(s, 10), b"".join(b"d%d\n" % i
                                          for i in range(100, 110)),
              "pipelined replies in order")
        check(time.monotonic() - t0 >= lo / 1000.0 - 0.005, "no delay")


# -- probability and the seed ----------------------------------------------

PROB_RULES = ('rules = ( { exact = "x"; reply = "hit"; probability = 0.25; '
              '} );\n')


def count_hits(d, n=10000):
    with d.connect() as s:
        replies = pipelined(s, [b"x"] * n)
    for r in replies:
        check(r in (b"hit", b"x"), "unexpected reply %r" % r)
    return replies


def test_probability_quarter_is_repeatable_with_seed():
    n = 10000
    d = Daemon("seed = 4242;\n" + PROB_RULES)
    first = count_hits(d, n)
    hits = first.count(b"hit")
    sigma = math.sqrt(n * 0.25 * 0.75)
    print("# %d hits of %d (expected %d, sigma %.1f)" % (hits, n, n // 4,
                                                        sigma))
    check(abs(hits - n * 0.25) <= 4 * sigma,
          "%d hits, more than 4 sigma from %d" % (hits, n // 4))
    # the second connection has a generator of its own
    second = count_hits(d, n)
    check(second != first, "connections 1 and 2 drew the same")
    equal(d.stop(), 0, "exit status")
    # a fresh daemon with the same seed: connection 1 draws the same
    d2 = Daemon("seed = 4242;\n" + PROB_RULES)
    again = count_hits(d2, n)
    equal(again.count(b"hit"), hits, "hits with the same seed")
    check(again == first, "same count but not the same draws")
    d3 = Daemon("seed = 4243;\n" + PROB_RULES)
    check(count_hits(d3, 2000) != first[:2000], "another seed, same draws")


def test_probability_zero_and_one():
    d = Daemon('rules = (\n'
               '  { exact = "never"; reply = "hit"; probability = 0; },\n'
               '  { exact = "never0"; reply = "hit"; probability = 0.0; },\n'
               '  { exact = "always"; reply = "hit"; probability = 1; },\n'
               '  { exact = "always1"; reply = "hit"; probability = 1.0; },\n'
               '  { exact = "ab"; reply = "A"; probability = 0.5; },\n'
               '  { exact = "ab"; reply = "B"; }\n'
               ');\n')
    with d.connect() as s:
        for word in (b"never", b"never0"):
            equal(set(pipelined(s, [word] * 1000)), {word},
                  "probability 0 (%s) never matches" % word.decode())
        for word in (b"always", b"always1"):
            equal(set(pipelined(s, [word] * 1000)), {b"hit"},
                  "probability 1 (%s) always matches" % word.decode())
        # a failed draw falls through to the next rule
        equal(set(pipelined(s, [b"ab"] * 1000)), {b"A", b"B"},
              "0.5, then the next rule")


def test_random_seed_logged_without_seed():
    d = Daemon('rules = ( { exact = "g"; no_reply = true; garbage = 32; '
               '} );\n')
    d.wait_log("random seed ")
    found = re.findall(r"random seed (\d+) \(set 'seed' to repeat the "
                       r"draws\)\n", d.log())
    equal(len(found), 1, "random seed lines in:\n" + d.log())
    seed = int(found[0])
    check(0 <= seed < 2 ** 63, "seed %d out of range" % seed)

    def garbage(daemon):
        with daemon.connect() as s:
            s.sendall(b"g\n")
            got = read_to_eof(s)
        equal(len(got), 32, "garbage bytes")
        return got

    g1 = garbage(d)
    # a reload keeps the seed when the file sets none
    d.write_conf(listen_line(d) + 'rules = ( { exact = "g"; no_reply = '
                 'true; garbage = 32; } );\n')
    d.reload()
    g2 = garbage(d)
    # the logged seed repeats those draws: connection 1, then 2 (written
    # with libconfig's L, read as a 64-bit integer whatever its size;
    # test_logged_seed_as_written_in_the_log takes it as the log shows it)
    d2 = Daemon('seed = %dL;\nrules = ( { exact = "g"; no_reply = true; '
                'garbage = 32; } );\n' % seed)
    equal(garbage(d2), g1, "connection 1 with the logged seed")
    equal(garbage(d2), g2, "connection 2 (after the reload) with it")
    with d2.connect() as s:   # the log is complete past the two above
        s.sendall(b"sync\n")
        equal(recv_until(s, 1), b"sync\n", "echo")
        d2.wait_log('%s message 1: "sync"' % peer(s))
    check("random seed" not in d2.log(), "seed set, yet:\n" + d2.log())


def test_logged_seed_as_written_in_the_log():
    # "set 'seed' to repeat the draws": the number as the log shows it,
    # pasted into the file, must be read as that number
    d = Daemon()
    d.wait_log("random seed ")
    seed = re.search(r"random seed (\d+) ", d.log()).group(1)
    with TempDir() as t:
        r = daemon_run("-n", "-v", "-f", t.file("s.conf",
                                                "seed = %s;\n" % seed))
        equal(r.returncode, 0, "seed = %s; (stderr %r)" % (seed, r.stderr))
        check(re.search(r"(?m)^seed = %sL?;$" % seed, r.stdout.decode()),
              "seed = %s; read as:\n%s" % (seed, "\n".join(
                  l for l in r.stdout.decode().splitlines() if "seed" in l)))


def test_seed_dumped_only_when_set():
    with TempDir() as t:
        r = daemon_run("-n", "-v", "-f", t.file("s.conf", "seed = 42;\n"))
        equal(r.returncode, 0, "exit status (stderr %r)" % r.stderr)
        check("\nseed = 42;\n" in "\n" + r.stdout.decode(),
              "no seed line in:\n" + r.stdout.decode())
        r = daemon_run("-n", "-v", "-f", t.file("n.conf", ""))
        equal(r.returncode, 0, "exit status (stderr %r)" % r.stderr)
        check("seed" not in r.stdout.decode(),
              "seed dumped though unset:\n" + r.stdout.decode())


def test_garbage_repeatable_with_seed():
    body = 'seed = 9;\nrules = ( { exact = "g"; no_reply = true; ' \
           'garbage = 64; } );\n'

    def garbage(daemon):
        with daemon.connect() as s:
            s.sendall(b"g\n")
            return read_to_eof(s)

    d = Daemon(body)
    a1, a2 = garbage(d), garbage(d)
    check(a1 != a2, "connections 1 and 2 got the same garbage")
    d2 = Daemon(body)
    equal((garbage(d2), garbage(d2)), (a1, a2), "same seed, same garbage")


# -- duplicate -------------------------------------------------------------

def test_duplicate():
    d = Daemon('rules = ( { exact = "dup"; reply = "again"; duplicate = 2; '
               '} );\n')
    with d.connect() as s:
        s.sendall(b"dup\nafter\n")
        equal(recv_until(s, 4), b"again\nagain\nagain\nafter\n",
              "3 copies, then the next reply")
        s.shutdown(socket.SHUT_WR)
        equal(read_to_eof(s), b"", "no more copies")


# -- per listener ----------------------------------------------------------

def test_open_delay_before_the_greeting():
    d = Daemon('greeting = "hi there";\nopen_delay_ms = 300;\n')
    with d.connect() as s:
        t0 = time.monotonic()
        s.sendall(b"early\n")
        equal(recv_until(s, 2), b"hi there\nearly\n",
              "greeting, then the reply")
        took = time.monotonic() - t0
    check(took >= 0.29, "greeting %.3fs after connect" % took)
    check(took < 5.0 * SLOW, "greeting only %.3fs after connect" % took)


def test_open_delay_range():
    d = Daemon('greeting = "hi";\nopen_delay_ms = [ 200, 400 ];\n')
    for _ in range(3):
        with d.connect() as s:
            t0 = time.monotonic()
            equal(recv_until(s, 1), b"hi\n", "greeting")
            took = time.monotonic() - t0
        check(took >= 0.19, "greeting %.3fs after connect" % took)
        check(took < 5.0 * SLOW, "greeting only %.3fs after" % took)


def test_accept_close_probability_one():
    d = Daemon('accept_close_probability = 1;\n')
    with d.connect() as s:
        equal(read_to_eof(s), b"", "EOF and nothing")   # a FIN, no reset
    d.wait_log("closed at accept (accept_close_probability)")


def test_accept_close_probability_half():
    pa, pb = harness.free_port(), harness.free_port()
    while pb == pa:
        pb = harness.free_port()
    d = Daemon('seed = 3;\n'
               'listen = ( { name = "flaky"; address = "127.0.0.1"; '
               'port = %d; accept_close_probability = 0.5; },\n'
               '  { name = "sure"; address = "127.0.0.1"; port = %d; } );\n'
               % (pa, pb), port=pa, listen=False)
    n, closed = 200, 0
    for i in range(n):
        with d.connect() as s:
            try:
                s.sendall(b"c%d\n" % i)
                got = read_to_eof_or_reply(s)
            except (ConnectionResetError, BrokenPipeError):
                got = b""   # closed with our line unread: a reset
        if got == b"":
            closed += 1
        else:
            equal(got, b"c%d\n" % i, "reply on a connection kept")
    sigma = math.sqrt(n * 0.25)
    print("# %d of %d closed at accept" % (closed, n))
    check(abs(closed - n / 2) <= 4 * sigma, "%d of %d closed" % (closed, n))
    # the other listener has no such key; once its client is logged, so
    # is everything before it
    with socket.create_connection(("127.0.0.1", pb),
                                  timeout=harness.WAIT) as s:
        for _ in range(20):
            s.sendall(b"sure\n")
            equal(recv_until(s, 1), b"sure\n", "other listener")
        d.wait_log('%s message 20: "sure"' % peer(s))
    equal(d.log().count("closed at accept (accept_close_probability)"),
          closed, "log lines for the connections closed")


def read_to_eof_or_reply(s):
    """The first line, or b"" at EOF."""
    data = b""
    deadline = time.monotonic() + harness.WAIT
    while b"\n" not in data:
        left = deadline - time.monotonic()
        check(left > 0, "neither a reply nor EOF")
        s.settimeout(left)
        chunk = s.recv(100)
        if not chunk:
            equal(data, b"", "bytes before EOF")
            return b""
        data += chunk
    return data


def test_accept_reset_probability_one():
    d = Daemon('accept_reset_probability = 1;\n')
    for _ in range(3):
        try:
            s = d.connect()
        except ConnectionResetError:
            # on loopback the RST can come before connect() returns
            continue
        with s:
            try:
                data = s.recv(100)
            except ConnectionResetError:
                continue
            equal(data, b"", "bytes from a connection reset at accept")
            # EOF: a FIN lets the first write through, an RST does not
            try:
                s.sendall(b"x\n")
            except (BrokenPipeError, ConnectionResetError):
                continue
            raise AssertionError("closed with a FIN, not reset")


def test_close_after_messages():
    d = Daemon('close_after_messages = 3;\n')
    with d.connect() as s:
        s.sendall(b"a\nb\nc\nd\n")
        equal(read_to_eof(s), b"a\nb\nc\n", "3 replies, then EOF")
    with d.connect() as s:
        for m in (b"1\n", b"2\n"):
            s.sendall(m)
            equal(recv_until(s, 1), m, "reply")
        s.sendall(b"3\n")
        equal(read_to_eof(s), b"3\n", "the third reply, then EOF")


# -- UDP -------------------------------------------------------------------

def test_udp_duplicate():
    d, u = udp_daemon('rules = ( { exact = "dup"; reply = "two"; '
                      'duplicate = 1; } );\n')
    with u:
        u.send(b"dup\n")
        u.send(b"after\n")
        got = [u.recv(65536) for _ in range(3)]
    equal(got, [b"two\n", b"two\n", b"after\n"],
          "two datagrams, then the next reply")


def test_udp_delay_range():
    lo, hi = 20, 300
    d, u = udp_daemon('rules = ( { prefix = "d"; reply = "%%{message}"; '
                      'delay_ms = [ %d, %d ]; } );\n' % (lo, hi), seed=11)
    lat = []
    with u:
        for i in range(12):
            t0 = time.monotonic()
            u.send(b"d%d\n" % i)
            equal(u.recv(65536), b"d%d\n" % i, "datagram %d" % i)
            lat.append(time.monotonic() - t0)
    print("# latencies %s" % " ".join("%.0f" % (x * 1000) for x in lat))
    for i, x in enumerate(lat):
        check(x >= lo / 1000.0 - 0.005, "reply %d after %.3fs" % (i, x))
        check(x <= hi / 1000.0 + 1.0 * SLOW, "reply %d after %.3fs" % (i, x))
    check(max(lat) - min(lat) >= 0.1, "no jitter: %r" % lat)


def test_udp_drop_truncate_garbage():
    d, u = udp_daemon(
        'rules = ( { exact = "drop"; no_reply = true; probability = 1; },\n'
        '  { exact = "keep"; no_reply = true; probability = 0; },\n'
        '  { exact = "cut"; reply = "0123456789"; truncate = 4; },\n'
        '  { exact = "junk"; reply = "ok"; garbage = 5; },\n'
        '  { exact = "only"; no_reply = true; garbage = 7; } );\n')
    with u:
        # dropped: the next datagram's reply is the next one we get
        u.send(b"drop\n")
        u.send(b"after\n")
        equal(u.recv(65536), b"after\n", "the dropped one had no reply")
        u.send(b"keep\n")
        equal(u.recv(65536), b"keep\n", "probability 0: default echo")
        u.send(b"cut\n")
        equal(u.recv(65536), b"0123", "datagram cut to 4 bytes")
        u.send(b"junk\n")
        got = u.recv(65536)
        equal((len(got), got[:3]), (8, b"ok\n"), "reply with garbage %r" %
              got)
        u.send(b"only\n")
        equal(len(u.recv(65536)), 7, "a datagram of garbage alone")
        # the listener is still there after the faults
        u.send(b"still\n")
        equal(u.recv(65536), b"still\n", "served")


# -- good clients beside faulty ones ---------------------------------------

def test_good_client_served_beside_hung_and_trickled_ones():
    drip_reply = b"d" * 59
    d = Daemon('rules = ( { exact = "hang"; reply = "hung"; hang = true; },\n'
               '  { exact = "drip"; reply = "%s"; chunk_bytes = 1; '
               'chunk_interval_ms = 100; } );\n' % drip_reply.decode())
    hung = d.connect()
    drip = d.connect()
    try:
        hung.sendall(b"hang\n")
        equal(recv_until(hung, 1), b"hung\n", "hang reply")
        fill_window(hung)
        drip.sendall(b"drip\n")
        equal(read_exact(drip, 1), b"d", "the first piece")
        with d.connect() as good:
            t0 = time.monotonic()
            for i in range(100):
                t1 = time.monotonic()
                good.sendall(b"good %d\n" % i)
                equal(recv_until(good, 1), b"good %d\n" % i, "reply %d" % i)
                check(time.monotonic() - t1 < 1.0 * SLOW,
                      "reply %d took %.3fs" % (i, time.monotonic() - t1))
            took = time.monotonic() - t0
        # a daemon that waited out the trickle between pieces would take
        # 100 ms a reply here
        check(took < 3.0 * SLOW, "100 round trips took %.2fs" % took)
        drip.setblocking(False)
        try:
            so_far = b"d" + drip.recv(1000)
        except BlockingIOError:
            so_far = b"d"
        check((drip_reply + b"\n").startswith(so_far),
              "the trickle so far: %r" % so_far)
    finally:
        abort(hung)
        drip.close()


if __name__ == "__main__":
    harness.run(globals())

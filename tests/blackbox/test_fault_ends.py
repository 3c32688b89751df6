# SPDX-License-Identifier: ISC
"""Faults where they meet the rest of a connection's life: a reset after
the client's FIN, messages behind a half close (fixed answers too) or
a hang in the same read, the pace of a bandwidth cap and of the last
chunk, a shutdown during a slow open, the dry run drawing as the first
connection does, and the seed said again when a reload drops it."""

import os
import re
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import Daemon, check, equal, recv_until  # noqa: E402
from test_faults import (SLOW, daemon_run, nothing_within, peer,  # noqa: E402
                         read_exact, read_to_eof, read_until_reset)
import test_man_faults  # noqa: E402


def test_reset_even_after_the_clients_fin():
    d = Daemon('rules = ( { exact = "rst"; reply = "bye"; reset = true; } '
               ');\n')
    with d.connect() as s:
        # the FIN comes with the message: the reset must still be sent
        s.sendall(b"rst\n")
        s.shutdown(socket.SHUT_WR)
        equal(read_until_reset(s), b"bye\n", "the reply, then ECONNRESET")


def test_half_close_answers_nothing_behind_it_in_the_same_read():
    d = Daemon('rules = ( { exact = "half"; reply = "bye"; '
               'half_close = true; } );\n')
    with d.connect() as s:
        s.sendall(b"half\nafter\n")
        equal(read_to_eof(s), b"bye\n", "only the half close's reply")
        d.wait_log('%s message 2: "after"' % peer(s))


def test_half_close_between_fixed_answers_in_the_same_read():
    # fixed answers before the half close, none after it
    d = Daemon('rules = ( { exact = "PING"; reply = "+PONG"; },\n'
               '  { exact = "half"; reply = "bye"; half_close = true; } );\n')
    with d.connect() as s:
        s.sendall(b"PING\nhalf\nPING\nafter\n")
        equal(read_to_eof(s), b"+PONG\nbye\n",
              "the fixed reply and the half close's, nothing after")
        d.wait_log('%s message 4: "after"' % peer(s))
    check('message 3: "PING"' in d.log(), "read and logged:\n" + d.log())


def test_hang_leaves_the_rest_of_the_read_alone():
    # line_flush_ms would answer a kept partial line; message_timeout_ms
    # would close for it: a hung connection does neither
    d = Daemon('line_flush_ms = 50;\nmessage_timeout_ms = 200;\n'
               'rules = ( { exact = "hang"; reply = "ok"; hang = true; } );\n')
    with d.connect() as s:
        s.sendall(b"hang\nnext\npartial")
        equal(recv_until(s, 1), b"ok\n", "the hang's own reply")
        # a negative check, so a wait: four times either timer
        check(nothing_within(s, 0.8), "silence while hung")
    d.wait_log("disconnected")
    check("not whole" not in d.log(), "closed by message_timeout_ms:\n" +
          d.log())
    check('message 2: "next"' not in d.log(), "a message handled while hung")


def test_bandwidth_keeps_its_rate_when_it_is_not_a_multiple_of_100():
    # 199 B/s: pieces of 1 byte every 5 ms, not every 10 ms (100 B/s)
    d = Daemon('rules = ( { exact = "go"; reply = "%s"; '
               'bandwidth_bytes_per_second = 199; } );\n' % ("x" * 198))
    with d.connect() as s:
        t0 = time.monotonic()
        s.sendall(b"go\n")
        equal(len(read_exact(s, 199)), 199, "the whole reply")
        took = time.monotonic() - t0
    check(0.8 <= took <= 1.5 * SLOW, "199 bytes at 199 B/s in %.2f s" % took)


def test_the_last_chunk_is_followed_by_the_close_not_an_interval():
    d = Daemon('rules = ( { exact = "go"; reply = "abc"; chunk_bytes = 2; '
               'chunk_interval_ms = 1000; close = true; } );\n')
    with d.connect() as s:
        t0 = time.monotonic()
        s.sendall(b"go\n")
        equal(read_to_eof(s), b"abc\n", "two pieces, then EOF")
        took = time.monotonic() - t0
    check(0.9 <= took < 1.8 * SLOW, "EOF after %.2f s: pieces at 0 and 1 s, "
          "the close right after the last" % took)


def test_shutdown_during_a_slow_open_of_a_tls_listener():
    d = Daemon('open_delay_ms = 5000;\ntls = true;\ntls_self_signed = true;\n')
    with d.connect() as s:
        # not a ClientHello: a handshake, if one were tried, would fail
        s.sendall(b"hello\n")
        d.wait_log("connected to")
        t0 = time.monotonic()
        d.signal(signal.SIGTERM)
        equal(read_to_eof(s), b"", "EOF, nothing said")
    equal(d.stop(), 0, "exit status")
    check(time.monotonic() - t0 < 4 * SLOW, "the slow open held the shutdown")
    after = d.log().split("connected to", 1)[1]
    check("TLS" not in after and "server shutting down" in after,
          "a handshake tried after the shutdown began:\n" + d.log())


def test_dry_run_draws_as_the_first_connection_with_accept_draws():
    # the slow open's range is drawn at accept, before any message's draw
    body = ('open_delay_ms = [ 1, 30 ];\nseed = 5;\n'
            'rules = ( { exact = "g"; no_reply = true; garbage = 32; } );\n')
    d = Daemon(body)
    want = test_man_faults.dry(d.conf, ["g"])[0]
    with d.connect() as s:
        s.sendall(b"g\n")
        equal(read_to_eof(s), want, "connection 1's garbage and the dry "
              "run's")


def test_reload_without_the_seed_says_the_random_one():
    d = Daemon("seed = 3;\n")
    check("random seed" not in d.log(), "a random seed with seed set")
    d.write_conf('listen = { address = "127.0.0.1"; port = %d; };\n' %
                 d.port)
    d.reload()
    d.wait_log("random seed ")
    seed = re.search(r"random seed (\d+) ", d.log()).group(1)
    r = daemon_run("-n", "-v", "-f", d.conf)
    equal(r.returncode, 0, "the file without seed loads")
    check(int(seed) <= 2147483647, "the logged seed pastes as it is")


if __name__ == "__main__":
    harness.run(globals())

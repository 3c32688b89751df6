# SPDX-License-Identifier: ISC
"""Black-box tests: reload on SIGHUP, graceful stop on SIGTERM/SIGINT."""

import fcntl
import os
import shutil
import signal
import socket
import struct
import sys
import tempfile
import termios
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import Daemon, check, equal, recv_until  # noqa: E402


def listen_line(d):
    return 'listen = { address = "%s"; port = %d; };\n' % (d.address, d.port)


def wait_exit(d, timeout=harness.WAIT):
    """Waits for the daemon to exit by itself; returns its status."""
    try:
        return d.proc.wait(timeout)
    except Exception:
        raise AssertionError("echoreplyd still running %ss after the "
                             "signal; log:\n%s" % (timeout, d.log()))


def notified_after_exit(d):
    """Every notify line the daemon sent, including what is still queued
    on the notify socket after it exited."""
    return [line for lines in d.notifier.drain() for line in lines]


def test_reload_valid_config_applies_to_open_connection():
    d = Daemon()
    with d.connect() as s:
        s.sendall(b"before\n")
        equal(recv_until(s, 1), b"before\n", "reply before reload")
        d.write_conf(listen_line(d) + 'default_reply = "v2:%{message}";\n')
        d.reload()
        s.sendall(b"after\n")
        equal(recv_until(s, 1), b"v2:after\n", "same connection, new reply")
        s.sendall(b"crlf\r\n")
        equal(recv_until(s, 1), b"v2:crlf\r\n", "CRLF after reload")
        with d.connect() as s2:
            s2.sendall(b"new\n")
            equal(recv_until(s2, 1), b"v2:new\n", "new connection")
    d.wait_log("reload: configuration %s loaded" % d.conf)
    check("listener changes" not in d.log(),
          "same listener reported as changed:\n" + d.log())


def test_reload_keeps_partial_message():
    d = Daemon()
    with d.connect() as s:
        s.sendall(b"first half, ")
        d.write_conf(listen_line(d) + 'default_reply = "v2:%{message}";\n')
        d.reload()
        s.sendall(b"second half\n")
        equal(recv_until(s, 1), b"v2:first half, second half\n", "reply")


def test_reload_invalid_config_keeps_old():
    d = Daemon('default_reply = "v1:%{message}";\n')
    with d.connect() as s:
        s.sendall(b"a\n")
        equal(recv_until(s, 1), b"v1:a\n", "reply before reload")
        d.write_conf('default_reply = "bad:%{message}";\n'
                     'listen = { address = "127.0.0.1"; port = 70000; };\n')
        d.reload()
        d.wait_log("%s:2: 'port' must be between 1 and 65535, not 70000\n"
                   % d.conf)
        d.wait_log("reload: %s has errors; keeping the running "
                   "configuration\n" % d.conf)
        s.sendall(b"b\n")
        equal(recv_until(s, 1), b"v1:b\n", "reply after the failed reload")
        with d.connect() as s2:
            s2.sendall(b"c\n")
            equal(recv_until(s2, 1), b"v1:c\n", "new connection")
        # and a good config after a bad one still applies
        d.write_conf(listen_line(d) + 'default_reply = "v3:%{message}";\n')
        d.reload()
        s.sendall(b"d\n")
        equal(recv_until(s, 1), b"v3:d\n", "reply after the next reload")
    d.wait_log("configuration %s loaded" % d.conf)


def test_reload_notifies_monotonic_usec():
    d = Daemon()
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    d.signal(signal.SIGHUP)
    lines = d.wait_notify("RELOADING=1")
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    usec = [l for l in lines if l.startswith("MONOTONIC_USEC=")]
    equal(len(usec), 1, "MONOTONIC_USEC lines in %r" % lines)
    value = int(usec[0].split("=", 1)[1])
    check(before <= value <= after, "MONOTONIC_USEC=%d not in [%d, %d]" %
          (value, before, after))
    d.wait_notify("READY=1")


def test_sigterm_answers_everything_sent():
    d = Daemon("log_messages = false;\n")
    lines = [b"line %04d %s\n" % (i, b"p" * 20) for i in range(1000)]
    stream = b"".join(lines)
    with d.connect() as s:
        s.sendall(stream)
        got = recv_until(s, 1)
        d.signal(signal.SIGTERM)
        got += recv_until(s, None)
        equal(got.count(b"\n"), 1000, "number of replies before EOF")
        equal(got, stream, "replies before EOF")
        # the daemon is still there (waiting for our close): it has said
        d.wait_notify("STOPPING=1")
    equal(wait_exit(d), 0, "exit status after SIGTERM")
    d.wait_log("SIGTERM received; shutting down")


def unsent_bytes(s):
    """Bytes our kernel has not yet handed to the peer's (SIOCOUTQ: not
    acknowledged; on loopback, acknowledged means in the peer's socket)."""
    return struct.unpack("i", fcntl.ioctl(s.fileno(), termios.TIOCOUTQ,
                                          b"\0" * 4))[0]


def test_sigterm_answers_input_already_in_socket_buffer():
    # Replies far bigger than the messages: the client does not read, so
    # the server stops reading (max_queued_bytes) while part of the input
    # waits, received and acknowledged, in its socket buffer. That input
    # was already received too and must be answered on SIGTERM.
    d = Daemon("log_messages = false;\nmax_queued_bytes = 4096;\n"
               'default_reply = "%%{message}%s";\n' % ("r" * 500))
    count = 16000
    stream = b"".join(b"%05d\n" % i for i in range(count))
    with d.connect() as s:
        s.sendall(stream)
        deadline = time.monotonic() + harness.WAIT
        while unsent_bytes(s) > 0:
            check(time.monotonic() < deadline, "input never left the client")
        d.signal(signal.SIGTERM)
        got = recv_until(s, None, timeout=harness.WAIT)
        want = b"".join(b"%05d%s\n" % (i, b"r" * 500) for i in range(count))
        equal(got.count(b"\n"), count, "number of replies before EOF")
        check(got == want, "replies differ from what was sent")
    equal(wait_exit(d), 0, "exit status after SIGTERM")


def test_sigterm_idle_exits_0_and_notifies_stopping():
    d = Daemon()
    start = time.monotonic()
    d.signal(signal.SIGTERM)
    equal(wait_exit(d), 0, "exit status after SIGTERM")
    took = time.monotonic() - start
    check(took < 2.0 * harness.SLOW, "idle daemon took %.1fs to stop" % took)
    check("STOPPING=1" in notified_after_exit(d),
          "no STOPPING=1 in %r" % d.notifications)
    check("SIGTERM received; shutting down\n" in d.log(), d.log())


def test_sigterm_closes_idle_connection():
    d = Daemon()
    with d.connect() as s:
        s.sendall(b"x\n")
        equal(recv_until(s, 1), b"x\n", "reply")
        d.signal(signal.SIGTERM)
        equal(recv_until(s, None), b"", "EOF for an idle client")
        d.wait_notify("STOPPING=1")
        # new connections are refused from now on
        with socket.socket() as t:
            t.settimeout(harness.WAIT)
            check(t.connect_ex((d.address, d.port)) != 0,
                  "a new connection was accepted while stopping")
    start = time.monotonic()
    equal(wait_exit(d), 0, "exit status after SIGTERM")
    took = time.monotonic() - start
    check(took < 2.0 * harness.SLOW,
          "exit took %.1fs after the last client closed" % took)


def test_sigterm_bounded_by_shutdown_timeout():
    d = Daemon("shutdown_timeout_ms = 500;\n")
    s = d.connect()
    try:
        s.sendall(b"unfinished")
        d.wait_log("connected to")
        start = time.monotonic()
        d.signal(signal.SIGTERM)
        # an unfinished line is dropped, not answered
        equal(recv_until(s, None), b"", "bytes before EOF")
        # we never close: the daemon must give up on us by itself
        equal(wait_exit(d), 0, "exit status after SIGTERM")
        took = time.monotonic() - start
        check(took < 3.0 * harness.SLOW,
              "exit took %.1fs with shutdown_timeout_ms = 500" % took)
    finally:
        s.close()


def test_sigint_exits_0():
    d = Daemon()
    with d.connect() as s:
        s.sendall(b"y\n")
        equal(recv_until(s, 1), b"y\n", "reply")
    d.signal(signal.SIGINT)
    equal(wait_exit(d), 0, "exit status after SIGINT")
    check("SIGINT received; shutting down\n" in d.log(), d.log())
    check("STOPPING=1" in notified_after_exit(d),
          "no STOPPING=1 in %r" % d.notifications)


def test_shutdown_timeout_logs_what_could_not_be_sent():
    # a client that never reads: its replies cannot all go out in time
    d = Daemon("shutdown_timeout_ms = 300;\nmax_queued_bytes = 65536;\n"
               'default_reply = "%{message}%{message}%{message}%{message}";\n'
               "log_messages = false;\n")
    s = d.connect()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(0.5)
    try:
        try:
            while True:   # until the daemon stops reading us
                s.sendall(b"q" * 1000 + b"\n")
        except socket.timeout:
            pass
        d.signal(signal.SIGTERM)
        equal(wait_exit(d), 0, "exit status")
        d.wait_log("reply bytes not sent: shutdown timeout")
    finally:
        s.close()


def test_shutdown_timeout_counts_a_delayed_reply():
    """A reply held back by a delay longer than shutdown_timeout_ms is
    lost at shutdown, and said so with its size."""
    d = Daemon("shutdown_timeout_ms = 200;\n"
               'rules = ( { prefix = "slow "; reply = "%{message}"; '
               "delay_ms = 60000; } );\n")
    with d.connect() as s:
        s.sendall(b"slow 12345\n")
        d.wait_log('message 1: "slow 12345"')
        d.signal(signal.SIGTERM)
        equal(wait_exit(d), 0, "exit status")
    check("11 reply bytes not sent: shutdown timeout" in d.log(), d.log())


def test_bytes_read_while_lingering_are_counted():
    """After a last reply the daemon reads and drops what the client still
    sends: those bytes count in the disconnect record's bytes in."""
    d = Daemon('rules = ( { exact = "quit"; reply = "bye"; close = true; } );'
               "\n")
    with d.connect() as s:
        s.sendall(b"quit\n")
        equal(recv_until(s, None), b"bye\n", "last reply, then EOF")
        s.sendall(b"z" * 1000)
    d.wait_log(": 1 messages, 1005 bytes in, 4 bytes out")


def test_hundred_reloads_under_load():
    import threading
    d = Daemon('default_reply = "A:%{message}";\n')
    stop = threading.Event()
    problems = []
    counts = []

    def client(k):
        try:
            with d.connect() as s:
                n = 0
                while not stop.is_set():
                    msg = b"c%d-%d" % (k, n)
                    s.sendall(msg + b"\n")
                    got = recv_until(s, 1)
                    if got not in (b"A:" + msg + b"\n", b"B:" + msg + b"\n"):
                        problems.append(got)
                    n += 1
                counts.append(n)
        except Exception as e:
            problems.append(repr(e))

    threads = [threading.Thread(target=client, args=(k,), daemon=True)
               for k in range(8)]
    for t in threads:
        t.start()
    for i in range(100):
        d.write_conf('listen = { address = "%s"; port = %d; };\n'
                     'default_reply = "%s:%%{message}";\n'
                     % (d.address, d.port, "B" if i % 2 == 0 else "A"))
        d.reload()
    stop.set()
    for t in threads:
        t.join(harness.WAIT)
    equal(problems, [], "failed requests or dropped connections")
    equal(len(counts), 8, "every client still connected at the end")
    equal(d.stop(), 0, "exit status")


def test_other_signals_never_kill_it_uncleanly():
    # USR1 logs the state, USR2 and ALRM are ignored, QUIT shuts down as
    # TERM does and removes the Unix socket file
    tmp = tempfile.mkdtemp(prefix="echoreplyd-sig-")
    path = os.path.join(tmp, "s.sock")
    try:
        d = Daemon('listen = { protocol = "unix"; path = "%s"; };\n' % path,
                   listen=False)
        for sig in (signal.SIGUSR2, signal.SIGALRM, signal.SIGUSR1):
            d.signal(sig)
        d.wait_log("SIGUSR1 received: 0 clients, 0 messages")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(harness.WAIT)
            s.connect(path)
            s.sendall(b"alive\n")
            equal(recv_until(s, 1), b"alive\n", "still serving after them")
        d.signal(signal.SIGQUIT)
        equal(wait_exit(d), 0, "exit status after SIGQUIT")
        check("SIGQUIT received; shutting down\n" in d.log(), d.log())
        check(not os.path.exists(path), "the socket file was left behind")
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    harness.run(globals())

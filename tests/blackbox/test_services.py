# SPDX-License-Identifier: ISC
"""Per-listener services: two stream listeners and a UDP one in one daemon,
each with its own framing, greeting, replies, limits and idle timeout, the
rest from the top level; the settings follow a reload; -n -v shows them."""

import os
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import Daemon, check, equal, recv_until  # noqa: E402


def conf(lines_port, raw_port, udp_port, raw_max=4):
    return (
        'listen = (\n'
        '  { name = "lines"; port = %d; },\n'
        '  { name = "raw"; port = %d; framing = "raw";\n'
        '    greeting = "hello %%{listener}"; max_message_bytes = %d;\n'
        '    max_connections = 1; refuse_reply = "raw is full";\n'
        '    idle_timeout_ms = 300; default_reply = "[%%{message}]"; },\n'
        '  { name = "dg"; protocol = "udp"; port = %d;\n'
        '    default_reply = "dg %%{message}"; }\n'
        ');\n'
        'default_reply = "top %%{listener} %%{message}";\n'
        'max_message_bytes = 64;\n' % (lines_port, raw_port, raw_max,
                                       udp_port))


def connect(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(harness.WAIT)
    s.connect(("127.0.0.1", port))
    return s


def udp_ask(port, data):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(harness.WAIT)
        s.sendto(data, ("127.0.0.1", port))
        return s.recv(65536)


def ports():
    return harness.free_port(), harness.free_port(), harness.free_port()


def test_each_listener_serves_its_own():
    lp, rp, up = ports()
    d = Daemon(conf(lp, rp, up), listen=False)
    lines = connect(lp)
    # the top level's framing, reply and limit on the listener without keys
    lines.sendall(b"one\ntwo\n" + b"x" * 60 + b"\n")
    equal(recv_until(lines, 3), b"top lines one\ntop lines two\n"
          b"top lines " + b"x" * 60 + b"\n", "line listener")
    raw = connect(rp)
    equal(recv_until(raw, terminator=b"raw", count=1), b"hello raw",
          "raw listener's own greeting, no line end (raw framing)")
    raw.sendall(b"abcdef")
    # raw framing with its own limit of 4 bytes: cut into "abcd", "ef"
    equal(recv_until(raw, 2, terminator=b"]"), b"[abcd][ef]",
          "raw listener's own reply and limit")
    # its max_connections of 1: a second client is refused with its text
    second = connect(rp)
    equal(recv_until(second), b"raw is full", "raw listener's refusal")
    second.close()
    # while the line listener takes more
    more = connect(lp)
    more.sendall(b"three\n")
    equal(recv_until(more, 1), b"top lines three\n", "line listener")
    equal(udp_ask(up, b"dgram\n"), b"dg dgram\n", "udp listener's reply")
    # the raw listener's idle timeout ends its client; the line listener's
    # (the top level's, five minutes) keeps its clients
    raw.settimeout(harness.WAIT)
    equal(raw.recv(100), b"", "raw client closed for being idle")
    d.wait_log("(idle timeout)")
    lines.sendall(b"still\n")
    equal(recv_until(lines, 1), b"top lines still\n", "line client kept")
    for s in (lines, more, raw):
        s.close()
    equal(d.stop(), 0, "exit status")


def test_reload_changes_a_listeners_settings():
    lp, rp, up = ports()
    d = Daemon(conf(lp, rp, up), listen=False)
    d.write_conf(conf(lp, rp, up, raw_max=2))
    d.reload()
    raw = connect(rp)
    equal(recv_until(raw, terminator=b"raw", count=1), b"hello raw",
          "greeting")
    raw.sendall(b"abcd")
    equal(recv_until(raw, 2, terminator=b"]"), b"[ab][cd]",
          "the reloaded limit of the listener")
    raw.close()
    equal(d.stop(), 0, "exit status")


def check_mode(*args):
    return subprocess.run([harness.ECHOREPLYD] + list(args),
                          stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=harness.WAIT)


def test_check_prints_each_listeners_settings():
    lp, rp, up = ports()
    with harness.TempDir() as t:
        path = t.file("services.conf", conf(lp, rp, up))
        r = check_mode("-n", "-v", "-f", path)
        equal(r.returncode, 0, "status of -n -v (stderr %r)" % r.stderr)
    out = r.stdout.decode()
    rest = out[out.index('name = "raw"'):]
    rest = rest[:rest.index("; }")]
    for want in ('framing = "raw"', 'max_message_bytes = 4',
                 'max_connections = 1', 'idle_timeout_ms = 300',
                 'default_reply = "[%{message}]"'):
        check(want in rest, "%r not in the raw listener's dump:\n%s" %
              (want, rest))
    dg = out[out.index('name = "dg"'):]
    dg = dg[:dg.index("; }")]
    check('framing' not in dg and 'idle_timeout_ms' not in dg,
          "stream settings in the udp listener's dump:\n" + dg)
    check('max_message_bytes = 64' in dg, "inherited limit missing:\n" + dg)


def test_ctl_takes_the_framing_of_its_listener():
    lp, rp, up = ports()
    d = Daemon(conf(lp, rp, up, raw_max=64), listen=False)
    # -p names the raw listener: raw framing and its greeting, from its
    # own settings, not from the top level (line framing, no greeting)
    r = harness.ctl("-f", d.conf, "-v", "-H", "127.0.0.1", "-p", str(rp),
                    "abc")
    equal((r.returncode, r.stdout), (0, b"[abc]\n"),
          "echoreplyctl on the raw listener (stderr %r)" % r.stderr)
    check(b"greeting: hello raw\n" in r.stderr, "stderr %r" % r.stderr)
    r = harness.ctl("-f", d.conf, "abc")
    equal((r.returncode, r.stdout), (0, b"top lines abc\n"),
          "echoreplyctl on the first listener (stderr %r)" % r.stderr)
    equal(d.stop(), 0, "exit status")


def test_udp_listener_refuses_stream_settings():
    with harness.TempDir() as t:
        path = t.file("udp.conf", 'listen = { protocol = "udp"; port = %d;\n'
                      '  framing = "raw"; };\n' % harness.free_port())
        r = check_mode("-n", "-f", path)
    equal(r.returncode, 78, "status of -n")
    check(path + ":2: 'framing' is not for udp listeners" in
          r.stderr.decode(), r.stderr)


if __name__ == "__main__":
    harness.run(globals())

# SPDX-License-Identifier: ISC
"""Listeners opened from the config: Unix stream sockets (created, a stale
file replaced, one in use refused, removed at exit), several at once,
IPv6 with ipv6_only off, SO_REUSEPORT shared by two instances, and UDP
listeners served: rules, cycling, delays, the line end kept out and put back,
empty datagrams answered."""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import Daemon, check, equal, recv_until  # noqa: E402


class TempDir:
    def __enter__(self):
        self.path = tempfile.mkdtemp(prefix="echoreplyd-ls-")
        return self.path

    def __exit__(self, *exc):
        shutil.rmtree(self.path)


def unix_ask(path, text):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(harness.WAIT)
        s.connect(path)
        s.sendall(text + b"\n")
        return recv_until(s, 1)


def test_unix_and_tcp_from_config():
    with TempDir() as tmp:
        path = os.path.join(tmp, "echo.sock")
        # a file left by a run that died: nobody listens on it
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stale.bind(path)
        stale.close()
        d = Daemon('listen = ( { name = "tcp"; port = %d; },\n'
                   '  { name = "local"; protocol = "unix"; path = "%s"; } );\n'
                   'default_reply = "%%{listener} %%{client_address} '
                   '%%{client_port} %%{message}";\n' % (
                       harness.free_port(), path), listen=False)
        equal(unix_ask(path, b"hi"), b"local local 0 hi\n", "unix reply")
        d.wait_log("removed stale socket %s\n" % path)
        d.wait_log("listening on %s (local, Unix stream)\n" % path)
        # a second instance must not steal the socket in use
        d2 = Daemon('listen = { protocol = "unix"; path = "%s"; };\n' % path,
                    listen=False, expect_ready=False)
        equal(d2.proc.wait(harness.WAIT), 69, "second instance's status")
        check("Address already in use" in d2.log(), d2.log())
        equal(unix_ask(path, b"still"), b"local local 0 still\n",
              "first instance still serves")
        equal(d.stop(), 0, "exit status")
        check(not os.path.exists(path), "socket file left behind")


def test_unix_socket_left_by_user_is_said_and_removed_next():
    """Switched to nobody, the daemon cannot remove its socket from a
    directory of root's: it says so at exit, and the next start removes
    the file and serves."""
    if os.geteuid() != 0:
        return
    with TempDir() as tmp:
        os.chmod(tmp, 0o755)
        path = os.path.join(tmp, "u.sock")
        conf = ('listen = { protocol = "unix"; path = "%s"; };\n'
                'user = "nobody";\n' % path)
        d = Daemon(conf, listen=False)
        equal(unix_ask(path, b"one"), b"one\n", "first run")
        equal(d.stop(), 0, "exit status")
        check("cannot remove %s (Permission denied): the next start "
              "removes it\n" % path in d.log(), d.log())
        check(os.path.exists(path), "the file went, so the test tests "
              "nothing")
        d2 = Daemon(conf, listen=False)
        d2.wait_log("removed stale socket %s\n" % path)
        equal(unix_ask(path, b"two"), b"two\n", "second run")
        equal(d2.stop(), 0, "exit status")


def test_ipv6_only_false_takes_ipv4_clients():
    port = harness.free_port("::1")
    try:
        d = Daemon('listen = { address = "::"; port = %d; '
                   'ipv6_only = false; };\n'
                   'default_reply = "%%{client_address}";\n' % port,
                   port=port, listen=False)
    except AssertionError as e:
        if "Address already in use" in str(e):
            return  # the IPv4 side of the port was taken meanwhile
        raise
    with socket.create_connection(("127.0.0.1", port), harness.WAIT) as s:
        s.sendall(b"x\n")
        equal(recv_until(s, 1), b"127.0.0.1\n", "IPv4 client of ::")
    with socket.create_connection(("::1", port), harness.WAIT) as s:
        s.sendall(b"x\n")
        equal(recv_until(s, 1), b"::1\n", "IPv6 client of ::")


def test_reuse_port_two_instances():
    port = harness.free_port()
    conf = 'listen = { port = %d; reuse_port = true; };\n' % port
    a = Daemon(conf, port=port, listen=False)
    b = Daemon(conf, port=port, listen=False)
    with a.connect() as s:
        s.sendall(b"shared\n")
        equal(recv_until(s, 1), b"shared\n", "reply on a shared port")
    equal(a.stop(), 0, "first instance")
    with b.connect() as s:
        s.sendall(b"still\n")
        equal(recv_until(s, 1), b"still\n", "second instance alone")
    equal(b.stop(), 0, "second instance")


def udp_ask(port, data, timeout=harness.WAIT):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.settimeout(timeout)
        u.sendto(data, ("127.0.0.1", port))
        return u.recv(65536)


def test_udp_listener_served():
    port = harness.free_port()
    d = Daemon('listen = ( { address = "127.0.0.1"; port = %d; },\n'
               '  { name = "dg"; protocol = "udp"; port = %d; } );\n'
               'max_message_bytes = 16;\n'
               'rules = ( { exact = "PING"; reply = "+PONG"; },\n'
               '  { exact = "flip"; replies = [ "heads", "tails" ]; },\n'
               '  { exact = "quiet"; no_reply = true; } );\n'
               % (port, port), port=port, listen=False)
    equal(udp_ask(port, b"PING\n"), b"+PONG\n", "rule over UDP")
    equal(udp_ask(port, b"echo\r\n"), b"echo\r\n", "CRLF comes back")
    equal(udp_ask(port, b"bare"), b"bare", "no line end, none added")
    equal(udp_ask(port, b"flip\n"), b"heads\n", "first of the cycle")
    equal(udp_ask(port, b"flip\n"), b"tails\n", "second of the cycle")
    equal(udp_ask(port, b"x" * 17 + b"\n"),
          b"error: message longer than 16 bytes", "too long")
    equal(udp_ask(port, b"y" * 16 + b"\r\n"), b"y" * 16 + b"\r\n",
          "16 bytes and CRLF fit")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.settimeout(harness.WAIT)
        u.sendto(b"quiet\n", ("127.0.0.1", port))
        u.sendto(b"after\n", ("127.0.0.1", port))
        equal(u.recv(65536), b"after\n", "no reply to a silent rule")
    # the TCP listener on the same port number still works
    with d.connect() as s:
        s.sendall(b"tcp\n")
        equal(recv_until(s, 1), b"tcp\n", "TCP beside UDP")
    d.wait_log('datagram to dg: "PING" (rule #1)')
    # echoreplyctl -u finds the UDP listener in the config
    r = subprocess.run([harness.ECHOREPLYCTL, "-f", d.conf, "-u", "PING",
                        "other"], capture_output=True, timeout=harness.WAIT)
    equal((r.returncode, r.stdout), (0, b"+PONG\nother\n"),
          "echoreplyctl -u (stderr %r)" % r.stderr)


def test_udp_delay_does_not_block_others():
    port = harness.free_port()
    d = Daemon('listen = { protocol = "udp"; port = %d; };\n'
               'rules = ( { exact = "slow"; reply = "late"; '
               'delay_ms = 300; } );\n' % port, port=port, listen=False)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as slow:
        slow.settimeout(harness.WAIT)
        t0 = time.monotonic()
        slow.sendto(b"slow\n", ("127.0.0.1", port))
        equal(udp_ask(port, b"fast\n"), b"fast\n", "other client first")
        check(time.monotonic() - t0 < 0.3, "the fast reply waited")
        equal(slow.recv(65536), b"late\n", "the delayed reply")
        check(time.monotonic() - t0 >= 0.29, "delay not kept")
    equal(d.stop(), 0, "exit status")


def test_udp_empty_datagram_answered():
    # an empty datagram is a message like any other: through the rules,
    # and its reply is a datagram even when it is empty
    port = harness.free_port()
    d = Daemon('listen = { name = "dg"; protocol = "udp"; port = %d; };\n'
               'rules = ( { exact = "blank"; reply = ""; },\n'
               '  { exact = "quiet"; no_reply = true; } );\n' % port,
               port=port, listen=False)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.settimeout(harness.WAIT)
        u.connect(("127.0.0.1", port))
        u.send(b"")
        equal(u.recv(65536), b"", "the echo of an empty datagram")
        u.send(b"blank")
        u.send(b"quiet")
        u.send(b"after")
        equal(u.recv(65536), b"", "a reply rendered empty")
        equal(u.recv(65536), b"after", "none to no_reply")
    d.wait_log('datagram to dg: ""')
    d.stop()
    d = Daemon('listen = { name = "dg"; protocol = "udp"; port = %d; };\n'
               'rules = ( { exact = ""; reply = "empty"; } );\n' % port,
               port=port, listen=False)
    equal(udp_ask(port, b""), b"empty", "a rule for the empty message")
    r = subprocess.run([harness.ECHOREPLYCTL, "-f", d.conf, "-u", "--raw",
                        "-t", "2", ""], capture_output=True,
                       timeout=harness.WAIT)
    equal((r.returncode, r.stdout, r.stderr), (0, b"empty\n", b""),
          "echoreplyctl -u --raw with an empty message")
    d.stop()
    # an empty reply held by a delay, before any reply made a buffer
    d = Daemon('listen = { name = "dg"; protocol = "udp"; port = %d; };\n'
               'rules = ( { exact = ""; reply = "%%{message}"; '
               'delay_ms = 20; } );\n' % port, port=port, listen=False)
    equal(udp_ask(port, b""), b"", "a delayed empty reply")
    equal(d.stop(), 0, "exit status")


if __name__ == "__main__":
    harness.run(globals())

"""Listeners opened from the config: Unix stream sockets (created, a stale
file replaced, one in use refused, removed at exit), several at once,
IPv6 with ipv6_only off, SO_REUSEPORT shared by two instances, and a UDP
listener refused with exit 78 until datagrams are served."""

import os
import shutil
import socket
import sys
import tempfile

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


def test_udp_listener_refused_for_now():
    port = harness.free_port()
    d = Daemon('listen = { protocol = "udp"; port = %d; };\n' % port,
               listen=False, expect_ready=False)
    equal(d.proc.wait(harness.WAIT), 78, "exit status")
    check("listener 127.0.0.1:%d/udp in %s: UDP is not served yet\n" %
          (port, d.conf) in d.log(), d.log())


if __name__ == "__main__":
    harness.run(globals())

# SPDX-License-Identifier: ISC
"""Socket activation through the real systemd-socket-activate: the daemon
serves exactly the passed sockets (TCP over IPv4 and IPv6, Unix stream),
names them by FileDescriptorName=, ignores the config's listeners, and
refuses a kind it cannot serve with exit 78. Skips (77) without
systemd-socket-activate."""

import errno
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

EX_CONFIG = 78


def activated(sockets, names=None, conf_body="", datagram=False,
              seqpacket=False):
    """echoreplyd under systemd-socket-activate listening on `sockets`
    (host:port or /path). It is started on the first connection. The
    config names a listener of its own that must not be opened."""
    prefix = ["systemd-socket-activate", "-E", "NOTIFY_SOCKET"]
    if datagram:
        prefix.append("--datagram")
    if seqpacket:
        prefix.append("--seqpacket")
    for s in sockets:
        prefix += ["-l", s]
    if names:
        prefix.append("--fdname=" + ":".join(names))
    return Daemon(conf_body, listen=False, expect_ready=False, prefix=prefix)


def connect(addr, timeout=harness.WAIT):
    """Connects to host:port, [v6]:port or /path, retrying until it is
    listening (systemd-socket-activate binds just after it starts)."""
    deadline = time.monotonic() + timeout
    while True:
        if addr.startswith("/"):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            target = addr
        elif addr.startswith("["):
            s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            host, port = addr[1:].split("]:")
            target = (host, int(port))
        else:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            host, port = addr.rsplit(":", 1)
            target = (host, int(port))
        s.settimeout(timeout)
        try:
            s.connect(target)
            return s
        except (ConnectionRefusedError, FileNotFoundError):
            s.close()
            if time.monotonic() > deadline:
                raise AssertionError("%s never accepted a connection" % addr)
            time.sleep(0.02)


class TempDir:
    """A directory for socket files, removed afterwards."""

    def __enter__(self):
        self.path = tempfile.mkdtemp(prefix="echoreplyd-sa-")
        return self.path

    def __exit__(self, *exc):
        shutil.rmtree(self.path)


def ask(s, text):
    s.sendall(text + b"\n")
    return recv_until(s, 1)


def refused(addr):
    host, port = addr.rsplit(":", 1)
    with socket.socket() as s:
        s.settimeout(harness.WAIT)
        return s.connect_ex((host, int(port))) != 0


def test_tcp_passed_socket_served_config_ignored():
    port, unused = harness.free_port(), harness.free_port()
    addr = "127.0.0.1:%d" % port
    d = activated([addr], names=["main"],
                  conf_body='listen = { port = %d; };\n'
                  'default_reply = "%%{listener} %%{message}";\n' % unused)
    with connect(addr) as s:
        d.wait_notify("READY=1")
        equal(ask(s, b"hello"), b"main hello\n", "reply")
    d.wait_log("listening on %s (main, TCP)\n" % addr)
    check(refused("127.0.0.1:%d" % unused),
          "the config's own listener was opened too")
    d.wait_log("using 1 socket passed by the service manager; the 'listen' "
               "settings of %s are not used\n" % d.conf)
    equal(d.log().count("are not used"), 1, "times the notice is logged")
    equal(d.stop(), 0, "exit status")


def test_unix_socket_passed():
    with TempDir() as tmp:
        path = os.path.join(tmp, "echo.sock")
        d = activated([path], names=["local"],
                      conf_body='default_reply = "%{listener} '
                      '%{client_address} %{message}";\n')
        with connect(path) as s:
            d.wait_notify("READY=1")
            equal(ask(s, b"over unix"), b"local local over unix\n", "reply")
        d.wait_log("listening on %s (local, Unix stream)\n" % path)
        d.wait_log(" disconnected after ")
        check("unix:local#1 connected to local\n" in d.log(), d.log())
        check('unix:local#1 message 1: "over unix"\n' in d.log(), d.log())
        equal(d.stop(), 0, "exit status")


def test_several_named_sockets():
    p4, p6 = harness.free_port(), harness.free_port("::1")
    with TempDir() as tmp:
        path = os.path.join(tmp, "several.sock")
        socks = ["127.0.0.1:%d" % p4, "[::1]:%d" % p6, path]
        names = ["four", "six", "unix"]
        d = activated(socks, names=names,
                      conf_body='default_reply = "%{listener}:%{message}";\n')
        conns = []
        try:
            for a in socks:
                conns.append(connect(a))
            d.wait_notify("READY=1")
            for a, s, name in zip(socks, conns, names):
                equal(ask(s, b"x"), name.encode() + b":x\n",
                      "reply through " + a)
        finally:
            for s in conns:
                s.close()
        for a, name, kind in zip(socks, names,
                                 ["TCP", "TCP", "Unix stream"]):
            d.wait_log("listening on %s (%s, %s)\n" % (a, name, kind))
        d.wait_log("using 3 sockets passed by the service manager")
        equal(d.stop(), 0, "exit status")


def test_passed_sockets_take_their_listeners_settings():
    # a passed socket named like a configured listener is served with that
    # listener's settings; an unknown name with the top level's
    pa, pb = harness.free_port(), harness.free_port()
    socks = ["127.0.0.1:%d" % pa, "127.0.0.1:%d" % pb]
    d = activated(socks, names=["shouty", "other"], conf_body=(
        'listen = ( { name = "shouty"; port = 1; '
        'default_reply = "SHOUT %{message}"; max_message_bytes = 4; } );\n'
        'default_reply = "top %{message}";\n'))
    a = connect(socks[0])
    b = connect(socks[1])
    try:
        d.wait_notify("READY=1")
        equal(ask(a, b"hey"), b"SHOUT hey\n", "the named listener's reply")
        equal(ask(b, b"hey"), b"top hey\n", "the top level's reply")
        a.sendall(b"toolong\n")
        equal(recv_until(a, 1), b"error: message longer than 4 bytes\n",
              "the named listener's limit")
    finally:
        a.close()
        b.close()
    equal(d.stop(), 0, "exit status")


def test_passed_socket_named_for_a_tls_listener():
    # TLS is a listener's setting like any other: by its name
    import ssl
    r = subprocess.run([harness.ECHOREPLYD, "-V"], capture_output=True,
                       timeout=harness.WAIT)
    if b"TLS: not built" in r.stdout:
        return
    pa, pb = harness.free_port(), harness.free_port()
    socks = ["127.0.0.1:%d" % pa, "127.0.0.1:%d" % pb]
    d = activated(socks, names=["secure", "plain"], conf_body=(
        'listen = ( { name = "secure"; port = 1; tls = true; '
        'tls_self_signed = true; default_reply = "%{tls_version}"; } );\n'))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    a = connect(socks[0])
    b = connect(socks[1])
    try:
        with ctx.wrap_socket(a, server_hostname="localhost") as t:
            d.wait_notify("READY=1")
            equal(ask(t, b"hey"), b"TLSv1.3\n", "TLS on the named socket")
        equal(ask(b, b"hey"), b"hey\n", "plain on the other")
    finally:
        a.close()
        b.close()
    equal(d.stop(), 0, "exit status")


def wait_exit(d):
    try:
        return d.proc.wait(harness.WAIT)
    except Exception:
        raise AssertionError("echoreplyd still running; log:\n" + d.log())


def test_udp_socket_served():
    port = harness.free_port()
    d = activated(["127.0.0.1:%d" % port], datagram=True, names=["dg"],
                  conf_body='default_reply = "%{listener}:%{message}";\n')
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        # the first datagram makes systemd-socket-activate start the
        # daemon, which answers it from the passed socket
        u.settimeout(0.5)
        deadline = time.monotonic() + harness.WAIT
        while True:
            u.sendto(b"hello\n", ("127.0.0.1", port))
            try:
                data = u.recv(65536)
                break
            except socket.timeout:
                check(time.monotonic() < deadline, "no UDP reply; log:\n" +
                      d.log())
        equal(data, b"dg:hello\n", "reply datagram")
    d.wait_log("listening on 127.0.0.1:%d/udp (dg, UDP)\n" % port)
    equal(d.stop(), 0, "exit status")


def test_seqpacket_socket_refused():
    with TempDir() as tmp:
        path = os.path.join(tmp, "seq.sock")
        d = activated([path], names=["seq"], seqpacket=True)
        deadline = time.monotonic() + harness.WAIT
        while True:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            try:
                s.connect(path)
                break
            except (ConnectionRefusedError, FileNotFoundError):
                s.close()
                check(time.monotonic() < deadline, "%s never listened" % path)
                time.sleep(0.02)
        try:
            equal(wait_exit(d), EX_CONFIG, "exit status; log:\n" + d.log())
        finally:
            s.close()
        d.wait_log("socket 3 (seq) passed by the service manager is a "
                   "sequential packet socket, which echoreplyd cannot "
                   "serve\n")


if __name__ == "__main__":
    if shutil.which("systemd-socket-activate") is None:
        print("1..0 # SKIP systemd-socket-activate not installed")
        sys.exit(77)
    harness.run(globals())

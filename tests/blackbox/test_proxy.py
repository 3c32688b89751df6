# SPDX-License-Identifier: ISC
"""PROXY protocol listeners: v1 and v2 headers (built here byte by byte,
and sent by a real HAProxy from Debian's package when it is installed), the
client they carry used everywhere (replies, logs, access list, per-source
limit), LOCAL and UNKNOWN, and every way a header can be wrong: missing,
malformed, of a version not accepted, too slow, from a network not
allowed to send one. One daemon also serves a line and a length-prefixed
listener beside the PROXY one."""

import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import Daemon, check, equal, recv_until  # noqa: E402

SIG = b"\r\n\r\n\x00\r\nQUIT\n"
REPLY = ('default_reply = "%{client_address}:%{client_port} '
         'via %{proxy_address} said %{message}";\n')


def v1(src, sport, dst="10.0.0.1", dport=80, fam="TCP4"):
    return ("PROXY %s %s %s %d %d\r\n" % (fam, src, dst, sport,
                                           dport)).encode()


def v2(src, sport, dst="10.0.0.1", dport=80, tlv=b""):
    six = ":" in src
    fam = socket.AF_INET6 if six else socket.AF_INET
    addrs = socket.inet_pton(fam, src) + socket.inet_pton(fam, dst) + \
        struct.pack(">HH", sport, dport)
    return SIG + bytes([0x21, 0x21 if six else 0x11]) + \
        struct.pack(">H", len(addrs) + len(tlv)) + addrs + tlv


def v2_local():
    return SIG + bytes([0x20, 0x00, 0, 0])


def proxy_daemon(extra=""):
    port = harness.free_port()
    return Daemon('listen = { address = "127.0.0.1"; port = %d; '
                  'proxy_protocol = "any"; proxy_timeout_ms = 300; };\n'
                  % port + REPLY + extra, port=port, listen=False)


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), harness.WAIT)
    s.settimeout(harness.WAIT)
    return s


def closed(s):
    """True when the daemon closed s (EOF or reset), within WAIT."""
    try:
        return s.recv(100) == b""
    except ConnectionResetError:
        return True


def test_v1_and_v2_name_the_client():
    d = proxy_daemon()
    port = d.port
    with connect(port) as s:
        # the header and the first message in one write
        s.sendall(v1("192.0.2.1", 5000) + b"hello\n")
        equal(recv_until(s, 1), b"192.0.2.1:5000 via 127.0.0.1 said hello\n",
              "v1: the client it names")
    with connect(port) as s:
        s.sendall(v2("198.51.100.7", 4242, tlv=b"\x04\x00\x03abc") + b"x\n")
        equal(recv_until(s, 1), b"198.51.100.7:4242 via 127.0.0.1 said x\n",
              "v2 over IPv4 with a TLV skipped")
    with connect(port) as s:
        s.sendall(v2("2001:db8::7", 443, dst="2001:db8::1"))
        s.sendall(b"six\n")
        equal(recv_until(s, 1), b"2001:db8::7:443 via 127.0.0.1 said six\n",
              "v2 over IPv6, the message in a later write")
    d.wait_log("192.0.2.1:5000 connected to ")
    d.wait_log('192.0.2.1:5000 message 1: "hello"')
    d.wait_log("(PROXY v2)")


def test_local_and_unknown_keep_the_balancers_address():
    d = proxy_daemon()
    port = d.port
    for header in (v2_local(), b"PROXY UNKNOWN\r\n",
                   b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n"):
        with connect(port) as s:
            me = "%s:%d" % s.getsockname()
            s.sendall(header + b"hc\n")
            equal(recv_until(s, 1), ("%s via 127.0.0.1 said hc\n" %
                                     me).encode(), "health check %r" % header)
    d.wait_log("its own address")


def test_bad_headers_are_closed_with_one_warning():
    d = proxy_daemon()
    port = d.port
    bad = [
        (b"GET / HTTP/1.0\r\n\r\n", "sent no valid PROXY header"),
        (b"PROXY TCP4 192.0.2.1 10.0.0.1 99999 80\r\n", "sent no valid"),
        (b"PROXY TCP4 2001:db8::1 10.0.0.1 1 80\r\n", "sent no valid"),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", "sent no valid"),
        (b"PROXY " + b"x" * 200, "sent no valid"),
        (SIG + bytes([0x21, 0x11, 0, 4]) + b"abcd", "sent no valid"),
        (SIG + bytes([0x21, 0x11, 0x20, 0]), "PROXY header too long"),
    ]
    for data, why in bad:
        with connect(port) as s:
            s.sendall(data)
            check(closed(s), "not closed after %r" % data)
        d.wait_log(why)
    # closing before the header is whole
    with connect(port) as s:
        s.sendall(b"PROXY TCP4 1.2.")
        s.shutdown(socket.SHUT_WR)
        check(closed(s), "not closed after a cut header")
    d.wait_log("closed before its PROXY header was whole")
    # a slow header: proxy_timeout_ms, while another client is served
    slow = connect(port)
    slow.sendall(b"PROXY TCP4 ")
    with connect(port) as s:
        s.sendall(v1("192.0.2.9", 9) + b"fast\n")
        equal(recv_until(s, 1), b"192.0.2.9:9 via 127.0.0.1 said fast\n",
              "the others are served meanwhile")
    check(closed(slow), "the slow header was not closed")
    slow.close()
    d.wait_log("no PROXY header within 300 ms; closing")
    equal(d.log().count("sent no valid PROXY header; closing"), 6,
          "one warning for each bad header; log:\n" + d.log())


def test_versions_and_networks():
    port, other = harness.free_port(), harness.free_port()
    d = Daemon('listen = ( { name = "v1only"; port = %d; '
               'proxy_protocol = "v1"; },\n'
               '  { name = "untrusted"; port = %d; proxy_protocol = "v2";\n'
               '    proxy_networks = [ "10.0.0.0/8" ]; } );\n' %
               (port, other) + REPLY, port=port, listen=False)
    with connect(port) as s:
        s.sendall(v2("192.0.2.1", 1) + b"x\n")
        check(closed(s), "a v2 header on a v1 listener was served")
    d.wait_log("sent no valid PROXY header")
    with connect(other) as s:
        s.sendall(v2("192.0.2.1", 1) + b"x\n")
        check(closed(s), "a balancer outside proxy_networks was served")
    d.wait_log("refused: not in proxy_networks of untrusted")


def test_the_carried_client_meets_the_access_list_and_limits():
    d = proxy_daemon('deny = "192.0.2.66";\nmax_connections_per_source = 1;\n'
                     'refuse_reply = "busy";\n')
    port = d.port
    with connect(port) as s:
        s.sendall(v1("192.0.2.66", 1) + b"x\n")
        check(closed(s), "a denied client got through the balancer")
    d.wait_log("192.0.2.66:1 (via 127.0.0.1) refused by the access list")
    # one connection per client address, counted by the carried address:
    # the balancer's own many connections do not count together
    first = connect(port)
    first.sendall(v1("192.0.2.5", 1) + b"a\n")
    equal(recv_until(first, 1), b"192.0.2.5:1 via 127.0.0.1 said a\n", "first")
    other = connect(port)
    other.sendall(v1("192.0.2.6", 1) + b"b\n")
    equal(recv_until(other, 1), b"192.0.2.6:1 via 127.0.0.1 said b\n",
          "another client of the same balancer")
    with connect(port) as s:
        s.sendall(v1("192.0.2.5", 2) + b"c\n")
        equal(recv_until(s), b"busy\n", "the same client twice: refused")
    first.close()
    other.close()
    d.wait_log("max_connections_per_source")


def test_one_daemon_line_length_and_proxy_listeners():
    lp, bp, pp = (harness.free_port() for _ in range(3))
    d = Daemon('listen = (\n'
               '  { name = "lines"; port = %d; },\n'
               '  { name = "binary"; port = %d; framing = "length";\n'
               '    length_bytes = 2; max_message_bytes = 16; },\n'
               '  { name = "balanced"; port = %d; proxy_protocol = "any"; }\n'
               ');\n' % (lp, bp, pp) + REPLY, port=lp, listen=False)
    with connect(lp) as s:
        s.sendall(b"plain\n")
        equal(recv_until(s, 1), b"127.0.0.1:%d via  said plain\n" %
              s.getsockname()[1], "line listener: no proxy address")
    with connect(bp) as s:
        s.sendall(b"\x00\x02hi")
        want = b"127.0.0.1:%d via  said hi" % s.getsockname()[1]
        got = b""
        while len(got) < 2 + len(want):
            chunk = s.recv(100)
            check(chunk, "closed; got %r" % got)
            got += chunk
        equal(got, struct.pack(">H", len(want)) + want, "length listener")
    with connect(pp) as s:
        s.sendall(v1("192.0.2.3", 3) + b"p\n")
        equal(recv_until(s, 1), b"192.0.2.3:3 via 127.0.0.1 said p\n",
              "PROXY listener")


def test_haproxy_send_proxy():
    haproxy = shutil.which("haproxy") or (
        "/usr/sbin/haproxy" if os.path.exists("/usr/sbin/haproxy") else None)
    if haproxy is None:
        # CI installs it (scripts/bootstrap): there, missing is a failure
        check(not os.environ.get("CI"), "haproxy is not installed")
        print("# haproxy is not installed: the real-balancer case is "
              "skipped (scripts/bootstrap installs it)")
        return
    d = proxy_daemon()
    port = d.port
    tmp = tempfile.mkdtemp(prefix="echoreplyd-haproxy-")
    fronts = (harness.free_port(), harness.free_port())
    cfg = os.path.join(tmp, "haproxy.cfg")
    with open(cfg, "w") as f:
        f.write("global\n  maxconn 100\n"
                "defaults\n  mode tcp\n  timeout connect 5s\n"
                "  timeout client 10s\n  timeout server 10s\n")
        for name, front, how in (("one", fronts[0], "send-proxy"),
                                 ("two", fronts[1], "send-proxy-v2")):
            f.write("listen %s\n  bind 127.0.0.1:%d\n"
                    "  server echo 127.0.0.1:%d %s\n" % (name, front, port,
                                                         how))
    errlog = open(os.path.join(tmp, "stderr"), "w+b")
    proc = subprocess.Popen([haproxy, "-f", cfg, "-db"],
                            stdout=subprocess.DEVNULL, stderr=errlog)
    try:
        for front, version in zip(fronts, (1, 2)):
            deadline = time.monotonic() + harness.WAIT
            while True:     # ready when its front accepts
                try:
                    s = connect(front)
                    break
                except OSError:
                    if proc.poll() is not None:
                        errlog.seek(0)
                        raise AssertionError("haproxy exited: %r" %
                                             errlog.read())
                    check(time.monotonic() < deadline, "haproxy never "
                          "listened on %d" % front)
                    time.sleep(0.05)
            with s:
                me = s.getsockname()
                s.sendall(b"through haproxy\n")
                equal(recv_until(s, 1), b"%s:%d via 127.0.0.1 said through "
                      b"haproxy\n" % (me[0].encode(), me[1]),
                      "send-proxy%s: the client as HAProxy saw it" %
                      ("-v2" if version == 2 else ""))
            d.wait_log("%s:%d connected to " % me)
            d.wait_log("(PROXY v%d)" % version)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(harness.WAIT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        errlog.close()
        shutil.rmtree(tmp)


def test_ctl_sends_proxy_headers():
    d = proxy_daemon()
    port = d.port
    for args, want in ((("--proxy", "192.0.2.1:7"), b"192.0.2.1:7"),
                       (("--proxy", "[2001:db8::1]:8", "--proxy-version",
                         "2"), b"2001:db8::1:8")):
        r = harness.ctl("-H", "127.0.0.1", "-p", str(port), *args, "hi")
        equal((r.returncode, r.stdout), (0, want + b" via 127.0.0.1 said "
              b"hi\n"), "echoreplyctl %s (stderr %r)" % (args, r.stderr))
    # from the config: the listener wants a header, none is named: one that
    # keeps echoreplyctl's own address
    r = harness.ctl("-f", d.conf, "hello")
    check(r.returncode == 0 and r.stdout.startswith(b"127.0.0.1:") and
          r.stdout.endswith(b" via 127.0.0.1 said hello\n"),
          "echoreplyctl -f on a PROXY listener: %r" % (r,))
    d.wait_log("(PROXY v1, its own address)")
    r = harness.ctl("-H", "127.0.0.1", "-p", str(port), "--proxy", "nowhere",
                    "x")
    equal(r.returncode, 64, "a bad --proxy is a usage error")


if __name__ == "__main__":
    harness.run(globals())

# SPDX-License-Identifier: ISC
"""TLS listeners, seen from real clients: Python's ssl module and
`openssl s_client`. TLS 1.2 and 1.3, the minimum version, client
certificates (required, optional, refused), ALPN, a rule on the SNI,
session resumption, the check mode on expired, mismatched, missing and
broken files, a reload that swaps the certificate under an open connection
(and a broken one that keeps the old), plaintext to a TLS port, a stalled
handshake beside good clients, pipelining, a 16 MiB line, close_notify, a
self-signed certificate and its logged fingerprint. Certificates are made
here with `openssl req`; none is committed."""

import hashlib
import os
import re
import select
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import Daemon, check, equal, recv_until  # noqa: E402

EX_CONFIG = 78
CA_CNF = """[ ca ]
default_ca = d
[ d ]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = p
copy_extensions = copy
[ p ]
commonName = supplied
"""


def openssl(*args, cwd):
    r = subprocess.run(["openssl"] + list(args), cwd=cwd,
                       capture_output=True, timeout=harness.WAIT)
    if r.returncode != 0:
        raise AssertionError("openssl %s: %s" % (" ".join(args),
                                                  r.stderr.decode()))


class Certs:
    """A CA, server certificates it signed (one expired), a second CA,
    client certificates from each: all made once for this file."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="echoreplyd-tls-")
        # the daemon may run as another user: let it read them
        os.chmod(self.dir, 0o755)
        d = self.dir
        with open(os.path.join(d, "ca.cnf"), "w") as f:
            f.write(CA_CNF)
        open(os.path.join(d, "index.txt"), "w").close()
        with open(os.path.join(d, "serial"), "w") as f:
            f.write("01\n")
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
              "-nodes"]
        for ca in ("ca", "ca2"):
            openssl("req", "-x509", *ec, "-keyout", ca + ".key", "-out",
                    ca + ".pem", "-days", "30", "-subj", "/CN=test " + ca,
                    cwd=d)
        san = "subjectAltName=DNS:localhost,IP:127.0.0.1"
        for name, ca, subj in (("server", "ca", "/CN=localhost"),
                               ("server2", "ca", "/CN=localhost/O=second"),
                               ("client", "ca", "/CN=alice/O=test"),
                               ("stranger", "ca2", "/CN=mallory")):
            openssl("req", *ec, "-keyout", name + ".key", "-out",
                    name + ".csr", "-subj", subj, "-addext", san, cwd=d)
            openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem",
                    "-CAkey", ca + ".key", "-CAcreateserial", "-days", "30",
                    "-copy_extensions", "copy", "-out", name + ".pem", cwd=d)
        openssl("req", *ec, "-keyout", "old.key", "-out", "old.csr", "-subj",
                "/CN=localhost", "-addext", san, cwd=d)
        openssl("ca", "-config", "ca.cnf", "-batch", "-notext", "-keyfile",
                "ca.key", "-cert", "ca.pem", "-in", "old.csr", "-out",
                "old.pem", "-startdate", "20200101000000Z", "-enddate",
                "20200201000000Z", cwd=d)
        for name in os.listdir(d):
            os.chmod(os.path.join(d, name), 0o644)

    def path(self, name):
        return os.path.join(self.dir, name)

    def cleanup(self):
        shutil.rmtree(self.dir)


certs = None


def tls_listener(name="tls", cert="server", extra=""):
    port = harness.free_port()
    return port, ('{ name = "%s"; address = "127.0.0.1"; port = %d; '
                  'tls = true; tls_certificate = "%s"; tls_key = "%s"; %s }'
                  % (name, port, certs.path(cert + ".pem"),
                     certs.path(cert + ".key"), extra))


def tls_daemon(extra="", body="", cert="server"):
    port, lis = tls_listener(cert=cert, extra=extra)
    d = Daemon("listen = ( %s );\n%s" % (lis, body), port=port, listen=False)
    return d


def context(ca="ca", version=None, cert=None, alpn=None, verify=True):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if verify:
        ctx.load_verify_locations(certs.path(ca + ".pem"))
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if version is not None:
        ctx.minimum_version = version
        ctx.maximum_version = version
    if cert is not None:
        ctx.load_cert_chain(certs.path(cert + ".pem"),
                            certs.path(cert + ".key"))
    if alpn is not None:
        ctx.set_alpn_protocols(alpn)
    return ctx


def tls_connect(port, ctx=None, server_hostname="localhost", session=None,
                **kw):
    raw = socket.create_connection(("127.0.0.1", port), harness.WAIT)
    raw.settimeout(harness.WAIT)
    try:
        return (ctx or context(**kw)).wrap_socket(
            raw, server_hostname=server_hostname, session=session)
    except BaseException:
        raw.close()
        raise


def ask(s, text):
    s.sendall(text + b"\n")
    return recv_until(s, 1)


def sha256_colons(der):
    return ":".join("%02X" % b for b in hashlib.sha256(der).digest())


def handshake_refused(port, **kw):
    """The handshake fails, or (TLS 1.3: a client certificate is judged
    after the client's Finished) the first read does."""
    try:
        s = tls_connect(port, **kw)
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
        return True
    with s:
        try:
            s.sendall(b"x\n")
            return s.recv(100) == b""
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
            return True


def test_tls12_and_tls13():
    d = tls_daemon(body='default_reply = "%{tls_version} %{message}";\n')
    for ver, name in ((ssl.TLSVersion.TLSv1_2, "TLSv1.2"),
                      (ssl.TLSVersion.TLSv1_3, "TLSv1.3")):
        with tls_connect(d.port, version=ver) as s:
            equal(s.version(), name, "version agreed")
            equal(ask(s, b"hello"), name.encode() + b" hello\n", "reply")
        d.wait_log("TLS: %s, " % name)
    # the plain log of the session: connected, TLS, the message
    check(re.search(r'127\.0\.0\.1:\d+ TLS: TLSv1\.3, TLS_\w+, '
                    r'SNI "localhost"\n', d.log()), "TLS record:\n" + d.log())


def test_min_version_refuses_older_clients():
    d = tls_daemon(extra='tls_min_version = "1.3";')
    check(handshake_refused(d.port, version=ssl.TLSVersion.TLSv1_2),
          "a TLS 1.2 client got in")
    d.wait_log("TLS handshake failed")
    with tls_connect(d.port) as s:
        equal(ask(s, b"ok"), b"ok\n", "TLS 1.3 still served")


def test_client_certificates():
    reply = ('default_reply = "[%{tls_client_subject}] '
             '[%{tls_client_fingerprint}]";\n')
    ca = 'tls_client_ca = "%s";' % certs.path("ca.pem")
    need = tls_daemon(extra=ca + ' tls_verify_client = "require";',
                      body=reply)
    with tls_connect(need.port, cert="client") as s:
        with open(certs.path("client.pem")) as f:
            der = ssl.PEM_cert_to_DER_cert(f.read())
        equal(ask(s, b"x"), ("[O=test,CN=alice] [%s]\n" %
                             sha256_colons(der)).encode(), "client facts")
    need.wait_log('client "O=test,CN=alice" SHA-256 ')
    for ver in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        check(handshake_refused(need.port, version=ver),
              "no certificate, but let in")
        check(handshake_refused(need.port, version=ver, cert="stranger"),
              "a certificate of another CA let in")
    need.wait_log("client certificate: ")

    maybe = tls_daemon(extra=ca + ' tls_verify_client = "optional";',
                       body=reply)
    with tls_connect(maybe.port) as s:
        equal(ask(s, b"x"), b"[] []\n", "optional and none sent")
    with tls_connect(maybe.port, cert="client") as s:
        check(ask(s, b"x").startswith(b"[O=test,CN=alice] ["),
              "optional and one sent")
    check(handshake_refused(maybe.port, cert="stranger"),
          "optional, but a bad certificate let in")


def test_alpn():
    d = tls_daemon(extra='tls_alpn = [ "echo", "h2" ];',
                   body='default_reply = "[%{tls_alpn}]";\n')
    with tls_connect(d.port, alpn=["h2", "echo"]) as s:
        # the server's preference decides
        equal(s.selected_alpn_protocol(), "echo", "protocol agreed")
        equal(ask(s, b"x"), b"[echo]\n", "%{tls_alpn}")
    with tls_connect(d.port, alpn=["x", "h2"]) as s:
        equal(ask(s, b"x"), b"[h2]\n", "the one in common")
    with tls_connect(d.port) as s:
        equal(ask(s, b"x"), b"[]\n", "no ALPN asked for")
    # RFC 7301: none in common is a fatal alert
    check(handshake_refused(d.port, alpn=["nothing"]),
          "no common protocol, yet a handshake")


def test_sni_rule():
    d = tls_daemon(body='rules = ( { exact = "who"; sni = "*.example"; '
                   'reply = "for %{tls_sni}"; } );\n'
                   'default_reply = "default [%{tls_sni}]";\n')
    ctx = context(verify=False)
    with tls_connect(d.port, ctx=ctx, server_hostname="a.example") as s:
        equal(ask(s, b"who"), b"for a.example\n", "the SNI rule")
    with tls_connect(d.port, ctx=ctx, server_hostname="A.EXAMPLE") as s:
        equal(ask(s, b"who"), b"for A.EXAMPLE\n", "names match any case")
    with tls_connect(d.port) as s:
        equal(ask(s, b"who"), b"default [localhost]\n", "another name")
    with tls_connect(d.port, ctx=ctx, server_hostname=None) as s:
        equal(ask(s, b"who"), b"default []\n", "no SNI at all")
    d.wait_log('SNI "a.example"')


def resumed(port, version, **kw):
    ctx = context(version=version)
    with tls_connect(port, ctx=ctx, **kw) as s:
        ask(s, b"one")          # TLS 1.3 tickets come after the handshake
        session = s.session
    with tls_connect(port, ctx=ctx, session=session, **kw) as s:
        ask(s, b"two")
        return s.session_reused


def test_session_resumption():
    d = tls_daemon()
    for ver in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        check(resumed(d.port, ver), "%s session not resumed" % ver)
    off = tls_daemon(extra="tls_session_tickets = false;")
    check(not resumed(off.port, ssl.TLSVersion.TLSv1_3),
          "TLS 1.3 resumed without tickets")


def check_mode(lis, body=""):
    with harness.TempDir() as t:
        conf = t.file("c.conf", "listen = ( %s );\n%s" % (lis, body))
        r = subprocess.run([harness.ECHOREPLYD, "-n", "-f", conf],
                           capture_output=True, timeout=harness.WAIT)
        return r.returncode, r.stderr.decode().replace(conf, "C"), r.stdout


def test_check_mode_reads_the_files():
    _, lis = tls_listener()
    code, err, out = check_mode(lis)
    equal((code, err, out), (0, "", b"configuration OK\n"), "good files")

    _, lis = tls_listener(cert="old")
    code, err, out = check_mode(lis)
    equal(code, 0, "an expired certificate is a warning")
    check(re.fullmatch(r'C:1: warning: listener \'tls\': tls_certificate '
                       r'"[^"]*/old\.pem" expired on Feb  1 00:00:00 2020 '
                       r'GMT\n', err), "expired: %r" % err)

    mismatch = lis.replace(certs.path("old.key"), certs.path("server.key"))
    code, err, _ = check_mode(mismatch)
    equal(code, EX_CONFIG, "mismatched key")
    check(re.fullmatch(r'C:1: listener \'tls\': the key in "[^"]*/server'
                       r'\.key" does not match tls_certificate "[^"]*/old'
                       r'\.pem"\n', err), "mismatch: %r" % err)

    # one error per file, at the line that names it
    port = harness.free_port()
    code, err, _ = check_mode(
        '{ name = "a"; port = %d; tls = true;\n'
        '  tls_certificate = "/nonexistent/c.pem";\n'
        '  tls_key = "%s"; }' % (port, certs.path("server.key")))
    equal(code, EX_CONFIG, "missing certificate")
    equal(err, "C:2: listener 'a': tls_certificate \"/nonexistent/c.pem\": "
          "No such file or directory\n", "missing file")
    code, err, _ = check_mode(
        '{ name = "a"; port = %d; tls = true;\n'
        '  tls_certificate = "%s";\n  tls_key = "%s"; }' %
        (port, certs.path("server.pem"), certs.path("ca.cnf")))
    equal(code, EX_CONFIG, "a key file that holds no key")
    check(err.startswith("C:3: listener 'a': tls_key \"%s\": no PEM "
                         "private key: " % certs.path("ca.cnf")),
          "not a key: %r" % err)
    # relative to the config file's directory; inherited from the top
    with harness.TempDir() as t:
        shutil.copy(certs.path("server.pem"), t.path)
        shutil.copy(certs.path("server.key"), t.path)
        conf = t.file("c.conf", 'tls_certificate = "server.pem";\n'
                      'tls_key = "server.key";\nlisten = ( { port = %d; '
                      'tls = true; } );\n' % port)
        r = subprocess.run([harness.ECHOREPLYD, "-n", "-f", conf],
                           capture_output=True, timeout=harness.WAIT)
        equal((r.returncode, r.stderr), (0, b""), "relative, inherited")
    # a daemon does not start on a bad file
    _, lis = tls_listener(extra='tls_ciphers = "NOSUCHCIPHER";')
    with harness.TempDir() as t:
        conf = t.file("c.conf", "listen = ( %s );\n" % lis)
        r = subprocess.run([harness.ECHOREPLYD, "-d", "-f", conf],
                           capture_output=True, timeout=harness.WAIT)
        equal(r.returncode, EX_CONFIG, "start with a bad cipher list")
        check(b"tls_ciphers \"NOSUCHCIPHER\": no cipher match" in r.stderr,
              r.stderr)


def peer_der(s):
    return s.getpeercert(binary_form=True)


def test_reload_swaps_the_certificate():
    port, lis = tls_listener()
    d = Daemon("listen = ( %s );\n" % lis, port=port, listen=False)
    with open(certs.path("server.pem")) as f:
        first = ssl.PEM_cert_to_DER_cert(f.read())
    with open(certs.path("server2.pem")) as f:
        second = ssl.PEM_cert_to_DER_cert(f.read())
    old = tls_connect(port)
    try:
        equal(peer_der(old), first, "certificate before")
        ask(old, b"before")
        d.write_conf("listen = ( %s );\n" % lis.replace(
            "server.", "server2."))
        d.reload()
        with tls_connect(port) as s:
            equal(peer_der(s), second, "a new client's certificate")
            equal(ask(s, b"new"), b"new\n", "new client served")
        equal(ask(old, b"still"), b"still\n", "the open connection")
        # a broken certificate: the old configuration stays
        d.write_conf("listen = ( %s );\n" % lis.replace(
            "server.pem", "ca.cnf"))
        d.reload()
        d.wait_log("keeping the running configuration")
        with tls_connect(port) as s:
            equal(peer_der(s), second, "certificate after a bad reload")
        equal(ask(old, b"again"), b"again\n", "the open connection, again")
    finally:
        old.close()


def test_plaintext_on_a_tls_port():
    d = tls_daemon(extra="tls_handshake_timeout_ms = 60000;")
    with socket.create_connection(("127.0.0.1", d.port), harness.WAIT) as s:
        s.settimeout(harness.WAIT)
        s.sendall(b"hello\n")
        data = b""
        while True:
            chunk = s.recv(4096)    # a reset would raise here
            if not chunk:
                break
            data += chunk
        check(b"hello" not in data, "plaintext answered: %r" % data)
    d.wait_log("disconnected")
    warnings = [ln for ln in d.log().splitlines()
                if "sent no TLS handshake" in ln]
    equal(len(warnings), 1, "warnings:\n" + d.log())


def test_stalled_handshake_beside_good_clients():
    d = tls_daemon(extra="tls_handshake_timeout_ms = 400;")
    silent = socket.create_connection(("127.0.0.1", d.port), harness.WAIT)
    half = socket.create_connection(("127.0.0.1", d.port), harness.WAIT)
    try:
        half.sendall(b"\x16\x03\x01\x02\x00\x01")   # a ClientHello begins
        with tls_connect(d.port) as s:
            for i in range(50):
                equal(ask(s, b"m%d" % i), b"m%d\n" % i, "served meanwhile")
        for s in (silent, half):
            s.settimeout(harness.WAIT)
            equal(s.recv(100), b"", "stalled handshake closed")
        d.wait_log("no TLS handshake within 400 ms; closing")
    finally:
        silent.close()
        half.close()


def memory_client(port):
    """A TLS client on memory BIOs, so that the test decides which bytes
    go out together: (socket, SSLObject, outgoing BIO, incoming BIO)."""
    raw = socket.create_connection(("127.0.0.1", port), harness.WAIT)
    raw.settimeout(harness.WAIT)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = context().wrap_bio(inc, out, server_hostname="localhost")
    while True:
        try:
            obj.do_handshake()
            break
        except ssl.SSLWantReadError:
            raw.sendall(out.read())
            data = raw.recv(65536)
            check(data, "closed during the handshake")
            inc.write(data)
    raw.sendall(out.read())
    return raw, obj, out, inc


def memory_read_line(raw, obj, inc):
    """Reads one reply line through a memory_client's SSLObject."""
    got = b""
    while not got.endswith(b"\n"):
        try:
            got += obj.read(65536)
            continue
        except ssl.SSLWantReadError:
            pass
        data = raw.recv(65536)
        check(data, "closed before the reply")
        inc.write(data)
    return got


def verbose_tls_daemon():
    """A TLS daemon with -v: the rests are debug records."""
    port, lis = tls_listener()
    return Daemon("listen = ( %s );\n" % lis, port=port, listen=False,
                  args=("-v",))


def buffers_rest():
    """Whether the OpenSSL run with may free a quiet connection's record
    buffers: not where CVE-2024-4741 is unfixed (echoreplyd(8))."""
    r = subprocess.run([harness.ECHOREPLYD, "-V"], capture_output=True,
                       timeout=harness.WAIT)
    m = re.search(rb"TLS: OpenSSL (\d+)\.(\d+)\.(\d+)", r.stdout)
    check(m, "no OpenSSL version in -V: %r" % r.stdout)
    v = tuple(int(x) for x in m.groups())
    fixed = {(3, 0): 14, (3, 1): 6, (3, 2): 2, (3, 3): 1}
    if v[:2] in fixed:
        return v[2] >= fixed[v[:2]]
    return v >= (3, 4, 0)


def test_the_record_buffers_rest_only_where_that_is_safe():
    # an unsafe library: said at start, and no connection ever rests;
    # a safe one: neither
    d = verbose_tls_daemon()
    with tls_connect(d.port) as s:
        equal(ask(s, b"hello"), b"hello\n", "echo")
        if buffers_rest():
            d.wait_log(" quiet: tls buffers freed")
            check("CVE-2024-4741" not in d.log(), "a safe library: "
                  "no fallback")
        else:
            d.wait_log("CVE-2024-4741")
            with tls_connect(d.port) as s2:
                equal(ask(s2, b"later"), b"later\n", "echo")
                time.sleep(0.3)     # quiet three times the 100 ms
            check(" quiet: " not in d.log(), "rested on an unsafe "
                  "library")


def test_quiet_connections_free_their_record_buffers():
    # a busy connection keeps its record buffers; once quiet for 100 ms
    # it frees them, and takes new ones when it is busy again. One
    # with half a record unread keeps them through the quiet: the record
    # is still there when its other half comes.
    if not buffers_rest():
        return     # test_the_record_buffers_rest_only_where_that_is_safe
    d = verbose_tls_daemon()
    raw, obj, out, inc = memory_client(d.port)
    with raw:
        half_peer = "127.0.0.1:%d" % raw.getsockname()[1]
        obj.write(b"late\n")
        record = out.read()
        raw.sendall(record[:len(record) // 2])
        with tls_connect(d.port) as s:
            peer = "127.0.0.1:%d" % s.getsockname()[1]
            freed = peer + " quiet: tls buffers freed"
            equal(ask(s, b"first"), b"first\n", "busy")
            # the half record's connection was quiet longer: it was
            # looked at first
            d.wait_log(freed)
            check(half_peer + " quiet" not in d.log(),
                  "buffers freed under half a record")
            # busy again while the newest: it must be freed again
            equal(ask(s, b"second"), b"second\n", "busy again")
            raw.sendall(record[len(record) // 2:])
            equal(memory_read_line(raw, obj, inc), b"late\n",
                  "the half record, completed")
            d.wait_log(half_peer + " quiet: tls buffers freed")
            d.wait_log(freed, times=2)


def test_a_record_without_data_is_rested_again():
    # a TLS 1.3 KeyUpdate (s_client's "K") makes a rested connection read
    # a record and write its own: the buffers that took are freed at once
    if not buffers_rest():
        return     # test_the_record_buffers_rest_only_where_that_is_safe
    if shutil.which("openssl") is None:
        return
    d = verbose_tls_daemon()
    freed = " quiet: tls buffers freed"
    c = SClient(d.port, "-tls1_3", "-no_ign_eof")
    try:
        equal(c.ask(b"hello"), b"hello\n", "echo")
        d.wait_log(freed)
        c.p.stdin.write(b"K\n")
        c.p.stdin.flush()
        d.wait_log(freed, times=2)
        check('"K"' not in d.log(), "s_client sent its K as a message")
        equal(c.ask(b"after"), b"after\n", "echo after the KeyUpdate")
    finally:
        c.close()


def test_key_updates_do_not_hold_off_the_idle_timeout():
    # records without data are not activity: a client sending only
    # KeyUpdates, one every 100 ms, still idles out after its 600 ms
    if shutil.which("openssl") is None:
        return
    port, lis = tls_listener(extra="idle_timeout_ms = 600;")
    d = Daemon("listen = ( %s );\n" % lis, port=port, listen=False,
               args=("-v",))
    c = SClient(d.port, "-tls1_3", "-no_ign_eof")
    try:
        equal(c.ask(b"hello"), b"hello\n", "echo")
        deadline = time.monotonic() + harness.WAIT
        while "(idle timeout)" not in d.log():
            check(time.monotonic() < deadline, "KeyUpdates kept it open")
            try:
                c.p.stdin.write(b"K\n")
                c.p.stdin.flush()
            except BrokenPipeError:
                break       # closed: the log says why
            time.sleep(0.1)     # the pace of the KeyUpdates
        d.wait_log("(idle timeout)")
        check('"K"' not in d.log(), "s_client sent its K as a message")
        if buffers_rest():
            # they reached it: the timer's rest, then a KeyUpdate's
            d.wait_log(" quiet: tls buffers freed", times=2)
    finally:
        c.close()


def test_a_reload_without_tls_still_rests_its_tls_clients():
    # the listener's TLS is turned off; the connection made with it is
    # still TLS and still frees its buffers when quiet
    if not buffers_rest():
        return     # test_the_record_buffers_rest_only_where_that_is_safe
    d = verbose_tls_daemon()
    with tls_connect(d.port) as s:
        freed = "127.0.0.1:%d quiet: tls buffers freed" % s.getsockname()[1]
        equal(ask(s, b"before"), b"before\n", "echo")
        d.wait_log(freed)
        d.write_conf('listen = ( { name = "tls"; address = "127.0.0.1"; '
                     'port = %d; } );\n' % d.port)
        d.reload()
        with socket.create_connection(("127.0.0.1", d.port),
                                      harness.WAIT) as plain:
            plain.settimeout(harness.WAIT)
            plain.sendall(b"plain\n")
            equal(recv_until(plain, 1), b"plain\n", "TLS is off")
        equal(ask(s, b"after"), b"after\n", "the TLS client, after")
        d.wait_log(freed, times=2)


def test_close_notify_with_the_last_message():
    # the message and the client's close_notify in one segment, TCP left
    # open: the reply, then the server's close, at once
    d = tls_daemon()
    raw, obj, out, inc = memory_client(d.port)
    with raw:
        obj.write(b"last\n")
        try:
            obj.unwrap()
        except ssl.SSLWantReadError:
            pass            # sent ours; the server's is still to come
        raw.sendall(out.read())
        got = b""
        while True:
            data = raw.recv(65536)
            if not data:
                break
            inc.write(data)
            try:
                while True:
                    got += obj.read(65536)
            except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
                pass
        equal(got, b"last\n", "the reply before the end")
    d.wait_log("(client closed)")


def test_half_close_without_close_notify():
    # a client that shuts its side of the TCP connection with no
    # close_notify is taken as closed: its replies, then ours
    d = tls_daemon()
    raw = socket.create_connection(("127.0.0.1", d.port), harness.WAIT)
    raw.settimeout(harness.WAIT)
    with context().wrap_socket(raw, server_hostname="localhost",
                               suppress_ragged_eofs=False) as s:
        equal(ask(s, b"one"), b"one\n", "reply")
        s.sendall(b"two\n")
        socket.socket.shutdown(s, socket.SHUT_WR)   # the TCP FIN only
        # a bare EOF would raise SSLEOFError: the server's close_notify
        equal(recv_until(s, None), b"two\n", "reply, then close_notify")
    d.wait_log("(client closed)")


def test_a_broken_record_closes_that_client_only():
    d = tls_daemon()
    with tls_connect(d.port) as s, tls_connect(d.port) as other:
        equal(ask(s, b"first"), b"first\n", "before")
        # an application data record that cannot decrypt, then plaintext
        # that must never be taken for a message
        os.write(s.fileno(), b"\x17\x03\x03\x00\x20" + bytes(32) +
                 b"INJECTED\n")
        try:
            got = s.recv(100)
        except (ssl.SSLError, ConnectionResetError):
            got = b""
        equal(got, b"", "the broken connection ends")
        equal(ask(other, b"still"), b"still\n", "the other client")
    d.wait_log("disconnected")
    check("INJECTED" not in d.log(), "bytes after a broken record were "
          "read as a message:\n" + d.log())


def test_pipelined_messages():
    d = tls_daemon(extra="max_queued_bytes = 16777216;")
    n = 20000
    msgs = b"".join(b"message %d\n" % i for i in range(n))
    with tls_connect(d.port) as s:
        s.sendall(msgs)
        equal(recv_until(s, n), msgs, "every reply, in order")


def test_16_mib_line():
    d = tls_daemon(extra="max_message_bytes = 16777216; "
                   "max_queued_bytes = 33554432;", body="log_messages = "
                   "false;\n")
    line = b"x" * (16 * 1024 * 1024 - 1) + b"\n"
    with tls_connect(d.port) as s:
        s.sendall(line)
        got = recv_until(s, 1, timeout=harness.WAIT * 3)
        equal(len(got), len(line), "reply length")
        check(got == line, "reply bytes differ")


def test_close_notify_on_close():
    d = tls_daemon(body='rules = ( { exact = "bye"; reply = "bye"; '
                   'close = true; } );\n')
    raw = socket.create_connection(("127.0.0.1", d.port), harness.WAIT)
    raw.settimeout(harness.WAIT)
    # a bare EOF would raise SSLEOFError here: only close_notify is clean
    with context().wrap_socket(raw, server_hostname="localhost",
                               suppress_ragged_eofs=False) as s:
        s.sendall(b"bye\n")
        equal(recv_until(s, None), b"bye\n", "reply, then close_notify")


def test_self_signed_fingerprint_logged():
    port = harness.free_port()
    d = Daemon('listen = ( { port = %d; tls = true; tls_self_signed = '
               'true; } );\n' % port, port=port, listen=False)
    m = re.search(r"self-signed certificate for CN=\S+ \(([^)]*)\), valid "
                  r"for 365 days: SHA-256 fingerprint ([0-9A-F:]{95})\n",
                  d.log())
    check(m, "no fingerprint logged:\n" + d.log())
    check("DNS:localhost,IP:127.0.0.1" in m.group(1), m.group(1))
    with tls_connect(port, verify=False) as s:
        equal(sha256_colons(peer_der(s)), m.group(2), "fingerprint")
        equal(ask(s, b"hi"), b"hi\n", "reply")


def test_shipped_example_with_echoreplyctl():
    # the commented TLS listener of etc/echoreplyd.conf, as a user would
    # uncomment it, and echoreplyctl as echoreplyd.conf(5) shows it
    with open(os.path.join(harness.TOP_SRCDIR, "etc",
                           "echoreplyd.conf")) as f:
        lines = f.read().split("\n")
    start = [i for i, ln in enumerate(lines)
             if ln.startswith('  # , { name = "tls";')]
    equal(len(start), 1, "the commented TLS listener")
    i = start[0]
    while not lines[i].rstrip().endswith("}"):
        lines[i] = "  " + lines[i][4:]
        i += 1
    lines[i] = "  " + lines[i][4:]
    port, tls_port = harness.free_port(), harness.free_port()
    text = "\n".join(lines).replace("port    = 13008;", "port = %d;" % port)
    text = text.replace("port = 13443;", "port = %d;" % tls_port)
    text = text.replace("/etc/echoreplyd/cert.pem", certs.path("server.pem"))
    text = text.replace("/etc/echoreplyd/key.pem", certs.path("server.key"))
    d = Daemon(text, port=port, listen=False)
    r = harness.ctl("-p", str(tls_port), "--tls", "--ca", certs.path("ca.pem"),
                    "hello")
    equal((r.returncode, r.stdout, r.stderr), (0, b"hello\n", b""),
          "echoreplyctl --tls --ca")
    d.wait_log("TLS: TLSv1.3")


class SClient:
    """openssl s_client on a pipe: lines in, lines out."""

    def __init__(self, port, *args):
        self.p = subprocess.Popen(
            ["openssl", "s_client", "-quiet", "-connect",
             "127.0.0.1:%d" % port, "-CAfile", certs.path("ca.pem"),
             "-verify_return_error", "-verify_hostname", "localhost"] +
            list(args), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE)

    def ask(self, text):
        self.p.stdin.write(text + b"\n")
        self.p.stdin.flush()
        out = b""
        deadline = time.monotonic() + harness.WAIT
        while not out.endswith(b"\n"):
            left = deadline - time.monotonic()
            r, _, _ = select.select([self.p.stdout], [], [], max(left, 0))
            if not r:
                raise AssertionError("s_client: no reply; stderr %r" %
                                     self.p.stderr.read1(4096))
            chunk = os.read(self.p.stdout.fileno(), 4096)
            if not chunk:
                raise AssertionError("s_client ended: %r" %
                                     self.p.stderr.read())
            out += chunk
        return out

    def close(self):
        self.p.stdin.close()
        try:
            self.p.wait(harness.WAIT)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        self.p.stdout.close()
        self.p.stderr.close()


def test_openssl_s_client():
    if shutil.which("openssl") is None:
        return
    d = tls_daemon(extra='tls_alpn = "echo";',
                   body='rules = ( { exact = "who"; sni = "localhost"; '
                   'reply = "%{tls_version} %{tls_alpn} %{tls_sni}"; } );\n')
    for flag, ver in (("-tls1_2", b"TLSv1.2"), ("-tls1_3", b"TLSv1.3")):
        c = SClient(d.port, flag, "-servername", "localhost", "-alpn",
                    "echo", "-no_ign_eof")
        try:
            equal(c.ask(b"hello"), b"hello\n", "s_client echo")
            equal(c.ask(b"who"), ver + b" echo localhost\n", "s_client rule")
        finally:
            c.close()


def test_renegotiation_refused():
    # s_client renegotiates on a line "R" when it is not -quiet
    d = tls_daemon()
    p = subprocess.Popen(["openssl", "s_client", "-connect",
                          "127.0.0.1:%d" % d.port, "-tls1_2", "-CAfile",
                          certs.path("ca.pem")], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        out = b""
        p.stdin.write(b"hello\n")
        p.stdin.flush()
        deadline = time.monotonic() + harness.WAIT
        while b"\nhello\n" not in out:
            left = deadline - time.monotonic()
            r, _, _ = select.select([p.stdout], [], [], max(left, 0))
            check(r, "no reply before renegotiating: %r" % out[-300:])
            chunk = os.read(p.stdout.fileno(), 4096)
            check(chunk, "s_client ended: %r" % out[-300:])
            out += chunk
        p.stdin.write(b"R\n")
        p.stdin.flush()
        p.stdin.close()
        while True:     # what s_client says, to its end
            left = deadline - time.monotonic()
            r, _, _ = select.select([p.stdout], [], [], max(left, 0))
            check(r, "s_client did not end: %r" % out[-300:])
            chunk = os.read(p.stdout.fileno(), 4096)
            if not chunk:
                break
            out += chunk
        # the server's no_renegotiation alert, as the client reports it
        check(b"no renegotiation" in out, "renegotiated? %r" % out[-300:])
        d.wait_log("disconnected")
    finally:
        if p.poll() is None:
            p.kill()
        p.wait()
        p.stdout.close()
    equal(d.log().count(" TLS: "), 1, "handshakes in the log:\n" + d.log())
    with tls_connect(d.port) as s:
        equal(ask(s, b"after"), b"after\n", "served after")


if __name__ == "__main__":
    if shutil.which("openssl") is None:
        print("1..0 # SKIP openssl not installed")
        sys.exit(77)
    r = subprocess.run([harness.ECHOREPLYD, "-V"], capture_output=True,
                       timeout=harness.WAIT)
    if b"TLS: not built" in r.stdout:
        print("1..0 # SKIP built without TLS")
        sys.exit(77)
    certs = Certs()
    try:
        harness.run(globals())
    finally:
        certs.cleanup()

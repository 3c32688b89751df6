# SPDX-License-Identifier: ISC
"""Black-box tests: echoreplyctl over TLS (--tls, --ca, --insecure, --cert,
--key, --sni, and TLS by itself from the daemon's config), against the
real echoreplyd with TLS listeners. The certificates are made for each run
with openssl(1) in a scratch directory: a CA, a server certificate it
signed for localhost and 127.0.0.1, an expired one, a client's."""

import os
import re
import socket
import ssl
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import Daemon, TempDir, check, ctl, equal  # noqa: E402

EX_USAGE = 64
EX_DATAERR = 65
EX_NOINPUT = 66
EX_TEMPFAIL = 75
EX_PROTOCOL = 76
EX_NOPERM = 77

OPENSSL_CNF = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
[client]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
"""


def openssl(*args):
    r = subprocess.run(["openssl"] + list(args), capture_output=True,
                       timeout=harness.WAIT)
    return r


def must(r, what):
    check(r.returncode == 0, "openssl %s: %s" % (what,
                                                 r.stderr.decode()[-500:]))


class Certs:
    """The files, by name, in dir. expired is None when this openssl
    cannot make one (-days -1)."""

    def __init__(self, dir):
        self.dir = dir
        cnf = self.path("openssl.cnf")
        with open(cnf, "w") as f:
            f.write(OPENSSL_CNF)
        newkey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                  "-nodes", "-config", cnf]
        must(openssl("req", "-x509", *newkey, "-extensions", "ca",
                     "-keyout", self.path("ca.key"), "-out",
                     self.path("ca.pem"), "-days", "2", "-subj",
                     "/CN=echoreplyd test CA"), "CA")
        self.ca = self.path("ca.pem")
        self.server, self.server_key = self.signed("server", "/CN=localhost")
        self.client, self.client_key = self.signed(
            "client", "/CN=echoreplyctl test client")
        try:
            self.expired, self.expired_key = self.signed(
                "server", "/CN=localhost", days="-1", name="expired")
        except AssertionError:
            self.expired = self.expired_key = None
        # a client certificate and its key in one file
        self.client_both = self.path("client-both.pem")
        with open(self.client_both, "w") as f:
            for p in (self.client, self.client_key):
                with open(p) as g:
                    f.write(g.read())
        self.encrypted_key = self.path("encrypted.key")
        must(openssl("pkey", "-in", self.client_key, "-aes256", "-passout",
                     "pass:secret", "-out", self.encrypted_key),
             "encrypted key")
        self.garbage = self.path("garbage.pem")
        with open(self.garbage, "w") as f:
            f.write("not a certificate\n")

    def path(self, name):
        return os.path.join(self.dir, name)

    def signed(self, ext, subj, days="2", name=None):
        name = name or ext
        key, csr, pem = (self.path(name + s) for s in (".key", ".csr",
                                                       ".pem"))
        must(openssl("req", "-new", "-newkey", "ec", "-pkeyopt",
                     "ec_paramgen_curve:P-256", "-nodes", "-config",
                     self.path("openssl.cnf"), "-keyout", key, "-out", csr,
                     "-subj", subj), name + " request")
        must(openssl("x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey",
                     self.path("ca.key"), "-set_serial",
                     str(len(os.listdir(self.dir))), "-days", days,
                     "-extfile", self.path("openssl.cnf"), "-extensions",
                     ext, "-out", pem), name)
        return pem, key


CERTS = None


def tls_listener(port=None, name="tls", cert=None, key=None, extra=""):
    """A listen group for a TLS listener on 127.0.0.1."""
    return ('{ name = "%s"; address = "127.0.0.1"; port = %d; tls = true; '
            'tls_certificate = "%s"; tls_key = "%s"; %s }'
            % (name, port or harness.free_port(), cert or CERTS.server,
               key or CERTS.server_key, extra))


def tls_daemon(extra="", body=""):
    """echoreplyd with one TLS listener; returns (daemon, its port)."""
    port = harness.free_port()
    d = Daemon("listen = ( %s );\n%s" % (tls_listener(port, extra=extra),
                                          body), port=port, listen=False)
    return d, port


def one_error_line(r, what):
    """stderr is exactly one line starting with the program's name."""
    err = r.stderr.decode(errors="replace")
    check(err.startswith("echoreplyctl: ") and err.endswith("\n") and
          err.count("\n") == 1,
          "%s: stderr should be one 'echoreplyctl: ' line, got %r" %
          (what, err))
    return err


def fails(r, status, pattern, what):
    equal(r.returncode, status, "%s: exit status (stderr %r)" %
          (what, r.stderr))
    err = one_error_line(r, what)
    check(re.search(pattern, err), "%s: stderr %r does not match %r" %
          (what, err, pattern))
    equal(r.stdout, b"", "%s: stdout" % what)


def works(r, stdout, what):
    equal(r.returncode, 0, "%s: exit status (stderr %r)" % (what, r.stderr))
    equal(r.stdout, stdout, "%s: stdout" % what)


def test_ca_and_an_ip_address():
    d, port = tls_daemon()
    r = ctl("--tls", "--ca", CERTS.ca, "-H", "127.0.0.1", "-p", str(port),
            "hello")
    works(r, b"hello\n", "--tls --ca")
    equal(r.stderr, b"", "stderr")


def test_sni_sent_for_a_name_not_for_an_address():
    d, port = tls_daemon(body='default_reply = "[%{tls_sni}] %{message}";\n')
    r = ctl("--tls", "--ca", CERTS.ca, "-H", "localhost", "-4", "-p",
            str(port), "a")
    works(r, b"[localhost] a\n", "-H localhost")
    r = ctl("--tls", "--ca", CERTS.ca, "-H", "127.0.0.1", "-p", str(port),
            "b")
    works(r, b"[] b\n", "-H 127.0.0.1: no SNI (RFC 6066)")
    # --sni names the server to an address: sent, and checked
    r = ctl("--tls", "--ca", CERTS.ca, "-H", "127.0.0.1", "-p", str(port),
            "--sni", "localhost", "c")
    works(r, b"[localhost] c\n", "--sni localhost")


def test_wrong_sni_fails_verification():
    d, port = tls_daemon()
    r = ctl("--tls", "--ca", CERTS.ca, "-H", "127.0.0.1", "-p", str(port),
            "--sni", "wrong.example", "hello")
    fails(r, EX_NOPERM, r"^echoreplyctl: TLS: cannot verify the server's "
          r"certificate: hostname mismatch for wrong\.example "
          r"\(subject CN=localhost\)\n$", "--sni wrong.example")


def test_tls_by_itself_from_the_config():
    plain = harness.free_port()
    port = harness.free_port()
    d = Daemon('listen = ( %s,\n  { name = "plain"; address = "127.0.0.1"; '
               'port = %d; } );\ndefault_reply = "%%{listener} %%{message}";'
               '\n' % (tls_listener(port), plain), port=port, listen=False)
    r = ctl("-f", d.conf, "--ca", CERTS.ca, "hello")
    works(r, b"tls hello\n", "-f with a TLS listener first")
    # the listener on the port given is the one that says
    r = ctl("-f", d.conf, "-p", str(port), "--ca", CERTS.ca, "x")
    works(r, b"tls x\n", "-f -p TLS port")
    r = ctl("-f", d.conf, "-p", str(plain), "y")
    works(r, b"plain y\n", "-f -p plain port")
    r = ctl("-f", d.conf, "-p", str(plain), "--ca", CERTS.ca, "y")
    fails(r, EX_USAGE, r"--ca needs --tls", "--ca for the plain listener")


def test_self_signed_needs_insecure():
    port = harness.free_port()
    d = Daemon('listen = { address = "127.0.0.1"; port = %d; tls = true; '
               'tls_self_signed = true; };\n' % port, port=port,
               listen=False)
    r = ctl("-f", d.conf, "--insecure", "hello")
    works(r, b"hello\n", "--insecure")
    equal(r.stderr, b"", "stderr with --insecure")
    r = ctl("-f", d.conf, "hello")
    fails(r, EX_NOPERM, r"^echoreplyctl: TLS: cannot verify the server's "
          r"certificate: self[- ]signed certificate \(subject CN=[^)]+\)\n$",
          "self-signed without --insecure")


def test_untrusted_and_expired_certificates():
    d, port = tls_daemon()
    # the system's store does not know the test's CA
    r = ctl("--tls", "-H", "127.0.0.1", "-p", str(port), "hello")
    fails(r, EX_NOPERM, r"cannot verify the server's certificate: unable "
          r"to get local issuer certificate \(subject CN=localhost\)",
          "no --ca")
    if CERTS.expired is None:
        print("# this openssl cannot make an expired certificate")
        return
    port = harness.free_port()
    d = Daemon("listen = ( %s );\n" % tls_listener(
        port, cert=CERTS.expired, key=CERTS.expired_key), port=port,
        listen=False)
    r = ctl("--tls", "--ca", CERTS.ca, "-H", "127.0.0.1", "-p", str(port),
            "hello")
    fails(r, EX_NOPERM, r"cannot verify the server's certificate: "
          r"certificate has expired", "expired")


def test_verbose_says_what_was_agreed():
    d, port = tls_daemon(extra='tls_alpn = [ "echo", "other" ];')
    r = ctl("-f", d.conf, "--ca", CERTS.ca, "-v", "hello")
    works(r, b"hello\n", "-v")
    lines = r.stderr.decode().splitlines()
    tls = [line for line in lines if line.startswith("TLSv")]
    equal(len(tls), 1, "TLS lines in %r" % lines)
    check(re.match(r"^TLSv1\.3 TLS_[A-Z0-9_]+, ALPN echo, server "
                   r"CN=localhost \(verified\)$", tls[0]),
          "-v line %r" % tls[0])
    check(lines.index(tls[0]) == 1 and lines[0].startswith("connected to"),
          "the TLS line follows the connection's: %r" % lines)
    # without the config no ALPN is offered; --insecure says so
    r = ctl("--tls", "--insecure", "-H", "127.0.0.1", "-p", str(port),
            "-v", "x")
    works(r, b"x\n", "-v --insecure")
    check(re.search(r"(?m)^TLSv1\.3 TLS_[A-Z0-9_]+, server CN=localhost "
                    r"\(not verified: --insecure\)$", r.stderr.decode()),
          "-v --insecure: %r" % r.stderr)


def test_client_certificate():
    d, port = tls_daemon(
        extra='tls_client_ca = "%s"; tls_verify_client = "require";' %
        CERTS.ca, body='default_reply = "%{tls_client_subject}: '
        '%{message}";\n')
    base = ("--tls", "--ca", CERTS.ca, "-H", "127.0.0.1", "-p", str(port))
    r = ctl(*base, "--cert", CERTS.client, "--key", CERTS.client_key, "hi")
    works(r, b"CN=echoreplyctl test client: hi\n", "--cert --key")
    r = ctl(*base, "--cert", CERTS.client_both, "both")
    works(r, b"CN=echoreplyctl test client: both\n", "--cert with its key")
    r = ctl(*base, "hi")
    fails(r, EX_PROTOCOL, r"^echoreplyctl: TLS handshake with 127\.0\.0\.1 "
          r"port %d failed: .*certificate required\n$" % port,
          "no client certificate")


def test_pipelined_10000_lines_in_order():
    d, port = tls_daemon(body="log_messages = false;\n")
    data = "".join("line %d\n" % i for i in range(10000)).encode()
    r = ctl("--tls", "--ca", CERTS.ca, "-H", "127.0.0.1", "-p", str(port),
            input=data, timeout=30)
    works(r, data, "10000 lines")
    equal(r.stderr, b"", "stderr")
    r = ctl("--tls", "--ca", CERTS.ca, "-H", "127.0.0.1", "-p", str(port),
            "-n", "10000", "again", timeout=30)
    works(r, b"again\n" * 10000, "-n 10000")


def test_one_mib_message():
    d, port = tls_daemon(extra="max_message_bytes = 2097152; "
                         "max_queued_bytes = 4194304; log_messages = false;")
    msg = bytes(b"abcdefghijklmnopqrstuvwxyz"[i % 26] for i in range(1 << 20))
    r = ctl("--tls", "--ca", CERTS.ca, "-H", "127.0.0.1", "-p", str(port),
            input=msg + b"\n" + msg[:1000] + b"\n", timeout=30)
    works(r, msg + b"\n" + msg[:1000] + b"\n", "1 MiB message")


class RecordServer(threading.Thread):
    """A TLS server of ours on a Unix socket, on memory BIOs, so that its
    records are what it says: it answers the first line with `reply` in
    records of `record` bytes, all of them in one send(), then holds the
    connection open until the client's close_notify."""

    def __init__(self, path, reply, record):
        super().__init__(daemon=True)
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(CERTS.server, CERTS.server_key)
        self.lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.lsock.bind(path)
        self.lsock.listen(1)
        self.lsock.settimeout(harness.WAIT)
        self.reply, self.record = reply, record
        self.close_notify = False
        self.error = None

    def run(self):
        try:
            self.serve()
        except Exception as e:      # reported by stop()
            self.error = e

    def serve(self):
        conn, _ = self.lsock.accept()
        with conn:
            conn.settimeout(harness.WAIT)
            rbio, wbio = ssl.MemoryBIO(), ssl.MemoryBIO()
            tls = self.ctx.wrap_bio(rbio, wbio, server_side=True)

            def flush():
                data = wbio.read()
                if data:
                    conn.sendall(data)

            def feed():
                data = conn.recv(65536)
                if not data:
                    raise EOFError("the client closed")
                rbio.write(data)

            def step(fn):
                while True:
                    try:
                        return fn()
                    except ssl.SSLWantReadError:
                        flush()
                        feed()

            step(tls.do_handshake)
            flush()
            line = b""
            while b"\n" not in line:
                chunk = step(lambda: tls.read(65536))
                if not chunk:
                    raise EOFError("close_notify before a line")
                line += chunk
            for i in range(0, len(self.reply), self.record):
                tls.write(self.reply[i:i + self.record])
            flush()
            # b"" once close_notify has come
            while step(lambda: tls.read(65536)):
                pass
            self.close_notify = True

    def stop(self):
        self.join(harness.WAIT)
        self.lsock.close()

    def check(self):
        check(not self.is_alive(), "the TLS server is still running")
        check(self.error is None, "the TLS server: %r" % self.error)


def test_bytes_held_inside_openssl_are_read():
    # 7 records of 10000 bytes at once: a 64 KiB read ends inside the
    # last, whose rest only OpenSSL has; nothing more comes on the socket
    reply = b"r" * 69999 + b"\n"
    with TempDir() as tmp:
        path = os.path.join(tmp.path, "s")
        srv = RecordServer(path, reply, 10000)
        srv.start()
        try:
            r = ctl("--tls", "--ca", CERTS.ca, "-U", path, "-t", "5", "go")
        finally:
            srv.stop()
    works(r, reply, "a reply whose end is inside OpenSSL")
    srv.check()
    check(srv.close_notify, "the client sent close_notify at the end")


def test_proxy_header_comes_before_the_handshake():
    d, port = tls_daemon(extra='proxy_protocol = "any"; '
                         'proxy_networks = [ "127.0.0.1/32" ];',
                         body='default_reply = "%{client_address} '
                         '%{message}";\n')
    r = ctl("-f", d.conf, "--ca", CERTS.ca, "--proxy", "192.0.2.7:1234",
            "hello")
    works(r, b"192.0.2.7 hello\n", "--proxy over TLS")
    r = ctl("-f", d.conf, "--ca", CERTS.ca, "--proxy", "192.0.2.8:1",
            "--proxy-version", "2", "v2")
    works(r, b"192.0.2.8 v2\n", "--proxy-version 2 over TLS")


def test_unix_socket():
    with TempDir() as tmp:
        path = os.path.join(tmp.path, "tls.sock")
        d = Daemon('listen = { protocol = "unix"; path = "%s"; tls = true; '
                   'tls_certificate = "%s"; tls_key = "%s"; };\n' %
                   (path, CERTS.server, CERTS.server_key), listen=False)
        # the name checked over a Unix socket is localhost
        r = ctl("-U", path, "--tls", "--ca", CERTS.ca, "hello")
        works(r, b"hello\n", "-U --tls")
        r = ctl("-f", d.conf, "--ca", CERTS.ca, "auto")
        works(r, b"auto\n", "-f with a TLS Unix listener")
        d.stop()


def test_plain_server_and_handshake_timeout():
    d = Daemon('greeting = "welcome";\n')
    r = ctl("--tls", "--ca", CERTS.ca, "-H", "127.0.0.1", "-p", str(d.port),
            "hello")
    fails(r, EX_PROTOCOL, r"^echoreplyctl: TLS handshake with 127\.0\.0\.1 "
          r"port %d failed: the server does not speak TLS" % d.port,
          "TLS to a plain listener that greets")
    # a server that accepts and never answers the ClientHello
    lsock = socket.socket()
    try:
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(1)
        port = lsock.getsockname()[1]
        r = ctl("--tls", "--ca", CERTS.ca, "-H", "127.0.0.1", "-p",
                str(port), "-t", "1", "hello")
    finally:
        lsock.close()
    fails(r, EX_TEMPFAIL, r"^echoreplyctl: TLS handshake with 127\.0\.0\.1 "
          r"port %d: timed out\n$" % port, "handshake timeout")


def test_files_that_cannot_be_used():
    # read before connecting: no server needed
    base = ("--tls", "-H", "127.0.0.1", "-p", str(harness.free_port()))
    missing = CERTS.path("missing.pem")
    r = ctl(*base, "--ca", missing, "x")
    fails(r, EX_NOINPUT, r"^echoreplyctl: --ca %s: No such file or "
          r"directory\n$" % re.escape(missing), "--ca missing")
    r = ctl(*base, "--ca", CERTS.garbage, "x")
    fails(r, EX_NOINPUT, r"^echoreplyctl: --ca %s: no PEM certificates" %
          re.escape(CERTS.garbage), "--ca garbage")
    r = ctl(*base, "--cert", missing, "x")
    fails(r, EX_NOINPUT, r"--cert %s: No such file" % re.escape(missing),
          "--cert missing")
    r = ctl(*base, "--cert", CERTS.garbage, "--key", CERTS.client_key, "x")
    fails(r, EX_NOINPUT, r"--cert %s: no PEM certificate" %
          re.escape(CERTS.garbage), "--cert garbage")
    r = ctl(*base, "--cert", CERTS.client, "x")
    fails(r, EX_NOINPUT, r"--cert %s: no PEM private key in it, and no "
          r"--key" % re.escape(CERTS.client), "--cert without its key")
    # a key with a passphrase is refused, not asked for
    r = ctl(*base, "--cert", CERTS.client, "--key", CERTS.encrypted_key, "x")
    fails(r, EX_NOINPUT, r"--key %s: the key has a passphrase" %
          re.escape(CERTS.encrypted_key), "--key with a passphrase")
    r = ctl(*base, "--cert", CERTS.client, "--key", CERTS.server_key, "x")
    fails(r, EX_DATAERR, r"^echoreplyctl: the key in %s does not match the "
          r"certificate in %s\n$" % (re.escape(CERTS.server_key),
                                     re.escape(CERTS.client)),
          "--key of another certificate")


def test_usage_errors():
    port = str(harness.free_port())
    for args, pattern in [
            (("--insecure",), r"--insecure needs --tls"),
            (("--ca", "x.pem"), r"--ca needs --tls"),
            (("--sni", "localhost"), r"--sni needs --tls"),
            (("--cert", "c.pem"), r"--cert needs --tls"),
            (("--tls", "--key", "k.pem"), r"--key .*--cert"),
            (("--tls", "-u"), r"TLS is for streams"),
            (("--tls", "--sni", ""), r"--sni name is empty")]:
        r = ctl("-H", "127.0.0.1", "-p", port, *args, "x")
        fails(r, EX_USAGE, pattern, " ".join(args))
    # a config whose listener is UDP
    with TempDir() as tmp:
        conf = tmp.file("udp.conf", 'listen = { protocol = "udp"; address = '
                        '"127.0.0.1"; port = %s; };\n' % port)
        r = ctl("-f", conf, "--tls", "x")
        fails(r, EX_USAGE, r"TLS is for streams", "--tls, UDP listener")


if __name__ == "__main__":
    with TempDir() as scratch:
        CERTS = Certs(scratch.path)
        harness.run(globals())

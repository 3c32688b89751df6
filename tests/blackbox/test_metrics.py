# SPDX-License-Identifier: ISC
"""The metrics listener (metrics_listen, or a socket passed as metrics):
GET /metrics in the Prometheus text format, matching the control socket's
stats; the HTTP errors; its limits; its configuration. Scraped with curl
(skips, 77, without it) and raw sockets; checked with promtool when it is
installed."""

import os
import random
import re
import select
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import check, equal, recv_until  # noqa: E402

SLOW = harness.SLOW
IDLE_LIMIT = 5.0      # seconds a scraper has for its request and answer
GAUGES = ["connections_open", "listener_connections", "control_clients",
          "recorded_messages", "sources", "uptime_seconds"]
COUNTERS = ["connections_accepted_total", "refused_total", "messages_total",
            "errors_total", "received_bytes_total", "sent_bytes_total",
            "sources_evicted_total",
            "log_records_lost_total", "rule_messages_total"]


class MDaemon(harness.ControlDaemon):
    """A daemon with a control socket in a directory of its own, listeners
    `main` (self.port) and `other` (self.other_port), and metrics on
    self.mport (metrics=False: no metrics_listen)."""

    def __init__(self, body="", metrics=True, mport=None, **kw):
        self.mport = mport or harness.free_port()
        port = harness.free_port()
        self.other_port = harness.free_port()
        text = ('listen = (\n'
                '  { name = "main"; address = "127.0.0.1"; port = %d; },\n'
                '  { name = "other"; address = "127.0.0.1"; port = %d; }\n'
                ');\ncontrol_socket = "@CONTROL@";\n' %
                (port, self.other_port))
        if metrics:
            text += 'metrics_listen = "127.0.0.1:%d";\n' % self.mport
        super().__init__(text + body, port=port, listen=False, **kw)

    def ctl(self):
        return Ctl(self.ctl_path)

    def request(self, req):
        with self.ctl() as c:
            return c.request(req)

    def url(self, path="/metrics"):
        return "http://127.0.0.1:%d%s" % (self.mport, path)


class Ctl(harness.ControlClient):
    """A client of the control socket, with the stats as a dict."""

    def stats(self):
        lines, final = self.request("stats")
        equal(final, "ok", "answer to stats")
        out = {}
        for line in lines:
            w = line.split(" ")
            if w[1] == "rule_messages":
                out["rule_messages_total{rule=\"%s\"}" % w[2][5:]] = int(w[3])
            else:
                out[w[1]] = int(w[2])
        return out


def parse_response(raw):
    """(status code, reason, {header: value}, body) of an HTTP answer."""
    check(b"\r\n\r\n" in raw, "no end of the head in %r" % raw[:300])
    head, body = raw.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    m = re.match(r"^HTTP/1\.[01] (\d{3}) (.*)$", lines[0])
    check(m is not None, "status line %r" % lines[0])
    headers = {}
    for h in lines[1:]:
        k, sep, v = h.partition(":")
        check(sep == ":", "header line %r" % h)
        check(k.lower() not in headers, "header %s twice" % k)
        headers[k.lower()] = v.strip()
    return int(m.group(1)), m.group(2), headers, body


def curl(*args):
    """curl -sS -i ...: (status, reason, headers, body)."""
    r = subprocess.run(["curl", "-sS", "-i", "--max-time", str(harness.WAIT)] +
                       list(args), capture_output=True,
                       timeout=harness.WAIT + 5)
    equal(r.returncode, 0, "curl's exit status (%r)" % r.stderr)
    return parse_response(r.stdout)


def raw_http(port, data, timeout=harness.WAIT):
    """Sends data, reads to EOF: (bytes, seconds until EOF)."""
    t = time.monotonic()
    with socket.create_connection(("127.0.0.1", port),
                                  timeout=timeout) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        out = recv_eof(s, timeout)
    return out, time.monotonic() - t


def recv_eof(s, timeout=harness.WAIT):
    deadline = time.monotonic() + timeout
    out = b""
    while True:
        left = deadline - time.monotonic()
        check(left > 0, "not closed within %ss; got %r" % (timeout,
                                                            out[:200]))
        s.settimeout(left)
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            return out
        if not chunk:
            return out
        out += chunk


SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


def parse_metrics(body):
    """{name or name{labels}: value}, {family: type}, [families helped]."""
    samples, types, helps = {}, {}, []
    for line in body.decode().splitlines():
        if line.startswith("# HELP "):
            helps.append(line.split(" ")[2])
        elif line.startswith("# TYPE "):
            w = line.split(" ")
            types[w[2]] = w[3]
        else:
            m = SAMPLE_RE.match(line)
            check(m is not None, "sample line %r" % line)
            key = m.group(1) + (m.group(2) or "")
            check(key not in samples, "%s twice" % key)
            samples[key] = float(m.group(3))
    return samples, types, helps


def poll(fn, what):
    deadline = time.monotonic() + harness.WAIT
    while True:
        v = fn()
        if v:
            return v
        check(time.monotonic() < deadline, "never: " + what)
        time.sleep(0.02)


def traffic(d):
    """Some messages on both listeners; returns the client left open."""
    a = d.connect()
    for msg, want in ((b"PING", b"PONG\n"), (b"hello", b"hello\n"),
                      (b"PING", b"PONG\n")):
        a.sendall(msg + b"\n")
        equal(recv_until(a, 1), want, "reply to %r" % msg)
    with socket.create_connection(("127.0.0.1", d.other_port),
                                  timeout=harness.WAIT) as b:
        b.sendall(b"PING\nbye\n")
        equal(recv_until(b, 2), b"PONG\nbye\n", "replies on other")
    with d.ctl() as c:
        poll(lambda: c.stats()["connections_open"] == 1,
             "the closed client counted out")
    return a


PING_RULE = ('rules = ( { name = "ping"; exact = "PING"; '
             'reply = "PONG"; } );\n')


# --- the answer -----------------------------------------------------------

def test_get_metrics_matches_stats():
    d = MDaemon(PING_RULE)
    a = traffic(d)
    with d.ctl() as c:
        before = c.stats()
        status, reason, headers, body = curl(d.url())
        after = c.stats()
        lines, final = c.request("metrics")
        equal(final, "ok", "answer to metrics")
    equal(status, 200, "status")
    ctype = [p.strip() for p in headers.get("content-type", "").split(";")]
    equal(ctype[0], "text/plain", "media type of %r" % headers)
    check("version=0.0.4" in ctype[1:], "no version=0.0.4 in %r" %
          headers.get("content-type"))
    equal(int(headers.get("content-length", -1)), len(body),
          "Content-Length")
    up = before.pop("uptime_seconds"), after.pop("uptime_seconds")
    equal(after, before, "stats before and after the scrape")
    samples, types, helps = parse_metrics(body)
    for name, value in before.items():
        # stats names lack the metrics' echoreplyd_ and _total
        full = "echoreplyd_" + name
        if full not in samples:
            full = "echoreplyd_%s_total" % name
        check(full in samples, "no %s for stat %s in:\n%s" %
              (full, name, body.decode()))
        equal(samples[full], value, full)
    check(up[0] <= samples["echoreplyd_uptime_seconds"] <= up[1],
          "uptime %r between %r" % (samples["echoreplyd_uptime_seconds"],
                                    up))
    # what the traffic was
    want = {"echoreplyd_messages_total": 5,
            "echoreplyd_connections_open": 1,
            "echoreplyd_connections_accepted_total": 2,
            "echoreplyd_received_bytes_total": 5 + 6 + 5 + 5 + 4,
            "echoreplyd_sent_bytes_total": 5 + 6 + 5 + 5 + 4,
            "echoreplyd_control_clients": 1,
            "echoreplyd_errors_total": 0,
            "echoreplyd_refused_total": 0,
            'echoreplyd_listener_connections{listener="main"}': 1,
            'echoreplyd_listener_connections{listener="other"}': 0,
            'echoreplyd_rule_messages_total{rule="ping"}': 3,
            'echoreplyd_rule_messages_total{rule="-"}': 2}
    equal({k: samples.get(k) for k in want}, want, "values after the traffic")
    for name in GAUGES + COUNTERS:
        family = "echoreplyd_" + name
        equal(types.get(family), "gauge" if name in GAUGES else "counter",
              "TYPE of " + family)
        check(family in helps, "no HELP for " + family)
    # the control socket's metrics say the same
    strip = re.compile(r"^echoreplyd_uptime_seconds .*$", re.M)
    equal(strip.sub("", "\n".join(lines) + "\n"), strip.sub("", body.decode()),
          "the control socket's metrics and the scrape")
    a.close()


def test_promtool_finds_no_problems():
    promtool = shutil.which("promtool")
    if promtool is None:
        print("# skip: promtool not installed")
        return
    d = MDaemon(PING_RULE)
    a = traffic(d)
    status, _, _, body = curl(d.url())
    equal(status, 200, "status")
    r = subprocess.run([promtool, "check", "metrics"], input=body,
                       capture_output=True, timeout=harness.WAIT)
    equal((r.returncode, r.stdout + r.stderr), (0, b""),
          "promtool check metrics")
    a.close()


def test_no_control_socket_keeps_no_messages():
    # nobody could read them back: no ring, and the gauge says so
    mport = harness.free_port()
    d = harness.Daemon('control_socket = "";\n'
                       'metrics_listen = "127.0.0.1:%d";\n' % mport)
    with d.connect() as a:
        for msg in (b"one", b"two", b"three"):
            a.sendall(msg + b"\n")
            equal(recv_until(a, 1), msg + b"\n", "reply to %r" % msg)
    status, _, _, body = curl("http://127.0.0.1:%d/metrics" % mport)
    equal(status, 200, "status")
    samples, _, _ = parse_metrics(body)
    equal((samples.get("echoreplyd_messages_total"),
           samples.get("echoreplyd_recorded_messages")), (3, 0),
          "messages answered, and kept")


def test_head_has_the_headers_and_no_body():
    d = MDaemon()
    status, _, get_headers, body = curl(d.url())
    equal(status, 200, "GET")
    status, _, headers, rest = curl("-I", d.url())
    equal(status, 200, "HEAD status")
    equal(headers.get("content-type"), get_headers.get("content-type"),
          "HEAD Content-Type")
    check("content-length" in headers, "HEAD without Content-Length")
    raw, _ = raw_http(d.mport, b"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    status, _, headers, rest = parse_response(raw)
    equal((status, rest), (200, b""), "HEAD: status, and nothing after the "
          "head")
    check(int(headers["content-length"]) > 0, "Content-Length %r" %
          headers["content-length"])


def test_other_paths_methods_and_requests():
    d = MDaemon()
    status, _, _, _ = curl(d.url("/other"))
    equal(status, 404, "GET /other")
    status, _, _, _ = curl(d.url("/"))
    equal(status, 404, "GET /")
    status, _, headers, _ = curl("-X", "POST", "-d", "x=1", d.url())
    equal(status, 405, "POST /metrics")
    allow = [m.strip() for m in headers.get("allow", "").split(",")]
    check("GET" in allow and "HEAD" in allow, "Allow: %r" %
          headers.get("allow"))
    status, _, headers, _ = curl("-X", "DELETE", d.url())
    equal(status, 405, "DELETE /metrics")
    check("allow" in headers, "no Allow on the 405")
    for req, want in ((b"garbage\r\n\r\n", 400),
                      (b"GET\r\n\r\n", 400),
                      (b"GET /metrics\r\n\r\n", 400),
                      (b"GET /metrics HTTP/2.0\r\n\r\n", 505),
                      (b"GET /metrics HTTP/1.0\r\n\r\n", 200),
                      (b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 200)):
        raw, took = raw_http(d.mport, req)
        status = parse_response(raw)[0]
        equal(status, want, "answer to %r" % req)
        check(took < SLOW, "%r: closed after %.2fs" % (req, took))
    # a head of 8192 bytes is served, one over is not, whether or not its
    # end has come
    start = b"GET /metrics HTTP/1.1\r\nX: "
    for size, want in ((8192, 200), (8193, 431)):
        req = start + b"a" * (size - len(start) - 4) + b"\r\n\r\n"
        equal(len(req), size, "request size")
        raw, _ = raw_http(d.mport, req)
        equal(parse_response(raw)[0], want, "a head of %d bytes" % size)
    raw, took = raw_http(d.mport, start + b"a" * 9000)
    equal(parse_response(raw)[0], 431, "9000 bytes and no end of the head")
    check(took < SLOW, "431 after %.2fs" % took)
    # one request per connection: a second one is not answered
    raw, _ = raw_http(d.mport, b"GET /other HTTP/1.1\r\nHost: x\r\n\r\n"
                      b"GET /other HTTP/1.1\r\nHost: x\r\n\r\n")
    equal(raw.count(b"HTTP/1."), 1, "answers to two pipelined requests: %r" %
          raw)


def random_head(rng):
    """A request head made at random from a good one: words dropped,
    doubled or swapped for others, bytes put in; it always ends, so that
    an answer is due at once."""
    words = [rng.choice([b"GET"] * 4 + [b"HEAD", b"POST", b"get", b"",
                         b"G\0T"]),
             rng.choice([b"/metrics"] * 4 + [b"/", b"/metrics?x=1",
                         b"/metrics/", b"*", b"http://h/metrics", b"/%00",
                         b"//metrics"]),
             rng.choice([b"HTTP/1.1"] * 4 + [b"HTTP/1.0", b"HTTP/2.0",
                         b"HTTP/1.", b"HTTP/9.9", b"http/1.1", b""])]
    line = b" ".join(w for w in words if rng.random() < 0.97)
    headers = [rng.choice([b"Host: x"] * 4 + [b"Host:", b": v", b"X", b"A: " +
                           b"a" * rng.choice([1, 100, 5000]),
                           b"Content-Length: 5", b"Transfer-Encoding: chunked",
                           b"Connection: keep-alive", b"\x80\xff: \x01"])
               for _ in range(rng.randint(0, 4))]
    head = b"\r\n".join([line] + headers)
    for _ in range(rng.choice([0, 0, 0, 0, 1, 2])):
        at = rng.randint(0, len(head))
        head = head[:at] + rng.choice([b"\0", b"\r", b"\n", b" ", b"\t",
                                       b"\xff"]) + head[at:]
    return head + b"\r\n\r\n"


def test_random_requests_each_answered_once():
    """Request heads made at random, sent whole or in pieces: each gets
    one well-formed HTTP answer with a status the listener gives, then
    EOF, and the listener and the daemon serve on."""
    seed = int(os.environ.get("ECHOREPLYD_TEST_SEED", "16"))
    rng = random.Random(seed)
    d = MDaemon()
    statuses = {200, 400, 404, 405, 431, 505}
    for i in range(60 if harness.VALGRIND else 300):
        req = random_head(rng)
        what = "request %d %r (seed %d)" % (i, req[:200], seed)
        with socket.create_connection(("127.0.0.1", d.mport),
                                      timeout=harness.WAIT) as s:
            try:
                at = 0
                while at < len(req):
                    n = rng.choice([1, 7, 100, len(req)])
                    s.sendall(req[at:at + n])
                    at += n
            except (BrokenPipeError, ConnectionResetError):
                pass    # answered and closed before the rest came
            raw = recv_eof(s)
        status = parse_response(raw)[0]
        check(status in statuses, "%s: status %d" % (what, status))
        check(raw.count(b"HTTP/1.") == 1 or status == 200,
              "%s: more than one answer: %r" % (what, raw[:300]))
    status, _, _, body = curl(d.url())
    equal(status, 200, "GET /metrics after the random requests")
    check(b"echoreplyd_" in body, "the metrics: %r" % body[:200])
    with d.connect() as t:
        t.sendall(b"still\n")
        equal(recv_until(t, 1), b"still\n", "the echo")
    equal(d.stop(), 0, "exit status")


# --- limits ---------------------------------------------------------------

def test_silent_scraper_closed_others_answered():
    d = MDaemon()
    t = time.monotonic()
    idle = socket.create_connection(("127.0.0.1", d.mport),
                                    timeout=harness.WAIT)
    part = socket.create_connection(("127.0.0.1", d.mport),
                                    timeout=harness.WAIT)
    part.sendall(b"GET /metr")
    for _ in range(3):
        s = time.monotonic()
        equal(curl(d.url())[0], 200, "a scrape meanwhile")
        check(time.monotonic() - s < SLOW, "the scrape took %.2fs" %
              (time.monotonic() - s))
    equal(recv_eof(idle, 10), b"", "what the silent scraper got")
    took = time.monotonic() - t
    check(IDLE_LIMIT - 1 <= took <= IDLE_LIMIT + SLOW + 1,
          "the silent scraper closed after %.2fs" % took)
    recv_eof(part, 10)
    took = time.monotonic() - t
    check(took <= IDLE_LIMIT + SLOW + 1,
          "the scraper that sent half a request closed after %.2fs" % took)
    idle.close()
    part.close()


def test_idle_scrapers_do_not_hold_clients_up():
    d = MDaemon(PING_RULE)
    t = time.monotonic()
    idle = [socket.create_connection(("127.0.0.1", d.mport),
                                     timeout=harness.WAIT) for _ in range(20)]
    a = d.connect()
    worst = 0.0
    for i in range(10):
        s = time.monotonic()
        a.sendall(b"PING\n")
        equal(recv_until(a, 1), b"PONG\n", "a client's reply")
        equal(d.request("stats")[1], "ok", "the control socket")
        worst = max(worst, time.monotonic() - s)
    check(worst < SLOW, "slowest answer while scrapers idle: %.2fs" % worst)
    left = set(idle)
    deadline = t + 2 * IDLE_LIMIT + SLOW + 1
    while left:
        check(time.monotonic() < deadline, "%d idle scrapers still open "
              "after %.1fs" % (len(left), time.monotonic() - t))
        r, _, _ = select.select(list(left), [], [], 0.2)
        for s in r:
            try:
                equal(s.recv(100), b"", "what an idle scraper got")
            except ConnectionResetError:
                pass
            left.discard(s)
            s.close()
    equal(curl(d.url())[0], 200, "a scrape after them")
    equal(d.request("stats")[1], "ok", "control socket")
    a.close()


# --- configuration --------------------------------------------------------

def test_bad_metrics_listen_is_a_config_error():
    bad = ['"127.0.0.1"', '"localhost:9105"', '"127.0.0.1:0"',
           '"127.0.0.1:70000"', '"[::1]9105"', '"::1:9105"', '""', '9105',
           'true']
    with harness.TempDir() as t:
        for i, v in enumerate(bad):
            path = t.file("m%d.conf" % i, 'listen = { port = 13008; };\n\n'
                          'metrics_listen = %s;\n' % v)
            r = subprocess.run([harness.ECHOREPLYD, "-n", "-f", path],
                               capture_output=True, timeout=harness.WAIT)
            equal(r.returncode, 78, "exit status for %s" % v)
            err = r.stderr.decode()
            check(err.startswith(path + ":3: ") and "metrics_listen" in err,
                  "error for %s: %r" % (v, err))
        for v in ('"127.0.0.1:9105"', '"[::1]:9105"', '"0.0.0.0:65535"'):
            path = t.file("ok.conf", 'listen = { port = 13008; };\n'
                          'metrics_listen = %s;\n' % v)
            r = subprocess.run([harness.ECHOREPLYD, "-n", "-f", path],
                               capture_output=True, timeout=harness.WAIT)
            equal((r.returncode, r.stdout), (0, b"configuration OK\n"),
                  "%s: %r" % (v, r.stderr))


def test_metrics_address_in_use_fails_start():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        d = MDaemon(mport=port, expect_ready=False)
        try:
            rc = d.proc.wait(harness.WAIT)
        except subprocess.TimeoutExpired:
            raise AssertionError("still running; log:\n" + d.log())
        equal(rc, 69, "exit status; log:\n" + d.log())
        check("127.0.0.1:%d: Address already in use" % port in d.log(),
              "log:\n" + d.log())
        check(not any("READY=1" in n for n in d.notifier.drain()),
              "READY=1")


# --- passed by the service manager ----------------------------------------

def activated(sockets, names, body):
    prefix = ["systemd-socket-activate", "-E", "NOTIFY_SOCKET"]
    for s in sockets:
        prefix += ["-l", s]
    prefix.append("--fdname=" + ":".join(names))
    return MDaemon(body, metrics=False, expect_ready=False,
                   prefix=prefix)


def scrape_when_up(port):
    """The first scrape: systemd-socket-activate starts the daemon when
    the first connection comes; curl's connection waits for it. Until
    systemd-socket-activate itself listens, a connection is refused: wait
    for the port to accept first (that connection starts the daemon)."""
    deadline = time.monotonic() + harness.WAIT
    while refused(port):
        check(time.monotonic() < deadline, "port %d never listened" % port)
        time.sleep(0.01)
    status, _, headers, body = curl("http://127.0.0.1:%d/metrics" % port)
    equal(status, 200, "status")
    return body


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def test_passed_metrics_socket_with_a_listener():
    if shutil.which("systemd-socket-activate") is None:
        print("# skip: systemd-socket-activate not installed")
        return
    port, mport, unused = (harness.free_port() for _ in range(3))
    d = activated(["127.0.0.1:%d" % port, "127.0.0.1:%d" % mport],
                  ["main", "metrics"],
                  'metrics_listen = "127.0.0.1:%d";\n' % unused)
    body = scrape_when_up(mport)
    d.wait_notify("READY=1")
    samples, _, _ = parse_metrics(body)
    labels = [k for k in samples
              if k.startswith("echoreplyd_listener_connections{")]
    equal(labels, ['echoreplyd_listener_connections{listener="main"}'],
          "listeners in the metrics")
    lines, final = d.request("listeners")
    equal(final, "ok 1 listeners", "listeners: %r" % lines)
    check(" name=main " in lines[0] and "127.0.0.1:%d" % port in lines[0],
          "the one listener: %r" % lines)
    with socket.create_connection(("127.0.0.1", port),
                                  timeout=harness.WAIT) as s:
        s.sendall(b"passed\n")
        equal(recv_until(s, 1), b"passed\n", "the passed listener serves")
    check(refused(unused), "metrics_listen was opened too")
    check(refused(d.other_port), "the config's listeners were opened")
    status = curl("http://127.0.0.1:%d/other" % mport)[0]
    equal(status, 404, "served as the metrics listener")
    equal(d.stop(), 0, "exit status")


def test_passed_metrics_socket_alone_keeps_config_listeners():
    if shutil.which("systemd-socket-activate") is None:
        print("# skip: systemd-socket-activate not installed")
        return
    mport = harness.free_port()
    d = activated(["127.0.0.1:%d" % mport], ["metrics"], "")
    scrape_when_up(mport)
    d.wait_notify("READY=1")
    lines, final = d.request("listeners")
    equal(final, "ok 2 listeners", "listeners: %r" % lines)
    for p in (d.port, d.other_port):
        with socket.create_connection(("127.0.0.1", p),
                                      timeout=harness.WAIT) as s:
            s.sendall(b"cfg\n")
            equal(recv_until(s, 1), b"cfg\n", "the config's listener %d" % p)
    check("passed by the service manager; the 'listen'" not in d.log(),
          "the metrics socket counted as a listener:\n" + d.log())
    equal(d.stop(), 0, "exit status")


if __name__ == "__main__":
    if shutil.which("curl") is None:
        print("1..0 # SKIP curl not installed")
        sys.exit(77)
    harness.run(globals())

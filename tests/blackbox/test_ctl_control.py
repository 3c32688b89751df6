# SPDX-License-Identifier: ISC
"""echoreplyctl -C, the client of the control socket, run as a program
against a real daemon (and, for the exit statuses of answers the daemon
never gives, a scripted socket): every command, wait, follow, the
operator's console on a terminal and from a pipe, where the socket is
found, and the errors with their statuses."""

import os
import pty
import re
import select
import signal
import socket
import stat
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import Daemon, check, equal, recv_until  # noqa: E402

SLOW = harness.SLOW
LONG = 20000          # an operator_timeout_ms that "at once" beats by far
NOBODY = 65534
COMMANDS = ["connections", "listeners", "messages", "follow", "wait",
            "stats", "metrics", "push", "kick", "reload", "operator", "help"]
STATS = ["connections_open", "connections_accepted", "refused", "messages",
         "received_bytes", "sent_bytes", "errors", "log_records_lost",
         "control_clients", "recorded_messages", "uptime_seconds"]
OP_RULES = ('rules = (\n'
            '  { name = "ask"; prefix = "ask"; '
            'reply = "fallback %{message}"; operator = true; },\n'
            '  { name = "ping"; regex = "^PING"; reply = "PONG"; }\n);\n')


def clean_env(**more):
    """The test's environment without a RUNTIME_DIRECTORY of its own."""
    env = dict(os.environ)
    env.pop("RUNTIME_DIRECTORY", None)
    env.update(more)
    return env


def ctl(*args, env=None, input=None, timeout=harness.WAIT + 10,
        preexec_fn=None):
    """Runs echoreplyctl to its end: the CompletedProcess."""
    return subprocess.run([harness.ECHOREPLYCTL] + list(args), input=input,
                          capture_output=True, timeout=timeout,
                          env=clean_env() if env is None else env,
                          preexec_fn=preexec_fn)


def one_error(r, status, what, names=None):
    """r exited with status, nothing on stdout, and one line on stderr,
    `echoreplyctl: ...` (naming `names` when given); that line."""
    err = r.stderr.decode(errors="replace")
    equal(r.returncode, status, "%s: exit status (stderr %r, stdout %r)" %
          (what, err, r.stdout[:300]))
    equal(r.stdout, b"", "%s: stdout" % what)
    check(err.startswith("echoreplyctl: ") and err.endswith("\n") and
          err.count("\n") == 1, "%s: stderr is not one line "
          "'echoreplyctl: ...': %r" % (what, err))
    if names is not None:
        check(names in err, "%s: %r does not name %s" % (what, err, names))
    return err


def ok_out(r, what):
    """r exited with 0 and nothing on stderr; its stdout lines."""
    equal((r.returncode, r.stderr), (0, b""), "%s: status and stderr "
          "(stdout %r)" % (what, r.stdout[:300]))
    out = r.stdout.decode("utf-8", "surrogateescape")
    check(out == "" or out.endswith("\n"), "%s: last line unended" % what)
    return out.splitlines()


class CtlDaemon(harness.ControlDaemon):
    """A daemon whose control socket is ctl_path, in a directory of its
    own; `@DIR@` in the body is that directory."""

    def __init__(self, body="", **kw):
        body = 'control_socket = "@CONTROL@";\n' + body
        if kw.get("listen", True):
            # one TCP listener named main
            kw["listen"] = False
            kw.setdefault("port", harness.free_port())
            body = ('listen = { name = "main"; address = "127.0.0.1"; '
                    'port = %d; };\n' % kw["port"]) + body
        super().__init__(body, **kw)

    def cs(self, *args, **kw):
        """echoreplyctl -C --control-socket PATH args."""
        return ctl("-C", "--control-socket", self.ctl_path, *args, **kw)

    def cf(self, *args, **kw):
        """echoreplyctl -C -f CONF args: the socket from the config."""
        return ctl("-C", "-f", self.conf, *args, **kw)

    def raw(self, request):
        """The daemon's own answer, over a plain socket: (lines, final)."""
        return raw(self.ctl_path, request)

    def stats(self):
        lines, final = self.raw("stats")
        equal(final, "ok", "final line of stats")
        return parse_stats(lines)


def two_listeners(body=""):
    """A daemon with TCP listeners main (d.port) and other (d.other)."""
    port, other = harness.free_port(), harness.free_port()
    d = CtlDaemon('listen = (\n'
                  '  { name = "main"; address = "127.0.0.1"; port = %d; },\n'
                  '  { name = "other"; address = "127.0.0.1"; port = %d; }\n'
                  ');\n' % (port, other) + body, port=port, listen=False)
    d.other = other
    return d


def raw(path, request):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(harness.WAIT)
    try:
        s.connect(path)
        s.sendall(request.encode() + b"\n")
        data = b""
        while True:
            lines = data.split(b"\n")
            done = [x for x in lines[:-1]
                    if x.split(b" ", 1)[0] in (b"ok", b"error")]
            if done:
                lines = [x.decode("utf-8", "surrogateescape")
                         for x in lines[:-1]]
                i = [n for n, x in enumerate(lines)
                     if x.split(" ", 1)[0] in ("ok", "error")][0]
                return lines[:i], lines[i]
            chunk = s.recv(65536)
            check(chunk, "the control socket closed after %r" % data[-200:])
            data += chunk
    finally:
        s.close()


def parse_stats(lines):
    out = {}
    for line in lines:
        w = line.split(" ")
        equal(w[0], "stat", "first word of %r" % line)
        out[" ".join(w[1:-1])] = int(w[-1])
    return out


def poll(fn, what, timeout=harness.WAIT):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        check(time.monotonic() < deadline, "never: " + what)
        time.sleep(0.02)


def attached(d, clients):
    """Waits until the daemon counts `clients` control clients besides the
    one asking, then asks once more (a loop iteration later, a request
    sent on connecting has been read)."""
    poll(lambda: d.stats()["control_clients"] == clients + 1,
         "%d control clients" % clients)
    equal(d.stats()["control_clients"], clients + 1, "control_clients")


MSG_RE = re.compile(r'^message seq=(\d+) time=(\S+) conn=(\d+) client=(\S+) '
                    r'listener=(\S+) rule=(\S+) bytes=(\d+) "(.*)"$')


def message_line(line):
    m = MSG_RE.match(line)
    check(m is not None, "not a message line: %r" % line)
    return {"seq": int(m.group(1)), "time": m.group(2),
            "conn": m.group(3), "client": m.group(4),
            "listener": m.group(5), "rule": m.group(6),
            "bytes": int(m.group(7)), "text": m.group(8)}


CONN_RE = re.compile(r'^connection id=(\d+) client=(\S+) listener=(\S+) '
                     r'age_ms=(\d+) messages=(\d+) bytes_in=(\d+) '
                     r'bytes_out=(\d+) state=(\S+)$')


def peer(s):
    return "127.0.0.1:%d" % s.getsockname()[1]


def say(s, msg, replies=1):
    s.sendall(msg + b"\n")
    return recv_until(s, replies)


def tcp(port):
    return socket.create_connection(("127.0.0.1", port),
                                    timeout=harness.WAIT)


def conn_id(d, s):
    """The id of client socket s, from `echoreplyctl -C connections`."""
    for line in ok_out(d.cs("connections"), "connections"):
        m = CONN_RE.match(line)
        check(m is not None, "malformed %r" % line)
        if m.group(2) == peer(s):
            return m.group(1)
    raise AssertionError("%s not listed" % peer(s))


def nothing_for(s, seconds=0.3):
    r, _, _ = select.select([s], [], [], seconds)
    if r:
        raise AssertionError("expected nothing, got %r" % s.recv(4096))


class Bg:
    """echoreplyctl in the background, its output read as it comes;
    killed by its PID at the end of the test if still running."""

    def __init__(self, args, env=None, stdin=subprocess.DEVNULL):
        self.p = subprocess.Popen([harness.ECHOREPLYCTL] + list(args),
                                  stdin=stdin, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE,
                                  env=clean_env() if env is None else env)
        self.dir = True
        harness._daemons.append(self)
        self.fds = {self.p.stdout.fileno(): b"", self.p.stderr.fileno(): b""}
        self.open = set(self.fds)
        self.taken = 0          # stdout bytes handed out as lines

    @property
    def out(self):
        return self.fds[self.p.stdout.fileno()]

    @property
    def err(self):
        return self.fds[self.p.stderr.fileno()]

    def pump(self, timeout):
        """Reads what comes within timeout; False when nothing more will."""
        if not self.open:
            return False
        r, _, _ = select.select(list(self.open), [], [], max(timeout, 0))
        for fd in r:
            chunk = os.read(fd, 1 << 20)
            if chunk:
                self.fds[fd] += chunk
            else:
                self.open.discard(fd)
        return True

    def line(self, timeout=harness.WAIT):
        """The next stdout line, without its line end."""
        deadline = time.monotonic() + timeout
        while True:
            i = self.out.find(b"\n", self.taken)
            if i >= 0:
                line = self.out[self.taken:i]
                self.taken = i + 1
                return line.decode("utf-8", "surrogateescape")
            left = deadline - time.monotonic()
            check(left > 0, "no (further) line on stdout within %ss; have "
                  "%r, stderr %r" % (timeout, self.out[self.taken:][-200:],
                                     self.err))
            check(self.pump(left), "stdout closed; status %s, stderr %r" %
                  (self.p.poll(), self.err))

    def wait_err(self, text, timeout=harness.WAIT):
        deadline = time.monotonic() + timeout
        while text not in self.err:
            left = deadline - time.monotonic()
            check(left > 0, "stderr never showed %r: %r" % (text, self.err))
            check(self.pump(left), "closed; stderr %r" % self.err)

    def finish(self, timeout=harness.WAIT):
        """Waits for the exit, reading the rest: the status."""
        deadline = time.monotonic() + timeout
        while self.open:
            left = deadline - time.monotonic()
            check(left > 0, "echoreplyctl still running after %ss; stdout "
                  "%r, stderr %r" % (timeout, self.out[-200:], self.err))
            self.pump(left)
        try:
            return self.p.wait(max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            raise AssertionError("echoreplyctl did not exit within %ss" %
                                 timeout)

    def rest(self):
        return self.out[self.taken:].decode("utf-8", "surrogateescape")

    def cleanup(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
        for f in (self.p.stdin, self.p.stdout, self.p.stderr):
            if f is not None:
                f.close()
        return ""


# --- the commands ---------------------------------------------------------

def test_help_lists_every_command():
    d = CtlDaemon()
    for r in (d.cs("help"), d.cf("help")):
        lines = ok_out(r, "help")
        words = set()
        for line in lines:
            w = line.split()
            equal(w[0], "help", "first word of %r" % line)
            words.add(w[1])
        for c in COMMANDS:
            check(c in words, "help does not list %s: %r" % (c, lines))
        equal(lines, d.raw("help")[0], "the daemon's help lines, as they are")


def test_connections_lists_each_client():
    d = two_listeners()
    equal(ok_out(d.cf("connections"), "connections, none"), [],
          "no connections")
    a, b = tcp(d.port), tcp(d.other)
    equal(say(a, b"hello"), b"hello\n", "echo")
    equal(say(b, b"hi"), b"hi\n", "echo")
    lines = ok_out(d.cf("connections"), "connections")
    equal(len(lines), 2, "lines %r" % lines)
    got = {}
    for line in lines:
        m = CONN_RE.match(line)
        check(m is not None, "malformed %r" % line)
        got[m.group(2)] = m.groups()
    equal(sorted(got), sorted([peer(a), peer(b)]), "clients")
    ga, gb = got[peer(a)], got[peer(b)]
    equal((ga[2], ga[4], ga[5], ga[6], ga[7]),
          ("main", "1", "6", "6", "open"), "client on main")
    equal((gb[2], gb[4], gb[5], gb[6]), ("other", "1", "3", "3"),
          "client on other")
    check(ga[0] != gb[0], "distinct ids %r" % lines)
    equal(ok_out(d.cs("connections"), "connections")[0][:40], lines[0][:40],
          "the same with --control-socket")
    a.close()
    b.close()


def test_listeners_lists_each_listener():
    d = two_listeners()
    lines = ok_out(d.cs("listeners"), "listeners")
    equal(len(lines), 2, "lines %r" % lines)
    for line, name, port in ((lines[0], "main", d.port),
                             (lines[1], "other", d.other)):
        check(line.startswith("listener name=%s " % name), "line %r" % line)
        check(" address=127.0.0.1:%d " % port in line, "address in %r" % line)
    equal(lines, d.raw("listeners")[0], "printed as the daemon sent them")


def test_messages_last_n_of_those_recorded():
    d = CtlDaemon("recorded_messages = 3;\n")
    equal(ok_out(d.cf("messages"), "messages, none"), [], "none yet")
    a = d.connect()
    for i in range(1, 6):
        equal(say(a, b"m%d" % i), b"m%d\n" % i, "echo")
    lines = ok_out(d.cf("messages"), "messages")
    ms = [message_line(x) for x in lines]
    equal([m["text"] for m in ms], ["m3", "m4", "m5"],
          "the last recorded_messages, oldest first")
    equal([m["seq"] for m in ms], [3, 4, 5], "seqs")
    for m in ms:
        equal((m["client"], m["listener"], m["rule"], m["bytes"]),
              (peer(a), "main", "-", 2), "fields of %r" % m)
    two = [message_line(x)["text"]
           for x in ok_out(d.cs("messages", "2"), "messages 2")]
    equal(two, ["m4", "m5"], "messages 2")
    r = d.cs("messages", "lots")
    one_error(r, 64, "messages lots")
    a.close()


def test_stats_counts():
    d = CtlDaemon()
    a = d.connect()
    for i in range(4):
        equal(say(a, b"x%d" % i), b"x%d\n" % i, "echo")
    lines = ok_out(d.cf("stats"), "stats")
    st = parse_stats(lines)
    for name in STATS:
        check(name in st, "no stat %s in %r" % (name, lines))
    equal((st["messages"], st["connections_open"], st["control_clients"],
           st["recorded_messages"], st["received_bytes"]),
          (4, 1, 1, 4, 12), "counters")
    a.close()


PROM_RE = [re.compile(r"^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* \S.*$"),
           re.compile(r"^# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* "
                      r"(counter|gauge|histogram|summary|untyped)$"),
           re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*'
                      r'(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"'
                      r'(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*")*\})?'
                      r' [-+]?([0-9.eE+-]+|Inf|NaN)( -?\d+)?$')]


def test_metrics_only_prometheus_lines():
    d = CtlDaemon('rules = ( { name = "ping"; exact = "PING"; '
                  'reply = "PONG"; } );\n')
    a = d.connect()
    equal(say(a, b"PING"), b"PONG\n", "rule")
    equal(say(a, b"other"), b"other\n", "echo")
    r = d.cf("metrics")
    lines = ok_out(r, "metrics")
    check(lines, "no metrics")
    for line in lines:
        check(any(p.match(line) for p in PROM_RE),
              "not a Prometheus text line: %r" % line)
    check("echoreplyd_messages_total 2" in lines, "messages_total in %r" %
          lines)
    check(any(x.startswith("echoreplyd_rule_messages_total") and
              'rule="ping"' in x and x.endswith(" 1") for x in lines),
          "the rule's counter in %r" % lines)
    if os.path.exists("/usr/bin/promtool"):
        p = subprocess.run(["/usr/bin/promtool", "check", "metrics"],
                           input=r.stdout, capture_output=True,
                           timeout=harness.WAIT)
        equal(p.returncode, 0, "promtool check metrics: %r %r" %
              (p.stdout, p.stderr))
    else:
        print("# no /usr/bin/promtool: format checked by pattern only")
    a.close()


def test_push_to_an_id_and_to_a_listener():
    d = two_listeners()
    a, b, c = tcp(d.port), tcp(d.port), tcp(d.other)
    for s in (a, b, c):
        equal(say(s, b"up"), b"up\n", "echo")
    ida = conn_id(d, a)
    equal(ok_out(d.cf("push", ida, r"to\ta\x41", r"and\\"), "push id"), [],
          "stdout of push")
    equal(recv_until(a, 1), b"to\taA and\\\n", "the pushed text, decoded")
    nothing_for(b)
    equal(ok_out(d.cs("push", "listener", "main", "all of main"),
                 "push listener"), [], "stdout")
    equal(recv_until(a, 1), b"all of main\n", "pushed to a")
    equal(recv_until(b, 1), b"all of main\n", "pushed to b")
    nothing_for(c, 0.1)
    one_error(d.cs("push", "987654", "x"), 66, "push to an unknown id",
              "987654")
    one_error(d.cf("push", "listener", "nope", "x"), 66,
              "push to an unknown listener", "nope")
    for s in (a, b, c):
        s.close()


def test_kick_closes_and_an_unknown_id_is_66():
    d = CtlDaemon()
    a, b = d.connect(), d.connect()
    equal(say(a, b"one"), b"one\n", "echo")
    equal(say(b, b"two"), b"two\n", "echo")
    ida = conn_id(d, a)
    equal(ok_out(d.cs("kick", ida), "kick"), [], "stdout of kick")
    equal(recv_until(a), b"", "EOF for the kicked client")
    equal(say(b, b"still"), b"still\n", "the other goes on")
    poll(lambda: all(" client=%s " % peer(a) not in x
                     for x in ok_out(d.cf("connections"), "connections")),
         "the kicked one leaves connections")
    # the man page's example: "echoreplyctl: no connection 7", status 66
    err = one_error(d.cf("kick", ida), 66, "kick again")
    equal(err, "echoreplyctl: no connection %s\n" % ida, "message")
    one_error(d.cs("kick", "99999"), 66, "kick an unknown id", "99999")
    b.close()


def test_man_example_verbose_kick_says_closing():
    # echoreplyctl(1) EXAMPLES: "$ echoreplyctl -C -v kick 7" shows
    # "closing 7", the text of the daemon's "ok closing 7"
    d = CtlDaemon()
    a = d.connect()
    equal(say(a, b"x"), b"x\n", "echo")
    ida = conn_id(d, a)
    r = d.cs("-v", "kick", ida)
    equal((r.returncode, r.stdout), (0, b""), "status and stdout")
    equal(r.stderr, b"closing %s\n" % ida.encode(),
          "what -v kick shows (the man page's example)")
    a.close()


def test_reload_ok_and_broken():
    d = CtlDaemon('rules = ( { name = "r"; exact = "Q"; reply = "one"; } );\n')
    a = d.connect()
    equal(say(a, b"Q"), b"one\n", "first configuration")
    good = open(d.conf).read()
    d.write_conf(good.replace('"one"', '"two"'))
    equal(ok_out(d.cf("reload"), "reload"), [], "stdout of reload")
    equal(say(a, b"Q"), b"two\n", "reloaded")
    # two errors: both reported, the file kept out (the client reads no
    # file with --control-socket)
    d.write_conf(good.replace('"one"', '"three"') +
                 "bogus_key = 1;\nidle_timeout_ms = -5;\n")
    nlines = good.count("\n")
    r = d.cs("reload")
    err = r.stderr.decode()
    equal(r.returncode, 78, "exit status (stdout %r, stderr %r)" %
          (r.stdout, err))
    check(err.startswith("echoreplyctl: ") and err.count("\n") == 1,
          "stderr: %r" % err)
    out = r.stdout.decode().splitlines()
    equal(len(out), 2, "problem lines %r" % out)
    for line, n, key in ((out[0], nlines + 1, "bogus_key"),
                         (out[1], nlines + 2, "idle_timeout_ms")):
        check(line.startswith("problem %s:%d: " % (d.conf, n)) and
              key in line, "problem line %r (want line %d, %s)" %
              (line, n, key))
    equal(say(a, b"Q"), b"two\n", "the running configuration kept")
    r = d.cs("-q", "reload")
    equal((r.returncode, r.stdout, r.stderr), (78, b"", b""),
          "-q reload of the broken file")
    a.close()


def test_unknown_command_is_64():
    d = CtlDaemon()
    err = one_error(d.cs("bogus"), 64, "unknown command")
    check("bogus" in err, "names the command: %r" % err)
    one_error(ctl("-C", "--control-socket", d.ctl_path), 64, "no command")


def test_verbose_shows_the_ok_text_on_stderr():
    d = CtlDaemon()
    a = d.connect()
    equal(say(a, b"v"), b"v\n", "echo")
    ida = conn_id(d, a)
    for req in (["help"], ["stats"], ["listeners"], ["messages", "1"],
                ["push", ida, "pushed"], ["connections"]):
        lines, final = d.raw(" ".join(req))
        text = final[3:] if final.startswith("ok ") else "ok"
        r = d.cs("-v", *req)
        equal((r.returncode, r.stderr.decode()), (0, text + "\n"),
              "-v %s: the ok text" % req[0])
        if req[0] not in ("stats", "connections"):   # those change
            equal(r.stdout.decode().splitlines(), lines,
                  "-v %s: stdout holds the answer only" % req[0])
    equal(recv_until(a, 2), b"pushed\npushed\n", "both pushes went")
    a.close()


def test_quiet_silences_answers_and_errors():
    d = CtlDaemon()
    for args, status in ((["stats"], 0), (["help"], 0), (["bogus"], 64),
                         (["kick", "4242"], 66)):
        r = d.cs("-q", *args)
        equal((r.returncode, r.stdout, r.stderr), (status, b"", b""),
              "-q %s" % " ".join(args))
    r = ctl("-C", "-q", "--control-socket",
            os.path.join(d.ctl_dir, "none"), "stats")
    equal((r.returncode, r.stdout, r.stderr), (69, b"", b""),
          "-q with no socket")
    # errors on the command line are still reported
    one_error(ctl("-C", "-q", "-u", "stats"), 64, "-q -u")


# --- wait -----------------------------------------------------------------

def test_wait_new_sees_the_next_ping():
    d = CtlDaemon(OP_RULES)
    a = d.connect()
    equal(say(a, b"PING before"), b"PONG\n", "an earlier PING")
    before = message_line(ok_out(d.cs("messages", "1"), "messages")[0])
    w = Bg(["-C", "-t", "5", "--control-socket", d.ctl_path, "wait",
            "--new", "^PING"])
    attached(d, 1)
    check(w.p.poll() is None, "wait --new ended before the PING: %s %r %r" %
          (w.p.poll(), w.out, w.err))
    b = d.connect()
    # the client may not have sent its request yet when the daemon counts
    # it: PING until the wait ends (any PING after the request matches)
    deadline = time.monotonic() + 5
    while w.p.poll() is None and time.monotonic() < deadline:
        equal(say(b, b"PING now"), b"PONG\n", "the PING")
        time.sleep(0.05)
    equal(w.finish(), 0, "exit status; stderr %r" % w.err)
    equal(w.err, b"", "stderr")
    lines = w.rest().splitlines()
    equal(len(lines), 1, "stdout %r" % lines)
    m = message_line(lines[0])
    equal((m["text"], m["client"], m["listener"], m["rule"], m["bytes"]),
          ("PING now", peer(b), "main", "ping", 8), "the message line")
    check(m["seq"] > before["seq"], "seq %d after %d" % (m["seq"],
                                                         before["seq"]))
    a.close()
    b.close()


def test_wait_not_seen_in_time_is_1():
    d = CtlDaemon()
    a = d.connect()
    equal(say(a, b"PING old"), b"PING old\n", "recorded, not new")
    t = time.monotonic()
    r = d.cf("-t", "1", "wait", "--new", "^PING")
    took = time.monotonic() - t
    one_error(r, 1, "wait --new with nothing new")
    check(0.9 <= took < 6 + SLOW, "ended after %.2fs (-t 1)" % took)
    t = time.monotonic()
    one_error(d.cs("-t", "1", "wait", "never seen"), 1, "wait for nothing")
    check(time.monotonic() - t >= 0.9, "ended before its timeout")
    a.close()


def test_wait_all_sees_a_recorded_message():
    d = CtlDaemon()
    a = d.connect()
    for msg in (b"first one", b"x --new y", b"last one"):
        equal(say(a, msg), msg + b"\n", "echo")
    r = d.cf("wait", "^first")
    lines = ok_out(r, "wait ^first")
    equal(len(lines), 1, "lines %r" % lines)
    m = message_line(lines[0])
    equal((m["text"], m["seq"]), ("first one", 1), "the recorded message")
    # words after the first are part of the regex, joined by one space
    lines = ok_out(d.cs("-t", "2", "wait", "^last", "one$"), "two words")
    equal(message_line(lines[0])["text"], "last one", "joined regex")
    # -- lets the regex start with --new
    lines = ok_out(d.cs("-t", "2", "wait", "--", "--new"), "wait -- --new")
    equal(message_line(lines[0])["text"], "x --new y", "regex --new")
    a.close()


def test_wait_bad_regex_is_64():
    d = CtlDaemon()
    for args in (["wait", "("], ["wait", "--new", "a[b"], ["wait"],
                 ["wait", "--new"]):
        t = time.monotonic()
        one_error(d.cs(*args), 64, " ".join(args))
        check(time.monotonic() - t < SLOW, "%s took %.2fs" %
              (" ".join(args), time.monotonic() - t))


# --- follow ---------------------------------------------------------------

def test_follow_ten_thousand_in_order_and_sigterm():
    d = CtlDaemon()
    a = d.connect()
    equal(say(a, b"marker"), b"marker\n", "echo")
    f = Bg(["-C", "-f", d.conf, "follow", "1"])
    first = message_line(f.line())
    equal(first["text"], "marker", "the one message replayed")
    start = first["seq"]
    nclients, each, batch = 5, 2000, 250
    total = nclients * each
    errors = []

    def send(k):
        try:
            with tcp(d.port) as s:
                for i in range(0, each, batch):
                    s.sendall(b"".join(b"c%d-%d\n" % (k, j)
                                       for j in range(i, i + batch)))
                    got = recv_until(s, batch)
                    if got.count(b"\n") != batch:
                        raise AssertionError("client %d: %d replies" %
                                             (k, got.count(b"\n")))
        except Exception as e:     # noqa: BLE001
            errors.append("client %d: %r" % (k, e))

    threads = [threading.Thread(target=send, args=(k,), daemon=True)
               for k in range(nclients)]
    for t in threads:
        t.start()
    prev, pending_lost, lost, seen = start, 0, 0, 0
    last = {}
    while seen + lost < total:
        line = f.line()
        if line.startswith("lost "):
            m = re.match(r"^lost count=(\d+)$", line)
            check(m is not None, "malformed %r" % line)
            n = int(m.group(1))
            check(n > 0, "lost count 0")
            pending_lost += n
            lost += n
            continue
        m = message_line(line)
        equal(m["seq"], prev + 1 + pending_lost, "seq after %d (%d lost "
              "told since)" % (prev, pending_lost))
        prev, pending_lost = m["seq"], 0
        k, i = (int(x) for x in re.match(r"^c(\d+)-(\d+)$",
                                         m["text"]).groups())
        check(i > last.get(k, -1), "client %d: %d after %d" %
              (k, i, last.get(k, -1)))
        last[k] = i
        seen += 1
    for t in threads:
        t.join(harness.WAIT)
    check(not errors, "senders: %r" % errors)
    equal(prev + pending_lost, start + total, "the last seq accounted for")
    if lost:
        print("# follow lost %d of %d lines" % (lost, total))
    f.p.send_signal(signal.SIGTERM)
    equal(f.finish(), 0, "exit status after SIGTERM; stderr %r" % f.err)
    equal((f.rest(), f.err), ("", b""), "nothing more")
    a.close()


def test_follow_replays_n_then_goes_on():
    d = CtlDaemon()
    a = d.connect()
    for i in range(1, 6):
        equal(say(a, b"m%d" % i), b"m%d\n" % i, "echo")
    f = Bg(["-C", "--control-socket", d.ctl_path, "follow", "3"])
    got = [message_line(f.line())["text"] for _ in range(3)]
    equal(got, ["m3", "m4", "m5"], "the last 3, oldest first")
    equal(say(a, b"live"), b"live\n", "echo")
    equal(message_line(f.line())["text"], "live", "then a new one")
    f.p.send_signal(signal.SIGINT)
    equal(f.finish(), 0, "exit status after SIGINT; stderr %r" % f.err)
    equal((f.rest(), f.err), ("", b""), "nothing more")
    one_error(d.cs("follow", "1000001"), 64, "follow 1000001")
    a.close()


def test_follow_prints_the_full_lines_a_raw_follower_gets():
    """echoreplyctl asks for compact lines and prints them whole: under
    pipelined load from three clients its output is, line by line, what
    a plain follower of the daemon reads."""
    d = CtlDaemon()
    with harness.ControlClient(d.ctl_path) as full:
        full.send("follow")
        equal(full.line(), "ok following", "the raw follower")
        f = Bg(["-C", "-f", d.conf, "follow"])
        attached(d, 2)
        clients = [tcp(d.port) for _ in range(3)]
        n = 0
        for r in range(20):
            for k, s in enumerate(clients):
                s.sendall(b"".join(b"c%d-%d-%d\n" % (k, r, i)
                                   for i in range(40)))
            for s in clients:
                recv_until(s, 40)
                n += 40
        want = [full.line() for _ in range(n)]
        got = [f.line() for _ in range(n)]
    for i, line in enumerate(want):
        equal(got[i], line, "line %d of %d" % (i + 1, n))
    f.p.send_signal(signal.SIGTERM)
    equal(f.finish(), 0, "exit status after SIGTERM; stderr %r" % f.err)
    equal((f.rest(), f.err), ("", b""), "nothing more")
    for s in clients:
        s.close()


def test_follow_ends_when_the_daemon_closes():
    d = CtlDaemon()
    a = d.connect()
    equal(say(a, b"m"), b"m\n", "echo")
    f = Bg(["-C", "-f", d.conf, "follow", "1"])
    equal(message_line(f.line())["text"], "m", "replayed")
    equal(d.stop(), 0, "daemon's exit status")
    # "until the daemon closes the connection or ... SIGTERM; either ends
    # it with status 0"
    equal(f.finish(), 0, "exit status after the daemon closed; stderr %r" %
          f.err)
    a.close()


# --- operator -------------------------------------------------------------

ASK_SHOWN = re.compile(rb'\[(\d+)\] (\S+) on (\S+): "(.*)"\n')


class PtyCtl:
    """echoreplyctl with its standard input, output and error on a pty."""

    def __init__(self, args):
        self.master, slave = pty.openpty()
        try:
            self.p = subprocess.Popen([harness.ECHOREPLYCTL] + list(args),
                                      stdin=slave, stdout=slave,
                                      stderr=slave, env=clean_env())
        finally:
            os.close(slave)
        self.dir = True
        harness._daemons.append(self)
        self.out = b""

    def read(self, seconds):
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            r, _, _ = select.select([self.master], [], [], left)
            if not r:
                break
            try:
                chunk = os.read(self.master, 4096)
            except OSError:       # EIO: the other side is closed
                break
            if not chunk:
                break
            self.out += chunk
        self.out = self.out.replace(b"\r\n", b"\n")
        return self.out

    def wait_shown(self, pattern):
        """Waits until the terminal shows pattern (a bytes regex); the
        match, and what came after it is kept."""
        if isinstance(pattern, bytes):
            pattern = re.compile(re.escape(pattern))
        deadline = time.monotonic() + harness.WAIT
        while True:
            m = pattern.search(self.read(0.05))
            if m:
                self.out = self.out[m.end():]
                return m
            check(time.monotonic() < deadline and self.p.poll() is None,
                  "the terminal never showed %r (status %s); it showed %r" %
                  (pattern.pattern, self.p.poll(), self.out))

    def type(self, data):
        os.write(self.master, data)

    def cleanup(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
        os.close(self.master)
        return ""


def op_daemon(body=""):
    return CtlDaemon('operator_timeout_ms = %d;\n' % LONG + body + OP_RULES)


def test_operator_on_a_terminal():
    d = op_daemon()
    c = PtyCtl(["-C", "-v", "-f", d.conf, "operator"])
    c.wait_shown(b"operator\n")        # -v: the text of "ok operator"
    a = d.connect()
    a.sendall(b'ask "me"\tnow\\\n')
    m = c.wait_shown(ASK_SHOWN)
    equal(m.group(2, 3, 4), (peer(a).encode(), b"main",
                             b'ask \\"me\\"\\tnow\\\\'), "the ask shown")
    check(int(m.group(1)) >= 1, "id %r" % m.group(1))
    nothing_for(a)
    c.type(b"General Kenobi\n")
    equal(recv_until(a, 1), b"General Kenobi\n", "the typed line answers")
    equal(say(a, b"PING"), b"PONG\n", "a rule answers without asking")
    # a line typed while nothing waits is not sent, and said so
    c.type(b"anyone?\n")
    c.wait_shown(re.compile(rb"\necho" + rb"replyctl: [^\n]+\n"))
    # one left unanswered when the console ends: its fallback at once
    b = d.connect()
    b.sendall(b"ask pending\n")
    m = c.wait_shown(ASK_SHOWN)
    equal(m.group(2, 4), (peer(b).encode(), b"ask pending"), "second ask")
    c.type(b"\x04")
    t = time.monotonic()
    try:
        rc = c.p.wait(harness.WAIT)
    except subprocess.TimeoutExpired:
        raise AssertionError("control-D did not end the console; shown %r" %
                             c.read(0.1))
    equal(rc, 0, "exit status after control-D")
    got = recv_until(b, 1)
    took = time.monotonic() - t
    equal(got, b"fallback ask pending\n", "the pending ask's fallback")
    check(took < SLOW, "the fallback came %.2fs after control-D "
          "(operator_timeout_ms is %d)" % (took, LONG))
    t = time.monotonic()
    a.sendall(b"ask after\n")
    equal(recv_until(a, 1), b"fallback ask after\n", "no console now")
    check(time.monotonic() - t < SLOW, "a new ask waited %.2fs" %
          (time.monotonic() - t))
    a.close()
    b.close()


def test_operator_answers_from_a_pipe():
    d = op_daemon()
    c = Bg(["-C", "-v", "--control-socket", d.ctl_path, "operator"],
           stdin=subprocess.PIPE)
    c.wait_err(b"operator\n")
    a, b = d.connect(), d.connect()
    a.sendall(b"ask one\n")
    qa = re.match(r'^\[(\d+)\] (\S+) on main: "ask one"$', c.line())
    check(qa is not None and qa.group(2) == peer(a), "first ask shown: %r" %
          (qa and qa.group(0)))
    b.sendall(b"ask two\n")
    qb = re.match(r'^\[(\d+)\] (\S+) on main: "ask two"$', c.line())
    check(qb is not None and qb.group(2) == peer(b), "second ask shown")
    check(int(qb.group(1)) > int(qa.group(1)), "ids grow")
    # two lines at once: the first answers the oldest; bytes survive
    first = b'tab\there back\\slash \\n "q" \\x41 \xc3\xa9 \x01\x7f end'
    c.p.stdin.write(first + b"\nsecond answer\n")
    c.p.stdin.flush()
    equal(recv_until(a, 1), first + b"\n", "the first line, byte for byte")
    equal(recv_until(b, 1), b"second answer\n", "the second line")
    # end of input right after an answer: it still goes, then status 0
    a.sendall(b"ask three\n")
    check(re.match(r'^\[\d+\] \S+ on main: "ask three"$', c.line()),
          "third ask shown")
    c.p.stdin.write(b"last words\n")
    c.p.stdin.close()
    c.p.stdin = None
    equal(c.finish(), 0, "exit status at end of input; stderr %r" % c.err)
    equal(recv_until(a, 1), b"last words\n", "the answer sent before EOF")
    equal(c.rest(), "", "nothing more on stdout")
    t = time.monotonic()
    a.sendall(b"ask nobody\n")
    equal(recv_until(a, 1), b"fallback ask nobody\n", "the fallback")
    check(time.monotonic() - t < SLOW, "fallback after %.2fs (no console)" %
          (time.monotonic() - t))
    a.close()
    b.close()


def test_operator_gone_line_and_daemon_closing():
    port, quick = harness.free_port(), harness.free_port()
    d = CtlDaemon('operator_timeout_ms = %d;\n'
                  'listen = (\n'
                  '  { name = "main"; address = "127.0.0.1"; port = %d; },\n'
                  '  { name = "quick"; address = "127.0.0.1"; port = %d; '
                  'operator_timeout_ms = 300; }\n);\n' % (LONG, port, quick) +
                  OP_RULES, port=port, listen=False)
    c = Bg(["-C", "-v", "-f", d.conf, "operator"], stdin=subprocess.PIPE)
    c.wait_err(b"operator\n")
    q = tcp(quick)
    q.sendall(b"ask quick\n")
    m = re.match(r'^\[(\d+)\] \S+ on quick: "ask quick"$', c.line())
    check(m is not None, "ask from quick shown")
    equal(c.line(), "[%s] gone" % m.group(1), "withdrawn after its timeout")
    equal(recv_until(q, 1), b"fallback ask quick\n", "its fallback")
    a = d.connect()
    a.sendall(b"ask main\n")
    check(re.match(r'^\[\d+\] \S+ on main: "ask main"$', c.line()),
          "the next ask")
    c.p.stdin.write(b"for main\n")
    c.p.stdin.flush()
    equal(recv_until(a, 1), b"for main\n", "the line answers the live ask")
    d.signal(signal.SIGTERM)
    rc = c.finish()
    # -v shows the ok texts: "operator", "answered ID"; then the error
    err = [x for x in c.err.decode(errors="replace").splitlines()
           if x != "operator" and not re.match(r"^answered \d+$", x)]
    equal(rc, 76, "exit status when the daemon closes (stderr %r)" % c.err)
    check(len(err) == 1 and err[0].startswith("echoreplyctl: "),
          "one error line on stderr: %r" % c.err)
    a.close()
    q.close()


# --- where the socket is --------------------------------------------------

def test_config_names_the_socket_and_the_option_wins():
    d = CtlDaemon()
    elsewhere = os.path.join(d.ctl_dir, "elsewhere")
    with harness.TempDir() as t:
        conf = t.file("other.conf", 'control_socket = "%s";\n' % elsewhere)
        one_error(ctl("-C", "-f", conf, "help"), 69,
                  "the config's socket, where nothing listens", elsewhere)
        lines = ok_out(ctl("-C", "-f", conf, "--control-socket", d.ctl_path,
                           "help"), "--control-socket over the config")
        check(lines and lines[0].startswith("help "), "help lines %r" % lines)
        # with a RUNTIME_DIRECTORY too, the config's path is the one used
        env = clean_env(RUNTIME_DIRECTORY=d.ctl_dir)
        one_error(ctl("-C", "-f", conf, "help", env=env), 69,
                  "config over RUNTIME_DIRECTORY", elsewhere)


def test_runtime_directory_default_path():
    with harness.TempDir() as rt:
        os.chmod(rt.path, 0o755)
        d = Daemon(env={"RUNTIME_DIRECTORY": rt.path})
        path = os.path.join(rt.path, "control")
        d.wait_log("control socket %s\n" % path)
        a = d.connect()
        equal(say(a, b"rt"), b"rt\n", "echo")
        for value in (rt.path, rt.path + ":/nonexistent/second"):
            env = clean_env(RUNTIME_DIRECTORY=value)
            lines = ok_out(ctl("-C", "-f", d.conf, "messages", env=env),
                           "RUNTIME_DIRECTORY=%s" % value)
            equal([message_line(x)["text"] for x in lines], ["rt"],
                  "messages via RUNTIME_DIRECTORY=%s" % value)
        if not os.path.exists("/usr/local/etc/echoreplyd.conf"):
            env = clean_env(RUNTIME_DIRECTORY=rt.path)
            lines = ok_out(ctl("-C", "stats", env=env), "no -f, no file")
            check("stat messages 1" in lines, "stats %r" % lines)
        else:
            print("# an installed echoreplyd.conf: -C without -f not run")
        if not os.path.exists("/run/echoreplyd/control"):
            one_error(ctl("-C", "-f", d.conf, "stats"), 69,
                      "no RUNTIME_DIRECTORY", "/run/echoreplyd/control")
        a.close()
        equal(d.stop(), 0, "exit status")


# --- errors ---------------------------------------------------------------

def test_no_daemon_at_the_path_is_69():
    with harness.TempDir() as t:
        missing = os.path.join(t.path, "missing")
        t0 = time.monotonic()
        one_error(ctl("-C", "--control-socket", missing, "stats"), 69,
                  "no file", missing)
        stale = os.path.join(t.path, "stale")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.bind(stale)       # a socket file nobody listens on
        conf = t.file("c.conf", 'control_socket = "%s";\n' % stale)
        one_error(ctl("-C", "-f", conf, "stats"), 69, "stale socket", stale)
        check(time.monotonic() - t0 < SLOW * 2, "took %.2fs" %
              (time.monotonic() - t0))


def test_options_for_messages_are_64_with_C():
    with harness.TempDir() as t:
        path = os.path.join(t.path, "nothing")
        for opts in (["-u"], ["--tls"], ["-4"], ["-6"], ["-g"],
                     ["-H", "127.0.0.1"], ["-p", "13008"], ["-U", path],
                     ["-n", "2"], ["--raw"], ["--framing", "line"],
                     ["--proxy", "192.0.2.1:1"], ["--insecure"],
                     ["--sni", "x"]):
            one_error(ctl("-C", "--control-socket", path, *opts, "stats"), 64,
                      "-C %s" % " ".join(opts))
        one_error(ctl("--control-socket", path, "stats"), 64,
                  "--control-socket without -C")
        one_error(ctl("-C", "-t", "0", "--control-socket", path, "stats"), 64,
                  "-t 0")


def test_empty_control_socket_in_the_config_is_69():
    with harness.TempDir() as t:
        conf = t.file("c.conf", 'listen = { port = 13008; };\n'
                      'control_socket = "";\n')
        env = clean_env(RUNTIME_DIRECTORY=t.path)
        one_error(ctl("-C", "-f", conf, "stats", env=env), 69,
                  'control_socket = ""')


def test_other_uid_denied_is_77():
    if os.geteuid() != 0:
        print("# skip: not root, cannot run as another uid")
        return
    # the sanitizer rerun builds in a directory of mode 0700
    path = os.path.dirname(os.path.abspath(harness.ECHOREPLYCTL))
    while path != "/":
        if not os.stat(path).st_mode & stat.S_IXOTH:
            print("# skip: %s is not open to other users" % path)
            return
        path = os.path.dirname(path)
    d = CtlDaemon()
    equal(stat.S_IMODE(os.stat(d.ctl_path).st_mode), 0o600, "socket mode")
    os.chmod(d.ctl_path, 0o777)

    def nobody():
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
    one_error(d.cs("stats", preexec_fn=nobody), 77, "stats as uid %d" %
              NOBODY)
    r = d.cs("-q", "stats", preexec_fn=nobody)
    equal((r.returncode, r.stdout, r.stderr), (77, b"", b""), "-q")
    check(ok_out(d.cs("stats"), "root still served"), "stats as root")


# --- statuses of answers, from a scripted control socket ------------------

class Script:
    """A control socket that records each request line and answers it
    with `answer` (bytes), then closes; with None it never answers."""

    def __init__(self, directory, answer):
        self.path = os.path.join(directory, "scripted")
        self.ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.ls.bind(self.path)
        self.ls.listen(8)
        self.answer = answer
        self.requests = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stop.is_set():
            r, _, _ = select.select([self.ls], [], [], 0.05)
            if not r:
                continue
            c, _ = self.ls.accept()
            with c:
                c.settimeout(harness.WAIT)
                buf = b""
                try:
                    while b"\n" not in buf:
                        chunk = c.recv(65536)
                        if not chunk:
                            break
                        buf += chunk
                    self.requests.append(buf)
                    if self.answer is None:
                        while c.recv(65536):
                            pass
                    else:
                        c.sendall(self.answer)
                except OSError:
                    pass

    def close(self):
        self.stop.set()
        self.thread.join(harness.WAIT)
        self.ls.close()


def scripted(answer, *args):
    """Runs echoreplyctl -C args against a Script: (result, requests)."""
    with harness.TempDir() as t:
        s = Script(t.path, answer)
        try:
            r = ctl("-C", "--control-socket", s.path, *args)
        finally:
            s.close()
        return r, s.requests


def test_each_error_class_has_its_status():
    for cls, status in (("usage", 64), ("notfound", 66), ("timeout", 1),
                        ("config", 78), ("denied", 77), ("busy", 75),
                        ("failed", 70), ("strange", 70)):
        r, reqs = scripted(b"stat a 1\nerror %s the text\n" % cls.encode(),
                           "stats")
        equal(reqs, [b"stats\n"], "the request")
        equal(r.returncode, status, "status for error %s (stderr %r)" %
              (cls, r.stderr))
        equal(r.stdout, b"stat a 1\n", "the data line, as it came")
        err = r.stderr.decode()
        check(err.startswith("echoreplyctl: ") and err.count("\n") == 1 and
              "the text" in err, "error %s: stderr %r" % (cls, err))


def test_answers_cut_short_or_missing():
    r, _ = scripted(b"stat a 1\n", "stats")
    equal(r.stdout, b"stat a 1\n", "what came is printed")
    equal(r.returncode, 76, "closed before the last line (stderr %r)" %
          r.stderr)
    check(r.stderr.count(b"\n") == 1, "one line: %r" % r.stderr)
    r, _ = scripted(b"x" * (2 << 20) + b"\nok\n", "stats")
    equal(r.returncode, 76, "a line over 1 MiB (stderr %r)" % r.stderr[:200])
    t = time.monotonic()
    r, reqs = scripted(None, "-t", "1", "stats")
    took = time.monotonic() - t
    one_error(r, 75, "no answer within -t 1")
    check(0.9 <= took < 1 + SLOW * 2, "gave up after %.2fs" % took)


def test_request_lines_as_sent():
    _, reqs = scripted(b"ok\n", "push", "7", "a  b", "-u", "--tls")
    equal(reqs, [b"push 7 a  b -u --tls\n"], "words joined by one space; "
          "options after the command are words")
    _, reqs = scripted(b"ok\n", "-t", "5", "wait", "--new", "^PING", "x")
    equal(reqs, [b"wait 5000 new ^PING x\n"], "wait --new")
    _, reqs = scripted(b"ok\n", "wait", "--", "--new")
    equal(reqs, [b"wait 10000 all --new\n"], "wait -- --new")
    # at most 4096 bytes with the line end
    word = "x" * (4096 - 1 - len("push 1 "))
    r, reqs = scripted(b"ok\n", "push", "1", word)
    equal((r.returncode, reqs), (0, [("push 1 %s\n" % word).encode()]),
          "a request of 4096 bytes")
    r, reqs = scripted(b"ok\n", "push", "1", word + "x")
    one_error(r, 64, "a request of 4097 bytes")
    equal(reqs, [], "nothing sent")


if __name__ == "__main__":
    harness.run(globals())

# SPDX-License-Identifier: ISC
"""The live operator: consoles on the control socket (`operator`) that
see the messages of rules with operator = true and answer them, the
fallback when none does, and the console of -i on a terminal (a pty)."""

import os
import pty
import random
import re
import select
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
from harness import check, equal, recv_until  # noqa: E402

SLOW = harness.SLOW
QUIET = 0.3      # how long "nothing comes" is watched for
LONG = 4000      # operator_timeout_ms that "at once" must beat by far

RULES = ('rules = (\n'
         '  { name = "ask"; prefix = "ask"; reply = "fallback %{message}"; '
         'operator = true; },\n'
         '  { name = "ping"; exact = "PING"; reply = "PONG"; }\n);\n')


class OpDaemon(harness.ControlDaemon):
    """A daemon with a control socket of its own, a line listener `main`
    (self.port) and a listener `len` with 2-byte length prefixes
    (self.len_port), and RULES unless `rules` says otherwise."""

    def __init__(self, timeout_ms=60000, top="", rules=RULES, len_extra="",
                 **kw):
        port = harness.free_port()
        self.len_port = harness.free_port()
        body = ('listen = (\n'
                '  { name = "main"; address = "127.0.0.1"; port = %d; },\n'
                '  { name = "len"; address = "127.0.0.1"; port = %d; '
                'framing = "length"; length_bytes = 2;%s }\n);\n'
                'control_socket = "@CONTROL@";\n'
                'operator_timeout_ms = %d;\n' %
                (port, self.len_port, len_extra, timeout_ms) +
                top + rules)
        super().__init__(body, port=port, listen=False, **kw)

    def ctl(self):
        return Ctl(self.ctl_path)

    def console(self):
        """A control connection that sent `operator` (and read its ok)."""
        c = Console(self.ctl_path)
        c.send("operator")
        equal(c.line(), "ok operator", "answer to operator")
        return c

    def request(self, req):
        """One request on a connection of its own: (data lines, final)."""
        with self.ctl() as c:
            c.send(req)
            lines = []
            while True:
                line = c.line()
                check(line is not None, "EOF after %r" % lines)
                if line.split(" ", 1)[0] in ("ok", "error"):
                    return lines, line
                lines.append(line)

    def conn_id(self, s):
        """The control socket's id of client socket s."""
        lines, final = self.request("connections")
        for line in lines:
            if " client=%s " % peer(s) in line:
                return re.search(r" id=(\d+) ", line).group(1)
        raise AssertionError("%s not in %r" % (peer(s), lines))

    def len_connect(self):
        return socket.create_connection(("127.0.0.1", self.len_port),
                                        timeout=harness.WAIT)


class Ctl(harness.ControlClient):
    """A client of the control socket, line by line; silent for QUIET by
    default."""

    def silent(self, seconds=QUIET):
        return super().silent(seconds)


ASK_RE = re.compile(r'^ask id=(\d+) conn=(\d+) client=(\S+) listener=(\S+) '
                    r'bytes=(\d+) "(.*)"$')


class Console(Ctl):
    """An operator console: asks and gone lines in, answers out."""

    def ask(self, timeout=harness.WAIT):
        """The next line, an ask: a dict of its fields (text decoded)."""
        line = self.line(timeout)
        check(line is not None, "console closed")
        m = ASK_RE.match(line)
        check(m is not None, "not an ask line: %r" % line)
        return {"id": m.group(1), "conn": m.group(2), "client": m.group(3),
                "listener": m.group(4), "bytes": int(m.group(5)),
                "text": unvis(m.group(6)), "line": line}

    def gone(self, id, why, timeout=harness.WAIT):
        line = self.line(timeout)
        equal(line, "gone id=%s %s" % (id, why), "line on the console")

    def answer(self, id, text):
        """Sends `answer id text`; returns the final line. A gone line
        that comes before it is kept for gone()."""
        self.send("answer %s %s" % (id, text))
        early = []
        while True:
            line = self.line()
            check(line is not None, "console closed after %r" % early)
            if line.split(" ", 1)[0] in ("ok", "error"):
                self.backlog = early + self.backlog
                return line
            early.append(line)


def unvis(text):
    """Decodes the log's C-style escapes to bytes."""
    simple = {"n": 10, "t": 9, "r": 13, "a": 7, "b": 8, "f": 12, "v": 11,
              "s": 32, "E": 27, "\\": 92, '"': 34}
    out = bytearray()
    i = 0
    while i < len(text):
        c = text[i]
        if c != "\\":
            check(c != '"', "unescaped quote in %r" % text)
            out += c.encode("utf-8", "surrogateescape")
            i += 1
        elif text[i + 1] in simple:
            out.append(simple[text[i + 1]])
            i += 2
        elif text[i + 1] == "x":
            out.append(int(text[i + 2:i + 4], 16))
            i += 4
        else:
            j = i + 1
            while j < len(text) and j < i + 4 and text[j] in "01234567":
                j += 1
            check(j > i + 1, "unknown escape in %r" % text)
            out.append(int(text[i + 1:j], 8))
            i = j
    return bytes(out)


def peer(s):
    return "127.0.0.1:%d" % s.getsockname()[1]


def nothing_for(s, seconds=QUIET):
    """The client socket s gets nothing (nor EOF) for `seconds`."""
    r, _, _ = select.select([s], [], [], seconds)
    if r:
        raise AssertionError("expected nothing yet, got %r" % s.recv(4096))


def timed_reply(s, count=1, terminator=b"\n"):
    """(what came, seconds it took) for `count` replies."""
    t = time.monotonic()
    data = recv_until(s, count, terminator)
    return data, time.monotonic() - t


def say(s, msg, replies=1):
    s.sendall(msg + b"\n")
    return recv_until(s, replies)


# --- consoles on the control socket ---------------------------------------

def test_ask_and_answer_framed_as_the_listener_frames_replies():
    d = OpDaemon()
    c1, c2 = d.console(), d.console()
    a = d.connect()
    msg = b'ask "me"\tx\\ \303\251'
    a.sendall(msg + b"\n")
    q = c1.ask()
    equal(c2.ask()["line"], q["line"], "the same ask on both consoles")
    equal((q["client"], q["listener"], q["bytes"], q["text"]),
          (peer(a), "main", len(msg), msg), "ask fields")
    check(int(q["id"]) >= 1, "id %r" % q["id"])
    equal(q["conn"], d.conn_id(a), "conn is the connection's id")
    nothing_for(a)
    equal(c1.answer(q["id"], r"hi there\t\x41\\ two  spaces"),
          "ok answered %s" % q["id"], "answer")
    c1.gone(q["id"], "answered")
    c2.gone(q["id"], "answered")
    equal(recv_until(a, 1), b"hi there\tA\\ two  spaces\n", "the answer")
    # the connection goes on as before
    equal(say(a, b"PING"), b"PONG\n", "the next message")

    # length prefixes: the answer gets one, binary bytes and all
    ln = d.len_connect()
    ln.sendall(b"\x00\x06ask \x00\xff")
    q = c2.ask()
    equal(c1.ask()["line"], q["line"], "the same ask on both consoles")
    equal((q["client"], q["listener"], q["bytes"], q["text"]),
          (peer(ln), "len", 6, b"ask \x00\xff"), "ask fields")
    equal(c2.answer(q["id"], r"\x00bin\n"), "ok answered %s" % q["id"],
          "answer")
    c1.gone(q["id"], "answered")
    c2.gone(q["id"], "answered")
    equal(recv_until(ln, 1, terminator=b"bin\n"), b"\x00\x05\x00bin\n",
          "the answer, length-prefixed")
    ln.sendall(b"\x00\x04PING")
    equal(recv_until(ln, 1, terminator=b"PONG"), b"\x00\x04PONG",
          "the next message")
    c1.silent()
    c2.silent()


def test_messages_behind_the_asked_one_wait_others_do_not():
    d = OpDaemon()
    c = d.console()
    a, b = d.connect(), d.connect()
    a.sendall(b"ask one\nPING\nask two\n")
    q1 = c.ask()
    equal(q1["text"], b"ask one", "the first ask")
    c.silent()            # "ask two" is not asked while "ask one" waits
    nothing_for(a)        # nor is PING answered before it
    # another client, and the control socket, are served meanwhile
    t = time.monotonic()
    equal(say(b, b"PING"), b"PONG\n", "another client")
    equal(d.request("stats")[1], "ok", "the control socket")
    check(time.monotonic() - t < SLOW, "others held up %.2fs" %
          (time.monotonic() - t))
    equal(c.answer(q1["id"], "first"), "ok answered %s" % q1["id"],
          "answer")
    c.gone(q1["id"], "answered")
    equal(recv_until(a, 2), b"first\nPONG\n", "in order after the answer")
    q2 = c.ask()
    equal(q2["text"], b"ask two", "the second ask, after the first")
    check(int(q2["id"]) > int(q1["id"]), "ids grow: %s, %s" %
          (q1["id"], q2["id"]))
    equal(q2["conn"], q1["conn"], "the same connection")
    nothing_for(a)
    equal(c.answer(q2["id"], "second"), "ok answered %s" % q2["id"],
          "answer")
    c.gone(q2["id"], "answered")
    equal(recv_until(a, 1), b"second\n", "the second answer")


def test_no_answer_in_time_sends_the_fallback():
    d = OpDaemon(timeout_ms=300)
    c = d.console()
    a = d.connect()
    t = time.monotonic()
    a.sendall(b"ask late\nPING\n")
    q = c.ask()
    c.gone(q["id"], "timeout", timeout=harness.WAIT)
    got = recv_until(a, 2)
    took = time.monotonic() - t
    equal(got, b"fallback ask late\nPONG\n", "the rule's reply, then the "
          "next message's")
    check(0.25 <= took < 0.3 + SLOW, "fallback after %.2fs, want 0.3s" %
          took)
    equal(c.answer(q["id"], "too late"), "error notfound no message %s "
          "waits for an answer" % q["id"], "a late answer")
    nothing_for(a)


def test_no_console_means_the_fallback_at_once():
    d = OpDaemon(timeout_ms=LONG)
    a = d.connect()
    a.sendall(b"ask anyone\n")
    got, took = timed_reply(a)
    equal(got, b"fallback ask anyone\n", "the rule's reply")
    check(took < SLOW, "the fallback took %.2fs" % took)
    ln = d.len_connect()
    ln.sendall(b"\x00\x05ask x")
    got, took = timed_reply(ln, terminator=b"ask x")
    equal(got, b"\x00\x0efallback ask x", "the rule's reply, prefixed")
    check(took < SLOW, "the fallback took %.2fs" % took)


def test_last_console_leaving_sends_the_fallback_at_once():
    d = OpDaemon(timeout_ms=LONG)
    c1, c2 = d.console(), d.console()
    a = d.connect()
    a.sendall(b"ask who\n")
    q = c1.ask()
    c2.ask()
    c1.close()
    nothing_for(a)        # one console is still there
    c2.silent()           # and is told nothing of the other leaving
    c2.close()
    got, took = timed_reply(a)
    equal(got, b"fallback ask who\n", "the rule's reply")
    check(took < SLOW, "fallback %.2fs after the last console left "
          "(operator_timeout_ms is %d): the ask still waited" % (took, LONG))
    # a console attaching now has nothing to be shown
    c3 = d.console()
    c3.silent()
    equal(c3.answer(q["id"], "x"), "error notfound no message %s waits for "
          "an answer" % q["id"], "answer to the old ask")


def test_consoles_gone_then_no_console_is_attached():
    d = OpDaemon(timeout_ms=LONG)
    c = d.console()
    c.close()
    # the console is gone when the daemon has counted it out
    deadline = time.monotonic() + harness.WAIT
    while True:
        lines = d.request("stats")[0]
        if "stat control_clients 1" in lines:   # the stats client itself
            break
        check(time.monotonic() < deadline, "console never counted out: %r" %
              lines)
        time.sleep(0.02)
    a = d.connect()
    a.sendall(b"ask nobody\n")
    got, took = timed_reply(a)
    equal(got, b"fallback ask nobody\n", "the rule's reply")
    check(took < SLOW, "with no console attached (one came and went) the "
          "fallback took %.2fs (operator_timeout_ms is %d)" % (took, LONG))


def test_follow_still_served_after_a_console_left():
    d = OpDaemon()
    c = d.console()
    c.close()
    with d.ctl() as f:
        f.send("follow")
        equal(f.line(), "ok following", "answer to follow")
        a = d.connect()
        equal(say(a, b"PING"), b"PONG\n", "a message")
        line = f.try_line(3 * SLOW)
        check(line not in (False, None), "the follower got no message "
              "line within %ss after an operator console had come and "
              "gone (%r)" % (3 * SLOW, line))
        check(line.startswith("message ") and line.endswith(' "PING"'),
              "follow line %r" % line)


def test_two_consoles_the_first_answer_wins():
    d = OpDaemon()
    c1, c2 = d.console(), d.console()
    a = d.connect()
    a.sendall(b"ask race\n")
    q = c1.ask()
    equal(c2.ask()["id"], q["id"], "both asked")
    equal(c1.answer(q["id"], "from one"), "ok answered %s" % q["id"],
          "the first answer")
    c1.gone(q["id"], "answered")
    c2.gone(q["id"], "answered")
    equal(c2.answer(q["id"], "from two"), "error notfound no message %s "
          "waits for an answer" % q["id"], "the second answer")
    equal(recv_until(a, 1), b"from one\n", "the first answer sent")
    nothing_for(a)

    # both at once: exactly one wins, whichever the daemon reads first
    a.sendall(b"ask race again\n")
    q = c1.ask()
    equal(c2.ask()["id"], q["id"], "both asked")
    c1.send("answer %s one" % q["id"])
    c2.send("answer %s two" % q["id"])
    finals = {}
    for name, c in (("one", c1), ("two", c2)):
        lines = [c.line(), c.line()]
        check("gone id=%s answered" % q["id"] in lines, "%s: %r" %
              (name, lines))
        finals[name] = [x for x in lines if not x.startswith("gone ")][0]
    won = [n for n, f in finals.items() if f == "ok answered %s" % q["id"]]
    equal(len(won), 1, "winners: %r" % finals)
    lost = "two" if won[0] == "one" else "one"
    check(finals[lost].startswith("error notfound "), "the loser: %r" %
          finals[lost])
    equal(recv_until(a, 1), won[0].encode() + b"\n", "the winner's answer")
    nothing_for(a)
    c1.silent()
    c2.silent()


def test_asks_queue_in_arrival_order_and_a_new_console_gets_them():
    d = OpDaemon()
    c1 = d.console()
    clients = [d.connect() for _ in range(3)]
    asks = []
    for i, s in enumerate(clients):
        s.sendall(b"ask %d\n" % i)
        q = c1.ask()
        equal((q["text"], q["client"]), (b"ask %d" % i, peer(s)),
              "ask %d" % i)
        asks.append(q)
    ids = [int(q["id"]) for q in asks]
    equal(ids, sorted(set(ids)), "ids in arrival order")
    c2 = d.console()
    for q in asks:
        equal(c2.ask(timeout=SLOW)["line"], q["line"],
              "a pending ask shown to the new console, in order")
    c2.silent()
    # answered in any order, each goes to its own client
    for i in (2, 0, 1):
        q = asks[i]
        equal(c2.answer(q["id"], "to %d" % i), "ok answered %s" % q["id"],
              "answer %d" % i)
        c1.gone(q["id"], "answered")
        c2.gone(q["id"], "answered")
        equal(recv_until(clients[i], 1), b"to %d\n" % i, "client %d" % i)


def test_client_closing_while_asked():
    """A client that is gone (reset) is noticed while its message waits;
    one that only shut its side (FIN) may still read: it waits on."""
    d = OpDaemon(timeout_ms=LONG)
    c1, c2 = d.console(), d.console()
    h = d.connect()
    h.sendall(b"ask half\n")
    qh = c1.ask()
    c2.ask()
    h.shutdown(socket.SHUT_WR)
    equal(c1.answer(qh["id"], "still here"), "ok answered %s" % qh["id"],
          "answer to a half-closed client")
    equal(recv_until(h), b"still here\n", "the half-closed client reads it")
    c1.gone(qh["id"], "answered")
    c2.gone(qh["id"], "answered")
    h.close()
    a = d.connect()
    a.sendall(b"ask bye\n")
    q = c1.ask()
    c2.ask()
    t = time.monotonic()
    a.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                 struct.pack("ii", 1, 0))
    a.close()
    line = c1.line()
    took = time.monotonic() - t
    equal(line, "gone id=%s closed" % q["id"], "line on the first console "
          "%.2fs after the client closed (operator_timeout_ms is %d)" %
          (took, LONG))
    check(took < SLOW, "the close was told %.2fs after it" % took)
    c2.gone(q["id"], "closed")
    equal(c1.answer(q["id"], "hello?"), "error notfound no message %s "
          "waits for an answer" % q["id"], "answer to a closed client")
    b = d.connect()
    equal(say(b, b"PING"), b"PONG\n", "still serving")


def test_stopping_sends_the_fallback():
    d = OpDaemon()
    c = d.console()
    a = d.connect()
    a.sendall(b"ask stop\n")
    q = c.ask()
    d.signal(signal.SIGTERM)
    c.gone(q["id"], "fallback")
    equal(recv_until(a), b"fallback ask stop\n", "the fallback, then EOF")
    equal(d.stop(), 0, "exit status")


def test_stopping_answers_every_waiting_message_with_its_fallback():
    """Messages behind the asked one are not asked again at shutdown:
    each gets its fallback, in order, before the connection closes."""
    d = OpDaemon(timeout_ms=LONG * 3, top="shutdown_timeout_ms = 20000;\n")
    c = d.console()
    a = d.connect()
    a.sendall(b"ask one\nask two\nask three\n")
    q = c.ask()
    t = time.monotonic()
    d.signal(signal.SIGTERM)
    equal(recv_until(a, 3), b"fallback ask one\nfallback ask two\n"
          b"fallback ask three\n", "every fallback, in order")
    check(time.monotonic() - t < SLOW, "at once, not after a timeout")
    c.gone(q["id"], "fallback")
    equal(d.stop(), 0, "exit status")


def test_a_console_that_reads_nothing_is_closed():
    """Asks do not pile up without bound for a console that never reads:
    past its queue it is closed, and the asks get their fallback."""
    d = OpDaemon(timeout_ms=LONG * 5)
    c = Console(d.ctl_path)
    c.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    c.send("operator")
    clients = []
    big = b"ask " + b"x" * 8000 + b"\n"
    for _ in range(400):
        a = d.connect()
        a.sendall(big)
        clients.append(a)
        if "reads nothing" in d.log():
            break
    d.wait_log("an operator console reads nothing; closed")
    # no console left: every waiting client gets its fallback now
    first = recv_until(clients[0], 1)
    check(first.startswith(b"fallback ask xxx"), "fallback: %r" % first[:40])
    with d.connect() as p:
        equal(say(p, b"PING"), b"PONG\n", "still serving")
    for a in clients:
        a.close()
    c.close()


def test_a_terminal_not_read_never_holds_the_server():
    """-i: a terminal that shows nothing (held with ^S, say) makes the
    console's output wait, never the server."""
    d = PtyDaemon(RULES, timeout_ms=LONG * 5)
    clients = []
    for _ in range(40):
        a = socket.create_connection(("127.0.0.1", d.port),
                                     timeout=harness.WAIT)
        a.sendall(b"ask " + b"y" * 3000 + b"\n")
        clients.append(a)
    # the pty is not read: its buffer is far smaller than 40 asks
    with socket.create_connection(("127.0.0.1", d.port),
                                  timeout=harness.WAIT) as p:
        t = time.monotonic()
        equal(say(p, b"PING"), b"PONG\n", "another client")
        check(time.monotonic() - t < SLOW, "answered in %.2fs" %
              (time.monotonic() - t))
    for a in clients:
        a.close()


def test_top_level_operator_asks_for_the_default_reply():
    d = OpDaemon(timeout_ms=300, top='operator = true;\n'
                 'default_reply = "default %{message}";\n',
                 rules='rules = ( { name = "ping"; exact = "PING"; '
                 'reply = "PONG"; } );\n')
    c = d.console()
    a = d.connect()
    a.sendall(b"anything\n")
    q = c.ask()
    equal((q["text"], q["listener"]), (b"anything", "main"), "asked")
    equal(c.answer(q["id"], "by hand"), "ok answered %s" % q["id"], "answer")
    c.gone(q["id"], "answered")
    equal(recv_until(a, 1), b"by hand\n", "the answer")
    # a rule's reply is not asked about
    equal(say(a, b"PING"), b"PONG\n", "a rule without operator")
    c.silent()
    # default_reply is the fallback
    a.sendall(b"again\n")
    q = c.ask()
    c.gone(q["id"], "timeout")
    equal(recv_until(a, 1), b"default again\n", "the default reply")
    # the length listener takes the top level's operator too
    ln = d.len_connect()
    ln.sendall(b"\x00\x03len")
    q = c.ask()
    equal(q["listener"], "len", "asked from the other listener")
    equal(c.answer(q["id"], "L"), "ok answered %s" % q["id"], "answer")
    equal(recv_until(ln, 1, terminator=b"L"), b"\x00\x01L", "the answer")


def test_listener_operator_and_datagrams():
    udp_port = harness.free_port()
    d = OpDaemon(len_extra=' operator = true; default_reply = "dflt"; },\n'
                 '  { name = "dg"; protocol = "udp"; address = "127.0.0.1"; '
                 'port = %d;' % udp_port)
    c = d.console()
    a = d.connect()
    equal(say(a, b"plain"), b"plain\n", "main: not asked, echoed at once")
    c.silent()
    ln = d.len_connect()
    ln.sendall(b"\x00\x05plain")
    q = c.ask()
    equal((q["listener"], q["text"]), ("len", b"plain"), "len asks")
    equal(c.answer(q["id"], "ok"), "ok answered %s" % q["id"], "answer")
    equal(recv_until(ln, 1, terminator=b"ok"), b"\x00\x02ok", "the answer")
    # a datagram of an operator rule gets the fallback at once
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(harness.WAIT)
    t = time.monotonic()
    u.sendto(b"ask dg", ("127.0.0.1", udp_port))
    equal(u.recv(100), b"fallback ask dg", "datagram reply")
    check(time.monotonic() - t < SLOW, "datagram answered late")
    u.close()
    c.gone(q["id"], "answered")
    c.silent()


def test_unknown_ids_and_junk():
    d = OpDaemon()
    c = d.console()
    equal(c.answer("999", "nobody"), "error notfound no message 999 waits "
          "for an answer", "unknown id")
    for junk in ("hello", "stats", "operator", "answer", "answer 7",
                 "answer x text", "answer 0 text", "answer -1 text",
                 "ANSWER 1 text", ""):
        c.send(junk)
        line = c.line()
        check(line is not None and line.startswith("error usage"),
              "%r answered %r" % (junk, line))
    # still a console
    a = d.connect()
    a.sendall(b"ask still\n")
    q = c.ask()
    equal(c.answer(q["id"], "yes"), "ok answered %s" % q["id"], "answer")
    equal(recv_until(a, 1), b"yes\n", "the answer")


def test_config_checks_operator_keys():
    cases = [
        ('listen = { port = 13008; };\noperator_timeout_ms = 0;\n', 2,
         "operator_timeout_ms"),
        ('listen = { port = 13008; };\noperator_timeout_ms = 3600001;\n', 2,
         "operator_timeout_ms"),
        ('listen = { port = 13008; };\noperator = "yes";\n', 2, "operator"),
        ('listen = { port = 13008; };\nrules = ( { exact = "a"; '
         'reply = "b";\n  operator = 1; } );\n', 3, "operator"),
        ('listen = { protocol = "udp"; port = 13008;\n'
         '  operator = true; };\n', 2, "operator"),
    ]
    with harness.TempDir() as t:
        for i, (text, line, key) in enumerate(cases):
            path = t.file("c%d.conf" % i, text)
            r = subprocess.run([harness.ECHOREPLYD, "-n", "-f", path],
                               capture_output=True, timeout=harness.WAIT)
            equal(r.returncode, 78, "exit status for %r" % text)
            err = r.stderr.decode()
            check(err.startswith("%s:%d: " % (path, line)) and key in err,
                  "error for %r: %r" % (text, err))
        path = t.file("ok.conf", 'listen = { port = 13008; };\n'
                      'operator_timeout_ms = 3600000;\n' + RULES)
        r = subprocess.run([harness.ECHOREPLYD, "-n", "-f", path],
                           capture_output=True, timeout=harness.WAIT)
        equal((r.returncode, r.stdout), (0, b"configuration OK\n"), "valid")


def test_reply_dry_run_names_the_operator():
    with harness.TempDir() as t:
        path = t.file("op.conf", 'listen = (\n'
                      '  { name = "main"; port = 13008; },\n'
                      '  { name = "len"; port = 13009; operator = true; }\n'
                      ');\n' + RULES)
        r = subprocess.run([harness.ECHOREPLYD, "-f", path, "--reply",
                            "ask me", "--reply", "PING"],
                           capture_output=True, timeout=harness.WAIT)
        equal(r.returncode, 0, "exit status; stderr %r" % r.stderr)
        blocks = r.stdout.decode().split("rule: ")[1:]
        equal(len(blocks), 2, "two messages: %r" % r.stdout)
        asked = blocks[0].splitlines()
        equal(asked[0], "ask (%s:6)" % path, "rule line")
        equal(asked[1], 'reply: "fallback ask me\\n"', "the fallback")
        ops = [x for x in asked if x.startswith("operator:")]
        equal(len(ops), 1, "operator: lines in %r" % asked)
        check(len(ops[0]) > len("operator: "), "operator line %r" % ops[0])
        check(not any(x.startswith("operator:")
                      for x in blocks[1].splitlines()),
              "operator line for PING: %r" % blocks[1])
        # the listener's operator: the default reply asks
        r = subprocess.run([harness.ECHOREPLYD, "-f", path, "--listener",
                            "len", "--reply", "other"],
                           capture_output=True, timeout=harness.WAIT)
        out = r.stdout.decode().splitlines()
        equal(out[0], "rule: default", "rule line %r" % out)
        check(any(x.startswith("operator:") for x in out),
              "no operator line for the listener's operator: %r" % out)
        # and -n -v shows the keys
        r = subprocess.run([harness.ECHOREPLYD, "-n", "-v", "-f", path],
                           capture_output=True, timeout=harness.WAIT)
        dump = r.stdout.decode()
        check(re.search(r'name = "ask";[^\n]*operator = true;', dump),
              "the rule's operator in the dump:\n" + dump)
        check("operator_timeout_ms = 60000;" in dump, "default timeout:\n" +
              dump)


# --- echoreplyd -i on a terminal ------------------------------------------

class PtyDaemon:
    """echoreplyd -d -i with standard input and output on a pty, its log
    (standard error) in a file, readiness by READY=1 and the log's
    interactive line."""

    def __init__(self, body, timeout_ms, control=False):
        """control: a control socket too, at self.ctl_path."""
        self.dir = tempfile.mkdtemp(prefix="echoreplyd-test-")
        os.chmod(self.dir, 0o755)
        self.port = harness.free_port()
        self.conf = os.path.join(self.dir, "echoreplyd.conf")
        self.ctl_path = os.path.join(self.dir, "control") if control else ""
        with open(self.conf, "w") as f:
            f.write('listen = { name = "main"; address = "127.0.0.1"; '
                    'port = %d; };\ncontrol_socket = "%s";\n'
                    'operator_timeout_ms = %d;\n' %
                    (self.port, self.ctl_path, timeout_ms) + body)
        self.notify_path = os.path.join(self.dir, "notify")
        self.notifier = harness.NotifySocket(self.notify_path)
        self.log_path = os.path.join(self.dir, "stderr.log")
        self.log_file = open(self.log_path, "wb")
        self.valgrind_log = os.path.join(self.dir, "valgrind.log")
        vg = ["valgrind", "-q", "--vgdb=no", "--error-exitcode=99",
              "--leak-check=full", "--errors-for-leak-kinds=definite",
              "--log-file=" + self.valgrind_log] if harness.VALGRIND else []
        self.master, slave = pty.openpty()
        env = dict(os.environ, NOTIFY_SOCKET=self.notify_path)
        env.pop("JOURNAL_STREAM", None)
        try:
            self.proc = subprocess.Popen(
                vg + [harness.ECHOREPLYD, "-d", "-i", "-f", self.conf],
                stdin=slave, stdout=slave, stderr=self.log_file, env=env)
        finally:
            os.close(slave)
        self.out = b""
        harness._daemons.append(self)
        self.wait_ready()

    def wait_ready(self):
        deadline = time.monotonic() + harness.WAIT
        self.notifier.wait("READY=1", harness.WAIT, self.proc, self.log)
        while "interactive" not in self.log():
            check(time.monotonic() < deadline, "no interactive line; log:\n"
                  + self.log())
            time.sleep(0.02)

    def log(self):
        self.log_file.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def type(self, data):
        os.write(self.master, data)

    def read(self, seconds):
        """What the terminal shows within `seconds`, CR LF as LF."""
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
            except OSError:       # EIO: nobody has the other side open
                break
            if not chunk:
                break
            self.out += chunk
        return self.out.replace(b"\r\n", b"\n")

    def wait_shown(self, text):
        """Waits until the terminal has shown `text` (bytes)."""
        deadline = time.monotonic() + harness.WAIT
        while text not in self.read(0.05):
            check(time.monotonic() < deadline, "the terminal never showed "
                  "%r; it showed %r" % (text, self.out))
        self.out = self.out.replace(b"\r\n", b"\n")
        self.out = self.out[self.out.index(text) + len(text):]

    def cleanup(self):
        if self.dir is None:
            return ""
        complaints = ""
        if harness.VALGRIND and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(harness.WAIT)
            except subprocess.TimeoutExpired:
                complaints = "did not exit on SIGTERM\n"
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if harness.VALGRIND and os.path.exists(self.valgrind_log):
            with open(self.valgrind_log) as f:
                complaints += f.read()
        os.close(self.master)
        self.notifier.close()
        self.log_file.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None
        return complaints


def test_interactive_console_on_a_terminal():
    d = PtyDaemon('operator = true;\ndefault_reply = "fallback %{message}";\n'
                  'rules = ( { name = "ping"; exact = "PING"; '
                  'reply = "PONG"; } );\n', LONG)
    check("interactive" in d.log(), "log:\n" + d.log())
    equal(d.read(0.1).count(b"random seed"), 0, "the log on the terminal")
    a = socket.create_connection(("127.0.0.1", d.port), timeout=harness.WAIT)
    a.sendall(b"hello there\n")
    d.wait_shown(b'[1] %s on main: "hello there"\n' % peer(a).encode())
    nothing_for(a)
    d.type(b"General Kenobi\n")
    equal(recv_until(a, 1), b"General Kenobi\n", "the typed line")
    # every byte typed is the answer, a NUL too
    a.sendall(b"and a NUL?\n")
    d.wait_shown(b'[2] %s on main: "and a NUL?"\n' % peer(a).encode())
    d.type(b"here\0it is\n")
    equal(recv_until(a, 1), b"here\0it is\n", "a typed line with a NUL")
    # a rule answers without asking
    equal(say(a, b"PING"), b"PONG\n", "a rule's reply")
    # a line typed with nothing waiting
    d.type(b"anyone?\n")
    d.wait_shown(b"(no message waits for an answer)\n")
    # end of input: the rules answer alone, at once
    d.type(b"\x04")
    deadline = time.monotonic() + harness.WAIT
    while "end of input" not in d.log():
        check(time.monotonic() < deadline, "no end of input; log:\n" +
              d.log())
        time.sleep(0.02)
    a.sendall(b"after the end\n")
    got, took = timed_reply(a)
    equal(got, b"fallback after the end\n", "the fallback")
    equal(say(a, b"PING"), b"PONG\n", "still serving")
    check(d.proc.poll() is None, "exited at the end of input")
    a.close()
    d.proc.send_signal(signal.SIGTERM)
    try:
        rc = d.proc.wait(harness.WAIT)
    except subprocess.TimeoutExpired:
        raise AssertionError("did not exit on SIGTERM; log:\n" + d.log())
    equal(rc, 0, "exit status after SIGTERM")
    check(took < SLOW, "after the end of input the fallback took %.2fs "
          "(operator_timeout_ms is %d): the console was still counted" %
          (took, LONG))


def test_the_terminal_console_takes_no_control_socket_place():
    """-i's console is no client of the socket: 64 of them still get in
    beside it, and the 65th is told the daemon is busy."""
    d = PtyDaemon('operator = true;\n', LONG, control=True)
    clients = []
    try:
        for i in range(64):
            clients.append(Ctl(d.ctl_path))
        for c in clients:
            c.send("help")
        for i, c in enumerate(clients):
            equal(c.answer()[1], "ok",
                  "client %d of 64, beside the console" % (i + 1))
        with Ctl(d.ctl_path) as extra:
            equal(extra.line(), "error busy too many control clients",
                  "the 65th")
    finally:
        for c in clients:
            c.close()


def test_random_consoles_answers_and_timeouts():
    """Three clients send asks, PINGs and other lines at random; consoles
    come and go and answer at random: asks they were shown, with words and
    escapes, ids that wait for nothing, bad escapes, twice. Every message
    gets one reply, in the order sent on its connection: an ask's is the
    answer a console was told was taken ("ok answered"), or else its
    fallback; and each answer a console gets is ok or an error of its
    kind."""
    seed = int(os.environ.get("ECHOREPLYD_TEST_SEED", "15"))
    rng = random.Random(seed)
    d = OpDaemon(timeout_ms=300)
    clients = [socket.create_connection(("127.0.0.1", d.port),
                                        timeout=harness.WAIT)
               for _ in range(3)]
    sent = [[] for _ in clients]    # per client, the messages in order
    consoles = []
    ids = {}        # ask text -> id, as consoles showed it
    taken = {}      # ask text -> the bytes of the answer taken
    texts = ["yes", "no way", "a\\sb", "nul\\000in", "\\x41"]

    def read_consoles():
        for c in consoles:
            while True:
                line = c.try_line(0.005)
                if not line:
                    break
                m = ASK_RE.match(line)
                if m:
                    ids[unvis(m.group(6)).decode()] = m.group(1)
                else:
                    check(line.startswith("gone id="), "a console got %r"
                          % line)

    for step in range(150):
        what = "step %d (seed %d)" % (step, seed)
        act = rng.random()
        if act < 0.35:
            i = rng.randrange(len(clients))
            m = rng.choice(["ask-%d" % step, "ask-%d" % step, "PING",
                            "plain-%d" % step])
            clients[i].sendall(m.encode() + b"\n")
            sent[i].append(m)
        elif act < 0.45 and len(consoles) < 2:
            consoles.append(d.console())
        elif act < 0.5 and consoles:
            consoles.pop(rng.randrange(len(consoles))).close()
        elif consoles:
            read_consoles()
            c = rng.choice(consoles)
            if ids and rng.random() < 0.8:
                text, ident = rng.choice(sorted(ids.items()))
            else:
                text, ident = None, rng.choice(["999999", "0", "x", "-1"])
            answer = rng.choice(texts + ["bad\\xzz", "bad\\"])
            final = c.answer(ident, answer)
            if final == "ok answered %s" % ident:
                check(text is not None and text not in taken and
                      not answer.startswith("bad"), "%s: %r taken for %r" %
                      (what, answer, text))
                taken[text] = unvis(answer)
            else:
                check(final.startswith(("error notfound ", "error usage ")),
                      "%s: answer %s %s: %r" % (what, ident, answer, final))
    # what is still waiting gets its fallback within 300 ms; then all the
    # replies are in
    for c in consoles:
        c.close()
    for i, s in enumerate(clients):
        got = recv_until(s, len(sent[i])) if sent[i] else b""
        replies = got.split(b"\n")[:-1]
        equal(len(replies), len(sent[i]), "replies to client %d" % i)
        for m, r in zip(sent[i], replies):
            if m == "PING":
                w = b"PONG"
            elif m.startswith("ask-"):
                w = taken.get(m, b"fallback " + m.encode())
            else:
                w = m.encode()
            equal(r, w, "client %d, the reply to %r (seed %d)" %
                  (i, m, seed))
        s.close()
    check(len(taken) > 0, "no answer was taken: the test tested little")
    equal(d.stop(), 0, "exit status")


if __name__ == "__main__":
    harness.run(globals())

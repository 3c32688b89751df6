# SPDX-License-Identifier: ISC
"""Black-box tests: response rules through the real daemon, its dry run
(--reply) and its check mode (-n)."""

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import Daemon, check, equal, recv_until  # noqa: E402
from harness import TempDir  # noqa: E402

EX_USAGE = 64
EX_CONFIG = 78


def nothing_pending(s):
    """True when no byte (and no EOF) is waiting on s right now."""
    s.setblocking(False)
    try:
        data = s.recv(1, socket.MSG_PEEK)
    except BlockingIOError:
        return True
    finally:
        s.settimeout(harness.WAIT)
    raise AssertionError("unexpected %r waiting on the socket" % data)


def listen_line(d):
    return 'listen = { address = "127.0.0.1"; port = %d; };\n' % d.port


# -- actions ---------------------------------------------------------------

def test_close_after_reply_then_eof():
    d = Daemon('rules = ( { exact = "bye"; reply = "see you"; close = true; '
               '} );\n')
    with d.connect() as s:
        s.sendall(b"first\n")
        equal(recv_until(s, 1), b"first\n", "reply before the close rule")
        # what follows "bye" in the same burst is never answered
        s.sendall(b"bye\r\nafter\n")
        equal(recv_until(s, None), b"see you\r\n",
              "reply to bye, then EOF")


def test_no_reply_is_silent():
    d = Daemon('rules = ( { prefix = "shh"; no_reply = true; } );\n')
    with d.connect() as s:
        s.sendall(b"shh one\n")
        s.sendall(b"shh two\nloud\n")
        equal(recv_until(s, 1), b"loud\n",
              "the next message's reply comes first")
        s.shutdown(socket.SHUT_WR)
        equal(recv_until(s, None), b"", "nothing else, then EOF")


def test_no_reply_with_close():
    d = Daemon('rules = ( { exact = "drop"; no_reply = true; close = true; '
               '} );\n')
    with d.connect() as s:
        s.sendall(b"drop\nnever\n")
        equal(recv_until(s, None), b"", "closed without a byte")


def test_delay_holds_this_connection_only():
    delay_ms = 400
    d = Daemon('rules = ( { name = "slow"; exact = "slow"; reply = '
               '"slow done"; delay_ms = %d; } );\n' % delay_ms)
    a = d.connect()
    b = d.connect()
    try:
        t0 = time.monotonic()
        # pipelined: the two after "slow" must wait for it, in order
        a.sendall(b"slow\nafter 1\nafter 2\r\n")
        # once the log shows it, the daemon has taken A's delayed message
        d.wait_log('127.0.0.1:%d message 1: "slow"' % a.getsockname()[1])
        b.sendall(b"quick\n")
        equal(recv_until(b, 1), b"quick\n", "the other client's reply")
        t_b = time.monotonic() - t0
        check(t_b < delay_ms / 1000.0,
              "the other client waited %.3fs" % t_b)
        # B's reply arrived while A still had nothing: it came first
        check(nothing_pending(a), "delayed reply came early")
        got = recv_until(a, 3)
        elapsed = time.monotonic() - t0
        equal(got, b"slow done\nafter 1\nafter 2\r\n",
              "delayed reply, then the pipelined ones in order")
        check(elapsed >= delay_ms / 1000.0 - 0.005,
              "delayed reply after %.3fs, delay_ms is %d" %
              (elapsed, delay_ms))
        # the connection goes on as usual afterwards
        a.sendall(b"later\n")
        equal(recv_until(a, 1), b"later\n", "reply after the delay")
    finally:
        a.close()
        b.close()


def test_delay_then_close():
    d = Daemon('rules = ( { exact = "late bye"; reply = "gone"; '
               'delay_ms = 50; close = true; } );\n')
    with d.connect() as s:
        t0 = time.monotonic()
        s.sendall(b"late bye\nnot answered\n")
        equal(recv_until(s, None), b"gone\n", "delayed reply then EOF")
        check(time.monotonic() - t0 >= 0.045, "delay before the close")


def test_cycling_replies_per_connection():
    d = Daemon('rules = ( { exact = "next"; replies = [ "one", "two", '
               '"three" ]; },\n'
               '  { exact = "other"; replies = [ "x", "y" ]; } );\n')
    a = d.connect()
    b = d.connect()
    try:
        a.sendall(b"next\nnext\n")
        equal(recv_until(a, 2), b"one\ntwo\n", "first connection")
        b.sendall(b"next\n")
        equal(recv_until(b, 1), b"one\n",
              "second connection starts at the first reply")
        a.sendall(b"next\nother\nnext\n")
        equal(recv_until(a, 3), b"three\nx\none\n",
              "first connection goes on and wraps; other rule apart")
        b.sendall(b"next\nnext\nnext\n")
        equal(recv_until(b, 3), b"two\nthree\none\n", "second connection")
    finally:
        a.close()
        b.close()
    with d.connect() as c:
        c.sendall(b"next\n")
        equal(recv_until(c, 1), b"one\n", "a new connection starts over")


# -- replies ---------------------------------------------------------------

def test_greeting_then_rules():
    d = Daemon('greeting = "220 %{listener} ready";\n'
               'rules = ( { prefix = "HELO "; ignore_case = true; '
               'reply = "250 hello"; },\n'
               '  { exact = "QUIT"; reply = "221 bye"; close = true; } );\n')
    with d.connect() as s:
        equal(recv_until(s, 1), b"220 127.0.0.1:%d ready\n" % d.port,
              "greeting first")
        s.sendall(b"helo box\r\nNOOP\nQUIT\n")
        equal(recv_until(s, None), b"250 hello\r\nNOOP\n221 bye\n",
              "rule replies after the greeting")


def test_regex_captures_in_reply():
    d = Daemon('rules = ( { regex = "^GET /([a-z]+)/([0-9]+)( v)?$"; '
               'reply = "%{2} of %{1} [%{3}] (%{0})"; } );\n')
    with d.connect() as s:
        s.sendall(b"GET /users/42\nGET /users/7 v\r\nGET /Users/1\n")
        equal(recv_until(s, 3),
              b"42 of users [] (GET /users/42)\n"
              b"7 of users [ v] (GET /users/7 v)\r\n"
              b"GET /Users/1\n", "captures")


def test_regex_on_message_split_across_reads():
    # the pieces sit in the connection's own buffer, which is exactly
    # max_message_bytes + 2 long and holds no NUL after them: regexec()
    # must take the message's length (REG_STARTEND), not look for a NUL
    d = Daemon('max_message_bytes = 8;\n'
               'rules = ( { regex = "^ab+c$"; reply = "hit"; },\n'
               '  { exact = "ping"; reply = "pong"; } );\n')
    a = d.connect()
    b = d.connect()
    try:
        for piece in (b"a", b"bbb", b"bb", b"c"):
            a.sendall(piece)
            # a round trip on another connection: the daemon's loop went
            # round, most likely reading the piece on its own
            b.sendall(b"ping\n")
            equal(recv_until(b, 1), b"pong\n", "round trip")
        a.sendall(b"\r\nabbbbbbc\n")
        equal(recv_until(a, 2), b"hit\r\nhit\n", "regex rule on pieces")
    finally:
        a.close()
        b.close()


def test_match_kinds_in_order():
    d = Daemon('rules = (\n'
               '  { name = "p"; prefix = "abc"; reply = "prefix"; },\n'
               '  { name = "e"; exact = "abcd"; reply = "exact"; },\n'
               '  { name = "x"; exact = "zzz"; reply = "exact z"; },\n'
               '  { name = "s"; suffix = ".TXT"; ignore_case = true; '
               'reply = "suffix"; },\n'
               '  { name = "c"; contains = "mid"; reply = "contains"; },\n'
               '  { name = "g"; glob = "[0-9]*[!0-9]"; reply = "glob"; },\n'
               '  { name = "r"; regex = "^z+$"; reply = "regex"; }\n'
               ');\n')
    with d.connect() as s:
        s.sendall(b"abcd\nzzz\nnotes.txt\namidst\n12a\nzz\nother\n"
                  b"a\x00mid\n")
        equal(recv_until(s, 8),
              b"prefix\nexact z\nsuffix\ncontains\nglob\nregex\nother\n"
              b"contains\n", "first match wins, in file order")


# -- who may match ---------------------------------------------------------

def test_networks_rule():
    d = Daemon('rules = (\n'
               '  { name = "lan"; exact = "who"; networks = "10.0.0.0/8"; '
               'reply = "lan"; },\n'
               '  { name = "v6"; exact = "who"; networks = [ "::1" ]; '
               'reply = "six"; },\n'
               '  { name = "local"; exact = "who"; networks = '
               '[ "192.0.2.0/24", "127.0.0.1/8" ]; '
               'reply = "local %{client_address}"; },\n'
               '  { name = "nobody"; prefix = "w"; networks = "203.0.113.9"; '
               'reply = "never"; }\n'
               ');\n')
    with d.connect() as s:
        s.sendall(b"who\nwhat\n")
        equal(recv_until(s, 2), b"local 127.0.0.1\nwhat\n",
              "network match; a non-matching network rule falls through")


def test_listener_restriction():
    pa, pb = harness.free_port(), harness.free_port()
    while pb == pa:
        pb = harness.free_port()
    d = Daemon('listen = (\n'
               '  { name = "a"; address = "127.0.0.1"; port = %d; },\n'
               '  { name = "b"; address = "127.0.0.1"; port = %d; }\n'
               ');\n'
               'rules = (\n'
               '  { exact = "where"; listener = "a"; reply = "on a"; },\n'
               '  { exact = "where"; listener = [ "b" ]; reply = "on b"; },\n'
               '  { prefix = "x"; listener = [ "b", "c" ]; '
               'reply = "x on %%{listener}"; },\n'
               '  { exact = "both"; listener = [ "a", "b" ]; '
               'reply = "both %%{listener}"; }\n'
               ');\n' % (pa, pb), port=pa, listen=False)
    for port, want in ((pa, b"on a\nxy\nboth a\n"),
                       (pb, b"on b\nx on b\nboth b\n")):
        with socket.create_connection(("127.0.0.1", port),
                                      timeout=harness.WAIT) as s:
            s.sendall(b"where\nxy\nboth\n")
            equal(recv_until(s, 3), want, "replies on port %d" % port)



def test_fixed_and_other_rules_in_one_read():
    # exact rules with a fixed text are answered without the rest of the
    # answer path; the rules beside them, and misses, must not notice
    d = Daemon('default_reply = "miss";\n'
               'rules = (\n'
               '  { name = "ping"; exact = "PING"; reply = "+PONG"; },\n'
               '  { exact = "hi"; ignore_case = true; reply = "hello"; },\n'
               '  { exact = "who"; reply = "you are %{client_address}"; },\n'
               '  { exact = "lan"; networks = "10.0.0.0/8"; reply = "x"; },\n'
               '  { name = "lan-else"; exact = "lan"; reply = "not lan"; },\n'
               '  { exact = "n"; replies = [ "one", "two" ]; },\n'
               '  { name = "in"; exact = "in"; reply = "entered"; '
               'next_state = "inside"; },\n'
               '  { exact = "where"; state = "inside"; reply = "inside"; }\n'
               ');\n')
    with d.connect() as s:
        s.sendall(b"PING\r\nHi\nwho\nlan\nn\nPING\nn\nzz\nin\n"
                  b"where\nPING\n")
        equal(recv_until(s, 11),
              b"+PONG\r\nhello\nyou are 127.0.0.1\nnot lan\none\n"
              b"+PONG\ntwo\nmiss\nentered\ninside\n+PONG\n",
              "every reply, in order, each with its line end")
        d.wait_log('%s message 11: "PING" (rule ping)'
                   % ("127.0.0.1:%d" % s.getsockname()[1]))
    check('message 4: "lan" (rule lan-else)' in d.log(),
          "the rule that answered is logged:\n" + d.log())

# A model of the rules below: fixed replies, and the ones that are not
RANDOM_RULES = (
    'rules = (\n'
    '  { exact = "PING"; reply = "+PONG"; },\n'
    '  { exact = "a"; reply = "A"; },\n'
    '  { exact = "tmpl"; reply = "<%{message}>"; },\n'
    '  { exact = "hi"; ignore_case = true; reply = "hello"; }\n'
    ');\n')


def modelled(rules, message):
    if not rules:
        return message
    fixed = {b"PING": b"+PONG", b"a": b"A", b"tmpl": b"<tmpl>"}
    if message in fixed:
        return fixed[message]
    if message.lower() == b"hi":
        return b"hello"
    if 'default_reply = "<%{message}>"' in rules:
        return b"<" + message + b">"
    return message


def test_random_messages_and_reads_answered_as_the_rules_say():
    """Streams of messages drawn at random (rule hits and misses, LF and
    CRLF, high and control bytes), cut into reads at random: every reply
    is the one the rules give, in order, with the message's own line end;
    with no rules (the echo) and with them (fixed replies and others)."""
    seed = int(os.environ.get("ECHOREPLYD_TEST_SEED", "16"))
    rng = random.Random(seed)
    pool = [b"PING", b"a", b"tmpl", b"hi", b"Hi", b"HI", b"PINGx", b"PIN",
            b"x", b"hello world", b"\x00\x01\xff", b"\r\rx", b"a a"]
    # the echo's own path; fixed replies beside the rest (the default is
    # the message); and every message through the whole answer path
    for rules in ("", RANDOM_RULES,
                  RANDOM_RULES + 'default_reply = "<%{message}>";\n'):
        d = Daemon(rules)
        with d.connect() as s:
            for round in range(20):
                msgs = [rng.choice(pool + [bytes(rng.randint(1, 255)
                                                 for _ in range(rng.randint(
                                                     1, 40)))])
                        for _ in range(rng.randint(1, 60))]
                msgs = [m.replace(b"\n", b"") or b"x" for m in msgs]
                ends = [rng.choice([b"\n", b"\n", b"\r\n"]) for _ in msgs]
                # a CR before the LF is the line end's: not in the message
                msgs = [m.rstrip(b"\r") or b"x" for m in msgs]
                data = b"".join(m + e for m, e in zip(msgs, ends))
                at = 0
                while at < len(data):
                    n = rng.choice([1, 3, 17, 200, len(data)])
                    s.sendall(data[at:at + n])
                    at += n
                want = b"".join(modelled(rules, m) + e
                                for m, e in zip(msgs, ends))
                got = recv_until(s, len(msgs))
                equal(got, want, "round %d (seed %d), rules:\n%s" %
                      (round, seed, rules))
        equal(d.stop(), 0, "exit status")


def test_fixed_answer_to_a_last_line_at_eof():
    d = Daemon('rules = ( { exact = "PING"; reply = "+PONG"; } );\n')
    with d.connect() as s:
        s.sendall(b"PING\nPING")
        s.shutdown(socket.SHUT_WR)
        equal(recv_until(s, 2), b"+PONG\n+PONG\n",
              "the last line, without its line end, answered too")


# -- reload ----------------------------------------------------------------

def test_reload_swaps_rules_under_open_connection():
    d = Daemon('rules = ( { exact = "ver"; reply = "old rules"; } );\n')
    with d.connect() as s:
        s.sendall(b"ver\n")
        equal(recv_until(s, 1), b"old rules\n", "before reload")
        d.write_conf(listen_line(d) +
                     'rules = ( { exact = "ver"; reply = "new rules"; },\n'
                     '  { exact = "added"; reply = "added rule"; } );\n')
        d.reload()
        s.sendall(b"ver\n")
        equal(recv_until(s, 1), b"new rules\n", "next message, new rule")
        s.sendall(b"added\nver\n")
        equal(recv_until(s, 2), b"added rule\nnew rules\n",
              "connection stays open with the new rules")
        s.shutdown(socket.SHUT_WR)
        equal(recv_until(s, None), b"", "no extra bytes")


def test_reload_during_pipelined_burst_never_mixes():
    n = 60000
    old = 'rules = ( { prefix = "m"; reply = "old %{message} old"; } );\n'
    new = 'rules = ( { prefix = "m"; reply = "NEW:%{message}:NEW"; } );\n'
    d = Daemon(old)
    s = d.connect()
    burst = b"".join(b"m%d\n" % i for i in range(n))
    sender = threading.Thread(target=s.sendall, args=(burst,))
    try:
        d.write_conf(listen_line(d) + new)
        sender.start()
        first = recv_until(s, 1)
        d.signal(signal.SIGHUP)
        got = first + recv_until(s, n - first.count(b"\n"),
                                 timeout=harness.WAIT * 2)
        sender.join(harness.WAIT)
        d.wait_notify("RELOADING=1")
        d.wait_notify("READY=1")
        # and a second burst after the reload: all new
        s.sendall(b"".join(b"m%d\n" % i for i in range(n, n + 100)))
        got += recv_until(s, 100)
    finally:
        s.close()
    lines = got.split(b"\n")
    equal(lines[-1], b"", "replies end with a newline")
    lines = lines[:-1]
    equal(len(lines), n + 100, "number of replies")
    seen_new = None
    for i, line in enumerate(lines):
        if line == b"old m%d old" % i:
            check(seen_new is None, "old reply %d after new reply %d" %
                  (i, seen_new if seen_new is not None else -1))
        elif line == b"NEW:m%d:NEW" % i:
            if seen_new is None:
                seen_new = i
        else:
            raise AssertionError("reply %d is neither old nor new: %r" %
                                 (i, line))
    check(seen_new is not None and seen_new <= n, "no new reply at all")
    check(lines[0].startswith(b"old "), "first reply was before SIGHUP")
    print("# burst of %d: %d old replies, then new" % (n, seen_new))


def test_reload_while_reply_delayed():
    d = Daemon('rules = ( { exact = "slow"; reply = "old slow"; '
               'delay_ms = 800; } );\n')
    with d.connect() as s:
        s.sendall(b"slow\nnext\n")
        # the log shows it once "slow" was answered (and held back)
        d.wait_log('message 1: "slow" (rule #1)')
        d.write_conf(listen_line(d) +
                     'rules = ( { exact = "next"; reply = "new next"; } );\n')
        d.reload()
        # rendered before the reload, sent after it; the rest uses the
        # rules in force when it is answered
        equal(recv_until(s, 2), b"old slow\nnew next\n", "replies")
        s.sendall(b"slow\n")
        equal(recv_until(s, 1), b"slow\n", "old rule is gone")


# -- limits ----------------------------------------------------------------

def test_too_long_reply_template_then_close():
    d = Daemon('max_message_bytes = 8;\n'
               'too_long_reply = "ERR too long (max %{max_message_bytes})";\n'
               'rules = ( { exact = "12345678"; reply = "eight"; } );\n')
    with d.connect() as s:
        s.sendall(b"12345678\n123456789\nnever\n")
        equal(recv_until(s, None), b"eight\nERR too long (max 8)\n",
              "exactly max is a message; max+1 gets the error, then EOF")


# -- dry run and check mode ------------------------------------------------

def daemon(*args):
    return subprocess.run([harness.ECHOREPLYD] + list(args),
                          stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=harness.WAIT)


DRY_CONF = (
    'listen = ( { name = "front"; address = "127.0.0.1"; port = 7; },\n'
    '  { name = "back"; address = "127.0.0.1"; port = 8; } );\n'
    'rules = (\n'
    '  { name = "cyc"; exact = "next"; replies = [ "one", "two" ]; },\n'
    '  { name = "get"; regex = "^GET /([a-z]+)$"; reply = "page %{1}"; '
    'delay_ms = 20; },\n'
    '  { name = "lan"; exact = "who"; networks = [ "10.0.0.0/8" ]; '
    'reply = "lan %{client_address}:%{client_port}"; },\n'
    '  { exact = "where"; listener = "back"; reply = "at %{listener}"; },\n'
    '  { name = "bye"; exact = "bye"; reply = "bye\\tnow"; close = true; },\n'
    '  { name = "quiet"; prefix = "shh"; no_reply = true; }\n'
    ');\n')


def dry(*words):
    return [w for m in words for w in ("--reply", m)]


def test_dry_run_output():
    with TempDir() as t:
        path = t.file("dry.conf", DRY_CONF)
        r = daemon("-f", path, *dry("next", "next", "next", "GET /x",
                                    "who", "where", "bye", "shh",
                                    'a"b\\\x01'))
        equal(r.returncode, 0, "exit status (stderr %r)" % r.stderr)
        equal(r.stderr, b"", "stderr")
        want = (
            'rule: cyc (%(p)s:4)\nreply: "one\\n"\ndelay_ms: 0\n'
            'close: false\nstate: start -> start\nfault: none\n'
            'rule: cyc (%(p)s:4)\nreply: "two\\n"\ndelay_ms: 0\n'
            'close: false\nstate: start -> start\nfault: none\n'
            'rule: cyc (%(p)s:4)\nreply: "one\\n"\ndelay_ms: 0\n'
            'close: false\nstate: start -> start\nfault: none\n'
            'rule: get (%(p)s:5)\nreply: "page x\\n"\ndelay_ms: 20\n'
            'close: false\nstate: start -> start\nfault: none\n'
            'rule: default\nreply: "who\\n"\ndelay_ms: 0\nclose: false\nstate: start -> start\nfault: none\n'
            'rule: default\nreply: "where\\n"\ndelay_ms: 0\nclose: false\nstate: start -> start\nfault: none\n'
            'rule: bye (%(p)s:8)\nreply: "bye\\tnow\\n"\ndelay_ms: 0\n'
            'close: true\nstate: start -> start\nfault: none\n'
            'rule: quiet (%(p)s:9)\nreply: none\ndelay_ms: 0\n'
            'close: false\nstate: start -> start\nfault: none\n'
            'rule: default\nreply: "a\\"b\\\\\\001\\n"\ndelay_ms: 0\n'
            'close: false\nstate: start -> start\nfault: none\n' % {"p": path})
        equal(r.stdout.decode(), want, "dry run stdout")

        r = daemon("-f", path, "--client", "10.1.2.3:4000", "--listener",
                   "back", "--reply", "who", "--reply", "where")
        equal(r.returncode, 0, "exit status with --client")
        equal(r.stdout.decode(),
              'rule: lan (%(p)s:6)\nreply: "lan 10.1.2.3:4000\\n"\n'
              'delay_ms: 0\nclose: false\nstate: start -> start\nfault: none\n'
              'rule: #4 (%(p)s:7)\nreply: "at back\\n"\n'
              'delay_ms: 0\nclose: false\nstate: start -> start\nfault: none\n' % {"p": path},
              "networks match for --client, listener rule for --listener")

        r = daemon("-f", path, "--client", "[::ffff:10.0.0.1]:9",
                   "--reply", "who")
        equal(r.stdout.decode().splitlines()[:2],
              ["rule: lan (%s:6)" % path,
               'reply: "lan 10.0.0.1:9\\n"'],
              "IPv4-mapped --client matches the IPv4 network and is "
              "shown as the daemon shows such a client")


def test_dry_run_bad_client():
    with TempDir() as t:
        path = t.file("dry.conf", DRY_CONF)
        for bad in ("not-an-address", "10.0.0.1:70000", "[::1"):
            r = daemon("-f", path, "--client", bad, "--reply", "who")
            equal(r.returncode, EX_USAGE, "exit status for %r" % bad)
            equal(r.stdout, b"", "stdout for %r" % bad)
            equal(r.stderr.decode(), "echoreplyd: --client %s: not an "
                  "address or address:port\n" % bad, "stderr for %r" % bad)


def test_check_mode_rule_errors():
    text = (
        'rules = (\n'
        '  { exact = "a"; prefix = "b"; reply = "x"; },\n'
        '  { regex = "a("; reply = "x"; },\n'
        '  { glob = "a[b"; reply = "x"; },\n'
        '  { prefix = "p"; reply = "%{1}"; },\n'
        '  { regex = "(a)(b)"; reply = "%{3}"; },\n'
        '  { exact = "r"; reply = "x"; replies = [ "y" ]; },\n'
        '  { exact = "n"; },\n'
        '  { name = "dup"; exact = "d1"; reply = "x"; },\n'
        '  { name = "dup"; exact = "d2"; reply = "x"; },\n'
        '  { exact = "net"; networks = [ "10.0.0.0/8", "10.0.0.0/33" ]; '
        'reply = "x"; },\n'
        '  { exact = "dl"; delay_ms = 3600001; reply = "x"; },\n'
        '  { exact = "u"; colour = "red"; reply = "x"; },\n'
        '  { glob = "ok\\\\"; reply = "x"; },\n'
        '  { regex = "(a)"; replies = [ "%{1}", "%{2}" ]; },\n'
        '  { exact = "nr"; no_reply = true; reply = "x"; },\n'
        '  { exact = "fine"; delay_ms = 3600000; reply = "ok"; }\n'
        ');\n')
    with TempDir() as t:
        path = t.file("bad.conf", text)
        r = daemon("-n", "-f", path)
        equal(r.returncode, EX_CONFIG, "exit status")
        equal(r.stdout, b"", "stdout")
        check(r.stderr.endswith(b"\n"), "stderr ends with a newline")
        equal(r.stderr.decode().splitlines(), [line % path for line in [
            "%s:2: a rule matches one way: 'exact' and 'prefix' together",
            "%s:3: rule #2: 'regex': regex does not compile: Unmatched ( or \\(",
            "%s:4: rule #3: 'glob': glob has '[' without a closing ']'",
            "%s:5: '%%{1}' needs a regex rule",
            "%s:6: '%%{3}' but the regex has 2 groups",
            "%s:7: a rule has 'reply' or 'replies', not both",
            "%s:8: a rule needs 'reply', 'replies' or 'no_reply = true'",
            "%s:10: rule name \"dup\" is used twice",
            "%s:11: 'networks': \"10.0.0.0/33\" is not an address or "
            "address/prefix",
            "%s:12: 'delay_ms' must be between 0 and 3600000, not 3600001",
            "%s:13: unknown key 'colour' in rule",
            "%s:14: rule #13: 'glob': glob ends with a lone '\\'",
            "%s:15: '%%{2}' but the regex has 1 group",
            "%s:16: 'no_reply' with a reply",
        ]], "stderr lines")

        good = t.file("good.conf", DRY_CONF)
        r = daemon("-n", "-f", good)
        equal((r.returncode, r.stdout, r.stderr),
              (0, b"configuration OK\n", b""), "a good rules file")


if __name__ == "__main__":
    harness.run(globals())

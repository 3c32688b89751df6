# SPDX-License-Identifier: ISC
"""Scenarios (issue 14): rules that depend on the connection's state and
on how often they matched (state, next_state, times, reset_counts,
%{state}, %{next_state}, %{rule_count}), over TCP and UDP, started again
by a reload; the dry run's state: and fault: lines and --seed; and the
configuration errors of the new keys."""

import os
import re
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import Daemon, check, equal, recv_until  # noqa: E402
from harness import TempDir  # noqa: E402

EX_USAGE = 64
EX_CONFIG = 78

AUTH_RULES = (
    'rules = (\n'
    '  { name = "no"; exact = "AUTH"; times = 2; reply = "NO"; },\n'
    '  { name = "ok"; exact = "AUTH"; reply = "OK"; next_state = "authed"; '
    '},\n'
    '  { name = "data"; exact = "GET"; state = "authed"; '
    'reply = "DATA %{rule_count}"; },\n'
    '  { name = "first"; exact = "GET"; reply = "LOGIN FIRST"; }\n'
    ');\n')


def daemon(*args):
    """Runs echoreplyd in a mode that exits by itself."""
    return subprocess.run([harness.ECHOREPLYD] + list(args),
                          stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=harness.WAIT)


def dry(*words):
    return [w for m in words for w in ("--reply", m)]


def listen_line(d):
    return 'listen = { address = "127.0.0.1"; port = %d; };\n' % d.port


def ask(s, *msgs):
    """Sends msgs pipelined; returns their replies (one line each)."""
    s.sendall(b"".join(m + b"\n" for m in msgs))
    lines = recv_until(s, len(msgs)).split(b"\n")
    equal(lines[-1], b"", "replies end with a newline")
    equal(len(lines) - 1, len(msgs), "number of replies")
    return lines[:-1]


def ask_one_by_one(s, *msgs):
    return [ask(s, m)[0] for m in msgs]


# -- scenarios over TCP ----------------------------------------------------

def test_auth_fails_twice_then_accepts():
    d = Daemon(AUTH_RULES)
    with d.connect() as s:
        # pipelined: the state carries from message to message of one read
        equal(ask(s, b"GET", b"AUTH", b"AUTH", b"AUTH", b"GET", b"GET"),
              [b"LOGIN FIRST", b"NO", b"NO", b"OK", b"DATA 1", b"DATA 2"],
              "the scenario on one connection")
        # "no" has had its two; "ok" answers AUTH from now on
        equal(ask_one_by_one(s, b"AUTH", b"GET"), [b"OK", b"DATA 3"],
              "going on")
        # a second connection starts again in "start", with its own counts
        with d.connect() as t:
            equal(ask_one_by_one(t, b"GET", b"AUTH", b"GET", b"AUTH",
                                 b"AUTH", b"GET"),
                  [b"LOGIN FIRST", b"NO", b"LOGIN FIRST", b"NO", b"OK",
                   b"DATA 1"], "second connection")
        equal(ask(s, b"GET"), [b"DATA 4"], "the first one is unaffected")


def test_state_and_next_state_in_replies():
    d = Daemon('rules = (\n'
               '  { exact = "go"; next_state = "b"; '
               'reply = "%{state}->%{next_state}"; },\n'
               '  { exact = "x"; next_state = "x"; '
               'reply = "%{state}->%{next_state}"; },\n'
               '  { exact = "where"; state = [ "b", "x" ]; '
               'reply = "in b or x: %{state}"; },\n'
               '  { exact = "where"; reply = "elsewhere: %{state}"; },\n'
               '  { exact = "stay"; reply = "%{state}=%{next_state}"; }\n'
               ');\n')
    with d.connect() as s:
        equal(ask(s, b"where", b"stay", b"go", b"stay", b"where", b"go",
                  b"x", b"where", b"stay"),
              [b"elsewhere: start", b"start=start", b"start->b", b"b=b",
               b"in b or x: b", b"b->b", b"b->x", b"in b or x: x", b"x=x"],
              "%{state}, %{next_state}, a list of states")


def test_times_counts_only_in_its_state():
    # the state is checked before times: messages in another state do not
    # use up the rule's times
    d = Daemon('rules = (\n'
               '  { exact = "lock"; next_state = "locked"; reply = "locked"; '
               '},\n'
               '  { exact = "try"; state = "locked"; times = 2; '
               'reply = "try %{rule_count} in locked"; },\n'
               '  { exact = "try"; reply = "try elsewhere"; }\n'
               ');\n')
    with d.connect() as s:
        equal(ask(s, b"try", b"try", b"try", b"lock", b"try", b"try",
                  b"try"),
              [b"try elsewhere"] * 3 + [b"locked", b"try 1 in locked",
                                        b"try 2 in locked",
                                        b"try elsewhere"],
              "times in a state")


def test_reset_counts_on_a_state_change_only():
    d = Daemon('rules = (\n'
               '  { exact = "ping"; times = 2; reply = "pong %{rule_count}"; '
               '},\n'
               '  { exact = "ping"; reply = "no more pings"; },\n'
               '  { exact = "login"; next_state = "in"; reset_counts = true; '
               'reply = "welcome"; },\n'
               '  { exact = "logout"; next_state = "start"; '
               'reset_counts = true; reply = "bye"; },\n'
               '  { exact = "plain"; next_state = "in"; reply = "moved"; }\n'
               ');\n')
    with d.connect() as s:
        equal(ask(s, b"ping", b"ping", b"ping", b"login", b"ping", b"ping",
                  b"ping"),
              [b"pong 1", b"pong 2", b"no more pings", b"welcome",
               b"pong 1", b"pong 2", b"no more pings"],
              "counts start again on start -> in")
        # in -> in is no change: nothing starts again
        equal(ask(s, b"login", b"ping"), [b"welcome", b"no more pings"],
              "a rule that keeps the state")
        equal(ask(s, b"logout", b"ping", b"plain", b"ping", b"ping"),
              [b"bye", b"pong 1", b"moved", b"pong 2", b"no more pings"],
              "in -> start resets; a next_state without reset_counts not")


def test_cycling_replies_and_reset_counts():
    d = Daemon('rules = (\n'
               '  { exact = "next"; replies = [ "one", "two", "three" ]; },\n'
               '  { exact = "reset"; next_state = "r"; reset_counts = true; '
               'reply = "reset"; },\n'
               '  { exact = "back"; next_state = "start"; '
               'reset_counts = true; reply = "back"; }\n'
               ');\n')
    with d.connect() as s:
        equal(ask(s, b"next", b"next", b"reset", b"next", b"next", b"next",
                  b"next"),
              [b"one", b"two", b"reset", b"one", b"two", b"three", b"one"],
              "cycling starts again on a state change")
        equal(ask(s, b"reset", b"next", b"back", b"next"),
              [b"reset", b"two", b"back", b"one"],
              "r -> r keeps the cycle; r -> start starts it again")


def test_rule_count_of_the_default_reply_and_probability():
    d = Daemon('seed = 5;\n'
               'default_reply = "%{message} #%{rule_count}";\n'
               'rules = ( { exact = "r"; reply = "R %{rule_count}"; },\n'
               '  { exact = "c"; reply = "hit %{rule_count}"; '
               'probability = 0.5; } );\n')
    with d.connect() as s:
        equal(ask(s, b"a", b"r", b"b", b"r", b"z"),
              [b"a #1", b"R 1", b"b #2", b"R 2", b"z #3"],
              "the default reply counts what it answered")
        with d.connect() as t:
            equal(ask(t, b"a", b"r"), [b"a #1", b"R 1"],
                  "per connection")
        # a failed draw does not count: the hits are numbered 1, 2, 3 ...
        got = ask(s, *[b"c"] * 200)
        hits = [g for g in got if g.startswith(b"hit ")]
        misses = [g for g in got if not g.startswith(b"hit ")]
        equal(hits, [b"hit %d" % i for i in range(1, len(hits) + 1)],
              "hits numbered without gaps")
        equal(misses, [b"c #%d" % i for i in range(4, len(misses) + 4)],
              "misses answered by the default reply")
        check(hits and misses, "200 draws at 0.5, all alike")


def test_reload_starts_the_scenario_again():
    d = Daemon(AUTH_RULES)
    with d.connect() as s:
        equal(ask(s, b"AUTH", b"AUTH", b"AUTH", b"GET"),
              [b"NO", b"NO", b"OK", b"DATA 1"], "authed")
        d.write_conf(listen_line(d) + AUTH_RULES)
        d.reload()
        equal(ask(s, b"GET", b"AUTH", b"AUTH", b"AUTH", b"GET"),
              [b"LOGIN FIRST", b"NO", b"NO", b"OK", b"DATA 1"],
              "after the reload: state start, counts 0")


def test_udp_one_state_per_listener():
    port = harness.free_port()
    d = Daemon('listen = { name = "dg"; protocol = "udp"; '
               'address = "127.0.0.1"; port = %d; };\n' % port + AUTH_RULES,
               port=port, listen=False)
    u1 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u2 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for u in (u1, u2):
            u.settimeout(harness.WAIT)
            u.connect(("127.0.0.1", port))

        def q(u, m):
            u.send(m + b"\n")
            return u.recv(65536)

        equal([q(u1, b"GET"), q(u1, b"AUTH"), q(u1, b"AUTH")],
              [b"LOGIN FIRST\n", b"NO\n", b"NO\n"], "first client")
        # the other client shares the listener's state and counts
        equal([q(u2, b"AUTH"), q(u2, b"GET")], [b"OK\n", b"DATA 1\n"],
              "second client")
        equal(q(u1, b"GET"), b"DATA 2\n", "first client again")
    finally:
        u1.close()
        u2.close()


# -- the dry run -----------------------------------------------------------

DRY_KEYS = ["rule", "reply", "delay_ms", "close", "state", "fault"]


def dry_blocks(out):
    """The dry run's stdout as one dict per message."""
    text = out.decode("latin-1")
    check(text.endswith("\n"), "output ends with a newline: %r" % text[-50:])
    lines = text[:-1].split("\n")
    equal(len(lines) % len(DRY_KEYS), 0, "lines in:\n" + text)
    blocks = []
    for i in range(0, len(lines), len(DRY_KEYS)):
        block = {}
        for key, line in zip(DRY_KEYS, lines[i:i + len(DRY_KEYS)]):
            check(line.startswith(key + ": "), "expected %s: in %r" %
                  (key, line))
            block[key] = line[len(key) + 2:]
        blocks.append(block)
    return blocks


def faults(block):
    """The fault: line as a list ("none" is the empty list); the separator
    is a comma (the spec says "comma-separated": ", " or "," both pass)."""
    v = block["fault"]
    if v == "none":
        return []
    check(v == v.strip() and v, "fault line %r" % v)
    return [f.strip() for f in v.split(",")]


def unescape(text):
    """A reply: line's quoted bytes back (vis(3), C style, octal)."""
    check(text.startswith('"') and text.endswith('"'), "reply %r" % text)
    raw = text[1:-1].encode("latin-1")
    names = {b"n": 10, b"r": 13, b"t": 9, b"a": 7, b"b": 8, b"v": 11,
             b"f": 12, b"s": 32, b"\\": 92, b'"': 34, b"E": 27}
    out = bytearray()
    i = 0
    while i < len(raw):
        c = raw[i:i + 1]
        if c != b"\\":
            out += c
            i += 1
            continue
        m = re.match(rb"[0-7]{1,3}", raw[i + 1:i + 4])
        if m:
            out.append(int(m.group(0), 8))
            i += 1 + len(m.group(0))
        else:
            nxt = raw[i + 1:i + 2]
            check(nxt in names, "unknown escape \\%r in %r" % (nxt, text))
            out.append(names[nxt])
            i += 2
    return bytes(out)


def test_dry_run_auth_scenario():
    with TempDir() as t:
        path = t.file("auth.conf", AUTH_RULES)
        r = daemon("-f", path, "--seed", "1",
                   *dry("GET", "AUTH", "AUTH", "AUTH", "GET", "GET", "AUTH"))
        equal(r.returncode, 0, "exit status (stderr %r)" % r.stderr)
        equal(r.stderr, b"", "stderr")
        block = ('rule: %s (' + path + ':%d)\nreply: "%s\\n"\ndelay_ms: 0\n'
                 'close: false\nstate: %s\nfault: none\n')
        want = "".join(block % x for x in [
            ("first", 5, "LOGIN FIRST", "start -> start"),
            ("no", 2, "NO", "start -> start"),
            ("no", 2, "NO", "start -> start"),
            ("ok", 3, "OK", "start -> authed"),
            ("data", 4, "DATA 1", "authed -> authed"),
            ("data", 4, "DATA 2", "authed -> authed"),
            ("ok", 3, "OK", "authed -> authed"),
        ])
        equal(r.stdout.decode(), want, "dry run stdout")


DRY_FAULTS = (
    'listen = ( { name = "main"; address = "127.0.0.1"; port = 7; },\n'
    '  { name = "slow"; address = "127.0.0.1"; port = 8; '
    'bandwidth_bytes_per_second = 500; } );\n'
    'rules = (\n'
    '  { exact = "rst"; reply = "r"; reset = true; },\n'
    '  { exact = "half"; reply = "h"; half_close = true; },\n'
    '  { exact = "hang"; reply = "x"; hang = true; },\n'
    '  { exact = "hangw"; reply = "x"; hang = true; hang_writes = true; },\n'
    '  { exact = "junk"; reply = "ok"; garbage = 5; },\n'
    '  { exact = "cut"; reply = "abcdef"; truncate = 3; keep_open = true; },\n'
    '  { exact = "dup"; reply = "x"; duplicate = 2; },\n'
    '  { exact = "drip"; reply = "x"; chunk_bytes = 4; '
    'chunk_interval_ms = 50; },\n'
    '  { exact = "drip2"; reply = "x"; chunk_bytes = 4; },\n'
    '  { exact = "bw"; reply = "x"; bandwidth_bytes_per_second = 4000; },\n'
    '  { exact = "mix"; reply = "abc"; duplicate = 1; truncate = 5; '
    'garbage = 2; keep_open = true; },\n'
    '  { exact = "mix2"; reply = "y"; reset = true; duplicate = 1; '
    'chunk_bytes = 2; chunk_interval_ms = 10; },\n'
    '  { exact = "late"; reply = "z"; delay_ms = [ 7, 7 ]; close = true; },\n'
    '  { exact = "plain"; reply = "p"; }\n'
    ');\n')


def test_dry_run_fault_lines():
    with TempDir() as t:
        path = t.file("faults.conf", DRY_FAULTS)
        words = ["rst", "half", "hang", "hangw", "junk", "cut", "dup", "drip",
                 "drip2", "bw", "mix", "mix2", "late", "plain"]
        r = daemon("-f", path, "--seed", "1", *dry(*words))
        equal(r.returncode, 0, "exit status (stderr %r)" % r.stderr)
        equal(r.stderr, b"", "stderr")
        b = dict(zip(words, dry_blocks(r.stdout)))
        equal(len(b), len(words), "blocks")
        want = {
            "rst": ["reset"], "half": ["half_close"], "hang": ["hang"],
            "hangw": ["hang", "hang_writes"], "junk": ["garbage 5"],
            "cut": ["truncate 3", "keep_open"], "dup": ["duplicate 2"],
            "drip": ["chunks 4 every 50 ms"],
            "drip2": ["chunks 4 every 100 ms"],
            "bw": ["bandwidth 4000 B/s"],
            "mix": ["garbage 2", "truncate 5", "keep_open", "duplicate 1"],
            "mix2": ["reset", "duplicate 1", "chunks 2 every 10 ms"],
            "late": [], "plain": [],
        }
        for w in words:
            equal(faults(b[w]), want[w], "fault: for %s" % w)
            equal(b[w]["state"], "start -> start", "state: for %s" % w)
        # reply: shows the bytes after duplicate, truncate and garbage
        equal(b["rst"]["reply"], '"r\\n"', "reply: for rst")
        equal(b["dup"]["reply"], '"x\\nx\\nx\\n"', "reply: for dup")
        equal(b["cut"]["reply"], '"abc"', "reply: for cut")
        equal(b["mix2"]["reply"], '"y\\ny\\n"', "reply: for mix2")
        junk = unescape(b["junk"]["reply"])
        equal((len(junk), junk[:3]), (8, b"ok\n"), "junk reply %r" % junk)
        mix = unescape(b["mix"]["reply"])
        equal((len(mix), mix[:5]), (7, b"abc\na"), "mix reply %r" % mix)
        equal(b["cut"]["close"], "false", "close: with keep_open")
        equal((b["late"]["delay_ms"], b["late"]["close"]), ("7", "true"),
              "delay_ms: and close: for late")
        equal(b["plain"]["delay_ms"], "0", "delay_ms: for plain")

        # the listener's bandwidth, unless the rule has its own
        r = daemon("-f", path, "--listener", "slow", *dry("plain", "bw"))
        equal(r.returncode, 0, "exit status (stderr %r)" % r.stderr)
        p, bw = dry_blocks(r.stdout)
        equal(faults(p), ["bandwidth 500 B/s"], "the listener's bandwidth")
        equal(faults(bw), ["bandwidth 4000 B/s"], "the rule's wins")


DRY_SEEDED = (
    'rules = (\n'
    '  { name = "coin"; exact = "x"; reply = "hit"; probability = 0.5; },\n'
    '  { name = "wait"; exact = "w"; reply = "w"; delay_ms = [ 0, 1000 ]; }\n'
    ');\n')


def draws(out):
    """What the draws decided, per message: the rule's name (without the
    file and line, which differ between files), the reply and the delay."""
    return [(b["rule"].split(" (")[0], b["reply"], b["delay_ms"])
            for b in dry_blocks(out)]


def test_dry_run_seed_repeats_the_draws():
    words = ["x"] * 40 + ["w"] * 10
    with TempDir() as t:
        path = t.file("seeded.conf", DRY_SEEDED)
        runs = {}
        for seed in ("99", "99", "100"):
            r = daemon("-f", path, "--seed", seed, *dry(*words))
            equal(r.returncode, 0, "exit status (stderr %r)" % r.stderr)
            runs.setdefault(seed, []).append(r.stdout)
        equal(runs["99"][0], runs["99"][1], "the same seed, the same draws")
        check(runs["99"][0] != runs["100"][0], "another seed, same draws")
        blocks = dry_blocks(runs["99"][0])
        rules = [bl["rule"].split()[0] for bl in blocks[:40]]
        check("coin" in rules and "default" in rules,
              "40 draws at 0.5 all alike: %r" % rules)
        delays = {bl["delay_ms"] for bl in blocks[40:]}
        check(len(delays) > 1, "10 delays in [0, 1000] all %r" % delays)
        for d in delays:
            check(0 <= int(d) <= 1000, "delay_ms: %s" % d)
        # the file's seed is the dry run's seed; --seed is over it
        filed = t.file("filed.conf", "seed = 99;\n" + DRY_SEEDED)
        r = daemon("-f", filed, *dry(*words))
        equal(r.returncode, 0, "exit status (stderr %r)" % r.stderr)
        equal(draws(r.stdout), draws(runs["99"][0]), "seed = 99 in the file")
        other = t.file("other.conf", "seed = 5;\n" + DRY_SEEDED)
        r = daemon("-f", other, "--seed", "99", *dry(*words))
        equal(r.returncode, 0, "exit status (stderr %r)" % r.stderr)
        equal(draws(r.stdout), draws(runs["99"][0]),
              "--seed 99 over the file's seed 5")
        r = daemon("-f", other, *dry(*words))
        check(draws(r.stdout) != draws(runs["99"][0]),
              "the file's seed 5 draws as 99")


def test_dry_run_bad_seed():
    with TempDir() as t:
        path = t.file("seeded.conf", DRY_SEEDED)
        r = daemon("-f", path, "--seed", "abc", "--reply", "x")
        equal((r.returncode, r.stdout, r.stderr.decode()),
              (EX_USAGE, b"", "echoreplyd: --seed abc: invalid\n"),
              "--seed abc")
        # out of range: the same one line (the spec's word is "invalid";
        # strtonum(3) says "too small" or "too large", either passes here)
        for bad in ("-1", "9223372036854775808", "12x", ""):
            r = daemon("-f", path, "--seed", bad, "--reply", "x")
            equal(r.returncode, EX_USAGE, "exit status for %r" % bad)
            equal(r.stdout, b"", "stdout for %r" % bad)
            err = r.stderr.decode()
            check(re.fullmatch(r"echoreplyd: --seed %s: (invalid|too small|"
                               r"too large)\n" % re.escape(bad), err),
                  "stderr for %r: %r" % (bad, err))
        r = daemon("-f", path, "--seed", "9223372036854775807", "--reply",
                   "x")
        equal(r.returncode, 0, "the largest seed (stderr %r)" % r.stderr)
        r = daemon("-f", path, "--seed", "0", "--reply", "x")
        equal(r.returncode, 0, "seed 0 (stderr %r)" % r.stderr)


# -- configuration errors --------------------------------------------------

def check_error(t, name, text, line, keys, exact=None):
    """echoreplyd -n on text: exit 78, one line `file:line: ...` naming
    every key in keys."""
    path = t.file(name + ".conf", text)
    r = daemon("-n", "-f", path)
    err = r.stderr.decode()
    equal(r.returncode, EX_CONFIG, "%s: exit status (stderr %r)" %
          (name, err))
    equal(r.stdout, b"", "%s: stdout" % name)
    lines = err.splitlines()
    check(err.endswith("\n") and len(lines) == 1,
          "%s: one line on stderr: %r" % (name, err))
    prefix = "%s:%d: " % (path, line)
    check(lines[0].startswith(prefix), "%s: %r does not start with %r" %
          (name, lines[0], prefix))
    for key in keys:
        check(key in lines[0][len(prefix):], "%s: %r does not name %r" %
              (name, lines[0], key))
    if exact is not None:
        check(lines[0][len(prefix):].startswith(exact),
              "%s: %r, want %r" % (name, lines[0], exact))


def rule_file(rule):
    # the bad rule is on line 3
    return ('rules = (\n  { exact = "fine"; reply = "ok"; },\n  %s\n);\n' %
            rule)


BAD_RULES = [
    ("reset_counts", '{ exact = "a"; reply = "x"; reset_counts = true; }',
     ["reset_counts", "next_state"], "'reset_counts' needs 'next_state'"),
    ("probability_high", '{ exact = "a"; reply = "x"; probability = 1.5; }',
     ["probability"], None),
    ("probability_negative",
     '{ exact = "a"; reply = "x"; probability = -0.1; }',
     ["probability"], None),
    ("hang_writes", '{ exact = "a"; reply = "x"; hang_writes = true; }',
     ["hang_writes"], None),
    ("keep_open", '{ exact = "a"; reply = "x"; keep_open = true; }',
     ["keep_open"], None),
    ("reset_close",
     '{ exact = "a"; reply = "x"; reset = true; close = true; }',
     ["reset", "close"], None),
    ("half_close_hang",
     '{ exact = "a"; reply = "x"; half_close = true; hang = true; }',
     ["half_close", "hang"], None),
    ("delay_range", '{ exact = "a"; reply = "x"; delay_ms = [ 5, 2 ]; }',
     ["delay_ms"], None),
    ("delay_range_high",
     '{ exact = "a"; reply = "x"; delay_ms = [ 0, 3600001 ]; }',
     ["delay_ms"], None),
    ("chunk_interval",
     '{ exact = "a"; reply = "x"; chunk_interval_ms = 10; }',
     ["chunk_interval_ms", "chunk_bytes"], None),
    ("chunk_bandwidth", '{ exact = "a"; reply = "x"; chunk_bytes = 4; '
     'bandwidth_bytes_per_second = 100; }',
     ["chunk_bytes", "bandwidth_bytes_per_second"], None),
    ("state_chars", '{ exact = "a"; reply = "x"; state = "bad state!"; }',
     ["state"], None),
    ("state_empty", '{ exact = "a"; reply = "x"; state = [ "ok", "" ]; }',
     ["state"], None),
    ("state_long", '{ exact = "a"; reply = "x"; state = "%s"; }' % ("s" * 64),
     ["state"], None),
    ("next_state_chars",
     '{ exact = "a"; reply = "x"; next_state = "a b"; }',
     ["next_state"], None),
    ("times_zero", '{ exact = "a"; reply = "x"; times = 0; }',
     ["times"], None),
    ("duplicate_high", '{ exact = "a"; reply = "x"; duplicate = 101; }',
     ["duplicate"], None),
    ("garbage_zero", '{ exact = "a"; reply = "x"; garbage = 0; }',
     ["garbage"], None),
    ("truncate_high", '{ exact = "a"; reply = "x"; truncate = 1048577; }',
     ["truncate"], None),
]


def test_config_errors_in_rules():
    with TempDir() as t:
        for name, rule, keys, exact in BAD_RULES:
            check_error(t, name, rule_file(rule), 3, keys, exact)


def test_config_state_name_charset():
    # as a rule's name: letters, digits and _.-:[]/ only
    with TempDir() as t:
        for i, bad in enumerate(("a b", "x@y", "")):
            check_error(t, "charset%d" % i, rule_file(
                '{ exact = "a"; reply = "x"; state = "%s"; }' % bad), 3,
                ["state"])


def test_config_errors_per_listener_and_seed():
    with TempDir() as t:
        check_error(t, "accept_high", '\naccept_close_probability = 2;\n',
                    2, ["accept_close_probability"])
        check_error(t, "open_delay", 'open_delay_ms = [ 5, 2 ];\n', 1,
                    ["open_delay_ms"])
        check_error(t, "bandwidth_neg", 'bandwidth_bytes_per_second = -1;\n',
                    1, ["bandwidth_bytes_per_second"])
        check_error(t, "seed_neg", 'seed = -1;\n', 1, ["seed"])
        check_error(t, "in_listener",
                    'listen = { port = 13008;\n'
                    '  accept_reset_probability = 1.5; };\n', 2,
                    ["accept_reset_probability"])


def test_config_accept_probabilities_add_up_to_at_most_one():
    with TempDir() as t:
        check_error(t, "accept_sum", 'accept_close_probability = 0.6; '
                    'accept_reset_probability = 0.6;\n', 1,
                    ["accept_close_probability", "accept_reset_probability"])
        check_error(t, "accept_sum_listener",
                    'listen = { port = 13008;\n'
                    '  accept_close_probability = 0.5; '
                    'accept_reset_probability = 0.75; };\n', 2,
                    ["accept_close_probability", "accept_reset_probability"])


def test_config_largest_seed():
    # libconfig 1.5 reads a 64-bit integer only with an L after it
    with TempDir() as t:
        for text in ("seed = 9223372036854775807L;\n",
                     "seed = 5000000000L;\n"):
            src = t.file("big.conf", text)
            r1 = daemon("-n", "-v", "-f", src)
            equal(r1.returncode, 0, "%r (stderr %r)" % (text, r1.stderr))
            want = text.split("=")[1].strip(" L;\n")
            check(re.search(r"(?m)^seed = %sL?;$" % want, r1.stdout.decode()),
                  "seed %s not dumped:\n%s" % (want, r1.stdout.decode()))
            again = t.file("again.conf", r1.stdout.decode())
            r2 = daemon("-n", "-v", "-f", again)
            equal((r2.returncode, r2.stdout), (0, r1.stdout),
                  "dump of the dump of %r (stderr %r)" % (text, r2.stderr))


GOOD_NEW_KEYS = (
    'seed = 42;\n'
    'open_delay_ms = [ 0, 10 ];\n'
    'accept_close_probability = 0.1;\n'
    'accept_reset_probability = 0.2;\n'
    'close_after_messages = 5;\n'
    'bandwidth_bytes_per_second = 100000;\n'
    'listen = ( { name = "a"; port = 13008; open_delay_ms = 5; },\n'
    '  { name = "b"; port = 13009; bandwidth_bytes_per_second = 0; '
    'close_after_messages = 0; } );\n'
    'rules = (\n'
    '  { exact = "a"; reply = "%{state} %{next_state} %{rule_count}"; '
    'state = [ "start", "x_.-:9" ]; next_state = "NEXT"; '
    'reset_counts = true; times = 1000000000; probability = 1; },\n'
    '  { exact = "b"; reply = "x"; probability = 0; reset = true; '
    'duplicate = 100; delay_ms = [ 0, 3600000 ]; },\n'
    '  { exact = "c"; reply = "x"; probability = 0.25; half_close = true; '
    'chunk_bytes = 1048576; chunk_interval_ms = 60000; },\n'
    '  { exact = "d"; reply = "x"; hang = true; hang_writes = true; '
    'bandwidth_bytes_per_second = 1073741824; },\n'
    '  { exact = "e"; no_reply = true; garbage = 1048576; truncate = 0; '
    'keep_open = true; }\n'
    ');\n').replace("NEXT", "n" * 63)


def test_config_new_keys_accepted_and_dumped():
    with TempDir() as t:
        src = t.file("good.conf", GOOD_NEW_KEYS)
        r = daemon("-n", "-f", src)
        equal((r.returncode, r.stdout, r.stderr),
              (0, b"configuration OK\n", b""), "check mode")
        # the dump is a configuration that dumps the same again
        r1 = daemon("-n", "-v", "-f", src)
        equal(r1.returncode, 0, "dump exit status (stderr %r)" % r1.stderr)
        again = t.file("again.conf", r1.stdout.decode())
        r2 = daemon("-n", "-v", "-f", again)
        equal(r2.returncode, 0, "the dump is not a valid configuration "
              "(stderr %r)" % r2.stderr)
        equal(r2.stdout, r1.stdout, "dump of the dump")
        out = r1.stdout.decode()
        for key in ("seed = 42;", "next_state", "reset_counts", "times",
                    "probability", "hang_writes", "keep_open", "garbage",
                    "truncate", "duplicate", "chunk_bytes",
                    "chunk_interval_ms", "bandwidth_bytes_per_second",
                    "open_delay_ms", "accept_close_probability",
                    "accept_reset_probability", "close_after_messages",
                    "half_close"):
            check(key in out, "%s not in the dump:\n%s" % (key, out))


if __name__ == "__main__":
    harness.run(globals())

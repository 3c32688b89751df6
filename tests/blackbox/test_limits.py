# SPDX-License-Identifier: ISC
"""Limits and hostile clients: each protection seen from outside, with a
well-behaved client served alongside."""

import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import Daemon, check, equal, recv_until  # noqa: E402


def read_to_eof(s, timeout=harness.WAIT):
    return recv_until(s, None, timeout=timeout)


def served_again(d, message, what):
    """Connects until a new client is answered: the daemon has counted the
    closes down (refused attempts are answered with refuse_reply)."""
    deadline = time.monotonic() + harness.WAIT
    while True:
        with d.connect() as c:
            c.sendall(message + b"\n")
            got = recv_until(c, 1)
        if got == message + b"\n":
            return
        check(time.monotonic() < deadline, what)


def test_max_connections_refuses_with_reply_and_recovers():
    d = Daemon('max_connections = 2;\nrefuse_reply = "busy (%{connections})";\n')
    a = d.connect()
    b = d.connect()
    for s in (a, b):  # both admitted and served
        s.sendall(b"x\n")
        equal(recv_until(s, 1), b"x\n", "admitted client")
    with d.connect() as c:
        equal(read_to_eof(c), b"busy (2)\n", "refusal, then EOF")
    d.wait_log("refusing new connections: 2 open (max_connections)")
    a.close()
    d.wait_log("disconnected")
    # a place is free again: served, and the log says so
    served_again(d, b"again", "never admitted again")
    d.wait_log("accepting new connections again")
    b.close()


def test_max_connections_per_source():
    d = Daemon('max_connections_per_source = 2;\n')
    keep = [d.connect(), d.connect()]
    for s in keep:
        s.sendall(b"k\n")
        equal(recv_until(s, 1), b"k\n", "first two served")
    with d.connect() as c:
        equal(read_to_eof(c), b"error: too many connections\n",
              "third from the same address refused")
    d.wait_log("(max_connections_per_source)")
    for s in keep:
        s.close()


def test_per_source_limit_from_a_reload_counts_open_connections():
    """max_connections_per_source turned on by a reload: the connections
    open before it count, and stay served."""
    d = Daemon()
    keep = [d.connect() for _ in range(3)]
    for s in keep:
        s.sendall(b"k\n")
        equal(recv_until(s, 1), b"k\n", "served before the reload")
    d.write_conf('listen = { address = "127.0.0.1"; port = %d; };\n'
                 'max_connections_per_source = 2;\n' % d.port)
    d.reload()
    with d.connect() as c:
        equal(read_to_eof(c), b"error: too many connections\n",
              "a fourth refused: the three open count")
    for s in keep:
        s.sendall(b"still\n")
        equal(recv_until(s, 1), b"still\n", "the open ones still served")
    keep.pop().close()
    keep.pop().close()
    d.wait_log(" disconnected after ")
    # one open of 2 allowed: the closed ones were counted down
    served_again(d, b"new", "a new one not served once two closed")
    for s in keep:
        s.close()


def test_idle_timeout_closes_silent_and_slowloris_clients():
    d = Daemon('idle_timeout_ms = 300;\n')
    silent = d.connect()
    slow = d.connect()
    slow.sendall(b"half a li")
    t0 = time.monotonic()
    equal(read_to_eof(silent), b"", "silent client closed")
    equal(read_to_eof(slow), b"", "slow client closed")
    check(time.monotonic() - t0 >= 0.25, "closed before the idle timeout")
    d.wait_log("(idle timeout)")
    # an active client is not closed while it keeps talking
    with d.connect() as s:
        for i in range(6):
            s.sendall(b"tick %d\n" % i)
            equal(recv_until(s, 1), b"tick %d\n" % i, "active client")
            time.sleep(0.1)  # pacing the client, not waiting for the server
    silent.close()
    slow.close()


def test_access_lists():
    d = Daemon('allow = "127.0.0.0/8";\ndeny = "127.0.0.2";\n')
    with d.connect() as s:
        s.sendall(b"in\n")
        equal(recv_until(s, 1), b"in\n", "allowed client")
    s = socket.socket()
    s.settimeout(harness.WAIT)
    s.bind(("127.0.0.2", 0))
    s.connect((d.address, d.port))
    equal(read_to_eof(s), b"", "denied client closed without a byte")
    s.close()
    d.wait_log("127.0.0.2 port")
    check("refused by the access list" in d.log(), d.log())


def test_allow_list_excludes_others():
    d = Daemon('allow = [ "10.0.0.0/8" ];\n')
    with d.connect() as s:
        equal(read_to_eof(s), b"", "client outside the allow list closed")
    d.wait_log("refused by the access list")


def test_source_message_rate_throttles_without_errors():
    d = Daemon('source_message_rate = 20;\nsource_message_burst = 5;\n')
    with d.connect() as s:
        t0 = time.monotonic()
        s.sendall(b"".join(b"m%d\n" % i for i in range(15)))
        got = recv_until(s, 15)
        elapsed = time.monotonic() - t0
    equal(got, b"".join(b"m%d\n" % i for i in range(15)),
          "every message answered, in order")
    # 5 at once, then 10 more at 20/s: at least ~0.5 s
    check(elapsed >= 0.4, "not throttled: %.3fs" % elapsed)
    # another client address is not slowed by this one
    with socket.create_connection((d.address, d.port), timeout=harness.WAIT,
                                  source_address=("127.0.0.3", 0)) as o:
        o.sendall(b"other\n")
        equal(recv_until(o, 1), b"other\n", "other source")


def test_flood_without_newline_keeps_memory_bounded():
    d = Daemon('max_message_bytes = 1024;\n')
    with d.connect() as s:
        s.settimeout(harness.WAIT)
        try:
            for _ in range(256):   # up to 16 MiB, no newline
                s.sendall(b"x" * 65536)
        except (BrokenPipeError, ConnectionResetError):
            pass
        data = read_to_eof(s)
    check(data.startswith(b"error: message longer than 1024 bytes\n"),
          "too-long reply: %r" % data[:80])
    with open("/proc/%d/status" % d.proc.pid) as f:
        rss = [int(l.split()[1]) for l in f if l.startswith("VmRSS:")][0]
    check(rss < 64 * 1024, "RSS %d KiB after the flood" % rss)
    with d.connect() as s:
        s.sendall(b"fine\n")
        equal(recv_until(s, 1), b"fine\n", "still serving")


def test_reset_mid_reply_and_half_close():
    d = Daemon('default_reply = "%{message}%{message}%{message}%{message}";\n'
               'max_message_bytes = 65536;\n')
    s = d.connect()
    s.sendall((b"y" * 60000 + b"\n") * 50)   # ~12 MB of replies owed
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00"
                 b"\x00\x00\x00\x00")
    s.close()   # RST while the daemon is writing
    with d.connect() as h:
        h.sendall(b"half\n")
        h.shutdown(socket.SHUT_WR)
        equal(read_to_eof(h), b"halfhalfhalfhalf\n",
              "half-closed client gets its reply")
    # the reset shows as a failed send or recv, whichever came first
    d.wait_log("Connection reset by peer)")


def test_escape_sequences_never_reach_the_log_raw():
    d = Daemon()
    with d.connect() as s:
        s.sendall(b"\x1b]0;pwned\x07\x1b[2J\r\x00\xff end\n")
        recv_until(s, 1)
    d.wait_log(" end\"")
    log = d.log()
    for bad in ("\x1b", "\x07", "\x00"):
        check(bad not in log, "raw control byte %r in the log" % bad)


def test_log_sink_that_nobody_reads_does_not_stop_serving():
    # stderr is a pipe we never read: the daemon must keep serving
    r, w = os.pipe()
    try:
        d = Daemon(stderr=w)
        os.close(w)
        w = None
        with d.connect() as s:
            for i in range(300):  # ~300 KB of log records, pipe holds 64 KB
                s.sendall(b"%d %s\n" % (i, b"z" * 1000))
                equal(recv_until(s, 1), b"%d %s\n" % (i, b"z" * 1000),
                      "reply %d" % i)
        equal(d.stop(), 0, "exit status")
    finally:
        os.close(r)
        if w is not None:
            os.close(w)


def test_closed_stderr_does_not_send_logs_to_clients():
    if harness.VALGRIND:
        return  # valgrind's own descriptors take the place of stderr
    d = Daemon(prefix=["sh", "-c", 'exec "$0" "$@" 2>&-'])
    with d.connect() as s:
        s.sendall(b"only this\n")
        equal(recv_until(s, 1), b"only this\n", "no log bytes in the reply")
        s.shutdown(socket.SHUT_WR)
        equal(read_to_eof(s), b"", "nothing else")
    equal(d.stop(), 0, "exit status")


def test_full_disk_log_does_not_stop_serving():
    with open("/dev/full", "wb") as full:   # every write: ENOSPC
        d = Daemon(stderr=full)
        with d.connect() as s:
            for i in range(200):
                s.sendall(b"%d\n" % i)
                equal(recv_until(s, 1), b"%d\n" % i, "reply %d" % i)
        equal(d.stop(), 0, "exit status")


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_out_of_descriptors_pauses_then_resumes():
    if harness.VALGRIND:
        return  # valgrind takes descriptors of its own from the 32
    # 32 descriptors: a few for the daemon itself, the rest for clients;
    # lowered after the start, so that max_connections, sized to the
    # limit at start, lets accept() run out (as when something else has
    # taken the descriptors)
    d = Daemon()
    subprocess.run(["prlimit", "--pid", str(d.proc.pid), "--nofile=32:32"],
                   check=True, timeout=harness.WAIT)
    held = []
    for _ in range(40):   # more than it can accept; the rest wait in backlog
        held.append(socket.create_connection((d.address, d.port),
                                             timeout=harness.WAIT))
    d.wait_log("accept; pausing new connections: Too many open files")
    before = cpu_seconds(d.proc.pid)
    time.sleep(1.0)   # measuring that it idles, not waiting for it
    spent = cpu_seconds(d.proc.pid) - before
    check(spent < 0.5, "busy while out of descriptors: %.2fs CPU" % spent)
    check(d.log().count("pausing new connections") == 1,
          "logged more than once per episode:\n" + d.log())
    for s in held[:20]:
        s.close()
    # the clients that waited in the backlog are served now
    last = held[-1]
    last.sendall(b"late\n")
    equal(recv_until(last, 1), b"late\n", "a client that waited")
    d.wait_log("accepting new connections again")
    for s in held[20:]:
        s.close()


def test_switches_to_configured_user_as_root():
    if os.geteuid() != 0:
        return
    d = Daemon('user = "nobody";\n')
    with open("/proc/%d/status" % d.proc.pid) as f:
        uid = [l.split()[1:] for l in f if l.startswith("Uid:")][0]
    import pwd
    nobody = str(pwd.getpwnam("nobody").pw_uid)
    equal(uid, [nobody] * 4, "real, effective, saved, fs uid")
    with d.connect() as s:
        s.sendall(b"as nobody\n")
        equal(recv_until(s, 1), b"as nobody\n", "serving after the switch")
    d.wait_log("running as user nobody")


def test_warns_when_root_without_user():
    if os.geteuid() != 0:
        return
    d = Daemon()
    d.wait_log("running as root: set 'user'")


def test_open_file_limit_raised_and_respected():
    # the soft limit is raised to the hard one at start, and said (under
    # valgrind, which shows its client a hard limit equal to the soft one,
    # there is nothing to raise)
    d = Daemon(prefix=["prlimit", "--nofile=64:2048"])
    if not harness.VALGRIND:
        d.wait_log("open file limit raised from 64 to 2048")
    with d.connect() as s:
        s.sendall(b"x\n")
        equal(recv_until(s, 1), b"x\n", "serving")
    equal(d.stop(), 0, "exit status")
    # a hard limit below max_connections: the daemon says how many it can
    # take, and the ones past them get refuse_reply instead of a wait
    d = Daemon('max_connections = 1000;\nrefuse_reply = "full";\n',
               prefix=["prlimit", "--nofile=48:48"])
    d.wait_log("leaves room for ")
    room = int(d.log().split("leaves room for ")[1].split(":")[0])
    check(0 < room < 48, "room %d" % room)
    held = []
    try:
        for i in range(room):
            s = d.connect()
            s.sendall(b"%d\n" % i)
            equal(recv_until(s, 1), b"%d\n" % i, "connection %d" % i)
            held.append(s)
        with d.connect() as s:
            equal(recv_until(s), b"full\n", "the one past the room")
    finally:
        for s in held:
            s.close()
    equal(d.stop(), 0, "exit status")


def test_message_timeout_ends_a_trickling_client():
    # a byte now and then keeps a connection from being idle; the time to
    # complete one message is bounded by message_timeout_ms
    d = Daemon('idle_timeout_ms = 100000;\nmessage_timeout_ms = 300;\n')
    slow = d.connect()
    ok_client = d.connect()
    t0 = time.monotonic()
    gone = False
    for i in range(40):     # up to 4 s of trickling, a byte every 0.1 s
        try:
            slow.sendall(b"x")
        except (BrokenPipeError, ConnectionResetError):
            gone = True
            break
        # the other client's whole lines are answered all along
        ok_client.sendall(b"line %d\n" % i)
        equal(recv_until(ok_client, 1), b"line %d\n" % i, "whole lines")
        if time.monotonic() - t0 > 0.3 and d.log().count("message not "
                                                         "whole after"):
            break
        time.sleep(0.1)     # pacing the client, not waiting for the server
    if not gone:
        try:
            equal(read_to_eof(slow), b"", "the trickling client closed")
        except ConnectionResetError:
            pass    # closed while a byte of ours was on its way: a reset
    d.wait_log("message not whole after 300 ms; closing")
    check(time.monotonic() - t0 >= 0.25, "closed before message_timeout_ms")
    slow.close()
    ok_client.close()


def test_long_messages_logged_up_to_log_message_bytes():
    # records longer than the old 64 KiB log buffer once their escapes are
    # counted were dropped, not even counted as lost
    d = Daemon('log_message_bytes = 65536;\nmax_message_bytes = 100000;\n')
    msg = b"\x01" * 20000 + b"z" * 30000     # 80,000 + 30,000 bytes escaped
    with d.connect() as s:
        s.sendall(msg + b"\n")
        equal(recv_until(s, 1), msg + b"\n", "echo of the long message")
        s.sendall(b"after\n")
        equal(recv_until(s, 1), b"after\n", "the next one")
    d.wait_log('message 2: "after"')
    check(('message 1: "' + "\\001" * 20000 + "z" * 30000 + '"\n') in d.log(),
          "the long record is not in the log whole")
    check("records lost" not in d.log(), d.log()[-300:])


def test_journal_target_without_a_journal_falls_back_to_stderr():
    if os.path.exists("/run/systemd/journal/socket"):
        print("# a journal runs here: nothing to fall back from")
        return
    d = Daemon('log_target = "journal";\n', debug=False)
    d.wait_log("<4>no journal at /run/systemd/journal/socket: logging to "
               "standard error\n")
    with d.connect() as s:
        s.sendall(b"seen\n")
        equal(recv_until(s, 1), b"seen\n", "reply")
    d.wait_log('message 1: "seen"')


if __name__ == "__main__":
    harness.run(globals())

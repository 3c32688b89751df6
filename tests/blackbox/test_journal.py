# SPDX-License-Identifier: ISC
"""Journal fields: a real systemd-journald runs in a private mount
namespace, with temporary directories bound over /run/systemd and
/run/log, so the daemon's native-protocol records land in a journal of our
own, read back with `journalctl -D ... -o json`. Skips (77) where mount
namespaces, journald or journalctl are not available."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import Daemon, check, equal, recv_until  # noqa: E402

INSIDE = "ECHOREPLYD_TEST_NAMESPACE"
JOURNALD = [p for p in ("/lib/systemd/systemd-journald",
                        "/usr/lib/systemd/systemd-journald")
            if os.access(p, os.X_OK)]
MSGID = {
    "connect": "d686d1296c434ed88e1d17355dd5b3be",
    "message": "0c8a54bcd36a44dbaf136f0315e05306",
    "too_long": "21a93533bb6c4ec094592975f81b1b2a",
    "disconnect": "e93efcf4e5b14c7cad9ae559eaedf5ce",
    "tls": "f28b5c67d693441386aa0e01277b72ff",
}


class Journald:
    """systemd-journald on the /run/systemd and /run/log of this mount
    namespace, which the test bound to fresh temporary directories."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="echoreplyd-journal-")
        for sub, target in (("systemd", "/run/systemd"), ("log", "/run/log")):
            os.mkdir(os.path.join(self.dir, sub))
            subprocess.run(["mount", "--bind", os.path.join(self.dir, sub),
                            target], check=True, timeout=harness.WAIT)
        self.out = open(os.path.join(self.dir, "journald.out"), "wb")
        self.start()

    def start(self):
        """Starts journald (again: a test reads the journal once stopped)."""
        sock = "/run/systemd/journal/socket"
        if os.path.exists(sock):
            os.unlink(sock)
        self.proc = subprocess.Popen(JOURNALD[:1], stdin=subprocess.DEVNULL,
                                     stdout=self.out, stderr=self.out)
        deadline = time.monotonic() + harness.WAIT
        while not os.path.exists(sock):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.out.flush()
                with open(self.out.name, "rb") as f:
                    raise AssertionError("journald did not start: %r" %
                                         f.read())
            time.sleep(0.02)

    def stop(self):
        """Stops journald (it syncs its files on the way out)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(harness.WAIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def records(self, *matches):
        r = subprocess.run(["journalctl", "-D", "/run/log/journal",
                            "--no-pager", "--all", "-o", "json"] +
                           list(matches),
                           capture_output=True, timeout=harness.WAIT)
        return [json.loads(line) for line in r.stdout.splitlines()
                if line.strip()]

    def cleanup(self):
        self.stop()
        self.out.close()
        for target in ("/run/systemd", "/run/log"):
            subprocess.run(["umount", target], timeout=harness.WAIT)
        shutil.rmtree(self.dir)


def by_id(records, kind):
    return [r for r in records if r.get("MESSAGE_ID") == MSGID[kind]]


journald = None     # started once, inside the namespace


def journal_daemon(name, listener="", body=""):
    """journald running again if a test stopped it, and a daemon logging
    to it on a listener called name (listener: more of its settings)."""
    if journald.proc.poll() is not None:
        journald.start()
    port = harness.free_port()
    return Daemon('listen = { name = "%s"; address = "127.0.0.1"; '
                  'port = %d; %s};\nlog_target = "journal";\n%s'
                  % (name, port, listener, body), port=port, listen=False,
                  debug=False)


def test_client_records_carry_fields():
    j = journald
    port = harness.free_port()
    d = Daemon('listen = { name = "jtest"; address = "127.0.0.1"; '
               'port = %d; };\n'
               'log_target = "journal";\nmax_message_bytes = 16;\n'
               % port, port=port, listen=False, debug=False)
    with d.connect() as s:
        cport = s.getsockname()[1]
        s.sendall(b"hello\tw\xc3\xb6rld\n")
        equal(recv_until(s, 1), b"hello\tw\xc3\xb6rld\n", "reply")
    with d.connect() as s2:
        cport2 = s2.getsockname()[1]
        s2.sendall(b"x" * 40 + b"\n")
        recv_until(s2, None)
    equal(d.stop(), 0, "exit status")
    check(d.log() == "", "stderr used although the journal was "
          "configured:\n" + d.log())
    j.stop()
    mine = [r for r in j.records("_PID=%d" % d.proc.pid)]
    check(mine, "no records of the daemon in the journal")

    peer = "127.0.0.1:%d" % cport
    for kind in ("connect", "message", "disconnect"):
        recs = [r for r in by_id(mine, kind)
                if r.get("CLIENT_PORT") == str(cport)]
        equal(len(recs), 1, "%s records of %s" % (kind, peer))
        r = recs[0]
        equal(r.get("CLIENT_ADDRESS"), "127.0.0.1", kind + " address")
        equal(r.get("LISTENER"), "jtest", kind + " listener")
        equal(r.get("SYSLOG_IDENTIFIER"), "echoreplyd", kind + " ident")
        equal(r.get("PRIORITY"), "6", kind + " priority")
        check(r["MESSAGE"].startswith(peer + " "), kind + " MESSAGE=" +
              r["MESSAGE"])
    msg = by_id(mine, "message")[0]
    equal(msg.get("CLIENT_MESSAGE"), "hello\\tw\\303\\266rld",
          "escaped message")
    equal(msg["MESSAGE"], '%s message 1: "hello\\tw\\303\\266rld"' %
          peer, "MESSAGE=")
    check("RULE" not in msg, "RULE= without a rule")

    long_ = by_id(mine, "too_long")
    equal(len(long_), 1, "too-long records")
    equal(long_[0].get("CLIENT_PORT"), str(cport2), "too-long port")
    equal(long_[0].get("PRIORITY"), "4", "too-long priority")

    # what `journalctl -u echoreplyd CLIENT_ADDRESS=...` relies on
    matched = j.records("CLIENT_ADDRESS=127.0.0.1",
                        "CLIENT_PORT=%d" % cport)
    equal(sorted(r["MESSAGE_ID"] for r in matched),
          sorted(MSGID[k] for k in ("connect", "message",
                                    "disconnect")),
          "records matched by client address and port")
    # start-up records are there too, without client fields
    check(any(r["MESSAGE"].startswith("listening on 127.0.0.1:")
              for r in mine), "no start-up record")


def test_tls_records_carry_tls_fields():
    import ssl
    r = subprocess.run([harness.ECHOREPLYD, "-V"], capture_output=True,
                       timeout=harness.WAIT)
    if b"TLS: not built" in r.stdout:
        return
    j = journald
    d = journal_daemon("jtls", 'tls = true; tls_self_signed = true; '
                       'tls_alpn = "echo"; ')
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.set_alpn_protocols(["echo"])
    raw = d.connect()
    with ctx.wrap_socket(raw, server_hostname="sni\x01.example") as s:
        cport = s.getsockname()[1]
        cipher = s.cipher()[0]
        s.sendall(b"hi\n")
        equal(recv_until(s, 1), b"hi\n", "reply")
    equal(d.stop(), 0, "exit status")
    j.stop()
    everything = j.records("_PID=%d" % d.proc.pid)
    check(any("self-signed certificate" in r["MESSAGE"] for r in everything),
          "the self-signed certificate's record is not in the journal")
    mine = [r for r in everything if r.get("CLIENT_PORT") == str(cport)]
    for kind in ("tls", "message"):
        recs = by_id(mine, kind)
        equal(len(recs), 1, "%s records" % kind)
        r = recs[0]
        equal(r.get("TLS_VERSION"), "TLSv1.3", kind + " TLS_VERSION")
        equal(r.get("TLS_CIPHER"), cipher, kind + " TLS_CIPHER")
        equal(r.get("TLS_ALPN"), "echo", kind + " TLS_ALPN")
        # what the client chose is escaped, as its messages are
        equal(r.get("TLS_SNI"), "sni\\001.example", kind + " TLS_SNI")
        check("TLS_CLIENT_SUBJECT" not in r, "subject without a cert")
    check(not [r for r in by_id(mine, "connect") if "TLS_VERSION" in r],
          "TLS fields before the handshake")


def test_longest_record_reaches_the_journal():
    """A message logged whole at the largest log_message_bytes, every byte
    escaped to four: one record of about 260 KiB, not cut or dropped."""
    j = journald
    d = journal_daemon("jbig", body="max_message_bytes = 70000;\n"
                       "log_message_bytes = 65536;\n")
    with d.connect() as s:
        s.sendall(b"\x01" * 65536 + b"\n")
        equal(len(recv_until(s, 1)), 65537, "reply length")
    equal(d.stop(), 0, "exit status")
    check(d.log() == "", "stderr used:\n" + d.log()[:2000])
    j.stop()
    msgs = by_id(j.records("_PID=%d" % d.proc.pid), "message")
    equal(len(msgs), 1, "message records")
    got = msgs[0].get("CLIENT_MESSAGE") or ""
    check(got == "\\001" * 65536, "CLIENT_MESSAGE: %d bytes, starting %r"
          % (len(got), got[:40]))


NOTE = "records lost: the journal did not keep up"


def stall(j, s, n):
    """A message on s with journald running, then journald stopped and n
    messages answered, far more records than its socket's queue holds.
    journald is left stopped."""
    s.sendall(b"before\n")
    equal(recv_until(s, 1), b"before\n", "reply with journald running")
    j.proc.send_signal(signal.SIGSTOP)
    s.sendall(b"".join(b"m%d\n" % i for i in range(n)))
    got = recv_until(s, n)
    equal(got.count(b"\n"), n, "replies while journald is stopped")


def lost_told(mine):
    """The one 'records lost' note among a daemon's records: its count."""
    notes = [r["MESSAGE"] for r in mine if NOTE in r["MESSAGE"]]
    equal(len(notes), 1, "'records lost' notes")
    lost = int(notes[0].split()[1])
    check(lost > 0, "nothing was dropped: the test did not fill the queue")
    equal([r.get("PRIORITY") for r in mine if r["MESSAGE"] == notes[0]],
          ["4"], "the note's priority")
    return lost


def test_stopped_journald_stalls_no_client():
    """journald stopped: clients are still answered, and every record
    either reaches the journal or is counted in a 'records lost' note."""
    j = journald
    n = 3000
    d = journal_daemon("jstall")
    with d.connect() as s:
        cport = s.getsockname()[1]
        try:
            stall(j, s, n)
        finally:
            j.proc.send_signal(signal.SIGCONT)
        # journald drains its queue meanwhile: a message whose record goes
        # through brings the note with it
        after = 0
        deadline = time.monotonic() + harness.WAIT
        while True:
            s.sendall(b"after\n")
            equal(recv_until(s, 1), b"after\n", "reply after")
            after += 1
            if any(NOTE in r["MESSAGE"] for r in
                   j.records("_PID=%d" % d.proc.pid)):
                break
            check(time.monotonic() < deadline, "no '%s' note" % NOTE)
    equal(d.stop(), 0, "exit status")
    # all read by journald before it stops (it may drop what is queued)
    while not any(r["MESSAGE"] == "exiting" for r in
                  j.records("_PID=%d" % d.proc.pid)):
        check(time.monotonic() < deadline, "no 'exiting' record")
        time.sleep(0.02)
    j.stop()
    mine = j.records("_PID=%d" % d.proc.pid)
    msgs = [r for r in by_id(mine, "message")
            if r.get("CLIENT_PORT") == str(cport)]
    equal(len(msgs) + lost_told(mine), n + 1 + after, "message records in "
          "the journal plus those counted lost")


SYS_SENDMSG = {"x86_64": 46, "aarch64": 211}.get(os.uname().machine)


def in_syscall(pid, nr):
    """Whether pid is blocked in system call nr (/proc/PID/syscall)."""
    try:
        with open("/proc/%d/syscall" % pid) as f:
            return f.read().split()[0] == str(nr)
    except (OSError, IndexError):
        return False


def poll_until(fn, what, timeout=harness.WAIT):
    deadline = time.monotonic() + timeout
    while not fn():
        check(time.monotonic() < deadline, "not within %ss: %s" %
              (timeout, what))
        time.sleep(0.005)


def test_records_lost_before_exit_are_noted():
    """journald stopped while many messages come, then the daemon told to
    stop: no record went through since the drops, so the note that says
    how many were lost is sent at exit, once journald takes it."""
    if SYS_SENDMSG is None:
        return  # the number of sendmsg() is known for x86_64 and arm64
    j = journald
    n = 3000
    d = journal_daemon("jexit")
    with d.connect() as s:
        cport = s.getsockname()[1]
        try:
            stall(j, s, n)
            s.close()
            d.proc.send_signal(signal.SIGTERM)
            # its shutdown's records dropped too, it waits to send the note
            poll_until(lambda: d.proc.poll() is not None or
                       in_syscall(d.proc.pid, SYS_SENDMSG),
                       "the daemon exits or blocks in sendmsg()")
            check(d.proc.poll() is None, "the daemon exited with journald "
                  "stopped, the records lost unsaid")
        finally:
            j.proc.send_signal(signal.SIGCONT)
    equal(d.proc.wait(harness.WAIT), 0, "exit status")
    deadline = time.monotonic() + harness.WAIT
    while not any(NOTE in r["MESSAGE"] for r in
                  j.records("_PID=%d" % d.proc.pid)):
        check(time.monotonic() < deadline, "no '%s' note" % NOTE)
        time.sleep(0.02)
    mine = j.records("_PID=%d" % d.proc.pid)
    msgs = [r for r in by_id(mine, "message")
            if r.get("CLIENT_PORT") == str(cport)]
    lost = lost_told(mine)
    # the lost count has the messages' records, and may have those of the
    # shutdown (received SIGTERM, the client's end, exiting): a few
    check(n + 1 <= len(msgs) + lost <= n + 1 + 5, "%d message records "
          "and %d lost for %d messages" % (len(msgs), lost, n + 1))


def namespace_command():
    """unshare arguments that give a private mount namespace, or None."""
    if shutil.which("unshare") is None:
        return None
    for cmd in (["unshare", "-m", "--propagation", "private"],
                ["unshare", "-r", "-m", "--propagation", "private"]):
        r = subprocess.run(cmd + ["true"], capture_output=True,
                           timeout=harness.WAIT)
        if r.returncode == 0:
            return cmd
    return None


if __name__ == "__main__":
    if os.environ.get(INSIDE):
        try:
            journald = Journald()
        except Exception as e:
            # e.g. in a user namespace that journald cannot work in
            print("1..0 # SKIP cannot run journald here: %s" % e)
            sys.exit(77)
        try:
            harness.run(globals())
        finally:
            journald.cleanup()
    if not JOURNALD or shutil.which("journalctl") is None:
        print("1..0 # SKIP systemd-journald or journalctl not installed")
        sys.exit(77)
    cmd = namespace_command()
    if cmd is None:
        print("1..0 # SKIP no private mount namespace allowed here")
        sys.exit(77)
    env = dict(os.environ, **{INSIDE: "1"})
    r = subprocess.run(cmd + [sys.executable, os.path.abspath(__file__)],
                       env=env, timeout=harness.FILE_LIMIT)
    sys.exit(r.returncode)

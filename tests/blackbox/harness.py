# SPDX-License-Identifier: ISC
"""Shared helpers for the black-box tests: start the real echoreplyd on a
free loopback port, wait for READY=1 on our own NOTIFY_SOCKET, talk to it,
and stop it by PID. Every wait has a deadline; nothing sleeps and hopes."""

import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

ECHOREPLYD = os.environ.get("ECHOREPLYD", "src/echoreplyd")
ECHOREPLYCTL = os.environ.get("ECHOREPLYCTL", "src/echoreplyctl")
TOP_SRCDIR = os.environ.get("TOP_SRCDIR", ".")
# VALGRIND=1: run every daemon under valgrind memcheck; a test then also
# fails when the daemon, stopped with SIGTERM at the end, reports errors
# or leaks.
VALGRIND = os.environ.get("VALGRIND") == "1"
WAIT = 30.0 if VALGRIND else 10.0   # seconds any single wait may take
FILE_LIMIT = 240 if VALGRIND else 120     # seconds a whole file may take
# what an upper bound on a time ("promptly", "at once") is multiplied by
SLOW = 3.0 if VALGRIND else 1.0

_daemons = []


def free_port(host="127.0.0.1"):
    """A port nobody listens on right now (the kernel picks it)."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class NotifySocket:
    """The service manager's end of NOTIFY_SOCKET, read as systemd reads
    it: all the time, by a thread of its own. Read only while a test
    waits, it would fill (net.unix.max_dgram_qlen, 10 datagrams by
    default) and the daemon's next sd_notify() would block until a test
    read it: six reloads, or ten status changes, between two waits."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.setblocking(False)
        self.datagrams = []     # each as its lines, in the order sent
        self.seen = 0           # wait() has looked at those before it
        self.cond = threading.Condition()
        self.closing = False
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _take(self):
        """Whatever is queued; with the lock held. Whether any was."""
        got = False
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:     # BlockingIOError: nothing more
                return got
            self.datagrams.append(data.decode(errors="replace").split("\n"))
            got = True

    def _read(self):
        while not self.closing:
            # a bound on each turn, so that close() is seen
            r, _, _ = select.select([self.sock], [], [], 0.1)
            if r:
                with self.cond:
                    if self._take():
                        self.cond.notify_all()

    def drain(self):
        """Every datagram so far, those still queued too."""
        with self.cond:
            self._take()
            return self.datagrams

    def wait(self, key, timeout, proc, log):
        """The first datagram after the last one wait() returned that has
        the line `key`."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i in range(self.seen, len(self.datagrams)):
                    if key in self.datagrams[i]:
                        self.seen = i + 1
                        return self.datagrams[i]
                self.seen = len(self.datagrams)
                if proc.poll() is not None:
                    # what it sent before exiting is still queued
                    if self._take():
                        continue
                    raise AssertionError(
                        "echoreplyd exited with %d before %s; log:\n%s" %
                        (proc.returncode, key, log()))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("no %s from echoreplyd within %ss; "
                                         "log:\n%s" % (key, timeout, log()))
                self.cond.wait(min(left, 0.1))

    def close(self):
        self.closing = True
        self.thread.join()
        self.sock.close()


class Daemon:
    """One echoreplyd process with its own config, log and notify socket."""

    def __init__(self, conf_body="", port=None, address="127.0.0.1",
                 listen=True, args=(), expect_ready=True, stderr=None,
                 prefix=(), env=None, debug=True):
        """stderr: where the daemon's stderr goes instead of the log file;
        prefix: a command that runs the daemon (a shell,
        systemd-socket-activate ...); env: more environment variables;
        debug: pass -d (plain lines on stderr whatever the config says)."""
        self.dir = tempfile.mkdtemp(prefix="echoreplyd-test-")
        self.address = address
        self.port = port or free_port(address)
        self.conf = os.path.join(self.dir, "echoreplyd.conf")
        text = ""
        if listen:
            text += 'listen = { address = "%s"; port = %d; };\n' % (
                address, self.port)
        text += conf_body
        self.write_conf(text)
        self.notify_path = os.path.join(self.dir, "notify")
        self.notifier = NotifySocket(self.notify_path)
        # reachable after the daemon switches user, as systemd's would be
        os.chmod(self.dir, 0o755)
        os.chmod(self.notify_path, 0o777)
        self.notifications = self.notifier.datagrams
        self.log_path = os.path.join(self.dir, "stderr.log")
        self.log_file = open(self.log_path, "wb")
        env = dict(os.environ, NOTIFY_SOCKET=self.notify_path, **(env or {}))
        env.pop("JOURNAL_STREAM", None)
        self.valgrind_log = os.path.join(self.dir, "valgrind.log")
        vg = ["valgrind", "-q", "--vgdb=no", "--error-exitcode=99",
              "--leak-check=full",
              "--errors-for-leak-kinds=definite", "--log-file=" +
              self.valgrind_log] if VALGRIND else []
        self.proc = subprocess.Popen(
            list(prefix) + vg + [ECHOREPLYD] + (["-d"] if debug else []) +
            ["-f", self.conf] + list(args),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=self.log_file if stderr is None else stderr, env=env)
        _daemons.append(self)
        if expect_ready:
            self.wait_notify("READY=1")

    def write_conf(self, text):
        tmp = self.conf + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, self.conf)

    def wait_notify(self, key, timeout=WAIT):
        """Waits for a notify datagram with the line `key` (e.g. READY=1),
        sent after the one the last wait returned, and returns its lines."""
        return self.notifier.wait(key, timeout, self.proc, self.log)

    def connect(self, timeout=WAIT):
        fam = socket.AF_INET6 if ":" in self.address else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect((self.address, self.port))
        return s

    def signal(self, sig):
        self.proc.send_signal(sig)

    def reload(self):
        """SIGHUP, then wait for RELOADING=1 and READY=1."""
        self.signal(signal.SIGHUP)
        self.wait_notify("RELOADING=1")
        self.wait_notify("READY=1")

    def stop(self, timeout=WAIT):
        """SIGTERM and wait; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("echoreplyd did not exit within %ss of "
                                 "SIGTERM" % timeout)

    def log(self):
        self.log_file.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def wait_log(self, text, timeout=WAIT, times=1):
        """Waits until the daemon's log contains text, times times (it is
        written once per loop iteration)."""
        deadline = time.monotonic() + timeout
        while self.log().count(text) < times:
            if time.monotonic() > deadline:
                raise AssertionError(
                    "log showed %r %d times, not %d; log:\n%s" %
                    (text, self.log().count(text), times, self.log()))
            time.sleep(0.02)

    def cleanup(self):
        """Stops the daemon and removes its files. Under VALGRIND, returns
        valgrind's complaints (empty when none)."""
        if self.dir is None:
            return ""
        complaints = ""
        if VALGRIND and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(WAIT)
            except subprocess.TimeoutExpired:
                complaints = "did not exit on SIGTERM\n"
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if VALGRIND and os.path.exists(self.valgrind_log):
            with open(self.valgrind_log) as f:
                complaints += f.read()
        self.notifier.close()
        self.log_file.close()
        for name in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, name))
        os.rmdir(self.dir)
        self.dir = None
        return complaints


class ControlDaemon(Daemon):
    """A Daemon whose control socket is `ctl_path`, in a directory of its
    own (`ctl_dir`) made before the config that names it: in conf_body,
    @CONTROL@ stands for that path and @DIR@ for the directory."""

    def __init__(self, conf_body="", **kw):
        self.ctl_dir = tempfile.mkdtemp(prefix="echoreplyd-ctl-")
        os.chmod(self.ctl_dir, 0o755)
        self.ctl_path = os.path.join(self.ctl_dir, "control")
        conf_body = conf_body.replace("@CONTROL@", self.ctl_path).replace(
            "@DIR@", self.ctl_dir)
        try:
            super().__init__(conf_body, **kw)
        except BaseException:
            if self not in _daemons:
                shutil.rmtree(self.ctl_dir, ignore_errors=True)
            raise

    def cleanup(self):
        complaints = super().cleanup()
        shutil.rmtree(self.ctl_dir, ignore_errors=True)
        return complaints


class ControlClient:
    """A client of the daemon's control socket: sends request lines,
    reads lines. Lines put back in `backlog` are read first."""

    def __init__(self, path, timeout=WAIT):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.s.connect(path)
                break
            except BlockingIOError:
                # its listen backlog is full for now: connect(2) does not
                # wait on a socket with a timeout
                if time.monotonic() > deadline:
                    self.s.close()
                    raise
                time.sleep(0.005)
            except OSError:
                self.s.close()
                raise
        self.buf = b""
        self.eof = False
        self.backlog = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.s.close()

    def send(self, line):
        if isinstance(line, str):
            line = line.encode()
        self.s.sendall(line + b"\n")

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout()
        self.s.settimeout(left)
        try:
            chunk = self.s.recv(1 << 20)
        except ConnectionResetError:
            chunk = b""    # it closed with our request unread
        if not chunk:
            self.eof = True
        self.buf += chunk

    def try_line(self, timeout):
        """The next line without its \\n, None at EOF, False when none
        comes within timeout."""
        if self.backlog:
            return self.backlog.pop(0)
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            if self.eof:
                return None
            try:
                self._fill(deadline)
            except socket.timeout:
                return False
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode("utf-8", "surrogateescape")

    def line(self, timeout=WAIT):
        """The next line without its \\n, or None at EOF."""
        line = self.try_line(timeout)
        if line is False:
            raise AssertionError("no (further) line within %ss; have %r" %
                                 (timeout, self.buf[-200:]))
        return line

    def answer(self, timeout=WAIT):
        """Data lines up to the final ok/error line: (lines, final)."""
        deadline = time.monotonic() + timeout
        lines = []
        while True:
            line = self.line(max(deadline - time.monotonic(), 0.001))
            if line is None:
                raise AssertionError("EOF before the final line, after %r" %
                                     lines[-5:])
            if line.split(" ", 1)[0] in ("ok", "error"):
                return lines, line
            lines.append(line)

    def request(self, request, timeout=WAIT):
        self.send(request)
        return self.answer(timeout)

    def read_to_eof(self, timeout=WAIT):
        deadline = time.monotonic() + timeout
        while not self.eof:
            try:
                self._fill(deadline)
            except socket.timeout:
                raise AssertionError("not closed within %ss; have %r" %
                                     (timeout, self.buf[-200:]))
        data, self.buf = self.buf, b""
        return data

    def silent(self, seconds):
        """True when nothing (nor EOF) comes for `seconds`."""
        if self.backlog or self.buf:
            raise AssertionError("expected silence, have %r" %
                                 (self.backlog or self.buf))
        r, _, _ = select.select([self.s], [], [], seconds)
        if r:
            self._fill(time.monotonic() + 1)
            raise AssertionError("expected silence, got %r" %
                                 (self.buf or "EOF"))
        return True


class TempDir:
    """A scratch directory, removed afterwards; file() writes a file in it."""

    def __enter__(self):
        self.path = tempfile.mkdtemp(prefix="echoreplyd-test-")
        return self

    def file(self, name, text):
        path = os.path.join(self.path, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def __exit__(self, *exc):
        shutil.rmtree(self.path)


def recv_until(s, count=None, terminator=b"\n", timeout=WAIT):
    """Reads until `count` terminators were seen (or EOF when count is
    None). Returns the bytes read."""
    deadline = time.monotonic() + timeout
    data = b""
    while True:
        if count is not None and data.count(terminator) >= count:
            return data
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("no reply within %ss; got %r" %
                                 (timeout, data[-200:]))
        s.settimeout(left)
        chunk = s.recv(65536)
        if not chunk:
            if count is None:
                return data
            raise AssertionError("connection closed after %r, wanted %d "
                                 "replies" % (data[-200:], count))
        data += chunk


def ctl(*args, input=None, timeout=WAIT):
    """Runs the real echoreplyctl; returns the CompletedProcess."""
    return subprocess.run([ECHOREPLYCTL] + list(args), input=input,
                          capture_output=True, timeout=timeout)


def check(cond, message="check failed"):
    if not cond:
        raise AssertionError(message)


def equal(got, want, what="value"):
    if got != want:
        raise AssertionError("%s: got %r, want %r" % (what, got, want))


def run(namespace):
    """Runs every test_* function in namespace, TAP-style; exit 0 when all
    pass, 1 when one failed, 99 on a hard error (the file's time limit)."""
    def on_alarm(signum, frame):
        print("Bail out! test file exceeded %ds" % FILE_LIMIT)
        while _daemons:
            _daemons.pop().cleanup()
        sys.exit(99)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(FILE_LIMIT)
    tests = [(n, f) for n, f in namespace.items()
             if n.startswith("test_") and callable(f)]
    print("1..%d" % len(tests))
    failed = 0
    for i, (name, fn) in enumerate(tests, 1):
        try:
            fn()
            print("ok %d %s" % (i, name))
        except Exception:
            failed += 1
            print("not ok %d %s" % (i, name))
            for line in traceback.format_exc().splitlines():
                print("# " + line)
        finally:
            complaints = ""
            while _daemons:
                complaints += _daemons.pop().cleanup()
            if complaints:
                failed += 1
                print("not ok %d %s # valgrind" % (i, name))
                for line in complaints.splitlines():
                    print("# " + line)
        sys.stdout.flush()
    sys.exit(1 if failed else 0)

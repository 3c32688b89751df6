#!/usr/bin/python3
# SPDX-License-Identifier: ISC
# The end-to-end scenario, run by tests/systemd/e2e inside a container whose
# PID 1 is systemd, as root, from e2e.service. It drives echoreplyd only
# through systemctl, journalctl, its socket and echoreplyctl, as an operator
# would. Results go to $E2E_OUT/log as TAP, and the exit status (0 all
# passed, 1 some failed) to $E2E_OUT/status.
#
# E2E_DEB: the .deb to install and purge (else: installed by make install).
import glob
import json
import os
import re
import resource
import selectors
import signal
import socket
import subprocess
import sys
import time
import traceback

OUT = os.environ.get("E2E_OUT", "/e2e-out")
DEB = os.environ.get("E2E_DEB", "")
HERE = os.path.dirname(os.path.abspath(__file__))
PORT = 13008
TOKEN = "%x" % int.from_bytes(os.urandom(6), "big")
RUNTIME_UNITS = "/run/systemd/system"

log = open(os.path.join(OUT, "log"), "a", buffering=1)
count = 0
failed = 0


def say(text):
    log.write(text + "\n")


def check(what, ok, detail=""):
    global count, failed
    count += 1
    if not ok:
        failed += 1
    say("%s %d - %s" % ("ok" if ok else "not ok", count, what))
    if detail and not ok:
        for line in str(detail).splitlines()[-40:]:
            say("#   " + line)
    return ok


def run(*cmd, ok=(0,), env=None):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=60, env=env)
    if p.returncode not in ok:
        raise RuntimeError("%s: exit %d\n%s" % (" ".join(cmd), p.returncode,
                                                 p.stdout))
    return p.stdout


def prop(unit, name):
    return run("systemctl", "show", "-P", name, unit).strip()


def until(what, pred, timeout=30.0):
    """Waits for pred() to be true (a state systemd or the daemon reaches),
    polling; raises after timeout seconds so that no wait is unbounded."""
    end = time.monotonic() + timeout
    while True:
        try:
            v = pred()
        except (OSError, RuntimeError):
            v = None
        if v:
            return v
        if time.monotonic() > end:
            raise RuntimeError("timed out waiting for " + what)
        time.sleep(0.05)


def ask(message, addr=("127.0.0.1", PORT), timeout=5.0):
    """One message on a fresh connection; the reply line, or None if the
    connection was refused or closed without one."""
    with socket.create_connection(addr, timeout=timeout) as s:
        s.sendall(message.encode() + b"\n")
        f = s.makefile("rb")
        line = f.readline()
    return line.decode().rstrip("\n") if line else None


def journal(*matches):
    out = run("journalctl", "--no-pager", "-o", "json", *matches)
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def unit_file_text(unit):
    return run("systemctl", "cat", unit)


def config_path():
    exec_start = prop("echoreplyd.service", "ExecStart")
    m = re.search(r"argv\[\]=\S+ -f (\S+)", exec_start)
    if not m:
        raise RuntimeError("no -f in ExecStart: " + exec_start)
    return m.group(1)


def write_config(path, version, extra=""):
    with open(path, "w") as f:
        f.write("""# written by tests/systemd/scenario.py
listen = ( { name = "main"; address = "127.0.0.1"; port = %d; } );
rules = (
  { name = "greet"; prefix = "hello"; reply = "hi %%{message}"; },
  { name = "version"; exact = "version"; reply = "%s"; }
);
default_reply = "%%{message}";
max_connections = 1500;
refuse_reply = "busy";
%s
""" % (PORT, version, extra))


def drop_in(unit, name, text):
    d = os.path.join(RUNTIME_UNITS, unit + ".d")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name + ".conf"), "w") as f:
        f.write(text)
    run("systemctl", "daemon-reload")


def remove_drop_in(unit, name):
    os.unlink(os.path.join(RUNTIME_UNITS, unit + ".d", name + ".conf"))
    run("systemctl", "daemon-reload")


def step(fn):
    """Runs one part of the scenario; an exception fails it, the rest go on."""
    say("# " + fn.__doc__.strip().splitlines()[0])
    try:
        fn()
    except Exception:
        check(fn.__name__ + " ran to its end", False, traceback.format_exc())


# --- the parts, in order -------------------------------------------------

def install():
    """Install: the package, or make install; the socket enabled and started"""
    if DEB:
        run("dpkg", "-i", DEB)
        check("dpkg -i: echoreplyd.socket enabled",
              run("systemctl", "is-enabled", "echoreplyd.socket",
                  ok=(0, 1)).strip() == "enabled")
        check("dpkg -i: echoreplyd.socket started",
              prop("echoreplyd.socket", "ActiveState") == "active")
        check("dpkg -i: the service is not started before a client",
              prop("echoreplyd.service", "ActiveState") == "inactive")
    else:
        run("systemctl", "daemon-reload")
        run("systemctl", "enable", "--now", "echoreplyd.socket")
        check("echoreplyd.socket enabled and started",
              prop("echoreplyd.socket", "ActiveState") == "active")
    check("the units are the installed ones",
          "ProtectSystem=strict" in unit_file_text("echoreplyd.service"))
    # the daemon raises its soft limit itself; the hard one is the unit's
    soft = prop("echoreplyd.service", "LimitNOFILESoft")
    check("LimitNOFILE= holds max_connections", int(soft) >= 65536, soft)
    write_config(config_path(), "v1")


def activation():
    """The first client starts the service; the notify status and journal"""
    check("service inactive before the first client",
          prop("echoreplyd.service", "ActiveState") == "inactive")
    reply = ask("hello " + TOKEN)
    check("first client answered by the rule", reply == "hi hello " + TOKEN,
          reply)
    check("service started by it",
          prop("echoreplyd.service", "ActiveState") == "active")
    check("service is Type=notify and READY",
          prop("echoreplyd.service", "SubState") == "running")
    status = until("a status line",
                   lambda: re.match(r"\d+ clients?, [1-9]\d* messages?",
                                    prop("echoreplyd.service", "StatusText")))
    check("StatusText is the daemon's", status is not None)
    st = run("systemctl", "status", "--no-pager", "echoreplyd.service",
             ok=(0, 3))
    check("systemctl status shows it", re.search(r'Status: "\d+ clients?',
                                                 st), st)
    recs = until("the message record in the journal",
                 lambda: journal("CLIENT_MESSAGE=hello " + TOKEN))
    r = recs[0]
    check("journal: CLIENT_ADDRESS", r.get("CLIENT_ADDRESS") == "127.0.0.1",
          r)
    check("journal: RULE", r.get("RULE") == "greet", r)
    check("journal: MESSAGE_ID of a message",
          r.get("MESSAGE_ID") == "0c8a54bcd36a44dbaf136f0315e05306", r)
    check("journal: the unit's own record",
          r.get("_SYSTEMD_UNIT") == "echoreplyd.service", r)
    out = run("journalctl", "--no-pager", "-u", "echoreplyd.service",
              "MESSAGE_ID=d686d1296c434ed88e1d17355dd5b3be", "-o", "cat")
    check("journalctl -u finds the connect record", "127.0.0.1" in out, out)


def reload():
    """systemctl reload: a new rule, then a broken file"""
    pid = prop("echoreplyd.service", "MainPID")
    cfg = config_path()
    write_config(cfg, "v2")
    run("systemctl", "reload", "echoreplyd.service")
    until("the new rule", lambda: ask("version") == "v2")
    check("reload: the new rule answers", True)
    check("reload: same main PID", prop("echoreplyd.service", "MainPID") ==
          pid)
    try:
        with open(cfg, "a") as f:
            f.write("rules = ( { name = \"broken\"; exact = ; } );\n")
        run("systemctl", "reload", "echoreplyd.service")
        err = until("the reload error in the journal", lambda: [
            r for r in journal("-u", "echoreplyd.service", "-p", "warning")
            if re.match(re.escape(cfg) + r":\d+: ", r.get("MESSAGE", ""))])
        check("broken reload: the file:line: error is logged", err,
              err and err[0]["MESSAGE"])
        check("broken reload: the old config still answers",
              ask("version") == "v2")
        check("broken reload: same main PID, still active",
              prop("echoreplyd.service", "MainPID") == pid and
              prop("echoreplyd.service", "ActiveState") == "active")
    finally:
        write_config(cfg, "v3")
        run("systemctl", "reload", "echoreplyd.service")
    until("the fixed config", lambda: ask("version") == "v3")


def upgrade():
    """dpkg -i again over the running package: the service restarted"""
    if not DEB:
        return
    pid = prop("echoreplyd.service", "MainPID")
    check("upgrade: the service runs before", pid != "0")
    listening = prop("echoreplyd.socket", "ActiveEnterTimestampMonotonic")
    run("dpkg", "-i", DEB)
    until("the service restarted", lambda: prop(
        "echoreplyd.service", "MainPID") not in ("0", pid) and
        prop("echoreplyd.service", "SubState") == "running")
    check("upgrade: the running service was restarted", True)
    check("upgrade: the changed config kept", ask("version") == "v3")
    check("upgrade: the socket was not restarted (its backlog kept)",
          prop("echoreplyd.socket", "ActiveEnterTimestampMonotonic") ==
          listening and prop("echoreplyd.socket", "ActiveState") ==
          "active", prop("echoreplyd.socket", "ActiveEnterTimestamp"))


def restarts():
    """The watchdog, a crash, and a bad config at start (no restart loop)"""
    unit = "echoreplyd.service"
    drop_in(unit, "e2e-watchdog", "[Service]\nWatchdogSec=1s\n"
            "TimeoutAbortSec=5s\n")
    try:
        watchdog(unit)
    finally:
        remove_drop_in(unit, "e2e-watchdog")
        run("systemctl", "restart", unit)
    crash(unit)
    bad_start(unit)


def watchdog(unit):
    run("systemctl", "restart", unit)
    check("watchdog: 1 s in force", prop(unit, "WatchdogUSec") == "1s",
          prop(unit, "WatchdogUSec"))
    first = until("a watchdog ping",
                  lambda: int(prop(unit, "WatchdogTimestampMonotonic")))
    until("another watchdog ping",
          lambda: int(prop(unit, "WatchdogTimestampMonotonic")) > first)
    check("watchdog: the daemon pings it", True)
    signal_and_wait_restart(unit, signal.SIGSTOP, "the watchdog fired")
    fired = run("journalctl", "--no-pager", "-u", unit, "-o", "cat",
                "_PID=1")
    check("watchdog: a stalled daemon is killed and restarted",
          "Watchdog timeout" in fired, fired[-2000:])
    check("watchdog: served again after the restart", ask("version") == "v3")


def signal_and_wait_restart(unit, sig, what):
    """Sends sig to the main process; waits for systemd's restart of it.
    Returns the old main PID."""
    pid = int(prop(unit, "MainPID"))
    restarts = int(prop(unit, "NRestarts"))
    os.kill(pid, sig)
    until("a restart after " + what,
          lambda: int(prop(unit, "NRestarts")) > restarts and
          prop(unit, "SubState") == "running")
    return pid


def crash(unit):
    pid = signal_and_wait_restart(unit, signal.SIGSEGV, "the crash")
    check("crash: restarted with a new PID",
          int(prop(unit, "MainPID")) not in (0, pid))
    check("crash: served again", ask("version") == "v3")


def bad_start(unit):
    cfg = config_path()
    good = open(cfg).read()
    try:
        bad_config_at_start(unit, cfg)
    finally:
        with open(cfg, "w") as f:
            f.write(good)
        run("systemctl", "reset-failed", unit)
    check("fixed config: the next client starts it", ask("version") == "v3")


def bad_config_at_start(unit, cfg):
    with open(cfg, "w") as f:
        f.write("max_connections = \"many\";\n")
    p = subprocess.run(["systemctl", "restart", unit], timeout=60,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    check("bad config at start: systemctl restart fails", p.returncode != 0)
    until("the failed state", lambda: prop(unit, "ActiveState") == "failed")
    # systemd decides about Restart= as it reaps the process: a restart
    # would show as SubState auto-restart, or as a queued job
    check("bad config at start: failed, not auto-restart",
          prop(unit, "SubState") == "failed", prop(unit, "SubState"))
    check("bad config at start: exit status 78 (EX_CONFIG)",
          prop(unit, "ExecMainStatus") == "78", prop(unit, "ExecMainStatus"))
    # a start by hand counts NRestarts from 0
    check("bad config at start: no restart",
          prop(unit, "NRestarts") == "0" and
          prop(unit, "Job") in ("", "0"), "NRestarts=%s Job=%s" % (
              prop(unit, "NRestarts"), prop(unit, "Job")))
    check("bad config at start: the socket still listens",
          prop("echoreplyd.socket", "ActiveState") == "active" and
          prop("echoreplyd.socket", "SubState") == "listening",
          prop("echoreplyd.socket", "SubState"))
    # journald reads the unit's output on its own time
    out = until("the start error in the journal", lambda: [
        r["MESSAGE"] for r in journal("-u", unit)
        if re.match(re.escape(cfg) + r":1: ", str(r.get("MESSAGE", "")))])
    check("bad config at start: the error names the file and line", out,
          out)


def many_clients():
    """Clients up to max_connections at once, then one past it"""
    n = 1500
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    socks = []
    try:
        for i in range(n):
            s = socket.create_connection(("127.0.0.1", PORT), timeout=10)
            socks.append(s)
        for i, s in enumerate(socks):
            s.sendall(b"c%d\n" % i)
        sel = selectors.DefaultSelector()
        got = {}
        for i, s in enumerate(socks):
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ, i)
            got[i] = b""
        left = n
        end = time.monotonic() + 60
        while left and time.monotonic() < end:
            for key, _ in sel.select(1.0):
                i = key.data
                try:
                    data = key.fileobj.recv(4096)
                except BlockingIOError:
                    continue
                got[i] += data
                if not data or got[i].endswith(b"\n"):
                    sel.unregister(key.fileobj)
                    left -= 1
        good = sum(got[i] == b"c%d\n" % i for i in range(n))
        check("%d clients at once: all answered" % n, good == n,
              "%d of %d answered; LimitNOFILESoft=%s" %
              (good, n, prop("echoreplyd.service", "LimitNOFILESoft")))
        reply = ask("one too many")
        check("the one past max_connections gets refuse_reply",
              reply == "busy", reply)
    finally:
        for s in socks:
            s.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def firewall():
    """The socket's IP firewall drops an address not allowed"""
    run("ip", "address", "add", "192.0.2.1/32", "dev", "lo")
    drop_in("echoreplyd.socket", "e2e-other",
            "[Socket]\nListenStream=192.0.2.1:%d\n" % (PORT + 1))
    run("systemctl", "stop", "echoreplyd.service")
    run("systemctl", "restart", "echoreplyd.socket")
    try:
        ss = run("ss", "-Hltn", "src", "192.0.2.1")
        check("firewall: the socket listens on 192.0.2.1",
              ":%d" % (PORT + 1) in ss, ss)
        check("firewall: localhost still answered", ask("version") == "v3")
        try:
            reply = ask("version", addr=("192.0.2.1", PORT + 1), timeout=2)
            check("firewall: 192.0.2.1 dropped", False, "answered: %r" %
                  reply)
        except OSError as e:
            check("firewall: 192.0.2.1 dropped (%s)" % e,
                  isinstance(e, TimeoutError), repr(e))
    finally:
        remove_drop_in("echoreplyd.socket", "e2e-other")
        run("systemctl", "stop", "echoreplyd.service")
        run("systemctl", "restart", "echoreplyd.socket")


def hardening():
    """The sandbox, seen from inside by a probe run as its ExecStart"""
    with open("/tmp/echoreplyd-e2e-marker", "w") as f:
        f.write("visible outside the unit's private /tmp only\n")
    run("systemctl", "stop", "echoreplyd.service")
    drop_in("echoreplyd.service", "e2e-probe",
            "[Service]\nType=oneshot\nExecStart=\n"
            "ExecStart=/usr/bin/python3 -I %s/probe.py\n" % HERE)
    try:
        run("systemctl", "start", "echoreplyd.service")
        recs = until("the probe's report in the journal", lambda: [
            r["MESSAGE"] for r in journal("-u", "echoreplyd.service")
            if str(r.get("MESSAGE", "")).startswith("PROBE ")])
        check("the probe reported", recs)
        for what, (ok, seen) in json.loads(recs[-1][6:]).items():
            check("hardening: " + what, ok, seen)
    finally:
        remove_drop_in("echoreplyd.service", "e2e-probe")
        os.unlink("/tmp/echoreplyd-e2e-marker")
        run("systemctl", "stop", "echoreplyd.service")


def templates():
    """Two template instances on one port"""
    run("systemctl", "disable", "--now", "echoreplyd.socket",
        "echoreplyd.service")
    run("systemctl", "enable", "--now", "echoreplyd@1.socket",
        "echoreplyd@2.socket")
    try:
        replies = [ask("t%d" % i) for i in range(64)]
        check("templates: 64 clients answered",
              replies == ["t%d" % i for i in range(64)], replies)
        for i in (1, 2):
            unit = "echoreplyd@%d.service" % i
            # the kernel spreads connections by a hash of their ports: with
            # 64 of them, one instance left out has odds of 2^-63
            until("instance %d's status line" % i,
                  lambda: re.match(r"\d+ clients?, [1-9]",
                                   prop(unit, "StatusText")))
            check("templates: instance %d served some" % i,
                  prop(unit, "ActiveState") == "active")
            check("templates: instance %d has its runtime directory" % i,
                  os.path.isdir("/run/echoreplyd-%d" % i))
    finally:
        run("systemctl", "disable", "--now", "echoreplyd@1.socket",
            "echoreplyd@2.socket")
        run("systemctl", "stop", "echoreplyd@1.service",
            "echoreplyd@2.service")


def control():
    """echoreplyctl on the control socket of the running unit"""
    run("systemctl", "enable", "--now", "echoreplyd.socket")
    check("served again from echoreplyd.socket", ask("hello ctl") ==
          "hi hello ctl")
    out = run("echoreplyctl", "-C", "--control-socket",
              "/run/echoreplyd/control", "stats")
    check("echoreplyctl -C stats", re.search(r"messages", out), out)
    p = subprocess.run(["echoreplyctl", "-C", "--control-socket",
                        "/run/echoreplyd/control", "-t", "10", "wait",
                        "^hello ctl$"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=30)
    check("echoreplyctl -C wait finds the message", p.returncode == 0,
          p.stdout)


def stop():
    """systemctl stop and disable"""
    run("systemctl", "disable", "--now", "echoreplyd.socket",
        "echoreplyd.service")
    check("stopped: socket and service inactive",
          prop("echoreplyd.socket", "ActiveState") == "inactive" and
          prop("echoreplyd.service", "ActiveState") == "inactive")
    try:
        ask("anyone?", timeout=2)
        check("stopped: nothing listens", False)
    except ConnectionRefusedError:
        check("stopped: nothing listens", True)


def purge():
    """dpkg --purge removes it all"""
    if not DEB:
        return
    files = [f for f in run("dpkg", "-L", "echoreplyd").splitlines()
             if os.path.isfile(f)]
    # an instance of the template, enabled and serving, as an admin has it
    run("systemctl", "enable", "--now", "echoreplyd@x.socket")
    check("purge: the instance serves before", ask("hello last") ==
          "hi hello last")
    run("dpkg", "--purge", "echoreplyd")
    check("purge: the instance is stopped",
          prop("echoreplyd@x.service", "ActiveState") != "active" and
          prop("echoreplyd@x.socket", "ActiveState") != "active")
    try:
        ask("anyone?", timeout=2)
        check("purge: nothing listens", False)
    except ConnectionRefusedError:
        check("purge: nothing listens", True)
    links = glob.glob("/etc/systemd/system/*.wants/echoreplyd@*")
    check("purge: no link enables an instance", not links, links)
    left = [f for f in files if os.path.lexists(f)]
    check("purge: no file of the package left", not left, left)
    check("purge: the config is gone", not os.path.exists(
        "/etc/echoreplyd.conf"))
    units = run("systemctl", "list-unit-files", "--no-legend",
                "echoreplyd*", ok=(0, 1))
    check("purge: systemd knows no echoreplyd unit", not units.strip(),
          units)


def main():
    say("# echoreplyd under systemd %s, %s" % (
        run("systemctl", "--version").split("\n")[0],
        "package " + os.path.basename(DEB) if DEB else "make install"))
    for fn in (install, activation, reload, upgrade, restarts, many_clients,
               firewall, hardening, templates, control, stop, purge):
        step(fn)
    if failed:
        say("# the journal's last records of echoreplyd:")
        for line in run("journalctl", "--no-pager", "-n", "80", "-o",
                        "short-monotonic", "-u", "echoreplyd*").splitlines():
            say("#   " + line)
    say("1..%d" % count)
    say("# %d failed" % failed)
    return 1 if failed else 0


if __name__ == "__main__":
    status = 1
    try:
        status = main()
    finally:
        with open(os.path.join(OUT, "status"), "w") as f:
            f.write("%d\n" % status)
        log.close()
    sys.exit(status)

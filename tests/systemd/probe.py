#!/usr/bin/python3
# SPDX-License-Identifier: ISC
# Run by tests/systemd/scenario.py as the ExecStart= of echoreplyd.service,
# with every other setting of the unit as installed: it reports, as one
# "PROBE {json}" line on stdout (the journal), what the sandbox really
# allows. Each entry is [ok, what was seen]; the scenario checks them all.
import errno
import json
import mmap
import os
import socket

results = {}


def report(name, ok, seen):
    results[name] = [bool(ok), str(seen)]


def refused(fn, *errnos):
    """Runs fn; returns (True, errno name) if it failed with one of errnos."""
    try:
        fn()
    except OSError as e:
        return e.errno in errnos, errno.errorcode.get(e.errno, e.errno)
    return False, "allowed"


def write_file(path):
    with open(path, "w") as f:
        f.write("probe\n")
    os.unlink(path)


def readonly(path):
    return bool(os.statvfs(path).f_flag & os.ST_RDONLY)


# the file system: all of it read-only but the runtime directory
for path in ("/usr", "/etc", "/var", "/run"):
    report("read-only " + path, readonly(path),
           "ro" if readonly(path) else "rw")
ok, seen = refused(lambda: write_file("/etc/echoreplyd-probe"),
                   errno.EROFS, errno.EACCES)
report("no write to /etc", ok, seen)
runtime = os.environ.get("RUNTIME_DIRECTORY", "")
try:
    write_file(os.path.join(runtime, "probe"))
    report("runtime directory writable", runtime.startswith("/run/"),
           runtime)
except OSError as e:
    report("runtime directory writable", False, "%s: %s" % (runtime, e))

# PrivateTmp=: the scenario left a file in the container's /tmp
report("private /tmp", not os.path.exists("/tmp/echoreplyd-e2e-marker"),
       sorted(os.listdir("/tmp")))

# PrivateDevices=: only the pseudo devices
devs = sorted(os.listdir("/dev"))
report("private /dev", "null" in devs and not any(
    d in devs for d in ("kmsg", "mem", "loop-control", "vda", "sda")), devs)

# the user: dynamic, no privileges, no capabilities
report("not root", os.getuid() != 0 and os.geteuid() != 0, os.getuid())
status = dict(line.split(":", 1) for line in open("/proc/self/status")
              if ":" in line)
report("no new privileges", status["NoNewPrivs"].strip() == "1",
       status["NoNewPrivs"].strip())
caps = {k: status[k].strip() for k in
        ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")}
report("no capabilities", all(int(v, 16) == 0 for v in caps.values()), caps)

# the system call filter and its neighbours
ok, seen = refused(lambda: os.setpriority(os.PRIO_PROCESS, 0,
                                          os.getpriority(os.PRIO_PROCESS, 0)
                                          + 1), errno.EPERM)
report("setpriority refused (@resources)", ok, seen)
try:
    import ctypes  # late: MemoryDenyWriteExecute= may refuse its closures
    libc = ctypes.CDLL(None, use_errno=True)
    PTRACE_TRACEME = 0
    rc = libc.ptrace(PTRACE_TRACEME, 0, None, None)
    err = ctypes.get_errno()
    report("ptrace refused (not @system-service)",
           rc == -1 and err == errno.EPERM,
           "rc=%d errno=%s" % (rc, errno.errorcode.get(err)))
except (ImportError, OSError, MemoryError) as e:
    report("ptrace refused (not @system-service)", False, "no ctypes: %s" % e)
ok, seen = refused(lambda: socket.sethostname("probe"), errno.EPERM)
report("sethostname refused", ok, seen)
ok, seen = refused(lambda: mmap.mmap(-1, 4096, prot=mmap.PROT_READ |
                                     mmap.PROT_WRITE | mmap.PROT_EXEC),
                   errno.EPERM, errno.EACCES)
report("no writable and executable memory", ok, seen)
for fam, name in ((socket.AF_INET, "AF_INET"), (socket.AF_INET6, "AF_INET6"),
                  (socket.AF_NETLINK, "AF_NETLINK")):
    ok, seen = refused(lambda: socket.socket(fam, socket.SOCK_DGRAM),
                       errno.EAFNOSUPPORT)
    report("no new %s socket" % name, ok, seen)
try:
    socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).close()
    report("AF_UNIX allowed", True, "allowed")
except OSError as e:
    report("AF_UNIX allowed", False, e)

# PrivateNetwork=: loopback only
nets = sorted(os.listdir("/sys/class/net"))
report("private network", nets == ["lo"], nets)

# the socket it was given
try:
    s = socket.socket(fileno=3)
    seen = (os.environ.get("LISTEN_FDS"), os.environ.get("LISTEN_FDNAMES"),
            s.getsockname())
    report("passed socket", seen == ("1", "main", ("127.0.0.1", 13008)), seen)
    s.detach()
except OSError as e:
    report("passed socket", False, e)

print("PROBE " + json.dumps(results), flush=True)

# SPDX-License-Identifier: ISC
"""Reloads of configurations made at random, over the control socket, with
clients connected. What is bound stays (a reload does not rebind); the
groups of the four listeners come and go and turn TLS on and off, change
framing and default replies; rules and the top-level reply change; now
and then the file is broken. After each reload the answer says what
`echoreplyd -n` says of the file, a broken file leaves the running
configuration serving, every listener answers as the group of its name
(or the top level) says, and connections that outlive a reload are
answered by the new rules."""

import os
import random
import socket
import ssl
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import check, equal, recv_until  # noqa: E402

# the listeners, fixed for the whole test: a reload does not change what
# is bound (echoreplyd(8), SIGHUP), only what each listener serves
KINDS = {"a": "tcp", "b": "udp", "c": "unix", "d": "tcp"}
MESSAGES = ["r1", "r2", "probe", "hello there"]
BROKEN = [
    "bogus_key = 1;\n",
    'default_reply = 7;\n',
    'rules = ( { exact = 5; reply = "x"; } );\n',
    'rules = ( { regex = "("; reply = "x"; } );\n',
    'framing = "sideways";\n',
    'max_connections = -3;\n',
]


def random_config(rng, where, names):
    """(model, config text) with groups for the listeners `names` (where:
    {name: port or path}): what each serves, the rules and the default."""
    services = {}
    text = "listen = (\n" if names else ""
    for i, name in enumerate(names):
        kind = KINDS[name]
        svc = {"tls": False, "framing": "line",
               "default": rng.choice([None, None, "L%s:%%{message}" % name])}
        if kind != "udp":
            svc["tls"] = rng.random() < 0.25
            if rng.random() < 0.25:
                svc["framing"] = "delimiter"
        g = 'name = "%s"; ' % name
        if kind == "unix":
            g += 'protocol = "unix"; path = "%s"; ' % where[name]
        else:
            g += 'address = "127.0.0.1"; port = %d; ' % where[name]
        if kind == "udp":
            g += 'protocol = "udp"; '
        if svc["tls"]:
            g += "tls = true; tls_self_signed = true; "
        if svc["framing"] == "delimiter":
            g += 'framing = "delimiter"; delimiter = ";"; '
        if svc["default"] is not None:
            g += 'default_reply = "%s"; ' % svc["default"]
        text += "  { %s}%s\n" % (g, "," if i + 1 < len(names) else "")
        services[name] = svc
    if names:
        text += ");\n"
    rules = {}
    for m in rng.sample(["r1", "r2", "probe"], rng.randint(0, 3)):
        rules[m] = rng.choice(["R1", "R2", "rule-%s" % m])
    if rules:
        text += "rules = (\n%s\n);\n" % ",\n".join(
            '  { exact = "%s"; reply = "%s"; }' % kv
            for kv in sorted(rules.items()))
    default = rng.choice(["%{message}", "D:%{message}", "fixed"])
    text += 'default_reply = "%s";\n' % default
    if rng.random() < 0.5:
        text += "log_messages = %s;\n" % rng.choice(["true", "false"])
    return {"services": services, "rules": rules, "default": default}, text


def service(model, name):
    """What listener `name` serves: its group's settings, or the top
    level's when the file has no group of that name."""
    return model["services"].get(name, {"tls": False, "framing": "line",
                                        "default": None})


def want(model, name, message):
    if message in model["rules"]:
        reply = model["rules"][message]
    else:
        reply = service(model, name)["default"] or model["default"]
    return reply.replace("%{message}", message).encode()


def ends(svc):
    return b";" if svc["framing"] == "delimiter" else b"\n"


def stream_to(name, where, svc):
    """A new connection to listener `name`, TLS done if it serves TLS."""
    if KINDS[name] == "unix":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(harness.WAIT)
        s.connect(where[name])
    else:
        s = socket.create_connection(("127.0.0.1", where[name]),
                                     timeout=harness.WAIT)
    if svc["tls"]:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s = ctx.wrap_socket(s)
    return s


def ask(s, svc, message):
    s.sendall(message.encode() + ends(svc))
    return recv_until(s, 1, terminator=ends(svc))


def check_served(model, where, what, log):
    """Every listener answers every message as the model says."""
    for name in where:
        svc = service(model, name)
        for m in MESSAGES:
            w = want(model, name, m) + ends(svc)
            try:
                if KINDS[name] == "udp":
                    with socket.socket(socket.AF_INET,
                                       socket.SOCK_DGRAM) as u:
                        u.settimeout(harness.WAIT)
                        u.sendto(m.encode() + b"\n",
                                 ("127.0.0.1", where[name]))
                        got = u.recv(65536)
                else:
                    with stream_to(name, where, svc) as s:
                        got = ask(s, svc, m)
            except OSError as e:
                raise AssertionError("%s: listener %s: %s; log:\n%s" %
                                     (what, name, e, log()[-2000:]))
            equal(got, w, "%s: %r to listener %s (%s, %s)" %
                  (what, m, name, KINDS[name], svc))


def test_random_reloads_with_clients_connected():
    seed = int(os.environ.get("ECHOREPLYD_TEST_SEED", "12"))
    with harness.TempDir() as tmp:
        reloads(random.Random(seed), seed, tmp.path)


def reloads(rng, seed, tmp):
    where = {n: (os.path.join(tmp, "c.sock") if k == "unix" else
                 harness.free_port()) for n, k in KINDS.items()}
    model, text = random_config(rng, where, sorted(KINDS))
    d = harness.ControlDaemon('control_socket = "@CONTROL@";\n' + text,
                              listen=False)
    held = []   # (connection, listener, its service then)
    try:
        check_served(model, where, "at start", d.log)
        with harness.ControlClient(d.ctl_path) as c:
            for k in range(12 if harness.VALGRIND else 40):
                what = "reload %d (seed %d)" % (k, seed)
                # a client that stays on, on a stream listener
                name = rng.choice(["a", "c", "d"])
                if len(held) < 6:
                    svc = service(model, name)
                    held.append((stream_to(name, where, svc), name, svc))
                # groups for some of the listeners, the others served as
                # the top level says
                names = rng.sample(sorted(KINDS), rng.randint(0, 4))
                new, text = random_config(rng, where, names)
                if rng.random() < 0.2:
                    text += rng.choice(BROKEN)
                d.write_conf('control_socket = "%s";\n' % d.ctl_path + text)
                checked = subprocess.run(
                    [harness.ECHOREPLYD, "-n", "-f", d.conf],
                    capture_output=True, timeout=harness.WAIT)
                lines, final = c.request("reload")
                if checked.returncode == 0:
                    equal(final, "ok reloaded", "%s: the answer, -n found "
                          "no error; the config:\n%s" % (what, text))
                    model = new
                else:
                    equal(checked.returncode, 78, "%s: -n's status" % what)
                    check(final.startswith("error config "), "%s: -n "
                          "found errors, the reload answered %r" %
                          (what, final))
                    for line in lines:
                        check(line.startswith("problem %s:" % d.conf),
                              "%s: an error line %r" % (what, line))
                check_served(model, where, what, d.log)
                # those that stayed on: the rules in force now, when their
                # listener's framing and TLS are still what they came with
                for s, name, svc in held:
                    now = service(model, name)
                    if (now["tls"], now["framing"]) != (svc["tls"],
                                                        svc["framing"]):
                        continue
                    m = rng.choice(MESSAGES)
                    equal(ask(s, svc, m), want(model, name, m) + ends(svc),
                          "%s: %r from a client connected before to %s" %
                          (what, m, name))
        check(d.proc.poll() is None, "the daemon died")
        equal(d.stop(), 0, "exit status")
    finally:
        for s, _, _ in held:
            s.close()


if __name__ == "__main__":
    harness.run(globals())

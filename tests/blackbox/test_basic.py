# SPDX-License-Identifier: ISC
"""Black-box tests: echoes, the connection log, default_reply templates."""

import os
import re
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import Daemon, check, equal, recv_until  # noqa: E402


def raw_log(d):
    """The daemon's log as bytes, undecoded (to see raw control bytes)."""
    d.log_file.flush()
    with open(d.log_path, "rb") as f:
        return f.read()


def test_one_message():
    d = Daemon()
    with d.connect() as s:
        s.sendall(b"hello\n")
        equal(recv_until(s, 1), b"hello\n", "reply")


def test_many_messages_one_by_one():
    d = Daemon()
    with d.connect() as s:
        for i in range(200):
            msg = b"message number %d %s" % (i, b"x" * (i % 37))
            s.sendall(msg + b"\n")
            equal(recv_until(s, 1), msg + b"\n", "reply %d" % i)
        # and nothing else was sent: EOF comes right after our FIN
        s.shutdown(socket.SHUT_WR)
        equal(recv_until(s, None), b"", "bytes after the last reply")


def test_log_connect_message_disconnect():
    d = Daemon()
    msg1 = b"a\x1b[31mb\x00c\n"
    msg2 = b"second\n"
    s = d.connect()
    cport = s.getsockname()[1]
    peer = "127.0.0.1:%d" % cport
    d.wait_log("%s connected to 127.0.0.1:%d\n" % (peer, d.port))
    s.sendall(msg1)
    equal(recv_until(s, 1), msg1, "reply to the escape sequence")
    s.sendall(msg2)
    equal(recv_until(s, 1), msg2, "reply 2")
    s.close()
    d.wait_log("%s disconnected" % peer)

    log = raw_log(d)
    check(b"\x1b" not in log, "raw ESC byte in the log: %r" % log)
    check(b"\x00" not in log, "raw NUL byte in the log: %r" % log)
    text = log.decode()
    lines = [l for l in text.splitlines() if l.startswith(peer + " ")]
    equal(lines[0], "%s connected to 127.0.0.1:%d" % (peer, d.port),
          "connect record")
    equal(lines[1], '%s message 1: "a\\033[31mb\\000c"' % peer,
          "escaped message record")
    equal(lines[2], '%s message 2: "second"' % peer, "message record 2")
    n = len(msg1) + len(msg2)
    m = re.fullmatch(r"%s disconnected after \d+\.\d{3}s: 2 messages, "
                     r"%d bytes in, %d bytes out \(client closed\)" %
                     (re.escape(peer), n, n), lines[3])
    check(m is not None, "disconnect record: %r" % lines[3])
    equal(len(lines), 4, "records about this client: %r" % lines)


def test_log_numbers_every_message():
    """Message numbers of one to several digits, written without printf."""
    d = Daemon()
    s = d.connect()
    peer = "127.0.0.1:%d" % s.getsockname()[1]
    s.sendall(b"".join(b"m%d\n" % i for i in range(1, 1011)))
    recv_until(s, 1010)
    s.close()
    d.wait_log("%s disconnected" % peer)
    nums = [int(m.group(1)) for m in
            re.finditer(r"^%s message (\d+): \"m(\1)\"$" % re.escape(peer),
                        d.log(), re.M)]
    equal(nums, list(range(1, 1011)), "message numbers 1 to 1010")


def test_log_escapes_quotes_backslash_controls_and_high_bytes():
    # as echoreplyd(8) says: \t \n \r \" \\ by name, every other byte
    # that is not printable ASCII in three octal digits, whatever follows
    d = Daemon()
    msgs = [b'q"uote\\ \t\x7f\xff\xc3\xa9 \r',
            b"\0\a\b\v\f\x1b[m\x007\t\r."]
    with d.connect() as s:
        peer = "127.0.0.1:%d" % s.getsockname()[1]
        for m in msgs:
            s.sendall(m + b"\r\n")
            equal(recv_until(s, 1), m + b"\r\n", "reply")
    d.wait_log("%s disconnected" % peer)
    for want in ('%s message 1: "q\\"uote\\\\ \\t\\177\\377\\303\\251 \\r"\n',
                 '%s message 2: "\\000\\007\\010\\013\\014\\033[m\\0007\\t'
                 '\\r."\n'):
        want = (want % peer).encode()
        check(want in raw_log(d), "escaped record %r missing; log:\n%s" %
              (want, d.log()))


def test_log_ipv6_peer_in_brackets():
    d = Daemon(address="::1")
    with d.connect() as s:
        peer = "[::1]:%d" % s.getsockname()[1]
        s.sendall(b"six\n")
        equal(recv_until(s, 1), b"six\n", "reply over IPv6")
    d.wait_log("%s disconnected" % peer)
    log = d.log()
    check("%s connected to [::1]:%d\n" % (peer, d.port) in log,
          "connect record; log:\n" + log)
    check('%s message 1: "six"\n' % peer in log, "message record; log:\n"
          + log)


def test_log_message_bytes_cuts_long_message():
    d = Daemon("log_message_bytes = 8;\n")
    msg = b"0123456789abcdefghij"
    with d.connect() as s:
        peer = "127.0.0.1:%d" % s.getsockname()[1]
        s.sendall(msg + b"\n")
        # the reply itself is not cut
        equal(recv_until(s, 1), msg + b"\n", "reply")
    d.wait_log("%s disconnected" % peer)
    log = d.log()
    check('%s message 1: "01234567..."\n' % peer in log,
          "cut message record missing; log:\n" + log)
    check("89abc" not in log, "log shows more than 8 bytes:\n" + log)


def test_log_message_bytes_short_message_not_cut():
    d = Daemon("log_message_bytes = 8;\n")
    with d.connect() as s:
        peer = "127.0.0.1:%d" % s.getsockname()[1]
        s.sendall(b"12345678\n")
        equal(recv_until(s, 1), b"12345678\n", "reply")
    d.wait_log("%s disconnected" % peer)
    check('%s message 1: "12345678"\n' % peer in d.log(),
          "exactly 8 bytes must be logged whole; log:\n" + d.log())


def test_default_reply_template():
    port = harness.free_port()
    d = Daemon('listen = { name = "front"; address = "127.0.0.1"; '
               'port = %d; };\n'
               'default_reply = "[%%{client_address}]:%%{client_port} via '
               '%%{listener}: 100%%%% %%{message}%%%%";\n' % port,
               port=port, listen=False)
    with d.connect() as s:
        cport = s.getsockname()[1]
        s.sendall(b"hi\n")
        equal(recv_until(s, 1),
              b"[127.0.0.1]:%d via front: 100%% hi%%\n" % cport, "reply")
        s.sendall(b"crlf\r\n")
        equal(recv_until(s, 1),
              b"[127.0.0.1]:%d via front: 100%% crlf%%\r\n" % cport,
              "CRLF reply")


def test_default_reply_constant_and_default_listener_name():
    d = Daemon('default_reply = "pong %{listener}";\n')
    with d.connect() as s:
        s.sendall(b"ping\nanything\n")
        equal(recv_until(s, 2),
              b"pong 127.0.0.1:%d\npong 127.0.0.1:%d\n" % (d.port, d.port),
              "replies")


def test_log_messages_false():
    d = Daemon("log_messages = false;\n")
    with d.connect() as s:
        peer = "127.0.0.1:%d" % s.getsockname()[1]
        s.sendall(b"secret one\nsecret two\n")
        equal(recv_until(s, 2), b"secret one\nsecret two\n", "replies")
    d.wait_log("%s disconnected" % peer)
    log = d.log()
    check(" message " not in log, "a message record was logged:\n" + log)
    check("secret" not in log, "message text was logged:\n" + log)
    check("%s connected to" % peer in log, "connect record missing:\n" + log)
    check(re.search(r"%s disconnected after \S+: 2 messages, 22 bytes in, "
                    r"22 bytes out" % re.escape(peer), log) is not None,
          "disconnect record missing or wrong:\n" + log)



def test_greeting_sent_on_connect_before_replies():
    d = Daemon('greeting = "220 %{listener} ready for %{client_address}";\n')
    with d.connect() as s:
        equal(recv_until(s, 1), b"220 127.0.0.1:%d ready for 127.0.0.1\n"
              % d.port, "greeting")
        s.sendall(b"x\n")
        equal(recv_until(s, 1), b"x\n", "reply after the greeting")


def test_no_greeting_by_default():
    d = Daemon()
    with d.connect() as s:
        s.sendall(b"first\n")
        equal(recv_until(s, 1), b"first\n", "first bytes are the reply")


if __name__ == "__main__":
    harness.run(globals())

# SPDX-License-Identifier: ISC
"""Black-box tests: how a stream is cut into messages (line and raw)."""

import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import Daemon, check, equal, recv_until  # noqa: E402


def recv_exact(s, n, timeout=harness.WAIT):
    """Reads until n bytes arrived (or EOF); returns what was read."""
    deadline = time.monotonic() + timeout
    data = b""
    while len(data) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("wanted %d bytes, got %r" % (n, data))
        s.settimeout(left)
        chunk = s.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def test_pipelined_in_order():
    d = Daemon()
    msgs = [b"message %d %s" % (i, b"y" * (i * 7 % 50)) for i in range(300)]
    stream = b"".join(m + b"\n" for m in msgs)
    with d.connect() as s:
        s.sendall(stream)
        equal(recv_until(s, len(msgs)), stream, "pipelined replies")
        s.shutdown(socket.SHUT_WR)
        equal(recv_until(s, None), b"", "bytes after the last reply")


def test_crlf_lf_mixed():
    d = Daemon()
    with d.connect() as s:
        s.sendall(b"crlf\r\n")
        equal(recv_until(s, 1), b"crlf\r\n", "CRLF reply")
        s.sendall(b"lf\n")
        equal(recv_until(s, 1), b"lf\n", "LF reply")
        stream = b"a\r\nb\nc\r\n\r\nd\n\n"
        s.sendall(stream)
        equal(recv_until(s, 6), stream, "mixed replies")
        # a CR that is not right before the LF is part of the message
        s.sendall(b"x\ry\n\r\r\n")
        equal(recv_until(s, 2), b"x\ry\n\r\r\n", "inner CR kept")


def test_split_byte_by_byte_answered_once():
    d = Daemon()
    msg = b"split across many sends\r\n"
    with d.connect() as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(len(msg)):
            s.sendall(msg[i:i + 1])
        s.sendall(b"marker\n")
        # had any piece been answered on its own, it would show up here
        equal(recv_until(s, 2), msg + b"marker\n", "replies")


def test_partial_line_at_eof():
    d = Daemon()
    with d.connect() as s:
        s.sendall(b"tail")
        s.shutdown(socket.SHUT_WR)
        equal(recv_until(s, None), b"tail\n", "reply then EOF")
    with d.connect() as s:
        s.sendall(b"one\r\ntwo")
        s.shutdown(socket.SHUT_WR)
        equal(recv_until(s, None), b"one\r\ntwo\n",
              "pipelined reply, partial reply, EOF")


def test_empty_line():
    d = Daemon()
    with d.connect() as s:
        s.sendall(b"\n")
        equal(recv_until(s, 1), b"\n", "empty LF line")
        s.sendall(b"\r\n")
        equal(recv_until(s, 1), b"\r\n", "empty CRLF line")
        s.shutdown(socket.SHUT_WR)
        equal(recv_until(s, None), b"", "nothing more")


def test_max_message_bytes_exact_is_answered():
    d = Daemon("max_message_bytes = 16;\n")
    with d.connect() as s:
        s.sendall(b"x" * 16 + b"\n")
        equal(recv_until(s, 1), b"x" * 16 + b"\n", "16-byte LF message")
        s.sendall(b"y" * 16 + b"\r\n")
        equal(recv_until(s, 1), b"y" * 16 + b"\r\n", "16-byte CRLF message")
        s.shutdown(socket.SHUT_WR)
        equal(recv_until(s, None), b"", "nothing more")
    with d.connect() as s:
        s.sendall(b"z" * 16)
        s.shutdown(socket.SHUT_WR)
        equal(recv_until(s, None), b"z" * 16 + b"\n",
              "16-byte partial line at EOF")


def test_max_message_bytes_one_longer_is_refused():
    d = Daemon("max_message_bytes = 16;\n")
    error = b"error: message longer than 16 bytes\n"
    with d.connect() as s:
        s.sendall(b"z" * 17 + b"\n")
        # the error line, then the server closes, without our FIN
        equal(recv_until(s, None), error, "error reply then EOF")
    with d.connect() as s:
        s.sendall(b"a" * 16 + b"\n" + b"b" * 17 + b"\nnever answered\n")
        equal(recv_until(s, None), b"a" * 16 + b"\n" + error,
              "answer, error, EOF")
    with d.connect() as s:
        # too long before any newline arrives
        s.sendall(b"c" * 100)
        equal(recv_until(s, None), error, "error reply to a long partial")
    d.wait_log("message longer than 16 bytes; closing")


def test_raw_no_newline():
    d = Daemon('framing = "raw";\n')
    with d.connect() as s:
        s.sendall(b"no newline")
        equal(recv_exact(s, 10), b"no newline", "raw reply")
        s.sendall(b"again\r\n")
        equal(recv_exact(s, 7), b"again\r\n", "raw reply keeps CRLF")
        s.shutdown(socket.SHUT_WR)
        equal(recv_until(s, None), b"", "nothing added to raw replies")


def test_raw_close_after_reply():
    d = Daemon('framing = "raw";\nclose_after_reply = true;\n')
    with d.connect() as s:
        s.sendall(b"ping")
        # no FIN from us: the server closes after its reply
        equal(recv_until(s, None), b"ping", "reply then EOF")


def test_line_close_after_reply():
    d = Daemon("close_after_reply = true;\n")
    with d.connect() as s:
        s.sendall(b"first\n")
        equal(recv_until(s, None), b"first\n", "one reply then EOF")


def test_binary_bytes_line_mode():
    d = Daemon()
    msg = bytes(b for b in range(256) if b != 0x0a)
    with d.connect() as s:
        s.sendall(msg + b"\n")
        equal(recv_until(s, 1), msg + b"\n", "binary reply")
        s.sendall(b"\x00\n\x00\x00\r\n\xff\xfe\n")
        equal(recv_until(s, 3), b"\x00\n\x00\x00\r\n\xff\xfe\n",
              "NUL replies")


SHIPPED = os.path.join(harness.TOP_SRCDIR, "etc", "echoreplyd.conf")


def shipped_daemon():
    """echoreplyd with the shipped config, on a free port."""
    port = harness.free_port()
    with open(SHIPPED) as f:
        text = f.read()
    # the promise to the tutorial client: a reply within half a second
    m = re.search(r"^line_flush_ms = (\d+);", text, re.M)
    check(m and 0 < int(m.group(1)) <= 500,
          "the shipped line_flush_ms is not 1..500: %r" % (m and m.group(0)))
    check("port    = 13008;" in text, "the shipped config's port moved")
    text = text.replace("port    = 13008;", "port    = %d;" % port, 1)
    # the shipped file drops privileges to nobody: stay who we are here
    text = text.replace('user = "nobody";', "", 1)
    return Daemon(text, port=port, listen=False)


def test_tutorial_client_answered_with_the_shipped_config():
    # the classic socket-tutorial client: "hello" with no line end, then
    # it waits for the reply without closing
    d = shipped_daemon()
    with d.connect() as s:
        s.sendall(b"hello")
        equal(recv_exact(s, 5), b"hello", "reply to the partial line")
        # and the connection goes on as before
        s.sendall(b"again\n")
        equal(recv_until(s, 1), b"again\n", "a whole line afterwards")
    d.wait_log('message 1: "hello"')


def test_line_flush_keeps_split_and_pipelined_lines():
    d = shipped_daemon()
    with d.connect() as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # a line in two writes, one right after the other: one message
        s.sendall(b"hel")
        s.sendall(b"lo\n")
        # pipelined lines and a partial one at the end
        s.sendall(b"a\nb\r\nc")
        equal(recv_exact(s, len(b"hello\na\nb\r\nc")),
              b"hello\na\nb\r\nc", "replies")
    d.wait_log('message 4: "c"')


def test_line_flush_end_and_per_listener():
    port1, port2 = harness.free_port(), harness.free_port()
    d = Daemon('listen = ( { port = %d; },\n'
               '  { name = "waits"; port = %d; line_flush_ms = 0; } );\n'
               'line_flush_ms = 50;\nline_flush_end = "\\r\\n";\n'
               'default_reply = "<%%{message}>";\n' % (port1, port2),
               port=port1, listen=False)
    waits = socket.create_connection(("127.0.0.1", port2), harness.WAIT)
    waits.sendall(b"y")
    # two flushes on the other listener, each after 50 ms of silence and
    # both armed after the partial line above: had "waits" inherited the
    # 50 ms, its partial would have been answered first
    for x in (b"x1", b"x2"):
        with d.connect() as s:
            s.sendall(x)
            equal(recv_until(s, 1), b"<" + x + b">\r\n",
                  "flushed, with line_flush_end")
    waits.setblocking(False)
    try:
        early = waits.recv(100)
    except BlockingIOError:
        early = None
    equal(early, None, "a reply on the listener with line_flush_ms = 0")
    waits.setblocking(True)
    waits.settimeout(harness.WAIT)
    waits.shutdown(socket.SHUT_WR)
    equal(recv_until(waits, None), b"<y>\n", "answered at EOF only")
    waits.close()

def test_delimiter_framing():
    d = Daemon('framing = "delimiter";\ndelimiter = "\\r\\n\\r\\n";\n'
               'default_reply = "<%{message}>";\nmax_message_bytes = 10;\n')
    with d.connect() as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(b"one\r\n\r\ntwo\r\nx\r\n\r\n")   # pipelined
        for b in b"split\r\n\r\n":                # and byte by byte
            s.sendall(bytes([b]))
        want = b"<one>\r\n\r\n<two\r\nx>\r\n\r\n<split>\r\n\r\n"
        equal(recv_exact(s, len(want)), want, "delimited replies")
        s.sendall(b"0123456789\r\n\r\n")               # at the limit
        equal(recv_exact(s, 16), b"<0123456789>\r\n\r\n", "at the limit")
        s.sendall(b"0123456789A\r\n\r\n")              # over it
        equal(recv_until(s, None),
              b"error: message longer than 10 bytes\r\n\r\n",
              "too long, its reply delimited, then closed")


def test_nul_delimiter_in_hex():
    d = Daemon('framing = "delimiter";\ndelimiter_hex = "00";\n')
    with d.connect() as s:
        s.sendall(b"a\0b\nc\0")
        equal(recv_exact(s, 6), b"a\0b\nc\0", "NUL-ended messages echoed")
    d.wait_log('message 2: "b\\nc"')


def length_frame(payload, n=2):
    return len(payload).to_bytes(n, "big") + payload


def test_length_framing():
    d = Daemon('framing = "length";\nlength_bytes = 2;\n'
               'default_reply = "[%{message}]";\nmax_message_bytes = 8;\n')
    with d.connect() as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        stream = length_frame(b"ab") + length_frame(b"") + \
            length_frame(b"\0\n\xff")
        s.sendall(stream)                               # pipelined
        for b in length_frame(b"split"):                # byte by byte
            s.sendall(bytes([b]))
        want = length_frame(b"[ab]") + length_frame(b"[]") + \
            length_frame(b"[\0\n\xff]") + length_frame(b"[split]")
        equal(recv_exact(s, len(want)), want, "length-prefixed replies")
        s.sendall(length_frame(b"12345678"))            # at the limit
        equal(recv_exact(s, 12), length_frame(b"[12345678]"), "at limit")
        # a length far over the limit: refused at once, nothing awaited
        s.sendall(b"\xff\xff")
        equal(recv_until(s, None),
              length_frame(b"error: message longer than 8 bytes"),
              "too long, its reply framed, then closed")
    d.wait_log("message longer than 8 bytes; closing")
    d.wait_log('message 3: "\\000\\n\\377"')


def test_length_framing_counted_little_endian():
    d = Daemon('framing = "length";\nlength_bytes = 4;\n'
               'length_endian = "little";\nlength_counts_prefix = true;\n')
    with d.connect() as s:
        s.sendall((4 + 3).to_bytes(4, "little") + b"xyz")
        equal(recv_exact(s, 7), (4 + 3).to_bytes(4, "little") + b"xyz",
              "echo with a counted little-endian prefix")
        s.sendall((3).to_bytes(4, "little"))
        equal(recv_until(s, None), b"", "a prefix smaller than itself: closed")
    d.wait_log("length prefix smaller than the prefix itself; closing")


def test_fixed_framing():
    d = Daemon('framing = "fixed";\nfixed_bytes = 4;\n'
               'default_reply = "<%{message}>";\n')
    with d.connect() as s:
        s.sendall(b"abcdefg")
        equal(recv_exact(s, 6), b"<abcd>", "a message per 4 bytes")
        s.sendall(b"h")
        equal(recv_exact(s, 6), b"<efgh>", "the second once whole")
        s.sendall(b"ij")
        s.shutdown(socket.SHUT_WR)
        equal(recv_until(s, None), b"<ij>", "what is left at EOF")


def test_binary_rules_in_hex():
    # a binary protocol: 1-byte length frames, a rule on bytes with a NUL,
    # a reply in hex, and the message shown as hex digits
    d = Daemon('framing = "length";\nlength_bytes = 1;\n'
               'rules = (\n'
               '  { name = "hello"; exact_hex = "00 01 02"; '
               'reply_hex = "ca fe 00 ba be"; },\n'
               '  { prefix_hex = "ff"; reply = "%{message_hex}/'
               '%{message_length}"; }\n);\n')
    with d.connect() as s:
        s.sendall(bytes([3, 0, 1, 2]) + bytes([3, 0xff, 0, 0x41]) +
                  bytes([2, 0, 1]))
        want = bytes([5]) + b"\xca\xfe\x00\xba\xbe" + \
            bytes([8]) + b"ff0041/3" + bytes([2, 0, 1])
        equal(recv_exact(s, len(want)), want, "binary replies")
    d.wait_log('message 1: "\\000\\001\\002" (rule hello)')
    d.wait_log('message 3: "\\000\\001"\n')


def test_ctl_speaks_every_framing():
    # echoreplyctl takes each listener's framing from the config, or flags
    lp, dp, fp, bp = (harness.free_port() for _ in range(4))
    d = Daemon('listen = (\n'
               '  { name = "len"; port = %d; framing = "length";\n'
               '    length_bytes = 2; length_endian = "little"; },\n'
               '  { name = "del"; port = %d; framing = "delimiter";\n'
               '    delimiter_hex = "00"; },\n'
               '  { name = "fix"; port = %d; framing = "fixed";\n'
               '    fixed_bytes = 3; },\n'
               '  { name = "line"; port = %d; } );\n'
               'default_reply = "<%%{message}>";\n' % (lp, dp, fp, bp),
               port=bp, listen=False)
    for port, msgs, want in ((lp, ["one", "two words"], b"<one>\n<two words>\n"),
                             (dp, ["a", "b"], b"<a>\n<b>\n"),
                             (fp, ["abc", "def"], b"<abc>\n<def>\n")):
        r = harness.ctl("-f", d.conf, "-p", str(port), *msgs)
        equal((r.returncode, r.stdout, r.stderr), (0, want, b""),
              "echoreplyctl on port %d" % port)
    # the same by flags alone, without the config
    r = harness.ctl("-H", "127.0.0.1", "-p", str(lp), "--framing", "length",
                    "--length-bytes", "2", "--length-endian", "little", "x")
    equal((r.returncode, r.stdout), (0, b"<x>\n"), "length by flags")
    r = harness.ctl("-H", "127.0.0.1", "-p", str(dp), "--framing",
                    "delimiter", "--delimiter-hex", "00", "y")
    equal((r.returncode, r.stdout), (0, b"<y>\n"), "delimiter by flags")
    # a message that is not a fixed-size one: one line, EX_DATAERR
    r = harness.ctl("-f", d.conf, "-p", str(fp), "abcd")
    equal((r.returncode, r.stderr), (65, b"echoreplyctl: a message of 4 "
          b"bytes: fixed framing takes 3\n"), "wrong size")
    r = harness.ctl("-H", "127.0.0.1", "-p", str(bp), "--framing", "lines",
                    "z")
    equal(r.returncode, 64, "an unknown framing is a usage error")


if __name__ == "__main__":
    harness.run(globals())

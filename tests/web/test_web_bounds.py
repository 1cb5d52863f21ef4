# SPDX-License-Identifier: Apache-2.0
"""The web page's connections are bounded (src/monitor/arm-http-conns.c),
against the real monitor on 127.0.0.1: a connection that sends nothing, or
half a header, or stays idle after an answer is closed by the server after
its bound; an open event stream is not; with the connection cap reached a
new connection is closed at once and the monitor's alerts still come out.
The bounds are shortened with the hidden --http-bounds option (for tests)."""

import os
import select
import socket
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from test_web import (ENDS_WITHIN, MONITOR, WebTestCase, crash_loop_alerted,  # noqa: E402
                      open_event_streams)

MAX_CONNS = 320  # ARM_HTTP_MAX_CONNS


def wait_closed(sock):
    """Read until the server ends the connection; returns the bytes read
    and when it ended (monotonic). Fails after ENDS_WITHIN."""
    got = b""
    deadline = time.monotonic() + ENDS_WITHIN
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"the server kept the connection open; read {got[:200]!r}")
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        except socket.timeout:
            continue
        if not chunk:
            return got, time.monotonic()
        got += chunk


def is_closed(sock):
    """True when the server has ended the connection (without waiting)."""
    if not select.select([sock], [], [], 0)[0]:
        return False
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except ConnectionResetError:
        return True


class BoundsTest(WebTestCase):
    def connect(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=ENDS_WITHIN)
        self.addCleanup(s.close)
        return s

    def request_line(self, path):
        token = self.url.split("token=")[1]
        return (f"GET {path}?token={token} HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{self.port}\r\n").encode()

    def test_silent_half_and_idle_connections_are_closed(self):
        first, idle = 1.0, 2.0
        self.start_monitor([f"--listen=127.0.0.1:{self.port}", f"--http-bounds={first},{idle},60"])
        # Sends nothing at all.
        start = time.monotonic()
        silent = self.connect()
        got, end = wait_closed(silent)
        self.assertEqual(got, b"")
        self.assertGreaterEqual(end - start, first * 0.9)
        # Half a header, then nothing.
        start = time.monotonic()
        half = self.connect()
        half.sendall(self.request_line("/api/state") + b"Accept: ")
        got, end = wait_closed(half)
        self.assertEqual(got, b"")
        self.assertGreaterEqual(end - start, first * 0.9)
        # A whole request is answered; the kept-alive connection is closed
        # once it has been idle for the idle bound, not the first one.
        kept = self.connect()
        kept.sendall(self.request_line("/api/state") + b"\r\n")
        got = b""
        while b"\r\n\r\n[]" not in got:
            chunk = kept.recv(65536)
            self.assertTrue(chunk, got)
            got += chunk
        start = time.monotonic()
        self.assertTrue(got.startswith(b"HTTP/1.1 200"), got)
        self.assertNotIn(b"Connection: close", got)
        got, end = wait_closed(kept)
        self.assertEqual(got, b"")
        self.assertGreaterEqual(end - start, idle * 0.9)
        # The page still answers new connections.
        fresh = self.connect()
        fresh.sendall(self.request_line("/api/state") + b"Connection: close\r\n\r\n")
        got, _ = wait_closed(fresh)
        self.assertTrue(got.startswith(b"HTTP/1.1 200"), got)

    def test_an_event_stream_outlives_every_bound(self):
        self.start_monitor([f"--listen=127.0.0.1:{self.port}", "--http-bounds=0.5,0.5,0.5"])
        token = self.url.split("token=")[1]
        (stream,), statuses = open_event_streams(self, self.port, token, 1)
        self.assertEqual(statuses, [b"HTTP/1.1 200"])
        # A silent connection opened at the same time is closed meanwhile.
        silent = self.connect()
        wait_closed(silent)
        time.sleep(2.0)  # four times every bound: the stream's deadline has passed
        self.assertFalse(is_closed(stream))
        # And it still carries the monitor's messages: a round of a project.
        # Rounds go on (one a second), so a round_end comes after the
        # monitor follows the name, however late it sees it under load.
        p = self.project("succeed", restart_delay_s=1)
        proc = self.serve(p)
        self.addCleanup(self.stop_daemon, proc)
        got = b""
        deadline = time.monotonic() + ENDS_WITHIN
        while b"round_end" not in got:
            left = deadline - time.monotonic()
            self.assertGreater(left, 0, f"no round_end on the stream: {got[-500:]!r}")
            stream.settimeout(left)
            chunk = stream.recv(65536)
            self.assertTrue(chunk, f"the stream ended: {got[-500:]!r}")
            got += chunk

    def test_alerts_go_on_at_the_connection_cap(self):
        """MAX_CONNS silent connections (their bound is long here): the ones
        past the cap are closed at once; a project's crash loop is still an
        alert on the monitor's output; once they are gone the page answers."""
        out_path = os.path.join(self.runtime, "alerts.out")
        out = open(out_path, "w")
        self.addCleanup(out.close)
        self.start_monitor([f"--listen=127.0.0.1:{self.port}", "--http-bounds=120,120,120"],
                           out=out)
        extra = 8
        socks = [self.connect() for _ in range(MAX_CONNS + extra)]
        deadline = time.monotonic() + ENDS_WITHIN
        while sum(map(is_closed, socks)) < extra:
            self.assertLess(time.monotonic(), deadline,
                            f"{sum(map(is_closed, socks))} of {len(socks)} closed")
            time.sleep(0.05)
        # A new connection (a page, a script) is refused as long as the cap
        # is reached: closed without an answer.
        got, _ = wait_closed(self.connect())
        self.assertEqual(got, b"")
        self.assertEqual(sum(map(is_closed, socks)), extra)

        crash_loop_alerted(self, out_path)
        # The clients leave: the page answers again.
        for s in socks:
            s.close()
        deadline = time.monotonic() + ENDS_WITHIN
        while True:
            s = self.connect()
            s.sendall(self.request_line("/api/state") + b"Connection: close\r\n\r\n")
            got, _ = wait_closed(s)
            if got.startswith(b"HTTP/1.1 200"):
                break
            self.assertLess(time.monotonic(), deadline, "the page does not answer after the cap")
            time.sleep(0.05)

    def test_bad_bounds_are_refused(self):
        env = self.web_env()
        r = subprocess.run([MONITOR, "--no-journal", "--no-notify", "--quiet",
                            f"--listen=127.0.0.1:{self.port}", "--http-bounds=1,x,3"],
                           env=env, capture_output=True, text=True, timeout=ENDS_WITHIN)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("--http-bounds", r.stderr)


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], *sys.argv[1:]], verbosity=2)

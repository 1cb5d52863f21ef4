# SPDX-License-Identifier: Apache-2.0
"""Headless Chromium driven over the DevTools protocol, with a small
stdlib WebSocket client (RFC 6455 text frames: enough for CDP), so the
tests need no Python package beyond the standard library."""

import base64
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import urllib.request

# The binary itself: /usr/bin/chromium-headless-shell is a shell wrapper
# that does not exec, and terminating it would orphan the browser.
CHROMIUM = next((c for c in ("/usr/lib/chromium/chromium-headless-shell",
                             shutil.which("chromium-headless-shell"), shutil.which("chromium"))
                 if c and os.access(c, os.X_OK)), None)


class WebSocket:
    def __init__(self, url, timeout=30):
        m = re.match(r"ws://([^:/]+):(\d+)(/.*)", url)
        host, port, path = m.group(1), int(m.group(2)), m.group(3)
        self.sock = socket.create_connection((host, port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                raise ConnectionError("websocket handshake: connection closed")
            head += chunk
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise ConnectionError(f"websocket handshake: {head!r}")

    def _read(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("websocket closed")
            buf += chunk
        return buf

    def send(self, text):
        data = text.encode()
        mask = os.urandom(4)
        n = len(data)
        if n < 126:
            head = struct.pack("!BB", 0x81, 0x80 | n)
        elif n < 65536:
            head = struct.pack("!BBH", 0x81, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def recv(self):
        message = b""
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read(8))[0]
            payload = self._read(n)
            opcode = b0 & 0x0F
            if opcode == 0x8:
                raise ConnectionError("websocket closed by the browser")
            if opcode in (0x9, 0xA):
                continue
            message += payload
            if b0 & 0x80:
                return message.decode()

    def close(self):
        self.sock.close()


class Browser:
    """One headless Chromium with one page; console errors, exceptions and
    JavaScript dialogs are collected."""

    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="ar-chromium-")
        self.proc = subprocess.Popen(
            [CHROMIUM, "--no-sandbox", "--disable-gpu", "--headless", "--remote-debugging-port=0",
             "--user-data-dir=" + self.profile, "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        port = None
        deadline = time.monotonic() + 60
        for raw in self.proc.stderr:
            m = re.search(rb"DevTools listening on ws://127\.0\.0\.1:(\d+)/", raw)
            if m:
                port = int(m.group(1))
                break
            if time.monotonic() > deadline:
                break
        if not port:
            self.close()
            raise RuntimeError("chromium did not start its DevTools endpoint")
        # stderr is not read any more: send it nowhere so it cannot fill up.
        self.proc.stderr.close()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list") as r:
            pages = [t for t in json.load(r) if t["type"] == "page"]
        self.ws = WebSocket(pages[0]["webSocketDebuggerUrl"])
        self.next_id = 0
        self.errors = []
        self.dialogs = []
        self.send("Runtime.enable")
        self.send("Log.enable")
        self.send("Page.enable")

    def _event(self, msg):
        method = msg.get("method")
        params = msg.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            self.errors.append(params)
        elif method == "Runtime.exceptionThrown":
            self.errors.append(params)
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            self.errors.append(params["entry"])
        elif method == "Page.javascriptDialogOpening":
            self.dialogs.append(params)
            self.ws.send(json.dumps({"id": 10**9, "method": "Page.handleJavaScriptDialog",
                                     "params": {"accept": True}}))

    def send(self, method, **params):
        self.next_id += 1
        my = self.next_id
        self.ws.send(json.dumps({"id": my, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == my:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self._event(msg)

    def eval(self, expr):
        r = self.send("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expr}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def goto(self, url):
        self.send("Page.navigate", url=url)
        self.wait_for("document.readyState === 'complete'")

    def wait_for(self, expr, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            v = self.eval(f"!!({expr})")
            if v:
                return v
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {expr}")
            time.sleep(0.05)

    def close(self):
        try:
            self.ws.close()
        except AttributeError:
            pass
        # The whole process group: chromium's zygote and renderers too.
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)

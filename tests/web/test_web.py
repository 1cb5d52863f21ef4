# SPDX-License-Identifier: Apache-2.0
"""The monitor's web page in a real headless Chromium (DevTools protocol),
against the real monitor and real agent-runnerd daemons on a private bus:
two projects listed, a round end shown without reload, the event stream
surviving a monitor restart, no console errors, token/Host/Origin checks,
an agent's <script> shown as text, Stop from the page."""

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "bus"))
sys.path.insert(0, HERE)
from bustest import BUILD_ROOT, ENDS_WITHIN, BusTestCase  # noqa: E402
from cdp import CHROMIUM, Browser  # noqa: E402

MONITOR = os.path.join(BUILD_ROOT, "src", "monitor", "agent-runner-monitor")
WORK = "org.agentrunner.Runner1.work"
OTHER = "org.agentrunner.Runner1.other"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def crash_loop_alerted(test, out_path):
    """A project ends in a crash loop, and the monitor writing --json to
    OUT_PATH reports the crash_loop alert (its alerting is not blocked)."""
    p = test.project("fail-fast")
    rc, _, err = p.run("--clear-done", env=test.env())
    test.assertEqual(rc, 79, err)

    def alerts():
        with open(out_path) as f:
            return [json.loads(line) for line in f.read().splitlines() if line.startswith("{")]
    deadline = time.monotonic() + ENDS_WITHIN
    while not any(a["detector"] == "crash_loop" and a["state"] == "emitted" for a in alerts()):
        test.assertLess(time.monotonic(), deadline, f"no crash_loop alert: {alerts()}")
        time.sleep(0.05)


def open_event_streams(test, port, token, n):
    """n EventSource requests on their own connections (closed at the
    test's end); returns the sockets and each answer's status line start."""
    streams = []
    test.addCleanup(lambda: [s.close() for s in streams])
    req = f"GET /events?token={token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    statuses = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=ENDS_WITHIN)
        streams.append(s)
        s.sendall(req)
        statuses.append(s.recv(12))
    return streams, statuses

class WebTestCase(BusTestCase):
    def setUp(self):
        super().setUp()
        self.runtime = tempfile.mkdtemp(prefix="ar-web-rt-")
        os.chmod(self.runtime, 0o700)
        self.addCleanup(shutil.rmtree, self.runtime, True)
        # monitor.toml is read from here: never the user's own
        self.config_home = os.path.join(self.runtime, "config")
        os.makedirs(os.path.join(self.config_home, "agent-runner"))
        self.port = free_port()

    def web_env(self, **extra):
        e = dict(os.environ)
        e.update(self.env(XDG_RUNTIME_DIR=self.runtime, XDG_CONFIG_HOME=self.config_home, **extra))
        return e

    def start_monitor(self, args=None, env=None, out=None):
        """out: a file for the monitor's --json alert lines (else --quiet)."""
        args = [f"--listen=127.0.0.1:{self.port}"] if args is None else args
        output = ["--json"] if out else ["--quiet"]
        proc = subprocess.Popen([MONITOR, "--no-journal", "--no-notify", *output, *args],
                                stdout=out or subprocess.DEVNULL, stderr=subprocess.PIPE,
                                env=self.web_env(**(env or {})))
        self.addCleanup(self.stop_monitor, proc)
        url_file = os.path.join(self.runtime, "agent-runner", "monitor-http.url")
        deadline = time.monotonic() + ENDS_WITHIN
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    pass
                # the URL file is written right after the socket is bound
                if os.path.exists(url_file):
                    break
                time.sleep(0.05)
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"monitor did not listen: {proc.stderr.read()}")
                time.sleep(0.05)
        with open(url_file) as f:
            self.url = f.read().strip()
        return proc

    def stop_monitor(self, proc):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=ENDS_WITHIN)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        proc.stderr.close()

    def other_project(self, agent, **kw):
        """A second project, named "other" (the basename of its work_dir)."""
        p = self.project(agent, **kw)
        other = os.path.join(p.dir, "other")
        os.rename(p.work, other)
        p.work = other
        p.log_dir = os.path.join(other, "logs")
        p.config_path = os.path.join(other, "agent-runner.toml")
        return p

    def browser(self):
        if not CHROMIUM:
            self.skipTest("no chromium-headless-shell")
        b = Browser()
        self.addCleanup(b.close)
        return b

    def card(self, name):
        return f"document.querySelector('section.card[data-project=\"{name}\"]')"


class PageTest(WebTestCase):
    def test_two_projects_live_and_no_console_errors(self):
        a = self.project("sleep", agent_env={"FAKE_SLEEP": "600"})
        b = self.other_project("succeed", restart_delay_s=1)
        pa = self.serve(a)
        pb = self.serve(b, name=OTHER)
        self.addCleanup(self.stop_daemon, pa)
        self.addCleanup(self.stop_daemon, pb, OTHER)
        self.start_monitor()
        br = self.browser()
        br.goto(self.url)
        br.wait_for("document.getElementById('conn').textContent === 'live'")
        br.wait_for("document.querySelectorAll('section.card').length === 2")
        # the first round may start after the page's snapshot: it shows up live
        br.wait_for(self.card("work") + ".querySelector('.state').textContent === 'running'")
        # A round of "other" ends: the strip grows without a reload.
        br.eval("window.__marker = 1")
        n = br.eval(self.card("other") + ".querySelectorAll('.strip li').length")
        b.wait_event("round_end", count=n + 2, proc=pb)
        br.wait_for(self.card("other") + f".querySelectorAll('.strip li').length > {n}")
        self.assertEqual(br.eval("window.__marker"), 1)  # the same document
        self.assertEqual(br.errors, [])

    def test_patches_add_up_to_the_state(self):
        """52 rounds streamed to an open page as patches (the strip slides
        past its 50) leave the page showing exactly the server's view."""
        self.start_monitor()
        br = self.browser()
        br.goto(self.url)
        br.wait_for("document.getElementById('conn').textContent === 'live'")
        a = self.project("succeed", max_rounds=52, restart_delay_s=0)
        pa = self.serve(a)
        self.addCleanup(self.stop_daemon, pa)
        self.wait_exit(pa, timeout=150)  # about a second a round on a loaded machine
        br.wait_for(self.card("work") + "?.querySelector('.state').textContent === 'stopped'")
        with urllib.request.urlopen(self.url.replace("/?", "/api/state?")) as r:
            state = {d["name"]: d for d in json.load(r)}["work"]
        self.assertEqual(len(state["strip"]), 50)
        self.assertEqual(br.eval(f"[...{self.card('work')}.querySelectorAll('.strip li')]"
                                 ".map(li => li.title)"),
                         [f"{n} {o}" for n, o in state["strip"]])
        rounds = br.eval(f"[...{self.card('work')}.querySelectorAll('.chart title')]"
                         ".map(t => t.textContent.split(': ')[1].split(' ')[0])")
        self.assertEqual(rounds, [str(h[1]) for h in state["hours"]])
        self.assertEqual(br.errors, [])

    def test_history_is_counted_once(self):
        """The strip, the chart and today's cost come from the events files
        when the monitor starts, and a daemon's reappearance (which replays
        the file's tail) counts nothing twice."""
        a = self.project("succeed", max_rounds=3, restart_delay_s=0)
        self.assertEqual(a.run(env=self.env())[0], 0)
        ts = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        events = [os.path.join(a.log_dir, f) for f in os.listdir(a.log_dir)
                  if f.startswith("events-")][0]
        with open(events, "a") as f:
            f.write(json.dumps({"ts": ts, "event": "agent_usage_recorded", "agent": "x",
                                "model": None, "round_num": 3, "input_tokens": 10,
                                "output_tokens": 2, "cached_tokens": 0, "cost_usd": 0.25})
                    + "\n")
        self.start_monitor()
        br = self.browser()
        br.goto(self.url)
        br.wait_for("document.getElementById('conn').textContent === 'live'")
        # Two appearances: the second replays round 4, already counted live.
        a.write_config(max_rounds=1, restart_delay_s=0)
        for _ in range(2):
            pa = self.serve(a)
            self.addCleanup(self.stop_daemon, pa)
            self.wait_exit(pa)
            self.bus.wait_name(WORK, present=False)
        strip = f"[...{self.card('work')}.querySelectorAll('.strip li')].map(li => li.title)"
        br.wait_for(f"{strip}.length === 5")
        time.sleep(0.5)  # nothing more arrives
        self.assertEqual([t.split()[0] for t in br.eval(strip)], ["1", "2", "3", "4", "5"])
        self.assertIn("today $0.25", br.eval(self.card("work") + ".querySelector('.usage')"
                                             ".textContent"))
        self.assertEqual(br.errors, [])

    def test_the_stream_survives_a_monitor_restart(self):
        b = self.other_project("succeed", restart_delay_s=1)
        pb = self.serve(b, name=OTHER)
        self.addCleanup(self.stop_daemon, pb, OTHER)
        mon = self.start_monitor()
        br = self.browser()
        br.goto(self.url)
        br.wait_for("document.getElementById('conn').textContent === 'live'")
        br.eval("window.__marker = 1")
        self.stop_monitor(mon)
        br.wait_for("document.getElementById('conn').textContent !== 'live'")
        self.start_monitor()
        br.wait_for("document.getElementById('conn').textContent === 'live'")
        n = br.eval(self.card("other") + "?.querySelectorAll('.strip li').length || 0")
        done = len(b.events("round_end"))
        b.wait_event("round_end", count=done + 2, proc=pb)
        br.wait_for(self.card("other") + f".querySelectorAll('.strip li').length > {n}")
        self.assertEqual(br.eval("window.__marker"), 1)
        # While the monitor is down the browser's retries are refused (a
        # slow start, e.g. under ASan, outlasts the 1 s retry): expected.
        refused = [e for e in br.errors if e.get("source") == "network"
                   and "ERR_CONNECTION_REFUSED" in e.get("text", "")]
        self.assertEqual([e for e in br.errors if e not in refused], [])

    def test_agent_bytes_are_text(self):
        agent = os.path.join(self.runtime, "evil-agent")
        with open(agent, "w") as f:
            f.write("#!/bin/sh\ncat > /dev/null\necho '<script>alert(1)</script><img src=x "
                    "onerror=alert(2)>'\nexec sleep 600\n")
        os.chmod(agent, 0o755)
        a = self.project("sleep", agent={"command": [agent]})
        os.makedirs(a.log_dir, exist_ok=True)
        with open(os.path.join(a.log_dir, "narrative.md"), "w") as f:
            f.write("# Progress\n\n<script>alert(3)</script>\n\n[x](javascript:alert(4))\n")
        pa = self.serve(a)
        self.addCleanup(self.stop_daemon, pa)
        a.wait_event("round_start", proc=pa)
        self.start_monitor()
        br = self.browser()
        br.goto(self.url)
        br.wait_for(self.card("work") + "?.querySelector('.act-tail')")
        # the line is in the transcript before the tail is asked for
        deadline = time.monotonic() + ENDS_WITHIN
        while not any("<script>" in a.read(os.path.join(a.log_dir, "rounds", t))
                      for t in a.transcripts()):
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.05)
        br.eval(self.card("work") + ".querySelector('.act-tail').click()")
        br.wait_for(self.card("work") + ".querySelector('pre.tail').textContent"
                    ".includes('<script>alert(1)</script>')")
        self.assertEqual(br.eval("document.querySelectorAll('main script, main img').length"), 0)
        self.assertIn("Progress", br.eval(self.card("work") + ".querySelector('.narrative h1')"
                                          ".textContent"))
        self.assertEqual(br.eval("document.querySelectorAll('a[href^=\"javascript\"]').length"), 0)
        time.sleep(0.5)
        self.assertEqual(br.dialogs, [])
        self.assertEqual(br.errors, [])

    def test_stop_from_the_page(self):
        a = self.project("sleep", agent_env={"FAKE_SLEEP": "600"})
        pa = self.serve(a)
        self.addCleanup(self.stop_daemon, pa)
        a.wait_event("round_start", proc=pa)
        self.start_monitor()
        br = self.browser()
        br.goto(self.url)
        br.wait_for(self.card("work") + "?.querySelector('.act-cancel')")
        # "Stop now": the round ends and the service stops.
        br.eval(self.card("work") + ".querySelector('.act-stop-now').click()")
        br.wait_for("document.getElementById('confirm').open")
        br.eval("document.getElementById('confirm-yes').click()")
        self.bus.wait_name(WORK, present=False)
        br.wait_for(self.card("work") + ".querySelector('.state').textContent === 'stopped'")
        self.assertEqual(br.errors, [])


    def test_custom_narrative_file(self):
        """[runtime] narrative_file elsewhere than log_dir/narrative.md: the
        page renders that file (its JSON, no browser needed), not the
        default one."""
        a = self.project("sleep", agent_env={"FAKE_SLEEP": "600"},
                         narrative_file="notes/progress.md")
        os.makedirs(os.path.join(a.work, "notes"))
        with open(os.path.join(a.work, "notes", "progress.md"), "w") as f:
            f.write("# Custom progress\n\nRead from *notes/progress.md*.\n")
        os.makedirs(a.log_dir, exist_ok=True)
        with open(os.path.join(a.log_dir, "narrative.md"), "w") as f:
            f.write("# Default narrative\n")
        pa = self.serve(a)
        self.addCleanup(self.stop_daemon, pa)
        a.wait_event("round_start", proc=pa)
        self.start_monitor()
        deadline = time.monotonic() + ENDS_WITHIN
        while True:
            with urllib.request.urlopen(self.url.replace("/?", "/api/state?"),
                                        timeout=ENDS_WITHIN) as r:
                work = {d["name"]: d for d in json.load(r)}.get("work")
            if work and work.get("narrative_html"):
                break
            self.assertLess(time.monotonic(), deadline, work)
            time.sleep(0.1)
        html = work["narrative_html"]
        self.assertIn("<h1>Custom progress</h1>", html)
        self.assertIn("<em>notes/progress.md</em>", html)
        self.assertNotIn("Default narrative", html)


class SafetyTest(WebTestCase):
    def request(self, url, host=None, method="GET", headers=None, data=None):
        req = urllib.request.Request(url, method=method, data=data, headers=headers or {})
        if host:
            req.add_unredirected_header("Host", host)
        try:
            with urllib.request.urlopen(req, timeout=ENDS_WITHIN) as r:
                return r.status, r.read(), r.headers
        except urllib.error.HTTPError as e:
            return e.code, e.read(), e.headers

    def test_token_host_origin_csp(self):
        self.start_monitor()
        base = f"http://127.0.0.1:{self.port}"
        token = self.url.split("token=")[1]
        d = os.path.join(self.runtime, "agent-runner")
        self.assertEqual(stat.S_IMODE(os.stat(d).st_mode), 0o700)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(d, "monitor-http.token")).st_mode),
                         0o600)
        self.assertEqual(self.request(base + "/")[0], 401)
        self.assertEqual(self.request(base + "/?token=wrong")[0], 401)
        status, body, headers = self.request(self.url)
        self.assertEqual(status, 200)
        self.assertIn("default-src 'none'", headers["Content-Security-Policy"])
        self.assertEqual(self.request(self.url, host="evil.example")[0], 421)
        self.assertEqual(self.request(self.url, host=f"evil.example:{self.port}")[0], 421)
        self.assertEqual(self.request(base + "/nothing?token=" + token)[0], 404)
        form = b"project=work&action=stop"
        # POST: no Origin, a foreign Origin, no CSRF token: all refused.
        api = base + "/api/action?token=" + token
        self.assertEqual(self.request(api, method="POST", data=form)[0], 403)
        self.assertEqual(self.request(api, method="POST", data=form,
                                      headers={"Origin": "http://evil.example"})[0], 403)
        self.assertEqual(self.request(api, method="POST", data=form,
                                      headers={"Origin": base})[0], 403)
        self.assertEqual(self.request(api, method="POST", data=b"x" * 100000,
                                      headers={"Origin": base})[0], 413)

    def test_bounded_answers(self):
        self.start_monitor()
        token = self.url.split("token=")[1]
        # Headers of 2 MiB: an error or a closed connection, never a hang.
        with socket.create_connection(("127.0.0.1", self.port), timeout=ENDS_WITHIN) as s:
            try:
                s.sendall(f"GET /?token={token} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                          .encode() + b"X-Big: " + b"a" * (2 << 20) + b"\r\n\r\n")
                answer = s.recv(100)
            except ConnectionError:
                answer = b""
            self.assertFalse(answer.startswith(b"HTTP/1.1 200"), answer)
        # More open event streams than allowed: the extra ones get 503 and
        # the monitor still answers.
        _, statuses = open_event_streams(self, self.port, token, 260)
        self.assertEqual(statuses.count(b"HTTP/1.1 200"), 256)
        self.assertEqual(statuses.count(b"HTTP/1.1 503"), 4)
        status, body, _ = self.request(self.url.replace("/?", "/api/state?"))
        self.assertEqual((status, body), (200, b"[]"))


class SettingsAndOpenTest(WebTestCase):
    """[monitor] http in monitor.toml serves the page without --http, and
    `agent-runner web --open` / `monitor --open` hand the browser a 0600
    file that redirects to the tokenized URL, never the token itself."""

    def write_settings(self, text):
        with open(os.path.join(self.config_home, "agent-runner", "monitor.toml"), "w") as f:
            f.write(text)

    def fake_xdg_open(self):
        """An xdg-open on PATH that records its arguments, and the mode and
        text of the file it was given, as the browser would find them."""
        bindir = os.path.join(self.runtime, "bin")
        os.makedirs(bindir)
        record = os.path.join(self.runtime, "xdg-open.record")
        with open(os.path.join(bindir, "xdg-open"), "w") as f:
            f.write("#!/bin/sh\n"
                    f"r={record}\n"
                    'f="${1#file://}"\n'
                    '{ printf "%s\\n" "$#" "$@"; stat -c %a "$f"; cat "$f"; } > "$r.tmp"\n'
                    'mv "$r.tmp" "$r"\n')
        os.chmod(os.path.join(bindir, "xdg-open"), 0o755)
        return bindir + ":" + os.environ["PATH"], record

    def read_record(self, record):
        deadline = time.monotonic() + ENDS_WITHIN
        while not os.path.exists(record):
            self.assertLess(time.monotonic(), deadline, "xdg-open was not run")
            time.sleep(0.05)
        with open(record) as f:
            lines = f.read().split("\n")
        argc = int(lines[0])
        return lines[1:1 + argc], lines[1 + argc], "\n".join(lines[2 + argc:])

    def check_opened(self, record):
        token = self.url.split("token=")[1]
        argv, mode, page = self.read_record(record)
        self.assertEqual(len(argv), 1)
        self.assertTrue(argv[0].startswith("file:///"), argv)
        self.assertNotIn(token, argv[0])
        self.assertEqual(mode, "600")
        self.assertIn(self.url, page)
        return argv[0]

    def test_monitor_toml_serves_the_page_and_web_opens_it(self):
        self.write_settings(f'[monitor]\nhttp = true\nhttp_listen = "127.0.0.1:{self.port}"\n')
        a = self.project("sleep", agent_env={"FAKE_SLEEP": "600"})
        pa = self.serve(a)
        self.addCleanup(self.stop_daemon, pa)
        self.start_monitor(args=[])  # no --http: the file asks for the page
        self.assertIn(f"127.0.0.1:{self.port}/?token=", self.url)
        env = {"XDG_RUNTIME_DIR": self.runtime, "XDG_CONFIG_HOME": self.config_home}
        rc, out, err = self.client("web", env=env)
        self.assertEqual((rc, out.strip()), (0, self.url), err)
        path, record = self.fake_xdg_open()
        rc, out, err = self.client("web", "--open", env=dict(env, PATH=path))
        self.assertEqual(rc, 0, err)
        self.assertNotIn(self.url.split("token=")[1], out + err)
        opened = self.check_opened(record)
        # The browser follows the file to the live page.
        br = self.browser()
        br.goto(opened)
        br.wait_for("document.getElementById('conn')?.textContent === 'live'")
        br.wait_for("document.querySelectorAll('section.card').length === 1")
        self.assertEqual(br.errors, [])

    def test_monitor_open(self):
        path, record = self.fake_xdg_open()
        self.start_monitor(args=[f"--listen=127.0.0.1:{self.port}", "--open"], env={"PATH": path})
        self.check_opened(record)

    def test_no_page_served(self):
        env = {"XDG_RUNTIME_DIR": self.runtime, "XDG_CONFIG_HOME": self.config_home}
        rc, out, err = self.client("web", env=env)
        self.assertEqual(rc, 3)
        self.assertIn("monitor --http", err)
        self.assertIn("monitor.toml", err)
        # The monitor is gone but its URL file stayed: still "not served".
        mon = self.start_monitor()
        self.stop_monitor(mon)
        rc, out, err = self.client("web", env=env)
        self.assertEqual(rc, 3, err)
        self.assertIn("gone", err)

    def test_bad_settings_stop_the_monitor_with_file_line_col(self):
        path = os.path.join(self.config_home, "agent-runner", "monitor.toml")
        for text, where, says in (
                ("[monitor]\nhtp = true\n", "monitor.toml:2:1:", 'did you mean "http"'),
                ('[monitor]\nhttp_listen = "localhost:80"\n', "monitor.toml:2:15:",
                 "not an IP address"),
                ("[monitor]\nhttp = 1\n", "monitor.toml:2:8:", "true or false"),
                ("[web]\nhttp = true\n", "monitor.toml:1:2:", "[monitor]")):
            self.write_settings(text)
            p = subprocess.run([MONITOR, "--no-journal", "--no-notify", "--quiet"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               env=self.web_env(), timeout=ENDS_WITHIN)
            err = p.stderr.decode()
            self.assertEqual(p.returncode, 2, err)
            self.assertIn(path + ":" + where.split(":", 1)[1], err)
            self.assertIn(says, err)

    def test_project_file_points_to_monitor_toml(self):
        a = self.project("sleep", sections={"monitor": {"http": True}})
        rc, out, err = self.client("--config", a.config_path, "config", "check",
                                   env={"XDG_CONFIG_HOME": self.config_home})
        self.assertEqual(rc, 78, out + err)
        self.assertIn("agent-runner.toml:", out + err)
        self.assertIn(os.path.join(self.config_home, "agent-runner", "monitor.toml"), out + err)


HOOKS = os.path.join(HERE, "..", "hooks")


class SnapshotTest(WebTestCase):
    """Without JavaScript: the page's server-rendered cards; alerts beyond
    the built-in detectors; the warning for a non-loopback address."""

    def test_hook_alert_in_the_state_and_the_snapshot(self):
        hook_dir = tempfile.mkdtemp(prefix="ar-web-hooks-")
        self.addCleanup(shutil.rmtree, hook_dir, True)
        p = self.project("sleep", agent_env={"FAKE_SLEEP": "600"}, sections={
            "hooks": {"detector": [os.path.join(HOOKS, "detect.sh")]},
            "monitor": {"no_progress_rounds": 0}})
        proc = self.serve(p)
        self.addCleanup(self.stop_daemon, proc)
        self.start_monitor([f"--listen=127.0.0.1:{self.port}", "--interval=1"],
                           env={"HOOK_DIR": hook_dir})
        p.wait_event("agent_spawn", proc=proc)
        with open(os.path.join(hook_dir, "trip.tmp"), "w") as t:
            json.dump({"severity": "critical", "message": "the <build> is red"}, t)
        os.rename(os.path.join(hook_dir, "trip.tmp"), os.path.join(hook_dir, "trip"))

        def alerts():
            with urllib.request.urlopen(self.url.replace("/?", "/api/state?")) as r:
                cards = json.loads(r.read())
            return [c["alerts"] for c in cards if c["name"] == "work"][0]
        deadline = time.monotonic() + ENDS_WITHIN
        while not alerts() and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertEqual(alerts(), [{"detector": "detect", "severity": "critical",
                                     "message": "the <build> is red"}])
        # The snapshot for a browser without JavaScript: the card, its alert
        # (escaped), from the same model.
        with urllib.request.urlopen(self.url) as r:
            page = r.read().decode()
        self.assertIn('data-project="work"', page)
        self.assertIn('<li class="sev-critical">detect: the &lt;build&gt; is red</li>', page)
        # Over: the hook answers no alert, and the page says so.
        os.unlink(os.path.join(hook_dir, "trip"))
        deadline = time.monotonic() + ENDS_WITHIN
        while alerts() and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertEqual(alerts(), [])

    def test_listen_on_every_address_warns(self):
        # 0.0.0.0 inside a network namespace of its own (only its loopback
        # exists), so nothing is reachable from outside during the test.
        if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"):
            self.skipTest("needs root, unshare and ip for a private network namespace")
        env = self.web_env()
        proc = subprocess.Popen(["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"',
                                 "sh", MONITOR, "--no-journal", "--no-notify", "--quiet",
                                 f"--listen=0.0.0.0:{self.port}"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        self.addCleanup(self.stop_monitor, proc)
        url_file = os.path.join(self.runtime, "agent-runner", "monitor-http.url")
        deadline = time.monotonic() + ENDS_WITHIN
        while not os.path.exists(url_file):
            self.assertIsNone(proc.poll(), "the monitor ended")
            self.assertLess(time.monotonic(), deadline, "no URL file")
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        err = proc.stderr.read().decode()
        proc.wait(timeout=ENDS_WITHIN)
        self.assertIn(f"WARNING: the web page listens on 0.0.0.0:{self.port}, reachable from "
                      "other machines", err)
        # The URL handed out stays the loopback one.
        with open(url_file) as u:
            self.assertTrue(u.read().startswith(f"http://127.0.0.1:{self.port}/?token="))


class CapAlertTest(WebTestCase):
    def test_alerts_go_on_while_the_stream_cap_is_hit(self):
        """With every event stream taken (and more refused), a project's
        crash loop is still an alert on the monitor's output, and the open
        streams still get it."""
        out_path = os.path.join(self.runtime, "alerts.out")
        out = open(out_path, "w")
        self.addCleanup(out.close)
        self.start_monitor(out=out)
        token = self.url.split("token=")[1]
        streams, statuses = open_event_streams(self, self.port, token, 260)
        self.assertEqual(statuses.count(b"HTTP/1.1 503"), 4)
        self.assertEqual(statuses.count(b"HTTP/1.1 200"), 256)

        crash_loop_alerted(self, out_path)
        # The first stream (open all along) gets the alert as well.
        first = streams[0]
        got = b""
        deadline = time.monotonic() + ENDS_WITHIN
        while b"crash_loop" not in got and time.monotonic() < deadline:
            first.settimeout(max(0.1, deadline - time.monotonic()))
            chunk = first.recv(65536)
            if not chunk:
                break
            got += chunk
        self.assertIn(b"crash_loop", got)


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], *sys.argv[1:]], verbosity=2)

# SPDX-License-Identifier: Apache-2.0
"""The operator's client and bus: a stopped project still
answers, start says what happened, Serve counts from the call and ends a
back-off, signals name their project, options take any integer type, and
every error says what to do. Real daemon, real client, private bus."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import unittest

from bustest import CLIENT, ENDS_WITHIN, IFACE, PATH, BusTestCase

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "daemon"))
from test_backoff import FixtureMixin, future_fixture  # noqa: E402

NAME = "org.agentrunner.Runner1.work"


class OperatorTest(FixtureMixin, BusTestCase):
    def wait_gone(self, proc):
        proc.communicate(timeout=ENDS_WITHIN)
        return proc.returncode

    # ---- max_rounds counts from the call ----------------------------------

    def test_start_max_rounds_counts_from_the_call(self):
        p = self.project(agent_env={"FAKE_SLEEP": "600"})
        proc = self.serve(p)
        self.addCleanup(self.stop_daemon, proc)
        for n in (1, 2):
            p.wait_event("agent_spawn", count=n, proc=proc)
            self.bus.call(NAME, "Cancel")
        p.wait_event("agent_spawn", count=3, proc=proc)
        # 2 rounds done, round 3 runs: 2 more means rounds 3 and 4.
        rc, _, err = self.client("--project", "work", "start", "--max-rounds", "2")
        self.assertEqual(rc, 0, err)
        self.assertIn("stops after 2 more rounds", err)
        self.bus.call(NAME, "Cancel")
        p.wait_event("agent_spawn", count=4, proc=proc)
        self.assertIn(NAME, self.bus.names())
        self.bus.call(NAME, "Cancel")
        self.assertEqual(self.wait_gone(proc), 0)
        reached = p.events("max_rounds_reached")
        self.assertEqual(len(reached), 1)
        self.assertEqual(reached[0]["rounds_completed"], 4)

    # ---- a stopped project answers from its files -------------------------

    def test_stopped_project_answers_from_the_files(self):
        p = self.fixture_project("codex-0.171.0-401", monitor={"auth_fail_threshold": 1,
                                                               "auth_fail_hint": "codex login"})
        rc, _, err = p.run()
        self.assertEqual(rc, 80, err)
        rc, out, err = self.client("--config", p.config_path, "status")
        self.assertEqual(rc, 3, err)
        self.assertIn("stopped", out)
        self.assertIn("auth_failed: codex login", out)
        self.assertIn("agent-runner start", out)  # the fix
        self.assertIn("round 1: auth_failure", out)
        rc, out, _ = self.client("--config", p.config_path, "status", "--json")
        st = json.loads(out)
        self.assertFalse(st["running"])
        self.assertEqual(st["stop_reason"], "auth_failed")
        self.assertEqual(st["stop_detail"], "codex login")
        self.assertEqual(st["last_round"]["outcome"], "auth_failure")
        rc, out, err = self.client("--config", p.config_path, "peek", "--events", "3", "--json")
        self.assertEqual(rc, 0, err)
        doc = json.loads(out)
        self.assertEqual(doc["source"], "files")
        self.assertEqual(doc["service"]["state"], "stopped")
        self.assertEqual(doc["service"]["stop_reason"], "auth_failed")
        self.assertTrue(doc["service"]["stop_fix"])
        self.assertEqual([r["round_num"] for r in doc["last_rounds"]], [1])
        self.assertEqual(len(doc["recent_events"]), 3)
        rc, out, _ = self.client("--config", p.config_path, "peek", "--round", "latest",
                                 "--select", "current_round.outcome")
        self.assertEqual(out.strip(), "auth_failure")
        # "why did it die": the transcript's tail, from the files
        rc, out, err = self.client("--config", p.config_path, "peek", "--round", "latest",
                                   "--log", "--json")
        self.assertEqual(rc, 0, err)
        cur = json.loads(out)["current_round"]
        self.assertTrue(cur["log_path"].startswith(os.path.join(p.log_dir, "rounds", "R1-")))
        self.assertTrue(any("401" in line for line in cur["log_tail"]), cur["log_tail"])
        # watch keeps showing the last state: one JSON line per update.
        w = subprocess.Popen([CLIENT, "--config", p.config_path, "--json", "watch",
                              "--interval", "0.2"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=dict(os.environ, **self.env()))
        self.addCleanup(lambda: w.poll() is None and (w.kill(), w.wait()))
        lines = [w.stdout.readline(), w.stdout.readline()]
        w.send_signal(signal.SIGINT)
        self.assertEqual(w.wait(timeout=ENDS_WITHIN), 0)
        for line in lines:
            self.assertEqual(json.loads(line)["service"]["stop_reason"], "auth_failed")
        # A project that never ran says "not running" and exits 3.
        rc, _, err = self.client("--project", "nosuch", "peek")
        self.assertEqual(rc, 3)

    # ---- start says what happened ------------------------------------------

    def test_start_waits_for_the_first_round(self):
        p = self.project(agent_env={"FAKE_SLEEP": "600"})
        rc, _, err = self.client("start", cwd=p.work)
        self.assertEqual(rc, 0, err)
        pid = self.bus.peek()["service"]["pid"]
        self.addCleanup(lambda: os.path.exists(f"/proc/{pid}") and os.kill(pid, signal.SIGKILL))
        self.assertIn("round 1 is running", err)
        rc, _, err = self.client("--project", "work", "stop", "--now")
        self.assertEqual(rc, 0, err)

    def test_start_says_why_the_daemon_stopped(self):
        p = self.project(agent={"command": ["/nonexistent/agent-cli"]})
        rc, _, err = self.client("start", cwd=p.work)
        self.assertEqual(rc, 78, err)
        self.assertIn("stopped before its first round: config_broken", err)
        self.assertIn("fix:", err)
        self.assertIn("config check", err)

    # ---- Serve ends a back-off ---------------------------------------------

    def test_start_ends_a_backoff_early(self):
        reset = int(time.time()) + 20 * 3600
        fx = future_fixture("claude-2.1.197-oauth-429", reset)
        self.addCleanup(shutil.rmtree, fx, True)
        p = self.fixture_project("claude-2.1.197-oauth-429", fixtures=fx)
        proc = self.serve(p)
        self.addCleanup(self.stop_daemon, proc)
        p.wait_event("transient_error_detected", proc=proc)
        deadline = time.monotonic() + ENDS_WITHIN
        while self.bus.get(NAME, "State") != "backing_off" and time.monotonic() < deadline:
            time.sleep(0.05)
        rc, _, err = self.client("--project", "work", "start")
        self.assertEqual(rc, 0, err)
        self.assertIn("the next round starts now", err)
        ev = p.wait_event("backoff_ended_early", proc=proc)
        self.assertEqual(ev["requested_by"], "serve")
        self.assertEqual(ev["classification"], "rate_limit_account")
        p.wait_event("round_start", count=2, proc=proc)

    # ---- the bus surface ---------------------------------------------------

    def test_signals_name_the_project_and_options_take_any_integer(self):
        p = self.project(agent_env={"FAKE_SLEEP": "600"})
        mon = self.bus.monitor(NAME)
        self.addCleanup(lambda: (mon.kill(), mon.wait()))
        proc = self.serve(p)
        self.addCleanup(self.stop_daemon, proc)
        p.wait_event("agent_spawn", proc=proc)
        for sig in ("i", "x", "t", "q", "u"):
            _, err = self.bus.call(NAME, "Serve", "a{sv}", 1, "max_rounds", sig, 50)
            self.assertIsNone(err, sig)
        _, err = self.bus.call(NAME, "Serve", "a{sv}", 1, "max_rounds", "s", "5", check=False)
        self.assertIn("must be an integer", err)
        _, err = self.bus.call(NAME, "Serve", "a{sv}", 1, "max_rounds", "t", 2**33,
                               check=False)
        self.assertIn("between 0 and", err)
        data, err = self.bus.call(NAME, "Peek", "a{sv}", 1, "events", "i", 2)
        self.assertEqual(len(json.loads(data[0])["recent_events"]), 2)
        self.bus.call(NAME, "Cancel")
        p.wait_event("agent_spawn", count=2, proc=proc)
        self.stop_daemon(proc)
        mon.terminate()
        out = mon.communicate(timeout=ENDS_WITHIN)[0].decode()
        seen = {}
        for line in out.splitlines():
            m = json.loads(line)
            if m.get("type") == "signal" and m.get("interface") == IFACE:
                seen.setdefault(m["member"], m["payload"]["data"])
        self.assertEqual(seen["RoundStarted"][-1], "work")
        self.assertEqual(seen["RoundFinished"][-1], "work")
        self.assertEqual(seen["Event"][-1], "work")

    def test_peek_a_round_of_an_earlier_run(self):
        p = self.project("succeed")
        proc = self.serve(p, "--max-rounds", "2")
        self.assertEqual(self.wait_gone(proc), 0)
        p.write_config(restart_delay_s=600)
        proc = self.serve(p)
        self.addCleanup(self.stop_daemon, proc)
        p.wait_event("round_end", count=3, proc=proc)
        doc = self.bus.peek(round=1)
        cur = doc["current_round"]
        self.assertEqual(cur["round_num"], 1)
        self.assertEqual(cur["outcome"], "ok")
        self.assertEqual(cur["exit_code"], 0)
        self.assertTrue(cur["started_at"].endswith("Z"))
        self.assertTrue(cur["ended_at"].endswith("Z"))
        self.assertIsInstance(cur["elapsed_s"], (int, float))

    # ---- errors name what happened and what to do --------------------------

    def test_errors_say_what_to_do(self):
        p = self.project(agent_env={"FAKE_SLEEP": "600"})
        proc = self.serve(p)
        self.addCleanup(self.stop_daemon, proc)
        p.wait_event("agent_spawn", proc=proc)
        good = open(p.config_path).read()
        with open(p.config_path, "a") as f:
            f.write("[runtime]\nbogus = 1\n")
        # The daemon serving this config is found through its ConfigPath.
        rc, _, err = self.client("reload", cwd=p.work)
        self.assertEqual(rc, 78, err)
        self.assertNotIn("run this in the project's directory", err)
        self.assertIn("keeps running with the config it had", err)
        self.assertIn("agent-runner.toml:14:1", err)  # the daemon's own file:line
        rc, out, err = self.client("status", cwd=p.work)
        self.assertEqual(rc, 0, err)
        self.stop_daemon(proc)
        rc, _, err = self.client("reload", cwd=p.work)
        self.assertEqual(rc, 78)
        self.assertIn("config check", err)
        self.assertNotIn("run this in the project's directory", err)
        with open(p.config_path, "w") as f:
            f.write(good)
        empty = os.path.join(p.dir, "empty")
        os.makedirs(empty)
        rc, _, err = self.client("status", cwd=empty)
        self.assertEqual(rc, 78)
        self.assertIn("--project NAME", err)
        rc, _, err = self.client("--system", "list",
                                 env={"DBUS_SYSTEM_BUS_ADDRESS": "unix:path=" + empty + "/nobus"})
        self.assertEqual(rc, 1)
        self.assertIn("cannot reach the system bus", err)
        home = os.path.join(p.dir, "home")
        rc, out, err = self.client("uninstall", cwd=p.work,
                                   env={"HOME": home, "XDG_CONFIG_HOME": home + "/.config"})
        self.assertEqual(rc, 0, err)
        self.assertIn("is not installed", out)

    # ---- help, arguments, events, list --all, usage ------------------------

    def test_help_and_stray_arguments(self):
        rc, out, _ = self.client("help")
        self.assertEqual(rc, 0)
        self.assertIn("Verbs:", out)
        rc, out, _ = self.client("help", "stop")
        self.assertEqual(rc, 0)
        self.assertEqual(out.count("agent-runner stop [OPTION…]"), 1, out)
        self.assertNotIn("stop [OPTION…] stop", out)
        self.assertIn("--now", out)
        self.assertIn("--project", out)  # the global options too
        rc, out2, _ = self.client("stop", "--help")
        self.assertEqual((rc, out2), (0, out))
        rc, out, _ = self.client("orphans", "--help")
        self.assertIn("agent-runner orphans [OPTION…] [list|show SHA|pop SHA]", out)
        for verb in (["status", "work"], ["list", "x"], ["reload", "now"], ["cancel", "1"]):
            rc, _, err = self.client(*verb)
            self.assertEqual(rc, 2, verb)
            self.assertIn(f"unexpected argument '{verb[1]}'", err)
        rc, _, err = self.client("help", "nope")
        self.assertEqual(rc, 2)
        rc, _, err = self.client("stauts")
        self.assertEqual(rc, 2)
        self.assertIn("did you mean 'status'", err)

    def test_events_n_and_follow_shows_the_last_lines_first(self):
        p = self.project("succeed", restart_delay_s=0)
        self.assertEqual(p.run("--max-rounds", "3")[0], 0)
        rc, out, _ = self.client("--config", p.config_path, "events", "-n", "2", "--json")
        self.assertEqual(rc, 0)
        lines = out.splitlines()
        self.assertEqual(len(lines), 2)
        self.assertEqual(json.loads(lines[-1])["event"], "serve_stopping")
        total = len(p.events())
        self.assertGreater(total, 10)
        fol = subprocess.Popen([CLIENT, "--config", p.config_path, "events", "-f", "--json"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=dict(os.environ, **self.env()))
        self.addCleanup(lambda: fol.poll() is None and (fol.kill(), fol.wait()))
        first = [json.loads(fol.stdout.readline()) for _ in range(10)]
        self.assertEqual(first, p.events()[-10:])
        fol.send_signal(signal.SIGINT)
        self.assertEqual(fol.wait(timeout=ENDS_WITHIN), 0)

    def test_list_all_shows_installed_stopped_projects(self):
        p = self.fixture_project("codex-0.171.0-401", monitor={"auth_fail_threshold": 1})
        self.assertEqual(p.run()[0], 80)
        # What `install` leaves (tests/units checks install itself against a
        # real systemd --user): the config link and the unit's drop-in.
        cfg = os.path.join(p.dir, "config")
        os.makedirs(os.path.join(cfg, "agent-runner", "projects"))
        os.symlink(p.config_path, os.path.join(cfg, "agent-runner", "projects", "work.toml"))
        dropin = os.path.join(cfg, "systemd", "user", "agent-runner@work.service.d")
        os.makedirs(dropin)
        with open(os.path.join(dropin, "50-agent-runner.conf"), "w") as f:
            f.write("[Service]\n")
        env = {"XDG_CONFIG_HOME": cfg}
        rc, out, _ = self.client("list", "--json", env=env)
        self.assertEqual(json.loads(out), [])
        rc, out, err = self.client("list", "--all", "--json", env=env)
        self.assertEqual(rc, 0, err)
        rows = json.loads(out)
        self.assertEqual([(r["project"], r["state"], r["installed"], r["stop_reason"])
                          for r in rows], [("work", "stopped", True, "auth_failed")])
        self.assertEqual(rows[0]["round_num"], 1)
        rc, out, _ = self.client("list", "--all", env=env)
        self.assertIn("auth_failed", out)
        # and `status --project` finds the installed config by itself
        rc, out, _ = self.client("--project", "work", "status", env=env)
        self.assertEqual(rc, 3)
        self.assertIn("auth_failed", out)

    def test_status_shows_usage_and_cost(self):
        p = self.fixture_project("claude-2.1.197-ok")
        self.assertEqual(p.run("--max-rounds", "2")[0], 0)
        usage = p.events("agent_usage_recorded")
        self.assertEqual(len(usage), 2)
        rc, out, _ = self.client("--config", p.config_path, "status")
        self.assertIn("usage", out)
        self.assertIn("this run", out)
        self.assertIn("today", out)
        self.assertIn("over 2 rounds", out)
        rc, out, _ = self.client("--config", p.config_path, "status", "--json")
        st = json.loads(out)
        self.assertEqual(st["usage"]["round_num"], 2)
        self.assertEqual(st["usage_this_run"]["rounds"], 2)
        self.assertEqual(st["usage_this_run"]["output_tokens"],
                         sum(u["output_tokens"] for u in usage))
        self.assertEqual(st["usage_today"]["rounds"], 2)

    # ---- the foreground narrates on stderr ---------------------------------

    def test_serve_narrates_on_stderr_unless_quiet(self):
        reset = int(time.time()) + 20 * 3600
        fx = future_fixture("claude-2.1.197-oauth-429", reset)
        self.addCleanup(shutil.rmtree, fx, True)
        p = self.fixture_project("claude-2.1.197-oauth-429", fixtures=fx)
        env = dict(os.environ, **self.env())
        srv = subprocess.Popen([CLIENT, "serve"], cwd=p.work, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=env)
        self.addCleanup(lambda: srv.poll() is None and (srv.kill(), srv.wait()))
        seen = []
        deadline = time.monotonic() + ENDS_WITHIN
        while time.monotonic() < deadline:
            line = srv.stderr.readline().decode()
            seen.append(line)
            if "waiting for the rate limit until" in line or not line:
                break
        text = "".join(seen)
        self.assertIn("round 1 started", text)
        self.assertIn("round 1 ended: rate_limit_account", text)
        self.assertRegex(text, r"waiting for the rate limit until \d\d:\d\d \(")
        self.assertNotIn("\033[", text)  # no colour off a terminal
        self.bus.call(NAME, "Stop", "s", "now")
        self.assertEqual(srv.wait(timeout=ENDS_WITHIN), 0)
        q = self.project("succeed")
        rc, _, err = self.client("round", "--quiet", cwd=q.work)
        self.assertEqual(rc, 0, err)
        self.assertEqual(err, "")
        rc, _, err = self.client("round", cwd=q.work)
        self.assertIn("round 2 started", err)
        self.assertIn("round 2 ended: ok", err)

    def test_start_outside_systemd_logs_somewhere(self):
        if os.path.exists("/run/systemd/journal/socket"):
            self.skipTest("journald runs here: the daemon's stderr goes to the journal")
        p = self.project(agent_env={"FAKE_SLEEP": "600"})
        rc, _, err = self.client("start", cwd=p.work)
        self.assertEqual(rc, 0, err)
        pid = self.bus.peek()["service"]["pid"]
        self.addCleanup(lambda: os.path.exists(f"/proc/{pid}") and os.kill(pid, signal.SIGKILL))
        log = os.path.join(p.log_dir, "agent-runnerd.log")
        self.assertIn(log, err)
        self.assertEqual(os.readlink(f"/proc/{pid}/fd/2"), log)
        self.client("--project", "work", "stop", "--now")

    # ---- D-Bus activation ----------------------------------------------------

    def test_dbus_activation_file_starts_the_project(self):
        p = self.project(agent_env={"FAKE_SLEEP": "600"})
        home = os.path.join(p.dir, "home")
        env = {"XDG_DATA_HOME": home + "/data", "XDG_CONFIG_HOME": home + "/config"}
        rc, out, err = self.client("install", "--dry-run", cwd=p.work, env=env)
        self.assertEqual(rc, 0, err)
        self.assertIn("    BusName=org.agentrunner.Runner1.work", out)
        path = home + "/data/dbus-1/services/org.agentrunner.Runner1.work.service"
        self.assertIn(f"would write {path}:", out)
        # The file as install writes it; the link it names.
        body = out.split(f"would write {path}:\n", 1)[1]
        lines = []
        for line in body.splitlines():
            if not line.startswith("    "):
                break
            lines.append(line[4:])
        self.assertIn("SystemdService=agent-runner@work.service", lines)
        os.makedirs(os.path.dirname(path))
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        link = home + "/config/agent-runner/projects/work.toml"
        os.makedirs(os.path.dirname(link))
        os.symlink(p.config_path, link)
        # A bus whose session service dirs include that XDG_DATA_HOME (this
        # dbus-daemon has no systemd: it runs Exec=, as a bus without
        # systemd activation does).
        saved = dict(os.environ)
        os.environ.update(env)
        try:
            bus = type(self.bus)()
        finally:
            os.environ.clear()
            os.environ.update(saved)
        self.addCleanup(bus.stop)
        self.assertNotIn(NAME, bus.names())
        data, err = bus.call(NAME, "Peek", "a{sv}", 0)
        self.assertIsNone(err)
        doc = json.loads(data[0])
        self.assertEqual(doc["project"], "work")
        pid = doc["service"]["pid"]
        self.addCleanup(lambda: os.path.exists(f"/proc/{pid}") and os.kill(pid, signal.SIGKILL))
        self.assertIn(NAME, bus.names())
        p.wait_event("agent_spawn")
        bus.call(NAME, "Stop", "s", "now")

    # ---- output formats --------------------------------------------------

    # The Python tool's fields of the kinds a plain run produces, in order,
    # with their JSON types (python-tool-reference.md §3.2; None = null).
    PY_FIELDS = {
        "round_substrate_before": [("round_num", int), ("git_head", (str, None)),
                                   ("paths_hash", (str, None))],
        "round_start": [("round_num", int), ("phase", (str, None))],
        "agent_spawn": [("round_num", int), ("timeout_s", int)],
        "agent_exit": [("round_num", int), ("exit_code", int), ("duration_s", float),
                       ("timed_out", bool), ("exit_cause", str)],
        "round_end": [("round_num", int)],
        "agent_usage_recorded": [("agent", str), ("model", (str, None)), ("round_num", int),
                                 ("input_tokens", int), ("output_tokens", int),
                                 ("cached_tokens", int), ("cost_usd", (float, None)),
                                 ("duration_ms", int), ("models_breakdown", (dict, None)),
                                 ("cache_creation_tokens", int), ("tool_call_count", int),
                                 ("phase", str), ("success", bool)],
        "round_substrate_after": [("round_num", int), ("git_head", (str, None)),
                                  ("paths_hash", (str, None))],
        "max_rounds_reached": [("rounds_completed", int), ("max_rounds", int)],
    }

    def assertPyType(self, kind, name, value, want):
        wants = want if isinstance(want, tuple) else (want,)
        ok = any((value is None) if w is None else
                 (type(value) is w) for w in wants)  # bool is not an int here
        self.assertTrue(ok, f"{kind}.{name} = {value!r}: want {want}")

    def test_events_match_the_python_tool_kind_by_kind(self):
        p = self.fixture_project("claude-2.1.197-ok")
        self.assertEqual(p.run("--max-rounds", "2")[0], 0)
        seen = set()
        for ev in p.events():
            fields = self.PY_FIELDS.get(ev["event"])
            if fields is None:
                continue
            seen.add(ev["event"])
            keys = [k for k in ev if k not in ("ts", "event")]
            self.assertEqual(list(ev)[:2], ["ts", "event"])
            # the Python tool's fields lead, in its order; ours may follow
            self.assertEqual(keys[:len(fields)], [f for f, _ in fields], ev["event"])
            for name, want in fields:
                self.assertPyType(ev["event"], name, ev[name], want)
        self.assertEqual(seen, set(self.PY_FIELDS))
        self.assertEqual(p.events("agent_usage_recorded")[0]["phase"], "")
        self.assertEqual(p.events("agent_spawn")[0]["timeout_s"], 600)

    def test_numbers_are_shortest_round_trip(self):
        import re
        p = self.project("succeed")
        self.assertEqual(p.run("--max-rounds", "2")[0], 0)
        long_float = re.compile(r"\d\.\d{12,}")
        for name in os.listdir(p.log_dir):
            if name.endswith(".jsonl") or name == "state.json":
                text = open(os.path.join(p.log_dir, name)).read()
                self.assertIsNone(long_float.search(text), (name, long_float.search(text)))
        st = p.state()
        self.assertIsInstance(st["round_num"], int)
        self.assertIsInstance(st["last_round"]["duration_s"], float)
        # the client's --json: the same numbers the files hold
        rc, out, _ = self.client("--config", p.config_path, "peek", "--json")
        self.assertIsNone(long_float.search(out))
        last = json.loads(out)["last_rounds"][0]
        self.assertEqual(last["duration_s"], p.events("round_end")[-1]["duration_s"])
        self.assertIn(f'"duration_s": {last["duration_s"]!r}', out)

    # ---- parity with the Python tool's verbs --------------------------------

    def test_init_commit_restart_force_watch_selectors(self):
        repo = os.path.join(self.project().dir, "fresh")
        subprocess.run(["git", "init", "-q", repo], check=True)
        for k, v in (("user.name", "T"), ("user.email", "t@example.org")):
            subprocess.run(["git", "-C", repo, "config", k, v], check=True)
        rc, _, err = self.client("init", "--commit", "--no-commit", cwd=repo)
        self.assertEqual(rc, 2)
        self.assertIn("exclude each other", err)
        rc, _, err = self.client("init", "--commit", "--preset", "codex", cwd=repo)
        self.assertEqual(rc, 0, err)
        log = subprocess.run(["git", "-C", repo, "log", "--oneline"], stdout=subprocess.PIPE,
                             check=True).stdout.decode()
        self.assertEqual(len(log.splitlines()), 1, log)
        # restart --force: kill, then start
        p = self.project(agent_env={"FAKE_SLEEP": "600"})
        rc, _, err = self.client("start", cwd=p.work)
        self.assertEqual(rc, 0, err)
        first = self.bus.peek()["service"]["pid"]
        self.addCleanup(lambda: os.path.exists(f"/proc/{first}") and os.kill(first, 9))
        rc, _, err = self.client("restart", "--force", cwd=p.work)
        self.assertEqual(rc, 0, err)
        second = self.bus.peek()["service"]["pid"]
        self.addCleanup(lambda: os.path.exists(f"/proc/{second}") and os.kill(second, 9))
        self.assertNotEqual(first, second)
        self.assertEqual(p.events("round_end")[0]["outcome"], "cancelled")
        # watch with peek's selectors: the selection, one JSON line per update
        w = subprocess.Popen([CLIENT, "--project", "work", "--json", "watch", "--interval", "0.2",
                              "--select", "service.pid"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=dict(os.environ, **self.env()))
        self.addCleanup(lambda: w.poll() is None and (w.kill(), w.wait()))
        self.assertEqual(json.loads(w.stdout.readline()), second)
        self.assertEqual(json.loads(w.stdout.readline()), second)
        w.send_signal(signal.SIGINT)
        self.assertEqual(w.wait(timeout=ENDS_WITHIN), 0)
        self.client("--project", "work", "stop", "--now")

    def test_docs_list_exactly_the_defenses_reported(self):
        import re
        with open(os.path.join(os.environ.get("AR_SOURCE_ROOT", os.path.join(
                os.path.dirname(__file__), "..", "..")), "docs", "peek.md")) as f:
            text = f.read()
        block = text.split("<!-- defenses -->", 1)[1].split("<!-- /defenses -->", 1)[0]
        documented = re.findall(r"`([a-z_]+)`", block)
        p = self.project(agent_env={"FAKE_SLEEP": "600"})
        proc = self.serve(p)
        self.addCleanup(self.stop_daemon, proc)
        live = [d["name"] for d in self.bus.peek()["defenses"]]
        self.assertEqual(documented, live)

    def test_docs_subscriber_example_runs(self):
        """docs/bus.md's Python Gio subscriber, as a reader would run it."""
        py = "/usr/bin/python3"
        if subprocess.run([py, "-c", "from gi.repository import Gio"],
                          stderr=subprocess.DEVNULL).returncode != 0:
            self.skipTest("no python3-gi")
        root = os.environ.get("AR_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
        text = open(os.path.join(root, "docs", "bus.md")).read()
        code = text.split("```python\n", 1)[1].split("```", 1)[0]
        sub = subprocess.Popen([py, "-u", "-c", code], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=dict(os.environ, **self.env()))
        self.addCleanup(lambda: sub.poll() is None and (sub.kill(), sub.wait()))
        time.sleep(1.0)  # its match is on the bus once the loop runs
        p = self.project("succeed")
        proc = self.serve(p, "--max-rounds", "2")
        self.assertEqual(self.wait_gone(proc), 0)
        lines = [sub.stdout.readline().decode(), sub.stdout.readline().decode()]
        self.assertRegex(lines[0], r"^work: round 1 ok \(exit 0, \d+\.\d s\)$")
        self.assertRegex(lines[1], r"^work: round 2 ok ")

    def test_start_logs_to_the_journal_and_messages_read_as_sentences(self):
        from sysharness import can_unshare, run_with_journald
        if not can_unshare():
            self.skipTest("needs root and a private mount namespace for journald")
        script = r"""
cd "$BROKEN" && "$CLIENT" start >/dev/null 2>&1 || true
"$DAEMON" --config "$CONFIG" --once >/dev/null 2>&1
journalctl --sync
echo '--- stderr'
journalctl -o json --no-pager SYSLOG_IDENTIFIER=agent-runnerd _TRANSPORT=stdout
echo '--- round_end'
journalctl -o json --no-pager AGENT_RUNNER_EVENT=round_end
echo '--- round_start'
journalctl -o json --no-pager AGENT_RUNNER_EVENT=round_start
"""
        broken = self.project(agent={"command": ["/nonexistent/agent-cli"]})
        p = self.project("succeed")
        env = dict(os.environ, DAEMON=os.path.join(os.path.dirname(CLIENT), "..", "daemon",
                                                   "agent-runnerd"),
                   CLIENT=CLIENT, CONFIG=p.config_path, BROKEN=broken.work,
                   DBUS_SESSION_BUS_ADDRESS=self.bus.address)
        out = run_with_journald(script, env)
        self.assertEqual(out.returncode, 0, out.stderr.decode())
        parts = {}
        for chunk in out.stdout.decode().split("--- ")[1:]:
            name, _, body = chunk.partition("\n")
            parts[name] = [json.loads(l) for l in body.splitlines() if l.strip()]
        # the daemon start ran outside systemd: its stderr is in the journal
        self.assertTrue(any("STARTUP FAIL" in e["MESSAGE"] for e in parts["stderr"]),
                        parts["stderr"])
        self.assertFalse(os.path.exists(os.path.join(broken.log_dir, "agent-runnerd.log")))
        end = parts["round_end"][-1]
        self.assertRegex(end["MESSAGE"], r"^Round 1 ended: ok after \d+\.\d+ s$")
        self.assertEqual(end["AGENT_RUNNER_ROUND"], "1")
        self.assertNotIn("AGENT_RUNNER_ROUND_NUM", end)
        self.assertEqual(parts["round_start"][-1]["MESSAGE"], "Round 1 started")


if __name__ == "__main__":
    unittest.main(verbosity=2)

# SPDX-License-Identifier: Apache-2.0
"""agent-runner-monitor on a private bus against the real agent-runnerd
and the fake agents: detectors fire once and resolve once, alerts land in
the project's events through the daemon, auto-stop lasts across a
restart, a killed daemon is noticed, and desktop notifications reach a
real notification server (dunst on Xvfb)."""

import ctypes
import json
import os
import shutil
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bus"))
from bustest import BUILD_ROOT, ENDS_WITHIN, BusTestCase  # noqa: E402
from sysharness import can_unshare, private_system_bus, run_with_journald  # noqa: E402

MONITOR = os.path.join(BUILD_ROOT, "src", "monitor", "agent-runner-monitor")
NAME = "org.agentrunner.Runner1.work"
MONITOR_NAME = "org.agentrunner.Monitor1"


class Monitor:
    """The monitor in the foreground with --json: its alert lines are
    collected by a reader thread."""

    def __init__(self, test, *args, env=None):
        e = dict(os.environ)
        e.update(test.env(**(env or {})))
        # stderr to a file, so a test can wait for a message while it runs
        self.err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([MONITOR, "--json", "--no-journal", *args],
                                     stdout=subprocess.PIPE, stderr=self.err, env=e)
        self.lines = []
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for raw in self.proc.stdout:
            with self.cond:
                self.lines.append(json.loads(raw))
                self.cond.notify_all()

    def alerts(self, detector=None, state=None):
        with self.cond:
            return [a for a in self.lines
                    if (detector is None or a["detector"] == detector)
                    and (state is None or a["state"] == state)]

    def wait_alert(self, detector, state="emitted", count=1, timeout=ENDS_WITHIN):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                found = [a for a in self.lines
                         if a["detector"] == detector and a["state"] == state]
                if len(found) >= count:
                    return found[count - 1]
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise AssertionError(f"no {detector} {state} x{count}: {self.lines}; "
                                         f"rc {self.proc.poll()}")
                self.cond.wait(min(left, 0.2))

    def stop(self):
        if self.proc.stdout.closed:
            return self.proc.returncode, ""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=ENDS_WITHIN)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.thread.join(timeout=5)
        err = self.stderr()
        self.proc.stdout.close()
        self.err.close()
        return self.proc.returncode, err

    def stderr(self):
        self.err.seek(0)
        return self.err.read().decode(errors="replace")

    def wait_stderr(self, text, timeout=ENDS_WITHIN):
        deadline = time.monotonic() + timeout
        while text not in self.stderr():
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not in the monitor's stderr: {self.stderr()}")
            time.sleep(0.05)


class MonitorTestCase(BusTestCase):
    def commit_all(self, p):
        """A first commit of the work tree, the log dir ignored."""
        git = ["git", "-C", p.work, "-c", "user.name=t", "-c", "user.email=t@example.org"]
        with open(os.path.join(p.work, ".gitignore"), "w") as f:
            f.write("logs/\n")
        subprocess.run(git + ["add", "-A"], check=True)
        subprocess.run(git + ["commit", "-qm", "start"], check=True)

    def monitor(self, *args, env=None, wait_name=True):
        m = Monitor(self, *args, env=env)
        self.addCleanup(m.stop)
        if wait_name:
            self.bus.wait_name(MONITOR_NAME, proc=m.proc)
        return m


class DetectorTest(MonitorTestCase):
    def test_crash_loop_fires_once_and_resolves_once(self):
        p = self.project("fail-fast")
        m = self.monitor()
        rc, _, err = p.run(env=self.env())
        self.assertEqual(rc, 79, err)
        a = m.wait_alert("crash_loop")
        self.assertEqual(a["severity"], "critical")
        self.assertEqual(a["project"], "work")
        # A fresh start that succeeds: the condition is over.
        p.write_config(agent_env={"FAKE_FAIL_ROUNDS": "0"}, max_rounds=1)
        rc, _, err = p.run("--clear-done", env=self.env())
        self.assertEqual(rc, 0, err)
        m.wait_alert("crash_loop", "resolved")
        self.assertEqual(len(m.alerts("crash_loop", "emitted")), 1)
        self.assertEqual(len(m.alerts("crash_loop", "resolved")), 1)

    def test_alerts_recorded_by_the_daemon(self):
        # no_progress after 2 rounds that leave HEAD and the tree alone; the
        # daemon still runs, so the alert lands in its events.
        p = self.project("succeed", sections={"monitor": {"no_progress_rounds": 2}},
                         restart_delay_s=1)
        self.commit_all(p)
        m = self.monitor()
        proc = self.serve(p)
        m.wait_alert("no_progress")
        ev = p.wait_event("monitor_alert_emitted", proc=proc)
        self.assertEqual(ev["detector"], "no_progress")
        self.assertEqual(ev["severity"], "warning")
        self.assertIsNone(ev["auto_action"])
        p.wait_event("round_end", count=4, proc=proc)
        self.assertEqual(len(p.events("monitor_alert_emitted")), 1)
        self.assertEqual(len(m.alerts("no_progress", "emitted")), 1)
        # A commit: HEAD moves at the next round's end, the streak is over.
        subprocess.run(["git", "-C", p.work, "-c", "user.name=t", "-c", "user.email=t@example.org",
                        "commit", "-q", "--allow-empty", "-m", "progress"], check=True)
        m.wait_alert("no_progress", "resolved")
        self.stop_daemon(proc)

    def test_disk_critical_stops_and_the_stop_lasts(self):
        health = {"disk_warning_pct": 0.0, "disk_critical_pct": 0.0}
        p = self.project("sleep", agent_env={"FAKE_SLEEP": "600"},
                         sections={"monitor.host_health": health})
        m = self.monitor("--interval", "1")
        rc, _, err = p.run(env=self.env())
        self.assertEqual(rc, 0, err)
        a = m.wait_alert("disk_critical")
        self.assertEqual(a["auto_action"], "stop_service")
        ev = p.events("monitor_alert_emitted")
        self.assertEqual([e["detector"] for e in ev], ["disk_critical"])
        self.assertEqual(ev[0]["auto_action"], "stop_service")
        self.assertEqual(p.events("monitor_auto_stop_triggered")[0]["detector"], "disk_critical")
        # A restart (as the unit would do) stays stopped, without a round.
        rounds = len(p.events("round_start"))
        rc, _, err = p.run(env=self.env())
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(p.events("round_start")), rounds)
        self.assertEqual(p.events("serve_stopping")[-1]["reason"],
                         "monitor_auto_stop:disk_critical")
        self.assertEqual(p.state()["stop_reason"], "monitor_auto_stop")

    def test_disk_critical_fires_and_resolves(self):
        # The stop it causes lasts; the operator raises the threshold and
        # starts the project again: the alert is over, once.
        health = {"disk_warning_pct": 0.0, "disk_critical_pct": 0.0}
        p = self.project("sleep", agent_env={"FAKE_SLEEP": "600"},
                         sections={"monitor.host_health": health})
        m = self.monitor("--interval", "1")
        rc, _, err = p.run(env=self.env())
        self.assertEqual(rc, 0, err)
        m.wait_alert("disk_critical")
        health["disk_critical_pct"] = 100.0
        p.write_config(agent_env={"FAKE_SLEEP": "600"},
                       sections={"monitor.host_health": health})
        proc = self.serve(p, "--clear-done")
        m.wait_alert("disk_critical", "resolved")
        self.assertEqual(p.wait_event("monitor_alert_resolved", proc=proc)["detector"],
                         "disk_critical")
        # Samples keep coming every second: no second alert.
        time.sleep(1.5)
        self.assertEqual([x["state"] for x in m.alerts("disk_critical")],
                         ["emitted", "resolved"])
        self.stop_daemon(proc)

    def test_supervisor_stale_when_silent(self):
        # A long round without progress events: after 2 s of silence the
        # supervisor is stale; the next event (the reload's, which also
        # raises the threshold) ends it.
        monitor = {"supervisor_stale_threshold_s": 2, "round_progress_interval_s": 0,
                   "no_progress_rounds": 0}
        p = self.project("sleep", agent_env={"FAKE_SLEEP": "600"}, sections={"monitor": monitor})
        m = self.monitor()
        proc = self.serve(p)
        a = m.wait_alert("supervisor_stale")
        self.assertIn("no event from the supervisor for more than 2s", a["message"])
        self.assertIsNone(proc.poll())
        monitor["supervisor_stale_threshold_s"] = 3600
        p.write_config(agent_env={"FAKE_SLEEP": "600"}, sections={"monitor": monitor})
        _, err = self.bus.call(NAME, "Reload")
        self.assertIsNone(err)
        m.wait_alert("supervisor_stale", "resolved")
        time.sleep(2.5)
        self.assertEqual([x["state"] for x in m.alerts("supervisor_stale")],
                         ["emitted", "resolved"])
        self.stop_daemon(proc)

    def test_supervisor_stale_when_killed(self):
        p = self.project("sleep", agent_env={"FAKE_SLEEP": "600"})
        m = self.monitor()
        proc = self.serve(p)
        p.wait_event("agent_spawn", proc=proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        a = m.wait_alert("supervisor_stale")
        self.assertIn("went away", a["message"])
        # A deliberate stop is not stale: the alert resolves on the restart
        # and does not come back when it stops.
        proc = self.serve(p)
        m.wait_alert("supervisor_stale", "resolved")
        self.stop_daemon(proc)
        self.bus.wait_name(NAME, present=False)
        time.sleep(0.5)
        self.assertEqual(len(m.alerts("supervisor_stale", "emitted")), 1)

    def test_started_late_reads_the_state_from_peek(self):
        # The monitor comes up after the crash loop of a daemon that still
        # runs its last round: Peek's ring of recent events is its start-up.
        p = self.project("sleep", agent_env={"FAKE_SLEEP": "600"},
                         sections={"monitor": {"no_progress_rounds": 0}})
        proc = self.serve(p)
        p.wait_event("agent_spawn", proc=proc)
        m = self.monitor("--mode", "alerts")
        # Only the running round is known: nothing is wrong.
        time.sleep(1)
        self.assertEqual(m.alerts(), [])
        self.stop_daemon(proc)


class MoreDetectorTest(MonitorTestCase):
    def test_timeout_rate_at_two_of_ten(self):
        p = self.project("sleep", agent_env={"FAKE_SLEEP": "30"}, round_timeout_s=1,
                         max_rounds=2)
        m = self.monitor()
        rc, _, err = p.run(env=self.env())
        self.assertEqual(rc, 0, err)
        # 8 quick rounds: the window of 10 is full with 2 timeouts (20 %).
        p.agent = "succeed"
        p.write_config(max_rounds=8)
        rc, _, err = p.run(env=self.env())
        self.assertEqual(rc, 0, err)
        a = m.wait_alert("timeout_rate")
        self.assertIn("2 of the last 10", a["message"])
        # One more clean round: 1 of 10, over.
        p.write_config(max_rounds=1)
        rc, _, err = p.run(env=self.env())
        self.assertEqual(rc, 0, err)
        m.wait_alert("timeout_rate", "resolved")
        self.assertEqual(len(m.alerts("timeout_rate")), 2)

    def test_orphan_chain_after_three_dirty_rounds(self):
        p = self.project("dirty", max_rounds=3)
        self.commit_all(p)
        m = self.monitor()
        rc, _, err = p.run(env=self.env(GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.org",
                                        GIT_COMMITTER_NAME="t",
                                        GIT_COMMITTER_EMAIL="t@example.org"))
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(p.events("orphan_stashed")), 3, p.kinds())
        a = m.wait_alert("orphan_chain")
        self.assertIn("3 rounds", a["message"])
        p.agent = "succeed"
        p.write_config(max_rounds=1)
        rc, _, err = p.run(env=self.env())
        self.assertEqual(rc, 0, err)
        m.wait_alert("orphan_chain", "resolved")

    def test_hung_when_the_supervisor_freezes(self):
        # round_timeout_s 4: hung after 6 s. A stopped daemon cannot end
        # the round; once it continues, it does, and the alert is over.
        p = self.project("sleep", agent_env={"FAKE_SLEEP": "30"}, round_timeout_s=4,
                         sections={"monitor": {"supervisor_stale_threshold_s": 0}})
        m = self.monitor()
        proc = self.serve(p)
        p.wait_event("agent_spawn", proc=proc)
        # Let the monitor read its config first (a daemon frozen before it
        # answers leaves it the default thresholds: timeouts of an hour).
        time.sleep(1)
        proc.send_signal(signal.SIGSTOP)
        try:
            a = m.wait_alert("hung")
            self.assertIn("round 1", a["message"])
        finally:
            proc.send_signal(signal.SIGCONT)
        m.wait_alert("hung", "resolved")
        self.assertEqual(len(m.alerts("hung")), 2)
        self.stop_daemon(proc)

    def test_oauth_fail_stops_the_project(self):
        # The daemon itself would stop at the first auth failure
        # (auth_fail_threshold 1); with a high threshold the monitor's
        # oauth_fail (2 of 10, default auto_stop_on) is what stops it.
        p = self.project("say", agent_env={"FAKE_SAY": "Error: 401 Unauthorized"},
                         sections={"monitor": {"auth_fail_threshold": 100}})
        m = self.monitor()
        rc, _, err = p.run(env=self.env())
        self.assertEqual(rc, 0, err)
        a = m.wait_alert("oauth_fail")
        self.assertEqual(a["severity"], "critical")
        self.assertEqual(a["auto_action"], "stop_service")
        self.assertEqual(p.events("monitor_auto_stop_triggered")[0]["detector"], "oauth_fail")
        self.assertEqual(len(p.events("agent_exit")), 10)

    def test_oauth_fail_fires_and_resolves(self):
        # After the stop, 9 clean rounds leave 1 failure in the window of
        # 10: below 2 of 10, the alert is over.
        p = self.project("say", agent_env={"FAKE_SAY": "Error: 401 Unauthorized"},
                         sections={"monitor": {"auth_fail_threshold": 100}})
        m = self.monitor()
        rc, _, err = p.run(env=self.env())
        self.assertEqual(rc, 0, err)
        m.wait_alert("oauth_fail")
        p.agent = "succeed"
        p.write_config(max_rounds=8, sections={"monitor": {"auth_fail_threshold": 100}})
        rc, _, err = p.run("--clear-done", env=self.env())
        self.assertEqual(rc, 0, err)
        p.wait_event("agent_exit", count=18)
        time.sleep(0.5)
        self.assertEqual(m.alerts("oauth_fail", "resolved"), [])
        p.write_config(max_rounds=1, sections={"monitor": {"auth_fail_threshold": 100}})
        rc, _, err = p.run(env=self.env())
        self.assertEqual(rc, 0, err)
        m.wait_alert("oauth_fail", "resolved")
        self.assertEqual([x["state"] for x in m.alerts("oauth_fail")], ["emitted", "resolved"])

    def test_auth_failed_and_config_broken_are_immediate(self):
        p = self.project("say", agent_env={"FAKE_SAY": "Error: 401 Unauthorized"})
        m = self.monitor()
        rc, _, err = p.run(env=self.env())
        self.assertEqual(rc, 80, err)
        a = m.wait_alert("auth_failed")
        self.assertEqual(a["severity"], "critical")
        prompt = os.path.join(p.work, "prompt.md")
        with open(prompt) as f:
            text = f.read()
        os.unlink(prompt)
        rc, _, err = p.run("--clear-done", env=self.env())
        self.assertEqual(rc, 78, err)
        a = m.wait_alert("config_broken")
        self.assertEqual(a["severity"], "critical")
        # Fixed, and a round starts again: both are over, once each.
        with open(prompt, "w") as f:
            f.write(text)
        p.agent = "succeed"
        p.write_config(max_rounds=1)
        rc, _, err = p.run("--clear-done", env=self.env())
        self.assertEqual(rc, 0, err)
        m.wait_alert("auth_failed", "resolved")
        m.wait_alert("config_broken", "resolved")
        self.assertEqual(len(m.alerts("auth_failed")), 2)
        self.assertEqual(len(m.alerts("config_broken")), 2)

    def test_host_health_warnings(self):
        health = {"disk_warning_pct": 0.0, "disk_critical_pct": 100.0,
                  "mem_avail_min_mb": 1 << 30}
        p = self.project("sleep", agent_env={"FAKE_SLEEP": "600"},
                         sections={"monitor.host_health": health})
        m = self.monitor("--interval", "1")
        proc = self.serve(p)
        m.wait_alert("disk_warning")
        m.wait_alert("mem_pressure")
        # Samples keep coming (every second) with moving figures: no re-alert.
        time.sleep(2.5)
        self.assertEqual(len(m.alerts("disk_warning")), 1)
        self.assertEqual(len(m.alerts("mem_pressure")), 1)
        self.assertEqual(m.alerts("disk_critical"), [])
        self.stop_daemon(proc)


class TransientTest(MonitorTestCase):
    def test_rate_limit_active_while_backing_off(self):
        p = self.project("say", agent_env={"FAKE_SAY": "Error: 429 Too Many Requests"})
        m = self.monitor()
        proc = self.serve(p)
        det = p.wait_event("transient_error_detected", proc=proc)
        a = m.wait_alert("rate_limit_active")
        self.assertIn(det["classification"], a["message"])
        time.sleep(0.5)
        self.assertEqual(len(m.alerts("rate_limit_active")), 1)
        # The agent works again and Serve ends the back-off early: over.
        p.agent = "succeed"
        p.write_config()
        _, err = self.bus.call(NAME, "Reload")
        self.assertIsNone(err)
        _, err = self.bus.call(NAME, "Serve", "a{sv}", 0)
        self.assertIsNone(err)
        p.wait_event("backoff_ended_early", proc=proc)
        m.wait_alert("rate_limit_active", "resolved")
        self.assertEqual(len(m.alerts("rate_limit_active")), 2)
        self.stop_daemon(proc)

    def test_quota_exhausted_is_immediate(self):
        p = self.project("say", agent_env={"FAKE_SAY": "Error: Your credit balance is too low"})
        m = self.monitor()
        rc, _, err = p.run(env=self.env())
        self.assertEqual(rc, 0, err)
        self.assertIsNone(p.events("quota_exhausted")[0]["reset_at_epoch"])
        a = m.wait_alert("quota_exhausted")
        self.assertEqual(a["severity"], "critical")
        p.agent = "succeed"
        p.write_config(max_rounds=1)
        rc, _, err = p.run("--clear-done", env=self.env())
        self.assertEqual(rc, 0, err)
        m.wait_alert("quota_exhausted", "resolved")

    def test_network_fail_two_of_ten(self):
        p = self.project("say", agent_env={"FAKE_SAY": "Error: connect ECONNREFUSED 1.2.3.4:443"},
                         transient_error_action="skip", max_rounds=10)
        m = self.monitor()
        rc, _, err = p.run(env=self.env())
        self.assertEqual(rc, 0, err)
        a = m.wait_alert("network_fail")
        self.assertEqual(a["severity"], "warning")
        self.assertIn("10 of the last 10", a["message"])
        # 9 clean rounds: 1 of the last 10, over.
        p.agent = "succeed"
        p.write_config(transient_error_action="skip", max_rounds=9)
        rc, _, err = p.run(env=self.env())
        self.assertEqual(rc, 0, err)
        m.wait_alert("network_fail", "resolved")
        self.assertEqual(len(m.alerts("network_fail")), 2)


class HistoryTest(MonitorTestCase):
    def write_history(self, p, rounds, timed_out):
        """rounds rounds of events in this month's file, as the daemon
        writes them; the rounds in timed_out timed out."""
        os.makedirs(p.log_dir, exist_ok=True)
        now = time.time()
        month = time.strftime("%Y-%m", time.gmtime(now))
        path = os.path.join(p.log_dir, f"events-{month}.jsonl")
        with open(path, "w") as f:
            for n in range(1, rounds + 1):
                t = now - (rounds - n + 1) * 0.2
                ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".000Z"
                to = n in timed_out
                for ev in ({"event": "round_start", "round_num": n, "phase": None},
                           {"event": "agent_spawn", "round_num": n, "timeout_s": 600},
                           {"event": "agent_exit", "round_num": n, "exit_code": -15 if to else 0,
                            "duration_s": 600.0 if to else 1.0, "timed_out": to,
                            "exit_cause": "timeout" if to else "clean", "cpu_user_s": 0.1,
                            "cpu_sys_s": 0.1, "max_rss_kb": 1000},
                           {"event": "round_end", "round_num": n,
                            "outcome": "timeout" if to else "ok",
                            "exit_code": -15 if to else 0, "duration_s": 1.0},
                           {"event": "round_substrate_after", "round_num": n,
                            "git_head": "%040x" % n, "paths_hash": None}):
                    f.write(json.dumps({"ts": ts, **ev}) + "\n")
        return path

    def test_started_after_10000_rounds(self):
        p = self.project("sleep", agent_env={"FAKE_SLEEP": "600"})
        # Two of the last ten rounds timed out (timeout_rate), an early
        # streak of timeouts is long over.
        path = self.write_history(p, 10000, {10, 11, 12, 13, 9993, 9997})
        size = os.path.getsize(path)
        proc = self.serve(p)
        p.wait_event("agent_spawn", proc=proc)
        self.assertEqual(p.events("round_start")[-1]["round_num"], 10001)
        m = self.monitor()
        a = m.wait_alert("timeout_rate")
        self.assertIn("2 of the last 10", a["message"])
        time.sleep(0.5)
        self.assertEqual([x["detector"] for x in m.alerts()], ["timeout_rate"])
        # It read the end of the file, not the history.
        with open(f"/proc/{m.proc.pid}/io") as f:
            io = dict(line.split(": ") for line in f.read().splitlines())
        self.assertLess(int(io["rchar"]), size / 10, io)
        self.stop_daemon(proc)


class ActingTest(MonitorTestCase):
    def test_a_second_monitor_only_watches(self):
        p = self.project("succeed", sections={"monitor": {"no_progress_rounds": 2}},
                         max_rounds=4)
        self.commit_all(p)
        first = self.monitor()
        second = self.monitor(wait_name=False)
        time.sleep(0.5)
        rc, _, err = p.run(env=self.env())
        self.assertEqual(rc, 0, err)
        first.wait_alert("no_progress")
        second.wait_alert("no_progress")
        # Both saw it; only the one that owns the name handed it over.
        self.assertEqual(len(p.events("monitor_alert_emitted")), 1)
        second.wait_stderr("only watches")


class HostHealthTest(MonitorTestCase):
    def private_tmpfs(self, size):
        """A tmpfs of size in a mount namespace of this test process (and
        the daemon and monitor it starts), before any thread exists."""
        if os.geteuid() != 0:
            sys.exit(77)
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.unshare(0x00020000) != 0:  # CLONE_NEWNS
            sys.exit(77)
        subprocess.run(["mount", "--make-rprivate", "/"], check=True)
        d = tempfile.mkdtemp(prefix="arm-tmpfs-")
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", d], check=True)
        self.addCleanup(shutil.rmtree, d, True)
        self.addCleanup(subprocess.run, ["umount", "-l", d])
        return d

    def test_disk_warning_fires_and_resolves(self):
        d = self.private_tmpfs("1m")
        health = {"disk_warning_pct": 50.0, "disk_critical_pct": 100.0}
        p = self.project("sleep", log_dir=os.path.join(d, "logs"),
                         agent_env={"FAKE_SLEEP": "600"},
                         sections={"monitor.host_health": health})
        m = self.monitor("--interval", "1")
        proc = self.serve(p)
        p.wait_event("agent_spawn", proc=proc)
        time.sleep(1.5)
        self.assertEqual(m.alerts("disk_warning"), [])
        ballast = os.path.join(d, "ballast")
        with open(ballast, "wb") as f:
            f.write(b"x" * (700 << 10))
        a = m.wait_alert("disk_warning")
        self.assertIn("warning at 50.0%", a["message"])
        os.unlink(ballast)
        m.wait_alert("disk_warning", "resolved")
        self.assertEqual([x["state"] for x in m.alerts("disk_warning")], ["emitted", "resolved"])
        self.assertEqual(p.wait_event("monitor_alert_resolved", proc=proc)["detector"],
                         "disk_warning")
        self.stop_daemon(proc)

    def test_mem_pressure_fires_and_resolves(self):
        # Memory cannot be squeezed on a shared machine: the threshold moves
        # instead, through a reload.
        p = self.project("sleep", agent_env={"FAKE_SLEEP": "600"},
                         sections={"monitor.host_health": {"mem_avail_min_mb": 1 << 30}})
        m = self.monitor("--interval", "1")
        proc = self.serve(p)
        m.wait_alert("mem_pressure")
        p.write_config(agent_env={"FAKE_SLEEP": "600"},
                       sections={"monitor.host_health": {"mem_avail_min_mb": 1}})
        _, err = self.bus.call(NAME, "Reload")
        self.assertIsNone(err)
        m.wait_alert("mem_pressure", "resolved")
        time.sleep(1.5)
        self.assertEqual([x["state"] for x in m.alerts("mem_pressure")], ["emitted", "resolved"])
        self.stop_daemon(proc)


class RepetitiveTest(MonitorTestCase):
    def test_anomaly_repetitive_active_fires_and_resolves(self):
        # The daemon's scanner emits anomaly_repetitive_tool for the fake
        # agent that reads one file over and over; 5 rounds later it is over.
        p = self.project("repeat-tool", max_rounds=1, agent={"output": "claude-stream-json"},
                         sections={"monitor": {"anomaly_repetitive_window": 10,
                                               "anomaly_repetitive_threshold": 3,
                                               "no_progress_rounds": 0}})
        m = self.monitor()
        rc, _, err = p.run(env=self.env())
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(p.events("anomaly_repetitive_tool")), 1)
        a = m.wait_alert("anomaly_repetitive_active")
        self.assertIn("Read on /src/main.c", a["message"])
        p.agent = "succeed"
        p.write_config(max_rounds=4, sections={"monitor": {"no_progress_rounds": 0}})
        rc, _, err = p.run(env=self.env())
        self.assertEqual(rc, 0, err)
        p.wait_event("round_end", count=5)
        time.sleep(0.5)
        self.assertEqual(m.alerts("anomaly_repetitive_active", "resolved"), [])
        p.write_config(max_rounds=1, sections={"monitor": {"no_progress_rounds": 0}})
        rc, _, err = p.run(env=self.env())
        self.assertEqual(rc, 0, err)
        m.wait_alert("anomaly_repetitive_active", "resolved")
        self.assertEqual(len(m.alerts("anomaly_repetitive_active")), 2)


HOOKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "hooks")


class DetectorHookTest(MonitorTestCase):
    """[hooks] detector: the acting monitor runs them after each round and
    with each host-health sample; each is a detector named after the hook."""

    def setUp(self):
        super().setUp()
        self.hook_dir = tempfile.mkdtemp(prefix="arm-hooks-")
        self.addCleanup(shutil.rmtree, self.hook_dir, True)

    def trip(self, **alert):
        with open(os.path.join(self.hook_dir, "trip.tmp"), "w") as f:
            json.dump(alert, f)
        os.rename(os.path.join(self.hook_dir, "trip.tmp"), os.path.join(self.hook_dir, "trip"))

    def wait_file(self, name):
        path = os.path.join(self.hook_dir, name)
        deadline = time.monotonic() + ENDS_WITHIN
        while not os.path.exists(path):
            self.assertLess(time.monotonic(), deadline, f"no {name}")
            time.sleep(0.05)
        return path

    def test_hook_alert_fires_resolves_and_stops(self):
        p = self.project("sleep", agent_env={"FAKE_SLEEP": "600"}, sections={
            "hooks": {"detector": [os.path.join(HOOKS, "detect.sh"),
                                   os.path.join(HOOKS, "fail.sh")]},
            "monitor": {"auto_stop_on": ["detect"], "no_progress_rounds": 0}})
        m = self.monitor("--interval", "1", env={"HOOK_DIR": self.hook_dir})
        proc = self.serve(p)
        p.wait_event("agent_spawn", proc=proc)
        with open(self.wait_file("detector.json")) as f:
            doc = json.load(f)
        self.assertEqual(doc["hook_kind"], "detector")
        self.assertEqual(doc["hook_name"], "detect")
        self.assertEqual(doc["project"], "work")
        self.assertIsNone(doc["phase"])
        # state: the daemon's Peek document.
        self.assertEqual(doc["state"]["project"], "work")
        self.assertTrue(doc["state"]["current_round"]["running"])
        # A failing hook is said, and changes no alert.
        m.wait_stderr("detector hook fail failed: exited with status 3")
        self.assertEqual(m.alerts(), [])
        # A warning without stop_service: recorded by the daemon, no stop.
        self.trip(severity="warning", message="tripped once")
        a = m.wait_alert("detect")
        self.assertEqual((a["severity"], a["message"], a["auto_action"]),
                         ("warning", "tripped once", "none"))
        ev = p.wait_event("monitor_alert_emitted", proc=proc)
        self.assertEqual(ev["detector"], "detect")
        # Samples keep coming: the same answer never alerts again.
        os.unlink(os.path.join(self.hook_dir, "detector.json"))
        self.wait_file("detector.json")
        os.unlink(os.path.join(self.hook_dir, "detector.json"))
        self.wait_file("detector.json")
        self.assertEqual(len(m.alerts("detect")), 1)
        os.unlink(os.path.join(self.hook_dir, "trip"))
        m.wait_alert("detect", "resolved")
        # stop_service from a hook auto_stop_on names: the project stops.
        self.trip(severity="critical", message="stop it", auto_action="stop_service")
        a = m.wait_alert("detect", count=2)
        self.assertEqual((a["severity"], a["auto_action"]), ("critical", "stop_service"))
        rc, err = self.wait_exit(proc)
        self.assertEqual(rc, 0, err)
        self.assertEqual(p.events("monitor_auto_stop_triggered")[0]["detector"], "detect")
        # The stop lasts: the daemon's marker names the hook.
        with open(os.path.join(p.log_dir, ".monitor-stop")) as f:
            self.assertEqual(f.read(), "detect")
        # The monitor ends cleanly (under ASan: without leaks).
        rc, err = m.stop()
        self.assertEqual(rc, 0, err)

    def test_hook_leftovers_are_killed(self):
        p = self.project("sleep", agent_env={"FAKE_SLEEP": "600"}, sections={
            "hooks": {"detector": [os.path.join(HOOKS, "double-fork.sh")]}})
        self.monitor(env={"HOOK_DIR": self.hook_dir})
        proc = self.serve(p)
        self.addCleanup(self.stop_daemon, proc)
        with open(self.wait_file("escapee.pid")) as f:
            pid = int(f.read())
        deadline = time.monotonic() + ENDS_WITHIN
        while os.path.exists(f"/proc/{pid}"):
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    break
            self.assertLess(time.monotonic(), deadline, f"escapee {pid} still runs")
            time.sleep(0.05)


JOURNAL_SCRIPT = r"""
"$MONITOR" --quiet --no-notify >/dev/null 2>&1 &
MPID=$!
trap 'kill $MPID $JPID; wait $MPID $JPID 2>/dev/null || true' EXIT
for i in $(seq 1 3000); do
  busctl --user status org.agentrunner.Monitor1 >/dev/null 2>&1 && break; sleep 0.01
done
"$DAEMON" --config "$CONFIG" --no-journal >/dev/null 2>&1 || echo "daemon rc=$?" >&2
for i in $(seq 1 500); do
  journalctl --sync
  journalctl -o json --no-pager AGENT_RUNNER_EVENT=monitor_alert_emitted | grep -q . && break
  sleep 0.02
done
journalctl -o json --no-pager AGENT_RUNNER_EVENT=monitor_alert_emitted
echo ---
journalctl -o json --no-pager AGENT_RUNNER_EVENT=monitor_started
"""


class JournalTest(MonitorTestCase):
    def test_alert_in_the_monitors_journal_entries(self):
        if not can_unshare():
            sys.exit(77)
        from bustest import DAEMON
        p = self.project("fail-fast")
        env = dict(os.environ, DAEMON=DAEMON, MONITOR=MONITOR, CONFIG=p.config_path,
                   DBUS_SESSION_BUS_ADDRESS=self.bus.address)
        out = run_with_journald(JOURNAL_SCRIPT, env)
        self.assertEqual(out.returncode, 0, out.stderr.decode())
        alerts, started = out.stdout.decode().split("---\n")
        entries = [json.loads(x) for x in alerts.splitlines() if x.strip()]
        self.assertEqual(len(entries), 1, out.stderr.decode())
        # The monitor said when it began watching the project.
        started = [json.loads(x) for x in started.splitlines() if x.strip()]
        self.assertEqual(len(started), 1, out.stderr.decode())
        self.assertEqual(started[0]["MESSAGE_ID"], "c31300fb965a4f9d87884bfc61f33f74")
        self.assertEqual(started[0]["AGENT_RUNNER_PROJECT"], "work")
        e = entries[0]
        # The daemon was gone (crash loop): this entry is the record.
        self.assertEqual(e["MESSAGE_ID"], "0c4d69ee244e4c6ca107534749965537")
        self.assertEqual(e["AGENT_RUNNER_PROJECT"], "work")
        self.assertEqual(e["AGENT_RUNNER_DETECTOR"], "crash_loop")
        self.assertEqual(e["AGENT_RUNNER_SEVERITY"], "critical")
        self.assertTrue(e["_COMM"].startswith("agent-runner-mo"), e["_COMM"])


class ReloadTest(MonitorTestCase):
    def test_reload_applies_new_thresholds(self):
        p = self.project("sleep", agent_env={"FAKE_SLEEP": "600"})
        m = self.monitor("--interval", "1")
        proc = self.serve(p)
        p.wait_event("agent_spawn", proc=proc)
        time.sleep(1.5)
        self.assertEqual(m.alerts("mem_pressure"), [])
        p.write_config(agent_env={"FAKE_SLEEP": "600"},
                       sections={"monitor.host_health": {"mem_avail_min_mb": 1 << 30}})
        _, err = self.bus.call(NAME, "Reload")
        self.assertIsNone(err)
        m.wait_alert("mem_pressure")
        self.stop_daemon(proc)


class SystemTest(MonitorTestCase):
    def test_system_bus_monitor_as_root(self):
        if os.geteuid() != 0:
            sys.exit(77)
        sysbus = private_system_bus(self)
        env = {"DBUS_SYSTEM_BUS_ADDRESS": sysbus.address}
        health = {"disk_warning_pct": 0.0, "disk_critical_pct": 0.0}
        p = self.project("sleep", agent_env={"FAKE_SLEEP": "600"},
                         sections={"monitor.host_health": health})
        e = dict(os.environ, **env)
        mon = subprocess.Popen([MONITOR, "--system", "--json", "--no-journal"], env=e,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(lambda: mon.poll() is None and (mon.terminate(), mon.wait()))
        # The shipped policy lets root own the monitor's name.
        sysbus.wait_name(MONITOR_NAME, proc=mon)
        rc, _, err = p.run("--system", env=env)
        self.assertEqual(rc, 0, err)
        self.assertEqual(p.events("monitor_auto_stop_triggered")[0]["detector"], "disk_critical")
        mon.terminate()
        out, err = mon.communicate(timeout=ENDS_WITHIN)
        alerts = [json.loads(x) for x in out.decode().splitlines()]
        self.assertEqual([a["detector"] for a in alerts], ["disk_critical"], err.decode())
        self.assertNotIn("desktop", err.decode())  # no notifications on the system bus


class ClientTest(MonitorTestCase):
    def test_monitor_verb_events_and_narrate(self):
        p = self.project("succeed", max_rounds=1)
        env = dict(os.environ)
        env.update(self.env())
        from bustest import CLIENT
        procs = {}
        for mode in ("events", "narrate"):
            procs[mode] = subprocess.Popen([CLIENT, "monitor", "--mode", mode, "--no-notify"],
                                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                           env=env)
            if mode == "events":
                # The first owns the monitor name: it follows the projects
                # before the name is there (its matches are synchronous).
                self.bus.wait_name(MONITOR_NAME)
            else:
                # The second says so once its matches are in place.
                for line in procs[mode].stderr:
                    if b"only watches" in line:
                        break
        rc, _, err = p.run(env=self.env())
        self.assertEqual(rc, 0, err)
        out = {}
        for mode, proc in procs.items():
            # Read until the round's end has been printed, then stop it.
            seen = b""
            fd = proc.stdout.fileno()
            deadline = time.monotonic() + ENDS_WITHIN
            while b"round_end" not in seen and time.monotonic() < deadline:
                ready, _, _ = select.select([fd], [], [], max(deadline - time.monotonic(), 0))
                chunk = os.read(fd, 65536) if ready else b""
                if not chunk:
                    break
                seen += chunk
            proc.send_signal(signal.SIGINT)
            o, e = proc.communicate(timeout=ENDS_WITHIN)
            self.assertEqual(proc.returncode, 0, e)
            out[mode] = (seen + o).decode()
        lines = [json.loads(x) for x in out["events"].splitlines()]
        started = [x for x in lines if x["event"] == "monitor_started"]
        self.assertEqual(len(started), 1, lines)
        self.assertEqual((started[0]["project"], started[0]["host"], started[0]["interval_s"],
                          started[0]["mode"], started[0]["log_dir"]),
                         ("work", None, 30, "events", p.log_dir))
        self.assertIn("monitor_started", out["narrate"])
        ends = [x for x in lines if x["event"] == "round_end"]
        self.assertEqual(len(ends), 1, lines)
        self.assertEqual(ends[0]["project"], "work")
        self.assertEqual(ends[0]["round_num"], 1)
        self.assertRegex(out["narrate"], r"\] work +round_end +round=1 outcome=ok")


    def test_monitor_verb_project_filter(self):
        # Two projects crash-loop; `--project other` shows other's events
        # and alerts only.
        work = self.project("fail-fast")
        other = self.project("fail-fast")
        path = os.path.join(other.dir, "other")
        os.rename(other.work, path)
        other.work, other.log_dir = path, os.path.join(path, "logs")
        other.config_path = os.path.join(path, "agent-runner.toml")
        env = dict(os.environ)
        env.update(self.env())
        from bustest import CLIENT
        procs = {}
        for mode in ("alerts", "events"):
            procs[mode] = subprocess.Popen([CLIENT, "--project", "other", "--json", "monitor",
                                            "--mode", mode, "--no-notify"],
                                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                           env=env)
            self.addCleanup(lambda pr=procs[mode]: pr.poll() is None and (pr.kill(), pr.wait()))
            if mode == "alerts":
                self.bus.wait_name(MONITOR_NAME)
            else:
                for line in procs[mode].stderr:
                    if b"only watches" in line:
                        break
        for p, rc_want in ((work, 79), (other, 79)):
            rc, _, err = p.run(env=self.env())
            self.assertEqual(rc, rc_want, err)
        want = {"alerts": b"crash_loop", "events": b"serve_stopping"}
        out = {}
        for mode, proc in procs.items():
            seen = b""
            fd = proc.stdout.fileno()
            deadline = time.monotonic() + ENDS_WITHIN
            while want[mode] not in seen and time.monotonic() < deadline:
                ready, _, _ = select.select([fd], [], [], max(deadline - time.monotonic(), 0))
                chunk = os.read(fd, 65536) if ready else b""
                if not chunk:
                    break
                seen += chunk
            proc.send_signal(signal.SIGINT)
            o, e = proc.communicate(timeout=ENDS_WITHIN)
            self.assertEqual(proc.returncode, 0, e)
            out[mode] = [json.loads(x) for x in (seen + o).decode().splitlines()]
        self.assertEqual([(a["project"], a["detector"], a["state"]) for a in out["alerts"]],
                         [("other", "crash_loop", "emitted")])
        kinds = [x["event"] for x in out["events"]]
        self.assertIn("serve_stopping", kinds)
        self.assertEqual({x["project"] for x in out["events"]}, {"other"}, kinds)
        # Both projects did crash-loop: the filter, not luck, kept work out.
        self.assertTrue(work.events("round_start"))


def have(*progs):
    return all(shutil.which(x) for x in progs)


@unittest.skipUnless(have("Xvfb", "dunst", "dunstctl"), "needs Xvfb, dunst (apt: xvfb dunst)")
class NotificationTest(MonitorTestCase):
    def setUp(self):
        super().setUp()
        r, w = os.pipe()
        self.xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(w), "-nolisten", "tcp"],
                                     pass_fds=(w,), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        os.close(w)
        with os.fdopen(r) as f:
            self.display = ":" + f.readline().strip()
        self.home = tempfile.mkdtemp(prefix="ar-dunst-")
        self.addCleanup(shutil.rmtree, self.home, True)
        self.addCleanup(self._stop, self.xvfb)
        self.dunst = subprocess.Popen(["dunst"], env=self.desktop_env(),
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(self._stop, self.dunst)
        self.bus.wait_name("org.freedesktop.Notifications", proc=self.dunst)

    def _stop(self, proc):
        proc.terminate()
        try:
            proc.wait(timeout=ENDS_WITHIN)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def desktop_env(self):
        e = dict(os.environ)
        e.update(self.env(DISPLAY=self.display, HOME=self.home))
        return e

    def dunstctl(self, *args):
        return subprocess.run(["dunstctl", *args], env=self.desktop_env(), check=True,
                              stdout=subprocess.PIPE, timeout=ENDS_WITHIN).stdout.decode()

    def test_crash_loop_gives_one_critical_notification(self):
        p = self.project("fail-fast")
        m = self.monitor()
        for n in (1, 2):
            rc, _, err = p.run("--clear-done", env=self.env())
            self.assertEqual(rc, 79, err)
            m.wait_alert("crash_loop", count=n)
            deadline = time.monotonic() + ENDS_WITHIN
            while int(self.dunstctl("count", "displayed")) < 1 and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.3)  # a second notification would show up by now
            self.assertEqual(int(self.dunstctl("count", "displayed")), 1)
            self.assertEqual(int(self.dunstctl("count", "waiting")), 0)
        self.dunstctl("close-all")
        hist = json.loads(self.dunstctl("history"))["data"][0]
        self.assertEqual(len(hist), 1, hist)
        self.assertIn("work", hist[0]["summary"]["data"])
        self.assertIn("crash_loop", hist[0]["summary"]["data"])
        # dunst's history has no urgency field; critical is the urgency
        # whose notifications never time out (dunst's default timeout 0).
        self.assertEqual(hist[0]["timeout"]["data"], 0)

    def test_project_finished(self):
        p = self.project("agent-done")
        self.monitor()
        rc, _, err = p.run(env=self.env())
        self.assertEqual(rc, 0, err)
        self.assertTrue(p.events("agent_self_terminated"))
        deadline = time.monotonic() + ENDS_WITHIN
        while int(self.dunstctl("count", "displayed")) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        self.dunstctl("close-all")
        hist = json.loads(self.dunstctl("history"))["data"][0]
        self.assertEqual(len(hist), 1, hist)
        self.assertEqual(hist[0]["summary"]["data"], "agent-runner: work finished")

    def test_every_round_end_replaces_the_last(self):
        p = self.project("succeed", max_rounds=3,
                         sections={"monitor": {"notify": ["round_end"], "no_progress_rounds": 0}})
        self.monitor()
        rc, _, err = p.run(env=self.env())
        self.assertEqual(rc, 0, err)
        deadline = time.monotonic() + ENDS_WITHIN
        while time.monotonic() < deadline:
            shown = self.dunstctl("count", "displayed")
            if int(shown) >= 1:
                break
            time.sleep(0.05)
        time.sleep(0.5)
        self.assertEqual(int(self.dunstctl("count", "displayed")), 1)
        self.dunstctl("close-all")
        hist = json.loads(self.dunstctl("history"))["data"][0]
        self.assertEqual([h["summary"]["data"] for h in hist], ["agent-runner: work round 3"])

    def test_no_server_is_a_note(self):
        self._stop(self.dunst)
        self.bus.wait_name("org.freedesktop.Notifications", present=False)
        p = self.project("fail-fast")
        m = self.monitor()
        p.run(env=self.env())
        m.wait_alert("crash_loop")
        m.wait_stderr("no desktop notification server")
        rc, err = m.stop()
        self.assertEqual(rc, 0, err)


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], *sys.argv[1:]], verbosity=2)

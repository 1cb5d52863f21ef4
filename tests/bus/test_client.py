# SPDX-License-Identifier: Apache-2.0
"""The thin client's bus verbs against the real daemon on a private bus."""

import json
import os
import signal
import subprocess
import time
import unittest

from bustest import CLIENT, ENDS_WITHIN, BusTestCase, pid_alive

NAME = "org.agentrunner.Runner1.work"


class ClientTest(BusTestCase):
    def test_not_running_message_and_code(self):
        p = self.project()
        rc, out, err = self.client("--config", p.config_path, "status")
        self.assertEqual(rc, 3)
        self.assertIn("project work is not running", err)
        self.assertIn(NAME, err)
        self.assertIn("agent-runner start", err)
        for verb in (["stop"], ["stop", "--now"], ["kill"], ["cancel"], ["reload"],
                     ["peek"]):
            rc, _, err = self.client("--project", "nosuch", *verb)
            self.assertEqual(rc, 3, (verb, err))
            self.assertIn("not running", err)
        rc, out, _ = self.client("--project", "work", "status", "--json")
        self.assertEqual(rc, 3)
        self.assertFalse(json.loads(out)["running"])

    def test_start_status_peek_list_cancel_stop(self):
        p = self.project(agent_env={"FAKE_SLEEP": "600"})
        rc, _, err = self.client("start", cwd=p.work)
        self.assertEqual(rc, 0, err)
        p.wait_event("agent_spawn")
        daemon_pid = self.bus.peek()["service"]["pid"]
        self.addCleanup(lambda: pid_alive(daemon_pid) and os.kill(daemon_pid, signal.SIGKILL))
        rc, out, err = self.client("--config", p.config_path, "status")
        self.assertEqual(rc, 0, err)
        self.assertIn("running", out)
        self.assertIn("round", out)
        self.assertNotIn("\033[", out)  # no colour off a terminal
        rc, out, _ = self.client("--project", "work", "status", "--json")
        st = json.loads(out)
        self.assertTrue(st["running"])
        self.assertEqual(st["state"], "running")
        self.assertEqual(st["current_round"]["round_num"], 1)
        rc, out, _ = self.client("--project", "work", "peek", "--select", "current_round.round_num")
        self.assertEqual(out.strip(), "1")
        rc, out, _ = self.client("--project", "work", "peek", "--round", "latest", "--log",
                                 "--events", "2", "--json")
        doc = json.loads(out)
        self.assertIn("sleeping 600s", doc["current_round"]["log_tail"])
        self.assertEqual(len(doc["recent_events"]), 2)
        rc, _, err = self.client("--project", "work", "peek", "--select", "nope.x")
        self.assertEqual(rc, 1)
        self.assertIn("nope", err)
        rc, out, _ = self.client("list", "--json")
        self.assertEqual([(x["project"], x["state"]) for x in json.loads(out)],
                         [("work", "running")])
        rc, _, err = self.client("--project", "work", "cancel")
        self.assertEqual(rc, 0, err)
        p.wait_event("agent_spawn", count=2)
        rc, _, err = self.client("--project", "work", "reload")
        self.assertEqual(rc, 0, err)
        rc, _, err = self.client("--project", "work", "start")
        self.assertEqual(rc, 0, err)
        self.assertIn("already running", err)
        rc, _, err = self.client("--project", "work", "stop", "--now")
        self.assertEqual(rc, 0, err)
        self.assertIn("stopping", err)
        self.assertRegex(err, r"stopped \(\d+\.\ds\)")
        self.assertNotIn(NAME, self.bus.names())
        deadline = time.monotonic() + ENDS_WITHIN
        while pid_alive(daemon_pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertFalse(pid_alive(daemon_pid))
        self.assertEqual([e["outcome"] for e in p.events("round_end")], ["cancelled", "cancelled"])

    def test_events_one_shot_and_follow(self):
        p = self.project("succeed", restart_delay_s=600)
        proc = self.serve(p)
        p.wait_event("round_end", proc=proc)
        rc, out, err = self.client("--config", p.config_path, "events", "--kind",
                                   "round_start,round_end", "--json")
        self.assertEqual(rc, 0, err)
        self.assertEqual([json.loads(l)["event"] for l in out.splitlines()],
                         ["round_start", "round_end"])
        rc, _, err = self.client("--config", p.config_path, "events", "--kind", "bogus")
        self.assertEqual(rc, 2)
        # Follow over the bus, then over the file once the daemon is gone.
        env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=self.bus.address)
        fol = subprocess.Popen([CLIENT, "--config", p.config_path, "events", "--follow", "--json"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        self.addCleanup(lambda: fol.poll() is None and (fol.kill(), fol.wait()))
        # The follower is subscribed once its match is on the bus; Cancel
        # fails (no round), Reload emits config_reloaded.
        deadline = time.monotonic() + ENDS_WITHIN
        lines = []
        pending = [b""]
        os.set_blocking(fol.stdout.fileno(), False)

        def read_lines():
            # A non-blocking read may end in the middle of a line: keep the
            # tail for the next read.
            chunk = fol.stdout.read()
            if chunk:
                data = pending[0] + chunk
                *whole, pending[0] = data.split(b"\n")
                lines.extend(w.decode() for w in whole if w)

        while time.monotonic() < deadline and not any("config_reloaded" in l for l in lines):
            self.bus.call(NAME, "Reload")
            time.sleep(0.1)
            read_lines()
        self.assertTrue(any(json.loads(l)["event"] == "config_reloaded" for l in lines), lines)
        self.stop_daemon(proc)
        # Now from the file: a second daemon run appends. Not serve(): a
        # --once run of a quick agent may be over before its bus name can
        # be seen, and only its events matter here.
        proc = p.start("--once", env=self.env())
        deadline = time.monotonic() + ENDS_WITHIN

        def second_run_seen():
            # The first run's serve_stopping is in lines already: wait for
            # the second run's start and then its stop.
            kinds = [json.loads(l)["event"] for l in lines]
            return "serve_started" in kinds and \
                "serve_stopping" in kinds[kinds.index("serve_started"):]

        while time.monotonic() < deadline and not second_run_seen():
            time.sleep(0.05)
            read_lines()
        kinds = [json.loads(l)["event"] for l in lines]
        self.assertGreaterEqual(kinds.count("serve_started"), 1, kinds)
        self.assertIn("serve_stopping", kinds)
        fol.send_signal(signal.SIGINT)
        self.assertEqual(fol.wait(timeout=ENDS_WITHIN), 0)
        self.wait_exit(proc)

    def test_watch_redraws_and_ends_on_sigint(self):
        p = self.project("succeed", restart_delay_s=600)
        proc = self.serve(p)
        p.wait_event("round_end", proc=proc)
        env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=self.bus.address)
        w = subprocess.Popen([CLIENT, "--project", "work", "watch", "--interval", "0.2"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        self.addCleanup(lambda: w.poll() is None and (w.kill(), w.wait()))
        os.set_blocking(w.stdout.fileno(), False)
        out = b""
        deadline = time.monotonic() + ENDS_WITHIN
        while out.count(b"work  ") < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
            out += w.stdout.read() or b""
        self.assertGreaterEqual(out.count(b"work  "), 2, out)
        w.send_signal(signal.SIGINT)
        self.assertEqual(w.wait(timeout=ENDS_WITHIN), 0)
        self.stop_daemon(proc)

    def test_start_reports_a_broken_config(self):
        p = self.project(raw="[agent]\ncommand = 3\n")
        rc, _, err = self.client("--config", p.config_path, "start")
        self.assertNotEqual(rc, 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)

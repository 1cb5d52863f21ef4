# SPDX-License-Identifier: Apache-2.0
"""Upgrade in place (src/daemon/ard-upgrade.c): the real agent-runnerd on a
private dbus-daemon re-executes itself into a second build of the daemon
(agent-runnerd-nextver: another version string, and the test-only fault
switch AGENT_RUNNER_TEST_UPGRADE_FAULT that only that build honours).
Same PID before and after; the events say what happened."""

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bus"))
from bustest import BUILD_ROOT, ENDS_WITHIN, BusTestCase, pid_alive  # noqa: E402

NEXT = os.path.join(BUILD_ROOT, "tests", "agent-runnerd-nextver")
NAME = "org.agentrunner.Runner1.work"
NAME2 = "org.agentrunner.Runner1.second"


class UpgradeCase(BusTestCase):
    agent = "ticker"

    def setUp(self):
        super().setUp()
        if not os.path.exists(NEXT):
            raise unittest.SkipTest("agent-runnerd-nextver not built")
        self.next_version = None

    ticks = 25

    def start(self, fault=None, env=None, **runtime):
        p = self.project(**runtime)
        env = {"FAKE_TICKS": str(self.ticks), "FAKE_TICK_S": "0.2", **(env or {})}
        if fault:
            env["AGENT_RUNNER_TEST_UPGRADE_FAULT"] = fault
        proc = self.serve(p, env=env)
        self.addCleanup(self.stop_daemon, proc)
        return p, proc

    def upgrade(self, target=NEXT, check=False, expect_ok=True):
        args = [target, 1, "check", "b", "true"] if check else [target, 0]
        data, err = self.bus.call(NAME, "Upgrade", "sa{sv}", *args, check=False)
        if expect_ok:
            self.assertIsNone(err, err)
            return json.loads(data[0])
        self.assertIsNotNone(err, "the upgrade should have failed")
        return err

    def version(self):
        deadline = time.monotonic() + ENDS_WITHIN
        while time.monotonic() < deadline:
            p = self.bus.busctl("--json=short", "get-property", NAME,
                                "/org/agentrunner/Runner1", "org.agentrunner.Runner1",
                                "Version", check=False)
            if p.returncode == 0:
                return json.loads(p.stdout)["data"]
            time.sleep(0.02)
        raise AssertionError("the name never came back")

    def wait_state(self, p, proc, state, name=NAME):
        deadline = time.monotonic() + ENDS_WITHIN
        while time.monotonic() < deadline:
            if self.bus.get(name, "State") == state:
                return
            self.assertIsNone(proc.poll(), "daemon exited")
            time.sleep(0.02)
        raise AssertionError(f"never {state}")

    def assert_transcript_whole(self, p, n):
        with open(p.transcript(n)) as f:
            lines = [l.rstrip("\n") for l in f if l.startswith("tick ") or l == "done\n"]
        ticks = [l for l in lines if l.startswith("tick ")]
        self.assertEqual(ticks, [f"tick {i}" for i in range(1, self.ticks + 1)])
        self.assertEqual(lines[-1], "done")

    def wait_transcript(self, p, proc, n, line):
        """Until round n's transcript holds line (the agent got that far)."""
        deadline = time.monotonic() + ENDS_WITHIN
        while time.monotonic() < deadline:
            try:
                with open(p.transcript(n)) as f:
                    if line + "\n" in f.read():
                        return
            except AssertionError:
                pass
            self.assertIsNone(proc.poll(), "daemon exited")
            time.sleep(0.02)
        raise AssertionError(f"round {n} never printed {line!r}")

    def assert_round_kept(self, p, proc, agent_pid, upgraded):
        """The handed-over round 1 ends once, accounted as any other."""
        self.assertEqual(self.bus.get(NAME, "AgentPid"), agent_pid)
        self.assertTrue(pid_alive(agent_pid), "the agent keeps running")
        end = p.wait_event("round_end", proc=proc)
        self.assertEqual(end["round_num"], 1)
        self.assertEqual(end["outcome"], "ok")
        self.assertEqual(end["exit_code"], 0)
        ex = [e for e in p.events("agent_exit") if e["round_num"] == 1]
        self.assertEqual(len(ex), 1)
        self.assertEqual(ex[0]["exit_code"], 0)
        self.assertEqual(ex[0]["exit_cause"], "clean")
        # From the round's real start, not from the hand-over: the agent
        # sleeps 50 x 0.2 s at least.
        self.assertGreaterEqual(ex[0]["duration_s"], 9.9)
        self.assertGreaterEqual(end["duration_s"], 9.9)
        self.assert_transcript_whole(p, 1)
        kinds = p.kinds()
        self.assertLess(kinds.index(upgraded), kinds.index("agent_exit"))
        self.assertEqual([e["round_num"] for e in p.events("round_end")][:1], [1])
        p.wait_event("agent_spawn", count=2, proc=proc)
        self.assertEqual([e["round_num"] for e in p.events("agent_spawn")], [1, 2])
        self.assertEqual([e["round_num"] for e in p.events("round_start")], [1, 2])
        self.assertEqual(p.kinds().count("serve_started"), 1)
        self.assertIsNone(proc.poll(), "same PID throughout")


class UpgradeTest(UpgradeCase):
    def test_between_rounds(self):
        p, proc = self.start(restart_delay_s=4)
        old = self.version()
        p.wait_event("round_end", proc=proc)
        self.wait_state(p, proc, "waiting")
        res = self.upgrade()
        self.assertFalse(res["deferred"])
        self.assertEqual(res["from_version"], old)
        ev = p.wait_event("service_upgraded", proc=proc)
        self.assertEqual(ev["from_version"], old)
        self.assertEqual(ev["to_version"], old + "+next")
        self.assertFalse(ev["round_kept"])
        self.assertGreaterEqual(ev["duration_s"], 0)
        self.assertEqual(self.version(), old + "+next")
        self.assertIsNone(proc.poll())
        # The restart delay goes on; round numbers continue on the new image.
        p.wait_event("round_start", count=2, proc=proc)
        self.assertEqual([e["round_num"] for e in p.events("round_start")], [1, 2])
        self.assertEqual(p.kinds().count("serve_started"), 1)
        p.wait_event("round_end", count=2, proc=proc)
        self.assert_transcript_whole(p, 2)
        self.assertEqual(p.state()["round_num"], 2)
        self.assertIsNone(proc.poll(), "same PID throughout")

    def mid_round(self, split):
        # ~10 s of output; the upgrade after ~3 s of it.
        self.ticks = 50
        env = {"FAKE_SPLIT": "1", "FAKE_TICK_S": "0.1"} if split else {}
        p, proc = self.start(env=env, restart_delay_s=1)
        old = self.version()
        p.wait_event("round_start", proc=proc)
        agent_pid = self.bus.get(NAME, "AgentPid")
        self.assertGreater(agent_pid, 0)
        self.wait_transcript(p, proc, 1, "tick 15")
        res = self.upgrade()
        self.assertFalse(res["deferred"])
        ev = p.wait_event("service_upgraded", proc=proc)
        self.assertEqual(ev["from_version"], old)
        self.assertEqual(ev["to_version"], old + "+next")
        self.assertTrue(ev["round_kept"])
        self.assertEqual(self.version(), old + "+next")
        self.assertEqual(self.bus.get(NAME, "State"), "running")
        self.assertEqual(self.bus.get(NAME, "RoundNum"), 1)
        self.assert_round_kept(p, proc, agent_pid, "service_upgraded")
        # The next round runs on the new image.
        self.assertEqual(self.version(), old + "+next")
        self.assertEqual(p.state()["round_num"], 2)
        self.assertNotIn("package_upgraded", p.kinds())

    def test_mid_round_keeps_the_round(self):
        self.mid_round(split=False)

    def test_mid_round_half_a_line(self):
        # Lines written in two halves: the hand-over often falls between
        # them; the transcript still has every line once.
        self.mid_round(split=True)

    def test_mid_round_classifier_state(self):
        # What the classifier saw before the hand-over counts at the round's
        # end: the usage and model of a result line printed before it (the
        # new image re-reads the transcript into a fresh classifier).
        self.ticks = 50
        first = "\n".join([
            '{"type":"system","subtype":"init","model":"claude-test"}',
            '{"type":"result","subtype":"success","is_error":false,"duration_ms":4321,'
            '"num_turns":3,"result":"done","total_cost_usd":0.25,'
            '"usage":{"input_tokens":1234,"output_tokens":567}}'])
        p, proc = self.start(env={"FAKE_FIRST": first}, restart_delay_s=1,
                             max_grace_after_result_s=0, agent={"output": "claude-stream-json"})
        p.wait_event("round_start", proc=proc)
        self.wait_transcript(p, proc, 1, "tick 15")
        res = self.upgrade()
        self.assertFalse(res["deferred"])
        self.assertTrue(p.wait_event("service_upgraded", proc=proc)["round_kept"])
        end = p.wait_event("round_end", proc=proc)
        self.assertEqual(end["round_num"], 1)
        self.assertEqual(end["outcome"], "ok")
        # Emitted right after round_end: wait for it, not only for round_end.
        p.wait_event("agent_usage_recorded", proc=proc)
        usage = [e for e in p.events("agent_usage_recorded") if e["round_num"] == 1]
        self.assertEqual(len(usage), 1, p.kinds())
        self.assertEqual(usage[0]["duration_ms"], 4321)
        self.assertEqual(usage[0]["cost_usd"], 0.25)
        self.assertEqual(usage[0]["input_tokens"], 1234)
        self.assertEqual(usage[0]["output_tokens"], 567)
        self.assertEqual(usage[0]["model"], "claude-test")

    def test_deferred_while_the_grace_runs(self):
        # After the result line the grace period runs: that stage is not
        # handed over; the hand-over waits for the round's end.
        p = self.project("result-then-linger", restart_delay_s=2, max_grace_after_result_s=8,
                         agent={"output": "claude-stream-json"})
        proc = self.serve(p)
        self.addCleanup(self.stop_daemon, proc)
        old = self.version()
        p.wait_event("round_start", proc=proc)
        self.wait_transcript(p, proc, 1, '{"type":"result","subtype":"success","is_error":false,'
                             '"duration_ms":10,"num_turns":1,"result":"done","usage":'
                             '{"input_tokens":1,"output_tokens":1}}')
        res = self.upgrade()
        self.assertTrue(res["deferred"])
        self.assertEqual(p.wait_event("package_upgraded", proc=proc)["restart_deferred"], True)
        end = p.wait_event("round_end", proc=proc)
        self.assertEqual(end["outcome"], "ok")
        ev = p.wait_event("service_upgraded", proc=proc)
        self.assertEqual(ev["to_version"], old + "+next")
        self.assertFalse(ev["round_kept"])
        kinds = p.kinds()
        self.assertLess(kinds.index("round_end"), kinds.index("service_upgraded"))
        p.wait_event("round_start", count=2, proc=proc)
        self.assertEqual(self.version(), old + "+next")
        self.assertIsNone(proc.poll())

    def test_check_only_changes_nothing(self):
        p, proc = self.start(restart_delay_s=4)
        old = self.version()
        p.wait_event("round_end", proc=proc)
        res = self.upgrade(check=True)
        self.assertTrue(res["check_only"])
        self.assertEqual(res["to_version"], old + "+next")
        self.assertEqual(self.version(), old)
        self.assertNotIn("service_upgraded", p.kinds())
        self.assertNotIn("service_upgrade_rolled_back", p.kinds())

    def test_client_verb(self):
        p, proc = self.start(restart_delay_s=4)
        old = self.version()
        p.wait_event("round_end", proc=proc)
        self.wait_state(p, proc, "waiting")
        rc, out, err = self.client("--config", p.config_path, "upgrade", "--check", "--to", NEXT)
        self.assertEqual(rc, 0, err)
        self.assertIn(old + "+next", out)
        rc, out, err = self.client("--config", p.config_path, "--json", "upgrade", "--to", NEXT)
        self.assertEqual(rc, 0, err)
        doc = json.loads(out)
        self.assertEqual(doc["outcome"], "service_upgraded")
        self.assertEqual(doc["to_version"], old + "+next")
        self.assertEqual(self.version(), old + "+next")
        self.assertIsNone(proc.poll())

    def test_all_projects(self):
        # agent-runner upgrade --all: every project on the bus, one line or
        # one JSON object each (the package post-install step).
        # Both wait out a long restart delay: handed over at once.
        p, proc = self.start(restart_delay_s=120)
        old = self.version()
        p2 = self.project(work_dir="second", restart_delay_s=120)
        second = os.path.join(p2.work, "second")
        os.makedirs(second)
        subprocess.run(["git", "init", "-q", second], check=True)
        proc2 = self.serve(p2, env={"FAKE_TICKS": "3"}, name=NAME2)
        self.addCleanup(self.stop_daemon, proc2, NAME2)
        for q, pr, name in ((p, proc, NAME), (p2, proc2, NAME2)):
            q.wait_event("round_end", proc=pr)
            self.wait_state(q, pr, "waiting", name)
        rc, out, err = self.client("--json", "upgrade", "--all", "--to", NEXT)
        self.assertEqual(rc, 0, err)
        rows = json.loads(out)
        self.assertEqual(sorted(r["project"] for r in rows), ["second", "work"])
        for r in rows:
            self.assertEqual(r["to_version"], old + "+next")
            self.assertFalse(r["deferred"])
            self.assertEqual(r["outcome"], "service_upgraded")
            self.assertEqual(r["event"]["to_version"], old + "+next")
        self.assertEqual(self.version(), old + "+next")
        for q, pr in ((p, proc), (p2, proc2)):
            q.wait_event("service_upgraded", proc=pr)
            self.assertIsNone(pr.poll(), "same PID")
        # Plain lines, one per project; upgrading into the same version again.
        rc, out, err = self.client("upgrade", "--all", "--check", "--to", NEXT)
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(out.splitlines()), 2, out)
        self.assertIn("second: candidate", out)
        self.assertIn("work: candidate", out)


class RollbackTest(UpgradeCase):
    def rolled_back(self, p, proc, old, target=NEXT, fault_in_reply=True):
        err = self.upgrade(target=target, expect_ok=not fault_in_reply)
        ev = p.wait_event("service_upgrade_rolled_back", proc=proc)
        self.assertEqual(ev["restored_version"], old)
        self.assertTrue(ev["failure_reason"])
        self.assertEqual(self.version(), old)
        self.assertIsNone(proc.poll(), "same PID throughout")
        self.assertNotIn("service_upgraded", p.kinds())
        return err, ev

    def mid_round(self, fault):
        p, proc = self.start(fault=fault, restart_delay_s=0)
        old = self.version()
        p.wait_event("round_start", proc=proc)
        return p, proc, old

    def assert_round_intact(self, p, proc):
        end = p.wait_event("round_end", proc=proc)
        self.assertEqual(end["outcome"], "ok")
        self.assert_transcript_whole(p, 1)
        p.wait_event("round_start", count=2, proc=proc)

    def test_not_executable(self):
        p, proc, old = self.mid_round(None)
        d = tempfile.mkdtemp(prefix="ar-upg-")
        self.addCleanup(shutil.rmtree, d, True)
        cand = os.path.join(d, "agent-runnerd")
        shutil.copy(NEXT, cand)
        os.chmod(cand, 0o644)
        err, ev = self.rolled_back(p, proc, old, target=cand)
        self.assertIn("not executable", ev["failure_reason"])
        self.assert_round_intact(p, proc)

    def test_version_exits_1(self):
        p, proc, old = self.mid_round("version-exit-1")
        err, ev = self.rolled_back(p, proc, old)
        self.assertIn("--version", ev["failure_reason"])
        self.assert_round_intact(p, proc)

    def test_crash_while_deserializing(self):
        p, proc, old = self.mid_round("abort-deserialize")
        err, ev = self.rolled_back(p, proc, old)
        self.assertIn("--self-check", ev["failure_reason"])
        self.assertIn("signal", ev["failure_reason"])
        self.assert_round_intact(p, proc)

    def test_never_ready(self):
        p, proc, old = self.mid_round("hang-deserialize")
        err, ev = self.rolled_back(p, proc, old)
        self.assertIn("no answer", ev["failure_reason"])
        self.assert_round_intact(p, proc)

    def test_new_image_refuses_after_exec(self):
        # The smoke test passes; the exec'ed image then refuses the state
        # and hands back to the old image (the fd kept since start-up).
        p, proc = self.start(fault="fail-after-exec", restart_delay_s=4)
        old = self.version()
        p.wait_event("round_end", proc=proc)
        self.wait_state(p, proc, "waiting")
        res = self.upgrade()
        self.assertFalse(res["deferred"])
        ev = p.wait_event("service_upgrade_rolled_back", proc=proc)
        self.assertEqual(ev["restored_version"], old)
        self.assertEqual(ev["attempted_version"], old + "+next")
        self.assertIn("fail-after-exec", ev["failure_reason"])
        self.assertEqual(self.version(), old)
        p.wait_event("round_start", count=2, proc=proc)
        self.assertEqual([e["round_num"] for e in p.events("round_start")], [1, 2])
        self.assertIsNone(proc.poll())

    def test_new_image_refuses_mid_round(self):
        # The exec'ed image refuses the state while a round runs: the old
        # image takes the round back, agent untouched.
        self.ticks = 50
        p, proc = self.start(fault="fail-after-exec", restart_delay_s=1)
        old = self.version()
        p.wait_event("round_start", proc=proc)
        agent_pid = self.bus.get(NAME, "AgentPid")
        self.wait_transcript(p, proc, 1, "tick 15")
        res = self.upgrade()
        self.assertFalse(res["deferred"])
        ev = p.wait_event("service_upgrade_rolled_back", proc=proc)
        self.assertEqual(ev["restored_version"], old)
        self.assertEqual(ev["attempted_version"], old + "+next")
        self.assertIn("fail-after-exec", ev["failure_reason"])
        self.assertEqual(self.version(), old)
        self.assertNotIn("service_upgraded", p.kinds())
        self.assert_round_kept(p, proc, agent_pid, "service_upgrade_rolled_back")
        self.assertEqual(self.version(), old)

    def test_new_image_cannot_adopt_the_round(self):
        # The new image has read the transcript again and holds copies of
        # the round's fds, then fails to take the round: the old image gets
        # the very same pipe and transcript back and goes on.
        self.ticks = 50
        p, proc = self.start(fault="fail-adopt", restart_delay_s=1)
        old = self.version()
        p.wait_event("round_start", proc=proc)
        agent_pid = self.bus.get(NAME, "AgentPid")
        self.wait_transcript(p, proc, 1, "tick 15")
        self.assertFalse(self.upgrade()["deferred"])
        ev = p.wait_event("service_upgrade_rolled_back", proc=proc)
        self.assertIn("fail-adopt", ev["failure_reason"])
        self.assertEqual(self.version(), old)
        self.assertNotIn("service_upgraded", p.kinds())
        self.assert_round_kept(p, proc, agent_pid, "service_upgrade_rolled_back")

    def test_kill9_during_a_mid_round_hand_over(self):
        # SIGKILL right after Upgrade answers, the round running: nothing
        # of the old round survives (the agent dies of SIGPIPE at its next
        # line, or the next start ends it as a leftover: state.json was
        # saved before the exec) and the next start goes on with the next
        # round number.
        self.ticks = 50
        p, proc = self.start(restart_delay_s=1)
        p.wait_event("round_start", proc=proc)
        agent_pid = self.bus.get(NAME, "AgentPid")
        self.wait_transcript(p, proc, 1, "tick 10")
        self.upgrade()
        proc.kill()
        proc.wait()
        self.assertEqual(p.state()["round_num"], 1)
        self.assertTrue(p.state()["round_procs"])
        proc2 = self.serve(p, env={"FAKE_TICKS": "2", "FAKE_TICK_S": "0.1"})
        self.addCleanup(self.stop_daemon, proc2)
        deadline = time.monotonic() + ENDS_WITHIN
        while pid_alive(agent_pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertFalse(pid_alive(agent_pid), "the old round's agent was ended")
        end = p.wait_event("round_end", proc=proc2)
        self.assertEqual(end["round_num"], 2)
        self.assertEqual([e["round_num"] for e in p.events("round_start")][:2], [1, 2])

    def test_writable_candidate_refused(self):
        p, proc, old = self.mid_round(None)
        d = tempfile.mkdtemp(prefix="ar-upg-")
        self.addCleanup(shutil.rmtree, d, True)
        cand = os.path.join(d, "agent-runnerd")
        shutil.copy(NEXT, cand)
        os.chmod(cand, 0o775 | stat.S_IWOTH)
        err = self.upgrade(target=cand, expect_ok=False)
        self.assertIn("AccessDenied", err + "AccessDenied" if "refusing" in err else err)
        self.assertIn("refusing", err)
        self.assertEqual(self.version(), old)
        self.assert_round_intact(p, proc)


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], *sys.argv[1:]], verbosity=2)

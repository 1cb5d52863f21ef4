#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""agent-runnerd end to end: real daemon, real fake agents, real git repos.

Run one test: test_daemon.py RoundTest.test_succeed (meson registers each
test separately so they run in parallel)."""

import hashlib
import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from daemontest import ENDS_WITHIN, PROMPT, DaemonTestCase, pid_alive  # noqa: E402


class RoundTest(DaemonTestCase):
    def test_succeed(self):
        p = self.project("succeed")
        env_out = os.path.join(p.dir, "env")
        p.write_config(max_rounds=2, agent_env={"FAKE_ENV_OUT": env_out,
                                                "FAKE_CUSTOM": "custom-value"},
                       agent={"path": ["/opt/fake-bin"]}, fresh_eyes_every_n=2)
        rc, out, err = p.run(env={"NOTIFY_SOCKET": "/nonexistent/notify"})
        self.assertEqual(rc, 0, err)
        kinds = p.kinds()
        self.assertEqual(kinds[0], "serve_started")
        self.assertSubsequence(kinds, ["round_start", "agent_spawn", "agent_exit", "round_end",
                                       "round_start", "agent_spawn", "agent_exit", "round_end",
                                       "max_rounds_reached", "serve_stopping"])
        ends = p.events("round_end")
        self.assertEqual([e["round_num"] for e in ends], [1, 2])
        self.assertEqual({e["outcome"] for e in ends}, {"ok"})
        ex = p.events("agent_exit")[0]
        self.assertEqual(ex["exit_code"], 0)
        self.assertEqual(ex["exit_cause"], "clean")
        self.assertFalse(ex["timed_out"])
        for f in ("cpu_user_s", "cpu_sys_s", "max_rss_kb"):
            self.assertIn(f, ex)
        self.assertGreater(ex["max_rss_kb"], 0)
        self.assertEqual(p.events("serve_stopping")[0]["reason"], "max_rounds")
        st = p.state()
        self.assertEqual(st["round_num"], 2)
        self.assertEqual(st["last_round"]["outcome"], "ok")
        # The agent's view of its round.
        with open(env_out + ".1") as f:
            seen = dict(line.rstrip("\n").split("=", 1) for line in f)
        self.assertEqual(seen["ROUND"], "1")
        self.assertEqual(seen["LOG_DIR"], p.log_dir)
        self.assertEqual(seen["FRESH"], "0")
        self.assertEqual(os.path.realpath(seen["CWD"]), os.path.realpath(p.work))
        self.assertTrue(seen["PATH"].startswith("/opt/fake-bin:"), seen["PATH"])
        self.assertEqual(seen["CUSTOM"], "custom-value")
        self.assertEqual(seen["NOTIFY"], "unset")
        with open(env_out + ".2") as f:
            self.assertIn("FRESH=1\n", f.read())
        # Transcripts and the live link.
        self.assertEqual(len(p.transcripts()), 2)
        link = os.path.join(p.log_dir, "round-current.log")
        self.assertTrue(os.readlink(link).startswith("rounds/R2-"))
        with open(p.transcript(1), "rb") as f:
            self.assertIn(b"round=1 phase= fresh=0", f.read())
        ctx = os.path.join(p.log_dir, "round-context.json")
        self.assertTrue(os.path.exists(ctx))

    def test_phases_rotate(self):
        p = self.project("succeed", max_rounds=3,
                         sections={"phases": {"list": ["build", "review"]}})
        rc, _, err = p.run()
        self.assertEqual(rc, 0, err)
        self.assertEqual([e["phase"] for e in p.events("round_start")],
                         ["build", "review", "build"])
        self.assertEqual(p.state()["phase"], "build")

    def test_round_exit_code(self):
        p = self.project("exit-code", agent_env={"FAKE_EXIT_CODE": "3"})
        rc, _, err = p.run("--round")
        self.assertEqual(rc, 3, err)
        self.assertEqual(p.events("agent_exit")[0]["exit_code"], 3)
        self.assertEqual(p.events("agent_exit")[0]["exit_cause"], "error")
        self.assertNotIn("serve_started", p.kinds())
        p.write_config(agent_env={"FAKE_SIGNAL": "TERM"})
        rc, _, err = p.run("--round")
        self.assertEqual(rc, 128 + signal.SIGTERM, err)
        ex = p.events("agent_exit")[1]
        self.assertEqual(ex["exit_cause"], "signal:TERM")
        self.assertEqual(ex["round_num"], 2)
        p.write_config(agent_env={"FAKE_EXIT_CODE": "0"},
                       sections={"phases": {"list": ["a", "b"]}})
        rc, _, err = p.run("--round", "--phase", "b")
        self.assertEqual(rc, 0, err)
        self.assertEqual(p.events("round_start")[-1]["phase"], "b")
        rc, _, err = p.run("--round", "--phase", "nope")
        self.assertEqual(rc, 78, err)
        self.assertIn("nope", err)

    def test_argv_prompt(self):
        p = self.project("argv-prompt", agent={
            "prompt_delivery": "argv", "prompt_arg_template": ["--prompt={prompt}"]},
            agent_env={"FAKE_EXPECT_PREFIX": "You are a fake agent"},
            sections={"prompt": {"inject_context": False}})
        rc, out, err = p.run("--round")
        self.assertEqual(rc, 0, p.read(p.transcript(1)))

    def test_stdin_prompt_1mib(self):
        p = self.project("stdin-prompt")
        big = (PROMPT * (1024 * 1024 // len(PROMPT) + 1))[: 1024 * 1024].encode()
        with open(os.path.join(p.work, "prompt.md"), "wb") as f:
            f.write(big)
        p.write_config(agent_env={"FAKE_EXPECT_SIZE": str(len(big)),
                                  "FAKE_EXPECT_SHA256": hashlib.sha256(big).hexdigest()},
                       sections={"prompt": {"inject_context": False}})
        rc, _, err = p.run("--round")
        with open(p.transcript(1)) as f:
            self.assertEqual(rc, 0, f.read())

    def test_context_prepended(self):
        p = self.project("stdin-prompt", agent_env={"FAKE_EXPECT_SIZE": "0"})
        rc, _, _ = p.run("--round")
        self.assertEqual(rc, 3)  # size differs: context block prepended
        with open(p.transcript(1)) as f:
            n = int(f.read().split()[1])
        self.assertGreater(n, len(PROMPT.encode()))
        ctx = p.read(os.path.join(p.log_dir, "round-context.json"))
        self.assertIn('"round_num"', ctx)


class DefenseTest(DaemonTestCase):
    def test_crash_loop_after_five(self):
        p = self.project("fail-fast")
        rc, _, err = p.run()
        self.assertEqual(rc, 79, err)
        self.assertEqual(len(p.events("round_end")), 5)
        cl = p.events("crash_loop")
        self.assertEqual(len(cl), 1)
        self.assertEqual(cl[0]["consecutive"], 5)
        self.assertEqual(cl[0]["exit_code"], 1)
        self.assertIn("something broke", cl[0]["reason"])
        self.assertNotIn("sk-ant-api03", cl[0]["reason"])
        self.assertEqual(p.state()["stop_reason"], "crash_loop")
        kinds = p.kinds()
        self.assertLess(kinds.index("crash_loop"), kinds.index("serve_stopping"))

    def test_four_crashes_then_success(self):
        p = self.project("fail-fast", max_rounds=6, agent_env={"FAKE_FAIL_ROUNDS": "4"})
        rc, _, err = p.run()
        self.assertEqual(rc, 0, err)
        self.assertEqual(p.events("crash_loop"), [])
        self.assertEqual([e["exit_code"] for e in p.events("round_end")], [1, 1, 1, 1, 0, 0])
        self.assertEqual(p.state()["crash_streak"], 0)

    def test_timeout_kill(self):
        p = self.project("sleep", round_timeout_s=1)
        t0 = time.monotonic()
        rc, _, err = p.run("--once")
        elapsed = time.monotonic() - t0
        self.assertEqual(rc, 0, err)
        self.assertLess(elapsed, 1 + 5 + 10)
        ex = p.events("agent_exit")[0]
        self.assertTrue(ex["timed_out"])
        self.assertEqual(ex["exit_cause"], "timeout")
        tk = p.events("round_timeout_kill")
        self.assertEqual(tk[0]["reason"], "exceeded round_timeout_s=1")
        self.assertSubsequence(p.kinds(), ["agent_exit", "round_timeout_kill", "round_end"])
        # A timeout is no crash.
        self.assertEqual(p.state()["crash_streak"], 0)

    def test_timeout_ignores_sigterm(self):
        # The agent says "ignoring SIGTERM" once its trap is set. On a
        # loaded machine the 1 s timeout can come before the shell got
        # there, and the TERM ends it as it should: then the premise did
        # not hold, and the round is tried again (a few times at most).
        for _ in range(5):
            p = self.project("ignore-term", round_timeout_s=1)
            t0 = time.monotonic()
            rc, _, err = p.run("--once")
            self.assertLess(time.monotonic() - t0, 1 + 5 + 15)
            self.assertEqual(rc, 0, err)
            ex = p.events("agent_exit")[0]
            self.assertEqual(ex["exit_cause"], "timeout")
            if "ignoring SIGTERM" in p.read(p.transcript(1)):
                break
            self.assertEqual(ex["exit_code"], -signal.SIGTERM)
        self.assertEqual(ex["exit_code"], -signal.SIGKILL)

    def test_idle_stall(self):
        p = self.project("stall", idle_timeout_s=1, agent={"output": "claude-stream-json"})
        rc, _, err = p.run("--once")
        self.assertEqual(rc, 0, err)
        st = p.events("round_stalled")
        self.assertEqual(len(st), 1, p.kinds())
        self.assertEqual(st[0]["reason"], "no output for idle_timeout_s=1")
        self.assertGreaterEqual(st[0]["silent_s"], 1.0)
        ex = p.events("agent_exit")[0]
        self.assertEqual(ex["exit_cause"], "timeout")
        self.assertTrue(ex["timed_out"])
        self.assertEqual(p.events("round_timeout_kill"), [])
        self.assertEqual(p.state()["crash_streak"], 0)

    def test_retry_loop_stall(self):
        # Output keeps flowing (idle never fires), the retry loop does not end.
        p = self.project("stall", retry_loop_timeout_s=1, idle_timeout_s=30,
                         agent={"output": "claude-stream-json"}, agent_env={"FAKE_MODE": "retry"})
        rc, _, err = p.run("--once")
        self.assertEqual(rc, 0, err)
        st = p.events("round_stalled")
        self.assertEqual(len(st), 1, p.kinds())
        self.assertIn("retry_loop_timeout_s=1", st[0]["reason"])
        self.assertSubsequence(p.kinds(), ["round_stalled", "agent_exit", "round_end"])

    def test_double_fork_escapee_killed(self):
        p = self.project("double-fork")
        pidfile = os.path.join(p.dir, "escapee.pid")
        p.write_config(agent_env={"FAKE_PIDFILE": pidfile})
        rc, _, err = p.run("--once")
        self.assertEqual(rc, 0, err)
        pid = int(p.read(pidfile))
        self.assertFalse(pid_alive(pid), f"escaped daemon {pid} survived the round")
        self.assertEqual(p.events("agent_exit")[0]["exit_cause"], "clean")

    def test_grace_extended_then_kill(self):
        p = self.project("result-then-linger", max_grace_after_result_s=1,
                         agent={"output": "claude-stream-json"},
                         agent_env={"FAKE_WORKER_S": "3"})
        rc, _, err = p.run("--once")
        self.assertEqual(rc, 0, err)
        ext = p.events("round_grace_extended")
        self.assertEqual(len(ext), 1, p.kinds())
        self.assertEqual(ext[0]["grace_s"], 1)
        self.assertEqual([c["name"] for c in ext[0]["live_children"]], ["sleep"])
        self.assertEqual(ext[0]["ignored_children"], [])
        ex = p.events("agent_exit")[0]
        self.assertEqual(ex["exit_cause"], "grace")
        self.assertTrue(ex["timed_out"])
        self.assertSubsequence(p.kinds(), ["round_grace_extended", "agent_exit",
                                           "round_grace_kill", "round_end"])
        self.assertEqual(p.events("round_end")[0]["outcome"], "ok")

    def test_grace_kill(self):
        p = self.project("result-then-linger", max_grace_after_result_s=1,
                         agent={"output": "claude-stream-json"})
        t0 = time.monotonic()
        rc, _, err = p.run("--once")
        self.assertLess(time.monotonic() - t0, 1 + 5 + 10)
        self.assertEqual(rc, 0, err)
        self.assertEqual(p.events("round_grace_extended"), [])
        self.assertEqual(len(p.events("round_grace_kill")), 1)
        self.assertEqual(p.events("agent_exit")[0]["exit_cause"], "grace")

    def test_grace_ignore_pattern(self):
        p = self.project("result-then-linger", max_grace_after_result_s=1,
                         grace_kill_ignore_patterns=["snapshot-helper"],
                         agent={"output": "claude-stream-json"},
                         agent_env={"FAKE_WORKER_CMD": "exec -a snapshot-helper sleep 600"})
        rc, _, err = p.run("--once")
        self.assertEqual(rc, 0, err)
        self.assertEqual(p.events("round_grace_extended"), [])
        self.assertEqual(len(p.events("round_grace_kill")), 1)

    def test_big_output_bounded_memory(self):
        size = int(os.environ.get("AR_TEST_BIG_BYTES", str(1 << 30)))
        p = self.project("big-output", agent_env={"FAKE_BYTES": str(size)})
        proc = p.start("--round")
        proc.stdout.close()
        err = proc.stderr.read().decode()
        _, status, ru = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        self.assertEqual(proc.returncode, 0, err)
        self.assertEqual(os.path.getsize(p.transcript(1)), size)
        # ru_maxrss covers the daemon and the children it reaped (head -c).
        self.assertLess(ru.ru_maxrss, 100 * 1024, "daemon memory grew with the line")
        print(f"transcript {size} bytes, daemon+agent max RSS {ru.ru_maxrss} KiB, "
              f"daemon CPU {ru.ru_utime + ru.ru_stime:.2f}s", file=sys.stderr)

    def test_binary_garbage(self):
        p = self.project("binary-garbage")
        copy = os.path.join(p.dir, "copy.bin")
        p.write_config(agent_env={"FAKE_COPY": copy})
        rc, _, err = p.run("--round")
        self.assertEqual(rc, 0, err)
        with open(copy, "rb") as a, open(p.transcript(1), "rb") as b:
            self.assertEqual(a.read(), b.read())


class StopTest(DaemonTestCase):
    def test_agent_done_stays_stopped(self):
        p = self.project("agent-done")
        rc, _, err = p.run()
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(p.events("round_end")), 1)
        st = p.events("agent_self_terminated")
        self.assertEqual(st[0]["reason"], "all tasks complete in round 1")
        self.assertEqual(p.events("serve_stopping")[0]["reason"], "agent_done")
        self.assertEqual(p.state()["stop_reason"], "done")
        # A plain restart (the unit's) keeps it stopped.
        rc, _, err = p.run()
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(p.events("round_start")), 1)
        self.assertEqual(len(p.events("agent_self_terminated")), 2)
        self.assertTrue(os.path.exists(os.path.join(p.log_dir, ".agent-done")))
        # An explicit start runs again.
        rc, _, err = p.run("--clear-done")
        self.assertEqual(rc, 0, err)
        self.assertEqual([e["round_num"] for e in p.events("round_start")], [1, 2])
        # `agent-runner start` of an installed unit cannot pass --clear-done
        # through systemd: it leaves .start-requested, honoured once.
        with open(os.path.join(p.log_dir, ".start-requested"), "w"):
            pass
        rc, _, err = p.run()
        self.assertEqual(rc, 0, err)
        self.assertEqual([e["round_num"] for e in p.events("round_start")], [1, 2, 3])
        self.assertFalse(os.path.exists(os.path.join(p.log_dir, ".start-requested")))

    def test_stop_file(self):
        stop = "STOP"
        p = self.project("succeed", stop_file=stop)
        with open(os.path.join(p.work, stop), "w") as f:
            f.write("maintenance window\n")
        rc, _, err = p.run()
        self.assertEqual(rc, 0, err)
        ev = p.events("stop_file_detected")[0]
        self.assertEqual(ev["content"], "maintenance window")
        self.assertEqual(ev["rounds_completed"], 0)
        self.assertEqual(p.events("round_start"), [])

    def test_sigterm_during_restart_delay(self):
        p = self.project("succeed", restart_delay_s=600)
        proc = p.start()
        p.wait_event("round_end", proc=proc)
        time.sleep(0.1)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=ENDS_WITHIN)
        self.assertLess(time.monotonic() - t0, 5.0)
        self.assertEqual(proc.returncode, 0)
        self.assertEqual(p.events("serve_stopping")[0]["reason"], "signal:TERM")
        self.assertEqual(len(p.events("round_start")), 1)

    def test_sigterm_finishes_the_round(self):
        p = self.project("sleep", agent_env={"FAKE_SLEEP": "2"})
        proc = p.start()
        p.wait_event("agent_spawn", proc=proc)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=ENDS_WITHIN)
        self.assertEqual(proc.returncode, 0)
        self.assertEqual(p.events("round_cancelled"), [])
        ex = p.events("agent_exit")
        self.assertEqual(len(ex), 1)
        self.assertEqual(ex[0]["exit_cause"], "clean")
        self.assertSubsequence(p.kinds(), ["serve_stopping", "agent_exit", "round_end"])

    def test_second_sigterm_ends_the_round(self):
        p = self.project("sleep")
        proc = p.start()
        p.wait_event("agent_spawn", proc=proc)
        proc.send_signal(signal.SIGTERM)
        p.wait_event("serve_stopping", proc=proc)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=ENDS_WITHIN)
        self.assertLess(time.monotonic() - t0, 5 + 5)
        self.assertEqual(proc.returncode, 0)
        self.assertEqual(len(p.events("round_cancelled")), 1)
        self.assertEqual(p.events("round_end")[0]["outcome"], "cancelled")
        self.assertEqual(p.state()["crash_streak"], 0)

    def test_second_daemon_refused(self):
        p = self.project("sleep")
        first = p.start()
        p.wait_event("agent_spawn", proc=first)
        rc, _, err = p.run()
        self.assertEqual(rc, 75, err)
        self.assertIn(f"pid {first.pid}", err)
        self.assertIn("since", err)
        first.send_signal(signal.SIGTERM)
        p.wait_event("serve_stopping", proc=first)
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=ENDS_WITHIN)
        # Lock released: the sidecar is gone with its holder.
        self.assertFalse(os.path.exists(os.path.join(p.log_dir, "agent-runner.lock.holder")))


class StateTest(DaemonTestCase):
    def test_state_deleted_no_reuse(self):
        p = self.project("succeed", max_rounds=2, round_log_retention=1)
        rc, _, err = p.run()
        self.assertEqual(rc, 0, err)
        os.unlink(os.path.join(p.log_dir, "state.json"))
        rc, _, err = p.run("--max-rounds", "1")
        self.assertEqual(rc, 0, err)
        self.assertEqual([e["round_num"] for e in p.events("round_start")], [1, 2, 3])
        # Transcripts pruned and state gone: the events still remember.
        os.unlink(os.path.join(p.log_dir, "state.json"))
        for name in p.transcripts():
            os.unlink(os.path.join(p.log_dir, "rounds", name))
        rc, _, err = p.run("--max-rounds", "1")
        self.assertEqual(rc, 0, err)
        self.assertEqual(p.events("round_start")[-1]["round_num"], 4)

    def test_corrupt_state_recovered(self):
        p = self.project("succeed", max_rounds=1)
        rc, _, err = p.run()
        self.assertEqual(rc, 0, err)
        with open(os.path.join(p.log_dir, "state.json"), "w") as f:
            f.write("{ not json")
        rc, _, err = p.run()
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(p.events("status_recovered")), 1)
        self.assertEqual(p.events("round_start")[-1]["round_num"], 2)
        self.assertEqual(p.state()["round_num"], 2)

    def test_retention(self):
        p = self.project("succeed", max_rounds=4, round_log_retention=2, events_retention_days=30)
        os.makedirs(p.log_dir, exist_ok=True)
        old = os.path.join(p.log_dir, "events-2020-01.jsonl")
        with open(old, "w") as f:
            f.write('{"ts":"2020-01-01T00:00:00.000Z","event":"round_start","round_num":1}\n')
        rc, _, err = p.run()
        self.assertEqual(rc, 0, err)
        self.assertFalse(os.path.exists(old))
        self.assertEqual([n.split("-")[0] for n in p.transcripts()], ["R3", "R4"])

    def test_sighup_reload(self):
        p = self.project("succeed", restart_delay_s=600)
        proc = p.start()
        p.wait_event("round_end", proc=proc)
        # A broken file is reported and the old config (600 s) stays.
        good = p.read(p.config_path)
        with open(p.config_path, "w") as f:
            f.write(good + "\n[runtime.bogus\n")
        proc.send_signal(signal.SIGHUP)
        p.wait_event("config_reload_failed", proc=proc)
        self.assertEqual(len(p.events("round_start")), 1)
        # A valid one applies to the wait in progress.
        p.write_config(restart_delay_s=0, max_rounds=2)
        proc.send_signal(signal.SIGHUP)
        p.wait_event("config_reloaded", proc=proc)
        proc.wait(timeout=ENDS_WITHIN)
        self.assertEqual(proc.returncode, 0)
        self.assertEqual(len(p.events("round_end")), 2)
        self.assertEqual(p.events("serve_stopping")[0]["reason"], "max_rounds")

    def test_config_broken(self):
        p = self.project("succeed")
        with open(os.path.join(p.work, "prompt.md"), "w") as f:
            f.write("too short\n")
        rc, _, err = p.run()
        self.assertEqual(rc, 78, err)
        self.assertIn("STARTUP FAIL", err)
        self.assertTrue(p.events("smoke_check_failed"))
        self.assertEqual(len(p.events("config_broken")), 1)
        self.assertEqual(p.events("round_start"), [])
        self.assertEqual(p.state()["stop_reason"], "config_broken")
        # The escape hatch.
        rc, _, err = p.run("--once", env={"AGENT_RUNNER_SKIP_STARTUP_CHECK": "1"})
        self.assertEqual(rc, 0, err)
        # Only 1/true/yes/on skip: "false" runs the checks.
        rc, _, err = p.run("--once", env={"AGENT_RUNNER_SKIP_STARTUP_CHECK": "false"})
        self.assertEqual(rc, 78, err)
        # An unparseable file: no log dir to write to, exit 78 all the same.
        p.write_config(raw="[agent\n")
        rc, _, err = p.run()
        self.assertEqual(rc, 78, err)

    def test_progress_events(self):
        p = self.project("sleep", agent_env={"FAKE_SLEEP": "2"},
                         sections={"monitor": {"round_progress_interval_s": 1}})
        rc, _, err = p.run("--once")
        self.assertEqual(rc, 0, err)
        prog = p.events("round_progress")
        self.assertGreaterEqual(len(prog), 1)
        self.assertEqual(prog[0]["round_num"], 1)
        self.assertGreaterEqual(prog[0]["wall_age_s"], 0.9)
        self.assertSubsequence(p.kinds(), ["agent_spawn", "round_progress", "agent_exit"])


if __name__ == "__main__":
    unittest.main(verbosity=2)

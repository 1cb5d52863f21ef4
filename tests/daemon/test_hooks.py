#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""[hooks] end to end: the real daemon runs the real scripts of tests/hooks
at each stage of a round; what they got on stdin is checked against the
documented schema (docs/hooks.md), what they answer against its effect."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from daemontest import ENDS_WITHIN, SOURCE_ROOT, DaemonTestCase, pid_alive  # noqa: E402

HOOKS = os.path.join(SOURCE_ROOT, "tests", "hooks")

# docs/hooks.md: the members every input has, then each stage's own.
COMMON = {"schema_version": int, "hook_kind": str, "hook_name": str, "project": str,
          "config_path": str, "work_dir": str, "log_dir": str, "round_num": int,
          "dry_run": bool, "agent_name": str}
STAGE = {"serve_startup": {}, "pre_round": {}, "context_enricher": {"context": dict},
         "post_round": {"result": dict}, "dirty_handler": {"dirty_files": list,
                                                           "dirty_action": str}}
RESULT = {"round_num": int, "started_at": str, "ended_at": str, "exit_code": int,
          "duration_s": (int, float), "timed_out": bool, "killed_for_grace": bool,
          "exit_cause": str, "outcome": str, "log_path": str, "dirty_files": list}


def hook(name):
    return os.path.join(HOOKS, name)


class HooksTest(DaemonTestCase):
    def setUp(self):
        self.hook_dir = tempfile.mkdtemp(prefix="ard-hooks-")
        self.addCleanup(subprocess.run, ["rm", "-rf", self.hook_dir])
        self.home = tempfile.mkdtemp(prefix="ard-hooks-home-")
        self.addCleanup(subprocess.run, ["rm", "-rf", self.home])
        os.environ["HOME"] = self.home
        os.environ["GIT_CONFIG_NOSYSTEM"] = "1"

    def git(self, p, *args):
        return subprocess.run(["git", "-C", p.work, *args], check=True, capture_output=True,
                              text=True).stdout.strip()

    def committed(self, p):
        with open(os.path.join(p.work, "tracked.txt"), "w") as f:
            f.write("base\n")
        self.git(p, "add", "-A", ":!logs")
        self.git(p, "-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-q",
                 "-m", "base")

    def run_daemon(self, p, expect_rc=0):
        rc, _, err = p.run(env={"HOOK_DIR": self.hook_dir})
        self.assertEqual(rc, expect_rc, err)
        return err

    def recorded(self, kind, round_num):
        with open(os.path.join(self.hook_dir, f"{kind}.{round_num}.json")) as f:
            return json.load(f)

    def assertSchema(self, doc, schema):
        for key, typ in schema.items():
            self.assertIn(key, doc)
            self.assertIsInstance(doc[key], typ, key)

    def test_every_stage_gets_its_document(self):
        p = self.project("dirty")
        rec = os.path.relpath(hook("record-input.py"), p.work)  # relative to the config
        p.write_config(max_rounds=1, dry_run=True,
                       sections={"hooks": {k: [rec] for k in STAGE},
                                 "vcs": {"dirty_action": "ignore"},
                                 "plugins.record-input": {"greeting": "hi", "n": 2}})
        self.committed(p)
        self.run_daemon(p)
        for kind, extra in STAGE.items():
            got = self.recorded(kind, 0 if kind == "serve_startup" else 1)
            doc = got["input"]
            self.assertSchema(doc, COMMON)
            self.assertSchema(doc, extra)
            self.assertEqual(doc["schema_version"], 1)
            self.assertEqual(doc["hook_kind"], kind)
            self.assertEqual(doc["hook_name"], "record-input")
            self.assertTrue(doc["dry_run"])
            self.assertEqual(doc["plugin_config"], {"greeting": "hi", "n": 2})
            self.assertEqual(got["env"]["AGENT_RUNNER_DRY_RUN"], "1")
            self.assertEqual(got["env"]["AGENT_RUNNER_HOOK_KIND"], kind)
            self.assertEqual(os.path.realpath(got["cwd"]), os.path.realpath(p.work))
        self.assertSchema(self.recorded("post_round", 1)["input"]["result"], RESULT)
        self.assertEqual(self.recorded("post_round", 1)["input"]["result"]["outcome"], "ok")
        self.assertEqual(self.recorded("dirty_handler", 1)["input"]["dirty_files"],
                         ["tracked.txt", "untracked-1.txt"])
        # The enricher's answer is in the context the agent got.
        with open(os.path.join(p.log_dir, "round-context.json")) as f:
            ctx = json.load(f)
        self.assertEqual(ctx["record-input"], {"note": "from the enricher", "round": 1})
        self.assertEqual(p.events("hook_failed"), [])
        kinds = p.kinds()
        self.assertSubsequence(kinds, ["serve_started", "round_start", "agent_exit",
                                       "dirty_detected", "round_end"])

    def test_failures_are_contained(self):
        # One runner for every stage; each stage's failures are its own.
        for kind in ("pre_round", "context_enricher", "dirty_handler", "post_round"):
            with self.subTest(kind=kind):
                self.check_failures(kind)

    def check_failures(self, kind):
        p = self.project("dirty")
        pidfile = os.path.join(self.hook_dir, "escapee.pid")
        if os.path.exists(pidfile):
            os.unlink(pidfile)
        p.write_config(max_rounds=1, sections={"hooks": {
            "timeout_s": 3,
            kind: [hook("fail.sh"), hook("hang.sh"), hook("flood.sh"), hook("double-fork.sh")]}})
        self.committed(p)
        self.run_daemon(p)
        failed = {e["hook_name"]: e for e in p.events("hook_failed")}
        self.assertEqual(set(failed), {"fail", "hang", "flood"})
        self.assertEqual(failed["fail"]["error_type"], "exit")
        self.assertEqual(failed["fail"]["exit_code"], 3)
        self.assertIsNone(failed["fail"]["signal"])
        self.assertIn("boom: the hook failed", failed["fail"]["traceback"])
        self.assertEqual(failed["hang"]["error_type"], "timeout")
        self.assertEqual(failed["flood"]["error_type"], "output_limit")
        for e in failed.values():
            self.assertEqual(e["hook_kind"], kind)
        # The double-forked daemon died with its hook; the round ran anyway.
        with open(pidfile) as f:
            self.assertFalse(pid_alive(int(f.read())))
        self.assertEqual(p.events("round_end")[0]["outcome"], "ok")

    def test_prompt_rewrite_is_reported(self):
        p = self.project("succeed")
        p.write_config(max_rounds=1,
                       sections={"hooks": {"pre_round": [hook("rewrite-prompt.py")]}})
        self.run_daemon(p)
        ev = p.events("prompt_overwritten")
        self.assertEqual(len(ev), 1)
        self.assertEqual(ev[0]["hook"], "rewrite-prompt")
        self.assertEqual(ev[0]["round_num"], 1)
        self.assertTrue(ev[0]["old_hash"].startswith("sha256:"))
        self.assertNotEqual(ev[0]["old_hash"], ev[0]["new_hash"])
        self.assertIn("Rewritten before round 1.", p.read(os.path.join(p.work, "prompt.md")))

    def test_disable_pre_round_hooks(self):
        p = self.project("succeed")
        p.write_config(max_rounds=1, disable_pre_round_hooks=True,
                       sections={"hooks": {"pre_round": [hook("rewrite-prompt.py")]}})
        self.run_daemon(p)
        self.assertEqual(p.events("prompt_overwritten"), [])

    def test_dirty_handler_claims_before_the_stash(self):
        p = self.project("dirty")
        p.write_config(max_rounds=1, sections={"hooks": {
            "dirty_handler": [hook("record-input.py"), hook("commit-dirty.py")]}})
        self.committed(p)
        self.run_daemon(p)
        self.assertEqual(p.events("orphan_stashed"), [])
        self.assertEqual(self.git(p, "log", "-1", "--format=%s"), "hook commit R1")
        self.assertEqual(self.git(p, "status", "--porcelain", "--", ".", ":!logs"), "")
        self.assertEqual(self.git(p, "stash", "list"), "")

    def test_serve_startup_failure_stops(self):
        p = self.project("succeed")
        p.write_config(sections={"hooks": {"serve_startup": [hook("fail.sh")]}})
        err = self.run_daemon(p, expect_rc=78)
        ev = p.events("serve_startup_hook_failed")
        self.assertEqual(len(ev), 1)
        self.assertEqual(ev[0]["hook"], "fail")
        self.assertEqual(p.events("round_start"), [])
        self.assertIn("serve_startup hook fail failed", err)

    def test_sigterm_ends_a_hanging_startup_hook(self):
        p = self.project("succeed")
        p.write_config(sections={"hooks": {"timeout_s": 3600,
                                           "serve_startup": [hook("hang.sh")]}})
        proc = p.start(env={"HOOK_DIR": self.hook_dir})
        p.wait_event("serve_started", proc=proc)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=ENDS_WITHIN)  # not the hook's hour
        self.assertEqual(proc.returncode, 0)
        self.assertEqual(p.events("round_start"), [])

    def test_serve_startup_failures_stop(self):
        # Each way a hook can fail (exit 3, a hang past timeout_s, 100 MB of
        # output) stops the service before any round, naming the cause.
        for script, exc_type in (("fail.sh", "exit"), ("hang.sh", "timeout"),
                                 ("flood.sh", "output_limit")):
            with self.subTest(hook=script):
                p = self.project("succeed")
                p.write_config(sections={"hooks": {"timeout_s": 3,
                                                   "serve_startup": [hook(script)]}})
                err = self.run_daemon(p, expect_rc=78)
                ev = p.events("serve_startup_hook_failed")
                self.assertEqual(len(ev), 1, err)
                self.assertEqual(ev[0]["hook"], script.split(".")[0])
                self.assertEqual(ev[0]["exc_type"], exc_type)
                self.assertEqual(p.events("round_start"), [])

    def test_serve_startup_double_fork(self):
        # The hook exits 0 at once, leaving a setsid'ed daemon: that one is
        # killed with the hook, and the service starts its rounds.
        pidfile = os.path.join(self.hook_dir, "escapee.pid")
        p = self.project("succeed")
        p.write_config(max_rounds=1,
                       sections={"hooks": {"serve_startup": [hook("double-fork.sh")]}})
        self.run_daemon(p)
        self.assertEqual(p.events("serve_startup_hook_failed"), [])
        with open(pidfile) as f:
            self.assertFalse(pid_alive(int(f.read())))
        self.assertEqual(p.events("round_end")[0]["outcome"], "ok")

    def phase_rounds(self, p, kind):
        """The rounds in which the record-input hook ran at this stage."""
        return [n for n in (1, 2, 3)
                if os.path.exists(os.path.join(self.hook_dir, f"{kind}.{n}.json"))]

    def clear_records(self):
        for name in os.listdir(self.hook_dir):
            os.unlink(os.path.join(self.hook_dir, name))

    def test_phase_disable_pre_round_hooks(self):
        # Phase "review" overrides [runtime] disable_pre_round_hooks, both ways.
        rec = hook("record-input.py")
        for base, review, want in ((False, True, [1]), (True, False, [2])):
            with self.subTest(base=base, review=review):
                self.clear_records()
                p = self.project("succeed")
                p.write_config(max_rounds=2, disable_pre_round_hooks=base, sections={
                    "phases": {"list": ["build", "review"]},
                    "phases.review": {"disable_pre_round_hooks": review},
                    "hooks": {"pre_round": [rec], "post_round": [rec]}})
                self.run_daemon(p)
                self.assertEqual([e["phase"] for e in p.events("round_start")],
                                 ["build", "review"])
                self.assertEqual(self.phase_rounds(p, "pre_round"), want)
                # Only the pre-round stage is skipped.
                self.assertEqual(self.phase_rounds(p, "post_round"), [1, 2])

    def test_phase_hooks_replace_the_stage(self):
        # [phases.review.hooks]: an empty pre_round list replaces [hooks]
        # pre_round in that phase, a post_round list adds the stage there;
        # the other phase keeps [hooks].
        rec = hook("record-input.py")
        p = self.project("succeed")
        p.write_config(max_rounds=3, sections={
            "phases": {"list": ["build", "review"]},
            "phases.review.hooks": {"pre_round": [], "post_round": [rec]},
            "hooks": {"pre_round": [rec], "context_enricher": [rec]}})
        self.run_daemon(p)
        self.assertEqual([e["phase"] for e in p.events("round_start")],
                         ["build", "review", "build"])
        self.assertEqual(self.phase_rounds(p, "pre_round"), [1, 3])
        self.assertEqual(self.phase_rounds(p, "post_round"), [2])
        self.assertEqual(self.phase_rounds(p, "context_enricher"), [1, 2, 3])
        self.assertEqual(p.events("hook_failed"), [])

    def test_plugins_disable_names_hooks(self):
        p = self.project("succeed")
        p.write_config(max_rounds=1, sections={
            "hooks": {"serve_startup": [hook("fail.sh")]}, "plugins": {"disable": ["fail"]}})
        self.run_daemon(p)
        self.assertEqual(p.events("serve_startup_hook_failed"), [])
        p.write_config(max_rounds=1, sections={
            "hooks": {"serve_startup": [hook("fail.sh")]}, "plugins": {"disable": ["fial"]}})
        err = self.run_daemon(p, expect_rc=78)
        self.assertIn('unknown name "fial"; did you mean "fail"?', err)

    def test_custom_event_kinds(self):
        p = self.project("succeed")
        p.write_config(max_rounds=1, sections={
            "hooks": {"post_round": [hook("emit-event.sh")]},
            "events": {"kinds": ["notes_refreshed"]}})
        self.run_daemon(p)
        ev = p.events("notes_refreshed")
        self.assertEqual(len(ev), 1)
        self.assertEqual(ev[0]["files"], 3)
        self.assertNotIn("sk-ant-api03", ev[0]["note"])  # redacted like any outside text
        failed = p.events("hook_failed")
        self.assertEqual(len(failed), 1)
        self.assertEqual(failed[0]["error_type"], "bad_output")
        self.assertIn("undeclared_kind", failed[0]["error_message"])
        # A built-in kind cannot be declared (a hook must not forge it).
        p.write_config(max_rounds=1, sections={"events": {"kinds": ["round_end"]}})
        err = self.run_daemon(p, expect_rc=78)
        self.assertIn('"round_end" is a built-in event kind', err)

    def test_fresh_eyes(self):
        p = self.project("succeed")
        p.write_config(max_rounds=2, fresh_eyes_every_n=2)
        self.run_daemon(p)
        ev = p.events("fresh_eyes_round_triggered")
        self.assertEqual([(e["round_num"], e["every_n"]) for e in ev], [(2, 2)])


if __name__ == "__main__":
    unittest.main(verbosity=2)

#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The git defenses at the end of a round, end to end: the real daemon, a
fake agent that leaves work uncommitted, a real repository; libgit2 acts,
the git CLI checks."""

import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from daemontest import DaemonTestCase  # noqa: E402


class VcsRoundTest(DaemonTestCase):
    def setUp(self):
        # The host's git config must not leak in; identity only where a
        # test asks for it.
        self.home = tempfile.mkdtemp(prefix="ard-vcs-home-")
        self.addCleanup(subprocess.run, ["rm", "-rf", self.home])
        self.gitconfig = os.path.join(self.home, ".gitconfig")
        open(self.gitconfig, "w").close()
        # Both git and libgit2 (which has no GIT_CONFIG_GLOBAL) read $HOME.
        os.environ["HOME"] = self.home
        os.environ["XDG_CONFIG_HOME"] = os.path.join(self.home, ".config")
        os.environ["GIT_CONFIG_NOSYSTEM"] = "1"

    def git(self, p, *args):
        return subprocess.run(["git", "-C", p.work, *args], check=True, capture_output=True,
                              text=True).stdout.strip()

    def committed_project(self, agent="dirty", **cfg):
        p = self.project(agent)
        with open(os.path.join(p.work, "tracked.txt"), "w") as f:
            f.write("base\n")
        p.write_config(**cfg)
        self.git(p, "add", "tracked.txt", "prompt.md", "agent-runner.toml")
        self.git(p, "-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-q",
                 "-m", "base")
        return p

    def test_stash_after_clean_exit(self):
        p = self.committed_project(max_rounds=2)
        prompts = os.path.join(p.dir, "prompt")
        rc, _, err = p.run(env={"FAKE_PROMPT_OUT": prompts})
        self.assertEqual(rc, 0, err)
        dirty = p.events("dirty_detected")
        self.assertEqual(len(dirty), 2)
        # The log dir lives inside the tree and is not ignored: never listed,
        # never stashed.
        self.assertEqual(dirty[0]["files"], ["tracked.txt", "untracked-1.txt"])
        self.assertEqual(dirty[0]["count"], 2)
        stashed = p.events("orphan_stashed")
        self.assertEqual([e["round_num"] for e in stashed], [1, 2])
        sha1 = stashed[0]["ref"]
        self.assertEqual(stashed[0]["files"], ["tracked.txt", "untracked-1.txt"])
        # git itself sees the stashes, by SHA, with our message.
        listed = self.git(p, "stash", "list", "--format=%H %s").splitlines()
        self.assertEqual(len(listed), 2)
        # As `git stash push -m` writes it: "On <branch>: <message>".
        self.assertRegex(listed[1], "^" + sha1 + " On [^:]+: ORPHAN R1 ts=")
        self.assertIn("+round 1", self.git(p, "stash", "show", "-p", "--include-untracked", sha1))
        # The tree is clean again, the log dir still there.
        self.assertEqual(self.git(p, "status", "--porcelain", "--", ".", ":!logs"), "")
        self.assertTrue(os.path.isdir(p.log_dir))
        self.assertTrue(os.path.exists(os.path.join(p.log_dir, "state.json")))
        # Round 2 was told about round 1's stash; state.json keeps round 2's.
        prompt2 = p.read(prompts + ".2")
        ctx = json.loads(prompt2.split("```json round-context\n", 1)[1].split("\n```", 1)[0])
        self.assertEqual(ctx["orphan_stash"]["ref"], sha1)
        self.assertIn("ORPHAN R1", ctx["orphan_stash"]["message"])
        self.assertEqual(p.state()["orphan"]["ref"], stashed[1]["ref"])
        # Reference order: agent_exit, dirty events, round_end.
        kinds = p.kinds()
        self.assertSubsequence(kinds, ["round_substrate_before", "round_start", "agent_exit",
                                       "dirty_detected", "orphan_stashed", "round_end",
                                       "round_substrate_after"])

    def test_crash_leaves_the_tree(self):
        p = self.committed_project(max_rounds=1)
        rc, _, err = p.run(env={"FAKE_EXIT": "1"})
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(p.events("dirty_detected")), 1)
        self.assertEqual(p.events("orphan_stashed"), [])
        self.assertEqual(self.git(p, "stash", "list"), "")
        self.assertIn("untracked-1.txt", self.git(p, "status", "--porcelain"))

    def test_orphan_cleared_by_a_clean_round(self):
        p = self.committed_project(max_rounds=1)
        rc, _, err = p.run()
        self.assertEqual(rc, 0, err)
        self.assertIsNotNone(p.state().get("orphan"))
        p.agent = "succeed"
        p.write_config(max_rounds=1)
        # An edit of the config the user has not committed yet is never
        # swept into a stash: it stays, and the tree counts as clean.
        rc, _, err = p.run()
        self.assertEqual(rc, 0, err)
        self.assertIsNone(p.state().get("orphan"))

    def test_ignore_action_reports_only(self):
        p = self.committed_project(max_rounds=1, sections={"vcs": {"dirty_action": "ignore"}})
        rc, _, err = p.run()
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(p.events("dirty_detected")), 1)
        self.assertEqual(self.git(p, "stash", "list"), "")

    def test_auto_commit_with_and_without_identity(self):
        p = self.committed_project(max_rounds=1,
                                   sections={"vcs": {"dirty_action": "auto_commit"}})
        rc, _, err = p.run()
        self.assertEqual(rc, 0, err)
        failed = p.events("dirty_commit_failed")
        self.assertEqual(len(failed), 1)
        self.assertIn("user.name", failed[0]["reason"])
        self.assertIn("untracked-1.txt", self.git(p, "status", "--porcelain"))

        with open(self.gitconfig, "w") as f:
            f.write("[user]\n\tname = Agent\n\temail = agent@example.com\n"
                    "[commit]\n\tgpgsign = true\n")
        rc, _, err = p.run()
        self.assertEqual(rc, 0, err)
        done = p.events("dirty_auto_committed")
        self.assertEqual(len(done), 1)
        self.assertEqual(done[0]["ref"], self.git(p, "rev-parse", "HEAD"))
        self.assertEqual(self.git(p, "log", "-1", "--format=%s"), "agent-runner auto-commit: R2")
        names = self.git(p, "show", "--name-only", "--format=", "HEAD").splitlines()
        self.assertNotIn("logs/state.json", names)
        self.assertIn("untracked-2.txt", names)

    def test_substrate_fingerprint(self):
        p = self.committed_project(max_rounds=1, substrate_fingerprint_paths=["*.txt"])
        head = self.git(p, "rev-parse", "HEAD")
        rc, _, err = p.run()
        self.assertEqual(rc, 0, err)
        before = p.events("round_substrate_before")[0]
        after = p.events("round_substrate_after")[0]
        self.assertEqual(before["git_head"], head)
        self.assertEqual(after["git_head"], head)
        self.assertTrue(before["paths_hash"])
        # The round changed tracked.txt and added a .txt file.
        self.assertNotEqual(before["paths_hash"], after["paths_hash"])


if __name__ == "__main__":
    unittest.main()

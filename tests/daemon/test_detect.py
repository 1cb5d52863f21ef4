#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The daemon's own detectors on a round's output (src/daemon/ard-detect.c):
[monitor] auth_fail_patterns on short failed text rounds, and the
repetitive-tool detector on claude's tool calls."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from daemontest import AGENTS, DaemonTestCase  # noqa: E402

FIXTURES = os.environ.get("AR_FIXTURES_DIR",
                          os.path.join(os.path.dirname(__file__), "..", "fixtures", "agent-cli"))


class DetectTest(DaemonTestCase):
    def test_auth_fail_patterns_stop_a_text_cli(self):
        p = self.project("auth-fail")
        p.write_config(max_rounds=3, agent={"output": "text"})
        rc, _, err = p.run()
        self.assertEqual(rc, 80, err)  # AR_EXIT_AUTH
        self.assertEqual(p.events("round_end")[0]["outcome"], "auth_failure")
        ev = p.events("auth_failed")
        self.assertEqual(len(ev), 1)
        self.assertIn("OAuth token rejected", ev[0]["raw"])

    def test_auth_fail_patterns_are_the_config(self):
        # The CLI's own words, unknown to the classifier: an error with the
        # default patterns, an authentication failure with the user's.
        env = {"FAKE_MESSAGE": "gatekeeper said no"}
        p = self.project("auth-fail")
        p.write_config(max_rounds=1, agent={"output": "text"})
        rc, _, err = p.run(env=env)
        self.assertEqual(rc, 0, err)
        self.assertEqual(p.events("round_end")[0]["outcome"], "error")
        p = self.project("auth-fail")
        p.write_config(max_rounds=1, agent={"output": "text"},
                       sections={"monitor": {"auth_fail_patterns": ["gatekeeper said"]}})
        rc, _, err = p.run(env=env)
        self.assertEqual(rc, 80, err)
        self.assertEqual(p.events("round_end")[0]["outcome"], "auth_failure")

    def test_repetitive_tool(self):
        p = self.project("repeat-tool")
        p.write_config(max_rounds=1, agent={"output": "claude-stream-json"},
                       sections={"monitor": {"anomaly_repetitive_window": 10,
                                             "anomaly_repetitive_threshold": 3}})
        rc, _, err = p.run()
        self.assertEqual(rc, 0, err)
        ev = p.events("anomaly_repetitive_tool")
        self.assertEqual(len(ev), 1)  # once per tool and target
        self.assertEqual((ev[0]["tool_name"], ev[0]["target"], ev[0]["count"], ev[0]["window"]),
                         ("Read", "/src/main.c", 3, 10))
        self.assertEqual(p.events("round_end")[0]["outcome"], "ok")

    def test_repetitive_tool_off_by_default(self):
        p = self.project("repeat-tool")
        p.write_config(max_rounds=1, agent={"output": "claude-stream-json"})
        rc, _, err = p.run()
        self.assertEqual(rc, 0, err)
        self.assertEqual(p.events("anomaly_repetitive_tool"), [])

    def claude_429(self, disable):
        agent = {"command": [os.path.join(AGENTS, "replay-fixture"), "--time-scale", "0",
                             FIXTURES, "claude-2.1.197-429"],
                 "output": "claude-stream-json"}
        p = self.project("replay-fixture")
        p.write_config(max_rounds=1, transient_error_action="skip", agent=agent,
                       sections={"plugins": {"disable": disable}})
        rc, _, err = p.run()
        return p, err

    def test_error_detector_disabled_exit_code_decides(self):
        # The captured claude 429 run (exit 1): a model rate limit read from
        # its output, with usage; with claude_error_detector off, as in the
        # Python tool, nothing of the output counts: a plain error.
        p, err = self.claude_429([])
        self.assertEqual(p.events("round_end")[0]["outcome"], "rate_limit_model", err)
        self.assertEqual(len(p.events("transient_error_detected")), 1)
        p, err = self.claude_429(["claude_error_detector"])
        self.assertEqual(p.events("round_end")[0]["outcome"], "error", err)
        self.assertEqual(p.events("transient_error_detected"), [])
        self.assertEqual(p.events("agent_usage_recorded"), [])
        # Another CLI's detector leaves claude's alone.
        p, err = self.claude_429(["gemini_error_detector", "codex_error_detector"])
        self.assertEqual(p.events("round_end")[0]["outcome"], "rate_limit_model", err)

    def test_error_detector_disabled_no_repetitive_tool(self):
        p = self.project("repeat-tool")
        p.write_config(max_rounds=1, agent={"output": "claude-stream-json"},
                       sections={"monitor": {"anomaly_repetitive_window": 10,
                                             "anomaly_repetitive_threshold": 3},
                                 "plugins": {"disable": ["claude_error_detector"]}})
        rc, _, err = p.run()
        self.assertEqual(rc, 0, err)
        self.assertEqual(p.events("anomaly_repetitive_tool"), [])
        self.assertEqual(p.events("round_end")[0]["outcome"], "ok")


if __name__ == "__main__":
    unittest.main(verbosity=2)

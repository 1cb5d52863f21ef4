#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The codewhale preset end to end: data/presets/codewhale.toml as `init`
writes it, with a fake `codewhale` on PATH (tests/fake-agents/codewhale):
the usage of its metadata record in agent_usage_recorded, and a 429 error
record backing off like the Python tool's codewhale_error_detector."""

import os
import shutil
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from daemontest import AGENTS, SOURCE_ROOT, DaemonTestCase  # noqa: E402

PRESET = os.path.join(SOURCE_ROOT, "data", "presets", "codewhale.toml")


class CodewhaleTest(DaemonTestCase):
    def preset_project(self):
        p = self.project("codewhale")
        with open(PRESET, encoding="utf-8") as f:
            text = f.read()
        text = text.replace('log_dir = "~/.agent-runner/{project}/logs"', 'log_dir = "logs"')
        text = text.replace('file = "./prompts/main.md"', 'file = "./prompt.md"')
        p.write_config(raw=text)
        bin_dir = os.path.join(p.dir, "bin")
        os.makedirs(bin_dir)
        shutil.copy(os.path.join(AGENTS, "codewhale"), bin_dir)
        env = {"PATH": bin_dir + ":" + os.environ.get("PATH", "/usr/bin:/bin")}
        return p, env

    def test_usage_from_the_metadata_record(self):
        p, env = self.preset_project()
        rc, _, err = p.run("--once", env=env)
        self.assertEqual(rc, 0, err)
        self.assertEqual(p.events("round_end")[0]["outcome"], "ok")
        ev = p.events("agent_usage_recorded")
        self.assertEqual(len(ev), 1, [e["event"] for e in p.events()])
        want = {"agent": "codewhale", "model": "deepseek-chat", "input_tokens": 1500,
                "output_tokens": 320, "cached_tokens": 0, "cost_usd": None,
                "round_num": 1, "success": True}
        for k, v in want.items():
            self.assertEqual(ev[0][k], v, k)

    def test_rate_limit_error_record_backs_off(self):
        p, env = self.preset_project()
        env["FAKE_CODEWHALE_ERROR"] = "429"
        p.write_config(raw=open(p.config_path, encoding="utf-8").read().replace(
            "[runtime]", "[runtime]\ntransient_error_action = \"skip\"\nmax_rounds = 1"))
        rc, _, err = p.run(env=env)
        self.assertEqual(p.events("round_end")[0]["outcome"], "rate_limit_model", err)
        det = p.events("transient_error_detected")
        self.assertEqual(det[0]["classification"], "rate_limit_model")
        self.assertIn("API error 429", det[0]["raw"])

    def test_detector_disabled_exit_code_decides(self):
        # [plugins] disable = ["codewhale_error_detector"]: the 429 record
        # and the usage are not read; exit 1 is a plain error, exit 0 ok.
        for error, outcome in (("429", "error"), (None, "ok")):
            p, env = self.preset_project()
            if error:
                env["FAKE_CODEWHALE_ERROR"] = error
            p.write_config(raw=open(p.config_path, encoding="utf-8").read().replace(
                "[runtime]", "[runtime]\ntransient_error_action = \"skip\"\nmax_rounds = 1")
                + '\n[plugins]\ndisable = ["codewhale_error_detector"]\n')
            rc, _, err = p.run(env=env)
            self.assertEqual(p.events("round_end")[0]["outcome"], outcome, err)
            self.assertEqual(p.events("transient_error_detected"), [])
            self.assertEqual(p.events("agent_usage_recorded"), [])


if __name__ == "__main__":
    unittest.main()

# SPDX-License-Identifier: Apache-2.0
"""Shared fixtures of the daemon tests: a throwaway project (a real git
repository with an agent-runner.toml and a prompt), the real
agent-runnerd, the fake agents of tests/fake-agents, and readers for the
events file and state.json. No mocks: every test runs real processes."""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import sys
import unittest

SOURCE_ROOT = os.environ.get("AR_SOURCE_ROOT",
                             os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD_ROOT = os.environ.get("AR_BUILD_ROOT", os.path.join(SOURCE_ROOT, "build"))
DAEMON = os.path.join(BUILD_ROOT, "src", "daemon", "agent-runnerd")
AGENTS = os.path.join(SOURCE_ROOT, "tests", "fake-agents")

# Generous upper bounds for "it ends at all"; never timing assertions.
ENDS_WITHIN = 60.0

PROMPT = ("You are a fake agent under test. " * 40).strip() + "\n"


def toml_str(s):
    return json.dumps(s)


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, str):
        return toml_str(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    raise TypeError(v)


class Project:
    """A temporary git work tree with a config for one fake agent."""

    def __init__(self, agent_script, log_dir="logs", **overrides):
        self.dir = tempfile.mkdtemp(prefix="ard-test-")
        self.work = os.path.join(self.dir, "work")
        os.makedirs(self.work)
        subprocess.run(["git", "init", "-q", self.work], check=True)
        with open(os.path.join(self.work, "prompt.md"), "w") as f:
            f.write(PROMPT)
        self.log_dir = os.path.join(self.work, log_dir) if not os.path.isabs(log_dir) else log_dir
        self.config_path = os.path.join(self.work, "agent-runner.toml")
        self.agent = agent_script
        self.procs = []
        self.write_config(**overrides)

    def write_config(self, agent_env=None, agent=None, sections=None, raw=None, **runtime):
        """runtime keys go to [runtime]; sections = {"prompt": {...}, ...}
        merged over the defaults; raw replaces the whole file."""
        if raw is not None:
            with open(self.config_path, "w") as f:
                f.write(raw)
            return
        agent = agent or {}
        a = {
            "command": [os.path.join(AGENTS, self.agent)],
            "prompt_arg_template": [],
            "prompt_delivery": "stdin",
        }
        a.update(agent)
        rt = {
            "work_dir": ".",
            "log_dir": os.path.relpath(self.log_dir, self.work)
            if self.log_dir.startswith(self.work) else self.log_dir,
            "restart_delay_s": 0,
            "round_timeout_s": 600,
        }
        rt.update(runtime)
        secs = {"prompt": {"file": "prompt.md"}}
        for k, v in (sections or {}).items():
            secs.setdefault(k, {}).update(v)
        lines = ["[agent]"]
        lines += [f"{k} = {toml_value(v)}" for k, v in a.items()]
        if agent_env:
            lines.append("[agent.env]")
            lines += [f"{k} = {toml_str(v)}" for k, v in agent_env.items()]
        lines.append("[runtime]")
        lines += [f"{k} = {toml_value(v)}" for k, v in rt.items()]
        for name, table in secs.items():
            lines.append(f"[{name}]")
            lines += [f"{k} = {toml_value(v)}" for k, v in table.items()]
        with open(self.config_path, "w") as f:
            f.write("\n".join(lines) + "\n")

    # ---- running the daemon ------------------------------------------------

    def env(self, extra=None):
        env = dict(os.environ)
        env.pop("NOTIFY_SOCKET", None)
        env.pop("WATCHDOG_USEC", None)
        if extra:
            env.update(extra)
        return env

    def start(self, *args, env=None):
        p = subprocess.Popen([DAEMON, "--config", self.config_path, "--no-journal", *args],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=self.env(env), cwd=self.dir)
        self.procs.append(p)
        return p

    def run(self, *args, env=None, timeout=ENDS_WITHIN):
        p = self.start(*args, env=env)
        out, err = p.communicate(timeout=timeout)
        return p.returncode, out.decode(errors="replace"), err.decode(errors="replace")

    def cleanup(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
            for f in (p.stdout, p.stderr):
                if f:
                    f.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def read(self, path, mode="r"):
        with open(path, mode) as f:
            return f.read()

    # ---- reading what it left ----------------------------------------------

    def events(self, kind=None):
        out = []
        if not os.path.isdir(self.log_dir):
            return out
        for name in sorted(os.listdir(self.log_dir)):
            if name.startswith("events-") and name.endswith(".jsonl"):
                with open(os.path.join(self.log_dir, name), encoding="utf-8") as f:
                    for line in f:
                        if line.endswith("\n"):
                            out.append(json.loads(line))
        if kind:
            out = [e for e in out if e["event"] == kind]
        return out

    def kinds(self):
        return [e["event"] for e in self.events()]

    def wait_event(self, kind, count=1, timeout=ENDS_WITHIN, proc=None):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            evs = self.events(kind)
            if len(evs) >= count:
                return evs[count - 1]
            if proc is not None and proc.poll() is not None:
                raise AssertionError(
                    f"daemon exited {proc.returncode} before {kind}: {self.kinds()}")
            time.sleep(0.02)
        raise AssertionError(f"no {kind} x{count} within {timeout}s: {self.kinds()}")

    def state(self):
        with open(os.path.join(self.log_dir, "state.json")) as f:
            return json.load(f)

    def transcripts(self):
        d = os.path.join(self.log_dir, "rounds")
        return sorted(os.listdir(d), key=lambda n: int(n[1:].split("-")[0])) \
            if os.path.isdir(d) else []

    def transcript(self, n):
        for name in self.transcripts():
            if name.startswith(f"R{n}-"):
                return os.path.join(self.log_dir, "rounds", name)
        raise AssertionError(f"no transcript for round {n}: {self.transcripts()}")


def wait_for(pred, what, timeout=ENDS_WITHIN):
    """Poll pred (a bounded loop) until it holds; fail naming what."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.02)
    raise AssertionError(f"not within {timeout}s: {what}")


def pid_alive(pid):
    """True when pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError):
        return False


class DaemonTestCase(unittest.TestCase):
    agent = "succeed"

    def project(self, agent_script=None, **kw):
        p = Project(agent_script or self.agent, **kw)
        self.addCleanup(p.cleanup)
        return p

    def assertSubsequence(self, seq, sub):
        it = iter(seq)
        missing = [x for x in sub if not any(x == y for y in it)]
        self.assertFalse(missing, f"{sub} not in order in {seq}")


def run_tests():
    """unittest's main, with exit 77 (meson's skip) when every case skipped."""
    prog = unittest.main(exit=False, verbosity=2)
    res = prog.result
    if res.testsRun and len(res.skipped) == res.testsRun:
        sys.exit(77)
    sys.exit(0 if res.wasSuccessful() else 1)

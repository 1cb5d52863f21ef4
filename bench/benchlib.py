# SPDX-License-Identifier: Apache-2.0
"""Helpers of the daemon benchmarks: a throwaway project (tests/daemon's
fixture), running the real agent-runnerd, and the daemon's own CPU time
(its rusage minus what its agents used, from their agent_exit events)."""

import os
import sys

SOURCE_ROOT = os.environ.get("AR_SOURCE_ROOT",
                             os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(SOURCE_ROOT, "tests", "daemon"))

from daemontest import AGENTS, DAEMON, Project  # noqa: E402,F401


def run_daemon(project, *args, env=None):
    """Run to the end; returns (exit code, daemon-only CPU s, total rusage)."""
    proc = project.start(*args, env=env)
    proc.stdout.close()
    err = proc.stderr.read().decode(errors="replace")
    _, status, ru = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        print(err, file=sys.stderr)
    agents = sum(e["cpu_user_s"] + e["cpu_sys_s"] for e in project.events("agent_exit"))
    return proc.returncode, ru.ru_utime + ru.ru_stime - agents, ru


def cleanup(project):
    project.cleanup()

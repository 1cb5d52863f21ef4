# SPDX-License-Identifier: Apache-2.0
"""Reliability of the round engine under hostile conditions:
what a killed daemon leaves behind, durable stops, torn event lines, full
disks. The real agent-runnerd with the fake agents; no mocks."""

import json
import os
import random
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from daemontest import (AGENTS, DAEMON, ENDS_WITHIN, DaemonTestCase, Project, pid_alive,  # noqa: E402
                        run_tests, wait_for)


def can_mount_tmpfs():
    """A private mount namespace with a tmpfs: root, or a user namespace."""
    r = subprocess.run(["unshare", "-rm", "sh", "-c",
                        "d=$(mktemp -d) && mount -t tmpfs -o size=64k tmpfs $d; rc=$?; "
                        "umount $d 2>/dev/null; rmdir $d; exit $rc"],
                       capture_output=True)
    return r.returncode == 0


class ProcessTest(DaemonTestCase):
    def test_kill9_leftovers_ended_on_restart(self):
        p = self.project("spawn-and-wait")
        pidfile = os.path.join(p.dir, "bg.pid")
        work_file = os.path.join(p.work, "bg-writes.txt")
        p.write_config(agent_env={"FAKE_PIDFILE": pidfile, "FAKE_WORKFILE": work_file})
        d = p.start()
        wait_for(lambda: os.path.exists(pidfile), "the agent's background writers")
        pids = [int(x) for x in p.read(pidfile).split()]
        self.assertEqual(p.state()["round_procs"]["round_num"], 1)
        d.kill()
        d.wait()
        # The agent dies with its supervisor; its background jobs do not.
        time.sleep(0.3)
        self.assertTrue(all(pid_alive(x) for x in pids), "precondition: writers survive")
        p.agent = "succeed"
        p.write_config()
        rc, _, err = p.run("--max-rounds", "1")
        self.assertEqual(rc, 0, err)
        for x in pids:
            self.assertFalse(pid_alive(x), f"leftover {x} of the killed round survived")
        ev = p.events("round_leftovers_killed")
        self.assertEqual(len(ev), 1, p.kinds())
        self.assertTrue(ev[0]["after_restart"])
        self.assertEqual(ev[0]["round_num"], 1)
        self.assertGreaterEqual(ev[0]["count"], 2)
        found = {e["pid"] for e in ev[0]["processes"]}
        self.assertTrue(set(pids) <= found, (pids, ev[0]["processes"]))
        self.assertTrue(any("while" in e["cmdline"] for e in ev[0]["processes"]))
        evs = p.events()
        # Ended before the new round started, and the record is gone.
        at = [i for i, e in enumerate(evs) if e["event"] == "round_leftovers_killed"][0]
        second = [i for i, e in enumerate(evs)
                  if e["event"] == "round_start" and e["round_num"] == 2][0]
        self.assertLess(at, second)
        self.assertEqual([e["round_num"] for e in p.events("round_start")], [1, 2])
        self.assertIsNone(p.state()["round_procs"])
        # Nothing writes in the tree any more.
        size = os.path.getsize(work_file)
        time.sleep(0.3)
        self.assertEqual(os.path.getsize(work_file), size)

    def killed_with_index_lock(self):
        """A round killed (kill -9 of the daemon) after the agent's git left
        .git/index.lock; returns the project and the lock's path."""
        p = self.project("git-lock-and-wait")
        pidfile = os.path.join(p.dir, "agent.pid")
        p.write_config(agent_env={"FAKE_PIDFILE": pidfile})
        # A stash needs a first commit.
        subprocess.run(["git", "-C", p.work, "add", "prompt.md", "agent-runner.toml"], check=True)
        subprocess.run(["git", "-C", p.work, "-c", "user.name=T", "-c", "user.email=t@example.com",
                        "commit", "-q", "-m", "base"], check=True)
        d = p.start()
        wait_for(lambda: os.path.exists(pidfile), "the agent's index lock")
        d.kill()
        d.wait()
        lock = os.path.join(p.work, ".git", "index.lock")
        self.assertTrue(os.path.exists(lock), "precondition: the lock is left")
        p.agent = "succeed"
        p.write_config()
        return p, lock

    def test_kill9_stale_index_lock_removed(self):
        """The lock a killed round left would make every later stash fail;
        it is removed at start, with an event, and the next round stashes."""
        p, lock = self.killed_with_index_lock()
        rc, _, err = p.run("--max-rounds", "1")
        self.assertEqual(rc, 0, err)
        self.assertFalse(os.path.exists(lock))
        ev = p.events("stale_index_lock_removed")
        self.assertEqual(len(ev), 1, p.kinds())
        self.assertEqual(ev[0]["round_num"], 1)
        self.assertEqual(ev[0]["path"], os.path.realpath(lock))
        self.assertEqual(p.events("orphan_stash_failed"), [])
        stashed = p.events("orphan_stashed")
        self.assertEqual(len(stashed), 1, p.kinds())
        self.assertIn("agent-work.txt", stashed[0]["files"])
        # Before the restarted daemon's first round.
        self.assertSubsequence(p.kinds(), ["round_start", "serve_started",
                                           "stale_index_lock_removed", "round_start"])

    def test_older_or_held_index_lock_left_alone(self):
        """A lock older than the killed round (someone else's) or one a live
        process holds open is not ours to remove."""
        p, lock = self.killed_with_index_lock()
        old = time.time() - 3600
        os.utime(lock, (old, old))
        state = p.state()
        rc, _, err = p.run("--max-rounds", "1")
        self.assertEqual(rc, 0, err)
        self.assertTrue(os.path.exists(lock))
        self.assertEqual(p.events("stale_index_lock_removed"), [])
        self.assertEqual(len(p.events("orphan_stash_failed")), 1, p.kinds())
        # Held open by a live process: left alone too.
        os.utime(lock, None)
        with open(os.path.join(p.log_dir, "state.json"), "w") as f:
            json.dump(state, f)  # the killed round's record again
        with open(lock) as held:
            holder = subprocess.Popen(["sleep", "600"], stdin=held)
        self.addCleanup(holder.wait)
        self.addCleanup(holder.kill)
        rc, _, err = p.run("--max-rounds", "1")
        self.assertEqual(rc, 0, err)
        self.assertTrue(os.path.exists(lock))
        self.assertEqual(p.events("stale_index_lock_removed"), [])

    def test_unrelated_processes_survive(self):
        """Only the round's own processes are ended: not a process started
        before the round, nor one the token does not mark."""
        p = self.project("spawn-and-wait")
        pidfile = os.path.join(p.dir, "bg.pid")
        p.write_config(agent_env={"FAKE_PIDFILE": pidfile,
                                  "FAKE_WORKFILE": os.path.join(p.dir, "w.txt")})
        bystander = subprocess.Popen(["sleep", "600"], start_new_session=True)
        self.addCleanup(bystander.wait)
        self.addCleanup(bystander.kill)
        d = p.start()
        wait_for(lambda: os.path.exists(pidfile), "the agent's background writers")
        d.kill()
        d.wait()
        p.agent = "succeed"
        p.write_config()
        rc, _, err = p.run("--max-rounds", "1")
        self.assertEqual(rc, 0, err)
        self.assertTrue(pid_alive(bystander.pid))
        self.assertNotIn(bystander.pid,
                         {e["pid"] for e in p.events("round_leftovers_killed")[0]["processes"]})

    def test_clean_round_reports_leftovers(self):
        p = self.project("double-fork")
        pidfile = os.path.join(p.dir, "escapee.pid")
        p.write_config(agent_env={"FAKE_PIDFILE": pidfile})
        rc, _, err = p.run("--once")
        self.assertEqual(rc, 0, err)
        pid = int(p.read(pidfile))
        self.assertFalse(pid_alive(pid))
        ev = p.events("round_leftovers_killed")
        self.assertEqual(len(ev), 1, p.kinds())
        self.assertFalse(ev[0]["after_restart"])
        self.assertEqual(ev[0]["count"], 1)
        self.assertEqual(ev[0]["processes"][0]["pid"], pid)
        # The escapee is seen at any step of "( setsid sleep 600 & )": the
        # forked shell before its exec (seen once in 20 runs of the whole
        # suite), setsid(1), or sleep. Each is what ran when it was ended;
        # the pid above says it is the escapee.
        self.assertIn(ev[0]["processes"][0]["cmdline"],
                      ("/bin/sh " + os.path.join(AGENTS, "double-fork"), "setsid sleep 600",
                       "sleep 600"))
        self.assertSubsequence(p.kinds(), ["round_start", "round_leftovers_killed", "agent_exit",
                                           "round_end"])


class DurableStopTest(DaemonTestCase):
    def test_crash_loop_stays_stopped(self):
        p = self.project("fail-fast")
        rc, _, err = p.run()
        self.assertEqual(rc, 79, err)
        self.assertEqual(len(p.events("round_end")), 5)
        # A plain restart (the unit's, a reboot's) keeps it stopped.
        rc, _, err = p.run()
        self.assertEqual(rc, 79, err)
        self.assertIn("agent-runner start", err)
        self.assertEqual(len(p.events("round_end")), 5)
        self.assertEqual(p.state()["stop_reason"], "crash_loop")
        self.assertIn("crash_loop", p.events("serve_stopping")[-1]["reason"])
        # An explicit start runs again, with a fresh streak.
        p.agent = "succeed"
        p.write_config()
        rc, _, err = p.run("--clear-done", "--max-rounds", "1")
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(p.events("round_end")), 6)
        self.assertIsNone(p.state()["stop_reason"])


class FilesTest(DaemonTestCase):
    def run_on_full_disk(self, p, *args):
        """The daemon with log_dir on a full 256 KiB tmpfs, in a private
        mount namespace (nothing outside sees it)."""
        os.makedirs(p.log_dir, exist_ok=True)
        script = ('mount -t tmpfs -o size=256k tmpfs "$1" || exit 90; shift; '
                  'head -c 1048576 /dev/zero > "$LOGDIR_FILL" 2>/dev/null; '
                  'exec "$@"')
        r = subprocess.run(["unshare", "-rm", "sh", "-c", script, "sh", p.log_dir,
                            DAEMON, "--config", p.config_path, "--no-journal", *args],
                           capture_output=True, text=True, cwd=p.dir, timeout=ENDS_WITHIN,
                           env=p.env({"LOGDIR_FILL": os.path.join(p.log_dir, "fill")}))
        self.assertNotEqual(r.returncode, 90, r.stderr)
        return r.returncode, r.stderr

    def test_disk_full_log_dir(self):
        if not can_mount_tmpfs():
            self.skipTest("cannot mount a tmpfs in a private mount namespace")
        p = self.project("succeed")
        rc, err = self.run_on_full_disk(p, "--max-rounds", "1")
        # The exit code the unit honours (RestartPreventExitStatus=78), and
        # what it is: a full disk, where, how much is left.
        self.assertEqual(rc, 78, err)
        self.assertIn("DISK FULL: " + p.log_dir, err)
        self.assertRegex(err, r"has \d+ bytes free")
        self.assertIn("log_dir_writable: no space left in " + p.log_dir, err)
        self.assertNotIn("config_broken", err)

    def test_fifo_config_does_not_hang_serve(self):
        p = self.project("succeed")
        os.unlink(p.config_path)
        os.mkfifo(p.config_path)
        rc, _, err = p.run("--max-rounds", "1", timeout=30)
        self.assertEqual(rc, 78, err)
        self.assertIn("is a FIFO; only a regular file is accepted", err)


# ---- crash consistency ------------------------------------------------------

class Campaign:
    """kill -9 of the daemon at random points of rounds that write, stash
    and spawn children, then the invariants: every events line parses,
    round numbers never repeat, no process of a killed round survives the
    restart, the agent's work is in the tree, a stash or a commit. Shared
    by the test (small N) and bench/crash-consistency.py (N = 1000)."""

    def __init__(self, seed, max_kill_delay=1.2):
        self.rng = random.Random(seed)
        self.max_kill_delay = max_kill_delay
        self.home = tempfile.mkdtemp(prefix="ard-crash-home-")
        open(os.path.join(self.home, ".gitconfig"), "w").close()
        self.envx = {"HOME": self.home, "XDG_CONFIG_HOME": os.path.join(self.home, ".config"),
                     "GIT_CONFIG_NOSYSTEM": "1"}
        self.p = Project("crash-worker")
        self.ledger = os.path.join(self.p.dir, "ledger")
        self.pids = os.path.join(self.p.dir, "pids")
        self.p.write_config(agent_env={"FAKE_LEDGER": self.ledger, "FAKE_PIDS": self.pids})
        with open(os.path.join(self.p.work, "tracked.txt"), "w") as f:
            f.write("base\n")
        self.git("add", "tracked.txt", "prompt.md", "agent-runner.toml")
        self.git("-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-q", "-m", "base")
        self.kills = 0
        self.restart_s = []  # start to first round_start, after a kill
        self.problems = []

    def cleanup(self):
        for n, pid in self.recorded_pids():
            if pid_alive(pid):
                try:
                    os.kill(pid, 9)
                except ProcessLookupError:
                    pass
        self.p.cleanup()
        subprocess.run(["rm", "-rf", self.home])

    def git(self, *args):
        env = dict(os.environ, **self.envx)
        return subprocess.run(["git", "-C", self.p.work, *args], check=True, capture_output=True,
                              text=True, env=env).stdout

    def recorded_pids(self):
        """(round, pid) of the recorded children still alive: same pid and
        same start time (pids wrap around in a long campaign)."""
        if not os.path.exists(self.pids):
            return []
        out = []
        with open(self.pids) as f:
            for line in f:
                parts = line.split()
                if len(parts) != 3:
                    continue  # killed while recording
                n, pid, start = int(parts[0]), int(parts[1]), parts[2]
                try:
                    with open(f"/proc/{pid}/stat") as st:
                        now = st.read().rsplit(")", 1)[1].split()[19]
                except (FileNotFoundError, ProcessLookupError, IndexError):
                    continue
                if now == start:
                    out.append((n, pid))
        return out

    def count(self, kind):
        return len(self.p.events(kind))

    def wait_round_start(self, before, proc):
        deadline = time.monotonic() + ENDS_WITHIN
        while time.monotonic() < deadline:
            starts = self.p.events("round_start")
            if len(starts) > before:
                return starts[before]["round_num"]
            if proc.poll() is not None:
                raise AssertionError(f"daemon exited {proc.returncode}: {self.p.kinds()[-8:]}")
            time.sleep(0.01)
        raise AssertionError("no round_start")

    def check_no_survivors(self, below_round):
        for n, pid in self.recorded_pids():
            if n < below_round and pid_alive(pid):
                self.problems.append(f"pid {pid} of round {n} alive at round {below_round}")

    def kill_once(self):
        before = self.count("round_start")
        t0 = time.monotonic()
        d = self.p.start(env=self.envx)
        first = self.wait_round_start(before, d)
        if self.kills:
            self.restart_s.append(time.monotonic() - t0)
        # What the killed daemons left was ended before this round began.
        self.check_no_survivors(first)
        time.sleep(self.rng.uniform(0, self.max_kill_delay))
        d.kill()
        d.wait()
        for f in (d.stdout, d.stderr):
            f.close()
        self.p.procs.remove(d)
        self.kills += 1

    def clean_once(self):
        """The baseline: a start after a graceful stop (SIGTERM lets the
        round finish). Returns start to first round_start, in s."""
        before = self.count("round_start")
        t0 = time.monotonic()
        d = self.p.start(env=self.envx)
        self.wait_round_start(before, d)
        took = time.monotonic() - t0
        d.terminate()
        d.communicate(timeout=ENDS_WITHIN)
        self.p.procs.remove(d)
        return took

    def finish(self):
        """A last clean run, then every invariant."""
        before = self.count("round_start")
        t0 = time.monotonic()
        rc, _, err = self.p.run("--max-rounds", "1", env=self.envx)
        self.clean_restart_s = time.monotonic() - t0
        if rc != 0:
            self.problems.append(f"final run exited {rc}: {err[-500:]}")
        self.check_no_survivors(1 << 30)
        self.check_events(before)
        self.check_work()
        # A kill while the index is written leaves .git/index.lock; left
        # there, it would make every later stash fail (ard-stale-lock.h).
        for ev in self.p.events("orphan_stash_failed"):
            if "index.lock" in ev["reason"]:
                self.problems.append(f"round {ev['round_num']}: stash failed: {ev['reason'][:160]}")
        return self.problems

    def check_events(self, before):
        rounds = []
        for name in sorted(os.listdir(self.p.log_dir)):
            if not (name.startswith("events-") and name.endswith(".jsonl")):
                continue
            with open(os.path.join(self.p.log_dir, name), encoding="utf-8") as f:
                text = f.read()
            if text and not text.endswith("\n"):
                self.problems.append(f"{name} ends in a fragment: {text[-80:]!r}")
            for i, line in enumerate(text.splitlines(), 1):
                if not line.strip():
                    continue  # a writer killed mid-line leaves at most this
                try:
                    ev = json.loads(line)
                except ValueError:
                    self.problems.append(f"{name}:{i} does not parse: {line[:120]!r}")
                    continue
                if ev.get("event") == "round_start":
                    rounds.append(ev["round_num"])
        if len(set(rounds)) != len(rounds) or rounds != sorted(rounds):
            self.problems.append(f"round numbers repeat or go back: {rounds}")
        self.rounds = len(rounds)

    def check_work(self):
        seen = self.git("log", "--all", "--reflog", "-p", "--format=%H")
        seen += self.git("stash", "list", "-p")
        for ev in self.p.events("orphan_stashed"):
            seen += self.git("stash", "show", "-p", "--include-untracked", ev["ref"])
        for name in os.listdir(self.p.work):
            path = os.path.join(self.p.work, name)
            if os.path.isfile(path):
                with open(path, errors="replace") as f:
                    seen += f.read()
        with open(self.ledger) as f:
            tokens = [line.split()[1] for line in f if len(line.split()) == 2]
        lost = [t for t in tokens if t not in seen]
        if lost:
            self.problems.append(f"work lost (not in tree, stash or commit): {lost}")
        self.tokens = len(tokens)


class CrashConsistencyTest(unittest.TestCase):
    def test_kill9_campaign(self):
        n = int(os.environ.get("AR_CRASH_N", "8"))
        seed = int(os.environ.get("AR_CRASH_SEED", str(int(time.time()))))
        c = Campaign(seed)
        self.addCleanup(c.cleanup)
        for _ in range(n):
            c.kill_once()
        problems = c.finish()
        self.assertEqual(problems, [], f"seed {seed}")
        self.assertGreater(c.tokens, 0)


if __name__ == "__main__":
    run_tests()

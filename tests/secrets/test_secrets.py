# SPDX-License-Identifier: Apache-2.0
"""Secrets end to end (docs/secrets.md): the agent-runner secret
verb against a real gnome-keyring-daemon on a private session bus, the
real agent-runnerd handing the values to the agent at every round, the
locked-keyring wait, redaction of secret and credential-looking values in
every sink, owner-only log files. No mocks. Exit 77 (skip) without
gnome-keyring-daemon.

Run one test: test_secrets.py KeyringTest.test_set_list_rm"""

import json
import os
import random
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bus"))
from bustest import (BUILD_ROOT, CLIENT, DAEMON, ENDS_WITHIN, BusTestCase,  # noqa: E402
                     bus_name)
from sysharness import can_unshare, run_with_journald  # noqa: E402

UNLOCK = os.path.join(BUILD_ROOT, "tests", "keyring-unlock")
PASSWORD = "test-keyring-password"
LOGIN = "/org/freedesktop/secrets/collection/login"
SECRETS = "org.freedesktop.secrets"
NAME = bus_name("work")


class KeyringCase(BusTestCase):
    """A private session bus with a real, unlocked gnome-keyring-daemon in
    a throwaway HOME and XDG_RUNTIME_DIR."""

    agent = "print-secret"

    def setUp(self):
        if not shutil.which("gnome-keyring-daemon"):
            sys.exit(77)
        super().setUp()
        self.home = tempfile.mkdtemp(prefix="ar-keyring-home-")
        self.runtime = tempfile.mkdtemp(prefix="ar-keyring-run-")
        os.chmod(self.runtime, 0o700)
        self.addCleanup(shutil.rmtree, self.home, True)
        self.addCleanup(shutil.rmtree, self.runtime, True)
        e = dict(os.environ)
        e.update(self.env())
        # It forks and exits; the daemon leaves when the bus goes away.
        subprocess.run(["gnome-keyring-daemon", "--unlock", "--components=secrets"],
                       input=PASSWORD.encode(), env=e, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=True, timeout=ENDS_WITHIN)

    def env(self, **extra):
        e = {"DBUS_SESSION_BUS_ADDRESS": self.bus.address}
        if hasattr(self, "home"):
            e.update(HOME=self.home, XDG_RUNTIME_DIR=self.runtime)
        e.update(extra)
        return e

    def secret(self, *args, value=None):
        e = dict(os.environ)
        e.update(self.env())
        p = subprocess.run([CLIENT, "secret", *args], input=value, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=e, timeout=ENDS_WITHIN)
        return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")

    def lock(self):
        self.bus.busctl("call", SECRETS, "/org/freedesktop/secrets",
                        "org.freedesktop.Secret.Service", "Lock", "ao", "1", LOGIN)

    def unlock(self):
        e = dict(os.environ)
        e.update(self.env())
        subprocess.run([UNLOCK, LOGIN], input=PASSWORD.encode(), env=e, check=True,
                       timeout=ENDS_WITHIN)

    def all_output(self, p):
        """Everything a project's events file holds, as text."""
        out = ""
        for name in sorted(os.listdir(p.log_dir)):
            if name.startswith("events-"):
                out += p.read(os.path.join(p.log_dir, name))
        return out


class KeyringTest(KeyringCase):
    def test_set_list_rm(self):
        rc, out, err = self.secret("set", "MY_API_KEY", value=b"value-for-every-project\n")
        self.assertEqual(rc, 0, err)
        rc, out, err = self.secret("set", "MY_API_KEY", "--project", "work",
                                   value=b"value-for-work")
        self.assertEqual(rc, 0, err)
        rc, out, err = self.secret("list", "--json")
        self.assertEqual(rc, 0, err)
        entries = json.loads(out)
        self.assertEqual(sorted((e["name"], e["project"] or "") for e in entries),
                         [("MY_API_KEY", ""), ("MY_API_KEY", "work")])
        self.assertTrue(all(e["store"] == "keyring" and not e["locked"] for e in entries))
        rc, out, err = self.secret("list")
        self.assertIn("MY_API_KEY", out)
        self.assertNotIn("value-for", out + err)
        # Replacing is one entry, not two.
        rc, out, err = self.secret("set", "MY_API_KEY", value=b"second-value")
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(json.loads(self.secret("list", "--json")[1])), 2)
        # ...and the project's own entry kept its value.
        if shutil.which("secret-tool"):
            e = dict(os.environ)
            e.update(self.env())
            got = subprocess.run(["secret-tool", "lookup", "xdg:schema", "org.agentrunner.Secret",
                                  "name", "MY_API_KEY", "project", "work"], env=e,
                                 stdout=subprocess.PIPE, timeout=ENDS_WITHIN).stdout
            self.assertEqual(got, b"value-for-work")
        rc, out, err = self.secret("rm", "MY_API_KEY", "--project", "work")
        self.assertEqual(rc, 0, err)
        entries = json.loads(self.secret("list", "--json")[1])
        self.assertEqual([(e["name"], e["project"]) for e in entries], [("MY_API_KEY", None)])
        rc, out, err = self.secret("rm", "MY_API_KEY", "--project", "work")
        self.assertEqual(rc, 1)
        self.assertIn("no secret MY_API_KEY for project work", err)
        # The value never from argv.
        rc, out, err = self.secret("set", "MY_API_KEY", "the-value")
        self.assertEqual(rc, 2)
        self.assertIn("stdin", err)

    def test_bad_input(self):
        cases = [
            (("set", "1BAD"), b"x", "not a valid secret name"),
            (("set", "BAD-NAME"), b"x", "not a valid secret name"),
            (("set", "A" * 200), b"x", "not a valid secret name"),
            (("set", "EMPTY_KEY"), b"", "empty"),
            (("set", "EMPTY_KEY"), b"\n", "empty"),
            (("set", "NUL_KEY"), b"ab\0cd", "NUL"),
            (("set", "BIG_KEY"), b"a" * (1024 * 1024), "longer than"),
            (("set", "BIN_KEY"), b"\xff\xfe", "UTF-8"),
        ]
        for args, value, msg in cases:
            rc, out, err = self.secret(*args, value=value)
            self.assertNotEqual(rc, 0, args)
            self.assertIn(msg, err, args)
            self.assertIn("agent-runner secret:", err)
        # Nothing stored half-way.
        self.assertEqual(json.loads(self.secret("list", "--json")[1]), [])

    def test_agent_gets_fresh_value_redacted(self):
        p = self.project()
        p.write_config(agent={"secrets": ["MY_API_KEY"]}, restart_delay_s=1)
        first, second = "first-Value.*[x]+" + "é" * 3, "rotated-value-0123456789"
        rc, out, err = self.secret("set", "MY_API_KEY", "--project", "work",
                                   value=first.encode())
        self.assertEqual(rc, 0, err)
        proc = self.serve(p, "--max-rounds", "2", env={"FAKE_PRINT": "MY_API_KEY"})
        p.wait_event("round_end", proc=proc)
        seen = os.path.join(p.log_dir, "seen-R1-MY_API_KEY")
        self.assertEqual(p.read(seen), first)
        # Rotated between rounds: the next round gets the new value, no restart.
        rc, out, err = self.secret("set", "MY_API_KEY", "--project", "work",
                                   value=second.encode())
        self.assertEqual(rc, 0, err)
        peek = self.bus.peek(NAME, round=1, log_tail=50)
        proc.communicate(timeout=ENDS_WITHIN)
        self.assertEqual(proc.returncode, 0)
        self.assertEqual(p.read(os.path.join(p.log_dir, "seen-R2-MY_API_KEY")), second)
        # The transcript keeps the raw output, 0600; nothing else shows it.
        t = p.transcript(1)
        self.assertIn(first, p.read(t))
        self.assertEqual(stat.S_IMODE(os.stat(t).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(p.log_dir).st_mode), 0o700)
        text = self.all_output(p) + json.dumps(peek, ensure_ascii=False)
        for v in (first, second):
            self.assertNotIn(v, text)
        self.assertIn("<redacted>", json.dumps(peek))
        # Not in the daemon's own environment or argv either.
        for name in ("state.json", "round-context.json"):
            path = os.path.join(p.log_dir, name)
            if os.path.exists(path):
                self.assertNotIn(first, p.read(path))

    def test_locked_keyring_waits(self):
        p = self.project()
        p.write_config(agent={"secrets": ["MY_API_KEY"]})
        rc, out, err = self.secret("set", "MY_API_KEY", value=b"locked-away-value")
        self.assertEqual(rc, 0, err)
        self.lock()
        rc, out, err = self.secret("list", "--json")
        self.assertTrue(json.loads(out)[0]["locked"])
        rc, out, err = self.secret("check", "--config", p.config_path)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("locked", out)
        proc = self.serve(p, "--max-rounds", "1", env={"FAKE_PRINT": "MY_API_KEY"})
        ev = p.wait_event("waiting_for_secret", proc=proc)
        self.assertEqual(ev["name"], "MY_API_KEY")
        self.assertEqual(ev["source"], "keyring")
        self.assertNotIn("round_start", p.kinds())
        peek = self.bus.peek(NAME)
        self.assertEqual(peek["service"]["state"], "waiting_for_secret")
        self.assertEqual(peek["service"]["waiting_for_secret"], "MY_API_KEY")
        self.assertEqual(self.bus.get(NAME, "State"), "waiting_for_secret")
        rc, out, err = self.client("status", "--project", "work")
        self.assertIn("waiting_for_secret", out + err)
        self.unlock()
        p.wait_event("round_end", proc=proc)
        proc.communicate(timeout=ENDS_WITHIN)
        self.assertEqual(proc.returncode, 0)
        self.assertEqual(p.read(os.path.join(p.log_dir, "seen-R1-MY_API_KEY")),
                         "locked-away-value")

    def test_missing_secret_fails_startup_check(self):
        p = self.project()
        p.write_config(agent={"secrets": ["NOT_STORED_KEY"]})
        rc, out, err = self.secret("check", "--config", p.config_path)
        self.assertEqual(rc, 78, out + err)
        self.assertIn("agent-runner secret set NOT_STORED_KEY --project work", out)
        rc, out, err = p.run(env=self.env())
        self.assertEqual(rc, 78, err)
        self.assertIn("agent-runner secret set NOT_STORED_KEY --project work", err)
        ev = p.events("smoke_check_failed")[0]
        self.assertIn("secrets_available", ev["reason"])
        self.assertIn("agent-runner secret set NOT_STORED_KEY --project work", ev["reason"])
        self.assertEqual(p.transcripts(), [])


class RedactTest(KeyringCase):
    def crash_loop(self, p, env):
        """Serve until the crash-loop breaker stops it; return the
        Event signals seen on the bus and a Peek taken on the way."""
        mon = self.bus.monitor(NAME)
        proc = self.serve(p, env=dict(env, FAKE_SLEEP_FIRST="3"))
        # Round 1 lingers after printing: Peek and status see it running.
        p.wait_event("agent_spawn", proc=proc)
        deadline = time.monotonic() + ENDS_WITHIN
        while "Error" not in p.read(p.transcript(1)) and time.monotonic() < deadline:
            time.sleep(0.02)
        peek = self.bus.peek(NAME, log_tail=200)
        self.assertIn("<redacted>", json.dumps(peek["current_round"]["log_tail"]))
        rc, status, err = self.client("status", "--project", "work")
        proc.communicate(timeout=ENDS_WITHIN * 2)
        mon.terminate()
        signals = mon.communicate()[0].decode(errors="replace")
        return signals, json.dumps(peek, ensure_ascii=False) + status + err

    def test_env_credential_redacted_everywhere(self):
        p = self.project()
        value = "plain-env-credential-42"
        p.write_config(agent_env={"SERVICE_TOKEN": value, "LOG_LEVEL": "debug-verbose"})
        signals, served = self.crash_loop(p, {"FAKE_PRINT": "SERVICE_TOKEN LOG_LEVEL",
                                              "FAKE_EXIT": "1"})
        self.assertIn(value, p.read(p.transcript(1)))
        reason = p.events("crash_loop")[0]["reason"]
        self.assertIn("<redacted>", reason)
        # A name that does not look like a credential is left alone.
        self.assertIn("debug-verbose", reason)
        self.assertNoLeak([value], (("events", self.all_output(p)), ("signals", signals),
                                    ("peek/status", served)))

    def property_project(self):
        """1,000 random values (regex metacharacters, UTF-8, 4 to 4,096
        bytes, prefixes of each other) in credential-named [agent.env]
        entries of a project whose agent prints them in random places,
        across the 64 KiB line limit too, and fails."""
        rng = random.Random(int(os.environ.get("AR_SEED", "12")))
        pieces = list(".*+?()[]{}^$|\\") + ["é", "日本", "🚀", "\\1", "%s", "'", "`"]
        values = []
        while len(values) < 1000:
            if values and rng.random() < 0.2:
                base = rng.choice(values)
                v = base[:rng.randint(4, len(base))] + rng.choice(pieces)
            else:
                n = min(4096, int(2 ** rng.uniform(2, 12)))
                v = "".join(rng.choice(pieces) if rng.random() < 0.3 else
                            chr(rng.randint(65, 90)) for _ in range(n))
            while len(v.encode()) > 4096:
                v = v[:-1]
            if len(v.encode()) >= 4 and v not in values:
                values.append(v)
        p = self.project()
        p.write_config(agent={
            "command": [sys.executable, "-c", PROPERTY_AGENT, str(rng.randint(0, 1 << 30))]})
        # TOML basic strings take UTF-8 as is (json's \\ud83d surrogates not).
        with open(p.config_path, "a", encoding="utf-8") as f:
            f.write("[agent.env]\n")
            for i, v in enumerate(values):
                f.write(f"SECRET_{i} = {json.dumps(v, ensure_ascii=False)}\n")
        return p, values

    def assertNoLeak(self, values, sinks):
        leaks = []
        for where, text in sinks:
            for i, v in enumerate(values):
                # As is, and as JSON escapes it (ASCII-only or UTF-8).
                forms = (v, json.dumps(v)[1:-1], json.dumps(v, ensure_ascii=False)[1:-1])
                if any(f in text for f in forms):
                    leaks.append((where, i, v[:40]))
        self.assertEqual(leaks, [])

    def test_property_1000_values(self):
        """None of the values shows in events, signals, Peek (log_tail),
        status or crash_loop.reason."""
        p, values = self.property_project()
        signals, served = self.crash_loop(p, {})
        self.assertTrue(p.events("crash_loop"))
        self.assertIn(values[0], p.read(p.transcript(1)))
        self.assertNoLeak(values, (("events", self.all_output(p)), ("signals", signals),
                                   ("peek/status", served)))

    def test_property_journal(self):
        """The same in a private journald (every field of every entry)."""
        if not can_unshare():
            sys.exit(77)
        p, values = self.property_project()
        env = dict(os.environ, DAEMON=DAEMON, CONFIG=p.config_path)
        env.update(self.env())
        out = run_with_journald(JOURNAL_SCRIPT, env, timeout=ENDS_WITHIN * 2)
        self.assertEqual(out.returncode, 0, out.stderr.decode())
        journal = out.stdout.decode(errors="replace")
        self.assertIn("AGENT_RUNNER_EVENT=crash_loop", journal)
        self.assertIn("<redacted>", journal)
        self.assertNoLeak(values, (("journal", journal),))

    def test_modes_tightened(self):
        p = self.project("succeed")
        os.makedirs(os.path.join(p.log_dir, "rounds"))
        os.chmod(p.log_dir, 0o755)
        old = os.path.join(p.log_dir, "rounds", "R0-19700101T000000.log")
        with open(old, "w") as f:
            f.write("old transcript\n")
        os.chmod(old, 0o644)
        rc, out, err = p.run("--once", env=self.env())
        self.assertEqual(rc, 0, err)
        ev = p.events("log_permissions_tightened")[0]
        self.assertEqual(ev["files"], 1)
        self.assertEqual(ev["dirs"], 2)  # log_dir and rounds/
        self.assertEqual(stat.S_IMODE(os.stat(p.log_dir).st_mode), 0o700)
        self.assertEqual(stat.S_IMODE(os.stat(old).st_mode), 0o600)
        for name in os.listdir(p.log_dir):
            path = os.path.join(p.log_dir, name)
            if os.path.isfile(path) and not os.path.islink(path):
                self.assertEqual(stat.S_IMODE(os.stat(path).st_mode) & 0o077, 0, name)


# A private journald in a mount namespace (real-components.md §3); the
# daemon serves until the crash-loop breaker stops it; the whole journal
# of the project comes out in export format (every field).
JOURNAL_SCRIPT = r"""
"$DAEMON" --config "$CONFIG" >/dev/null 2>&1 || true
journalctl --sync
journalctl -o export --no-pager AGENT_RUNNER_PROJECT=work
"""

# The property test's agent: prints every SECRET_n value of its environment
# at a random place in random noise, some inside one line longer than the
# daemon's 64 KiB line buffer (a value straddling the cut), then fails.
PROPERTY_AGENT = r"""
import os, random, sys
rng = random.Random(int(sys.argv[1]) + int(os.environ["AGENT_RUNNER_ROUND_NUM"]))
vals = [v for k, v in os.environ.items() if k.startswith("SECRET_")]
rng.shuffle(vals)
out = sys.stdout
noise = lambda: "".join(rng.choice("abc xyz=:;\"'{}") for _ in range(rng.randint(0, 80)))
for v in vals[:300]:
    out.write(noise() + v + noise() + ("\n" if rng.random() < 0.5 else ""))
long = vals[300]
pad = "L" * (65536 - len(long.encode()) // 2)
out.write("\n" + pad + long + "tail\n")
for v in vals[301:]:
    out.write(noise() + v + "\n")
out.write("Error: giving up\n")
out.flush()
sys.stderr.write("fatal: " + vals[-1] + "\n")
sys.stderr.flush()
if os.environ["AGENT_RUNNER_ROUND_NUM"] == "1":
    import time
    time.sleep(float(os.environ.get("FAKE_SLEEP_FIRST", "0")))
sys.exit(1)
"""


if __name__ == "__main__":
    unittest.main(verbosity=2)

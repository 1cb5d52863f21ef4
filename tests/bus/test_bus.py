# SPDX-License-Identifier: Apache-2.0
"""The D-Bus service of agent-runnerd on a private bus: name, methods,
properties, signals, the XML contract and the Peek schema."""

import json
import os
import re
import subprocess
import time
import unittest
import xml.etree.ElementTree as ET

from bustest import (ENDS_WITHIN, IFACE, PATH, SOURCE_ROOT, BusTestCase, Project, bus_name,
                     pid_alive)

NAME = "org.agentrunner.Runner1.work"


def interface_shape(xml_text):
    """Methods, properties and signals of org.agentrunner.Runner1, as
    comparable data: names, argument names/types/directions, property
    types/access and their EmitsChangedSignal annotation."""
    root = ET.fromstring(xml_text)
    iface = root if root.tag == "interface" else root.find(f"interface[@name='{IFACE}']")
    assert iface is not None, "interface missing"

    def args(el, default_dir):
        return [(a.get("name"), a.get("type"), a.get("direction", default_dir))
                for a in el.findall("arg")]

    def emits(el):
        for a in el.findall("annotation"):
            if a.get("name") == "org.freedesktop.DBus.Property.EmitsChangedSignal":
                return a.get("value")
        return "true"

    return {
        "methods": {m.get("name"): args(m, "in") for m in iface.findall("method")},
        "properties": {p.get("name"): (p.get("type"), p.get("access"), emits(p))
                       for p in iface.findall("property")},
        "signals": {s.get("name"): args(s, "out") for s in iface.findall("signal")},
    }


class ServiceTest(BusTestCase):
    def test_name_properties_and_stop(self):
        p = self.project(agent_env={"FAKE_SLEEP": "600"})
        proc = self.serve(p)
        self.assertEqual(self.bus.get(NAME, "Project"), "work")
        self.assertEqual(self.bus.get(NAME, "ConfigPath"), p.config_path)
        self.assertEqual(self.bus.get(NAME, "LogDir"), p.log_dir)
        p.wait_event("agent_spawn", proc=proc)
        self.assertEqual(self.bus.get(NAME, "State"), "running")
        self.assertEqual(self.bus.get(NAME, "RoundNum"), 1)
        self.assertTrue(pid_alive(self.bus.get(NAME, "AgentPid")))
        self.assertGreater(self.bus.get(NAME, "RoundStartedAt"), 0)
        _, err = self.bus.call(NAME, "Stop", "s", "sideways", check=False)
        self.assertIn("graceful", err)
        _, err = self.bus.call(NAME, "Stop", "s", "now")
        self.assertIsNone(err)
        rc, err = self.wait_exit(proc)
        self.assertEqual(rc, 0, err)
        self.bus.wait_name(NAME, present=False)
        self.assertEqual(p.events("round_end")[0]["outcome"], "cancelled")

    def test_cancel_keeps_serving_and_errors_are_named(self):
        p = self.project(agent_env={"FAKE_SLEEP": "600"})
        proc = self.serve(p)
        p.wait_event("agent_spawn", proc=proc)
        _, err = self.bus.call(NAME, "Cancel")
        self.assertIsNone(err)
        p.wait_event("round_start", count=2, proc=proc)
        self.assertEqual(p.events("round_end")[0]["outcome"], "cancelled")
        # The named errors of the contract.
        r = self.bus.busctl("call", NAME, PATH, IFACE, "Upgrade", "sa{sv}", "1.0", "0",
                            check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("absolute path", r.stderr.decode())
        r = self.bus.busctl("call", NAME, PATH, IFACE, "Peek", "a{sv}", "1", "bogus", "u", "1",
                            check=False)
        self.assertIn("unknown option", r.stderr.decode())
        # gdbus shows the error name itself.
        g = subprocess.run(["gdbus", "call", "--address", self.bus.address, "--dest", NAME,
                            "--object-path", PATH, "--method", IFACE + ".Upgrade", "1.0", "{}"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=ENDS_WITHIN)
        self.assertIn("org.agentrunner.Error.InvalidArgs", g.stderr.decode())
        _, err = self.bus.call(NAME, "Reload")
        self.assertIsNone(err)
        _, err = self.bus.call(NAME, "Serve", "a{sv}", 1, "max_rounds", "u", 3)
        self.assertIsNone(err)
        _, err = self.bus.call(NAME, "Stop", "s", "graceful")
        self.assertIsNone(err)
        # A graceful stop waits for the round: end it.
        _, err = self.bus.call(NAME, "Cancel")
        rc, err = self.wait_exit(proc)
        self.assertEqual(rc, 0, err)

    def test_signals_and_properties_changed(self):
        p = self.project("succeed")
        mon = self.bus.monitor(NAME)
        self.addCleanup(lambda: (mon.kill(), mon.wait()))
        # The monitor is live before the daemon starts, so every signal is
        # seen; waiting for the name here would race a daemon that owns it,
        # runs both rounds and leaves before the name is first looked up.
        proc = p.start("--max-rounds", "2", env=self.env())
        rc, err = self.wait_exit(proc)
        self.assertEqual(rc, 0, err)
        seen = []
        deadline = time.monotonic() + ENDS_WITHIN
        while time.monotonic() < deadline:
            line = mon.stdout.readline()
            if not line:
                break
            m = json.loads(line)
            if m.get("type") != "signal":
                continue
            seen.append((m.get("member"), m.get("payload", {}).get("data")))
            if m.get("member") == "Event" and m["payload"]["data"][0] == "serve_stopping":
                break
        members = [s[0] for s in seen]
        self.assertIn("RoundStarted", members)
        self.assertIn("PropertiesChanged", members)
        finished = [d for mbr, d in seen if mbr == "RoundFinished"]
        self.assertEqual([d[0] for d in finished], [1, 2])
        self.assertEqual(finished[0][1], "ok")
        self.assertEqual(finished[0][2], 0)
        events = [d for mbr, d in seen if mbr == "Event"]
        kinds = [e[0] for e in events]
        self.assertEqual(kinds, [e["event"] for e in p.events()][:len(kinds)])
        # The Event payload is the events file's line.
        first = json.loads(events[0][1])
        self.assertEqual(first, p.events()[0])

    def test_graceful_stop_lets_the_round_finish(self):
        p = self.project(agent_env={"FAKE_SLEEP": "2"})
        proc = self.serve(p)
        p.wait_event("agent_spawn", proc=proc)
        _, err = self.bus.call(NAME, "Stop", "s", "graceful")
        self.assertIsNone(err)
        self.assertEqual(self.bus.get(NAME, "State"), "stopping")
        rc, err = self.wait_exit(proc)
        self.assertEqual(rc, 0, err)
        ends = p.events("round_end")
        self.assertEqual([(e["round_num"], e["outcome"], e["exit_code"]) for e in ends],
                         [(1, "ok", 0)])

    def test_reload_applies_next_round_and_rejects_broken(self):
        p = self.project(agent_env={"FAKE_SLEEP": "0"}, restart_delay_s=600)
        proc = self.serve(p)
        p.wait_event("round_end", proc=proc)
        good = open(p.config_path).read()
        with open(p.config_path, "w") as f:
            f.write(good + "\n[runtime.bogus]\n")
        _, err = self.bus.call(NAME, "Reload", check=False)
        self.assertIn("agent-runner.toml", err)
        self.assertIn("unknown key", err)
        self.assertEqual(len(p.events("config_reload_failed")), 1)
        self.assertIn(self.bus.get(NAME, "State"), ("waiting", "running"))
        # The old config still serves; a fixed file with a shorter delay
        # re-times the wait in progress and applies to the next round.
        with open(p.config_path, "w") as f:
            f.write(good.replace("restart_delay_s = 600", "restart_delay_s = 0"))
        _, err = self.bus.call(NAME, "Reload")
        self.assertIsNone(err)
        p.wait_event("round_start", count=2, proc=proc)
        self.bus.call(NAME, "Stop", "s", "now")
        rc, err = self.wait_exit(proc)
        self.assertEqual(rc, 0, err)

    def test_name_taken_exits_75(self):
        a = self.project()
        b = self.project()
        proc = self.serve(a)
        rc, _, err = b.run(env=self.env())
        self.assertEqual(rc, 75, err)
        self.assertIn("already owned", err)
        self.stop_daemon(proc)

    def test_escaped_names(self):
        for project, expected in (("my_app.v2", "org.agentrunner.Runner1.my_5fapp_2ev2"),
                                  ("2048", "org.agentrunner.Runner1._32048")):
            self.assertEqual(bus_name(project), expected)
            p = Project("sleep")
            self.addCleanup(p.cleanup)
            work = os.path.join(p.dir, project)
            os.rename(p.work, work)
            p.work, p.log_dir = work, os.path.join(work, "logs")
            p.config_path = os.path.join(work, "agent-runner.toml")
            p.write_config()
            proc = self.serve(p, name=expected)
            self.assertEqual(self.bus.get(expected, "Project"), project)
            self.stop_daemon(proc, name=expected)

    def test_no_user_bus_runs_without_it(self):
        p = self.project("succeed")
        rc, _, err = p.run("--once", env={"DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent/bus",
                                          "XDG_RUNTIME_DIR": "/nonexistent"})
        self.assertEqual(rc, 0, err)
        self.assertIn("running without the bus", err)
        self.assertEqual(len(p.events("round_end")), 1)


class ContractTest(BusTestCase):
    def test_introspection_matches_xml(self):
        p = self.project()
        proc = self.serve(p)
        live = self.bus.busctl("introspect", "--xml-interface", NAME, PATH).stdout.decode()
        with open(os.path.join(SOURCE_ROOT, "data", "dbus", "org.agentrunner.Runner1.xml")) as f:
            contract = f.read()
        self.assertEqual(interface_shape(live), interface_shape(contract))
        self.stop_daemon(proc)


def documented_keys():
    """The top-level keys and JSON types of docs/peek.md's table."""
    keys = {}
    with open(os.path.join(SOURCE_ROOT, "docs", "peek.md")) as f:
        in_top = False
        for line in f:
            if line.startswith("## "):
                in_top = line.strip() == "## Top level"
            m = re.match(r"\|\s*`([a-z_]+)`\s*\|\s*([a-z |]+?)\s*\|", line)
            if in_top and m:
                keys[m.group(1)] = [t.strip() for t in m.group(2).split("|")] \
                    if "|" in m.group(2) else m.group(2).split(" or ")
    return keys


JSON_TYPES = {"string": str, "object": dict, "array": list, "null": type(None),
              "integer": int, "number": (int, float), "boolean": bool}


class PeekTest(BusTestCase):
    def test_schema_matches_docs(self):
        p = self.project(agent_env={"FAKE_SLEEP": "600"})
        proc = self.serve(p)
        p.wait_event("agent_spawn", proc=proc)
        doc = self.bus.peek(log_tail=5, events=3)
        keys = documented_keys()
        self.assertGreaterEqual(len(keys), 11, keys)
        for key, types in keys.items():
            self.assertIn(key, doc)
            allowed = tuple(JSON_TYPES[t.strip()] for t in types)
            self.assertIsInstance(doc[key], allowed, f"{key}: {doc[key]!r} not {types}")
        self.assertEqual(doc["schema_version"], "2.0")
        self.assertEqual(doc["service"]["mode"], "user")
        self.assertEqual(doc["service"]["state"], "running")
        cur = doc["current_round"]
        self.assertEqual(cur["round_num"], 1)
        self.assertTrue(pid_alive(cur["agent_pid"]))
        self.assertTrue(cur["log_path"].startswith(os.path.join(p.log_dir, "rounds", "R1-")))
        self.assertIn("sleeping 600s", cur["log_tail"])
        self.assertEqual(len(doc["recent_events"]), 3)
        self.assertEqual(doc["recent_events"][-1], p.events()[-1])
        names = [d["name"] for d in doc["defenses"]]
        for n in ("round_timeout_s", "crash_loop_breaker", "process_group_isolation",
                  "single_supervisor_lock", "startup_smoke_check", "atomic_state_writes",
                  "secret_redaction"):
            self.assertIn(n, names)
        for d in doc["defenses"]:
            self.assertEqual(set(d), {"name", "value", "prevents", "state"})
        for k in ("mem_total_mb", "mem_available_mb", "disk_used_pct", "disk_free_gb",
                  "load_1m", "load_5m", "load_15m"):
            self.assertIn(k, doc["system"])
        # Without options: no tail, no events.
        doc = self.bus.peek()
        self.assertIsNone(doc["current_round"]["log_tail"])
        self.assertEqual(doc["recent_events"], [])
        self.stop_daemon(proc)

    def test_last_rounds_and_ring_buffer(self):
        p = self.project("succeed", restart_delay_s=600)
        proc = self.serve(p)
        p.wait_event("round_end", proc=proc)
        deadline = time.monotonic() + ENDS_WITHIN
        while self.bus.get(NAME, "State") != "waiting" and time.monotonic() < deadline:
            time.sleep(0.02)
        doc = self.bus.peek(events=500)
        self.assertIsNone(doc["current_round"])
        last = doc["last_rounds"][0]
        self.assertEqual(last["round_num"], 1)
        self.assertEqual(last["exit_code"], 0)
        for k in ("phase", "outcome", "duration_s", "ended_at"):
            self.assertIn(k, last)
        self.assertEqual(doc["recent_events"], p.events())
        self.assertEqual(self.bus.get(NAME, "LastExitCode"), 0)
        self.assertEqual(self.bus.get(NAME, "LastOutcome"), last["outcome"])
        # A finished round by number, with its transcript tail.
        doc = self.bus.peek(round=1, log_tail=10)
        self.assertEqual(doc["current_round"]["round_num"], 1)
        self.assertIn("done", doc["current_round"]["log_tail"])
        self.stop_daemon(proc)


if __name__ == "__main__":
    unittest.main(verbosity=2)

# SPDX-License-Identifier: Apache-2.0
"""-H/--host and fleet list against a real sshd on 127.0.0.1 (see
real-components.md §7 and §11): test users with their own user bus at
/run/user/UID/bus (a real dbus-daemon run as the user), the real
agent-runnerd as each user, and the real client as root reaching them over
ssh. Needs root (users, sshd); exit 77 otherwise."""

import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "daemon"))
from daemontest import BUILD_ROOT, DAEMON, ENDS_WITHIN, Project, wait_for  # noqa: E402

CLIENT = os.path.join(BUILD_ROOT, "src", "client", "agent-runner")
# Users of this test process alone: two suites run at once (a CI clone and a
# working tree) must not share users, their ~/.ssh or their /run/user/UID.
_TAG = "%x" % (os.getpid() & 0xfffff)
USERS = [f"arrem{i}{_TAG}" for i in (1, 2, 3)]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Fleet:
    """sshd, the users, their buses and daemons; every process stopped at the end."""

    def __init__(self, aliases=0):
        """aliases: that many more names (a01, a02, ...) for the first user."""
        self.dir = tempfile.mkdtemp(prefix="ar-remote-")
        os.chmod(self.dir, 0o755)
        self.procs = []
        self.projects = {}
        self.port = free_port()
        self.users = []
        for u in USERS:
            try:
                pwd.getpwnam(u)
            except KeyError:
                subprocess.run(["useradd", "-m", "-s", "/bin/sh", u], check=True)
                self.users.append(u)
            # useradd locks the account; sshd without PAM refuses locked ones.
            subprocess.run(["usermod", "-p", "*", u], check=True)
        d = self.dir
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", d + "/host", "-C",
                        "host"], check=True)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", d + "/client", "-C",
                        "client"], check=True)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", d + "/stranger",
                        "-C", "stranger"], check=True)
        match = ""
        for u in USERS:
            pw = pwd.getpwnam(u)
            ssh_dir = os.path.join(pw.pw_dir, ".ssh")
            os.makedirs(ssh_dir, exist_ok=True)
            shutil.copy(d + "/client.pub", ssh_dir + "/authorized_keys")
            for p in (ssh_dir, ssh_dir + "/authorized_keys"):
                os.chown(p, pw.pw_uid, pw.pw_gid)
            os.chmod(ssh_dir, 0o700)
            os.chmod(ssh_dir + "/authorized_keys", 0o600)
            # What pam_systemd sets in a real login.
            match += f"Match User {u}\n  SetEnv XDG_RUNTIME_DIR=/run/user/{pw.pw_uid}\n"
        with open(d + "/sshd_config", "w") as f:
            f.write(f"""Port {self.port}
ListenAddress 127.0.0.1
HostKey {d}/host
PidFile {d}/sshd.pid
AuthorizedKeysFile .ssh/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin no
MaxStartups 100
AllowUsers {" ".join(USERS)}
{match}""")
        os.makedirs("/run/sshd", exist_ok=True)
        self.start_sshd()
        with open(d + "/known_hosts", "w") as f:
            with open(d + "/host.pub") as pub:
                f.write(f"[127.0.0.1]:{self.port} " + pub.read())
        common = f"""  IdentitiesOnly yes
  UserKnownHostsFile {d}/known_hosts
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  BatchMode yes
  ConnectTimeout 10
"""
        with open(d + "/ssh_config", "w") as f:
            for i, u in enumerate(USERS, 1):
                f.write(f"Host h{i}\n  HostName 127.0.0.1\n  Port {self.port}\n  User {u}\n"
                        f"  IdentityFile {d}/client\n" + common)
            f.write(f"Host refused\n  HostName 127.0.0.1\n  Port {self.port}\n  User {USERS[0]}\n"
                    f"  IdentityFile {d}/stranger\n" + common)
            f.write(f"Host down\n  HostName 127.0.0.1\n  Port {free_port()}\n" + common)
            for i in range(1, aliases + 1):
                f.write(f"Host a{i:02d}\n  HostName 127.0.0.1\n  Port {self.port}\n"
                        f"  User {USERS[0]}\n  IdentityFile {d}/client\n" + common)
            f.write(f"Host 127.0.0.1\n  IdentityFile {d}/client\n" + common)
        # Like $SYSTEMD_SSH: the test's ssh config without touching ~root/.ssh.
        self.ssh = d + "/ssh"
        with open(self.ssh, "w") as f:
            f.write(f"#!/bin/sh\nexec ssh -F {d}/ssh_config \"$@\"\n")
        os.chmod(self.ssh, 0o755)

    def start_sshd(self):
        with open(self.dir + "/sshd.log", "a") as log:
            self.sshd = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f",
                                          self.dir + "/sshd_config"], stderr=log)
        self.procs.append(self.sshd)

        def listening():
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", self.port)) == 0
        wait_for(listening, "sshd")

    def user_bus(self, user, servicedir=None):
        """USER's bus; with servicedir, it activates the services there
        (Exec=, as a bus without systemd activation does)."""
        pw = pwd.getpwnam(user)
        run = f"/run/user/{pw.pw_uid}"
        os.makedirs(run, exist_ok=True)
        os.chown(run, pw.pw_uid, pw.pw_gid)
        os.chmod(run, 0o700)
        if os.path.exists(run + "/bus"):
            os.unlink(run + "/bus")
        args, env = ["--session"], None
        if servicedir:
            conf = os.path.join(self.dir, user + "-bus.conf")
            with open(conf, "w") as c:
                c.write(f"""<busconfig><type>session</type><listen>unix:path={run}/bus</listen>
<servicedir>{servicedir}</servicedir>
<policy context="default"><allow send_destination="*" eavesdrop="true"/>
<allow eavesdrop="true"/><allow own="*"/></policy></busconfig>""")
            args = ["--config-file=" + conf]
            env = dict(os.environ, HOME=pw.pw_dir, USER=user, XDG_RUNTIME_DIR=run)
        else:
            args.append("--address=unix:path=" + run + "/bus")
        p = subprocess.Popen(["dbus-daemon", *args, "--nofork"], env=env,
                             user=pw.pw_uid, group=pw.pw_gid, stderr=subprocess.DEVNULL)
        self.procs.append(p)
        wait_for(lambda: os.path.exists(run + "/bus"), user + "'s bus")
        return "unix:path=" + run + "/bus"

    def serve(self, user, servicedir=None):
        """A project under agent-runnerd as USER on USER's bus."""
        pw = pwd.getpwnam(user)
        address = self.user_bus(user, servicedir)
        proj = Project("sleep")  # project "work" (its work tree's name)
        for root, dirs, files in os.walk(proj.dir):
            for n in [root] + [os.path.join(root, x) for x in dirs + files]:
                os.chown(n, pw.pw_uid, pw.pw_gid)
        env = proj.env({"DBUS_SESSION_BUS_ADDRESS": address, "HOME": pw.pw_dir,
                        "XDG_RUNTIME_DIR": f"/run/user/{pw.pw_uid}", "USER": user})
        p = subprocess.Popen([DAEMON, "--config", proj.config_path, "--no-journal"], env=env,
                             cwd=proj.dir, user=pw.pw_uid, group=pw.pw_gid,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        proj.procs.append(p)
        self.projects[user] = proj
        return proj

    def client(self, *args, timeout=ENDS_WITHIN):
        env = dict(os.environ, AGENT_RUNNER_SSH=self.ssh, NO_COLOR="1")
        p = subprocess.run([CLIENT, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           stdin=subprocess.DEVNULL, env=env, timeout=timeout)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def stop(self):
        for proj in self.projects.values():
            proj.cleanup()
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=ENDS_WITHIN)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        for u in USERS:
            shutil.rmtree(os.path.join(pwd.getpwnam(u).pw_dir, ".ssh"), ignore_errors=True)
        for u in self.users:
            uid = pwd.getpwnam(u).pw_uid
            # Anything the user still runs would keep userdel from removing it.
            subprocess.run(["pkill", "-KILL", "-U", str(uid)], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            subprocess.run(["userdel", "-r", u], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            shutil.rmtree(f"/run/user/{uid}", ignore_errors=True)
        shutil.rmtree(self.dir, ignore_errors=True)


class RemoteTest(unittest.TestCase):
    def setUp(self):
        if os.geteuid() != 0 or not shutil.which("sshd", path="/usr/sbin") or \
                not shutil.which("systemd-stdio-bridge"):
            raise unittest.SkipTest("needs root, sshd and systemd-stdio-bridge")
        self.fleet = Fleet()
        self.addCleanup(self.fleet.stop)

    def running(self, host, project):
        rc, out, _ = self.fleet.client("-H", host, "--project", project, "peek", "--json")
        return rc == 0 and json.loads(out)["service"]["state"] == "running"

    def test_verbs_over_ssh_as_another_user(self):
        f = self.fleet
        f.serve(USERS[0])
        spec = f"{USERS[0]}@127.0.0.1:{f.port}"
        wait_for(lambda: self.running(spec, "work"), "work running")
        # The only project on the host: no --project needed.
        rc, out, err = f.client("-H", spec, "status")
        self.assertEqual(rc, 0, err)
        self.assertIn("work", out)
        rc, out, err = f.client("--host=" + spec, "peek", "--select", "service.state")
        self.assertEqual((rc, out.strip()), (0, "running"), err)
        # A project the host does not run: exit 3, with the host named.
        rc, _, err = f.client("-H", spec, "--project", "nope", "status")
        self.assertEqual(rc, 3)
        self.assertIn(spec, err)
        # Verbs that need this host's files say so.
        for verb in ("install", "doctor", "config", "orphans"):
            rc, _, err = f.client("-H", spec, verb)
            self.assertEqual(rc, 2, verb)
            self.assertIn("-H/--host", err)
        rc, _, err = f.client("-H", spec, "events")
        self.assertEqual(rc, 2)
        self.assertIn("--follow", err)
        # events -f over ssh sees the stop it causes.
        env = dict(os.environ, AGENT_RUNNER_SSH=f.ssh, NO_COLOR="1")
        out_path = os.path.join(f.dir, "events.out")
        with open(out_path, "w") as out_file:
            follower = subprocess.Popen([CLIENT, "-H", "h1", "events", "-f", "--json"],
                                        stdout=out_file, stderr=subprocess.PIPE,
                                        stdin=subprocess.DEVNULL, env=env)

        def events_seen():
            with open(out_path) as o:
                return [json.loads(line)["event"] for line in o.read().splitlines() if line]
        try:
            time.sleep(1)  # lets it subscribe (over ssh); no timing is asserted
            rc, _, err = f.client("-H", "h1", "stop", "--now")
            self.assertEqual(rc, 0, err)
            wait_for(lambda: "round_end" in events_seen(), "round_end over ssh")
            follower.send_signal(signal.SIGINT)
            _, ferr = follower.communicate(timeout=ENDS_WITHIN)
            self.assertEqual(follower.returncode, 0, ferr)
        finally:
            if follower.poll() is None:
                follower.kill()
                follower.wait()
            follower.stderr.close()
        rc, _, err = f.client("-H", "h1", "--project", "work", "start")
        self.assertEqual(rc, 3)
        self.assertIn("ssh h1 agent-runner start", err)

    def test_watch_over_ssh(self):
        """-H HOST watch redraws the remote project's state every --interval
        over the one ssh connection, and ends on SIGINT with 0."""
        f = self.fleet
        f.serve(USERS[0])
        wait_for(lambda: self.running("h1", "work"), "work running")
        env = dict(os.environ, AGENT_RUNNER_SSH=f.ssh, NO_COLOR="1")
        w = subprocess.Popen([CLIENT, "-H", "h1", "watch", "--interval", "1"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             stdin=subprocess.DEVNULL, env=env)
        self.addCleanup(lambda: w.poll() is None and (w.kill(), w.wait()))
        os.set_blocking(w.stdout.fileno(), False)
        out = b""
        deadline = time.monotonic() + ENDS_WITHIN
        while out.count(b"work  running") < 2 and time.monotonic() < deadline and \
                w.poll() is None:
            time.sleep(0.05)
            out += w.stdout.read() or b""
        # Each redraw is the remote daemon's state (its user bus, its pid).
        self.assertGreaterEqual(out.count(b"work  running"), 2, (out, w.poll()))
        self.assertGreaterEqual(out.count(b"user bus"), 2, out)
        w.send_signal(signal.SIGINT)
        _, err = w.communicate(timeout=ENDS_WITHIN)
        self.assertEqual(w.returncode, 0, err)
        # --json: one document per redraw, the remote daemon's state.
        w = subprocess.Popen([CLIENT, "-H", "h1", "--json", "watch", "--interval", "1"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             stdin=subprocess.DEVNULL, env=env)
        self.addCleanup(lambda: w.poll() is None and (w.kill(), w.wait()))
        lines = [w.stdout.readline(), w.stdout.readline()]
        w.send_signal(signal.SIGINT)
        _, err = w.communicate(timeout=ENDS_WITHIN)
        self.assertEqual(w.returncode, 0, err)
        for line in lines:
            self.assertEqual(json.loads(line)["service"]["state"], "running", line)

    def test_start_activates_an_installed_project(self):
        """-H HOST start of a stopped project that has a D-Bus activation
        file on the host (what agent-runner install writes): the bus starts
        it. Without one, the ssh hint."""
        f = self.fleet
        user = USERS[0]
        pw = pwd.getpwnam(user)
        proj = Project("sleep")
        self.addCleanup(proj.cleanup)
        services = os.path.join(proj.dir, "services")
        os.makedirs(services)
        with open(os.path.join(services, "org.agentrunner.Runner1.work.service"), "w") as sf:
            sf.write("[D-BUS Service]\nName=org.agentrunner.Runner1.work\n"
                     f"Exec={DAEMON} --config {proj.config_path} --no-journal\n"
                     "SystemdService=agent-runner@work.service\n")
        for root, dirs, files in os.walk(proj.dir):
            for n in [root] + [os.path.join(root, x) for x in dirs + files]:
                os.chown(n, pw.pw_uid, pw.pw_gid)
        f.user_bus(user, servicedir=services)
        rc, _, err = f.client("-H", "h1", "--project", "work", "start")
        self.assertEqual(rc, 0, err)
        self.assertIn("D-Bus activation on h1", err)
        self.assertTrue(self.running("h1", "work"))
        rc, _, err = f.client("-H", "h1", "--project", "work", "stop", "--now")
        self.assertEqual(rc, 0, err)
        wait_for(lambda: not self.running("h1", "work"), "work stopped")
        # Not installed: the hint stays.
        rc, _, err = f.client("-H", "h1", "--project", "other", "start")
        self.assertEqual(rc, 3)
        self.assertIn("ssh h1 agent-runner start --project other", err)

    def test_fleet_list_with_rows_for_every_failure(self):
        f = self.fleet
        f.serve(USERS[0])
        f.serve(USERS[1])
        wait_for(lambda: self.running("h1", "work") and self.running("h2", "work"), "both")
        # A host that accepts TCP and never speaks: only the timeout ends it.
        mute = socket.socket()
        mute.bind(("127.0.0.1", 0))
        mute.listen(1)
        self.addCleanup(mute.close)
        mute_spec = f"127.0.0.1:{mute.getsockname()[1]}"
        with open(f.dir + "/ssh_config", "a") as cfg:
            cfg.write(f"Host mute\n  HostName 127.0.0.1\n  Port {mute.getsockname()[1]}\n")
        started = time.monotonic()
        rc, out, err = f.client("list", "-H", "h1", "-H", "h2", "-H", "down", "-H", "refused",
                                "-H", "h3", "-H", "mute", "--timeout", "5", "--json")
        took = time.monotonic() - started
        self.assertEqual(rc, 1, err)
        # The documented bound (docs/design.md, Fleet): all hosts share one
        # deadline, nobody waits longer than --timeout. The slack covers the
        # client's start, killing the mute host's ssh and printing; a list
        # that waited per host in turn (or for ConnectTimeout 10) exceeds it.
        self.assertLess(took, 5 + 4, f"list took {took:.1f}s with --timeout 5")
        rows = json.loads(out)
        by_host = {}
        for r in rows:
            by_host.setdefault(r["host"], []).append(r)
        self.assertEqual([(r["project"], r["state"]) for r in by_host["h1"]], [("work", "running")])
        self.assertEqual([(r["project"], r["state"]) for r in by_host["h2"]], [("work", "running")])
        self.assertEqual(by_host["h1"][0]["alerts"], [])
        # The monitor's alerts as the daemon recorded them (MonitorAlert, as
        # the monitor calls it): the ALERTS column shows those not resolved.
        pw = pwd.getpwnam(USERS[1])

        def alert(detector, transition):
            subprocess.run(["busctl", f"--address=unix:path=/run/user/{pw.pw_uid}/bus", "call",
                            "org.agentrunner.Runner1.work", "/org/agentrunner/Runner1",
                            "org.agentrunner.Runner1", "MonitorAlert", "sssss", detector,
                            "warning", transition, "test", ""],
                           check=True, user=pw.pw_uid, group=pw.pw_gid, stdout=subprocess.DEVNULL)
        alert("no_progress", "emitted")
        alert("hung", "emitted")
        alert("hung", "resolved")
        rc, out, err = f.client("list", "-H", "h1", "-H", "h2", "--json")
        self.assertEqual(rc, 0, err)
        self.assertEqual({r["host"]: r["alerts"] for r in json.loads(out)},
                         {"h1": [], "h2": ["no_progress"]})
        rc, out, err = f.client("list", "-H", "h1", "-H", "h2")
        self.assertIn("ALERTS", out.splitlines()[0])
        self.assertRegex(out, r"h2 .* no_progress")
        self.assertIn("Connection refused", by_host["down"][0]["error"])
        self.assertIn("Permission denied", by_host["refused"][0]["error"])
        self.assertIn("bus", by_host["h3"][0]["error"])  # no user bus there
        self.assertIn("no answer within 5s", by_host["mute"][0]["error"])
        del mute_spec
        # A host with a bus and no agent-runner: a note, not a failure.
        f.user_bus(USERS[2])
        rc, out, err = f.client("list", "-H", "h1", "-H", "h3")
        self.assertEqual(rc, 0, err)
        self.assertIn("work", out)
        self.assertIn("no agent-runner project on the host's user bus", out)
        # [fleet] hosts from the client config.
        cfg_home = os.path.join(f.dir, "xdg")
        os.makedirs(os.path.join(cfg_home, "agent-runner"))
        with open(os.path.join(cfg_home, "agent-runner", "client.toml"), "w") as c:
            c.write('[fleet]\nhosts = ["h1", "h2"]\n')
        env = dict(os.environ, AGENT_RUNNER_SSH=f.ssh, XDG_CONFIG_HOME=cfg_home)
        p = subprocess.run([CLIENT, "list", "--fleet", "--json"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=env, timeout=ENDS_WITHIN)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(sorted(r["project"] for r in json.loads(p.stdout)), ["work", "work"])
        with open(os.path.join(cfg_home, "agent-runner", "client.toml"), "w") as c:
            c.write('[fleet]\nhosts = ["h1"]\nhost = 1\n')
        p = subprocess.run([CLIENT, "list", "--fleet"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=env, timeout=ENDS_WITHIN)
        self.assertEqual(p.returncode, 78)
        self.assertIn("client.toml:3:1: unknown key [fleet] host", p.stderr.decode())


def main():
    """Root only (test users, sshd); 77 when everything skipped."""
    if os.geteuid() != 0:
        sys.exit(77)
    prog = unittest.main(argv=[sys.argv[0], *sys.argv[1:]], exit=False)
    r = prog.result
    if r.skipped and not r.failures and not r.errors and r.testsRun == len(r.skipped):
        sys.exit(77)
    sys.exit(0 if r.wasSuccessful() else 1)


if __name__ == "__main__":
    main()

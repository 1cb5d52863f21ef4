# SPDX-License-Identifier: Apache-2.0
"""What the tests that need root share (tests/bus, tests/secrets,
tests/monitor): a private systemd-journald in a mount namespace
(real-components.md §3), a private system bus with the shipped policy,
the real polkitd with a test rule, throwaway users. Each piece is stopped
or removed by the test's cleanups."""

import os
import shutil
import subprocess
import tempfile

from bustest import ENDS_WITHIN, SOURCE_ROOT, PrivateBus

POLKITD = "/usr/lib/polkit-1/polkitd"
ACTIONS_DIR = "/usr/share/polkit-1/actions"
RULES_DIR = "/etc/polkit-1/rules.d"


def can_unshare():
    return os.geteuid() == 0 and shutil.which("unshare") and \
        subprocess.run(["unshare", "--mount", "true"]).returncode == 0


def have_polkit():
    return os.geteuid() == 0 and os.path.exists(POLKITD) and shutil.which("useradd")


# A private journald (volatile, no rate limit) on tmpfs mounts of /run,
# killed when the script ends; the caller's script follows.
JOURNALD = r"""
set -eu
mount -t tmpfs tmpfs /run/systemd
mount -t tmpfs tmpfs /run/log
install -d -m 2755 -g systemd-journal /run/log/journal
printf '[Journal]\nStorage=volatile\nRateLimitIntervalSec=0\n' > /run/log/journald-test.conf
mount --bind /run/log/journald-test.conf /etc/systemd/journald.conf
SYSTEMD_LOG_TARGET=console /lib/systemd/systemd-journald >/dev/null 2>&1 &
JPID=$!
trap 'kill $JPID; wait $JPID 2>/dev/null || true' EXIT
for i in $(seq 1 3000); do [ -S /run/systemd/journal/socket ] && break; sleep 0.01; done
"""


def run_with_journald(script, env, timeout=ENDS_WITHIN):
    """bash script in a private mount namespace with its own journald
    (JOURNALD first); the CompletedProcess with stdout and stderr."""
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "bash", "-c",
                           JOURNALD + script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=env, timeout=timeout)


SYSTEM_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={dir}/system_bus_socket</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
  </policy>
  <includedir>/usr/share/dbus-1/system.d</includedir>
  <includedir>{dir}/policy.d</includedir>
</busconfig>
"""


def private_system_bus(test):
    """A dbus-daemon with a system bus configuration and the shipped policy
    of org.agentrunner.* (data/dbus)."""
    d = tempfile.mkdtemp(prefix="ar-sysbus-")
    os.chmod(d, 0o755)
    test.addCleanup(shutil.rmtree, d, True)
    os.makedirs(os.path.join(d, "policy.d"))
    shutil.copy(os.path.join(SOURCE_ROOT, "data", "dbus", "org.agentrunner.Runner1.conf"),
                os.path.join(d, "policy.d"))
    with open(os.path.join(d, "system.conf"), "w") as f:
        f.write(SYSTEM_CONF.format(dir=d))
    bus = PrivateBus(config=os.path.join(d, "system.conf"))
    test.addCleanup(bus.stop)
    return bus


def _run_quiet(*args):
    subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def add_users(test, prefix):
    """Two throwaway users, "yes" and "no" for a polkit rule; returns
    (yes, no, tag) where tag is unique to this test process."""
    tag = "%x" % (os.getpid() & 0xfffff)
    yes, no = f"{prefix}y{tag}", f"{prefix}n{tag}"
    for u in (yes, no):
        subprocess.run(["useradd", "-M", "-s", "/bin/sh", u], check=True)
        test.addCleanup(_run_quiet, "userdel", u)
    return yes, no, tag


def install_actions(test, tag):
    """The shipped polkit actions under a file name of this test's own:
    tests run in parallel and each polkitd reads the one actions folder, so
    a shared org.agentrunner.runner.policy that one test removes at its end
    would take the actions away from the others. Written whole (polkitd
    reloads the folder on every change)."""
    shipped = os.path.join(SOURCE_ROOT, "data", "polkit", "org.agentrunner.runner.policy")
    dst = os.path.join(ACTIONS_DIR, f"org.agentrunner.runner-test-{tag}.policy")
    tmp = os.path.join(ACTIONS_DIR, f".org.agentrunner.runner-test-{tag}.tmp")
    shutil.copy(shipped, tmp)
    os.chmod(tmp, 0o644)
    os.rename(tmp, dst)
    test.addCleanup(os.unlink, dst)


def install_rule(test, name, text):
    """A polkit rule file, written whole (polkitd watches the folder)."""
    rules = os.path.join(RULES_DIR, f"{name}.rules")
    tmp = os.path.join(RULES_DIR, f".{name}.tmp")
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.rename(tmp, rules)
    test.addCleanup(os.unlink, rules)


def start_polkitd(test, sysbus):
    env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=sysbus.address)
    pk = subprocess.Popen([POLKITD, "--no-debug"], env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    test.addCleanup(lambda: (pk.terminate(), pk.wait()))
    sysbus.wait_name("org.freedesktop.PolicyKit1")
    return env

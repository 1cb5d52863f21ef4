# SPDX-License-Identifier: Apache-2.0
# Sourced by the tests that run the build tree's units under a real
# systemd --user: a throwaway user (removed on exit) whose unit folder has
# the agent-runner@.service template pointed at the build tree.
# Usage: make_unit_user PREFIX   (sets U and H; needs BUILD and skip())

cleanup() { userdel -r "$U" >/dev/null 2>&1 || true; }

make_unit_user() {
  # The throwaway user must be able to reach the build tree.
  if ! runuser -u nobody -- test -x "$BUILD/src/daemon/agent-runnerd"; then
    skip "the build tree is not executable by other users"
  fi
  U=$1$$
  useradd -m -s /bin/bash "$U"
  usermod -aG systemd-journal "$U"
  H=$(getent passwd "$U" | cut -d: -f6)
  trap cleanup EXIT
  install -d -o "$U" -g "$U" "$H/.local" "$H/.local/share" "$H/.local/share/systemd" \
    "$H/.local/share/systemd/user"
  sed "s|^ExecStart=[^ ]*/agent-runnerd |ExecStart=$BUILD/src/daemon/agent-runnerd |" \
    "$BUILD/data/systemd/user/agent-runner@.service" \
    >"$H/.local/share/systemd/user/agent-runner@.service"
  chown -R "$U": "$H/.local"
}

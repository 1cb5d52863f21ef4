#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Usage (as root): scripts/build-test-rootfs.sh [DIR]
#
# A Debian bookworm rootfs (debootstrap --variant=minbase) that can boot
# under `systemd-nspawn -b` and run agent-runner's system mode: systemd as
# PID 1, the system bus, logind, polkitd, sudo and the runtime libraries of
# the build. Used by tests/units/test-system-nspawn.sh through
# scripts/nspawn-harness.sh; see docs/install.md "System mode test".
#
# DIR defaults to /var/cache/agent-runner-test-rootfs/rootfs. The rootfs is
# rebuilt only when the package list (or suite, mirror) changes: DIR.stamp
# holds the hash of those. Concurrent callers serialize on DIR.lock. The
# rootfs is never modified by the test (it is the read-only lower layer of
# an overlay), so one cached copy serves every run.
#
# Mirror: the first Debian URI of this machine's apt configuration
# (/etc/apt/sources.list.d/*.sources, /etc/apt/sources.list), else
# deb.debian.org; override with AR_ROOTFS_MIRROR.
#
# Exit codes: 0 ready (built or cached), 77 cannot be built here (not root,
# no debootstrap, mirror unreachable), 1 debootstrap failed.
set -eu
DIR=${1:-/var/cache/agent-runner-test-rootfs/rootfs}
SUITE=bookworm
# No git CLI: it pulls perl (~90 MB, a third of the build time); the
# daemon uses libgit2, and the test copies in a repository made on the host.
PKGS=(
  systemd systemd-sysv dbus libpam-systemd dbus-user-session polkitd sudo
  libglib2.0-0 libjson-glib-1.0-0 libgit2-1.5 libsecret-1-0 libsoup-3.0-0 libsystemd0
)
RECIPE=2 # bump when the steps below change
skip() { echo "build-test-rootfs: cannot build the rootfs: $*" >&2; exit 77; }

[ "$(id -u)" = 0 ] || skip "needs root"
command -v debootstrap >/dev/null || skip "debootstrap is not installed (apt-get install debootstrap)"

mirror() {
  [ -n "${AR_ROOTFS_MIRROR:-}" ] && { echo "$AR_ROOTFS_MIRROR"; return; }
  local m
  m=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
    awk '/^URIs:/ {for (i = 2; i <= NF; i++) print $i}' | grep -v -- '-security' | grep -i debian | head -1)
  [ -n "$m" ] || m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    awk '$1 == "deb" {for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; break}}' |
    grep -v -- '-security' | grep -i debian | head -1)
  echo "${m:-http://deb.debian.org/debian}"
}
MIRROR=$(mirror)
HASH=$(printf '%s\n' "$RECIPE" "$SUITE" "$MIRROR" "${PKGS[@]}" | sha256sum | cut -d' ' -f1)

mkdir -p "$(dirname "$DIR")"
exec 9>"$DIR.lock"
flock 9
if [ -f "$DIR.stamp" ] && [ "$(cat "$DIR.stamp")" = "$HASH" ] && [ -x "$DIR/lib/systemd/systemd" ]; then
  echo "build-test-rootfs: cached $DIR"
  exit 0
fi

# Reachable at all? (debootstrap itself would retry for a long time)
if command -v curl >/dev/null; then
  curl -fsS -m 15 -o /dev/null "$MIRROR/dists/$SUITE/Release" ||
    skip "mirror $MIRROR is not reachable"
elif command -v wget >/dev/null; then
  wget -q -T 15 -O /dev/null "$MIRROR/dists/$SUITE/Release" || skip "mirror $MIRROR is not reachable"
fi

echo "build-test-rootfs: debootstrap $SUITE from $MIRROR into $DIR (once; ~1.5-3 min)"
t0=$(date +%s)
TMP=$DIR.new
rm -rf "$TMP" "$DIR.old"
# dpkg without fsync (what sbuild/mmdebstrap do): the tree is disposable
mkdir -p "$TMP/etc/dpkg/dpkg.cfg.d"
echo force-unsafe-io >"$TMP/etc/dpkg/dpkg.cfg.d/zz-ar-test-unsafe-io"
if ! debootstrap --variant=minbase --include="$(IFS=,; echo "${PKGS[*]}")" \
  "$SUITE" "$TMP" "$MIRROR" >"$DIR.log" 2>&1; then
  tail -20 "$DIR.log" >&2
  grep -qiE 'Failed getting release file|Couldn.t download|Temporary failure|Could not resolve' "$DIR.log" &&
    { rm -rf "$TMP"; skip "mirror $MIRROR is not reachable"; }
  rm -rf "$TMP"
  echo "build-test-rootfs: debootstrap failed (log: $DIR.log)" >&2
  exit 1
fi
# Boot faster and quieter: no getty on the container console, nothing that
# waits for a network, a fixed hostname; apt caches are not needed.
rm -f "$TMP/etc/dpkg/dpkg.cfg.d/zz-ar-test-unsafe-io" "$TMP"/etc/systemd/system/getty.target.wants/* \
  "$TMP"/etc/systemd/system/multi-user.target.wants/apt-daily* \
  "$TMP"/etc/systemd/system/timers.target.wants/*
echo ar-nspawn-test >"$TMP/etc/hostname"
rm -rf "$TMP"/var/cache/apt/archives/*.deb "$TMP"/var/lib/apt/lists/*
[ -e "$DIR" ] && mv "$DIR" "$DIR.old"
mv "$TMP" "$DIR"
rm -rf "$DIR.old"
echo "$HASH" >"$DIR.stamp"
echo "build-test-rootfs: built $DIR in $(($(date +%s) - t0)) s ($(du -sm "$DIR" | cut -f1) MB)"

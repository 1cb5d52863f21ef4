#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Install every build and test dependency of agent-runner on Debian 12, then
# configure and build into ./build. Idempotent: safe to rerun.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(
  # build
  build-essential pkg-config meson ninja-build gettext clang clang-format
  libsystemd-dev libglib2.0-dev libjson-glib-dev libgit2-dev libsecret-1-dev
  libsoup-3.0-dev libpolkit-gobject-1-dev libdbus-1-dev bash-completion dbus
  libcmark-dev
  # tests: real components, never mocks
  git dbus-daemon dbus-user-session polkitd pkexec systemd systemd-container
  gnome-keyring libsecret-tools openssh-server openssh-client python3
  jq util-linux procps libglib2.0-bin libclang-rt-14-dev libxml2-utils iproute2 binutils
  debootstrap passwd strace
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static
  xvfb dunst libnotify-bin
  chromium-headless-shell python3-websocket zsh fish
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

werror=false
[ "${CI:-}" = "true" ] && werror=true
if [ -d build ]; then
  meson configure build -Dwerror=$werror >/dev/null
else
  meson setup build -Dwerror=$werror
fi
meson compile -C build

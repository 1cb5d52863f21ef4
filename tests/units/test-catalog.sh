#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The journal message catalog (generated from the event table) as
# journalctl reads it: every kind has an entry, each with Documentation:.
set -u
fail() { echo "FAIL: $*"; exit 1; }
command -v journalctl >/dev/null || { echo "no journalctl"; exit 77; }
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
mkdir -p "$T/usr/lib/systemd/catalog" "$T/var/lib/systemd/catalog"
cp "${AR_SOURCE_ROOT:?}/data/catalog/agent-runner.catalog" "$T/usr/lib/systemd/catalog/"
journalctl --root="$T" --update-catalog || fail "journalctl cannot read the catalog"
n=$(grep -c '^-- ' "$AR_SOURCE_ROOT/data/catalog/agent-runner.catalog")
listed=$(journalctl --root="$T" --list-catalog | grep -c .)
[ "$listed" = "$n" ] || fail "journalctl lists $listed entries, the file has $n"
docs=$(journalctl --root="$T" --dump-catalog | grep -c '^Documentation: man:agent-runnerd(8)')
[ "$docs" = "$n" ] || fail "$docs of $n entries have Documentation:"
echo "ok: $n catalog entries"

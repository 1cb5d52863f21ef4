#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The generated bash completion (data/completion, from the client's verb
# and option tables) run the way bash runs it: COMP_WORDS/COMP_CWORD set,
# the function called, COMPREPLY read.
set -u
SCRIPT=${AR_BUILD_ROOT:?}/data/completion/agent-runner
AR=$AR_BUILD_ROOT/src/client/agent-runner
fail() { echo "FAIL: $*"; exit 1; }
[ -f "$SCRIPT" ] || fail "no generated script at $SCRIPT"
# shellcheck disable=SC1090
. "$SCRIPT"
complete -p agent-runner >/dev/null || fail "no 'complete' registration"

T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
# An installed project (what install leaves: the config link) for --project.
mkdir -p "$T/config/agent-runner/projects"
ln -s /nonexistent/agent-runner.toml "$T/config/agent-runner/projects/work.toml"
export XDG_CONFIG_HOME=$T/config
# no bus: only the installed projects
export DBUS_SESSION_BUS_ADDRESS=unix:path=$T/nobus

complete_line() { # complete_line WORD... : completes the last word
  COMP_WORDS=("$AR" "$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); COMPREPLY=()
  _agent_runner
  printf '%s\n' "${COMPREPLY[@]}" | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//'
}
expect() { # expect 'WANT' WORD...
  local want=$1; shift
  local got; got=$(complete_line "$@")
  [ "$got" = "$want" ] || fail "agent-runner $* <TAB>: got '$got', want '$want'"
}
expect_has() { # expect_has ITEM WORD...
  local item=$1; shift
  complete_line "$@" | tr ' ' '\n' | grep -qxF -- "$item" || fail "agent-runner $* <TAB>: no '$item' in '$(complete_line "$@")'"
}

expect 'start status stop' st
expect 'help' he
expect_has --now stop --
expect_has --project stop --
expect_has --json status --
expect 'claude codewhale codex custom' init --preset c
expect 'round_stalled round_start round_substrate_after round_substrate_before' events --kind round_s
expect 'round_end,agent_exit round_end,agent_network_blip round_end,agent_self_terminated round_end,agent_spawn round_end,agent_usage_recorded' events --kind round_end,age
expect 'work' --project w
expect 'work' status --project w
expect 'stop' help sto
expect 'show' orphans sh
expect 'check' config c
expect 'latest' peek --round l
# a global option's value is not the verb
expect_has --now --config x.toml stop --
expect_has --all list -
# options with a value complete nothing else (not the verbs)
expect '' start --max-rounds ''
echo "ok: bash completion"

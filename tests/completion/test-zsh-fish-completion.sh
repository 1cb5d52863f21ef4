#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The generated zsh and fish completions parse, and fish completes from
# them (zsh's completion system needs a terminal: its script is only
# parsed). 77 when neither shell is installed.
set -u
B=${AR_BUILD_ROOT:?}/data/completion
fail() { echo "FAIL: $*"; exit 1; }
ran=0
if command -v zsh >/dev/null; then
  zsh -n "$B/_agent-runner" || fail "zsh cannot parse _agent-runner"
  ran=1
fi
if command -v fish >/dev/null; then
  fish -n "$B/agent-runner.fish" || fail "fish cannot parse agent-runner.fish"
  got=$(fish -c "source $B/agent-runner.fish; complete -C'agent-runner st'" | cut -f1 | tr '\n' ' ')
  [ "$got" = "start status stop " ] || fail "fish: agent-runner st<TAB>: '$got'"
  fish -c "source $B/agent-runner.fish; complete -C'agent-runner stop --'" | cut -f1 | grep -qx -- --now \
    || fail "fish: stop --<TAB> lacks --now"
  fish -c "source $B/agent-runner.fish; complete -C'agent-runner events --kind round_e'" | cut -f1 \
    | grep -qx round_end || fail "fish: --kind round_e<TAB> lacks round_end"
  ran=1
fi
[ $ran = 1 ] || { echo "neither zsh nor fish installed"; exit 77; }
echo "ok: zsh/fish completion"

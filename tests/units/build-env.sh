# SPDX-License-Identifier: Apache-2.0
# Sourced by the units tests: the build tree's helpers as meson devenv sets
# them (the installed binaries carry no build path), as " VAR=value" words
# to append to HARNESS_ENV.
build_env() {
  out=""
  for v in AGENT_RUNNER_VCS_HELPER AGENT_RUNNER_DAEMON AGENT_RUNNER_MONITOR AGENT_RUNNER_PRESETS_DIR \
    AGENT_RUNNER_TEMPLATES_DIR; do
    eval "val=\${$v:-}"
    [ -z "$val" ] || out="$out $v=$val"
  done
  printf '%s' "$out"
}

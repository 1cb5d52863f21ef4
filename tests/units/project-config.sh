# SPDX-License-Identifier: Apache-2.0
# Sourced by the units tests: the agent-runner.toml of a test project.
# project_config AGENT_PATH [extra toml] prints it on stdout.
project_config() {
  cat <<EOC
[agent]
command = ["$1"]
prompt_arg_template = []
prompt_delivery = "stdin"
${2:-}
[runtime]
work_dir = "."
log_dir = "logs"
round_timeout_s = 300
restart_delay_s = 0
[prompt]
file = "prompt.md"
EOC
}

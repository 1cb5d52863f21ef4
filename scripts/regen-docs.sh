#!/bin/sh
# Regenerate the files generated from tables in the code, then commit them.
# Usage: scripts/regen-docs.sh [BUILD_DIR]   (default: build)
# The drift tests (events-docs-drift, ...) fail until this has been run.
# Add one line per generated file (and its generator to the compile line).
set -eu
cd "$(dirname "$0")/.."
B=${1:-build}
meson compile -C "$B" ar-gen-docs src/client/agent-runner-vcs agent-runner-monitor >/dev/null

"$B"/src/common/ar-gen-docs events-md > docs/events.md
"$B"/src/common/ar-gen-docs catalog > data/catalog/agent-runner.catalog
"$B"/src/common/ar-gen-docs config-md > docs/configuration.md
"$B"/src/common/ar-gen-docs config-man > docs/agent-runner.toml.5
"$B"/src/common/ar-gen-docs daemon-man > docs/agent-runnerd.8
# The client's man page: its VERBS section from the verb and option tables
# (agent-runner-vcs is the full client; the thin one would exec the
# installed one).
LC_ALL=C.UTF-8 LANGUAGE=C "$B"/src/client/agent-runner-vcs __complete man docs/agent-runner.1.in > docs/agent-runner.1
# docs/monitor.md's detector table, from src/monitor/arm-detectors.c
python3 - "$B"/src/monitor/agent-runner-monitor docs/monitor.md <<'PY'
import re, subprocess, sys
md = subprocess.run([sys.argv[1], "--detectors-md"], check=True, stdout=subprocess.PIPE).stdout.decode()
path = sys.argv[2]
text = open(path).read()
head, rest = text.split("(scripts/regen-docs.sh) -->\n", 1)
_, tail = rest.split("<!-- end generated -->", 1)
open(path, "w").write(head + "(scripts/regen-docs.sh) -->\n" + md + "<!-- end generated -->" + tail)
PY

#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Test hook: records its JSON input and environment in $HOOK_DIR, then
answers as its stage expects (an enricher's object, a dirty handler that
does not claim)."""
import json
import os
import sys

doc = json.load(sys.stdin)
kind = doc["hook_kind"]
env = {k: v for k, v in os.environ.items() if k.startswith("AGENT_RUNNER_")}
with open(os.path.join(os.environ["HOOK_DIR"], f"{kind}.{doc['round_num']}.json"), "w") as f:
    json.dump({"input": doc, "env": env, "cwd": os.getcwd()}, f)
if kind == "context_enricher":
    print(json.dumps({"note": "from the enricher", "round": doc["round_num"]}))
elif kind == "dirty_handler":
    print(json.dumps({"claimed": False}))

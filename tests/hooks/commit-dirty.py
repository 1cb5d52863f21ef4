#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Test dirty handler: commits the dirty files itself and claims the tree."""
import json
import subprocess
import sys

doc = json.load(sys.stdin)
wd = doc["work_dir"]
files = doc["dirty_files"]
subprocess.run(["git", "-C", wd, "add", "--", *files], check=True)
subprocess.run(["git", "-C", wd, "-c", "user.name=Hook", "-c", "user.email=hook@example.com",
                "commit", "-q", "-m", f"hook commit R{doc['round_num']}"], check=True)
print(json.dumps({"claimed": True, "outcome": "committed"}))

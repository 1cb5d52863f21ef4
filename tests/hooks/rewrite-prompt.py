#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Test pre-round hook: appends a line to the prompt file it is given."""
import json
import sys

doc = json.load(sys.stdin)
with open(doc["prompt_path"], "a") as f:
    f.write(f"\nRewritten before round {doc['round_num']}.\n")

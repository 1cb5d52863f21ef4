#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Run toml-test's cases against our decoder.

usage: run-toml-test.py DECODER VERSION [--lenient]

VERSION is 1.0.0 or 1.1.0: the cases listed in tests/files-toml-VERSION under
$AR_SHARED_DIR/toml-test run against DECODER (with --toml=1.1 for 1.1.0).
valid/*.toml must decode to JSON equal to the .json next to it, compared the
way toml-test does (types exact, numbers as numbers, datetimes normalised);
invalid/*.toml must be rejected. Fails unless everything passes, or never
with --lenient. Exits 77 (skip) when the toml-test data is absent.
"""

import concurrent.futures
import datetime
import json
import math
import os
import re
import subprocess
import sys

SKIP = 77


def norm_datetime(kind, text):
    m = re.fullmatch(
        r"(?:(\d{4})-(\d{2})-(\d{2}))?[Tt ]?"
        r"(?:(\d{2}):(\d{2})(?::(\d{2}))?(?:\.(\d+))?)?"
        r"([Zz]|[+-]\d{2}:\d{2})?",
        text,
    )
    if not m:
        return (kind, text)
    y, mo, d, h, mi, s, frac, off = m.groups()
    frac = (frac or "").rstrip("0")
    if kind != "datetime":
        return (kind, y, mo, d, h, mi, s or "00", frac)
    # Offset date-times are instants: 17:45+01:00 equals 16:45Z.
    if off in ("Z", "z"):
        delta = datetime.timedelta(0)
    else:
        sign = -1 if off[0] == "-" else 1
        delta = sign * datetime.timedelta(hours=int(off[1:3]), minutes=int(off[4:6]))
    sec = int(s or "0")
    # Python has no leap second; keep it aside so 23:59:60 still compares.
    leap = sec == 60
    t = datetime.datetime(int(y), int(mo), int(d), int(h), int(mi), 59 if leap else sec)
    t -= delta
    return (kind, t.isoformat(), leap, frac)


def is_leaf(v):
    return (
        isinstance(v, dict)
        and set(v.keys()) == {"type", "value"}
        and isinstance(v["type"], str)
        and isinstance(v["value"], str)
    )


def leaf_equal(want, got):
    if want["type"] != got["type"]:
        return False
    t, a, b = want["type"], want["value"], got["value"]
    if t == "integer":
        return int(a) == int(b)
    if t == "float":
        fa, fb = float(a), float(b)
        if math.isnan(fa) or math.isnan(fb):
            return math.isnan(fa) and math.isnan(fb)
        return fa == fb
    if t in ("datetime", "datetime-local", "date-local", "time-local"):
        return norm_datetime(t, a) == norm_datetime(t, b)
    return a == b


def diff(want, got, path="$"):
    """First difference as text, or None."""
    if is_leaf(want):
        if not is_leaf(got):
            return f"{path}: want {want}, got {json.dumps(got)[:200]}"
        return None if leaf_equal(want, got) else f"{path}: want {want}, got {got}"
    if isinstance(want, dict):
        if not isinstance(got, dict) or is_leaf(got):
            return f"{path}: want a table, got {json.dumps(got)[:200]}"
        if set(want) != set(got):
            return f"{path}: keys differ: want {sorted(want)}, got {sorted(got)}"
        for k in want:
            d = diff(want[k], got[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(want, list):
        if not isinstance(got, list) or len(want) != len(got):
            return f"{path}: want {json.dumps(want)[:200]}, got {json.dumps(got)[:200]}"
        for i, (w, g) in enumerate(zip(want, got)):
            d = diff(w, g, f"{path}[{i}]")
            if d:
                return d
        return None
    return f"{path}: unexpected expected-value {want!r}"


def run_case(decoder, flags, root, case):
    with open(os.path.join(root, case), "rb") as f:
        data = f.read()
    proc = subprocess.run(
        [decoder, *flags], input=data, capture_output=True, timeout=600
    )
    err = proc.stderr.decode("utf-8", "replace").strip()
    for marker in ("runtime error:", "AddressSanitizer", "LeakSanitizer"):
        if marker in err:
            return f"sanitizer report:\n{err[:2000]}"
    if case.startswith("invalid/"):
        if proc.returncode == 0:
            return f"accepted invalid input:\n{proc.stdout.decode('utf-8', 'replace')[:300]}"
        if proc.returncode != 1 or not err:
            return f"exit {proc.returncode} (want 1 and a message): {err[:300]}"
        return None
    if proc.returncode != 0:
        return f"rejected: {err}"
    with open(os.path.join(root, case[: -len(".toml")] + ".json"), encoding="utf-8") as f:
        want = json.load(f)
    try:
        got = json.loads(proc.stdout.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        return f"bad JSON output ({e}): {proc.stdout[:300]!r}"
    return diff(want, got)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    lenient = "--lenient" in sys.argv[1:]
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    decoder, version = args
    shared = os.environ.get("AR_SHARED_DIR", "")
    root = os.path.join(shared, "toml-test", "tests")
    listing = os.path.join(root, f"files-toml-{version}")
    if not shared or not os.path.isfile(listing):
        print(f"toml-test data not found at {root}: skipping")
        return SKIP

    with open(listing, encoding="utf-8") as f:
        cases = [l.strip() for l in f if l.strip().endswith(".toml")]
    flags = ["--toml=1.1"] if version.startswith("1.1") else []

    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 4) as pool:
        results = list(pool.map(lambda c: (c, run_case(decoder, flags, root, c)), cases))

    counts = {"valid": [0, 0], "invalid": [0, 0]}
    for case, problem in results:
        kind = case.split("/", 1)[0]
        counts[kind][1] += 1
        if problem is None:
            counts[kind][0] += 1
        else:
            print(f"FAIL {case}: {problem}")

    v, i = counts["valid"], counts["invalid"]
    print(f"toml {version}: valid {v[0]}/{v[1]}, invalid {i[0]}/{i[1]}")
    if lenient:
        return 0
    return 0 if v[0] == v[1] and i[0] == i[1] else 1


if __name__ == "__main__":
    sys.exit(main())

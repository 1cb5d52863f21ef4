#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Fail on a test that is written but never run.

C (tests/**/*.c):
  - a test_* function that no g_test_add*() call of its file names (a
    non-static one may be added from another file);
  - a test program (a file that calls g_test_init) that tests/meson.build
    does not name.
Python (tests/**/test_*.py):
  - a file that tests/meson.build does not name;
  - a test_* method of a class that tests/meson.build does not list (as
    'Class.test_x', or as 'test_x' in a list that meson runs as 'Class.' + case).

Usage: scripts/check-tests-registered.py   (from anywhere in the checkout)
"""
import os
import re
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
TESTS = os.path.join(ROOT, "tests")
SKIP_DIRS = {"fixtures"}


def strip_c_comments(text):
    return re.sub(r"/\*.*?\*/|//[^\n]*", " ", text, flags=re.S)


def test_files(suffix, prefix=""):
    for dirpath, dirnames, filenames in os.walk(TESTS):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        for name in sorted(filenames):
            if name.endswith(suffix) and name.startswith(prefix):
                yield os.path.join(dirpath, name)


def meson_text():
    texts = []
    for dirpath, dirnames, filenames in os.walk(TESTS):
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS]
        if "meson.build" in filenames:
            with open(os.path.join(dirpath, "meson.build")) as f:
                texts.append(f.read())
    return "\n".join(texts)


def quoted(meson):
    return set(re.findall(r"'([^'\n]*)'", meson))


def check_c(meson, strings, problems):
    added_anywhere = set()
    per_file = {}
    for path in test_files(".c"):
        with open(path, encoding="utf-8", errors="replace") as f:
            text = strip_c_comments(f.read())
        added = set()
        # Macros that wrap g_test_add*() (ADD(name, func)) add as it does.
        adders = ["g_test_add\\w*"] + re.findall(
            r"^#\s*define\s+(\w+)\([^)]*\)[^\n]*\bg_test_add", text, re.M)
        for call in re.finditer(r"\b(?:" + "|".join(adders) + r")\s*\(", text):
            # The call's arguments up to its closing parenthesis.
            depth, i = 1, call.end()
            while i < len(text) and depth:
                depth += {"(": 1, ")": -1}.get(text[i], 0)
                i += 1
            added |= set(re.findall(r"\b[A-Za-z_]\w*\b", text[call.end():i]))
        added_anywhere |= added
        per_file[path] = (text, added)
    for path, (text, added) in per_file.items():
        rel = os.path.relpath(path, ROOT)
        for m in re.finditer(r"^(static\s+)?(?:void|int|gboolean)\s*\n?\s*(test_\w+)\s*\(", text, re.M):
            name = m.group(2)
            known = added if m.group(1) else added_anywhere
            if name not in known:
                problems.append(f"{rel}: {name}() is defined but no g_test_add*() adds it")
        if re.search(r"\bg_test_init\s*\(", text) or re.search(r"\bclassify_test_init\s*\(", text):
            stem = os.path.splitext(os.path.basename(path))[0]
            sub = os.path.relpath(path, TESTS)
            if not {stem, stem + ".c", sub}.intersection(strings):
                problems.append(f"{rel}: a test program that tests/meson.build does not build and run")


def check_python(meson, strings, problems):
    for path in test_files(".py", "test_"):
        rel = os.path.relpath(path, ROOT)
        sub = os.path.relpath(path, TESTS)
        if sub not in strings and os.path.basename(path) not in strings:
            problems.append(f"{rel}: not named in tests/meson.build, so it never runs")
            continue
        with open(path, encoding="utf-8") as f:
            text = f.read()
        classes = re.split(r"^class\s+", text, flags=re.M)[1:]
        for chunk in classes:
            cls = re.match(r"\w+", chunk).group(0)
            for method in re.findall(r"^    def (test_\w+)\s*\(", chunk, re.M):
                full = f"{cls}.{method}"
                if full in strings:
                    continue
                if method in strings and re.search(r"'" + re.escape(cls) + r"\.'\s*\+", meson):
                    continue
                problems.append(f"{rel}: {full} is not listed in tests/meson.build, so it never runs")


def main():
    meson = meson_text()
    strings = quoted(meson)
    problems = []
    check_c(meson, strings, problems)
    check_python(meson, strings, problems)
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print(f"{len(problems)} test(s) written but not run: register them in tests/meson.build "
              "(or with g_test_add*)", file=sys.stderr)
        return 1
    print("every test case is registered")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The monitor's files call one way only (docs/design.md, Issue 10).

Each file of src/monitor has a layer and a rank inside it. A file may use a
name that another file defines (a function, or an ArmSink table) only when
that file is of its own layer with a lower rank, or of the model; the
inputs and the outputs never use each other; arm-main.c wires everything.
A new file must be given its place here, so the layering stays a decision.

Usage: monitor-layers.py SRC_MONITOR_DIR
"""
import pathlib
import re
import sys

# file: (layer, rank)
PLACES = {
    'arm-sinks.c': ('model', 0),
    'arm-detectors.c': ('model', 0),
    'arm-alerts.c': ('model', 1),
    'arm-project.c': ('model', 2),
    'arm-health.c': ('input', 0),
    'arm-bus.c': ('input', 1),
    'arm-remote.c': ('input', 2),
    'arm-glib-loop.c': ('output', 0),
    'arm-console.c': ('output', 0),
    'arm-notify.c': ('output', 0),
    'arm-hooks.c': ('output', 0),
    'arm-web-model.c': ('output', 0),
    'arm-web-settings.c': ('output', 0),
    'arm-http-conns.c': ('output', 0),
    'arm-http.c': ('output', 1),
    'arm-main.c': ('main', 0),
}

DEFINITION = re.compile(r'^(?:const ArmSink )?(arm_[a-z0-9_]+)(?:\(| =)', re.M)
NAME = re.compile(r'\barm_[a-z0-9_]+\b')
# Comments, string and character literals, left to right (a "/*" in a
# string opens no comment, a quote in a comment opens no string).
NOISE = re.compile(r'/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.S)


def code_of(path):
    return NOISE.sub(lambda m: '\n' * m.group(0).count('\n') or ' ', path.read_text())


def allowed(user, owner):
    (ul, ur), (ol, orank) = PLACES[user], PLACES[owner]
    if ul == 'main':
        return True
    if ol == 'model' and ul != 'model':
        return True
    return ul == ol and orank < ur


def main():
    src = pathlib.Path(sys.argv[1])
    files = sorted(p.name for p in src.glob('*.c'))
    unplaced = [f for f in files if f not in PLACES]
    if unplaced:
        print('no layer given to: ' + ', '.join(unplaced))
        return 1
    code = {f: code_of(src / f) for f in files}
    owner = {}
    for f in files:
        for name in DEFINITION.findall(code[f]):
            owner[name] = f
    if len(owner) < 40:
        print('found only %d definitions: the scanner is lost' % len(owner))
        return 1
    wrong = []
    for f in files:
        for name in sorted(set(NAME.findall(code[f]))):
            o = owner.get(name)
            if o and o != f and not allowed(f, o):
                wrong.append('%s (%s) uses %s of %s (%s)' % (f, PLACES[f][0], name, o, PLACES[o][0]))
    for w in wrong:
        print(w)
    if not wrong:
        print('%d files, %d names: every call goes down' % (len(files), len(owner)))
    return 1 if wrong else 0


if __name__ == '__main__':
    sys.exit(main())

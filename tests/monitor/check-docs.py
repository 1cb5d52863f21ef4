"""docs/monitor.md's detector table must be what the detector table in
src/monitor/arm-detectors.c prints (scripts/regen-docs.sh regenerates it)."""
import os
import subprocess
import sys

monitor, doc = sys.argv[1], sys.argv[2]
md = subprocess.run([monitor, "--detectors-md"], check=True, stdout=subprocess.PIPE).stdout.decode()
text = open(doc).read()
section = text.split("(scripts/regen-docs.sh) -->\n", 1)[1].split("<!-- end generated -->", 1)[0]
if section != md:
    print(f"{doc} is out of date: run scripts/regen-docs.sh", file=sys.stderr)
    sys.exit(1)

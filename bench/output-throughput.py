#!/usr/bin/env python3
"""Output throughput: an agent writes BYTES (default 1 GiB) without a
newline; prints the daemon's own CPU seconds per GiB (transcript write +
line scan), next to `cat` copying the same stream into a file in the same
directory (the kernel's page-cache cost, which no reader avoids).
Usage: output-throughput.py [BYTES]"""

import os
import resource
import subprocess
import sys

from benchlib import Project, cleanup, run_daemon

size = int(sys.argv[1]) if len(sys.argv) > 1 else 1 << 30
gib = size / (1 << 30)
p = Project("big-output", agent_env={"FAKE_BYTES": str(size)})
try:
    rc, daemon_cpu, ru = run_daemon(p, "--round")
    assert rc == 0, rc
    assert os.path.getsize(p.transcript(1)) == size
    ex = p.events("agent_exit")[0]
    os.unlink(p.transcript(1))
    # Baseline: the same bytes through cat into a file (cat's CPU only).
    out = os.path.join(p.dir, "cat.out")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    head = subprocess.Popen(["head", "-c", str(size), "/dev/zero"], stdout=subprocess.PIPE)
    head_cpu0 = before
    with open(out, "wb") as f:
        cat = subprocess.Popen(["cat"], stdin=head.stdout, stdout=f)
        head.stdout.close()
        _, _, cat_ru = os.wait4(cat.pid, 0)
    head.wait()
    cat_cpu = cat_ru.ru_utime + cat_ru.ru_stime
    print(f"output-throughput: {size} bytes, no newline")
    print(f"  daemon CPU  {daemon_cpu:.2f} s  = {daemon_cpu / gib:.2f} s/GiB "
          f"(user {ru.ru_utime - ex['cpu_user_s']:.2f}, sys {ru.ru_stime - ex['cpu_sys_s']:.2f}; "
          f"target < 0.5 s/GiB)")
    print(f"  max RSS     {ru.ru_maxrss} KiB (daemon and agent)")
    print(f"  cat > file  {cat_cpu:.2f} s  = {cat_cpu / gib:.2f} s/GiB (baseline, same disk)")
finally:
    cleanup(p)

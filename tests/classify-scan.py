#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Runs tests/classify-scan-driver.c on the classifier's literal sets.

  classify-scan.py ANCHORS_EXE native DRIVER_EXE
  classify-scan.py ANCHORS_EXE aarch64

native: the driver built by meson (AVX2 where the CPU has it, else skip).
aarch64: ar-classify-scan.c and the driver cross-compiled with
aarch64-linux-gnu-gcc and run under qemu-aarch64-static, which exercises
the NEON kernel (NEON is baseline on aarch64). Skips (77) when the cross
compiler or qemu is absent (scripts/setup.sh installs both). Timing under
qemu means nothing: this checks answers only."""

import os
import shutil
import subprocess
import sys
import tempfile

SKIP = 77
SRC = os.environ.get("AR_SOURCE_ROOT",
                     os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
BUILD = os.environ.get("AR_BUILD_ROOT", os.path.join(SRC, "build"))
CROSS_CC = "aarch64-linux-gnu-gcc"
CROSS_OBJDUMP = "aarch64-linux-gnu-objdump"
QEMU = "qemu-aarch64-static"
SYSROOT = "/usr/aarch64-linux-gnu"


def run(cmd, **kw):
    print("+", " ".join(cmd), flush=True)
    return subprocess.run(cmd, **kw)


def main():
    anchors_exe, mode = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory(prefix="ar-classify-scan-") as tmp:
        anchors = os.path.join(tmp, "anchors.txt")
        with open(anchors, "w") as f:
            subprocess.run([anchors_exe], stdout=f, check=True)
        if mode == "native":
            return run([sys.argv[3], anchors]).returncode
        cc, qemu = shutil.which(CROSS_CC), shutil.which(QEMU)
        objdump = shutil.which(CROSS_OBJDUMP)  # comes with the cross gcc
        if cc is None or qemu is None or objdump is None or not os.path.isdir(SYSROOT):
            print(f"SKIP: needs {CROSS_CC}, {CROSS_OBJDUMP}, {QEMU} and {SYSROOT} "
                  "(gcc-aarch64-linux-gnu, libc6-dev-arm64-cross, qemu-user-static)")
            return SKIP
        exe = os.path.join(tmp, "classify-scan-driver-aarch64")
        run([cc, "-std=gnu11", "-O2", "-g", "-Wall", "-Wextra", "-Werror",
             "-I", BUILD, "-I", os.path.join(SRC, "src", "common", "classify"),
             os.path.join(SRC, "tests", "classify-scan-driver.c"),
             os.path.join(SRC, "src", "common", "classify", "ar-classify-scan.c"),
             "-o", exe], check=True)
        # The NEON kernel must be what ran: the binary has tbl instructions.
        dis = subprocess.run([objdump, "-d", exe], check=True, stdout=subprocess.PIPE,
                             text=True).stdout
        if "\ttbl\t" not in dis:
            print("FAIL: no tbl instruction in the aarch64 build (no NEON path?)")
            return 1
        rc = run([qemu, "-L", SYSROOT, exe, anchors]).returncode
        if rc == SKIP:
            print("FAIL: the aarch64 build has no vector scan")
            return 1
        return rc


if __name__ == "__main__":
    sys.exit(main())

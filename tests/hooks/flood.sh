#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Test hook: prints 100 MB on stdout.
head -c 100000000 /dev/zero | tr '\0' x

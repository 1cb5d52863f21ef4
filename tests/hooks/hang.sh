#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Test hook: never ends (killed at [hooks] timeout_s).
exec sleep 600

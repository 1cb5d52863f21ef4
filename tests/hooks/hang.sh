#!/bin/sh
# Test hook: never ends (killed at [hooks] timeout_s).
exec sleep 600

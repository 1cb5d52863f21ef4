#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Test hook: leaves a setsid'ed daemon behind that holds stdout, writes its
# pid to $HOOK_DIR/escapee.pid, and exits 0 at once.
( setsid sleep 600 & echo $! > "$HOOK_DIR/escapee.pid.tmp"; mv "$HOOK_DIR/escapee.pid.tmp" "$HOOK_DIR/escapee.pid" )
echo '{}'
exit 0

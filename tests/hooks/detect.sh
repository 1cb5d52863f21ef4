#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Test detector hook: records its input in $HOOK_DIR/detector.json and
# answers the alert held in $HOOK_DIR/trip (a JSON object), or none.
cat > "$HOOK_DIR/detector.json.tmp"
mv "$HOOK_DIR/detector.json.tmp" "$HOOK_DIR/detector.json"
if [ -e "$HOOK_DIR/trip" ]; then
  printf '{"alerts": [%s]}\n' "$(cat "$HOOK_DIR/trip")"
else
  echo '{"alerts": []}'
fi

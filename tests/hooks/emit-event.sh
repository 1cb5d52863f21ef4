#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Test post-round hook: asks for two events, one of a declared kind and one
# of a kind the config does not declare.
cat > /dev/null
echo '{"events": [{"event": "notes_refreshed", "files": 3, "note": "token sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789"}, {"event": "undeclared_kind"}]}'

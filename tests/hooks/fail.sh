#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Test hook: complains on stderr and exits 3.
cat > /dev/null
echo "boom: the hook failed" >&2
exit 3

#!/bin/sh
# Test hook: complains on stderr and exits 3.
cat > /dev/null
echo "boom: the hook failed" >&2
exit 3

#!/usr/bin/env bash
# The Python CloudStack client `cs`, which tests/cloudstack_api.rs compares cloudstrap's request
# signing with. Installed from PyPI when missing (Debian's python3 needs --break-system-packages).
set -euo pipefail
if python3 -c 'import cs' 2>/dev/null; then exit 0; fi
python3 -m pip install --quiet 'cs==5.2.0' 2>/dev/null \
  || python3 -m pip install --quiet --break-system-packages 'cs==5.2.0'
python3 -c 'import cs'

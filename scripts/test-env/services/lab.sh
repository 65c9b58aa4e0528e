#!/usr/bin/env bash
# The lab needs qemu-img; installing qemu-system-x86 can remove a qemu-utils from backports on hosts that
# had one, so put the matching one back. Idempotent.
set -euo pipefail
command -v qemu-img >/dev/null && exit 0
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends qemu-utils >/dev/null

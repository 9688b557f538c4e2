#!/bin/bash
# Build revirt.ko (subprojects/revirt/linux) into build/revirt-module/,
# with W=1, against Debian's headers for the lab's L1 kernel (installed
# with apt-get if missing).  KVER picks another kernel version.
set -euo pipefail
cd "$(dirname "$0")/.."

KVER=${KVER:-6.1.0-57-amd64}
KDIR=/usr/src/linux-headers-$KVER
OUT=build/revirt-module

if [ ! -d "$KDIR" ]; then
    apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "linux-headers-$KVER" >/dev/null
fi

# Kbuild builds in the source folder: build a copy, so the tree stays clean.
rm -rf "$OUT"
mkdir -p "$OUT"
cp -r subprojects/revirt/linux "$OUT/src"
cp -r subprojects/revirt/include "$OUT/include"
sed -i 's|\$(src)/\.\./include|$(src)/../include|' "$OUT/src/Kbuild"
make -s -C "$KDIR" M="$PWD/$OUT/src" W=1 modules 2>&1 | tee "$OUT/build.log"
cp "$OUT/src/revirt.ko" "$OUT/revirt.ko"
if grep -q -i 'warning' "$OUT/build.log"; then
    echo "build-module: warnings, see $OUT/build.log" >&2
    exit 1
fi
echo "build-module: $OUT/revirt.ko for $KVER"

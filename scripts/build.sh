#!/bin/bash
# Build qemu-system-x86_64 with the revirt series into build/.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/config.sh

start=$(date +%s)
scripts/fetch-qemu.sh
scripts/prepare-tree.sh

# QEMU's configure takes the compiler from CC and does not add ccache
# itself; with the base directory, build-each-patch.sh's tree hits the
# same cache.
export CC="ccache cc" CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=1
mkdir -p build
# Configure once, and again whenever these options change.
configure_args="--target-list=x86_64-softmmu --without-default-features \
--enable-kvm --enable-tcg $REVIRT_CONFIGURE_EXTRA \
--firmwarepath=$REVIRT_FIRMWARE_PATH --disable-docs"
if [ ! -e build/build.ninja ] ||
   [ "$(cat build/revirt-configure-args.txt 2>/dev/null)" != "CC=$CC $configure_args" ]; then
    rm -f build/revirt-configure-args.txt
    (cd build && ../_qemu/tree/configure $configure_args) \
        > build/configure.log 2>&1 || {
        tail -n 30 build/configure.log >&2
        echo "build: configure failed, see build/configure.log" >&2
        exit 1
    }
    echo "CC=$CC $configure_args" > build/revirt-configure-args.txt
fi
ninja -C build $REVIRT_NINJA_TARGETS

# An uninstalled QEMU looks for firmware under build/qemu-bundle/<path>:
# point those at Debian's SeaBIOS, iPXE and QEMU data packages.
for dir in ${REVIRT_FIRMWARE_PATH//:/ }; do
    mkdir -p "build/qemu-bundle$(dirname "$dir")"
    ln -sfn "$dir" "build/qemu-bundle$dir"
done
cp _qemu/src/.revirt-version build/revirt-qemu-version.txt
echo "build: $(cat build/revirt-qemu-version.txt) with the revirt series in $(( $(date +%s) - start ))s"

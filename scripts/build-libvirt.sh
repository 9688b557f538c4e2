#!/bin/bash
# Build Debian 12's libvirt 9.0 with libvirt/patches/ minimally (the QEMU
# driver, libvirtd, virtlogd, virsh and the AppArmor helper; no other
# driver, no docs, no tests) and install it into _libvirt/prefix.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/config.sh

start=$(date +%s)
scripts/fetch-libvirt.sh
scripts/prepare-tree.sh libvirt

export CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=1
prefix=$PWD/$REVIRT_LIBVIRT_PREFIX
# Every optional feature off but what the QEMU driver and its daemons
# need; QEMU runs as root, as the tests do.
setup_args="--prefix=$prefix --libdir=lib -Dauto_features=disabled \
-Ddriver_qemu=enabled -Ddriver_libvirtd=enabled -Ddriver_remote=enabled \
-Dyajl=enabled -Dapparmor=enabled -Dsecdriver_apparmor=enabled \
-Drpath=enabled -Ddocs=disabled -Dtests=disabled -Dinit_script=none \
-Dqemu_user=root -Dqemu_group=root"
build=_libvirt/build
if [ ! -e "$build/build.ninja" ] ||
   [ "$(cat "$build/revirt-setup-args.txt" 2>/dev/null)" != "$setup_args" ]; then
    rm -rf "$build"
    mkdir -p "$build"
    # shellcheck disable=SC2086
    meson setup $setup_args "$build" _libvirt/tree > "$build/setup.log" 2>&1 || {
        tail -n 30 "$build/setup.log" >&2
        echo "build-libvirt: meson setup failed, see $build/setup.log" >&2
        exit 1
    }
    echo "$setup_args" > "$build/revirt-setup-args.txt"
fi
ninja -C "$build"
meson install -C "$build" --quiet > "$build/install.log" 2>&1 || {
    tail -n 30 "$build/install.log" >&2
    echo "build-libvirt: meson install failed, see $build/install.log" >&2
    exit 1
}
cp _libvirt/src/.revirt-version "$prefix/revirt-libvirt-version.txt"
echo "build-libvirt: $(cat _libvirt/src/.revirt-version) with libvirt/patches/ in $(( $(date +%s) - start ))s"

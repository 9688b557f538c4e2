#!/bin/bash
# scripts/prepare-tree.sh [qemu|libvirt]: make _qemu/tree (or _libvirt/tree)
# the pristine Debian source with patches/ (or libvirt/patches/) applied by
# "git am".  The tree is moved with "git checkout", so files the series does
# not change keep their timestamps and rebuilds stay incremental.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/config.sh

case ${1:-qemu} in
qemu) dir=_qemu patches=patches ;;
libvirt) dir=_libvirt patches=libvirt/patches ;;
*) echo "usage: $0 [qemu|libvirt]" >&2; exit 2 ;;
esac
project=${1:-qemu}

[ -e $dir/src/.revirt-version ] || scripts/fetch-$project.sh

if ! git -C $dir/tree rev-parse -q --verify "$REVIRT_BASE_TAG" >/dev/null 2>&1; then
    rm -rf $dir/tree
    cp -a $dir/src $dir/tree
    rm -f $dir/tree/.revirt-version
    revirt_git -C $dir/tree init -q
    revirt_git -C $dir/tree add -A -f
    revirt_git -C $dir/tree commit -q -m "$(cat $dir/src/.revirt-version)"
    revirt_git -C $dir/tree tag "$REVIRT_BASE_TAG"
fi

rm -rf $dir/am
revirt_git clone -q --shared --no-checkout $dir/tree $dir/am
revirt_git -C $dir/am checkout -q --detach "$REVIRT_BASE_TAG"
if ls $patches/*.patch >/dev/null 2>&1; then
    if ! revirt_git -C $dir/am am -q "$PWD"/$patches/*.patch; then
        echo "prepare-tree: $patches/ does not apply to $(cat $dir/src/.revirt-version)" >&2
        exit 1
    fi
fi
revirt_git -C $dir/tree fetch -q ../am HEAD
revirt_git -C $dir/tree checkout -q -f --detach FETCH_HEAD
rm -rf $dir/am

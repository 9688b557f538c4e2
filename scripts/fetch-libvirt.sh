#!/bin/bash
# Fetch Debian 12's patched libvirt 9.0 source into _libvirt/src and install
# what building and testing it needs.  Safe to run again: it skips work
# already done.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/config.sh

# The deb-src entry and the QEMU build's packages come first.
scripts/fetch-qemu.sh

stamp=_libvirt/.packages-installed
if [ ! -e "$stamp" ] || [ "$(cat "$stamp")" != "$REVIRT_LIBVIRT_APT_PACKAGES" ]; then
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        $REVIRT_LIBVIRT_APT_PACKAGES >/dev/null
    mkdir -p _libvirt
    echo "$REVIRT_LIBVIRT_APT_PACKAGES" > "$stamp"
fi

if [ -e _libvirt/src/.revirt-version ]; then
    exit 0
fi
rm -rf _libvirt/dl _libvirt/src
mkdir -p _libvirt/dl
(cd _libvirt/dl &&
 apt-get source -qq "libvirt${REVIRT_LIBVIRT_DEB_VERSION:+=$REVIRT_LIBVIRT_DEB_VERSION}" >/dev/null)
dir=$(find _libvirt/dl -mindepth 1 -maxdepth 1 -type d -name 'libvirt-*' | head -n 1)
if [ -z "$dir" ] || [ ! -f "$dir/meson.build" ]; then
    echo "fetch-libvirt: apt-get source libvirt gave no libvirt tree" >&2
    exit 1
fi
# The version is the one in meson.build's project() call.
version=$(sed -n "s/^ *version: '\([0-9.]*\)',$/\1/p" "$dir/meson.build" | head -n 1)
case "$version" in
9.0.*) ;;
*)
    echo "fetch-libvirt: source is libvirt $version, revirt needs libvirt 9.0" >&2
    exit 1
    ;;
esac
debver=$(dpkg-parsechangelog -l "$dir/debian/changelog" -S Version)
mv "$dir" _libvirt/src
echo "libvirt $version (Debian $debver)" > _libvirt/src/.revirt-version
rm -rf _libvirt/dl
echo "fetch-libvirt: $(cat _libvirt/src/.revirt-version)"

#!/bin/bash
# Fetch Debian 12's patched QEMU 7.2 source into _qemu/src and install what
# building and testing it needs.  Safe to run again: it skips work already done.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/config.sh

if [ "$(id -u)" != 0 ]; then
    echo "fetch-qemu: run as root (it installs Debian packages)" >&2
    exit 1
fi

if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ &&
   ! grep -qs '^deb-src' /etc/apt/sources.list; then
    cat > /etc/apt/sources.list.d/revirt-src.sources <<SRC
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi

stamp=_qemu/.packages-installed
if [ ! -e "$stamp" ] || [ "$(cat "$stamp")" != "$REVIRT_APT_PACKAGES" ]; then
    apt-get update -qq
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        $REVIRT_APT_PACKAGES >/dev/null
    mkdir -p _qemu
    echo "$REVIRT_APT_PACKAGES" > "$stamp"
fi

if [ -e _qemu/src/.revirt-version ]; then
    exit 0
fi
rm -rf _qemu/dl _qemu/src
mkdir -p _qemu/dl
(cd _qemu/dl && apt-get source -qq "qemu${REVIRT_QEMU_DEB_VERSION:+=$REVIRT_QEMU_DEB_VERSION}" >/dev/null)
dir=$(find _qemu/dl -mindepth 1 -maxdepth 1 -type d -name 'qemu-*' | head -n 1)
if [ -z "$dir" ] || [ ! -f "$dir/VERSION" ]; then
    echo "fetch-qemu: apt-get source qemu gave no QEMU tree" >&2
    exit 1
fi
version=$(cat "$dir/VERSION")
case "$version" in
7.2.*) ;;
*)
    echo "fetch-qemu: source is QEMU $version, revirt needs QEMU 7.2" >&2
    exit 1
    ;;
esac
debver=$(dpkg-parsechangelog -l "$dir/debian/changelog" -S Version)
mv "$dir" _qemu/src
echo "qemu $version (Debian $debver)" > _qemu/src/.revirt-version
rm -rf _qemu/dl
echo "fetch-qemu: $(cat _qemu/src/.revirt-version)"

#!/bin/sh
# Usage: scripts/m32_criterion.sh DIR
#
# Criterion for the -m32 test build. Debian's libcriterion3:i386 cannot be installed beside the amd64 one (its
# dependencies' i386 versions lag the amd64 ones from the security archive, and Multi-Arch: same packages must
# match), so the 32-bit suite links a private copy instead: the i386 runtime libraries of libcriterion3 and of
# everything it depends on (but libc, which gcc-multilib brings), downloaded with apt-get and unpacked into
# DIR/root, never installed. Run once; later calls return at once. The headers are the amd64 package's (the same).
set -e
dir=$1
lib=$dir/root/usr/lib/i386-linux-gnu
[ -e "$lib/libcriterion.so" ] && exit 0
dpkg --print-foreign-architectures | grep -qx i386 || dpkg --add-architecture i386
apt-cache show libcriterion3:i386 >/dev/null 2>&1 || apt-get update -q >/dev/null 2>&1 || true
pkgs=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces \
    --no-enhances --no-pre-depends libcriterion3:i386 | grep -v '^ ' | grep ':i386$' |
    grep -v -e '^libc6:' -e '^libgcc-s1:' -e '^gcc-[0-9]*-base:')
mkdir -p "$dir/debs"
chmod 777 "$dir/debs" # apt-get download runs as the _apt user where it can
(cd "$dir/debs" && apt-get download -q $pkgs >/dev/null 2>&1) || {
    echo "hakmem: could not download the i386 Criterion libraries ($pkgs)" >&2
    exit 1
}
for f in "$dir"/debs/*.deb; do dpkg -x "$f" "$dir/root"; done
ln -sf libcriterion.so.3 "$lib/libcriterion.so"

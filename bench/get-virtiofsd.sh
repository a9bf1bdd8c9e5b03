#!/usr/bin/env bash
# Fetches virtiofsd, the reference virtio-fs backend, for comparisons and for validating the
# QEMU guest scripts, without installing anything from Debian 13 on the host.
#
# Usage: bench/get-virtiofsd.sh DEST
#
# virtiofsd 1.13 is packaged in Debian 13 (trixie) only and needs glibc 2.39, which Debian 12
# lacks. This script downloads the trixie .debs of virtiofsd and the libraries it links with
# through a private apt configuration under DEST/apt (the host's sources and preferences are not
# touched), unpacks them into DEST, and prints the command prefix that runs virtiofsd with that
# private libc through its own dynamic loader, e.g.
#
#   $(bench/get-virtiofsd.sh /var/cache/scorpio-virtiofsd) --socket-path=S --shared-dir=DIR \
#       --cache=auto --sandbox=none
#
# Idempotent: a DEST that already holds a working virtiofsd is reused without network access.
# Everything but the final command line goes to stderr.
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 DEST" >&2; exit 64; }
mkdir -p "$1"
DEST=$(cd "$1" && pwd -P)
LIBDIR=$DEST/usr/lib/x86_64-linux-gnu
LOADER=$LIBDIR/ld-linux-x86-64.so.2
PREFIX="$LOADER --library-path $LIBDIR $DEST/usr/libexec/virtiofsd"

works() { [ -x "$LOADER" ] && $PREFIX --version >/dev/null 2>&1; }

if ! works; then
    # The private apt state: only trixie in the source list, so no pinning is needed and the
    # host's own package lists stay as they are.
    APT=$DEST/apt
    mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial" "$APT/debs" "$APT/empty"
    cat >"$APT/sources.list" <<'EOF'
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main
EOF
    opts=(-o "Dir::Etc::SourceList=$APT/sources.list" -o "Dir::Etc::SourceParts=$APT/empty"
          -o "Dir::Etc::Preferences=/nonexistent" -o "Dir::Etc::PreferencesParts=$APT/empty"
          -o "Dir::State::Lists=$APT/lists" -o "Dir::Cache=$APT/cache"
          -o "APT::Sandbox::User=root" -o "Debug::NoLocking=1")
    echo "get-virtiofsd: downloading trixie package lists into $APT" >&2
    apt-get "${opts[@]}" update >&2
    (cd "$APT/debs" && apt-get "${opts[@]}" download virtiofsd libc6 libcap-ng0 libseccomp2 libgcc-s1 >&2)
    for deb in "$APT"/debs/*.deb; do dpkg -x "$deb" "$DEST"; done
    works || { echo "get-virtiofsd: $DEST/usr/libexec/virtiofsd does not run:" >&2; $PREFIX --version >&2; exit 1; }
fi
echo "get-virtiofsd: $($PREFIX --version 2>&1 | head -1)" >&2
echo "$PREFIX"

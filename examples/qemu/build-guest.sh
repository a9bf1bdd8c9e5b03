#!/usr/bin/env bash
# Builds a minimal QEMU guest that mounts a virtio-fs share and runs one script in it:
# Debian's own kernel (OUTDIR/vmlinuz) and an initramfs (OUTDIR/initramfs.cpio.gz) with
# busybox, the virtio-fs modules, GNU make, and an /init that mounts the share on /workspace.
#
# Usage: examples/qemu/build-guest.sh OUTDIR [GUEST_SCRIPT]
#
#   GUEST_SCRIPT  a shell script (busybox sh) run in the guest with cwd /workspace. The default
#                 runs `make` when /workspace has a Makefile, else lists the tree.
#
# Environment:
#   SCORPIO_GUEST_CACHE  where the kernel .deb and its unpacked tree are kept (default
#                        OUTDIR/cache). Several guests can share one cache.
#   GUEST_EXTRA_BINARIES host programs copied into the guest with their shared libraries,
#                        when busybox has no applet of that name (default "make").
#
# The guest's /init mounts proc, sysfs, devtmpfs and a tmpfs on /tmp, loads the modules
# (virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci fuse virtiofs),
# mounts `mount -t virtiofs TAG /workspace` (TAG from the kernel parameter scorpio.tag=, default
# ws), prints `SCORPIO-GUEST-MOUNTED`, runs the script, prints `SCORPIO-GUEST-EXIT=<rc>` (or
# `SCORPIO-GUEST-EXIT=mount-failed`), syncs, unmounts and powers off. Boot it with run-guest.sh.
#
# Idempotent: packages are installed only when missing, the kernel is downloaded once into the
# cache, and the initramfs is rebuilt from scratch on every run (a second or two).
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }
[ $# -ge 1 ] && [ $# -le 2 ] || { usage >&2; exit 64; }
case $1 in -h|--help) usage; exit 0 ;; esac
log() { echo "build-guest: $*" >&2; }
die() { log "error: $*"; exit 1; }

mkdir -p "$1"
OUT=$(cd "$1" && pwd -P)
GUEST_SCRIPT=${2:-}
[ -z "$GUEST_SCRIPT" ] || [ -f "$GUEST_SCRIPT" ] || die "guest script $GUEST_SCRIPT not found"
CACHE=${SCORPIO_GUEST_CACHE:-$OUT/cache}
mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd -P)
read -r -a EXTRA_BINARIES <<<"${GUEST_EXTRA_BINARIES:-make}"
# Load order matters: each module needs the symbols of the ones before it.
MODULES=(virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci fuse virtiofs)

# --- host packages --------------------------------------------------------------------------
need=(qemu-system-x86 busybox-static cpio gzip kmod)
for b in "${EXTRA_BINARIES[@]}"; do [ "$b" = make ] && need+=(make); done
missing=()
for p in "${need[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || die "missing packages ${missing[*]} (install them as root)"
    log "installing ${missing[*]}"
    apt-get update >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2
fi

# --- kernel ---------------------------------------------------------------------------------
# Debian's kernel package for this release: the one the linux-image-amd64 metapackage depends
# on. A .deb already in the cache is reused without asking apt (works offline).
deb=$(find "$CACHE" -maxdepth 1 -name 'linux-image-*-amd64_*.deb' | sort -V | tail -1)
if [ -z "$deb" ]; then
    pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}')
    if [ -z "$pkg" ]; then
        apt-get update >&2
        pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/{print $2; exit}')
    fi
    [ -n "$pkg" ] || die "cannot tell which kernel package linux-image-amd64 depends on"
    log "downloading $pkg into $CACHE"
    (cd "$CACHE" && apt-get -o APT::Sandbox::User=root download "$pkg" >&2)
    deb=$(find "$CACHE" -maxdepth 1 -name "${pkg}_*.deb" | sort -V | tail -1)
    [ -n "$deb" ] || die "apt-get download $pkg left no .deb in $CACHE"
fi
KTREE=$CACHE/$(basename "$deb" .deb)
if [ ! -f "$KTREE/.complete" ]; then
    # Only the kernel image and the files the initramfs needs (the full tree is ~400 MB).
    rm -rf "$KTREE"
    mkdir -p "$KTREE"
    names=$(IFS='|'; echo "${MODULES[*]}")
    dpkg-deb --fsys-tarfile "$deb" | tar -t |
        grep -E "^\./boot/vmlinuz-|/modules\.builtin\$|/($names)\.ko(\.(xz|zst|gz))?\$" >"$KTREE.members" || true
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$KTREE" -T "$KTREE.members"
    rm -f "$KTREE.members"
    touch "$KTREE/.complete"
fi
vmlinuz=$(find "$KTREE/boot" -name 'vmlinuz-*' | head -1)
[ -n "$vmlinuz" ] || die "no vmlinuz in $deb"
KVER=${vmlinuz##*/vmlinuz-}
MODDIR=$KTREE/lib/modules/$KVER
[ -d "$MODDIR" ] || MODDIR=$KTREE/usr/lib/modules/$KVER
[ -d "$MODDIR" ] || die "no modules directory for kernel $KVER in $KTREE"
cp "$vmlinuz" "$OUT/vmlinuz.tmp" && mv "$OUT/vmlinuz.tmp" "$OUT/vmlinuz"

# --- initramfs tree -------------------------------------------------------------------------
ROOTFS=$OUT/rootfs
rm -rf "$ROOTFS"
mkdir -p "$ROOTFS"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,workspace,modules,root,etc}

# busybox and one symlink per applet. Applets never replace a host binary copied below.
cp /bin/busybox "$ROOTFS/bin/busybox"
for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$ROOTFS/bin/$applet"
done

# Modules: a .ko (decompressed if Debian compressed it) per name, in load order; a module
# that is built into this kernel is skipped, anything else missing is an error.
builtin_list=$MODDIR/modules.builtin
: >"$ROOTFS/modules/order"
for m in "${MODULES[@]}"; do
    ko=$(find "$MODDIR/kernel" \( -name "$m.ko" -o -name "$m.ko.xz" -o -name "$m.ko.zst" -o -name "$m.ko.gz" \) | head -1)
    if [ -z "$ko" ]; then
        if [ -f "$builtin_list" ] && grep -q "/$m\.ko\$" "$builtin_list"; then
            log "module $m is built into $KVER"
            continue
        fi
        die "module $m is neither in $MODDIR nor built in"
    fi
    case $ko in
        *.ko)     cp "$ko" "$ROOTFS/modules/$m.ko" ;;
        *.ko.xz)  xz -dc "$ko" >"$ROOTFS/modules/$m.ko" ;;
        *.ko.zst) zstd -qdc "$ko" >"$ROOTFS/modules/$m.ko" ;;
        *.ko.gz)  gzip -dc "$ko" >"$ROOTFS/modules/$m.ko" ;;
    esac
    echo "$m" >>"$ROOTFS/modules/order"
done

# Host programs busybox lacks (GNU make, so a real Makefile builds in the guest), with the
# shared libraries ldd reports, the dynamic loader included, at the same paths.
copy_with_libs() {
    local path=$1
    mkdir -p "$ROOTFS$(dirname "$path")"
    cp -L "$path" "$ROOTFS$path"
    ldd "$path" 2>/dev/null | grep -o '/[^ ]*' | while read -r lib; do
        [ -e "$ROOTFS$lib" ] && continue
        mkdir -p "$ROOTFS$(dirname "$lib")"
        cp -L "$lib" "$ROOTFS$lib"
    done
}
for b in "${EXTRA_BINARIES[@]}"; do
    [ -n "$b" ] || continue
    if /bin/busybox --list | grep -qx "$b"; then continue; fi
    path=$(command -v "$b") || die "host program $b not found"
    copy_with_libs "$path"
    # /usr/bin/make and /bin/make must both work whatever PATH a Makefile uses.
    for dir in /bin /usr/bin; do
        [ "$dir/$b" = "$path" ] || ln -sf "$path" "$ROOTFS$dir/$b"
    done
done

# The guest script.
if [ -n "$GUEST_SCRIPT" ]; then
    cp "$GUEST_SCRIPT" "$ROOTFS/guest-script"
else
    cat >"$ROOTFS/guest-script" <<'EOF'
# Default guest script: build the workspace if it has a Makefile, else show what is there.
if [ -f Makefile ] || [ -f makefile ] || [ -f GNUmakefile ]; then
    echo "guest: running make in /workspace"
    make
else
    echo "guest: no Makefile in /workspace; its tree:"
    find . | head -200
    echo "guest: $(find . | wc -l) entries"
fi
EOF
fi
chmod 755 "$ROOTFS/guest-script"

cat >"$ROOTFS/init" <<'EOF'
#!/bin/sh
# Guest init: mount the virtio-fs share, run /guest-script in it, report, power off.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root TERM=dumb
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
for m in $(cat /modules/order); do
    insmod "/modules/$m.ko" || echo "init: insmod $m failed"
done
tag=ws
for p in $(cat /proc/cmdline); do
    case $p in scorpio.tag=*) tag=${p#scorpio.tag=} ;; esac
done
if mount -t virtiofs "$tag" /workspace; then
    echo "SCORPIO-GUEST-MOUNTED tag=$tag uptime=$(cut -d' ' -f1 /proc/uptime)"
    cd /workspace
    sh /guest-script
    rc=$?
    cd /
    echo "SCORPIO-GUEST-EXIT=$rc"
    sync
    umount /workspace || echo "init: umount /workspace failed"
else
    echo "SCORPIO-GUEST-EXIT=mount-failed"
fi
poweroff -f
EOF
chmod 755 "$ROOTFS/init"

(cd "$ROOTFS" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -6) >"$OUT/initramfs.cpio.gz.tmp"
mv "$OUT/initramfs.cpio.gz.tmp" "$OUT/initramfs.cpio.gz"
rm -rf "$ROOTFS"
log "kernel $KVER: $OUT/vmlinuz, $OUT/initramfs.cpio.gz ($(du -k "$OUT/initramfs.cpio.gz" | cut -f1) KiB)"

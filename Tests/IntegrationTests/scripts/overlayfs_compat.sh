#!/usr/bin/env bash
# The upper layer written through Scorpio must mean the same thing to the kernel's overlayfs:
# after a series of changes through our mount, `mount -t overlay` over the same lowers and upper
# shows an identical tree (names, types, modes, sizes, contents, symlink targets).
source "$(dirname "$0")/lib.sh"
preflight
new_workdir
L1=$WORK/lower1 L2=$WORK/lower2 UP=$WORK/upper M=$WORK/mnt K=$WORK/kernel W=$WORK/work
mkdir -p "$L1/src/lib" "$L1/docs" "$L2/src/extra" "$L2/old" "$M" "$K" "$W"
for i in $(seq 20); do echo "lib $i" > "$L1/src/lib/f$i.c"; done
echo readme > "$L1/docs/README"; echo extra > "$L2/src/extra/e.c"; echo old > "$L2/old/gone.txt"
echo top > "$L1/top.txt"; echo hidden > "$L2/top.txt"; ln -s docs/README "$L1/readme-link"
mount_scorpio "$M" "$WORK/daemon.log" --upper "$UP" --lower "$L1:$L2" "$@" || exit 1
(
    set -e
    cd "$M"
    echo changed >> top.txt
    rm src/lib/f3.c src/lib/f4.c
    rm -r old
    mkdir old && echo new > old/new.txt
    mv docs manual
    mv src/extra src/more
    echo fresh > src/more/fresh.c
    chmod 700 src/lib/f5.c
    ln -s manual/README link2
    mkdir -p a/b/c && echo deep > a/b/c/d.txt
    mv src/lib/f6.c src/lib/f6-renamed.c
    rm readme-link
    mkfifo pipe
    truncate -s 12345 src/lib/f7.c
) || { echo "FAIL: changes through the mount"; exit 1; }
tree_listing() {  # type, mode, size (files only), name, link target, content checksum
    (cd "$1" && find . -mindepth 1 \( -name . -o -print \) | LC_ALL=C sort | while read -r p; do
        t=$(stat -c %F "$p"); m=$(stat -c %a "$p")
        case "$t" in
            "regular file"*) echo "$t $m $(stat -c %s "$p") $p $(md5sum < "$p" | cut -c1-32)" ;;
            "symbolic link") echo "$t $p -> $(readlink "$p")" ;;
            *) echo "$t $m $p" ;;
        esac
    done)
}
tree_listing "$M" > "$WORK/ours.txt"
unmount_scorpio "$M" || exit 1
mount -t overlay overlay -o "lowerdir=$L1:$L2,upperdir=$UP,workdir=$W" "$K" || { echo "FAIL: kernel overlayfs refused our upper"; exit 1; }
MOUNTS+=("$K")
tree_listing "$K" > "$WORK/kernel.txt"
umount "$K"
check "kernel overlayfs shows the same tree as scorpio ($(wc -l < "$WORK/ours.txt") entries)" diff "$WORK/ours.txt" "$WORK/kernel.txt"
check "the tree is not trivially empty" test "$(wc -l < "$WORK/ours.txt")" -gt 30
check "deleted lower files absent" sh -c "! grep -q 'f3.c\|gone.txt' '$WORK/kernel.txt'"
# And the other way round: changes made by the kernel overlayfs are read correctly by us.
mount -t overlay overlay -o "lowerdir=$L1:$L2,upperdir=$UP,workdir=$W" "$K" || exit 1
(cd "$K" && rm src/lib/f8.c && rm -r manual && mkdir manual && echo k > manual/k.txt && mv a z) || { echo "FAIL: kernel changes"; }
tree_listing "$K" > "$WORK/kernel2.txt"
umount "$K"
rm -rf "$W"/* 2>/dev/null
mount_scorpio "$M" "$WORK/daemon2.log" --upper "$UP" --lower "$L1:$L2" "$@" || exit 1
tree_listing "$M" > "$WORK/ours2.txt"
unmount_scorpio "$M"
check "scorpio reads an upper written by kernel overlayfs identically" diff "$WORK/kernel2.txt" "$WORK/ours2.txt"
finish

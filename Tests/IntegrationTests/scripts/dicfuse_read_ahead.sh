#!/usr/bin/env bash
# Reading cached blobs ahead of a walk when the page cache lacks them: after a remount with the
# page cache dropped, reading one file makes the daemon read the blobs the walk reaches next
# (the rest of its directory, its subdirectory, then the next directories) into the page cache,
# which `fincore` shows. Every file still reads back as the commit has it. A --no-open mount's
# handle-less READs trigger it too. A first read whose blob is in the page cache already has
# no trigger and leaves the siblings out, which shows the check can fail.
source "$(dirname "$0")/lib.sh"
preflight
command -v fincore >/dev/null || { echo "FAIL: fincore (util-linux-extra) is missing"; exit 1; }
new_workdir
R=$WORK/repo M=$WORK/mnt CACHE=$WORK/cache
mkdir -p "$R" "$M"
(
    cd "$R" && git init -q -b main . && git config user.email t@example.com && git config user.name t
    for d in a b c z; do
        mkdir -p "$d/sub"
        for i in $(seq 40); do head -c $((4096 + i * 97)) /dev/urandom > "$d/f$i"; done
        for i in $(seq 10); do head -c 5000 /dev/urandom > "$d/sub/g$i"; done
    done
    git add -A && git commit -q -m tree
)
blob() { echo "$CACHE/blobs/$(git -C "$R" rev-parse "HEAD:$1" | sed 's|^..|&/|')"; }
resident() { fincore --noheadings --output PAGES "$(blob "$1")" 2>/dev/null | tr -d ' '; }
count_resident() {  # paths...
    local n=0
    for p in "$@"; do [ "$(resident "$p")" -gt 0 ] 2>/dev/null && n=$((n + 1)); done
    echo $n
}
wait_resident() {  # expected paths...
    local want=$1; shift
    for _ in $(seq 30); do [ "$(count_resident "$@")" -ge "$want" ] && return 0; sleep 0.1; done
    return 1
}
A_REST=(); for i in $(seq 2 40); do A_REST+=("a/f$i"); done
B_FILES=(); for i in $(seq 40); do B_FILES+=("b/f$i"); done
Z_FILES=(); for i in $(seq 40); do Z_FILES+=("z/f$i"); done

mount_scorpio "$M" "$WORK/fill.log" --repo "$R" --cache "$CACHE" --upper "$WORK/up1" || exit 1
check "first read fills the cache" sh -c "cd '$M' && tar -cf - . | cat > /dev/null"
unmount_scorpio "$M"

mount_scorpio "$M" "$WORK/ra.log" --repo "$R" --cache "$CACHE" --upper "$WORK/up2" --log-level debug || exit 1
sync; echo 1 > /proc/sys/vm/drop_caches
expect_eq "no blob of a is in the page cache after drop_caches" "0" "$(count_resident "${A_REST[@]}")"
cat "$M/a/f1" > /dev/null
check "reading a/f1 reads the rest of a ahead" wait_resident 39 "${A_REST[@]}"
check "... and the next directory, b" wait_resident 40 "${B_FILES[@]}"
check "... and a's subdirectory" wait_resident 10 a/sub/g1 a/sub/g2 a/sub/g3 a/sub/g4 a/sub/g5 a/sub/g6 a/sub/g7 a/sub/g8 a/sub/g9 a/sub/g10
check "the daemon logged the read-ahead" grep -q "after=a/f1 .*reading blobs ahead" "$WORK/ra.log"
check "every file reads back as the commit has it" sh -c "
    cd '$R' && git ls-files | while read -r f; do cmp -s \"\$f\" '$M/'\"\$f\" || { echo \"differs: \$f\"; exit 1; }; done"
unmount_scorpio "$M"

# A --no-open mount has no OPEN, but its handle-less READ of a lower file triggers it the same way.
mount_scorpio "$M" "$WORK/noopen.log" --repo "$R" --cache "$CACHE" --upper "$WORK/up3" --no-open || exit 1
sync; echo 1 > /proc/sys/vm/drop_caches
cat "$M/z/f1" > /dev/null
check "a --no-open read reads the rest of z ahead" wait_resident 39 "${Z_FILES[@]:1}"
# The same walk again after the page cache was dropped once more: read ahead again (a
# directory is read ahead at most once per 10 s, not once per mount).
sleep 10.5
sync; echo 1 > /proc/sys/vm/drop_caches
expect_eq "no blob of z is in the page cache after the second drop_caches" "0" "$(count_resident "${Z_FILES[@]:1}")"
cat "$M/z/f1" > /dev/null
check "a later walk of the same mount is read ahead again" wait_resident 39 "${Z_FILES[@]:1}"
check "every file reads back as the commit has it through --no-open" sh -c "
    cd '$R' && git ls-files | while read -r f; do cmp -s \"\$f\" '$M/'\"\$f\" || { echo \"differs: \$f\"; exit 1; }; done"
unmount_scorpio "$M"

# Without the trigger: a read whose blob is in the page cache already (read behind the mount's
# back here) reads nothing ahead.
mount_scorpio "$M" "$WORK/cached.log" --repo "$R" --cache "$CACHE" --upper "$WORK/up4" || exit 1
sync; echo 1 > /proc/sys/vm/drop_caches
cat "$(blob c/f1)" > /dev/null
cat "$M/c/f1" > /dev/null
sleep 1
C_REST=(); for i in $(seq 2 40); do C_REST+=("c/f$i"); done
check "a read that finds its blob cached reads nothing ahead" test "$(count_resident "${C_REST[@]}")" -lt 5
unmount_scorpio "$M"
finish

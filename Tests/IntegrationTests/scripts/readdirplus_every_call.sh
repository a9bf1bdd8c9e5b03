#!/usr/bin/env bash
# A Dicfuse mount asks for READDIRPLUS on every READDIR of a listing, not only the first: a
# walker such as tar reads a whole listing before it opens any entry, so in the kernel's auto
# mode every entry past the first reply would cost a LOOKUP later. tar of a 600-file directory
# of a commit therefore makes no LOOKUP for its files. The same tree from a host directory
# (auto mode) does make them, which shows the count can fail.
source "$(dirname "$0")/lib.sh"
preflight
new_workdir
R=$WORK/repo M=$WORK/mnt
mkdir -p "$R/big" "$M"
(
    cd "$R" && git init -q -b main . && git config user.email t@example.com && git config user.name t
    for i in $(seq 600); do echo "file $i" > "big/file-with-a-longer-name-$i"; done
    git add -A && git commit -q -m tree
)
walk() { sh -c "cd '$M/big' && tar -cf - . | cat > /dev/null"; }

mount_scorpio "$M" "$WORK/repo.log" --repo "$R" --cache "$WORK/cache" --upper "$WORK/up1" --log-level trace || exit 1
check "the directory lists 600 files" test "$(ls "$M/big" | wc -l)" = 600
unmount_scorpio "$M" || exit 1
mount_scorpio "$M" "$WORK/repo2.log" --repo "$R" --cache "$WORK/cache" --upper "$WORK/up2" --log-level trace || exit 1
check "tar reads the directory" walk
check "more than one READDIRPLUS was needed" test "$(count_ops READDIRPLUS "$WORK/repo2.log")" -ge 2
# One LOOKUP for the directory itself.
check "no LOOKUP for the files (got $(count_ops LOOKUP "$WORK/repo2.log"))" test "$(count_ops LOOKUP "$WORK/repo2.log")" -le 1
check "content as committed" sh -c "cd '$M/big' && cat file-with-a-longer-name-600 | grep -qx 'file 600'"
unmount_scorpio "$M" || exit 1

mount_scorpio "$M" "$WORK/host.log" --lower "$R" --upper "$WORK/up3" --log-level trace || exit 1
check "tar reads the host directory" walk
check "auto mode looks up files past the first reply (got $(count_ops LOOKUP "$WORK/host.log"))" \
    test "$(count_ops LOOKUP "$WORK/host.log")" -ge 100
unmount_scorpio "$M" || exit 1
finish

#!/usr/bin/env bash
# A small lower file's content is stored in the kernel's page cache when it is first opened
# (FUSE_NOTIFY_STORE before the OPEN reply): reading it then sends no READ, and the stat after
# reading no GETATTR. Checked from the daemon's trace log, with the content compared byte for
# byte at sizes around page boundaries, through read, partial read and mmap. The same reads
# on a --no-open mount (no OPEN to store at) do come as READ requests, so the count can fail.
# The OPEN that stores a file also has the directory's next small files stored by a thread of
# the daemon, before they are opened: shown by changing them in the lower directory behind the
# mount's back after the first open (lowers are read-only by contract), which their reads then
# do not see, where the files of a directory nobody opened in do.
source "$(dirname "$0")/lib.sh"
preflight
new_workdir
L=$WORK/lower UP=$WORK/upper M=$WORK/mnt
mkdir -p "$L/d" "$M"
SIZES="1 4095 4096 4097 65536 100000 1048575"
for size in $SIZES; do head -c "$size" /dev/urandom > "$L/d/f$size"; done
: > "$L/d/empty"
mkdir -p "$L/s" "$L/t"
for i in $(seq 10 29); do printf "old-$i" > "$L/s/f$i"; printf "old-$i" > "$L/t/g$i"; done
head -c $((2 << 20)) /dev/urandom > "$L/d/large"  # 2 MiB: passed through, never stored
read_all() {
    for size in $SIZES; do cmp "$L/d/f$size" "$M/d/f$size" || return 1; stat "$M/d/f$size" > /dev/null; done
    cmp "$L/d/empty" "$M/d/empty" && cmp "$L/d/large" "$M/d/large"
}

mount_scorpio "$M" "$WORK/prefill.log" --upper "$UP" --lower "$L" --log-level trace || exit 1
stat "$M/d"/* > /dev/null  # lookups first, so only the reads below are counted
before_reads=$(count_ops 'READ|GETATTR' "$WORK/prefill.log")
check "every file reads back byte for byte" read_all
expect_eq "no READ or GETATTR for the reads and stats" "$before_reads" "$(count_ops 'READ|GETATTR' "$WORK/prefill.log")"
check "each file was opened through the daemon" test "$(count_ops OPEN "$WORK/prefill.log")" -ge 9
check "a second read and a partial read see the same bytes" sh -c "
    cmp '$L/d/f100000' '$M/d/f100000' && test \"\$(head -c 10 '$M/d/f4097' | od -An -tx1)\" = \"\$(head -c 10 '$L/d/f4097' | od -An -tx1)\""
check "an mmap of a stored file sees the same bytes" python3 -c '
import mmap, sys
with open(sys.argv[1], "rb") as a, open(sys.argv[2], "rb") as b:
    m = mmap.mmap(b.fileno(), 0, prot=mmap.PROT_READ)
    sys.exit(0 if m[:] == a.read() else 1)' "$L/d/f65536" "$M/d/f65536"
ls -l "$M/s" "$M/t" > /dev/null  # the kernel knows the files now (READDIRPLUS)
FIRST=$(ls -f "$M/s" | grep -v '^\.' | head -1)  # stores follow the listing's order
stores() { grep -c "stored the next files of a directory" "$WORK/prefill.log"; }
STORES=$(stores)
check "the first file of a directory reads back" test "$(cat "$M/s/$FIRST")" = "old-${FIRST#f}"
# The thread stores the siblings meanwhile, and logs how many.
for _ in $(seq 50); do [ "$(stores)" -gt "$STORES" ] && break; sleep 0.1; done
check "the thread stored the directory's other 19 files" \
    grep -q "files=19 .*stored the next files of a directory" "$WORK/prefill.log"
# Same size and mtime, so the kernel's attribute checks (AUTO_INVAL_DATA) see no change.
python3 -c '
import os, sys
for path in sys.argv[1:]:
    before = os.stat(path)
    with open(path, "wb") as f: f.write(b"new-" + path[-2:].encode())
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))' $(ls "$L/s"/f* "$L/t"/g* | grep -v "/$FIRST\$")
reads_as() {  # prefix: every file but the first reads back with it
    for f in "$M/$2"/*; do [ "$(basename "$f")" = "$FIRST" ] || [ "$(cat "$f")" = "$1-${f: -2}" ] || { echo "  $f reads $(cat "$f"), first was $FIRST"; return 1; }; done
}
check "the siblings were stored before they were opened" reads_as old s
check "files of a directory nobody opened in are read at their OPEN" reads_as new t
check "a file written after it was stored reads back its new content" sh -c "
    printf new > '$M/d/f4096' && test \"\$(cat '$M/d/f4096')\" = new"
# A small lower file held open (the kernel's caching mode) while another program appends to
# it: the copy-up is opened in caching mode too, since the kernel fails a passthrough open of
# an inode with cached opens (EIO). The open descriptor follows the copy-up and reads the
# append, as on overlayfs; opens after it see it too, and pass through once it is closed.
check "appending to a small lower file that another program holds open works" python3 -c '
import os, subprocess, sys
path, lower = sys.argv[1], sys.argv[2]
original = open(lower, "rb").read()
held = os.open(path, os.O_RDONLY)
assert os.pread(held, 1 << 20, 0) == original
with open(path, "ab") as f: f.write(b"appended")
assert open(path, "rb").read() == original + b"appended", "a new open sees the append"
assert os.pread(held, 1 << 20, 0) == original + b"appended", "the held descriptor follows the copy-up"
os.close(held)
with open(path, "ab") as f: f.write(b"again")
assert open(path, "rb").read() == original + b"appendedagain"' "$M/d/f1" "$L/d/f1"
unmount_scorpio "$M"
check "the upper copy holds both appends" sh -c "{ cat '$L/d/f1'; printf appendedagain; } | cmp '$UP/d/f1' -"

rm -rf "$UP"
mount_scorpio "$M" "$WORK/noopen.log" --upper "$UP" --lower "$L" --log-level trace --no-open || exit 1
stat "$M/d"/* > /dev/null
check "without OPEN every file reads back byte for byte" read_all
unmount_scorpio "$M"
check "without OPEN the same reads come as READ requests" test "$(count_ops READ "$WORK/noopen.log")" -ge 7
finish

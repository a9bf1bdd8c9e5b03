#!/usr/bin/env bash
# --no-open: the daemon answers the first OPEN with ENOSYS, after which the kernel opens files
# without asking and keeps their page cache across opens. Checked from the daemon's trace log:
# one OPEN in all, no RELEASE (also none for created files), one READ for a file read twenty
# times. Then what the daemon must
# get right without knowing which files are open: a file unlinked or renamed over while a
# program has it open, the first write to a lower file (copy-up then), and writes through
# mmap. The same opens on a default mount reach the daemon, which shows the count can fail.
source "$(dirname "$0")/lib.sh"
preflight
new_workdir
L=$WORK/lower UP=$WORK/upper M=$WORK/mnt
mkdir -p "$L" "$M"
echo "lower text" > "$L/read.txt"
echo "0123456789" > "$L/patch.txt"
printf 'abcdefgh' > "$L/mapped.bin"
# Upper files made before the mount: the daemon holds no descriptor of them until it pins one.
mkdir -p "$UP"; echo -n "before" > "$UP/tmp.txt"; echo -n "old content" > "$UP/victim.txt"
read_twenty() { for _ in $(seq 20); do cat "$M/read.txt" > /dev/null || return 1; done; }

mount_scorpio "$M" "$WORK/noopen.log" --upper "$UP" --lower "$L" --no-open --log-level trace || exit 1
check "session negotiated without passthrough" grep -q "passthrough=false" "$WORK/noopen.log"
check "twenty opens and reads of a lower file" read_twenty
sleep 0.2
expect_eq "the file read twenty times was READ once (page cache kept across opens)" "1" "$(count_ops READ "$WORK/noopen.log")"
echo "created" > "$M/new.txt"
check "a created file reads back" test "$(cat "$M/new.txt")" = created

check "a file unlinked while open keeps its data for its reader and writer" python3 -c "
import os
f = open('$M/tmp.txt', 'r+'); f.seek(0, 2)
os.unlink('$M/tmp.txt')
f.write(' after'); f.flush(); os.fsync(f.fileno()); f.seek(0)
assert f.read() == 'before after'
assert os.fstat(f.fileno()).st_size == 12
os.ftruncate(f.fileno(), 3); f.seek(0); assert f.read() == 'bef'
"
check "a file renamed over while open keeps its old content for its reader" python3 -c "
import os
f = open('$M/victim.txt')
open('$M/incoming.txt', 'w').write('new content')
os.rename('$M/incoming.txt', '$M/victim.txt')
assert f.read() == 'old content', 'reader lost the replaced file'
assert open('$M/victim.txt').read() == 'new content'
"
check "a lower file opened for writing is copied up at its first write" python3 -c "
import os
fd = os.open('$M/patch.txt', os.O_RDWR)
assert os.pread(fd, 4, 0) == b'0123'
assert os.pwrite(fd, b'AB', 2) == 2
os.close(fd)
assert open('$M/patch.txt').read() == '01AB456789\n'
"
expect_eq "the upper holds the patched copy" "01AB456789" "$(cat "$UP/patch.txt" 2>/dev/null)"
expect_eq "the lower is unchanged" "0123456789" "$(cat "$L/patch.txt")"
check "O_TRUNC of a lower file empties it (a SETATTR without ATOMIC_O_TRUNC)" sh -c ": > '$M/read.txt' && test ! -s '$M/read.txt' && test ! -s '$UP/read.txt'"
check "a write through mmap reaches the upper copy" python3 -c "
import mmap, os
fd = os.open('$M/mapped.bin', os.O_RDWR)
m = mmap.mmap(fd, 8); m[0:2] = b'XY'; m.flush(); m.close(); os.close(fd)
assert open('$UP/mapped.bin', 'rb').read() == b'XYcdefgh'
"
unmount_scorpio "$M"
expect_eq "only the first OPEN reached the daemon" "1" "$(count_ops OPEN "$WORK/noopen.log")"
expect_eq "no RELEASE reached the daemon" "0" "$(count_ops RELEASE "$WORK/noopen.log")"
check "files were created (CREATE answered with handle 0)" test "$(count_ops CREATE "$WORK/noopen.log")" -ge 2

rm -rf "$UP"
mount_scorpio "$M" "$WORK/default.log" --upper "$UP" --lower "$L" --log-level trace || exit 1
check "twenty opens on a default mount" read_twenty
unmount_scorpio "$M"
check "a default mount sees every OPEN" test "$(count_ops OPEN "$WORK/default.log")" -ge 20
finish

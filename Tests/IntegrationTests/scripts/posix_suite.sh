#!/usr/bin/env bash
# POSIX behaviour through a real /dev/fuse mount of the overlay: file and directory operations,
# copy-up preserving metadata, whiteouts and opaque directories in the upper, a sparse 1 GiB
# file, O_APPEND/O_TRUNC, concurrent writers, git and a parallel make inside the mount.
# Arguments are passed to the mount (MountScriptTests runs it again with --no-open).
# Arguments are passed to the mount (MountScriptTests runs it again with --no-open).
source "$(dirname "$0")/lib.sh"
preflight
new_workdir
L1=$WORK/lower1 L2=$WORK/lower2 UP=$WORK/upper M=$WORK/mnt
mkdir -p "$L1/dir/sub" "$L2/dir" "$L2/only2" "$M"
echo "lower one" > "$L1/file.txt"
echo "shadowed" > "$L2/file.txt"
echo "from two" > "$L2/only2/two.txt"
echo "in dir" > "$L1/dir/a"
echo "in dir2" > "$L2/dir/b"
echo "deep" > "$L1/dir/sub/c"
printf 'x%.0s' $(seq 100) > "$L1/meta.txt"
chmod 640 "$L1/meta.txt"; chown 1234:2345 "$L1/meta.txt"; touch -d '2001-02-03 04:05:06' "$L1/meta.txt"
setfattr -n user.origin -v lower "$L1/meta.txt"
ln -s file.txt "$L1/link"
echo shared > "$L1/lh1" && ln "$L1/lh1" "$L1/lh2"
mkdir -p "$L1/hltree" && echo pair > "$L1/hltree/a" && ln "$L1/hltree/a" "$L1/hltree/b"
echo low > "$L1/xlow"
mkdir -p "$L1/xdir" && echo in-xdir > "$L1/xdir/f"
echo "held open" > "$L1/held.txt"
mkdir -p "$L1/timed/sub" "$L1/moving/sub" "$L1/wmix" "$L2/wmix"
echo t > "$L1/timed/f"; echo m > "$L1/moving/sub/f"; echo w1 > "$L1/wmix/w1"; echo w2 > "$L2/wmix/w2"
touch -d '2001-02-03 04:05:06' "$L1/timed" "$L1/moving/sub" "$L1/moving"
echo acl-secret > "$L1/acl-file" && chmod 600 "$L1/acl-file" && setfacl -m u:65534:r "$L1/acl-file"
mkdir "$L1/tmpf-dir" && echo keep > "$L1/tmpf-dir/keep"
echo "kept open while copied up" > "$L1/held-reader"
for f in gone-ro gone-rw gone-new xattr-none; do echo "lower $f" > "$L1/$f"; done
echo pair > "$L1/hl-cached-a" && ln "$L1/hl-cached-a" "$L1/hl-cached-b"
mkdir -p "$L1/hl-tree/sub" && echo pair > "$L1/hl-tree-peer" && ln "$L1/hl-tree-peer" "$L1/hl-tree/sub/peer"
python3 -c "
import sqlite3; c = sqlite3.connect('$L1/cache.db'); c.execute('create table t(x)')
c.executemany('insert into t values(?)', [(i,) for i in range(100)]); c.commit()"
# A lower tree deeper than PATH_MAX (25 names of 201 bytes), made with relative paths.
(cd "$L1" && for i in $(seq 10 34); do d=$(printf "%0200d$i" 0 | cut -c1-201); mkdir "$d" && cd "$d"; done && echo deep > deep.txt)
mkdir "$L1/acl-dir" && setfacl -d -m u::rwx,g::rwx,o::rx,u:65534:rwx "$L1/acl-dir"
mount_scorpio "$M" "$WORK/daemon.log" --upper "$UP" --lower "$L1:$L2" "$@" || exit 1
cd "$M"

# Lookup order and merge
expect_eq "upper/lower order: highest lower wins" "lower one" "$(cat file.txt)"
expect_eq "merged directory lists both layers" "a b sub" "$(ls dir | tr '\n' ' ' | sed 's/ $//')"
expect_eq "symlink target" "file.txt" "$(readlink link)"
expect_eq "file through symlink" "lower one" "$(cat link)"
expect_eq "readdir lists each name once" "$(ls -a | sort | uniq | wc -l)" "$(ls -a | wc -l)"

# Create, write, read, append, truncate
echo hello > new.txt
expect_eq "create + read" "hello" "$(cat new.txt)"
echo world >> new.txt
expect_eq "append" "hello world" "$(cat new.txt | tr '\n' ' ' | sed 's/ $//')"
python3 - <<'PY' || { echo "FAIL O_APPEND/O_TRUNC"; FAILURES=$((FAILURES+1)); }
import os
fd = os.open("app.txt", os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o644)
os.pwrite(fd, b"aaaa", 0) if False else os.write(fd, b"aaaa")
os.lseek(fd, 0, os.SEEK_SET)
os.write(fd, b"bbbb")
os.close(fd)
assert open("app.txt", "rb").read() == b"aaaabbbb", open("app.txt","rb").read()
fd = os.open("app.txt", os.O_WRONLY | os.O_TRUNC)
os.write(fd, b"c")
os.close(fd)
assert open("app.txt", "rb").read() == b"c"
print("ok   O_APPEND writes at end, O_TRUNC truncates")
PY
truncate -s 3 new.txt
expect_eq "truncate shrinks" "3" "$(stat -c %s new.txt)"
truncate -s 1G sparse.img
expect_eq "1 GiB sparse file size" "1073741824" "$(stat -c %s sparse.img)"
check "1 GiB sparse file stays sparse in upper" test "$(du -k "$UP/sparse.img" | cut -f1)" -lt 1024
dd if=/dev/urandom of=rand.bin bs=1M count=8 status=none
expect_eq "8 MiB random data round trip" "$(md5sum < rand.bin)" "$(md5sum < "$UP/rand.bin")"
printf 'tail' | dd of=sparse.img bs=1 seek=$((1024*1024*1024 - 4)) conv=notrunc status=none
expect_eq "write at end of sparse file" "tail" "$(tail -c 4 sparse.img)"

# Copy-up preserves data and metadata
echo "appended" >> meta.txt
check "copy-up happened" test -f "$UP/meta.txt"
expect_eq "copy-up keeps mode" "640" "$(stat -c %a meta.txt)"
expect_eq "copy-up keeps owner" "1234:2345" "$(stat -c %u:%g meta.txt)"
expect_eq "copy-up keeps xattr" "lower" "$(getfattr --only-values -n user.origin meta.txt)"
expect_eq "copy-up keeps data" "101" "$(head -c 101 meta.txt | wc -c)"
touch -d '2001-02-03 04:05:06' file.txt
expect_eq "utimens on lower file (copy-up)" "2001-02-03 04:05:06" "$(stat -c %y file.txt | cut -c1-19)"
check "lower file untouched" test "$(cat "$L1/file.txt")" = "lower one"
touch -a -d '2010-01-01 00:00:00' new.txt
expect_eq "atime set" "2010-01-01" "$(stat -c %x new.txt | cut -c1-10)"
touch new.txt
check "UTIME_NOW sets mtime near now" test $(( $(date +%s) - $(stat -c %Y new.txt) )) -lt 5

# chmod, chown, xattrs
chmod 751 new.txt
expect_eq "chmod" "751" "$(stat -c %a new.txt)"
chown 42:43 new.txt
expect_eq "chown" "42:43" "$(stat -c %u:%g new.txt)"
setfattr -n user.k -v v1 new.txt
expect_eq "setxattr/getxattr" "v1" "$(getfattr --only-values -n user.k new.txt)"
check "listxattr shows it" sh -c "getfattr -d new.txt | grep -q user.k"
setfattr -x user.k new.txt
check "removexattr" sh -c "! getfattr -n user.k new.txt 2>/dev/null"
setfattr -n user.rootmark -v r1 "$M"
expect_eq "setxattr/getxattr on the mount root" "r1" "$(getfattr --only-values -n user.rootmark "$M")"
expect_eq "... stored on the upper's root" "r1" "$(getfattr --only-values -n user.rootmark "$UP")"
setfattr -x user.rootmark "$M"
check "removexattr on the mount root" sh -c "! getfattr -n user.rootmark '$M' 2>/dev/null"
check "overlay xattrs are hidden" sh -c "mkdir op && rm -rf dir/sub && mkdir dir/sub && ! getfattr -d -m - dir/sub 2>/dev/null | grep -q overlay"

# Directories, whiteouts, opaque
check "rmdir of merged dir with content fails" sh -c "! rmdir dir 2>/dev/null"
rm only2/two.txt
# A copy-up changes nothing a program can see: the parent directory keeps its mtime; a directory
# renamed as a whole tree keeps its own and its subdirectories' times; whiteouts inside it go
# (it is opaque), so kernel overlayfs lists no phantom names there.
chmod 600 timed/f
expect_eq "copy-up keeps the parent directory's mtime (upper copy)" "981173106" "$(stat -c %Y "$UP/timed")"
rm wmix/w2
mv moving moved-tree && mv wmix wmix2
expect_eq "a directory renamed as a tree keeps its mtime and its subdirectory's" "981173106 981173106" "$(stat -c %Y "$UP/moved-tree" "$UP/moved-tree/sub" | tr '\n' ' ' | sed 's/ $//')"
expect_eq "... and leaves no whiteout in the opaque copy" "" "$(find "$UP/wmix2" -type c)"
expect_eq "... which lists what the mount showed" "w1" "$(ls wmix2)"
# A lower file held open while another program unlinks it: the holder still stats and reads it
# (as on overlayfs; its open was served from the page cache, without a descriptor to fstat).
cat held.txt > /dev/null
check "an unlinked lower file held open still stats and reads" python3 -c "
import os
fd = os.open('held.txt', os.O_RDONLY)
os.unlink('held.txt')
st = os.fstat(fd)
assert st.st_size == 10 and st.st_nlink in (0, 1), (st.st_size, st.st_nlink)
assert os.pread(fd, 100, 0) == b'held open\\n', os.pread(fd, 100, 0)
os.close(fd)
"
check "unlink of lower file hides it" test ! -e only2/two.txt
check "unlink leaves a whiteout (char 0/0)" sh -c "test -c '$UP/only2/two.txt' && test \"\$(stat -c %t:%T '$UP/only2/two.txt')\" = 0:0"
rmdir only2
check "rmdir of lower dir" test ! -e only2
check "rmdir leaves a whiteout" test -c "$UP/only2"
mkdir only2
check "mkdir over whiteout is empty" test -z "$(ls -A only2)"
expect_eq "mkdir over whiteout is opaque" "y" "$(getfattr --only-values -n trusted.overlay.opaque "$UP/only2" 2>/dev/null)"
check "recreated sub dir is empty" test -z "$(ls -A dir/sub)"
mkdir -p x/y/z && rmdir x/y/z x/y x
check "mkdir -p / rmdir of upper dirs" test ! -e x

# Rename
mv new.txt renamed.txt
check "rename upper file" sh -c "test -e renamed.txt && test ! -e new.txt"
mv file.txt moved.txt
check "rename lower file leaves whiteout" sh -c "test -c '$UP/file.txt' && test \"\$(cat moved.txt)\" = 'lower one' && test ! -e file.txt"
mv dir dir2
check "rename merged lower directory keeps contents" sh -c "test \"\$(cat dir2/a)\" = 'in dir' && test \"\$(cat dir2/b)\" = 'in dir2' && test ! -e dir"
check "renamed dir is opaque in upper" sh -c "getfattr --only-values -n trusted.overlay.opaque '$UP/dir2' | grep -q y"
echo one > ex1; echo two > ex2
python3 -c "
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
r = libc.renameat2(-100, b'ex1', -100, b'ex2', 2)
assert r == 0, os.strerror(ctypes.get_errno())
r = libc.renameat2(-100, b'ex1', -100, b'ex2', 1)
assert r == -1 and ctypes.get_errno() == 17, 'NOREPLACE must fail with EEXIST'
" && echo "ok   renameat2 EXCHANGE and NOREPLACE" || { echo "FAIL renameat2"; FAILURES=$((FAILURES+1)); }
expect_eq "exchange swapped contents" "two one" "$(cat ex1) $(cat ex2)"
mkdir updir && echo in-updir > updir/g
python3 -c "
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
for a, b in ((b'xlow', b'ex1'), (b'xdir', b'updir')):
    assert libc.renameat2(-100, a, -100, b, 2) == 0, os.strerror(ctypes.get_errno())
" && echo "ok   renameat2 EXCHANGE of lower and upper names" || { echo "FAIL renameat2 EXCHANGE with lower names"; FAILURES=$((FAILURES+1)); }
expect_eq "exchange of a lower file with an upper file" "two low" "$(cat xlow) $(cat ex1)"
expect_eq "exchange of a lower directory with an upper one" "in-updir in-xdir" "$(cat xdir/g) $(cat updir/f)"
check "exchanged lower names left the lower layer untouched" sh -c "test \"\$(cat '$L1/xlow' '$L1/xdir/f')\" = 'low
in-xdir'"
expect_eq "the lower entries stay hidden after exchange" "" "$(ls xdir | grep -x f)"
mkdir rd1 rd2; touch rd2/f
check "rename dir over non-empty dir fails" sh -c "! mv -T rd1 rd2 2>/dev/null"

# Links, symlinks, fifos, devices
echo linked > hl1
ln hl1 hl2
expect_eq "hard link shares inode" "$(stat -c %i hl1)" "$(stat -c %i hl2)"
expect_eq "hard link count" "2" "$(stat -c %h hl1)"
rm hl1
expect_eq "hard link survives unlink of the other name" "linked" "$(cat hl2)"
# A rename moves the name it is given, also of a file with several names (the daemon knew it
# by its first), and so does RENAME_EXCHANGE; `ln -f` links to a temporary name and renames it.
echo one > hn-a && ln hn-a hn-b && mkdir -p hn-dir && mv hn-b hn-dir/hn-c
expect_eq "renaming the second name of a hard link moves that name" "hn-a one hn-dir/hn-c one" \
    "$(for f in hn-a hn-dir/hn-c; do echo "$f $(cat $f 2>&1)"; done | tr '\n' ' ' | sed 's/ $//')"
expect_eq "... in the upper too" "hn-a hn-dir/hn-c" "$(cd "$UP" && ls -d hn-a hn-b hn-dir/hn-c 2>/dev/null | tr '\n' ' ' | sed 's/ $//')"
echo two > hn-x && ln -f hn-a hn-x
expect_eq "ln -f over a file links the source under the new name and keeps the source" "one one 3" \
    "$(cat hn-a 2>&1) $(cat hn-x 2>&1) $(stat -c %h hn-a)"
echo other > hn-o && ln hn-a hn-y
python3 -c "
import ctypes; libc = ctypes.CDLL(None, use_errno=True)
assert libc.renameat2(-100, b'hn-y', -100, b'hn-o', 2) == 0, ctypes.get_errno()  # RENAME_EXCHANGE"
expect_eq "RENAME_EXCHANGE of a hard link's second name swaps those names" "hn-a:one hn-o:one hn-y:other" \
    "$(for f in hn-a hn-o hn-y; do echo "$f:$(cat "$UP/$f" 2>&1)"; done | tr '\n' ' ' | sed 's/ $//')"
ln moved.txt hlower
expect_eq "hard link of lower file (copy-up first)" "lower one" "$(cat hlower)"
expect_eq "two names of one lower inode share st_ino" "$(stat -c %i lh1)" "$(stat -c %i lh2)"
echo changed > lh2
expect_eq "a write through one name of a lower hard link changes that name" "changed" "$(cat lh2)"
expect_eq "... and not the other name" "shared" "$(cat lh1)"
check "... nor the lower layer" test "$(cat "$L1/lh1")" = shared
check "... and the two names, now two files, report different st_ino" test "$(stat -c %i lh1)" != "$(stat -c %i lh2)"
# The kernel caches attributes: once a name of a lower hard link is copied up (open for
# writing, or a directory above it renamed), `stat` must show the copy's own st_ino and link
# count, not the cached ones the names shared.
stat hl-cached-a hl-cached-b hl-tree/sub/peer hl-tree-peer > /dev/null
python3 -c 'import os; fd = os.open("hl-cached-a", os.O_RDWR); os.pwrite(fd, b"p", 0); os.close(fd)'
expect_eq "a lower hard-link name written to shows its copy's st_ino and nlink at once" "1 differ" \
    "$(stat -c %h hl-cached-a) $([ "$(stat -c %i hl-cached-a)" != "$(stat -c %i hl-cached-b)" ] && echo differ)"
mv hl-tree hl-tree2
expect_eq "... and one in a directory renamed as a tree" "1 differ" \
    "$(stat -c %h hl-tree2/sub/peer) $([ "$(stat -c %i hl-tree2/sub/peer)" != "$(stat -c %i hl-tree-peer)" ] && echo differ)"
mv hltree hltree2
expect_eq "a directory renamed as a tree keeps a lower hard link one file (st_ino, nlink)" \
    "$(stat -c %i:2 hltree2/a)" "$(stat -c %i:%h hltree2/b)"
check "... linked in the upper too" test "$(stat -c %h "$UP/hltree2/a")" = 2
echo more >> hltree2/a
expect_eq "... so a write through one name shows through the other" "pair more" "$(cat hltree2/b | tr '\n' ' ' | sed 's/ $//')"
chmod 700 "$M"
expect_eq "chmod of the mount root" "700" "$(stat -c %a "$M")"
chmod 755 "$M"
check "unix socket" python3 -c "
import os, socket, stat
s = socket.socket(socket.AF_UNIX); s.bind('sock')
assert stat.S_ISSOCK(os.stat('sock').st_mode)
"
ln -s /nonexistent dangling
expect_eq "dangling symlink" "/nonexistent" "$(readlink dangling)"
mkfifo fifo
check "fifo" test -p fifo
(echo through-fifo > fifo &) ; expect_eq "fifo carries data" "through-fifo" "$(cat fifo)"
mknod chardev c 1 3
check "a 0/0 character device (a whiteout in the upper) is refused with EPERM, as on overlayfs" sh -c "! mknod wh0 c 0 0 2>'$WORK/wh0.err' && grep -q 'not permitted' '$WORK/wh0.err' && test ! -e wh0 && test ! -e '$UP/wh0'"
check "character device as root" sh -c "test -c chardev && test \"\$(stat -c %t:%T chardev)\" = 1:3"
check "st_ino unique across layers" sh -c "test \$(find . -xdev -printf '%i\n' | sort | uniq -d | wc -l) -le \$(find . -links +1 -type f | wc -l)"
inodes_before=$(stat -c %i moved.txt meta.txt dir2 link hl2 lh1 lh2 hltree2/a hltree2/b | tr '\n' ' ')
sync; echo 2 > /proc/sys/vm/drop_caches  # the kernel forgets the inodes; they are looked up again
expect_eq "st_ino stable after the kernel forgot the inodes" "$inodes_before" "$(stat -c %i moved.txt meta.txt dir2 link hl2 lh1 lh2 hltree2/a hltree2/b | tr '\n' ' ')"
expect_eq "statfs reports the upper's filesystem" "$(stat -f -c %b "$UP")" "$(stat -f -c %b .)"

# Concurrent writers
writers=()
for i in 1 2 3 4; do (for j in $(seq 200); do echo "w$i-$j" >> "conc$i"; done) & writers+=($!); done
wait "${writers[@]}"  # not a bare wait: the daemon is a child of this shell too
expect_eq "concurrent writers" "800" "$(cat conc1 conc2 conc3 conc4 | wc -l)"
writers=()
for i in 1 2 3 4; do (for j in $(seq 200); do echo "w$i-$j" >> conc-shared; done) & writers+=($!); done
wait "${writers[@]}"
expect_eq "concurrent appends to one file keep every line whole" "800 800" "$(wc -l < conc-shared) $(grep -cxE 'w[1-4]-[0-9]+' conc-shared)"
check "ftruncate and fchmod of an unlinked open file" python3 -c "
import os
fd = os.open('tmpfile2', os.O_CREAT | os.O_RDWR, 0o644)
os.write(fd, b'0123456789')
os.unlink('tmpfile2')
os.ftruncate(fd, 3)
os.fchmod(fd, 0o600)
st = os.fstat(fd)
assert st.st_size == 3 and (st.st_mode & 0o777) == 0o600, (st.st_size, oct(st.st_mode))
os.close(fd)
"
check "unlinked open file still readable" python3 -c "
import os
f = open('tmpfile', 'w+'); f.write('still here'); f.flush()
os.unlink('tmpfile'); f.seek(0)
assert f.read() == 'still here'
assert os.fstat(f.fileno()).st_size == 10
"

# git inside the mount
check "git init/add/commit" sh -c "mkdir repo && cd repo && git init -q && git config user.email t@t && git config user.name t && echo x > f && git add f && git commit -qm one && git log --oneline | grep -q one && git status --porcelain | wc -l | grep -q '^0$'"

# make -j inside the mount
mkdir proj
for i in $(seq 1 40); do printf 'int f%d(void){return %d;}\n' $i $i > proj/f$i.c; done
{ printf 'int main(void){return 0;}\n'; } > proj/main.c
cat > proj/Makefile <<'MK'
SRCS := $(wildcard *.c)
OBJS := $(SRCS:.c=.o)
prog: $(OBJS)
	$(CC) -o $@ $^
%.o: %.c
	$(CC) -c -O0 -o $@ $<
MK
check "make -j2 builds a C project" sh -c "cd proj && make -s -j2 && ./prog"

# Set-ID bits (HANDLE_KILLPRIV_V2 leaves this to the daemon): a write or truncate by a user
# without CAP_FSETID clears setuid, and setgid when the group may execute; root's writes keep them.
echo data > suid-file && chmod 6777 suid-file
setpriv --reuid=65534 --regid=65534 --clear-groups sh -c 'echo more >> suid-file'
expect_eq "an unprivileged write clears setuid and setgid" "777" "$(stat -c %a suid-file)"
echo data > sgid-noexec && chmod 2666 sgid-noexec
setpriv --reuid=65534 --regid=0 --clear-groups sh -c 'echo more >> sgid-noexec'
expect_eq "setgid stays when the group may not execute and the writer is in it" "2666" "$(stat -c %a sgid-noexec)"
setpriv --reuid=65534 --regid=65534 --groups=0 sh -c 'echo more >> sgid-noexec'
expect_eq "... also through a supplementary group" "2666" "$(stat -c %a sgid-noexec)"
setpriv --reuid=65534 --regid=65534 --clear-groups sh -c 'echo more >> sgid-noexec'
expect_eq "... and goes when the writer is not in the group (Linux 6.3+)" "666" "$(stat -c %a sgid-noexec)"
# chown(f, -1, -1) clears setuid, and setgid where the group may execute, as on ext4 and
# overlayfs (the kernel flags no chown without an id for the daemon; with the writeback cache
# such a SETATTR is the kernel's own and keeps the bits: documented).
echo c > chown-none && chmod 6755 chown-none && echo c > chown-none-g && chmod 2644 chown-none-g
python3 -c 'import os; os.chown("chown-none", -1, -1); os.chown("chown-none-g", -1, -1)'
if [[ " $* " == *" --writeback-cache "* ]]; then want="6755 2644"; else want="755 2644"; fi
expect_eq "chown(f, -1, -1) clears the set-ID bits a chown clears" "$want" "$(stat -c %a chown-none chown-none-g | tr '\n' ' ' | sed 's/ $//')"
# A file made setuid while open for writing (with passthrough) opens for writing again (that
# open must pass through like the first; it failed with ETXTBSY, and before that EIO), and a
# writer without CAP_FSETID clears the bit, as on overlayfs.
mkdir suid-dir && chmod 1777 suid-dir
expect_eq "a file made setuid while open for writing opens for writing again; the bit goes" "ok 777" \
    "$(setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 -c '
import os
first = os.open("suid-dir/twice", os.O_WRONLY | os.O_CREAT, 0o777)
os.fchmod(first, 0o4777)
second = os.open("suid-dir/twice", os.O_WRONLY | os.O_APPEND)
os.write(second, b"x"); os.close(second); os.close(first); print("ok")' 2>&1) $(stat -c %a suid-dir/twice)"
echo data > suid-trunc && chmod 4777 suid-trunc
setpriv --reuid=65534 --regid=65534 --clear-groups truncate -s 1 suid-trunc
expect_eq "an unprivileged truncate clears setuid" "777" "$(stat -c %a suid-trunc)"
check "a file created setuid and setgid keeps both bits and the caller's owner" python3 -c "
import os
os.umask(0)
os.close(os.open('created-setid', os.O_CREAT | os.O_WRONLY, 0o6755))
st = os.stat('created-setid')
assert oct(st.st_mode & 0o7777) == '0o6755' and st.st_uid == 0, (oct(st.st_mode), st.st_uid)
"
# Objects created by another user are that user's (the daemon creates them with the caller's
# fsuid/fsgid); a setgid directory passes its group and its setgid bit on; a directory the caller
# may write only through a supplementary group is writable (access is the kernel's check on the
# mount, not the daemon's identity).
mkdir shared && chmod 1777 shared
# (relative paths: dash's cd goes through the absolute path, and $WORK is 0700)
setpriv --reuid=65534 --regid=65533 --clear-groups sh -c 'echo x > shared/file && mkdir shared/dir && ln -s file shared/link && mkfifo shared/fifo'
for name in file dir link fifo; do
    expect_eq "a $name created by another user is that user's" "65534:65533" "$(stat -c %u:%g "shared/$name")"
    expect_eq "... in the upper too" "65534:65533" "$(stat -c %u:%g "$UP/shared/$name")"
done
mkdir sgdir && chgrp 42 sgdir && chmod 2777 sgdir
setpriv --reuid=65534 --regid=65533 --clear-groups sh -c 'echo x > sgdir/file && mkdir sgdir/sub'
expect_eq "a setgid directory gives a new file its group" "65534:42" "$(stat -c %u:%g sgdir/file)"
expect_eq "... and a new directory its group" "65534:42" "$(stat -c %u:%g sgdir/sub)"
check "... and its setgid bit" test -g sgdir/sub
mkdir groupdir && chgrp 42 groupdir && chmod 0770 groupdir
check "a directory writable through a supplementary group takes new files" \
    setpriv --reuid=65534 --regid=65533 --groups=42 sh -c 'echo x > groupdir/file && mkdir groupdir/sub'
expect_eq "... owned by the caller" "65534:65533" "$(stat -c %u:%g groupdir/file 2>&1)"
check "a user outside the group may not" sh -c "! setpriv --reuid=65534 --regid=65533 --clear-groups sh -c 'echo x > groupdir/other' 2>/dev/null"
# POSIX ACLs count in the kernel's permission checks (FUSE_POSIX_ACL), as on overlayfs: a
# lower file's ACL before and after copy-up, one set through the mount, a default ACL that
# replaces the umask for new objects (FUSE_DONT_MASK) while elsewhere the umask applies.
as_nobody() { setpriv --reuid=65534 --regid=65533 --clear-groups "$@"; }
expect_eq "a lower file's ACL grants read to a user the mode does not" "acl-secret" "$(as_nobody cat acl-file 2>&1)"
check "... but not write" sh -c "! setpriv --reuid=65534 --regid=65533 --clear-groups sh -c 'echo x >> acl-file' 2>/dev/null"
setfacl -m u:65534:rw acl-file
expect_eq "an ACL set through the mount copies the file up and holds there" "user:65534:rw-" \
    "$(getfacl -ncp "$UP/acl-file" 2>/dev/null | grep '^user:65534:')"
check "... and grants write" as_nobody sh -c 'echo more >> acl-file'
expect_eq "... to the copy" "acl-secret more" "$(cat acl-file | tr '\n' ' ' | sed 's/ $//')"
setfacl -x u:65534 acl-file
check "removing the entry takes the access away again" sh -c "! setpriv --reuid=65534 --regid=65533 --clear-groups cat acl-file >/dev/null 2>&1"
(umask 022 && touch acl-dir/new && mkdir acl-dir/sub && touch plain-umask)
expect_eq "a default ACL replaces the umask for a new file" "664" "$(stat -c %a acl-dir/new)"
expect_eq "... and a new directory, which inherits it" "775 default:user:65534:rwx" \
    "$(stat -c %a acl-dir/sub) $(getfacl -ncp acl-dir/sub 2>/dev/null | grep '^default:user:65534:')"
expect_eq "... and grants the named user" "user:65534:rwx" "$(getfacl -ncp acl-dir/new 2>/dev/null | grep '^user:65534:' | cut -f1)"
check "... who may write the file" as_nobody sh -c 'echo y > acl-dir/new'
expect_eq "elsewhere the umask applies" "644" "$(stat -c %a plain-umask)"
# An ACL set by an owner outside the file's group clears setgid (FUSE_SETXATTR_EXT).
echo g > acl-sgid && chown 65534:0 acl-sgid && chmod 2755 acl-sgid
as_nobody setfacl -m u:65534:rwx acl-sgid
expect_eq "an ACL set by an owner outside the file's group clears setgid" "775" "$(stat -c %a acl-sgid)"
# O_TMPFILE (FUSE_TMPFILE): a file without a name in a lower directory, linked into place by
# linkat(AT_SYMLINK_FOLLOW) on /proc/self/fd; one opened with O_EXCL may not be linked; one
# never linked leaves nothing behind. As another user the file is that user's.
cat > "$WORK/tmpfile.py" <<'PY'
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
def link_fd(fd, path):
    if libc.linkat(-100, f"/proc/self/fd/{fd}".encode(), -100, path.encode(), 0x400) != 0:  # AT_FDCWD, AT_SYMLINK_FOLLOW
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()), path)
directory, name = sys.argv[1], sys.argv[2]
fd = os.open(directory, os.O_TMPFILE | os.O_RDWR, 0o640)
os.write(fd, b"made unnamed")
assert os.fstat(fd).st_nlink == 0
assert sorted(os.listdir(directory)) == sorted(set(os.listdir(directory)) - {name})
link_fd(fd, f"{directory}/{name}")
assert os.fstat(fd).st_ino == os.stat(f"{directory}/{name}").st_ino, "the linked name is the open file"
os.write(fd, b", then named")
os.close(fd)
fd = os.open(directory, os.O_TMPFILE | os.O_WRONLY | os.O_EXCL, 0o600)
try:
    link_fd(fd, f"{directory}/{name}.excl")
    sys.exit("an O_EXCL temporary file was linked")
except OSError as error:
    assert error.errno == 2, error
os.write(fd, b"never named")
os.close(fd)
print("ok")
PY
before_tmpfile=$(ls -A "$UP/tmpf-dir" 2>/dev/null | wc -l)
expect_eq "an O_TMPFILE file is linked into a lower directory, O_EXCL stays unnamed" "ok" "$(python3 "$WORK/tmpfile.py" tmpf-dir tmp-named 2>&1)"
expect_eq "... with what was written before and after the link" "made unnamed, then named" "$(cat tmpf-dir/tmp-named)"
expect_eq "... its mode less the umask" "640" "$(stat -c %a tmpf-dir/tmp-named)"
expect_eq "... and the files never named left nothing in the upper" "$((before_tmpfile + 1))" "$(ls -A "$UP/tmpf-dir" | wc -l)"
expect_eq "another user's O_TMPFILE file is that user's" "ok 65534:65533" \
    "$(as_nobody /usr/bin/python3 - shared tmp-nobody < "$WORK/tmpfile.py" 2>&1) $(stat -c %u:%g shared/tmp-nobody)"
# Paths longer than PATH_MAX: the daemon opens their parents a piece at a time (the kernel
# sends names, the daemon builds the paths). Copy-up of 25 parents, create, rename, symlink,
# xattr, unlink (a whiteout), and a rename of the deep lower tree as a whole.
expect_eq "a path longer than PATH_MAX reads, copies up, creates, renames and removes" "ok" "$(python3 - <<'PY' 2>&1
import os
top = os.getcwd()
deep = [("0" * 200 + str(i))[:201] for i in range(10, 35)]
for name in deep: os.chdir(name)
assert open("deep.txt").read() == "deep\n"
with open("deep.txt", "a") as f: f.write("more\n")
assert open("deep.txt").read() == "deep\nmore\n"
os.mkdir("sub"); open("sub/new", "w").write("new")
os.rename("sub/new", "moved"); os.symlink("moved", "link")
os.setxattr("moved", "user.k", b"v")
assert os.getxattr("link", "user.k") == b"v" and open("link").read() == "new"
os.unlink("deep.txt")
assert sorted(os.listdir(".")) == ["link", "moved", "sub"], os.listdir(".")
os.chdir(top)
os.rename(deep[0], "deep-renamed")
os.chdir("deep-renamed")
for name in deep[1:]: os.chdir(name)
assert open("moved").read() == "new" and not os.path.exists("deep.txt")
print("ok")
PY
)"
# A reader that keeps a lower file open while another program copies it up and changes it
# reads the new data, as on overlayfs (4.19+): its READs follow the copy-up. A read-only
# sqlite connection sees another connection's commit.
expect_eq "a reader holding a lower file open sees another program's change" "kept open:CHANGEDen wh" "$(python3 - <<'PY' 2>&1
import os
fd = os.open("held-reader", os.O_RDONLY)
first = os.pread(fd, 9, 0).decode()
with open("held-reader", "r+") as f: f.write("CHANGED")
print(f"{first}:{os.pread(fd, 12, 0).decode()}")
PY
)"
expect_eq "a read-only sqlite reader sees a writer's commit" "100 1100" "$(python3 - <<'PY' 2>&1
import sqlite3
reader = sqlite3.connect("file:cache.db?mode=ro", uri=True)
before = reader.execute("select count(*) from t").fetchone()[0]
writer = sqlite3.connect("cache.db")
writer.executemany("insert into t values(?)", [(i,) for i in range(1000)]); writer.commit()
print(before, reader.execute("select count(*) from t").fetchone()[0])
PY
)"
# A file deleted while open is still changed through its descriptor, as on overlayfs: fchmod,
# ftruncate, f*xattr and writes, for a new file and for lower files (copied up unnamed), opened
# read-only or read-write.
expect_eq "changes through the descriptor of a deleted file" "ok" "$(python3 - <<'PY' 2>&1
import os
for name, flags in (("gone-ro", os.O_RDONLY), ("gone-rw", os.O_RDWR), ("gone-new", os.O_RDWR)):
    fd = os.open(name, flags)
    os.unlink(name)
    os.fchmod(fd, 0o640)
    os.setxattr(fd, "user.k", b"v")
    assert os.getxattr(fd, "user.k") == b"v" and "user.k" in os.listxattr(fd), name
    os.removexattr(fd, "user.k")
    assert os.fstat(fd).st_mode & 0o777 == 0o640, (name, oct(os.fstat(fd).st_mode))
    if flags == os.O_RDWR:
        os.ftruncate(fd, 3)
        os.pwrite(fd, b"X", 0)
        assert os.pread(fd, 10, 0) == b"Xow", (name, os.pread(fd, 10, 0))
        assert os.fstat(fd).st_size == 3, name
    else:
        assert os.pread(fd, 5, 0) == b"lower", name
    os.close(fd)
    assert not os.path.exists(name), name
print("ok")
PY
)"
check "removing an xattr a lower file does not have fails and copies nothing up" sh -c "! setfattr -x user.none xattr-none 2>/dev/null && test ! -e '$UP/xattr-none'"
echo data > suid-root && chmod 4755 suid-root && echo more >> suid-root
expect_eq "root's write keeps setuid" "4755" "$(stat -c %a suid-root)"

cd /
unmount_scorpio "$M" || FAILURES=$((FAILURES+1))
check "no errors in daemon log" sh -c "! grep -E ' (error|critical) ' '$WORK/daemon.log'"
finish

#!/usr/bin/env bash
# Dicfuse against real servers started here: file:// (git upload-pack over stdio), git://
# (git daemon on loopback) and http:// (git http-backend under lighttpd). The mounted tree must be byte-for-byte the commit; listing must not
# fetch blob contents when the server tells sizes (object-info); reading one file fetches that
# blob only (--prefetch none); with the server gone, cached files still read and uncached ones
# fail with EIO without hanging the mount.
source "$(dirname "$0")/lib.sh"
preflight
new_workdir
R=$WORK/served/repo.git M=$WORK/mnt
mkdir -p "$M" "$WORK/src"
(
    set -e
    cd "$WORK/src"
    git init -q -b main .
    git config user.email t@example.com; git config user.name Tester
    mkdir -p dir/nested empty-parent/x
    echo "plain file" > plain.txt
    printf '#!/bin/sh\necho run\n' > run.sh; chmod 755 run.sh
    : > empty.txt
    ln -s plain.txt link-to-plain
    ln -s ../plain.txt dir/up-link
    printf 'crlf\r\nline\r\n' > dir/crlf.txt
    echo '*.txt text eol=crlf' > .gitattributes
    head -c 300000 /dev/urandom > dir/nested/big.bin
    echo small > dir/nested/small.txt
    mkdir -p walk/a walk/b walk/c
    echo one > walk/a/one.txt; echo two > walk/b/two.txt; echo three > walk/c/three.txt
    for i in $(seq 30); do echo "file $i" > "dir/f$i.txt"; done
    echo deep > empty-parent/x/deep.txt
    printf 'non-utf8\n' > "$(printf 'name-\xff\xfe.txt')"
    git add -A
    git update-index --add --cacheinfo 160000,0123456789abcdef0123456789abcdef01234567,submodule
    git commit -qm initial
) || { echo "FAIL: cannot build the test repository"; exit 1; }
git clone -q --bare "$WORK/src" "$R"
git -C "$R" config uploadpack.allowFilter true
git -C "$R" config uploadpack.allowAnySHA1InWant true
git -C "$R" config transfer.advertiseObjectInfo true
COMMIT=$(git -C "$R" rev-parse HEAD)
SYMLINKS=$(git -C "$R" ls-tree -r HEAD | grep -c '^120000')
PORT=$((20000 + RANDOM % 20000))
git daemon --verbose --reuseaddr --export-all --listen=127.0.0.1 --port=$PORT --base-path="$WORK/served" "$WORK/served" >"$WORK/gitd.log" 2>&1 &
GITD=$!
PIDS+=("$GITD")
for _ in $(seq 50); do git ls-remote "git://127.0.0.1:$PORT/repo.git" >/dev/null 2>&1 && break; sleep 0.1; done
# Smart HTTP: git http-backend as a CGI of lighttpd.
HPORT=$((PORT + 1))
git_http_config "$HPORT" git /usr/lib/git-core/git-http-backend > "$WORK/lighttpd.conf"
start_lighttpd "$WORK/lighttpd.conf" "http://127.0.0.1:$HPORT/git/repo.git"

# Smart HTTP over TLS: the same lighttpd with mod_openssl and a certificate made here; the
# client trusts it through SCORPIO_HTTP_CA_FILE only.
SPORT=$((PORT + 2))
mkdir -p "$WORK/tls"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/tls/key.pem" -out "$WORK/tls/cert.pem" -days 1 \
    -subj /CN=127.0.0.1 -addext "subjectAltName=IP:127.0.0.1" >/dev/null 2>&1
git_http_config "$SPORT" git /usr/lib/git-core/git-http-backend | sed 's/"mod_setenv")/"mod_setenv", "mod_openssl")/' > "$WORK/lighttpd-tls.conf"
printf 'ssl.engine = "enable"\nssl.pemfile = "%s"\nssl.privkey = "%s"\n' "$WORK/tls/cert.pem" "$WORK/tls/key.pem" >> "$WORK/lighttpd-tls.conf"
start_lighttpd "$WORK/lighttpd-tls.conf" "https://127.0.0.1:$SPORT/git/repo.git" "GIT_SSL_CAINFO=$WORK/tls/cert.pem"
HTTPS_URL="https://127.0.0.1:$SPORT/git/repo.git"
check "https: an untrusted certificate is refused with one line naming the cause" sh -c "! '$BIN' --mount '$M' --repo '$HTTPS_URL' --cache '$WORK/cache-untrusted' --upper '$WORK/up-untrusted' 2>'$WORK/tls.err'; grep -qi 'certificate' '$WORK/tls.err' && test \$(wc -l < '$WORK/tls.err') -eq 1"
export SCORPIO_HTTP_CA_FILE=$WORK/tls/cert.pem

# A server that does not allow filters gets a clear refusal, not a full download.
git clone -q --bare "$WORK/src" "$WORK/served/nofilter.git"

# Compare the mount with the commit as git itself shows it.
compare_with_commit() {
    local mnt=$1
    python3 - "$R" "$mnt" <<'PY'
import os, stat, subprocess, sys
repo, mnt = sys.argv[1].encode(), sys.argv[2].encode()
listing = subprocess.run([b"git", b"-C", repo, b"ls-tree", b"-r", b"-z", b"--full-tree", b"HEAD"], check=True, capture_output=True).stdout
problems, count = [], 0
for record in listing.split(b"\0"):
    if not record: continue
    meta, path = record.split(b"\t", 1)
    mode, kind, oid = meta.split(b" ")
    full = os.path.join(mnt, path)
    count += 1
    st = os.lstat(full)
    if mode == b"160000":
        if not stat.S_ISDIR(st.st_mode) or os.listdir(full): problems.append((path, "gitlink must be an empty dir"))
        continue
    blob = subprocess.run([b"git", b"-C", repo, b"cat-file", b"blob", oid], check=True, capture_output=True).stdout
    if mode == b"120000":
        if not stat.S_ISLNK(st.st_mode) or os.readlink(full) != blob: problems.append((path, "symlink"))
        continue
    want_mode = 0o755 if mode == b"100755" else 0o644
    if not stat.S_ISREG(st.st_mode) or stat.S_IMODE(st.st_mode) != want_mode: problems.append((path, "mode %o" % st.st_mode))
    if st.st_size != len(blob): problems.append((path, "size %d != %d" % (st.st_size, len(blob))))
    if open(full, "rb").read() != blob: problems.append((path, "content"))
# Nothing extra in the mount either.
seen = set()
for top, dirs, files in os.walk(mnt):
    for name in files + [d for d in dirs if os.path.islink(os.path.join(top, d))]:
        seen.add(os.path.relpath(os.path.join(top, name), mnt))
expected = {r.split(b"\t", 1)[1] for r in listing.split(b"\0") if r and not r.startswith(b"160000")}
if seen != expected: problems.append(("tree", "extra %s missing %s" % (seen - expected, expected - seen)))
print(f"{count} entries compared; problems: {problems}")
sys.exit(1 if problems else 0)
PY
}
# A read goes on once its blob is stored, while the rest of its batch may still arrive (and be
# logged after): wait until the mount at $M fetches nothing before counting.
settle_fetches() {
    mountpoint -q "$M" || return 0
    local progress
    for _ in $(seq 100); do
        progress=$(getfattr --only-values -n user.scorpio.progress "$M" 2>&1)
        case "$progress" in
            *inflight=0*) return 0 ;;
            *inflight=*) sleep 0.1 ;;
            *) echo "user.scorpio.progress on $M says no inflight=: $progress" >&2; return 1 ;;
        esac
    done
    echo "fetches still in flight on $M after 10 s" >&2
}
blobs_fetched() {
    settle_fetches
    awk '/fetched blobs/ { for (i=1;i<=NF;i++) if ($i ~ /^count=/) { split($i,a,"="); s+=a[2] } } END { print s+0 }' "$1"
}

for URL in "file://$R" "git://127.0.0.1:$PORT/repo.git" "http://127.0.0.1:$HPORT/git/repo.git" "$HTTPS_URL"; do
    CACHE=$WORK/cache-$(echo "$URL" | cut -c1-5)
    mount_scorpio "$M" "$WORK/d.log" --repo "$URL" --cache "$CACHE" --upper "$WORK/up-$RANDOM" --prefetch none || exit 1
    find "$M" -printf '%s %m %p\n' > /dev/null
    expect_eq "$URL: a stat walk fetches no blob contents (sizes from object-info)" "0" "$(blobs_fetched "$WORK/d.log")"
    # Seven directories hold files; walk/a, walk/b and walk/c are asked for together, and dir
    # with its neighbours walk and empty-parent.
    expect_eq "$URL: a stat walk asks for sizes once per directory of siblings" "5" "$(grep -c 'learned blob sizes' "$WORK/d.log")"
    if [[ $URL == git://* ]]; then
        # One object-info per directory, plus ls-refs and the tree fetch, over reused connections.
        connections=$(grep -c "Connection from" "$WORK/gitd.log")
        directories=$(find "$M" -type d | wc -l)
        check "$URL: connections are reused ($connections connections for $directories directories)" test "$connections" -le 3
    fi
    ls -lR "$M" > /dev/null
    # ls -l prints symlink targets, and a symlink's target is its blob: those two are fetched.
    expect_eq "$URL: ls -lR fetches only the symlink targets" "$SYMLINKS" "$(blobs_fetched "$WORK/d.log")"
    cat "$M/plain.txt" > /dev/null
    expect_eq "$URL: reading one file fetches exactly that blob" "$((SYMLINKS + 1))" "$(blobs_fetched "$WORK/d.log")"
    check "$URL: mounted tree is byte-for-byte the commit" compare_with_commit "$M"
    # .gitattributes asks for CRLF in checkouts; the mount shows the raw (LF) blob, as documented.
    expect_eq "$URL: raw blob content, no eol conversion" "0" "$(grep -c $'\r' "$M/plain.txt")"
    echo change >> "$M/plain.txt"
    check "$URL: the mount is writable through the overlay" grep -q change "$M/plain.txt"
    unmount_scorpio "$M"
    rm -f "$WORK/d.log"
done

# With the default --prefetch siblings, a readlink's miss takes the other symlinks along (those of
# every stored tree, in one request), never file contents: ls -lR still fetches no file.
mount_scorpio "$M" "$WORK/lslr.log" --repo "git://127.0.0.1:$PORT/repo.git" --cache "$WORK/cache-lslr" --upper "$WORK/up-lslr" || exit 1
ls -lR "$M" > /dev/null
expect_eq "default prefetch: ls -lR fetches the symlink targets and no file" "$SYMLINKS" "$(blobs_fetched "$WORK/lslr.log")"
expect_eq "default prefetch: ... in one request" "1" "$(grep -c 'fetched blobs' "$WORK/lslr.log")"
expect_eq "default prefetch: the targets are right" "plain.txt ../plain.txt" "$(readlink "$M/link-to-plain") $(readlink "$M/dir/up-link")"
unmount_scorpio "$M"

mkdir -p "$WORK/not-a-repo"
check "a local --repo that is no git repository: one line, not retried" sh -c "! '$BIN' --mount '$M' --repo '$WORK/not-a-repo' --cache '$WORK/cache-nr' 2>'$WORK/nr.err'; grep -q 'not a git repository' '$WORK/nr.err' && test \$(wc -l < '$WORK/nr.err') -eq 1"
check "a missing local --repo: one line" sh -c "! '$BIN' --mount '$M' --repo '$WORK/missing-repo' --cache '$WORK/cache-nr' 2>'$WORK/nr2.err'; grep -q 'no such repository' '$WORK/nr2.err' && test \$(wc -l < '$WORK/nr2.err') -eq 1"
check "a server without the filter capability is refused with a clear error" sh -c "! '$BIN' --mount '$M' --repo 'git://127.0.0.1:$PORT/nofilter.git' --cache '$WORK/cache-nf' --upper '$WORK/up-nf' 2>'$WORK/nf.err'; grep -q 'filter capability' '$WORK/nf.err' && test \$(wc -l < '$WORK/nf.err') -eq 1"
check "nothing was mounted or downloaded for it" sh -c "! grep -q ' $M ' /proc/mounts && test -z \"\$(find '$WORK/cache-nf/blobs' -type f 2>/dev/null)\""

# ssh:// through a private sshd on loopback (its own host key, config and authorized key),
# reached with GIT_SSH_COMMAND as git itself would be.
SSHPORT=$((PORT + 4))
mkdir -p "$WORK/ssh"
ssh-keygen -q -t ed25519 -N '' -f "$WORK/ssh/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$WORK/ssh/client_key"
cp "$WORK/ssh/client_key.pub" "$WORK/ssh/authorized_keys"
cat > "$WORK/ssh/sshd_config" <<CONF
Port $SSHPORT
ListenAddress 127.0.0.1
HostKey $WORK/ssh/host_key
AuthorizedKeysFile $WORK/ssh/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
StrictModes no
UsePAM no
AcceptEnv GIT_PROTOCOL
PidFile $WORK/ssh/sshd.pid
CONF
mkdir -p /run/sshd
/usr/sbin/sshd -D -e -f "$WORK/ssh/sshd_config" >"$WORK/ssh/sshd.log" 2>&1 &
PIDS+=("$!")
export GIT_SSH_COMMAND="ssh -i $WORK/ssh/client_key -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
for _ in $(seq 50); do git ls-remote "ssh://root@127.0.0.1:$SSHPORT$R" >/dev/null 2>&1 && break; sleep 0.1; done
mount_scorpio "$M" "$WORK/ssh.log" --repo "ssh://root@127.0.0.1:$SSHPORT$R" --cache "$WORK/cache-ssh" --upper "$WORK/up-ssh" --prefetch none || exit 1
find "$M" -printf '%s %m %p\n' > /dev/null
expect_eq "ssh: a stat walk fetches no blob contents" "0" "$(blobs_fetched "$WORK/ssh.log")"
check "ssh: mounted tree is byte-for-byte the commit" compare_with_commit "$M"
unmount_scorpio "$M"
# scp-style host:path has no port: the port comes from the ssh command line.
export GIT_SSH_COMMAND="$GIT_SSH_COMMAND -p $SSHPORT"
mount_scorpio "$M" "$WORK/scp.log" --repo "root@127.0.0.1:$R" --cache "$WORK/cache-scp" --upper "$WORK/up-scp" --prefetch none || exit 1
expect_eq "scp-style host:path: a file reads" "plain file" "$(cat "$M/plain.txt")"
unmount_scorpio "$M"
unset GIT_SSH_COMMAND

# A server without protocol v2 (a smart-HTTP server answering with git's v0 advertisement):
# refused with one line that says so.
V0PORT=$((PORT + 3))
python3 - "$R" "$V0PORT" >"$WORK/v0.log" 2>&1 <<'PY' &
import http.server, subprocess, sys
repo, port = sys.argv[1], int(sys.argv[2])
class V0(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        refs = subprocess.run(["git", "upload-pack", "--stateless-rpc", "--advertise-refs", repo],
                              capture_output=True, env={"PATH": "/usr/bin:/bin"}).stdout
        body = b"001e# service=git-upload-pack\n0000" + refs
        self.send_response(200)
        self.send_header("Content-Type", "application/x-git-upload-pack-advertisement")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args): pass
http.server.HTTPServer(("127.0.0.1", port), V0).serve_forever()
PY
PIDS+=("$!")
for _ in $(seq 50); do python3 -c "import socket; socket.create_connection(('127.0.0.1', $V0PORT))" 2>/dev/null && break; sleep 0.1; done
check "a server without protocol v2 is refused with one line saying so" sh -c "! '$BIN' --mount '$M' --repo 'http://127.0.0.1:$V0PORT/repo.git' --cache '$WORK/cache-v0' --upper '$WORK/up-v0' 2>'$WORK/v0.err'; grep -q 'does not speak git protocol v2' '$WORK/v0.err' && test \$(wc -l < '$WORK/v0.err') -eq 1"

# A full disk while caching: the read fails with ENOSPC and a log line naming the path, the
# mount stays up, and no partial or empty file is left in the content store.
mkdir -p "$WORK/small"
mount -t tmpfs -o size=160k tmpfs "$WORK/small"
MOUNTS+=("$WORK/small")
mount_scorpio "$M" "$WORK/full.log" --repo "git://127.0.0.1:$PORT/repo.git" --cache "$WORK/small/cache" --upper "$WORK/up-full" --prefetch none || exit 1
check "disk full: reading a blob that does not fit fails with ENOSPC" sh -c "cat '$M/dir/nested/big.bin' 2>&1 >/dev/null | grep -q 'No space left on device'"
check "disk full: the log says the disk is full, with the path" sh -c "grep 'No space left on device' '$WORK/full.log' | grep -q big.bin"
bad_blobs() {  # blobs whose size differs from git's, and anything left in tmp/
    find "$WORK/small/cache/tmp" -type f
    find "$WORK/small/cache/blobs" -type f | while read -r f; do
        id=$(basename "$(dirname "$f")")$(basename "$f")
        [ "$(stat -c %s "$f")" = "$(git -C "$R" cat-file -s "$id")" ] || echo "$f"
    done
}
expect_eq "disk full: no partial or empty file in the content store" "" "$(bad_blobs)"
check "disk full: the mount still answers" ls "$M/dir"
unmount_scorpio "$M"
umount "$WORK/small"
# A cache too small for the commit's trees: the mount fails with one line naming the cache and
# the error, nothing is mounted, and the commit is not marked as fetched.
mkdir -p "$WORK/tiny"
mount -t tmpfs -o size=16k tmpfs "$WORK/tiny"
MOUNTS+=("$WORK/tiny")
check "disk full at mount: one line naming the cache and the error" sh -c "! '$BIN' --mount '$M' --repo 'git://127.0.0.1:$PORT/repo.git' --cache '$WORK/tiny/cache' --upper '$WORK/up-tiny' 2>'$WORK/tiny.err'; grep -q 'cannot write the cache in $WORK/tiny/cache: No space left on device' '$WORK/tiny.err' && test \$(wc -l < '$WORK/tiny.err') -eq 1"
check "disk full at mount: nothing mounted, the commit not marked complete" sh -c "! grep -q ' $M ' /proc/mounts && test -d '$WORK/tiny/cache/complete' && test -z \"\$(ls -A '$WORK/tiny/cache/complete')\""
umount "$WORK/tiny"

# The embedded default: a plain local checkout (not bare) as --repo, no server at all.
mount_scorpio "$M" "$WORK/local.log" --repo "$WORK/src" --cache "$WORK/cache-local" --upper "$WORK/up-local" || exit 1
expect_eq "a local work tree mounts as a repository" "plain file" "$(cat "$M/plain.txt")"
unmount_scorpio "$M"

# --no-open: files are opened by the kernel alone and read through handle-less READs, which
# fetch blobs on a cold cache as OPEN did.
mount_scorpio "$M" "$WORK/noopen.log" --repo "file://$R" --cache "$WORK/cache-noopen" --upper "$WORK/up-noopen" --prefetch none --no-open || exit 1
check "--no-open: mounted tree is byte-for-byte the commit" compare_with_commit "$M"
echo change >> "$M/plain.txt"
check "--no-open: a write copies the file up" grep -q change "$WORK/up-noopen/plain.txt"
unmount_scorpio "$M"
expect_eq "--no-open: no request failed (daemon log)" "0" "$(grep -c 'fuse request failed.*errno' "$WORK/noopen.log")"

# --trees lazy: the mount fetches the commit and its root tree; each directory's tree comes on
# its first lookup, in one request with the trees of its sibling directories.
trees_fetched() { grep -c "fetched trees" "$1" || true; }
trees_received() { grep "fetched trees" "$1" | sed -n 's/.*count=\([0-9]*\).*/\1/p' | awk '{ n += $1 } END { print n + 0 }'; }
for URL in "git://127.0.0.1:$PORT/repo.git" "http://127.0.0.1:$HPORT/git/repo.git"; do
    L=$WORK/lazy-$(echo "$URL" | cut -c1-4).log
    mount_scorpio "$M" "$L" --repo "$URL" --cache "$WORK/cache-lazy-$RANDOM" --upper "$WORK/up-lazy-$RANDOM" --trees lazy || exit 1
    expect_eq "$URL lazy: mount fetched no subtree" "0" "$(trees_fetched "$L")"
    ls "$M/dir" > /dev/null
    expect_eq "$URL lazy: listing dir made one request" "1" "$(trees_fetched "$L")"
    expect_eq "$URL lazy: ... for dir and its sibling directories walk and empty-parent" "3" "$(trees_received "$L")"
    ls "$M/walk" "$M/empty-parent" > /dev/null
    expect_eq "$URL lazy: listing the siblings asked for nothing" "1" "$(trees_fetched "$L")"
    ls "$M/walk/a" > /dev/null
    ls "$M/walk/b" "$M/walk/c" > /dev/null
    expect_eq "$URL lazy: walk/a, walk/b and walk/c came in one request" "2 6" "$(trees_fetched "$L") $(trees_received "$L")"
    ls "$M/dir/nested" > /dev/null
    expect_eq "$URL lazy: listing dir/nested made one more" "3 7" "$(trees_fetched "$L") $(trees_received "$L")"
    check "$URL lazy: mounted tree is byte-for-byte the commit" compare_with_commit "$M"
    unmount_scorpio "$M"
done

# prefetch warms a subtree; cache stats reports it; cache gc evicts all but open blobs.
CACHE=$WORK/cache-prefetch
mount_scorpio "$M" "$WORK/pf.log" --repo "git://127.0.0.1:$PORT/repo.git" --cache "$CACHE" --upper "$WORK/up-pf" --prefetch none || exit 1
check "prefetch of a subtree succeeds" "$BIN" prefetch "$M" dir
DIR_BLOBS=$(git -C "$R" ls-tree -r HEAD dir | awk '{print $3}' | sort -u | wc -l)
expect_eq "prefetch fetched exactly the blobs of the subtree" "$DIR_BLOBS" "$(find "$CACHE/blobs" -type f | wc -l)"
expect_eq "prefetch fetched them in one batch request" "1" "$(grep -c 'fetched blobs' "$WORK/pf.log")"
# Paths are resolved first: a symlink is followed (the kernel answers a symlink's user.* xattrs
# itself, which sent the whole request to the read-every-file fallback), and a path outside the
# mount is refused (the fallback would read files there).
"$BIN" prefetch "$M" link-to-plain > "$WORK/pf-link.out" 2>&1
check "prefetch of a symlink prefetches its target in bulk" sh -c "grep -q 'prefetch: 1 objects' '$WORK/pf-link.out' && test -f '$CACHE/blobs/$(git -C "$R" rev-parse HEAD:plain.txt | cut -c1-2)/$(git -C "$R" rev-parse HEAD:plain.txt | cut -c3-)' || { cat '$WORK/pf-link.out'; grep -i 'prefetch\|fetched' '$WORK/pf.log' | tail -5; false; }"
expect_eq "prefetch of a path outside the mount: exit 2, one line" "2 1" \
    "$("$BIN" prefetch "$M" /etc > /dev/null 2> "$WORK/pf-out.err"; echo "$? $(wc -l < "$WORK/pf-out.err")")"
check "... saying so" grep -q "/etc: not inside the mount" "$WORK/pf-out.err"
expect_eq "prefetch of a missing path: exit 2" "2" "$("$BIN" prefetch "$M" no-such-dir > /dev/null 2>&1; echo $?)"
check "prefetch of the whole mount (no paths) succeeds" "$BIN" prefetch "$M"
ALL_BLOBS=$(git -C "$R" ls-tree -r HEAD | awk '$2 == "blob" {print $3}' | sort -u | wc -l)
expect_eq "the whole commit's blobs are cached" "$ALL_BLOBS" "$(find "$CACHE/blobs" -type f | wc -l)"
check "a second prefetch has nothing left to fetch" sh -c "'$BIN' prefetch '$M' 2>&1 | grep -q 'prefetch: 0 objects'"
check "cache stats counts the blobs" sh -c "'$BIN' cache stats --cache '$CACHE' | grep -q '^blobs: [1-9]'"
# A second open of a file is served from the page cache: the daemon does not open the blob,
# it pins it (BlobPins), and gc must keep it all the same.
cat "$M/dir/nested/big.bin" > /dev/null
exec 7< "$M/dir/nested/big.bin"
BIG_BLOB=$CACHE/blobs/$(git -C "$R" rev-parse HEAD:dir/nested/big.bin | sed 's|^..|&/|')
check "the daemon holds no descriptor to the open file's blob" sh -c "! ls -l /proc/$DAEMON_PID/fd | grep -q '$BIG_BLOB'"
check "cache gc --max-size 0 evicts blobs" sh -c "'$BIN' cache gc --cache '$CACHE' --max-size 0 | grep -q 'evicted [1-9]'"
check "an open (pinned) blob survives gc" test -f "$BIG_BLOB"
check "the open file still reads" cmp <(git -C "$R" cat-file blob HEAD:dir/nested/big.bin) /dev/fd/7
exec 7<&-
check "once closed, gc evicts it" sh -c "'$BIN' cache gc --cache '$CACHE' --max-size 0 >/dev/null && ! test -f '$BIG_BLOB'"
check "evicted files are fetched again on read" sh -c "cat '$M/dir/f1.txt' | grep -q 'file 1'"
expect_eq "cache gc refuses a negative size (exit 64)" "64" "$("$BIN" cache gc --cache "$CACHE" --max-size=-1G 2>/dev/null; echo $?)"
expect_eq "cache gc refuses an infinite size (exit 64)" "64" "$("$BIN" cache gc --cache "$CACHE" --max-size inf 2>/dev/null; echo $?)"
unmount_scorpio "$M"

# --prefetch siblings: one read fetches the directory's small files and those below it, in one
# request; big.bin (300 kB, above the 256 KiB sibling limit) stays lazy.
CACHE=$WORK/cache-siblings
mount_scorpio "$M" "$WORK/sib.log" --repo "git://127.0.0.1:$PORT/repo.git" --cache "$CACHE" --upper "$WORK/up-sib" --prefetch siblings || exit 1
cat "$M/dir/f1.txt" > /dev/null
DIR_BLOBS=$(git -C "$R" ls-tree HEAD dir/ | grep -c ' blob ')
expect_eq "siblings: reading one file fetches the directory's and subdirectory's small blobs" "$((DIR_BLOBS + 1))" "$(blobs_fetched "$WORK/sib.log")"
expect_eq "siblings: in one request" "1" "$(grep -c 'fetched blobs' "$WORK/sib.log")"
check "siblings: a file below came along" test -n "$(find "$CACHE/blobs" -type f -name "$(git -C "$R" rev-parse HEAD:dir/nested/small.txt | cut -c3-)")"
cat "$M/dir/nested/small.txt" "$M/dir/f30.txt" > /dev/null
expect_eq "siblings: reading prefetched files fetches nothing more" "$((DIR_BLOBS + 1))" "$(blobs_fetched "$WORK/sib.log")"
sleep 1.2  # past the walk window: a walk would take more along
cat "$M/dir/nested/big.bin" > /dev/null
expect_eq "siblings: a large file is fetched on its own read" "$((DIR_BLOBS + 2))" "$(blobs_fetched "$WORK/sib.log")"
unmount_scorpio "$M"

# A long walk: its batches grow (256, 512, 1024... blobs, like readahead), so a cold read of
# 2,000 files in 40 directories takes a handful of requests, not one per 256 files.
(
    set -e
    mkdir -p "$WORK/wide-src"; cd "$WORK/wide-src"
    git init -q -b main .
    git config user.email t@example.com; git config user.name Tester
    python3 -c '
import os
for d in range(1, 41):
    os.makedirs(f"d{d:02}")
    for f in range(1, 51):
        open(f"d{d:02}/f{f:02}.txt", "w").write(f"{d:02}/{f:02}\n")'
    git add -A; git commit -qm wide
    git clone -q --bare "$WORK/wide-src" "$WORK/served/wide.git"
    git -C "$WORK/served/wide.git" config uploadpack.allowFilter true
    git -C "$WORK/served/wide.git" config uploadpack.allowAnySHA1InWant true
    git -C "$WORK/served/wide.git" config transfer.advertiseObjectInfo true
) || { echo "FAIL: cannot build the wide repository"; exit 1; }
mount_scorpio "$M" "$WORK/wide.log" --repo "git://127.0.0.1:$PORT/wide.git" --cache "$WORK/cache-wide" --upper "$WORK/up-wide" --prefetch siblings || exit 1
check "long walk: tar reads all 2,000 files" sh -c "tar -cf - -C '$M' . | tar -tvf - | grep -c '\.txt$' | grep -qx 2000"
expect_eq "long walk: a file's content" "17/33" "$(cat "$M/d17/f33.txt")"
expect_eq "long walk: every blob fetched once" "2000" "$(blobs_fetched "$WORK/wide.log")"
requests=$(grep -c 'fetched blobs' "$WORK/wide.log")
check "long walk: growing batches ($requests requests; fixed 256-blob batches need 9)" test "$requests" -le 6
# `cache gc` evicts what the mount fetched: reading it all again batches as the first time did
# (the memo of fetched blobs once kept them out of every batch: one request per file).
"$BIN" cache gc --cache "$WORK/cache-wide" --max-size 0 > /dev/null
sync; echo 3 > /proc/sys/vm/drop_caches
check "after cache gc: tar reads all 2,000 files again" sh -c "tar -cf - -C '$M' . | tar -tvf - | grep -c '\.txt$' | grep -qx 2000"
again=$(( $(grep -c 'fetched blobs' "$WORK/wide.log") - requests ))
check "after cache gc: the evicted blobs come back in batches ($again requests)" test "$again" -le 8
unmount_scorpio "$M"

# A walk that reads at its own pace: reaching the start of the window fetched ahead of it
# fetches the next window, so after the misses that start the walk it never waits for a fetch
# again. The reader sleeps 3 ms per file, long enough between windows to end the walk had only
# misses kept it going (each window's end would then be a miss and a small batch).
mount_scorpio "$M" "$WORK/paced.log" --repo "git://127.0.0.1:$PORT/wide.git" --cache "$WORK/cache-paced" --upper "$WORK/up-paced" --prefetch siblings --log-level debug || exit 1
check "paced walk: reads all 2,000 files in listing order" python3 -c '
import os, sys, time
count = 0
for root, dirs, files in os.walk(sys.argv[1]):
    for name in files:
        with open(os.path.join(root, name), "rb") as f: f.read()
        count += 1
        time.sleep(0.003)
sys.exit(0 if count == 2000 else 1)' "$M"
misses=$(grep -c 'blob not cached: fetching' "$WORK/paced.log")
check "paced walk: only the first two reads missed ($misses misses)" test "$misses" -le 2
check "paced walk: the windows after were started by the walk reaching them" grep -q 'walk reached the window fetched ahead' "$WORK/paced.log"
expect_eq "paced walk: every blob fetched once" "2000" "$(blobs_fetched "$WORK/paced.log")"
unmount_scorpio "$M"

# A miss soon after another is a walk: the batch also takes the directories the walk reaches
# next (those listed after this one, up to the root, then the rest of its parent).
mount_scorpio "$M" "$WORK/walk.log" --repo "git://127.0.0.1:$PORT/repo.git" --cache "$WORK/cache-walk" --upper "$WORK/up-walk" --prefetch siblings || exit 1
sleep 1.2  # well after any earlier miss
cat "$M/walk/a/one.txt" > /dev/null
expect_eq "walk: a lone miss takes its own directory only" "1" "$(blobs_fetched "$WORK/walk.log")"
cat "$M/walk/b/two.txt" > /dev/null
after_walk=$(blobs_fetched "$WORK/walk.log")
check "walk: the next miss right after also takes the directories the walk reaches next ($after_walk blobs, one request)" \
    sh -c "test $after_walk -ge 3 && test \$(grep -c 'fetched blobs' '$WORK/walk.log') -eq 2"
cat "$M/walk/c/three.txt" > /dev/null
expect_eq "walk: so reading a neighbouring directory fetches nothing" "$after_walk" "$(blobs_fetched "$WORK/walk.log")"
unmount_scorpio "$M"

# Offline: warm part of a cache, stop the server, remount from that cache.
CACHE=$WORK/cache-offline
mount_scorpio "$M" "$WORK/warm.log" --repo "git://127.0.0.1:$PORT/repo.git" --cache "$CACHE" --upper "$WORK/up-warm" --prefetch none || exit 1
cat "$M/plain.txt" > /dev/null
ls -l "$M/dir/nested" > /dev/null  # sizes known there: its files' lookups work offline, their opens fetch
unmount_scorpio "$M"
# A lazy mount that listed everything leaves every tree in its cache: an eager mount of that
# cache then needs no server either.
mount_scorpio "$M" "$WORK/lazyfill.log" --repo "git://127.0.0.1:$PORT/repo.git" --cache "$WORK/cache-lazyfill" --upper "$WORK/up-lazyfill" --trees lazy || exit 1
find "$M" > "$WORK/lazyfill.list"
unmount_scorpio "$M"
kill -9 "$GITD" 2>/dev/null; pkill -9 -f -- "--port=$PORT " 2>/dev/null; wait "$GITD" 2>/dev/null
mount_scorpio "$M" "$WORK/eagerfromlazy.log" --repo "git://127.0.0.1:$PORT/repo.git" --cache "$WORK/cache-lazyfill" --upper "$WORK/up-eagerfromlazy" --fetch-timeout 3 || exit 1
expect_eq "offline: an eager mount of a cache a lazy mount filled lists the same tree" "$(sed "s|^$M||" "$WORK/lazyfill.list" | sort)" "$(find "$M" | sed "s|^$M||" | sort)"
unmount_scorpio "$M"
mount_scorpio "$M" "$WORK/off.log" --repo "git://127.0.0.1:$PORT/repo.git" --cache "$CACHE" --upper "$WORK/up-off" --fetch-timeout 3 || exit 1
check "offline: the tree is listed from the cache" sh -c "ls '$M/dir' | grep -q f7.txt && ls '$M/dir/nested' | grep -q big.bin"
expect_eq "offline: a cached file reads" "plain file" "$(cat "$M/plain.txt")"
check "offline: an uncached file fails with EIO" sh -c "cat '$M/dir/f7.txt' 2>&1 | grep -q 'Input/output error'"
check "offline: the mount still answers" ls "$M/dir"
check "offline: the failure is logged with path and object id" grep -q "f7.txt" "$WORK/off.log"

# A server that accepts and never answers: while one read waits for it (up to --fetch-timeout),
# the mount keeps answering other requests (the waiting worker hands /dev/fuse to another).
start_stalled_server "$PORT"
sleep 0.3
( cat "$M/dir/f8.txt" > /dev/null 2> "$WORK/hole.err"; echo "$?" > "$WORK/hole.done" ) &
READER=$!
sleep 0.5
check "stalled server: the read is still waiting" test ! -e "$WORK/hole.done"
check "stalled server: a cached file opens and reads meanwhile" sh -c "timeout 2 cat '$M/plain.txt' | grep -q 'plain file'"
# (names whose attributes need no blob size: a size unknown offline would wait for the server too)
check "stalled server: lookups are answered meanwhile" sh -c "timeout 2 stat '$M/dir/nested' >/dev/null && ! timeout 2 stat '$M/missing-$$' 2>/dev/null"
check "stalled server: the read was still waiting then" test ! -e "$WORK/hole.done"
wait "$READER"
check "stalled server: the waiting read fails with EIO after the timeout" sh -c "test \"\$(cat '$WORK/hole.done')\" != 0 && grep -q 'Input/output error' '$WORK/hole.err'"
# A program that gets a signal while it waits for the stalled server: the kernel sends INTERRUPT.
# A program that catches the signal keeps waiting for the daemon's answer, which without
# INTERRUPT support comes when the fetch gives up (--fetch-timeout 3); a killed program is let go
# by the kernel at once either way, and the daemon must go on serving. f9's lookup waits for
# its directory's blob sizes; small.txt's size is known, so its open waits for the blob.
elapsed_ms() { local start=$1; echo $(( ($(date +%s%N) - start) / 1000000 )); }
start=$(date +%s%N)
timeout -s KILL 0.5 cat "$M/dir/f9.txt" > /dev/null 2>&1
took=$(elapsed_ms "$start")
check "stalled server: a lookup killed while it waits ends at once (${took} ms)" test "$took" -lt 2000
start=$(date +%s%N)
outcome=$(open_with_alarm "$M/dir/nested/small.txt")
took=$(elapsed_ms "$start")
check "stalled server: a caught signal interrupts an open waiting for its blob (${took} ms, $outcome)" \
    sh -c "test '$outcome' = interrupted && test $took -lt 2000"
check "stalled server: both interrupted waits are logged, the fetches go on" \
    sh -c "grep 'request interrupted while waiting for a fetch' '$WORK/off.log' | grep -q f9.txt && grep 'request interrupted while waiting for a fetch' '$WORK/off.log' | grep -q small.txt"
check "stalled server: the mount answers after the interrupts" sh -c "timeout 2 cat '$M/plain.txt' | grep -q 'plain file'"
# `prefetch` against the stalled server: Ctrl-C makes it stop at once, not when its batch gives up
# (--fetch-timeout 3); the batch goes on in the daemon. A killed prefetch sends no cancel request,
# only the kernel's INTERRUPT: the daemon stops that prefetch too, instead of fetching the rest of
# the subtree for nobody. Two subtrees, so the second has blobs of its own to wait for.
started=$(grep -c "prefetch started" "$WORK/off.log")
"$BIN" prefetch "$M" dir > "$WORK/pf-stop.out" 2>&1 &
PF=$!
for _ in $(seq 100); do [ "$(grep -c "prefetch started" "$WORK/off.log")" -gt "$started" ] && break; sleep 0.05; done
sleep 0.2
start=$(date +%s%N)
kill -INT "$PF"
wait "$PF"; status=$?
took=$(elapsed_ms "$start")
check "stalled server: Ctrl-C stops prefetch at once (${took} ms)" test "$took" -lt 1500
expect_eq "stalled server: a stopped prefetch exits 130" "130" "$status"
check "stalled server: a stopped prefetch says so" grep -q "(stopped)" "$WORK/pf-stop.out"
check "stalled server: the daemon logs the cancel" grep -q "prefetch cancelled" "$WORK/off.log"
started=$(grep -c "prefetch started" "$WORK/off.log")
"$BIN" prefetch "$M" walk > /dev/null 2>&1 &
PF=$!
# Killed once the daemon works on it (on a loaded host that may take longer than a fixed delay).
for _ in $(seq 100); do [ "$(grep -c "prefetch started" "$WORK/off.log")" -gt "$started" ] && break; sleep 0.05; done
sleep 0.2
start=$(date +%s%N)
kill -KILL "$PF"; wait "$PF" 2>/dev/null
took=$(elapsed_ms "$start")
check "stalled server: a killed prefetch ends at once (${took} ms)" test "$took" -lt 1500
for _ in $(seq 40); do grep -q "prefetch interrupted" "$WORK/off.log" && break; sleep 0.05; done
check "stalled server: the daemon logs the interrupt" grep -q "prefetch interrupted" "$WORK/off.log"
check "stalled server: the mount answers after the stopped prefetches" sh -c "timeout 2 cat '$M/plain.txt' | grep -q 'plain file'"
check "stalled server: the stopped prefetches' batches end with their timeout" python3 -c '
import os, sys, time
for _ in range(80):
    if b"inflight=0" in os.getxattr(sys.argv[1], "user.scorpio.progress"): sys.exit(0)
    time.sleep(0.1)
sys.exit(1)' "$M"
kill "$STALLED_PID" 2>/dev/null; wait "$STALLED_PID" 2>/dev/null
# The server comes back: the same mount reads what failed before.
start_git_daemon() {
    git daemon --verbose --reuseaddr --export-all --listen=127.0.0.1 --port=$PORT --base-path="$WORK/served" "$WORK/served" >>"$WORK/gitd.log" 2>&1 &
    GITD=$!
    PIDS+=("$GITD")
}
start_git_daemon
for _ in $(seq 50); do git ls-remote "git://127.0.0.1:$PORT/repo.git" >/dev/null 2>&1 && break; sleep 0.1; done
expect_eq "server back: the file that failed reads now" "file 7" "$(cat "$M/dir/f7.txt" 2>&1)"
unmount_scorpio "$M"
# A server that is down when the mount starts and up 0.4 s later: the retries (0.2 s, then 1 s
# later) reach it.
kill -9 "$GITD" 2>/dev/null; pkill -9 -f -- "--port=$PORT " 2>/dev/null; wait "$GITD" 2>/dev/null
( sleep 0.4; exec git daemon --reuseaddr --export-all --listen=127.0.0.1 --port=$PORT --base-path="$WORK/served" "$WORK/served" >>"$WORK/gitd.log" 2>&1 ) &
PIDS+=("$!")
mount_scorpio "$M" "$WORK/retry.log" --repo "git://127.0.0.1:$PORT/repo.git" --cache "$WORK/cache-retry" --upper "$WORK/up-retry"
check "a mount started while the server is briefly down retries and comes up" grep -q " $M fuse.scorpio " /proc/mounts
check "the retry is logged" grep -q "git server unavailable, retrying" "$WORK/retry.log"
expect_eq "after the retry the mount reads" "plain file" "$(cat "$M/plain.txt" 2>&1)"
unmount_scorpio "$M"
finish

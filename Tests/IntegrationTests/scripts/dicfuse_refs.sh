#!/usr/bin/env bash
# --ref against a git daemon started here: branches, lightweight and annotated tags (peeled),
# full commit ids, the remote's HEAD when it points at another branch, and a ref that does not
# exist. Then git http-backend under lighttpd with object-info taken out of its advertisement
# (git 2.39 always offers it): sizes come from the blobs themselves, the first stat-bearing
# listing of a directory fetching its blobs in one request. A blob the server lost fails its
# lookup with EIO and a log line naming it, with or without object-info, not its directory.
source "$(dirname "$0")/lib.sh"
preflight
new_workdir
M=$WORK/mnt SERVED=$WORK/served/repo.git
mkdir -p "$M" "$WORK/src"
(
    set -e
    cd "$WORK/src"
    git init -q -b main .
    git config user.email t@example.com; git config user.name Tester
    echo one > version.txt
    mkdir sized && for i in 1 2 3 4 5; do head -c $((i * 1000)) /dev/zero | tr '\0' "$i" > "sized/f$i"; done
    git add -A && git commit -qm one
    git tag light
    git checkout -q -b feature
    echo two > version.txt && git commit -qam two
    git tag -a v2.0 -m "release two"
    git checkout -q main
    echo three > version.txt && git commit -qam three
) || { echo "FAIL: cannot build the test repository"; exit 1; }
git clone -q --bare "$WORK/src" "$SERVED"
git -C "$SERVED" config uploadpack.allowFilter true
git -C "$SERVED" config uploadpack.allowAnySHA1InWant true
ONE=$(git -C "$SERVED" rev-parse light) TWO=$(git -C "$SERVED" rev-parse 'v2.0^{commit}')
# A branch whose only new blob the server then loses (a loose object, removed).
LOST_BLOB=$(echo "lost content" | git -C "$SERVED" hash-object -w --stdin)
TREE=$( (git -C "$SERVED" ls-tree main; printf '100644 blob %s\tlost.txt\n' "$LOST_BLOB") | git -C "$SERVED" mktree)
BROKEN=$(git -C "$SERVED" commit-tree "$TREE" -p main -m broken)
git -C "$SERVED" update-ref refs/heads/broken "$BROKEN"
rm "$SERVED/objects/${LOST_BLOB:0:2}/${LOST_BLOB:2}"

PORT=$((20000 + RANDOM % 20000))
git daemon --verbose --reuseaddr --export-all --listen=127.0.0.1 --port=$PORT --base-path="$WORK/served" "$WORK/served" >"$WORK/gitd.log" 2>&1 &
PIDS+=("$!")
URL=git://127.0.0.1:$PORT/repo.git
for _ in $(seq 50); do git ls-remote "$URL" >/dev/null 2>&1 && break; sleep 0.1; done

# version_at REF...: mounts with these arguments, prints version.txt, unmounts.
N=0
version_at() {
    N=$((N + 1))
    mount_scorpio "$M" "$WORK/m$N.log" --repo "$URL" --cache "$WORK/cache" --upper "$WORK/up$N" "$@" >/dev/null || return 1
    cat "$M/version.txt"
    unmount_scorpio "$M" >/dev/null
}
expect_eq "no --ref: the remote's HEAD (main)" "three" "$(version_at)"
expect_eq "--ref a branch" "two" "$(version_at --ref feature)"
expect_eq "--ref a full ref name" "two" "$(version_at --ref refs/heads/feature)"
expect_eq "--ref an annotated tag (peeled to its commit)" "two" "$(version_at --ref v2.0)"
expect_eq "--ref a lightweight tag" "one" "$(version_at --ref light)"
expect_eq "--ref a full commit id" "one" "$(version_at --ref "$ONE")"
expect_eq "--ref refs/tags/NAME" "two" "$(version_at --ref refs/tags/v2.0)"
git -C "$SERVED" symbolic-ref HEAD refs/heads/feature
expect_eq "no --ref follows HEAD's symref to another branch" "two" "$(version_at)"
git -C "$SERVED" symbolic-ref HEAD refs/heads/main
check "a missing ref is refused in one line listing what there is" sh -c "! '$BIN' --mount '$M' --repo '$URL' --ref nosuch --cache '$WORK/cache' --upper '$WORK/upx' 2>'$WORK/noref.err'; grep -q 'no branch, tag or ref named nosuch' '$WORK/noref.err' && grep -q 'feature' '$WORK/noref.err' && test \$(wc -l < '$WORK/noref.err') -eq 1"
# Abbreviated ids: a branch or tag tip's on any server; any commit's in a repository on this
# host (git rev-parse); otherwise one line asking for the full id. HIDDEN is no ref's tip.
HIDDEN=$(git -C "$SERVED" commit-tree "$TREE" -p main -m hidden)
git -C "$SERVED" update-ref refs/heads/ahead "$(git -C "$SERVED" commit-tree "$TREE" -p "$HIDDEN" -m ahead)"
expect_eq "--ref an abbreviated id of a branch tip" "two" "$(version_at --ref "${TWO:0:7}")"
check "--ref an abbreviated id of an older commit on a server asks for the full id" sh -c "! '$BIN' --mount '$M' --repo '$URL' --ref '${HIDDEN:0:9}' --cache '$WORK/cache' --upper '$WORK/upx' 2>'$WORK/abbrev.err'; grep -q 'give the full 40-digit id' '$WORK/abbrev.err' && test \$(wc -l < '$WORK/abbrev.err') -eq 1"
grep -q " $M " /proc/mounts && "$BIN" unmount "$M"
mount_scorpio "$M" "$WORK/local.log" --repo "$SERVED" --ref "${HIDDEN:0:9}" --cache "$WORK/cache" --upper "$WORK/up-local" >/dev/null
check "--ref an abbreviated id of any commit of a repository on this host" sh -c "ls '$M' | grep -qx lost.txt"
unmount_scorpio "$M" >/dev/null
# `scorpio-provider ... 2>&1 | tee log` ends when the mount is up: neither the daemon nor the
# git processes it keeps (idle upload-pack connections) hold the command's stderr.
expect_eq "a mount whose stderr is a pipe lets the pipe end" "0" \
    "$(timeout 60 sh -c "'$BIN' --mount '$M' --repo '$SERVED' --cache '$WORK/cache-pipe' --upper '$WORK/up-pipe' 2>&1 | cat >/dev/null"; echo $?)"
grep -q " $M " /proc/mounts && "$BIN" unmount "$M"
check "the mount of v2.0 fetched the tag's commit, not the tag object" test -f "$WORK/cache/objects/${TWO:0:2}/${TWO:2}"

# On a terminal (a pty made by script(1)), the mount shows its tree fetch and `prefetch` its
# progress: objects, MiB and MiB/s. Without one, the mount prints nothing and logs a summary.
script -qec "'$BIN' --mount '$M' --repo '$URL' --cache '$WORK/cache-tty' --upper '$WORK/up-tty' --log-file '$WORK/tty.log'" "$WORK/tty-mount.out" > /dev/null
MOUNTS+=("$M")
check "on a terminal the mount shows the tree fetch's objects, MiB and rate" grep -qE "[0-9]+ objects, [0-9.]+ MiB received, [0-9.]+ MiB/s" "$WORK/tty-mount.out"
script -qec "'$BIN' prefetch '$M'" "$WORK/tty-prefetch.out" > /dev/null
check "on a terminal prefetch shows objects, MiB and rate" grep -qE "prefetch: [0-9]+ objects, [0-9.]+ MiB received in [0-9.]+ s, [0-9.]+ MiB/s" "$WORK/tty-prefetch.out"
"$BIN" unmount "$M"
for _ in $(seq 50); do grep -q " $M " /proc/mounts || break; sleep 0.1; done
"$BIN" --mount "$M" --repo "$URL" --cache "$WORK/cache-notty" --upper "$WORK/up-notty" --log-file "$WORK/notty.log" 2> "$WORK/notty.err"
expect_eq "without a terminal the mount prints nothing" "0" "$(wc -c < "$WORK/notty.err")"
check "... and logs one summary line of the tree fetch" grep -q "fetched the trees of" "$WORK/notty.log"
"$BIN" unmount "$M"
for _ in $(seq 50); do grep -q " $M " /proc/mounts || break; sleep 0.1; done

# Eight programs reading one uncached file at once: one request for its blob.
mount_scorpio "$M" "$WORK/concurrent.log" --repo "git://127.0.0.1:$PORT/repo.git" --cache "$WORK/cache-concurrent" --upper "$WORK/up-concurrent" --prefetch none || exit 1
stat "$M/sized/f4" > /dev/null  # sizes first (object-info), so the reads race for the blob only
readers=()
for i in $(seq 8); do cat "$M/sized/f4" > "$WORK/concurrent.$i" & readers+=($!); done
wait "${readers[@]}"
check "every concurrent reader got the content" sh -c "for i in \$(seq 8); do cmp -s '$WORK/concurrent.'\$i '$WORK/src/sized/f4' || exit 1; done"
expect_eq "concurrent misses of one blob made one request" "1 1" "$(grep -c 'fetched blobs' "$WORK/concurrent.log") $(grep 'fetched blobs' "$WORK/concurrent.log" | grep -o 'count=[0-9]*' | cut -d= -f2)"
unmount_scorpio "$M"

# git http-backend without object-info: a CGI wrapper drops it from the advertisement.
cat > "$WORK/no-object-info.cgi" <<'CGI'
#!/bin/sh
if [ "$REQUEST_METHOD" = GET ]; then /usr/lib/git-core/git-http-backend | sed '/^0010object-info$/d'
else exec /usr/lib/git-core/git-http-backend; fi
CGI
chmod 755 "$WORK/no-object-info.cgi"
HPORT=$((PORT + 1))
URL=http://127.0.0.1:$HPORT/plain/repo.git
git_http_config "$HPORT" plain "$WORK/no-object-info.cgi" > "$WORK/lighttpd.conf"
start_lighttpd "$WORK/lighttpd.conf" "$URL"
check "the wrapped server advertises no object-info" sh -c "curl -s -H 'Git-Protocol: version=2' '$URL/info/refs?service=git-upload-pack' | grep -q ls-refs && ! curl -s -H 'Git-Protocol: version=2' '$URL/info/refs?service=git-upload-pack' | grep -q object-info"

# Without object-info, ls -l fetches a directory's blobs in one request, once.
mount_scorpio "$M" "$WORK/sizes.log" --repo "$URL" --cache "$WORK/cache-sizes" --upper "$WORK/up-sizes" --prefetch none || exit 1
expect_eq "the server does not advertise object-info" "0" "$(grep -c 'learned blob sizes' "$WORK/sizes.log")"
expect_eq "ls -l shows the sizes" "1000 2000 3000 4000 5000" "$(ls -l "$M/sized" | awk 'NR > 1 {print $5}' | sort -n | tr '\n' ' ' | sed 's/ $//')"
expect_eq "one blob request fetched the directory's 5 blobs" "1 5" "$(grep -c 'fetched blobs' "$WORK/sizes.log") $(grep 'fetched blobs' "$WORK/sizes.log" | grep -o 'count=[0-9]*' | cut -d= -f2)"
ls -l "$M/sized" >/dev/null; cat "$M/sized/f3" >/dev/null
expect_eq "listing again and reading fetch nothing more" "1" "$(grep -c 'fetched blobs' "$WORK/sizes.log")"
unmount_scorpio "$M"

# A blob the server lost: its lookup fails with EIO and a log line naming it; the rest of its
# directory lists and reads, without object-info (sizes from the blobs) and with it.
mount_scorpio "$M" "$WORK/lost.log" --repo "$URL" --ref broken --cache "$WORK/cache-lost" --upper "$WORK/up-lost" --prefetch none || exit 1
check "ls -l lists the lost blob's neighbours with their sizes" sh -c "ls -l '$M' 2>/dev/null | grep -q ' 6 .* version.txt'"
check "reading the lost blob fails with EIO" sh -c "cat '$M/lost.txt' 2>&1 >/dev/null | grep -q 'Input/output error'"
check "a log line names the lost object and says the server lacks it" sh -c "grep '$LOST_BLOB' '$WORK/lost.log' | grep -q 'has no such object'"
expect_eq "other files still read" "three" "$(cat "$M/version.txt")"
unmount_scorpio "$M"
mount_scorpio "$M" "$WORK/lost-oi.log" --repo "git://127.0.0.1:$PORT/repo.git" --ref broken --cache "$WORK/cache-lost-oi" --upper "$WORK/up-lost-oi" --prefetch none || exit 1
check "with object-info: reading the lost blob fails with EIO" sh -c "cat '$M/lost.txt' 2>&1 >/dev/null | grep -q 'Input/output error'"
check "with object-info: one log line names the path and the object" sh -c "grep 'has no size for this blob' '$WORK/lost-oi.log' | grep 'lost.txt' | grep -q '$LOST_BLOB'"
expect_eq "with object-info: other files still read" "three" "$(cat "$M/version.txt")"
unmount_scorpio "$M"

# What a power loss can leave in the cache: an emptied tree and an emptied blob, under a
# commit marked complete. The remount fetches both again (and says so).
SIZED_TREE=$(git -C "$SERVED" rev-parse main:sized) VERSION_BLOB=$(git -C "$SERVED" rev-parse main:version.txt)
truncate -s 0 "$WORK/cache/objects/${SIZED_TREE:0:2}/${SIZED_TREE:2}" "$WORK/cache/blobs/${VERSION_BLOB:0:2}/${VERSION_BLOB:2}"
mount_scorpio "$M" "$WORK/damaged.log" --repo "git://127.0.0.1:$PORT/repo.git" --cache "$WORK/cache" --upper "$WORK/up-damaged" || exit 1
expect_eq "an emptied tree of a complete commit is fetched again" "f1 f2 f3 f4 f5" "$(ls "$M/sized" | tr '\n' ' ' | sed 's/ $//')"
check "... and the log says so" grep -q "tree missing from the cache; fetching it" "$WORK/damaged.log"
expect_eq "an emptied blob is fetched again, not served empty" "three" "$(cat "$M/version.txt")"
unmount_scorpio "$M"
finish

#!/usr/bin/env bash
# Credentials for http remotes, against git http-backend under lighttpd started here: /basic/
# asks for basic auth (mod_auth), /bearer/ for one bearer token. Credentials come from the URL,
# the environment or the credentials file (TOML, mode 600), and the secrets never appear in an
# error, a log line (at trace level) or the daemon's command line.
source "$(dirname "$0")/lib.sh"
preflight
new_workdir
M=$WORK/mnt
PASSWORD=pw-$RANDOM-secret TOKEN=tok-$RANDOM-secret
mkdir -p "$M" "$WORK/src" "$WORK/served"
(
    set -e
    cd "$WORK/src"
    git init -q -b main .
    git config user.email t@example.com; git config user.name Tester
    echo "behind auth" > file.txt
    git add -A && git commit -qm initial
) || { echo "FAIL: cannot build the test repository"; exit 1; }
git clone -q --bare "$WORK/src" "$WORK/served/repo.git"
git -C "$WORK/served/repo.git" config uploadpack.allowFilter true
git -C "$WORK/served/repo.git" config uploadpack.allowAnySHA1InWant true
printf 'ci:%s\n' "$PASSWORD" > "$WORK/users"
PORT=$((20000 + RANDOM % 20000))
cat > "$WORK/lighttpd.conf" <<CONF
server.modules = ("mod_access", "mod_auth", "mod_authn_file", "mod_cgi", "mod_alias", "mod_setenv")
server.document-root = "$WORK/served"
server.bind = "127.0.0.1"
server.port = $PORT
server.errorlog = "$WORK/lighttpd.err"
alias.url = ("/basic/" => "/usr/lib/git-core/git-http-backend/", "/bearer/" => "/usr/lib/git-core/git-http-backend/")
auth.backend = "plain"
auth.backend.plain.userfile = "$WORK/users"
\$HTTP["url"] =~ "^/(basic|bearer)/" {
    cgi.assign = ("" => "")
    setenv.add-environment = ("GIT_PROJECT_ROOT" => "$WORK/served", "GIT_HTTP_EXPORT_ALL" => "1")
}
\$HTTP["url"] =~ "^/basic/" {
    auth.require = ("" => ("method" => "basic", "realm" => "git", "require" => "valid-user"))
}
\$HTTP["url"] =~ "^/bearer/" {
    \$REQUEST_HEADER["Authorization"] != "Bearer $TOKEN" { url.access-deny = ("") }
}
CONF
lighttpd -D -f "$WORK/lighttpd.conf" >"$WORK/lighttpd.out" 2>&1 &
PIDS+=("$!")
BASIC=http://127.0.0.1:$PORT/basic/repo.git BEARER=http://127.0.0.1:$PORT/bearer/repo.git
for _ in $(seq 50); do git ls-remote "http://ci:$PASSWORD@127.0.0.1:$PORT/basic/repo.git" >/dev/null 2>&1 && break; sleep 0.1; done
check "the test server asks for credentials" sh -c "! GIT_TERMINAL_PROMPT=0 git ls-remote '$BASIC' >/dev/null 2>&1"

# An empty credentials file keeps a real /etc/scorpio/credentials.toml out of the test.
export SCORPIO_CREDENTIALS=$WORK/empty.toml
: > "$SCORPIO_CREDENTIALS" && chmod 600 "$SCORPIO_CREDENTIALS"
mounts_ok() {  # mounts_ok NAME URL [ENV...]: mount in daemon mode, read the file, unmount
    local name=$1 url=$2; shift 2
    env "$@" "$BIN" --mount "$M" --repo "$url" --cache "$WORK/cache-$name" --upper "$WORK/up-$name" \
        --log-file "$WORK/$name.log" --log-level trace 2>"$WORK/$name.err" || { cat "$WORK/$name.err"; return 1; }
    MOUNTS+=("$M")
    local content; content=$(cat "$M/file.txt")
    "$BIN" unmount "$M" >/dev/null
    for _ in $(seq 50); do grep -q " $M " /proc/mounts || break; sleep 0.1; done
    test "$content" = "behind auth"
}
check "an explicitly named credentials file that is missing is one line naming it" sh -c "! SCORPIO_CREDENTIALS='$WORK/none.toml' '$BIN' --mount '$M' --repo '$BASIC' --cache '$WORK/c0' --upper '$WORK/u0' 2>'$WORK/missing.err'; grep -q 'none.toml' '$WORK/missing.err' && test \$(wc -l < '$WORK/missing.err') -eq 1"
check "without credentials the mount is refused in one line" sh -c "! '$BIN' --mount '$M' --repo '$BASIC' --cache '$WORK/c1' --upper '$WORK/u1' 2>'$WORK/noauth.err'; grep -q 'HTTP 401' '$WORK/noauth.err' && test \$(wc -l < '$WORK/noauth.err') -eq 1"
check "a wrong password is refused, and the message does not show it" sh -c "! '$BIN' --mount '$M' --repo 'http://ci:wrong-$PASSWORD@127.0.0.1:$PORT/basic/repo.git' --cache '$WORK/c2' --upper '$WORK/u2' 2>'$WORK/wrong.err'; grep -q 'HTTP 401' '$WORK/wrong.err' && ! grep -q '$PASSWORD' '$WORK/wrong.err'"

# Basic auth from the URL, in daemon mode: the daemon copy gets the password through its
# environment, not its command line.
"$BIN" --mount "$M" --repo "http://ci:$PASSWORD@127.0.0.1:$PORT/basic/repo.git" --cache "$WORK/cache-url" --upper "$WORK/up-url" \
    --log-file "$WORK/url.log" --log-level trace 2>"$WORK/url.err"
MOUNTS+=("$M")
expect_eq "basic auth from the URL: the file reads" "behind auth" "$(cat "$M/file.txt" 2>&1)"
DAEMON=$(pgrep -f -- "--mount $M " | head -1)
check "the daemon runs" test -n "$DAEMON"
check "the password is not on the daemon's command line" sh -c "! tr '\0' ' ' < /proc/$DAEMON/cmdline | grep -q '$PASSWORD'"
check "the daemon's command line names the repository without user info" sh -c "tr '\0' ' ' < /proc/$DAEMON/cmdline | grep -q -- '--repo http://127.0.0.1:$PORT/basic/repo.git'"
"$BIN" unmount "$M" >/dev/null
for _ in $(seq 50); do kill -0 "$DAEMON" 2>/dev/null || break; sleep 0.1; done
check "the trace log names the repository" grep -q "127.0.0.1:$PORT/basic/repo.git" "$WORK/url.log"
check "the password appears in no log line" sh -c "! grep -q '$PASSWORD' '$WORK/url.log' '$WORK/url.err'"

check "basic auth from SCORPIO_HTTP_USER and SCORPIO_HTTP_PASSWORD" mounts_ok env-basic "$BASIC" SCORPIO_HTTP_USER=ci "SCORPIO_HTTP_PASSWORD=$PASSWORD"
check "a bearer token from SCORPIO_HTTP_TOKEN" mounts_ok env-bearer "$BEARER" "SCORPIO_HTTP_TOKEN=$TOKEN"
check "the token appears in no log line" sh -c "! grep -q '$TOKEN' '$WORK/env-bearer.log' '$WORK/env-bearer.err'"

# The credentials file: the longest matching URL prefix wins.
CRED=$WORK/credentials.toml
cat > "$CRED" <<TOML
[[remote]]
url = "http://127.0.0.1:$PORT/"
user = "nobody"
password = "not-this-one"

[[remote]]
url = "http://127.0.0.1:$PORT/basic/"
user = "ci"
password = "$PASSWORD"

[[remote]]
url = "http://127.0.0.1:$PORT/bearer/repo.git"
token = "$TOKEN"
TOML
chmod 600 "$CRED"
check "basic auth from the credentials file" mounts_ok file-basic "$BASIC" "SCORPIO_CREDENTIALS=$CRED"
check "a bearer token from the credentials file (SCORPIO_CREDENTIALS)" mounts_ok file-bearer "$BEARER" "SCORPIO_CREDENTIALS=$CRED"
check "the secrets from the file appear in no log line" sh -c "! grep -q -e '$TOKEN' -e '$PASSWORD' '$WORK/file-bearer.log' '$WORK/file-bearer.err'"
check "--credentials FILE names the file" sh -c "'$BIN' --mount '$M' --repo '$BASIC' --credentials '$CRED' --cache '$WORK/c3' --upper '$WORK/u3' && test \"\$(cat '$M/file.txt')\" = 'behind auth'; r=\$?; '$BIN' unmount '$M' >/dev/null; exit \$r"
for _ in $(seq 50); do grep -q " $M " /proc/mounts || break; sleep 0.1; done
chown nobody "$CRED"
check "a credentials file of another user is refused in one line" sh -c "! '$BIN' --mount '$M' --repo '$BASIC' --credentials '$CRED' --cache '$WORK/c6' --upper '$WORK/u6' 2>'$WORK/owner.err'; grep -q 'belongs to another user' '$WORK/owner.err' && test \$(wc -l < '$WORK/owner.err') -eq 1"
chown root "$CRED"
chmod 644 "$CRED"
check "a credentials file readable by others is refused in one line saying chmod 600" sh -c "! '$BIN' --mount '$M' --repo '$BASIC' --credentials '$CRED' --cache '$WORK/c4' --upper '$WORK/u4' 2>'$WORK/mode.err'; grep -q 'chmod 600' '$WORK/mode.err' && test \$(wc -l < '$WORK/mode.err') -eq 1"
printf '[[remote]\nurl = "x"\ntoken = "%s"\n' "$TOKEN" > "$CRED"; chmod 600 "$CRED"
check "a malformed credentials file is refused in one line without its secrets" sh -c "! '$BIN' --mount '$M' --repo '$BASIC' --credentials '$CRED' --cache '$WORK/c5' --upper '$WORK/u5' 2>'$WORK/bad.err'; grep -q 'is not valid: line 1' '$WORK/bad.err' && ! grep -q '$TOKEN' '$WORK/bad.err' && test \$(wc -l < '$WORK/bad.err') -eq 1"
finish

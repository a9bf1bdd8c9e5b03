#!/usr/bin/env bash
# Shared helpers for the mount tests: start a scorpio-provider mount in the foreground as a child
# of this script, wait until it serves requests, and always unmount and stop it on exit, also
# when a check fails. Only processes this script started are ever killed.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
BIN=${SCORPIO_BIN:-$ROOT/.build/debug/scorpio-provider}
FAILURES=0
CHECKS=0
MOUNTS=()
PIDS=()

preflight() {
    [ -x "$BIN" ] || { echo "FAIL: scorpio-provider binary not found at $BIN (run swift build first)"; exit 1; }
    [ "$(id -u)" = 0 ] || { echo "FAIL: mount tests need root (CI runs as root)"; exit 1; }
    [ -c /dev/fuse ] || { echo "FAIL: /dev/fuse is missing: mount tests cannot run"; exit 1; }
}

cleanup() {
    for m in "${MOUNTS[@]:-}"; do
        [ -n "$m" ] || continue
        if grep -q " $m " /proc/mounts; then umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; fi
    done
    for p in "${PIDS[@]:-}"; do
        [ -n "$p" ] || continue
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        pkill -9 -P "$p" 2>/dev/null  # e.g. git-daemon under its `git daemon` wrapper
        kill -9 "$p" 2>/dev/null
    done
    [ -n "${WORK:-}" ] && rm -rf "$WORK"
}
trap cleanup EXIT

# mount_scorpio MNT LOG ARGS... : starts a foreground daemon, waits for the mount, sets DAEMON_PID.
mount_scorpio() {
    local mnt=$1 log=$2
    shift 2
    "$BIN" --mount "$mnt" --foreground "$@" >"$log" 2>&1 &
    DAEMON_PID=$!
    PIDS+=("$DAEMON_PID")
    MOUNTS+=("$mnt")
    for _ in $(seq 100); do
        if grep -q " $mnt fuse.scorpio " /proc/mounts && stat "$mnt" >/dev/null 2>&1; then return 0; fi
        kill -0 "$DAEMON_PID" 2>/dev/null || { echo "FAIL: daemon exited before mounting:"; cat "$log"; return 1; }
        sleep 0.1
    done
    echo "FAIL: mount did not come up within 10 s"; cat "$log"; return 1
}

# unmount_scorpio MNT : unmounts through the CLI and waits for the daemon to exit.
unmount_scorpio() {
    local mnt=$1
    "$BIN" unmount "$mnt" || return 1
    for _ in $(seq 100); do kill -0 "$DAEMON_PID" 2>/dev/null || return 0; sleep 0.1; done
    echo "FAIL: daemon still running 10 s after unmount"; return 1
}

# count_ops 'OP|OP' LOG : how many requests of these opcodes a --log-level trace daemon logged.
count_ops() { grep -cE "op=($1) " "$2" || true; }

# check "description" command... : runs a check, records the result.
check() {
    local description=$1
    shift
    CHECKS=$((CHECKS + 1))
    local output
    if output=$("$@" 2>&1); then
        echo "ok   $description"
    else
        FAILURES=$((FAILURES + 1))
        echo "FAIL $description"
        [ -n "$output" ] && echo "$output" | sed 's/^/     /' | head -20
    fi
}

# expect_eq "description" expected actual
expect_eq() {
    local description=$1 expected=$2 actual=$3
    check "$description" test "$expected" = "$actual" || true
    [ "$expected" = "$actual" ] || echo "     expected: $expected"$'\n'"     actual:   $actual"
}

finish() {
    echo "$CHECKS checks, $FAILURES failed"
    [ "$FAILURES" = 0 ]
}

new_workdir() {
    WORK=$(mktemp -d /tmp/scorpio-test.XXXXXX)
}

# start_stalled_server PORT : a TCP server that accepts connections and never answers (a git
# server that hangs); sets STALLED_PID and adds it to PIDS.
start_stalled_server() {
    python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16)
held = []
while True: held.append(s.accept()[0])' "$1" &
    STALLED_PID=$!
    PIDS+=("$STALLED_PID")
}

# open_with_alarm FILE : opens and reads FILE in a program that catches a SIGALRM after 0.5 s;
# prints "interrupted", "read" or "failed <error>".
open_with_alarm() {
    python3 -c '
import signal, sys
def stop(*_): raise TimeoutError
signal.signal(signal.SIGALRM, stop)
signal.setitimer(signal.ITIMER_REAL, 0.5)
try:
    open(sys.argv[1], "rb").read(); print("read")
except TimeoutError:
    print("interrupted")
except OSError as error:
    print("failed", error)' "$1"
}

# git_http_config PORT PREFIX CGI : a lighttpd configuration serving the repositories under
# $WORK/served as http://127.0.0.1:PORT/PREFIX/NAME.git through CGI (git http-backend, or a
# wrapper of it); its error log is $WORK/lighttpd-PORT.err.
git_http_config() {
    local port=$1 prefix=$2 cgi=$3
    cat <<CONF
server.modules = ("mod_cgi", "mod_alias", "mod_setenv")
server.document-root = "$WORK/served"
server.bind = "127.0.0.1"
server.port = $port
server.errorlog = "$WORK/lighttpd-$port.err"
alias.url = ("/$prefix/" => "$cgi/")
\$HTTP["url"] =~ "^/$prefix/" {
    cgi.assign = ("" => "")
    setenv.add-environment = ("GIT_PROJECT_ROOT" => "$WORK/served", "GIT_HTTP_EXPORT_ALL" => "1")
}
CONF
}

# start_lighttpd CONFIG URL [ENV...]: starts lighttpd (added to PIDS) and waits until git can
# list the refs at URL (with the environment ENV, e.g. a CA file).
start_lighttpd() {
    local config=$1 url=$2
    shift 2
    lighttpd -D -f "$config" >"$config.out" 2>&1 &
    PIDS+=("$!")
    for _ in $(seq 50); do env "$@" git ls-remote "$url" >/dev/null 2>&1 && break; sleep 0.1; done
}

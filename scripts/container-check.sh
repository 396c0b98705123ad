#!/usr/bin/env bash
# Does the Dockerfile really build, and does the container really start? Without a Docker engine
# or a registry (see ../shared/tools/container/README.md): buildah with vfs storage under /tmp,
# a local stand-in for node:24-slim, and a loopback-only network namespace (`unshare -n`).
#
#   scripts/container-check.sh        (root; needs: apt-get install -y debootstrap buildah)
#
# Builds the base image if missing, builds the app image, starts the image's CMD in a private
# network namespace, then checks: GET /health is 200; the image's own HEALTHCHECK command, run
# inside the container, exits 0; the server process is not root; it listens on 0.0.0.0:3000;
# /docs answers and a sandbox send is accepted; SIGTERM stops it cleanly. It stops and removes
# everything it started (processes, the working container) and prints a PASS/FAIL report.
# Images are kept (base and app) so a second run is faster; remove them with buildah rmi.
# Environment: CONTAINERS_ROOT (default /tmp/hsm-containers), NODE_BASE_SCRIPT (the base image script).
set -euo pipefail
cd "$(dirname "$0")/.."

ROOT=${CONTAINERS_ROOT:-/tmp/hsm-containers}
ST=(--root "$ROOT" --runroot "$ROOT-run" --storage-driver vfs)
IMAGE=localhost/jelou-hsm-proxy:check
BASE=docker.io/library/node:24-slim
NODE_BASE_SCRIPT=${NODE_BASE_SCRIPT:-$PWD/../shared/tools/container/make-node-base-image.sh}
PORT=3000

# ---------- inside the loopback-only network namespace ----------
if [ "${1:-}" = "--inside" ]; then
  RESULTS=$2; WORK=$3
  pass () { echo "  PASS  $*"; echo "PASS $*" >> "$RESULTS"; }
  fail () { echo "  FAIL  $*"; echo "FAIL $*" >> "$RESULTS"; }
  # status METHOD URL [JSON body]: the HTTP status, or 000 when nothing answers.
  status () {
    node -e 'fetch(process.argv[2], { method: process.argv[1], headers: process.argv[3] ? { "content-type": "application/json" } : {}, body: process.argv[3] || undefined, signal: AbortSignal.timeout(5000) })
      .then((r) => { console.log(r.status) }, () => { console.log("000") })' "$@"
  }
  # Every descendant of a PID (children first found through /proc/*/status PPid lines).
  descendants () {
    local pid child
    for pid in "$@"; do
      for child in $(grep -l "^PPid:[[:space:]]*$pid\$" /proc/[0-9]*/status 2>/dev/null | cut -d/ -f3); do
        echo "$child"; descendants "$child"
      done
    done
  }

  ip link set lo up
  CTR=$(buildah "${ST[@]}" from --pull=never --name "hsm-check-$$" "$IMAGE")
  SERVER_PID=''; RUN_PID=''
  cleanup () {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then kill -KILL "$SERVER_PID" 2>/dev/null || true; fi
    if [ -n "$RUN_PID" ] && kill -0 "$RUN_PID" 2>/dev/null; then kill -TERM "$RUN_PID" 2>/dev/null || true; wait "$RUN_PID" 2>/dev/null || true; fi
    buildah "${ST[@]}" rm "$CTR" >/dev/null 2>&1 || true
  }
  trap cleanup EXIT

  # The image's own configuration: CMD and HEALTHCHECK, NUL-separated for bash arrays.
  buildah "${ST[@]}" inspect --type image "$IMAGE" > "$WORK/image.json"
  mapfile -d '' CMD < <(node -e 'const c = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).Docker.config; process.stdout.write((c.Cmd || []).join("\0") + "\0")' "$WORK/image.json")
  mapfile -d '' HC < <(node -e 'const c = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).Docker.config; const t = (c.Healthcheck && c.Healthcheck.Test) || []; process.stdout.write(t.join("\0") + (t.length ? "\0" : ""))' "$WORK/image.json")

  buildah "${ST[@]}" run --isolation chroot "$CTR" -- "${CMD[@]}" > "$WORK/server.log" 2>&1 &
  RUN_PID=$!

  code=000
  for _ in $(seq 1 60); do
    code=$(status GET "http://127.0.0.1:$PORT/health")
    [ "$code" = 200 ] && break
    kill -0 "$RUN_PID" 2>/dev/null || break
    sleep 0.5
  done
  if [ "$code" = 200 ]; then pass "CMD [${CMD[*]}] started; GET /health -> 200"
  else fail "GET /health -> $code (container log below)"; sed 's/^/        /' "$WORK/server.log" | tail -20; exit 1; fi

  # HEALTHCHECK: ["CMD", args...] or ["CMD-SHELL", "command"], run inside the same container.
  if [ "${#HC[@]}" -lt 2 ]; then
    fail "HEALTHCHECK: the image has none"
  else
    case "${HC[0]}" in
      CMD) HC_RUN=("${HC[@]:1}") ;;
      CMD-SHELL) HC_RUN=(/bin/sh -c "${HC[1]}") ;;
      *) HC_RUN=() ;;
    esac
    if [ "${#HC_RUN[@]}" -eq 0 ]; then fail "HEALTHCHECK: unsupported form ${HC[0]}"
    elif buildah "${ST[@]}" run --isolation chroot "$CTR" -- "${HC_RUN[@]}" >/dev/null 2>&1; then
      pass "HEALTHCHECK (${HC_RUN[0]} ${HC_RUN[1]:-} ...) inside the container -> exit 0"
    else fail "HEALTHCHECK (${HC_RUN[*]}) inside the container -> exit $?"; fi
  fi

  # The server process: the descendant of buildah run whose executable is node (its comm is
  # "MainThread" and buildah's chroot helper shows the same argv), and its real and effective uid.
  for pid in $(descendants "$RUN_PID"); do
    if [ "$(basename "$(readlink "/proc/$pid/exe" 2>/dev/null)")" = node ]; then SERVER_PID=$pid; break; fi
  done
  if [ -z "$SERVER_PID" ]; then
    fail "no node process found under buildah run"
  else
    read -r _ ruid euid _ < <(grep '^Uid:' "/proc/$SERVER_PID/status")
    if [ "$ruid" != 0 ] && [ "$euid" != 0 ]; then pass "server process (pid $SERVER_PID) runs as uid $ruid, not root"
    else fail "server process (pid $SERVER_PID) runs as uid $ruid/$euid (root)"; fi
  fi

  # Listening sockets in this namespace: 0.0.0.0:3000 is 00000000:0BB8 in state 0A (LISTEN).
  hexport=$(printf '%04X' "$PORT")
  if awk -v want="00000000:$hexport" '$2 == want && $4 == "0A" { found = 1 } END { exit !found }' /proc/net/tcp; then
    pass "listens on 0.0.0.0:$PORT$(command -v ss >/dev/null && echo " (ss: $(ss -ltnH "sport = :$PORT" | awk '{print $4}' | paste -sd' '))")"
  else
    fail "not listening on 0.0.0.0:$PORT; listening: $(awk 'NR > 1 && $4 == "0A" { print $2 }' /proc/net/tcp | paste -sd' ')"
  fi

  code=$(status GET "http://127.0.0.1:$PORT/docs/json")
  if [ "$code" = 200 ]; then pass "GET /docs/json -> 200"; else fail "GET /docs/json -> $code"; fi
  code=$(status POST "http://127.0.0.1:$PORT/v1/messages/text" '{"to":"+593 98 765 4321","template":"order_update","params":["Maria","ORD-1234"],"botId":"bot-123"}')
  if [ "$code" = 202 ]; then pass "POST /v1/messages/text (sandbox mode) -> 202"; else fail "POST /v1/messages/text -> $code"; fi

  # Graceful stop: SIGTERM to the server process, which should close and exit 0.
  if [ -n "$SERVER_PID" ]; then
    start=$SECONDS
    kill -TERM "$SERVER_PID"
    rc=0; wait "$RUN_PID" || rc=$?
    RUN_PID=''
    if [ "$rc" = 0 ]; then pass "SIGTERM -> exited 0 after $((SECONDS - start)) s"
    else fail "SIGTERM -> exit $rc after $((SECONDS - start)) s"; fi
  fi
  exit 0
fi

# ---------- outside: tools, base image, build, then the namespace ----------
WORK=$(mktemp -d /tmp/hsm-container-check.XXXXXX)
RESULTS=$WORK/results
: > "$RESULTS"
trap 'rm -rf "$WORK"' EXIT
pass () { echo "  PASS  $*"; echo "PASS $*" >> "$RESULTS"; }
fail () { echo "  FAIL  $*"; echo "FAIL $*" >> "$RESULTS"; }
report () {
  local failed total
  failed=$(grep -c '^FAIL' "$RESULTS" || true); total=$(wc -l < "$RESULTS")
  if [ "$failed" = 0 ]; then echo "container-check: PASS ($total checks)"; exit 0; fi
  echo "container-check: FAIL ($failed of $total checks failed)"; exit 1
}

echo "container-check: $IMAGE (storage $ROOT)"
missing=()
for tool in buildah unshare ip node; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ "${#missing[@]}" -gt 0 ]; then fail "missing tools: ${missing[*]} (apt-get install -y debootstrap buildah iproute2)"; report; fi
if [ "$(id -u)" != 0 ]; then fail "must run as root (buildah vfs storage and unshare -n)"; report; fi

if buildah "${ST[@]}" inspect --type image "$BASE" >/dev/null 2>&1; then
  pass "base image $BASE present"
else
  echo "  ...   building $BASE with $NODE_BASE_SCRIPT (about a minute)"
  # That script reads the mirror from /etc/apt/sources.list *and* sources.list.d under pipefail,
  # so it stops on hosts that only have deb822 files; an empty sources.list (removed after) is enough.
  made_sources=''
  if [ ! -e /etc/apt/sources.list ]; then : > /etc/apt/sources.list; made_sources=1; fi
  start=$SECONDS
  if CONTAINERS_ROOT=$ROOT bash "$NODE_BASE_SCRIPT" 24 > "$WORK/base.log" 2>&1; then pass "base image $BASE built ($((SECONDS - start)) s)"
  else fail "base image build failed:"; tail -20 "$WORK/base.log" | sed 's/^/        /'; fi
  if [ -n "$made_sources" ]; then rm -f /etc/apt/sources.list; fi
  grep -q '^FAIL' "$RESULTS" && report
fi

start=$SECONDS
# buildah's chroot isolation gives RUN steps nofile=1024 (Docker gives far more), and `npm ci`
# then fails now and then with EMFILE; raise it to this shell's hard limit (it cannot go above).
NOFILE=$(ulimit -Hn); [ "$NOFILE" = unlimited ] && NOFILE=65536
if buildah "${ST[@]}" bud --pull=never --isolation chroot --ulimit "nofile=$NOFILE:$NOFILE" --format docker -t "$IMAGE" . > "$WORK/build.log" 2>&1; then
  pass "image $IMAGE built ($((SECONDS - start)) s)"
else
  fail "image build failed:"; tail -30 "$WORK/build.log" | sed 's/^/        /'; report
fi

# Static facts from the built image's configuration.
buildah "${ST[@]}" inspect --type image "$IMAGE" | node -e '
  let s = ""; process.stdin.on("data", (d) => { s += d }).on("end", () => {
    const c = JSON.parse(s).Docker.config
    const env = Object.fromEntries((c.Env || []).map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]))
    const ok = c.User === "node" && env.HOST === "0.0.0.0" && JSON.stringify(c.Cmd) === JSON.stringify(["node", "dist/server.js"]) && c.Healthcheck && c.ExposedPorts && c.ExposedPorts["3000/tcp"]
    console.log((ok ? "PASS" : "FAIL") + " image config: USER " + c.User + ", HOST=" + env.HOST + ", CMD " + JSON.stringify(c.Cmd) + ", EXPOSE " + Object.keys(c.ExposedPorts || {}).join(",") + ", HEALTHCHECK " + (c.Healthcheck ? "set" : "missing"))
  })' | while read -r verdict rest; do if [ "$verdict" = PASS ]; then pass "$rest"; else fail "$rest"; fi; done

unshare -n "$0" --inside "$RESULTS" "$WORK" || fail "namespace run stopped early (exit $?)"
report

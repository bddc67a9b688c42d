#!/usr/bin/env bash
# usage: measure-proxy.sh BIN MODE(callgrind|strace|cpu|load) CASE(cookie|signed|nginx) N [OUTDIR]
# (N is requests, or seconds of wrk -c32 for MODE=load)
# Starts `embedgate-dev bench backend` and `BIN serve` (one route
# /d/ -> backend, admin off, insecure_dev_cookies, as cargo xtask bench-proxy)
# pinned to CPU 1, warms up, then counts N requests from client.py.
# The backend, the store (created through BIN's own `secrets create`) and
# the signed URLs come from embedgate-dev: $EMBEDGATE_DEV, else this
# checkout's target/release/embedgate-dev
# (cargo build --release -p embedgate-devtools).
# The access log is off (ACCESS_LOG=true turns it on), as in bench-proxy.
set -euo pipefail
BIN=$1; MODE=$2; CASE=$3; N=$4; OUT=${5:-$(mktemp -d /tmp/embedgate-measure.XXXXXX)}
HERE=$(cd "$(dirname "$0")" && pwd)
DEV=${EMBEDGATE_DEV:-$HERE/../../../target/release/embedgate-dev}
[ -x "$DEV" ] || { echo "no embedgate-dev at $DEV: cargo build --release -p embedgate-devtools, or set EMBEDGATE_DEV" >&2; exit 1; }
mkdir -p "$OUT"
DIR=$(mktemp -d /tmp/embedgate-measure-run.XXXXXX)
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
BP=$(port); PP=$(port)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$DIR"; }
trap cleanup EXIT
taskset -c 1 "$DEV" bench backend --listen 127.0.0.1:$BP >"$DIR/backend.log" 2>&1 &
PIDS+=($!)
KID=$("$DEV" bench setup --dir "$DIR" --via "$BIN")
cat >"$DIR/embedgate.toml" <<TOML
[listen]
public = "127.0.0.1:$PP"
admin = "off"
[store]
url = "sqlite://$DIR/store.db"
master_key_file = "$DIR/master.key"
poll_interval = "1s"
[verify]
public_host = "bench.local"
replay_cache_entries = 8000000
[session]
insecure_dev_cookies = true
[[routes]]
name = "d"
prefix = "/d/"
upstream = "http://127.0.0.1:$BP"
on_success = "forward"
TOML
WARM=300
"$DEV" bench presign --kid "$KID" --secret-file "$DIR/secret" --url https://bench.local/d/data.json --count $((N + WARM + 1)) --out "$DIR/urls"
head -1 "$DIR/urls" >"$DIR/first"; sed -n "2,$((WARM+1))p" "$DIR/urls" >"$DIR/warm"; tail -n +$((WARM+2)) "$DIR/urls" >"$DIR/measured"
if [ "$MODE" = callgrind ]; then
  EMBEDGATE_LOG=info EMBEDGATE_LOG_ACCESS=${ACCESS_LOG:-false} taskset -c 1 valgrind --tool=callgrind --separate-threads=yes --compress-strings=no --compress-pos=no \
    --callgrind-out-file="$OUT/cg.%p" "$BIN" serve --config "$DIR/embedgate.toml" >"$DIR/proxy.log" 2>&1 &
else
  EMBEDGATE_LOG=info EMBEDGATE_LOG_ACCESS=${ACCESS_LOG:-false} taskset -c ${PROXY_CPUS:-1} "$BIN" serve --config "$DIR/embedgate.toml" >"$DIR/proxy.log" 2>&1 &
fi
PPID_=$!; PIDS+=($PPID_)
for i in $(seq 1 600); do grep -q "listening on" "$DIR/proxy.log" && break; sleep 0.1; done
grep -q "listening on" "$DIR/proxy.log" || { cat "$DIR/proxy.log"; exit 1; }
COOKIE=$(python3 "$HERE/client.py" 127.0.0.1:$PP first "$DIR/first")
python3 "$HERE/client.py" 127.0.0.1:$PP cookie $WARM "$COOKIE"
python3 "$HERE/client.py" 127.0.0.1:$PP signed "$DIR/warm"
run() {
  if [ "$CASE" = cookie ]; then python3 "$HERE/client.py" 127.0.0.1:$PP cookie "$N" "$COOKIE"
  else python3 "$HERE/client.py" 127.0.0.1:$PP signed "$DIR/measured"; fi
}
if [ "$MODE" = load ]; then
  # wrk -c32 on CPU 0 for N seconds; the proxy's user and system CPU per request under load.
  ticks() { awk '{print $14, $15}' /proc/$PPID_/stat; }
  cat >"$DIR/signed.lua" <<'LUA'
local urls = {}
for line in io.lines(os.getenv("EG_URLS")) do urls[#urls + 1] = line end
local i = 0
request = function() i = i + 1; if i > #urls then i = 1 end; return wrk.format("GET", urls[i]) end
LUA
  # CASE=nginx: the same load through nginx (as cargo xtask bench-proxy
  # configures it) in front of the same backend, for comparison.
  if [ "$CASE" = nginx ]; then
    NP=$(port); mkdir -p "$DIR/ngx"
    cat >"$DIR/ngx/nginx.conf" <<NGX
daemon off; master_process off; worker_processes 1; pid $DIR/ngx/nginx.pid; error_log $DIR/ngx/error.log warn;
events { worker_connections 1024; }
http { access_log off; client_body_temp_path $DIR/ngx/body; proxy_temp_path $DIR/ngx/proxy; keepalive_requests 10000000;
  upstream backend { server 127.0.0.1:$BP; keepalive 64; keepalive_requests 10000000; }
  server { listen 127.0.0.1:$NP; location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
NGX
    taskset -c 1 nginx -c "$DIR/ngx/nginx.conf" -p "$DIR/ngx" 2>"$DIR/ngx/stderr" &
    PIDS+=($!); PPID_=$!
    for i in $(seq 1 50); do [ -s "$DIR/ngx/nginx.pid" ] && break; sleep 0.1; done
    taskset -c 0 wrk -t1 -c32 -d1s "http://127.0.0.1:$NP/d/data.json" >/dev/null
  fi
  # Instructions and cycles in user and kernel mode, where perf can count them.
  perf_start() {
    if perf stat -e instructions:u true >/dev/null 2>&1; then
      perf stat -x, -e instructions:u,instructions:k,cycles:u,cycles:k -o "$DIR/perf.txt" -p "$PPID_" &
      PERF=$!; sleep 0.2
    fi
  }
  PERF=
  if [ "$CASE" = signed ]; then
    "$DEV" bench presign --kid "$KID" --secret-file "$DIR/secret" --url https://bench.local/d/data.json --count $((N * 40000)) --out "$DIR/load-urls"
  fi
  read u0 s0 < <(ticks)
  perf_start
  case "$CASE" in
    cookie) taskset -c 0 wrk -t1 -c32 -d"${N}s" -H "Cookie: $COOKIE" "http://127.0.0.1:$PP/d/data.json" >"$DIR/wrk.txt" ;;
    signed) EG_URLS="$DIR/load-urls" taskset -c 0 wrk -t1 -c32 -d"${N}s" -s "$DIR/signed.lua" "http://127.0.0.1:$PP/" >"$DIR/wrk.txt" ;;
    nginx) taskset -c 0 wrk -t1 -c32 -d"${N}s" "http://127.0.0.1:$NP/d/data.json" >"$DIR/wrk.txt" ;;
  esac
  read u1 s1 < <(ticks)
  if [ -n "$PERF" ]; then kill -INT "$PERF"; wait "$PERF" 2>/dev/null || true; fi
  REQ=$(awk '/requests in/{print $1}' "$DIR/wrk.txt")
  grep -E "Non-2xx|Socket errors" "$DIR/wrk.txt" || true
  python3 -c "r=$REQ; print('$CASE: %.0f req/s; proxy user %.1f us + system %.1f us per request' % (r/$N, ($u1-$u0)*1e4/r, ($s1-$s0)*1e4/r))"
  if [ -s "$DIR/perf.txt" ]; then
    python3 - "$DIR/perf.txt" "$REQ" <<'PY'
import sys
r = int(sys.argv[2]); v = {}
for line in open(sys.argv[1]):
    f = line.strip().split(",")
    if len(f) > 2 and f[0].replace(".", "").isdigit():
        v[f[2]] = float(f[0])
print("per request: user %.1fk instructions / %.1fk cycles, kernel %.1fk instructions / %.1fk cycles" % tuple(
    v.get(k, 0) / r / 1000 for k in ("instructions:u", "cycles:u", "instructions:k", "cycles:k")))
PY
  fi
  echo "proxy: $(grep VmRSS /proc/$PPID_/status | tr -s ' \t' ' '), $(awk '{print $10}' /proc/$PPID_/stat) minor page faults since start, $(grep voluntary_ctxt /proc/$PPID_/status | awk '{s+=$2} END {print s}') context switches (main thread)"
  exit 0
fi
if [ "$MODE" = cpu ]; then
  ticks() { awk '{print $14+$15}' /proc/$PPID_/stat; }
  t0=$(ticks); start=$(date +%s.%N); run; end=$(date +%s.%N); t1=$(ticks)
  for t in /proc/$PPID_/task/*; do echo "thread $(cat $t/comm): user, system ticks since start $(awk '{print $14, $15}' $t/stat)"; done
  python3 -c "print('$CASE: proxy CPU %.1f us per request (%d ticks over $N), wall %.1f us' % (($t1-$t0)*1e4/$N, $t1-$t0, ($end-$start)*1e6/$N))"
  exit 0
fi
if [ "$MODE" = callgrind ]; then
  VPID=$PPID_
  callgrind_control -z "$VPID" >/dev/null
  start=$(date +%s.%N); run; end=$(date +%s.%N)
  callgrind_control -d "$CASE" "$VPID" >/dev/null
  sleep 1
  echo "wall under valgrind: $(python3 -c "print(round($end-$start,2))") s"
  python3 - "$OUT" "$VPID" "$N" <<'PY'
import glob, sys, re
out, pid, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
tot = 0; main = 0
files = [f for f in glob.glob(f"{out}/cg.{pid}.*") if re.search(r"\.\d+-\d+$", f)]
for f in sorted(set(files)):
    txt = open(f).read()
    # Only the dumps the measurement asked for (not the one at exit).
    if "cmd:" not in txt or "desc: Trigger: dump" not in txt:
        continue
    m = re.search(r"^summary: (\d+)", txt, re.M) or re.search(r"^totals: (\d+)", txt, re.M)
    v = int(m.group(1)) if m else 0
    tot += v
    th = re.search(r"^thread: (\d+)", txt, re.M)
    if th and th.group(1) == "1": main = v
    print(f"  {f.rsplit('/',1)[1]}: {v}")
print(f"instructions per request: total {tot/n:.0f}, main thread {main/n:.0f} (N={n})")
PY
else
  strace -f -c -o "$OUT/strace.txt" -p "$PPID_" &
  SPID=$!
  sleep 1.5
  run
  sleep 0.3
  kill -INT $SPID; wait $SPID || true
  cat "$OUT/strace.txt"
  python3 - "$OUT/strace.txt" "$N" <<'PY'
import sys
n = int(sys.argv[2]); total = None
for l in open(sys.argv[1]):
    p = l.split()
    if p and p[-1] == "total": total = int(p[3])
print(f"syscalls per request: {total/n:.2f} (N={n})")
PY
fi

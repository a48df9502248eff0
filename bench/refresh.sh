#!/usr/bin/env bash
# Benchmark: a cold TUF refresh plus one target lookup and download on a
# repository of 10,000 targets spread over 5 delegated tiers (written by
# tests/e2e/tufrepo.py, consistent snapshots, served over HTTP on
# 127.0.0.1), by `vouch client download` and by tuf-js's Updater on the same
# repository. Prints wall time (s) and peak RSS (KiB) of each (best of
# BENCH_RUNS runs), and the ratios. Never part of `make check`.
#
#   bench/refresh.sh                          # uses ./build
#   BUILD=build-x BENCH_TARGETS=10000 BENCH_RUNS=3 bench/refresh.sh
#
# Targets (issue 3): at least 10x faster than tuf-js, under 16 MiB RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${BUILD:-build}
VOUCH=${VOUCH:-$ROOT/$BUILD/src/cli/vouch}
TARGETS=${BENCH_TARGETS:-10000}
RUNS=${BENCH_RUNS:-3}
PY=/usr/bin/python3

for tool in /usr/bin/time node "$PY"; do
	command -v "$tool" >/dev/null || { echo "bench: $tool is missing (scripts/install-deps)" >&2; exit 3; }
done
[ -x "$VOUCH" ] || { echo "bench: $VOUCH not built (make build)" >&2; exit 3; }
[ -d "$ROOT/tests/interop/node_modules/tuf-js" ] || { echo "bench: tuf-js not installed (scripts/install-deps)" >&2; exit 3; }

WORK=$(mktemp -d "${BENCH_DIR:-/tmp}/vouch-bench-refresh.XXXXXX")
SERVER_PID=
cleanup() {
	[ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT

echo "bench: writing a repository of $TARGETS targets over 5 tiers in $WORK ..."
NAME=$("$PY" - "$WORK/repo" "$TARGETS" <<'PYEOF'
import sys
sys.path.insert(0, "tests/e2e")
from tufrepo import Repo
path, n = sys.argv[1], int(sys.argv[2])
tiers = ["bootloader", "os", "app", "driver", "config"]
r = Repo(path, consistent=True)
for t in tiers:
    r.delegate("targets", t, paths=[f"{t}/*", f"{t}/*/*", f"{t}/*/*/*"], terminating=True)
for i in range(n):
    t = tiers[i % 5]
    data = f"{t} release {i}\n".encode()
    name = f"{t}/stable/{t}-{i:05d}.bin"
    r.add_target(t, name, data, write_file=(i == n // 2),
                 custom={"vouch": {"version": f"1.{i}", "security_version": 1,
                                   "hardware": ["board-a", "board-b"], "tier": t,
                                   "format": "raw"}})
r.publish()
print(f"{tiers[(n // 2) % 5]}/stable/{tiers[(n // 2) % 5]}-{n // 2:05d}.bin")
PYEOF
)
du -sh "$WORK/repo/metadata" | awk '{print "bench: metadata size " $1}'

PORT_FILE=$WORK/port
"$PY" - "$WORK/repo" "$PORT_FILE" <<'PYEOF' &
import functools, http.server, socketserver, sys
class H(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a): pass
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
srv = S(("127.0.0.1", 0), functools.partial(H, directory=sys.argv[1]))
open(sys.argv[2], "w").write(str(srv.server_address[1]))
srv.serve_forever()
PYEOF
SERVER_PID=$!
for _ in $(seq 50); do [ -s "$PORT_FILE" ] && break; sleep 0.1; done
BASE=http://127.0.0.1:$(cat "$PORT_FILE")

# best "seconds kib" of $RUNS cold runs ($1 = setup command run before each)
measure() {
	local setup=$1 best="" out
	shift
	for _ in $(seq "$RUNS"); do
		eval "$setup"
		out=$(/usr/bin/time -f '%e %M' -o "$WORK/time.out" "$@" >/dev/null 2>"$WORK/err.out" &&
			cat "$WORK/time.out") || { cat "$WORK/err.out" >&2; echo "bench: failed: $*" >&2; exit 1; }
		if [ -z "$best" ] || awk -v a="${out%% *}" -v b="${best%% *}" 'BEGIN{exit !(a<b)}'; then
			best=$out
		fi
	done
	echo "$best"
}

fresh() {
	rm -rf "$WORK/md" "$WORK/out"
	mkdir -p "$WORK/md" "$WORK/out"
	cp "$WORK/repo/metadata/1.root.json" "$WORK/md/root.json"
}

read -r VT VM < <(measure fresh "$VOUCH" client download --metadata-dir "$WORK/md" \
	--metadata-url "$BASE/metadata" --target-base-url "$BASE/targets" \
	--target-dir "$WORK/out" "$NAME")
read -r JT JM < <(measure fresh node bench/tufjs_refresh.cjs "$WORK/md" "$BASE/metadata" \
	"$BASE/targets" "$WORK/out" "$NAME")

printf '\n%-28s %10s %12s\n' "cold refresh + 1 target" "wall (s)" "peak RSS (KiB)"
printf '%-28s %10s %12s\n' "vouch client download" "$VT" "$VM"
printf '%-28s %10s %12s\n' "tuf-js Updater" "$JT" "$JM"
awk -v vt="$VT" -v jt="$JT" -v vm="$VM" -v jm="$JM" 'BEGIN {
	if (vt <= 0) vt = 0.005
	printf "\nspeed-up vs tuf-js: %.1fx (target >= 10x)\n", jt / vt
	printf "RSS: vouch %.1f MiB (target < 16 MiB), tuf-js %.1f MiB, ratio %.1fx\n", vm / 1024, jm / 1024, jm / vm
}'

#!/bin/sh
# bench/crypt.sh: vouch encrypt / decrypt of a 1 GiB file next to age (same
# file, same disk) and OpenSSL's single-core AES-256-GCM speed.
#
#   VOUCH_BUILD=build-dir SIZE_MIB=1024 bench/crypt.sh
#
# Prints wall time, throughput and peak RSS per run, and the ratios the
# issue asks for (faster than age; constant memory: peak RSS of a 16 MiB
# and a 1 GiB file side by side). Not part of `make check`.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${VOUCH_BUILD:-$ROOT/build}
VOUCH=$BUILD/src/cli/vouch
SIZE_MIB=${SIZE_MIB:-1024}
[ -x "$VOUCH" ] || { echo "bench/crypt.sh: $VOUCH not built" >&2; exit 3; }
command -v age >/dev/null || { echo "bench/crypt.sh: age not installed" >&2; exit 3; }
[ -x /usr/bin/time ] || { echo "bench/crypt.sh: /usr/bin/time not installed" >&2; exit 3; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/vouch-bench-crypt.XXXXXX")
trap 'rm -rf "$WORK"' EXIT INT TERM

# run LABEL BYTES CMD...: one timed run; prints a row, remembers the time.
run() {
	label=$1 bytes=$2
	shift 2
	sync
	/usr/bin/time -f "%e %M %U %S" -o "$WORK/time" "$@"
	set -- $(cat "$WORK/time")
	secs=$1 rss_kib=$2
	cpu=$(awk -v u="$3" -v s="$4" 'BEGIN { printf "%.2f", u + s }')
	mibs=$(awk -v b="$bytes" -v s="$secs" 'BEGIN { if (s > 0) printf "%.0f", b / 1048576 / s; else print "inf" }')
	printf '%-44s %6.2f s %6s MiB/s %6s s CPU %6.1f MiB RSS\n' "$label" "$secs" "$mibs" \
		"$cpu" "$(awk -v k="$rss_kib" 'BEGIN { printf "%.1f", k / 1024 }')"
	LAST_SECS=$secs
	LAST_CPU=$cpu
	LAST_RSS=$rss_kib
}

echo "== inputs: ${SIZE_MIB} MiB of random data in $WORK"
head -c $((SIZE_MIB * 1048576)) /dev/urandom >"$WORK/in"
head -c $((16 * 1048576)) /dev/urandom >"$WORK/small"
BYTES=$((SIZE_MIB * 1048576))

"$VOUCH" keygen --type x25519 --out "$WORK/dev.key" --no-passphrase >/dev/null
age-keygen -o "$WORK/age.key" 2>/dev/null
AGE_PUB=$(age-keygen -y "$WORK/age.key")

echo
echo "== vouch (vouch-enc-v1, 64 KiB chunks) and age $(age --version)"
run "vouch encrypt aes-256-gcm" $BYTES \
	"$VOUCH" encrypt --to "$WORK/dev.key.pub" -o "$WORK/v.enc" "$WORK/in"
V_ENC=$LAST_SECS
V_ENC_CPU=$LAST_CPU
V_ENC_RSS=$LAST_RSS
run "vouch decrypt aes-256-gcm (to file, fsync)" $BYTES \
	"$VOUCH" decrypt --key "$WORK/dev.key" -o "$WORK/v.out" "$WORK/v.enc"
V_DEC=$LAST_SECS
V_DEC_CPU=$LAST_CPU
V_DEC_RSS=$LAST_RSS
cmp "$WORK/in" "$WORK/v.out"
rm -f "$WORK/v.out"
run "vouch decrypt aes-256-gcm (to /dev/null)" $BYTES \
	sh -c "'$VOUCH' decrypt --key '$WORK/dev.key' -o - '$WORK/v.enc' >/dev/null"
V_NULL_CPU=$LAST_CPU
rm -f "$WORK/v.enc"
run "vouch encrypt chacha20-poly1305" $BYTES \
	"$VOUCH" encrypt --to "$WORK/dev.key.pub" --aead chacha20poly1305 -o "$WORK/c.enc" "$WORK/in"
run "vouch decrypt chacha20-poly1305 (to file)" $BYTES \
	"$VOUCH" decrypt --key "$WORK/dev.key" -o "$WORK/c.out" "$WORK/c.enc"
rm -f "$WORK/c.enc" "$WORK/c.out"

run "age encrypt (chacha20-poly1305)" $BYTES \
	age -r "$AGE_PUB" -o "$WORK/a.age" "$WORK/in"
A_ENC=$LAST_SECS
A_ENC_CPU=$LAST_CPU
run "age decrypt (to file)" $BYTES \
	age -d -i "$WORK/age.key" -o "$WORK/a.out" "$WORK/a.age"
A_DEC=$LAST_SECS
A_DEC_CPU=$LAST_CPU
cmp "$WORK/in" "$WORK/a.out"
rm -f "$WORK/a.age" "$WORK/a.out"

echo
echo "== constant memory: a 16 MiB file"
run "vouch encrypt 16 MiB" $((16 * 1048576)) \
	"$VOUCH" encrypt --to "$WORK/dev.key.pub" -o "$WORK/s.enc" "$WORK/small"
S_ENC_RSS=$LAST_RSS
run "vouch decrypt 16 MiB" $((16 * 1048576)) \
	"$VOUCH" decrypt --key "$WORK/dev.key" -o "$WORK/s.out" "$WORK/s.enc"
S_DEC_RSS=$LAST_RSS

echo
echo "== openssl speed -evp aes-256-gcm (one core, 16 KiB blocks)"
OSSL=$(openssl speed -evp aes-256-gcm -seconds 3 -bytes 16384 2>/dev/null |
	awk '/^AES-256-GCM|^aes-256-gcm/ { v = $NF } END { sub(/k$/, "", v); print v }')
OSSL_MIBS=$(awk -v k="$OSSL" 'BEGIN { printf "%.0f", k * 1000 / 1048576 }')
echo "AES-256-GCM: ${OSSL_MIBS} MiB/s (${OSSL} kB/s)"

echo
echo "== summary"
awk -v ve="$V_ENC" -v vd="$V_DEC" -v ae="$A_ENC" -v ad="$A_DEC" -v o="$OSSL_MIBS" \
	-v vec="$V_ENC_CPU" -v vdc="$V_DEC_CPU" -v aec="$A_ENC_CPU" -v adc="$A_DEC_CPU" \
	-v vnc="$V_NULL_CPU" -v b="$BYTES" -v er="$V_ENC_RSS" -v dr="$V_DEC_RSS" \
	-v ser="$S_ENC_RSS" -v sdr="$S_DEC_RSS" 'BEGIN {
	mib = b / 1048576
	printf "encrypt: vouch %.2f s wall / %.2f s CPU, age %.2f s / %.2f s -> vouch %.2fx faster (wall), %.2fx (CPU)\n",
		ve, vec, ae, aec, ae / ve, aec / (vec > 0 ? vec : 0.01)
	printf "decrypt: vouch %.2f s wall / %.2f s CPU, age %.2f s / %.2f s -> vouch %.2fx faster (wall), %.2fx (CPU)\n",
		vd, vdc, ad, adc, ad / vd, adc / (vdc > 0 ? vdc : 0.01)
	printf "decrypt CPU cost to /dev/null: %.2f s = %.0f MiB/s per core; openssl speed: %d MiB/s\n",
		vnc, mib / (vnc > 0 ? vnc : 0.01), o
	printf "peak RSS encrypt: %.1f MiB (16 MiB file) vs %.1f MiB (%d MiB file)\n", ser / 1024, er / 1024, mib
	printf "peak RSS decrypt: %.1f MiB (16 MiB file) vs %.1f MiB (%d MiB file)\n", sdr / 1024, dr / 1024, mib
}'

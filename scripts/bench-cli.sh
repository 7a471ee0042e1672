#!/usr/bin/env bash
# Compare `caduceus seal` with `rage -r` (the age tool, from crates.io) on
# the same 1 GiB file: wall time and peak RSS, measured with /usr/bin/time -v,
# runs alternating between the two tools.
#
# Targets (issue 2): caduceus faster than rage (ratio rage time / caduceus
# time > 1), caduceus peak RSS <= 16 MiB.
#
# Usage: bash scripts/bench-cli.sh
# Environment:
#   BENCH_SIZE_MIB  input size in MiB (default 1024)
#   BENCH_RUNS      runs per tool (default 3)
#   BENCH_SINK      file: write each envelope to a temporary file under
#                   target/ (the input's disk; default) | null: to /dev/null
#   CARGO           cargo command (default cargo)
#   CARGO_TARGET_DIR  cargo target directory (default ./target)
# rage is installed on first use with `cargo install rage --locked` into
# target/bench-tools (a few minutes, once).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
CARGO=${CARGO:-cargo}
SIZE_MIB=${BENCH_SIZE_MIB:-1024}
RUNS=${BENCH_RUNS:-3}
SINK=${BENCH_SINK:-file}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR=$ROOT/$TARGET_DIR ;; esac
TOOLS=$TARGET_DIR/bench-tools
RSS_TARGET_KIB=$((16 * 1024))

die() {
    echo "bench-cli: $*" >&2
    exit 1
}

case "$SINK" in file | null) ;; *) die "BENCH_SINK must be 'file' or 'null', not '$SINK'" ;; esac
[[ "$SIZE_MIB" =~ ^[1-9][0-9]*$ ]] || die "BENCH_SIZE_MIB must be a positive integer"
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive integer"

# --- tools -------------------------------------------------------------------

if [ ! -x /usr/bin/time ]; then
    echo "bench-cli: /usr/bin/time (GNU time) is missing; installing the 'time' package" >&2
    if [ "$(id -u)" -eq 0 ]; then
        apt-get install -y time >&2 || { apt-get update >&2 && apt-get install -y time >&2; }
    elif command -v sudo >/dev/null; then
        sudo apt-get install -y time >&2 || { sudo apt-get update >&2 && sudo apt-get install -y time >&2; }
    fi
    [ -x /usr/bin/time ] || die "GNU time is needed at /usr/bin/time (apt-get install time)"
fi

echo "bench-cli: building caduceus (release)" >&2
"$CARGO" build --release -p caduceus-cli >&2
CADUCEUS=$TARGET_DIR/release/caduceus
[ -x "$CADUCEUS" ] || die "no caduceus binary at $CADUCEUS"

RAGE=$TOOLS/bin/rage
RAGE_KEYGEN=$TOOLS/bin/rage-keygen
if [ ! -x "$RAGE" ] || [ ! -x "$RAGE_KEYGEN" ]; then
    echo "bench-cli: installing rage into $TOOLS (cargo install rage --locked; takes a few minutes, once)" >&2
    "$CARGO" install rage --locked --root "$TOOLS" >&2
fi

# --- inputs and keys ---------------------------------------------------------

mkdir -p "$TARGET_DIR"
WORK=$(mktemp -d "$TARGET_DIR/bench-cli.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

INPUT=$WORK/input.bin
echo "bench-cli: writing $SIZE_MIB MiB of random input to $INPUT" >&2
head -c "$((SIZE_MIB * 1024 * 1024))" /dev/urandom >"$INPUT"

"$CADUCEUS" keygen --kind subject -o "$WORK/caduceus-id.txt" 2>"$WORK/keygen.log"
CADUCEUS_PK=$("$CADUCEUS" keygen -y "$WORK/caduceus-id.txt" 2>/dev/null | grep -m1 -o 'cd[a-z]*1[0-9a-z]*' || true)
if [ -z "$CADUCEUS_PK" ]; then
    CADUCEUS_PK=$(grep -m1 '^# public key:' "$WORK/caduceus-id.txt" | grep -o 'cd[a-z]*1[0-9a-z]*' || true)
fi
[ -n "$CADUCEUS_PK" ] || die "could not read the public key of a new caduceus identity"

"$RAGE_KEYGEN" -o "$WORK/age-id.txt" 2>/dev/null
AGE_PK=$(grep -m1 '^# public key:' "$WORK/age-id.txt" | grep -o 'age1[0-9a-z]*' || true)
[ -n "$AGE_PK" ] || die "could not read the public key of a new age identity"

if [ "$SINK" = null ]; then
    OUT_CADUCEUS=/dev/null
    OUT_RAGE=/dev/null
else
    OUT_CADUCEUS=$WORK/out.cdu
    OUT_RAGE=$WORK/out.age
fi

# --- measurement -------------------------------------------------------------

# Run a command under /usr/bin/time -v; set WALL (seconds, from bash's
# microsecond clock around the run: time -v prints only hundredths), RSS
# (peak resident set, KiB) and CPU (user + system seconds) from time -v.
measure() {
    local name=$1
    shift
    local report=$WORK/time-$name.txt
    local t0 t1
    t0=$EPOCHREALTIME
    if ! /usr/bin/time -v -o "$report" "$@" 2>"$WORK/$name.stderr"; then
        cat "$WORK/$name.stderr" >&2
        die "$name failed"
    fi
    t1=$EPOCHREALTIME
    WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    RSS=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$report")
    CPU=$(awk -F': ' '/User time \(seconds\)|System time \(seconds\)/ { s += $2 } END { printf "%.2f", s }' "$report")
    [ -n "$RSS" ] || die "could not read the peak RSS from $report"
}

run_caduceus() {
    measure caduceus "$CADUCEUS" seal --to "$CADUCEUS_PK" \
        --label subject=p-bench --label category=clinical-photos \
        --label purpose=treatment-communication --label content-type=application/octet-stream \
        -i "$INPUT" -o "$OUT_CADUCEUS"
}

run_rage() {
    measure rage "$RAGE" -r "$AGE_PK" -o "$OUT_RAGE" "$INPUT"
}

# Let the page cache settle between runs: drop the last output and flush its
# writeback, so a run does not pay for the previous one's disk writes.
settle() {
    if [ "$SINK" = file ]; then
        rm -f "$OUT_CADUCEUS" "$OUT_RAGE"
    fi
    sync
}

# Warm the page cache with the input, as the timed runs will find it, and
# run each tool once untimed: the first large write after the input was
# created is slowed by the kernel (several seconds of system time here)
# whichever tool makes it.
cat "$INPUT" >/dev/null
echo "bench-cli: warm-up run of each tool (not timed)" >&2
settle
run_caduceus
settle
run_rage

echo "bench-cli: $RUNS runs each, alternating; input $SIZE_MIB MiB, output to $SINK" >&2
declare -a C_T C_R C_C R_T R_R R_C
for ((i = 1; i <= RUNS; i++)); do
    for tool in $( ((i % 2 == 1)) && echo "caduceus rage" || echo "rage caduceus"); do
        settle
        if [ "$tool" = caduceus ]; then
            run_caduceus
            C_T+=("$WALL")
            C_R+=("$RSS")
            C_C+=("$CPU")
        else
            run_rage
            R_T+=("$WALL")
            R_R+=("$RSS")
            R_C+=("$CPU")
        fi
    done
    echo "bench-cli: run $i: caduceus ${C_T[-1]}s ${C_R[-1]} KiB, rage ${R_T[-1]}s ${R_R[-1]} KiB" >&2
done
settle

# --- report ------------------------------------------------------------------

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
echo
echo "caduceus seal vs rage -r, $SIZE_MIB MiB input, output to $SINK ($(date -u +%Y-%m-%dT%H:%MZ))"
echo "machine: $(nproc) cores, ${cpu:-unknown CPU}; $("$CADUCEUS" --version 2>/dev/null || echo caduceus); $("$RAGE" --version 2>/dev/null || echo rage)"
echo
printf '%-4s | %10s %7s %8s | %10s %7s %8s | %s\n' "" "caduceus" "" "" "rage" "" "" "ratio"
printf '%-4s | %10s %7s %8s | %10s %7s %8s | %s\n' run "wall s" "cpu s" "RSS MiB" "wall s" "cpu s" "RSS MiB" "rage/caduceus wall"
printf '%s\n' "-----+-----------------------------+-----------------------------+-------------------"
ratios=()
for ((i = 0; i < RUNS; i++)); do
    ratio=$(awk -v r="${R_T[$i]}" -v c="${C_T[$i]}" 'BEGIN { printf "%.2f", (c > 0 ? r / c : 0) }')
    ratios+=("$ratio")
    printf '%-4s | %10s %7s %8s | %10s %7s %8s | %s\n' "$((i + 1))" \
        "${C_T[$i]}" "${C_C[$i]}" "$(awk -v k="${C_R[$i]}" 'BEGIN { printf "%.1f", k / 1024 }')" \
        "${R_T[$i]}" "${R_C[$i]}" "$(awk -v k="${R_R[$i]}" 'BEGIN { printf "%.1f", k / 1024 }')" \
        "$ratio"
done
echo
median_ratio=$(printf '%s\n' "${ratios[@]}" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
min_ratio=$(printf '%s\n' "${ratios[@]}" | sort -g | head -1)
max_ratio=$(printf '%s\n' "${ratios[@]}" | sort -g | tail -1)
max_rss=$(printf '%s\n' "${C_R[@]}" | sort -n | tail -1)
mib_s=$(printf '%s\n' "${C_T[@]}" | sort -g | awk -v m="$SIZE_MIB" '{ v[NR] = $1 } END { t = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.0f", (t > 0 ? m / t : 0) }')
speed=$(awk -v r="$median_ratio" 'BEGIN { print (r > 1 ? "ok" : "NOT MET") }')
mem=$((max_rss <= RSS_TARGET_KIB ? 1 : 0))
echo "ratio rage/caduceus (wall time): median $median_ratio [min $min_ratio, max $max_ratio]; target > 1 (faster than rage): $speed"
cpu_ratio=$(for ((i = 0; i < RUNS; i++)); do awk -v r="${R_C[$i]}" -v c="${C_C[$i]}" 'BEGIN { printf "%.2f\n", (c > 0 ? r / c : 0) }'; done | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
echo "ratio rage/caduceus (CPU time, user + system): median $cpu_ratio"
echo "caduceus median throughput: $mib_s MiB/s"
echo "caduceus peak RSS: $(awk -v k="$max_rss" 'BEGIN { printf "%.1f", k / 1024 }') MiB (max over runs); target <= 16 MiB: $([ "$mem" -eq 1 ] && echo ok || echo "NOT MET")"

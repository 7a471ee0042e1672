#!/usr/bin/env bash
# A narrated walk-through of the caduceus CLI on a sample X-ray image:
# keygen, seal, inspect, open, rewrap (add and remove a staff key).
#
# Usage: bash examples/demo.sh path/to/caduceus
# Run by `make demo`. Works in a temporary directory that is removed at the end.
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 path/to/caduceus" >&2
    exit 2
fi
BIN="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SAMPLE="$HERE/sample-xray.png"
[ -x "$BIN" ] || { echo "demo: $BIN is not an executable" >&2; exit 2; }
[ -f "$SAMPLE" ] || { echo "demo: $SAMPLE is missing" >&2; exit 2; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/caduceus-demo.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
cp "$SAMPLE" xray.png

step=0
heading() {
    step=$((step + 1))
    echo
    echo "== $step. $* =="
}
run() {
    echo "\$ caduceus $*"
    "$BIN" "$@"
}
# A field of `caduceus inspect --json` output (numbers only).
json_number() {
    sed -n "s/^ *\"$1\": \([0-9][0-9]*\).*/\1/p"
}

echo "Caduceus CLI walk-through (working in $WORK)"
echo "Sample: $(basename "$SAMPLE"), $(wc -c < "$SAMPLE") bytes (a synthetic image, no patient data)"

heading "Generate the practice key (the controller's; it never leaves the practice)"
run keygen --kind practice -o practice.key
echo "The identity file (mode $(stat -c %a practice.key 2>/dev/null || echo 600)), secret line elided:"
sed 's/^\(CADUCEUS-[A-Z]*-SECRET-KEY-1\).*/\1.../' practice.key
PRACTICE="$("$BIN" pubkey -i practice.key)"

heading "Generate a staff key (Dr. A's tablet)"
run keygen --kind staff -o staff.key
STAFF="$("$BIN" pubkey -i staff.key)"
STAFF_ID="$(sed -n 's/^# key id: //p' staff.key)"

heading "Seal the X-ray to the practice key, with policy labels"
run seal --to "$PRACTICE" \
    --label subject=p-7f3a91 \
    --label category=xray \
    --label purpose=treatment-communication \
    --label content-type=image/png \
    -i xray.png -o xray.cdu
SIZE="$(wc -c < xray.png)"
echo "Sealed: $SIZE -> $(wc -c < xray.cdu) bytes: header, then $(( (SIZE + 65535) / 65536 )) AES-256-GCM segments of up to 64 KiB"

heading "Inspect without any key: labels and recipients (what a store sees)"
run inspect -i xray.cdu

heading "The same as JSON, for retention tooling"
run inspect --json -i xray.cdu

heading "Open with the practice key and compare with the original"
run open --identity practice.key -i xray.cdu -o xray-practice.png
cmp xray.png xray-practice.png
echo "OK: plaintext matches"

heading "Rewrap: add the staff key (rewrites the header only)"
run rewrap --identity practice.key --add "$STAFF" -i xray.cdu -o xray-staff.cdu
"$BIN" inspect -i xray-staff.cdu | grep -A3 '^recipients:'

heading "The payload bytes after the header are unchanged"
OLD_HEADER="$("$BIN" inspect --json -i xray.cdu | json_number header_len)"
NEW_HEADER="$("$BIN" inspect --json -i xray-staff.cdu | json_number header_len)"
PAYLOAD="$("$BIN" inspect --json -i xray.cdu | json_number payload_len)"
echo "header: $OLD_HEADER -> $NEW_HEADER bytes; payload: $PAYLOAD bytes"
echo "\$ cmp <(tail -c $PAYLOAD xray.cdu) <(tail -c $PAYLOAD xray-staff.cdu)"
cmp <(tail -c "$PAYLOAD" xray.cdu) <(tail -c "$PAYLOAD" xray-staff.cdu)
echo "OK: payload bytes identical (no re-encryption)"

heading "Open with the staff key"
run open --identity staff.key -i xray-staff.cdu -o xray-staff.png
cmp xray.png xray-staff.png
echo "OK: plaintext matches"

heading "Rewrap: remove the staff key (e.g. the tablet was lost)"
run rewrap --identity practice.key --remove "$STAFF_ID" -i xray-staff.cdu -o xray-revoked.cdu
"$BIN" inspect -i xray-revoked.cdu | grep -A2 '^recipients:'

heading "The staff key can no longer open it (expected failure)"
if run open --identity staff.key -i xray-revoked.cdu -o should-not-exist.png; then
    echo "UNEXPECTED: the removed staff key still opens the envelope" >&2
    exit 1
else
    echo "OK: refused as expected (exit code $?), and no output file was written: $(ls should-not-exist.png 2>/dev/null || echo none)"
fi

heading "Tampering is detected: flip one bit in the last payload segment"
cp xray.cdu tampered.cdu
POS=$((OLD_HEADER + PAYLOAD - 100))
BYTE="$(od -An -tu1 -j "$POS" -N1 tampered.cdu | tr -d ' ')"
printf "\\$(printf %o $((BYTE ^ 1)))" | dd of=tampered.cdu bs=1 seek="$POS" conv=notrunc status=none
echo "flipped the lowest bit of byte $POS"
cmp -s xray.cdu tampered.cdu && { echo "demo: the byte was not changed" >&2; exit 1; }
if run open --identity practice.key -i tampered.cdu -o tampered.png; then
    echo "UNEXPECTED: a modified envelope opened" >&2
    exit 1
else
    echo "OK: refused as expected; the first segment had already been decrypted,"
    echo "    yet no partial plaintext was left behind: $(ls tampered.png 2>/dev/null || echo none)"
fi

echo
echo "Demo finished: keygen, seal, inspect, open, rewrap (add, remove) and tamper detection all behaved as expected."

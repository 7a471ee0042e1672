#!/usr/bin/env bash
# A narrated walk-through of the caduceus CLI on a sample X-ray image:
# keygen, keyring create, seal to the subject-category key, inspect, open,
# keyring add and revoke (a staff key), tamper detection, and keyring shred
# (crypto-erasure: the envelope and its backup no longer open).
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

heading "Create the keyring file of (patient p-7f3a91, xray): a subject-category key for this patient and category"
echo "Its private half is stored only wrapped to the practice key; envelopes are sealed to its public half."
run keyring create --keyring p-7f3a91.xray.keyring --subject p-7f3a91 --category xray --to "$PRACTICE"
run keyring inspect --keyring p-7f3a91.xray.keyring
SUBJECT_ID="$("$BIN" keyring inspect --keyring p-7f3a91.xray.keyring --json | sed -n 's/^ *"key_id": "\([0-9a-f]*\)".*/\1/p')"

heading "Seal the X-ray to the subject-category key (not to the practice key), with policy labels"
run seal --keyring p-7f3a91.xray.keyring \
    --label purpose=treatment-communication \
    --label content-type=image/png \
    -i xray.png -o xray.cdu
SIZE="$(wc -c < xray.png)"
echo "Sealed: $SIZE -> $(wc -c < xray.cdu) bytes: header, then $(( (SIZE + 65535) / 65536 )) AES-256-GCM segments of up to 64 KiB"
echo "Subject and category labels come from the keyring record; the one recipient is the subject-category key $SUBJECT_ID"

heading "Inspect without any key: labels and recipients (what a store sees)"
run inspect -i xray.cdu

heading "The same as JSON, for retention tooling"
run inspect --json -i xray.cdu
OLD_HEADER="$("$BIN" inspect --json -i xray.cdu | json_number header_len)"
PAYLOAD="$("$BIN" inspect --json -i xray.cdu | json_number payload_len)"

heading "Open through the keyring with the practice key and compare with the original"
run open --keyring p-7f3a91.xray.keyring --identity practice.key -i xray.cdu -o xray-practice.png
cmp xray.png xray-practice.png
echo "OK: plaintext matches"

heading "Give the staff key access: wrap the subject-category key to it (the envelope is not touched)"
SUM_BEFORE="$(cksum < xray.cdu)"
run keyring add --keyring p-7f3a91.xray.keyring --identity practice.key --to "$STAFF"
run open --keyring p-7f3a91.xray.keyring --identity staff.key -i xray.cdu -o xray-staff.png
cmp xray.png xray-staff.png
[ "$(cksum < xray.cdu)" = "$SUM_BEFORE" ] || { echo "demo: the envelope changed" >&2; exit 1; }
echo "OK: plaintext matches, and the envelope's bytes are unchanged (no re-encryption, no rewrap)"

heading "Revoke the staff key (e.g. the tablet was lost); the practice key can never be revoked"
run keyring revoke --keyring p-7f3a91.xray.keyring --practice "$PRACTICE" --remove "$STAFF_ID"
if run open --keyring p-7f3a91.xray.keyring --identity staff.key -i xray.cdu -o should-not-exist.png; then
    echo "UNEXPECTED: the revoked staff key still opens the envelope" >&2
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
if run open --keyring p-7f3a91.xray.keyring --identity practice.key -i tampered.cdu -o tampered.png; then
    echo "UNEXPECTED: a modified envelope opened" >&2
    exit 1
else
    echo "OK: refused as expected; the first segment had already been decrypted,"
    echo "    yet no partial plaintext was left behind: $(ls tampered.png 2>/dev/null || echo none)"
fi

heading "Erasure (Art. 17): shred the subject-category key; the envelope, and every backup of it, no longer opens"
cp xray.cdu backup-of-xray.cdu
if run keyring shred --keyring p-7f3a91.xray.keyring; then
    echo "UNEXPECTED: shred ran without --yes" >&2
    exit 1
fi
echo "OK: shredding is irreversible, so it needs --yes"
run keyring shred --keyring p-7f3a91.xray.keyring --yes
run keyring inspect --keyring p-7f3a91.xray.keyring
for copy in xray.cdu backup-of-xray.cdu; do
    if run open --keyring p-7f3a91.xray.keyring --identity practice.key -i "$copy" -o erased.png; then
        echo "UNEXPECTED: an envelope of a shredded key opened" >&2
        exit 1
    else
        echo "OK: $copy cannot be opened any more, not even by the practice; no output file: $(ls erased.png 2>/dev/null || echo none)"
    fi
done

echo
echo "Demo finished: keygen, keyring (create, add, revoke, shred), seal, inspect, open, tamper detection and crypto-erasure all behaved as expected."

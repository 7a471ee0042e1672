#!/usr/bin/env python3
"""A WhatsApp webhook worker in Python with the Caduceus bindings.

    python3 examples/python/intake.py tests/fixtures/whatsapp

For each request Meta delivers (here: signed fixture files):

  1. verify the X-Hub-Signature-256 header over the raw body (else HTTP 401);
  2. parse the body into events;
  3. let the intake decide each event: before consent nothing is kept and
     the privacy notice with consent buttons is sent; a consent reply is
     recorded; after consent the message is sealed to the patient's
     chat-messages key (the practice and the doctor can open it, finance
     cannot);
  4. apply the decision (consent ledger, identities, keyrings), append its
     audit entries, send its replies.

A real worker persists the ledger (ledger.to_bytes()), the identities
(to_text()), keyring records (to_bytes()), envelopes and audit entries in
its database, in one transaction per request.
"""
import pathlib
import sys

import caduceus
from caduceus import (
    AuditKey, AuditLog, CaduceusError, Identities, Intake, KeyKind, KeyringSet,
    Ledger, OutboundState, Policy, PrivateKey, StaffMember, Webhook,
)

NOW = 1_790_000_100  # the worker's clock (Unix seconds); just after the fixtures
FIXTURES = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/whatsapp")
APP_SECRET = (FIXTURES / "app-secret.txt").read_bytes().strip()

# Onboarding. The private keys live in the practice's vault and on staff
# devices; the worker needs only the public keys and the pseudonym key.
practice = PrivateKey.generate(KeyKind.PRACTICE)
doctor = PrivateKey.generate(KeyKind.STAFF)
finance = PrivateKey.generate(KeyKind.STAFF)
ledger = Ledger()
ledger.register_notice("privacy-chat", 1, "de",
                       "Datenschutzhinweis der Praxis (Art. 13 DSGVO): Wir speichern Ihre "
                       "Nachrichten verschlüsselt und nur mit Ihrer Einwilligung.",
                       NOW - 30 * 86_400, NOW)
intake = Intake(
    pseudonym_key=AuditKey.generate(),
    policy=Policy.default_policy(),          # policies/de-practice.toml
    practice=practice.public_key(),
    staff=[StaffMember(key=doctor.public_key(), roles=["doctor"]),
           StaffMember(key=finance.public_key(), roles=["finance"])],
    notice_id="privacy-chat", notice_version=1, notice_language="de",
    ledger=ledger,
)
identities, keyrings, outbound = Identities(), KeyringSet(), OutboundState()
audit = AuditLog("praxis.example/audit")
stored_audit_entries = []


def handle_post(name, body=None):
    """One POST from Meta: returns the HTTP status and the decisions."""
    body = body if body is not None else (FIXTURES / name).read_bytes()
    signature = (FIXTURES / (name + ".sig")).read_text()
    try:
        caduceus.verify_signature(body, signature, [APP_SECRET])
    except CaduceusError.SignatureInvalid:
        return 401, []
    hook = Webhook.parse(body)
    decisions = []
    for i in range(hook.event_count()):
        decision = intake.decide(hook, i, ledger, identities, keyrings, NOW)
        decision.apply(ledger, identities, keyrings, NOW)
        outbound.apply(decision)
        stored_audit_entries.extend(e.bytes for e in decision.append_audit(audit))
        for request in decision.reply_requests():
            pass  # POST request to the Cloud API /messages endpoint here
        print(f"[{name}] event {i}: {decision.kind()}"
              f" ({decision.audit_count()} audit entries, {len(decision.reply_requests())} replies)")
        decisions.append(decision)
    return 200, decisions


tampered = bytearray((FIXTURES / "text.json").read_bytes())
tampered[100] ^= 1
assert handle_post("text.json", bytes(tampered)) == (401, [])
print("[text.json] tampered body: 401, not parsed")

_, [first] = handle_post("text.json")            # first contact: ask for consent
patient = first.subject()
assert first.kind() == "ask-consent" and first.envelope() is None
handle_post("consent-yes-button.json")             # the patient taps "Ja"
assert ledger.decide(patient, "treatment-communication", NOW).allowed
_, [stored] = handle_post("text.json")           # now the message is kept, sealed
assert stored.kind() == "stored"

# The doctor opens it on the practice side; finance cannot.
record = keyrings.get(patient, "chat-messages")
opened = caduceus.open_with_keyring(stored.envelope(), record, doctor)
print(f"[open] doctor: {len(opened.plaintext)} bytes, labels {opened.header.labels.category}")
try:
    caduceus.open_with_keyring(stored.envelope(), record, finance)
    raise SystemExit("finance must not open a chat message")
except CaduceusError.NoAccess:
    print("[open] finance: refused (NoAccess)")

# May we answer? Consent is in, and the 24-hour window is open.
verdict = caduceus.may_send(ledger, outbound, patient, "treatment-communication", None, NOW)
print(f"[send] free-form reply: {verdict.decision}, allowed={verdict.allowed}")

# The audit log verifies against a signed checkpoint.
signer = caduceus.generate_audit_signer("praxis.example/audit")
checkpoint = audit.sign_checkpoint(signer.signer_key)
report = caduceus.verify_audit_log(stored_audit_entries, [checkpoint], [signer.verifier_key])
assert report.ok
print(f"[audit] {report.size} entries, root {report.root[:16]}..., checkpoint verified")
print("intake example: done")

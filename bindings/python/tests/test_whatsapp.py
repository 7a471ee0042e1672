"""WhatsApp: signatures, webhook parsing, the intake's decisions, the
outbound gate."""
import pytest

import caduceus
from caduceus import (
    AuditKey,
    AuditLog,
    CaduceusError,
    Identities,
    Intake,
    KeyKind,
    KeyringSet,
    Ledger,
    OutboundState,
    Policy,
    PrivateKey,
    StaffMember,
    Template,
    Webhook,
)

from conftest import DAY, NOTICE, NOW


def read(fixture_dir, name):
    return (fixture_dir / name).read_bytes()


def secret(fixture_dir):
    return read(fixture_dir, "app-secret.txt").strip()


def test_verify_signature_accepts_fixture_and_refuses_tampering(fixture_dir):
    body = read(fixture_dir, "text.json")
    sig = read(fixture_dir, "text.json.sig").decode().strip()
    assert caduceus.verify_signature(body, sig, [secret(fixture_dir)]) == 0
    assert caduceus.verify_signature(body, sig, [b"old-secret", secret(fixture_dir)]) == 1
    tampered = bytearray(body)
    tampered[len(body) // 2] ^= 1
    with pytest.raises(CaduceusError.SignatureInvalid):
        caduceus.verify_signature(bytes(tampered), sig, [secret(fixture_dir)])
    with pytest.raises(CaduceusError.SignatureInvalid):
        caduceus.verify_signature(body, None, [secret(fixture_dir)])
    with pytest.raises(CaduceusError.InvalidInput):
        caduceus.verify_signature(body, sig, [])


def test_subscription_handshake():
    assert caduceus.verify_subscription("subscribe", "tok", "12345", "tok") == "12345"
    with pytest.raises(CaduceusError.SignatureInvalid):
        caduceus.verify_subscription("subscribe", "wrong", "12345", "tok")


def test_parse_webhook(fixture_dir):
    hook = Webhook.parse(read(fixture_dir, "text.json"))
    assert hook.event_count() == 1
    redacted = hook.to_json(False)
    assert "Erika" not in redacted
    assert "Erika" in hook.to_json(True)
    with pytest.raises(CaduceusError.InvalidInput):
        Webhook.parse(read(fixture_dir, "not-whatsapp.json"))


class Practice:
    """The practice side of one intake run."""

    def __init__(self):
        self.practice = PrivateKey.generate(KeyKind.PRACTICE)
        self.doctor = PrivateKey.generate(KeyKind.STAFF)
        self.finance = PrivateKey.generate(KeyKind.STAFF)
        self.ledger = Ledger()
        self.ledger.register_notice("privacy-chat", 1, "de", NOTICE, NOW - 30 * DAY, NOW)
        self.intake = Intake(
            pseudonym_key=AuditKey.generate(),
            policy=Policy.default_policy(),
            practice=self.practice.public_key(),
            staff=[StaffMember(key=self.doctor.public_key(), roles=["doctor"]),
                   StaffMember(key=self.finance.public_key(), roles=["finance"])],
            notice_id="privacy-chat", notice_version=1, notice_language="de",
            ledger=self.ledger,
        )
        self.identities = Identities()
        self.keyrings = KeyringSet()
        self.outbound = OutboundState()
        self.log = AuditLog("praxis.example/audit")
        self.entries = []

    def post(self, fixture_dir, name):
        body = read(fixture_dir, name)
        caduceus.verify_signature(body, read(fixture_dir, name + ".sig").decode(), [secret(fixture_dir)])
        hook = Webhook.parse(body)
        decisions = []
        for i in range(hook.event_count()):
            d = self.intake.decide(hook, i, self.ledger, self.identities, self.keyrings, NOW)
            d.apply(self.ledger, self.identities, self.keyrings, NOW)
            self.outbound.apply(d)
            self.entries += [e.bytes for e in d.append_audit(self.log)]
            decisions.append(d)
        return decisions


def test_intake_from_first_message_to_stored_and_opened(fixture_dir):
    p = Practice()
    [first] = p.post(fixture_dir, "text.json")
    assert first.kind() == "ask-consent"
    assert first.envelope() is None
    assert len(first.reply_requests()) == 2  # the notice and the consent question
    assert "privacy-chat" in "".join(first.reply_requests()) or first.reply_requests()[0]
    patient = first.subject()
    assert patient.startswith("sbj-")
    assert not p.ledger.decide(patient, "treatment-communication", NOW).allowed
    [consent] = p.post(fixture_dir, "consent-yes-button.json")
    assert consent.kind() == "consent-recorded"
    assert p.ledger.decide(patient, "treatment-communication", NOW).allowed
    # The message is sent again after consent: now it is sealed and kept.
    [again] = p.post(fixture_dir, "text.json")
    assert again.kind() == "stored", again.to_json(False)
    envelope = again.envelope()
    record = p.keyrings.get(patient, "chat-messages")
    assert record is not None and again.record_id()
    opened = caduceus.open_with_keyring(envelope, record, p.doctor)
    assert b"" != opened.plaintext and opened.header.labels.subject == patient
    with pytest.raises(CaduceusError.NoAccess):
        caduceus.open_with_keyring(envelope, record, p.finance)
    # Every decision was audited and the log verifies.
    assert p.log.size() == len(p.entries) >= 3
    assert caduceus.verify_audit_log(p.entries, [], []).ok
    # The identity map persists.
    assert Identities.from_text(p.identities.to_text()).len() == p.identities.len() >= 1


def test_outbound_gate(fixture_dir):
    p = Practice()
    [first] = p.post(fixture_dir, "text.json")
    patient = first.subject()
    no = caduceus.may_send(p.ledger, p.outbound, patient, "treatment-communication", None, NOW)
    assert not no.allowed and no.decision == "forbidden" and no.forbidden == "no-consent"
    p.post(fixture_dir, "consent-yes-button.json")
    yes = caduceus.may_send(p.ledger, p.outbound, patient, "treatment-communication", None, NOW)
    assert yes.allowed and yes.decision == "free-form" and yes.window_ends > NOW
    late = caduceus.may_send(p.ledger, p.outbound, patient, "treatment-communication", None, NOW + 2 * DAY)
    assert not late.allowed and late.decision == "template-required"
    template = Template(name="appointment_reminder", language="de", category="UTILITY")
    t = caduceus.may_send(p.ledger, p.outbound, patient, "treatment-communication", template, NOW + 2 * DAY)
    assert t.allowed and t.decision == "template"
    state = OutboundState.from_text(p.outbound.to_text())
    assert caduceus.may_send(p.ledger, state, patient, "treatment-communication", None, NOW).allowed


def test_intake_configuration_errors():
    ledger = Ledger()
    practice = PrivateKey.generate(KeyKind.PRACTICE).public_key()
    staff = PrivateKey.generate(KeyKind.STAFF).public_key()
    args = dict(pseudonym_key=AuditKey.generate(), policy=Policy.default_policy(),
                notice_id="privacy-chat", notice_version=1, notice_language="de", ledger=ledger)
    with pytest.raises(CaduceusError.InvalidInput):  # the notice is not registered
        Intake(practice=practice, staff=[StaffMember(key=staff, roles=["doctor"])], **args)
    ledger.register_notice("privacy-chat", 1, "de", NOTICE, NOW - DAY, NOW)
    with pytest.raises(CaduceusError.InvalidKey):
        Intake(practice=staff, staff=[], **args)
    with pytest.raises(CaduceusError.InvalidInput):
        Intake(practice=practice, staff=[StaffMember(key=staff, roles=["no-such-role"])], **args)


def test_photo_fetch_sealed_against_the_webhook_hash(fixture_dir, tmp_path):
    p = Practice()
    [first] = p.post(fixture_dir, "text.json")
    patient = first.subject()
    p.post(fixture_dir, "consent-yes-photos-button.json")
    assert p.ledger.decide(patient, "clinical-photos", NOW).allowed
    [fetch] = p.post(fixture_dir, "image.json")
    assert fetch.kind() == "fetch-media" and fetch.media_id()
    record = fetch.keyring_record() or p.keyrings.get(patient, "clinical-photos")
    photo = read(fixture_dir, "image.bin")
    # In memory, chunk by chunk as it downloads.
    sealer = caduceus.MediaSealer(fetch)
    sealed = b"".join(sealer.push(photo[i : i + 1000]) for i in range(0, len(photo), 1000)) + sealer.finish()
    assert caduceus.open_with_keyring(sealed, record, p.doctor).plaintext == photo
    with pytest.raises(CaduceusError.NoAccess):
        caduceus.open_with_keyring(sealed, record, p.finance)
    p.entries.append(fetch.append_media_audit(p.log, None).bytes)
    # File to file.
    (tmp_path / "dl.jpg").write_bytes(photo)
    caduceus.seal_media_file(fetch, str(tmp_path / "dl.jpg"), str(tmp_path / "photo.env"))
    assert caduceus.open_with_keyring((tmp_path / "photo.env").read_bytes(), record, p.doctor).plaintext == photo
    # A download that differs in one byte is refused and leaves nothing.
    bad = bytearray(photo)
    bad[3] ^= 1
    (tmp_path / "bad.jpg").write_bytes(bytes(bad))
    with pytest.raises(CaduceusError.Tampered):
        caduceus.seal_media_file(fetch, str(tmp_path / "bad.jpg"), str(tmp_path / "bad.env"))
    assert not (tmp_path / "bad.env").exists()
    failed = fetch.append_media_audit(p.log, "media-hash-mismatch")
    assert failed.index == p.log.size() - 1
    # A decision without a media plan cannot seal media.
    with pytest.raises(CaduceusError.WrongState):
        caduceus.MediaSealer(first)

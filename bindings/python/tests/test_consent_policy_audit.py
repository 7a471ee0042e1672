"""Consent ledger, retention policy and erasure plans, the audit log."""
import pytest

import caduceus
from caduceus import (
    AuditEvent,
    AuditKey,
    AuditLog,
    AuditOutcome,
    CaduceusError,
    ConsentEvent,
    ConsentMethod,
    ConsentStatus,
    Ledger,
    NoticeId,
    OptOutRequest,
    Policy,
    PseudonymKind,
)

from conftest import DAY, NOTICE, NOW

SUBJECT = "p-7f3a91"


def ledger_with_notice():
    ledger = Ledger()
    ref = ledger.register_notice("privacy-chat", 1, "de", NOTICE, NOW - 30 * DAY, NOW)
    assert ref.id == "privacy-chat" and len(ref.sha256) == 64
    return ledger


def given(event_id="ev-1", purposes=("treatment-communication",), time=NOW - DAY):
    return ConsentEvent(
        id=event_id,
        subject=SUBJECT,
        purposes=list(purposes),
        status=ConsentStatus.GIVEN,
        method=ConsentMethod.CHAT_REPLY,
        notice=NoticeId(id="privacy-chat", version=1, language="de"),
        channel="whatsapp",
        evidence="wamid.TEST",
        recorded_by="system",
        time=time,
        expires_at=None,
    )


def test_consent_decisions_given_withdrawn():
    ledger = ledger_with_notice()
    before = ledger.decide(SUBJECT, "treatment-communication", NOW)
    assert not before.allowed and before.refusal == "no-consent"
    ref = ledger.record(given(), NOW)
    assert ref.seq == 0 and len(ref.sha256) == 64
    d = ledger.decide(SUBJECT, "treatment-communication", NOW)
    assert d.allowed and d.event == ref and d.basis is not None and "Art. 6" in d.basis
    assert ledger.require(SUBJECT, "treatment-communication", NOW).allowed
    ledger.withdraw("ev-2", SUBJECT, ["treatment-communication"], ConsentMethod.CHAT_REPLY,
                    "whatsapp", "system", NOW - 10, NOW)
    after = ledger.decide(SUBJECT, "treatment-communication", NOW)
    assert not after.allowed and after.refusal == "withdrawn"
    with pytest.raises(CaduceusError.NotConsented) as e:
        ledger.require(SUBJECT, "treatment-communication", NOW)
    assert e.value.reason == "withdrawn"
    assert ledger.len() == 2


def test_ledger_round_trips_and_rejects_bad_events():
    ledger = ledger_with_notice()
    ledger.record(given(), NOW)
    again = Ledger.from_bytes(ledger.to_bytes())
    assert again.decide(SUBJECT, "treatment-communication", NOW).allowed
    with pytest.raises(CaduceusError.InvalidInput):
        again.record(given(), NOW)  # duplicate event id
    with pytest.raises(CaduceusError.InvalidInput):
        again.record(given("ev-9", purposes=("no-such-purpose",)), NOW)
    with pytest.raises(CaduceusError.InvalidInput):
        Ledger.from_bytes(b"not a ledger")
    fhir = again.export_fhir(SUBJECT, NOW)
    assert '"resourceType":"Bundle"' in fhir.replace(" ", "")


def test_stop_reply_is_recorded_as_opt_out():
    ledger = ledger_with_notice()
    ledger.record(given(purposes=("treatment-communication", "recall")), NOW)
    req = OptOutRequest(event_id="ev-stop", subject=SUBJECT, reply="STOP", message_id="wamid.S",
                        channel="whatsapp", recorded_by="system", time=NOW - 5)
    stopped = ledger.opt_out(req, NOW)
    assert "recall" in stopped
    assert not ledger.decide(SUBJECT, "recall", NOW).allowed
    req.event_id, req.reply = "ev-hello", "Hallo, ich habe eine Frage"
    assert ledger.opt_out(req, NOW) == []


def test_erasure_plan_and_access():
    policy = Policy.default_policy()
    assert policy.hash().startswith("sha256:") and len(policy.hash()) == 71
    records = (
        '[{"id": 1, "subject": "p-1", "category": "chat-messages", "created": "2026-03-01"},'
        ' {"id": 2, "subject": "p-1", "category": "patient-record", "created": "2026-03-01",'
        '  "end-of-treatment": "2026-04-01"}]'
    )
    plan = policy.plan_erasure("p-1", records, None, NOW)
    assert plan.erase_now == [1]
    assert plan.keep == [2]
    assert "chat-messages" in plan.shred_categories
    assert plan.deadline > NOW
    assert "caduceus-erasure-plan/1" in plan.json
    assert plan.text_de and plan.text_en
    with pytest.raises(CaduceusError.InvalidInput):
        policy.plan_erasure("p-2", records, None, NOW)  # another subject's records
    assert policy.may_access("doctor", "chat-messages", caduceus.AccessOperation.READ)
    assert not policy.may_access("finance", "chat-messages", caduceus.AccessOperation.READ)
    assert "doctor" in policy.readers("clinical-photos")
    with pytest.raises(CaduceusError.InvalidInput):
        policy.may_access("no-such-role", "chat-messages", caduceus.AccessOperation.READ)
    with pytest.raises(CaduceusError.InvalidInput):
        Policy.parse("this is = not [ a policy")


def audit_event(key, i):
    return AuditEvent(
        time_ms=(NOW + i) * 1000,
        actor=key.pseudonym(PseudonymKind.STAFF, "dr-weber"),
        role="doctor",
        action="read",
        source="pms-test",
        subject=key.pseudonym(PseudonymKind.SUBJECT, "patient-17"),
        category="chat-messages",
        record=f"wa-{i}",
        purpose="treatment-communication",
        legal_basis=None,
        correlation=None,
        outcome=AuditOutcome.SUCCESS(),
    )


def test_audit_append_checkpoint_verify_and_tamper():
    key = AuditKey.generate()
    assert key.pseudonym(PseudonymKind.SUBJECT, "patient-17").startswith("sbj-")
    assert AuditKey.parse(key.to_secret_text()).pseudonym(PseudonymKind.STAFF, "x") == key.pseudonym(
        PseudonymKind.STAFF, "x")
    assert "REDACTED" in repr(key)
    signer = caduceus.generate_audit_signer("praxis.example/audit")
    log = AuditLog("praxis.example/audit")
    entries = [log.append(audit_event(key, i)).bytes for i in range(5)]
    assert log.size() == 5 and len(log.root()) == 64
    signed = log.sign_checkpoint(signer.signer_key)
    assert log.checkpoint().splitlines()[1] == "5"
    report = caduceus.verify_audit_log(entries, [signed], [signer.verifier_key])
    assert report.ok and report.size == 5 and report.checkpoints_matched == 1
    assert report.root == log.root() and report.first_bad_index is None
    # A changed entry is detected, and named.
    tampered = list(entries)
    bad = bytearray(tampered[2])
    bad[len(bad) // 2] ^= 1
    tampered[2] = bytes(bad)
    report = caduceus.verify_audit_log(tampered, [signed], [signer.verifier_key])
    assert not report.ok and report.first_bad_index == 2 and report.fault
    with pytest.raises(CaduceusError.Tampered):
        AuditLog.from_entries("praxis.example/audit", tampered)
    resumed = AuditLog.from_entries("praxis.example/audit", entries)
    assert resumed.root() == log.root()
    # A checkpoint signed by another key is refused.
    other = caduceus.generate_audit_signer("praxis.example/audit")
    with pytest.raises(CaduceusError.SignatureInvalid):
        caduceus.verify_audit_log(entries, [signed], [other.verifier_key])


def test_audit_event_validation():
    key = AuditKey.generate()
    ev = audit_event(key, 0)
    ev.action = "no-such-action"
    with pytest.raises(CaduceusError.InvalidInput):
        AuditLog("praxis.example/audit").append(ev)
    with pytest.raises(CaduceusError.InvalidInput):
        AuditKey.parse("not a key")


def test_retention_sweep_on_metadata_only():
    policy = Policy.default_policy()
    records = (
        '[{"id": 1, "subject": "p-1", "category": "chat-messages", "created": "2020-01-01"},'
        ' {"id": 2, "subject": "p-1", "category": "chat-messages", "created": "2026-08-01"},'
        ' {"id": 3, "subject": "p-2", "category": "patient-record"}]'
    )
    report = policy.sweep(records, None, NOW)
    assert (report.due, report.kept, report.held, report.unresolved) == (1, 1, 0, 1)
    assert "caduceus-sweep/1" in report.json
    held = policy.sweep(records, '[{"subject": "p-1", "reason": "litigation"}]', NOW)
    assert held.due == 0 and held.held == 2
    with pytest.raises(CaduceusError.InvalidInput):
        policy.sweep(records, None, 10**12)


def test_bulk_decisions_history_and_iso_export():
    ledger = ledger_with_notice()
    ledger.record(given(), NOW)
    decisions = ledger.decide_many([SUBJECT, "p-other"], "treatment-communication", NOW)
    assert [d.allowed for d in decisions] == [True, False]
    assert ledger.history_len(SUBJECT) == 1 and ledger.history_len("p-other") == 0
    assert SUBJECT in ledger.export_iso27560(SUBJECT)

"""Keys, keyring records and envelopes (one-shot, streaming, files)."""
import os

import pytest

import caduceus
from caduceus import (
    CaduceusError,
    KeyKind,
    KeyringRecord,
    Labels,
    Opener,
    PrivateKey,
    PublicKey,
    Sealer,
)

SEGMENT = 64 * 1024


def labels(category="chat-messages", content_type="text/plain"):
    return Labels(
        subject="p-7f3a91",
        category=category,
        purpose="treatment-communication",
        content_type=content_type,
        created_at=1_763_800_000,
    )


@pytest.fixture
def practice():
    return PrivateKey.generate(KeyKind.PRACTICE)


@pytest.fixture
def doctor():
    return PrivateKey.generate(KeyKind.STAFF)


@pytest.fixture
def finance():
    return PrivateKey.generate(KeyKind.STAFF)


@pytest.fixture
def record(practice, doctor):
    return KeyringRecord.create(
        "p-7f3a91", "chat-messages", [practice.public_key(), doctor.public_key()], 1_763_800_000
    )


def test_private_key_round_trips_through_bytes_and_is_redacted():
    key = PrivateKey.generate(KeyKind.STAFF)
    secret = key.to_bytes()
    assert len(secret) == 32
    again = PrivateKey.from_bytes(KeyKind.STAFF, secret)
    assert again.key_id() == key.key_id()
    assert again.public_key().to_text() == key.public_key().to_text()
    assert again.kind() == KeyKind.STAFF
    assert secret.hex() not in repr(key)
    assert "REDACTED" in repr(key)
    text = key.to_secret_text()
    assert PrivateKey.from_secret_text(text).key_id() == key.key_id()


def test_public_key_text_and_bytes():
    pub = PrivateKey.generate(KeyKind.PRACTICE).public_key()
    assert pub.to_text().startswith("cdpractice1")
    assert PublicKey.parse(pub.to_text()).key_id() == pub.key_id()
    assert PublicKey.from_bytes(KeyKind.PRACTICE, pub.to_bytes()).to_text() == pub.to_text()
    assert str(pub) == pub.to_text()
    assert len(pub.key_id()) == 32


def test_seal_and_open_a_message(record, doctor):
    sealed = caduceus.seal([record.public_key()], labels(), "Guten Tag, Frau Doktor".encode())
    opened = caduceus.open_with_keyring(sealed, record, doctor)
    assert opened.plaintext == "Guten Tag, Frau Doktor".encode()
    assert opened.header.labels == labels()
    assert opened.header.recipients == [record.public_key().key_id()]
    header = caduceus.inspect(sealed)
    assert header.labels.subject == "p-7f3a91"
    assert header.envelope_id == opened.header.envelope_id


def test_doctor_opens_finance_cannot(record, doctor, finance):
    sealed = caduceus.seal([record.public_key()], labels(), b"Befund")
    assert caduceus.open_with_keyring(sealed, record, doctor).plaintext == b"Befund"
    with pytest.raises(CaduceusError.NoAccess):
        caduceus.open_with_keyring(sealed, record, finance)
    with pytest.raises(CaduceusError.NoAccess):
        caduceus.open(sealed, finance)


def test_multi_segment_image_in_memory_and_segment_access(record, doctor):
    image = os.urandom(3 * SEGMENT + 12345)
    sealed = caduceus.seal([record.public_key()], labels("clinical-photos", "image/jpeg"), image)
    opened = caduceus.open_with_keyring(sealed, record, doctor)
    assert opened.plaintext == image
    subject_key = record.unwrap_key(doctor)
    assert caduceus.open_segment(sealed, subject_key, 2) == image[2 * SEGMENT : 3 * SEGMENT]
    assert caduceus.open_segment(sealed, subject_key, 3) == image[3 * SEGMENT :]


def test_streaming_sealer_and_opener_chunk_by_chunk(record, doctor):
    image = os.urandom(5 * SEGMENT + 7)
    sealer = Sealer(recipients=[record.public_key()], labels=labels("clinical-photos", "image/jpeg"))
    out = bytearray()
    for i in range(0, len(image), 10_000):
        out += sealer.push(image[i : i + 10_000])
    out += sealer.finish()
    with pytest.raises(CaduceusError.WrongState):
        sealer.push(b"more")
    # The one-shot opener reads what the streaming sealer wrote.
    assert caduceus.open_with_keyring(bytes(out), record, doctor).plaintext == image
    opener = Opener.with_keyring(record, doctor)
    assert opener.header() is None
    plain = bytearray()
    for i in range(0, len(out), 7_777):
        plain += opener.push(bytes(out[i : i + 7_777]))
    plain += opener.finish()
    assert bytes(plain) == image
    assert opener.header().labels.content_type == "image/jpeg"


def test_streaming_opener_refuses_a_truncated_envelope(record, doctor):
    sealed = caduceus.seal([record.public_key()], labels(), os.urandom(2 * SEGMENT + 5))
    opener = Opener.with_keyring(record, doctor)
    released = opener.push(sealed[: -100])
    with pytest.raises(CaduceusError.Tampered):
        opener.finish()
    # What was released had authenticated, segment by segment.
    assert len(released) % SEGMENT == 0


def test_file_to_file_seal_and_open(tmp_path, record, doctor, finance):
    src = tmp_path / "photo.jpg"
    image = os.urandom(4 * SEGMENT + 99)
    src.write_bytes(image)
    sealed = tmp_path / "photo.env"
    caduceus.seal_file([record.public_key()], labels("clinical-photos", "image/jpeg"), str(src), str(sealed))
    out = tmp_path / "photo.out"
    header = caduceus.open_file_with_keyring(record, doctor, str(sealed), str(out))
    assert out.read_bytes() == image
    assert header.labels.category == "clinical-photos"
    denied = tmp_path / "denied.out"
    with pytest.raises(CaduceusError.NoAccess):
        caduceus.open_file_with_keyring(record, finance, str(sealed), str(denied))
    assert not denied.exists()


def test_tampered_file_leaves_no_plaintext_behind(tmp_path, record, doctor):
    src = tmp_path / "doc.pdf"
    src.write_bytes(os.urandom(3 * SEGMENT))
    sealed = tmp_path / "doc.env"
    caduceus.seal_file([record.public_key()], labels(), str(src), str(sealed))
    data = bytearray(sealed.read_bytes())
    data[-10] ^= 1
    sealed.write_bytes(bytes(data))
    out = tmp_path / "doc.out"
    with pytest.raises(CaduceusError.Tampered):
        caduceus.open_file_with_keyring(record, doctor, str(sealed), str(out))
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if "partial" in p.name] == []


def test_missing_input_file_is_an_io_error(tmp_path, record):
    with pytest.raises(CaduceusError.Io):
        caduceus.seal_file([record.public_key()], labels(), str(tmp_path / "nope"), str(tmp_path / "out"))


def test_tampered_envelope_in_memory(record, doctor):
    sealed = bytearray(caduceus.seal([record.public_key()], labels(), b"x" * 1000))
    sealed[-5] ^= 0x40
    with pytest.raises(CaduceusError.Tampered):
        caduceus.open_with_keyring(bytes(sealed), record, doctor)


def test_keyring_add_revoke_and_rewrap(practice, doctor):
    record = KeyringRecord.create("p-1", "chat-messages", [practice.public_key()], 1_763_800_000)
    sealed = caduceus.seal([record.public_key()], labels(), b"hello")
    with pytest.raises(CaduceusError.NoAccess):
        caduceus.open_with_keyring(sealed, record, doctor)
    added = record.add_recipients(practice, [doctor.public_key()])
    assert caduceus.open_with_keyring(sealed, added, doctor).plaintext == b"hello"
    assert set(added.recipient_ids()) == {practice.key_id(), doctor.key_id()}
    revoked = added.revoke_recipient(doctor.key_id())
    with pytest.raises(CaduceusError.NoAccess):
        caduceus.open_with_keyring(sealed, revoked, doctor)
    again = KeyringRecord.from_bytes(added.to_bytes())
    assert again.recipient_ids() == added.recipient_ids()
    assert again.subject() == "p-1" and again.category() == "chat-messages"


def test_envelope_rewrap_adds_and_removes_recipients(practice, doctor):
    sealed = caduceus.seal([practice.public_key()], labels(), b"payload stays")
    rewrapped = caduceus.rewrap(sealed, practice, [doctor.public_key()], [])
    assert caduceus.open(rewrapped, doctor).plaintext == b"payload stays"
    assert rewrapped[-len(b"payload stays") - 16 :] == sealed[-len(b"payload stays") - 16 :]
    back = caduceus.rewrap(rewrapped, practice, [], [doctor.public_key().key_id()])
    with pytest.raises(CaduceusError.NoAccess):
        caduceus.open(back, doctor)


def test_shredded_record_erases(record, doctor):
    sealed = caduceus.seal([record.public_key()], labels(), b"gone")
    shredded = record.shred(1_763_900_000)
    assert shredded.state() == caduceus.KeyringState.SHREDDED(at=1_763_900_000)
    assert record.state() == caduceus.KeyringState.ACTIVE()
    with pytest.raises(CaduceusError.KeyShredded):
        caduceus.open_with_keyring(sealed, shredded, doctor)


def test_invalid_keys_and_labels():
    with pytest.raises(CaduceusError.InvalidKey):
        PublicKey.parse("cdstaff1notakey")
    with pytest.raises(CaduceusError.InvalidInput):
        PrivateKey.from_bytes(KeyKind.STAFF, b"short")
    pub = PrivateKey.generate(KeyKind.PRACTICE).public_key()
    with pytest.raises(CaduceusError.InvalidInput) as e:
        caduceus.seal([pub], Labels(subject="", category="c", purpose="p", content_type="text/plain", created_at=0), b"x")
    assert "Erika" not in str(e.value)
    with pytest.raises(CaduceusError.InvalidInput):
        caduceus.seal([], labels(), b"x")


def test_a_rust_panic_becomes_an_exception():
    with pytest.raises(caduceus.InternalError) as e:
        caduceus.test_only_panic("boom")
    assert "boom" in str(e.value)
    # The library still works after the panic.
    assert caduceus.version() == caduceus.version() and caduceus.version().count(".") == 2
    with pytest.raises(CaduceusError.InvalidInput):
        caduceus.test_only_panic("")


def test_import_works_from_any_directory(tmp_path):
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", "import caduceus; print(caduceus.version())"],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    )
    assert out.stdout.strip() == caduceus.version()


def test_envelope_set_parts_in_any_order(record, doctor):
    parts = [b"Teil eins. ", b"Teil zwei. ", b"Teil drei."]
    sealed = caduceus.seal_parts([record.public_key()], labels(), parts)
    assert len(sealed) == 3
    headers = [caduceus.inspect(s) for s in sealed]
    assert [(h.part_index, h.part_count) for h in headers] == [(1, 3), (2, 3), (3, 3)]
    subject_key = record.unwrap_key(doctor)
    collected = caduceus.PartSet()
    collected.add(sealed[2], subject_key)
    collected.add(sealed[0], subject_key)
    assert collected.count() == 3 and collected.missing() == [2] and not collected.is_complete()
    with pytest.raises(CaduceusError.InvalidInput):
        collected.assemble()
    collected.add(sealed[1], subject_key)
    assert collected.is_complete() and collected.assemble() == b"".join(parts)


def test_internal_errors_arrive_as_the_internal_variant():
    with pytest.raises(CaduceusError.Internal):
        caduceus.test_only_internal_error()


def test_every_error_variant_is_reached_by_this_suite():
    # The variants the suite above raises from real calls (and Internal from
    # the test hook); a new variant must get a test.
    variants = {
        name for name in dir(CaduceusError)
        if isinstance(getattr(CaduceusError, name), type)
        and issubclass(getattr(CaduceusError, name), CaduceusError)
    }
    assert variants == {
        "NoAccess", "KeyShredded", "Tampered", "SignatureInvalid", "NotConsented",
        "InvalidKey", "InvalidInput", "WrongState", "Io", "Internal",
    }


def test_rotate_a_staff_device_key_and_open_with_a_plain_identity(tmp_path, practice):
    old_phone, new_phone = PrivateKey.generate(KeyKind.STAFF), PrivateKey.generate(KeyKind.STAFF)
    record = KeyringRecord.create("p-5", "chat-messages", [practice.public_key(), old_phone.public_key()], 1)
    rotated = record.rotate_recipient(practice, old_phone.key_id(), new_phone.public_key())
    assert set(rotated.recipient_ids()) == {practice.key_id(), new_phone.key_id()}
    sealed = caduceus.seal([rotated.public_key()], labels(), b"rotated")
    assert caduceus.open_with_keyring(sealed, rotated, new_phone).plaintext == b"rotated"
    with pytest.raises(CaduceusError.NoAccess):
        caduceus.open_with_keyring(sealed, rotated, old_phone)
    direct = caduceus.seal([practice.public_key()], labels(), b"direct")
    opener = Opener(practice)
    assert opener.push(direct) + opener.finish() == b"direct"
    (tmp_path / "d.env").write_bytes(direct)
    header = caduceus.open_file(practice, str(tmp_path / "d.env"), str(tmp_path / "d.txt"))
    assert (tmp_path / "d.txt").read_bytes() == b"direct" and header.recipients == [practice.key_id()]


def test_practice_key_rotation_and_open_any(practice, doctor):
    records = [KeyringRecord.create(f"p-{i}", "chat-messages", [practice.public_key(), doctor.public_key()], 1)
               for i in range(3)]
    sealed = caduceus.seal([records[1].public_key()], labels(), b"kept across the rotation")
    new_practice = PrivateKey.generate(KeyKind.PRACTICE)
    rotated = caduceus.rotate_practice_key(records, practice, new_practice.public_key())
    assert [r.subject() for r in rotated] == ["p-0", "p-1", "p-2"]
    assert all(new_practice.key_id() in r.recipient_ids() and practice.key_id() not in r.recipient_ids()
               for r in rotated)
    assert caduceus.open_with_keyring(sealed, rotated[1], new_practice).plaintext == b"kept across the rotation"
    with pytest.raises(CaduceusError.NoAccess):
        caduceus.open_with_keyring(sealed, rotated[1], practice)
    with pytest.raises(CaduceusError.NoAccess):
        caduceus.rotate_practice_key(rotated, practice, new_practice.public_key())
    other = PrivateKey.generate(KeyKind.STAFF)
    direct = caduceus.seal([doctor.public_key()], labels(), b"any")
    assert caduceus.open_any(direct, [other, doctor]).plaintext == b"any"
    with pytest.raises(CaduceusError.NoAccess):
        caduceus.open_any(direct, [other])

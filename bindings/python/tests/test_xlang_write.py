"""Cross-language, step 1 of 3 (scripts/bindings-test.sh): Python seals an
image and leaves it with the keyring record and the staff key for the
Kotlin suite and the C check to open."""
import os

import caduceus
from caduceus import KeyKind, KeyringRecord, Labels, PrivateKey


def test_python_seals_for_kotlin_and_c(xlang_dir):
    practice = PrivateKey.generate(KeyKind.PRACTICE)
    doctor = PrivateKey.generate(KeyKind.STAFF)
    record = KeyringRecord.create(
        "p-xlang", "clinical-photos", [practice.public_key(), doctor.public_key()], 1_790_000_000)
    image = os.urandom(200_000)
    labels = Labels(subject="p-xlang", category="clinical-photos", purpose="treatment-communication",
                    content_type="image/jpeg", created_at=1_790_000_000)
    (xlang_dir / "py-plain.bin").write_bytes(image)
    caduceus.seal_file([record.public_key()], labels, str(xlang_dir / "py-plain.bin"),
                       str(xlang_dir / "py-sealed.env"))
    (xlang_dir / "py-record.bin").write_bytes(record.to_bytes())
    (xlang_dir / "py-staff.key").write_text(doctor.to_secret_text())
    # What the other languages will do, checked here first.
    sealed = (xlang_dir / "py-sealed.env").read_bytes()
    assert caduceus.open_with_keyring(sealed, record, doctor).plaintext == image

"""Cross-language, step 3 of 3 (scripts/bindings-test.sh, after the Kotlin
suite): Python opens what Kotlin sealed."""
import caduceus
from caduceus import KeyringRecord, PrivateKey


def test_python_opens_what_kotlin_sealed(xlang_dir):
    record = KeyringRecord.from_bytes((xlang_dir / "kt-record.bin").read_bytes())
    doctor = PrivateKey.from_secret_text((xlang_dir / "kt-staff.key").read_text())
    sealed = (xlang_dir / "kt-sealed.env").read_bytes()
    opened = caduceus.open_with_keyring(sealed, record, doctor)
    assert opened.plaintext == (xlang_dir / "kt-plain.bin").read_bytes()
    assert opened.header.labels.subject == "p-kotlin"

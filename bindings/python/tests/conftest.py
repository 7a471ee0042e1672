"""Shared fixtures of the Python binding tests."""
import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures" / "whatsapp"
# Files exchanged with the Kotlin and C suites in the same run
# (scripts/bindings-test.sh sets it; a plain pytest run uses a temp dir).
XLANG = pathlib.Path(os.environ.get("CADUCEUS_XLANG_DIR", ROOT / "target" / "bindings-xlang"))

NOW = 1_790_000_100  # just after the fixture messages
DAY = 86_400
NOTICE = (
    "Datenschutzhinweis der Praxis Dr. Beispiel (Art. 13 DSGVO): Wir speichern "
    "Ihre Nachrichten verschlüsselt und nur mit Ihrer Einwilligung."
)


@pytest.fixture
def fixture_dir():
    return FIXTURES


@pytest.fixture
def xlang_dir():
    XLANG.mkdir(parents=True, exist_ok=True)
    return XLANG

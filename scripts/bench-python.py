#!/usr/bin/env python3
"""Benchmark of the Python bindings against what a Python developer would
otherwise reach for (`make bench-python`; not part of `make test`).

  * seal and open of a 5 MiB image in memory and file to file, against the
    `cryptography` package's AESGCM on the same buffer (AES-256-GCM in one
    call, no key management, no segments);
  * 200-byte seals per second against PyNaCl's SealedBox (X25519 + XSalsa20-
    Poly1305 to one public key), the nearest equivalent of an envelope to
    one recipient.

It builds the release wheel with maturin, installs it with the two
packages into target/bench-venv (once), re-runs itself there and prints
the medians and the ratios. Figures and their explanation: docs/BINDINGS.md.
"""
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
VENV = ROOT / "target" / "bench-venv"
PY = VENV / "bin" / "python"


def setup():
    if not PY.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(PY), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run(pip + ["maturin==1.16.0", "cryptography==50.0.2", "pynacl==1.6.2"], check=True)
    wheels = ROOT / "target" / "wheels-release"
    for old in wheels.glob("caduceus-*.whl"):
        old.unlink()
    subprocess.run([str(VENV / "bin" / "maturin"), "build", "--release", "--quiet", "--out", str(wheels)],
                   cwd=ROOT / "bindings", check=True)
    subprocess.run(pip + ["--force-reinstall", "--no-deps", *map(str, wheels.glob("caduceus-*.whl"))],
                   check=True)
    os.execv(str(PY), [str(PY), __file__, "--run"])


def median_seconds(fn, repeat):
    fn()  # warm up
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def run():
    import caduceus
    from caduceus import KeyKind, KeyringRecord, Labels, PrivateKey
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from nacl.public import PrivateKey as NaclPrivateKey, SealedBox

    size = 5 * 1024 * 1024
    image = os.urandom(size)
    practice = PrivateKey.generate(KeyKind.PRACTICE)
    record = KeyringRecord.create("p-bench", "clinical-photos", [practice.public_key()], 1_790_000_000)
    subject_key = record.unwrap_key(practice)
    recipients = [record.public_key()]
    labels = Labels(subject="p-bench", category="clinical-photos", purpose="treatment-communication",
                    content_type="image/jpeg", created_at=1_790_000_000)

    sealed = caduceus.seal(recipients, labels, image)
    assert caduceus.open(sealed, subject_key).plaintext == image
    aes = AESGCM(AESGCM.generate_key(bit_length=256))
    nonce = os.urandom(12)
    aes_ct = aes.encrypt(nonce, image, None)

    work = pathlib.Path(tempfile.mkdtemp(dir=ROOT / "target"))
    src, env, out = work / "image.jpg", work / "image.env", work / "image.out"
    src.write_bytes(image)

    def copy_with_fsync():
        # The I/O floor of a file-to-file call on this machine: read the
        # file, write it beside, fsync, rename (what seal_file does, minus
        # the cipher).
        data = src.read_bytes()
        with open(work / "copy.tmp", "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(work / "copy.tmp", work / "copy.out")

    r = 15
    t = {
        "python copy + fsync (I/O floor)": median_seconds(copy_with_fsync, r),
        "caduceus seal, in memory": median_seconds(lambda: caduceus.seal(recipients, labels, image), r),
        "caduceus open, in memory": median_seconds(lambda: caduceus.open(sealed, subject_key), r),
        "caduceus seal, file to file": median_seconds(
            lambda: caduceus.seal_file(recipients, labels, str(src), str(env)), r),
        "caduceus open, file to file": median_seconds(
            lambda: caduceus.open_file(subject_key, str(env), str(out)), r),
        "cryptography AESGCM encrypt": median_seconds(lambda: aes.encrypt(nonce, image, None), r),
        "cryptography AESGCM decrypt": median_seconds(lambda: aes.decrypt(nonce, aes_ct, None), r),
    }
    assert out.read_bytes() == image
    for p in (src, env, out, work / "copy.out"):
        p.unlink()
    work.rmdir()
    print(f"5 MiB image (median of {r}):")
    for name, secs in t.items():
        print(f"  {name:32} {secs * 1000:8.2f} ms  {size / secs / 2**20:8.0f} MiB/s")
    aes_enc, aes_dec = t["cryptography AESGCM encrypt"], t["cryptography AESGCM decrypt"]
    print("ratios (time / AESGCM's time in memory; <= 1.0 is at least as fast):")
    print(f"  seal in memory   {t['caduceus seal, in memory'] / aes_enc:5.2f}")
    print(f"  seal file-to-file {t['caduceus seal, file to file'] / aes_enc:5.2f}   (goal <= 1.0)")
    print(f"  open in memory   {t['caduceus open, in memory'] / aes_dec:5.2f}")
    print(f"  open file-to-file {t['caduceus open, file to file'] / aes_dec:5.2f}")
    floor = t["python copy + fsync (I/O floor)"]
    print("file-to-file against the I/O floor (time / copy+fsync time):")
    print(f"  seal file-to-file {t['caduceus seal, file to file'] / floor:5.2f}")
    print(f"  open file-to-file {t['caduceus open, file to file'] / floor:5.2f}")

    msg = os.urandom(200)
    box = SealedBox(NaclPrivateKey.generate().public_key)
    n = 2000

    def rate(fn):
        fn()
        best = 0.0
        for _ in range(5):
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            best = max(best, n / (time.perf_counter() - t0))
        return best

    ours = rate(lambda: caduceus.seal(recipients, labels, msg))
    nacl = rate(lambda: box.encrypt(msg))
    print("200-byte seals per second (best of 5 x 2000):")
    print(f"  caduceus seal (one recipient) {ours:10.0f}/s")
    print(f"  PyNaCl SealedBox              {nacl:10.0f}/s")
    print(f"  ratio caduceus / SealedBox    {ours / nacl:10.2f}   (goal >= 0.8)")
    calls = rate(caduceus.version)
    print(f"  one binding call (version())  {calls:10.0f}/s  ({1e6 / calls:.1f} us of each seal's cost)")


if __name__ == "__main__":
    if "--run" in sys.argv:
        run()
    else:
        setup()

package health.caduceus

import java.io.File
import java.nio.file.Files
import java.nio.file.Path
import kotlin.random.Random
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir

const val NOW = 1_790_000_100L
const val DAY = 86_400L
const val SEGMENT = 64 * 1024
const val NOTICE =
    "Datenschutzhinweis der Praxis Dr. Beispiel (Art. 13 DSGVO): Wir speichern " +
        "Ihre Nachrichten verschlüsselt und nur mit Ihrer Einwilligung."

fun labels(category: String = "chat-messages", contentType: String = "text/plain") =
    Labels("p-7f3a91", category, "treatment-communication", contentType, 1_763_800_000L)

val fixtures = File(System.getProperty("caduceus.fixtures", "../../tests/fixtures/whatsapp"))

fun fixture(name: String): ByteArray = File(fixtures, name).readBytes()

class KeysAndEnvelopesTest {
    private val practice = PrivateKey.generate(KeyKind.PRACTICE)
    private val doctor = PrivateKey.generate(KeyKind.STAFF)
    private val finance = PrivateKey.generate(KeyKind.STAFF)
    private val record =
        KeyringRecord.create(
            "p-7f3a91", "chat-messages", listOf(practice.publicKey(), doctor.publicKey()), 1_763_800_000L)

    @Test
    fun privateKeyRoundTripsThroughBytesForTheKeystore() {
        val secret = doctor.toBytes()
        assertEquals(32, secret.size)
        val again = PrivateKey.fromBytes(KeyKind.STAFF, secret)
        assertEquals(doctor.keyId(), again.keyId())
        assertEquals(doctor.publicKey().toText(), again.publicKey().toText())
        assertTrue(doctor.toString().contains("REDACTED"))
        assertFalse(doctor.toString().contains(secret.joinToString("") { "%02x".format(it) }))
        assertTrue(PublicKey.parse(practice.publicKey().toText()).toText().startsWith("cdpractice1"))
    }

    @Test
    fun sealAndOpenAMessage() {
        val sealed = seal(listOf(record.publicKey()), labels(), "Guten Tag".toByteArray())
        val opened = openWithKeyring(sealed, record, doctor)
        assertArrayEquals("Guten Tag".toByteArray(), opened.plaintext)
        assertEquals(labels(), opened.header.labels)
        assertEquals("p-7f3a91", inspect(sealed).labels.subject)
    }

    @Test
    fun doctorOpensFinanceCannot() {
        val sealed = seal(listOf(record.publicKey()), labels(), "Befund".toByteArray())
        assertArrayEquals("Befund".toByteArray(), openWithKeyring(sealed, record, doctor).plaintext)
        assertThrows<CaduceusException.NoAccess> { openWithKeyring(sealed, record, finance) }
    }

    @Test
    fun multiSegmentImageStreamedChunkByChunk() {
        val image = Random.nextBytes(5 * SEGMENT + 3)
        val sealer = Sealer(listOf(record.publicKey()), labels("clinical-photos", "image/jpeg"))
        val out = java.io.ByteArrayOutputStream()
        image.toList().chunked(20_000).forEach { out.write(sealer.push(it.toByteArray())) }
        out.write(sealer.finish())
        assertThrows<CaduceusException.WrongState> { sealer.finish() }
        val sealed = out.toByteArray()
        assertArrayEquals(image, openWithKeyring(sealed, record, doctor).plaintext)
        val opener = Opener.withKeyring(record, doctor)
        val plain = java.io.ByteArrayOutputStream()
        var i = 0
        while (i < sealed.size) {
            plain.write(opener.push(sealed.copyOfRange(i, minOf(i + 9_999, sealed.size))))
            i += 9_999
        }
        plain.write(opener.finish())
        assertArrayEquals(image, plain.toByteArray())
        assertEquals("image/jpeg", opener.header()!!.labels.contentType)
        val subjectKey = record.unwrapKey(doctor)
        assertArrayEquals(image.copyOfRange(SEGMENT, 2 * SEGMENT), openSegment(sealed, subjectKey, 1uL))
    }

    @Test
    fun fileToFileSealAndOpen(@TempDir dir: Path) {
        val image = Random.nextBytes(3 * SEGMENT + 1)
        val src = dir.resolve("photo.jpg").toFile().apply { writeBytes(image) }
        val sealed = dir.resolve("photo.env").toString()
        sealFile(listOf(record.publicKey()), labels("clinical-photos", "image/jpeg"), src.path, sealed)
        val out = dir.resolve("photo.out").toString()
        val header = openFileWithKeyring(record, doctor, sealed, out)
        assertArrayEquals(image, File(out).readBytes())
        assertEquals("clinical-photos", header.labels.category)
        val denied = dir.resolve("denied.out")
        assertThrows<CaduceusException.NoAccess> { openFileWithKeyring(record, finance, sealed, denied.toString()) }
        assertFalse(Files.exists(denied))
    }

    @Test
    fun tamperingIsDetected() {
        val sealed = seal(listOf(record.publicKey()), labels(), ByteArray(1000) { 7 })
        sealed[sealed.size - 3] = (sealed[sealed.size - 3].toInt() xor 1).toByte()
        assertThrows<CaduceusException.Tampered> { openWithKeyring(sealed, record, doctor) }
    }

    @Test
    fun keyringAddRevokeRewrapAndShred() {
        val own = KeyringRecord.create("p-1", "chat-messages", listOf(practice.publicKey()), 1_763_800_000L)
        val sealed = seal(listOf(own.publicKey()), labels(), "hello".toByteArray())
        assertThrows<CaduceusException.NoAccess> { openWithKeyring(sealed, own, doctor) }
        val added = own.addRecipients(practice, listOf(doctor.publicKey()))
        assertArrayEquals("hello".toByteArray(), openWithKeyring(sealed, added, doctor).plaintext)
        val revoked = KeyringRecord.fromBytes(added.toBytes()).revokeRecipient(doctor.keyId())
        assertThrows<CaduceusException.NoAccess> { openWithKeyring(sealed, revoked, doctor) }
        val direct = seal(listOf(practice.publicKey()), labels(), "x".toByteArray())
        val rewrapped = rewrap(direct, practice, listOf(doctor.publicKey()), listOf())
        assertArrayEquals("x".toByteArray(), open(rewrapped, doctor).plaintext)
        val shredded = added.shred(1_763_900_000L)
        assertEquals(KeyringState.Shredded(1_763_900_000L), shredded.state())
        assertThrows<CaduceusException.KeyShredded> { openWithKeyring(sealed, shredded, doctor) }
    }

    @Test
    fun badInputIsInvalidInputOrInvalidKey() {
        assertThrows<CaduceusException.InvalidKey> { PublicKey.parse("cdstaff1nonsense") }
        assertThrows<CaduceusException.InvalidInput> { PrivateKey.fromBytes(KeyKind.STAFF, ByteArray(3)) }
        val e = assertThrows<CaduceusException.InvalidInput> {
            seal(listOf(record.publicKey()), Labels("", "c", "p", "t", 0L), ByteArray(1))
        }
        assertTrue(e.reason.isNotEmpty())
    }

    @Test
    fun aRustPanicBecomesAnException() {
        val e = assertThrows<InternalException> { testOnlyPanic("boom") }
        assertTrue(e.message!!.contains("boom"))
        assertEquals(3, version().split(".").size)
    }
}

class ConsentPolicyAuditTest {
    private val subject = "p-7f3a91"

    private fun ledger() =
        Ledger().apply { registerNotice("privacy-chat", 1u, "de", NOTICE, NOW - 30 * DAY, NOW) }

    private fun given(id: String = "ev-1") =
        ConsentEvent(
            id, subject, listOf("treatment-communication"), ConsentStatus.GIVEN, ConsentMethod.CHAT_REPLY,
            NoticeId("privacy-chat", 1u, "de"), "whatsapp", "wamid.T", "system", NOW - DAY, null)

    @Test
    fun consentDecisions() {
        val ledger = ledger()
        assertEquals("no-consent", ledger.decide(subject, "treatment-communication", NOW).refusal)
        ledger.record(given(), NOW)
        assertTrue(ledger.decide(subject, "treatment-communication", NOW).allowed)
        ledger.withdraw(
            "ev-2", subject, listOf("treatment-communication"), ConsentMethod.CHAT_REPLY, "whatsapp", "system",
            NOW - 5, NOW)
        val e = assertThrows<CaduceusException.NotConsented> { ledger.require(subject, "treatment-communication", NOW) }
        assertEquals("withdrawn", e.reason)
        val again = Ledger.fromBytes(ledger.toBytes())
        assertEquals(2uL, again.len())
        assertThrows<CaduceusException.InvalidInput> { again.record(given("ev-1"), NOW) }
    }

    @Test
    fun erasurePlan() {
        val policy = Policy.defaultPolicy()
        val records =
            """[{"id": 1, "subject": "p-1", "category": "chat-messages", "created": "2026-03-01"},
               {"id": 2, "subject": "p-1", "category": "patient-record", "created": "2026-03-01",
                "end-of-treatment": "2026-04-01"}]"""
        val plan = policy.planErasure("p-1", records, null, NOW)
        assertEquals(listOf(1uL), plan.eraseNow)
        assertEquals(listOf(2uL), plan.keep)
        assertTrue(plan.deadline > NOW)
        assertTrue(policy.mayAccess("doctor", "chat-messages", AccessOperation.READ))
        assertFalse(policy.mayAccess("finance", "chat-messages", AccessOperation.READ))
    }

    @Test
    fun auditAppendCheckpointVerifyAndTamper() {
        val key = AuditKey.generate()
        val signer = generateAuditSigner("praxis.example/audit")
        val log = AuditLog("praxis.example/audit")
        val entries =
            (0 until 4).map { i ->
                log.append(
                    AuditEvent(
                        (NOW + i) * 1000, key.pseudonym(PseudonymKind.STAFF, "dr-weber"), "doctor", "read",
                        "pms-test", key.pseudonym(PseudonymKind.SUBJECT, "patient-17"), "chat-messages", "wa-$i",
                        null, null, null, AuditOutcome.Success)).bytes
            }
        val signed = log.signCheckpoint(signer.signerKey)
        val ok = verifyAuditLog(entries, listOf(signed), listOf(signer.verifierKey))
        assertTrue(ok.ok)
        assertEquals(4uL, ok.size)
        val tampered = entries.toMutableList()
        tampered[1] = tampered[1].copyOf().also { it[it.size / 2] = (it[it.size / 2].toInt() xor 1).toByte() }
        val bad = verifyAuditLog(tampered, listOf(signed), listOf(signer.verifierKey))
        assertFalse(bad.ok)
        assertEquals(1uL, bad.firstBadIndex)
        assertThrows<CaduceusException.Tampered> { AuditLog.fromEntries("praxis.example/audit", tampered) }
        val other = generateAuditSigner("praxis.example/audit")
        assertThrows<CaduceusException.SignatureInvalid> {
            verifyAuditLog(entries, listOf(signed), listOf(other.verifierKey))
        }
    }
}

class WhatsAppTest {
    private val secret = fixture("app-secret.txt").toString(Charsets.UTF_8).trim().toByteArray()

    @Test
    fun signatureVerification() {
        val body = fixture("text.json")
        val sig = fixture("text.json.sig").toString(Charsets.UTF_8).trim()
        assertEquals(0u, verifySignature(body, sig, listOf(secret)))
        val tampered = body.copyOf().also { it[it.size / 2] = (it[it.size / 2].toInt() xor 1).toByte() }
        assertThrows<CaduceusException.SignatureInvalid> { verifySignature(tampered, sig, listOf(secret)) }
    }

    @Test
    fun signedWebhookThroughIntakeToDecisionsAndOutboundGate() {
        val p = PracticeFixture()
        val first = p.post("text.json").single()
        assertEquals("ask-consent", first.kind())
        assertNull(first.envelope())
        val patient = first.subject()!!
        assertEquals("no-consent", maySend(p.ledger, p.outbound, patient, "treatment-communication", null, NOW).forbidden)
        assertEquals("consent-recorded", p.post("consent-yes-button.json").single().kind())
        val stored = p.post("text.json").single()
        assertEquals("stored", stored.kind())
        val record = p.keyrings.get(patient, "chat-messages")
        assertNotNull(record)
        assertTrue(openWithKeyring(stored.envelope()!!, record!!, p.doctor).plaintext.isNotEmpty())
        assertThrows<CaduceusException.NoAccess> { openWithKeyring(stored.envelope()!!, record, p.finance) }
        val send = maySend(p.ledger, p.outbound, patient, "treatment-communication", null, NOW)
        assertTrue(send.allowed)
        assertEquals("free-form", send.decision)
        assertTrue(p.log.size() >= 3uL)
    }
}

/** The practice side of one intake run over the signed webhook fixtures. */
class PracticeFixture {
    val secret = fixture("app-secret.txt").toString(Charsets.UTF_8).trim().toByteArray()
    val practice = PrivateKey.generate(KeyKind.PRACTICE)
    val doctor = PrivateKey.generate(KeyKind.STAFF)
    val finance = PrivateKey.generate(KeyKind.STAFF)
    val ledger = Ledger().apply { registerNotice("privacy-chat", 1u, "de", NOTICE, NOW - 30 * DAY, NOW) }
    val intake =
        Intake(
            AuditKey.generate(), Policy.defaultPolicy(), practice.publicKey(),
            listOf(StaffMember(doctor.publicKey(), listOf("doctor")), StaffMember(finance.publicKey(), listOf("finance"))),
            "privacy-chat", 1u, "de", ledger)
    val identities = Identities()
    val keyrings = KeyringSet()
    val outbound = OutboundState()
    val log = AuditLog("praxis.example/audit")

    /** One POST: verify, parse, decide, apply, audit each event. */
    fun post(name: String): List<Decision> {
        val body = fixture(name)
        verifySignature(body, fixture("$name.sig").toString(Charsets.UTF_8), listOf(secret))
        val hook = Webhook.parse(body)
        return (0uL until hook.eventCount()).map { i ->
            intake.decide(hook, i, ledger, identities, keyrings, NOW).also {
                it.apply(ledger, identities, keyrings, NOW)
                outbound.apply(it)
                it.appendAudit(log)
            }
        }
    }
}

class CrossLanguageTest {
    private val dir = File(System.getProperty("caduceus.xlang", "../../target/bindings-xlang"))

    /** Step 2 of 3 (scripts/bindings-test.sh): Kotlin opens what Python sealed, and seals for Python. */
    @Test
    fun kotlinOpensWhatPythonSealedAndSealsForPython() {
        val record = KeyringRecord.fromBytes(File(dir, "py-record.bin").readBytes())
        val doctor = PrivateKey.fromSecretText(File(dir, "py-staff.key").readText())
        val out = File(dir, "kt-opened-py.bin")
        openFileWithKeyring(record, doctor, File(dir, "py-sealed.env").path, out.path)
        assertArrayEquals(File(dir, "py-plain.bin").readBytes(), out.readBytes())

        val practice = PrivateKey.generate(KeyKind.PRACTICE)
        val staff = PrivateKey.generate(KeyKind.STAFF)
        val own = KeyringRecord.create("p-kotlin", "chat-messages", listOf(practice.publicKey(), staff.publicKey()), NOW)
        val plain = Random.nextBytes(150_000)
        File(dir, "kt-plain.bin").writeBytes(plain)
        File(dir, "kt-sealed.env").writeBytes(
            seal(listOf(own.publicKey()), Labels("p-kotlin", "chat-messages", "treatment-communication", "text/plain", NOW), plain))
        File(dir, "kt-record.bin").writeBytes(own.toBytes())
        File(dir, "kt-staff.key").writeText(staff.toSecretText())
    }
}

class MoreEnvelopeAndErrorTest {
    private val practice = PrivateKey.generate(KeyKind.PRACTICE)
    private val doctor = PrivateKey.generate(KeyKind.STAFF)
    private val record =
        KeyringRecord.create("p-2", "chat-messages", listOf(practice.publicKey(), doctor.publicKey()), NOW)

    @Test
    fun envelopeSetPartsInAnyOrder() {
        val parts = listOf("eins ", "zwei ", "drei").map { it.toByteArray() }
        val sealed = sealParts(listOf(record.publicKey()), labels(), parts)
        val key = record.unwrapKey(doctor)
        val set = PartSet()
        set.add(sealed[2], key)
        assertEquals(listOf(1u, 2u), set.missing())
        set.add(sealed[0], key)
        set.add(sealed[1], key)
        assertTrue(set.isComplete())
        assertEquals("eins zwei drei", set.assemble().toString(Charsets.UTF_8))
    }

    @Test
    fun practiceKeyRotationAndOpenAny() {
        val sealed = seal(listOf(record.publicKey()), labels(), "rotated".toByteArray())
        val newPractice = PrivateKey.generate(KeyKind.PRACTICE)
        val rotated = rotatePracticeKey(listOf(record), practice, newPractice.publicKey()).single()
        assertTrue(rotated.recipientIds().contains(newPractice.keyId()))
        assertFalse(rotated.recipientIds().contains(practice.keyId()))
        assertArrayEquals("rotated".toByteArray(), openWithKeyring(sealed, rotated, newPractice).plaintext)
        val direct = seal(listOf(doctor.publicKey()), labels(), "any".toByteArray())
        assertArrayEquals("any".toByteArray(), openAny(direct, listOf(newPractice, doctor)).plaintext)
        assertThrows<CaduceusException.NoAccess> { openAny(direct, listOf(newPractice)) }
    }

    @Test
    fun ioAndInternalErrors(@TempDir dir: Path) {
        assertThrows<CaduceusException.Io> {
            sealFile(listOf(record.publicKey()), labels(), dir.resolve("missing").toString(), dir.resolve("o").toString())
        }
        assertThrows<CaduceusException.Internal> { testOnlyInternalError() }
    }
}

class RemainingObjectsTest {

    @Test
    fun keysRotationOpenerWithIdentityAndOpenFile(@TempDir dir: Path) {
        val practice = PrivateKey.generate(KeyKind.PRACTICE)
        val oldPhone = PrivateKey.generate(KeyKind.STAFF)
        val newPhone = PrivateKey.generate(KeyKind.STAFF)
        val record = KeyringRecord.create("p-3", "chat-messages", listOf(practice.publicKey(), oldPhone.publicKey()), NOW)
        val rotated = record.rotateRecipient(practice, oldPhone.keyId(), newPhone.publicKey())
        assertEquals(setOf(practice.keyId(), newPhone.keyId()), rotated.recipientIds().toSet())
        val pub = PublicKey.fromBytes(KeyKind.STAFF, newPhone.publicKey().toBytes())
        assertEquals(newPhone.keyId(), pub.keyId())
        val sealed = seal(listOf(practice.publicKey()), labels(), "direct".toByteArray())
        val opener = Opener(practice)
        val plain = opener.push(sealed) + opener.finish()
        assertArrayEquals("direct".toByteArray(), plain)
        assertThrows<CaduceusException.WrongState> { opener.push(ByteArray(1)) }
        val envFile = dir.resolve("m.env").toFile().apply { writeBytes(sealed) }
        val out = dir.resolve("m.txt").toString()
        assertEquals("chat-messages", openFile(practice, envFile.path, out).labels.category)
        assertArrayEquals("direct".toByteArray(), File(out).readBytes())
    }

    @Test
    fun consentOptOutExportAndAuditKeyText() {
        val ledger = Ledger()
        ledger.registerNotice("privacy-chat", 1u, "de", NOTICE, NOW - DAY, NOW)
        ledger.record(
            ConsentEvent(
                "ev-1", "p-4", listOf("treatment-communication", "recall"), ConsentStatus.GIVEN,
                ConsentMethod.CHAT_REPLY, NoticeId("privacy-chat", 1u, "de"), "whatsapp", null, "system", NOW - 60, null),
            NOW)
        val stopped = ledger.optOut(OptOutRequest("ev-2", "p-4", "Bitte stopp", "wamid.X", "whatsapp", "system", NOW - 5), NOW)
        assertTrue(stopped.contains("recall"))
        assertFalse(ledger.decide("p-4", "recall", NOW).allowed)
        assertTrue(ledger.exportFhir("p-4", NOW).contains("Consent"))
        val key = AuditKey.generate()
        assertEquals(
            key.pseudonym(PseudonymKind.SUBJECT, "x"), AuditKey.parse(key.toSecretText()).pseudonym(PseudonymKind.SUBJECT, "x"))
        assertTrue(Policy.defaultPolicy().readers("chat-messages").contains("doctor"))
        assertEquals(listOf(true, false), ledger.decideMany(listOf("p-4", "p-5"), "treatment-communication", NOW).map { it.allowed })
        // consent, then the STOP: a withdrawal and a marketing objection
        assertEquals(3uL, ledger.historyLen("p-4"))
        assertTrue(ledger.exportIso27560("p-4").contains("p-4"))
        val sweep =
            Policy.defaultPolicy().sweep(
                """[{"id": 1, "subject": "p-4", "category": "chat-messages", "created": "2020-01-01"}]""", null, NOW)
        assertEquals(1uL, sweep.due)
    }

    @Test
    fun photoFetchSealedAgainstTheWebhookHashAndStatePersists(@TempDir dir: Path) {
        val p = PracticeFixture()
        val ledger = p.ledger
        val identities = p.identities
        val keyrings = p.keyrings
        val outbound = p.outbound
        val log = p.log
        val doctor = p.doctor
        fun post(name: String) = p.post(name).single()
        val patient = post("text.json").subject()!!
        post("consent-yes-photos-button.json")
        val fetch = post("image.json")
        assertEquals("fetch-media", fetch.kind())
        assertNotNull(fetch.mediaId())
        val photo = fixture("image.bin")
        val sealer = MediaSealer(fetch)
        val sealed = sealer.push(photo) + sealer.finish()
        val record = keyrings.get(patient, "clinical-photos")!!
        assertArrayEquals(photo, openWithKeyring(sealed, record, doctor).plaintext)
        val bad = photo.copyOf().also { it[3] = (it[3].toInt() xor 1).toByte() }
        val badFile = dir.resolve("bad.jpg").toFile().apply { writeBytes(bad) }
        assertThrows<CaduceusException.Tampered> { sealMediaFile(fetch, badFile.path, dir.resolve("bad.env").toString()) }
        assertFalse(Files.exists(dir.resolve("bad.env")))
        val entry = fetch.appendMediaAudit(log, null)
        assertEquals(log.size() - 1uL, entry.index)
        assertEquals(identities.len(), Identities.fromText(identities.toText()).len())
        val restored = OutboundState.fromText(outbound.toText())
        assertTrue(maySend(ledger, restored, patient, "treatment-communication", null, NOW).allowed)
        assertEquals("12345", verifySubscription("subscribe", "tok", "12345", "tok"))
    }
}

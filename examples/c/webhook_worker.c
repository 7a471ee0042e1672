/*
 * webhook_worker.c: what a practice-software vendor's WhatsApp webhook
 * worker does with libcaduceus, step by step (docs/FFI.md walks through it).
 *
 *   1. the practice key and two staff keys (a doctor, the finance office);
 *   2. on first contact with a new patient: one keyring record per data
 *      category (chat-messages, clinical-photos), wrapped to the practice
 *      and the doctor;
 *   3. an inbound text message sealed in one call, an inbound photo
 *      (several 64 KiB segments) sealed in chunks by the streaming sealer;
 *   4. the patient's consent, recorded in the consent ledger and checked;
 *   5. audit entries for what happened, and a signed checkpoint;
 *   6. the doctor opens both (plaintext compared; the photo also streamed),
 *      the finance office is refused (CADUCEUS_NO_ACCESS);
 *   7. the access and the refusal audited, the log verified against the
 *      signed checkpoint.
 *
 * Build against an installed package (make dist PREFIX=...):
 *   gcc -std=c11 webhook_worker.c $(pkg-config --cflags --libs caduceus)
 * or with CMake (examples/c/CMakeLists.txt). It prints a narrated log and closes with
 * "webhook_worker: N passed, N failed"; the exit status is 0 if nothing
 * failed. Everything it creates is freed (make ctest runs it under ASan and
 * valgrind).
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caduceus.h"

/* ---------------------------------------------------------------------------
 * Small helpers: checks that count, and error reporting.
 */

static int passed = 0;
static int failed = 0;

/* Record a check; print the failure with the library's explanation. */
static bool check(bool ok, const char *what) {
  if (ok) {
    passed++;
  } else {
    failed++;
    fprintf(stderr, "webhook_worker: FAILED: %s\n", what);
  }
  return ok;
}

/* `rc` must equal `expected`. On a mismatch, print the code's message and
 * the thread's last error detail (it never contains secrets or personal
 * data, so it may go to a log). Read the last error right away: the next
 * call into the library clears it. */
static bool expect(caduceus_result rc, caduceus_result expected,
                   const char *what) {
  if (rc == expected) {
    passed++;
    return true;
  }
  char detail[1024] = "";
  char message[256] = "";
  size_t n = 0;
  (void)caduceus_last_error((uint8_t *)detail, sizeof detail, &n);
  (void)caduceus_result_message(rc, (uint8_t *)message, sizeof message, &n);
  failed++;
  fprintf(stderr, "webhook_worker: FAILED: %s: got %u (%s; %s), expected %u\n",
          what, (unsigned)rc, message, detail, (unsigned)expected);
  return false;
}

#define OK(call, what) expect((call), CADUCEUS_OK, (what))

/* As OK, for calls in a loop: counts a failure, but not each success. */
static bool step_ok(caduceus_result rc, const char *what) {
  if (rc == CADUCEUS_OK) {
    return true;
  }
  return expect(rc, CADUCEUS_OK, what);
}

/* Text results are NUL-terminated, so they print directly. */
static const char *text_of(const caduceus_bytes *b) {
  const uint8_t *p = caduceus_bytes_data(b);
  return p != NULL ? (const char *)p : "(none)";
}

/* A growing byte buffer for the streamed envelope (the vendor's blob store
 * or file in real life). */
struct buffer {
  uint8_t *data;
  size_t len;
  size_t cap;
};

/* Append the contents of `chunk` to `buf`, then free `chunk`. */
static bool append_and_free(struct buffer *buf, caduceus_bytes *chunk) {
  size_t n = caduceus_bytes_len(chunk);
  bool ok = true;
  if (buf->len + n > buf->cap) {
    size_t cap = buf->cap ? buf->cap : 4096;
    while (cap < buf->len + n) {
      cap *= 2;
    }
    uint8_t *grown = realloc(buf->data, cap);
    if (grown == NULL) {
      ok = false;
    } else {
      buf->data = grown;
      buf->cap = cap;
    }
  }
  if (ok && n > 0) {
    memcpy(buf->data + buf->len, caduceus_bytes_data(chunk), n);
    buf->len += n;
  }
  caduceus_bytes_free(chunk);
  if (!ok) {
    check(false, "append to a buffer (out of memory)");
  }
  return ok;
}

/* ---------------------------------------------------------------------------
 * The worker.
 */

/* A new patient's pseudonym (the vendor derives it with a keyed hash; never
 * a name, phone number or chart number), and the webhook's time stamp. */
#define PATIENT "p-7f3a91"
#define RECEIVED_AT ((int64_t)1763800000) /* 2025-11-22T08:26:40Z */

#define IMAGE_SIZE ((size_t)200000) /* four 64 KiB segments */
#define CHUNK_SIZE ((size_t)8192)   /* as the HTTP body arrives */
#define MAX_ENTRIES 8
#define AUDIT_ORIGIN "praxis.example/audit"

/* Append one audit event (JSON, built from `fmt`) to `log` and keep the
 * entry bytes in `entries`: the vendor stores them, in order (e.g. in a
 * database table); the library keeps only the tree's state. */
static bool audit(caduceus_audit_log *log, caduceus_bytes **entries,
                  size_t *n_entries, const char *what, const char *fmt, ...) {
  char json[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(json, sizeof json, fmt, ap);
  va_end(ap);
  if (!check(n > 0 && (size_t)n < sizeof json, "audit event fits") ||
      !check(*n_entries < MAX_ENTRIES, "room for the audit entry")) {
    return false;
  }
  uint64_t index = 0;
  caduceus_bytes *entry = NULL;
  if (!OK(caduceus_audit_log_append(log, json, &entry, &index, NULL), what)) {
    return false;
  }
  entries[(*n_entries)++] = entry;
  printf("[audit]    #%llu %s (%zu bytes)\n", (unsigned long long)index, what,
         caduceus_bytes_len(entry));
  return true;
}

int main(void) {
  /* Every handle starts as NULL and is freed once at the end, whatever
   * happened: freeing NULL is a no-op. */
  caduceus_private_key *practice = NULL, *doctor = NULL, *finance = NULL;
  caduceus_public_key *practice_pub = NULL, *doctor_pub = NULL;
  caduceus_public_key *chat_pub = NULL, *photos_pub = NULL;
  caduceus_bytes *practice_text = NULL, *doctor_id = NULL, *finance_id = NULL;
  caduceus_keyring_record *chat_record = NULL, *photos_record = NULL;
  caduceus_keyring_record *photos_loaded = NULL;
  caduceus_bytes *photos_stored = NULL;
  caduceus_bytes *text_envelope = NULL, *text_header = NULL;
  caduceus_sealer *sealer = NULL;
  caduceus_bytes *image_header = NULL;
  struct buffer image_envelope = {NULL, 0, 0};
  uint8_t *image = NULL;
  caduceus_consent_ledger *ledger = NULL;
  caduceus_bytes *notice = NULL, *decision = NULL;
  caduceus_bytes *opened_text = NULL, *opened_image = NULL;
  caduceus_private_key *photos_key = NULL;
  caduceus_opener *opener = NULL;
  struct buffer streamed_plain = {NULL, 0, 0};
  caduceus_bytes *refused = NULL;
  caduceus_private_key *refused_key = NULL;
  caduceus_audit_key *audit_key = NULL;
  caduceus_audit_log *audit_log = NULL;
  caduceus_bytes *webhook_actor = NULL, *doctor_actor = NULL;
  caduceus_bytes *finance_actor = NULL, *patient_ref = NULL;
  caduceus_bytes *signer_key = NULL, *verifier_key = NULL;
  caduceus_bytes *checkpoint = NULL;
  caduceus_bytes *entries[MAX_ENTRIES] = {NULL};
  size_t n_entries = 0;

  const char *message = "Guten Tag, die Schwellung am Kiefer ist seit gestern "
                        "kleiner geworden. Anbei ein Foto.";

  printf("webhook_worker: libcaduceus %s (header %s)\n", caduceus_version(),
         CADUCEUS_VERSION);
  check(strcmp(caduceus_version(), CADUCEUS_VERSION) == 0,
        "the library is the version the header describes");

  /* 1. Keys. In production these are generated once, at onboarding, and
   * the private keys live in the practice's vault and on staff devices; the
   * webhook worker holds public keys only. */
  if (!OK(caduceus_private_key_generate(CADUCEUS_KEY_KIND_PRACTICE, &practice),
          "generate the practice key") ||
      !OK(caduceus_private_key_generate(CADUCEUS_KEY_KIND_STAFF, &doctor),
          "generate the doctor's key") ||
      !OK(caduceus_private_key_generate(CADUCEUS_KEY_KIND_STAFF, &finance),
          "generate the finance office's key") ||
      !OK(caduceus_private_key_public_key(practice, &practice_pub),
          "practice public key") ||
      !OK(caduceus_private_key_public_key(doctor, &doctor_pub),
          "doctor public key") ||
      !OK(caduceus_public_key_to_text(practice_pub, &practice_text),
          "practice public key text") ||
      !OK(caduceus_private_key_id(doctor, &doctor_id), "doctor key id") ||
      !OK(caduceus_private_key_id(finance, &finance_id), "finance key id")) {
    goto done;
  }
  printf("[keys]     practice %.24s...\n", text_of(practice_text));
  printf("[keys]     doctor key id %s, finance key id %s\n", text_of(doctor_id),
         text_of(finance_id));

  /* 2. First contact with patient p-7f3a91: one keyring record per data
   * category, wrapping a fresh subject-category key to the practice and the
   * doctor. Finance is not a recipient. The records are stored by the
   * vendor (here: serialised and loaded back); shredding a record later
   * erases that category of this patient everywhere. */
  {
    const caduceus_public_key *readers[2] = {practice_pub, doctor_pub};
    if (!OK(caduceus_keyring_record_create(PATIENT, "chat-messages", readers, 2,
                                           RECEIVED_AT, &chat_record),
            "keyring record for chat-messages") ||
        !OK(caduceus_keyring_record_create(PATIENT, "clinical-photos", readers,
                                           2, RECEIVED_AT, &photos_record),
            "keyring record for clinical-photos") ||
        !OK(caduceus_keyring_record_to_bytes(photos_record, &photos_stored),
            "serialise the clinical-photos record") ||
        !OK(caduceus_keyring_record_from_bytes(
                caduceus_bytes_data(photos_stored),
                caduceus_bytes_len(photos_stored), &photos_loaded),
            "load the clinical-photos record") ||
        !OK(caduceus_keyring_record_public_key(chat_record, &chat_pub),
            "chat-messages public key") ||
        !OK(caduceus_keyring_record_public_key(photos_loaded, &photos_pub),
            "clinical-photos public key")) {
      goto done;
    }
    size_t count = 0;
    OK(caduceus_keyring_record_recipient_count(photos_loaded, &count),
       "recipient count");
    check(count == 2, "the record is wrapped to practice and doctor");
    printf("[keyring]  %s: chat-messages and clinical-photos records, "
           "%zu recipients each (%zu bytes stored)\n",
           PATIENT, count, caduceus_bytes_len(photos_stored));
  }

  /* 3a. The inbound text message: sealed in one call to the chat-messages
   * key. The labels travel in the authenticated header, readable without a
   * key (for retention), so they hold no health data. */
  {
    caduceus_labels labels = {PATIENT, "chat-messages", "treatment-communication",
                              "text/plain", RECEIVED_AT};
    const caduceus_public_key *to[1] = {chat_pub};
    if (!OK(caduceus_envelope_seal(to, 1, &labels, (const uint8_t *)message,
                                   strlen(message), &text_envelope),
            "seal the text message")) {
      goto done;
    }
    OK(caduceus_envelope_inspect(caduceus_bytes_data(text_envelope),
                                 caduceus_bytes_len(text_envelope),
                                 &text_header),
       "inspect the text envelope");
    printf("[seal]     text: %zu bytes -> envelope of %zu bytes\n",
           strlen(message), caduceus_bytes_len(text_envelope));
    printf("[inspect]  %s\n", text_of(text_header));
  }

  /* 3b. The inbound photo (generated bytes standing in for a JPEG): sealed
   * by the streaming sealer as the download arrives, chunk by chunk; the
   * library holds one 64 KiB segment at a time. The envelope is the header
   * followed by every output, in order. */
  image = malloc(IMAGE_SIZE);
  if (!check(image != NULL, "allocate the image")) {
    goto done;
  }
  {
    uint32_t x = 2463534242u; /* xorshift32: reproducible "pixels" */
    for (size_t i = 0; i < IMAGE_SIZE; i++) {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      image[i] = (uint8_t)(x >> 24);
    }
    caduceus_labels labels = {PATIENT, "clinical-photos",
                              "treatment-communication", "image/jpeg",
                              RECEIVED_AT};
    const caduceus_public_key *to[1] = {photos_pub};
    if (!OK(caduceus_sealer_new(to, 1, &labels, &sealer, &image_header),
            "start the streaming sealer")) {
      goto done;
    }
    caduceus_bytes *chunk = image_header;
    image_header = NULL; /* owned by append_and_free now */
    if (!append_and_free(&image_envelope, chunk)) {
      goto done;
    }
    size_t chunks = 0;
    for (size_t off = 0; off < IMAGE_SIZE; off += CHUNK_SIZE) {
      size_t n = IMAGE_SIZE - off < CHUNK_SIZE ? IMAGE_SIZE - off : CHUNK_SIZE;
      chunk = NULL;
      if (!step_ok(caduceus_sealer_update(sealer, image + off, n, &chunk),
                   "seal an image chunk") ||
          !append_and_free(&image_envelope, chunk)) {
        goto done;
      }
      chunks++;
    }
    chunk = NULL;
    if (!OK(caduceus_sealer_finish(sealer, &chunk), "finish the image") ||
        !append_and_free(&image_envelope, chunk)) {
      goto done;
    }
    /* A finished sealer is spent. */
    chunk = NULL;
    expect(caduceus_sealer_finish(sealer, &chunk), CADUCEUS_WRONG_STATE,
           "a second finish is refused");
    check(chunk == NULL, "no output from a refused call");
    check(image_envelope.len > 3 * CADUCEUS_SEGMENT_SIZE,
          "the photo envelope spans several segments");
    printf("[seal]     photo: %zu bytes in %zu chunks -> envelope of %zu bytes "
           "(%zu segments of %u KiB)\n",
           IMAGE_SIZE, chunks, image_envelope.len,
           (IMAGE_SIZE + CADUCEUS_SEGMENT_SIZE - 1) / CADUCEUS_SEGMENT_SIZE,
           (unsigned)(CADUCEUS_SEGMENT_SIZE / 1024));
  }

  /* 4. Consent. The patient replied "JA" to the practice's WhatsApp notice
   * (version 1, German). The ledger keeps the exact notice text by hash and
   * the evidence (the WhatsApp message id); decisions cite the event. */
  {
    const char *notice_text =
        "Wir beantworten Ihre Nachrichten und Fotos über WhatsApp. Inhalte "
        "werden verschlüsselt gespeichert. Antworten Sie mit JA, um "
        "zuzustimmen; STOPP beendet Erinnerungen und Praxisneuigkeiten.";
    const char *event =
        "{\"id\": \"ev-0001\", \"subject\": \"" PATIENT "\","
        " \"purposes\": [\"treatment-communication\", \"clinical-photos\"],"
        " \"status\": \"given\", \"method\": \"chat-reply\","
        " \"notice\": {\"id\": \"whatsapp-intake\", \"version\": 1,"
        " \"language\": \"de\"},"
        " \"channel\": \"whatsapp\","
        " \"evidence\": \"wamid.HBgMNDkxNTExMjM0NTY3FQIAEhggQTE\","
        " \"recorded_by\": \"svc-webhook\", \"time\": 1763800000}";
    uint64_t seq = 0;
    uint8_t sha256[32];
    bool allowed = false;
    if (!OK(caduceus_consent_ledger_new(&ledger), "new consent ledger") ||
        !OK(caduceus_consent_register_notice(ledger, "whatsapp-intake", 1, "de",
                                             notice_text, RECEIVED_AT - 86400,
                                             RECEIVED_AT, &notice),
            "register the notice") ||
        !OK(caduceus_consent_record(ledger, event, RECEIVED_AT, &seq, sha256),
            "record the consent")) {
      goto done;
    }
    printf("[consent]  notice %s\n", text_of(notice));
    printf("[consent]  event ev-0001 recorded as #%llu, sha256 %02x%02x%02x%02x...\n",
           (unsigned long long)seq, sha256[0], sha256[1], sha256[2], sha256[3]);
    if (OK(caduceus_consent_decide(ledger, PATIENT, "clinical-photos",
                                   RECEIVED_AT + 60, &allowed, &decision),
           "decide clinical-photos")) {
      check(allowed, "clinical photos may be processed");
      printf("[consent]  decision %s\n", text_of(decision));
    }
    allowed = true;
    OK(caduceus_consent_decide(ledger, PATIENT, "marketing", RECEIVED_AT + 60,
                               &allowed, NULL),
       "decide marketing");
    check(!allowed, "no marketing without consent");
    printf("[consent]  marketing: %s\n", allowed ? "allowed" : "not allowed");
  }

  /* 5. Audit. Entries name people only by pseudonyms derived with the
   * practice's audit key (sbj-..., stf-...), never by name; the library
   * returns each entry's bytes and the host stores them. A signed checkpoint
   * (a C2SP signed note) commits to the whole log so far. */
  {
    if (!OK(caduceus_audit_key_generate(&audit_key), "audit key") ||
        !OK(caduceus_audit_key_pseudonym(audit_key, CADUCEUS_PSEUDONYM_STAFF,
                                         "svc-webhook", &webhook_actor),
            "pseudonym of the webhook service") ||
        !OK(caduceus_audit_key_pseudonym(audit_key, CADUCEUS_PSEUDONYM_STAFF,
                                         "dr-mueller@praxis", &doctor_actor),
            "pseudonym of the doctor") ||
        !OK(caduceus_audit_key_pseudonym(audit_key, CADUCEUS_PSEUDONYM_STAFF,
                                         "finance@praxis", &finance_actor),
            "pseudonym of the finance office") ||
        !OK(caduceus_audit_key_pseudonym(audit_key, CADUCEUS_PSEUDONYM_SUBJECT,
                                         PATIENT, &patient_ref),
            "pseudonym of the patient") ||
        !OK(caduceus_audit_log_new(AUDIT_ORIGIN, &audit_log), "new audit log") ||
        !OK(caduceus_audit_signer_generate(AUDIT_ORIGIN, &signer_key,
                                           &verifier_key),
            "checkpoint signer")) {
      goto done;
    }
    const char *actor = text_of(webhook_actor), *subject = text_of(patient_ref);
    if (!audit(audit_log, entries, &n_entries, "create chat-messages",
               "{\"time\": %lld, \"actor\": \"%s\", \"role\": \"webhook\","
               " \"action\": \"create\", \"source\": \"whatsapp-webhook\","
               " \"subject\": \"%s\", \"category\": \"chat-messages\","
               " \"purpose\": \"treatment-communication\"}",
               (long long)RECEIVED_AT, actor, subject) ||
        !audit(audit_log, entries, &n_entries, "create clinical-photos",
               "{\"time\": %lld, \"actor\": \"%s\", \"role\": \"webhook\","
               " \"action\": \"create\", \"source\": \"whatsapp-webhook\","
               " \"subject\": \"%s\", \"category\": \"clinical-photos\","
               " \"purpose\": \"treatment-communication\"}",
               (long long)RECEIVED_AT, actor, subject) ||
        !audit(audit_log, entries, &n_entries, "consent-given",
               "{\"time\": %lld, \"actor\": \"%s\", \"role\": \"webhook\","
               " \"action\": \"consent-given\", \"source\": \"whatsapp-webhook\","
               " \"subject\": \"%s\", \"record\": \"ev-0001\","
               " \"legal_basis\": \"art9-2-a\"}",
               (long long)RECEIVED_AT, actor, subject) ||
        !OK(caduceus_audit_log_sign_checkpoint(audit_log, text_of(signer_key),
                                               &checkpoint),
            "sign a checkpoint")) {
      goto done;
    }
    uint64_t size = 0;
    uint8_t root[32];
    const char *trusted[1] = {text_of(verifier_key)};
    OK(caduceus_audit_checkpoint_open(text_of(checkpoint), trusted, 1, &size,
                                      root, NULL),
       "the checkpoint verifies");
    check(size == n_entries, "the checkpoint covers every entry");
    printf("[audit]    signed checkpoint:\n%s", text_of(checkpoint));
  }

  /* 6a. The doctor opens both: staff key -> keyring record ->
   * subject-category key -> data key. */
  if (OK(caduceus_envelope_open_with_keyring(
             caduceus_bytes_data(text_envelope),
             caduceus_bytes_len(text_envelope), chat_record, doctor,
             &opened_text),
         "the doctor opens the text")) {
    check(caduceus_bytes_len(opened_text) == strlen(message) &&
              memcmp(caduceus_bytes_data(opened_text), message,
                     strlen(message)) == 0,
          "the doctor reads the original text");
    printf("[open]     doctor: text OK (%zu bytes, plaintext matches)\n",
           caduceus_bytes_len(opened_text));
  }
  if (OK(caduceus_envelope_open_with_keyring(image_envelope.data,
                                             image_envelope.len, photos_loaded,
                                             doctor, &opened_image),
         "the doctor opens the photo")) {
    check(caduceus_bytes_len(opened_image) == IMAGE_SIZE &&
              memcmp(caduceus_bytes_data(opened_image), image, IMAGE_SIZE) == 0,
          "the doctor sees the original photo");
    printf("[open]     doctor: photo OK (%zu bytes, plaintext matches)\n",
           caduceus_bytes_len(opened_image));
  }

  /* 6b. The viewer streams large media instead: unwrap the
   * subject-category key once, then open chunk by chunk. Plaintext is
   * released segment by segment, each authenticated; only finish proves the
   * whole photo is there. */
  if (OK(caduceus_keyring_record_unwrap(photos_loaded, doctor, &photos_key),
         "unwrap the clinical-photos key") &&
      OK(caduceus_opener_new(photos_key, &opener), "start the opener")) {
    bool ok = true;
    for (size_t off = 0; ok && off < image_envelope.len; off += CHUNK_SIZE) {
      size_t n = image_envelope.len - off < CHUNK_SIZE ? image_envelope.len - off
                                                        : CHUNK_SIZE;
      caduceus_bytes *plain = NULL;
      ok = step_ok(caduceus_opener_update(opener, image_envelope.data + off,
                                          n, &plain),
                   "open an envelope chunk") &&
           append_and_free(&streamed_plain, plain);
    }
    caduceus_bytes *last = NULL;
    if (ok && OK(caduceus_opener_finish(opener, &last), "finish opening") &&
        append_and_free(&streamed_plain, last)) {
      check(streamed_plain.len == IMAGE_SIZE &&
                memcmp(streamed_plain.data, image, IMAGE_SIZE) == 0,
            "the streamed photo equals the original");
      printf("[open]     doctor: photo streamed OK (%zu bytes)\n",
             streamed_plain.len);
    }
  }

  /* 6c. The finance office holds no wrap in either record: refused, and
   * nothing is written to the out-parameter. */
  {
    caduceus_result rc = caduceus_envelope_open_with_keyring(
        caduceus_bytes_data(text_envelope), caduceus_bytes_len(text_envelope),
        chat_record, finance, &refused);
    char reason[256] = "";
    size_t n = 0;
    (void)caduceus_result_message(rc, (uint8_t *)reason, sizeof reason, &n);
    expect(rc, CADUCEUS_NO_ACCESS, "finance may not open the text");
    check(refused == NULL, "no plaintext for finance");
    printf("[open]     finance: text refused: %u %s\n", (unsigned)rc, reason);
    expect(caduceus_envelope_open_with_keyring(image_envelope.data,
                                               image_envelope.len,
                                               photos_loaded, finance,
                                               &refused),
           CADUCEUS_NO_ACCESS, "finance may not open the photo");
    expect(caduceus_keyring_record_unwrap(photos_loaded, finance, &refused_key),
           CADUCEUS_NO_ACCESS, "finance may not unwrap the photos key");
    check(refused == NULL && refused_key == NULL, "nothing leaked to finance");
    printf("[open]     finance: photo refused (CADUCEUS_NO_ACCESS)\n");
  }

  /* 7. Audit the access and the refusal, then verify the stored entries
   * against the signed checkpoint, as an auditor would. */
  if (audit(audit_log, entries, &n_entries, "read by the doctor",
            "{\"time\": %lld, \"actor\": \"%s\", \"role\": \"doctor\","
            " \"action\": \"read\", \"source\": \"pms-viewer\","
            " \"subject\": \"%s\", \"category\": \"clinical-photos\","
            " \"purpose\": \"treatment-communication\"}",
            (long long)RECEIVED_AT + 120, text_of(doctor_actor),
            text_of(patient_ref)) &&
      audit(audit_log, entries, &n_entries, "read by finance, denied",
            "{\"time\": %lld, \"actor\": \"%s\", \"role\": \"finance\","
            " \"action\": \"read\", \"source\": \"pms-billing\","
            " \"subject\": \"%s\", \"category\": \"clinical-photos\","
            " \"outcome\": \"denied\", \"outcome_reason\": \"no-access\"}",
            (long long)RECEIVED_AT + 180, text_of(finance_actor),
            text_of(patient_ref))) {
    const uint8_t *data[MAX_ENTRIES];
    size_t lens[MAX_ENTRIES];
    for (size_t i = 0; i < n_entries; i++) {
      data[i] = caduceus_bytes_data(entries[i]);
      lens[i] = caduceus_bytes_len(entries[i]);
    }
    const char *signed_checkpoints[1] = {text_of(checkpoint)};
    const char *trusted[1] = {text_of(verifier_key)};
    bool log_ok = false;
    uint64_t first_bad = 0;
    if (OK(caduceus_audit_verify(data, lens, n_entries, signed_checkpoints, 1,
                                 trusted, 1, &log_ok, &first_bad, NULL),
           "verify the audit log")) {
      check(log_ok && first_bad == n_entries, "the audit log is intact");
      printf("[audit]    verified: %zu entries, consistent with the checkpoint\n",
             n_entries);
    }
  }

done:
  /* Free everything, in any order; NULL is a no-op. Buffers holding
   * plaintext or keys are zeroized by caduceus_bytes_free. */
  for (size_t i = 0; i < n_entries; i++) {
    caduceus_bytes_free(entries[i]);
  }
  caduceus_bytes_free(checkpoint);
  caduceus_bytes_free(verifier_key);
  caduceus_bytes_free(signer_key);
  caduceus_bytes_free(patient_ref);
  caduceus_bytes_free(finance_actor);
  caduceus_bytes_free(doctor_actor);
  caduceus_bytes_free(webhook_actor);
  caduceus_audit_log_free(audit_log);
  caduceus_audit_key_free(audit_key);
  caduceus_bytes_free(refused);
  caduceus_private_key_free(refused_key);
  free(streamed_plain.data);
  caduceus_opener_free(opener);
  caduceus_private_key_free(photos_key);
  caduceus_bytes_free(opened_image);
  caduceus_bytes_free(opened_text);
  caduceus_bytes_free(decision);
  caduceus_bytes_free(notice);
  caduceus_consent_ledger_free(ledger);
  free(image);
  free(image_envelope.data);
  caduceus_bytes_free(image_header);
  caduceus_sealer_free(sealer);
  caduceus_bytes_free(text_header);
  caduceus_bytes_free(text_envelope);
  caduceus_bytes_free(photos_stored);
  caduceus_keyring_record_free(photos_loaded);
  caduceus_keyring_record_free(photos_record);
  caduceus_keyring_record_free(chat_record);
  caduceus_public_key_free(photos_pub);
  caduceus_public_key_free(chat_pub);
  caduceus_bytes_free(finance_id);
  caduceus_bytes_free(doctor_id);
  caduceus_bytes_free(practice_text);
  caduceus_public_key_free(doctor_pub);
  caduceus_public_key_free(practice_pub);
  caduceus_private_key_free(finance);
  caduceus_private_key_free(doctor);
  caduceus_private_key_free(practice);

  printf("webhook_worker: %d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}

/*
 * webhook_worker.c: what a practice-software vendor's WhatsApp webhook
 * worker does with libcaduceus, step by step (docs/FFI.md walks through it).
 * It takes real signed webhook bodies (the fixtures of
 * tests/fixtures/whatsapp/) through the intake:
 *
 *   1. onboarding: the practice key and two staff keys (a doctor, the
 *      finance office), the pseudonym (audit) key, the retention and access
 *      policy, the consent ledger with the privacy notice, the intake;
 *   2. each POST: verify X-Hub-Signature-256 with the app secret (a
 *      tampered body is refused), parse the body into events;
 *   3. each event: skip it if its dedupe key was handled, decide, persist
 *      what the decision says (envelope, keyring record, identity links,
 *      audit entries), send its replies, apply it to the in-memory state:
 *        - the patient's first message: nothing kept, the notice and the
 *          consent question sent;
 *        - the consent button: consent recorded in the ledger;
 *        - a batch: a text sealed to a new keyring record (practice and
 *          doctor), a photo of a new patient (not kept), statuses and a
 *          template update (audited), a marketing stop stamped 401 s ahead
 *          of the worker's clock (refused: beyond the 300 s skew), an
 *          unsupported change (ignored);
 *        - a redelivered body: skipped by its dedupe keys;
 *   4. the doctor opens the stored text, the finance office is refused
 *      (CADUCEUS_NO_ACCESS);
 *   5. the practice answers: the outbound gate allows a free-form message
 *      in the 24-hour window, the answer is sealed and audited; two days
 *      later only a template may be sent;
 *   6. the audit log signed and verified, the host's state saved as text.
 *
 * Build against an installed package (make dist PREFIX=...):
 *   gcc -std=c11 webhook_worker.c $(pkg-config --cflags --libs caduceus)
 * or with CMake (examples/c/CMakeLists.txt). Run it with the fixture
 * directory as its argument, or in $CADUCEUS_WHATSAPP_FIXTURES, or from the
 * source tree's root (tests/fixtures/whatsapp). It prints a narrated log
 * and closes with "webhook_worker: N passed, N failed"; the exit status is
 * 0 if nothing failed. Everything it creates is freed (make ctest runs it
 * under ASan and valgrind).
 */
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

/* Record a check; print the failure. */
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
static bool expect(caduceus_result rc, caduceus_result expected, const char *what) {
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
  fprintf(stderr, "webhook_worker: FAILED: %s: got %u (%s; %s), expected %u\n", what,
          (unsigned)rc, message, detail, (unsigned)expected);
  return false;
}

#define OK(call, what) expect((call), CADUCEUS_OK, (what))

/* Text results are NUL-terminated, so they print directly. */
static const char *text_of(const caduceus_bytes *b) {
  const uint8_t *p = caduceus_bytes_data(b);
  return p != NULL ? (const char *)p : "(none)";
}

/* A file read whole (the HTTP request body, the signature header). */
struct file {
  uint8_t *data;
  size_t len;
};

static const char *fixture_dir = "tests/fixtures/whatsapp";

static struct file read_file(const char *name) {
  struct file f = {NULL, 0};
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", fixture_dir, name);
  FILE *fp = fopen(path, "rb");
  if (fp != NULL) {
    if (fseek(fp, 0, SEEK_END) == 0) {
      long n = ftell(fp);
      if (n >= 0 && fseek(fp, 0, SEEK_SET) == 0 && (f.data = malloc((size_t)n + 1)) != NULL) {
        if (fread(f.data, 1, (size_t)n, fp) == (size_t)n) {
          f.data[n] = 0;
          f.len = (size_t)n;
        } else {
          free(f.data);
          f.data = NULL;
        }
      }
    }
    fclose(fp);
  }
  if (f.data == NULL) {
    fprintf(stderr, "webhook_worker: cannot read %s (pass the fixture directory as argv[1])\n",
            path);
  }
  return f;
}

/* ---------------------------------------------------------------------------
 * The worker's state: what a vendor keeps in its database.
 */

#define NOW ((int64_t)1790000100) /* the worker's clock: just after the messages */
#define DAY ((int64_t)86400)
#define AUDIT_ORIGIN "praxis.example/audit"
#define MAX_ENTRIES 64
#define MAX_SEEN 64

static caduceus_consent_ledger *ledger;
static caduceus_intake *intake;
static caduceus_whatsapp_identities *identities;
static caduceus_keyring_set *keyrings;
static caduceus_outbound_state *gate;
static caduceus_audit_log *audit_log;
static struct file app_secret;

/* Audit entries, in order (a database table in real life). */
static caduceus_bytes *entries[MAX_ENTRIES];
static size_t n_entries;
/* Dedupe keys of the events handled (a table with an 8-day expiry). */
static caduceus_bytes *seen[MAX_SEEN];
static size_t n_seen;
/* The stored text of the patient, its record and the patient's pseudonym,
 * for steps 4 and 5. */
static caduceus_bytes *stored_envelope, *stored_record_id, *patient;
static caduceus_keyring_record *chat_record;
/* Counts of what the worker did. */
static size_t n_replies, n_skipped;

static bool is_seen(const caduceus_bytes *key) {
  for (size_t i = 0; i < n_seen; i++) {
    if (strcmp(text_of(seen[i]), text_of(key)) == 0) {
      return true;
    }
  }
  return false;
}

/* Append every audit event of `d` to the log and keep the entry bytes. */
static bool audit_decision(const caduceus_decision *d) {
  size_t n = 0;
  if (!OK(caduceus_decision_audit_count(d, &n), "count the audit events")) {
    return false;
  }
  for (size_t i = 0; i < n; i++) {
    caduceus_bytes *entry = NULL;
    if (!check(n_entries < MAX_ENTRIES, "room for the audit entry") ||
        !OK(caduceus_decision_audit_append(d, i, audit_log, &entry), "append an audit entry")) {
      return false;
    }
    entries[n_entries++] = entry;
  }
  return true;
}

/* Persist and apply one decision (the vendor does this in one database
 * transaction): the keyring record first, then the envelope, the audit
 * entries, the dedupe key; then the in-memory state. */
static bool persist(const caduceus_decision *d, caduceus_bytes *key) {
  const char *kind = caduceus_decision_kind(d);
  caduceus_keyring_record *record = NULL;
  caduceus_result rc = caduceus_decision_keyring_record(d, &record);
  if (rc == CADUCEUS_OK) {
    caduceus_bytes *bytes = NULL;
    if (OK(caduceus_keyring_record_to_bytes(record, &bytes), "serialise the keyring record")) {
      printf("[persist]  new keyring record (%zu bytes): first message in this category\n",
             caduceus_bytes_len(bytes));
    }
    caduceus_bytes_free(bytes);
  } else {
    expect(rc, CADUCEUS_WHATSAPP_NOT_IN_DECISION, "keyring record or none");
  }
  caduceus_bytes *envelope = NULL;
  rc = caduceus_decision_envelope(d, &envelope);
  if (rc == CADUCEUS_OK) {
    caduceus_bytes *record_id = NULL;
    OK(caduceus_decision_record_id(d, &record_id), "the record id");
    printf("[persist]  envelope %s (%zu bytes of ciphertext)\n", text_of(record_id),
           caduceus_bytes_len(envelope));
    /* Keep the patient's text for steps 4 and 5. */
    if (stored_envelope == NULL && record != NULL) {
      stored_envelope = envelope;
      stored_record_id = record_id;
      chat_record = record;
      envelope = NULL;
      record_id = NULL;
      record = NULL;
    }
    caduceus_bytes_free(record_id);
  } else {
    expect(rc, CADUCEUS_WHATSAPP_NOT_IN_DECISION, "envelope or none");
  }
  caduceus_bytes_free(envelope);
  caduceus_keyring_record_free(record);
  size_t before = n_entries;
  if (!audit_decision(d)) {
    return false;
  }
  /* The replies: Cloud API request bodies to POST (they hold the patient's
   * number, so they are sent, never logged). */
  size_t replies = 0;
  OK(caduceus_decision_reply_count(d, &replies), "count the replies");
  for (size_t i = 0; i < replies; i++) {
    caduceus_bytes *request = NULL;
    if (OK(caduceus_decision_reply_request(d, i, &request), "a reply request")) {
      printf("[reply]    POST /messages (%zu bytes)\n", caduceus_bytes_len(request));
      n_replies++;
    }
    caduceus_bytes_free(request);
  }
  if (!OK(caduceus_decision_apply(d, ledger, identities, keyrings, NOW), "apply the decision") ||
      !OK(caduceus_outbound_state_apply(gate, d), "feed the outbound gate")) {
    return false;
  }
  if (key != NULL && check(n_seen < MAX_SEEN, "room for the dedupe key")) {
    seen[n_seen++] = key;
  } else {
    caduceus_bytes_free(key);
  }
  /* Refusals and no-ops carry a reason code (no personal data): read it
   * from the decision's JSON. */
  char reason[64] = "";
  caduceus_bytes *json = NULL;
  if (OK(caduceus_decision_json(d, false, &json), "the decision as JSON")) {
    const char *r = strstr(text_of(json), "\"reason\":\"");
    if (r != NULL) {
      r += strlen("\"reason\":\"");
      size_t n = strcspn(r, "\"");
      snprintf(reason, sizeof reason, ": %.*s", (int)(n < 40 ? n : 40), r);
    }
  }
  caduceus_bytes_free(json);
  printf("[decide]   -> %s%s (%zu audit entries, %zu replies)\n", kind, reason, n_entries - before,
         replies);
  return true;
}

/* One webhook POST: the body and its X-Hub-Signature-256 header, as
 * received. Returns the number of events handled, or -1. */
static int handle_post(const char *name) {
  char sig_name[256];
  snprintf(sig_name, sizeof sig_name, "%s.sig", name);
  struct file body = read_file(name), sig = read_file(sig_name);
  caduceus_webhook *hook = NULL;
  int handled = -1;
  const uint8_t *secrets[1] = {app_secret.data};
  size_t secret_lens[1] = {app_secret.len};
  size_t matched = 0, count = 0;
  if (!check(body.data != NULL && sig.data != NULL, "read the request")) {
    goto out;
  }
  printf("\n[webhook]  POST %s (%zu bytes)\n", name, body.len);
  /* Verify the raw bytes before anything else; answer 401 on a mismatch. */
  if (!OK(caduceus_whatsapp_verify_signature(body.data, body.len, (const char *)sig.data,
                                             secrets, secret_lens, 1, &matched),
          "verify the signature") ||
      !OK(caduceus_whatsapp_webhook_parse(body.data, body.len, &hook), "parse the body") ||
      !OK(caduceus_whatsapp_webhook_event_count(hook, &count), "count the events")) {
    goto out;
  }
  printf("[webhook]  signature OK (app secret #%zu), %zu event(s)\n", matched, count);
  handled = 0;
  for (size_t i = 0; i < count; i++) {
    caduceus_decision *d = NULL;
    caduceus_bytes *key = NULL;
    if (!OK(caduceus_intake_decide(intake, hook, i, ledger, identities, keyrings, NOW, &d),
            "decide an event")) {
      handled = -1;
      break;
    }
    caduceus_result rc = caduceus_decision_dedupe_key(d, &key);
    if (rc == CADUCEUS_OK && is_seen(key)) {
      printf("[dedupe]   event %zu already handled: skipped\n", i);
      n_skipped++;
      caduceus_bytes_free(key);
    } else {
      if (rc != CADUCEUS_OK) {
        expect(rc, CADUCEUS_WHATSAPP_NOT_IN_DECISION, "dedupe key or none");
      }
      if (patient == NULL && rc == CADUCEUS_OK) {
        (void)caduceus_decision_subject(d, &patient);
      }
      if (!persist(d, rc == CADUCEUS_OK ? key : NULL)) {
        handled = -1;
        caduceus_decision_free(d);
        break;
      }
      handled++;
    }
    caduceus_decision_free(d);
  }
out:
  caduceus_whatsapp_webhook_free(hook);
  free(body.data);
  free(sig.data);
  return handled;
}

int main(int argc, char **argv) {
  caduceus_private_key *practice = NULL, *doctor = NULL, *finance = NULL;
  caduceus_public_key *practice_pub = NULL, *doctor_pub = NULL, *finance_pub = NULL;
  caduceus_audit_key *pseudonym_key = NULL;
  caduceus_policy *policy = NULL;
  caduceus_bytes *notice = NULL, *opened = NULL, *refused = NULL, *send = NULL;
  caduceus_decision *answer = NULL;
  caduceus_bytes *signer_key = NULL, *verifier_key = NULL, *checkpoint = NULL;
  caduceus_bytes *identities_text = NULL, *gate_text = NULL;
  const char *env = getenv("CADUCEUS_WHATSAPP_FIXTURES");

  if (argc > 1) {
    fixture_dir = argv[1];
  } else if (env != NULL && env[0] != '\0') {
    fixture_dir = env;
  }
  printf("webhook_worker: libcaduceus %s (header %s), webhooks from %s\n", caduceus_version(),
         CADUCEUS_VERSION, fixture_dir);
  check(strcmp(caduceus_version(), CADUCEUS_VERSION) == 0,
        "the library is the version the header describes");

  /* 1. Onboarding. The private keys live in the practice's vault and on
   * staff devices; the worker needs only the public keys, the pseudonym
   * key and the app secret (here generated, and read from the fixtures). */
  app_secret = read_file("app-secret.txt");
  if (!check(app_secret.data != NULL, "read the app secret") ||
      !OK(caduceus_private_key_generate(CADUCEUS_KEY_KIND_PRACTICE, &practice),
          "generate the practice key") ||
      !OK(caduceus_private_key_generate(CADUCEUS_KEY_KIND_STAFF, &doctor),
          "generate the doctor's key") ||
      !OK(caduceus_private_key_generate(CADUCEUS_KEY_KIND_STAFF, &finance),
          "generate the finance office's key") ||
      !OK(caduceus_private_key_public_key(practice, &practice_pub), "practice public key") ||
      !OK(caduceus_private_key_public_key(doctor, &doctor_pub), "doctor public key") ||
      !OK(caduceus_private_key_public_key(finance, &finance_pub), "finance public key") ||
      !OK(caduceus_audit_key_generate(&pseudonym_key), "pseudonym (audit) key") ||
      !OK(caduceus_policy_default(&policy), "the default policy") ||
      !OK(caduceus_consent_ledger_new(&ledger), "new consent ledger") ||
      !OK(caduceus_consent_register_notice(
              ledger, "privacy-chat", 1, "de",
              "Datenschutzhinweis der Praxis Dr. Beispiel (Art. 13 DSGVO): Wir speichern Ihre "
              "Nachrichten verschl\xc3\xbcsselt und nur mit Ihrer Einwilligung.",
              NOW - 30 * DAY, NOW, &notice),
          "register the privacy notice")) {
    goto done;
  }
  printf("[consent]  notice %s\n", text_of(notice));
  {
    const caduceus_public_key *staff[2] = {doctor_pub, finance_pub};
    const char *roles[2] = {"doctor", "finance"};
    if (!OK(caduceus_intake_new(pseudonym_key, policy, practice_pub, staff, roles, 2,
                                "privacy-chat", 1, "de", ledger, &intake),
            "create the intake") ||
        !OK(caduceus_whatsapp_identities_new(&identities), "new identity map") ||
        !OK(caduceus_keyring_set_new(&keyrings), "new keyring set") ||
        !OK(caduceus_outbound_state_new(&gate), "new outbound state") ||
        !OK(caduceus_audit_log_new(AUDIT_ORIGIN, &audit_log), "new audit log")) {
      goto done;
    }
  }
  printf("[intake]   ready: chat-messages readable by doctor, not by finance\n");

  /* 2. A tampered body is refused before it is parsed (HTTP 401). */
  {
    struct file body = read_file("text.json"), sig = read_file("text.json.sig");
    const uint8_t *secrets[1] = {app_secret.data};
    size_t secret_lens[1] = {app_secret.len};
    size_t matched = 99;
    if (check(body.data != NULL && sig.data != NULL && body.len > 100, "read text.json")) {
      body.data[body.len / 2] ^= 1;
      expect(caduceus_whatsapp_verify_signature(body.data, body.len, (const char *)sig.data,
                                                secrets, secret_lens, 1, &matched),
             CADUCEUS_WHATSAPP_SIGNATURE_MISMATCH, "a tampered body is refused");
      check(matched == 99, "no secret index for a refused body");
      printf("[webhook]  tampered body: refused (CADUCEUS_WHATSAPP_SIGNATURE_MISMATCH)\n");
    }
    free(body.data);
    free(sig.data);
  }

  /* 3. The requests as Meta delivers them: the first message, the consent
   * button, a batch, and the first message again (a redelivery). */
  check(handle_post("text.json") == 1, "the first message is handled");
  {
    bool allowed = true;
    if (check(patient != NULL, "the patient has a pseudonym")) {
      OK(caduceus_consent_decide(ledger, text_of(patient), "treatment-communication", NOW,
                                 &allowed, NULL),
         "decide treatment-communication");
      check(!allowed, "nothing may be kept before consent");
      printf("[consent]  %s: no consent yet, the message was not kept\n", text_of(patient));
    }
  }
  check(handle_post("consent-yes-button.json") == 1, "the consent reply is handled");
  if (patient != NULL) {
    bool allowed = false;
    OK(caduceus_consent_decide(ledger, text_of(patient), "treatment-communication", NOW,
                               &allowed, NULL),
       "decide treatment-communication");
    check(allowed, "consent is in effect after the button");
    printf("[consent]  %s: treatment-communication allowed\n", text_of(patient));
  }
  check(handle_post("batch.json") == 7, "the seven events of the batch are handled");
  check(handle_post("text.json") == 0 && n_skipped == 1, "the redelivery is skipped");
  check(stored_envelope != NULL && chat_record != NULL, "the patient's text was stored");
  check(n_replies == 5, "notice and question to each of two new patients, one confirmation");
  if (stored_envelope == NULL || chat_record == NULL || patient == NULL) {
    goto done;
  }

  /* 4. The doctor opens the stored text: staff key -> keyring record ->
   * subject-category key -> data key. Finance holds no wrap. */
  if (OK(caduceus_envelope_open_with_keyring(caduceus_bytes_data(stored_envelope),
                                             caduceus_bytes_len(stored_envelope), chat_record,
                                             doctor, &opened),
         "the doctor opens the text")) {
    const char *expected = "Ich komme 10 Minuten sp\xc3\xa4ter.";
    check(caduceus_bytes_len(opened) == strlen(expected) &&
              memcmp(caduceus_bytes_data(opened), expected, strlen(expected)) == 0,
          "the doctor reads the patient's text");
    printf("[open]     doctor: %s OK (%zu bytes, the text as sent)\n", text_of(stored_record_id),
           caduceus_bytes_len(opened));
  }
  expect(caduceus_envelope_open_with_keyring(caduceus_bytes_data(stored_envelope),
                                             caduceus_bytes_len(stored_envelope), chat_record,
                                             finance, &refused),
         CADUCEUS_NO_ACCESS, "finance may not open the text");
  check(refused == NULL, "no plaintext for finance");
  printf("[open]     finance: refused (CADUCEUS_NO_ACCESS)\n");

  /* 5. The practice answers. Within 24 hours of the patient's last message
   * a free-form message may be sent; it is sealed like an inbound one. */
  {
    bool allowed = false;
    const char *text = "Kein Problem, wir verschieben Ihren Termin.";
    if (OK(caduceus_whatsapp_may_send(ledger, gate, text_of(patient), "treatment-communication",
                                      NULL, NULL, NULL, NOW + 60, &allowed, &send),
           "ask the outbound gate")) {
      check(allowed, "a free-form answer may be sent now");
      printf("[outbound] now: %s\n", text_of(send));
    }
    if (allowed &&
        OK(caduceus_intake_seal_outbound(intake, text_of(patient), "chat-messages",
                                         "treatment-communication", "text/plain; charset=utf-8",
                                         (const uint8_t *)text, strlen(text),
                                         "wamid.OUTBOUND.0001", keyrings, NOW + 60, &answer),
           "seal the answer") &&
        audit_decision(answer)) {
      caduceus_keyring_record *none = NULL;
      check(strcmp(caduceus_decision_kind(answer), "stored") == 0, "the answer is stored");
      expect(caduceus_decision_keyring_record(answer, &none), CADUCEUS_WHATSAPP_NOT_IN_DECISION,
             "the answer reuses the patient's keyring record");
      printf("[outbound] answer sealed to the same record and audited\n");
    }
    caduceus_bytes_free(send);
    send = NULL;
    allowed = true;
    if (OK(caduceus_whatsapp_may_send(ledger, gate, text_of(patient), "treatment-communication",
                                      NULL, NULL, NULL, NOW + 2 * DAY, &allowed, &send),
           "ask the outbound gate two days later")) {
      check(!allowed, "the window has closed");
      printf("[outbound] in two days: %s\n", text_of(send));
    }
    caduceus_bytes_free(send);
    send = NULL;
    if (OK(caduceus_whatsapp_may_send(ledger, gate, text_of(patient), "treatment-communication",
                                      "appointment_reminder", "de", "UTILITY", NOW + 2 * DAY,
                                      &allowed, &send),
           "ask about a utility template")) {
      check(allowed, "a utility template may be sent");
      printf("[outbound] template appointment_reminder: %s\n", text_of(send));
    }
  }

  /* 6. Sign a checkpoint over the audit log and verify the stored entries
   * against it, as an auditor would; save the host's state as text. */
  if (OK(caduceus_audit_signer_generate(AUDIT_ORIGIN, &signer_key, &verifier_key),
         "checkpoint signer") &&
      OK(caduceus_audit_log_sign_checkpoint(audit_log, text_of(signer_key), &checkpoint),
         "sign a checkpoint")) {
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
    if (OK(caduceus_audit_verify(data, lens, n_entries, signed_checkpoints, 1, trusted, 1,
                                 &log_ok, &first_bad, NULL),
           "verify the audit log")) {
      check(log_ok && first_bad == n_entries, "the audit log is intact");
      printf("\n[audit]    %zu entries, verified against the signed checkpoint:\n%s", n_entries,
             text_of(checkpoint));
    }
  }
  if (OK(caduceus_whatsapp_identities_to_text(identities, &identities_text),
         "save the identity map") &&
      OK(caduceus_outbound_state_to_text(gate, &gate_text), "save the outbound state")) {
    size_t aliases = 0;
    OK(caduceus_whatsapp_identities_len(identities, &aliases), "count the aliases");
    check(aliases == 4, "two patients, each by phone number and user id");
    printf("[state]    identity map: %zu aliases (%zu bytes); outbound state: %zu bytes\n",
           aliases, caduceus_bytes_len(identities_text), caduceus_bytes_len(gate_text));
  }

done:
  /* Free everything, in any order; NULL is a no-op. Buffers holding
   * plaintext or personal data are zeroized by caduceus_bytes_free. */
  for (size_t i = 0; i < n_entries; i++) {
    caduceus_bytes_free(entries[i]);
  }
  for (size_t i = 0; i < n_seen; i++) {
    caduceus_bytes_free(seen[i]);
  }
  caduceus_bytes_free(gate_text);
  caduceus_bytes_free(identities_text);
  caduceus_bytes_free(checkpoint);
  caduceus_bytes_free(verifier_key);
  caduceus_bytes_free(signer_key);
  caduceus_decision_free(answer);
  caduceus_bytes_free(send);
  caduceus_bytes_free(refused);
  caduceus_bytes_free(opened);
  caduceus_keyring_record_free(chat_record);
  caduceus_bytes_free(stored_record_id);
  caduceus_bytes_free(stored_envelope);
  caduceus_bytes_free(patient);
  caduceus_audit_log_free(audit_log);
  caduceus_outbound_state_free(gate);
  caduceus_keyring_set_free(keyrings);
  caduceus_whatsapp_identities_free(identities);
  caduceus_intake_free(intake);
  caduceus_bytes_free(notice);
  caduceus_consent_ledger_free(ledger);
  caduceus_policy_free(policy);
  caduceus_audit_key_free(pseudonym_key);
  caduceus_public_key_free(finance_pub);
  caduceus_public_key_free(doctor_pub);
  caduceus_public_key_free(practice_pub);
  caduceus_private_key_free(finance);
  caduceus_private_key_free(doctor);
  caduceus_private_key_free(practice);
  free(app_secret.data);

  printf("webhook_worker: %d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}

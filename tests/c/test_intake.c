/* The WhatsApp intake through the C ABI, on the signed webhook fixtures of
 * tests/fixtures/whatsapp/ (directory from CADUCEUS_WHATSAPP_FIXTURES, or
 * argv[1], or that path relative to the working directory):
 *
 *   text.json                first contact: ask-consent, nothing kept;
 *   consent-yes-button.json  consent-recorded (notice privacy-chat v1 de);
 *   batch.json event 0       a text, stored: the doctor opens it with the
 *                            decision's keyring record, finance is refused;
 *   replays                  the same dedupe keys, nothing recorded twice;
 *   may_send                 free-form in the window, a template later;
 *   errors                   malformed, too deep, not WhatsApp, limits,
 *                            indexes out of range, damaged state texts,
 *                            every NULL argument: the typed code, and the
 *                            out-parameters untouched. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "caduceus.h"
#include "harness.h"

#define NOW ((int64_t)1790000100) /* just after the fixtures' messages */
#define DAY ((int64_t)86400)
#define PHONE "4915100000001"
#define STORED_TEXT "Ich komme 10 Minuten sp\xc3\xa4ter."
#define NOTICE_TEXT "Datenschutzhinweis der Praxis (Art. 13 DSGVO): Nachrichten werden verschl\xc3\xbcsselt gespeichert."

static const char *fixture_dir = "tests/fixtures/whatsapp";

/* A sentinel a failing call must leave in its out-parameter. */
#define SENTINEL ((void *)&fixture_dir)

struct file {
  uint8_t *data;
  size_t len;
};

/* Read a fixture whole (NUL-terminated as well); data NULL on failure. */
static struct file read_fixture(const char *name) {
  struct file f = {NULL, 0};
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", fixture_dir, name);
  FILE *fp = fopen(path, "rb");
  if (fp == NULL) {
    fprintf(stderr, "cannot open %s\n", path);
    return f;
  }
  if (fseek(fp, 0, SEEK_END) == 0) {
    long n = ftell(fp);
    if (n >= 0 && fseek(fp, 0, SEEK_SET) == 0) {
      f.data = malloc((size_t)n + 1);
      if (f.data != NULL && fread(f.data, 1, (size_t)n, fp) == (size_t)n) {
        f.len = (size_t)n;
        f.data[n] = 0;
      } else {
        free(f.data);
        f.data = NULL;
      }
    }
  }
  fclose(fp);
  return f;
}

static bool contains(const caduceus_bytes *b, const char *needle) {
  const uint8_t *p = caduceus_bytes_data(b);
  return p != NULL && strstr((const char *)p, needle) != NULL;
}

static bool same_text(const caduceus_bytes *a, const caduceus_bytes *b) {
  return a != NULL && b != NULL && caduceus_bytes_len(a) == caduceus_bytes_len(b) &&
         strcmp((const char *)caduceus_bytes_data(a), (const char *)caduceus_bytes_data(b)) == 0;
}

/* The world of the tests: keys, policy, ledger, intake and host state. */
static caduceus_private_key *practice, *doctor, *finance;
static caduceus_public_key *practice_pub, *doctor_pub, *finance_pub;
static caduceus_audit_key *audit_key;
static caduceus_policy *policy;
static caduceus_consent_ledger *ledger;
static caduceus_intake *intake;
static caduceus_whatsapp_identities *ids;
static caduceus_keyring_set *keyrings;
static caduceus_outbound_state *gate;
static caduceus_audit_log *audit_log;
static struct file secret;

/* The host's dedupe store: keys of the events already processed. */
static caduceus_bytes *seen[16];
static size_t n_seen;

static bool already_seen(const caduceus_bytes *key) {
  for (size_t i = 0; i < n_seen; i++) {
    if (same_text(seen[i], key)) {
      return true;
    }
  }
  return false;
}

/* Verify a signed fixture and parse it; NULL on failure. */
static caduceus_webhook *receive(const char *name) {
  char sig_name[256];
  snprintf(sig_name, sizeof sig_name, "%s.sig", name);
  struct file body = read_fixture(name), sig = read_fixture(sig_name);
  caduceus_webhook *hook = NULL;
  const uint8_t *secrets[1] = {secret.data};
  size_t secret_lens[1] = {secret.len};
  size_t idx = 99;
  CHECK(body.data != NULL && sig.data != NULL);
  if (body.data != NULL && sig.data != NULL) {
    CHECK_RC(caduceus_whatsapp_verify_signature(body.data, body.len, (const char *)sig.data,
                                                secrets, secret_lens, 1, &idx),
             CADUCEUS_OK);
    CHECK(idx == 0);
    CHECK_RC(caduceus_whatsapp_webhook_parse(body.data, body.len, &hook), CADUCEUS_OK);
  }
  free(body.data);
  free(sig.data);
  return hook;
}

/* Decide event `index`, persist its audit events, apply it. The host
 * skips an event whose dedupe key it has processed: then `*skipped`. */
static caduceus_decision *process(caduceus_webhook *hook, size_t index, bool *skipped) {
  caduceus_decision *d = NULL;
  caduceus_bytes *key = NULL;
  *skipped = false;
  CHECK_RC(caduceus_intake_decide(intake, hook, index, ledger, ids, keyrings, NOW, &d),
           CADUCEUS_OK);
  if (d == NULL) {
    return NULL;
  }
  CHECK_RC(caduceus_decision_dedupe_key(d, &key), CADUCEUS_OK);
  CHECK(caduceus_bytes_len(key) == 64);
  if (already_seen(key)) {
    *skipped = true;
    caduceus_bytes_free(key);
    return d;
  }
  size_t n_audit = 0;
  CHECK_RC(caduceus_decision_audit_count(d, &n_audit), CADUCEUS_OK);
  for (size_t i = 0; i < n_audit; i++) {
    caduceus_bytes *entry = NULL;
    CHECK_RC(caduceus_decision_audit_append(d, i, audit_log, &entry), CADUCEUS_OK);
    CHECK(caduceus_bytes_len(entry) > 0);
    caduceus_bytes_free(entry);
  }
  CHECK_RC(caduceus_decision_apply(d, ledger, ids, keyrings, NOW), CADUCEUS_OK);
  CHECK_RC(caduceus_outbound_state_apply(gate, d), CADUCEUS_OK);
  if (n_seen < sizeof seen / sizeof seen[0]) {
    seen[n_seen++] = key;
  } else {
    caduceus_bytes_free(key);
  }
  return d;
}

static bool kind_is(const caduceus_decision *d, const char *kind) {
  const char *k = caduceus_decision_kind(d);
  return k != NULL && strcmp(k, kind) == 0;
}

static void setup(void) {
  CHECK_RC(caduceus_private_key_generate(CADUCEUS_KEY_KIND_PRACTICE, &practice), CADUCEUS_OK);
  CHECK_RC(caduceus_private_key_generate(CADUCEUS_KEY_KIND_STAFF, &doctor), CADUCEUS_OK);
  CHECK_RC(caduceus_private_key_generate(CADUCEUS_KEY_KIND_STAFF, &finance), CADUCEUS_OK);
  CHECK_RC(caduceus_private_key_public_key(practice, &practice_pub), CADUCEUS_OK);
  CHECK_RC(caduceus_private_key_public_key(doctor, &doctor_pub), CADUCEUS_OK);
  CHECK_RC(caduceus_private_key_public_key(finance, &finance_pub), CADUCEUS_OK);
  CHECK_RC(caduceus_audit_key_generate(&audit_key), CADUCEUS_OK);
  CHECK_RC(caduceus_policy_default(&policy), CADUCEUS_OK);
  CHECK_RC(caduceus_consent_ledger_new(&ledger), CADUCEUS_OK);
  CHECK_RC(caduceus_consent_register_notice(ledger, "privacy-chat", 1, "de", NOTICE_TEXT,
                                            NOW - 30 * DAY, NOW, NULL),
           CADUCEUS_OK);
  {
    const caduceus_public_key *staff[2] = {doctor_pub, finance_pub};
    const char *roles[2] = {"doctor", " finance "};
    CHECK_RC(caduceus_intake_new(audit_key, policy, practice_pub, staff, roles, 2, "privacy-chat",
                                 1, "de", ledger, &intake),
             CADUCEUS_OK);
  }
  CHECK_RC(caduceus_whatsapp_identities_new(&ids), CADUCEUS_OK);
  CHECK_RC(caduceus_keyring_set_new(&keyrings), CADUCEUS_OK);
  CHECK_RC(caduceus_outbound_state_new(&gate), CADUCEUS_OK);
  CHECK_RC(caduceus_audit_log_new("praxis.example/audit", &audit_log), CADUCEUS_OK);
  secret = read_fixture("app-secret.txt");
  CHECK(secret.data != NULL && secret.len > 0);
}

static void teardown(void) {
  for (size_t i = 0; i < n_seen; i++) {
    caduceus_bytes_free(seen[i]);
  }
  free(secret.data);
  caduceus_audit_log_free(audit_log);
  caduceus_outbound_state_free(gate);
  caduceus_keyring_set_free(keyrings);
  caduceus_whatsapp_identities_free(ids);
  caduceus_intake_free(intake);
  caduceus_consent_ledger_free(ledger);
  caduceus_policy_free(policy);
  caduceus_audit_key_free(audit_key);
  caduceus_public_key_free(finance_pub);
  caduceus_public_key_free(doctor_pub);
  caduceus_public_key_free(practice_pub);
  caduceus_private_key_free(finance);
  caduceus_private_key_free(doctor);
  caduceus_private_key_free(practice);
}

/* may_send: allowed and the decision code in the JSON. */
static bool may_send_is(const char *subject, const char *purpose, const char *template_name,
                        const char *template_category, int64_t at, const char *decision,
                        bool want_allowed, const char *detail) {
  caduceus_bytes *json = NULL;
  bool allowed = !want_allowed;
  char code[64];
  snprintf(code, sizeof code, "\"decision\":\"%s\"", decision);
  caduceus_result rc = caduceus_whatsapp_may_send(ledger, gate, subject, purpose, template_name,
                                                  "de", template_category, at, &allowed, &json);
  bool ok = rc == CADUCEUS_OK && allowed == want_allowed && contains(json, code) &&
            (detail == NULL || contains(json, detail));
  if (!ok) {
    fprintf(stderr, "may_send %s/%s: rc %u, json %s\n", purpose,
            template_name ? template_name : "free-form", (unsigned)rc,
            json ? (const char *)caduceus_bytes_data(json) : "(none)");
  }
  caduceus_bytes_free(json);
  return ok;
}

static void first_contact_consent_and_storage(void) {
  bool skipped = false;
  caduceus_bytes *subject = NULL, *first_key = NULL;

  /* 1. First contact: nothing kept, the notice and the consent question. */
  caduceus_webhook *hook = receive("text.json");
  size_t count = 0;
  CHECK_RC(caduceus_whatsapp_webhook_event_count(hook, &count), CADUCEUS_OK);
  CHECK(count == 1);
  {
    caduceus_bytes *redacted = NULL, *shown = NULL;
    CHECK_RC(caduceus_whatsapp_webhook_json(hook, false, &redacted), CADUCEUS_OK);
    CHECK_RC(caduceus_whatsapp_webhook_event_json(hook, 0, true, &shown), CADUCEUS_OK);
    CHECK(contains(redacted, "\"redacted_bytes\"") && !contains(redacted, PHONE) &&
          !contains(redacted, "Termin"));
    CHECK(contains(shown, PHONE) && contains(shown, "Termin am Dienstag"));
    caduceus_bytes_free(redacted);
    caduceus_bytes_free(shown);
  }
  caduceus_decision *d = process(hook, 0, &skipped);
  CHECK(!skipped && kind_is(d, "ask-consent"));
  CHECK_RC(caduceus_decision_subject(d, &subject), CADUCEUS_OK);
  CHECK(subject != NULL && strncmp((const char *)caduceus_bytes_data(subject), "sbj-", 4) == 0);
  CHECK_RC(caduceus_decision_dedupe_key(d, &first_key), CADUCEUS_OK);
  {
    size_t n = 0;
    CHECK_RC(caduceus_whatsapp_identities_len(ids, &n), CADUCEUS_OK);
    CHECK(n == 2); /* the wa_id and the BSUID, one subject */
    CHECK_RC(caduceus_decision_audit_count(d, &n), CADUCEUS_OK);
    CHECK(n == 1);
    CHECK_RC(caduceus_decision_reply_count(d, &n), CADUCEUS_OK);
    CHECK(n == 2);
    caduceus_bytes *notice = NULL, *question = NULL, *audit_json = NULL, *json = NULL;
    CHECK_RC(caduceus_decision_reply_request(d, 0, &notice), CADUCEUS_OK);
    CHECK_RC(caduceus_decision_reply_request(d, 1, &question), CADUCEUS_OK);
    CHECK(contains(notice, "\"to\":\"" PHONE "\"") && contains(notice, "Datenschutzhinweis"));
    CHECK(contains(question, "caduceus.consent.v1:yes:privacy-chat:1:de") &&
          contains(question, "\"interactive\""));
    CHECK_RC(caduceus_decision_audit_json(d, 0, &audit_json), CADUCEUS_OK);
    CHECK(contains(audit_json, "not-stored-no-consent"));
    CHECK_RC(caduceus_decision_json(d, false, &json), CADUCEUS_OK);
    CHECK(contains(json, "\"kind\":\"ask-consent\"") && !contains(json, PHONE) &&
          !contains(json, "Termin"));
    caduceus_bytes_free(notice);
    caduceus_bytes_free(question);
    caduceus_bytes_free(audit_json);
    caduceus_bytes_free(json);
  }
  {
    /* Nothing sealed: the absent parts are a typed code, out untouched. */
    caduceus_bytes *env = SENTINEL, *rid = SENTINEL;
    caduceus_keyring_record *rec = SENTINEL;
    CHECK_RC(caduceus_decision_envelope(d, &env), CADUCEUS_WHATSAPP_NOT_IN_DECISION);
    CHECK_RC(caduceus_decision_record_id(d, &rid), CADUCEUS_WHATSAPP_NOT_IN_DECISION);
    CHECK_RC(caduceus_decision_keyring_record(d, &rec), CADUCEUS_WHATSAPP_NOT_IN_DECISION);
    CHECK(env == SENTINEL && rid == SENTINEL && rec == (caduceus_keyring_record *)SENTINEL);
    CHECK_RC(caduceus_decision_audit_append(d, 1, audit_log, &env),
             CADUCEUS_WHATSAPP_INDEX_OUT_OF_RANGE);
    CHECK_RC(caduceus_decision_reply_request(d, 2, &env), CADUCEUS_WHATSAPP_INDEX_OUT_OF_RANGE);
    CHECK_RC(caduceus_decision_audit_json(d, 9, &env), CADUCEUS_WHATSAPP_INDEX_OUT_OF_RANGE);
    CHECK(env == SENTINEL);
  }
  const char *sbj = (const char *)caduceus_bytes_data(subject);
  CHECK(may_send_is(sbj, "treatment-communication", NULL, NULL, NOW, "forbidden", false,
                    "\"forbidden\":\"no-consent\""));
  caduceus_decision_free(d);
  caduceus_whatsapp_webhook_free(hook);

  /* 2. The consent button: recorded, for the same subject. */
  uint64_t counts[2] = {0, 0};
  hook = receive("consent-yes-button.json");
  d = process(hook, 0, &skipped);
  CHECK(!skipped && kind_is(d, "consent-recorded"));
  {
    caduceus_bytes *s2 = NULL, *json = NULL;
    bool allowed = false;
    CHECK_RC(caduceus_decision_subject(d, &s2), CADUCEUS_OK);
    CHECK(same_text(s2, subject));
    CHECK_RC(caduceus_consent_decide(ledger, sbj, "treatment-communication", NOW, &allowed, NULL),
             CADUCEUS_OK);
    CHECK(allowed);
    CHECK_RC(caduceus_decision_json(d, false, &json), CADUCEUS_OK);
    CHECK(contains(json, "\"status\":\"given\"") && contains(json, "\"privacy-chat\""));
    caduceus_bytes_free(s2);
    caduceus_bytes_free(json);
  }
  CHECK_RC(caduceus_consent_ledger_counts(ledger, &counts[0], &counts[1]),
           CADUCEUS_OK);
  {
    /* Applying the same decision again: refused, and nothing changes, not
     * even in a fresh identity map (all or nothing). */
    caduceus_whatsapp_identities *fresh = NULL;
    caduceus_keyring_set *fresh_set = NULL;
    size_t n = 99;
    uint64_t again[2] = {0, 0};
    CHECK_RC(caduceus_whatsapp_identities_new(&fresh), CADUCEUS_OK);
    CHECK_RC(caduceus_keyring_set_new(&fresh_set), CADUCEUS_OK);
    CHECK_RC(caduceus_decision_apply(d, ledger, fresh, fresh_set, NOW),
             CADUCEUS_CONSENT_DUPLICATE_EVENT);
    CHECK_RC(caduceus_whatsapp_identities_len(fresh, &n), CADUCEUS_OK);
    CHECK(n == 0);
    CHECK_RC(caduceus_consent_ledger_counts(ledger, &again[0], &again[1]),
             CADUCEUS_OK);
    CHECK(memcmp(again, counts, sizeof counts) == 0);
    caduceus_whatsapp_identities_free(fresh);
    caduceus_keyring_set_free(fresh_set);
  }
  caduceus_decision_free(d);
  caduceus_whatsapp_webhook_free(hook);

  /* 3. A text (event 0 of a batch): stored, sealed to a new
   * chat-messages keyring record wrapped to the practice and the doctor. */
  hook = receive("batch.json");
  CHECK_RC(caduceus_whatsapp_webhook_event_count(hook, &count), CADUCEUS_OK);
  CHECK(count == 7); /* 2 messages, 2 statuses, a template, a preference, an unsupported change */
  {
    caduceus_decision *none = SENTINEL;
    CHECK_RC(caduceus_intake_decide(intake, hook, 7, ledger, ids, keyrings, NOW, &none),
             CADUCEUS_WHATSAPP_INDEX_OUT_OF_RANGE);
    CHECK_RC(caduceus_intake_decide(intake, hook, SIZE_MAX, ledger, ids, keyrings, NOW, &none),
             CADUCEUS_WHATSAPP_INDEX_OUT_OF_RANGE);
    CHECK(none == (caduceus_decision *)SENTINEL);
    caduceus_bytes *j = SENTINEL;
    CHECK_RC(caduceus_whatsapp_webhook_event_json(hook, 7, false, &j),
             CADUCEUS_WHATSAPP_INDEX_OUT_OF_RANGE);
    CHECK(j == SENTINEL);
  }
  d = process(hook, 0, &skipped);
  CHECK(!skipped && kind_is(d, "stored"));
  caduceus_keyring_record *record = NULL;
  {
    caduceus_bytes *env = NULL, *plain = SENTINEL, *rid = NULL, *json = NULL;
    size_t n = 0;
    CHECK_RC(caduceus_decision_envelope(d, &env), CADUCEUS_OK);
    CHECK_RC(caduceus_decision_keyring_record(d, &record), CADUCEUS_OK);
    CHECK_RC(caduceus_decision_record_id(d, &rid), CADUCEUS_OK);
    CHECK(rid != NULL && strncmp((const char *)caduceus_bytes_data(rid), "wa-", 3) == 0);
    CHECK_RC(caduceus_keyring_record_recipient_count(record, &n), CADUCEUS_OK);
    CHECK(n == 2);
    CHECK_RC(caduceus_keyring_set_len(keyrings, &n), CADUCEUS_OK);
    CHECK(n == 1);
    CHECK_RC(caduceus_envelope_open_with_keyring(caduceus_bytes_data(env), caduceus_bytes_len(env),
                                                 record, finance, &plain),
             CADUCEUS_NO_ACCESS);
    CHECK(plain == SENTINEL);
    plain = NULL;
    CHECK_RC(caduceus_envelope_open_with_keyring(caduceus_bytes_data(env), caduceus_bytes_len(env),
                                                 record, doctor, &plain),
             CADUCEUS_OK);
    CHECK(plain != NULL && caduceus_bytes_len(plain) == strlen(STORED_TEXT) &&
          memcmp(caduceus_bytes_data(plain), STORED_TEXT, strlen(STORED_TEXT)) == 0);
    CHECK_RC(caduceus_decision_json(d, false, &json), CADUCEUS_OK);
    CHECK(contains(json, "\"envelope\"") && !contains(json, "Minuten"));
    caduceus_bytes_free(env);
    caduceus_bytes_free(plain);
    caduceus_bytes_free(rid);
    caduceus_bytes_free(json);
  }
  caduceus_decision_free(d);
  caduceus_whatsapp_webhook_free(hook);

  /* 4. Replays: the first text and the consent button again. The text has
   * the same dedupe key and is skipped by the host; the consent reply is
   * recognised as recorded (kind ignored) and appends nothing. */
  hook = receive("text.json");
  d = process(hook, 0, &skipped);
  CHECK(skipped);
  {
    caduceus_bytes *key = NULL;
    CHECK_RC(caduceus_decision_dedupe_key(d, &key), CADUCEUS_OK);
    CHECK(same_text(key, first_key));
    caduceus_bytes_free(key);
  }
  caduceus_decision_free(d);
  caduceus_whatsapp_webhook_free(hook);
  hook = receive("consent-yes-button.json");
  CHECK_RC(caduceus_intake_decide(intake, hook, 0, ledger, ids, keyrings, NOW, &d), CADUCEUS_OK);
  CHECK(kind_is(d, "ignored"));
  {
    caduceus_bytes *json = NULL;
    uint64_t again[2] = {0, 0};
    CHECK_RC(caduceus_decision_json(d, false, &json), CADUCEUS_OK);
    CHECK(contains(json, "\"reason\":\"already-recorded\"") &&
          contains(json, "\"consent_events\":[]"));
    CHECK_RC(caduceus_decision_apply(d, ledger, ids, keyrings, NOW), CADUCEUS_OK);
    CHECK_RC(caduceus_consent_ledger_counts(ledger, &again[0], &again[1]),
             CADUCEUS_OK);
    CHECK(memcmp(again, counts, sizeof counts) == 0);
    caduceus_bytes_free(json);
  }
  caduceus_decision_free(d);
  caduceus_whatsapp_webhook_free(hook);

  /* 5. The outbound gate: the window is open for 24 hours after the last
   * message (1790000040); later a template is required. */
  CHECK(may_send_is(sbj, "treatment-communication", NULL, NULL, NOW, "free-form", true,
                    "\"window_ends\":1790086440"));
  CHECK(may_send_is(sbj, "treatment-communication", NULL, NULL, NOW + 2 * DAY,
                    "template-required", false, "\"category\":\"UTILITY\""));
  CHECK(may_send_is(sbj, "treatment-communication", "appointment_reminder", "UTILITY",
                    NOW + 2 * DAY, "template", true, "\"category\":\"UTILITY\""));
  CHECK(may_send_is(sbj, "treatment-communication", "spring_offer", "MARKETING", NOW + 2 * DAY,
                    "forbidden", false, "\"forbidden\":\"template-is-marketing\""));
  CHECK(may_send_is(sbj, "marketing", NULL, NULL, NOW, "forbidden", false,
                    "\"forbidden\":\"no-consent\""));
  {
    /* The state's text form round-trips and keeps the window. */
    caduceus_bytes *text = NULL, *again = NULL;
    caduceus_outbound_state *loaded = NULL;
    CHECK_RC(caduceus_outbound_state_to_text(gate, &text), CADUCEUS_OK);
    CHECK(contains(text, "window sbj-") && contains(text, " 1790000040\n"));
    CHECK_RC(caduceus_outbound_state_from_text(caduceus_bytes_data(text), caduceus_bytes_len(text),
                                               &loaded),
             CADUCEUS_OK);
    CHECK_RC(caduceus_outbound_state_to_text(loaded, &again), CADUCEUS_OK);
    CHECK(same_text(text, again));
    caduceus_bytes_free(text);
    caduceus_bytes_free(again);
    caduceus_outbound_state_free(loaded);
  }

  /* 6. The practice answers: sealed like an inbound message, to the
   * existing record (no new one), readable by the doctor. */
  {
    const char *answer = "Kein Problem, bis gleich.";
    caduceus_decision *out = NULL;
    caduceus_keyring_record *none = SENTINEL;
    caduceus_bytes *env = NULL, *plain = NULL;
    CHECK_RC(caduceus_intake_seal_outbound(intake, sbj, "chat-messages", "treatment-communication",
                                           "text/plain", (const uint8_t *)answer, strlen(answer),
                                           "wamid.OUTBOUND-1", keyrings, NOW + 60, &out),
             CADUCEUS_OK);
    CHECK(kind_is(out, "stored"));
    CHECK_RC(caduceus_decision_keyring_record(out, &none), CADUCEUS_WHATSAPP_NOT_IN_DECISION);
    CHECK(none == (caduceus_keyring_record *)SENTINEL);
    CHECK_RC(caduceus_decision_envelope(out, &env), CADUCEUS_OK);
    CHECK_RC(caduceus_envelope_open_with_keyring(caduceus_bytes_data(env), caduceus_bytes_len(env),
                                                 record, doctor, &plain),
             CADUCEUS_OK);
    CHECK(plain != NULL && caduceus_bytes_len(plain) == strlen(answer));
    caduceus_decision *bad = SENTINEL;
    CHECK_RC(caduceus_intake_seal_outbound(intake, "p-1234", "chat-messages",
                                           "treatment-communication", "text/plain",
                                           (const uint8_t *)answer, strlen(answer), "wamid.X",
                                           keyrings, NOW, &bad),
             CADUCEUS_INVALID_IDENTIFIER);
    CHECK(bad == (caduceus_decision *)SENTINEL);
    caduceus_bytes_free(env);
    caduceus_bytes_free(plain);
    caduceus_decision_free(out);
  }
  {
    uint64_t size = 0;
    CHECK_RC(caduceus_audit_log_size(audit_log, &size), CADUCEUS_OK);
    CHECK(size == 3); /* not stored, consent given, stored */
  }
  caduceus_keyring_record_free(record);
  caduceus_bytes_free(first_key);
  caduceus_bytes_free(subject);
}

static void refused_bodies(void) {
  /* Signed but refused whole: the typed code, out-parameter untouched. */
  const struct {
    const char *name;
    caduceus_result rc;
  } cases[] = {
      {"malformed.json", CADUCEUS_WHATSAPP_WEBHOOK_MALFORMED},
      {"too-deep.json", CADUCEUS_WHATSAPP_WEBHOOK_TOO_DEEP},
      {"not-whatsapp.json", CADUCEUS_WHATSAPP_WEBHOOK_MALFORMED},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct file body = read_fixture(cases[i].name);
    caduceus_webhook *hook = SENTINEL;
    CHECK(body.data != NULL);
    CHECK_RC(caduceus_whatsapp_webhook_parse(body.data, body.len, &hook), cases[i].rc);
    CHECK(hook == (caduceus_webhook *)SENTINEL);
    {
      char detail[512];
      size_t n = 0;
      CHECK_RC(caduceus_last_error((uint8_t *)detail, sizeof detail, &n), CADUCEUS_OK);
      CHECK(n > 0 && strstr(detail, "Kaputt") == NULL && strstr(detail, PHONE) == NULL);
    }
    free(body.data);
  }
  struct file batch = read_fixture("batch.json");
  caduceus_webhook *hook = SENTINEL;
  CHECK_RC(caduceus_whatsapp_webhook_parse_with_limits(batch.data, batch.len, 0, 0, 6, &hook),
           CADUCEUS_WHATSAPP_WEBHOOK_TOO_MANY_EVENTS);
  CHECK_RC(caduceus_whatsapp_webhook_parse_with_limits(batch.data, batch.len, 100, 0, 0, &hook),
           CADUCEUS_WHATSAPP_BODY_TOO_LARGE);
  CHECK_RC(caduceus_whatsapp_webhook_parse_with_limits(batch.data, batch.len, 0, 4, 0, &hook),
           CADUCEUS_WHATSAPP_WEBHOOK_TOO_DEEP);
  CHECK(hook == (caduceus_webhook *)SENTINEL);
  hook = NULL;
  CHECK_RC(caduceus_whatsapp_webhook_parse_with_limits(batch.data, batch.len, 0, 0, 7, &hook),
           CADUCEUS_OK);
  caduceus_whatsapp_webhook_free(hook);
  free(batch.data);
  {
    static const uint8_t empty[1] = {0};
    hook = SENTINEL;
    CHECK_RC(caduceus_whatsapp_webhook_parse(empty, 0, &hook),
             CADUCEUS_WHATSAPP_WEBHOOK_MALFORMED);
    CHECK(hook == (caduceus_webhook *)SENTINEL);
  }
}

static void state_texts(void) {
  caduceus_bytes *text = NULL;
  caduceus_whatsapp_identities *loaded = SENTINEL;
  CHECK_RC(caduceus_whatsapp_identities_to_text(ids, &text), CADUCEUS_OK);
  size_t len = caduceus_bytes_len(text);
  CHECK(len == 2 * 103);
  const uint8_t *data = caduceus_bytes_data(text);
  CHECK_RC(caduceus_whatsapp_identities_from_text(data, len - 1, &loaded),
           CADUCEUS_WHATSAPP_IDENTITIES_TORN);
  {
    uint8_t *bad = malloc(len);
    if (bad != NULL) {
      memcpy(bad, data, len);
      bad[0] = 'x';
      CHECK_RC(caduceus_whatsapp_identities_from_text(bad, len, &loaded),
               CADUCEUS_WHATSAPP_IDENTITIES_MALFORMED);
      free(bad);
    }
    static const uint8_t not_utf8[2] = {0xff, '\n'};
    CHECK_RC(caduceus_whatsapp_identities_from_text(not_utf8, 2, &loaded), CADUCEUS_INVALID_UTF8);
  }
  CHECK(loaded == (caduceus_whatsapp_identities *)SENTINEL);
  loaded = NULL;
  CHECK_RC(caduceus_whatsapp_identities_from_text(data, len, &loaded), CADUCEUS_OK);
  {
    size_t n = 0;
    caduceus_bytes *again = NULL;
    CHECK_RC(caduceus_whatsapp_identities_len(loaded, &n), CADUCEUS_OK);
    CHECK(n == 2);
    CHECK_RC(caduceus_whatsapp_identities_to_text(loaded, &again), CADUCEUS_OK);
    CHECK(same_text(text, again));
    caduceus_bytes_free(again);
  }
  caduceus_whatsapp_identities_free(loaded);
  loaded = NULL;
  CHECK_RC(caduceus_whatsapp_identities_from_text(NULL, 0, &loaded), CADUCEUS_OK);
  caduceus_whatsapp_identities_free(loaded);
  caduceus_bytes_free(text);

  caduceus_outbound_state *state = SENTINEL;
  static const char garbage[] = "window x y z\n";
  CHECK_RC(caduceus_outbound_state_from_text((const uint8_t *)garbage, sizeof garbage - 1, &state),
           CADUCEUS_WHATSAPP_OUTBOUND_STATE_MALFORMED);
  CHECK(state == (caduceus_outbound_state *)SENTINEL);
}

static void bad_configurations(void) {
  const caduceus_public_key *staff[1] = {doctor_pub};
  const char *roles[1] = {"doctor"};
  caduceus_intake *none = SENTINEL;
  CHECK_RC(caduceus_intake_new(audit_key, policy, practice_pub, staff, roles, 1, "privacy-chat", 2,
                               "de", ledger, &none),
           CADUCEUS_WHATSAPP_NOTICE_NOT_REGISTERED);
  CHECK_RC(caduceus_intake_new(audit_key, policy, practice_pub, staff, roles, 1, "privacy-chat", 1,
                               "en", ledger, &none),
           CADUCEUS_WHATSAPP_NOTICE_NOT_REGISTERED);
  {
    const char *unknown[1] = {"doctor,janitor"};
    CHECK_RC(caduceus_intake_new(audit_key, policy, practice_pub, staff, unknown, 1,
                                 "privacy-chat", 1, "de", ledger, &none),
             CADUCEUS_POLICY_UNKNOWN_ROLE);
    const char *empty[1] = {" , "};
    CHECK_RC(caduceus_intake_new(audit_key, policy, practice_pub, staff, empty, 1, "privacy-chat",
                                 1, "de", ledger, &none),
             CADUCEUS_INVALID_ARGUMENT);
  }
  CHECK_RC(caduceus_intake_new(audit_key, policy, doctor_pub, staff, roles, 1, "privacy-chat", 1,
                               "de", ledger, &none),
           CADUCEUS_WRONG_KEY_KIND);
  {
    const caduceus_public_key *practice_as_staff[1] = {practice_pub};
    CHECK_RC(caduceus_intake_new(audit_key, policy, practice_pub, practice_as_staff, roles, 1,
                                 "privacy-chat", 1, "de", ledger, &none),
             CADUCEUS_WRONG_KEY_KIND);
  }
  CHECK(none == (caduceus_intake *)SENTINEL);
  /* No staff at all is a valid intake (records wrapped to the practice). */
  none = NULL;
  CHECK_RC(caduceus_intake_new(audit_key, policy, practice_pub, NULL, NULL, 0, "privacy-chat", 1,
                               "de", ledger, &none),
           CADUCEUS_OK);
  caduceus_intake_free(none);
}

static void null_arguments(void) {
  const uint8_t body[] = "{}";
  caduceus_webhook *hook = NULL;
  caduceus_decision *d = NULL;
  struct file text = read_fixture("text.json");
  CHECK_RC(caduceus_whatsapp_webhook_parse(text.data, text.len, &hook), CADUCEUS_OK);
  CHECK_RC(caduceus_intake_decide(intake, hook, 0, ledger, ids, keyrings, NOW, &d), CADUCEUS_OK);
  free(text.data);

  void *out = SENTINEL;
  size_t n = 99;
  bool allowed = true;
  caduceus_bytes **bytes_out = (caduceus_bytes **)&out;
  const caduceus_public_key *staff[1] = {doctor_pub};
  const char *roles[1] = {"doctor"};
  const uint8_t *text_data = (const uint8_t *)"x";

  CHECK_RC(caduceus_whatsapp_webhook_parse(NULL, 2, (caduceus_webhook **)&out),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_whatsapp_webhook_parse(body, 2, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_whatsapp_webhook_parse_with_limits(NULL, 2, 0, 0, 0, (caduceus_webhook **)&out),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_whatsapp_webhook_event_count(NULL, &n), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_whatsapp_webhook_event_count(hook, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_whatsapp_webhook_json(NULL, false, bytes_out), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_whatsapp_webhook_json(hook, false, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_whatsapp_webhook_event_json(NULL, 0, false, bytes_out),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_whatsapp_webhook_event_json(hook, 0, false, NULL), CADUCEUS_NULL_PARAMETER);

  CHECK_RC(caduceus_whatsapp_identities_new(NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_whatsapp_identities_from_text(NULL, 5, (caduceus_whatsapp_identities **)&out),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_whatsapp_identities_from_text(text_data, 0, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_whatsapp_identities_to_text(NULL, bytes_out), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_whatsapp_identities_to_text(ids, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_whatsapp_identities_len(NULL, &n), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_whatsapp_identities_len(ids, NULL), CADUCEUS_NULL_PARAMETER);

  CHECK_RC(caduceus_keyring_set_new(NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_keyring_set_insert(NULL, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_keyring_set_insert(keyrings, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_keyring_set_len(NULL, &n), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_keyring_set_len(keyrings, NULL), CADUCEUS_NULL_PARAMETER);

  caduceus_intake **intake_out = (caduceus_intake **)&out;
  CHECK_RC(caduceus_intake_new(NULL, policy, practice_pub, staff, roles, 1, "privacy-chat", 1,
                               "de", ledger, intake_out),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_intake_new(audit_key, NULL, practice_pub, staff, roles, 1, "privacy-chat", 1,
                               "de", ledger, intake_out),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_intake_new(audit_key, policy, NULL, staff, roles, 1, "privacy-chat", 1, "de",
                               ledger, intake_out),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_intake_new(audit_key, policy, practice_pub, NULL, roles, 1, "privacy-chat", 1,
                               "de", ledger, intake_out),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_intake_new(audit_key, policy, practice_pub, staff, NULL, 1, "privacy-chat", 1,
                               "de", ledger, intake_out),
           CADUCEUS_NULL_PARAMETER);
  {
    const caduceus_public_key *null_key[1] = {NULL};
    const char *null_role[1] = {NULL};
    CHECK_RC(caduceus_intake_new(audit_key, policy, practice_pub, null_key, roles, 1,
                                 "privacy-chat", 1, "de", ledger, intake_out),
             CADUCEUS_NULL_PARAMETER);
    CHECK_RC(caduceus_intake_new(audit_key, policy, practice_pub, staff, null_role, 1,
                                 "privacy-chat", 1, "de", ledger, intake_out),
             CADUCEUS_NULL_PARAMETER);
  }
  CHECK_RC(caduceus_intake_new(audit_key, policy, practice_pub, staff, roles, 1, NULL, 1, "de",
                               ledger, intake_out),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_intake_new(audit_key, policy, practice_pub, staff, roles, 1, "privacy-chat", 1,
                               NULL, ledger, intake_out),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_intake_new(audit_key, policy, practice_pub, staff, roles, 1, "privacy-chat", 1,
                               "de", NULL, intake_out),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_intake_new(audit_key, policy, practice_pub, staff, roles, 1, "privacy-chat", 1,
                               "de", ledger, NULL),
           CADUCEUS_NULL_PARAMETER);

  caduceus_decision **dec_out = (caduceus_decision **)&out;
  CHECK_RC(caduceus_intake_decide(NULL, hook, 0, ledger, ids, keyrings, NOW, dec_out),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_intake_decide(intake, NULL, 0, ledger, ids, keyrings, NOW, dec_out),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_intake_decide(intake, hook, 0, NULL, ids, keyrings, NOW, dec_out),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_intake_decide(intake, hook, 0, ledger, NULL, keyrings, NOW, dec_out),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_intake_decide(intake, hook, 0, ledger, ids, NULL, NOW, dec_out),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_intake_decide(intake, hook, 0, ledger, ids, keyrings, NOW, NULL),
           CADUCEUS_NULL_PARAMETER);

  const char *sbj = "sbj-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  const char *cat = "chat-messages", *pur = "treatment-communication", *ct = "text/plain";
  CHECK_RC(caduceus_intake_seal_outbound(NULL, sbj, cat, pur, ct, text_data, 1, "m", keyrings, NOW,
                                         dec_out),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_intake_seal_outbound(intake, NULL, cat, pur, ct, text_data, 1, "m", keyrings,
                                         NOW, dec_out),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_intake_seal_outbound(intake, sbj, NULL, pur, ct, text_data, 1, "m", keyrings,
                                         NOW, dec_out),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_intake_seal_outbound(intake, sbj, cat, NULL, ct, text_data, 1, "m", keyrings,
                                         NOW, dec_out),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_intake_seal_outbound(intake, sbj, cat, pur, NULL, text_data, 1, "m", keyrings,
                                         NOW, dec_out),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_intake_seal_outbound(intake, sbj, cat, pur, ct, NULL, 1, "m", keyrings, NOW,
                                         dec_out),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_intake_seal_outbound(intake, sbj, cat, pur, ct, text_data, 1, NULL, keyrings,
                                         NOW, dec_out),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_intake_seal_outbound(intake, sbj, cat, pur, ct, text_data, 1, "m", NULL, NOW,
                                         dec_out),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_intake_seal_outbound(intake, sbj, cat, pur, ct, text_data, 1, "m", keyrings,
                                         NOW, NULL),
           CADUCEUS_NULL_PARAMETER);

  CHECK(caduceus_decision_kind(NULL) == NULL);
  CHECK_RC(caduceus_decision_json(NULL, false, bytes_out), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_decision_json(d, false, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_decision_dedupe_key(NULL, bytes_out), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_decision_dedupe_key(d, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_decision_subject(NULL, bytes_out), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_decision_subject(d, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_decision_record_id(NULL, bytes_out), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_decision_record_id(d, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_decision_envelope(NULL, bytes_out), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_decision_envelope(d, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_decision_keyring_record(NULL, (caduceus_keyring_record **)&out),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_decision_keyring_record(d, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_decision_apply(NULL, ledger, ids, keyrings, NOW), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_decision_apply(d, NULL, ids, keyrings, NOW), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_decision_apply(d, ledger, NULL, keyrings, NOW), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_decision_apply(d, ledger, ids, NULL, NOW), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_decision_audit_count(NULL, &n), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_decision_audit_count(d, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_decision_audit_append(NULL, 0, audit_log, bytes_out), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_decision_audit_append(d, 0, NULL, bytes_out), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_decision_audit_append(d, 0, audit_log, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_decision_audit_json(NULL, 0, bytes_out), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_decision_audit_json(d, 0, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_decision_reply_count(NULL, &n), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_decision_reply_count(d, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_decision_reply_request(NULL, 0, bytes_out), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_decision_reply_request(d, 0, NULL), CADUCEUS_NULL_PARAMETER);

  caduceus_outbound_state **state_out = (caduceus_outbound_state **)&out;
  CHECK_RC(caduceus_outbound_state_new(NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_outbound_state_from_text(NULL, 3, state_out), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_outbound_state_from_text(text_data, 0, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_outbound_state_to_text(NULL, bytes_out), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_outbound_state_to_text(gate, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_outbound_state_apply(NULL, d), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_outbound_state_apply(gate, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_whatsapp_may_send(NULL, gate, sbj, pur, NULL, NULL, NULL, NOW, &allowed,
                                      bytes_out),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_whatsapp_may_send(ledger, NULL, sbj, pur, NULL, NULL, NULL, NOW, &allowed,
                                      bytes_out),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_whatsapp_may_send(ledger, gate, NULL, pur, NULL, NULL, NULL, NOW, &allowed,
                                      bytes_out),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_whatsapp_may_send(ledger, gate, sbj, NULL, NULL, NULL, NULL, NOW, &allowed,
                                      bytes_out),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_whatsapp_may_send(ledger, gate, sbj, pur, "reminder", NULL, "UTILITY", NOW,
                                      &allowed, bytes_out),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_whatsapp_may_send(ledger, gate, sbj, pur, "reminder", "de", NULL, NOW,
                                      &allowed, bytes_out),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_whatsapp_may_send(ledger, gate, sbj, pur, NULL, NULL, NULL, NOW, NULL,
                                      bytes_out),
           CADUCEUS_NULL_PARAMETER);
  CHECK(out == SENTINEL && n == 99 && allowed);
  /* The JSON is optional. */
  allowed = true;
  CHECK_RC(caduceus_whatsapp_may_send(ledger, gate, sbj, pur, NULL, NULL, NULL, NOW, &allowed,
                                      NULL),
           CADUCEUS_OK);
  CHECK(!allowed);

  /* Freeing NULL is a no-op. */
  caduceus_whatsapp_webhook_free(NULL);
  caduceus_whatsapp_identities_free(NULL);
  caduceus_keyring_set_free(NULL);
  caduceus_intake_free(NULL);
  caduceus_decision_free(NULL);
  caduceus_outbound_state_free(NULL);

  caduceus_decision_free(d);
  caduceus_whatsapp_webhook_free(hook);
}

static void codes_have_messages(void) {
  const caduceus_result codes[] = {
      CADUCEUS_WHATSAPP_WEBHOOK_MALFORMED,         CADUCEUS_WHATSAPP_WEBHOOK_TOO_DEEP,
      CADUCEUS_WHATSAPP_WEBHOOK_TOO_MANY_EVENTS,   CADUCEUS_WHATSAPP_INDEX_OUT_OF_RANGE,
      CADUCEUS_WHATSAPP_NOTICE_NOT_REGISTERED,     CADUCEUS_WHATSAPP_INTAKE_CONFIG,
      CADUCEUS_WHATSAPP_IDENTITIES_MALFORMED,      CADUCEUS_WHATSAPP_IDENTITIES_TORN,
      CADUCEUS_WHATSAPP_OUTBOUND_STATE_MALFORMED,  CADUCEUS_WHATSAPP_NOT_IN_DECISION,
  };
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
    char buf[256];
    size_t n = 0;
    CHECK_RC(caduceus_result_message(codes[i], (uint8_t *)buf, sizeof buf, &n), CADUCEUS_OK);
    CHECK(n > 20);
    CHECK((unsigned)codes[i] == 609 + i);
  }
}

int main(int argc, char **argv) {
  const char *env = getenv("CADUCEUS_WHATSAPP_FIXTURES");
  if (argc > 1) {
    fixture_dir = argv[1];
  } else if (env != NULL && env[0] != '\0') {
    fixture_dir = env;
  }
  setup();
  if (intake != NULL && secret.data != NULL) {
    first_contact_consent_and_storage();
    refused_bodies();
    state_texts();
    bad_configurations();
    null_arguments();
  } else {
    CHECK(false && "setup failed");
  }
  codes_have_messages();
  teardown();
  return SUMMARY("test_intake");
}

/* The consent ledger through the C ABI: every export's success path and
 * its abuse (NULL for each pointer, zero lengths, invalid UTF-8, malformed
 * JSON/TOML, truncated and bit-flipped ledger bytes, wrong state). */
#include <stdint.h>
#include <stdlib.h>

#include "caduceus.h"
#include "harness.h"

#define T0 1763800000LL

static const char BAD_UTF8[] = {'p', '-', (char)0xff, (char)0xfe, 0};

static int contains(const caduceus_bytes *b, const char *needle) {
  const char *s = (const char *)caduceus_bytes_data(b);
  return s != NULL && strstr(s, needle) != NULL;
}

static void drop(caduceus_bytes **b) {
  caduceus_bytes_free(*b);
  *b = NULL;
}

static uint64_t event_count(const caduceus_consent_ledger *l) {
  uint64_t events = 0, subjects = 0;
  if (caduceus_consent_ledger_counts(l, &events, &subjects) != CADUCEUS_OK) return UINT64_MAX;
  return events;
}

static const char *QR_EVENT =
    "{\"id\":\"evt-1\",\"subject\":\"p-7f3a91\","
    "\"purposes\":[\"treatment-communication\",\"marketing\"],"
    "\"status\":\"given\",\"method\":\"qr-reception\","
    "\"notice\":{\"id\":\"privacy-chat\",\"version\":1,\"language\":\"de\"},"
    "\"channel\":\"reception-qr\",\"evidence\":\"form-77\","
    "\"recorded_by\":\"staff-12\",\"time\":1763800060}";

static void test_new_and_policy(void) {
  caduceus_consent_ledger *l = NULL;
  CHECK_RC(caduceus_consent_ledger_new(NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_consent_ledger_new(&l), CADUCEUS_OK);
  CHECK(l != NULL);
  caduceus_consent_ledger_free(l);

  const char *toml =
      "max-clock-skew = 60\n"
      "opt-out-keywords = [\"STOP\"]\n"
      "[[purpose]]\nid = \"recall\"\nhealth-data = true\nopt-out = true\n";
  l = NULL;
  CHECK_RC(caduceus_consent_ledger_new_with_policy(toml, &l), CADUCEUS_OK);
  CHECK(l != NULL);
  caduceus_consent_ledger_free(l);

  caduceus_consent_ledger *untouched = (caduceus_consent_ledger *)&l;
  caduceus_consent_ledger *out = untouched;
  CHECK_RC(caduceus_consent_ledger_new_with_policy(NULL, &out), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_consent_ledger_new_with_policy(toml, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_consent_ledger_new_with_policy("[[purpose]\nid = ", &out),
           CADUCEUS_CONSENT_INVALID_POLICY);
  CHECK_RC(caduceus_consent_ledger_new_with_policy("", &out), CADUCEUS_CONSENT_INVALID_POLICY);
  CHECK_RC(caduceus_consent_ledger_new_with_policy(BAD_UTF8, &out), CADUCEUS_INVALID_UTF8);
  /* A purpose listed twice is refused. */
  CHECK_RC(caduceus_consent_ledger_new_with_policy(
               "[[purpose]]\nid = \"a\"\n[[purpose]]\nid = \"a\"\n", &out),
           CADUCEUS_CONSENT_INVALID_POLICY);
  CHECK(out == untouched); /* out-params written only on success */

  /* The last error explains the failure. */
  char buf[512];
  size_t n = 0;
  CHECK_RC(caduceus_last_error((uint8_t *)buf, sizeof buf, &n), CADUCEUS_OK);
  CHECK(n > 0 && strstr(buf, "purpose") != NULL);

  caduceus_consent_ledger_free(NULL);
}

static void test_notices(caduceus_consent_ledger *l) {
  caduceus_bytes *b = NULL;
  CHECK_RC(caduceus_consent_register_notice(l, "privacy-chat", 1, "de", "Datenschutzhinweis: ...",
                                            T0, T0, &b),
           CADUCEUS_OK);
  CHECK(contains(b, "\"id\":\"privacy-chat\"") && contains(b, "\"sha256\":\""));
  drop(&b);
  /* The optional output may be NULL. */
  CHECK_RC(caduceus_consent_register_notice(l, "privacy-chat", 1, "en", "Privacy notice: ...", T0,
                                            T0, NULL),
           CADUCEUS_OK);

  CHECK_RC(caduceus_consent_register_notice(NULL, "n", 1, "de", "t", T0, T0, NULL),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_consent_register_notice(l, NULL, 1, "de", "t", T0, T0, NULL),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_consent_register_notice(l, "n", 1, NULL, "t", T0, T0, NULL),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_consent_register_notice(l, "n", 1, "de", NULL, T0, T0, NULL),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_consent_register_notice(l, "n", 1, "de", BAD_UTF8, T0, T0, NULL),
           CADUCEUS_INVALID_UTF8);
  CHECK_RC(caduceus_consent_register_notice(l, "n", 1, "de", "", T0, T0, NULL),
           CADUCEUS_CONSENT_INVALID_NOTICE);
  CHECK_RC(caduceus_consent_register_notice(l, "n", 1, "x", "t", T0, T0, NULL),
           CADUCEUS_CONSENT_INVALID_NOTICE);
  CHECK_RC(caduceus_consent_register_notice(l, "", 1, "de", "t", T0, T0, NULL),
           CADUCEUS_CONSENT_INVALID_EVENT);
  CHECK_RC(caduceus_consent_register_notice(l, "privacy-chat", 1, "de", "other", T0, T0, NULL),
           CADUCEUS_CONSENT_DUPLICATE_NOTICE);
  CHECK_RC(caduceus_consent_register_notice(l, "n", 1, "de", "t", T0 + 100000, T0, NULL),
           CADUCEUS_CONSENT_IN_FUTURE);
}

static void test_record(caduceus_consent_ledger *l) {
  uint64_t seq = 99;
  uint8_t sha[32], zero[32];
  memset(sha, 0, sizeof sha);
  memset(zero, 0, sizeof zero);

  /* QR consent at reception. */
  CHECK_RC(caduceus_consent_record(l, QR_EVENT, T0 + 60, &seq, sha), CADUCEUS_OK);
  CHECK(seq == 0);
  CHECK(memcmp(sha, zero, 32) != 0);
  CHECK(event_count(l) == 1);

  /* Optional outputs may be NULL; the notice hash may be given explicitly. */
  caduceus_bytes *nb = NULL;
  CHECK_RC(caduceus_consent_history(l, "p-7f3a91", &nb), CADUCEUS_OK);
  const char *h = strstr((const char *)caduceus_bytes_data(nb), "\"notice\":{");
  CHECK(h != NULL);
  char sha_hex[65] = {0};
  const char *hs = h ? strstr(h, "\"sha256\":\"") : NULL;
  CHECK(hs != NULL);
  if (hs) memcpy(sha_hex, hs + 10, 64);
  drop(&nb);
  char ev2[1024];
  snprintf(ev2, sizeof ev2,
           "{\"id\":\"evt-photos\",\"subject\":\"p-other\",\"purposes\":[\"clinical-photos\"],"
           "\"status\":\"given\",\"method\":\"anamnesis-form\","
           "\"notice\":{\"id\":\"privacy-chat\",\"version\":1,\"language\":\"de\",\"sha256\":\"%s\"},"
           "\"channel\":\"paper-form\",\"recorded_by\":\"staff-3\",\"time\":%lld,"
           "\"expires_at\":%lld}",
           sha_hex, (long long)(T0 + 70), (long long)(T0 + 1000000));
  CHECK_RC(caduceus_consent_record(l, ev2, T0 + 70, NULL, NULL), CADUCEUS_OK);
  CHECK(event_count(l) == 2);

  /* Abuse: nothing is recorded, out-params untouched. */
  seq = 77;
  CHECK_RC(caduceus_consent_record(NULL, QR_EVENT, T0, &seq, sha), CADUCEUS_NULL_PARAMETER);
  /* A name as the subject is refused; the ledger is unchanged. */
  uint64_t before = event_count(l);
  const char *named =
      "{\"id\":\"evt-named\",\"subject\":\"Max Mustermann\","
      "\"purposes\":[\"marketing\"],\"status\":\"given\",\"method\":\"qr-reception\","
      "\"notice\":{\"id\":\"privacy-chat\",\"version\":1,\"language\":\"de\"},"
      "\"channel\":\"reception-qr\",\"recorded_by\":\"staff-12\",\"time\":1763800061}";
  CHECK_RC(caduceus_consent_record(l, named, T0 + 70, NULL, NULL), CADUCEUS_INVALID_IDENTIFIER);
  CHECK(event_count(l) == before);
  CHECK_RC(caduceus_consent_record(l, NULL, T0, &seq, sha), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_consent_record(l, QR_EVENT, T0 + 60, &seq, sha),
           CADUCEUS_CONSENT_DUPLICATE_EVENT);
  CHECK_RC(caduceus_consent_record(l, "", T0, &seq, sha), CADUCEUS_INVALID_ARGUMENT);
  CHECK_RC(caduceus_consent_record(l, "{", T0, &seq, sha), CADUCEUS_INVALID_ARGUMENT);
  CHECK_RC(caduceus_consent_record(l, "[1,2]", T0, &seq, sha), CADUCEUS_INVALID_ARGUMENT);
  CHECK_RC(caduceus_consent_record(l, "{\"id\":\"x\",\"bogus\":1}", T0, &seq, sha),
           CADUCEUS_INVALID_ARGUMENT);
  CHECK_RC(caduceus_consent_record(l, BAD_UTF8, T0, &seq, sha), CADUCEUS_INVALID_UTF8);

  const char *fmt =
      "{\"id\":\"%s\",\"subject\":\"%s\",\"purposes\":[%s],\"status\":\"%s\","
      "\"method\":\"chat-reply\",%s\"channel\":\"whatsapp\",\"recorded_by\":\"ingest\","
      "\"time\":%lld}";
  const char *notice = "\"notice\":{\"id\":\"privacy-chat\",\"version\":1,\"language\":\"de\"},";
  char ev[1024];
  snprintf(ev, sizeof ev, fmt, "e-x", "p-1", "\"no-such-purpose\"", "given", notice,
           (long long)T0);
  CHECK_RC(caduceus_consent_record(l, ev, T0, &seq, sha), CADUCEUS_CONSENT_UNKNOWN_PURPOSE);
  snprintf(ev, sizeof ev, fmt, "e-x", "p-1", "\"recall\"", "given", "", (long long)T0);
  CHECK_RC(caduceus_consent_record(l, ev, T0, &seq, sha), CADUCEUS_CONSENT_INVALID_EVENT);
  snprintf(ev, sizeof ev, fmt, "e-x", "p-1", "\"recall\"", "given",
           "\"notice\":{\"id\":\"unknown\",\"version\":1,\"language\":\"de\"},", (long long)T0);
  CHECK_RC(caduceus_consent_record(l, ev, T0, &seq, sha), CADUCEUS_CONSENT_UNKNOWN_NOTICE);
  snprintf(ev, sizeof ev, fmt, "e-x", "p-1", "\"recall\"", "given", notice,
           (long long)(T0 + 100000));
  CHECK_RC(caduceus_consent_record(l, ev, T0, &seq, sha), CADUCEUS_CONSENT_IN_FUTURE);
  snprintf(ev, sizeof ev, fmt, "e-x", "p-7f3a91", "\"recall\"", "given", notice, (long long)T0);
  CHECK_RC(caduceus_consent_record(l, ev, T0 + 100, &seq, sha), CADUCEUS_CONSENT_OUT_OF_ORDER);
  snprintf(ev, sizeof ev, fmt, "e-x", "p-1", "\"recall\"", "withdrawn", "", (long long)T0);
  CHECK_RC(caduceus_consent_record(l, ev, T0, &seq, sha),
           CADUCEUS_CONSENT_WITHOUT_PRIOR_CONSENT);
  snprintf(ev, sizeof ev, fmt, "e-x", "p-1", "\"recall\"", "maybe", notice, (long long)T0);
  CHECK_RC(caduceus_consent_record(l, ev, T0, &seq, sha), CADUCEUS_INVALID_ARGUMENT);
  snprintf(ev, sizeof ev, fmt, "e-x", "p-1", "\"recall\",\"recall\"", "given", notice,
           (long long)T0);
  CHECK_RC(caduceus_consent_record(l, ev, T0, &seq, sha), CADUCEUS_CONSENT_INVALID_EVENT);
  snprintf(ev, sizeof ev, fmt, "e-x", "M\\u00fcller", "\"recall\"", "given", notice,
           (long long)T0);
  CHECK_RC(caduceus_consent_record(l, ev, T0, &seq, sha), CADUCEUS_CONSENT_INVALID_EVENT);
  snprintf(ev, sizeof ev, fmt, "e-x", "p-1", "\"recall\"", "given",
           "\"notice\":{\"id\":\"privacy-chat\",\"version\":1,\"language\":\"de\",\"sha256\":\"zz\"},",
           (long long)T0);
  CHECK_RC(caduceus_consent_record(l, ev, T0, &seq, sha), CADUCEUS_INVALID_ARGUMENT);
  CHECK(seq == 77);
  CHECK(event_count(l) == 2);
}

static void test_decide(const caduceus_consent_ledger *l) {
  bool allowed = false;
  caduceus_bytes *b = NULL;
  CHECK_RC(caduceus_consent_decide(l, "p-7f3a91", "treatment-communication", T0 + 120, &allowed,
                                   &b),
           CADUCEUS_OK);
  CHECK(allowed);
  CHECK(contains(b, "\"allowed\":true") && contains(b, "\"art6\":\"consent\"") &&
        contains(b, "\"art9\":\"explicit-consent\"") && contains(b, "\"event_seq\":0"));
  drop(&b);

  /* Marketing rides on its own consent; recall has none. */
  CHECK_RC(caduceus_consent_decide(l, "p-7f3a91", "marketing", T0 + 120, &allowed, NULL),
           CADUCEUS_OK);
  CHECK(allowed);
  CHECK_RC(caduceus_consent_decide(l, "p-7f3a91", "recall", T0 + 120, &allowed, &b), CADUCEUS_OK);
  CHECK(!allowed && contains(b, "\"reason\":\"no-consent\""));
  drop(&b);
  CHECK_RC(caduceus_consent_decide(l, "p-7f3a91", "no-such", T0 + 120, &allowed, &b), CADUCEUS_OK);
  CHECK(!allowed && contains(b, "purpose-unknown"));
  drop(&b);
  /* Before the consent was given. */
  CHECK_RC(caduceus_consent_decide(l, "p-7f3a91", "treatment-communication", T0, &allowed, NULL),
           CADUCEUS_OK);
  CHECK(!allowed);

  allowed = true;
  CHECK_RC(caduceus_consent_decide(NULL, "p", "recall", T0, &allowed, NULL),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_consent_decide(l, NULL, "recall", T0, &allowed, NULL),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_consent_decide(l, "p", NULL, T0, &allowed, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_consent_decide(l, "p", "recall", T0, NULL, &b), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_consent_decide(l, BAD_UTF8, "recall", T0, &allowed, NULL),
           CADUCEUS_INVALID_UTF8);
  CHECK(allowed && b == NULL);

  /* Bulk decisions for a send-out. */
  const char *subjects[3] = {"p-7f3a91", "p-unknown", "p-7f3a91"};
  bool al[3] = {false, true, false};
  CHECK_RC(caduceus_consent_decide_many(l, subjects, 3, "treatment-communication", T0 + 120, al,
                                        &b),
           CADUCEUS_OK);
  CHECK(al[0] && !al[1] && al[2]);
  CHECK(b != NULL && ((const char *)caduceus_bytes_data(b))[0] == '[' &&
        contains(b, "\"subject\":\"p-unknown\""));
  drop(&b);
  CHECK_RC(caduceus_consent_decide_many(l, NULL, 0, "recall", T0, NULL, NULL), CADUCEUS_OK);
  CHECK_RC(caduceus_consent_decide_many(l, NULL, 0, "recall", T0, NULL, &b), CADUCEUS_OK);
  CHECK(b != NULL && strcmp((const char *)caduceus_bytes_data(b), "[]") == 0);
  drop(&b);
  CHECK_RC(caduceus_consent_decide_many(NULL, subjects, 3, "recall", T0, al, NULL),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_consent_decide_many(l, NULL, 3, "recall", T0, al, NULL),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_consent_decide_many(l, subjects, 3, NULL, T0, al, NULL),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_consent_decide_many(l, subjects, 3, "recall", T0, NULL, NULL),
           CADUCEUS_NULL_PARAMETER);
  const char *with_null[2] = {"p-1", NULL};
  const char *with_bad[2] = {"p-1", BAD_UTF8};
  CHECK_RC(caduceus_consent_decide_many(l, with_null, 2, "recall", T0, al, NULL),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_consent_decide_many(l, with_bad, 2, "recall", T0, al, NULL),
           CADUCEUS_INVALID_UTF8);
}

static void test_opt_out(caduceus_consent_ledger *l) {
  bool recorded = true, allowed = true;
  caduceus_bytes *b = NULL;
  CHECK_RC(caduceus_consent_opt_out(l, "evt-2", "p-7f3a91", "Thanks!", "wamid.1", "whatsapp",
                                    "ingest", T0 + 200, T0 + 200, &recorded, &b),
           CADUCEUS_OK);
  CHECK(!recorded && contains(b, "not-opt-out"));
  drop(&b);
  CHECK(event_count(l) == 2);

  /* "Bitte stopp!" withdraws marketing, records an objection to recall
     (no consent to withdraw there), never stops treatment communication. */
  CHECK_RC(caduceus_consent_opt_out(l, "evt-2", "p-7f3a91", " Bitte stopp! ", "wamid.2",
                                    "whatsapp", "ingest", T0 + 200, T0 + 200, &recorded, &b),
           CADUCEUS_OK);
  CHECK(recorded && contains(b, "\"outcome\":\"stopped\"") &&
        contains(b, "\"withdrawal\":{\"event_seq\":2") &&
        contains(b, "\"objection\":{\"event_seq\":3"));
  drop(&b);
  CHECK(event_count(l) == 4);
  CHECK_RC(caduceus_consent_decide(l, "p-7f3a91", "marketing", T0 + 201, &allowed, &b),
           CADUCEUS_OK);
  CHECK(!allowed && contains(b, "\"reason\":\"withdrawn\""));
  drop(&b);
  CHECK_RC(caduceus_consent_decide(l, "p-7f3a91", "recall", T0 + 201, &allowed, &b),
           CADUCEUS_OK);
  CHECK(!allowed && contains(b, "\"reason\":\"refused\""));
  drop(&b);
  CHECK_RC(caduceus_consent_decide(l, "p-7f3a91", "treatment-communication", T0 + 201, &allowed,
                                   NULL),
           CADUCEUS_OK);
  CHECK(allowed);

  /* A second STOPP withdraws nothing but is still recorded: an objection. */
  recorded = false;
  CHECK_RC(caduceus_consent_opt_out(l, "evt-3", "p-7f3a91", "STOPP", "wamid.3", "whatsapp",
                                    "ingest", T0 + 210, T0 + 210, &recorded, &b),
           CADUCEUS_OK);
  CHECK(recorded && contains(b, "\"withdrawal\":null"));
  drop(&b);
  CHECK(event_count(l) == 5);

  recorded = true;
  const char *a[7] = {"evt-4", "p-7f3a91", "STOP", "wamid.4", "whatsapp", "ingest", NULL};
  CHECK_RC(caduceus_consent_opt_out(NULL, a[0], a[1], a[2], a[3], a[4], a[5], T0, T0, &recorded,
                                    NULL),
           CADUCEUS_NULL_PARAMETER);
  for (int i = 0; i < 6; i++) {
    const char *v[6];
    for (int j = 0; j < 6; j++) v[j] = (i == j) ? NULL : a[j];
    CHECK_RC(caduceus_consent_opt_out(l, v[0], v[1], v[2], v[3], v[4], v[5], T0 + 220, T0 + 220,
                                      &recorded, NULL),
             CADUCEUS_NULL_PARAMETER);
  }
  CHECK_RC(caduceus_consent_opt_out(l, a[0], a[1], a[2], a[3], a[4], a[5], T0 + 220, T0 + 220,
                                    NULL, NULL),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_consent_opt_out(l, a[0], a[1], BAD_UTF8, a[3], a[4], a[5], T0 + 220, T0 + 220,
                                    &recorded, NULL),
           CADUCEUS_INVALID_UTF8);
  CHECK(recorded);
  CHECK(event_count(l) == 5);
}

static void test_history_and_exports(const caduceus_consent_ledger *l) {
  caduceus_bytes *b = NULL;
  CHECK_RC(caduceus_consent_history(l, "p-7f3a91", &b), CADUCEUS_OK);
  CHECK(contains(b, "\"id\":\"evt-1\"") && contains(b, "\"id\":\"evt-2\"") &&
        contains(b, "\"evidence\":\"wamid.2\"") && contains(b, "\"status\":\"withdrawn\""));
  drop(&b);
  CHECK_RC(caduceus_consent_history(l, "p-nobody", &b), CADUCEUS_OK);
  CHECK(b != NULL && strcmp((const char *)caduceus_bytes_data(b), "[]") == 0 &&
        caduceus_bytes_len(b) == 2);
  drop(&b);
  CHECK_RC(caduceus_consent_history(NULL, "p", &b), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_consent_history(l, NULL, &b), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_consent_history(l, "p", NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_consent_history(l, BAD_UTF8, &b), CADUCEUS_INVALID_UTF8);

  CHECK_RC(caduceus_consent_export_fhir(l, "p-7f3a91", T0 + 300, &b), CADUCEUS_OK);
  CHECK(contains(b, "\"resourceType\":\"Bundle\"") && contains(b, "\"Consent\"") &&
        contains(b, "\"type\":\"deny\""));
  drop(&b);
  CHECK_RC(caduceus_consent_export_fhir(NULL, "p", T0, &b), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_consent_export_fhir(l, NULL, T0, &b), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_consent_export_fhir(l, "p", T0, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_consent_export_fhir(l, BAD_UTF8, T0, &b), CADUCEUS_INVALID_UTF8);

  CHECK_RC(caduceus_consent_export_iso27560(l, "p-7f3a91", &b), CADUCEUS_OK);
  CHECK(contains(b, "dpv:"));
  drop(&b);
  CHECK_RC(caduceus_consent_export_iso27560(NULL, "p", &b), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_consent_export_iso27560(l, NULL, &b), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_consent_export_iso27560(l, "p", NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_consent_export_iso27560(l, BAD_UTF8, &b), CADUCEUS_INVALID_UTF8);
  CHECK(b == NULL);

  uint64_t events = 0, subjects = 0;
  CHECK_RC(caduceus_consent_ledger_counts(l, &events, &subjects), CADUCEUS_OK);
  CHECK(events == 5 && subjects == 2);
  CHECK_RC(caduceus_consent_ledger_counts(NULL, &events, &subjects), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_consent_ledger_counts(l, NULL, &subjects), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_consent_ledger_counts(l, &events, NULL), CADUCEUS_NULL_PARAMETER);
}

static void test_bytes_round_trip(const caduceus_consent_ledger *l) {
  caduceus_bytes *b = NULL;
  CHECK_RC(caduceus_consent_ledger_to_bytes(l, &b), CADUCEUS_OK);
  size_t len = caduceus_bytes_len(b);
  const uint8_t *data = caduceus_bytes_data(b);
  CHECK(len > 5 && memcmp(data, "CDCL", 4) == 0);
  CHECK_RC(caduceus_consent_ledger_to_bytes(NULL, &b), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_consent_ledger_to_bytes(l, NULL), CADUCEUS_NULL_PARAMETER);

  caduceus_consent_ledger *l2 = NULL;
  CHECK_RC(caduceus_consent_ledger_from_bytes(data, len, &l2), CADUCEUS_OK);
  CHECK(event_count(l2) == 5);
  bool allowed = false;
  CHECK_RC(caduceus_consent_decide(l2, "p-7f3a91", "treatment-communication", T0 + 300, &allowed,
                                   NULL),
           CADUCEUS_OK);
  CHECK(allowed);
  caduceus_consent_ledger_free(l2);

  caduceus_consent_ledger *out = NULL;
  CHECK_RC(caduceus_consent_ledger_from_bytes(NULL, 0, &out), CADUCEUS_CONSENT_MALFORMED_LEDGER);
  CHECK_RC(caduceus_consent_ledger_from_bytes(NULL, 10, &out), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_consent_ledger_from_bytes(data, len, NULL), CADUCEUS_NULL_PARAMETER);

  /* A cut inside an entry is a torn tail (or malformed inside the policy
     entry); a cut between entries is the shorter ledger it was. Every
     flipped bit is refused. */
  uint8_t *copy = malloc(len);
  int truncated_ok = 1, flipped_ok = 1;
  for (size_t cut = 0; cut < len; cut++) {
    caduceus_result rc = caduceus_consent_ledger_from_bytes(data, cut, &out);
    if (rc == CADUCEUS_OK) {
      /* Fewer events, or as many with fewer notices: never more. */
      if (event_count(out) > event_count(l)) truncated_ok = 0;
      caduceus_bytes *ob = NULL;
      if (caduceus_consent_ledger_to_bytes(out, &ob) != CADUCEUS_OK || caduceus_bytes_len(ob) != cut ||
          memcmp(caduceus_bytes_data(ob), data, cut) != 0)
        truncated_ok = 0;
      caduceus_bytes_free(ob);
      caduceus_consent_ledger_free(out);
      out = NULL;
    } else if (rc != CADUCEUS_CONSENT_TORN_TAIL && rc != CADUCEUS_CONSENT_MALFORMED_LEDGER) {
      truncated_ok = 0;
    }
  }
  CHECK_RC(caduceus_consent_ledger_from_bytes(data, len - 1, &out), CADUCEUS_CONSENT_TORN_TAIL);
  /* Repairing keeps every complete entry and says where to cut. */
  uint64_t keep = 0;
  caduceus_consent_ledger *kept = NULL;
  CHECK_RC(caduceus_consent_ledger_from_bytes_repairing(data, len - 1, &kept, &keep), CADUCEUS_OK);
  CHECK(keep > 5 && keep < len - 1);
  caduceus_bytes *kb = NULL;
  CHECK_RC(caduceus_consent_ledger_to_bytes(kept, &kb), CADUCEUS_OK);
  CHECK(caduceus_bytes_len(kb) == keep && memcmp(caduceus_bytes_data(kb), data, keep) == 0);
  caduceus_bytes_free(kb);
  caduceus_consent_ledger_free(kept);
  CHECK_RC(caduceus_consent_ledger_from_bytes_repairing(data, len, &kept, &keep), CADUCEUS_OK);
  CHECK(keep == len);
  caduceus_consent_ledger_free(kept);
  CHECK_RC(caduceus_consent_ledger_from_bytes_repairing(data, len, &kept, NULL),
           CADUCEUS_NULL_PARAMETER);
  for (size_t i = 0; copy != NULL && i < len; i++) {
    memcpy(copy, data, len);
    copy[i] ^= (uint8_t)(1u << (i % 8));
    caduceus_result rc = caduceus_consent_ledger_from_bytes(copy, len, &out);
    if (rc == CADUCEUS_OK) flipped_ok = 0;
  }
  CHECK(truncated_ok);
  CHECK(flipped_ok);
  CHECK(out == NULL);
  /* The version byte: an unsupported version. */
  if (copy != NULL) {
    memcpy(copy, data, len);
    copy[4] = 9;
    CHECK_RC(caduceus_consent_ledger_from_bytes(copy, len, &out), CADUCEUS_UNSUPPORTED_VERSION);
    /* Trailing bytes: fewer than an entry header are a torn tail, a whole
       header with an unknown tag is damage. */
    uint8_t *longer = calloc(len + 5, 1);
    if (longer != NULL) {
      memcpy(longer, data, len);
      CHECK_RC(caduceus_consent_ledger_from_bytes(longer, len + 1, &out), CADUCEUS_CONSENT_TORN_TAIL);
      CHECK_RC(caduceus_consent_ledger_from_bytes(longer, len + 5, &out),
               CADUCEUS_CONSENT_MALFORMED_LEDGER);
      free(longer);
    }
  }
  free(copy);
  caduceus_bytes_free(b);
}

static void test_retire(caduceus_consent_ledger *l) {
  bool allowed = false;
  caduceus_bytes *b = NULL;
  CHECK_RC(caduceus_consent_retire_notice(l, "privacy-chat", 1, T0 + 400, T0 + 400), CADUCEUS_OK);
  CHECK_RC(caduceus_consent_decide(l, "p-7f3a91", "treatment-communication", T0 + 500, &allowed,
                                   &b),
           CADUCEUS_OK);
  CHECK(!allowed && contains(b, "notice-retired"));
  drop(&b);
  CHECK_RC(caduceus_consent_retire_notice(l, "privacy-chat", 1, T0 + 400, T0 + 400),
           CADUCEUS_CONSENT_DUPLICATE_NOTICE);
  CHECK_RC(caduceus_consent_retire_notice(l, "nope", 1, T0 + 400, T0 + 400),
           CADUCEUS_CONSENT_UNKNOWN_NOTICE);
  CHECK_RC(caduceus_consent_retire_notice(NULL, "privacy-chat", 1, T0, T0),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_consent_retire_notice(l, NULL, 1, T0, T0), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_consent_retire_notice(l, BAD_UTF8, 1, T0, T0), CADUCEUS_INVALID_UTF8);
}

/* Saving by appending: each change is a few bytes appended to the file. */
static void test_append_saves(void) {
  caduceus_consent_ledger *l = NULL;
  CHECK_RC(caduceus_consent_ledger_new(&l), CADUCEUS_OK);
  if (l == NULL) return;
  caduceus_bytes *b = NULL;
  bool append = true;
  CHECK_RC(caduceus_consent_ledger_unsaved(l, &b, &append), CADUCEUS_OK);
  CHECK(!append); /* a new ledger: the whole file */
  size_t flen = caduceus_bytes_len(b);
  uint8_t *file = malloc(flen);
  if (file == NULL) return;
  memcpy(file, caduceus_bytes_data(b), flen);
  CHECK_RC(caduceus_consent_ledger_mark_saved(l, file, flen, true),
           CADUCEUS_CONSENT_SAVE_OUT_OF_ORDER);
  CHECK_RC(caduceus_consent_ledger_mark_saved(l, file, flen, false), CADUCEUS_OK);
  caduceus_bytes_free(b);
  CHECK_RC(caduceus_consent_ledger_unsaved(l, &b, &append), CADUCEUS_OK);
  CHECK(append && caduceus_bytes_len(b) == 0);
  caduceus_bytes_free(b);
  CHECK_RC(caduceus_consent_register_notice(l, "privacy-chat", 1, "de", "Hinweis", T0, T0, NULL),
           CADUCEUS_OK);
  CHECK_RC(caduceus_consent_ledger_unsaved(l, &b, &append), CADUCEUS_OK);
  size_t add = caduceus_bytes_len(b);
  CHECK(append && add > 32);
  uint8_t *grown = realloc(file, flen + add);
  if (grown == NULL) {
    free(file);
    caduceus_bytes_free(b);
    caduceus_consent_ledger_free(l);
    return;
  }
  file = grown;
  memcpy(file + flen, caduceus_bytes_data(b), add);
  /* Not what was returned: refused, nothing marked. */
  CHECK_RC(caduceus_consent_ledger_mark_saved(l, file, flen, true),
           CADUCEUS_CONSENT_SAVE_OUT_OF_ORDER);
  CHECK_RC(caduceus_consent_ledger_mark_saved(l, file + flen, add, true), CADUCEUS_OK);
  CHECK_RC(caduceus_consent_ledger_mark_saved(l, file + flen, add, true),
           CADUCEUS_CONSENT_SAVE_OUT_OF_ORDER);
  CHECK_RC(caduceus_consent_ledger_mark_saved(NULL, file, add, true), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_consent_ledger_unsaved(l, NULL, &append), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_consent_ledger_unsaved(l, &b, NULL), CADUCEUS_NULL_PARAMETER);
  caduceus_bytes_free(b);
  /* The appended file is the ledger's whole file. */
  caduceus_bytes *whole = NULL;
  CHECK_RC(caduceus_consent_ledger_to_bytes(l, &whole), CADUCEUS_OK);
  CHECK(caduceus_bytes_len(whole) == flen + add &&
        memcmp(caduceus_bytes_data(whole), file, flen + add) == 0);
  caduceus_bytes_free(whole);
  free(file);
  caduceus_consent_ledger_free(l);
}

/* A reader fed in chunks; with a held subject it keeps only that subject's
   events and refuses (never guesses) for the others. */
static void test_scoped_reader(const caduceus_consent_ledger *l) {
  caduceus_bytes *b = NULL;
  CHECK_RC(caduceus_consent_ledger_to_bytes(l, &b), CADUCEUS_OK);
  size_t len = caduceus_bytes_len(b);
  const uint8_t *data = caduceus_bytes_data(b);
  caduceus_consent_ledger_reader *r = NULL;
  CHECK_RC(caduceus_consent_ledger_reader_new(NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_consent_ledger_reader_new(&r), CADUCEUS_OK);
  CHECK_RC(caduceus_consent_ledger_reader_hold_subject(r, "p-other"), CADUCEUS_OK);
  CHECK_RC(caduceus_consent_ledger_reader_hold_subject(r, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_consent_ledger_reader_feed(r, data, len / 2), CADUCEUS_OK);
  CHECK_RC(caduceus_consent_ledger_reader_hold_event_id(r, "e-late"), CADUCEUS_WRONG_STATE);
  CHECK_RC(caduceus_consent_ledger_reader_feed(r, data + len / 2, len - len / 2), CADUCEUS_OK);
  caduceus_consent_ledger *part = NULL;
  CHECK_RC(caduceus_consent_ledger_reader_finish(r, NULL, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_consent_ledger_reader_finish(r, &part, NULL), CADUCEUS_OK);
  CHECK_RC(caduceus_consent_ledger_reader_finish(r, &part, NULL), CADUCEUS_WRONG_STATE);
  caduceus_consent_ledger_reader_free(r);
  caduceus_consent_ledger_reader_free(NULL);
  if (part != NULL) {
    /* Every event is counted; p-7f3a91 is allowed in the whole ledger but
       not held here: refused. */
    CHECK(event_count(part) == event_count(l));
    bool allowed = true;
    CHECK_RC(caduceus_consent_decide(part, "p-7f3a91", "treatment-communication", T0 + 300,
                                     &allowed, NULL),
             CADUCEUS_OK);
    CHECK(!allowed);
    caduceus_bytes *pb = NULL;
    CHECK_RC(caduceus_consent_ledger_to_bytes(part, &pb), CADUCEUS_CONSENT_NOT_HELD);
    CHECK(pb == NULL);
    caduceus_consent_ledger_free(part);
  }
  /* Without a held subject, the reader reads the whole ledger; a torn tail
     is refused unless keep_len is given. */
  CHECK_RC(caduceus_consent_ledger_reader_new(&r), CADUCEUS_OK);
  CHECK_RC(caduceus_consent_ledger_reader_feed(r, data, len - 1), CADUCEUS_OK);
  CHECK_RC(caduceus_consent_ledger_reader_finish(r, &part, NULL), CADUCEUS_CONSENT_TORN_TAIL);
  caduceus_consent_ledger_reader_free(r);
  CHECK_RC(caduceus_consent_ledger_reader_new(&r), CADUCEUS_OK);
  CHECK_RC(caduceus_consent_ledger_reader_feed(r, data, len - 1), CADUCEUS_OK);
  uint64_t keep = 0;
  part = NULL;
  CHECK_RC(caduceus_consent_ledger_reader_finish(r, &part, &keep), CADUCEUS_OK);
  CHECK(keep > 5 && keep < len - 1);
  caduceus_consent_ledger_free(part);
  caduceus_consent_ledger_reader_free(r);
  caduceus_bytes_free(b);
}

int main(void) {
  test_new_and_policy();
  test_append_saves();
  caduceus_consent_ledger *l = NULL;
  CHECK_RC(caduceus_consent_ledger_new(&l), CADUCEUS_OK);
  if (l == NULL) return SUMMARY("test_consent");
  test_notices(l);
  test_record(l);
  test_decide(l);
  test_opt_out(l);
  test_history_and_exports(l);
  test_bytes_round_trip(l);
  test_scoped_reader(l);
  test_retire(l);
  caduceus_consent_ledger_free(l);
  return SUMMARY("test_consent");
}

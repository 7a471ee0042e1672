/* Retention and access policy through the C ABI: load, hash, lint,
 * register, sweep, erasure and access plans, access checks, deadlines;
 * each with NULL for every pointer, invalid UTF-8, malformed TOML/JSON. */
#include <stdint.h>
#include <stdlib.h>

#include "caduceus.h"
#include "harness.h"

/* 2026-01-31T10:00:00Z */
#define RECEIVED 1769853600LL

static const char BAD_UTF8[] = {'x', (char)0xc3, (char)0x28, 0};

static int contains(const caduceus_bytes *b, const char *needle) {
  const char *s = (const char *)caduceus_bytes_data(b);
  return s != NULL && strstr(s, needle) != NULL;
}

static void drop(caduceus_bytes **b) {
  caduceus_bytes_free(*b);
  *b = NULL;
}

static const char *MINIMAL =
    "[policy]\nid = \"t\"\nname = \"test\"\nversion = \"1\"\ncontroller = \"c\"\n\n"
    "[[category]]\nid = \"chat\"\nname = \"Chat\"\nname-de = \"Chat\"\n\n"
    "[[retention]]\ncategory = \"chat\"\nyears = 3\nfrom = \"created\"\n"
    "action = \"shred-key\"\nsource = \"test\"\n";

/* Valid TOML, but legally questionable: photos (health data) without an
 * Art. 9 condition, a chat category without retention, marketing on
 * legitimate interests, a non-clinical role reading clinical photos. */
static const char *BAD_POLICY =
    "[policy]\nid = \"bad\"\nname = \"bad\"\nversion = \"1\"\ncontroller = \"c\"\n"
    "[[category]]\nid = \"photos\"\nname = \"Photos\"\nname-de = \"Fotos\"\n"
    "special = true\nclinical = true\n"
    "[[category]]\nid = \"chat\"\nname = \"Chat\"\nname-de = \"Chat\"\n"
    "[[retention]]\ncategory = \"photos\"\nyears = 10\nfrom = \"created\"\n"
    "action = \"shred-key\"\nsource = \"x\"\n"
    "[[activity]]\nid = \"care\"\nname = \"Care\"\npurpose = \"treatment\"\n"
    "categories = [\"photos\", \"chat\"]\nsubjects = [\"patients\"]\nart6 = \"b\"\n"
    "[[activity]]\nid = \"news\"\nname = \"News\"\npurpose = \"marketing newsletter\"\n"
    "categories = [\"chat\"]\nsubjects = [\"patients\"]\nart6 = \"f\"\n"
    "[[role]]\nid = \"finance\"\nname = \"Finance\"\nread = [\"chat\", \"photos\"]\n";

static const char *RECORDS =
    "[{\"id\": 1, \"subject\": \"p-7f3a91\", \"category\": \"chat-messages\","
    "  \"created\": \"2020-01-10\"},"
    " {\"id\": 2, \"subject\": \"p-7f3a91\", \"category\": \"xray-records\","
    "  \"created\": \"2024-05-04\", \"last-contact\": \"2024-05-04\", \"birth\": \"1980-03-01\"},"
    " {\"id\": 3, \"subject\": \"p-7f3a91\", \"category\": \"clinical-photos\","
    "  \"created\": \"2025-06-01\"}]";

static void test_load(void) {
  caduceus_policy *p = NULL;
  CHECK_RC(caduceus_policy_default(NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_policy_default(&p), CADUCEUS_OK);
  CHECK(p != NULL);
  caduceus_policy_free(p);
  p = NULL;
  CHECK_RC(caduceus_policy_parse(MINIMAL, &p), CADUCEUS_OK);
  CHECK(p != NULL);
  caduceus_policy_free(p);
  caduceus_policy_free(NULL);

  caduceus_policy *out = NULL;
  CHECK_RC(caduceus_policy_parse(NULL, &out), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_policy_parse(MINIMAL, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_policy_parse(BAD_UTF8, &out), CADUCEUS_INVALID_UTF8);
  CHECK_RC(caduceus_policy_parse("", &out), CADUCEUS_POLICY_SYNTAX);
  CHECK_RC(caduceus_policy_parse("[policy\nid = ", &out), CADUCEUS_POLICY_SYNTAX);
  /* Well-formed TOML, but an unknown category: the location is reported. */
  char *bad = malloc(strlen(MINIMAL) + 1);
  if (bad != NULL) {
    strcpy(bad, MINIMAL);
    char *c = strstr(bad, "category = \"chat\"");
    if (c != NULL) memcpy(c + 12, "xhat", 4);
    CHECK_RC(caduceus_policy_parse(bad, &out), CADUCEUS_POLICY_INVALID);
    char buf[512];
    size_t n = 0;
    CHECK_RC(caduceus_last_error((uint8_t *)buf, sizeof buf, &n), CADUCEUS_OK);
    CHECK(strstr(buf, "line") != NULL && strstr(buf, "column") != NULL);
    free(bad);
  }
  CHECK(out == NULL);
}

static void test_hash_lint_register(const caduceus_policy *p) {
  caduceus_bytes *b = NULL;
  CHECK_RC(caduceus_policy_hash(p, &b), CADUCEUS_OK);
  CHECK(caduceus_bytes_len(b) == 71 && contains(b, "sha256:"));
  drop(&b);
  CHECK_RC(caduceus_policy_hash(NULL, &b), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_policy_hash(p, NULL), CADUCEUS_NULL_PARAMETER);

  /* The default policy lints clean. */
  size_t findings = 99, errors = 99;
  CHECK_RC(caduceus_policy_lint(p, &findings, &errors, &b), CADUCEUS_OK);
  CHECK(findings == 0 && errors == 0);
  CHECK(contains(b, "\"findings\":[]"));
  drop(&b);

  /* A bad policy gives findings, errors among them. */
  caduceus_policy *bad = NULL;
  CHECK_RC(caduceus_policy_parse(BAD_POLICY, &bad), CADUCEUS_OK);
  CHECK_RC(caduceus_policy_lint(bad, &findings, &errors, &b), CADUCEUS_OK);
  CHECK(findings >= 3 && errors >= 3 && errors <= findings);
  CHECK(contains(b, "\"code\":\"art9-missing\"") && contains(b, "\"severity\":\"error\"") &&
        contains(b, "\"line\":") && contains(b, "\"fix\":"));
  drop(&b);
  CHECK_RC(caduceus_policy_lint(bad, &findings, &errors, NULL), CADUCEUS_OK);
  caduceus_policy_free(bad);

  /* Against a ledger's own consent policy: the default ledger agrees with
     the register; one without marketing leaves the marketing activity's
     consent-purpose unknown. */
  caduceus_consent_ledger *l = NULL;
  CHECK_RC(caduceus_consent_ledger_new(&l), CADUCEUS_OK);
  CHECK_RC(caduceus_policy_lint_with_ledger(p, l, &findings, &errors, NULL), CADUCEUS_OK);
  CHECK(findings == 0 && errors == 0);
  caduceus_consent_ledger_free(l);
  l = NULL;
  CHECK_RC(caduceus_consent_ledger_new_with_policy(
               "[[purpose]]\nid = \"treatment-communication\"\nhealth-data = true\n"
               "opt-out = false\n[[purpose]]\nid = \"clinical-photos\"\nhealth-data = true\n"
               "opt-out = false\n[[purpose]]\nid = \"recall\"\nhealth-data = true\n",
               &l),
           CADUCEUS_OK);
  CHECK_RC(caduceus_policy_lint_with_ledger(p, l, &findings, &errors, &b), CADUCEUS_OK);
  CHECK(errors == 1 && contains(b, "\"code\":\"consent-purpose-unknown\""));
  drop(&b);
  CHECK_RC(caduceus_policy_lint_with_ledger(p, NULL, &findings, &errors, NULL),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_policy_lint_with_ledger(NULL, l, &findings, &errors, NULL),
           CADUCEUS_NULL_PARAMETER);
  caduceus_consent_ledger_free(l);

  findings = errors = 42;
  CHECK_RC(caduceus_policy_lint(NULL, &findings, &errors, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_policy_lint(p, NULL, &errors, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_policy_lint(p, &findings, NULL, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK(findings == 42 && errors == 42);

  CHECK_RC(caduceus_policy_register_markdown(p, &b), CADUCEUS_OK);
  CHECK(caduceus_bytes_len(b) > 100 && contains(b, "#"));
  drop(&b);
  CHECK_RC(caduceus_policy_register_markdown(NULL, &b), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_policy_register_markdown(p, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_policy_register_json(p, &b), CADUCEUS_OK);
  CHECK(contains(b, "caduceus-register/1"));
  drop(&b);
  CHECK_RC(caduceus_policy_register_json(NULL, &b), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_policy_register_json(p, NULL), CADUCEUS_NULL_PARAMETER);
}

static void test_sweep(const caduceus_policy *p) {
  caduceus_bytes *b = NULL;
  size_t due = 99;
  /* 2026-01-31: the chat from 2020 is past its 3 years. */
  CHECK_RC(caduceus_policy_sweep(p, RECORDS, NULL, RECEIVED, &due, &b), CADUCEUS_OK);
  CHECK(due == 1);
  CHECK(contains(b, "caduceus-sweep/1") && contains(b, "\"date\":\"2026-01-31\"") &&
        contains(b, "\"due\":1"));
  drop(&b);
  /* A hold on the subject keeps everything. */
  const char *holds = "[{\"subject\": \"p-7f3a91\", \"reason\": \"case 3 O 12/26\"}]";
  CHECK_RC(caduceus_policy_sweep(p, RECORDS, holds, RECEIVED, &due, &b), CADUCEUS_OK);
  CHECK(due == 0 && contains(b, "case 3 O 12/26"));
  drop(&b);
  CHECK_RC(caduceus_policy_sweep(p, "[]", NULL, RECEIVED, &due, NULL), CADUCEUS_OK);
  CHECK(due == 0);

  due = 77;
  CHECK_RC(caduceus_policy_sweep(NULL, RECORDS, NULL, RECEIVED, &due, NULL),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_policy_sweep(p, NULL, NULL, RECEIVED, &due, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_policy_sweep(p, RECORDS, NULL, RECEIVED, NULL, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_policy_sweep(p, BAD_UTF8, NULL, RECEIVED, &due, NULL), CADUCEUS_INVALID_UTF8);
  CHECK_RC(caduceus_policy_sweep(p, RECORDS, BAD_UTF8, RECEIVED, &due, NULL),
           CADUCEUS_INVALID_UTF8);
  CHECK_RC(caduceus_policy_sweep(p, "", NULL, RECEIVED, &due, NULL), CADUCEUS_POLICY_BAD_RECORDS);
  CHECK_RC(caduceus_policy_sweep(p, "[{\"id\": 1", NULL, RECEIVED, &due, NULL),
           CADUCEUS_POLICY_BAD_RECORDS);
  CHECK_RC(caduceus_policy_sweep(p, "[{\"id\": 1, \"subject\": \"p\", \"category\": \"nope\"}]",
                                 NULL, RECEIVED, &due, NULL),
           CADUCEUS_POLICY_BAD_RECORDS);
  CHECK_RC(caduceus_policy_sweep(p, RECORDS, "[{\"reason\": \"x\"}]", RECEIVED, &due, NULL),
           CADUCEUS_POLICY_BAD_RECORDS);
  CHECK_RC(caduceus_policy_sweep(p, RECORDS, NULL, INT64_MAX, &due, NULL),
           CADUCEUS_INVALID_ARGUMENT);
  CHECK_RC(caduceus_policy_sweep(p, RECORDS, NULL, INT64_MIN, &due, NULL),
           CADUCEUS_INVALID_ARGUMENT);
  CHECK(due == 77);
}

static void test_erasure(const caduceus_policy *p) {
  caduceus_bytes *plan = NULL, *de = NULL, *en = NULL;
  int64_t deadline = 0;
  CHECK_RC(caduceus_policy_plan_erasure(p, "p-7f3a91", RECORDS, NULL, RECEIVED, &plan, &de, &en,
                                        &deadline),
           CADUCEUS_OK);
  CHECK(contains(plan, "caduceus-erasure-plan/1"));
  /* The X-rays are kept under an Art. 17(3) ground, the old chat erased now. */
  CHECK(contains(plan, "\"ground\":{\"article\":") || contains(plan, "\"ground\":{\"id\":"));
  CHECK(contains(plan, "Art. 17(3)"));
  CHECK(contains(plan, "\"decision\":\"erase-now\"") && contains(plan, "\"decision\":\"keep\""));
  CHECK(caduceus_bytes_len(de) > 50 && caduceus_bytes_len(en) > 50);
  CHECK(deadline == RECEIVED + 72 * 3600); /* the practice promises 72 hours */
  drop(&plan);
  drop(&de);
  drop(&en);
  CHECK_RC(caduceus_policy_plan_erasure(p, "p-7f3a91", "[]", "[]", RECEIVED, &plan, NULL, NULL,
                                        NULL),
           CADUCEUS_OK);
  CHECK(contains(plan, "\"categories\":[]"));
  drop(&plan);

  caduceus_bytes *untouched = NULL;
  CHECK_RC(caduceus_policy_plan_erasure(NULL, "p", RECORDS, NULL, RECEIVED, &plan, NULL, NULL,
                                        NULL),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_policy_plan_erasure(p, NULL, RECORDS, NULL, RECEIVED, &plan, NULL, NULL, NULL),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_policy_plan_erasure(p, "p", NULL, NULL, RECEIVED, &plan, NULL, NULL, NULL),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_policy_plan_erasure(p, "p", RECORDS, NULL, RECEIVED, NULL, &de, &en, NULL),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_policy_plan_erasure(p, BAD_UTF8, RECORDS, NULL, RECEIVED, &plan, NULL, NULL,
                                        NULL),
           CADUCEUS_INVALID_UTF8);
  /* Records of another subject, a subject that is no pseudonym, bad JSON. */
  CHECK_RC(caduceus_policy_plan_erasure(p, "p-other", RECORDS, NULL, RECEIVED, &plan, NULL, NULL,
                                        NULL),
           CADUCEUS_POLICY_OTHER_SUBJECT);
  CHECK_RC(caduceus_policy_plan_erasure(p, "", "[]", NULL, RECEIVED, &plan, NULL, NULL, NULL),
           CADUCEUS_POLICY_BAD_SUBJECT);
  CHECK_RC(caduceus_policy_plan_erasure(p, "p", "{", NULL, RECEIVED, &plan, NULL, NULL, NULL),
           CADUCEUS_POLICY_BAD_RECORDS);
  CHECK_RC(caduceus_policy_plan_erasure(p, "p", "[]", "[{}]", RECEIVED, &plan, NULL, NULL, NULL),
           CADUCEUS_POLICY_BAD_RECORDS);
  CHECK_RC(caduceus_policy_plan_erasure(p, "p", "[]", NULL, INT64_MAX, &plan, NULL, NULL, NULL),
           CADUCEUS_INVALID_ARGUMENT);
  CHECK(plan == untouched && de == NULL && en == NULL);
}

static void test_access(const caduceus_policy *p) {
  caduceus_bytes *plan = NULL, *de = NULL, *en = NULL;
  int64_t deadline = 0;
  CHECK_RC(caduceus_policy_plan_access(p, "p-7f3a91", RECORDS, RECEIVED, &plan, &de, &en,
                                       &deadline),
           CADUCEUS_OK);
  CHECK(contains(plan, "caduceus-access-plan/1") && contains(plan, "xray-records"));
  CHECK(caduceus_bytes_len(de) > 20 && caduceus_bytes_len(en) > 20 && deadline > RECEIVED);
  drop(&plan);
  drop(&de);
  drop(&en);
  CHECK_RC(caduceus_policy_plan_access(p, "p-7f3a91", "[]", RECEIVED, &plan, NULL, NULL, NULL),
           CADUCEUS_OK);
  drop(&plan);
  CHECK_RC(caduceus_policy_plan_access(NULL, "p", RECORDS, RECEIVED, &plan, NULL, NULL, NULL),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_policy_plan_access(p, NULL, RECORDS, RECEIVED, &plan, NULL, NULL, NULL),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_policy_plan_access(p, "p", NULL, RECEIVED, &plan, NULL, NULL, NULL),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_policy_plan_access(p, "p", RECORDS, RECEIVED, NULL, NULL, NULL, NULL),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_policy_plan_access(p, "p", BAD_UTF8, RECEIVED, &plan, NULL, NULL, NULL),
           CADUCEUS_INVALID_UTF8);
  CHECK_RC(caduceus_policy_plan_access(p, "p-other", RECORDS, RECEIVED, &plan, NULL, NULL, NULL),
           CADUCEUS_POLICY_OTHER_SUBJECT);
  CHECK_RC(caduceus_policy_plan_access(p, "p", "[", RECEIVED, &plan, NULL, NULL, NULL),
           CADUCEUS_POLICY_BAD_RECORDS);
  CHECK(plan == NULL);

  /* Role-based access. */
  bool allowed = false;
  caduceus_bytes *b = NULL;
  CHECK_RC(caduceus_policy_access_check(p, "doctor", "xray-records", CADUCEUS_ACCESS_READ,
                                        &allowed, &b),
           CADUCEUS_OK);
  CHECK(allowed && contains(b, "\"allowed\":true") && contains(b, "\"policy_hash\":"));
  drop(&b);
  CHECK_RC(caduceus_policy_access_check(p, "finance", "xray-records", CADUCEUS_ACCESS_READ,
                                        &allowed, NULL),
           CADUCEUS_OK);
  CHECK(!allowed);
  CHECK_RC(caduceus_policy_access_check(p, "doctor", "xray-records", CADUCEUS_ACCESS_EXPORT,
                                        &allowed, NULL),
           CADUCEUS_OK);
  CHECK_RC(caduceus_policy_access_check(p, "doctor", "xray-records", CADUCEUS_ACCESS_WRITE,
                                        &allowed, NULL),
           CADUCEUS_OK);
  allowed = true;
  CHECK_RC(caduceus_policy_access_check(p, "nurse", "xray-records", CADUCEUS_ACCESS_READ,
                                        &allowed, NULL),
           CADUCEUS_POLICY_UNKNOWN_ROLE);
  CHECK_RC(caduceus_policy_access_check(p, "doctor", "nothing", CADUCEUS_ACCESS_READ, &allowed,
                                        NULL),
           CADUCEUS_POLICY_UNKNOWN_CATEGORY);
  CHECK_RC(caduceus_policy_access_check(p, "doctor", "xray-records", 7, &allowed, NULL),
           CADUCEUS_INVALID_ARGUMENT);
  CHECK_RC(caduceus_policy_access_check(NULL, "doctor", "xray-records", 0, &allowed, NULL),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_policy_access_check(p, NULL, "xray-records", 0, &allowed, NULL),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_policy_access_check(p, "doctor", NULL, 0, &allowed, NULL),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_policy_access_check(p, "doctor", "xray-records", 0, NULL, NULL),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_policy_access_check(p, BAD_UTF8, "xray-records", 0, &allowed, NULL),
           CADUCEUS_INVALID_UTF8);
  CHECK(allowed);

  CHECK_RC(caduceus_policy_readers(p, "clinical-photos", &b), CADUCEUS_OK);
  CHECK(b != NULL && strcmp((const char *)caduceus_bytes_data(b), "[\"doctor\"]") == 0);
  drop(&b);
  CHECK_RC(caduceus_policy_readers(p, "nothing", &b), CADUCEUS_POLICY_UNKNOWN_CATEGORY);
  CHECK_RC(caduceus_policy_readers(NULL, "clinical-photos", &b), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_policy_readers(p, NULL, &b), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_policy_readers(p, "clinical-photos", NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_policy_readers(p, BAD_UTF8, &b), CADUCEUS_INVALID_UTF8);
  CHECK(b == NULL);
}

static void test_deadlines(const caduceus_policy *p) {
  int64_t deadline = 0, left = 0;
  caduceus_bytes *b = NULL;
  CHECK_RC(caduceus_policy_answer_deadline(p, RECEIVED, &deadline, &b), CADUCEUS_OK);
  CHECK(deadline == RECEIVED + 72 * 3600 && contains(b, "72 hours"));
  drop(&b);
  /* Without a promise: the Art. 12(3) month. */
  caduceus_policy *minimal = NULL;
  CHECK_RC(caduceus_policy_parse(MINIMAL, &minimal), CADUCEUS_OK);
  CHECK_RC(caduceus_policy_answer_deadline(minimal, RECEIVED, &deadline, NULL), CADUCEUS_OK);
  CHECK(deadline == 1772319600LL);
  caduceus_policy_free(minimal);
  deadline = 5;
  CHECK_RC(caduceus_policy_answer_deadline(NULL, RECEIVED, &deadline, NULL),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_policy_answer_deadline(p, RECEIVED, NULL, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_policy_answer_deadline(p, INT64_MIN, &deadline, NULL),
           CADUCEUS_INVALID_ARGUMENT);
  CHECK(deadline == 5);

  /* The breach clock: 72 hours. */
  CHECK_RC(caduceus_breach_clock(1767225600LL, 1767225600LL + 3600, &deadline, &left, &b),
           CADUCEUS_OK);
  CHECK(deadline == 1767225600LL + 72 * 3600 && left == 71 * 3600);
  CHECK(contains(b, "caduceus-breach-clock/1") && contains(b, "\"overdue\":false"));
  drop(&b);
  CHECK_RC(caduceus_breach_clock(1767225600LL, 1767225600LL + 100 * 3600, &deadline, &left, NULL),
           CADUCEUS_OK);
  CHECK(left < 0);
  CHECK_RC(caduceus_breach_clock(1767225600LL, 0, &deadline, NULL, NULL), CADUCEUS_OK);
  CHECK_RC(caduceus_breach_clock(1767225600LL, 0, NULL, &left, &b), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_breach_clock(INT64_MAX, 0, &deadline, &left, &b), CADUCEUS_INVALID_ARGUMENT);
  CHECK_RC(caduceus_breach_clock(0, INT64_MIN, &deadline, &left, &b), CADUCEUS_INVALID_ARGUMENT);
  CHECK(b == NULL);
}

static caduceus_public_key *public_of(uint32_t kind) {
  caduceus_private_key *sk = NULL;
  caduceus_public_key *pk = NULL;
  CHECK_RC(caduceus_private_key_generate(kind, &sk), CADUCEUS_OK);
  CHECK_RC(caduceus_private_key_public_key(sk, &pk), CADUCEUS_OK);
  caduceus_private_key_free(sk);
  return pk;
}

/* Who receives a wrapped subject-category key: the practice key, then the
 * staff keys of roles that read the category, each once; the result goes
 * straight into caduceus_keyring_record_create. */
static void test_wrap_recipients(const caduceus_policy *p) {
  caduceus_public_key *practice = public_of(CADUCEUS_KEY_KIND_PRACTICE);
  caduceus_public_key *doctor = public_of(CADUCEUS_KEY_KIND_STAFF);
  caduceus_public_key *coordinator = public_of(CADUCEUS_KEY_KIND_STAFF);
  caduceus_public_key *finance = public_of(CADUCEUS_KEY_KIND_STAFF);
  /* A second handle of the doctor's key. */
  caduceus_public_key *doctor_again = NULL;
  caduceus_bytes *t = NULL;
  CHECK_RC(caduceus_public_key_to_text(doctor, &t), CADUCEUS_OK);
  CHECK_RC(caduceus_public_key_parse((const char *)caduceus_bytes_data(t), &doctor_again),
           CADUCEUS_OK);
  drop(&t);
  if (practice == NULL || doctor == NULL || coordinator == NULL || finance == NULL ||
      doctor_again == NULL) {
    CHECK(0);
    goto done;
  }

  /* The doctor also works in billing (two pairs, one key), the practice
   * key is also given as a staff key: each key is selected once. */
  const char *roles[] = {"finance", "doctor", "coordinator", "doctor", "finance", "admin"};
  const caduceus_public_key *keys[] = {finance, doctor, coordinator, doctor_again, doctor,
                                       practice};
  enum { NS = 6 };
  const caduceus_public_key *out[NS + 1] = {0};
  size_t n = 0;
  CHECK_RC(caduceus_policy_wrap_recipients(p, "chat-messages", practice, roles, keys, NS, out,
                                           NS + 1, &n),
           CADUCEUS_OK);
  CHECK(n == 3 && out[0] == practice && out[1] == doctor && out[2] == coordinator &&
        out[3] == NULL);
  /* Straight into a keyring record. */
  caduceus_keyring_record *rec = NULL;
  size_t count = 0;
  CHECK_RC(caduceus_keyring_record_create("p-7f3a91", "chat-messages", out, n, RECEIVED, &rec),
           CADUCEUS_OK);
  CHECK_RC(caduceus_keyring_record_recipient_count(rec, &count), CADUCEUS_OK);
  CHECK(count == 3);
  caduceus_keyring_record_free(rec);

  /* Clinical photos: the doctor only. */
  memset(out, 0, sizeof out);
  CHECK_RC(caduceus_policy_wrap_recipients(p, "clinical-photos", practice, roles, keys, NS, out,
                                           NS + 1, &n),
           CADUCEUS_OK);
  CHECK(n == 2 && out[0] == practice && out[1] == doctor && out[2] == NULL);
  /* The admin reads the audit log; the practice key is not repeated. */
  CHECK_RC(caduceus_policy_wrap_recipients(p, "audit-log", practice, roles, keys, NS, out, NS + 1,
                                           &n),
           CADUCEUS_OK);
  CHECK(n == 1 && out[0] == practice);
  /* No staff: the practice key alone (arrays may be NULL). */
  const caduceus_public_key *one[1] = {NULL};
  CHECK_RC(caduceus_policy_wrap_recipients(p, "chat-messages", practice, NULL, NULL, 0, one, 1, &n),
           CADUCEUS_OK);
  CHECK(n == 1 && one[0] == practice);
  /* A role that reads nothing of the category: not selected. */
  const char *fin_role[] = {"finance"};
  const caduceus_public_key *fin_key[] = {finance};
  const caduceus_public_key *two[2] = {NULL, NULL};
  CHECK_RC(caduceus_policy_wrap_recipients(p, "xray-records", practice, fin_role, fin_key, 1, two,
                                           2, &n),
           CADUCEUS_OK);
  CHECK(n == 1 && two[0] == practice && two[1] == NULL);

  /* Abuse: nothing is written on failure. */
  const caduceus_public_key *untouched[NS + 1] = {0};
  size_t n0 = 42;
  CHECK_RC(caduceus_policy_wrap_recipients(NULL, "chat-messages", practice, roles, keys, NS,
                                           untouched, NS + 1, &n0),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_policy_wrap_recipients(p, NULL, practice, roles, keys, NS, untouched, NS + 1,
                                           &n0),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_policy_wrap_recipients(p, "chat-messages", NULL, roles, keys, NS, untouched,
                                           NS + 1, &n0),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_policy_wrap_recipients(p, "chat-messages", practice, NULL, keys, NS, untouched,
                                           NS + 1, &n0),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_policy_wrap_recipients(p, "chat-messages", practice, roles, NULL, NS,
                                           untouched, NS + 1, &n0),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_policy_wrap_recipients(p, "chat-messages", practice, roles, keys, NS, NULL,
                                           NS + 1, &n0),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_policy_wrap_recipients(p, "chat-messages", practice, roles, keys, NS,
                                           untouched, NS + 1, NULL),
           CADUCEUS_NULL_PARAMETER);
  const char *null_role[] = {"doctor", NULL};
  const caduceus_public_key *null_key[] = {doctor, NULL};
  const char *two_roles[] = {"doctor", "coordinator"};
  const caduceus_public_key *two_keys[] = {doctor, coordinator};
  CHECK_RC(caduceus_policy_wrap_recipients(p, "chat-messages", practice, null_role, two_keys, 2,
                                           untouched, 3, &n0),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_policy_wrap_recipients(p, "chat-messages", practice, two_roles, null_key, 2,
                                           untouched, 3, &n0),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_policy_wrap_recipients(p, "nothing", practice, roles, keys, NS, untouched,
                                           NS + 1, &n0),
           CADUCEUS_POLICY_UNKNOWN_CATEGORY);
  CHECK_RC(caduceus_policy_wrap_recipients(p, BAD_UTF8, practice, roles, keys, NS, untouched,
                                           NS + 1, &n0),
           CADUCEUS_INVALID_UTF8);
  const char *nurse[] = {"doctor", "nurse"};
  CHECK_RC(caduceus_policy_wrap_recipients(p, "chat-messages", practice, nurse, two_keys, 2,
                                           untouched, 3, &n0),
           CADUCEUS_POLICY_UNKNOWN_ROLE);
  const char *bad_role[] = {BAD_UTF8};
  CHECK_RC(caduceus_policy_wrap_recipients(p, "chat-messages", practice, bad_role, fin_key, 1,
                                           untouched, 2, &n0),
           CADUCEUS_INVALID_UTF8);
  /* Room for n_staff + 1 handles is required, even if fewer are selected. */
  CHECK_RC(caduceus_policy_wrap_recipients(p, "chat-messages", practice, roles, keys, NS,
                                           untouched, NS, &n0),
           CADUCEUS_BUFFER_TOO_SMALL);
  CHECK_RC(caduceus_policy_wrap_recipients(p, "chat-messages", practice, NULL, NULL, 0, untouched,
                                           0, &n0),
           CADUCEUS_BUFFER_TOO_SMALL);
  CHECK_RC(caduceus_policy_wrap_recipients(p, "chat-messages", practice, roles, keys, SIZE_MAX,
                                           untouched, SIZE_MAX, &n0),
           CADUCEUS_INVALID_ARGUMENT);
  CHECK(n0 == 42);
  for (int i = 0; i < NS + 1; i++) CHECK(untouched[i] == NULL);

done:
  caduceus_public_key_free(practice);
  caduceus_public_key_free(doctor);
  caduceus_public_key_free(coordinator);
  caduceus_public_key_free(finance);
  caduceus_public_key_free(doctor_again);
}

int main(void) {
  test_load();
  caduceus_policy *p = NULL;
  CHECK_RC(caduceus_policy_default(&p), CADUCEUS_OK);
  if (p == NULL) return SUMMARY("test_policy");
  test_hash_lint_register(p);
  test_sweep(p);
  test_erasure(p);
  test_access(p);
  test_deadlines(p);
  test_wrap_recipients(p);
  caduceus_policy_free(p);
  return SUMMARY("test_policy");
}

/* The audit log through the C ABI: keys and pseudonyms, appending entries,
 * signed checkpoints, verification with the first bad index, proofs and the
 * FHIR export; each with NULL for every pointer, zero lengths, invalid
 * UTF-8, malformed JSON, truncated and bit-flipped entries. */
#include <stdint.h>
#include <stdlib.h>

#include "caduceus.h"
#include "harness.h"

#define ORIGIN "praxis.example/audit"
#define N 3

static const char BAD_UTF8[] = {'d', 'r', (char)0x80, 0};

static int contains(const caduceus_bytes *b, const char *needle) {
  const char *s = (const char *)caduceus_bytes_data(b);
  return s != NULL && strstr(s, needle) != NULL;
}

static const char *str(const caduceus_bytes *b) { return (const char *)caduceus_bytes_data(b); }

static void drop(caduceus_bytes **b) {
  caduceus_bytes_free(*b);
  *b = NULL;
}

/* The stored log: entry bytes and leaf hashes, as a host keeps them. */
static uint8_t *entries[N];
static size_t lens[N];
static uint8_t leaves[N * 32];
static uint8_t root2[32];

static caduceus_audit_key *test_key(void) {
  caduceus_audit_key *key = NULL, *parsed = NULL;
  caduceus_bytes *text = NULL, *p1 = NULL, *p2 = NULL;
  CHECK_RC(caduceus_audit_key_generate(NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_audit_key_generate(&key), CADUCEUS_OK);
  CHECK_RC(caduceus_audit_key_to_text(key, &text), CADUCEUS_OK);
  CHECK(strncmp(str(text), "CADUCEUS-AUDIT-KEY-1", 20) == 0 && caduceus_bytes_len(text) == 84);
  CHECK_RC(caduceus_audit_key_parse(str(text), &parsed), CADUCEUS_OK);
  CHECK_RC(caduceus_audit_key_to_text(NULL, &text), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_audit_key_to_text(key, NULL), CADUCEUS_NULL_PARAMETER);
  drop(&text);

  /* Same key, same identifier: same pseudonym; kinds differ. */
  CHECK_RC(caduceus_audit_key_pseudonym(key, CADUCEUS_PSEUDONYM_STAFF, "dr.mueller", &p1),
           CADUCEUS_OK);
  CHECK_RC(caduceus_audit_key_pseudonym(parsed, CADUCEUS_PSEUDONYM_STAFF, "dr.mueller", &p2),
           CADUCEUS_OK);
  CHECK(strncmp(str(p1), "stf-", 4) == 0 && caduceus_bytes_len(p1) == 37 &&
        strcmp(str(p1), str(p2)) == 0);
  drop(&p2);
  CHECK_RC(caduceus_audit_key_pseudonym(key, CADUCEUS_PSEUDONYM_SUBJECT, "dr.mueller", &p2),
           CADUCEUS_OK);
  CHECK(strncmp(str(p2), "sbj-", 4) == 0 && strcmp(str(p1) + 4, str(p2) + 4) != 0);
  drop(&p1);
  drop(&p2);
  caduceus_audit_key_free(parsed);

  caduceus_audit_key *out = NULL;
  CHECK_RC(caduceus_audit_key_parse(NULL, &out), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_audit_key_parse("CADUCEUS-AUDIT-KEY-1", NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_audit_key_parse("", &out), CADUCEUS_AUDIT_MALFORMED_KEY);
  CHECK_RC(caduceus_audit_key_parse("CADUCEUS-AUDIT-KEY-1abc", &out),
           CADUCEUS_AUDIT_MALFORMED_KEY);
  CHECK_RC(caduceus_audit_key_parse(BAD_UTF8, &out), CADUCEUS_INVALID_UTF8);
  CHECK(out == NULL);
  CHECK_RC(caduceus_audit_key_pseudonym(NULL, 0, "x", &p1), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_audit_key_pseudonym(key, 0, NULL, &p1), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_audit_key_pseudonym(key, 0, "x", NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_audit_key_pseudonym(key, 0, "", &p1), CADUCEUS_INVALID_ARGUMENT);
  CHECK_RC(caduceus_audit_key_pseudonym(key, 9, "x", &p1), CADUCEUS_INVALID_ARGUMENT);
  CHECK_RC(caduceus_audit_key_pseudonym(key, 0, BAD_UTF8, &p1), CADUCEUS_INVALID_UTF8);
  CHECK(p1 == NULL);
  caduceus_audit_key_free(NULL);
  return key;
}

static void test_signer(caduceus_bytes **sk, caduceus_bytes **vk) {
  caduceus_bytes *v2 = NULL, *x = NULL, *y = NULL;
  CHECK_RC(caduceus_audit_signer_generate(ORIGIN, sk, vk), CADUCEUS_OK);
  CHECK(strncmp(str(*sk), "PRIVATE+KEY+" ORIGIN "+", 12 + strlen(ORIGIN) + 1) == 0);
  CHECK(strncmp(str(*vk), ORIGIN "+", strlen(ORIGIN) + 1) == 0);
  CHECK_RC(caduceus_audit_signer_verifier(str(*sk), &v2), CADUCEUS_OK);
  CHECK(strcmp(str(v2), str(*vk)) == 0);
  drop(&v2);
  CHECK_RC(caduceus_audit_signer_generate(NULL, &x, &y), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_audit_signer_generate(ORIGIN, NULL, &y), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_audit_signer_generate(ORIGIN, &x, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_audit_signer_generate(BAD_UTF8, &x, &y), CADUCEUS_INVALID_UTF8);
  CHECK(caduceus_audit_signer_generate("", &x, &y) != CADUCEUS_OK);
  CHECK_RC(caduceus_audit_signer_verifier(NULL, &v2), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_audit_signer_verifier(str(*sk), NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_audit_signer_verifier("PRIVATE+KEY+x+00000000+AAAA", &v2),
           CADUCEUS_AUDIT_MALFORMED_KEY);
  CHECK_RC(caduceus_audit_signer_verifier(str(*vk), &v2), CADUCEUS_AUDIT_MALFORMED_KEY);
  CHECK(x == NULL && y == NULL && v2 == NULL);
}

static void test_append(caduceus_audit_log *log, const caduceus_audit_key *key) {
  caduceus_bytes *doctor = NULL, *patient = NULL;
  CHECK_RC(caduceus_audit_key_pseudonym(key, CADUCEUS_PSEUDONYM_STAFF, "dr.mueller", &doctor),
           CADUCEUS_OK);
  CHECK_RC(caduceus_audit_key_pseudonym(key, CADUCEUS_PSEUDONYM_SUBJECT, "4711", &patient),
           CADUCEUS_OK);
  const char *actions[N] = {"create", "read", "consent-given"};
  for (int i = 0; i < N; i++) {
    char json[1024];
    snprintf(json, sizeof json,
             "{\"time\":%lld,\"actor\":\"%s\",\"role\":\"doctor\",\"action\":\"%s\","
             "\"source\":\"pms\",\"subject\":\"%s\",\"category\":\"clinical-photos\","
             "\"purpose\":\"treatment\",\"legal_basis\":\"gdpr-6-1-b\",\"correlation\":\"c-%d\"}",
             1763800000LL + i, str(doctor), actions[i], str(patient), i);
    caduceus_bytes *entry = NULL;
    uint64_t index = 99;
    CHECK_RC(caduceus_audit_log_append(log, json, &entry, &index, leaves + 32 * i), CADUCEUS_OK);
    CHECK(index == (uint64_t)i);
    lens[i] = caduceus_bytes_len(entry);
    entries[i] = malloc(lens[i]);
    if (entries[i] != NULL) memcpy(entries[i], caduceus_bytes_data(entry), lens[i]);
    caduceus_bytes_free(entry);
    if (i == 1) CHECK_RC(caduceus_audit_log_root(log, root2), CADUCEUS_OK);
  }

  /* Denied outcome and time in milliseconds; optional outputs NULL. */
  caduceus_audit_log *other = NULL;
  CHECK_RC(caduceus_audit_log_new("other.example/audit", &other), CADUCEUS_OK);
  char json[1024];
  caduceus_bytes *e = NULL;
  snprintf(json, sizeof json,
           "{\"time_ms\":1763800000123,\"actor\":\"%s\",\"role\":\"finance\",\"action\":\"read\","
           "\"source\":\"pms\",\"outcome\":\"denied\",\"outcome_reason\":\"no-role\"}",
           str(doctor));
  CHECK_RC(caduceus_audit_log_append(other, json, &e, NULL, NULL), CADUCEUS_OK);
  caduceus_bytes *j = NULL;
  CHECK_RC(caduceus_audit_entry_json(caduceus_bytes_data(e), caduceus_bytes_len(e), &j),
           CADUCEUS_OK);
  CHECK(contains(j, "\"outcome\":\"denied\"") && contains(j, "\"outcome_reason\":\"no-role\"") &&
        contains(j, "\"time_ms\":1763800000123"));
  drop(&j);
  drop(&e);
  caduceus_audit_log_free(other);

  /* Abuse: nothing is appended. */
  const char *bad[] = {
      "",
      "{",
      "[]",
      "{\"time\":1,\"bogus\":1}",
      "{\"time\":1,\"time_ms\":1000,\"actor\":\"x\",\"role\":\"r\",\"action\":\"read\","
      "\"source\":\"s\"}",
      "{\"actor\":\"x\",\"role\":\"r\",\"action\":\"read\",\"source\":\"s\"}",
  };
  e = NULL;
  uint64_t index = 77;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    CHECK_RC(caduceus_audit_log_append(log, bad[i], &e, &index, NULL), CADUCEUS_INVALID_ARGUMENT);
  /* A real identifier instead of a pseudonym is refused. */
  CHECK_RC(caduceus_audit_log_append(log,
                                     "{\"time\":1,\"actor\":\"dr.mueller\",\"role\":\"doctor\","
                                     "\"action\":\"read\",\"source\":\"pms\"}",
                                     &e, &index, NULL),
           CADUCEUS_AUDIT_INVALID_EVENT);
  snprintf(json, sizeof json,
           "{\"time\":1,\"actor\":\"%s\",\"role\":\"doctor\",\"action\":\"teleport\","
           "\"source\":\"pms\"}",
           str(doctor));
  CHECK_RC(caduceus_audit_log_append(log, json, &e, &index, NULL), CADUCEUS_INVALID_ARGUMENT);
  snprintf(json, sizeof json,
           "{\"time\":1,\"actor\":\"%s\",\"role\":\"doctor\",\"action\":\"read\","
           "\"source\":\"pms\",\"outcome\":\"denied\"}",
           str(doctor));
  CHECK_RC(caduceus_audit_log_append(log, json, &e, &index, NULL), CADUCEUS_INVALID_ARGUMENT);
  snprintf(json, sizeof json,
           "{\"time\":-5,\"actor\":\"%s\",\"role\":\"doctor\",\"action\":\"read\","
           "\"source\":\"pms\"}",
           str(doctor));
  CHECK_RC(caduceus_audit_log_append(log, json, &e, &index, NULL), CADUCEUS_AUDIT_INVALID_EVENT);
  snprintf(json, sizeof json,
           "{\"time\":1,\"actor\":\"%s\",\"role\":\"Dr. M\\u00fcller\",\"action\":\"read\","
           "\"source\":\"pms\"}",
           str(doctor));
  CHECK_RC(caduceus_audit_log_append(log, json, &e, &index, NULL), CADUCEUS_AUDIT_INVALID_EVENT);
  CHECK_RC(caduceus_audit_log_append(log, BAD_UTF8, &e, &index, NULL), CADUCEUS_INVALID_UTF8);
  CHECK_RC(caduceus_audit_log_append(NULL, "{}", &e, &index, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_audit_log_append(log, NULL, &e, &index, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_audit_log_append(log, "{}", NULL, &index, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK(e == NULL && index == 77);

  uint64_t size = 0;
  CHECK_RC(caduceus_audit_log_size(log, &size), CADUCEUS_OK);
  CHECK(size == N);
  CHECK_RC(caduceus_audit_log_size(NULL, &size), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_audit_log_size(log, NULL), CADUCEUS_NULL_PARAMETER);
  drop(&doctor);
  drop(&patient);
}

static void test_checkpoint_and_verify(const caduceus_audit_log *log, const char *sk,
                                       const char *vk) {
  uint8_t root[32], cp_root[32];
  caduceus_bytes *cp = NULL, *signed_cp = NULL, *json = NULL;
  CHECK_RC(caduceus_audit_log_root(log, root), CADUCEUS_OK);
  CHECK_RC(caduceus_audit_log_root(NULL, root), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_audit_log_root(log, NULL), CADUCEUS_NULL_PARAMETER);

  CHECK_RC(caduceus_audit_log_checkpoint(log, &cp), CADUCEUS_OK);
  CHECK(strncmp(str(cp), ORIGIN "\n3\n", strlen(ORIGIN) + 3) == 0);
  drop(&cp);
  CHECK_RC(caduceus_audit_log_checkpoint(NULL, &cp), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_audit_log_checkpoint(log, NULL), CADUCEUS_NULL_PARAMETER);

  CHECK_RC(caduceus_audit_log_sign_checkpoint(log, sk, &signed_cp), CADUCEUS_OK);
  CHECK(contains(signed_cp, "\xe2\x80\x94 " ORIGIN " ")); /* em dash signature line */
  CHECK_RC(caduceus_audit_log_sign_checkpoint(NULL, sk, &cp), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_audit_log_sign_checkpoint(log, NULL, &cp), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_audit_log_sign_checkpoint(log, sk, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_audit_log_sign_checkpoint(log, "PRIVATE+KEY+nope", &cp),
           CADUCEUS_AUDIT_MALFORMED_KEY);
  CHECK_RC(caduceus_audit_log_sign_checkpoint(log, BAD_UTF8, &cp), CADUCEUS_INVALID_UTF8);
  CHECK(cp == NULL);

  /* Open the signed checkpoint. */
  const char *keys[1] = {vk};
  uint64_t size = 0;
  CHECK_RC(caduceus_audit_checkpoint_open(str(signed_cp), keys, 1, &size, cp_root, &json),
           CADUCEUS_OK);
  CHECK(size == N && memcmp(cp_root, root, 32) == 0 && contains(json, "\"size\":3"));
  drop(&json);
  caduceus_bytes *sk2 = NULL, *vk2 = NULL;
  CHECK_RC(caduceus_audit_signer_generate(ORIGIN, &sk2, &vk2), CADUCEUS_OK);
  const char *wrong[1] = {str(vk2)};
  size = 42;
  CHECK_RC(caduceus_audit_checkpoint_open(str(signed_cp), wrong, 1, &size, cp_root, NULL),
           CADUCEUS_AUDIT_BAD_SIGNATURE);
  CHECK_RC(caduceus_audit_checkpoint_open(str(signed_cp), NULL, 0, &size, cp_root, NULL),
           CADUCEUS_AUDIT_BAD_SIGNATURE);
  CHECK_RC(caduceus_audit_checkpoint_open("not a note", keys, 1, &size, cp_root, NULL),
           CADUCEUS_AUDIT_MALFORMED_CHECKPOINT);
  CHECK_RC(caduceus_audit_checkpoint_open(NULL, keys, 1, &size, cp_root, NULL),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_audit_checkpoint_open(str(signed_cp), NULL, 1, &size, cp_root, NULL),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_audit_checkpoint_open(str(signed_cp), keys, 1, NULL, cp_root, NULL),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_audit_checkpoint_open(str(signed_cp), keys, 1, &size, NULL, NULL),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_audit_checkpoint_open(BAD_UTF8, keys, 1, &size, cp_root, NULL),
           CADUCEUS_INVALID_UTF8);
  const char *bad_key[1] = {"praxis+zz+zz"};
  CHECK_RC(caduceus_audit_checkpoint_open(str(signed_cp), bad_key, 1, &size, cp_root, NULL),
           CADUCEUS_AUDIT_MALFORMED_KEY);
  CHECK(size == 42);
  /* A changed signed note does not verify. */
  size_t sl = caduceus_bytes_len(signed_cp);
  char *tampered = malloc(sl + 1);
  if (tampered != NULL) {
    memcpy(tampered, str(signed_cp), sl + 1);
    tampered[strlen(ORIGIN) + 1] = '4'; /* size 3 -> 4 */
    CHECK_RC(caduceus_audit_checkpoint_open(tampered, keys, 1, &size, cp_root, NULL),
             CADUCEUS_AUDIT_BAD_SIGNATURE);
    free(tampered);
  }

  /* Verify the stored entries against the checkpoint: OK. */
  const uint8_t *const *es = (const uint8_t *const *)entries;
  const char *cps[1] = {str(signed_cp)};
  bool ok = false;
  uint64_t bad = 0;
  CHECK_RC(caduceus_audit_verify(es, lens, N, cps, 1, keys, 1, &ok, &bad, &json), CADUCEUS_OK);
  CHECK(ok && bad == N && contains(json, "\"ok\":true") &&
        contains(json, "\"checkpoints_matched\":1"));
  drop(&json);
  CHECK_RC(caduceus_audit_verify(NULL, NULL, 0, NULL, 0, NULL, 0, &ok, &bad, NULL), CADUCEUS_OK);
  CHECK(ok && bad == 0);

  /* Tamper with entry 1: the first bad index is 1. */
  uint8_t *copy = malloc(lens[1]);
  const uint8_t *tampered_es[N] = {entries[0], copy, entries[2]};
  if (copy != NULL) {
    memcpy(copy, entries[1], lens[1]);
    copy[lens[1] - 3] ^= 0x01;
    CHECK_RC(caduceus_audit_verify(tampered_es, lens, N, cps, 1, keys, 1, &ok, &bad, &json),
             CADUCEUS_OK);
    CHECK(!ok && bad == 1 && contains(json, "\"first_bad_index\":1"));
    drop(&json);
    /* Without checkpoints the link from entry 2 still finds it. */
    CHECK_RC(caduceus_audit_verify(tampered_es, lens, N, NULL, 0, NULL, 0, &ok, &bad, NULL),
             CADUCEUS_OK);
    CHECK(!ok && bad == 1);
  }
  /* Entry 1 deleted. */
  const uint8_t *deleted[2] = {entries[0], entries[2]};
  size_t deleted_lens[2] = {lens[0], lens[2]};
  CHECK_RC(caduceus_audit_verify(deleted, deleted_lens, 2, cps, 1, keys, 1, &ok, &bad, NULL),
           CADUCEUS_OK);
  CHECK(!ok && bad == 1);
  /* Truncated against the checkpoint. */
  CHECK_RC(caduceus_audit_verify(es, lens, 2, cps, 1, keys, 1, &ok, &bad, NULL), CADUCEUS_OK);
  CHECK(!ok && bad == 2);
  /* A truncated entry. */
  size_t short_lens[N] = {lens[0], 10, lens[2]};
  CHECK_RC(caduceus_audit_verify(es, short_lens, N, NULL, 0, NULL, 0, &ok, &bad, NULL),
           CADUCEUS_OK);
  CHECK(!ok && bad == 1);

  ok = true;
  bad = 9;
  CHECK_RC(caduceus_audit_verify(NULL, lens, N, NULL, 0, NULL, 0, &ok, &bad, NULL),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_audit_verify(es, NULL, N, NULL, 0, NULL, 0, &ok, &bad, NULL),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_audit_verify(es, lens, N, NULL, 1, NULL, 0, &ok, &bad, NULL),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_audit_verify(es, lens, N, cps, 1, NULL, 1, &ok, &bad, NULL),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_audit_verify(es, lens, N, NULL, 0, NULL, 0, NULL, &bad, NULL),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_audit_verify(es, lens, N, NULL, 0, NULL, 0, &ok, NULL, NULL),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_audit_verify(es, lens, N, cps, 1, wrong, 1, &ok, &bad, NULL),
           CADUCEUS_AUDIT_BAD_SIGNATURE);
  const uint8_t *null_entry[N] = {entries[0], NULL, entries[2]};
  CHECK_RC(caduceus_audit_verify(null_entry, lens, N, NULL, 0, NULL, 0, &ok, &bad, NULL),
           CADUCEUS_NULL_PARAMETER);
  CHECK(ok && bad == 9);

  /* Rebuild the writer's state from the entries. */
  caduceus_audit_log *rebuilt = NULL;
  CHECK_RC(caduceus_audit_log_from_entries(ORIGIN, es, lens, N, &rebuilt), CADUCEUS_OK);
  uint8_t rebuilt_root[32];
  CHECK_RC(caduceus_audit_log_root(rebuilt, rebuilt_root), CADUCEUS_OK);
  CHECK(memcmp(rebuilt_root, root, 32) == 0);
  caduceus_audit_log_free(rebuilt);
  rebuilt = NULL;
  CHECK_RC(caduceus_audit_log_from_entries(ORIGIN, NULL, NULL, 0, &rebuilt), CADUCEUS_OK);
  uint64_t size0 = 9;
  CHECK_RC(caduceus_audit_log_size(rebuilt, &size0), CADUCEUS_OK);
  CHECK(size0 == 0);
  caduceus_audit_log_free(rebuilt);
  rebuilt = NULL;
  if (copy != NULL)
    CHECK_RC(caduceus_audit_log_from_entries(ORIGIN, tampered_es, lens, N, &rebuilt),
             CADUCEUS_AUDIT_INVALID_LOG);
  CHECK_RC(caduceus_audit_log_from_entries(NULL, es, lens, N, &rebuilt), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_audit_log_from_entries(ORIGIN, NULL, lens, N, &rebuilt),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_audit_log_from_entries(ORIGIN, es, NULL, N, &rebuilt),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_audit_log_from_entries(ORIGIN, es, lens, N, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_audit_log_from_entries(BAD_UTF8, es, lens, N, &rebuilt),
           CADUCEUS_INVALID_UTF8);
  CHECK(caduceus_audit_log_from_entries("", es, lens, N, &rebuilt) != CADUCEUS_OK);
  CHECK(rebuilt == NULL);
  free(copy);
  caduceus_bytes_free(sk2);
  caduceus_bytes_free(vk2);
  caduceus_bytes_free(signed_cp);
}

static void test_entries(void) {
  caduceus_bytes *j = NULL;
  uint8_t leaf[32];
  CHECK_RC(caduceus_audit_leaf_hash(entries[1], lens[1], leaf), CADUCEUS_OK);
  CHECK(memcmp(leaf, leaves + 32, 32) == 0);
  CHECK_RC(caduceus_audit_leaf_hash(NULL, 0, leaf), CADUCEUS_OK);
  CHECK_RC(caduceus_audit_leaf_hash(NULL, 5, leaf), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_audit_leaf_hash(entries[1], lens[1], NULL), CADUCEUS_NULL_PARAMETER);

  CHECK_RC(caduceus_audit_entry_json(entries[0], lens[0], &j), CADUCEUS_OK);
  CHECK(contains(j, "\"sequence\":0") && contains(j, "\"action\":\"create\"") &&
        contains(j, "\"actor\":\"stf-") && contains(j, "\"subject\":\"sbj-") &&
        contains(j, "\"outcome\":\"success\"") && contains(j, "\"time_ms\":1763800000000"));
  drop(&j);
  CHECK_RC(caduceus_audit_entry_json(NULL, 0, &j), CADUCEUS_AUDIT_MALFORMED_ENTRY);
  CHECK_RC(caduceus_audit_entry_json(NULL, 3, &j), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_audit_entry_json(entries[0], lens[0], NULL), CADUCEUS_NULL_PARAMETER);
  /* Every truncation and every flipped bit of the header and body is refused
   * (or, for a flip inside a label, still a valid entry of another hash). */
  uint8_t *copy = malloc(lens[0]);
  int truncated_refused = 1;
  for (size_t cut = 0; cut < lens[0]; cut++)
    if (caduceus_audit_entry_json(entries[0], cut, &j) == CADUCEUS_OK) {
      truncated_refused = 0;
      drop(&j);
    }
  CHECK(truncated_refused);
  if (copy != NULL) {
    memcpy(copy, entries[0], lens[0]);
    copy[0] ^= 0x20; /* magic */
    CHECK_RC(caduceus_audit_entry_json(copy, lens[0], &j), CADUCEUS_AUDIT_MALFORMED_ENTRY);
    memcpy(copy, entries[0], lens[0]);
    copy[4] = 7; /* version */
    CHECK_RC(caduceus_audit_entry_json(copy, lens[0], &j), CADUCEUS_UNSUPPORTED_VERSION);
    /* Every flipped bit is detected: refused by the decoder, or (a flip
     * that still decodes, e.g. inside the time) by the verifier, which
     * names entry 0 as the first bad entry. */
    int flips_safe = 1;
    const uint8_t *with_flip[N] = {copy, entries[1], entries[2]};
    for (size_t i = 0; i < lens[0]; i++) {
      memcpy(copy, entries[0], lens[0]);
      copy[i] ^= (uint8_t)(1u << (i % 8));
      if (caduceus_audit_entry_json(copy, lens[0], &j) == CADUCEUS_OK) drop(&j);
      bool ok = true;
      uint64_t bad = 9;
      if (caduceus_audit_verify(with_flip, lens, N, NULL, 0, NULL, 0, &ok, &bad, NULL) !=
              CADUCEUS_OK ||
          ok || bad != 0)
        flips_safe = 0;
    }
    CHECK(flips_safe);
    free(copy);
  }
  CHECK(j == NULL);

  /* FHIR export. */
  const uint8_t *const *es = (const uint8_t *const *)entries;
  CHECK_RC(caduceus_audit_export_fhir(ORIGIN, es, lens, N, &j), CADUCEUS_OK);
  CHECK(contains(j, "\"resourceType\":\"Bundle\"") && contains(j, "\"AuditEvent\"") &&
        contains(j, ORIGIN));
  drop(&j);
  CHECK_RC(caduceus_audit_export_fhir(ORIGIN, NULL, NULL, 0, &j), CADUCEUS_OK);
  CHECK(strcmp(str(j), "{\"resourceType\":\"Bundle\",\"type\":\"collection\"}") == 0);
  drop(&j);
  size_t short_lens[N] = {lens[0], lens[1], 20};
  CHECK_RC(caduceus_audit_export_fhir(ORIGIN, es, short_lens, N, &j),
           CADUCEUS_AUDIT_MALFORMED_ENTRY);
  CHECK_RC(caduceus_audit_export_fhir(NULL, es, lens, N, &j), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_audit_export_fhir(ORIGIN, NULL, lens, N, &j), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_audit_export_fhir(ORIGIN, es, NULL, N, &j), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_audit_export_fhir(ORIGIN, es, lens, N, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_audit_export_fhir(BAD_UTF8, es, lens, N, &j), CADUCEUS_INVALID_UTF8);
  CHECK(j == NULL);
}

static void test_proofs(const uint8_t root[32]) {
  caduceus_bytes *proof = NULL;
  /* Inclusion of entry 1 in the tree of 3. */
  CHECK_RC(caduceus_audit_inclusion_proof(leaves, sizeof leaves, 1, N, &proof), CADUCEUS_OK);
  size_t pl = caduceus_bytes_len(proof);
  const uint8_t *pd = caduceus_bytes_data(proof);
  CHECK(pl == 64);
  CHECK_RC(caduceus_audit_verify_inclusion(leaves + 32, 1, N, pd, pl, root), CADUCEUS_OK);
  CHECK_RC(caduceus_audit_verify_inclusion(leaves + 64, 1, N, pd, pl, root),
           CADUCEUS_AUDIT_BAD_PROOF);
  CHECK_RC(caduceus_audit_verify_inclusion(leaves + 32, 1, N, pd, pl - 32, root),
           CADUCEUS_AUDIT_BAD_PROOF);
  CHECK_RC(caduceus_audit_verify_inclusion(leaves + 32, 1, N, pd, pl - 1, root),
           CADUCEUS_AUDIT_BAD_PROOF);
  CHECK_RC(caduceus_audit_verify_inclusion(leaves + 32, 1, N, NULL, 0, root),
           CADUCEUS_AUDIT_BAD_PROOF);
  CHECK_RC(caduceus_audit_verify_inclusion(leaves + 32, 3, N, pd, pl, root),
           CADUCEUS_AUDIT_OUT_OF_RANGE);
  uint8_t flipped[64];
  memcpy(flipped, pd, 64);
  flipped[10] ^= 1;
  CHECK_RC(caduceus_audit_verify_inclusion(leaves + 32, 1, N, flipped, 64, root),
           CADUCEUS_AUDIT_BAD_PROOF);
  CHECK_RC(caduceus_audit_verify_inclusion(NULL, 1, N, pd, pl, root), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_audit_verify_inclusion(leaves, 1, N, NULL, pl, root), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_audit_verify_inclusion(leaves, 1, N, pd, pl, NULL), CADUCEUS_NULL_PARAMETER);
  drop(&proof);
  /* A single-leaf tree has an empty proof. */
  CHECK_RC(caduceus_audit_inclusion_proof(leaves, 32, 0, 1, &proof), CADUCEUS_OK);
  CHECK(caduceus_bytes_len(proof) == 0);
  CHECK_RC(caduceus_audit_verify_inclusion(leaves, 0, 1, NULL, 0, leaves), CADUCEUS_OK);
  drop(&proof);

  CHECK_RC(caduceus_audit_inclusion_proof(leaves, sizeof leaves, 3, N, &proof),
           CADUCEUS_AUDIT_OUT_OF_RANGE);
  CHECK_RC(caduceus_audit_inclusion_proof(leaves, sizeof leaves, 0, N + 1, &proof),
           CADUCEUS_AUDIT_OUT_OF_RANGE);
  CHECK_RC(caduceus_audit_inclusion_proof(leaves, 33, 0, 1, &proof), CADUCEUS_INVALID_ARGUMENT);
  CHECK_RC(caduceus_audit_inclusion_proof(NULL, 0, 0, 1, &proof), CADUCEUS_AUDIT_OUT_OF_RANGE);
  CHECK_RC(caduceus_audit_inclusion_proof(NULL, 64, 0, 1, &proof), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_audit_inclusion_proof(leaves, sizeof leaves, 0, N, NULL),
           CADUCEUS_NULL_PARAMETER);
  CHECK(proof == NULL);

  /* Consistency of the tree of 2 (root2) with the tree of 3. */
  CHECK_RC(caduceus_audit_consistency_proof(leaves, sizeof leaves, 2, N, &proof), CADUCEUS_OK);
  pl = caduceus_bytes_len(proof);
  pd = caduceus_bytes_data(proof);
  CHECK(pl > 0 && pl % 32 == 0);
  CHECK_RC(caduceus_audit_verify_consistency(2, N, root2, root, pd, pl), CADUCEUS_OK);
  CHECK_RC(caduceus_audit_verify_consistency(2, N, root, root, pd, pl), CADUCEUS_AUDIT_BAD_PROOF);
  CHECK_RC(caduceus_audit_verify_consistency(0, N, root2, root, pd, pl), CADUCEUS_AUDIT_BAD_PROOF);
  CHECK_RC(caduceus_audit_verify_consistency(N, 2, root2, root, pd, pl), CADUCEUS_AUDIT_BAD_PROOF);
  CHECK_RC(caduceus_audit_verify_consistency(2, N, root2, root, pd, pl - 1),
           CADUCEUS_AUDIT_BAD_PROOF);
  CHECK_RC(caduceus_audit_verify_consistency(2, N, root2, root, NULL, 0),
           CADUCEUS_AUDIT_BAD_PROOF);
  CHECK_RC(caduceus_audit_verify_consistency(N, N, root, root, NULL, 0), CADUCEUS_OK);
  CHECK_RC(caduceus_audit_verify_consistency(2, N, NULL, root, pd, pl), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_audit_verify_consistency(2, N, root2, NULL, pd, pl), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_audit_verify_consistency(2, N, root2, root, NULL, pl),
           CADUCEUS_NULL_PARAMETER);
  drop(&proof);
  CHECK_RC(caduceus_audit_consistency_proof(leaves, sizeof leaves, N, 2, &proof),
           CADUCEUS_AUDIT_OUT_OF_RANGE);
  CHECK_RC(caduceus_audit_consistency_proof(leaves, sizeof leaves, 1, N + 1, &proof),
           CADUCEUS_AUDIT_OUT_OF_RANGE);
  CHECK_RC(caduceus_audit_consistency_proof(leaves, 31, 1, 1, &proof), CADUCEUS_INVALID_ARGUMENT);
  CHECK_RC(caduceus_audit_consistency_proof(NULL, 32, 1, 1, &proof), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_audit_consistency_proof(leaves, sizeof leaves, 1, N, NULL),
           CADUCEUS_NULL_PARAMETER);
  CHECK(proof == NULL);
}

/* An event JSON at position i, the same for every log. */
static void resume_event(char *json, size_t size, const char *actor, int i) {
  snprintf(json, size,
           "{\"time\":%lld,\"actor\":\"%s\",\"role\":\"doctor\",\"action\":\"read\","
           "\"source\":\"pms\",\"category\":\"chat-messages\",\"correlation\":\"r-%d\"}",
           1763900000LL + i, actor, i);
}

/* Append event i to `log`; the entry bytes into `out` (caller frees). */
static caduceus_bytes *resume_append(caduceus_audit_log *log, const char *actor, int i) {
  char json[512];
  caduceus_bytes *e = NULL;
  resume_event(json, sizeof json, actor, i);
  CHECK_RC(caduceus_audit_log_append(log, json, &e, NULL, NULL), CADUCEUS_OK);
  return e;
}

static int same_bytes(const caduceus_bytes *a, const caduceus_bytes *b) {
  return a != NULL && b != NULL && caduceus_bytes_len(a) == caduceus_bytes_len(b) &&
         memcmp(caduceus_bytes_data(a), caduceus_bytes_data(b), caduceus_bytes_len(a)) == 0;
}

/* Resume a log from its compact right edge and last entry, without the
 * older entries: the resumed log appends exactly what the original does. */
static void test_resume(const caduceus_audit_key *key) {
  enum { M = 5 };
  caduceus_bytes *actor = NULL;
  CHECK_RC(caduceus_audit_key_pseudonym(key, CADUCEUS_PSEUDONYM_STAFF, "dr.resume", &actor),
           CADUCEUS_OK);
  caduceus_audit_log *a = NULL;
  CHECK_RC(caduceus_audit_log_new(ORIGIN, &a), CADUCEUS_OK);
  if (actor == NULL || a == NULL) {
    caduceus_bytes_free(actor);
    caduceus_audit_log_free(a);
    CHECK(0);
    return;
  }
  const char *who = str(actor);

  /* The edge of the empty log: header only. */
  caduceus_bytes *edge0 = NULL;
  CHECK_RC(caduceus_audit_log_edge(a, &edge0), CADUCEUS_OK);
  CHECK(caduceus_bytes_len(edge0) == 13 && memcmp(caduceus_bytes_data(edge0), "CDCR\x01", 5) == 0);

  caduceus_bytes *stored[M + 1] = {0}, *edge4 = NULL, *cp4 = NULL;
  for (int i = 0; i < M; i++) {
    if (i == 4) {
      CHECK_RC(caduceus_audit_log_edge(a, &edge4), CADUCEUS_OK);
      CHECK_RC(caduceus_audit_log_checkpoint(a, &cp4), CADUCEUS_OK);
    }
    stored[i] = resume_append(a, who, i);
  }
  caduceus_bytes *edge = NULL, *cp = NULL;
  CHECK_RC(caduceus_audit_log_edge(a, &edge), CADUCEUS_OK);
  CHECK_RC(caduceus_audit_log_checkpoint(a, &cp), CADUCEUS_OK);
  /* Size 5 = 0b101: two subtree roots. */
  CHECK(caduceus_bytes_len(edge) == 13 + 2 * 32);
  CHECK(caduceus_bytes_len(edge4) == 13 + 32);
  const uint8_t *ed = caduceus_bytes_data(edge);
  size_t el = caduceus_bytes_len(edge);
  const uint8_t *last = caduceus_bytes_data(stored[M - 1]);
  size_t last_len = caduceus_bytes_len(stored[M - 1]);

  /* Resume B from (edge, last entry), with and without the checkpoint. */
  caduceus_audit_log *b = NULL, *c = NULL;
  CHECK_RC(caduceus_audit_log_resume(ORIGIN, ed, el, last, last_len, str(cp), &b), CADUCEUS_OK);
  CHECK_RC(caduceus_audit_log_resume(ORIGIN, ed, el, last, last_len, NULL, &c), CADUCEUS_OK);
  uint64_t size = 0;
  uint8_t ra[32], rb[32];
  CHECK_RC(caduceus_audit_log_size(b, &size), CADUCEUS_OK);
  CHECK(size == M);
  CHECK_RC(caduceus_audit_log_root(a, ra), CADUCEUS_OK);
  CHECK_RC(caduceus_audit_log_root(b, rb), CADUCEUS_OK);
  CHECK(memcmp(ra, rb, 32) == 0);
  caduceus_bytes *eb = NULL;
  CHECK_RC(caduceus_audit_log_edge(b, &eb), CADUCEUS_OK);
  CHECK(same_bytes(eb, edge));
  drop(&eb);

  /* The same 6th event: identical entry bytes and roots. */
  stored[M] = resume_append(a, who, M);
  caduceus_bytes *from_b = resume_append(b, who, M);
  caduceus_bytes *from_c = resume_append(c, who, M);
  CHECK(same_bytes(stored[M], from_b) && same_bytes(stored[M], from_c));
  CHECK_RC(caduceus_audit_log_root(a, ra), CADUCEUS_OK);
  CHECK_RC(caduceus_audit_log_root(b, rb), CADUCEUS_OK);
  CHECK(memcmp(ra, rb, 32) == 0);
  CHECK_RC(caduceus_audit_log_size(b, &size), CADUCEUS_OK);
  CHECK(size == M + 1);
  /* The old entries plus B's new one verify as one log. */
  const uint8_t *ptrs[M + 1];
  size_t plens[M + 1];
  for (int i = 0; i < M; i++) {
    ptrs[i] = caduceus_bytes_data(stored[i]);
    plens[i] = caduceus_bytes_len(stored[i]);
  }
  ptrs[M] = caduceus_bytes_data(from_b);
  plens[M] = caduceus_bytes_len(from_b);
  bool ok = false;
  uint64_t bad = 0;
  CHECK_RC(caduceus_audit_verify(ptrs, plens, M + 1, NULL, 0, NULL, 0, &ok, &bad, NULL),
           CADUCEUS_OK);
  CHECK(ok && bad == M + 1);
  drop(&from_b);
  drop(&from_c);
  caduceus_audit_log_free(b);
  caduceus_audit_log_free(c);
  b = c = NULL;

  /* An even size (4): the last leaf is folded into the edge; resuming from
   * (edge4, entry 3, checkpoint 4) appends A's entry 4. */
  CHECK_RC(caduceus_audit_log_resume(ORIGIN, caduceus_bytes_data(edge4), caduceus_bytes_len(edge4),
                                     caduceus_bytes_data(stored[3]), caduceus_bytes_len(stored[3]),
                                     str(cp4), &b),
           CADUCEUS_OK);
  from_b = resume_append(b, who, 4);
  CHECK(same_bytes(stored[4], from_b));
  drop(&from_b);
  caduceus_audit_log_free(b);
  b = NULL;

  /* An empty log resumes from its edge without a last entry. */
  caduceus_audit_log *fresh = NULL;
  CHECK_RC(caduceus_audit_log_resume(ORIGIN, caduceus_bytes_data(edge0), caduceus_bytes_len(edge0),
                                     NULL, 0, NULL, &b),
           CADUCEUS_OK);
  CHECK_RC(caduceus_audit_log_new(ORIGIN, &fresh), CADUCEUS_OK);
  from_b = resume_append(b, who, 0);
  from_c = resume_append(fresh, who, 0);
  CHECK(same_bytes(from_b, from_c) && same_bytes(from_b, stored[0]));
  drop(&from_b);
  drop(&from_c);
  caduceus_audit_log_free(b);
  caduceus_audit_log_free(fresh);
  b = NULL;

  /* Abuse: NULL for each pointer; nothing is written. */
  caduceus_bytes *nb = NULL;
  CHECK_RC(caduceus_audit_log_edge(NULL, &nb), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_audit_log_edge(a, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK(nb == NULL);
  CHECK_RC(caduceus_audit_log_resume(NULL, ed, el, last, last_len, NULL, &b),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_audit_log_resume(ORIGIN, NULL, el, last, last_len, NULL, &b),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_audit_log_resume(ORIGIN, ed, el, NULL, last_len, NULL, &b),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_audit_log_resume(ORIGIN, ed, el, last, last_len, NULL, NULL),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_audit_log_resume(BAD_UTF8, ed, el, last, last_len, NULL, &b),
           CADUCEUS_INVALID_UTF8);
  CHECK_RC(caduceus_audit_log_resume(ORIGIN, ed, el, last, last_len, BAD_UTF8, &b),
           CADUCEUS_INVALID_UTF8);
  CHECK(caduceus_audit_log_resume("", ed, el, last, last_len, NULL, &b) != CADUCEUS_OK);

  /* Truncated, extended, empty and foreign edges. */
  uint8_t buf[13 + 3 * 32 + 1];
  memcpy(buf, ed, el);
  buf[el] = 0;
  CHECK_RC(caduceus_audit_log_resume(ORIGIN, buf, el - 1, last, last_len, NULL, &b),
           CADUCEUS_AUDIT_BAD_PROOF);
  CHECK_RC(caduceus_audit_log_resume(ORIGIN, buf, el + 1, last, last_len, NULL, &b),
           CADUCEUS_AUDIT_BAD_PROOF);
  CHECK_RC(caduceus_audit_log_resume(ORIGIN, buf, 12, last, last_len, NULL, &b),
           CADUCEUS_AUDIT_BAD_PROOF);
  CHECK_RC(caduceus_audit_log_resume(ORIGIN, NULL, 0, NULL, 0, NULL, &b), CADUCEUS_AUDIT_BAD_PROOF);
  buf[0] = 'X';
  CHECK_RC(caduceus_audit_log_resume(ORIGIN, buf, el, last, last_len, NULL, &b),
           CADUCEUS_AUDIT_BAD_PROOF);
  buf[0] = 'C';
  buf[4] = 2;
  CHECK_RC(caduceus_audit_log_resume(ORIGIN, buf, el, last, last_len, NULL, &b),
           CADUCEUS_UNSUPPORTED_VERSION);
  buf[4] = 1;
  /* The size says 7 (three hashes) but two follow. */
  buf[12] = 7;
  CHECK_RC(caduceus_audit_log_resume(ORIGIN, buf, el, last, last_len, NULL, &b),
           CADUCEUS_AUDIT_BAD_PROOF);
  buf[12] = 5;
  /* A changed subtree hash: the checkpoint no longer matches. */
  buf[13] ^= 1;
  CHECK_RC(caduceus_audit_log_resume(ORIGIN, buf, el, last, last_len, str(cp), &b),
           CADUCEUS_AUDIT_BAD_PROOF);
  buf[13] ^= 1;
  CHECK_RC(caduceus_audit_log_resume(ORIGIN, buf, el, last, last_len, str(cp), &b), CADUCEUS_OK);
  caduceus_audit_log_free(b);
  b = NULL;

  /* Mismatched edge and last entry. */
  CHECK_RC(caduceus_audit_log_resume(ORIGIN, ed, el, caduceus_bytes_data(stored[3]),
                                     caduceus_bytes_len(stored[3]), NULL, &b),
           CADUCEUS_AUDIT_BAD_PROOF); /* sequence 3, size 5 */
  CHECK_RC(caduceus_audit_log_resume(ORIGIN, ed, el, NULL, 0, NULL, &b),
           CADUCEUS_AUDIT_BAD_PROOF); /* no last entry for a non-empty log */
  CHECK_RC(caduceus_audit_log_resume(ORIGIN, caduceus_bytes_data(edge0), caduceus_bytes_len(edge0),
                                     last, last_len, NULL, &b),
           CADUCEUS_AUDIT_BAD_PROOF); /* an entry for an empty log */
  uint8_t *flipped = malloc(last_len);
  if (flipped != NULL) {
    memcpy(flipped, last, last_len);
    flipped[last_len - 1] ^= 1; /* same sequence, other leaf hash */
    CHECK_RC(caduceus_audit_log_resume(ORIGIN, ed, el, flipped, last_len, NULL, &b),
             CADUCEUS_AUDIT_BAD_PROOF);
    CHECK_RC(caduceus_audit_log_resume(ORIGIN, ed, el, flipped, 10, NULL, &b),
             CADUCEUS_AUDIT_MALFORMED_ENTRY); /* truncated entry */
    free(flipped);
  }
  /* Checkpoints of another size, another origin, or malformed. */
  CHECK_RC(caduceus_audit_log_resume(ORIGIN, ed, el, last, last_len, str(cp4), &b),
           CADUCEUS_AUDIT_BAD_PROOF);
  CHECK_RC(caduceus_audit_log_resume("other.example/audit", ed, el, last, last_len, str(cp), &b),
           CADUCEUS_AUDIT_BAD_PROOF);
  CHECK_RC(caduceus_audit_log_resume(ORIGIN, ed, el, last, last_len, "not a checkpoint", &b),
           CADUCEUS_AUDIT_MALFORMED_CHECKPOINT);
  CHECK(b == NULL);

  for (int i = 0; i <= M; i++) caduceus_bytes_free(stored[i]);
  caduceus_bytes_free(edge0);
  caduceus_bytes_free(edge4);
  caduceus_bytes_free(edge);
  caduceus_bytes_free(cp4);
  caduceus_bytes_free(cp);
  caduceus_bytes_free(actor);
  caduceus_audit_log_free(a);
}

int main(void) {
  caduceus_audit_key *key = test_key();
  caduceus_bytes *sk = NULL, *vk = NULL;
  test_signer(&sk, &vk);

  caduceus_audit_log *log = NULL;
  CHECK_RC(caduceus_audit_log_new(NULL, &log), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_audit_log_new(ORIGIN, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_audit_log_new(BAD_UTF8, &log), CADUCEUS_INVALID_UTF8);
  CHECK(caduceus_audit_log_new("", &log) != CADUCEUS_OK);
  CHECK(log == NULL);
  CHECK_RC(caduceus_audit_log_new(ORIGIN, &log), CADUCEUS_OK);
  if (key == NULL || log == NULL || sk == NULL) return SUMMARY("test_audit");

  test_append(log, key);
  test_checkpoint_and_verify(log, str(sk), str(vk));
  test_entries();
  uint8_t root[32];
  CHECK_RC(caduceus_audit_log_root(log, root), CADUCEUS_OK);
  test_proofs(root);
  test_resume(key);

  for (int i = 0; i < N; i++) free(entries[i]);
  caduceus_audit_log_free(log);
  caduceus_audit_log_free(NULL);
  caduceus_audit_key_free(key);
  caduceus_bytes_free(sk);
  caduceus_bytes_free(vk);
  return SUMMARY("test_audit");
}

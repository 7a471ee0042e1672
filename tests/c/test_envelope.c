/* The C ABI of envelopes: one-shot seal/open/inspect/rewrap/open_segment,
 * the streaming sealer and opener, and envelope sets, each with its abuse:
 * NULL for each pointer, zero lengths, lengths that lie, wrong state,
 * invalid UTF-8, truncated and bit-flipped envelopes, wrong key, shredded. */
#include <stdbool.h>
#include <stdlib.h>

#include "caduceus.h"
#include "harness.h"

static const char BAD_UTF8[] = {(char)0xff, (char)0xfe, 'x', 0};

/* A growable byte buffer for concatenating outputs. */
typedef struct {
  uint8_t *data;
  size_t len;
} buf_t;

static void append(buf_t *b, const uint8_t *p, size_t n) {
  b->data = realloc(b->data, b->len + n + 1);
  if (n > 0) memcpy(b->data + b->len, p, n);
  b->len += n;
}

/* Append a caduceus_bytes to `b` and free it. */
static void take(buf_t *b, caduceus_bytes *x) {
  append(b, caduceus_bytes_data(x), caduceus_bytes_len(x));
  caduceus_bytes_free(x);
}

/* Copy a caduceus_bytes (plus `extra` 0xAA bytes of slack) and free it. */
static buf_t copy(caduceus_bytes *x, size_t extra) {
  buf_t b = {NULL, 0};
  take(&b, x);
  b.data = realloc(b.data, b.len + extra + 1);
  memset(b.data + b.len, 0xAA, extra + 1);
  return b;
}

static bool same(const uint8_t *a, size_t an, const uint8_t *b, size_t bn) {
  return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

static char *key_id(const caduceus_private_key *k) {
  caduceus_bytes *b = NULL;
  CHECK_RC(caduceus_private_key_id(k, &b), CADUCEUS_OK);
  char *s = malloc(caduceus_bytes_len(b) + 1);
  memcpy(s, caduceus_bytes_data(b), caduceus_bytes_len(b) + 1);
  caduceus_bytes_free(b);
  return s;
}

static void check_last_error(void) {
  char buf[512];
  size_t n = 0;
  CHECK_RC(caduceus_last_error((uint8_t *)buf, sizeof buf, &n), CADUCEUS_OK);
  CHECK(n > 0);
  /* Never label values or plaintext. */
  CHECK(strstr(buf, "p-7f3a91") == NULL && strstr(buf, "Zahnschmerzen") == NULL);
}

/* Keys shared by the tests. */
static caduceus_private_key *practice, *staff, *outsider, *subject_key;
static caduceus_public_key *practice_pub, *staff_pub, *outsider_pub, *subject_pub;
static caduceus_keyring_record *record;
static char *subject_id, *staff_id, *outsider_id;
static const caduceus_labels LABELS = {"p-7f3a91", "chat-messages", "treatment-communication", "text/plain",
                                       1763800000};

static uint8_t *pattern(size_t n) {
  uint8_t *p = malloc(n + 1);
  for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(i * 31 + (i >> 8) * 7);
  return p;
}

static buf_t seal(const uint8_t *pt, size_t n) {
  const caduceus_public_key *to[1] = {subject_pub};
  caduceus_bytes *env = NULL;
  CHECK_RC(caduceus_envelope_seal(to, 1, &LABELS, pt, n, &env), CADUCEUS_OK);
  return copy(env, 64);
}

static caduceus_result open_len(const buf_t *env, size_t len, caduceus_bytes **out) {
  return caduceus_envelope_open(env->data, len, subject_key, out);
}

static void test_one_shot(void) {
  const char *msg = "Zahnschmerzen seit gestern, bitte Termin";
  uint8_t *pt200 = pattern(200);
  memcpy(pt200, msg, strlen(msg));
  buf_t env = seal(pt200, 200);
  caduceus_bytes *out = NULL;

  /* open, open_with_keyring, open_any */
  CHECK_RC(caduceus_envelope_open(env.data, env.len, subject_key, &out), CADUCEUS_OK);
  CHECK(same(caduceus_bytes_data(out), caduceus_bytes_len(out), pt200, 200));
  caduceus_bytes_free(out);
  CHECK_RC(caduceus_envelope_open_with_keyring(env.data, env.len, record, staff, &out), CADUCEUS_OK);
  CHECK(same(caduceus_bytes_data(out), caduceus_bytes_len(out), pt200, 200));
  caduceus_bytes_free(out);
  const caduceus_private_key *ids[2] = {outsider, subject_key};
  CHECK_RC(caduceus_envelope_open_any(env.data, env.len, ids, 2, &out), CADUCEUS_OK);
  CHECK(same(caduceus_bytes_data(out), caduceus_bytes_len(out), pt200, 200));
  caduceus_bytes_free(out);
  out = NULL;

  /* wrong key, shredded */
  CHECK_RC(caduceus_envelope_open(env.data, env.len, outsider, &out), CADUCEUS_NO_ACCESS);
  check_last_error();
  CHECK_RC(caduceus_envelope_open(env.data, env.len, staff, &out), CADUCEUS_NO_ACCESS);
  CHECK_RC(caduceus_envelope_open_with_keyring(env.data, env.len, record, outsider, &out), CADUCEUS_NO_ACCESS);
  CHECK_RC(caduceus_envelope_open_any(env.data, env.len, ids, 1, &out), CADUCEUS_NO_ACCESS);
  CHECK_RC(caduceus_envelope_open_any(env.data, env.len, NULL, 0, &out), CADUCEUS_NO_ACCESS);
  caduceus_keyring_record *shredded = NULL;
  CHECK_RC(caduceus_keyring_record_shred(record, 1763900000, &shredded), CADUCEUS_OK);
  CHECK_RC(caduceus_envelope_open_with_keyring(env.data, env.len, shredded, staff, &out), CADUCEUS_KEY_SHREDDED);
  check_last_error();
  caduceus_keyring_record_free(shredded);
  CHECK(out == NULL);

  /* NULL for each pointer */
  const caduceus_public_key *to[1] = {subject_pub};
  const caduceus_public_key *to_null[1] = {NULL};
  caduceus_bytes *e = NULL;
  CHECK_RC(caduceus_envelope_seal(NULL, 1, &LABELS, pt200, 200, &e), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_envelope_seal(to_null, 1, &LABELS, pt200, 200, &e), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_envelope_seal(to, 1, NULL, pt200, 200, &e), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_envelope_seal(to, 1, &LABELS, NULL, 200, &e), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_envelope_seal(to, 1, &LABELS, pt200, 200, NULL), CADUCEUS_NULL_PARAMETER);
  caduceus_labels l = LABELS;
  l.subject = NULL;
  CHECK_RC(caduceus_envelope_seal(to, 1, &l, pt200, 200, &e), CADUCEUS_NULL_PARAMETER);
  l = LABELS;
  l.category = NULL;
  CHECK_RC(caduceus_envelope_seal(to, 1, &l, pt200, 200, &e), CADUCEUS_NULL_PARAMETER);
  l = LABELS;
  l.purpose = NULL;
  CHECK_RC(caduceus_envelope_seal(to, 1, &l, pt200, 200, &e), CADUCEUS_NULL_PARAMETER);
  l = LABELS;
  l.content_type = NULL;
  CHECK_RC(caduceus_envelope_seal(to, 1, &l, pt200, 200, &e), CADUCEUS_NULL_PARAMETER);
  /* invalid labels, invalid UTF-8, no recipients, duplicates */
  l = LABELS;
  l.purpose = BAD_UTF8;
  CHECK_RC(caduceus_envelope_seal(to, 1, &l, pt200, 200, &e), CADUCEUS_INVALID_UTF8);
  l = LABELS;
  l.content_type = "";
  CHECK_RC(caduceus_envelope_seal(to, 1, &l, pt200, 200, &e), CADUCEUS_INVALID_LABEL);
  l = LABELS;
  l.category = "Zahn schmerzen\t";
  CHECK_RC(caduceus_envelope_seal(to, 1, &l, pt200, 200, &e), CADUCEUS_INVALID_LABEL);
  CHECK_RC(caduceus_envelope_seal(to, 0, &LABELS, pt200, 200, &e), CADUCEUS_NO_RECIPIENTS);
  CHECK_RC(caduceus_envelope_seal(NULL, 0, &LABELS, pt200, 200, &e), CADUCEUS_NO_RECIPIENTS);
  const caduceus_public_key *twice[2] = {subject_pub, subject_pub};
  CHECK_RC(caduceus_envelope_seal(twice, 2, &LABELS, pt200, 200, &e), CADUCEUS_DUPLICATE_RECIPIENT);
  CHECK(e == NULL);

  CHECK_RC(caduceus_envelope_open(NULL, env.len, subject_key, &out), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_envelope_open(env.data, env.len, NULL, &out), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_envelope_open(env.data, env.len, subject_key, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_envelope_open_any(NULL, env.len, ids, 2, &out), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_envelope_open_any(env.data, env.len, NULL, 2, &out), CADUCEUS_NULL_PARAMETER);
  const caduceus_private_key *ids_null[2] = {subject_key, NULL};
  CHECK_RC(caduceus_envelope_open_any(env.data, env.len, ids_null, 2, &out), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_envelope_open_any(env.data, env.len, ids, 2, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_envelope_open_with_keyring(NULL, env.len, record, staff, &out), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_envelope_open_with_keyring(env.data, env.len, NULL, staff, &out), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_envelope_open_with_keyring(env.data, env.len, record, NULL, &out), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_envelope_open_with_keyring(env.data, env.len, record, staff, NULL), CADUCEUS_NULL_PARAMETER);

  /* zero lengths: an empty plaintext seals and opens; an empty envelope is truncated */
  CHECK_RC(caduceus_envelope_seal(to, 1, &LABELS, NULL, 0, &e), CADUCEUS_OK);
  CHECK_RC(caduceus_envelope_open(caduceus_bytes_data(e), caduceus_bytes_len(e), subject_key, &out), CADUCEUS_OK);
  CHECK(caduceus_bytes_len(out) == 0);
  caduceus_bytes_free(out);
  caduceus_bytes_free(e);
  out = NULL;
  CHECK_RC(caduceus_envelope_open(NULL, 0, subject_key, &out), CADUCEUS_TRUNCATED);
  CHECK_RC(caduceus_envelope_open(env.data, 0, subject_key, &out), CADUCEUS_TRUNCATED);
  CHECK_RC(caduceus_envelope_open_with_keyring(NULL, 0, record, staff, &out), CADUCEUS_TRUNCATED);
  CHECK_RC(caduceus_envelope_open_any(NULL, 0, ids, 2, &out), CADUCEUS_TRUNCATED);

  /* lengths that lie: every shorter length fails (TRUNCATED within the
   * header or at a segment boundary; SEGMENT_CORRUPTED inside the last
   * segment, where the tag is no longer at the end); longer ones too. */
  size_t header_len = 0;
  CHECK_RC(caduceus_envelope_header_len(env.data, env.len, &header_len), CADUCEUS_OK);
  for (size_t n = 0; n < env.len; n++) {
    caduceus_result r = open_len(&env, n, &out);
    if (n < header_len) {
      CHECK_RC(r, CADUCEUS_TRUNCATED);
    } else {
      CHECK(r == CADUCEUS_TRUNCATED || r == CADUCEUS_SEGMENT_CORRUPTED);
    }
  }
  CHECK_RC(open_len(&env, env.len + 1, &out), CADUCEUS_SEGMENT_CORRUPTED);
  CHECK_RC(open_len(&env, env.len + 64, &out), CADUCEUS_SEGMENT_CORRUPTED);
  CHECK(out == NULL);

  /* A full-segment envelope: extra bytes are TRAILING_DATA, a cut at the
   * segment boundary of a longer one TRUNCATED. */
  uint8_t *pt64k = pattern(CADUCEUS_SEGMENT_SIZE);
  buf_t full = seal(pt64k, CADUCEUS_SEGMENT_SIZE);
  CHECK_RC(open_len(&full, full.len, &out), CADUCEUS_OK);
  caduceus_bytes_free(out);
  out = NULL;
  CHECK_RC(open_len(&full, full.len + 16, &out), CADUCEUS_TRAILING_DATA);
  CHECK_RC(open_len(&full, full.len + 17, &out), CADUCEUS_TRAILING_DATA);
  CHECK_RC(open_len(&full, full.len + 64, &out), CADUCEUS_TRAILING_DATA);
  uint8_t *pt100k = pattern(100000);
  buf_t two = seal(pt100k, 100000);
  CHECK_RC(open_len(&two, header_len + CADUCEUS_SEGMENT_SIZE + 16, &out), CADUCEUS_TRUNCATED);
  CHECK_RC(open_len(&two, two.len - 1, &out), CADUCEUS_SEGMENT_CORRUPTED);
  CHECK(out == NULL);

  /* bit flips: every single-bit flip anywhere in the envelope is rejected */
  int accepted = 0;
  for (size_t i = 0; i < env.len; i++) {
    for (int bit = 0; bit < 8; bit += 3) {
      env.data[i] ^= (uint8_t)(1u << bit);
      caduceus_bytes *o = NULL;
      caduceus_result r = caduceus_envelope_open(env.data, env.len, subject_key, &o);
      if (r == CADUCEUS_OK) {
        accepted++;
        caduceus_bytes_free(o);
      } else {
        CHECK(o == NULL);
      }
      env.data[i] ^= (uint8_t)(1u << bit);
    }
  }
  CHECK(accepted == 0);
  env.data[0] ^= 1;
  CHECK_RC(open_len(&env, env.len, &out), CADUCEUS_BAD_MAGIC);
  env.data[0] ^= 1;
  env.data[4] ^= 1;
  CHECK_RC(open_len(&env, env.len, &out), CADUCEUS_MALFORMED_HEADER); /* version 0: damaged, not newer */
  env.data[4] ^= 1;
  env.data[header_len - 1] ^= 1; /* the header MAC */
  CHECK_RC(open_len(&env, env.len, &out), CADUCEUS_HEADER_CORRUPTED);
  env.data[header_len - 1] ^= 1;
  env.data[header_len + 3] ^= 1; /* the payload */
  CHECK_RC(open_len(&env, env.len, &out), CADUCEUS_SEGMENT_CORRUPTED);
  env.data[header_len + 3] ^= 1;
  CHECK_RC(open_len(&env, env.len, &out), CADUCEUS_OK);
  caduceus_bytes_free(out);

  free(pt200);
  free(pt64k);
  free(pt100k);
  free(env.data);
  free(full.data);
  free(two.data);
}

static void test_inspect(void) {
  uint8_t *pt = pattern(300);
  buf_t env = seal(pt, 300);
  caduceus_bytes *json = NULL;
  size_t header_len = 0;

  CHECK_RC(caduceus_envelope_header_len(env.data, CADUCEUS_ENVELOPE_PREFIX_LEN, &header_len), CADUCEUS_OK);
  CHECK(header_len > CADUCEUS_ENVELOPE_PREFIX_LEN && header_len == env.len - 300 - 16);
  CHECK_RC(caduceus_envelope_inspect(env.data, env.len, &json), CADUCEUS_OK);
  const char *j = (const char *)caduceus_bytes_data(json);
  CHECK(strlen(j) == caduceus_bytes_len(json));
  CHECK(strstr(j, "\"category\":\"chat-messages\"") != NULL);
  CHECK(strstr(j, "\"subject\":\"p-7f3a91\"") != NULL);
  CHECK(strstr(j, "\"content_type\":\"text/plain\"") != NULL);
  CHECK(strstr(j, "\"created_at\":1763800000") != NULL);
  CHECK(strstr(j, "\"part\":null") != NULL);
  CHECK(strstr(j, "\"version\":1") != NULL);
  CHECK(strstr(j, subject_id) != NULL);
  char expect[64];
  snprintf(expect, sizeof expect, "\"header_len\":%zu", header_len);
  CHECK(strstr(j, expect) != NULL);
  caduceus_bytes_free(json);
  json = NULL;

  /* The header alone is enough; one byte less is not. */
  CHECK_RC(caduceus_envelope_inspect(env.data, header_len, &json), CADUCEUS_OK);
  caduceus_bytes_free(json);
  json = NULL;
  CHECK_RC(caduceus_envelope_inspect(env.data, header_len - 1, &json), CADUCEUS_TRUNCATED);
  CHECK_RC(caduceus_envelope_inspect(env.data, 0, &json), CADUCEUS_TRUNCATED);
  CHECK_RC(caduceus_envelope_inspect(NULL, 0, &json), CADUCEUS_TRUNCATED);
  CHECK_RC(caduceus_envelope_inspect(NULL, 10, &json), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_envelope_inspect(env.data, env.len, NULL), CADUCEUS_NULL_PARAMETER);
  env.data[1] ^= 0x20;
  CHECK_RC(caduceus_envelope_inspect(env.data, env.len, &json), CADUCEUS_BAD_MAGIC);
  env.data[1] ^= 0x20;
  env.data[20] ^= 0x01; /* inside the header body: malformed or still parseable, never a crash */
  caduceus_result r = caduceus_envelope_inspect(env.data, env.len, &json);
  CHECK(r == CADUCEUS_OK || r == CADUCEUS_MALFORMED_HEADER || r == CADUCEUS_INVALID_LABEL);
  if (r == CADUCEUS_OK) caduceus_bytes_free(json);
  json = NULL;
  env.data[20] ^= 0x01;
  CHECK(json == NULL);

  /* header_len */
  size_t n = 0;
  CHECK_RC(caduceus_envelope_header_len(env.data, 9, &n), CADUCEUS_TRUNCATED);
  CHECK_RC(caduceus_envelope_header_len(NULL, 0, &n), CADUCEUS_TRUNCATED);
  CHECK_RC(caduceus_envelope_header_len(NULL, 10, &n), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_envelope_header_len(env.data, 10, NULL), CADUCEUS_NULL_PARAMETER);
  uint8_t big[10];
  memcpy(big, env.data, 10);
  big[6] = 0x7f; /* a header body far longer than the format allows */
  CHECK_RC(caduceus_envelope_header_len(big, 10, &n), CADUCEUS_MALFORMED_HEADER);
  big[0] = 'X';
  CHECK_RC(caduceus_envelope_header_len(big, 10, &n), CADUCEUS_BAD_MAGIC);
  CHECK(n == 0);

  /* has_recipient */
  bool is = false;
  CHECK_RC(caduceus_envelope_has_recipient(env.data, env.len, subject_id, &is), CADUCEUS_OK);
  CHECK(is);
  CHECK_RC(caduceus_envelope_has_recipient(env.data, header_len, staff_id, &is), CADUCEUS_OK);
  CHECK(!is);
  CHECK_RC(caduceus_envelope_has_recipient(env.data, env.len, "xyz", &is), CADUCEUS_INVALID_KEY);
  CHECK_RC(caduceus_envelope_has_recipient(env.data, env.len, BAD_UTF8, &is), CADUCEUS_INVALID_UTF8);
  CHECK_RC(caduceus_envelope_has_recipient(env.data, 5, subject_id, &is), CADUCEUS_TRUNCATED);
  CHECK_RC(caduceus_envelope_has_recipient(NULL, env.len, subject_id, &is), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_envelope_has_recipient(env.data, env.len, NULL, &is), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_envelope_has_recipient(env.data, env.len, subject_id, NULL), CADUCEUS_NULL_PARAMETER);

  free(pt);
  free(env.data);
}

static void test_rewrap(void) {
  uint8_t *pt = pattern(1000);
  buf_t env = seal(pt, 1000);
  size_t header_len = 0;
  CHECK_RC(caduceus_envelope_header_len(env.data, env.len, &header_len), CADUCEUS_OK);
  caduceus_bytes *out = NULL, *pt_out = NULL;

  /* add staff: staff opens, payload bytes unchanged */
  const caduceus_public_key *add[1] = {staff_pub};
  CHECK_RC(caduceus_envelope_rewrap(env.data, env.len, subject_key, add, 1, NULL, 0, &out), CADUCEUS_OK);
  buf_t two = copy(out, 0);
  size_t header2 = 0;
  CHECK_RC(caduceus_envelope_header_len(two.data, two.len, &header2), CADUCEUS_OK);
  CHECK(same(two.data + header2, two.len - header2, env.data + header_len, env.len - header_len));
  CHECK_RC(caduceus_envelope_open(two.data, two.len, staff, &pt_out), CADUCEUS_OK);
  CHECK(same(caduceus_bytes_data(pt_out), caduceus_bytes_len(pt_out), pt, 1000));
  caduceus_bytes_free(pt_out);

  /* remove the subject key: staff only */
  const char *remove[1] = {subject_id};
  CHECK_RC(caduceus_envelope_rewrap(two.data, two.len, staff, NULL, 0, remove, 1, &out), CADUCEUS_OK);
  buf_t three = copy(out, 0);
  pt_out = NULL;
  CHECK_RC(caduceus_envelope_open(three.data, three.len, subject_key, &pt_out), CADUCEUS_NO_ACCESS);
  CHECK_RC(caduceus_envelope_open(three.data, three.len, staff, &pt_out), CADUCEUS_OK);
  caduceus_bytes_free(pt_out);
  out = NULL;

  /* refusals */
  const char *remove_staff[1] = {staff_id};
  CHECK_RC(caduceus_envelope_rewrap(three.data, three.len, staff, NULL, 0, remove_staff, 1, &out),
           CADUCEUS_NO_RECIPIENTS);
  /* rewrap_keeping: the subject key, named as the practice key, is never removed */
  const char *keep[1] = {subject_id};
  CHECK_RC(caduceus_envelope_rewrap_keeping(two.data, two.len, staff, NULL, 0, remove, 1, keep, 1, &out),
           CADUCEUS_LAST_RECIPIENT);
  CHECK(out == NULL);
  CHECK_RC(caduceus_envelope_rewrap_keeping(two.data, two.len, staff, NULL, 0, remove, 1, NULL, 1, &out),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_envelope_rewrap_keeping(two.data, two.len, staff, NULL, 0, remove, 1, NULL, 0, &out), CADUCEUS_OK);
  caduceus_bytes_free(out);
  out = NULL;
  const char *remove_outsider[1] = {outsider_id};
  CHECK_RC(caduceus_envelope_rewrap(env.data, env.len, subject_key, NULL, 0, remove_outsider, 1, &out),
           CADUCEUS_NOT_A_RECIPIENT);
  CHECK_RC(caduceus_envelope_rewrap(env.data, env.len, outsider, add, 1, NULL, 0, &out), CADUCEUS_NO_ACCESS);
  const caduceus_public_key *dup[1] = {subject_pub};
  CHECK_RC(caduceus_envelope_rewrap(env.data, env.len, subject_key, dup, 1, NULL, 0, &out),
           CADUCEUS_DUPLICATE_RECIPIENT);
  const char *bad_id[1] = {"0123"};
  CHECK_RC(caduceus_envelope_rewrap(env.data, env.len, subject_key, NULL, 0, bad_id, 1, &out), CADUCEUS_INVALID_KEY);
  const char *bad_utf8[1] = {BAD_UTF8};
  CHECK_RC(caduceus_envelope_rewrap(env.data, env.len, subject_key, NULL, 0, bad_utf8, 1, &out),
           CADUCEUS_INVALID_UTF8);
  CHECK_RC(caduceus_envelope_rewrap(env.data, header_len - 1, subject_key, add, 1, NULL, 0, &out),
           CADUCEUS_TRUNCATED);
  CHECK_RC(caduceus_envelope_rewrap(NULL, 0, subject_key, add, 1, NULL, 0, &out), CADUCEUS_TRUNCATED);
  env.data[header_len - 2] ^= 4;
  CHECK_RC(caduceus_envelope_rewrap(env.data, env.len, subject_key, add, 1, NULL, 0, &out), CADUCEUS_HEADER_CORRUPTED);
  env.data[header_len - 2] ^= 4;
  /* NULL for each pointer */
  const char *remove_null[1] = {NULL};
  const caduceus_public_key *add_null[1] = {NULL};
  CHECK_RC(caduceus_envelope_rewrap(NULL, env.len, subject_key, add, 1, NULL, 0, &out), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_envelope_rewrap(env.data, env.len, NULL, add, 1, NULL, 0, &out), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_envelope_rewrap(env.data, env.len, subject_key, NULL, 1, NULL, 0, &out), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_envelope_rewrap(env.data, env.len, subject_key, add_null, 1, NULL, 0, &out),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_envelope_rewrap(env.data, env.len, subject_key, NULL, 0, NULL, 1, &out), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_envelope_rewrap(env.data, env.len, subject_key, NULL, 0, remove_null, 1, &out),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_envelope_rewrap(env.data, env.len, subject_key, add, 1, NULL, 0, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK(out == NULL);
  /* nothing to change is allowed: a fresh header, same payload */
  CHECK_RC(caduceus_envelope_rewrap(env.data, env.len, subject_key, NULL, 0, NULL, 0, &out), CADUCEUS_OK);
  CHECK(caduceus_bytes_len(out) == env.len);
  caduceus_bytes_free(out);

  free(pt);
  free(env.data);
  free(two.data);
  free(three.data);
}

static void test_open_segment(void) {
  const size_t n = 150000; /* three segments */
  uint8_t *pt = pattern(n);
  buf_t env = seal(pt, n);
  caduceus_bytes *seg = NULL;
  for (uint64_t i = 0; i < 3; i++) {
    CHECK_RC(caduceus_envelope_open_segment(env.data, env.len, subject_key, i, &seg), CADUCEUS_OK);
    size_t start = (size_t)i * CADUCEUS_SEGMENT_SIZE;
    size_t len = i < 2 ? CADUCEUS_SEGMENT_SIZE : n - 2 * CADUCEUS_SEGMENT_SIZE;
    CHECK(same(caduceus_bytes_data(seg), caduceus_bytes_len(seg), pt + start, len));
    caduceus_bytes_free(seg);
  }
  seg = NULL;
  CHECK_RC(caduceus_envelope_open_segment(env.data, env.len, subject_key, 3, &seg), CADUCEUS_SEGMENT_OUT_OF_RANGE);
  CHECK_RC(caduceus_envelope_open_segment(env.data, env.len, subject_key, UINT64_MAX, &seg),
           CADUCEUS_SEGMENT_OUT_OF_RANGE);
  CHECK_RC(caduceus_envelope_open_segment(env.data, env.len, outsider, 0, &seg), CADUCEUS_NO_ACCESS);
  /* A flip in segment 2 does not stop segment 0 from opening alone. */
  size_t header_len = 0;
  CHECK_RC(caduceus_envelope_header_len(env.data, env.len, &header_len), CADUCEUS_OK);
  env.data[header_len + 2 * (CADUCEUS_SEGMENT_SIZE + 16) + 5] ^= 1;
  CHECK_RC(caduceus_envelope_open_segment(env.data, env.len, subject_key, 2, &seg), CADUCEUS_SEGMENT_CORRUPTED);
  CHECK_RC(caduceus_envelope_open_segment(env.data, env.len, subject_key, 0, &seg), CADUCEUS_OK);
  caduceus_bytes_free(seg);
  seg = NULL;
  CHECK_RC(caduceus_envelope_open_segment(env.data, 0, subject_key, 0, &seg), CADUCEUS_TRUNCATED);
  CHECK_RC(caduceus_envelope_open_segment(NULL, env.len, subject_key, 0, &seg), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_envelope_open_segment(env.data, env.len, NULL, 0, &seg), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_envelope_open_segment(env.data, env.len, subject_key, 0, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK(seg == NULL);
  free(pt);
  free(env.data);
}

/* Stream-seal `pt` in chunks of `chunk` bytes (with some empty updates). */
static buf_t stream_seal(const uint8_t *pt, size_t n, size_t chunk) {
  const caduceus_public_key *to[1] = {subject_pub};
  caduceus_sealer *s = NULL;
  caduceus_bytes *hdr = NULL, *ct = NULL;
  buf_t out = {NULL, 0};
  CHECK_RC(caduceus_sealer_new(to, 1, &LABELS, &s, &hdr), CADUCEUS_OK);
  take(&out, hdr);
  for (size_t off = 0; off < n; off += chunk) {
    size_t len = n - off < chunk ? n - off : chunk;
    CHECK_RC(caduceus_sealer_update(s, pt + off, len, &ct), CADUCEUS_OK);
    take(&out, ct);
    if (off % (chunk * 16) == 0) {
      CHECK_RC(caduceus_sealer_update(s, NULL, 0, &ct), CADUCEUS_OK);
      CHECK(caduceus_bytes_len(ct) == 0);
      caduceus_bytes_free(ct);
    }
  }
  CHECK_RC(caduceus_sealer_finish(s, &ct), CADUCEUS_OK);
  take(&out, ct);
  /* wrong state: finish twice, update after finish */
  ct = NULL;
  CHECK_RC(caduceus_sealer_finish(s, &ct), CADUCEUS_WRONG_STATE);
  static const uint8_t one = 1;
  CHECK_RC(caduceus_sealer_update(s, &one, 1, &ct), CADUCEUS_WRONG_STATE);
  CHECK_RC(caduceus_sealer_update(s, NULL, 0, &ct), CADUCEUS_WRONG_STATE);
  CHECK(ct == NULL);
  caduceus_sealer_free(s);
  return out;
}

/* Stream-open `env` in pieces: 1 byte at a time through the header, then
 * `chunk` bytes. Returns the result of the first failing call (or of finish). */
static caduceus_result stream_open(const buf_t *env, const caduceus_private_key *id, size_t chunk, buf_t *pt) {
  caduceus_opener *o = NULL;
  caduceus_bytes *b = NULL;
  caduceus_result r = caduceus_opener_new(id, &o);
  CHECK_RC(r, CADUCEUS_OK);
  size_t off = 0;
  while (off < env->len) {
    size_t step = off < 2000 ? 1 : chunk;
    size_t len = env->len - off < step ? env->len - off : step;
    r = caduceus_opener_update(o, env->data + off, len, &b);
    if (r != CADUCEUS_OK) break;
    take(pt, b);
    off += len;
  }
  if (r == CADUCEUS_OK) {
    /* The header is there once its bytes are (not when cut inside it). */
    caduceus_bytes *json = NULL;
    size_t header_len = 0;
    bool have_header = caduceus_envelope_header_len(env->data, env->len, &header_len) == CADUCEUS_OK &&
                       env->len >= header_len;
    CHECK_RC(caduceus_opener_header(o, &json), have_header ? CADUCEUS_OK : CADUCEUS_WRONG_STATE);
    if (json != NULL) {
      CHECK(strstr((const char *)caduceus_bytes_data(json), "\"category\":\"chat-messages\"") != NULL);
      caduceus_bytes_free(json);
    }
    r = caduceus_opener_finish(o, &b);
    if (r == CADUCEUS_OK) take(pt, b);
  }
  /* after finish or failure: wrong state */
  b = NULL;
  CHECK_RC(caduceus_opener_finish(o, &b), CADUCEUS_WRONG_STATE);
  CHECK_RC(caduceus_opener_update(o, env->data, 1, &b), CADUCEUS_WRONG_STATE);
  CHECK(b == NULL);
  caduceus_opener_free(o);
  return r;
}

static void test_streaming(void) {
  const size_t n = 300000; /* five segments */
  uint8_t *pt = pattern(n);

  /* Stream seal in small chunks == one-shot seal (same length, same plaintext). */
  buf_t streamed = stream_seal(pt, n, 1000);
  buf_t one_shot = seal(pt, n);
  CHECK(streamed.len == one_shot.len);
  caduceus_bytes *out = NULL;
  CHECK_RC(caduceus_envelope_open(streamed.data, streamed.len, subject_key, &out), CADUCEUS_OK);
  CHECK(same(caduceus_bytes_data(out), caduceus_bytes_len(out), pt, n));
  caduceus_bytes_free(out);

  /* Stream open (header arriving byte by byte) == one-shot open. */
  buf_t opened = {NULL, 0};
  CHECK_RC(stream_open(&one_shot, subject_key, 4099, &opened), CADUCEUS_OK);
  CHECK(same(opened.data, opened.len, pt, n));
  free(opened.data);
  opened = (buf_t){NULL, 0};
  CHECK_RC(stream_open(&streamed, subject_key, 65536 + 16, &opened), CADUCEUS_OK);
  CHECK(same(opened.data, opened.len, pt, n));
  free(opened.data);
  opened = (buf_t){NULL, 0};
  /* One big update with everything, then finish. */
  {
    caduceus_opener *o = NULL;
    caduceus_bytes *b = NULL;
    CHECK_RC(caduceus_opener_new(subject_key, &o), CADUCEUS_OK);
    CHECK_RC(caduceus_opener_update(o, streamed.data, streamed.len, &b), CADUCEUS_OK);
    take(&opened, b);
    CHECK_RC(caduceus_opener_finish(o, &b), CADUCEUS_OK);
    take(&opened, b);
    CHECK(same(opened.data, opened.len, pt, n));
    caduceus_opener_free(o);
    free(opened.data);
    opened = (buf_t){NULL, 0};
  }

  /* Wrong key: NO_ACCESS once the header is complete. */
  CHECK_RC(stream_open(&one_shot, outsider, 4099, &opened), CADUCEUS_NO_ACCESS);
  CHECK(opened.len == 0);
  free(opened.data);
  opened = (buf_t){NULL, 0};

  /* Bit flip in the third segment: SEGMENT_CORRUPTED. */
  size_t header_len = 0;
  CHECK_RC(caduceus_envelope_header_len(one_shot.data, one_shot.len, &header_len), CADUCEUS_OK);
  size_t at = header_len + 2 * (CADUCEUS_SEGMENT_SIZE + 16) + 100;
  one_shot.data[at] ^= 0x40;
  CHECK_RC(stream_open(&one_shot, subject_key, 4099, &opened), CADUCEUS_SEGMENT_CORRUPTED);
  one_shot.data[at] ^= 0x40;
  free(opened.data);
  opened = (buf_t){NULL, 0};
  /* Bit flip in the header: HEADER_CORRUPTED (or malformed). */
  one_shot.data[header_len - 5] ^= 0x01;
  CHECK_RC(stream_open(&one_shot, subject_key, 4099, &opened), CADUCEUS_HEADER_CORRUPTED);
  one_shot.data[header_len - 5] ^= 0x01;
  free(opened.data);
  opened = (buf_t){NULL, 0};

  /* Truncated: cut at a segment boundary -> TRUNCATED at finish; cut in the
   * header -> TRUNCATED at finish; extended by a segment -> TRAILING_DATA. */
  buf_t cut = one_shot;
  cut.len = header_len + 2 * (CADUCEUS_SEGMENT_SIZE + 16);
  CHECK_RC(stream_open(&cut, subject_key, 4099, &opened), CADUCEUS_TRUNCATED);
  free(opened.data);
  opened = (buf_t){NULL, 0};
  cut.len = header_len - 1;
  CHECK_RC(stream_open(&cut, subject_key, 4099, &opened), CADUCEUS_TRUNCATED);
  free(opened.data);
  opened = (buf_t){NULL, 0};
  cut.len = 3;
  CHECK_RC(stream_open(&cut, subject_key, 4099, &opened), CADUCEUS_TRUNCATED);
  free(opened.data);
  opened = (buf_t){NULL, 0};
  {
    caduceus_opener *o = NULL;
    caduceus_bytes *b = NULL;
    CHECK_RC(caduceus_opener_new(subject_key, &o), CADUCEUS_OK);
    CHECK_RC(caduceus_opener_finish(o, &b), CADUCEUS_TRUNCATED); /* nothing at all */
    CHECK_RC(caduceus_opener_finish(o, &b), CADUCEUS_WRONG_STATE);
    caduceus_opener_free(o);
  }
  uint8_t *pt64k = pattern(CADUCEUS_SEGMENT_SIZE);
  buf_t full = seal(pt64k, CADUCEUS_SEGMENT_SIZE);
  buf_t longer = {NULL, 0};
  append(&longer, full.data, full.len);
  append(&longer, one_shot.data + header_len, 100); /* bytes after the end */
  CHECK_RC(stream_open(&longer, subject_key, 4099, &opened), CADUCEUS_TRAILING_DATA);
  free(opened.data);
  opened = (buf_t){NULL, 0};
  /* Bad magic is caught as soon as the prefix is complete. */
  {
    caduceus_opener *o = NULL;
    caduceus_bytes *b = NULL;
    uint8_t junk[10] = {'N', 'O', 'P', 'E', 1, 1, 0, 0, 0, 9};
    CHECK_RC(caduceus_opener_new(subject_key, &o), CADUCEUS_OK);
    CHECK_RC(caduceus_opener_update(o, junk, 9, &b), CADUCEUS_OK);
    caduceus_bytes_free(b);
    b = NULL;
    CHECK_RC(caduceus_opener_update(o, junk + 9, 1, &b), CADUCEUS_BAD_MAGIC);
    CHECK_RC(caduceus_opener_update(o, junk, 1, &b), CADUCEUS_WRONG_STATE);
    CHECK(b == NULL);
    caduceus_opener_free(o);
  }

  /* NULL for each pointer; header before it has arrived. */
  {
    const caduceus_public_key *to[1] = {subject_pub};
    caduceus_sealer *s = NULL;
    caduceus_opener *o = NULL;
    caduceus_bytes *b = NULL;
    CHECK_RC(caduceus_sealer_new(NULL, 1, &LABELS, &s, &b), CADUCEUS_NULL_PARAMETER);
    CHECK_RC(caduceus_sealer_new(to, 1, NULL, &s, &b), CADUCEUS_NULL_PARAMETER);
    CHECK_RC(caduceus_sealer_new(to, 1, &LABELS, NULL, &b), CADUCEUS_NULL_PARAMETER);
    CHECK_RC(caduceus_sealer_new(to, 1, &LABELS, &s, NULL), CADUCEUS_NULL_PARAMETER);
    CHECK_RC(caduceus_sealer_new(to, 0, &LABELS, &s, &b), CADUCEUS_NO_RECIPIENTS);
    caduceus_labels l = LABELS;
    l.subject = BAD_UTF8;
    CHECK_RC(caduceus_sealer_new(to, 1, &l, &s, &b), CADUCEUS_INVALID_UTF8);
    CHECK(s == NULL && b == NULL);
    CHECK_RC(caduceus_sealer_new(to, 1, &LABELS, &s, &b), CADUCEUS_OK);
    caduceus_bytes_free(b);
    b = NULL;
    CHECK_RC(caduceus_sealer_update(NULL, pt, 1, &b), CADUCEUS_NULL_PARAMETER);
    CHECK_RC(caduceus_sealer_update(s, NULL, 1, &b), CADUCEUS_NULL_PARAMETER);
    CHECK_RC(caduceus_sealer_update(s, pt, 1, NULL), CADUCEUS_NULL_PARAMETER);
    CHECK_RC(caduceus_sealer_finish(NULL, &b), CADUCEUS_NULL_PARAMETER);
    CHECK_RC(caduceus_sealer_finish(s, NULL), CADUCEUS_NULL_PARAMETER);
    CHECK(b == NULL);
    caduceus_sealer_free(s); /* unfinished: freed without a leak */
    caduceus_sealer_free(NULL);

    CHECK_RC(caduceus_opener_new(NULL, &o), CADUCEUS_NULL_PARAMETER);
    CHECK_RC(caduceus_opener_new(subject_key, NULL), CADUCEUS_NULL_PARAMETER);
    CHECK_RC(caduceus_opener_new(subject_key, &o), CADUCEUS_OK);
    CHECK_RC(caduceus_opener_header(o, &b), CADUCEUS_WRONG_STATE);
    CHECK_RC(caduceus_opener_update(o, one_shot.data, 5, &b), CADUCEUS_OK);
    caduceus_bytes_free(b);
    b = NULL;
    CHECK_RC(caduceus_opener_header(o, &b), CADUCEUS_WRONG_STATE);
    CHECK_RC(caduceus_opener_header(NULL, &b), CADUCEUS_NULL_PARAMETER);
    CHECK_RC(caduceus_opener_header(o, NULL), CADUCEUS_NULL_PARAMETER);
    CHECK_RC(caduceus_opener_update(NULL, one_shot.data, 1, &b), CADUCEUS_NULL_PARAMETER);
    CHECK_RC(caduceus_opener_update(o, NULL, 1, &b), CADUCEUS_NULL_PARAMETER);
    CHECK_RC(caduceus_opener_update(o, one_shot.data, 1, NULL), CADUCEUS_NULL_PARAMETER);
    CHECK_RC(caduceus_opener_finish(NULL, &b), CADUCEUS_NULL_PARAMETER);
    CHECK_RC(caduceus_opener_finish(o, NULL), CADUCEUS_NULL_PARAMETER);
    CHECK(b == NULL);
    caduceus_opener_free(o); /* unfinished */
    caduceus_opener_free(NULL);
  }

  /* Empty plaintext through the stream. */
  {
    buf_t empty = stream_seal(NULL, 0, 1);
    CHECK_RC(caduceus_envelope_open(empty.data, empty.len, subject_key, &out), CADUCEUS_OK);
    CHECK(caduceus_bytes_len(out) == 0);
    caduceus_bytes_free(out);
    CHECK_RC(stream_open(&empty, subject_key, 7, &opened), CADUCEUS_OK);
    CHECK(opened.len == 0);
    free(opened.data);
    opened = (buf_t){NULL, 0};
    free(empty.data);
  }

  free(pt);
  free(pt64k);
  free(full.data);
  free(longer.data);
  free(streamed.data);
  free(one_shot.data);
}

static void test_parts(void) {
  const caduceus_public_key *to[1] = {subject_pub};
  const uint8_t *parts[3] = {(const uint8_t *)"Teil 1 ", (const uint8_t *)"Teil 2 ", (const uint8_t *)"Teil 3"};
  const size_t lens[3] = {7, 7, 6};
  caduceus_bytes *envs[3] = {NULL, NULL, NULL};
  CHECK_RC(caduceus_envelope_seal_parts(to, 1, &LABELS, parts, lens, 3, envs), CADUCEUS_OK);
  caduceus_bytes *json = NULL;
  CHECK_RC(caduceus_envelope_inspect(caduceus_bytes_data(envs[1]), caduceus_bytes_len(envs[1]), &json), CADUCEUS_OK);
  CHECK(strstr((const char *)caduceus_bytes_data(json), "\"index\":2") != NULL);
  CHECK(strstr((const char *)caduceus_bytes_data(json), "\"count\":3") != NULL);
  caduceus_bytes_free(json);

  caduceus_part_set *set = NULL;
  uint32_t count = 99;
  bool complete = true;
  caduceus_bytes *b = NULL;
  CHECK_RC(caduceus_part_set_new(&set), CADUCEUS_OK);
  CHECK_RC(caduceus_part_set_count(set, &count), CADUCEUS_OK);
  CHECK(count == 0);
  CHECK_RC(caduceus_part_set_add(set, caduceus_bytes_data(envs[2]), caduceus_bytes_len(envs[2]), subject_key),
           CADUCEUS_OK);
  CHECK_RC(caduceus_part_set_add(set, caduceus_bytes_data(envs[0]), caduceus_bytes_len(envs[0]), subject_key),
           CADUCEUS_OK);
  CHECK_RC(caduceus_part_set_count(set, &count), CADUCEUS_OK);
  CHECK(count == 3);
  CHECK_RC(caduceus_part_set_is_complete(set, &complete), CADUCEUS_OK);
  CHECK(!complete);
  CHECK_RC(caduceus_part_set_missing(set, &b), CADUCEUS_OK);
  CHECK(strcmp((const char *)caduceus_bytes_data(b), "[2]") == 0);
  caduceus_bytes_free(b);
  b = NULL;
  CHECK_RC(caduceus_part_set_assemble(set, &b), CADUCEUS_PART_SET);
  /* twice, wrong key, not a part, truncated */
  CHECK_RC(caduceus_part_set_add(set, caduceus_bytes_data(envs[0]), caduceus_bytes_len(envs[0]), subject_key),
           CADUCEUS_PART_SET);
  CHECK_RC(caduceus_part_set_add(set, caduceus_bytes_data(envs[1]), caduceus_bytes_len(envs[1]), outsider),
           CADUCEUS_NO_ACCESS);
  CHECK_RC(caduceus_part_set_add(set, caduceus_bytes_data(envs[1]), caduceus_bytes_len(envs[1]) - 1, subject_key),
           CADUCEUS_SEGMENT_CORRUPTED);
  CHECK_RC(caduceus_part_set_add(set, NULL, 0, subject_key), CADUCEUS_TRUNCATED);
  uint8_t *pt = pattern(10);
  buf_t single = seal(pt, 10);
  CHECK_RC(caduceus_part_set_add(set, single.data, single.len, subject_key), CADUCEUS_PART_SET);
  CHECK_RC(caduceus_part_set_add(set, caduceus_bytes_data(envs[1]), caduceus_bytes_len(envs[1]), subject_key),
           CADUCEUS_OK);
  CHECK_RC(caduceus_part_set_is_complete(set, &complete), CADUCEUS_OK);
  CHECK(complete);
  CHECK_RC(caduceus_part_set_missing(set, &b), CADUCEUS_OK);
  CHECK(strcmp((const char *)caduceus_bytes_data(b), "[]") == 0);
  caduceus_bytes_free(b);
  CHECK_RC(caduceus_part_set_assemble(set, &b), CADUCEUS_OK);
  CHECK(same(caduceus_bytes_data(b), caduceus_bytes_len(b), (const uint8_t *)"Teil 1 Teil 2 Teil 3", 20));
  caduceus_bytes_free(b);
  b = NULL;

  /* NULL for each pointer */
  CHECK_RC(caduceus_part_set_new(NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_part_set_add(NULL, single.data, single.len, subject_key), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_part_set_add(set, NULL, 5, subject_key), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_part_set_add(set, single.data, single.len, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_part_set_count(NULL, &count), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_part_set_count(set, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_part_set_is_complete(NULL, &complete), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_part_set_is_complete(set, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_part_set_missing(NULL, &b), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_part_set_missing(set, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_part_set_assemble(NULL, &b), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_part_set_assemble(set, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK(b == NULL);
  caduceus_part_set_free(set);
  caduceus_part_set_free(NULL);

  caduceus_bytes *sentinel = (caduceus_bytes *)&count;
  caduceus_bytes *none[3] = {sentinel, sentinel, sentinel};
  const uint8_t *parts_null[2] = {parts[0], NULL};
  CHECK_RC(caduceus_envelope_seal_parts(NULL, 1, &LABELS, parts, lens, 3, none), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_envelope_seal_parts(to, 1, NULL, parts, lens, 3, none), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_envelope_seal_parts(to, 1, &LABELS, NULL, lens, 3, none), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_envelope_seal_parts(to, 1, &LABELS, parts, NULL, 3, none), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_envelope_seal_parts(to, 1, &LABELS, parts_null, lens, 2, none), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_envelope_seal_parts(to, 1, &LABELS, parts, lens, 3, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_envelope_seal_parts(to, 1, &LABELS, parts, lens, 0, none), CADUCEUS_PART_SET);
  CHECK_RC(caduceus_envelope_seal_parts(to, 0, &LABELS, parts, lens, 3, none), CADUCEUS_NO_RECIPIENTS);
  CHECK(none[0] == sentinel && none[1] == sentinel && none[2] == sentinel);
  /* An empty part (NULL with length 0) is allowed. */
  const uint8_t *with_empty[2] = {parts[0], NULL};
  const size_t empty_lens[2] = {7, 0};
  CHECK_RC(caduceus_envelope_seal_parts(to, 1, &LABELS, with_empty, empty_lens, 2, none), CADUCEUS_OK);
  caduceus_bytes_free(none[0]);
  caduceus_bytes_free(none[1]);

  for (int i = 0; i < 3; i++) caduceus_bytes_free(envs[i]);
  free(pt);
  free(single.data);
}

int main(void) {
  CHECK_RC(caduceus_private_key_generate(CADUCEUS_KEY_KIND_PRACTICE, &practice), CADUCEUS_OK);
  CHECK_RC(caduceus_private_key_generate(CADUCEUS_KEY_KIND_STAFF, &staff), CADUCEUS_OK);
  CHECK_RC(caduceus_private_key_generate(CADUCEUS_KEY_KIND_STAFF, &outsider), CADUCEUS_OK);
  CHECK_RC(caduceus_private_key_public_key(practice, &practice_pub), CADUCEUS_OK);
  CHECK_RC(caduceus_private_key_public_key(staff, &staff_pub), CADUCEUS_OK);
  CHECK_RC(caduceus_private_key_public_key(outsider, &outsider_pub), CADUCEUS_OK);
  const caduceus_public_key *keys[2] = {practice_pub, staff_pub};
  CHECK_RC(caduceus_keyring_record_create("p-7f3a91", "chat-messages", keys, 2, 1763800000, &record), CADUCEUS_OK);
  CHECK_RC(caduceus_keyring_record_public_key(record, &subject_pub), CADUCEUS_OK);
  CHECK_RC(caduceus_keyring_record_unwrap(record, practice, &subject_key), CADUCEUS_OK);
  subject_id = key_id(subject_key);
  staff_id = key_id(staff);
  outsider_id = key_id(outsider);

  test_one_shot();
  test_inspect();
  test_rewrap();
  test_open_segment();
  test_streaming();
  test_parts();

  free(subject_id);
  free(staff_id);
  free(outsider_id);
  caduceus_keyring_record_free(record);
  caduceus_public_key_free(practice_pub);
  caduceus_public_key_free(staff_pub);
  caduceus_public_key_free(outsider_pub);
  caduceus_public_key_free(subject_pub);
  caduceus_private_key_free(practice);
  caduceus_private_key_free(staff);
  caduceus_private_key_free(outsider);
  caduceus_private_key_free(subject_key);
  return SUMMARY("test_envelope");
}

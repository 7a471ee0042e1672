/* The C ABI of keys and keyring records: every export, its success path and
 * its abuse (NULL for each pointer, zero lengths, lengths that lie, invalid
 * UTF-8, truncated and bit-flipped records, wrong key, shredded record). */
#include <stdbool.h>
#include <stdlib.h>

#include "caduceus.h"
#include "harness.h"

static const char BAD_UTF8[] = {(char)0xff, (char)0xfe, 'x', 0};

/* Copy a text result into a fresh C string and free the caduceus_bytes. */
static char *take_text(caduceus_bytes *b) {
  size_t n = caduceus_bytes_len(b);
  char *s = malloc(n + 1);
  memcpy(s, caduceus_bytes_data(b), n + 1); /* includes the NUL */
  caduceus_bytes_free(b);
  return s;
}

static char *private_id(const caduceus_private_key *k) {
  caduceus_bytes *b = NULL;
  CHECK_RC(caduceus_private_key_id(k, &b), CADUCEUS_OK);
  return take_text(b);
}

static char *public_id(const caduceus_public_key *k) {
  caduceus_bytes *b = NULL;
  CHECK_RC(caduceus_public_key_id(k, &b), CADUCEUS_OK);
  return take_text(b);
}

static size_t recipient_count(const caduceus_keyring_record *r) {
  size_t n = 999;
  CHECK_RC(caduceus_keyring_record_recipient_count(r, &n), CADUCEUS_OK);
  return n;
}

/* The last error is set, non-empty, and does not echo the subject pseudonym. */
static void check_last_error(void) {
  char buf[512];
  size_t n = 0;
  CHECK_RC(caduceus_last_error((uint8_t *)buf, sizeof buf, &n), CADUCEUS_OK);
  CHECK(n > 0 && strlen(buf) == n);
  CHECK(strstr(buf, "p-7f3a91") == NULL);
}

static void test_private_keys(void) {
  caduceus_private_key *k = NULL;
  uint32_t kind = 0;
  caduceus_bytes *b = NULL;

  /* Every kind, and its text prefix. */
  const uint32_t kinds[3] = {CADUCEUS_KEY_KIND_PRACTICE, CADUCEUS_KEY_KIND_STAFF,
                             CADUCEUS_KEY_KIND_SUBJECT_CATEGORY};
  const char *prefixes[3] = {"CADUCEUS-PRACTICE-SECRET-KEY-1", "CADUCEUS-STAFF-SECRET-KEY-1",
                             "CADUCEUS-SUBJECT-SECRET-KEY-1"};
  for (int i = 0; i < 3; i++) {
    CHECK_RC(caduceus_private_key_generate(kinds[i], &k), CADUCEUS_OK);
    CHECK_RC(caduceus_private_key_kind(k, &kind), CADUCEUS_OK);
    CHECK(kind == kinds[i]);
    CHECK_RC(caduceus_private_key_to_secret(k, &b), CADUCEUS_OK);
    CHECK(strncmp((const char *)caduceus_bytes_data(b), prefixes[i], strlen(prefixes[i])) == 0);
    CHECK(strlen((const char *)caduceus_bytes_data(b)) == caduceus_bytes_len(b));
    caduceus_bytes_free(b);
    caduceus_private_key_free(k);
  }

  /* Unknown kinds and NULL out-parameters. */
  k = (caduceus_private_key *)&kind; /* sentinel: must stay untouched */
  CHECK_RC(caduceus_private_key_generate(0, &k), CADUCEUS_INVALID_ARGUMENT);
  CHECK_RC(caduceus_private_key_generate(99, &k), CADUCEUS_INVALID_ARGUMENT);
  CHECK(k == (caduceus_private_key *)&kind);
  check_last_error();
  CHECK_RC(caduceus_private_key_generate(CADUCEUS_KEY_KIND_STAFF, NULL), CADUCEUS_NULL_PARAMETER);

  /* Round trip through the secret text. */
  caduceus_private_key *staff = NULL, *again = NULL;
  CHECK_RC(caduceus_private_key_generate(CADUCEUS_KEY_KIND_STAFF, &staff), CADUCEUS_OK);
  CHECK_RC(caduceus_private_key_to_secret(staff, &b), CADUCEUS_OK);
  char *secret = take_text(b);
  CHECK_RC(caduceus_private_key_from_secret(secret, &again), CADUCEUS_OK);
  char *id1 = private_id(staff), *id2 = private_id(again);
  CHECK(strlen(id1) == 32 && strcmp(id1, id2) == 0);
  for (size_t i = 0; i < 32; i++) CHECK((id1[i] >= '0' && id1[i] <= '9') || (id1[i] >= 'a' && id1[i] <= 'f'));
  free(id2);
  caduceus_private_key_free(again);

  /* Abuse of from_secret: NULLs, invalid UTF-8, empty, damaged, public text. */
  again = NULL;
  CHECK_RC(caduceus_private_key_from_secret(NULL, &again), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_private_key_from_secret(secret, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_private_key_from_secret(BAD_UTF8, &again), CADUCEUS_INVALID_UTF8);
  CHECK_RC(caduceus_private_key_from_secret("", &again), CADUCEUS_INVALID_KEY);
  secret[strlen(secret) - 3] ^= 0x01; /* break the checksum */
  CHECK_RC(caduceus_private_key_from_secret(secret, &again), CADUCEUS_INVALID_KEY);
  secret[strlen(secret) - 3] ^= 0x01;
  secret[20] = '\0'; /* truncated */
  CHECK_RC(caduceus_private_key_from_secret(secret, &again), CADUCEUS_INVALID_KEY);
  CHECK(again == NULL);
  free(secret);

  /* Public half, kind, id. */
  caduceus_public_key *pub = NULL;
  CHECK_RC(caduceus_private_key_public_key(staff, &pub), CADUCEUS_OK);
  char *pid = public_id(pub);
  CHECK(strcmp(pid, id1) == 0);
  free(pid);
  caduceus_bytes *pub_text = NULL;
  CHECK_RC(caduceus_public_key_to_text(pub, &pub_text), CADUCEUS_OK);
  CHECK_RC(caduceus_private_key_from_secret((const char *)caduceus_bytes_data(pub_text), &again),
           CADUCEUS_WRONG_KEY_KIND);
  caduceus_bytes_free(pub_text);
  caduceus_public_key_free(pub);

  /* NULL for each pointer of the accessors. */
  CHECK_RC(caduceus_private_key_to_secret(NULL, &b), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_private_key_to_secret(staff, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_private_key_public_key(NULL, &pub), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_private_key_public_key(staff, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_private_key_kind(NULL, &kind), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_private_key_kind(staff, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_private_key_id(NULL, &b), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_private_key_id(staff, NULL), CADUCEUS_NULL_PARAMETER);
  caduceus_private_key_free(NULL);

  free(id1);
  caduceus_private_key_free(staff);
}

static void test_public_keys(void) {
  caduceus_private_key *practice = NULL;
  caduceus_public_key *pub = NULL, *parsed = NULL;
  caduceus_bytes *b = NULL;
  uint32_t kind = 0;

  CHECK_RC(caduceus_private_key_generate(CADUCEUS_KEY_KIND_PRACTICE, &practice), CADUCEUS_OK);
  CHECK_RC(caduceus_private_key_public_key(practice, &pub), CADUCEUS_OK);
  CHECK_RC(caduceus_public_key_kind(pub, &kind), CADUCEUS_OK);
  CHECK(kind == CADUCEUS_KEY_KIND_PRACTICE);
  CHECK_RC(caduceus_public_key_to_text(pub, &b), CADUCEUS_OK);
  char *text = take_text(b);
  CHECK(strncmp(text, "cdpractice1", 11) == 0);

  /* Round trip, with surrounding whitespace ignored. */
  char padded[200];
  snprintf(padded, sizeof padded, "  %s\n", text);
  CHECK_RC(caduceus_public_key_parse(padded, &parsed), CADUCEUS_OK);
  char *a = public_id(pub), *c = public_id(parsed);
  CHECK(strcmp(a, c) == 0);
  free(a);
  free(c);
  caduceus_public_key_free(parsed);

  /* Abuse: NULLs, invalid UTF-8, empty, flipped character, secret text. */
  parsed = NULL;
  CHECK_RC(caduceus_public_key_parse(NULL, &parsed), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_public_key_parse(text, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_public_key_parse(BAD_UTF8, &parsed), CADUCEUS_INVALID_UTF8);
  CHECK_RC(caduceus_public_key_parse("", &parsed), CADUCEUS_INVALID_KEY);
  text[15] = (char)(text[15] == 'q' ? 'p' : 'q');
  CHECK_RC(caduceus_public_key_parse(text, &parsed), CADUCEUS_INVALID_KEY);
  CHECK_RC(caduceus_private_key_to_secret(practice, &b), CADUCEUS_OK);
  CHECK_RC(caduceus_public_key_parse((const char *)caduceus_bytes_data(b), &parsed), CADUCEUS_WRONG_KEY_KIND);
  caduceus_bytes_free(b);
  /* Low-order points (u = 0 and u = 1) with valid checksums: refused. */
  CHECK_RC(caduceus_public_key_parse("cdpractice1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq38yu0g", &parsed),
           CADUCEUS_WEAK_KEY);
  CHECK_RC(caduceus_public_key_parse("cdpractice1qyqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqhp524h", &parsed),
           CADUCEUS_WEAK_KEY);
  /* Non-canonical u-coordinates with valid checksums (FORMAT.md 4.3): the
   * staff key of the test vectors with bit 255 set (the same X25519 key under
   * another key id), u = p, u = p + 1 and u = 2^255 - 1; then u = p - 2, the
   * largest canonical value that is not a low-order point, which parses. */
  const char *non_canonical[4] = {
      "cdstaff1q9epw4gagxw6zc54htq8fgwnlhcz5sewt5rh84u5qypezu4t9lnqtmlxwn",
      "cdpractice1ahlllllllllllllllllllllllllllllllllllllllllllllllalsk2z54w",
      "cdpractice1amlllllllllllllllllllllllllllllllllllllllllllllllalsuqm8jx",
      "cdpractice1lllllllllllllllllllllllllllllllllllllllllllllllllalsha42ax",
  };
  for (int i = 0; i < 4; i++) {
    CHECK_RC(caduceus_public_key_parse(non_canonical[i], &parsed), CADUCEUS_INVALID_KEY);
    char detail[512];
    size_t dn = 0;
    CHECK_RC(caduceus_last_error((uint8_t *)detail, sizeof detail, &dn), CADUCEUS_OK);
    CHECK(strstr(detail, "not in canonical form") != NULL);
    CHECK(strstr(detail, "cdstaff1") == NULL && strstr(detail, "cdpractice1") == NULL);
  }
  CHECK(parsed == NULL);
  CHECK_RC(caduceus_public_key_parse("cdpractice1a0lllllllllllllllllllllllllllllllllllllllllllllllalsz7emm7", &parsed),
           CADUCEUS_OK);
  caduceus_public_key_free(parsed);
  parsed = NULL;
  free(text);

  CHECK_RC(caduceus_public_key_to_text(NULL, &b), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_public_key_to_text(pub, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_public_key_kind(NULL, &kind), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_public_key_kind(pub, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_public_key_id(NULL, &b), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_public_key_id(pub, NULL), CADUCEUS_NULL_PARAMETER);
  caduceus_public_key_free(NULL);

  caduceus_public_key_free(pub);
  caduceus_private_key_free(practice);
}

/* Serialize a record into a malloc'd buffer with `extra` spare bytes. */
static uint8_t *record_bytes(const caduceus_keyring_record *r, size_t *len, size_t extra) {
  caduceus_bytes *b = NULL;
  CHECK_RC(caduceus_keyring_record_to_bytes(r, &b), CADUCEUS_OK);
  *len = caduceus_bytes_len(b);
  uint8_t *buf = malloc(*len + extra + 1);
  memcpy(buf, caduceus_bytes_data(b), *len);
  memset(buf + *len, 0xAA, extra + 1);
  caduceus_bytes_free(b);
  return buf;
}

static void test_keyring(void) {
  caduceus_private_key *practice = NULL, *staff = NULL, *outsider = NULL, *staff2 = NULL, *subject_key = NULL;
  caduceus_public_key *practice_pub = NULL, *staff_pub = NULL, *outsider_pub = NULL, *staff2_pub = NULL;
  CHECK_RC(caduceus_private_key_generate(CADUCEUS_KEY_KIND_PRACTICE, &practice), CADUCEUS_OK);
  CHECK_RC(caduceus_private_key_generate(CADUCEUS_KEY_KIND_STAFF, &staff), CADUCEUS_OK);
  CHECK_RC(caduceus_private_key_generate(CADUCEUS_KEY_KIND_STAFF, &outsider), CADUCEUS_OK);
  CHECK_RC(caduceus_private_key_generate(CADUCEUS_KEY_KIND_STAFF, &staff2), CADUCEUS_OK);
  CHECK_RC(caduceus_private_key_public_key(practice, &practice_pub), CADUCEUS_OK);
  CHECK_RC(caduceus_private_key_public_key(staff, &staff_pub), CADUCEUS_OK);
  CHECK_RC(caduceus_private_key_public_key(outsider, &outsider_pub), CADUCEUS_OK);
  CHECK_RC(caduceus_private_key_public_key(staff2, &staff2_pub), CADUCEUS_OK);
  char *practice_id = private_id(practice), *staff_id = private_id(staff), *staff2_id = private_id(staff2);

  const caduceus_public_key *keys[2] = {practice_pub, staff_pub};
  caduceus_keyring_record *rec = NULL, *other = NULL;
  caduceus_bytes *b = NULL;

  /* create */
  CHECK_RC(caduceus_keyring_record_create("p-7f3a91", "clinical-photos", keys, 2, 1763800000, &rec), CADUCEUS_OK);
  CHECK(recipient_count(rec) == 2);
  CHECK_RC(caduceus_keyring_record_create(NULL, "clinical-photos", keys, 2, 0, &other), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_keyring_record_create("p-7f3a91", NULL, keys, 2, 0, &other), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_keyring_record_create("p-7f3a91", "clinical-photos", NULL, 2, 0, &other),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_keyring_record_create("p-7f3a91", "clinical-photos", keys, 2, 0, NULL), CADUCEUS_NULL_PARAMETER);
  const caduceus_public_key *with_null[2] = {practice_pub, NULL};
  CHECK_RC(caduceus_keyring_record_create("p-7f3a91", "clinical-photos", with_null, 2, 0, &other),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_keyring_record_create("p-7f3a91", "clinical-photos", keys, 0, 0, &other), CADUCEUS_NO_RECIPIENTS);
  CHECK_RC(caduceus_keyring_record_create("p-7f3a91", "clinical-photos", NULL, 0, 0, &other), CADUCEUS_NO_RECIPIENTS);
  CHECK_RC(caduceus_keyring_record_create(BAD_UTF8, "clinical-photos", keys, 2, 0, &other), CADUCEUS_INVALID_UTF8);
  CHECK_RC(caduceus_keyring_record_create("p-7f3a91", BAD_UTF8, keys, 2, 0, &other), CADUCEUS_INVALID_UTF8);
  CHECK_RC(caduceus_keyring_record_create("", "clinical-photos", keys, 2, 0, &other), CADUCEUS_INVALID_LABEL);
  CHECK_RC(caduceus_keyring_record_create("p 7f\n", "clinical-photos", keys, 2, 0, &other), CADUCEUS_INVALID_LABEL);
  const caduceus_public_key *dup[2] = {staff_pub, staff_pub};
  CHECK_RC(caduceus_keyring_record_create("p-7f3a91", "clinical-photos", dup, 2, 0, &other),
           CADUCEUS_DUPLICATE_RECIPIENT);
  check_last_error();
  CHECK(other == NULL);

  /* accessors */
  uint32_t state = 0;
  int64_t at = -1, created = 0;
  CHECK_RC(caduceus_keyring_record_state(rec, &state, &at), CADUCEUS_OK);
  CHECK(state == CADUCEUS_KEYRING_ACTIVE && at == 0);
  CHECK_RC(caduceus_keyring_record_created_at(rec, &created), CADUCEUS_OK);
  CHECK(created == 1763800000);
  CHECK_RC(caduceus_keyring_record_subject(rec, &b), CADUCEUS_OK);
  CHECK(strcmp((const char *)caduceus_bytes_data(b), "p-7f3a91") == 0);
  caduceus_bytes_free(b);
  CHECK_RC(caduceus_keyring_record_category(rec, &b), CADUCEUS_OK);
  CHECK(strcmp((const char *)caduceus_bytes_data(b), "clinical-photos") == 0);
  caduceus_bytes_free(b);
  CHECK_RC(caduceus_keyring_record_recipient_id(rec, 0, &b), CADUCEUS_OK);
  char *r0 = take_text(b);
  CHECK_RC(caduceus_keyring_record_recipient_id(rec, 1, &b), CADUCEUS_OK);
  char *r1 = take_text(b);
  CHECK((strcmp(r0, practice_id) == 0 && strcmp(r1, staff_id) == 0) ||
        (strcmp(r1, practice_id) == 0 && strcmp(r0, staff_id) == 0));
  free(r0);
  free(r1);
  b = NULL;
  CHECK_RC(caduceus_keyring_record_recipient_id(rec, 2, &b), CADUCEUS_INVALID_ARGUMENT);
  CHECK_RC(caduceus_keyring_record_recipient_id(rec, (size_t)-1, &b), CADUCEUS_INVALID_ARGUMENT);
  CHECK(b == NULL);
  caduceus_public_key *subject_pub = NULL;
  uint32_t kind = 0;
  CHECK_RC(caduceus_keyring_record_public_key(rec, &subject_pub), CADUCEUS_OK);
  CHECK_RC(caduceus_public_key_kind(subject_pub, &kind), CADUCEUS_OK);
  CHECK(kind == CADUCEUS_KEY_KIND_SUBJECT_CATEGORY);
  char *subject_id = public_id(subject_pub);

  size_t count = 0;
  CHECK_RC(caduceus_keyring_record_state(NULL, &state, &at), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_keyring_record_state(rec, NULL, &at), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_keyring_record_state(rec, &state, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_keyring_record_created_at(NULL, &created), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_keyring_record_created_at(rec, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_keyring_record_subject(NULL, &b), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_keyring_record_subject(rec, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_keyring_record_category(NULL, &b), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_keyring_record_category(rec, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_keyring_record_recipient_count(NULL, &count), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_keyring_record_recipient_count(rec, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_keyring_record_recipient_id(NULL, 0, &b), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_keyring_record_recipient_id(rec, 0, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_keyring_record_public_key(NULL, &subject_pub), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_keyring_record_public_key(rec, NULL), CADUCEUS_NULL_PARAMETER);

  /* unwrap: practice and staff get the subject key; an outsider does not. */
  CHECK_RC(caduceus_keyring_record_unwrap(rec, staff, &subject_key), CADUCEUS_OK);
  char *unwrapped_id = private_id(subject_key);
  CHECK(strcmp(unwrapped_id, subject_id) == 0);
  free(unwrapped_id);
  caduceus_private_key_free(subject_key);
  CHECK_RC(caduceus_keyring_record_unwrap(rec, practice, &subject_key), CADUCEUS_OK);
  caduceus_private_key_free(subject_key);
  subject_key = NULL;
  CHECK_RC(caduceus_keyring_record_unwrap(rec, outsider, &subject_key), CADUCEUS_NO_ACCESS);
  check_last_error();
  CHECK_RC(caduceus_keyring_record_unwrap(NULL, staff, &subject_key), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_keyring_record_unwrap(rec, NULL, &subject_key), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_keyring_record_unwrap(rec, staff, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK(subject_key == NULL);

  /* to_bytes / from_bytes, and abuse of the buffer. */
  size_t len = 0;
  uint8_t *buf = record_bytes(rec, &len, 16);
  CHECK_RC(caduceus_keyring_record_from_bytes(buf, len, &other), CADUCEUS_OK);
  size_t len2 = 0;
  uint8_t *buf2 = record_bytes(other, &len2, 0);
  CHECK(len2 == len && memcmp(buf, buf2, len) == 0);
  free(buf2);
  caduceus_keyring_record_free(other);
  other = NULL;
  CHECK_RC(caduceus_keyring_record_from_bytes(buf, len + 16, &other), CADUCEUS_MALFORMED_RECORD); /* longer */
  CHECK_RC(caduceus_keyring_record_from_bytes(buf, len - 1, &other), CADUCEUS_MALFORMED_RECORD);  /* shorter */
  CHECK_RC(caduceus_keyring_record_from_bytes(buf, 5, &other), CADUCEUS_MALFORMED_RECORD);
  CHECK_RC(caduceus_keyring_record_from_bytes(buf, 0, &other), CADUCEUS_MALFORMED_RECORD);
  CHECK_RC(caduceus_keyring_record_from_bytes(NULL, 0, &other), CADUCEUS_MALFORMED_RECORD);
  CHECK_RC(caduceus_keyring_record_from_bytes(NULL, len, &other), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_keyring_record_from_bytes(buf, len, NULL), CADUCEUS_NULL_PARAMETER);
  buf[4] ^= 0x80; /* version: a damaged byte in front of a version-1 record */
  CHECK_RC(caduceus_keyring_record_from_bytes(buf, len, &other), CADUCEUS_MALFORMED_RECORD);
  buf[4] ^= 0x80;
  /* Every single-bit flip is rejected or yields a record that is not the original
   * (a flip inside a wrap is only detected when that wrap is used). */
  int accepted_flips = 0;
  for (size_t i = 0; i < len; i++) {
    buf[i] ^= 0x01;
    caduceus_keyring_record *flipped = NULL;
    if (caduceus_keyring_record_from_bytes(buf, len, &flipped) == CADUCEUS_OK) {
      accepted_flips++;
      caduceus_private_key *k1 = NULL, *k2 = NULL;
      caduceus_result r1 = caduceus_keyring_record_unwrap(flipped, staff, &k1);
      caduceus_result r2 = caduceus_keyring_record_unwrap(flipped, practice, &k2);
      caduceus_bytes *subj = NULL, *cat = NULL;
      int64_t when = 0;
      CHECK_RC(caduceus_keyring_record_subject(flipped, &subj), CADUCEUS_OK);
      CHECK_RC(caduceus_keyring_record_category(flipped, &cat), CADUCEUS_OK);
      CHECK_RC(caduceus_keyring_record_created_at(flipped, &when), CADUCEUS_OK);
      /* Either a wrap no longer opens, or unauthenticated metadata changed. */
      CHECK(r1 != CADUCEUS_OK || r2 != CADUCEUS_OK || when != 1763800000 ||
            strcmp((const char *)caduceus_bytes_data(subj), "p-7f3a91") != 0 ||
            strcmp((const char *)caduceus_bytes_data(cat), "clinical-photos") != 0);
      caduceus_bytes_free(subj);
      caduceus_bytes_free(cat);
      caduceus_private_key_free(k1);
      caduceus_private_key_free(k2);
      caduceus_keyring_record_free(flipped);
    }
    buf[i] ^= 0x01;
  }
  CHECK(accepted_flips < (int)len);
  CHECK(other == NULL);
  free(buf);
  CHECK_RC(caduceus_keyring_record_to_bytes(NULL, &b), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_keyring_record_to_bytes(rec, NULL), CADUCEUS_NULL_PARAMETER);

  /* add_recipients: a NEW record; the old one is untouched. */
  const caduceus_public_key *add[1] = {outsider_pub};
  caduceus_keyring_record *added = NULL;
  CHECK_RC(caduceus_keyring_record_add_recipients(rec, practice, add, 1, &added), CADUCEUS_OK);
  CHECK(recipient_count(added) == 3 && recipient_count(rec) == 2);
  CHECK_RC(caduceus_keyring_record_unwrap(added, outsider, &subject_key), CADUCEUS_OK);
  caduceus_private_key_free(subject_key);
  subject_key = NULL;
  CHECK_RC(caduceus_keyring_record_unwrap(rec, outsider, &subject_key), CADUCEUS_NO_ACCESS);
  CHECK_RC(caduceus_keyring_record_add_recipients(added, practice, add, 1, &other), CADUCEUS_DUPLICATE_RECIPIENT);
  CHECK_RC(caduceus_keyring_record_add_recipients(rec, outsider, add, 1, &other), CADUCEUS_NO_ACCESS);
  CHECK_RC(caduceus_keyring_record_add_recipients(NULL, practice, add, 1, &other), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_keyring_record_add_recipients(rec, NULL, add, 1, &other), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_keyring_record_add_recipients(rec, practice, NULL, 1, &other), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_keyring_record_add_recipients(rec, practice, add, 1, NULL), CADUCEUS_NULL_PARAMETER);
  /* Adding nobody is allowed and gives an equal record. */
  CHECK_RC(caduceus_keyring_record_add_recipients(rec, practice, NULL, 0, &other), CADUCEUS_OK);
  CHECK(recipient_count(other) == 2);
  caduceus_keyring_record_free(other);
  other = NULL;

  /* revoke_recipient */
  caduceus_keyring_record *revoked = NULL, *last = NULL;
  CHECK_RC(caduceus_keyring_record_revoke_recipient(rec, staff_id, &revoked), CADUCEUS_OK);
  CHECK(recipient_count(revoked) == 1 && recipient_count(rec) == 2);
  CHECK_RC(caduceus_keyring_record_unwrap(revoked, staff, &subject_key), CADUCEUS_NO_ACCESS);
  CHECK_RC(caduceus_keyring_record_revoke_recipient(revoked, practice_id, &last), CADUCEUS_LAST_RECIPIENT);
  CHECK_RC(caduceus_keyring_record_revoke_recipient(revoked, staff_id, &last), CADUCEUS_NO_ACCESS);
  CHECK_RC(caduceus_keyring_record_revoke_recipient(rec, "not-a-key-id", &last), CADUCEUS_INVALID_KEY);
  CHECK_RC(caduceus_keyring_record_revoke_recipient(rec, "", &last), CADUCEUS_INVALID_KEY);
  CHECK_RC(caduceus_keyring_record_revoke_recipient(rec, BAD_UTF8, &last), CADUCEUS_INVALID_UTF8);
  CHECK_RC(caduceus_keyring_record_revoke_recipient(NULL, staff_id, &last), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_keyring_record_revoke_recipient(rec, NULL, &last), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_keyring_record_revoke_recipient(rec, staff_id, NULL), CADUCEUS_NULL_PARAMETER);
  CHECK(last == NULL);

  /* revoke_recipient_keeping: the last practice recipient stays, even with other wraps left */
  const char *practice_ids[1] = {practice_id};
  CHECK_RC(caduceus_keyring_record_revoke_recipient_keeping(rec, practice_id, practice_ids, 1, &last),
           CADUCEUS_LAST_RECIPIENT);
  CHECK_RC(caduceus_keyring_record_revoke_recipient_keeping(revoked, staff_id, practice_ids, 1, &last),
           CADUCEUS_NOT_A_RECIPIENT);
  CHECK_RC(caduceus_keyring_record_revoke_recipient_keeping(rec, staff_id, NULL, 1, &last), CADUCEUS_NULL_PARAMETER);
  CHECK(last == NULL);
  CHECK_RC(caduceus_keyring_record_revoke_recipient_keeping(rec, staff_id, practice_ids, 1, &last), CADUCEUS_OK);
  CHECK(recipient_count(last) == 1);
  caduceus_keyring_record_free(last);
  last = NULL;

  /* rotate_recipient: staff -> staff2 */
  caduceus_keyring_record *rotated = NULL;
  CHECK_RC(caduceus_keyring_record_rotate_recipient(rec, practice, staff_id, staff2_pub, &rotated), CADUCEUS_OK);
  CHECK(recipient_count(rotated) == 2);
  CHECK_RC(caduceus_keyring_record_unwrap(rotated, staff2, &subject_key), CADUCEUS_OK);
  caduceus_private_key_free(subject_key);
  subject_key = NULL;
  CHECK_RC(caduceus_keyring_record_unwrap(rotated, staff, &subject_key), CADUCEUS_NO_ACCESS);
  CHECK_RC(caduceus_keyring_record_unwrap(rec, staff, &subject_key), CADUCEUS_OK); /* old untouched */
  caduceus_private_key_free(subject_key);
  subject_key = NULL;
  CHECK_RC(caduceus_keyring_record_rotate_recipient(rec, outsider, staff_id, staff2_pub, &other), CADUCEUS_NO_ACCESS);
  CHECK_RC(caduceus_keyring_record_rotate_recipient(rec, practice, staff2_id, staff2_pub, &other),
           CADUCEUS_NO_ACCESS);
  CHECK_RC(caduceus_keyring_record_rotate_recipient(rec, practice, "zz", staff2_pub, &other), CADUCEUS_INVALID_KEY);
  CHECK_RC(caduceus_keyring_record_rotate_recipient(rec, practice, BAD_UTF8, staff2_pub, &other),
           CADUCEUS_INVALID_UTF8);
  CHECK_RC(caduceus_keyring_record_rotate_recipient(NULL, practice, staff_id, staff2_pub, &other),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_keyring_record_rotate_recipient(rec, NULL, staff_id, staff2_pub, &other),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_keyring_record_rotate_recipient(rec, practice, NULL, staff2_pub, &other),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_keyring_record_rotate_recipient(rec, practice, staff_id, NULL, &other), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_keyring_record_rotate_recipient(rec, practice, staff_id, staff2_pub, NULL),
           CADUCEUS_NULL_PARAMETER);
  CHECK(other == NULL);

  /* shred: a NEW tombstone record. */
  caduceus_keyring_record *shredded = NULL;
  CHECK_RC(caduceus_keyring_record_shred(rec, 1763900000, &shredded), CADUCEUS_OK);
  CHECK_RC(caduceus_keyring_record_state(shredded, &state, &at), CADUCEUS_OK);
  CHECK(state == CADUCEUS_KEYRING_SHREDDED && at == 1763900000);
  CHECK(recipient_count(shredded) == 0);
  CHECK_RC(caduceus_keyring_record_unwrap(shredded, practice, &subject_key), CADUCEUS_KEY_SHREDDED);
  check_last_error();
  CHECK_RC(caduceus_keyring_record_revoke_recipient(shredded, staff_id, &other), CADUCEUS_KEY_SHREDDED);
  CHECK_RC(caduceus_keyring_record_rotate_recipient(shredded, practice, staff_id, staff2_pub, &other),
           CADUCEUS_KEY_SHREDDED);
  CHECK_RC(caduceus_keyring_record_add_recipients(shredded, practice, add, 1, &other), CADUCEUS_KEY_SHREDDED);
  CHECK_RC(caduceus_keyring_record_state(rec, &state, &at), CADUCEUS_OK); /* old untouched */
  CHECK(state == CADUCEUS_KEYRING_ACTIVE);
  /* The tombstone survives storage. */
  buf = record_bytes(shredded, &len, 0);
  CHECK_RC(caduceus_keyring_record_from_bytes(buf, len, &other), CADUCEUS_OK);
  CHECK_RC(caduceus_keyring_record_state(other, &state, &at), CADUCEUS_OK);
  CHECK(state == CADUCEUS_KEYRING_SHREDDED && at == 1763900000);
  caduceus_keyring_record_free(other);
  other = NULL;
  free(buf);
  CHECK_RC(caduceus_keyring_record_shred(NULL, 0, &other), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_keyring_record_shred(rec, 0, NULL), CADUCEUS_NULL_PARAMETER);

  /* rotate_practice_key across several records, all or nothing. */
  caduceus_private_key *practice2 = NULL;
  caduceus_public_key *practice2_pub = NULL;
  CHECK_RC(caduceus_private_key_generate(CADUCEUS_KEY_KIND_PRACTICE, &practice2), CADUCEUS_OK);
  CHECK_RC(caduceus_private_key_public_key(practice2, &practice2_pub), CADUCEUS_OK);
  const caduceus_keyring_record *batch[3] = {rec, shredded, rotated};
  caduceus_keyring_record *out[3] = {NULL, NULL, NULL};
  CHECK_RC(caduceus_keyring_record_rotate_practice_key(batch, 3, practice, practice2_pub, out), CADUCEUS_OK);
  CHECK(out[0] != NULL && out[1] != NULL && out[2] != NULL);
  CHECK_RC(caduceus_keyring_record_unwrap(out[0], practice2, &subject_key), CADUCEUS_OK);
  caduceus_private_key_free(subject_key);
  subject_key = NULL;
  CHECK_RC(caduceus_keyring_record_unwrap(out[0], practice, &subject_key), CADUCEUS_NO_ACCESS);
  CHECK_RC(caduceus_keyring_record_unwrap(out[2], practice2, &subject_key), CADUCEUS_OK);
  caduceus_private_key_free(subject_key);
  subject_key = NULL;
  CHECK_RC(caduceus_keyring_record_state(out[1], &state, &at), CADUCEUS_OK);
  CHECK(state == CADUCEUS_KEYRING_SHREDDED);
  for (int i = 0; i < 3; i++) caduceus_keyring_record_free(out[i]);
  /* A record the old practice key cannot unwrap: nothing is written. */
  const caduceus_keyring_record *bad_batch[2] = {rec, revoked};
  caduceus_keyring_record *sentinel = (caduceus_keyring_record *)&state;
  caduceus_keyring_record *out2[2] = {sentinel, sentinel};
  CHECK_RC(caduceus_keyring_record_rotate_practice_key(bad_batch, 2, staff, practice2_pub, out2), CADUCEUS_NO_ACCESS);
  CHECK(out2[0] == sentinel && out2[1] == sentinel);
  char detail[256];
  size_t dn = 0;
  CHECK_RC(caduceus_last_error((uint8_t *)detail, sizeof detail, &dn), CADUCEUS_OK);
  CHECK(strncmp(detail, "record 1", 8) == 0);
  CHECK_RC(caduceus_keyring_record_rotate_practice_key(NULL, 0, practice, practice2_pub, NULL), CADUCEUS_OK);
  CHECK_RC(caduceus_keyring_record_rotate_practice_key(NULL, 2, practice, practice2_pub, out2),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_keyring_record_rotate_practice_key(batch, 3, practice, practice2_pub, NULL),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_keyring_record_rotate_practice_key(batch, 2, NULL, practice2_pub, out2), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_keyring_record_rotate_practice_key(batch, 2, practice, NULL, out2), CADUCEUS_NULL_PARAMETER);
  const caduceus_keyring_record *null_batch[2] = {rec, NULL};
  CHECK_RC(caduceus_keyring_record_rotate_practice_key(null_batch, 2, practice, practice2_pub, out2),
           CADUCEUS_NULL_PARAMETER);
  CHECK(out2[0] == sentinel && out2[1] == sentinel);

  caduceus_keyring_record_free(NULL);
  caduceus_keyring_record_free(added);
  caduceus_keyring_record_free(revoked);
  caduceus_keyring_record_free(rotated);
  caduceus_keyring_record_free(shredded);
  caduceus_keyring_record_free(rec);
  caduceus_public_key_free(subject_pub);
  caduceus_public_key_free(practice2_pub);
  caduceus_private_key_free(practice2);
  free(subject_id);
  free(practice_id);
  free(staff_id);
  free(staff2_id);
  caduceus_public_key_free(practice_pub);
  caduceus_public_key_free(staff_pub);
  caduceus_public_key_free(outsider_pub);
  caduceus_public_key_free(staff2_pub);
  caduceus_private_key_free(practice);
  caduceus_private_key_free(staff);
  caduceus_private_key_free(outsider);
  caduceus_private_key_free(staff2);
}

int main(void) {
  test_private_keys();
  test_public_keys();
  test_keyring();
  return SUMMARY("test_keys");
}

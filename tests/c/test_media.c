/* The media sealer through the C ABI, on the signed fixture image.json and
 * its bytes image.bin (tests/fixtures/whatsapp/, directory from
 * CADUCEUS_WHATSAPP_FIXTURES or argv[1]): a photo of a patient with photo
 * consent decides fetch-media; its bytes, sealed in chunks against the
 * webhook's SHA-256, open for the doctor and not for finance; other bytes
 * never get a final segment (CADUCEUS_WHATSAPP_MEDIA_HASH_MISMATCH), too
 * many bytes are refused (CADUCEUS_WHATSAPP_MEDIA_TOO_LARGE), a spent
 * sealer is CADUCEUS_WRONG_STATE, every NULL argument is
 * CADUCEUS_NULL_PARAMETER, and out-parameters stay untouched on failure. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "caduceus.h"
#include "harness.h"

#define NOW ((int64_t)1790000100)
#define IMAGE_LIMIT ((size_t)5000000) /* WhatsApp's image limit */

static const char *fixture_dir = "tests/fixtures/whatsapp";
#define SENTINEL ((void *)&fixture_dir)

struct file {
  uint8_t *data;
  size_t len;
};

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
    if (n >= 0 && fseek(fp, 0, SEEK_SET) == 0 && (f.data = malloc((size_t)n + 1)) != NULL) {
      if (fread(f.data, 1, (size_t)n, fp) == (size_t)n) {
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

/* A growing buffer: the envelope as the host stores it. */
struct buffer {
  uint8_t *data;
  size_t len;
};

static void append_and_free(struct buffer *b, caduceus_bytes *chunk) {
  size_t n = caduceus_bytes_len(chunk);
  uint8_t *grown = realloc(b->data, b->len + n + 1);
  CHECK(grown != NULL);
  if (grown != NULL) {
    b->data = grown;
    if (n > 0) {
      memcpy(b->data + b->len, caduceus_bytes_data(chunk), n);
    }
    b->len += n;
  }
  caduceus_bytes_free(chunk);
}

static bool kind_is(const caduceus_decision *d, const char *kind) {
  const char *k = caduceus_decision_kind(d);
  return k != NULL && strcmp(k, kind) == 0;
}

int main(int argc, char **argv) {
  const char *env = getenv("CADUCEUS_WHATSAPP_FIXTURES");
  if (argc > 1) {
    fixture_dir = argv[1];
  } else if (env != NULL && env[0] != '\0') {
    fixture_dir = env;
  }
  caduceus_private_key *practice = NULL, *doctor = NULL, *finance = NULL;
  caduceus_public_key *practice_pub = NULL, *doctor_pub = NULL, *finance_pub = NULL;
  caduceus_audit_key *audit_key = NULL;
  caduceus_policy *policy = NULL;
  caduceus_consent_ledger *ledger = NULL;
  caduceus_intake *intake = NULL;
  caduceus_whatsapp_identities *ids = NULL;
  caduceus_keyring_set *keyrings = NULL;
  caduceus_audit_log *log = NULL;
  caduceus_webhook *hook = NULL;
  caduceus_decision *asked = NULL, *fetch = NULL;
  caduceus_bytes *subject = NULL;
  struct file body = read_fixture("image.json"), image = read_fixture("image.bin");

  CHECK(body.data != NULL && image.data != NULL && image.len > 2);
  CHECK_RC(caduceus_private_key_generate(CADUCEUS_KEY_KIND_PRACTICE, &practice), CADUCEUS_OK);
  CHECK_RC(caduceus_private_key_generate(CADUCEUS_KEY_KIND_STAFF, &doctor), CADUCEUS_OK);
  CHECK_RC(caduceus_private_key_generate(CADUCEUS_KEY_KIND_STAFF, &finance), CADUCEUS_OK);
  CHECK_RC(caduceus_private_key_public_key(practice, &practice_pub), CADUCEUS_OK);
  CHECK_RC(caduceus_private_key_public_key(doctor, &doctor_pub), CADUCEUS_OK);
  CHECK_RC(caduceus_private_key_public_key(finance, &finance_pub), CADUCEUS_OK);
  CHECK_RC(caduceus_audit_key_generate(&audit_key), CADUCEUS_OK);
  CHECK_RC(caduceus_policy_default(&policy), CADUCEUS_OK);
  CHECK_RC(caduceus_consent_ledger_new(&ledger), CADUCEUS_OK);
  CHECK_RC(caduceus_consent_register_notice(ledger, "privacy-chat", 1, "de",
                                            "Datenschutzhinweis (Art. 13 DSGVO).", NOW - 86400,
                                            NOW, NULL),
           CADUCEUS_OK);
  {
    const caduceus_public_key *staff[2] = {doctor_pub, finance_pub};
    const char *roles[2] = {"doctor", "finance"};
    CHECK_RC(caduceus_intake_new(audit_key, policy, practice_pub, staff, roles, 2, "privacy-chat",
                                 1, "de", ledger, &intake),
             CADUCEUS_OK);
  }
  CHECK_RC(caduceus_whatsapp_identities_new(&ids), CADUCEUS_OK);
  CHECK_RC(caduceus_keyring_set_new(&keyrings), CADUCEUS_OK);
  CHECK_RC(caduceus_audit_log_new("praxis.example/audit", &log), CADUCEUS_OK);
  if (body.data == NULL || image.data == NULL || intake == NULL) {
    goto done;
  }
  CHECK_RC(caduceus_whatsapp_webhook_parse(body.data, body.len, &hook), CADUCEUS_OK);

  /* Without consent the photo is not fetched: no media plan. */
  CHECK_RC(caduceus_intake_decide(intake, hook, 0, ledger, ids, keyrings, NOW, &asked),
           CADUCEUS_OK);
  CHECK(kind_is(asked, "ask-consent"));
  {
    caduceus_bytes *header = SENTINEL, *id = SENTINEL, *entry = SENTINEL;
    caduceus_media_sealer *sealer = SENTINEL;
    CHECK_RC(caduceus_media_sealer_new(asked, &header, &sealer), CADUCEUS_WHATSAPP_NOT_IN_DECISION);
    CHECK_RC(caduceus_decision_media_id(asked, &id), CADUCEUS_WHATSAPP_NOT_IN_DECISION);
    CHECK_RC(caduceus_decision_media_audit_append(asked, NULL, log, &entry),
             CADUCEUS_WHATSAPP_NOT_IN_DECISION);
    CHECK(header == SENTINEL && id == SENTINEL && entry == SENTINEL &&
          sealer == (caduceus_media_sealer *)SENTINEL);
  }
  CHECK_RC(caduceus_decision_apply(asked, ledger, ids, keyrings, NOW), CADUCEUS_OK);
  CHECK_RC(caduceus_decision_subject(asked, &subject), CADUCEUS_OK);

  /* The patient consents to treatment communication and clinical photos
   * (here recorded directly; in the intake, the "Ja, auch Fotos" button). */
  {
    char event[1024];
    snprintf(event, sizeof event,
             "{\"id\": \"ev-photos-1\", \"subject\": \"%s\","
             " \"purposes\": [\"treatment-communication\", \"clinical-photos\"],"
             " \"status\": \"given\", \"method\": \"chat-reply\","
             " \"notice\": {\"id\": \"privacy-chat\", \"version\": 1, \"language\": \"de\"},"
             " \"channel\": \"whatsapp\", \"recorded_by\": \"whatsapp-intake\", \"time\": %lld}",
             (const char *)caduceus_bytes_data(subject), (long long)(NOW - 10));
    CHECK_RC(caduceus_consent_record(ledger, event, NOW, NULL, NULL), CADUCEUS_OK);
  }
  CHECK_RC(caduceus_intake_decide(intake, hook, 0, ledger, ids, keyrings, NOW, &fetch),
           CADUCEUS_OK);
  CHECK(kind_is(fetch, "fetch-media"));
  if (!kind_is(fetch, "fetch-media")) {
    goto done;
  }
  caduceus_keyring_record *record = NULL;
  CHECK_RC(caduceus_decision_keyring_record(fetch, &record), CADUCEUS_OK);
  {
    caduceus_bytes *id = NULL, *category = NULL;
    CHECK_RC(caduceus_decision_media_id(fetch, &id), CADUCEUS_OK);
    CHECK(id != NULL && strcmp((const char *)caduceus_bytes_data(id), "1100000000000005") == 0);
    CHECK_RC(caduceus_keyring_record_category(record, &category), CADUCEUS_OK);
    CHECK(category != NULL &&
          strcmp((const char *)caduceus_bytes_data(category), "clinical-photos") == 0);
    caduceus_bytes_free(id);
    caduceus_bytes_free(category);
  }

  /* The right bytes, in two chunks: a complete envelope. */
  {
    struct buffer envelope = {NULL, 0};
    caduceus_bytes *header = NULL, *out = NULL, *plain = SENTINEL, *entry = NULL;
    caduceus_media_sealer *sealer = NULL;
    size_t half = image.len / 2;
    CHECK_RC(caduceus_media_sealer_new(fetch, &header, &sealer), CADUCEUS_OK);
    append_and_free(&envelope, header);
    CHECK_RC(caduceus_media_sealer_update(sealer, image.data, half, &out), CADUCEUS_OK);
    append_and_free(&envelope, out);
    out = NULL;
    CHECK_RC(caduceus_media_sealer_update(sealer, image.data + half, image.len - half, &out),
             CADUCEUS_OK);
    append_and_free(&envelope, out);
    out = NULL;
    CHECK_RC(caduceus_media_sealer_update(sealer, NULL, 0, &out), CADUCEUS_OK);
    append_and_free(&envelope, out);
    out = NULL;
    CHECK_RC(caduceus_media_sealer_finish(sealer, &out), CADUCEUS_OK);
    append_and_free(&envelope, out);
    out = SENTINEL;
    CHECK_RC(caduceus_media_sealer_finish(sealer, &out), CADUCEUS_WRONG_STATE);
    CHECK_RC(caduceus_media_sealer_update(sealer, image.data, 1, &out), CADUCEUS_WRONG_STATE);
    CHECK(out == SENTINEL);
    caduceus_media_sealer_free(sealer);

    CHECK_RC(caduceus_envelope_open_with_keyring(envelope.data, envelope.len, record, finance,
                                                 &plain),
             CADUCEUS_NO_ACCESS);
    CHECK(plain == SENTINEL);
    plain = NULL;
    CHECK_RC(caduceus_envelope_open_with_keyring(envelope.data, envelope.len, record, doctor,
                                                 &plain),
             CADUCEUS_OK);
    CHECK(plain != NULL && caduceus_bytes_len(plain) == image.len &&
          memcmp(caduceus_bytes_data(plain), image.data, image.len) == 0);
    CHECK_RC(caduceus_decision_media_audit_append(fetch, NULL, log, &entry), CADUCEUS_OK);
    CHECK(caduceus_bytes_len(entry) > 0);
    caduceus_bytes_free(entry);
    caduceus_bytes_free(plain);
    free(envelope.data);
  }

  /* One byte changed: no final segment, the envelope never opens. */
  {
    struct buffer envelope = {NULL, 0};
    caduceus_bytes *header = NULL, *out = NULL, *plain = SENTINEL, *entry = NULL;
    caduceus_media_sealer *sealer = NULL;
    uint8_t *other = malloc(image.len);
    CHECK(other != NULL);
    if (other != NULL) {
      memcpy(other, image.data, image.len);
      other[image.len - 1] ^= 0x01;
      CHECK_RC(caduceus_media_sealer_new(fetch, &header, &sealer), CADUCEUS_OK);
      append_and_free(&envelope, header);
      CHECK_RC(caduceus_media_sealer_update(sealer, other, image.len, &out), CADUCEUS_OK);
      append_and_free(&envelope, out);
      out = SENTINEL;
      CHECK_RC(caduceus_media_sealer_finish(sealer, &out), CADUCEUS_WHATSAPP_MEDIA_HASH_MISMATCH);
      CHECK(out == SENTINEL);
      {
        char detail[512];
        size_t n = 0;
        CHECK_RC(caduceus_last_error((uint8_t *)detail, sizeof detail, &n), CADUCEUS_OK);
        CHECK(strstr(detail, "SHA-256") != NULL);
      }
      CHECK_RC(caduceus_media_sealer_finish(sealer, &out), CADUCEUS_WRONG_STATE);
      CHECK(out == SENTINEL);
      CHECK(caduceus_envelope_open_with_keyring(envelope.data, envelope.len, record, doctor,
                                                &plain) != CADUCEUS_OK);
      CHECK(plain == SENTINEL);
      CHECK_RC(caduceus_decision_media_audit_append(fetch, "media-hash-mismatch", log, &entry),
               CADUCEUS_OK);
      caduceus_bytes_free(entry);
      entry = SENTINEL;
      CHECK_RC(caduceus_decision_media_audit_append(fetch, "", log, &entry),
               CADUCEUS_AUDIT_INVALID_EVENT);
      CHECK(entry == SENTINEL);
      caduceus_media_sealer_free(sealer);
    }
    free(other);
    free(envelope.data);
  }

  /* More than the image limit: refused at the chunk that passes it,
   * before it is sealed; the sealer is spent. */
  {
    caduceus_bytes *header = NULL, *out = SENTINEL;
    caduceus_media_sealer *sealer = NULL;
    uint8_t *big = calloc(IMAGE_LIMIT + 1, 1);
    CHECK(big != NULL);
    if (big != NULL) {
      CHECK_RC(caduceus_media_sealer_new(fetch, &header, &sealer), CADUCEUS_OK);
      CHECK_RC(caduceus_media_sealer_update(sealer, big, IMAGE_LIMIT + 1, &out),
               CADUCEUS_WHATSAPP_MEDIA_TOO_LARGE);
      CHECK(out == SENTINEL);
      CHECK_RC(caduceus_media_sealer_update(sealer, big, 1, &out), CADUCEUS_WRONG_STATE);
      CHECK_RC(caduceus_media_sealer_finish(sealer, &out), CADUCEUS_WRONG_STATE);
      CHECK(out == SENTINEL);
      caduceus_media_sealer_free(sealer);
      caduceus_bytes_free(header);
    }
    free(big);
  }

  /* NULL arguments. */
  {
    caduceus_bytes *header = SENTINEL, *out = SENTINEL;
    caduceus_media_sealer *sealer = SENTINEL, *live = NULL;
    CHECK_RC(caduceus_media_sealer_new(NULL, &header, &sealer), CADUCEUS_NULL_PARAMETER);
    CHECK_RC(caduceus_media_sealer_new(fetch, NULL, &sealer), CADUCEUS_NULL_PARAMETER);
    CHECK_RC(caduceus_media_sealer_new(fetch, &header, NULL), CADUCEUS_NULL_PARAMETER);
    CHECK(header == SENTINEL && sealer == (caduceus_media_sealer *)SENTINEL);
    header = NULL;
    CHECK_RC(caduceus_media_sealer_new(fetch, &header, &live), CADUCEUS_OK);
    CHECK_RC(caduceus_media_sealer_update(NULL, image.data, 1, &out), CADUCEUS_NULL_PARAMETER);
    CHECK_RC(caduceus_media_sealer_update(live, NULL, 1, &out), CADUCEUS_NULL_PARAMETER);
    CHECK_RC(caduceus_media_sealer_update(live, image.data, 1, NULL), CADUCEUS_NULL_PARAMETER);
    CHECK_RC(caduceus_media_sealer_finish(NULL, &out), CADUCEUS_NULL_PARAMETER);
    CHECK_RC(caduceus_media_sealer_finish(live, NULL), CADUCEUS_NULL_PARAMETER);
    CHECK_RC(caduceus_decision_media_id(NULL, &out), CADUCEUS_NULL_PARAMETER);
    CHECK_RC(caduceus_decision_media_id(fetch, NULL), CADUCEUS_NULL_PARAMETER);
    CHECK_RC(caduceus_decision_media_audit_append(NULL, NULL, log, &out), CADUCEUS_NULL_PARAMETER);
    CHECK_RC(caduceus_decision_media_audit_append(fetch, NULL, NULL, &out),
             CADUCEUS_NULL_PARAMETER);
    CHECK_RC(caduceus_decision_media_audit_append(fetch, NULL, log, NULL),
             CADUCEUS_NULL_PARAMETER);
    CHECK(out == SENTINEL);
    /* The NULL checks did not spend the sealer. */
    out = NULL;
    CHECK_RC(caduceus_media_sealer_update(live, image.data, image.len, &out), CADUCEUS_OK);
    caduceus_bytes_free(out);
    out = NULL;
    CHECK_RC(caduceus_media_sealer_finish(live, &out), CADUCEUS_OK);
    caduceus_bytes_free(out);
    caduceus_bytes_free(header);
    caduceus_media_sealer_free(live);
    caduceus_media_sealer_free(NULL);
  }
  {
    char buf[256];
    size_t n = 0;
    CHECK_RC(caduceus_result_message(CADUCEUS_WHATSAPP_MEDIA_HASH_MISMATCH, (uint8_t *)buf,
                                     sizeof buf, &n),
             CADUCEUS_OK);
    CHECK(strstr(buf, "SHA-256") != NULL);
    CHECK_RC(caduceus_result_message(CADUCEUS_WHATSAPP_MEDIA_TOO_LARGE, (uint8_t *)buf,
                                     sizeof buf, &n),
             CADUCEUS_OK);
    CHECK((unsigned)CADUCEUS_WHATSAPP_MEDIA_HASH_MISMATCH == 619 &&
          (unsigned)CADUCEUS_WHATSAPP_MEDIA_TOO_LARGE == 620);
  }
  caduceus_keyring_record_free(record);

done:
  caduceus_bytes_free(subject);
  caduceus_decision_free(fetch);
  caduceus_decision_free(asked);
  caduceus_whatsapp_webhook_free(hook);
  caduceus_audit_log_free(log);
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
  free(body.data);
  free(image.data);
  return SUMMARY("test_media");
}

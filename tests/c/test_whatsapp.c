/* WhatsApp webhook intake through the C ABI: X-Hub-Signature-256 and the
 * subscription handshake. The expected HMACs were computed with Python's
 * hmac module (hmac.new(SECRET, BODY, "sha256").hexdigest()), not by the
 * library. */
#include "caduceus.h"
#include "harness.h"

static const char BODY[] =
    "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"102290129340398\","
    "\"changes\":[{\"value\":{\"messaging_product\":\"whatsapp\",\"contacts\":[{\"profile\":"
    "{\"name\":\"Test Patientin\"},\"wa_id\":\"4915100000001\"}],\"messages\":[{\"from\":"
    "\"4915100000001\",\"id\":\"wamid.TEST1\",\"timestamp\":\"1767225600\",\"type\":\"text\","
    "\"text\":{\"body\":\"Guten Tag, Frau Dr. M\\u00fcller \\u0040 Praxis\"}}]},\"field\":"
    "\"messages\"}]}]}";
static const char SIG_1[] =
    "sha256=92067406d45aee3b7de9d1608fa27e9cc046f0ffd04be9f50d3eafdb0f95508e";
static const char SIG_2_UPPER[] =
    "sha256=BA3A22C740A3CEA4F95954419D70ACEE957A950E9C4C0206B5395724E1E9A421";

int main(void) {
  const uint8_t *body = (const uint8_t *)BODY;
  size_t body_len = sizeof BODY - 1;
  const uint8_t *secrets[2] = {(const uint8_t *)"test-app-secret-1",
                               (const uint8_t *)"test-app-secret-2"};
  size_t lens[2] = {17, 17};
  size_t idx = 99;

  /* Valid: first secret, and the second of two (uppercase hex). */
  CHECK_RC(caduceus_whatsapp_verify_signature(body, body_len, SIG_1, secrets, lens, 1, &idx),
           CADUCEUS_OK);
  CHECK(idx == 0);
  idx = 99;
  CHECK_RC(caduceus_whatsapp_verify_signature(body, body_len, SIG_2_UPPER, secrets, lens, 2, &idx),
           CADUCEUS_OK);
  CHECK(idx == 1);

  /* Mismatch: wrong secret, one byte shorter body; out_index untouched. */
  idx = 99;
  CHECK_RC(caduceus_whatsapp_verify_signature(body, body_len, SIG_2_UPPER, secrets, lens, 1, &idx),
           CADUCEUS_WHATSAPP_SIGNATURE_MISMATCH);
  CHECK_RC(caduceus_whatsapp_verify_signature(body, body_len - 1, SIG_1, secrets, lens, 2, &idx),
           CADUCEUS_WHATSAPP_SIGNATURE_MISMATCH);
  CHECK(idx == 99);

  /* Missing and malformed headers. */
  CHECK_RC(caduceus_whatsapp_verify_signature(body, body_len, NULL, secrets, lens, 1, &idx),
           CADUCEUS_WHATSAPP_SIGNATURE_MISSING);
  CHECK_RC(caduceus_whatsapp_verify_signature(body, body_len, "  ", secrets, lens, 1, &idx),
           CADUCEUS_WHATSAPP_SIGNATURE_MISSING);
  CHECK_RC(caduceus_whatsapp_verify_signature(body, body_len, SIG_1 + 7, secrets, lens, 1, &idx),
           CADUCEUS_WHATSAPP_SIGNATURE_MALFORMED);
  CHECK_RC(caduceus_whatsapp_verify_signature(body, body_len, "sha256=abc", secrets, lens, 1, &idx),
           CADUCEUS_WHATSAPP_SIGNATURE_MALFORMED);
  CHECK_RC(caduceus_whatsapp_verify_signature(body, body_len, "sha256=\xff\xfe", secrets, lens, 1,
                                              &idx),
           CADUCEUS_WHATSAPP_SIGNATURE_MALFORMED);
  CHECK(idx == 99);

  /* The last error says what is wrong without echoing the header. */
  {
    char buf[512];
    size_t n = 0;
    CHECK_RC(caduceus_last_error((uint8_t *)buf, sizeof buf, &n), CADUCEUS_OK);
    CHECK(strstr(buf, "malformed") != NULL && strstr(buf, "\xff") == NULL);
  }

  /* Secrets: none, an empty one. */
  CHECK_RC(caduceus_whatsapp_verify_signature(body, body_len, SIG_1, NULL, NULL, 0, &idx),
           CADUCEUS_WHATSAPP_NO_SECRETS);
  {
    size_t zero[2] = {17, 0};
    CHECK_RC(caduceus_whatsapp_verify_signature(body, body_len, SIG_1, secrets, zero, 2, &idx),
             CADUCEUS_WHATSAPP_NO_SECRETS);
  }

  /* NULLs and lengths. */
  CHECK_RC(caduceus_whatsapp_verify_signature(NULL, body_len, SIG_1, secrets, lens, 1, &idx),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_whatsapp_verify_signature(body, body_len, SIG_1, secrets, lens, 1, NULL),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_whatsapp_verify_signature(body, body_len, SIG_1, NULL, lens, 1, &idx),
           CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_whatsapp_verify_signature(body, body_len, SIG_1, secrets, NULL, 1, &idx),
           CADUCEUS_NULL_PARAMETER);
  {
    const uint8_t *null_secret[1] = {NULL};
    CHECK_RC(caduceus_whatsapp_verify_signature(body, body_len, SIG_1, null_secret, lens, 1, &idx),
             CADUCEUS_NULL_PARAMETER);
  }
  /* An empty body (NULL, 0) is a body, not a NULL argument:
   * hmac.new(b"test-app-secret-1", b"", "sha256").hexdigest(). */
  CHECK_RC(caduceus_whatsapp_verify_signature(
               NULL, 0, "sha256=20bec0c07c86994b2f55f8b8ae3d8a467311a61ea57098fb823fd1cba5112b93",
               secrets, lens, 1, &idx),
           CADUCEUS_OK);
  CHECK(idx == 0);
  /* Over 3 MiB: refused before any HMAC. */
  {
    static uint8_t big[3 * 1024 * 1024 + 1];
    CHECK_RC(caduceus_whatsapp_verify_signature(big, sizeof big, SIG_1, secrets, lens, 1, &idx),
             CADUCEUS_WHATSAPP_BODY_TOO_LARGE);
  }

  /* Subscription handshake. */
  {
    caduceus_bytes *echo = NULL;
    CHECK_RC(caduceus_whatsapp_verify_subscription("subscribe", "vt-1", "1158201444", "vt-1", &echo),
             CADUCEUS_OK);
    CHECK(echo != NULL && caduceus_bytes_len(echo) == 10 &&
          strcmp((const char *)caduceus_bytes_data(echo), "1158201444") == 0);
    caduceus_bytes_free(echo);
    echo = NULL;
    CHECK_RC(caduceus_whatsapp_verify_subscription("unsubscribe", "vt-1", "1", "vt-1", &echo),
             CADUCEUS_WHATSAPP_SUBSCRIPTION_MODE);
    CHECK_RC(caduceus_whatsapp_verify_subscription("subscribe", "vt-2", "1", "vt-1", &echo),
             CADUCEUS_WHATSAPP_SUBSCRIPTION_TOKEN);
    CHECK_RC(caduceus_whatsapp_verify_subscription("subscribe", "vt-1", "<b>", "vt-1", &echo),
             CADUCEUS_WHATSAPP_SUBSCRIPTION_CHALLENGE);
    CHECK_RC(caduceus_whatsapp_verify_subscription("subscribe", "", "1", "", &echo),
             CADUCEUS_WHATSAPP_NO_VERIFY_TOKEN);
    CHECK(echo == NULL);
    CHECK_RC(caduceus_whatsapp_verify_subscription(NULL, "vt-1", "1", "vt-1", &echo),
             CADUCEUS_NULL_PARAMETER);
    CHECK_RC(caduceus_whatsapp_verify_subscription("subscribe", "vt-1", "1", "vt-1", NULL),
             CADUCEUS_NULL_PARAMETER);
    CHECK(echo == NULL);
  }

  /* The new codes have messages. */
  {
    char buf[256];
    size_t n = 0;
    CHECK_RC(caduceus_result_message(CADUCEUS_WHATSAPP_SIGNATURE_MISMATCH, (uint8_t *)buf,
                                     sizeof buf, &n),
             CADUCEUS_OK);
    CHECK(n > 10 && strstr(buf, "app secret") != NULL);
  }
  return SUMMARY("test_whatsapp");
}

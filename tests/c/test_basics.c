/* The C ABI's foundation: result messages, last error, bytes, version. */
#include "caduceus.h"
#include "harness.h"

int main(void) {
  char buf[256];
  size_t n = 0;

  /* Every code in the documented ranges has a message or is unknown. */
  CHECK_RC(caduceus_result_message(CADUCEUS_OK, (uint8_t *)buf, sizeof buf, &n), CADUCEUS_OK);
  CHECK(strcmp(buf, "success") == 0 && n == strlen("success"));
  CHECK_RC(caduceus_result_message(CADUCEUS_NO_ACCESS, (uint8_t *)buf, sizeof buf, &n), CADUCEUS_OK);
  CHECK(strlen(buf) == n && n > 10);
  CHECK_RC(caduceus_result_message(99999, (uint8_t *)buf, sizeof buf, &n), CADUCEUS_UNKNOWN_CODE);

  /* Too small a buffer: the required length is reported, nothing overflows. */
  n = 0;
  CHECK_RC(caduceus_result_message(CADUCEUS_NO_ACCESS, (uint8_t *)buf, 4, &n), CADUCEUS_BUFFER_TOO_SMALL);
  CHECK(n > 4);
  CHECK_RC(caduceus_result_message(CADUCEUS_NO_ACCESS, NULL, 0, &n), CADUCEUS_BUFFER_TOO_SMALL);
  CHECK_RC(caduceus_result_message(CADUCEUS_NO_ACCESS, (uint8_t *)buf, sizeof buf, NULL), CADUCEUS_NULL_PARAMETER);

  /* The last error describes the last failure on this thread; asking for
   * its size first (too small a buffer) does not erase it. */
  CHECK_RC(caduceus_result_message(CADUCEUS_NO_ACCESS, (uint8_t *)buf, sizeof buf, NULL), CADUCEUS_NULL_PARAMETER);
  n = 0;
  CHECK_RC(caduceus_last_error(NULL, 0, &n), CADUCEUS_BUFFER_TOO_SMALL);
  CHECK(n > 0);
  {
    size_t needed = n;
    CHECK_RC(caduceus_last_error((uint8_t *)buf, sizeof buf, &n), CADUCEUS_OK);
    CHECK(n == needed && strlen(buf) == n && strstr(buf, "NULL") != NULL);
    /* Reading it twice gives the same detail. */
    CHECK_RC(caduceus_last_error((uint8_t *)buf, sizeof buf, &n), CADUCEUS_OK);
    CHECK(n == needed);
  }
  /* A successful call clears it. */
  CHECK_RC(caduceus_result_message(CADUCEUS_OK, (uint8_t *)buf, sizeof buf, &n), CADUCEUS_OK);
  CHECK_RC(caduceus_last_error((uint8_t *)buf, sizeof buf, &n), CADUCEUS_OK);
  CHECK(n == 0 && buf[0] == '\0');

  /* Version: run time equals the header's macro. */
  CHECK(strcmp(caduceus_version(), CADUCEUS_VERSION) == 0);

  /* NULL is accepted by free and the accessors. */
  caduceus_bytes_free(NULL);
  CHECK(caduceus_bytes_data(NULL) == NULL);
  CHECK(caduceus_bytes_len(NULL) == 0);

  /* Identifiers: pseudonyms and restricted ids pass; names, spaces and phone
     numbers are refused, and the reason never repeats the text. */
  CHECK_RC(caduceus_identifier_check("evt-2026-03-01"), CADUCEUS_OK);
  CHECK_RC(caduceus_identifier_check("p-7f3a91"), CADUCEUS_OK);
  CHECK_RC(caduceus_identifier_check("Max Mustermann"), CADUCEUS_INVALID_IDENTIFIER);
  CHECK_RC(caduceus_last_error((uint8_t *)buf, sizeof buf, &n), CADUCEUS_OK);
  CHECK(n > 10 && strstr(buf, "Mustermann") == NULL);
  CHECK_RC(caduceus_identifier_check("+491701234567"), CADUCEUS_INVALID_IDENTIFIER);
  CHECK_RC(caduceus_identifier_check("491701234567"), CADUCEUS_INVALID_IDENTIFIER);
  CHECK_RC(caduceus_identifier_check(""), CADUCEUS_INVALID_IDENTIFIER);
  CHECK_RC(caduceus_identifier_check(NULL), CADUCEUS_NULL_PARAMETER);
  CHECK_RC(caduceus_identifier_check("\xff\xfe"), CADUCEUS_INVALID_UTF8);

  return SUMMARY("test_basics");
}

/* Cross-language check (scripts/bindings-test.sh): the C ABI (libcaduceus)
 * opens the envelope the Python suite sealed with the uniffi bindings,
 * through the keyring record and the staff key Python wrote beside it.
 * Usage: open_python_envelope DIR   (DIR holds py-sealed.env,
 * py-record.bin, py-staff.key and py-plain.bin). Prints
 * "c-cross-language: N passed, M failed". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caduceus.h"

static int passed, failed;

static void check(int ok, const char *what) {
  if (ok) {
    passed++;
  } else {
    failed++;
    fprintf(stderr, "FAILED: %s\n", what);
  }
}

static unsigned char *slurp(const char *dir, const char *name, size_t *len) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    return NULL;
  }
  size_t cap = 1 << 16, n = 0, got;
  unsigned char *buf = malloc(cap + 1);
  while (buf != NULL && (got = fread(buf + n, 1, cap - n, f)) > 0) {
    n += got;
    if (n == cap) {
      unsigned char *bigger = realloc(buf, 2 * cap + 1);
      if (bigger == NULL) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = bigger;
      cap *= 2;
    }
  }
  fclose(f);
  if (buf != NULL) {
    buf[n] = 0; /* text files become C strings */
  }
  *len = n;
  return buf;
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "target/bindings-xlang";
  size_t env_len = 0, rec_len = 0, key_len = 0, plain_len = 0;
  unsigned char *env = slurp(dir, "py-sealed.env", &env_len);
  unsigned char *rec = slurp(dir, "py-record.bin", &rec_len);
  unsigned char *key = slurp(dir, "py-staff.key", &key_len);
  unsigned char *plain = slurp(dir, "py-plain.bin", &plain_len);
  caduceus_keyring_record *record = NULL;
  caduceus_private_key *staff = NULL;
  caduceus_bytes *opened = NULL;
  check(env && rec && key && plain, "read the files the Python suite wrote");
  if (env && rec && key && plain) {
    check(caduceus_keyring_record_from_bytes(rec, rec_len, &record) == CADUCEUS_OK,
          "decode the keyring record Python created");
    check(caduceus_private_key_from_secret((const char *)key, &staff) == CADUCEUS_OK,
          "parse the staff key Python exported");
    if (record && staff) {
      check(caduceus_envelope_open_with_keyring(env, env_len, record, staff, &opened) ==
                CADUCEUS_OK,
            "open the Python envelope through the keyring");
      check(opened != NULL && caduceus_bytes_len(opened) == plain_len &&
                memcmp(caduceus_bytes_data(opened), plain, plain_len) == 0,
            "the plaintext is what Python sealed");
      env[env_len - 1] ^= 1;
      caduceus_bytes *refused = NULL;
      check(caduceus_envelope_open_with_keyring(env, env_len, record, staff, &refused) ==
                CADUCEUS_SEGMENT_CORRUPTED && refused == NULL,
            "a flipped bit in the Python envelope is refused");
    }
  }
  caduceus_bytes_free(opened);
  caduceus_private_key_free(staff);
  caduceus_keyring_record_free(record);
  free(env);
  free(rec);
  free(key);
  free(plain);
  printf("c-cross-language: %d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}

/* Minimal test harness for the C ABI tests: CHECK records a pass or a
 * failure with its line; SUMMARY prints the closing line "N passed, N failed"
 * and returns the exit status. */
#ifndef CADUCEUS_TEST_HARNESS_H
#define CADUCEUS_TEST_HARNESS_H

#include <stdio.h>
#include <string.h>

static int harness_passed = 0;
static int harness_failed = 0;

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (cond) {                                                                \
      harness_passed++;                                                        \
    } else {                                                                   \
      harness_failed++;                                                        \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                          \
  } while (0)

/* CHECK_RC(call, expected): the call returns the expected caduceus_result. */
#define CHECK_RC(call, expected)                                               \
  do {                                                                         \
    caduceus_result rc_ = (call);                                              \
    if (rc_ == (expected)) {                                                   \
      harness_passed++;                                                        \
    } else {                                                                   \
      harness_failed++;                                                        \
      fprintf(stderr, "%s:%d: %s returned %u, expected %u (%s)\n", __FILE__,   \
              __LINE__, #call, (unsigned)rc_, (unsigned)(expected),            \
              #expected);                                                      \
    }                                                                          \
  } while (0)

#define SUMMARY(name)                                                          \
  (printf("%s: %d passed, %d failed\n", (name), harness_passed,                \
          harness_failed),                                                     \
   harness_failed == 0 ? 0 : 1)

#endif

/* A small test framework for programs that test the kernel from user mode
 * (like seL4's sel4test): each test is a function; CHECK records a failure
 * with its line and goes on; the runner prints one line per test and ends
 * with "N passed, N failed", then shuts the machine down with the result. */
#ifndef NEWSYS_KTEST_H
#define NEWSYS_KTEST_H

#include <stdio.h>

#include "user/rt/newsys.h"

extern int ktest_failures;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            printf("    check failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);                   \
            ktest_failures++;                                                                      \
        }                                                                                          \
    } while (0)

/* Expect a system call to return `want`. */
#define CHECK_ERR(call, want)                                                                      \
    do {                                                                                           \
        long got_ = (call);                                                                        \
        if (got_ != (want)) {                                                                      \
            printf("    %s: got %ld (%s), want %s (%s:%d)\n", #call, got_, ns_strerror(got_),      \
                   #want, __FILE__, __LINE__);                                                     \
            ktest_failures++;                                                                      \
        }                                                                                          \
    } while (0)

#define CHECK_OK(call) CHECK_ERR(call, NS_OK)

/* The number after `key` (say "seed=") on the kernel command line, or
 * `dflt` when it is not there. */
uint64_t ktest_cmdline_u64(const char *key, uint64_t dflt);

struct ktest {
    const char *name;
    void (*fn)(void);
};

/* Suites in other files, run after tests_main.c's own. */
extern const struct ktest storage_tests[];
extern const unsigned storage_test_count;
extern const struct ktest crash_tests[];
extern const unsigned crash_test_count;
extern const struct ktest stress_tests[];
extern const unsigned stress_test_count;

#endif

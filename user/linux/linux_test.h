/*
 * linux_test.h: what the Linux personality's C test programs share
 * (lintest, sigtest, proctest, linfuzz). Define TEST_NAME (the prefix of
 * each failure line) before including it.
 *
 * raw(n, args...): a raw `syscall` with up to six arguments (the missing
 * ones 0), returning the kernel's answer as it is (-errno, no errno).
 * CHECK(cond, fmt, ...) counts and prints a failure; EXPECT(call, want)
 * checks a call's value.
 */
#ifndef LINUX_TEST_H
#define LINUX_TEST_H

#include <stdio.h>

static int failures __attribute__((unused));

static long __attribute__((unused))
raw_call(long n, long a, long b, long c, long d, long e, long f, ...)
{
    long ret;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}

#define raw(...) raw_call(__VA_ARGS__, 0L, 0L, 0L, 0L, 0L, 0L)

#define CHECK(cond, ...)                                                        \
    do {                                                                        \
        if (!(cond)) {                                                          \
            failures++;                                                         \
            printf(TEST_NAME ": FAIL line %d: ", __LINE__);                     \
            printf(__VA_ARGS__);                                                \
            printf("\n");                                                       \
        }                                                                       \
    } while (0)

#define EXPECT(call, want)                                                      \
    do {                                                                        \
        long got_ = (call);                                                     \
        CHECK(got_ == (long)(want), "%s = %ld, expected %ld", #call, got_,      \
              (long)(want));                                                    \
    } while (0)

#endif

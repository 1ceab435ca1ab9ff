/* test.h - the few macros every C test uses.
 *
 * A test program calls TEST("name") before each case and CHECK(...) inside
 * it; each case prints one line, "PASS name" or "FAIL name: why", and
 * test/run.sh counts them. A program that crashes counts as one failure.
 * SKIP("why") marks the current case skipped. The exit status is 1 when a
 * case failed. */
#ifndef NN_TEST_H
#define NN_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *test_name_;
static char test_name_buf_[256]; /* TEST copies the name: callers may pass a temporary */
static int test_failed_, test_case_failed_, test_skipped_;

static void test_end_(void)
{
    if (!test_name_)
        return;
    if (test_skipped_)
        ;
    else if (!test_case_failed_)
        printf("PASS %s\n", test_name_);
    fflush(stdout);
    test_name_ = NULL;
}

static void test_set_name_(const char *name)
{
    size_t n = strlen(name);
    if (n >= sizeof test_name_buf_)
        n = sizeof test_name_buf_ - 1;
    memcpy(test_name_buf_, name, n);
    test_name_buf_[n] = 0;
    test_name_ = test_name_buf_;
}

#define TEST(name)                                                            \
    do {                                                                      \
        test_end_();                                                          \
        test_set_name_(name);                                                 \
        test_case_failed_ = test_skipped_ = 0;                                \
    } while (0)

#define FAILF(...)                                                            \
    do {                                                                      \
        if (!test_case_failed_) {                                             \
            printf("FAIL %s: ", test_name_ ? test_name_ : "?");               \
            printf(__VA_ARGS__);                                              \
            printf(" (%s:%d)\n", __FILE__, __LINE__);                         \
        }                                                                     \
        test_case_failed_ = test_failed_ = 1;                                 \
    } while (0)

#define CHECK(cond)                                                           \
    do {                                                                      \
        if (!(cond))                                                          \
            FAILF("%s", #cond);                                               \
    } while (0)

#define CHECK_MSG(cond, ...)                                                  \
    do {                                                                      \
        if (!(cond))                                                          \
            FAILF(__VA_ARGS__);                                               \
    } while (0)

#define SKIP(why)                                                             \
    do {                                                                      \
        printf("SKIP %s: %s\n", test_name_, (why));                           \
        test_skipped_ = 1;                                                    \
    } while (0)

/* Largest |a-b| / (atol/rtol + rtol*|b|)-style error: returns the index of
 * the first element off by more than atol + rtol*|b|, or -1. */
static inline long test_close(const float *a, const float *b, long n,
                              double atol, double rtol, double *maxdiff)
{
    long bad = -1;
    double m = 0;
    for (long i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > m || d != d)
            m = d != d ? INFINITY : d;
        if ((d > atol + rtol * fabs((double)b[i]) || d != d) && bad < 0)
            bad = i;
    }
    if (maxdiff)
        *maxdiff = m;
    return bad;
}

static inline int test_done(void)
{
    test_end_();
    return test_failed_;
}

#endif

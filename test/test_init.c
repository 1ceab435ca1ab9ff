/* test_init.c - initializers: the sample mean and standard deviation of
 * every random initializer on 1e5 values against its formula, the bounds
 * of the uniform ones and of the truncated normal, the constant ones,
 * reproducibility from a seed, and the text form (round trip, aliases,
 * errors). */
#include "nn.h"
#include "test.h"

#include <stdarg.h>

/* TEST keeps the name's pointer until the next TEST prints it: formatted
 * names live in two static buffers used in turn. */
static const char *case_name(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static const char *case_name(const char *fmt, ...)
{
    static char buf[2][256];
    static int k;
    va_list ap;
    k ^= 1;
    va_start(ap, fmt);
    vsnprintf(buf[k], sizeof buf[k], fmt, ap);
    va_end(ap);
    return buf[k];
}

#define N 100000

typedef struct {
    double mean, std, min, max, beyond2; /* beyond2: fraction |x| > 2 std_want */
} stats;

static stats sample_stats(const float *w, size_t n, double std_want)
{
    stats s = {0, 0, INFINITY, -INFINITY, 0};
    double sum = 0, sq = 0;
    for (size_t i = 0; i < n; i++) {
        sum += w[i];
        s.min = fmin(s.min, w[i]);
        s.max = fmax(s.max, w[i]);
        s.beyond2 += fabs(w[i]) > 2 * std_want;
    }
    s.mean = sum / n;
    for (size_t i = 0; i < n; i++)
        sq += (w[i] - s.mean) * (w[i] - s.mean);
    s.std = sqrt(sq / (n - 1));
    s.beyond2 /= n;
    return s;
}

/* Fills N values from text with the given fans and checks: mean within 5
 * standard errors of 0, std within 1% of std_want (the standard error of a
 * sample std of 1e5 values is 0.15-0.23%), and for uniform ones every value
 * in [-bound, bound] with both ends reached within 0.1%. */
static void random_case(const char *text, int fan_in, int fan_out,
                        double std_want, double bound)
{
    nn_init init;
    nn_error e;
    nn_rng r;
    static float w[N];
    TEST(case_name("%s (fan_in %d, fan_out %d): mean 0, std %.5g%s", text,
             fan_in, fan_out, std_want, bound > 0 ? ", within the bounds" : ""));
    if (nn_init_parse(&init, text, &e) < 0) {
        FAILF("%s", e.msg);
        return;
    }
    nn_rng_seed(&r, 42);
    nn_init_fill(init, w, N, fan_in, fan_out, &r);
    stats s = sample_stats(w, N, std_want);
    CHECK_MSG(fabs(s.mean) < 5 * std_want / sqrt(N), "mean %.4g", s.mean);
    CHECK_MSG(fabs(s.std / std_want - 1) < 0.01, "std %.5g, want %.5g", s.std, std_want);
    if (bound > 0) {
        CHECK_MSG(s.min >= -bound && s.max <= bound, "values in [%g, %g], bound %g",
                  s.min, s.max, bound);
        CHECK_MSG(s.min < -0.999 * bound && s.max > 0.999 * bound,
                  "values in [%g, %g] do not reach the bound %g", s.min, s.max, bound);
    }
}

static void random_inits(void)
{
    random_case("normal:0.5", 10, 10, 0.5, 0);
    random_case("uniform:0.3", 10, 10, 0.3 / sqrt(3), 0.3);
    random_case("xavier", 300, 200, sqrt(2.0 / 500), 0);
    random_case("xavier-normal", 27, 64, sqrt(2.0 / 91), 0);
    random_case("xavier-uniform", 300, 200, sqrt(6.0 / 500) / sqrt(3), sqrt(6.0 / 500));
    random_case("he", 300, 200, sqrt(2.0 / 300), 0);
    random_case("he-normal", 4608, 4608, sqrt(2.0 / 4608), 0);
    random_case("he-uniform", 300, 200, sqrt(6.0 / 300) / sqrt(3), sqrt(6.0 / 300));
    /* the std of N(0,1) cut at +-2: sqrt(1 - 4 phi(2) / (2 Phi(2) - 1)) */
    double phi2 = exp(-2.0) / sqrt(2 * M_PI), Phi2 = 0.5 * (1 + erf(2 / sqrt(2.0)));
    double tstd = sqrt(1 - 4 * phi2 / (2 * Phi2 - 1)); /* 0.8796 */
    random_case("tnormal:0.1", 10, 10, 0.1 * tstd, 0);

    static float w[N];
    nn_init init;
    nn_rng r;
    TEST("tnormal:0.1: no value beyond 2 std (0.2), none lost at the edge");
    nn_init_parse(&init, "tnormal:0.1", NULL);
    nn_rng_seed(&r, 1);
    nn_init_fill(init, w, N, 1, 1, &r);
    stats s = sample_stats(w, N, 0.1);
    CHECK_MSG(s.min >= -0.2f && s.max <= 0.2f, "values in [%g, %g]", s.min, s.max);
    CHECK_MSG(s.min < -0.199 && s.max > 0.199, "values in [%g, %g]", s.min, s.max);

    TEST("normal:0.1 is not truncated: 4.55% of values beyond 2 std");
    nn_init_parse(&init, "normal:0.1", NULL);
    nn_rng_seed(&r, 1);
    nn_init_fill(init, w, N, 1, 1, &r);
    s = sample_stats(w, N, 0.1);
    CHECK_MSG(fabs(s.beyond2 - 0.0455) < 0.004, "%.4f beyond 2 std", s.beyond2);

    TEST("default fills as he-normal");
    nn_init def = {NN_INIT_DEFAULT, 0};
    nn_rng_seed(&r, 2);
    nn_init_fill(def, w, N, 50, 10, &r);
    s = sample_stats(w, N, sqrt(2.0 / 50));
    CHECK_MSG(fabs(s.std / sqrt(2.0 / 50) - 1) < 0.01, "std %g", s.std);

    TEST("the same seed gives the same values, another seed others");
    static float w2[N];
    nn_init_parse(&init, "he-uniform", NULL);
    nn_rng_seed(&r, 9);
    nn_init_fill(init, w, 1000, 20, 20, &r);
    nn_rng_seed(&r, 9);
    nn_init_fill(init, w2, 1000, 20, 20, &r);
    CHECK(memcmp(w, w2, 1000 * sizeof(float)) == 0);
    nn_rng_seed(&r, 10);
    nn_init_fill(init, w2, 1000, 20, 20, &r);
    CHECK(memcmp(w, w2, 1000 * sizeof(float)) != 0);

    TEST("fans below 1 count as 1 (no division by zero)");
    nn_rng_seed(&r, 3);
    nn_init_fill(init, w, 1000, 0, 0, &r);
    s = sample_stats(w, 1000, 1);
    CHECK_MSG(isfinite(s.std) && s.max <= sqrt(6.0), "max %g", s.max);
}

static void constant_inits(void)
{
    static float w[1000];
    nn_init init;
    nn_error e;
    TEST("zeros, constant:V and a bare number fill every value exactly");
    const char *texts[] = {"zeros", "constant:0.25", "-1.5", "constant:-3e-2", "0"};
    const float want[] = {0, 0.25f, -1.5f, -3e-2f, 0};
    for (int k = 0; k < 5; k++) {
        CHECK_MSG(nn_init_parse(&init, texts[k], &e) == 0, "%s: %s", texts[k], e.msg);
        for (int i = 0; i < 1000; i++)
            w[i] = 7;
        nn_init_fill(init, w, 1000, 3, 3, NULL); /* no randomness needed */
        int ok = 1;
        for (int i = 0; i < 1000; i++)
            ok &= w[i] == want[k];
        CHECK_MSG(ok, "%s: w[0] = %g", texts[k], w[0]);
    }
}

/* text parses to (kind, a) and formats back to canonical, which parses to
 * the same (kind, a). */
static void round_trip(const char *text, nn_init_kind kind, float a,
                       const char *canonical)
{
    nn_init init, back;
    nn_error e;
    char buf[64];
    int rc = nn_init_parse(&init, text, &e);
    CHECK_MSG(rc == 0, "%s: %s", text, e.msg);
    if (rc)
        return;
    CHECK_MSG(init.kind == kind && init.a == a, "%s: kind %d, a %g", text, init.kind, init.a);
    nn_init_format(init, buf, sizeof buf);
    CHECK_MSG(strcmp(buf, canonical) == 0, "%s formats as '%s', not '%s'", text, buf, canonical);
    CHECK_MSG(nn_init_parse(&back, buf, &e) == 0 && back.kind == init.kind && back.a == init.a,
              "'%s' does not read back", buf);
}

static void text_forms(void)
{
    TEST("parse and format round-trip, aliases included");
    round_trip("zeros", NN_INIT_ZEROS, 0, "zeros");
    round_trip("constant:0.1", NN_INIT_CONSTANT, 0.1f, "constant:0.1");
    round_trip("0.1", NN_INIT_CONSTANT, 0.1f, "constant:0.1");
    round_trip("-2", NN_INIT_CONSTANT, -2, "constant:-2");
    round_trip("constant:1e-7", NN_INIT_CONSTANT, 1e-7f, "constant:1e-07");
    round_trip("normal:0.02", NN_INIT_NORMAL, 0.02f, "normal:0.02");
    round_trip("tnormal:0.1", NN_INIT_TNORMAL, 0.1f, "tnormal:0.1");
    round_trip("uniform:0.05", NN_INIT_UNIFORM, 0.05f, "uniform:0.05");
    round_trip("uniform:0.123456789", NN_INIT_UNIFORM, 0.123456789f, "uniform:0.12345679");
    round_trip("xavier", NN_INIT_XAVIER_NORMAL, 0, "xavier-normal");
    round_trip("xavier-normal", NN_INIT_XAVIER_NORMAL, 0, "xavier-normal");
    round_trip("xavier-uniform", NN_INIT_XAVIER_UNIFORM, 0, "xavier-uniform");
    round_trip("he", NN_INIT_HE_NORMAL, 0, "he-normal");
    round_trip("he-normal", NN_INIT_HE_NORMAL, 0, "he-normal");
    round_trip("he-uniform", NN_INIT_HE_UNIFORM, 0, "he-uniform");
    round_trip("default", NN_INIT_DEFAULT, 0, "default");

    TEST("format of every kind reads back (random values)");
    nn_rng r;
    nn_rng_seed(&r, 5);
    for (int k = NN_INIT_DEFAULT; k <= NN_INIT_HE_UNIFORM; k++)
        for (int i = 0; i < 200; i++) {
            nn_init init = {(nn_init_kind)k, 0}, back;
            char buf[64];
            nn_error e;
            if (k == NN_INIT_CONSTANT || k == NN_INIT_NORMAL || k == NN_INIT_TNORMAL ||
                k == NN_INIT_UNIFORM)
                init.a = (float)(fabs(nn_rng_normal(&r)) * pow(10, (int)(nn_rng_uniform(&r) * 12) - 6));
            nn_init_format(init, buf, sizeof buf);
            int rc = nn_init_parse(&back, buf, &e);
            CHECK_MSG(rc == 0 && back.kind == init.kind && back.a == init.a,
                      "kind %d a %.9g -> '%s' -> %s", k, init.a, buf, rc ? e.msg : "another value");
        }
}

/* A bad text fails, quotes itself and says what is expected. */
static void error_case(const char *text, const char *expect)
{
    nn_init init = {NN_INIT_HE_UNIFORM, 3};
    nn_error e = {{0}};
    TEST(case_name("init error: '%s'", text));
    CHECK(nn_init_parse(&init, text, &e) == -1);
    CHECK_MSG(strstr(e.msg, text) != NULL, "message does not quote the text: %s", e.msg);
    CHECK_MSG(strstr(e.msg, expect) != NULL, "message lacks '%s': %s", expect, e.msg);
    CHECK_MSG(init.kind == NN_INIT_HE_UNIFORM && init.a == 3, "init changed on error");
}

static void errors(void)
{
    const char *forms = "zeros, constant:V (or a number V), normal:STD, tnormal:STD, "
                        "uniform:A, xavier (= xavier-normal), xavier-uniform, "
                        "he (= he-normal), he-uniform";
    error_case("glorot", forms);
    error_case("", forms);
    error_case("He", forms);
    error_case("nan", forms);
    error_case("1e99", forms); /* not a finite float */
    error_case("normal", "normal:STD");
    error_case("tnormal", "tnormal:STD");
    error_case("constant", "constant:V");
    error_case("uniform:", "A must be a number");
    error_case("normal:x", "STD must be a number");
    error_case("normal:0.1x", "STD must be a number");
    error_case("normal:-0.1", "STD must be >= 0");
    error_case("uniform:-1", "A must be >= 0");
    error_case("tnormal:inf", "STD must be a number");
    error_case("he-normal:2", forms);
}

int main(void)
{
    random_inits();
    constant_inits();
    text_forms();
    errors();
    return test_done();
}

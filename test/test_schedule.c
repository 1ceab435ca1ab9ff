/* test_schedule.c - learning-rate schedules: constant, step decay and
 * cosine annealing give the formulas of torch.optim.lr_scheduler (StepLR,
 * CosineAnnealingLR with T_max = epochs) epoch by epoch, the linear
 * warm-up multiplies by min(1, (step+1)/warmup), and bad texts are errors
 * that list the valid forms. */
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

static nn_schedule parse(const char *text)
{
    nn_schedule s;
    nn_error e;
    memset(&s, 0x55, sizeof s);
    if (nn_schedule_parse(&s, text, &e) < 0)
        FAILF("%s: %s", text, e.msg);
    return s;
}

static int close_to(double got, double want)
{
    return fabs(got - want) <= 1e-7 * fabs(want) + 1e-12;
}

#define CHECK_LR(s, base, epoch, epochs, step, want)                          \
    do {                                                                      \
        float got_ = nn_schedule_lr(&(s), (base), (epoch), (epochs), (step)); \
        CHECK_MSG(close_to(got_, (want)),                                     \
                  "epoch %d of %d, step %ld: lr %.9g, want %.9g", (epoch),    \
                  (epochs), (long)(step), got_, (double)(want));              \
    } while (0)

static void constant(void)
{
    TEST("constant: the base rate at every epoch and step");
    nn_schedule s = parse("constant");
    CHECK(s.kind == NN_SCHED_CONSTANT && s.warmup == 0);
    for (int ep = 0; ep < 50; ep += 7)
        CHECK_LR(s, 0.1f, ep, 50, ep * 1000L, 0.1f);
}

static void step_decay(void)
{
    TEST("step:10:0.5: lr * 0.5^floor(epoch/10)");
    nn_schedule s = parse("step:10:0.5");
    CHECK(s.kind == NN_SCHED_STEP && s.every == 10 && s.gamma == 0.5f);
    for (int ep = 0; ep < 45; ep++)
        CHECK_LR(s, 0.2f, ep, 45, 0, 0.2f * pow(0.5, ep / 10));
    CHECK_LR(s, 0.2f, 9, 45, 0, 0.2f);
    CHECK_LR(s, 0.2f, 10, 45, 0, 0.1f);
    CHECK_LR(s, 0.2f, 29, 45, 0, 0.05f);

    TEST("step:3: gamma defaults to 0.1 (StepLR)");
    s = parse("step:3");
    CHECK(s.kind == NN_SCHED_STEP && s.every == 3 && s.gamma == 0.1f);
    CHECK_LR(s, 1.0f, 2, 10, 0, 1.0f);
    CHECK_LR(s, 1.0f, 3, 10, 0, 0.1f);
    CHECK_LR(s, 1.0f, 7, 10, 0, pow(0.1f, 2));
}

static void cosine(void)
{
    TEST("cosine: base at epoch 0, half at epochs/2, 0 at the end, falling");
    nn_schedule s = parse("cosine");
    CHECK(s.kind == NN_SCHED_COSINE && s.min_lr == 0);
    CHECK_LR(s, 0.1f, 0, 20, 0, 0.1f);
    CHECK_LR(s, 0.1f, 10, 20, 0, 0.05f);
    CHECK_LR(s, 0.1f, 20, 20, 0, 0.0f);
    float prev = INFINITY;
    for (int ep = 0; ep <= 20; ep++) {
        float lr = nn_schedule_lr(&s, 0.1f, ep, 20, 0);
        CHECK_MSG(lr < prev, "epoch %d: %g after %g", ep, lr, prev);
        CHECK_LR(s, 0.1f, ep, 20, 0, 0.1 * (1 + cos(M_PI * ep / 20)) / 2);
        prev = lr;
    }

    TEST("cosine:0.001: anneals to MIN_LR (CosineAnnealingLR eta_min)");
    s = parse("cosine:0.001");
    CHECK(s.kind == NN_SCHED_COSINE && s.min_lr == 0.001f);
    for (int ep = 0; ep <= 30; ep += 3)
        CHECK_LR(s, 0.1f, ep, 30, 0,
                 (double)0.001f + (0.1f - (double)0.001f) * (1 + cos(M_PI * ep / 30)) / 2);
    CHECK_LR(s, 0.1f, 30, 30, 0, 0.001f);
    CHECK_LR(s, 0.1f, 31, 30, 0, 0.001f); /* past the end: stays at MIN_LR */
}

static void warmup(void)
{
    TEST("constant,warmup:100: lr * min(1, (step+1)/100)");
    nn_schedule s = parse("constant,warmup:100");
    CHECK(s.kind == NN_SCHED_CONSTANT && s.warmup == 100);
    CHECK_LR(s, 0.5f, 0, 10, 0, 0.5f / 100);
    CHECK_LR(s, 0.5f, 0, 10, 49, 0.5f * 0.5);
    CHECK_LR(s, 0.5f, 0, 10, 98, 0.5f * 0.99);
    CHECK_LR(s, 0.5f, 0, 10, 99, 0.5f);
    CHECK_LR(s, 0.5f, 3, 10, 100000, 0.5f);

    TEST("cosine:0.01,warmup:10 and step:2,warmup:4: the warm-up multiplies the schedule");
    s = parse("cosine:0.01,warmup:10");
    CHECK(s.kind == NN_SCHED_COSINE && s.min_lr == 0.01f && s.warmup == 10);
    double c = (double)0.01f + (1 - (double)0.01f) * (1 + cos(M_PI * 5 / 20)) / 2;
    CHECK_LR(s, 1.0f, 5, 20, 4, c * 0.5);
    CHECK_LR(s, 1.0f, 5, 20, 10, c);
    s = parse("step:2,warmup:4");
    CHECK(s.kind == NN_SCHED_STEP && s.every == 2 && s.gamma == 0.1f && s.warmup == 4);
    CHECK_LR(s, 1.0f, 2, 10, 1, 0.1 * 0.5);

    TEST("warmup:5 alone: constant with a warm-up");
    s = parse("warmup:5");
    CHECK(s.kind == NN_SCHED_CONSTANT && s.warmup == 5);
    CHECK_LR(s, 1.0f, 0, 10, 0, 0.2);
    CHECK_LR(s, 1.0f, 0, 10, 4, 1.0);
}

/* A bad text fails, quotes itself, says what is expected and leaves s. */
static void error_case(const char *text, const char *expect)
{
    nn_schedule s = {NN_SCHED_STEP, 7, 0.5f, 0, 3};
    nn_error e = {{0}};
    TEST(case_name("schedule error: '%s'", text));
    CHECK(nn_schedule_parse(&s, text, &e) == -1);
    CHECK_MSG(strstr(e.msg, text) != NULL, "message does not quote the text: %s", e.msg);
    CHECK_MSG(strstr(e.msg, expect) != NULL, "message lacks '%s': %s", expect, e.msg);
    CHECK_MSG(s.kind == NN_SCHED_STEP && s.every == 7 && s.warmup == 3, "s changed on error");
}

static void errors(void)
{
    const char *forms = "constant, step:EVERY[:GAMMA], cosine[:MIN_LR]";
    error_case("linear", forms);
    error_case("", forms);
    error_case("constant:3", forms);
    error_case("cosinex", forms);
    error_case("step", "step:EVERY[:GAMMA]");
    error_case("step:0", "EVERY");
    error_case("step:2.5", "EVERY");
    error_case("step:x", "EVERY");
    error_case("step:2:0", "GAMMA must be a number > 0");
    error_case("step:2:x", "GAMMA must be a number > 0");
    error_case("step:2:0.5:1", "GAMMA");
    error_case("cosine:-1", "MIN_LR must be a number >= 0");
    error_case("cosine:", "MIN_LR");
    error_case("constant,warmup:x", "whole number");
    error_case("constant,warmup:-5", "whole number");
    error_case("constant,warmup:", "whole number");
    error_case("constant,cool:3", "warmup:STEPS");
    error_case("constant,", "warmup:STEPS");
    error_case("warmup:5,cosine", "nothing may follow");
}

int main(void)
{
    constant();
    step_decay();
    cosine();
    warmup();
    errors();
    return test_done();
}

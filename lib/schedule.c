/* schedule.c - learning-rate schedules by epoch, with an optional linear
 * warm-up by step.
 *
 *   constant              lr
 *   step:EVERY[:GAMMA]    lr * GAMMA^floor(epoch/EVERY)    (GAMMA 0.1)
 *   cosine[:MIN_LR]       MIN + (lr - MIN) (1 + cos(pi epoch/epochs)) / 2
 *   ...,warmup:STEPS      times min(1, (step+1)/STEPS)
 *
 * "warmup:STEPS" alone is the constant schedule with a warm-up. epoch and
 * step count from 0. */
#include "nn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SCHEDULE_FORMS                                                        \
    "constant, step:EVERY[:GAMMA], cosine[:MIN_LR], each optionally "         \
    "followed by ,warmup:STEPS"

/* A number that is all of text[0..len); 0 when it is not one. */
static int parse_number(const char *text, size_t len, double *out)
{
    char buf[64], *end;
    if (len == 0 || len >= sizeof buf)
        return 0;
    memcpy(buf, text, len);
    buf[len] = 0;
    double v = strtod(buf, &end);
    if (*end || !isfinite(v))
        return 0;
    *out = v;
    return 1;
}

/* Parses "warmup:STEPS" (the whole of text[0..len)) into s->warmup. */
static int parse_warmup(nn_schedule *s, const char *full, const char *text,
                        size_t len, nn_error *e)
{
    double v;
    if (len < 7 || strncmp(text, "warmup:", 7) != 0)
        return nn_fail(e, "schedule '%s': '%.*s' is not warmup:STEPS; use %s",
                       full, (int)len, text, SCHEDULE_FORMS);
    if (!parse_number(text + 7, len - 7, &v) || v < 0 || v != floor(v) || v > 1e15)
        return nn_fail(e, "schedule '%s': warm-up STEPS must be a whole number "
                       ">= 0, not '%.*s'", full, (int)len - 7, text + 7);
    s->warmup = (long)v;
    return 0;
}

int nn_schedule_parse(nn_schedule *s, const char *text, nn_error *e)
{
    nn_schedule t = {NN_SCHED_CONSTANT, 1, 0.1f, 0.0f, 0};
    size_t len = strcspn(text, ","); /* the schedule proper */
    size_t name = strcspn(text, ":,");
    double v;

    if (name == len && len == 8 && strncmp(text, "constant", 8) == 0) {
        t.kind = NN_SCHED_CONSTANT;
    } else if (name == 4 && strncmp(text, "step", 4) == 0) {
        /* step:EVERY[:GAMMA] */
        const char *a = text + name + (name < len), *stop = text + len;
        size_t n1 = strcspn(a, ":,");
        if (name == len || !parse_number(a, n1, &v) || v < 1 || v != floor(v) || v > 1e9)
            return nn_fail(e, "schedule '%s': step needs EVERY, a whole number of "
                           "epochs >= 1: step:EVERY[:GAMMA]", text);
        t.kind = NN_SCHED_STEP;
        t.every = (int)v;
        if (a + n1 < stop) {
            const char *b = a + n1 + 1;
            if (!parse_number(b, (size_t)(stop - b), &v) || v <= 0)
                return nn_fail(e, "schedule '%s': GAMMA must be a number > 0, not '%.*s'",
                               text, (int)(stop - b), b);
            t.gamma = (float)v;
        }
    } else if (name == 6 && strncmp(text, "cosine", 6) == 0) {
        /* cosine[:MIN_LR] */
        t.kind = NN_SCHED_COSINE;
        if (name < len) {
            const char *b = text + 7;
            if (!parse_number(b, len - 7, &v) || v < 0)
                return nn_fail(e, "schedule '%s': MIN_LR must be a number >= 0, not '%.*s'",
                               text, (int)(len - 7), b);
            t.min_lr = (float)v;
        }
    } else if (name == 6 && strncmp(text, "warmup", 6) == 0) {
        /* warmup:STEPS alone: constant with a warm-up */
        if (parse_warmup(&t, text, text, len, e) < 0)
            return -1;
        if (text[len])
            return nn_fail(e, "schedule '%s': nothing may follow warmup:STEPS", text);
    } else {
        return nn_fail(e, "schedule '%s' is not valid; use %s", text, SCHEDULE_FORMS);
    }
    if (text[len] == ',') {
        const char *w = text + len + 1;
        if (parse_warmup(&t, text, w, strlen(w), e) < 0)
            return -1;
    }
    *s = t;
    return 0;
}

/* The learning rate for epoch (0-based, of epochs) and global step
 * (0-based) from the base rate. */
float nn_schedule_lr(const nn_schedule *s, float base, int epoch, int epochs,
                     long step)
{
    double lr = base;
    switch (s->kind) {
    case NN_SCHED_CONSTANT:
        break;
    case NN_SCHED_STEP:
        lr = base * pow(s->gamma, floor((double)epoch / (s->every > 0 ? s->every : 1)));
        break;
    case NN_SCHED_COSINE: {
        double f = epochs > 0 ? (double)epoch / epochs : 0;
        f = f < 0 ? 0 : f > 1 ? 1 : f;
        lr = s->min_lr + (base - s->min_lr) * (1 + cos(M_PI * f)) / 2;
        break;
    }
    }
    if (s->warmup > 0 && step + 1 < s->warmup)
        lr *= (double)(step + 1) / s->warmup;
    return (float)lr;
}

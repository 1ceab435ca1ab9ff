/* init.c - parameter initializers: their text form and filling a tensor.
 *
 * Forms (nn_init_parse):
 *   zeros                 0
 *   constant:V, or V      V
 *   normal:STD            N(0, STD^2)
 *   tnormal:STD           N(0, STD^2), any value beyond 2 STD drawn again
 *                         (TensorFlow's truncated_normal; std ~0.88 STD)
 *   uniform:A             U(-A, A)
 *   xavier-normal         std sqrt(2 / (fan_in + fan_out))   (xavier)
 *   xavier-uniform        U(-b, b), b = sqrt(6 / (fan_in + fan_out))
 *   he-normal             std sqrt(2 / fan_in)                (he)
 *   he-uniform            U(-b, b), b = sqrt(6 / fan_in)
 *   default               the layer's default (the model resolves it)
 */
#include "nn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define INIT_FORMS                                                            \
    "zeros, constant:V (or a number V), normal:STD, tnormal:STD, "           \
    "uniform:A, xavier (= xavier-normal), xavier-uniform, he (= he-normal), " \
    "he-uniform"

static const struct {
    const char *name;
    nn_init_kind kind;
} named[] = {
    {"zeros", NN_INIT_ZEROS},
    {"xavier", NN_INIT_XAVIER_NORMAL},
    {"xavier-normal", NN_INIT_XAVIER_NORMAL},
    {"xavier-uniform", NN_INIT_XAVIER_UNIFORM},
    {"he", NN_INIT_HE_NORMAL},
    {"he-normal", NN_INIT_HE_NORMAL},
    {"he-uniform", NN_INIT_HE_UNIFORM},
    {"default", NN_INIT_DEFAULT},
};

static const struct {
    const char *prefix; /* followed by ':' and a number */
    nn_init_kind kind;
    const char *what;   /* the number's meaning, for messages */
} with_arg[] = {
    {"constant", NN_INIT_CONSTANT, "V"},
    {"normal", NN_INIT_NORMAL, "STD"},
    {"tnormal", NN_INIT_TNORMAL, "STD"},
    {"uniform", NN_INIT_UNIFORM, "A"},
};

/* A finite float that is all of text; 0 when it is not one. */
static int parse_float(const char *text, float *out)
{
    char *end;
    if (!*text)
        return 0;
    float v = strtof(text, &end);
    if (*end || !isfinite(v))
        return 0;
    *out = v;
    return 1;
}

int nn_init_parse(nn_init *init, const char *text, nn_error *e)
{
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
        if (strcmp(text, named[i].name) == 0) {
            init->kind = named[i].kind;
            init->a = 0;
            return 0;
        }
    float v;
    if (parse_float(text, &v)) { /* a bare number: a constant */
        init->kind = NN_INIT_CONSTANT;
        init->a = v;
        return 0;
    }
    for (size_t i = 0; i < sizeof with_arg / sizeof with_arg[0]; i++) {
        size_t len = strlen(with_arg[i].prefix);
        if (strncmp(text, with_arg[i].prefix, len) != 0 ||
            (text[len] != ':' && text[len] != 0))
            continue;
        const char *what = with_arg[i].what;
        if (text[len] == 0)
            return nn_fail(e, "init '%s' needs a value: %s:%s", text,
                           with_arg[i].prefix, what);
        if (!parse_float(text + len + 1, &v))
            return nn_fail(e, "init '%s': %s must be a number, not '%s'", text,
                           what, text + len + 1);
        if (with_arg[i].kind != NN_INIT_CONSTANT && v < 0)
            return nn_fail(e, "init '%s': %s must be >= 0", text, what);
        init->kind = with_arg[i].kind;
        init->a = v;
        return 0;
    }
    return nn_fail(e, "init '%s' is not valid; use %s", text, INIT_FORMS);
}

void nn_init_format(nn_init init, char *buf, size_t size)
{
    const char *name = NULL;
    char num[32];
    switch (init.kind) {
    case NN_INIT_DEFAULT: name = "default"; break;
    case NN_INIT_ZEROS: name = "zeros"; break;
    case NN_INIT_XAVIER_NORMAL: name = "xavier-normal"; break;
    case NN_INIT_XAVIER_UNIFORM: name = "xavier-uniform"; break;
    case NN_INIT_HE_NORMAL: name = "he-normal"; break;
    case NN_INIT_HE_UNIFORM: name = "he-uniform"; break;
    case NN_INIT_CONSTANT: name = "constant"; break;
    case NN_INIT_NORMAL: name = "normal"; break;
    case NN_INIT_TNORMAL: name = "tnormal"; break;
    case NN_INIT_UNIFORM: name = "uniform"; break;
    }
    if (!name) {
        snprintf(buf, size, "default");
        return;
    }
    if (init.kind == NN_INIT_CONSTANT || init.kind == NN_INIT_NORMAL ||
        init.kind == NN_INIT_TNORMAL || init.kind == NN_INIT_UNIFORM) {
        nn_format_float(num, sizeof num, init.a);
        snprintf(buf, size, "%s:%s", name, num);
    } else {
        snprintf(buf, size, "%s", name);
    }
}

/* w[i] = std * z, z standard normal; truncated: |z| <= 2 (redrawn). */
static void fill_normal(float *w, size_t n, double std, int truncated,
                        nn_rng *r)
{
    for (size_t i = 0; i < n; i++) {
        double z = nn_rng_normal(r);
        while (truncated && fabs(z) > 2.0)
            z = nn_rng_normal(r);
        w[i] = (float)(std * z);
    }
}

/* w[i] ~ U(-b, b) */
static void fill_uniform(float *w, size_t n, double b, nn_rng *r)
{
    for (size_t i = 0; i < n; i++)
        w[i] = (float)(b * (2.0 * nn_rng_uniform(r) - 1.0));
}

/* Fills w[n] from one generator, in order, so a seed gives the same values
 * everywhere. Fans below 1 count as 1. */
void nn_init_fill(nn_init init, float *w, size_t n, int fan_in, int fan_out,
                  nn_rng *r)
{
    double fi = fan_in > 0 ? fan_in : 1, fio = fi + (fan_out > 0 ? fan_out : 1);
    switch (init.kind) {
    case NN_INIT_ZEROS:
        memset(w, 0, n * sizeof *w);
        break;
    case NN_INIT_CONSTANT:
        for (size_t i = 0; i < n; i++)
            w[i] = init.a;
        break;
    case NN_INIT_NORMAL:
        fill_normal(w, n, init.a, 0, r);
        break;
    case NN_INIT_TNORMAL:
        fill_normal(w, n, init.a, 1, r);
        break;
    case NN_INIT_UNIFORM:
        fill_uniform(w, n, init.a, r);
        break;
    case NN_INIT_XAVIER_NORMAL:
        fill_normal(w, n, sqrt(2.0 / fio), 0, r);
        break;
    case NN_INIT_XAVIER_UNIFORM:
        fill_uniform(w, n, sqrt(6.0 / fio), r);
        break;
    case NN_INIT_HE_UNIFORM:
        fill_uniform(w, n, sqrt(6.0 / fi), r);
        break;
    case NN_INIT_DEFAULT: /* the model resolves defaults; he-normal if not */
    case NN_INIT_HE_NORMAL:
    default:
        fill_normal(w, n, sqrt(2.0 / fi), 0, r);
        break;
    }
}

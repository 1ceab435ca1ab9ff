/* layer_activation.c - elementwise activations: relu, leakyrelu, sigmoid,
 * tanh.
 *
 * x and y are [n, c, h, w] of any shape, y = f(x) value by value.
 *   relu       y = max(x, 0)               dy/dx = y > 0
 *   leakyrelu  y = x > 0 ? x : slope x     dy/dx = x > 0 ? 1 : slope
 *   sigmoid    y = 1 / (1 + exp(-x))       dy/dx = y (1 - y)
 *   tanh       y = tanh(x)                 dy/dx = 1 - y^2
 * Backward reads y where the derivative is a function of it; leakyrelu
 * reads x, since its slope may be zero or negative. At x == 0 the relu
 * derivatives are taken as 0 (relu) and slope (leakyrelu), like PyTorch. */
#include "nn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Below this many values a loop runs on one thread: a parallel region
 * costs a wake-up of the other threads, and on a busy machine, where they
 * may not be running, milliseconds (more than the loop takes). */
#define PAR_MIN (1 << 23)

static int parse_none(nn_layer *l, nn_args *a, nn_error *e)
{
    if (nn_args_count(a) > 0)
        return nn_args_fail(a, e, "takes no arguments, not '%s'; usage: %s",
                            nn_args_get(a, 0), l->type->usage);
    return 0;
}

static int setup_same(nn_layer *l, nn_error *e)
{
    (void)e;
    l->out = l->in;
    return 0;
}

/* ---- relu -------------------------------------------------------------- */

static void relu_forward(nn_layer *l, const float *x, float *y, int n,
                         const nn_pass *p)
{
    (void)p;
    long total = (long)n * (long)nn_dims_size(l->in);
#pragma omp parallel for if (total >= PAR_MIN) schedule(static)
    for (long i = 0; i < total; i++)
        y[i] = x[i] < 0 ? 0.0f : x[i]; /* NaN stays NaN */
}

static void relu_backward(nn_layer *l, const float *x, const float *y,
                          const float *dy, float *dx, int n, const nn_pass *p)
{
    (void)x, (void)p;
    long total = (long)n * (long)nn_dims_size(l->in);
    if (!dx)
        return;
#pragma omp parallel for if (total >= PAR_MIN) schedule(static)
    for (long i = 0; i < total; i++)
        dx[i] = y[i] > 0 ? dy[i] : 0.0f;
}

const nn_layer_type nn_layer_relu = {
    .keyword = "relu",
    .usage = "relu",
    .parse = parse_none,
    .setup = setup_same,
    .forward = relu_forward,
    .backward = relu_backward,
};

/* ---- leakyrelu: cfg.p is the slope for x <= 0 -------------------------- */

#define LEAKY_DEFAULT 0.01f

static int leaky_parse(nn_layer *l, nn_args *a, nn_error *e)
{
    if (nn_args_count(a) > 1)
        return nn_args_fail(a, e, "takes one slope, not also '%s'; usage: %s",
                            nn_args_get(a, 1), l->type->usage);
    l->cfg.p = LEAKY_DEFAULT;
    if (nn_args_count(a) == 1 &&
        nn_args_float(a, nn_args_get(a, 0), "slope", &l->cfg.p, e) < 0)
        return -1;
    if (!isfinite(l->cfg.p))
        return nn_args_fail(a, e, "slope must be a finite number, not '%s'",
                            nn_args_get(a, 0));
    return 0;
}

static void leaky_forward(nn_layer *l, const float *x, float *y, int n,
                          const nn_pass *p)
{
    (void)p;
    long total = (long)n * (long)nn_dims_size(l->in);
    float s = l->cfg.p;
#pragma omp parallel for if (total >= PAR_MIN) schedule(static)
    for (long i = 0; i < total; i++)
        y[i] = x[i] > 0 ? x[i] : s * x[i];
}

static void leaky_backward(nn_layer *l, const float *x, const float *y,
                           const float *dy, float *dx, int n, const nn_pass *p)
{
    (void)y, (void)p;
    long total = (long)n * (long)nn_dims_size(l->in);
    float s = l->cfg.p;
    if (!dx)
        return;
#pragma omp parallel for if (total >= PAR_MIN) schedule(static)
    for (long i = 0; i < total; i++)
        dx[i] = x[i] > 0 ? dy[i] : s * dy[i];
}

static void leaky_format(const nn_layer *l, char *buf, size_t size)
{
    buf[0] = 0;
    if (l->cfg.p != LEAKY_DEFAULT)
        nn_format_float(buf, size, l->cfg.p);
}

const nn_layer_type nn_layer_leakyrelu = {
    .keyword = "leakyrelu",
    .usage = "leakyrelu [SLOPE]   (default 0.01)",
    .parse = leaky_parse,
    .setup = setup_same,
    .forward = leaky_forward,
    .backward = leaky_backward,
    .format = leaky_format,
};

/* ---- sigmoid ----------------------------------------------------------- */

/* exp of a non-positive number only: no overflow for any x. */
static inline float sigmoidf(float x)
{
    if (x >= 0)
        return 1.0f / (1.0f + expf(-x));
    float t = expf(x);
    return t / (1.0f + t);
}

static void sigmoid_forward(nn_layer *l, const float *x, float *y, int n,
                            const nn_pass *p)
{
    (void)p;
    long total = (long)n * (long)nn_dims_size(l->in);
#pragma omp parallel for if (total >= PAR_MIN / 8) schedule(static)
    for (long i = 0; i < total; i++)
        y[i] = sigmoidf(x[i]);
}

static void sigmoid_backward(nn_layer *l, const float *x, const float *y,
                             const float *dy, float *dx, int n,
                             const nn_pass *p)
{
    (void)x, (void)p;
    long total = (long)n * (long)nn_dims_size(l->in);
    if (!dx)
        return;
#pragma omp parallel for if (total >= PAR_MIN) schedule(static)
    for (long i = 0; i < total; i++)
        dx[i] = dy[i] * y[i] * (1.0f - y[i]);
}

const nn_layer_type nn_layer_sigmoid = {
    .keyword = "sigmoid",
    .usage = "sigmoid",
    .parse = parse_none,
    .setup = setup_same,
    .forward = sigmoid_forward,
    .backward = sigmoid_backward,
};

/* ---- tanh -------------------------------------------------------------- */

static void tanh_forward(nn_layer *l, const float *x, float *y, int n,
                         const nn_pass *p)
{
    (void)p;
    long total = (long)n * (long)nn_dims_size(l->in);
#pragma omp parallel for if (total >= PAR_MIN / 8) schedule(static)
    for (long i = 0; i < total; i++)
        y[i] = tanhf(x[i]);
}

static void tanh_backward(nn_layer *l, const float *x, const float *y,
                          const float *dy, float *dx, int n, const nn_pass *p)
{
    (void)x, (void)p;
    long total = (long)n * (long)nn_dims_size(l->in);
    if (!dx)
        return;
#pragma omp parallel for if (total >= PAR_MIN) schedule(static)
    for (long i = 0; i < total; i++)
        dx[i] = dy[i] * (1.0f - y[i] * y[i]);
}

const nn_layer_type nn_layer_tanh = {
    .keyword = "tanh",
    .usage = "tanh",
    .parse = parse_none,
    .setup = setup_same,
    .forward = tanh_forward,
    .backward = tanh_backward,
};

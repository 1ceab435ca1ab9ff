/* layer_batchnorm.c - batch normalisation, as PyTorch's BatchNorm1d/2d.
 *
 * x and y are [n, C, H, W]; each channel c is normalised over its
 * m = n*H*W values x[:, c, :, :] (a dense output is (C,1,1): per feature
 * over the batch).
 *   train: mean = sum x / m, var = sum (x - mean)^2 / m (biased),
 *          y = gamma (x - mean) / sqrt(var + eps) + beta, and
 *          running_mean = (1 - momentum) running_mean + momentum mean,
 *          running_var  = (1 - momentum) running_var + momentum var m/(m-1)
 *          (the unbiased variance; with m == 1 running_var is left as it is,
 *          where PyTorch refuses the batch).
 *   eval:  the same with running_mean and running_var; nothing is updated.
 * Parameters gamma [C] (init 1), beta [C] (0); buffers running_mean [C] (0)
 * and running_var [C] (1). l->saved holds the mean [C] and inverse std [C]
 * the last forward used. One thread reduces a channel, in a fixed order and
 * in double, so results do not depend on the number of threads. */
#include "nn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Below this many values a loop runs on one thread: a parallel region
 * costs a wake-up of the other threads, and on a busy machine, where they
 * may not be running, milliseconds (more than the loop takes). */
#define PAR_MIN (1 << 23)
#define EPS_DEFAULT 1e-5f
#define MOMENTUM_DEFAULT 0.1f

enum { GAMMA, BETA, RUNNING_MEAN, RUNNING_VAR };

static int bn_parse(nn_layer *l, nn_args *a, nn_error *e)
{
    const char *eps = nn_args_option(a, "eps");
    const char *mom = nn_args_option(a, "momentum");
    if (nn_args_count(a) > 0)
        return nn_args_fail(a, e, "takes no positional arguments, not '%s'; usage: %s",
                            nn_args_get(a, 0), l->type->usage);
    l->cfg.eps = EPS_DEFAULT;
    l->cfg.momentum = MOMENTUM_DEFAULT;
    if (eps && nn_args_float(a, eps, "eps", &l->cfg.eps, e) < 0)
        return -1;
    if (!(l->cfg.eps > 0) || isinf(l->cfg.eps))
        return nn_args_fail(a, e, "eps must be a number > 0, not '%s'", eps);
    if (mom && nn_args_float(a, mom, "momentum", &l->cfg.momentum, e) < 0)
        return -1;
    if (!(l->cfg.momentum >= 0 && l->cfg.momentum <= 1))
        return nn_args_fail(a, e, "momentum must be in [0,1], not '%s'", mom);
    return 0;
}

static int bn_setup(nn_layer *l, nn_error *e)
{
    int c = l->in.c;
    nn_init one = {NN_INIT_CONSTANT, 1}, zero = {NN_INIT_ZEROS, 0};
    l->out = l->in;
    if (!nn_layer_add_param(l, "gamma", 1, &c, one, c, c, 1) ||
        !nn_layer_add_param(l, "beta", 1, &c, zero, c, c, 1) ||
        !nn_layer_add_param(l, "running_mean", 1, &c, zero, c, c, 0) ||
        !nn_layer_add_param(l, "running_var", 1, &c, one, c, c, 0))
        return nn_fail(e, "cannot declare the batch-norm parameters (a layer has at most %d)",
                       NN_MAX_PARAMS);
    return 0;
}

static size_t bn_saved_bytes(const nn_layer *l, int n)
{
    (void)n;
    return 2 * (size_t)l->in.c * sizeof(float);
}

/* Adds sum (v - k) and sum (v - k)^2 over v[0..len) to *s, *ss, in double
 * with 8 lanes added in a fixed order (vectorizes, same bits every run). */
static void plane_sums(const float *v, size_t len, float k, double *s, double *ss)
{
    double a[8] = {0}, b[8] = {0};
    size_t j = 0;
    for (; j + 8 <= len; j += 8)
        for (int t = 0; t < 8; t++) {
            double d = v[j + t] - k;
            a[t] += d, b[t] += d * d;
        }
    for (; j < len; j++) {
        double d = v[j] - k;
        a[0] += d, b[0] += d * d;
    }
    for (int t = 0; t < 8; t++)
        *s += a[t], *ss += b[t];
}

/* Adds sum dy and sum dy (x - mu) over [0..len) to *sdy, *sdyx, as above. */
static void plane_dots(const float *dy, const float *x, size_t len, float mu,
                       double *sdy, double *sdyx)
{
    double a[8] = {0}, b[8] = {0};
    size_t j = 0;
    for (; j + 8 <= len; j += 8)
        for (int t = 0; t < 8; t++) {
            a[t] += dy[j + t];
            b[t] += (double)dy[j + t] * (x[j + t] - mu);
        }
    for (; j < len; j++) {
        a[0] += dy[j];
        b[0] += (double)dy[j] * (x[j] - mu);
    }
    for (int t = 0; t < 8; t++)
        *sdy += a[t], *sdyx += b[t];
}

static void bn_forward(nn_layer *l, const float *x, float *y, int n,
                       const nn_pass *p)
{
    int C = l->in.c;
    size_t hw = (size_t)l->in.h * l->in.w, m = (size_t)n * hw;
    const float *gamma = l->param[GAMMA].value, *beta = l->param[BETA].value;
    float *rmean = l->param[RUNNING_MEAN].value, *rvar = l->param[RUNNING_VAR].value;
    float *mean = l->saved, *istd = mean + C;
    float mom = l->cfg.momentum, eps = l->cfg.eps;
    if (n <= 0)
        return;
#pragma omp parallel for if (m * C >= PAR_MIN) schedule(static)
    for (int c = 0; c < C; c++) {
        float mu, is;
        if (p->train) {
            /* one pass, shifted by a value of the channel so that the
             * difference of the sums does not cancel */
            float k = x[(size_t)c * hw];
            double s = 0, ss = 0;
            for (int i = 0; i < n; i++)
                plane_sums(x + ((size_t)i * C + c) * hw, hw, k, &s, &ss);
            double dmean = s / (double)m, var = ss / (double)m - dmean * dmean;
            var = var > 0 ? var : 0;
            mu = (float)(k + dmean);
            is = (float)(1.0 / sqrt(var + eps));
            rmean[c] = (1 - mom) * rmean[c] + mom * mu;
            if (m > 1)
                rvar[c] = (1 - mom) * rvar[c] + mom * (float)(var * m / (m - 1));
        } else {
            mu = rmean[c];
            is = (float)(1.0 / sqrt((double)rvar[c] + eps));
        }
        mean[c] = mu, istd[c] = is;
        float a = gamma[c] * is, b = beta[c];
        for (int i = 0; i < n; i++) {
            const float *xc = x + ((size_t)i * C + c) * hw;
            float *yc = y + ((size_t)i * C + c) * hw;
            for (size_t j = 0; j < hw; j++)
                yc[j] = (xc[j] - mu) * a + b;
        }
    }
}

/* With xhat = (x - mean) istd: dbeta = sum dy, dgamma = sum dy xhat, and
 * train: dx = gamma istd (dy - dbeta/m - xhat dgamma/m) (the batch
 *        statistics depend on x),
 * eval:  dx = gamma istd dy. */
static void bn_backward(nn_layer *l, const float *x, const float *y,
                        const float *dy, float *dx, int n, const nn_pass *p)
{
    (void)y;
    int C = l->in.c;
    size_t hw = (size_t)l->in.h * l->in.w, m = (size_t)n * hw;
    const float *gamma = l->param[GAMMA].value;
    float *dgamma = l->param[GAMMA].grad, *dbeta = l->param[BETA].grad;
    const float *mean = l->saved, *istd = mean + C;
    int grads = p->param_grads && dgamma && dbeta;
    if (n <= 0 || (!dx && !grads))
        return;
#pragma omp parallel for if (m * C >= PAR_MIN) schedule(static)
    for (int c = 0; c < C; c++) {
        float mu = mean[c], is = istd[c];
        double sdy = 0, sdyx = 0;
        for (int i = 0; i < n; i++)
            plane_dots(dy + ((size_t)i * C + c) * hw, x + ((size_t)i * C + c) * hw, hw, mu,
                       &sdy, &sdyx);
        sdyx *= is;
        if (grads) {
            dgamma[c] += (float)sdyx;
            dbeta[c] += (float)sdy;
        }
        if (!dx)
            continue;
        float k = gamma[c] * is;
        float mdy = p->train ? (float)(sdy / m) : 0, mdyx = p->train ? (float)(sdyx / m) : 0;
        for (int i = 0; i < n; i++) {
            const float *xc = x + ((size_t)i * C + c) * hw;
            const float *dyc = dy + ((size_t)i * C + c) * hw;
            float *dxc = dx + ((size_t)i * C + c) * hw;
            for (size_t j = 0; j < hw; j++)
                dxc[j] = k * (dyc[j] - mdy - (xc[j] - mu) * is * mdyx);
        }
    }
}

static void bn_format(const nn_layer *l, char *buf, size_t size)
{
    char v[32];
    size_t k = 0;
    buf[0] = 0;
    if (l->cfg.eps != EPS_DEFAULT) {
        nn_format_float(v, sizeof v, l->cfg.eps);
        k += snprintf(buf + k, size - k, "eps=%s", v);
    }
    if (l->cfg.momentum != MOMENTUM_DEFAULT && k < size) {
        nn_format_float(v, sizeof v, l->cfg.momentum);
        snprintf(buf + k, size - k, "%smomentum=%s", k ? " " : "", v);
    }
}

/* Per sample: one multiply-add per value (folded into a scale and shift). */
static double bn_flops(const nn_layer *l) { return (double)nn_dims_size(l->in); }

const nn_layer_type nn_layer_batchnorm = {
    .keyword = "batchnorm",
    .usage = "batchnorm [eps=1e-5] [momentum=0.1]",
    .parse = bn_parse,
    .setup = bn_setup,
    .forward = bn_forward,
    .backward = bn_backward,
    .saved_bytes = bn_saved_bytes,
    .format = bn_format,
    .flops = bn_flops,
};

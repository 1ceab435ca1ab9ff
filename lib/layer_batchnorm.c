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

#define PAR_MIN 32768 /* below this many values a loop runs on one thread */
#define EPS_DEFAULT 1e-5f
#define MOMENTUM_DEFAULT 0.1f

enum { GAMMA, BETA, RUNNING_MEAN, RUNNING_VAR };

/* The shortest %g text that reads back as v (format round-trips parse). */
static void format_float(char *buf, size_t size, float v)
{
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(buf, size, "%.*g", prec, v);
        if (strtof(buf, NULL) == v)
            return;
    }
}

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
            double s = 0, ss = 0;
            for (int i = 0; i < n; i++) {
                const float *xc = x + ((size_t)i * C + c) * hw;
                for (size_t j = 0; j < hw; j++)
                    s += xc[j];
            }
            double dmean = s / (double)m;
            for (int i = 0; i < n; i++) {
                const float *xc = x + ((size_t)i * C + c) * hw;
                for (size_t j = 0; j < hw; j++)
                    ss += (xc[j] - dmean) * (xc[j] - dmean);
            }
            double var = ss / (double)m;
            mu = (float)dmean;
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
        for (int i = 0; i < n; i++) {
            const float *xc = x + ((size_t)i * C + c) * hw;
            const float *dyc = dy + ((size_t)i * C + c) * hw;
            for (size_t j = 0; j < hw; j++) {
                sdy += dyc[j];
                sdyx += dyc[j] * ((xc[j] - mu) * is);
            }
        }
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
        format_float(v, sizeof v, l->cfg.eps);
        k += snprintf(buf + k, size - k, "eps=%s", v);
    }
    if (l->cfg.momentum != MOMENTUM_DEFAULT && k < size) {
        format_float(v, sizeof v, l->cfg.momentum);
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

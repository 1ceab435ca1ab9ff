/* layer_softmax.c - softmax over the features of each sample.
 *
 * x and y are [n, k] with k = c*h*w (all features of a sample, whatever
 * their shape): y[i,j] = exp(x[i,j] - max_j x[i,:]) / sum_j exp(...), the
 * max subtracted so that no exp overflows. Backward:
 * dx[i,:] = y[i,:] (dy[i,:] - sum_j dy[i,j] y[i,j]).
 * With the xent loss the model skips this layer and takes the loss on its
 * input (nn_loss_softmax_xent), which is the stable way to train. */
#include "nn.h"

#include <math.h>

#define PAR_MIN 16384 /* below this many values a loop runs on one thread */

static int softmax_parse(nn_layer *l, nn_args *a, nn_error *e)
{
    if (nn_args_count(a) > 0)
        return nn_args_fail(a, e, "takes no arguments, not '%s'; usage: %s",
                            nn_args_get(a, 0), l->type->usage);
    return 0;
}

static int softmax_setup(nn_layer *l, nn_error *e)
{
    (void)e;
    l->out = l->in;
    return 0;
}

static void softmax_forward(nn_layer *l, const float *x, float *y, int n,
                            const nn_pass *p)
{
    (void)p;
    size_t k = nn_dims_size(l->in);
#pragma omp parallel for if ((size_t)n * k >= PAR_MIN) schedule(static)
    for (int i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * k;
        float *yi = y + (size_t)i * k, mx = xi[0];
        double s = 0;
        for (size_t j = 1; j < k; j++)
            mx = xi[j] > mx ? xi[j] : mx;
        for (size_t j = 0; j < k; j++) {
            yi[j] = expf(xi[j] - mx);
            s += yi[j];
        }
        float inv = (float)(1.0 / s);
        for (size_t j = 0; j < k; j++)
            yi[j] *= inv;
    }
}

static void softmax_backward(nn_layer *l, const float *x, const float *y,
                             const float *dy, float *dx, int n,
                             const nn_pass *p)
{
    (void)x, (void)p;
    size_t k = nn_dims_size(l->in);
    if (!dx)
        return;
#pragma omp parallel for if ((size_t)n * k >= PAR_MIN) schedule(static)
    for (int i = 0; i < n; i++) {
        const float *yi = y + (size_t)i * k, *dyi = dy + (size_t)i * k;
        float *dxi = dx + (size_t)i * k;
        double dot = 0;
        for (size_t j = 0; j < k; j++)
            dot += (double)dyi[j] * yi[j];
        for (size_t j = 0; j < k; j++)
            dxi[j] = yi[j] * (dyi[j] - (float)dot);
    }
}

const nn_layer_type nn_layer_softmax = {
    .keyword = "softmax",
    .usage = "softmax",
    .parse = softmax_parse,
    .setup = softmax_setup,
    .forward = softmax_forward,
    .backward = softmax_backward,
};

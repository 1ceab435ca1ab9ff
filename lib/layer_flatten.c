/* layer_flatten.c - (C,H,W) -> (C*H*W,1,1).
 *
 * The data do not move: a sample's NCHW values, read in order, are the
 * flat features, as torch.flatten(x, 1) gives them. Forward copies x to y,
 * backward dy to dx. */
#include "nn.h"

#include <string.h>

static int flatten_parse(nn_layer *l, nn_args *a, nn_error *e)
{
    if (nn_args_count(a) > 0)
        return nn_args_fail(a, e, "takes no arguments, not '%s'; usage: %s",
                            nn_args_get(a, 0), l->type->usage);
    return 0;
}

static int flatten_setup(nn_layer *l, nn_error *e)
{
    size_t k = nn_dims_size(l->in);
    if (k > 1u << 30)
        return nn_fail(e, "%dx%dx%d input has too many values to flatten",
                       l->in.c, l->in.h, l->in.w);
    l->out.c = (int)k;
    l->out.h = l->out.w = 1;
    return 0;
}

static void flatten_forward(nn_layer *l, const float *x, float *y, int n,
                            const nn_pass *p)
{
    (void)p;
    if (y != x)
        memcpy(y, x, (size_t)n * nn_dims_size(l->in) * sizeof(float));
}

static void flatten_backward(nn_layer *l, const float *x, const float *y,
                             const float *dy, float *dx, int n,
                             const nn_pass *p)
{
    (void)x, (void)y, (void)p;
    if (dx && dx != dy)
        memcpy(dx, dy, (size_t)n * nn_dims_size(l->in) * sizeof(float));
}

const nn_layer_type nn_layer_flatten = {
    .keyword = "flatten",
    .usage = "flatten",
    .parse = flatten_parse,
    .setup = flatten_setup,
    .forward = flatten_forward,
    .backward = flatten_backward,
};

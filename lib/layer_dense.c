/* layer_dense.c - fully connected layer, as PyTorch's Linear.
 *
 * x is [n, IN] (a flat input: (IN,1,1)), y is [n, OUT], weight is
 * [OUT, IN] and bias [OUT]:
 *   forward   y = x . weight^T + bias
 *   backward  dx = dy . weight,  dweight += dy^T . x,  dbias += sum_b dy[b]
 * The products are single OpenBLAS calls. A product of fewer than
 * SMALL_PRODUCT multiply-adds runs on one thread: OpenBLAS (OpenMP build)
 * takes omp_get_max_threads() threads, and for a product this small the
 * threads' start and join cost more than they save (far more on a busy
 * machine, where a waiting thread may not be running). */
#include "nn.h"

#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define SMALL_PRODUCT 32000000.0

/* C [m, n] = alpha op(A) op(B) + beta C, row-major; one thread when small. */
static void sgemm(int ta, int tb, int m, int n, int k, const float *a,
                  int lda, const float *b, int ldb, float beta, float *c,
                  int ldc)
{
    int threads = omp_get_max_threads();
    int one = (double)m * n * k < SMALL_PRODUCT && threads > 1;
    if (one)
        omp_set_num_threads(1);
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
                tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, a, lda, b, ldb,
                beta, c, ldc);
    if (one)
        omp_set_num_threads(threads);
}

static void dense_forward(nn_layer *l, const float *x, float *y, int n,
                          const nn_pass *p)
{
    (void)p;
    int in = l->in.c, out = l->out.c;
    const float *wt = l->param[0].value;
    const float *bias = l->cfg.bias ? l->param[1].value : NULL;
    if (bias)
        for (int b = 0; b < n; b++)
            memcpy(y + (size_t)b * out, bias, out * sizeof(float));
    sgemm(0, 1, n, out, in, x, in, wt, in, bias ? 1.0f : 0.0f, y, out);
}

static void dense_backward(nn_layer *l, const float *x, const float *y,
                           const float *dy, float *dx, int n, const nn_pass *p)
{
    (void)y;
    int in = l->in.c, out = l->out.c;
    const float *wt = l->param[0].value;
    if (dx)
        sgemm(0, 0, n, in, out, dy, out, wt, in, 0.0f, dx, in);
    if (!p->param_grads)
        return;
    sgemm(1, 0, out, in, n, dy, out, x, in, 1.0f, l->param[0].grad, in);
    if (l->cfg.bias) {
        float *db = l->param[1].grad;
        for (int o = 0; o < out; o++) {
            float s = 0;
            for (int b = 0; b < n; b++)
                s += dy[(size_t)b * out + o];
            db[o] += s;
        }
    }
}

/* ---- text form ---------------------------------------------------------- */

static int dense_parse(nn_layer *l, nn_args *a, nn_error *e)
{
    nn_layer_cfg *c = &l->cfg;
    const char *units = nn_args_get(a, 0);
    if (nn_args_count(a) != 1)
        return nn_args_fail(a, e, "expected the number of units (or 'classes'); usage: %s",
                            l->type->usage);
    if (strcmp(units, "classes") == 0)
        c->units = -1; /* the model resolves it to the class count */
    else if (nn_args_int(a, units, "units", 1, &c->units, e) < 0)
        return -1;
    return nn_args_weights(a, c, e);
}

static void dense_format(const nn_layer *l, char *buf, size_t size)
{
    const nn_layer_cfg *c = &l->cfg;
    size_t n = c->units < 0 ? (size_t)snprintf(buf, size, "classes")
                            : (size_t)snprintf(buf, size, "%d", c->units);
    nn_format_weights(c, buf, size, n);
}

/* ---- setup -------------------------------------------------------------- */

static int dense_setup(nn_layer *l, nn_error *e)
{
    nn_layer_cfg *c = &l->cfg;
    int in = l->in.c, out = c->units;
    if (l->in.h != 1 || l->in.w != 1)
        return nn_fail(e, "expects a flat input (%dx%dx%d given); add 'flatten' before it",
                       l->in.c, l->in.h, l->in.w);
    if (out < 1)
        return nn_fail(e, "needs at least 1 unit, not %d ('classes' needs the class count)",
                       out);
    if ((double)in * out > 1 << 30)
        return nn_fail(e, "%d inputs to %d units is too many weights", in, out);
    l->out.c = out, l->out.h = l->out.w = 1;
    int wd[2] = {out, in};
    if (!nn_layer_add_param(l, "weight", 2, wd, c->weight_init, in, out, 1))
        return nn_fail(e, "cannot declare the weight");
    if (c->bias && !nn_layer_add_param(l, "bias", 1, &out, c->bias_init, in, out, 1))
        return nn_fail(e, "cannot declare the bias");
    return 0;
}

static double dense_flops(const nn_layer *l)
{
    return (double)l->in.c * l->out.c;
}

const nn_layer_type nn_layer_dense = {
    .keyword = "dense",
    .usage = "dense UNITS|classes [bias=V|none] [init=INIT]",
    .parse = dense_parse,
    .setup = dense_setup,
    .forward = dense_forward,
    .backward = dense_backward,
    .format = dense_format,
    .flops = dense_flops,
};

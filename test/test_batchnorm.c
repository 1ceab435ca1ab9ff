/* test_batchnorm.c - batch normalisation: the declared parameters, train
 * mode normalises each channel (conv) or feature (dense) to mean 0 and
 * variance 1, running statistics follow PyTorch's update (unbiased
 * variance) on a hand example, eval uses the running statistics, the
 * backward's invariants, and the same bits for 1 and 2 threads. Gradients
 * against finite differences are in test_gradcheck.c. */
#include "nn.h"
#include "test.h"

#include <omp.h>

extern const nn_layer_type nn_layer_batchnorm;

enum { GAMMA, BETA, RMEAN, RVAR };

/* A batch-norm layer for input (c,h,w), with its parameters filled from
 * their initializers and room for batches of up to nmax. */
static int make(nn_layer *l, int c, int h, int w, int nmax)
{
    nn_error e;
    memset(l, 0, sizeof *l);
    l->type = &nn_layer_batchnorm;
    l->cfg.eps = 1e-5f;
    l->cfg.momentum = 0.1f;
    l->in = (nn_dims){c, h, w};
    if (l->type->setup(l, &e) < 0) {
        FAILF("setup: %s", e.msg);
        return -1;
    }
    for (int i = 0; i < l->nparam; i++) {
        nn_param *p = &l->param[i];
        p->value = malloc(p->size * sizeof(float));
        p->grad = p->trainable ? calloc(p->size, sizeof(float)) : NULL;
        for (size_t j = 0; j < p->size; j++)
            p->value[j] = p->init.kind == NN_INIT_CONSTANT ? p->init.a : 0;
    }
    l->saved = malloc(l->type->saved_bytes(l, nmax));
    return 0;
}

static void unmake(nn_layer *l)
{
    for (int i = 0; i < l->nparam; i++)
        free(l->param[i].value), free(l->param[i].grad);
    free(l->saved);
}

/* Mean and biased variance of channel c of [n, C, hw] data. */
static void channel_stats(const float *v, int n, int C, int hw, int c, double *mean, double *var)
{
    double s = 0, ss = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < hw; j++)
            s += v[((size_t)i * C + c) * hw + j];
    *mean = s / ((double)n * hw);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < hw; j++) {
            double d = v[((size_t)i * C + c) * hw + j] - *mean;
            ss += d * d;
        }
    *var = ss / ((double)n * hw);
}

/* Train forward of random data (channel c has mean 2+3c and std c+1): every
 * channel of y has mean ~0 and variance ~1 with gamma=1, beta=0. */
static void normalises(const char *name, int n, int c, int h, int w)
{
    nn_layer l;
    nn_rng r;
    nn_pass pass = {.train = 1, .param_grads = 1};
    size_t size = (size_t)n * c * h * w;
    TEST(name);
    if (make(&l, c, h, w, n) < 0)
        return;
    float *x = malloc(size * sizeof *x), *y = malloc(size * sizeof *y);
    nn_rng_seed(&r, 9);
    for (size_t i = 0; i < size; i++) {
        int ch = (int)(i / ((size_t)h * w) % c);
        x[i] = (float)(2 + 3 * ch + (ch + 1) * nn_rng_normal(&r));
    }
    l.type->forward(&l, x, y, n, &pass);
    for (int ch = 0; ch < c; ch++) {
        double mean, var;
        channel_stats(y, n, c, h * w, ch, &mean, &var);
        CHECK_MSG(fabs(mean) < 1e-5 && fabs(var - 1) < 1e-3, "channel %d: mean %.3g var %.6f", ch,
                  mean, var);
    }
    free(x), free(y);
    unmake(&l);
}

int main(void)
{
    nn_layer l;
    nn_pass train = {.train = 1, .param_grads = 1}, eval = {.train = 0, .param_grads = 1};

    TEST("setup: out = in; gamma 1, beta 0 trainable; running_mean 0, running_var 1 buffers");
    if (make(&l, 3, 4, 5, 2) == 0) {
        static const char *names[] = {"gamma", "beta", "running_mean", "running_var"};
        static const float init[] = {1, 0, 0, 1};
        CHECK(l.out.c == 3 && l.out.h == 4 && l.out.w == 5);
        CHECK(l.nparam == 4);
        for (int i = 0; i < 4 && i < l.nparam; i++) {
            CHECK_MSG(strcmp(l.param[i].name, names[i]) == 0, "param %d is %s", i, l.param[i].name);
            CHECK(l.param[i].ndims == 1 && l.param[i].dims[0] == 3 && l.param[i].size == 3);
            CHECK(l.param[i].trainable == (i < 2));
            CHECK_MSG(l.param[i].value[0] == init[i], "%s starts at %g", names[i], l.param[i].value[0]);
        }
        CHECK(l.type->saved_bytes(&l, 2) >= 2 * 3 * sizeof(float));
        unmake(&l);
    }

    normalises("train, conv shape 3x5x6: each channel has mean 0 and variance 1 over (N,H,W)", 4, 3, 5, 6);
    normalises("train, dense shape 4x1x1: each feature has mean 0 and variance 1 over N", 16, 4, 1, 1);

    TEST("running stats after one step: (1-m) running + m batch, unbiased variance (PyTorch)");
    if (make(&l, 2, 1, 2, 2) == 0) {
        /* channel 0 holds {1,2,3,6}: mean 3, biased var 3.5, unbiased 14/3;
         * channel 1 holds {0,0,4,4}: mean 2, biased var 4, unbiased 16/3 */
        const float x[8] = {1, 2, 0, 0, 3, 6, 4, 4};
        float y[8];
        l.type->forward(&l, x, y, 2, &train);
        const float *rm = l.param[RMEAN].value, *rv = l.param[RVAR].value;
        CHECK_MSG(fabsf(rm[0] - 0.3f) < 1e-6f && fabsf(rm[1] - 0.2f) < 1e-6f, "running_mean %g %g",
                  rm[0], rm[1]);
        CHECK_MSG(fabsf(rv[0] - (0.9f + 0.1f * 14 / 3)) < 1e-6f &&
                      fabsf(rv[1] - (0.9f + 0.1f * 16 / 3)) < 1e-6f,
                  "running_var %.7f %.7f, want %.7f %.7f", rv[0], rv[1], 0.9 + 1.4 / 3, 0.9 + 1.6 / 3);
        /* the output uses the biased batch variance */
        CHECK_MSG(fabs(y[0] - (1 - 3) / sqrt(3.5 + 1e-5)) < 1e-6, "y[0] = %.7f", y[0]);
        CHECK_MSG(fabs(y[7] - (4 - 2) / sqrt(4 + 1e-5)) < 1e-6, "y[7] = %.7f", y[7]);
        /* a second step with momentum 0.5 */
        l.cfg.momentum = 0.5f;
        l.type->forward(&l, x, y, 2, &train);
        CHECK_MSG(fabsf(rm[0] - (0.5f * 0.3f + 0.5f * 3)) < 1e-6f, "running_mean %g", rm[0]);
        CHECK_MSG(fabsf(rv[1] - (0.5f * (0.9f + 1.6f / 3) + 0.5f * 16 / 3)) < 1e-5f, "running_var %g",
                  rv[1]);
        unmake(&l);
    }

    TEST("eval: y = gamma (x - running_mean) / sqrt(running_var + eps) + beta; nothing updated");
    if (make(&l, 2, 2, 2, 3) == 0) {
        const float g[2] = {2, 0.5f}, b[2] = {0.1f, -0.3f}, m[2] = {1, -2}, v[2] = {4, 0.25f};
        float x[24], y[24], dy[24], dx[24];
        nn_rng r;
        nn_rng_seed(&r, 2);
        for (int c = 0; c < 2; c++) {
            l.param[GAMMA].value[c] = g[c], l.param[BETA].value[c] = b[c];
            l.param[RMEAN].value[c] = m[c], l.param[RVAR].value[c] = v[c];
        }
        for (int i = 0; i < 24; i++)
            x[i] = (float)nn_rng_normal(&r), dy[i] = (float)nn_rng_normal(&r);
        l.type->forward(&l, x, y, 3, &eval);
        double sdy[2] = {0, 0}, sdyx[2] = {0, 0};
        for (int i = 0; i < 24; i++) {
            int c = i / 4 % 2;
            double is = 1 / sqrt(v[c] + 1e-5), want = g[c] * (x[i] - m[c]) * is + b[c];
            CHECK_MSG(fabs(y[i] - want) < 1e-5, "y[%d] = %.7f, want %.7f", i, y[i], want);
            sdy[c] += dy[i], sdyx[c] += dy[i] * (x[i] - m[c]) * is;
        }
        CHECK(l.param[RMEAN].value[0] == 1 && l.param[RVAR].value[1] == 0.25f);
        /* eval backward: the statistics are constants */
        l.param[GAMMA].grad[0] = 1; /* gradients accumulate */
        l.type->backward(&l, x, y, dy, dx, 3, &eval);
        for (int i = 0; i < 24; i++) {
            int c = i / 4 % 2;
            double want = dy[i] * g[c] / sqrt(v[c] + 1e-5);
            CHECK_MSG(fabs(dx[i] - want) < 1e-5, "dx[%d] = %.7f, want %.7f", i, dx[i], want);
        }
        CHECK(fabs(l.param[GAMMA].grad[0] - (1 + sdyx[0])) < 1e-5);
        CHECK(fabs(l.param[GAMMA].grad[1] - sdyx[1]) < 1e-5);
        CHECK(fabs(l.param[BETA].grad[0] - sdy[0]) < 1e-5 && fabs(l.param[BETA].grad[1] - sdy[1]) < 1e-5);
        unmake(&l);
    }

    TEST("train backward: per channel sum dx = 0 and sum dx xhat = 0; dbeta = sum dy; param_grads=0 keeps grads");
    if (make(&l, 3, 3, 2, 4) == 0) {
        enum { SIZE = 4 * 3 * 3 * 2 };
        float x[SIZE], y[SIZE], dy[SIZE], dx[SIZE];
        nn_rng r;
        nn_rng_seed(&r, 4);
        for (int i = 0; i < SIZE; i++)
            x[i] = (float)(1 + 2 * nn_rng_normal(&r)), dy[i] = (float)nn_rng_normal(&r);
        for (int c = 0; c < 3; c++)
            l.param[GAMMA].value[c] = 0.5f + c;
        l.type->forward(&l, x, y, 4, &train);
        l.type->backward(&l, x, y, dy, dx, 4, &train);
        for (int c = 0; c < 3; c++) {
            double mean, var, s = 0, sx = 0, sdy = 0, norm = 0;
            channel_stats(x, 4, 3, 6, c, &mean, &var);
            for (int i = 0; i < SIZE; i++)
                if (i / 6 % 3 == c) {
                    double xhat = (x[i] - mean) / sqrt(var + 1e-5);
                    s += dx[i], sx += dx[i] * xhat, sdy += dy[i], norm += fabs(dx[i]);
                }
            CHECK_MSG(fabs(s) < 1e-5 * norm && fabs(sx) < 1e-4 * norm, "channel %d: sum dx %g, sum dx xhat %g",
                      c, s, sx);
            CHECK(fabs(l.param[BETA].grad[c] - sdy) < 1e-5);
        }
        float g0 = l.param[GAMMA].grad[0], dx0 = dx[0];
        nn_pass nograd = train;
        nograd.param_grads = 0;
        l.type->backward(&l, x, y, dy, dx, 4, &nograd);
        CHECK(l.param[GAMMA].grad[0] == g0 && dx[0] == dx0);
        unmake(&l);
    }

    TEST("one value per channel (dense, batch 1): finite output, running_var kept");
    if (make(&l, 3, 1, 1, 1) == 0) {
        const float x[3] = {1, -2, 5};
        float y[3];
        l.type->forward(&l, x, y, 1, &train);
        CHECK(isfinite(y[0]) && isfinite(y[1]) && isfinite(y[2]) && y[0] == 0);
        CHECK(l.param[RVAR].value[0] == 1 && fabsf(l.param[RMEAN].value[2] - 0.5f) < 1e-6f);
        unmake(&l);
    }

    TEST("the same bits for 1 and 2 threads (8x16x256x256: over the threading threshold, forward and backward)");
    {
        enum { N = 8, CH = 16, HW = 256 * 256, SIZE = N * CH * HW }; /* >= PAR_MIN, 2^23 */
        nn_layer l1, l2;
        int ok = make(&l1, CH, 256, 256, N) == 0;
        ok = make(&l2, CH, 256, 256, N) == 0 && ok;
        if (ok) {
            float *x = malloc(SIZE * sizeof *x), *dy = malloc(SIZE * sizeof *dy);
            float *y1 = malloc(SIZE * sizeof *x), *y2 = malloc(SIZE * sizeof *x);
            float *dx1 = malloc(SIZE * sizeof *x), *dx2 = malloc(SIZE * sizeof *x);
            nn_rng r;
            nn_rng_seed(&r, 8);
            for (int i = 0; i < SIZE; i++)
                x[i] = (float)(3 + nn_rng_normal(&r)), dy[i] = (float)nn_rng_normal(&r);
            omp_set_num_threads(1);
            l1.type->forward(&l1, x, y1, N, &train);
            l1.type->backward(&l1, x, y1, dy, dx1, N, &train);
            omp_set_num_threads(2);
            l2.type->forward(&l2, x, y2, N, &train);
            l2.type->backward(&l2, x, y2, dy, dx2, N, &train);
            CHECK(memcmp(y1, y2, SIZE * sizeof *x) == 0);
            CHECK(memcmp(dx1, dx2, SIZE * sizeof *x) == 0);
            for (int i = 0; i < 4; i++)
                CHECK(memcmp(l1.param[i].value, l2.param[i].value, CH * sizeof(float)) == 0);
            CHECK(memcmp(l1.param[GAMMA].grad, l2.param[GAMMA].grad, CH * sizeof(float)) == 0);
            free(x), free(dy), free(y1), free(y2), free(dx1), free(dx2);
        }
        unmake(&l1);
        unmake(&l2);
    }

    TEST("format omits defaults and writes eps= and momentum= otherwise");
    if (make(&l, 2, 1, 1, 1) == 0) {
        char buf[128];
        l.type->format(&l, buf, sizeof buf);
        CHECK_MSG(strcmp(buf, "") == 0, "'%s'", buf);
        l.cfg.eps = 1e-3f;
        l.cfg.momentum = 0.01f;
        l.type->format(&l, buf, sizeof buf);
        CHECK_MSG(strcmp(buf, "eps=0.001 momentum=0.01") == 0, "'%s'", buf);
        unmake(&l);
    }
    return test_done();
}

/* test_loss.c - the three losses: values on hand-computed cases (large
 * logits included, which must not overflow), gradients against central
 * finite differences of a double-precision reference, out-of-range labels,
 * the same bits for 1 and 2 threads, and the loss names. */
#include "nn.h"
#include "test.h"

#include <omp.h>

/* double references of the three losses (the formulas of lib/loss.c) */
static double ref_xent(const double *z, const int *labels, int n, int k)
{
    double sum = 0;
    for (int i = 0; i < n; i++) {
        const double *zi = z + (size_t)i * k;
        double mx = zi[0], s = 0;
        if (labels[i] < 0 || labels[i] >= k)
            continue;
        for (int j = 1; j < k; j++)
            mx = fmax(mx, zi[j]);
        for (int j = 0; j < k; j++)
            s += exp(zi[j] - mx);
        sum += mx + log(s) - zi[labels[i]];
    }
    return sum / n;
}

static double ref_mse(const double *y, const float *t, int n, int k)
{
    double sum = 0;
    for (int i = 0; i < n * k; i++)
        sum += (y[i] - t[i]) * (y[i] - t[i]);
    return sum / (n * k);
}

static double ref_bce(const double *x, const float *t, int n, int k)
{
    double sum = 0;
    for (int i = 0; i < n * k; i++)
        sum += fmax(x[i], 0) - x[i] * t[i] + log1p(exp(-fabs(x[i])));
    return sum / (n * k);
}

enum { FD_N = 3, FD_K = 5 };
static const int fd_labels[FD_N] = {4, 0, 2};
static float fd_targets[FD_N * FD_K];

static double ref_of(int which, const double *v)
{
    return which == 0 ? ref_xent(v, fd_labels, FD_N, FD_K)
           : which == 1 ? ref_mse(v, fd_targets, FD_N, FD_K)
                        : ref_bce(v, fd_targets, FD_N, FD_K);
}

/* The library's value matches the double reference, and its gradient the
 * reference's central difference (h = 1e-5 in double) on every element. */
static void gradient_case(int which, const char *name)
{
    float x[FD_N * FD_K], d[FD_N * FD_K];
    double v[FD_N * FD_K];
    nn_rng r;
    TEST(name);
    nn_rng_seed(&r, 5 + which);
    for (int i = 0; i < FD_N * FD_K; i++) {
        x[i] = (float)(2 * nn_rng_normal(&r));
        fd_targets[i] = which == 2 ? (float)nn_rng_uniform(&r) : (float)nn_rng_normal(&r);
        v[i] = x[i];
    }
    float loss = which == 0 ? nn_loss_softmax_xent(x, fd_labels, FD_N, FD_K, d)
                 : which == 1 ? nn_loss_mse(x, fd_targets, FD_N, FD_K, d)
                              : nn_loss_sigmoid_bce(x, fd_targets, FD_N, FD_K, d);
    double want = ref_of(which, v);
    CHECK_MSG(fabs(loss - want) <= 1e-6 + 1e-5 * fabs(want), "loss %.9g, reference %.9g", loss, want);
    for (int i = 0; i < FD_N * FD_K; i++) {
        const double h = 1e-5;
        double old = v[i];
        v[i] = old + h;
        double up = ref_of(which, v);
        v[i] = old - h;
        double down = ref_of(which, v);
        v[i] = old;
        double num = (up - down) / (2 * h);
        CHECK_MSG(fabs(d[i] - num) <= 1e-6 + 1e-4 * fabs(num), "d[%d] = %.9g, finite difference %.9g",
                  i, d[i], num);
    }
}

static int all_finite(const float *v, int n)
{
    for (int i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return 0;
    return 1;
}

int main(void)
{
    float d[8];

    TEST("xent: logits (1,2,3) label 2 and (0,0) cases by hand");
    {
        const float z[6] = {1, 2, 3, 1, 2, 3};
        const int lab[2] = {2, 0};
        /* log(e^1 + e^2 + e^3) = 3.40760596; losses 0.40760596 and 2.40760596 */
        float loss = nn_loss_softmax_xent(z, lab, 2, 3, d);
        CHECK_MSG(fabsf(loss - 1.40760596f) < 1e-6f, "loss %.9g", loss);
        double s = exp(1) + exp(2) + exp(3);
        const double want[6] = {exp(1) / s / 2, exp(2) / s / 2, (exp(3) / s - 1) / 2,
                                (exp(1) / s - 1) / 2, exp(2) / s / 2, exp(3) / s / 2};
        for (int j = 0; j < 6; j++)
            CHECK_MSG(fabs(d[j] - want[j]) < 1e-7, "d[%d] = %.9g, want %.9g", j, d[j], want[j]);
        const float u[2] = {0, 0};
        const int l0[1] = {1};
        CHECK(fabsf(nn_loss_softmax_xent(u, l0, 1, 2, NULL) - logf(2)) < 1e-7f);
    }

    TEST("xent: logits 1000 and -1000 do not overflow");
    {
        const float z[6] = {1000, -1000, 0, 1000, -1000, 0};
        const int lab[2] = {0, 1}; /* losses 0 and 2000 */
        float loss = nn_loss_softmax_xent(z, lab, 2, 3, d);
        CHECK_MSG(fabsf(loss - 1000) < 1e-3f, "loss %.9g", loss);
        CHECK(all_finite(d, 6));
        CHECK_MSG(fabsf(d[0]) < 1e-7f && fabsf(d[1]) < 1e-7f && fabsf(d[2]) < 1e-7f,
                  "row 0: %g %g %g", d[0], d[1], d[2]);
        CHECK_MSG(fabsf(d[3] - 0.5f) < 1e-7f && fabsf(d[4] + 0.5f) < 1e-7f && fabsf(d[5]) < 1e-7f,
                  "row 1: %g %g %g", d[3], d[4], d[5]);
    }

    TEST("xent: an out-of-range label adds 0 and gets a zero gradient row");
    {
        const float z[6] = {1, 2, 3, 1, 2, 3};
        const int lab[2] = {2, 7}, lab2[2] = {2, -1};
        for (int j = 0; j < 6; j++)
            d[j] = 99;
        float loss = nn_loss_softmax_xent(z, lab, 2, 3, d);
        CHECK_MSG(fabsf(loss - 0.40760596f / 2) < 1e-6f, "loss %.9g", loss);
        CHECK(d[3] == 0 && d[4] == 0 && d[5] == 0 && d[2] < 0);
        CHECK(nn_loss_softmax_xent(z, lab2, 2, 3, NULL) == loss);
    }

    TEST("mse: y (1,2) t (0,4): loss 2.5, d (1,-2)");
    {
        const float y[2] = {1, 2}, t[2] = {0, 4};
        float loss = nn_loss_mse(y, t, 1, 2, d);
        CHECK_MSG(loss == 2.5f, "loss %.9g", loss);
        CHECK_MSG(d[0] == 1 && d[1] == -2, "d %g %g", d[0], d[1]);
        CHECK(nn_loss_mse(y, t, 2, 1, NULL) == 2.5f); /* same mean over n*k */
    }

    TEST("bce: logits 0, +-1000 by hand, no overflow");
    {
        const float x[5] = {0, 1000, -1000, 1000, 2}, t[5] = {1, 1, 1, 0, 0.25f};
        /* log 2, 0, 1000, 1000, 2 - 0.5 + log(1 + e^-2) */
        double want = (log(2) + 0 + 1000 + 1000 + 1.5 + log1p(exp(-2))) / 5;
        float loss = nn_loss_sigmoid_bce(x, t, 1, 5, d);
        CHECK_MSG(fabs(loss - want) < 1e-4, "loss %.9g, want %.9g", loss, want);
        CHECK(all_finite(d, 5));
        double sig2 = 1 / (1 + exp(-2.0));
        const double wd[5] = {-0.5 / 5, 0, -1.0 / 5, 1.0 / 5, (sig2 - 0.25) / 5};
        for (int j = 0; j < 5; j++)
            CHECK_MSG(fabs(d[j] - wd[j]) < 1e-7, "d[%d] = %.9g, want %.9g", j, d[j], wd[j]);
    }

    gradient_case(0, "xent: value and gradient match a double reference and its finite differences");
    gradient_case(1, "mse: value and gradient match a double reference and its finite differences");
    gradient_case(2, "bce: value and gradient match a double reference and its finite differences");

    TEST("the loss has the same bits for 1 and 2 threads (xent 512x1000, mse, bce)");
    {
        int n = 512, k = 1000;
        float *z = malloc(sizeof(float) * n * k), *t = malloc(sizeof(float) * n * k);
        float *d1 = malloc(sizeof(float) * n * k), *d2 = malloc(sizeof(float) * n * k);
        int *lab = malloc(sizeof(int) * n);
        nn_rng r;
        nn_rng_seed(&r, 1);
        for (int i = 0; i < n * k; i++)
            z[i] = (float)(3 * nn_rng_normal(&r)), t[i] = (float)nn_rng_uniform(&r);
        for (int i = 0; i < n; i++)
            lab[i] = (int)(nn_rng_u64(&r) % k);
        float v1[3], v2[3];
        omp_set_num_threads(1);
        v1[0] = nn_loss_softmax_xent(z, lab, n, k, d1);
        v1[1] = nn_loss_mse(z, t, n, k, NULL);
        v1[2] = nn_loss_sigmoid_bce(z, t, n, k, NULL);
        omp_set_num_threads(2);
        v2[0] = nn_loss_softmax_xent(z, lab, n, k, d2);
        v2[1] = nn_loss_mse(z, t, n, k, NULL);
        v2[2] = nn_loss_sigmoid_bce(z, t, n, k, NULL);
        CHECK(memcmp(v1, v2, sizeof v1) == 0);
        CHECK(memcmp(d1, d2, sizeof(float) * n * k) == 0);
        free(z), free(t), free(d1), free(d2), free(lab);
    }

    TEST("loss names parse and print; an unknown name lists the valid ones");
    {
        nn_loss_kind kind = NN_LOSS_MSE;
        nn_error e = {{0}};
        CHECK(nn_loss_parse(&kind, "xent", &e) == 0 && kind == NN_LOSS_XENT);
        CHECK(nn_loss_parse(&kind, "mse", &e) == 0 && kind == NN_LOSS_MSE);
        CHECK(nn_loss_parse(&kind, "bce", &e) == 0 && kind == NN_LOSS_BCE);
        for (int i = 0; i < 3; i++)
            CHECK(nn_loss_parse(&kind, nn_loss_name((nn_loss_kind)i), &e) == 0 && kind == (nn_loss_kind)i);
        CHECK(nn_loss_parse(&kind, "hinge", &e) == -1 && kind == NN_LOSS_BCE);
        CHECK_MSG(strstr(e.msg, "hinge") && strstr(e.msg, "xent") && strstr(e.msg, "mse") &&
                      strstr(e.msg, "bce"),
                  "%s", e.msg);
        CHECK(nn_loss_parse(&kind, NULL, &e) == -1);
    }
    return test_done();
}

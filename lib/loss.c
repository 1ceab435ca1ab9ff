/* loss.c - the losses of a model's output: mean value and gradient.
 *
 * Inputs are [n, k] (n samples of k values); each function returns the mean
 * loss and, when d is not NULL, writes d = dloss/dinput [n, k].
 *   xent: softmax cross-entropy on logits z with integer labels,
 *         loss = mean_i (logsumexp(z[i,:]) - z[i,label_i]),
 *         d = (softmax(z) - onehot(label)) / n.
 *         A label outside [0,k) is a caller error (datasets and the model
 *         check labels against the class count); such a sample adds 0 to
 *         the sum, gets a zero gradient row, and the mean still divides
 *         by n.
 *   mse:  loss = sum (y - t)^2 / (n k), d = 2 (y - t) / (n k).
 *   bce:  sigmoid binary cross-entropy on logits x, targets t in [0,1],
 *         loss = sum (max(x,0) - x t + log(1 + exp(-|x|))) / (n k),
 *         d = (sigmoid(x) - t) / (n k).
 * No exp overflows for any finite input. The sum is taken over fixed
 * chunks in parallel and the chunk sums are added in order, in double, so
 * the value has the same bits for any number of threads. */
#include "nn.h"

#include <math.h>
#include <string.h>

#define CHUNK 4096 /* values per chunk of the parallel sum */
#define GROUP 64   /* chunks per parallel loop */

typedef struct loss_args {
    const float *x;  /* logits or outputs [n, k] */
    const void *t;   /* int labels [n] or float targets [n, k] */
    int k;
    float *d;        /* gradient [n, k] or NULL */
    double scale;    /* 1 / (number of terms of the mean) */
} loss_args;

/* Sum of the loss terms of units [lo, hi), writing their gradient. */
typedef double (*loss_range)(const loss_args *a, size_t lo, size_t hi);

/* f over units [0, total) in chunks of `chunk` units; chunk sums are added
 * in chunk order whatever the thread count. */
static double sum_chunks(loss_range f, const loss_args *a, size_t total,
                         size_t chunk)
{
    double sum = 0, part[GROUP];
    for (size_t base = 0; base < total; base += GROUP * chunk) {
        size_t left = total - base;
        int nc = left / chunk >= GROUP ? GROUP : (int)((left + chunk - 1) / chunk);
#pragma omp parallel for if (nc > 1) schedule(static)
        for (int c = 0; c < nc; c++) {
            size_t lo = base + (size_t)c * chunk;
            size_t hi = lo + chunk < total ? lo + chunk : total;
            part[c] = f(a, lo, hi);
        }
        for (int c = 0; c < nc; c++)
            sum += part[c];
    }
    return sum;
}

/* Rows [lo, hi) of softmax cross-entropy. */
static double xent_rows(const loss_args *a, size_t lo, size_t hi)
{
    const int *labels = a->t;
    int k = a->k;
    double loss = 0;
    for (size_t i = lo; i < hi; i++) {
        const float *z = a->x + i * k;
        float *d = a->d ? a->d + i * k : NULL, mx = z[0];
        int y = labels[i];
        if (y < 0 || y >= k) { /* contributes nothing */
            if (d)
                memset(d, 0, (size_t)k * sizeof *d);
            continue;
        }
        for (int j = 1; j < k; j++)
            mx = z[j] > mx ? z[j] : mx;
        double s = 0;
        for (int j = 0; j < k; j++)
            s += expf(z[j] - mx);
        loss += mx + log(s) - z[y];
        if (d) {
            double inv = 1.0 / s;
            for (int j = 0; j < k; j++)
                d[j] = (float)((expf(z[j] - mx) * inv - (j == y)) * a->scale);
        }
    }
    return loss;
}

float nn_loss_softmax_xent(const float *logits, const int *labels, int n,
                           int k, float *dlogits)
{
    if (n <= 0 || k <= 0)
        return 0;
    loss_args a = {logits, labels, k, dlogits, 1.0 / n};
    size_t rows = (size_t)k >= CHUNK ? 1 : CHUNK / (size_t)k;
    return (float)(sum_chunks(xent_rows, &a, (size_t)n, rows) / n);
}

static double mse_range(const loss_args *a, size_t lo, size_t hi)
{
    const float *t = a->t;
    double loss = 0;
    for (size_t i = lo; i < hi; i++) {
        float diff = a->x[i] - t[i];
        loss += (double)diff * diff;
        if (a->d)
            a->d[i] = (float)(2 * diff * a->scale);
    }
    return loss;
}

float nn_loss_mse(const float *y, const float *target, int n, int k,
                  float *dy)
{
    size_t total = (size_t)(n > 0 ? n : 0) * (size_t)(k > 0 ? k : 0);
    if (total == 0)
        return 0;
    loss_args a = {y, target, k, dy, 1.0 / (double)total};
    return (float)(sum_chunks(mse_range, &a, total, CHUNK) / (double)total);
}

static double bce_range(const loss_args *a, size_t lo, size_t hi)
{
    const float *t = a->t;
    double loss = 0;
    for (size_t i = lo; i < hi; i++) {
        float x = a->x[i], e = expf(-fabsf(x)); /* in (0, 1] */
        loss += (x > 0 ? x : 0) - (double)x * t[i] + log1pf(e);
        if (a->d) {
            float s = x >= 0 ? 1 / (1 + e) : e / (1 + e); /* sigmoid(x) */
            a->d[i] = (float)((s - t[i]) * a->scale);
        }
    }
    return loss;
}

float nn_loss_sigmoid_bce(const float *logits, const float *target, int n,
                          int k, float *dlogits)
{
    size_t total = (size_t)(n > 0 ? n : 0) * (size_t)(k > 0 ? k : 0);
    if (total == 0)
        return 0;
    loss_args a = {logits, target, k, dlogits, 1.0 / (double)total};
    return (float)(sum_chunks(bce_range, &a, total, CHUNK) / (double)total);
}

static const char *const loss_names[] = {"xent", "mse", "bce"};

int nn_loss_parse(nn_loss_kind *kind, const char *text, nn_error *e)
{
    for (int i = 0; i < 3; i++)
        if (text && strcmp(text, loss_names[i]) == 0) {
            *kind = (nn_loss_kind)i;
            return 0;
        }
    return nn_fail(e, "unknown loss '%s'; expected xent (softmax cross-entropy), "
                      "mse (mean squared error) or bce (sigmoid binary cross-entropy)",
                   text ? text : "");
}

const char *nn_loss_name(nn_loss_kind kind)
{
    return (unsigned)kind < 3 ? loss_names[kind] : "unknown";
}

/* layer_pool.c - max pooling, average pooling and global average pooling.
 *
 * x is [n, C, H, W], y is [n, C, OH, OW]; the window of output (r, q)
 * covers the input rows r*sh-pt .. r*sh-pt+kh-1 and the columns
 * q*sw-pl .. q*sw-pl+kw-1, of which only the cells inside the input count:
 *   maxpool  y = the largest real cell (padding never wins: -inf padding);
 *            ties go to the first in row-major window order, a NaN wins,
 *            as in PyTorch. l->saved keeps the winner's index in its input
 *            plane, [n, C, OH, OW] int32, for backward (dx[winner] += dy).
 *   avgpool  y = the mean of the real cells (padding is not counted);
 *            backward spreads dy / count over them.
 *   gap      y [n, C, 1, 1] = the mean over each H x W plane.
 * The stride defaults to the kernel. Planes (n*C of them) run in parallel;
 * each output is computed by one thread, so results do not depend on the
 * number of threads. */
#include "nn.h"

#include <math.h>
#include <stdint.h>
#if defined(__AVX2__)
#include <immintrin.h>
#endif
#include <stdlib.h>
#include <string.h>

/* Below this many values a loop runs on one thread: a parallel region
 * costs a wake-up of the other threads, and on a busy machine, where they
 * may not be running, milliseconds (more than the loop takes). */
#define PAR_MIN (1 << 23)

/* The window of output (r, q), clipped to the input: rows [*i0, *i1),
 * columns [*j0, *j1). */
static void window(const nn_layer *l, int r, int q, int *i0, int *i1, int *j0,
                   int *j1)
{
    const nn_layer_cfg *c = &l->cfg;
    int a = r * c->sh - c->pt, b = q * c->sw - c->pl;
    *i0 = a < 0 ? 0 : a;
    *i1 = a + c->kh > l->in.h ? l->in.h : a + c->kh;
    *j0 = b < 0 ? 0 : b;
    *j1 = b + c->kw > l->in.w ? l->in.w : b + c->kw;
}

/* ---- maxpool ------------------------------------------------------------ */

/* The outputs [*lo, *hi) of a dimension whose windows lie wholly inside
 * the input (no clipping): q*s - pad >= 0 and q*s - pad + k <= in. */
static void inner_range(int pad, int k, int s, int in, int out, int *lo,
                        int *hi)
{
    int a = (pad + s - 1) / s, b = in + pad - k >= 0 ? (in + pad - k) / s + 1 : 0;
    *lo = a < out ? a : out;
    *hi = b < out ? b : out;
    if (*hi < *lo)
        *hi = *lo;
}

/* The winner of a window: cells in row-major order, a later cell wins when
 * it is larger or NaN (PyTorch's rule). */
#define MAX_STEP(v, idx)                  \
    do {                                  \
        float v_ = (v);                   \
        if (v_ > m || isnan(v_))          \
            m = v_, best = (idx);         \
    } while (0)

/* One output (r, q) of a plane, window clipped to the input. */
static void maxpool_clipped(const nn_layer *l, const float *x, int r, int q,
                            float *y, int32_t *arg)
{
    int w = l->in.w, i0, i1, j0, j1;
    window(l, r, q, &i0, &i1, &j0, &j1);
    int best = i0 * w + j0;
    float m = x[best];
    for (int i = i0; i < i1; i++)
        for (int j = j0; j < j1; j++)
            MAX_STEP(x[i * w + j], i * w + j);
    *y = m;
    *arg = best;
}

/* Outputs q0..q1-1 of a row of 2x2 windows at stride 2 lying inside the
 * input: x0 and x1 are the window's two input rows, at column 2*q0, base
 * the index of x0[0] in its plane. Branch-free (the winner of random data
 * is a coin flip); the same rule as MAX_STEP. */
#if defined(__AVX2__)
/* The even and odd elements of p[0..16). */
static inline void deinterleave8(const float *p, __m256 *even, __m256 *odd)
{
    __m256 lo = _mm256_loadu_ps(p), hi = _mm256_loadu_ps(p + 8);
    __m256 e = _mm256_shuffle_ps(lo, hi, 0x88), o = _mm256_shuffle_ps(lo, hi, 0xdd);
    *even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), 0xd8));
    *odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), 0xd8));
}

/* m, k = v, idx where v is larger than m or NaN. */
static inline void max_step8(__m256 *m, __m256i *k, __m256 v, __m256i idx)
{
    __m256 t = _mm256_or_ps(_mm256_cmp_ps(v, *m, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    *m = _mm256_blendv_ps(*m, v, t);
    *k = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(*k), _mm256_castsi256_ps(idx), t));
}

/* 8 outputs from x0[0..16) and x1[0..16). */
static inline void max2x2_8(const float *x0, const float *x1, int32_t base, int w,
                            float *y, int32_t *arg)
{
    __m256 a, b, c, d;
    deinterleave8(x0, &a, &b);
    deinterleave8(x1, &c, &d);
    __m256i k = _mm256_setzero_si256();
    max_step8(&a, &k, b, _mm256_set1_epi32(1));
    max_step8(&a, &k, c, _mm256_set1_epi32(w));
    max_step8(&a, &k, d, _mm256_set1_epi32(w + 1));
    __m256i q2 = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
    k = _mm256_add_epi32(k, _mm256_add_epi32(q2, _mm256_set1_epi32(base)));
    _mm256_storeu_ps(y, a);
    _mm256_storeu_si256((__m256i *)arg, k);
}

static void maxpool_row_2x2(const float *restrict x0, const float *restrict x1,
                            int q0, int q1, int32_t base, int w,
                            float *restrict y, int32_t *restrict arg)
{
    int n = q1 - q0, q = 0;
    for (; q + 8 <= n; q += 8)
        max2x2_8(x0 + 2 * q, x1 + 2 * q, base + 2 * q, w, y + q, arg + q);
    if (q < n) { /* the tail, through copies (no reads past the row) */
        float a[16] = {0}, b[16] = {0}, ty[8];
        int32_t targ[8];
        memcpy(a, x0 + 2 * q, 2 * (n - q) * sizeof(float));
        memcpy(b, x1 + 2 * q, 2 * (n - q) * sizeof(float));
        max2x2_8(a, b, base + 2 * q, w, ty, targ);
        memcpy(y + q, ty, (n - q) * sizeof(float));
        memcpy(arg + q, targ, (n - q) * sizeof(int32_t));
    }
}
#else
static void maxpool_row_2x2(const float *restrict x0, const float *restrict x1,
                            int q0, int q1, int32_t base, int w,
                            float *restrict y, int32_t *restrict arg)
{
    for (int q = 0; q < q1 - q0; q++) {
        float a = x0[2 * q], b = x0[2 * q + 1], c = x1[2 * q], d = x1[2 * q + 1];
        float m = a;
        int32_t k = 0;
        int t = b > m || b != b;
        m = t ? b : m, k = t ? 1 : k;
        t = c > m || c != c;
        m = t ? c : m, k = t ? w : k;
        t = d > m || d != d;
        m = t ? d : m, k = t ? w + 1 : k;
        y[q] = m;
        arg[q] = base + 2 * q + k;
    }
}
#endif

/* One plane: y [OH, OW] and the winners' indices arg from x [H, W]. Rows
 * and columns whose windows lie inside the input skip the clipping; the
 * 2x2 window at stride 2 has its own loop. */
static void maxpool_plane(const nn_layer *l, const float *x, float *y,
                          int32_t *arg)
{
    const nn_layer_cfg *c = &l->cfg;
    int w = l->in.w, oh = l->out.h, ow = l->out.w, kh = c->kh, kw = c->kw;
    int rlo, rhi, qlo, qhi;
    int k22 = kh == 2 && kw == 2 && c->sh == 2 && c->sw == 2;
    inner_range(c->pt, kh, c->sh, l->in.h, oh, &rlo, &rhi);
    inner_range(c->pl, kw, c->sw, w, ow, &qlo, &qhi);
    for (int r = 0; r < oh; r++, y += ow, arg += ow) {
        int inner = r >= rlo && r < rhi;
        int a = r * c->sh - c->pt;
        for (int q = 0; q < ow; q++) {
            if (!inner || q < qlo || q >= qhi) {
                maxpool_clipped(l, x, r, q, y + q, arg + q);
                continue;
            }
            int i0 = a * w + q * c->sw - c->pl, best = i0;
            if (k22) {
                maxpool_row_2x2(x + i0, x + i0 + w, q, qhi, i0, w, y + q, arg + q);
                q = qhi - 1;
                continue;
            }
            float m = x[i0];
            for (int i = 0; i < kh; i++)
                for (int j = 0; j < kw; j++)
                    MAX_STEP(x[i0 + i * w + j], i0 + i * w + j);
            y[q] = m;
            arg[q] = best;
        }
    }
}

static void maxpool_forward(nn_layer *l, const float *x, float *y, int n,
                            const nn_pass *p)
{
    (void)p;
    long planes = (long)n * l->in.c;
    size_t xs = (size_t)l->in.h * l->in.w, ys = (size_t)l->out.h * l->out.w;
    int32_t *arg = l->saved;
#pragma omp parallel for if (planes * xs >= PAR_MIN) schedule(static)
    for (long i = 0; i < planes; i++)
        maxpool_plane(l, x + i * xs, y + i * ys, arg + i * ys);
}

static void maxpool_backward(nn_layer *l, const float *x, const float *y,
                             const float *dy, float *dx, int n,
                             const nn_pass *p)
{
    (void)x, (void)y, (void)p;
    long planes = (long)n * l->in.c;
    size_t xs = (size_t)l->in.h * l->in.w, ys = (size_t)l->out.h * l->out.w;
    const int32_t *arg = l->saved;
    if (!dx)
        return;
#pragma omp parallel for if (planes * xs >= PAR_MIN) schedule(static)
    for (long i = 0; i < planes; i++) {
        float *d = dx + i * xs;
        memset(d, 0, xs * sizeof(float));
        for (size_t k = 0; k < ys; k++)
            d[arg[i * ys + k]] += dy[i * ys + k];
    }
}

static size_t maxpool_saved_bytes(const nn_layer *l, int n)
{
    return (size_t)n * nn_dims_size(l->out) * sizeof(int32_t);
}

/* ---- avgpool ------------------------------------------------------------ */

static void avgpool_forward(nn_layer *l, const float *x, float *y, int n,
                            const nn_pass *p)
{
    (void)p;
    long planes = (long)n * l->in.c;
    int w = l->in.w, oh = l->out.h, ow = l->out.w;
    size_t xs = (size_t)l->in.h * w, ys = (size_t)oh * ow;
#pragma omp parallel for if (planes * xs >= PAR_MIN) schedule(static)
    for (long t = 0; t < planes; t++) {
        const float *xp = x + t * xs;
        float *yp = y + t * ys;
        for (int r = 0; r < oh; r++)
            for (int q = 0; q < ow; q++) {
                int i0, i1, j0, j1;
                float s = 0;
                window(l, r, q, &i0, &i1, &j0, &j1);
                for (int i = i0; i < i1; i++)
                    for (int j = j0; j < j1; j++)
                        s += xp[i * w + j];
                *yp++ = s / ((i1 - i0) * (j1 - j0));
            }
    }
}

static void avgpool_backward(nn_layer *l, const float *x, const float *y,
                             const float *dy, float *dx, int n,
                             const nn_pass *p)
{
    (void)x, (void)y, (void)p;
    long planes = (long)n * l->in.c;
    int w = l->in.w, oh = l->out.h, ow = l->out.w;
    size_t xs = (size_t)l->in.h * w, ys = (size_t)oh * ow;
    if (!dx)
        return;
#pragma omp parallel for if (planes * xs >= PAR_MIN) schedule(static)
    for (long t = 0; t < planes; t++) {
        float *d = dx + t * xs;
        const float *g = dy + t * ys;
        memset(d, 0, xs * sizeof(float));
        for (int r = 0; r < oh; r++)
            for (int q = 0; q < ow; q++) {
                int i0, i1, j0, j1;
                window(l, r, q, &i0, &i1, &j0, &j1);
                float v = *g++ / ((i1 - i0) * (j1 - j0));
                for (int i = i0; i < i1; i++)
                    for (int j = j0; j < j1; j++)
                        d[i * w + j] += v;
            }
    }
}

/* ---- maxpool and avgpool: text form and setup --------------------------- */

static int pool_parse(nn_layer *l, nn_args *a, nn_error *e)
{
    nn_layer_cfg *c = &l->cfg;
    const char *stride = nn_args_option(a, "stride");
    const char *pad = nn_args_option(a, "pad");
    if (nn_args_count(a) != 1)
        return nn_args_fail(a, e, "expected one kernel size; usage: %s", l->type->usage);
    if (nn_args_pair(a, nn_args_get(a, 0), "kernel", &c->kh, &c->kw, e) < 0)
        return -1;
    c->sh = c->kh, c->sw = c->kw;
    if (stride && nn_args_pair(a, stride, "stride", &c->sh, &c->sw, e) < 0)
        return -1;
    return nn_args_pad(a, pad, c, e);
}

static void pool_format(const nn_layer *l, char *buf, size_t size)
{
    const nn_layer_cfg *c = &l->cfg;
    size_t n = snprintf(buf, size, "%dx%d", c->kh, c->kw);
    if (n < size && (c->sh != c->kh || c->sw != c->kw))
        n += c->sh == c->sw ? snprintf(buf + n, size - n, " stride=%d", c->sh)
                            : snprintf(buf + n, size - n, " stride=%dx%d", c->sh, c->sw);
    if (n < size && c->pad_mode == NN_PAD_SAME)
        snprintf(buf + n, size - n, " pad=same");
    else if (n < size && c->pad_mode == NN_PAD_EXPLICIT)
        snprintf(buf + n, size - n, " pad=%d", c->pad);
}

/* Every window must hold at least one real cell. */
static int pool_setup(nn_layer *l, nn_error *e)
{
    nn_layer_cfg *c = &l->cfg;
    int oh, ow;
    if (c->pad_mode == NN_PAD_EXPLICIT && (c->pad >= c->kh || c->pad >= c->kw))
        return nn_fail(e, "pad=%d must be smaller than the %dx%d window", c->pad,
                       c->kh, c->kw);
    if (nn_window_setup(l, &oh, &ow, e) < 0)
        return -1;
    l->out.c = l->in.c, l->out.h = oh, l->out.w = ow;
    return 0;
}

static double pool_flops(const nn_layer *l)
{
    return (double)nn_dims_size(l->out) * l->cfg.kh * l->cfg.kw;
}

const nn_layer_type nn_layer_maxpool = {
    .keyword = "maxpool",
    .usage = "maxpool KxK|K [stride=S|SxS] [pad=same|valid|N]",
    .parse = pool_parse,
    .setup = pool_setup,
    .forward = maxpool_forward,
    .backward = maxpool_backward,
    .saved_bytes = maxpool_saved_bytes,
    .format = pool_format,
    .flops = pool_flops,
};

const nn_layer_type nn_layer_avgpool = {
    .keyword = "avgpool",
    .usage = "avgpool KxK|K [stride=S|SxS] [pad=same|valid|N]",
    .parse = pool_parse,
    .setup = pool_setup,
    .forward = avgpool_forward,
    .backward = avgpool_backward,
    .format = pool_format,
    .flops = pool_flops,
};

/* ---- gap ---------------------------------------------------------------- */

static int gap_parse(nn_layer *l, nn_args *a, nn_error *e)
{
    if (nn_args_count(a) > 0)
        return nn_args_fail(a, e, "takes no arguments, not '%s'; usage: %s",
                            nn_args_get(a, 0), l->type->usage);
    return 0;
}

static int gap_setup(nn_layer *l, nn_error *e)
{
    (void)e;
    l->out.c = l->in.c, l->out.h = l->out.w = 1;
    return 0;
}

static void gap_forward(nn_layer *l, const float *x, float *y, int n,
                        const nn_pass *p)
{
    (void)p;
    long planes = (long)n * l->in.c;
    size_t xs = (size_t)l->in.h * l->in.w;
#pragma omp parallel for if (planes * xs >= PAR_MIN) schedule(static)
    for (long t = 0; t < planes; t++) {
        float s = 0;
        for (size_t k = 0; k < xs; k++)
            s += x[t * xs + k];
        y[t] = s / xs;
    }
}

static void gap_backward(nn_layer *l, const float *x, const float *y,
                         const float *dy, float *dx, int n, const nn_pass *p)
{
    (void)x, (void)y, (void)p;
    long planes = (long)n * l->in.c;
    size_t xs = (size_t)l->in.h * l->in.w;
    if (!dx)
        return;
#pragma omp parallel for if (planes * xs >= PAR_MIN) schedule(static)
    for (long t = 0; t < planes; t++)
        for (size_t k = 0; k < xs; k++)
            dx[t * xs + k] = dy[t] / xs;
}

static double gap_flops(const nn_layer *l) { return (double)nn_dims_size(l->in); }

const nn_layer_type nn_layer_gap = {
    .keyword = "gap",
    .usage = "gap",
    .parse = gap_parse,
    .setup = gap_setup,
    .forward = gap_forward,
    .backward = gap_backward,
    .flops = gap_flops,
};

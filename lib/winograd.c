/* winograd.c - 3x3 stride-1 convolutions by Winograd's minimal filtering
 * F(2x2, 3x3) (Lavin and Gray, "Fast Algorithms for Convolutional Neural
 * Networks", 2015), for the conv layer's forward and its gradient to the
 * input when both channel counts are large.
 *
 * The output is cut into tiles of 2x2, each computed from a 4x4 patch d of
 * the input (zero outside it) and every filter g [3x3] as
 *   Y = A^T [ (G g G^T) (.) (B^T d B) ] A
 * where (.) is the element-wise product of 4x4 matrices. Summed over input
 * channels, each of the 16 elements xi is a matrix product
 *   M[xi] [O, T] = U[xi] [O, C] . V[xi] [C, T]
 * (U the transformed filters, V the transformed patches of T tiles): 16
 * products of C multiply-adds per 4 outputs, against 36 for the direct
 * method, done by OpenBLAS sgemm. Tiles of all samples are taken in blocks
 * small enough that V and M stay in the cache; each block is transformed
 * by channels, multiplied by (xi, rows of U) and transformed back by
 * output channels, the three steps shared out among the threads. The
 * result does not depend on the number of threads up to 8 (each product
 * is one single-threaded sgemm call).
 *
 * The transforms (coefficients 0, +-1 and 1/2) add rounding errors of the
 * size of the sums' own: results agree with the direct method to a few
 * units in the last place of the largest term. */
#include "winograd_impl.h"

#include <cblas.h>
#include <omp.h>
#include <string.h>

#define BLOCK_FLOATS (1 << 22) /* V and M of a block: 16 MiB */

static size_t round16(size_t n) { return (n + 15) / 16 * 16; }

void nn_winograd_plan(nn_winograd *w, int c, int h, int wd, int o, int oh, int ow, int pt,
                      int pl)
{
    w->c = c, w->h = h, w->w = wd, w->o = o, w->oh = oh, w->ow = ow, w->pt = pt, w->pl = pl;
    w->th = (oh + 1) / 2, w->tw = (ow + 1) / 2;
    long rows = BLOCK_FLOATS / (16L * (c + o) * w->tw);
    w->rows = rows < 1 ? 1 : (int)rows;
}

/* Tile rows per block for a batch of n. */
static int block_rows(const nn_winograd *w, int n)
{
    long all = (long)n * w->th;
    return all < w->rows ? (int)all : w->rows;
}

/* Per thread: an input row with its padding, its even and odd columns
 * for 4 rows and their 16 column transforms (output: 4 rows of 2 tw). */
static size_t scratch_floats(const nn_winograd *w)
{
    return round16(32 * ((size_t)w->tw + 1));
}

size_t nn_winograd_floats(const nn_winograd *w, int n, int nt)
{
    size_t tb = (size_t)block_rows(w, n) * w->tw;
    return round16(16 * (size_t)w->o * w->c) + round16(16 * (size_t)w->c * tb) +
           round16(16 * (size_t)w->o * tb) + nt * scratch_floats(w);
}

/* u[xi * so + k] = (G g_k G^T)[xi] for k < n <= FILTERS, the 3x3 filters
 * g_k at g + 9 k (rows of 3): G g G^T is h = g G^T by rows of g, then G h
 * by columns of h. The filters are first turned into 9 rows of n, so that
 * the loop over k vectorizes, and the results copied out row by row (the
 * rows of u are a multiple of 4 KiB apart: 16 stores at once to them
 * would compete for the same cache sets). */
#define FILTERS 256
static void filter_transform(int n, const float *restrict g, float *restrict u, size_t so)
{
    float t[9][FILTERS], r[16][FILTERS];
    for (int k = 0; k < n; k++)
        for (int j = 0; j < 9; j++)
            t[j][k] = g[9 * k + j];
    for (int k = 0; k < n; k++) {
        float h[3][4];
        for (int i = 0; i < 3; i++) {
            float a = t[3 * i][k], b = t[3 * i + 1][k], c = t[3 * i + 2][k];
            h[i][0] = a, h[i][1] = 0.5f * (a + b + c), h[i][2] = 0.5f * (a - b + c), h[i][3] = c;
        }
        for (int j = 0; j < 4; j++) {
            float a = h[0][j], b = h[1][j], c = h[2][j];
            r[j][k] = a;
            r[4 + j][k] = 0.5f * (a + b + c);
            r[8 + j][k] = 0.5f * (a - b + c);
            r[12 + j][k] = c;
        }
    }
    for (int xi = 0; xi < 16; xi++)
        memcpy(u + xi * so, r[xi], n * sizeof(float));
}

/* The transforms below are loops over the tiles of a row, written with
 * restrict parameters so that they vectorize. */

/* ev[k] = line[2k], od[k] = line[2k + 1] for k < n. */
static void deinterleave(int n, const float *restrict line, float *restrict ev,
                         float *restrict od)
{
    for (int k = 0; k < n; k++)
        ev[k] = line[2 * k], od[k] = line[2 * k + 1];
}

/* line[2k] = ev[k], line[2k + 1] = od[k] for 2k + 1 < n, and the last
 * even column when n is odd. */
static void interleave(int n, const float *restrict ev, const float *restrict od,
                       float *restrict line)
{
    for (int k = 0; 2 * k + 1 < n; k++)
        line[2 * k] = ev[k], line[2 * k + 1] = od[k];
    if (n & 1)
        line[n - 1] = ev[n / 2];
}

/* (d B) of the tiles of one patch row, from its even and odd columns:
 * columns 0..3 of tile k are ev[k], od[k], ev[k + 1], od[k + 1]. */
static void patch_columns(int n, const float *restrict ev, const float *restrict od,
                          float *restrict c0, float *restrict c1, float *restrict c2,
                          float *restrict c3)
{
    for (int k = 0; k < n; k++) {
        c0[k] = ev[k] - ev[k + 1];
        c1[k] = od[k] + ev[k + 1];
        c2[k] = ev[k + 1] - od[k];
        c3[k] = od[k] - od[k + 1];
    }
}

/* B^T applied to the 4 rows a0..a3 (one column of the tiles' d B). */
static void patch_rows(int n, const float *restrict a0, const float *restrict a1,
                       const float *restrict a2, const float *restrict a3, float *restrict v0,
                       float *restrict v1, float *restrict v2, float *restrict v3)
{
    for (int k = 0; k < n; k++) {
        v0[k] = a0[k] - a2[k];
        v1[k] = a1[k] + a2[k];
        v2[k] = a2[k] - a1[k];
        v3[k] = a1[k] - a3[k];
    }
}

/* A^T applied to 4 rows: s = bias + (a + b + c), t = bias + (b - c - d). */
static void output_sums(int n, const float *restrict a, const float *restrict b,
                        const float *restrict c, const float *restrict d, float bias,
                        float *restrict s, float *restrict t)
{
    for (int k = 0; k < n; k++) {
        s[k] = bias + (a[k] + b[k] + c[k]);
        t[k] = bias + (b[k] - c[k] - d[k]);
    }
}

/* V rows (xi, c) at columns [off, off + tw): channel c of tile row ty of
 * plane x (B^T d B of each tile's patch d). */
static void input_row(const nn_winograd *w, const float *x, int ty, int c, float *v,
                      size_t nb, size_t off, float *scratch)
{
    int tw = w->tw, n1 = tw + 1;
    float *line = scratch, *eo = line + 2 * n1, *col = eo + 8 * n1;
    for (int i = 0; i < 4; i++) {
        int r = 2 * ty - w->pt + i;
        memset(line, 0, 2 * n1 * sizeof(float));
        if (r >= 0 && r < w->h)
            memcpy(line + w->pl, x + (size_t)r * w->w, w->w * sizeof(float));
        float *ev = eo + 2 * i * n1, *od = ev + n1;
        deinterleave(n1, line, ev, od);
        patch_columns(tw, ev, od, col + 4 * i * tw, col + (4 * i + 1) * tw,
                      col + (4 * i + 2) * tw, col + (4 * i + 3) * tw);
    }
    size_t sv = (size_t)w->c * nb;
    float *v0 = v + (size_t)c * nb + off;
    for (int j = 0; j < 4; j++)
        patch_rows(tw, col + j * tw, col + (4 + j) * tw, col + (8 + j) * tw,
                   col + (12 + j) * tw, v0 + j * sv, v0 + (4 + j) * sv, v0 + (8 + j) * sv,
                   v0 + (12 + j) * sv);
}

/* Output rows 2 ty, 2 ty + 1 of plane y (+ bias) from the M rows (xi, o)
 * at columns [off, off + tw) (A^T m A of each tile's m). */
static void output_row(const nn_winograd *w, const float *m, int o, size_t nb, size_t off,
                       float bias, int ty, float *y, float *scratch)
{
    int tw = w->tw;
    size_t sm = (size_t)w->o * nb;
    const float *m0 = m + (size_t)o * nb + off;
    float *st = scratch, *out = st + 8 * tw; /* m A by rows; A^T m A */
    for (int j = 0; j < 4; j++)
        output_sums(tw, m0 + j * sm, m0 + (4 + j) * sm, m0 + (8 + j) * sm, m0 + (12 + j) * sm,
                    0.0f, st + j * tw, st + (4 + j) * tw);
    for (int i = 0; i < 2; i++)
        output_sums(tw, st + 4 * i * tw, st + (4 * i + 1) * tw, st + (4 * i + 2) * tw,
                    st + (4 * i + 3) * tw, bias, out + 2 * i * tw, out + (2 * i + 1) * tw);
    for (int i = 0; i < 2 && 2 * ty + i < w->oh; i++)
        interleave(w->ow, out + 2 * i * tw, out + (2 * i + 1) * tw,
                   y + (size_t)(2 * ty + i) * w->ow);
}

/* xi = (i, j) -> (3 - i, 3 - j) for 0 and 3, (i, j) for 1 and 2: the
 * transform of a filter turned by 180 degrees is that of the filter with
 * rows and columns 0 and 3 swapped. */
static int turned(int xi)
{
    static const int p[4] = {3, 1, 2, 0};
    return 4 * p[xi / 4] + p[xi % 4];
}

void nn_winograd_conv(const nn_winograd *w, const float *wt, int flipped, const float *bias,
                      const float *x, float *y, int n, int nt, float *work)
{
    int rb = block_rows(w, n), all = n * w->th;
    size_t tb = (size_t)rb * w->tw, nu = 16 * (size_t)w->o * w->c;
    float *u = work, *v = u + round16(nu), *m = v + round16(16 * (size_t)w->c * tb);
    float *scratch = m + round16(16 * (size_t)w->o * tb);
    /* U [16, rows, cols]: the transforms of wt [rows, cols, 3, 3] (of the
     * layer whose gradient to the input this is, when flipped) */
    int uc = flipped ? w->o : w->c;
    /* rows of the output per product: enough products for every thread */
    int split = (nt + 7) / 8, rows = (w->o + split - 1) / split;
    size_t xs = (size_t)w->c * w->h * w->w, ys = (size_t)w->o * w->oh * w->ow;
    /* sgemm on one thread, also outside an active parallel region */
    int blas_threads = omp_get_max_threads();
    if (nt == 1)
        omp_set_num_threads(1);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        float *sc = scratch + omp_get_thread_num() * scratch_floats(w);
        size_t nf = nu / 16;
#pragma omp for schedule(static)
        for (size_t f = 0; f < nf; f += FILTERS)
            filter_transform(nf - f < FILTERS ? (int)(nf - f) : FILTERS, wt + f * 9, u + f, nf);
        for (int r0 = 0; r0 < all; r0 += rb) {
            int nr = all - r0 < rb ? all - r0 : rb;
            size_t nb = (size_t)nr * w->tw;
#pragma omp for schedule(static) collapse(2)
            for (int c = 0; c < w->c; c++)
                for (int r = 0; r < nr; r++) {
                    int b = (r0 + r) / w->th, ty = (r0 + r) % w->th;
                    input_row(w, x + b * xs + (size_t)c * w->h * w->w, ty, c, v, nb,
                              (size_t)r * w->tw, sc);
                }
#pragma omp for schedule(dynamic, 1)
            for (int j = 0; j < 16 * split; j++) {
                int xi = j / split, o0 = j % split * rows;
                int no = w->o - o0 < rows ? w->o - o0 : rows;
                if (no <= 0)
                    continue;
                const float *a = flipped ? u + turned(xi) * nu / 16 + o0
                                         : u + xi * nu / 16 + (size_t)o0 * w->c;
                cblas_sgemm(CblasRowMajor, flipped ? CblasTrans : CblasNoTrans, CblasNoTrans,
                            no, (int)nb, w->c, 1.0f, a, uc, v + xi * (size_t)w->c * nb,
                            (int)nb, 0.0f, m + (xi * (size_t)w->o + o0) * nb, (int)nb);
            }
#pragma omp for schedule(static) collapse(2)
            for (int o = 0; o < w->o; o++)
                for (int r = 0; r < nr; r++) {
                    int b = (r0 + r) / w->th, ty = (r0 + r) % w->th;
                    output_row(w, m, o, nb, (size_t)r * w->tw, bias ? bias[o] : 0.0f, ty,
                               y + b * ys + (size_t)o * w->oh * w->ow, sc);
                }
        }
    }
    omp_set_num_threads(blas_threads);
}

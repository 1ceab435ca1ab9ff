/* test_winograd.c - lib/winograd.c's F(2x2, 3x3) convolution against a
 * direct convolution in double written here from the definition.
 *
 * Each shape runs forward (filters as given, with a bias) and flipped (the
 * gradient to the input: filters [c, o] turned by 180 degrees), with
 * paddings 0, 1 and 2 on each side, odd and even sizes, a 1x1 input, and
 * blocks of 1, 2 and 3 tile rows (blocks that cut through samples) as well
 * as the planned size. Results must match within 1e-5 of the largest
 * output, and 1 and 2 threads must give the same bits. */
#include "nn.h"
#include "test.h"
#include "winograd_impl.h"

typedef struct {
    int n, c, h, w, o;
    int pt, pl, pb, pr;
} shape;

static const shape shapes[] = {
    {1, 3, 4, 4, 2, 1, 1, 1, 1},
    {2, 5, 7, 9, 6, 0, 0, 0, 0},   /* valid: odd outputs 5x7 */
    {3, 4, 6, 5, 3, 2, 2, 2, 2},   /* output larger than the input */
    {2, 8, 1, 1, 4, 1, 1, 1, 1},   /* one pixel */
    {1, 6, 10, 3, 5, 1, 0, 1, 2},  /* uneven padding */
    {2, 16, 13, 17, 16, 1, 1, 1, 1},
    {3, 64, 12, 20, 72, 1, 1, 1, 1}, /* threads share the products */
};

static float *randv(nn_rng *r, size_t n)
{
    float *v = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        v[i] = (float)nn_rng_normal(r);
    return v;
}

/* y [n, o, oh, ow] in double: filter (a, b) is wt[a, b] or, flipped,
 * wt[b, a] turned by 180 degrees. */
static void reference(const shape *s, int oh, int ow, const float *x, const float *wt,
                      int flipped, const float *bias, double *y)
{
    for (int b = 0; b < s->n; b++)
        for (int a = 0; a < s->o; a++)
            for (int r = 0; r < oh; r++)
                for (int q = 0; q < ow; q++) {
                    double sum = bias ? bias[a] : 0;
                    for (int c = 0; c < s->c; c++)
                        for (int i = 0; i < 3; i++)
                            for (int j = 0; j < 3; j++) {
                                int ih = r - s->pt + i, iw = q - s->pl + j;
                                if (ih < 0 || ih >= s->h || iw < 0 || iw >= s->w)
                                    continue;
                                float f = flipped ? wt[((size_t)c * s->o + a) * 9 + (2 - i) * 3 + 2 - j]
                                                  : wt[((size_t)a * s->c + c) * 9 + i * 3 + j];
                                sum += (double)x[(((size_t)b * s->c + c) * s->h + ih) * s->w + iw] * f;
                            }
                    y[(((size_t)b * s->o + a) * oh + r) * ow + q] = sum;
                }
}

static void run(const nn_winograd *w, const float *wt, int flipped, const float *bias,
                const float *x, float *y, int n, int nt)
{
    float *work = malloc(nn_winograd_floats(w, n, nt) * sizeof(float));
    nn_winograd_conv(w, wt, flipped, bias, x, y, n, nt, work);
    free(work);
}

static void test_shape(const shape *s, int flipped, nn_rng *r)
{
    char name[160];
    snprintf(name, sizeof name, "winograd%s n=%d %dx%dx%d -> %d pad %d,%d,%d,%d",
             flipped ? " flipped" : "", s->n, s->c, s->h, s->w, s->o, s->pt, s->pl, s->pb,
             s->pr);
    TEST(name);
    int oh = s->h + s->pt + s->pb - 2, ow = s->w + s->pl + s->pr - 2;
    size_t xs = (size_t)s->n * s->c * s->h * s->w, ys = (size_t)s->n * s->o * oh * ow;
    float *x = randv(r, xs), *wt = randv(r, (size_t)s->o * s->c * 9);
    float *bias = flipped ? NULL : randv(r, s->o);
    float *y = malloc(ys * sizeof(float)), *y1 = malloc(ys * sizeof(float));
    float *want = malloc(ys * sizeof(float));
    double *ref = malloc(ys * sizeof(double)), top = 0;
    reference(s, oh, ow, x, wt, flipped, bias, ref);
    for (size_t i = 0; i < ys; i++) {
        want[i] = (float)ref[i];
        top = fabs(ref[i]) > top ? fabs(ref[i]) : top;
    }
    nn_winograd w;
    nn_winograd_plan(&w, s->c, s->h, s->w, s->o, oh, ow, s->pt, s->pl);
    int planned = w.rows;
    for (int rows = 1; rows <= 4; rows++) {
        w.rows = rows < 4 ? rows : planned;
        for (int nt = 1; nt <= 2; nt++) {
            for (size_t i = 0; i < ys; i++)
                y[i] = NAN; /* every output must be written */
            run(&w, wt, flipped, bias, x, y, s->n, nt);
            double diff;
            long bad = test_close(y, want, (long)ys, 1e-5 * top, 1e-5, &diff);
            CHECK_MSG(bad < 0, "%d tile rows per block, %d threads: y[%ld] = %.8g, want %.8g",
                      w.rows, nt, bad, bad >= 0 ? y[bad] : 0, bad >= 0 ? want[bad] : 0);
            if (nt == 1)
                memcpy(y1, y, ys * sizeof(float));
            else
                CHECK_MSG(memcmp(y, y1, ys * sizeof(float)) == 0,
                          "%d tile rows per block: 1 and 2 threads differ", w.rows);
        }
    }
    free(x), free(wt), free(bias), free(y), free(y1), free(want), free(ref);
}

int main(void)
{
    nn_rng r;
    nn_rng_seed(&r, 5);
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
        for (int flipped = 0; flipped <= 1; flipped++)
            test_shape(&shapes[i], flipped, &r);
    return test_done();
}

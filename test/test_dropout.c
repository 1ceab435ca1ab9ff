/* test_dropout.c - inverted dropout: the dropped fraction is P within
 * statistical bounds, kept values are scaled by exactly 1/(1-P), eval is
 * the identity, the mask depends on (seed, layer, step) only (not on the
 * thread count) and backward applies the same mask. */
#include "nn.h"
#include "test.h"

#include <omp.h>

extern const nn_layer_type nn_layer_dropout;

enum { C = 10, H = 500, W = 500, SIZE = C * H * W }; /* 2.5e6 values, one sample: over
                                                         the threading threshold, 2^21 */

static float *x, *y, *y2, *dy, *dx;

static void make(nn_layer *l, float p, int index)
{
    nn_error e;
    memset(l, 0, sizeof *l);
    l->type = &nn_layer_dropout;
    l->index = index;
    l->cfg.p = p;
    l->in = (nn_dims){C, H, W};
    if (l->type->setup(l, &e) < 0)
        FAILF("setup: %s", e.msg);
}

static nn_pass train_pass(uint64_t seed, uint64_t step)
{
    nn_pass p = {.train = 1, .seed = seed, .step = step, .param_grads = 1};
    return p;
}

/* Fraction of positions where exactly one of a and b is zero. */
static double mask_difference(const float *a, const float *b)
{
    long diff = 0;
    for (long i = 0; i < SIZE; i++)
        diff += (a[i] == 0) != (b[i] == 0);
    return (double)diff / SIZE;
}

int main(void)
{
    nn_layer l, l2;
    nn_rng r;
    x = malloc(SIZE * sizeof *x), y = malloc(SIZE * sizeof *y);
    y2 = malloc(SIZE * sizeof *y2), dy = malloc(SIZE * sizeof *dy);
    dx = malloc(SIZE * sizeof *dx);
    nn_rng_seed(&r, 3);
    for (long i = 0; i < SIZE; i++) { /* nonzero, so y == 0 means dropped */
        x[i] = (float)(0.5 + nn_rng_uniform(&r)) * (i % 2 ? 1 : -1);
        dy[i] = (float)(0.5 + nn_rng_uniform(&r)) * (i % 3 ? 1 : -1);
    }
    omp_set_num_threads(2);

    static const float ps[] = {0.1f, 0.5f, 0.8f};
    for (int k = 0; k < 3; k++) {
        char name[160];
        float p = ps[k], scale = 1.0f / (1.0f - p);
        snprintf(name, sizeof name,
                 "P=%.1f: dropped fraction within 5 sigma of P on 2.5e6 values, kept values exactly x/(1-P)", p);
        TEST(name);
        make(&l, p, 1);
        nn_pass pass = train_pass(42, 7);
        l.type->forward(&l, x, y, 1, &pass);
        long dropped = 0, badscale = 0;
        for (long i = 0; i < SIZE; i++) {
            if (y[i] == 0)
                dropped++;
            else if (y[i] != x[i] * scale)
                badscale++;
        }
        double frac = (double)dropped / SIZE, sigma = sqrt(p * (1 - p) / SIZE);
        CHECK_MSG(fabs(frac - p) <= 5 * sigma, "dropped %.5f, P %.2f, sigma %.5f", frac, p, sigma);
        CHECK_MSG(badscale == 0, "%ld kept values not x/(1-P)", badscale);
    }

    TEST("the mask is the documented formula: u = nn_counter_uniform(seed ^ nn_hash64(index+1), (step<<40) + i) < P");
    {
        static const float pq[] = {0.3f, 0.25f, 0.5f, 1e-7f, 0.999f};
        for (int k = 0; k < 5; k++) {
            nn_pass pass = train_pass(77 + k, 1000 + k);
            make(&l, pq[k], 3 + k);
            l.type->forward(&l, x, y, 1, &pass);
            uint64_t seed = pass.seed ^ nn_hash64((uint64_t)l.index + 1);
            long bad = 0;
            for (long i = 0; i < SIZE; i++)
                bad += (y[i] == 0) != (nn_counter_uniform(seed, (pass.step << 40) + (uint64_t)i) < pq[k]);
            CHECK_MSG(bad == 0, "P=%g: %ld values differ from the formula", pq[k], bad);
        }
    }

    TEST("eval is the identity, and so is P=0 in training");
    {
        nn_pass eval = {.train = 0, .seed = 42, .step = 7};
        make(&l, 0.5f, 1);
        l.type->forward(&l, x, y, 1, &eval);
        CHECK(memcmp(x, y, SIZE * sizeof *x) == 0);
        l.type->backward(&l, x, y, dy, dx, 1, &eval);
        CHECK(memcmp(dy, dx, SIZE * sizeof *x) == 0);
        nn_pass pass = train_pass(42, 7);
        make(&l, 0, 1);
        l.type->forward(&l, x, y, 1, &pass);
        CHECK(memcmp(x, y, SIZE * sizeof *x) == 0);
    }

    TEST("the same mask for 1 and 2 threads, and for a batch of 10 split as 1x2.5e6 or 10x2.5e5 values");
    {
        nn_pass pass = train_pass(42, 7);
        make(&l, 0.5f, 1);
        omp_set_num_threads(1);
        l.type->forward(&l, x, y, 1, &pass);
        omp_set_num_threads(2);
        l.type->forward(&l, x, y2, 1, &pass);
        CHECK(memcmp(y, y2, SIZE * sizeof *y) == 0);
        /* the same values as 10 samples of 1x500x500: element i of the batch */
        nn_error e;
        memset(&l2, 0, sizeof l2);
        l2.type = &nn_layer_dropout;
        l2.index = 1;
        l2.cfg.p = 0.5f;
        l2.in = (nn_dims){1, H, W};
        CHECK(l2.type->setup(&l2, &e) == 0);
        l2.type->forward(&l2, x, y2, C, &pass);
        CHECK(memcmp(y, y2, SIZE * sizeof *y) == 0);
    }

    TEST("the mask is reproducible and differs between steps, layers and seeds");
    {
        nn_pass pass = train_pass(42, 7);
        make(&l, 0.5f, 1);
        l.type->forward(&l, x, y, 1, &pass);
        l.type->forward(&l, x, y2, 1, &pass);
        CHECK(memcmp(y, y2, SIZE * sizeof *y) == 0);
        /* independent masks of P=0.5 differ in about half the positions */
        pass.step = 8;
        l.type->forward(&l, x, y2, 1, &pass);
        double d = mask_difference(y, y2);
        CHECK_MSG(fabs(d - 0.5) < 0.02, "steps 7 and 8 differ in %.4f of the positions", d);
        pass.step = 7;
        make(&l2, 0.5f, 2);
        l2.type->forward(&l2, x, y2, 1, &pass);
        d = mask_difference(y, y2);
        CHECK_MSG(fabs(d - 0.5) < 0.02, "layers 1 and 2 differ in %.4f of the positions", d);
        pass.seed = 43;
        l.type->forward(&l, x, y2, 1, &pass);
        d = mask_difference(y, y2);
        CHECK_MSG(fabs(d - 0.5) < 0.02, "seeds 42 and 43 differ in %.4f of the positions", d);
    }

    TEST("backward applies the forward mask: dx = dy/(1-P) where kept, 0 where dropped");
    {
        float p = 0.3f, scale = 1.0f / (1.0f - p);
        nn_pass pass = train_pass(5, 123456789);
        make(&l, p, 4);
        l.type->forward(&l, x, y, 1, &pass);
        for (long i = 0; i < SIZE; i++)
            dx[i] = 12345; /* backward must write every value */
        l.type->backward(&l, x, y, dy, dx, 1, &pass);
        long bad = 0;
        for (long i = 0; i < SIZE; i++)
            bad += y[i] == 0 ? dx[i] != 0 : dx[i] != dy[i] * scale;
        CHECK_MSG(bad == 0, "%ld values where dx does not follow the forward mask", bad);
        l.type->backward(&l, x, y, dy, NULL, 1, &pass); /* dx not wanted: no crash */
    }

    TEST("format omits the default 0.5 and writes the shortest text of P");
    {
        char buf[64];
        make(&l, 0.5f, 0);
        l.type->format(&l, buf, sizeof buf);
        CHECK_MSG(strcmp(buf, "") == 0, "'%s'", buf);
        make(&l, 0.3f, 0);
        l.type->format(&l, buf, sizeof buf);
        CHECK_MSG(strcmp(buf, "0.3") == 0, "'%s'", buf);
        make(&l, -1, 0); /* unset: the default */
        CHECK(l.cfg.p == 0.5f);
    }

    free(x), free(y), free(y2), free(dy), free(dx);
    return test_done();
}

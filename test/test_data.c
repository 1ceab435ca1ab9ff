/* test_data.c - batches: the epoch order is a seeded permutation, pixels
 * are normalised as (u/255 - mean)/std in CHW order, augmentation is a
 * padded crop plus flip that is reproducible, and the prefetch thread
 * delivers exactly the batches a synchronous loop makes.
 *
 *   test_data                         the tests
 *   test_data make-dataset OUT.h5 C H W CLASSES TRAIN TEST [SEED]
 *       writes a small synthetic dataset file (for the command-line tests):
 *       class k is a bright square at a class-dependent place, plus noise
 *   test_data same-weights A.h5 B.h5
 *       exit 0 when two model files hold the same weights and optimizer
 *       state, bit for bit
 *   test_data gif-frames FILE.gif
 *       prints the frame count and size of a GIF */
#include "nn.h"
#include "test.h"

#include <gif_lib.h>
#include <string.h>

/* A split of n random images h x w x c with labels i % 7. */
static void make_split(nn_split *s, long n, int h, int w, int c, uint64_t seed)
{
    nn_rng r;
    nn_rng_seed(&r, seed);
    s->n = n;
    s->images = malloc((size_t)n * h * w * c);
    s->labels = malloc((size_t)n * sizeof *s->labels);
    for (size_t i = 0; i < (size_t)n * h * w * c; i++)
        s->images[i] = (uint8_t)(nn_rng_u64(&r) >> 56);
    for (long i = 0; i < n; i++)
        s->labels[i] = (int32_t)(i % 7);
}

static nn_data data_of(const nn_split *s, int h, int w, int c, int batch)
{
    nn_data d = {.split = s, .h = h, .w = w, .c = c, .n = s->n, .batch = batch, .seed = 42};
    for (int k = 0; k < 4; k++)
        d.mean[k] = 0, d.std[k] = 1;
    return d;
}

static int is_permutation(const long *o, long n)
{
    char *seen = calloc((size_t)n, 1);
    int ok = 1;
    for (long i = 0; i < n && ok; i++) {
        ok = o[i] >= 0 && o[i] < n && !seen[o[i]];
        if (ok)
            seen[o[i]] = 1;
    }
    free(seen);
    return ok;
}

/* Does out [c,h,w] equal src [h,w,c] shifted by (dy,dx), flipped or not,
 * with zero (normalised) outside? */
static int matches(const uint8_t *src, const float *out, int h, int w, int c, int dy,
                   int dx, int flip, const float *lut0)
{
    for (int ch = 0; ch < c; ch++)
        for (int i = 0; i < h; i++)
            for (int j = 0; j < w; j++) {
                int si = i + dy, sj = (flip ? w - 1 - j : j) + dx;
                float want = si >= 0 && si < h && sj >= 0 && sj < w
                                 ? (float)src[((size_t)si * w + sj) * c + ch] / 255.0f
                                 : lut0[ch];
                if (out[((size_t)ch * h + i) * w + j] != want)
                    return 0;
            }
    return 1;
}

static int make_dataset(int argc, char **argv)
{
    if (argc < 9) {
        fprintf(stderr, "usage: test_data make-dataset OUT.h5 C H W CLASSES TRAIN TEST [SEED]\n");
        return 2;
    }
    int c = atoi(argv[3]), h = atoi(argv[4]), w = atoi(argv[5]), k = atoi(argv[6]);
    long ns[2] = {atol(argv[7]), atol(argv[8])};
    uint64_t seed = argc > 9 ? strtoull(argv[9], NULL, 10) : 1;
    nn_error e;
    nn_dataset *d = nn_dataset_new("synthetic", h, w, c, k, NULL, &e);
    if (!d) {
        fprintf(stderr, "test_data: %s\n", e.msg);
        return 1;
    }
    nn_rng r;
    nn_rng_seed(&r, seed);
    nn_split *sp[2] = {&d->train, &d->test};
    int side = h / 3 > 1 ? h / 3 : 1;
    for (int s = 0; s < 2; s++) {
        nn_split *p = sp[s];
        p->n = ns[s];
        p->images = malloc((size_t)p->n * h * w * c + 1);
        p->labels = malloc((size_t)p->n * sizeof *p->labels + 1);
        for (long i = 0; i < p->n; i++) {
            int y = (int)(nn_rng_u64(&r) % (uint64_t)k);
            /* class y: a bright square whose corner walks over the image */
            int top = (y * 5) % (h - side + 1), left = (y * 3 + y / 2) % (w - side + 1);
            p->labels[i] = y;
            for (int a = 0; a < h; a++)
                for (int b = 0; b < w; b++)
                    for (int ch = 0; ch < c; ch++) {
                        int in = a >= top && a < top + side && b >= left && b < left + side;
                        double v = (in ? 200 : 40) + nn_rng_normal(&r) * 30;
                        v = v < 0 ? 0 : v > 255 ? 255 : v;
                        p->images[(((size_t)i * h + a) * w + b) * c + ch] = (uint8_t)v;
                    }
        }
    }
    nn_dataset_stats(d);
    int rc = nn_dataset_save(d, argv[2], &e);
    if (rc < 0)
        fprintf(stderr, "test_data: %s\n", e.msg);
    nn_dataset_free(d);
    return rc < 0;
}

/* Exit 0 when two model files hold the same parameter values and optimizer
 * state, bit for bit; prints the first difference. */
static int same_weights(const char *a, const char *b)
{
    nn_error e;
    nn_optim oa, ob;
    memset(&oa, 0, sizeof oa), memset(&ob, 0, sizeof ob);
    nn_model *ma = nn_model_load(a, &oa, &e), *mb = ma ? nn_model_load(b, &ob, &e) : NULL;
    int rc = 1;
    if (!ma || !mb)
        fprintf(stderr, "test_data: %s\n", e.msg);
    else if (ma->nvalues != mb->nvalues || oa.nvalues != ob.nvalues || oa.nslots != ob.nslots)
        fprintf(stderr, "test_data: %s and %s differ in size\n", a, b);
    else if (memcmp(ma->values, mb->values, ma->nvalues * sizeof(float)) != 0)
        fprintf(stderr, "test_data: the weights of %s and %s differ\n", a, b);
    else if (oa.step != ob.step ||
             (oa.nslots && memcmp(oa.state, ob.state, oa.nslots * oa.nvalues * sizeof(float))))
        fprintf(stderr, "test_data: the optimizer states of %s and %s differ\n", a, b);
    else
        rc = 0;
    nn_optim_free(&oa), nn_optim_free(&ob);
    nn_model_free(ma), nn_model_free(mb);
    return rc;
}

/* Prints the number of frames of a GIF. */
static int gif_frames(const char *path)
{
    int err;
    GifFileType *g = DGifOpenFileName(path, &err);
    if (!g || DGifSlurp(g) != GIF_OK) {
        fprintf(stderr, "test_data: %s: not a readable GIF\n", path);
        if (g)
            DGifCloseFile(g, &err);
        return 1;
    }
    printf("%d %dx%d\n", g->ImageCount, g->SWidth, g->SHeight);
    DGifCloseFile(g, &err);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "make-dataset") == 0)
        return make_dataset(argc, argv);
    if (argc == 4 && strcmp(argv[1], "same-weights") == 0)
        return same_weights(argv[2], argv[3]);
    if (argc == 3 && strcmp(argv[1], "gif-frames") == 0)
        return gif_frames(argv[2]);

    nn_split s;
    make_split(&s, 103, 6, 5, 3, 1);
    nn_data d = data_of(&s, 6, 5, 3, 16);
    long n = s.n, *o1 = malloc(n * sizeof *o1), *o2 = malloc(n * sizeof *o2);

    TEST("nn_data_batches is ceil(n / batch)");
    CHECK(nn_data_batches(&d) == 7);

    TEST("without shuffle the order is 0..n-1");
    nn_data_order(&d, 3, o1);
    int ident = 1;
    for (long i = 0; i < n; i++)
        ident &= o1[i] == i;
    CHECK(ident);

    TEST("the shuffled order is a permutation that depends only on (seed, epoch)");
    d.shuffle = 1;
    nn_data_order(&d, 5, o1);
    nn_data_order(&d, 5, o2);
    CHECK(is_permutation(o1, n));
    CHECK(memcmp(o1, o2, n * sizeof *o1) == 0);
    nn_data_order(&d, 6, o2);
    CHECK(is_permutation(o2, n) && memcmp(o1, o2, n * sizeof *o1) != 0);
    d.seed = 43;
    nn_data_order(&d, 5, o2);
    CHECK(memcmp(o1, o2, n * sizeof *o1) != 0);
    d.seed = 42;
    ident = 1;
    for (long i = 0; i < n; i++)
        ident &= o1[i] == i;
    CHECK_MSG(!ident, "the shuffle left the order unchanged");

    TEST("a batch holds x = (u/255 - mean[c]) / std[c] in CHW order and the labels");
    {
        float mean[3] = {0.5f, 0.25f, 0.125f}, stdv[3] = {0.5f, 2.0f, 0.3f};
        nn_data dn = d;
        dn.shuffle = 0;
        for (int k = 0; k < 3; k++)
            dn.mean[k] = mean[k], dn.std[k] = stdv[k];
        float x[16 * 90];
        int y[16];
        nn_batch b = {.x = x, .y = y};
        nn_data_fill(&dn, NULL, 0, 1, &b);
        CHECK(b.n == 16 && b.index == 1 && b.epoch == 0);
        int bad = 0;
        for (int i = 0; i < 16; i++) {
            long row = 16 + i;
            bad += y[i] != s.labels[row];
            for (int c = 0; c < 3; c++)
                for (int a = 0; a < 6; a++)
                    for (int w = 0; w < 5; w++) {
                        float u = s.images[((row * 6 + a) * 5 + w) * 3 + c];
                        float want = (u / 255.0f - mean[c]) / stdv[c];
                        bad += x[((i * 3 + c) * 6 + a) * 5 + w] != want;
                    }
        }
        CHECK_MSG(bad == 0, "%d values differ", bad);
        nn_data_fill(&dn, NULL, 0, 6, &b); /* the last batch: 103 - 96 = 7 */
        CHECK(b.n == 7 && y[6] == s.labels[102]);
    }

    TEST("index[] selects the rows a batch takes");
    {
        long rows[3] = {100, 7, 55};
        nn_data di = d;
        di.shuffle = 0, di.index = rows, di.n = 3;
        float x[3 * 90];
        int y[3];
        nn_batch b = {.x = x, .y = y};
        nn_data_fill(&di, NULL, 0, 0, &b);
        CHECK(b.n == 3 && y[0] == s.labels[100] && y[1] == s.labels[7] &&
              x[90] == s.images[7 * 90] / 255.0f);
    }

    TEST("augmentation: each image is its source shifted by at most the pad, maybe flipped");
    {
        free(s.images), free(s.labels);
        make_split(&s, 103, 32, 32, 3, 2); /* 32 px: pad 4 */
        nn_data da = data_of(&s, 32, 32, 3, 103);
        da.augment = 1;
        CHECK(nn_augment_pad(32, 32) == 4 && nn_augment_pad(28, 28) == 2);
        size_t img = 32 * 32 * 3;
        float *x = malloc(103 * img * sizeof *x), *x2 = malloc(103 * img * sizeof *x);
        int y[103];
        nn_batch b = {.x = x, .y = y};
        nn_data_fill(&da, NULL, 3, 0, &b);
        float lut0[3] = {0, 0, 0};
        int unmatched = 0, flips = 0, shifted = 0, seen_dy[9] = {0};
        for (int i = 0; i < 103; i++) {
            int found = 0;
            for (int f = 0; f < 2 && !found; f++)
                for (int dy = -4; dy <= 4 && !found; dy++)
                    for (int dx = -4; dx <= 4 && !found; dx++)
                        if (matches(s.images + i * img, x + i * img, 32, 32, 3, dy, dx, f, lut0)) {
                            found = 1;
                            flips += f;
                            shifted += dy != 0 || dx != 0;
                            seen_dy[dy + 4] = 1;
                        }
            unmatched += !found;
        }
        int kinds = 0;
        for (int k = 0; k < 9; k++)
            kinds += seen_dy[k];
        CHECK_MSG(unmatched == 0, "%d images are no padded crop/flip of their source", unmatched);
        CHECK_MSG(flips > 30 && flips < 73, "%d of 103 flipped", flips);
        CHECK_MSG(shifted > 80 && kinds == 9, "%d shifted, %d of 9 vertical offsets", shifted, kinds);

        /* the same (seed, epoch, row) gives the same image, wherever the
         * row sits in the batch; another epoch gives other crops */
        long rows[2] = {9, 5};
        nn_data dr = da;
        dr.index = rows, dr.n = 2;
        nn_batch b2 = {.x = x2, .y = y};
        nn_data_fill(&dr, NULL, 3, 0, &b2);
        CHECK(memcmp(x2, x + 9 * img, img * sizeof *x) == 0 &&
              memcmp(x2 + img, x + 5 * img, img * sizeof *x) == 0);
        nn_data_fill(&da, NULL, 4, 0, &b2);
        CHECK(memcmp(x2, x, 103 * img * sizeof *x) != 0);

        /* padding is black: (0 - mean)/std */
        da.mean[0] = 0.5f, da.std[0] = 0.25f;
        nn_data_fill(&da, NULL, 3, 0, &b);
        lut0[0] = (0.0f - 0.5f) / 0.25f;
        int found = 0;
        for (int i = 0; i < 103 && !found; i++)
            for (int k = 0; k < 32 * 32; k++)
                if (x[i * img + k] == lut0[0] && s.images[i * img + (size_t)k * 3] != 0)
                    found = 1;
        CHECK_MSG(found, "no padded pixel has the normalised value of black");
        free(x), free(x2);
        free(s.images), free(s.labels);
        make_split(&s, 103, 6, 5, 3, 1);
    }

    TEST("the prefetch thread delivers exactly the batches of a synchronous loop");
    {
        nn_data dp = d;
        dp.shuffle = 1, dp.augment = 1;
        size_t img = 6 * 5 * 3;
        float *x = malloc(16 * img * sizeof *x);
        int y[16], bad = 0;
        long count = 0;
        nn_error e;
        /* from the start over 3 epochs, and from the middle of epoch 1 */
        long starts[2][2] = {{0, 0}, {1, 3}};
        for (int t = 0; t < 2; t++) {
            nn_loader *l = nn_loader_start(&dp, starts[t][0], starts[t][1], 3, NULL, &e);
            if (!l) {
                FAILF("%s", e.msg);
                break;
            }
            long ep = starts[t][0], bi = starts[t][1];
            nn_batch b = {.x = x, .y = y};
            const nn_batch *p;
            while ((p = nn_loader_next(l))) {
                nn_data_order(&dp, ep, o1);
                nn_data_fill(&dp, o1, ep, bi, &b);
                bad += p->epoch != ep || p->index != bi || p->n != b.n ||
                       memcmp(p->x, x, (size_t)b.n * img * sizeof *x) != 0 ||
                       memcmp(p->y, y, (size_t)b.n * sizeof *y) != 0;
                count++;
                if (++bi == 7)
                    bi = 0, ep++;
            }
            CHECK_MSG(ep == 3 && bi == 0, "stopped at epoch %ld batch %ld", ep, bi);
            CHECK(nn_loader_wait(l) >= 0);
            nn_loader_stop(l);
        }
        CHECK_MSG(bad == 0 && count == 21 + 11, "%d of %ld batches differ", bad, count);
        /* stopping early joins the thread cleanly */
        nn_loader *l = nn_loader_start(&dp, 0, 0, 100, NULL, &e);
        CHECK(l && nn_loader_next(l) != NULL);
        nn_loader_stop(l);
        free(x);
    }

    TEST("the validation split is disjoint from train, sized, sorted and seeded");
    {
        long *tr, *va, nt, nv, *tr2, *va2, nt2, nv2;
        nn_error e;
        CHECK(nn_data_split(1000, 0.2f, 0, 7, &tr, &nt, &va, &nv, &e) == 0);
        CHECK(nt == 800 && nv == 200);
        char *seen = calloc(1000, 1);
        int ok = 1;
        for (long i = 0; i < nt; i++)
            ok &= !seen[tr[i]]++ && (i == 0 || tr[i] > tr[i - 1]);
        for (long i = 0; i < nv; i++)
            ok &= !seen[va[i]]++ && (i == 0 || va[i] > va[i - 1]);
        CHECK(ok);
        free(seen);
        CHECK(nn_data_split(1000, 0.2f, 300, 7, &tr2, &nt2, &va2, &nv2, &e) == 0);
        CHECK_MSG(nt2 == 300 && nv2 == 200 && memcmp(va, va2, 200 * sizeof *va) == 0,
                  "--train-limit changed the validation split");
        free(tr2), free(va2);
        CHECK(nn_data_split(1000, 0.2f, 0, 8, &tr2, &nt2, &va2, &nv2, &e) == 0);
        CHECK(memcmp(va, va2, 200 * sizeof *va) != 0);
        free(tr), free(va), free(tr2), free(va2);
        CHECK(nn_data_split(10, 1.5f, 0, 7, &tr, &nt, &va, &nv, &e) < 0);
    }

    free(o1), free(o2);
    free(s.images), free(s.labels);
    return test_done();
}

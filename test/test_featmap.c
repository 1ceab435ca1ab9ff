/* test_featmap.c - per-filter means, top-k, activation statistics (the
 * initialization study), the streamed top-images search and activation
 * files (lib/featmap.c, lib/h5_acts.c).
 *
 * The initialization study: 5 dense layers of 100 units, each followed by
 * a ReLU, no biases, 1000 standard-normal inputs of 100 features. With
 * weights N(0, 0.01^2) each layer's mean activation is about 1/14 of the
 * one before (0.01 * sqrt(100/2) = 1/14.1; the tutorial: 0.0396, 0.00290,
 * 0.000197, 1.32e-5, 9.46e-7); with He's std sqrt(2/fan_in) they stay
 * level. With tanh, std 1 saturates every layer (std near 1) and Xavier
 * does not.
 *
 * Helper mode for the command-line tests:
 *   test_featmap --save-data PATH    a tiny 3x32x32 dataset file (needs
 *                                    nn_dataset_save) */
#include "nn.h"
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *study_arch =
    "input 100x1x1\n"
    "dense 100 bias=none\nrelu\n"
    "dense 100 bias=none\nrelu\n"
    "dense 100 bias=none\nrelu\n"
    "dense 100 bias=none\nrelu\n"
    "dense 100 bias=none\nrelu\n";

static float *normal_inputs(int n, int d, uint64_t seed)
{
    float *x = malloc((size_t)n * d * sizeof *x);
    nn_rng r;
    nn_rng_seed(&r, seed);
    for (size_t i = 0; x && i < (size_t)n * d; i++)
        x[i] = (float)nn_rng_normal(&r);
    return x;
}

/* Means of the 5 ReLU outputs for weights drawn from `init`. */
static int study(const char *init_text, const char *act, double mean[5], double sd[5])
{
    nn_error e;
    char arch[512];
    snprintf(arch, sizeof arch,
             "input 100x1x1\n"
             "dense 100 bias=none\n%s\ndense 100 bias=none\n%s\ndense 100 bias=none\n%s\n"
             "dense 100 bias=none\n%s\ndense 100 bias=none\n%s\n",
             act, act, act, act, act);
    nn_model *m = nn_model_from_arch(arch, "study.nn", 0, &e);
    nn_init init;
    if (!m || nn_init_parse(&init, init_text, &e) < 0) {
        printf("  %s\n", e.msg);
        nn_model_free(m);
        return -1;
    }
    nn_model_set_weight_init(m, init);
    nn_model_init_params(m, 1);
    float *x = normal_inputs(1000, 100, 2);
    int layers[16], nl = nn_hist_layers(m, -1, layers);
    nn_act_stats s[16];
    int rc = nl == 5 ? nn_activation_stats(m, NULL, x, 1000, 256, layers, nl, 5000, s, &e) : -1;
    if (rc < 0)
        printf("  %s\n", nl == 5 ? e.msg : "not 5 layers");
    for (int i = 0; rc == 0 && i < 5; i++)
        mean[i] = s[i].mean, sd[i] = s[i].std;
    if (rc == 0)
        nn_act_stats_free(s, nl);
    free(x);
    nn_model_free(m);
    return rc;
}

static void test_init_study(void)
{
    double mean[5], sd[5];
    TEST("init study: std 0.01 + ReLU, mean activations shrink 10-15x per layer");
    int rc = study("normal:0.01", "relu", mean, sd);
    CHECK(rc == 0);
    if (rc == 0) {
        printf("# normal:0.01 relu means: %.3g %.3g %.3g %.3g %.3g\n", mean[0], mean[1],
               mean[2], mean[3], mean[4]);
        CHECK_MSG(fabs(mean[0] - 0.0396) < 0.004, "first layer %g, the tutorial's 0.0396",
                  mean[0]);
        /* on average over the 4 steps within 10-15x (theory: 14.1x); each
         * step within 10-17x, the spread of 100-unit layers */
        double avg = pow(mean[0] / mean[4], 0.25);
        printf("# shrink per layer: %.2f %.2f %.2f %.2f, on average %.2f\n",
               mean[0] / mean[1], mean[1] / mean[2], mean[2] / mean[3], mean[3] / mean[4], avg);
        CHECK_MSG(avg >= 10 && avg <= 15, "on average %.2fx per layer", avg);
        for (int i = 1; i < 5; i++)
            CHECK_MSG(mean[i - 1] / mean[i] >= 10 && mean[i - 1] / mean[i] <= 17,
                      "layer %d to %d shrinks %.2fx", i, i + 1, mean[i - 1] / mean[i]);
    }

    TEST("init study: He + ReLU keeps the mean activations level");
    rc = study("he", "relu", mean, sd);
    CHECK(rc == 0);
    if (rc == 0) {
        printf("# he relu means: %.3g %.3g %.3g %.3g %.3g\n", mean[0], mean[1], mean[2],
               mean[3], mean[4]);
        double lo = mean[0], hi = mean[0];
        for (int i = 1; i < 5; i++)
            lo = fmin(lo, mean[i]), hi = fmax(hi, mean[i]);
        CHECK_MSG(hi / lo < 2, "means range over %.2fx", hi / lo);
    }

    TEST("init study: tanh with std 1 saturates, with Xavier it does not");
    double sat[5], xav[5], m2[5];
    rc = study("normal:1", "tanh", m2, sat);
    rc |= study("xavier", "tanh", m2, xav);
    CHECK(rc == 0);
    if (rc == 0) {
        printf("# tanh std: normal:1 %.3g .. %.3g, xavier %.3g .. %.3g\n", sat[0], sat[4],
               xav[0], xav[4]);
        CHECK_MSG(sat[4] > 0.95, "std 1: last layer std %g, saturated tanh gives ~0.98",
                  sat[4]);
        CHECK_MSG(xav[4] > 0.2 && xav[4] < 0.7, "xavier: last layer std %g", xav[4]);
    }
}

static void test_stats(void)
{
    TEST("activation stats: exact mean and std, sample of every k-th value");
    nn_error e;
    nn_model *m = nn_model_from_arch(study_arch, "s.nn", 0, &e);
    nn_model_init_params(m, 3);
    float *x = normal_inputs(50, 100, 4);
    int layers[2] = {0, 3};
    nn_act_stats s[2];
    int rc = nn_activation_stats(m, NULL, x, 50, 7, layers, 2, 1000, s, &e);
    CHECK_MSG(rc == 0, "%s", e.msg);
    /* reference: one batch, by hand */
    nn_model_reserve(m, 50, &e);
    nn_pass p = {0};
    nn_model_forward_to(m, x, 50, 3, &p);
    for (int j = 0; rc == 0 && j < 2; j++) {
        const float *a = m->act[layers[j]];
        double sum = 0, sq = 0;
        for (int i = 0; i < 5000; i++)
            sum += a[i], sq += (double)a[i] * a[i];
        double mu = sum / 5000, sd = sqrt(sq / 5000 - mu * mu);
        CHECK(s[j].total == 5000 && s[j].count == 1000);
        CHECK_MSG(fabs(s[j].mean - mu) < 1e-6 * (1 + fabs(mu)) &&
                      fabs(s[j].std - sd) < 1e-5 * (1 + sd),
                  "layer %d: %g %g vs %g %g", layers[j], s[j].mean, s[j].std, mu, sd);
        int same = 1; /* batches of 7 and of 50 may round differently */
        for (size_t k = 0; k < s[j].count; k++)
            same &= fabsf(s[j].values[k] - a[k * 5]) <= 1e-5f * (1 + fabsf(a[k * 5]));
        CHECK_MSG(same, "layer %d: the sample is not every 5th value", layers[j]);
    }
    if (rc == 0)
        nn_act_stats_free(s, 2);

    TEST("hist layers: the nonlinearities, or every layer when none");
    int l[16];
    CHECK(nn_hist_layers(m, -1, l) == 5 && l[0] == 1 && l[4] == 9);
    CHECK(nn_hist_layers(m, 4, l) == 2 && l[1] == 3);
    nn_model_free(m);
    m = nn_model_from_arch("input 4x1x1\ndense 3\ndense 2\n", "d.nn", 0, &e);
    CHECK(nn_hist_layers(m, -1, l) == 2 && l[0] == 0 && l[1] == 1);
    nn_model_free(m);
    free(x);
}

static void test_means(void)
{
    TEST("channel means and top-k");
    float act[2 * 3 * 4];
    for (int i = 0; i < 24; i++)
        act[i] = (float)i;
    float means[6];
    nn_dims d = {3, 2, 2};
    nn_channel_means(act, 2, d, means);
    CHECK(means[0] == 1.5f && means[2] == 9.5f && means[5] == 21.5f);
    float v[7] = {3, 9, -1, 9, 4, 0, 8};
    int idx[7];
    nn_top_k(v, 7, 4, idx);
    CHECK_MSG(idx[0] == 1 && idx[1] == 3 && idx[2] == 6 && idx[3] == 4, "%d %d %d %d",
              idx[0], idx[1], idx[2], idx[3]);
    nn_top_k(v, 7, 7, idx);
    CHECK(idx[5] == 5 && idx[6] == 2);

    TEST("featmap: batches give the same means and maps as one batch");
    nn_error e;
    nn_model *m = nn_model_from_arch("input 3x12x12\nconv 5 3x3 pad=same\nrelu\nmaxpool 2\n"
                                     "flatten\ndense 4\n", "f.nn", 0, &e);
    nn_model_init_params(m, 5);
    float *x = normal_inputs(7, 3 * 12 * 12, 6);
    float m1[7 * 5], m3[7 * 5], *maps1 = malloc(7 * 5 * 36 * sizeof(float)),
                                 *maps3 = malloc(7 * 5 * 36 * sizeof(float));
    CHECK(nn_featmap(m, NULL, 2, x, 7, 7, m1, maps1, &e) == 0);
    CHECK(nn_featmap(m, NULL, 2, x, 7, 3, m3, maps3, &e) == 0);
    CHECK(memcmp(m1, m3, sizeof m1) == 0);
    CHECK(memcmp(maps1, maps3, 7 * 5 * 36 * sizeof(float)) == 0);
    float dm[7 * 4];
    CHECK(nn_featmap(m, NULL, 4, x, 7, 7, dm, NULL, &e) == 0); /* a dense layer: its units */
    CHECK(memcmp(dm, m->act[4], sizeof dm) == 0);
    free(maps1), free(maps3), free(x);
    nn_model_free(m);
}

static void test_top_images(void)
{
    TEST("top images: the true top K, streamed in batches smaller than K");
    nn_error e;
    /* one 1x1 conv filter with weight 1: its mean activation is the mean
     * of the normalised image; filter 1 weighs -1 */
    nn_model *m = nn_model_from_arch("input 1x6x6\nconv 2 1x1 bias=none\nrelu\n", "t.nn",
                                     0, &e);
    m->layers[0].param[0].value[0] = 1;
    m->layers[0].param[0].value[1] = -1;
    m->mean[0] = 0.5f, m->std[0] = 0.25f;
    int n = 41, k = 9;
    nn_split s = {n, malloc((size_t)n * 36), calloc((size_t)n, sizeof(int32_t))};
    nn_rng r;
    nn_rng_seed(&r, 9);
    for (int i = 0; i < n * 36; i++)
        s.images[i] = (uint8_t)(nn_rng_u64(&r) & 255);
    memcpy(s.images + 20 * 36, s.images + 7 * 36, 36); /* a tie: row 7 before row 20 */
    /* reference: every score, then a full sort */
    float score[41];
    for (int i = 0; i < n; i++) {
        double sum = 0;
        for (int j = 0; j < 36; j++)
            sum += fmax(0, (s.images[i * 36 + j] / 255.0 - 0.5) / 0.25);
        score[i] = (float)(sum / 36);
    }
    int want[41];
    nn_top_k(score, n, n, want);
    nn_scored got[9];
    int nout;
    int rc = nn_top_images(m, NULL, 1, 0, &s, 6, 6, 1, 4, k, got, &nout, &e);
    CHECK_MSG(rc == 0, "%s", e.msg);
    CHECK(nout == k);
    for (int i = 0; rc == 0 && i < k; i++)
        CHECK_MSG(got[i].index == want[i] && fabsf(got[i].score - score[want[i]]) < 1e-5f,
                  "rank %d: row %ld (%g), want row %d (%g)", i, got[i].index, got[i].score,
                  want[i], score[want[i]]);
    int p7 = -1, p20 = -1;
    for (int i = 0; i < nout; i++)
        p7 = got[i].index == 7 ? i : p7, p20 = got[i].index == 20 ? i : p20;
    CHECK_MSG(p20 < 0 || p7 == p20 - 1, "tie: row 7 at %d, row 20 at %d", p7, p20);

    TEST("top images: K larger than the split gives every row");
    nn_scored all[50];
    rc = nn_top_images(m, NULL, 1, 0, &s, 6, 6, 1, 5, 50, all, &nout, &e);
    CHECK(rc == 0 && nout == n && all[0].index == want[0] && all[n - 1].index == want[n - 1]);

    TEST("top images: images of the wrong channel count are an error naming both");
    rc = nn_top_images(m, NULL, 1, 0, &s, 3, 4, 3, 4, k, got, &nout, &e);
    CHECK_MSG(rc < 0 && strstr(e.msg, "3 channels") && strstr(e.msg, "takes 1"), "%s", e.msg);
    rc = nn_top_images(m, NULL, 1, 2, &s, 6, 6, 1, 4, k, got, &nout, &e);
    CHECK_MSG(rc < 0 && strstr(e.msg, "filters are 0..1"), "%s", e.msg);
    TEST("top images: images of another size are an error, never resized");
    rc = nn_top_images(m, NULL, 1, 0, &s, 6, 4, 1, 4, k, got, &nout, &e);
    CHECK_MSG(rc < 0 && strstr(e.msg, "the images are 6x4; the model takes 1x6x6"), "%s", e.msg);
    free(s.images);
    free(s.labels);
    nn_model_free(m);
}

static void test_acts_file(void)
{
    TEST("activation file: round trip of means, maps, top and names");
    char dir[] = "/tmp/test_featmap_XXXXXX", path[64];
    if (!mkdtemp(dir)) {
        CHECK(0);
        return;
    }
    snprintf(path, sizeof path, "%s/acts.h5", dir);
    nn_error e;
    float means[6] = {1, 2, 3, 4, 5, 6}, maps[2 * 3 * 2 * 2];
    for (int i = 0; i < 24; i++)
        maps[i] = (float)i / 3;
    int top[2] = {2, 0};
    char *inputs[3] = {"arch.jpg", "cat.png", NULL};
    nn_acts a = {2, 3, 2, 2, means, maps, top, 2, "vgg16_bn.h5", 42, "relu42", "relu",
                 inputs};
    CHECK(nn_acts_save(&a, path, &e) == 0);
    nn_acts *b = nn_acts_load(path, &e);
    CHECK_MSG(b != NULL, "%s", e.msg);
    if (b) {
        CHECK(b->n == 2 && b->c == 3 && b->h == 2 && b->w == 2);
        CHECK(memcmp(b->means, means, sizeof means) == 0);
        CHECK(b->maps && memcmp(b->maps, maps, sizeof maps) == 0);
        CHECK(b->ntop == 2 && b->top[0] == 2 && b->top[1] == 0);
        CHECK(b->layer == 42 && !strcmp(b->layer_name, "relu42") &&
              !strcmp(b->layer_type, "relu") && !strcmp(b->model, "vgg16_bn.h5"));
        CHECK(b->inputs && !strcmp(b->inputs[1], "cat.png") && !b->inputs[2]);
        nn_acts_free(b);
    }

    TEST("activation file: without maps and top; other HDF5 files are refused");
    a.maps = NULL, a.top = NULL, a.ntop = 0, a.h = a.w = 0;
    CHECK(nn_acts_save(&a, path, &e) == 0);
    b = nn_acts_load(path, &e);
    CHECK(b && !b->maps && b->ntop == 0 && b->h == 0);
    nn_acts_free(b);
    nn_model *m = nn_model_from_arch("input 1x2x2\nflatten\ndense 2\n", "x", 0, &e);
    CHECK(nn_model_save(m, NULL, path, &e) == 0);
    b = nn_acts_load(path, &e);
    CHECK_MSG(!b && strstr(e.msg, "not an activation file"), "%s", b ? "loaded" : e.msg);
    nn_model_free(m);
    unlink(path);
    b = nn_acts_load(path, &e);
    CHECK(!b && strstr(e.msg, "cannot open"));
    rmdir(dir);
}

static int save_data(const char *path)
{
    nn_dataset d;
    memset(&d, 0, sizeof d);
    char *names[4] = {"red", "green", "blue", NULL};
    d.name = "tiny";
    d.source = "test_featmap";
    d.checksum = NULL;
    d.h = 32, d.w = 32, d.c = 3, d.classes = 3;
    d.class_names = names;
    for (int c = 0; c < 3; c++)
        d.mean[c] = 0.5f, d.std[c] = 0.25f;
    nn_split *sp[2] = {&d.train, &d.test};
    nn_rng r;
    nn_rng_seed(&r, 12);
    for (int k = 0; k < 2; k++) {
        long n = k ? 23 : 10;
        sp[k]->n = n;
        sp[k]->images = malloc((size_t)n * 32 * 32 * 3);
        sp[k]->labels = malloc((size_t)n * sizeof(int32_t));
        for (long i = 0; i < n; i++) {
            int label = (int)(i % 3);
            sp[k]->labels[i] = label;
            for (int p = 0; p < 32 * 32; p++)
                for (int c = 0; c < 3; c++)
                    sp[k]->images[(i * 1024 + p) * 3 + c] =
                        (uint8_t)(c == label ? 128 + (int)(nn_rng_uniform(&r) * 127)
                                             : (int)(nn_rng_uniform(&r) * 100));
        }
    }
    nn_error e;
    int rc = nn_dataset_save(&d, path, &e);
    if (rc < 0)
        fprintf(stderr, "%s\n", e.msg);
    for (int k = 0; k < 2; k++)
        free(sp[k]->images), free(sp[k]->labels);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--save-data"))
        return save_data(argv[2]) < 0;
    if (argc > 1) {
        fprintf(stderr, "usage: test_featmap [--save-data PATH]\n");
        return 2;
    }
    nn_set_threads(1);
    test_means();
    test_stats();
    test_init_study();
    test_top_images();
    test_acts_file();
    return test_done();
}

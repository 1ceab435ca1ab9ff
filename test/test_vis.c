/* test_vis.c - activation maximization (lib/vis.c), the resized models it
 * runs on (lib/model_derive.c), the weights sheet and filter lists.
 *
 * The two measurements of the feature-visualization tutorial's claims:
 *  - gain: on the produced image the target filter's mean activation is at
 *    least 10x its value on the starting noise, and above the other
 *    filters' mean activations on that image on average;
 *  - multi-scale: at the same final size (408 px) a single-scale run has
 *    more high-frequency energy than the default multi-scale run
 *    (56 -> 408 in 12 scales). High-frequency energy is measured with a
 *    2-D DFT of the image's luma (mean removed): the share of the power at
 *    radial frequencies above half the Nyquist frequency (0.25 cycles per
 *    pixel).
 * The network is a small random one whose conv filters are made zero-mean
 * (as trained filters nearly are: they answer edges, not flat gray), with
 * ImageNet's input normalisation.
 *
 * Helper mode for the command-line tests:
 *   test_vis --save-model PATH        the small RGB network as a model file
 *   test_vis --save-gray-model PATH   a 1-channel network (Fashion-MNIST-like)
 *   test_vis --save-image PATH W H S  a W x H RGB test picture (seed S)
 *   test_vis --info PATH              decodes a PNG, JPEG or GIF and prints
 *                                     "png|jpeg W H C" or "gif W H FRAMES" */
#include "nn.h"
#include "test.h"

#include <gif_lib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *rgb_arch =
    "input 3x32x32\n"
    "conv 8 3x3 pad=same name=conv1\n"
    "relu\n"
    "maxpool 2 name=pool1\n"
    "conv 16 3x3 pad=same name=conv2\n"
    "relu\n"
    "flatten\n"
    "dense 10 name=fc\n"
    "softmax\n";

static const char *gray_arch =
    "input 1x28x28\n"
    "conv 8 3x3 pad=same name=conv1\n"
    "batchnorm\n"
    "relu\n"
    "maxpool 2 name=pool1\n"
    "conv 16 3x3 pad=same name=conv2\n"
    "batchnorm\n"
    "relu\n"
    "flatten\n"
    "dense 10 name=fc\n"
    "softmax\n";

/* Every conv filter minus its mean over (in, kh, kw). */
static void zero_mean_filters(nn_model *m)
{
    for (int i = 0; i < m->nlayers; i++) {
        if (strcmp(m->layers[i].type->keyword, "conv"))
            continue;
        nn_param *w = &m->layers[i].param[0];
        size_t per = w->size / (size_t)w->dims[0];
        for (int o = 0; o < w->dims[0]; o++) {
            float *f = w->value + (size_t)o * per;
            double s = 0;
            for (size_t j = 0; j < per; j++)
                s += f[j];
            for (size_t j = 0; j < per; j++)
                f[j] -= (float)(s / (double)per);
        }
    }
}

static nn_model *test_model(const char *arch, uint64_t seed)
{
    nn_error e;
    nn_model *m = nn_model_from_arch(arch, "test.nn", 0, &e);
    if (!m) {
        printf("  %s\n", e.msg);
        return NULL;
    }
    nn_model_init_params(m, seed);
    zero_mean_filters(m);
    if (m->input.c == 3) {
        const float mean[3] = {0.485f, 0.456f, 0.406f}, sd[3] = {0.229f, 0.224f, 0.225f};
        memcpy(m->mean, mean, sizeof mean);
        memcpy(m->std, sd, sizeof sd);
    } else {
        m->mean[0] = 0.2860f, m->std[0] = 0.3530f; /* Fashion-MNIST's */
        /* batch norm statistics as if trained: a spread around 1 */
        for (int i = 0; i < m->nlayers; i++) {
            nn_param *v = nn_layer_find_param(&m->layers[i], "running_var");
            for (size_t j = 0; v && j < v->size; j++)
                v->value[j] = 0.5f + 0.1f * (float)(j % 7);
        }
    }
    return m;
}

/* A picture: smooth colour gradients, a disc and some noise. */
static int save_image(const char *path, int w, int h, uint64_t seed)
{
    nn_image img;
    nn_error e;
    nn_rng r;
    nn_rng_seed(&r, seed);
    if (nn_image_alloc(&img, w, h, 3, &e) < 0)
        return -1;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = img.data + ((size_t)y * w + x) * 3;
            double dx = x - w / 2.0, dy = y - h / 2.0;
            int in = dx * dx + dy * dy < (w * h) / 10.0;
            p[0] = (uint8_t)(in ? 220 : 255 * x / w);
            p[1] = (uint8_t)(255 * y / h);
            p[2] = (uint8_t)(in ? 40 : 128 + (int)(nn_rng_uniform(&r) * 100));
        }
    int rc = nn_image_write(path, &img, &e);
    if (rc < 0)
        fprintf(stderr, "%s\n", e.msg);
    nn_image_free(&img);
    return rc;
}

/* What a picture file holds, decoded. */
static int info(const char *path)
{
    unsigned char sig[4] = {0};
    FILE *f = fopen(path, "rb");
    if (!f || fread(sig, 1, 4, f) != 4) {
        fprintf(stderr, "%s: cannot read\n", path);
        if (f)
            fclose(f);
        return -1;
    }
    fclose(f);
    if (!memcmp(sig, "GIF8", 4)) {
        int err;
        GifFileType *g = DGifOpenFileName(path, &err);
        if (!g || DGifSlurp(g) != GIF_OK) {
            fprintf(stderr, "%s: not a readable GIF\n", path);
            if (g)
                DGifCloseFile(g, &err);
            return -1;
        }
        printf("gif %d %d %d\n", g->SWidth, g->SHeight, g->ImageCount);
        DGifCloseFile(g, &err);
        return 0;
    }
    nn_image img;
    nn_error e;
    if (nn_image_read(path, &img, &e) < 0) {
        fprintf(stderr, "%s\n", e.msg);
        return -1;
    }
    printf("%s %d %d %d\n", sig[0] == 0xff ? "jpeg" : "png", img.w, img.h, img.c);
    nn_image_free(&img);
    return 0;
}

static int helper(int argc, char **argv)
{
    nn_error e;
    if (argc == 3 && !strcmp(argv[1], "--info"))
        return info(argv[2]) < 0;
    if (argc == 3 && (!strcmp(argv[1], "--save-model") || !strcmp(argv[1], "--save-gray-model"))) {
        nn_model *m = test_model(argv[1][7] == 'g' ? gray_arch : rgb_arch, 7);
        int rc = m ? nn_model_save(m, NULL, argv[2], &e) : -1;
        if (m && rc < 0)
            fprintf(stderr, "%s\n", e.msg);
        nn_model_free(m);
        return rc < 0;
    }
    if (argc == 6 && !strcmp(argv[1], "--save-image"))
        return save_image(argv[2], atoi(argv[3]), atoi(argv[4]), strtoull(argv[5], NULL, 10)) < 0;
    fprintf(stderr, "usage: test_vis [--save-model PATH | --save-gray-model PATH | "
                    "--save-image PATH W H SEED | --info PATH]\n");
    return 2;
}

/* Share of the power of img's luma (mean removed) at radial frequencies
 * above 0.25 cycles per pixel, from a 2-D DFT (rows, then columns). */
static double high_freq_share(const float *img, int c, int h, int w)
{
    size_t plane = (size_t)h * w;
    double *v = malloc(plane * sizeof *v), mean = 0;
    double *re = malloc(plane * sizeof *re), *im = malloc(plane * sizeof *im);
    double *cs = malloc((size_t)(w > h ? w : h) * 2 * sizeof *cs);
    if (!v || !re || !im || !cs)
        return NAN;
    for (size_t p = 0; p < plane; p++) {
        v[p] = c == 3 ? 0.299 * img[p] + 0.587 * img[plane + p] + 0.114 * img[2 * plane + p]
                      : img[p];
        mean += v[p];
    }
    mean /= (double)plane;
    for (size_t p = 0; p < plane; p++)
        v[p] -= mean;
    /* rows: re/im[y][kx] = sum_x v[y][x] e^{-2 pi i kx x / w} */
    for (int k = 0; k < w; k++)
        cs[2 * k] = cos(2 * M_PI * k / w), cs[2 * k + 1] = sin(2 * M_PI * k / w);
    for (int y = 0; y < h; y++)
        for (int kx = 0; kx < w; kx++) {
            double a = 0, b = 0;
            const double *row = v + (size_t)y * w;
            for (int x = 0, t = 0; x < w; x++, t = (t + kx) % w)
                a += row[x] * cs[2 * t], b -= row[x] * cs[2 * t + 1];
            re[(size_t)y * w + kx] = a, im[(size_t)y * w + kx] = b;
        }
    for (int k = 0; k < h; k++)
        cs[2 * k] = cos(2 * M_PI * k / h), cs[2 * k + 1] = sin(2 * M_PI * k / h);
    double hi = 0, all = 0;
    double *cr = malloc((size_t)h * sizeof *cr), *ci = malloc((size_t)h * sizeof *ci);
    for (int kx = 0; kx < w; kx++) {
        for (int y = 0; y < h; y++)
            cr[y] = re[(size_t)y * w + kx], ci[y] = im[(size_t)y * w + kx];
        double fx = (kx <= w / 2 ? kx : kx - w) / (double)w;
        for (int ky = 0; ky < h; ky++) {
            double a = 0, b = 0;
            for (int y = 0, t = 0; y < h; y++, t = (t + ky) % h) {
                double co = cs[2 * t], si = -cs[2 * t + 1];
                a += cr[y] * co - ci[y] * si, b += cr[y] * si + ci[y] * co;
            }
            double fy = (ky <= h / 2 ? ky : ky - h) / (double)h, pw = a * a + b * b;
            all += pw;
            if (sqrt(fx * fx + fy * fy) > 0.25)
                hi += pw;
        }
    }
    free(v), free(re), free(im), free(cs), free(cr), free(ci);
    return all > 0 ? hi / all : 0;
}

static void test_sizes(void)
{
    TEST("vis: the tutorial's scales are 56, 67, ... 408");
    nn_vis_cfg c;
    nn_vis_defaults(&c);
    int s[16], want[12] = {56, 67, 80, 96, 115, 138, 165, 198, 237, 284, 340, 408};
    CHECK(nn_vis_sizes(&c, s, 16) == 12);
    for (int k = 0; k < 12; k++)
        CHECK_MSG(s[k] == want[k], "scale %d is %d, want %d", k, s[k], want[k]);
    c.upscaling_steps = 0;
    CHECK(nn_vis_sizes(&c, s, 16) == 1 && s[0] == 56);
}

static void test_resized(void)
{
    TEST("model_resized: same parameters; same outputs at the same size");
    nn_error e;
    nn_model *m = test_model(rgb_arch, 3);
    if (!m) {
        CHECK(0);
        return;
    }
    nn_dims same = {3, 32, 32}, big = {3, 50, 40};
    nn_model *r = nn_model_resized(m, 4, same, &e);
    CHECK_MSG(r && r->nlayers == 5, "%s", r ? "wrong layer count" : e.msg);
    if (r) {
        float *x = malloc(3 * 32 * 32 * sizeof *x);
        nn_rng g;
        nn_rng_seed(&g, 1);
        for (int i = 0; i < 3 * 32 * 32; i++)
            x[i] = (float)nn_rng_normal(&g);
        nn_pass p = {0};
        CHECK(nn_model_reserve(m, 1, &e) == 0 && nn_model_reserve(r, 1, &e) == 0);
        const float *a = nn_model_forward_to(m, x, 1, 4, &p);
        const float *b = nn_model_forward(r, x, 1, &p);
        CHECK(memcmp(a, b, nn_dims_size(m->layers[4].out) * sizeof(float)) == 0);
        CHECK(r->std[2] == m->std[2] && r->mean[0] == m->mean[0]);
        free(x);
        nn_model_free(r);
    }
    r = nn_model_resized(m, 4, big, &e);
    CHECK_MSG(r && r->layers[4].out.h == 25 && r->layers[4].out.w == 20, "%s",
              r ? "wrong output size" : e.msg);
    CHECK(r && memcmp(r->layers[3].param[0].value, m->layers[3].param[0].value,
                      m->layers[3].param[0].size * sizeof(float)) == 0);
    nn_model_free(r);

    TEST("model_resized: a dense layer cannot change size, and says so");
    r = nn_model_resized(m, -1, big, &e);
    CHECK(r == NULL);
    CHECK_MSG(!r && strstr(e.msg, "layer 6") && strstr(e.msg, "dense"), "%s", e.msg);
    nn_model_free(r);
    nn_model_free(m);
}

static void test_gain(void)
{
    TEST("vis: every filter gains >= 10x over the noise and beats the others");
    nn_error e;
    nn_model *m = test_model(rgb_arch, 7);
    if (!m) {
        CHECK(0);
        return;
    }
    size_t nv = m->nvalues;
    float *before = malloc(nv * sizeof *before);
    memcpy(before, m->values, nv * sizeof *before);
    nn_vis_cfg c;
    nn_vis_defaults(&c);
    c.size = 32, c.upscaling_steps = 4; /* 32, 38, 45, 54: enough to measure */
    int filters[16];
    nn_vis_result r[16];
    for (int i = 0; i < 16; i++)
        filters[i] = i;
    int rc = nn_vis_run(m, 4, filters, 16, &c, r, &e);
    CHECK_MSG(rc == 0, "%s", e.msg);
    double worst = INFINITY;
    for (int i = 0; rc == 0 && i < 16; i++) {
        CHECK_MSG(r[i].final >= 10 * r[i].start && r[i].final > 0,
                  "filter %d: %g on the image, %g on the noise", i, r[i].final, r[i].start);
        CHECK_MSG(r[i].final > r[i].others, "filter %d: %g, the others %g on average", i,
                  r[i].final, r[i].others);
        CHECK(r[i].h == 54 && r[i].w == 54 && r[i].c == 3);
        if (r[i].start > 0 && r[i].final / r[i].start < worst)
            worst = r[i].final / r[i].start;
        nn_vis_result_free(&r[i]);
    }
    printf("# smallest gain over the noise: %.1fx\n", worst);

    TEST("vis: the network's weights are untouched");
    CHECK(memcmp(before, m->values, nv * sizeof *before) == 0);
    free(before);

    TEST("vis: a filter's image does not depend on the filters optimized with it");
    int one = 5;
    nn_vis_result a, b[3];
    int three[3] = {2, 5, 9};
    c.upscaling_steps = 2;
    c.keep_frames = 1;
    rc = nn_vis_run(m, 4, &one, 1, &c, &a, &e);
    c.batch = 3;
    rc |= nn_vis_run(m, 4, three, 3, &c, b, &e);
    CHECK_MSG(rc == 0, "%s", e.msg);
    if (rc == 0) {
        double md;
        long bad = test_close(a.image, b[1].image, 3L * a.h * a.w, 1e-4, 1e-4, &md);
        CHECK_MSG(bad < 0, "alone and in a batch differ by %g", md);
        CHECK(a.nframes == 2 && a.frames[0].w == 32 && a.frames[1].w == 38 &&
              a.frames[1].c == 3);
        CHECK(a.start == b[1].start);
    }
    nn_vis_result_free(&a);
    for (int i = 0; i < 3; i++)
        nn_vis_result_free(&b[i]);
    nn_model_free(m);
}

static void test_multiscale(void)
{
    TEST("vis: single-scale has more high-frequency energy than multi-scale (408 px)");
    nn_error e;
    nn_model *m = test_model(rgb_arch, 7);
    if (!m) {
        CHECK(0);
        return;
    }
    nn_vis_cfg multi, single;
    nn_vis_defaults(&multi);
    single = multi;
    single.size = 408, single.upscaling_steps = 0;
    int f = 3;
    nn_vis_result a, b;
    int rc = nn_vis_run(m, 4, &f, 1, &multi, &a, &e);
    CHECK_MSG(rc == 0, "%s", e.msg);
    rc |= nn_vis_run(m, 4, &f, 1, &single, &b, &e);
    CHECK_MSG(rc == 0, "%s", e.msg);
    if (rc == 0) {
        CHECK(a.h == 408 && b.h == 408);
        double hm = high_freq_share(a.image, 3, a.h, a.w);
        double hs = high_freq_share(b.image, 3, b.h, b.w);
        printf("# power above 0.25 cycles/px: single-scale %.4f, multi-scale %.4f "
               "(activation %.3g vs %.3g)\n", hs, hm, b.final, a.final);
        CHECK_MSG(hs > hm, "single-scale %g <= multi-scale %g", hs, hm);
    }
    nn_vis_result_free(&a);
    nn_vis_result_free(&b);
    nn_model_free(m);
}

static void test_gray(void)
{
    TEST("vis: a 1-channel network with batch norm (Fashion-MNIST-like)");
    nn_error e;
    nn_model *m = test_model(gray_arch, 11);
    if (!m) {
        CHECK(0);
        return;
    }
    nn_vis_cfg c;
    nn_vis_defaults(&c);
    c.size = 28, c.upscaling_steps = 3;
    int f[2] = {0, 7};
    nn_vis_result r[2];
    int rc = nn_vis_run(m, 5, f, 2, &c, r, &e); /* conv2 itself, before its batch norm */
    CHECK_MSG(rc == 0, "%s", e.msg);
    for (int i = 0; rc == 0 && i < 2; i++) {
        CHECK(r[i].c == 1 && r[i].h == 39); /* 28, 33, 39 */
        CHECK_MSG(r[i].final > r[i].start && r[i].final > r[i].others,
                  "filter %d: %g from %g, others %g", f[i], r[i].final, r[i].start,
                  r[i].others);
        nn_vis_result_free(&r[i]);
    }
    nn_model_free(m);
}

static void test_errors(void)
{
    nn_error e;
    nn_model *m = test_model(rgb_arch, 7);
    if (!m)
        return;
    TEST("lookup: a layer with no filters lists the conv layers");
    CHECK(nn_layer_lookup(m, "5", NN_NEED_FILTERS, &e) < 0);
    CHECK_MSG(strstr(e.msg, "layer 5 is 'flatten', which has no filters") &&
                  strstr(e.msg, "conv layers are 0, 3"), "%s", e.msg);
    CHECK(nn_layer_lookup(m, "4", NN_NEED_FILTERS, &e) == 4);
    CHECK(nn_layer_lookup(m, "pool1", NN_NEED_FILTERS, &e) == 2);
    CHECK(nn_layer_lookup(m, "conv2", NN_NEED_CONV, &e) == 3);
    CHECK(nn_layer_lookup(m, "1", NN_NEED_CONV, &e) < 0 && strstr(e.msg, "0, 3"));
    CHECK(nn_layer_lookup(m, "softmax7", NN_NEED_ANY, &e) == 7);

    TEST("lookup: an unknown layer names the valid range");
    CHECK(nn_layer_lookup(m, "99", NN_NEED_ANY, &e) < 0);
    CHECK_MSG(strstr(e.msg, "no layer '99'") && strstr(e.msg, "0..7"), "%s", e.msg);
    CHECK(nn_layer_lookup(m, "conv9", NN_NEED_ANY, &e) < 0);

    TEST("vis: a filter out of range names the layer's filters");
    int f = 16;
    nn_vis_result r;
    nn_vis_cfg c;
    nn_vis_defaults(&c);
    CHECK(nn_vis_run(m, 4, &f, 1, &c, &r, &e) < 0);
    CHECK_MSG(strstr(e.msg, "no filter 16") && strstr(e.msg, "0..15"), "%s", e.msg);
    f = 1;
    CHECK(nn_vis_run(m, 7, &f, 1, &c, &r, &e) < 0 && strstr(e.msg, "no filters"));
    nn_model_free(m);
}

static void test_weights(void)
{
    TEST("weights: a labelled tile per filter, 0 is mid-gray");
    nn_error e;
    nn_model *m = test_model(rgb_arch, 7);
    if (!m) {
        CHECK(0);
        return;
    }
    nn_param *w = &m->layers[0].param[0];
    memset(w->value, 0, w->size * sizeof(float));
    w->value[0] = 1; /* filter 0, red, top-left: the brightest value */
    nn_image s;
    int rc = nn_vis_weights(m, 0, &s, &e);
    CHECK_MSG(rc == 0, "%s", e.msg);
    if (rc == 0) {
        /* 8 tiles of 3x3 zoomed to 66 px in a 3-column grid */
        CHECK(s.c == 3 && s.w >= 3 * 66 && s.h >= 3 * 66);
        long mid = 0, red = 0;
        for (size_t p = 0; p < (size_t)s.w * s.h; p++) {
            const uint8_t *q = s.data + 3 * p;
            mid += q[0] == 128 && q[1] == 128 && q[2] == 128;
            red += q[0] == 255 && q[1] == 128 && q[2] == 128;
        }
        CHECK_MSG(red == 22 * 22, "%ld pure-red pixels, want one zoomed weight", red);
        CHECK(mid > 7 * 66 * 66);
        nn_image_free(&s);
    }
    CHECK(nn_vis_weights(m, 1, &s, &e) < 0);
    nn_model_free(m);
}

static void test_filter_lists(void)
{
    char dir[] = "/tmp/test_vis_XXXXXX", path[64];
    if (!mkdtemp(dir))
        return;
    nn_error e;
    int *f, n, layer;

    TEST("filters: from nn-featmap's --top table");
    snprintf(path, sizeof path, "%s/top.tsv", dir);
    FILE *fp = fopen(path, "w");
    fprintf(fp, "filter\tmean\n286\t3.5\n12\t2.25\n\n7\t1\n");
    fclose(fp);
    CHECK(nn_filters_read(path, 0, &f, &n, &layer, &e) == 0);
    CHECK(n == 3 && f[0] == 286 && f[1] == 12 && f[2] == 7 && layer == -1);
    free(f);
    CHECK(nn_filters_read(path, 2, &f, &n, &layer, &e) == 0 && n == 2);
    free(f);

    TEST("filters: from an activation file, its /top or else the largest means");
    float means[2 * 5] = {0, 5, 1, 2, 9, 0, 4, 1, 2, -9};
    int top[2] = {3, 1};
    char *inputs[3] = {"a.png", "b.png", NULL};
    nn_acts a = {2, 5, 0, 0, means, NULL, top, 2, "m.h5", 40, "conv5_3", "conv", inputs};
    snprintf(path, sizeof path, "%s/a.h5", dir);
    CHECK(nn_acts_save(&a, path, &e) == 0);
    CHECK(nn_filters_read(path, 0, &f, &n, &layer, &e) == 0);
    CHECK(n == 2 && f[0] == 3 && f[1] == 1 && layer == 40);
    free(f);
    a.top = NULL, a.ntop = 0;
    CHECK(nn_acts_save(&a, path, &e) == 0);
    CHECK(nn_filters_read(path, 3, &f, &n, &layer, &e) == 0);
    /* means over inputs: 0, 4.5, 1, 1.5, 0 */
    CHECK(n == 3 && f[0] == 1 && f[1] == 3 && f[2] == 2);
    free(f);

    TEST("filters: a NaN mean is an error naming the file when the means rank the filters, "
         "not when the file has its --top list");
    means[6] = NAN;
    CHECK(nn_acts_save(&a, path, &e) == 0);
    CHECK_MSG(nn_filters_read(path, 3, &f, &n, &layer, &e) < 0 && strstr(e.msg, "a.h5") &&
                  strstr(e.msg, "nan"), "%s", e.msg);
    a.top = top, a.ntop = 2;
    CHECK(nn_acts_save(&a, path, &e) == 0);
    CHECK_MSG(nn_filters_read(path, 0, &f, &n, &layer, &e) == 0 && n == 2 && f[0] == 3,
              "%s", e.msg);
    if (n == 2)
        free(f);

    TEST("filters: a file with no indices is an error");
    snprintf(path, sizeof path, "%s/bad.tsv", dir);
    fp = fopen(path, "w");
    fprintf(fp, "filter\tmean\n");
    fclose(fp);
    CHECK(nn_filters_read(path, 0, &f, &n, &layer, &e) < 0 && strstr(e.msg, "no filter"));
    snprintf(path, sizeof path, "%s/top.tsv", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/a.h5", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/bad.tsv", dir);
    unlink(path);
    rmdir(dir);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        return helper(argc, argv);
    nn_set_threads(1); /* small images: one thread is fastest, and steady */
    double t0 = nn_now();
    test_sizes();
    test_resized();
    test_errors();
    test_weights();
    test_filter_lists();
    test_gain();
    test_gray();
    double t1 = nn_now();
    test_multiscale();
    printf("# %.1f s, the multi-scale measurement %.1f s\n", nn_now() - t0, nn_now() - t1);
    return test_done();
}

/* test_keras.c - Keras weight files into models (lib/keras.c), against the
 * reduced VGG-16 of test/golden/gen_keras.py: the converted model's forward
 * equals PyTorch's forward of the Keras network (Keras 2 names, and a Keras
 * 1 notop file); kernels land in nn's layouts and the dense layer after
 * the flatten reads Keras's HWC order; 'caffe' preprocessing is BGR minus
 * the ImageNet means on 0..255 pixels; the registry's pretrained models
 * are found, checked (MD5) and converted; and every error is one line. */
#include "nn.h"
#include "test.h"

#include <sys/stat.h>
#include <unistd.h>

#define KERAS2 "test/golden/keras_small.h5"
#define KERAS1_NOTOP "test/golden/keras1_notop.h5"
#define GOLDEN "test/golden/keras_golden.h5"

/* data/arch/vgg16.nn with 4, 8, 8, 16, 16 filters per block, 32-unit dense
 * layers and a 64x96 input: the same layers, numbered the same. */
static const char ARCH[] =
    "# the reduced VGG-16 of test/golden/gen_keras.py\n"
    "input 3x64x96\n"
    "conv 4 3x3 pad=same name=conv1_1\n"   /* 0 */
    "relu\n"
    "conv 4 3x3 pad=same name=conv1_2\n"   /* 2 */
    "relu\n"
    "maxpool 2 name=pool1\n"
    "conv 8 3x3 pad=same name=conv2_1\n"   /* 5 */
    "relu\n"
    "conv 8 3x3 pad=same name=conv2_2\n"
    "relu\n"
    "maxpool 2 name=pool2\n"
    "conv 8 3x3 pad=same name=conv3_1\n"   /* 10 */
    "relu\n"
    "conv 8 3x3 pad=same name=conv3_2\n"
    "relu\n"
    "conv 8 3x3 pad=same name=conv3_3\n"
    "relu\n"
    "maxpool 2 name=pool3\n"
    "conv 16 3x3 pad=same name=conv4_1\n"  /* 17 */
    "relu\n"
    "conv 16 3x3 pad=same name=conv4_2\n"
    "relu\n"
    "conv 16 3x3 pad=same name=conv4_3\n"
    "relu\n"
    "maxpool 2 name=pool4\n"
    "conv 16 3x3 pad=same name=conv5_1\n"  /* 24 */
    "relu\n"
    "conv 16 3x3 pad=same name=conv5_2\n"
    "relu\n"
    "conv 16 3x3 pad=same name=conv5_3\n"  /* 28 */
    "relu\n"
    "maxpool 2 name=pool5\n"               /* 30 */
    "flatten\n"
    "dense 32 name=fc6\n"                  /* 32 */
    "relu\n"
    "dropout 0.5\n"
    "dense 32 name=fc7\n"                  /* 35 */
    "relu\n"
    "dropout 0.5\n"
    "dense classes name=fc8\n"             /* 38 */
    "softmax\n";

typedef struct golden {
    int n, h, w;
    uint8_t *images; /* [n,h,w,3] RGB */
    float *x;        /* [n,h,w,3] caffe-preprocessed, BGR */
    float *pool5;    /* [n,2,3,16] HWC */
    float *logits, *probs; /* [n,10] */
} golden;

static int golden_load(golden *g)
{
    nn_error e;
    nn_h5 *f = nn_h5_open(GOLDEN, &e);
    if (!f)
        return -1;
    float *img = NULL;
    int nd, d[8], ok = 1;
    ok &= nn_h5_read_floats(f, "/images", &img, &nd, d, &e) == 0 && nd == 4 && d[3] == 3;
    if (ok) {
        g->n = d[0], g->h = d[1], g->w = d[2];
        size_t n = (size_t)g->n * g->h * g->w * 3;
        g->images = malloc(n);
        for (size_t i = 0; g->images && i < n; i++)
            g->images[i] = (uint8_t)img[i];
        ok &= g->images != NULL;
    }
    free(img);
    ok &= nn_h5_read_floats(f, "/x", &g->x, &nd, d, &e) == 0;
    ok &= nn_h5_read_floats(f, "/pool5", &g->pool5, &nd, d, &e) == 0 && nd == 4 &&
          d[1] == 2 && d[2] == 3 && d[3] == 16;
    ok &= nn_h5_read_floats(f, "/logits", &g->logits, &nd, d, &e) == 0 && d[1] == 10;
    ok &= nn_h5_read_floats(f, "/probs", &g->probs, &nd, d, &e) == 0 && d[1] == 10;
    nn_h5_close(f);
    return ok ? 0 : -1;
}

/* Largest |a - b| over n, and whether every element is within rtol of the
 * largest |b| (a relative error on the scale of the tensor). */
static int close_rel(const float *a, const float *b, long n, double rtol, double *maxdiff)
{
    double scale = 0;
    for (long i = 0; i < n; i++)
        if (fabs(b[i]) > scale)
            scale = fabs(b[i]);
    return test_close(a, b, n, rtol * scale, rtol, maxdiff) < 0;
}

/* HWC [n,h,w,c] -> CHW [n,c,h,w] */
static void hwc_to_chw(const float *src, int n, int h, int w, int c, float *dst)
{
    for (int i = 0; i < n; i++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int k = 0; k < c; k++)
                    dst[(((size_t)i * c + k) * h + y) * w + x] =
                        src[(((size_t)i * h + y) * w + x) * c + k];
}

static int one_line(const nn_error *e) { return e->msg[0] && !strchr(e->msg, '\n'); }

static nn_model *load(const char *path, const char *arch, int notop, nn_error *e)
{
    nn_keras_opts o = {0};
    o.notop = notop;
    o.preprocess = "caffe";
    return nn_keras_load(path, arch, "tiny-vgg.nn", &o, e);
}

/* ARCH with `from` replaced by `to` (once). */
static char *arch_edit(const char *from, const char *to)
{
    const char *p = strstr(ARCH, from);
    char *s = malloc(sizeof ARCH + strlen(to));
    if (!p || !s)
        return s;
    size_t k = (size_t)(p - ARCH);
    memcpy(s, ARCH, k);
    strcpy(s + k, to);
    strcat(s, p + strlen(from));
    return s;
}

static void test_forward(const golden *g)
{
    nn_error e;
    TEST("keras: the reduced VGG from a Keras 2 file: caffe input, pool5, logits and "
         "probabilities equal PyTorch's within 1e-4 relative");
    nn_model *m = load(KERAS2, ARCH, 0, &e);
    CHECK_MSG(m, "%s", e.msg);
    if (!m)
        return;
    CHECK(m->nlayers == 40 && m->classes == 10 && m->bgr == 1);
    CHECK(strcmp(m->layers[28].name, "conv5_3") == 0 && strcmp(m->layers[32].name, "fc6") == 0);
    size_t per = (size_t)3 * g->h * g->w;
    float *x = malloc((size_t)g->n * per * sizeof *x), *want = malloc((size_t)g->n * per * 4);
    nn_input_from_u8(m, g->images, g->n, x);
    hwc_to_chw(g->x, g->n, g->h, g->w, 3, want);
    double dx, dp, dl, dq;
    /* float32 (u/255 - M/255) * 255 against float64 u - M */
    CHECK_MSG(test_close(x, want, (long)(g->n * per), 2e-3, 0, &dx) < 0,
              "input differs by %g", dx);
    nn_pass pass = {0};
    CHECK(nn_model_reserve(m, g->n, &e) == 0);
    nn_model_forward(m, x, g->n, &pass);
    float *pool5 = malloc((size_t)g->n * 96 * sizeof *pool5);
    hwc_to_chw(g->pool5, g->n, 2, 3, 16, pool5);
    CHECK_MSG(close_rel(m->act[30], pool5, g->n * 96, 1e-4, &dp), "pool5 differs by %g", dp);
    CHECK_MSG(close_rel(m->act[38], g->logits, g->n * 10, 1e-4, &dl), "logits differ by %g", dl);
    CHECK_MSG(test_close(m->act[39], g->probs, g->n * 10, 1e-5, 1e-4, &dq) < 0,
              "probabilities differ by %g", dq);
    printf("# keras: max differences: input %.3g, pool5 %.3g, logits %.3g, probabilities %.3g\n",
           dx, dp, dl, dq);
    free(x), free(want), free(pool5);

    TEST("keras: conv kernels become [out,in,kh,kw]; fc6's rows go from Keras's HWC flatten "
         "to nn's CHW");
    {
        nn_h5 *f = nn_h5_open(KERAS2, &e);
        float *k1 = NULL, *k6 = NULL;
        int nd, d[8];
        CHECK(f && nn_h5_read_floats(f, "/block1_conv1/block1_conv1/kernel:0", &k1, &nd, d,
                                     &e) == 0);
        CHECK(f && nn_h5_read_floats(f, "/fc1/fc1/kernel:0", &k6, &nd, d, &e) == 0 &&
              d[0] == 96 && d[1] == 32);
        int bad = 0;
        const float *w1 = m->layers[0].param[0].value, *w6 = m->layers[32].param[0].value;
        for (int o = 0; k1 && o < 4; o++)
            for (int i = 0; i < 3; i++)
                for (int y = 0; y < 3; y++)
                    for (int xx = 0; xx < 3; xx++)
                        bad += w1[((o * 3 + i) * 3 + y) * 3 + xx] !=
                               k1[((y * 3 + xx) * 3 + i) * 4 + o];
        /* pool5 is (C,H,W) = (16,2,3): nn's input row c*6 + h*3 + w is Keras's
         * (h*3 + w)*16 + c */
        for (int o = 0; k6 && o < 32; o++)
            for (int c = 0; c < 16; c++)
                for (int h = 0; h < 2; h++)
                    for (int w = 0; w < 3; w++)
                        bad += w6[o * 96 + c * 6 + h * 3 + w] != k6[((h * 3 + w) * 16 + c) * 32 + o];
        CHECK_MSG(bad == 0, "%d values misplaced", bad);
        /* fc7 follows no flatten: a plain transpose */
        float *k7 = NULL;
        CHECK(f && nn_h5_read_floats(f, "/fc2/fc2/kernel:0", &k7, &nd, d, &e) == 0);
        for (int o = 0; k7 && o < 32; o++)
            for (int i = 0; i < 32; i++)
                bad += m->layers[35].param[0].value[o * 32 + i] != k7[i * 32 + o];
        CHECK_MSG(bad == 0, "fc7: %d values misplaced", bad);
        free(k1), free(k6), free(k7);
        nn_h5_close(f);
    }

    TEST("keras: caffe preprocessing is stored as mean M/255, std 1/255, BGR, and survives a save "
         "and load");
    {
        CHECK(fabsf(m->mean[0] - 103.939f / 255) < 1e-7f && fabsf(m->mean[2] - 123.68f / 255) < 1e-7f);
        CHECK(fabsf(m->std[1] - 1.0f / 255) < 1e-9f);
        char path[] = "/tmp/nn-keras-XXXXXX";
        int fd = mkstemp(path);
        close(fd);
        CHECK(nn_model_save(m, NULL, path, &e) == 0);
        nn_model *r = nn_model_load(path, NULL, &e);
        CHECK_MSG(r, "%s", e.msg);
        if (r) {
            CHECK(r->bgr == 1 && r->mean[1] == m->mean[1] && r->std[0] == m->std[0]);
            CHECK(r->layers[32].param[0].value[17] == m->layers[32].param[0].value[17]);
        }
        nn_model_free(r);
        unlink(path);
    }
    nn_model_free(m);
}

static void test_notop(const golden *g)
{
    nn_error e;
    float *pool5 = malloc((size_t)g->n * 96 * sizeof *pool5);
    hwc_to_chw(g->pool5, g->n, 2, 3, 16, pool5);
    size_t per = (size_t)3 * g->h * g->w;
    float *x = malloc((size_t)g->n * per * sizeof *x);
    const char *files[2] = {KERAS1_NOTOP, KERAS2};
    const char *what[2] = {"a Keras 1 notop file (LAYER_W_1:0 names)",
                           "a full Keras 2 file (the classifier left unread)"};
    for (int k = 0; k < 2; k++) {
        char name[200];
        snprintf(name, sizeof name, "keras: notop from %s: layers 0-30, pool5 equals PyTorch's",
                 what[k]);
        TEST(name);
        nn_model *m = load(files[k], ARCH, 1, &e);
        CHECK_MSG(m, "%s", e.msg);
        if (!m)
            continue;
        CHECK(m->nlayers == 31 && strcmp(m->layers[30].name, "pool5") == 0);
        CHECK(strstr(m->arch_text, "conv 16 3x3 pad=same name=conv5_3") && !strstr(m->arch_text, "dense"));
        nn_input_from_u8(m, g->images, g->n, x);
        nn_pass pass = {0};
        double d;
        CHECK(nn_model_reserve(m, g->n, &e) == 0);
        const float *y = nn_model_forward(m, x, g->n, &pass);
        CHECK_MSG(close_rel(y, pool5, g->n * 96, 1e-4, &d), "pool5 differs by %g", d);
        nn_model_free(m);
    }

    TEST("keras: a notop model takes another input size (size 32: pool5 is 16x1x1)");
    {
        nn_keras_opts o = {0};
        o.notop = 1;
        o.size = 32;
        nn_model *m = nn_keras_load(KERAS1_NOTOP, ARCH, "tiny-vgg.nn", &o, &e);
        CHECK_MSG(m, "%s", e.msg);
        CHECK(m && m->input.h == 32 && m->input.w == 32 && m->layers[30].out.c == 16 &&
              m->layers[30].out.h == 1 && m->layers[30].out.w == 1);
        CHECK(m && m->mean[0] == 0 && m->std[0] == 1 && m->bgr == 0); /* no preprocessing asked */
        nn_model_free(m);
    }
    free(pool5), free(x);
}

static void test_errors(void)
{
    nn_error e;
    nn_model *m;

    TEST("keras errors: a notop file for a model with its classifier names the missing layer");
    m = load(KERAS1_NOTOP, ARCH, 0, &e);
    CHECK(!m && one_line(&e));
    CHECK_MSG(strstr(e.msg, "keras1_notop.h5: has weights for 13 layers, tiny-vgg.nn needs 16: "
                            "nothing for layer 32 (dense 'fc6'); a notop file?"), "%s", e.msg);
    nn_model_free(m);

    TEST("keras errors: a file with more layers than the architecture names the first left over");
    {
        char *a = arch_edit("dense classes name=fc8\nsoftmax\n", "");
        m = load(KERAS2, a, 0, &e);
        CHECK(!m && one_line(&e));
        CHECK_MSG(strstr(e.msg, "has weights for 16 layers, tiny-vgg.nn only 15: Keras layer "
                                "'predictions'"), "%s", e.msg);
        free(a);
    }

    TEST("keras errors: a kernel of another shape names the dataset, the layer and both shapes");
    {
        char *a = arch_edit("conv 8 3x3 pad=same name=conv2_1", "conv 6 3x3 pad=same name=conv2_1");
        m = load(KERAS2, a, 0, &e);
        CHECK(!m && one_line(&e));
        CHECK_MSG(strstr(e.msg, "keras_small.h5: block2_conv1/block2_conv1/kernel:0 is [3,3,4,8]; "
                                "layer 5 (conv 'conv2_1') needs [3,3,4,6] (kh,kw,in,out)"),
                  "%s", e.msg);
        free(a);
        a = arch_edit("dense 32 name=fc6", "dense 32 bias=none name=fc6");
        m = load(KERAS2, a, 0, &e);
        CHECK_MSG(!m && one_line(&e) && strstr(e.msg, "Keras layer 'fc1' has 2 weights; layer 32 "
                                                      "(dense 'fc6') takes a kernel only"),
                  "%s", e.msg);
        free(a);
        /* a 64x64 input makes pool5 2x2: fc1's kernel no longer fits fc6 */
        a = arch_edit("input 3x64x96", "input 3x64x64");
        m = load(KERAS2, a, 0, &e);
        CHECK_MSG(!m && strstr(e.msg, "fc1/fc1/kernel:0 is [96,32]; layer 32 (dense 'fc6') needs "
                                      "[64,32] (in,out)"), "%s", e.msg);
        free(a);
    }

    TEST("keras errors: a layer type the import cannot fill (batchnorm) is named");
    {
        char *a = arch_edit("conv1_1\nrelu\n", "conv1_1\nbatchnorm\nrelu\n");
        m = load(KERAS2, a, 0, &e);
        CHECK_MSG(!m && one_line(&e) && strstr(e.msg, "tiny-vgg.nn: layer 1 is batchnorm; the Keras "
                                                      "import fills conv and dense layers only"),
                  "%s", e.msg);
        free(a);
    }

    TEST("keras errors: an nn model file and a file that is not HDF5 are not Keras files");
    m = load("test/golden/eval_model.h5", ARCH, 0, &e);
    CHECK_MSG(!m && one_line(&e) && strstr(e.msg, "eval_model.h5: not a Keras weight file: no "
                                                  "attribute layer_names"), "%s", e.msg);
    m = load("test/test_keras.c", ARCH, 0, &e);
    CHECK_MSG(!m && one_line(&e) && strstr(e.msg, "test_keras.c: not a readable HDF5 file"), "%s",
              e.msg);
    m = load("test/golden/no-such-file.h5", ARCH, 0, &e);
    CHECK_MSG(!m && one_line(&e) && strstr(e.msg, "no-such-file.h5"), "%s", e.msg);

    TEST("keras: preprocessing modes tf and torch; an unknown mode is an error listing them");
    {
        nn_model *t = nn_model_from_arch("input 3x4x4\nconv 2 3x3\n", "t", 0, &e);
        CHECK(t && nn_keras_preprocess(t, "tf", &e) == 0 && t->mean[0] == 0.5f &&
              t->std[2] == 0.5f && t->bgr == 0);
        CHECK(t && nn_keras_preprocess(t, "torch", &e) == 0 && t->mean[0] == 0.485f &&
              t->std[2] == 0.225f && t->bgr == 0);
        CHECK(t && nn_keras_preprocess(t, "caffe", &e) == 0 && t->bgr == 1);
        CHECK(t && nn_keras_preprocess(t, "inception", &e) < 0 &&
              strstr(e.msg, "the modes are caffe, tf and torch"));
        nn_model_free(t);
    }
}

static void keep_msg(void *ctx, const char *msg) { snprintf(ctx, 1024, "%s", msg); }

/* A registry in a temporary directory: "tiny" (keras:tiny:caffe) with the
 * reduced VGG's architecture and class names beside it. */
static void test_registry(void)
{
    nn_error e;
    char dir[] = "/tmp/nn-keras-reg-XXXXXX", path[400], md5[65];
    CHECK(mkdtemp(dir) != NULL);
    CHECK(nn_md5_file(KERAS2, md5, &e) == 0);
    snprintf(path, sizeof path, "%s/arch", dir);
    mkdir(path, 0777);
    snprintf(path, sizeof path, "%s/arch/tiny.nn", dir);
    FILE *f = fopen(path, "w");
    fputs(ARCH, f);
    fclose(f);
    snprintf(path, sizeof path, "%s/names.txt", dir);
    f = fopen(path, "w");
    fputs("# ten names\nzero\none\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\n", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/reg.tsv", dir);
    f = fopen(path, "w");
    fprintf(f, "tiny\tkeras:tiny:caffe\tkeras_small.h5\t-\t%s\t-\t@names.txt\n", md5);
    fprintf(f, "bad\tkeras:tiny:caffe\tkeras_small.h5\t-\t00000000000000000000000000000000\t-\n");
    fprintf(f, "odd\tkeras:tiny:fast\tkeras_small.h5\t-\t-\t-\n");
    fprintf(f, "mnist\tidx\ta.gz\t-\t-\t-\n");
    fclose(f);
    nn_registry *r = nn_registry_load(path, &e);

    TEST("keras registry: keras:ARCH rows are models, MD5 sums are accepted");
    CHECK_MSG(r, "%s", e.msg);
    if (!r)
        return;
    CHECK(nn_registry_is_model(r, "tiny") && !nn_registry_is_model(r, "mnist") &&
          !nn_registry_is_model(r, "nope"));

    TEST("keras registry: --from a directory checks the MD5 and converts with the architecture "
         "and class names beside the registry");
    {
        nn_dataset_opts o = {0};
        o.from = "test/golden";
        o.cache = dir;
        nn_model *m = nn_pretrained_fetch(r, "tiny", &o, &e);
        CHECK_MSG(m, "%s", e.msg);
        CHECK(m && m->nlayers == 40 && m->classes == 10 && m->class_names &&
              strcmp(m->class_names[0], "zero") == 0 && strcmp(m->class_names[9], "nine") == 0 &&
              m->class_names[10] == NULL && m->bgr == 1);
        nn_model_free(m);
        m = nn_pretrained_fetch(r, "bad", &o, &e);
        CHECK_MSG(!m && one_line(&e) && strstr(e.msg, "checksum mismatch: expected "
                                                      "00000000000000000000000000000000, got"),
                  "%s", e.msg);
    }

    TEST("keras registry: --from the file itself converts it, with a warning when its sum is "
         "not the registry's");
    {
        nn_dataset_opts o = {0};
        o.from = KERAS2;
        o.cache = dir;
        char warned[1024] = "";
        o.warn = keep_msg;
        o.ctx = warned;
        nn_model *m = nn_pretrained_fetch(r, "bad", &o, &e);
        CHECK_MSG(m, "%s", e.msg);
        CHECK_MSG(strstr(warned, "keras_small.h5: not the file the registry lists for bad (its MD5 "
                                 "differs from 00000000000000000000000000000000); converting it "
                                 "all the same"), "warning: '%s'", warned);
        nn_model_free(m);
        m = nn_pretrained_fetch(r, "odd", &o, &e);
        CHECK_MSG(!m && strstr(e.msg, "format 'keras:tiny:fast': unknown word 'fast'"), "%s",
                  e.msg);
        o.size = 32;
        m = nn_pretrained_fetch(r, "tiny", &o, &e);
        CHECK_MSG(!m && strstr(e.msg, "tiny: its dense layers fix the input at 64x96; --size is "
                                      "for a notop model"), "%s", e.msg);
    }
    nn_registry_free(r);
    char cmd[500];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", dir);
}

int main(void)
{
    golden g = {0};
    if (golden_load(&g) < 0) {
        TEST("keras: the golden file");
        CHECK_MSG(0, "cannot read %s (regenerate it with test/golden/gen_keras.py)", GOLDEN);
        return test_done();
    }
    nn_set_threads(2);
    test_forward(&g);
    test_notop(&g);
    test_errors();
    test_registry();
    free(g.images), free(g.x), free(g.pool5), free(g.logits), free(g.probs);
    return test_done();
}

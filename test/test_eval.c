/* test_eval.c - the meters (lib/meter*.c) on hand-made outputs, inference
 * over a split (lib/eval.c) against training's own evaluation, predictions
 * for image files, and the golden model of test/golden/gen_eval.py against
 * PyTorch's probabilities.
 *
 * Helper modes for test/cli/eval.sh:
 *   test_eval files DIR    tiny dataset and model files, images, counts.tsv
 *   test_eval golden DIR   the golden images as PNGs and golden.tsv
 *                          (file, class, PyTorch's probability) */
#include "nn.h"
#include "test.h"

#include <sys/stat.h>
#include <unistd.h>

#define GOLDEN_MODEL "test/golden/eval_model.h5"
#define GOLDEN_DATA "test/golden/eval.h5"

/* ---- helpers ------------------------------------------------------------ */

/* The metrics table of s as text (malloc'd); people lines are dropped. */
static char *report_text(nn_meters *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    nn_error e;
    if (!f)
        return NULL;
    int rc = nn_meters_report(s, f, NULL, &e);
    fclose(f);
    if (rc < 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* The value of row (metric, cls) of a metrics table; NAN when absent
 * ("nan" reads as NAN too: check presence with has_row). */
static double row_value(const char *text, const char *metric, const char *cls)
{
    char key[128];
    snprintf(key, sizeof key, "%s\t%s\t", metric, cls);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, key, strlen(key)) == 0)
            return strtod(p + strlen(key), NULL);
    return NAN;
}

static int has_row(const char *text, const char *metric, const char *cls)
{
    char key[128];
    snprintf(key, sizeof key, "\n%s\t%s\t", metric, cls);
    return text && strstr(text, key) != NULL;
}

/* Meters named list over classes k, fed b in two halves (so sums run over
 * batches), reported as text. */
static char *measure(const char *list, const nn_meter_cfg *c, const nn_meter_batch *b)
{
    nn_error e;
    nn_meters *s = nn_meters_new(list, c, &e);
    if (!s) {
        printf("# %s: %s\n", list, e.msg);
        return NULL;
    }
    int h = b->n / 2;
    nn_meter_batch first = *b, second = *b;
    first.n = h;
    second.n = b->n - h;
    second.out += (size_t)h * b->k;
    second.prob += (size_t)h * b->k;
    if (b->logits)
        second.logits += (size_t)h * b->k;
    second.labels += h;
    nn_meters_add(s, &first);
    nn_meters_add(s, &second);
    char *text = report_text(s);
    nn_meters_free(s);
    return text;
}

/* A model of architecture text with seeded weights, non-trivial batch-norm
 * statistics and input normalisation. */
static nn_model *make_model(const char *arch, int classes, uint64_t seed, nn_error *e)
{
    nn_model *m = nn_model_from_arch(arch, "test.nn", classes, e);
    if (!m)
        return NULL;
    nn_model_init_params(m, seed);
    nn_rng r;
    nn_rng_seed(&r, seed + 1);
    for (int i = 0; i < m->nlayers; i++) {
        nn_layer *l = &m->layers[i];
        nn_param *mean = nn_layer_find_param(l, "running_mean");
        nn_param *var = nn_layer_find_param(l, "running_var");
        for (size_t j = 0; mean && j < mean->size; j++) {
            mean->value[j] = (float)(0.3 * nn_rng_normal(&r));
            var->value[j] = (float)(0.5 + nn_rng_uniform(&r));
        }
    }
    for (int c = 0; c < 4; c++)
        m->mean[c] = 0.4f + 0.05f * c, m->std[c] = 0.3f + 0.02f * c;
    return m;
}

static void random_split(nn_split *s, long n, size_t per, int classes, uint64_t seed)
{
    nn_rng r;
    nn_rng_seed(&r, seed);
    s->n = n;
    s->images = malloc((size_t)n * per + 1);
    s->labels = malloc((size_t)n * sizeof *s->labels + 1);
    for (size_t i = 0; i < (size_t)n * per; i++)
        s->images[i] = (uint8_t)(nn_rng_u64(&r) >> 56);
    for (long i = 0; i < n; i++)
        s->labels[i] = (int32_t)(nn_rng_u64(&r) % (uint64_t)classes);
}

static char **strv(const char *const *names, int n)
{
    char **v = calloc((size_t)n + 1, sizeof *v);
    for (int i = 0; i < n; i++)
        v[i] = strdup(names[i]);
    return v;
}

/* ---- the meters --------------------------------------------------------- */

/* Four samples of three classes: a hit, a tie (goes to the first class, a
 * miss), a hit, a miss whose label ranks last. */
static const float OUT4[] = {0.1f, 0.7f, 0.2f, 0.5f, 0.5f, 0.0f,
                             0.2f, 0.3f, 0.5f, 0.6f, 0.3f, 0.1f};
static const int LAB4[] = {1, 1, 2, 2};
static const char *const NAMES3[] = {"cat", "dog", "eel"};

static void test_counting_meters(void)
{
    nn_meter_cfg c = {.classes = 3, .class_names = NAMES3, .topk = 2};
    nn_meter_batch b = {.n = 4, .k = 3, .out = OUT4, .prob = OUT4, .labels = LAB4};

    TEST("accuracy: the share of samples whose first largest output is the label");
    char *t = measure("accuracy", &c, &b);
    CHECK(t && row_value(t, "accuracy", "-") == 0.5);
    CHECK(t && row_value(t, "samples", "-") == 4);
    CHECK(t && strncmp(t, "metric\tclass\tvalue\n", 19) == 0);
    free(t);

    TEST("topk: the label among the K largest (equal values rank by class); top1 = accuracy");
    t = measure("topk,top1,top3", &c, &b);
    CHECK(t && row_value(t, "top2", "-") == 0.75);
    CHECK(t && row_value(t, "top1", "-") == 0.5);
    CHECK(t && row_value(t, "top3", "-") == 1);
    free(t);

    TEST("perclass: accuracy and count of each class; nan for a class without samples");
    t = measure("perclass", &c, &b);
    CHECK(t && has_row(t, "accuracy", "cat") && isnan(row_value(t, "accuracy", "cat")));
    CHECK(t && row_value(t, "samples", "cat") == 0);
    CHECK(t && row_value(t, "accuracy", "dog") == 0.5 && row_value(t, "samples", "dog") == 2);
    CHECK(t && row_value(t, "accuracy", "eel") == 0.5 && row_value(t, "samples", "eel") == 2);
    free(t);
}

/* Reads a confusion TSV (header "true", k names; k rows) into counts. */
static int read_confusion(FILE *f, int k, long *counts)
{
    char line[4096];
    rewind(f);
    if (!fgets(line, sizeof line, f) || strncmp(line, "true\t", 5) != 0)
        return -1;
    for (int t = 0; t < k; t++) {
        if (!fgets(line, sizeof line, f))
            return -1;
        char *p = strchr(line, '\t');
        for (int q = 0; q < k; q++) {
            if (!p)
                return -1;
            counts[t * k + q] = strtol(p + 1, &p, 10);
        }
    }
    return fgets(line, sizeof line, f) ? -1 : 0;
}

static void test_confusion(void)
{
    TEST("confusion: row t sums to the samples of class t, the diagonal to the hits");
    enum { N = 500, K = 4 };
    static float out[N * K];
    static int lab[N];
    long count[K] = {0}, counts[K * K];
    nn_rng r;
    nn_rng_seed(&r, 7);
    for (int i = 0; i < N; i++) {
        lab[i] = (int)(nn_rng_u64(&r) % 3); /* class 3 never occurs */
        count[lab[i]]++;
        for (int j = 0; j < K; j++)
            out[i * K + j] = (float)nn_rng_uniform(&r) + (j == lab[i] ? 0.3f : 0.0f);
    }
    FILE *f = tmpfile();
    nn_meter_cfg c = {.classes = K, .topk = 5, .confusion_tsv = f};
    nn_meter_batch b = {.n = N, .k = K, .out = out, .prob = out, .labels = lab};
    char *t = measure("accuracy,confusion", &c, &b);
    CHECK(t != NULL);
    CHECK_MSG(f && read_confusion(f, K, counts) == 0, "the confusion TSV does not parse");
    long diag = 0;
    for (int i = 0; i < K; i++) {
        long sum = 0;
        for (int j = 0; j < K; j++)
            sum += counts[i * K + j];
        CHECK_MSG(sum == count[i], "row %d sums to %ld, class %d has %ld samples", i, sum, i,
                  count[i]);
        diag += counts[i * K + i];
    }
    CHECK_MSG(t && diag == (long)(row_value(t, "accuracy", "-") * N + 0.5),
              "diagonal %ld vs accuracy %g", diag, t ? row_value(t, "accuracy", "-") : -1);
    free(t);
    if (f)
        fclose(f);
}

/* AUC of n two-class samples with scores s (prob of class 1), labels y. */
static double auc_of(const float *s, const int *y, int n)
{
    float *prob = malloc((size_t)n * 2 * sizeof *prob);
    for (int i = 0; i < n; i++)
        prob[2 * i] = 1 - s[i], prob[2 * i + 1] = s[i];
    nn_meter_cfg c = {.classes = 2, .topk = 5};
    nn_meter_batch b = {.n = n, .k = 2, .out = prob, .prob = prob, .labels = y};
    char *t = measure("auc", &c, &b);
    double v = t && has_row(t, "auc", "1") ? row_value(t, "auc", "1") : -1;
    free(t);
    free(prob);
    return v;
}

static void test_auc(void)
{
    enum { N = 20000 };
    static float s[N], inv[N], tied[N];
    static int y[N];
    nn_rng r;
    nn_rng_seed(&r, 11);
    for (int i = 0; i < N; i++) {
        y[i] = (int)(nn_rng_u64(&r) & 1);
        s[i] = (float)nn_rng_uniform(&r);
        inv[i] = y[i] ? 0.4f * s[i] : 0.5f + 0.4f * s[i];
        tied[i] = 0.5f;
    }
    TEST("auc: random scores give about 0.5");
    double v = auc_of(s, y, N);
    CHECK_MSG(fabs(v - 0.5) < 0.02, "auc %g", v);
    TEST("auc: scores that put every class-1 sample above class 0 give 1, below give 0");
    for (int i = 0; i < N; i++)
        s[i] = 1 - inv[i];
    CHECK_MSG(auc_of(s, y, N) == 1, "perfect: %g", auc_of(s, y, N));
    CHECK_MSG(auc_of(inv, y, N) == 0, "inverted: %g", auc_of(inv, y, N));
    TEST("auc: ties count one half (all tied: 0.5; a hand-made case: 0.875)");
    CHECK_MSG(auc_of(tied, y, N) == 0.5, "all tied: %g", auc_of(tied, y, N));
    /* class 1 at 0.8 and 0.5, class 0 at 0.5 and 0.2: pairs 1 + 1 + 1/2 + 1 of 4 */
    const float hs[] = {0.8f, 0.5f, 0.5f, 0.2f};
    const int hy[] = {1, 1, 0, 0};
    CHECK_MSG(fabs(auc_of(hs, hy, 4) - 0.875) < 1e-12, "hand-made: %g", auc_of(hs, hy, 4));
    TEST("auc: nan when the samples are all of one class; not made for three classes");
    const int ones[] = {1, 1, 1, 1};
    nn_meter_cfg c3 = {.classes = 3, .topk = 5};
    nn_error e;
    CHECK(isnan(auc_of(hs, ones, 4)));
    nn_meters *m = nn_meters_new("auc", &c3, &e);
    CHECK(m == NULL && strstr(e.msg, "two-class"));
    nn_meters_free(m);
}

static void test_loss(void)
{
    enum { N = 7, K = 3 };
    float prob[N * K], logits[N * K], onehot[N * K] = {0};
    int y[N];
    double want = 0, mse = 0;
    nn_rng r;
    nn_rng_seed(&r, 3);
    for (int i = 0; i < N; i++) {
        float sum = 0;
        for (int j = 0; j < K; j++)
            sum += prob[i * K + j] = (float)(0.05 + nn_rng_uniform(&r));
        for (int j = 0; j < K; j++) {
            prob[i * K + j] /= sum;
            logits[i * K + j] = logf(prob[i * K + j]) + 2.5f * i; /* softmax(logits) = prob */
        }
        y[i] = i % K;
        onehot[i * K + y[i]] = 1;
        want -= log(prob[i * K + y[i]]);
        for (int j = 0; j < K; j++)
            mse += (prob[i * K + j] - onehot[i * K + j]) * (prob[i * K + j] - onehot[i * K + j]);
    }
    want /= N;
    nn_meter_cfg c = {.classes = K, .topk = 5, .loss = NN_LOSS_XENT};
    nn_meter_batch b = {.n = N, .k = K, .out = prob, .prob = prob, .labels = y};
    TEST("loss: the mean of -log p[label] over samples");
    char *t = measure("loss", &c, &b);
    double got = t ? row_value(t, "loss", "-") : NAN;
    CHECK_MSG(fabs(got - want) <= 1e-6 * want, "loss %.9g, mean -log p %.9g", got, want);
    free(t);
    TEST("loss: softmax cross-entropy on logits equals the mean of -log softmax");
    b.logits = logits;
    t = measure("loss", &c, &b);
    got = t ? row_value(t, "loss", "-") : NAN;
    CHECK_MSG(fabs(got - want) <= 1e-5 * want, "loss %.9g, mean -log p %.9g", got, want);
    free(t);
    TEST("loss: an mse model's loss is the mean squared error against one-hot targets");
    c.loss = NN_LOSS_MSE;
    b.logits = NULL;
    t = measure("loss", &c, &b);
    got = t ? row_value(t, "loss", "-") : NAN;
    CHECK_MSG(fabs(got - mse / (N * K)) <= 1e-6, "loss %.9g, mse %.9g", got, mse / (N * K));
    free(t);
}

static void test_registry(void)
{
    TEST("meters: an unknown name is an error that lists every meter");
    nn_meter_cfg c = {.classes = 3, .topk = 5};
    nn_error e;
    nn_meters *s = nn_meters_new("accuracy,precision", &c, &e);
    CHECK(s == NULL && strstr(e.msg, "'precision'"));
    for (const nn_meter_type *const *t = nn_meter_types(); *t; t++) {
        CHECK_MSG(strstr(e.msg, (*t)->name), "'%s' is not listed: %s", (*t)->name, e.msg);
        CHECK(nn_meter_type_find((*t)->name) == *t && (*t)->help && *(*t)->help);
    }
    nn_meters_free(s);
    TEST("meters: an empty list is an error");
    s = nn_meters_new("", &c, &e);
    CHECK(s == NULL);
    nn_meters_free(s);
}

/* ---- inference over a split --------------------------------------------- */

static const char *ARCH_SOFTMAX = "input 1x8x8\nconv 4 3x3 pad=same\nbatchnorm\nrelu\n"
                                  "maxpool 2\ndropout 0.5\nflatten\ndense classes\nsoftmax\n";
static const char *ARCH_LOGITS = "input 3x6x6\nconv 3 3x3\nrelu\ndropout 0.3\nflatten\n"
                                 "dense 10\nbatchnorm\ntanh\ndense classes\n";
static const char *ARCH_MSE = "input 1x5x5\nflatten\ndense 6\nsigmoid\ndense classes\n"
                              "loss mse\n";

static void test_split_matches_training(void)
{
    const char *arch[] = {ARCH_SOFTMAX, ARCH_LOGITS, ARCH_MSE};
    const char *what[] = {"a softmax model", "a logits model", "an mse model"};
    for (int a = 0; a < 3; a++) {
        char name[160];
        snprintf(name, sizeof name, "eval split: %s's accuracy equals training's evaluation "
                 "(nn_evaluate) exactly, its loss within 1e-5", what[a]);
        TEST(name);
        nn_error e;
        nn_model *m = make_model(arch[a], 3, 5 + a, &e);
        CHECK_MSG(m, "%s", e.msg);
        if (!m)
            continue;
        nn_split s;
        size_t per = nn_dims_size(m->input);
        random_split(&s, 301, per, 3, 40 + a);
        nn_data d = {.split = &s, .h = m->input.h, .w = m->input.w, .c = m->input.c,
                     .n = s.n, .batch = 64};
        memcpy(d.mean, m->mean, sizeof d.mean);
        memcpy(d.std, m->std, sizeof d.std);
        float loss, acc;
        CHECK_MSG(nn_evaluate(m, &d, &loss, &acc, &e) == 0, "%s", e.msg);
        nn_meter_cfg c;
        nn_eval_meter_cfg(m, &c);
        nn_meters *ms = nn_meters_new("loss,accuracy", &c, &e);
        CHECK(ms != NULL);
        CHECK_MSG(ms && nn_eval_split(m, NULL, &s, "test", ms, &e) == 0, "%s", e.msg);
        char *t = ms ? report_text(ms) : NULL;
        double macc = t ? row_value(t, "accuracy", "-") : NAN;
        double mloss = t ? row_value(t, "loss", "-") : NAN;
        CHECK_MSG((float)macc == acc, "accuracy %.9g, training's %.9g", macc, acc);
        CHECK_MSG(fabs(mloss - loss) <= 1e-5 * fabs(loss), "loss %.9g, training's %.9g", mloss,
                  loss);
        CHECK(t && row_value(t, "samples", "-") == 301);
        free(t);
        nn_meters_free(ms);
        free(s.images);
        free(s.labels);
        nn_model_free(m);
    }

    TEST("eval split: after a training epoch, the accuracy equals the test accuracy the "
         "trainer recorded");
    {
        nn_error e;
        nn_model *m = nn_model_from_arch(ARCH_SOFTMAX, "test.nn", 3, &e);
        nn_dataset d = {.h = 8, .w = 8, .c = 1, .classes = 3};
        nn_optim o = {0};
        nn_train_cfg cfg;
        nn_train_defaults(&cfg);
        cfg.epochs = 1, cfg.batch = 16, cfg.eval_test = 1, cfg.mean_subtract = 1;
        random_split(&d.train, 200, 64, 3, 60);
        random_split(&d.test, 157, 64, 3, 61);
        d.mean[0] = 0.5f;
        nn_trainer *t = NULL;
        if (m) {
            nn_model_init_params(m, 2);
            if (nn_optim_parse(&o, "adam", &e) == 0 && (o.lr = 0.01f, nn_optim_setup(&o, m, &e) == 0))
                t = nn_trainer_new(m, &o, &d, &cfg, &e);
        }
        CHECK_MSG(t && nn_trainer_run(t, &e) == 0 && t->nhistory == 1, "%s", e.msg);
        if (t && t->nhistory == 1) {
            nn_meter_cfg c;
            nn_eval_meter_cfg(m, &c);
            nn_meters *ms = nn_meters_new("accuracy", &c, &e);
            char *text = ms && nn_eval_split(m, NULL, &d.test, "test", ms, &e) == 0 ? report_text(ms) : NULL;
            float acc = text ? (float)row_value(text, "accuracy", "-") : NAN;
            CHECK_MSG(acc == t->history[0].test_acc, "accuracy %.9g, the trainer's %.9g", acc,
                      t->history[0].test_acc);
            free(text);
            nn_meters_free(ms);
        }
        if (t)
            nn_trainer_free(t);
        if (m)
            nn_optim_free(&o);
        nn_model_free(m);
        free(d.train.images), free(d.train.labels), free(d.test.images), free(d.test.labels);
    }

    TEST("eval split: an empty split and a label outside the classes are errors");
    nn_error e;
    nn_model *m = make_model(ARCH_SOFTMAX, 3, 1, &e);
    nn_meter_cfg c;
    if (m) {
        nn_eval_meter_cfg(m, &c);
        nn_meters *ms = nn_meters_new("accuracy", &c, &e);
        nn_split s = {0};
        CHECK(nn_eval_split(m, NULL, &s, "test", ms, &e) < 0 && strstr(e.msg, "no images"));
        random_split(&s, 10, 64, 3, 1);
        s.labels[4] = 3;
        CHECK(nn_eval_split(m, NULL, &s, "test", ms, &e) < 0 && strstr(e.msg, "label 3"));
        free(s.images);
        free(s.labels);
        nn_meters_free(ms);
    }
    CHECK(m != NULL);
    nn_model_free(m);
}

/* ---- predictions for image files ---------------------------------------- */

static int write_image(const char *path, int w, int h, int c, uint64_t seed)
{
    nn_image img = {0};
    nn_error e;
    nn_rng r;
    nn_rng_seed(&r, seed);
    if (nn_image_alloc(&img, w, h, c, &e) < 0)
        return -1;
    for (size_t i = 0; i < (size_t)w * h * c; i++)
        img.data[i] = (uint8_t)(nn_rng_u64(&r) >> 56);
    int rc = nn_image_write(path, &img, &e);
    nn_image_free(&img);
    return rc;
}

static void test_images(const char *dir)
{
    TEST("eval images: the top-k of each file in order, equal to the model's own forward; "
         "an unreadable file is skipped and counted");
    nn_error e;
    nn_model *m = make_model(ARCH_SOFTMAX, 3, 9, &e);
    const char *names[] = {"cat", "dog", "eel"};
    char paths[4][512];
    snprintf(paths[0], sizeof paths[0], "%s/a.png", dir);
    snprintf(paths[1], sizeof paths[1], "%s/b.jpg", dir);
    snprintf(paths[2], sizeof paths[2], "%s/broken.png", dir);
    snprintf(paths[3], sizeof paths[3], "%s/c.png", dir);
    CHECK(m && write_image(paths[0], 20, 13, 3, 1) == 0 && write_image(paths[1], 9, 30, 3, 2) == 0 &&
          write_image(paths[3], 8, 8, 1, 3) == 0);
    FILE *bad = fopen(paths[2], "w");
    if (bad) {
        fputs("not an image\n", bad);
        fclose(bad);
    }
    if (!m)
        return;
    m->class_names = strv(names, 3);
    const char *list[] = {paths[0], paths[1], paths[2], paths[3]};
    char *out = NULL, *log = NULL;
    size_t outlen = 0, loglen = 0;
    FILE *fo = open_memstream(&out, &outlen), *fl = open_memstream(&log, &loglen);
    long failed = -1;
    CHECK_MSG(nn_eval_images(m, NULL, list, 4, 2, fo, fl, "test", &failed, &e) == 0, "%s", e.msg);
    fclose(fo);
    fclose(fl);
    CHECK_MSG(failed == 1, "failed %ld", failed);
    CHECK_MSG(log && strstr(log, "broken.png") && strstr(log, "skipped") &&
              strchr(log, '\n') == log + strlen(log) - 1, "log: %s", log);
    /* expected: each good file through nn_input_from_image and a forward */
    int good[] = {0, 1, 3}, line = 0;
    char *p = out && strncmp(out, "file\tclass\tprobability\trank\n", 28) == 0 ? out + 28 : NULL;
    CHECK_MSG(p, "header: %.40s", out ? out : "");
    for (int g = 0; g < 3 && p; g++) {
        nn_image img = {0};
        float x[64], prob[3];
        nn_pass pass = {.train = 0};
        if (nn_image_read(paths[good[g]], &img, &e) < 0 || nn_input_from_image(m, &img, x, &e) < 0 ||
            nn_model_reserve(m, 1, &e) < 0) {
            CHECK_MSG(0, "%s", e.msg);
            break;
        }
        nn_image_free(&img);
        memcpy(prob, nn_model_forward(m, x, 1, &pass), sizeof prob);
        float prev = 2;
        for (int rank = 1; rank <= 2; rank++, line++) {
            char file[512], cls[32];
            float v;
            int rk, used = 0;
            if (sscanf(p, "%511[^\t]\t%31[^\t]\t%g\t%d\n%n", file, cls, &v, &rk, &used) != 4 ||
                !used) {
                CHECK_MSG(0, "line %d does not parse: %.60s", line, p);
                p = NULL;
                break;
            }
            p += used;
            int j = strcmp(cls, "cat") == 0 ? 0 : strcmp(cls, "dog") == 0 ? 1 : 2;
            CHECK_MSG(strcmp(file, paths[good[g]]) == 0 && rk == rank, "line %d: %s rank %d", line,
                      file, rk);
            CHECK_MSG(v == prob[j] && v <= prev, "line %d: %s %g, forward %g", line, cls, v, prob[j]);
            prev = v;
        }
    }
    CHECK_MSG(p && *p == 0, "more lines than 2 per good file");
    free(out);
    free(log);
    nn_model_free(m);
}

/* ---- golden ------------------------------------------------------------- */

/* The golden images [n,H,W,3] as bytes and PyTorch's probabilities. */
static int read_golden(uint8_t **images, float **probs, int *n, int *h, int *w, int *k,
                       nn_error *e)
{
    nn_h5 *f = nn_h5_open(GOLDEN_DATA, e);
    float *v = NULL;
    int nd, dims[8], pd, pdims[8];
    if (!f)
        return -1;
    int rc = nn_h5_read_floats(f, "/images", &v, &nd, dims, e) < 0 ||
                     nn_h5_read_floats(f, "/probs", probs, &pd, pdims, e) < 0
                 ? -1
                 : 0;
    nn_h5_close(f);
    if (rc < 0 || nd != 4 || dims[3] != 3 || pd != 2 || pdims[0] != dims[0]) {
        free(v);
        return rc < 0 ? -1 : nn_fail(e, GOLDEN_DATA ": unexpected shapes");
    }
    *n = dims[0], *h = dims[1], *w = dims[2], *k = pdims[1];
    size_t size = (size_t)dims[0] * dims[1] * dims[2] * 3;
    *images = malloc(size);
    for (size_t i = 0; i < size; i++)
        (*images)[i] = (uint8_t)v[i];
    free(v);
    return 0;
}

/* Writes the golden images as DIR/golden_I.png and, when tsv is not NULL,
 * rows "file\tclass\tprobability" of PyTorch's for every class. */
static int write_golden(const char *dir, FILE *tsv, char paths[][512], int max, int *count,
                        nn_error *e)
{
    uint8_t *images = NULL;
    float *probs = NULL;
    int n = 0, h = 0, w = 0, k = 0;
    nn_model *m = nn_model_load(GOLDEN_MODEL, NULL, e);
    if (!m || read_golden(&images, &probs, &n, &h, &w, &k, e) < 0) {
        nn_model_free(m);
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < n && i < max && rc == 0; i++) {
        nn_image img = {.w = w, .h = h, .c = 3, .data = images + (size_t)i * h * w * 3};
        snprintf(paths[i], 512, "%s/golden_%d.png", dir, i);
        rc = nn_image_write(paths[i], &img, e);
        for (int j = 0; tsv && j < k; j++)
            fprintf(tsv, "%s\t%s\t%.9g\n", paths[i], m->class_names[j], probs[i * k + j]);
    }
    *count = n < max ? n : max;
    free(images);
    free(probs);
    nn_model_free(m);
    return rc;
}

static void test_golden(const char *dir)
{
    TEST("golden: a model written by h5py (bgr, batch norm, dropout) predicts PyTorch's "
         "probabilities within 1e-5 from PNG files");
    char paths[16][512];
    int n = 0;
    nn_error e;
    FILE *want = tmpfile();
    if (write_golden(dir, want, paths, 16, &n, &e) < 0) {
        CHECK_MSG(0, "%s", e.msg);
        return;
    }
    nn_model *m = nn_model_load(GOLDEN_MODEL, NULL, &e);
    CHECK_MSG(m, "%s", e.msg);
    const char *list[16];
    for (int i = 0; i < n; i++)
        list[i] = paths[i];
    char *out = NULL;
    size_t len = 0;
    FILE *fo = open_memstream(&out, &len);
    long failed = 0;
    int k = m ? (int)nn_dims_size(m->layers[m->nlayers - 1].out) : 0;
    CHECK_MSG(m && nn_eval_images(m, NULL, list, n, k, fo, NULL, NULL, &failed, &e) == 0, "%s", e.msg);
    fclose(fo);
    /* every (file, class, probability) of PyTorch's is in the output */
    char line[1024], file[512], cls[64];
    float v, worst = 0;
    int rows = 0;
    rewind(want);
    while (fgets(line, sizeof line, want) && sscanf(line, "%511[^\t]\t%63[^\t]\t%g", file, cls, &v) == 3) {
        char key[600];
        snprintf(key, sizeof key, "\n%s\t%s\t", file, cls);
        const char *at = out ? strstr(out, key) : NULL;
        float got = at ? strtof(at + strlen(key), NULL) : NAN;
        CHECK_MSG(at, "no row for %s %s", file, cls);
        if (at && fabsf(got - v) > worst)
            worst = fabsf(got - v);
        rows++;
    }
    CHECK_MSG(worst <= 1e-5f, "largest difference %g", worst);
    CHECK_MSG(rows == n * k && rows > 0, "%d rows compared", rows);
    printf("# golden: %d probabilities, largest difference from PyTorch %.3g\n", rows, worst);
    fclose(want);
    free(out);
    nn_model_free(m);
}

/* ---- helper modes for test/cli/eval.sh ---------------------------------- */

static int save_model(const char *dir, const char *file, const char *arch, int classes,
                      const char *const *names, nn_error *e)
{
    char path[512];
    nn_model *m = make_model(arch, classes, 21, e);
    if (!m)
        return -1;
    if (names)
        m->class_names = strv(names, classes);
    snprintf(path, sizeof path, "%s/%s", dir, file);
    int rc = nn_model_save(m, NULL, path, e);
    nn_model_free(m);
    return rc;
}

/* A dataset of h x w x c images, classes classes, ntrain/ntest rows; the
 * test labels are class j for count[j] rows in turn. */
static int save_data(const char *dir, const char *file, int c, int h, int w, int classes,
                     const char *const *names, long ntrain, const long *count, nn_error *e)
{
    nn_dataset d = {.name = "tiny", .source = "test_eval", .checksum = "", .h = h, .w = w,
                    .c = c, .classes = classes};
    char *cn[8];
    for (int j = 0; j < classes; j++)
        cn[j] = (char *)names[j];
    d.class_names = cn;
    for (int j = 0; j < c; j++)
        d.mean[j] = 0.5f, d.std[j] = 0.29f;
    long ntest = 0;
    for (int j = 0; j < classes; j++)
        ntest += count[j];
    size_t per = (size_t)h * w * c;
    random_split(&d.train, ntrain, per, classes, 1);
    random_split(&d.test, ntest, per, classes, 2);
    for (long i = 0, j = 0, left = count[0]; i < ntest; i++, left--) {
        while (left == 0)
            left = count[++j];
        d.test.labels[i] = (int32_t)j;
    }
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    int rc = nn_dataset_save(&d, path, e);
    free(d.train.images), free(d.train.labels), free(d.test.images), free(d.test.labels);
    return rc;
}

static int make_files(const char *dir)
{
    static const char *const three[] = {"circle", "square", "cross", "star"};
    static const char *const two[] = {"no", "yes"};
    const long count3[] = {20, 15, 10, 7}, count2[] = {30, 25}, none[] = {0, 0, 0};
    nn_error e;
    char path[512];
    int rc = save_model(dir, "model.h5", ARCH_SOFTMAX, 3, three, &e) |
             save_model(dir, "model2.h5", ARCH_LOGITS, 2, two, &e) |
             save_model(dir, "model_c3.h5", "input 3x8x8\nflatten\ndense classes\nsoftmax\n", 3,
                        three, &e) |
             save_model(dir, "model_s10.h5", "input 1x10x10\nflatten\ndense classes\n", 3, three,
                        &e) |
             save_model(dir, "model_k4.h5", ARCH_SOFTMAX, 4, three, &e) |
             save_data(dir, "data.h5", 1, 8, 8, 3, three, 60, count3, &e) |
             save_data(dir, "data2.h5", 3, 6, 6, 2, two, 20, count2, &e) |
             save_data(dir, "empty.h5", 1, 8, 8, 3, three, 10, none, &e);
    snprintf(path, sizeof path, "%s/counts.tsv", dir);
    FILE *f = fopen(path, "w");
    for (int j = 0; f && j < 3; j++)
        fprintf(f, "%s\t%ld\n", three[j], count3[j]);
    if (!f || fclose(f) != 0)
        rc = -1;
    const char *img[] = {"a.png", "b.jpg", "c.png"};
    const int size[][3] = {{31, 17, 3}, {12, 40, 3}, {8, 8, 1}};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, img[i]);
        rc |= write_image(path, size[i][0], size[i][1], size[i][2], 50 + i);
    }
    snprintf(path, sizeof path, "%s/bad.png", dir);
    if (!(f = fopen(path, "w")) || fputs("this is not a PNG\n", f) < 0 || fclose(f) != 0)
        rc = -1;
    if (rc)
        fprintf(stderr, "test_eval files: %s\n", e.msg);
    return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "files") == 0)
        return make_files(argv[2]);
    if (argc == 3 && strcmp(argv[1], "golden") == 0) {
        char paths[16][512], path[600];
        int n;
        nn_error e;
        snprintf(path, sizeof path, "%s/golden.tsv", argv[2]);
        FILE *f = fopen(path, "w");
        int rc = f ? write_golden(argv[2], f, paths, 16, &n, &e) : nn_fail(&e, "%s: cannot create", path);
        if (f && fclose(f) != 0)
            rc = nn_fail(&e, "%s: write failed", path);
        if (rc < 0)
            fprintf(stderr, "test_eval golden: %s\n", e.msg);
        return rc < 0 ? 1 : 0;
    }
    char dir[] = "/tmp/nn-test-eval-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_counting_meters();
    test_confusion();
    test_auc();
    test_loss();
    test_registry();
    test_split_matches_training();
    test_images(dir);
    test_golden(dir);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", dir);
    return test_done();
}

/* test_dataset.c - datasets in memory and in HDF5: statistics are the exact
 * per-channel mean and std; stratified picks take round(frac * count) of
 * every class (or k rows shared in proportion), depend only on the seed,
 * and keep the original order; class selection relabels in list order and
 * names the known classes on a wrong name; split pools both splits; limit,
 * gray and resize change what they say; a dataset file round-trips every
 * field (empty test split included), rejects bad labels on save, and a
 * model file is not taken for a dataset; the registry parser names the
 * line of a bad entry. */
#include "nn.h"
#include "test.h"

#include <unistd.h>

/* n images h x w x c, pixel (i, p) = (i * 3 + p) % 256, label i % classes. */
static nn_dataset *make(long ntrain, long ntest, int h, int w, int c, int classes)
{
    const char *names[] = {"a", "b", "c", "d", "e"};
    nn_error e;
    nn_dataset *d = nn_dataset_new("test", h, w, c, classes, names, &e);
    nn_split *s[2] = {&d->train, &d->test};
    long n[2] = {ntrain, ntest};
    size_t ib = (size_t)h * w * c;
    for (int k = 0; k < 2; k++) {
        s[k]->n = n[k];
        s[k]->images = malloc(n[k] * ib + 1);
        s[k]->labels = malloc(n[k] * sizeof(int32_t) + 1);
        for (long i = 0; i < n[k]; i++) {
            for (size_t p = 0; p < ib; p++)
                s[k]->images[i * ib + p] = (uint8_t)((i * 3 + p + k * 101) % 256);
            s[k]->labels[i] = (int32_t)(i % classes);
        }
    }
    return d;
}

static long count_label(const nn_split *s, int label)
{
    long n = 0;
    for (long i = 0; i < s->n; i++)
        n += s->labels[i] == label;
    return n;
}

int main(void)
{
    nn_error e;
    char dir[] = "/tmp/nn-test-dataset-XXXXXX";
    if (!mkdtemp(dir)) {
        printf("FAIL mkdtemp\n");
        return 1;
    }
    char path[256];

    TEST("stats: the exact per-channel mean and std of the train images in [0,1]");
    {
        nn_dataset *d = make(10, 3, 2, 3, 3, 2);
        nn_dataset_stats(d);
        int ok = 1;
        for (int c = 0; c < 3; c++) {
            double s = 0, s2 = 0;
            long m = 0;
            for (long i = 0; i < 10 * 6; i++, m++) {
                double v = d->train.images[i * 3 + c] / 255.0;
                s += v, s2 += v * v;
            }
            double mean = s / m, sd = sqrt(s2 / m - mean * mean);
            ok &= fabs(d->mean[c] - mean) < 1e-6 && fabs(d->std[c] - sd) < 1e-6;
        }
        CHECK(ok);
        nn_dataset_free(d);
    }

    TEST("nn_pick_fraction: round(frac * count) of every class, seeded");
    {
        int32_t lab[100];
        uint8_t m1[100], m2[100], m3[100];
        for (int i = 0; i < 100; i++)
            lab[i] = i < 20 ? 0 : i < 60 ? 1 : 2; /* 20, 40, 40 */
        CHECK(nn_pick_fraction(lab, 100, 3, 0.15, 7, m1, &e) == 0);
        nn_pick_fraction(lab, 100, 3, 0.15, 7, m2, &e);
        nn_pick_fraction(lab, 100, 3, 0.15, 8, m3, &e);
        long per[3] = {0, 0, 0};
        for (int i = 0; i < 100; i++)
            per[lab[i]] += m1[i];
        CHECK_MSG(per[0] == 3 && per[1] == 6 && per[2] == 6, "%ld %ld %ld", per[0], per[1], per[2]);
        CHECK(memcmp(m1, m2, 100) == 0);
        CHECK(memcmp(m1, m3, 100) != 0);
        CHECK(nn_pick_fraction(lab, 100, 3, 1.5, 7, m1, &e) < 0);
        lab[5] = 3;
        CHECK(nn_pick_fraction(lab, 100, 3, 0.5, 7, m1, &e) < 0 && strstr(e.msg, "label 3"));
    }

    TEST("nn_pick_count: k rows in all, shared in proportion to the classes");
    {
        int32_t lab[100];
        uint8_t m[100];
        for (int i = 0; i < 100; i++)
            lab[i] = i < 20 ? 0 : i < 60 ? 1 : 2;
        CHECK(nn_pick_count(lab, 100, 3, 11, 1, m, &e) == 0);
        long per[3] = {0, 0, 0}, all = 0;
        for (int i = 0; i < 100; i++)
            per[lab[i]] += m[i], all += m[i];
        /* shares 2.2, 4.4, 4.4: floors 2, 4, 4, the last row to the first largest remainder */
        CHECK_MSG(all == 11 && per[0] == 2 && per[1] + per[2] == 9 && per[1] >= 4 && per[2] >= 4,
                  "%ld: %ld %ld %ld", all, per[0], per[1], per[2]);
        CHECK(nn_pick_count(lab, 100, 3, 500, 1, m, &e) == 0);
        all = 0;
        for (int i = 0; i < 100; i++)
            all += m[i];
        CHECK(all == 100);
    }

    TEST("select_classes keeps the named classes, relabelled in list order");
    {
        nn_dataset *d = make(30, 9, 2, 2, 1, 3); /* a, b, c */
        CHECK(nn_dataset_select_classes(d, "c, a", &e) == 0);
        CHECK(d->classes == 2 && strcmp(d->class_names[0], "c") == 0 &&
              strcmp(d->class_names[1], "a") == 0 && d->class_names[2] == NULL);
        CHECK(d->train.n == 20 && d->test.n == 6);
        /* the first kept row was row 0 (a, now 1), then row 2 (c, now 0) */
        CHECK(d->train.labels[0] == 1 && d->train.labels[1] == 0);
        CHECK(d->train.images[4] == (uint8_t)(2 * 3)); /* row 2's first pixel */
        CHECK(nn_dataset_select_classes(d, "a,x", &e) < 0 && strstr(e.msg, "no class 'x'") &&
              strstr(e.msg, "c, a"));
        CHECK(nn_dataset_select_classes(d, "a,a", &e) < 0 && strstr(e.msg, "twice"));
        CHECK(d->classes == 2 && d->train.n == 20); /* failures change nothing */
        nn_dataset_free(d);
    }

    TEST("split pools train and test and takes round(frac * count) per class, in order");
    {
        nn_dataset *d = make(40, 20, 1, 1, 1, 2); /* 30 + 30 */
        CHECK(nn_dataset_split(d, 0.2, 3, &e) == 0);
        CHECK(d->train.n == 48 && d->test.n == 12);
        CHECK(count_label(&d->test, 0) == 6 && count_label(&d->test, 1) == 6);
        nn_dataset_free(d);
    }

    TEST("limit keeps at most n images of each split");
    {
        nn_dataset *d = make(40, 20, 2, 2, 3, 4);
        CHECK(nn_dataset_limit(d, 8, 1, &e) == 0);
        CHECK(d->train.n == 8 && d->test.n == 8);
        for (int k = 0; k < 4; k++)
            CHECK(count_label(&d->train, k) == 2);
        nn_dataset_free(d);
    }

    TEST("gray is nn_image_convert's luma; resize fits to size x size");
    {
        nn_dataset *d = make(3, 2, 4, 6, 3, 2);
        nn_image src = {6, 4, 3, d->train.images + 2 * 72}, ref;
        CHECK(nn_image_convert(&src, 1, &ref, &e) == 0);
        CHECK(nn_dataset_gray(d, &e) == 0 && d->c == 1);
        CHECK(memcmp(d->train.images + 2 * 24, ref.data, 24) == 0);
        nn_image_free(&ref);
        CHECK(nn_dataset_resize(d, 3, &e) == 0 && d->h == 3 && d->w == 3 && d->train.n == 3);
        nn_dataset_free(d);
    }

    TEST("a dataset file round-trips every field");
    {
        nn_dataset *d = make(25, 7, 3, 5, 3, 5);
        nn_dataset_stats(d);
        d->source = strdup("https://example.org/a.tar.gz");
        d->checksum = strdup("0123  a.tar.gz");
        snprintf(path, sizeof path, "%s/d.h5", dir);
        CHECK(nn_dataset_save(d, path, &e) == 0);
        nn_dataset *r = nn_dataset_load(path, &e);
        CHECK_MSG(r != NULL, "%s", e.msg);
        if (r) {
            CHECK(r->h == 3 && r->w == 5 && r->c == 3 && r->classes == 5);
            CHECK(strcmp(r->name, "test") == 0 && strcmp(r->source, d->source) == 0 &&
                  strcmp(r->checksum, d->checksum) == 0);
            CHECK(strcmp(r->class_names[4], "e") == 0 && r->class_names[5] == NULL);
            CHECK(r->train.n == 25 && r->test.n == 7);
            CHECK(memcmp(r->train.images, d->train.images, 25 * 45) == 0 &&
                  memcmp(r->test.images, d->test.images, 7 * 45) == 0);
            CHECK(memcmp(r->train.labels, d->train.labels, 25 * 4) == 0);
            CHECK(memcmp(r->mean, d->mean, 3 * sizeof(float)) == 0 &&
                  memcmp(r->std, d->std, 3 * sizeof(float)) == 0);
        }
        nn_dataset_free(r);
        nn_dataset_free(d);
    }

    TEST("an empty test split and no source round-trip");
    {
        nn_dataset *d = make(4, 0, 2, 2, 1, 2);
        snprintf(path, sizeof path, "%s/e.h5", dir);
        CHECK(nn_dataset_save(d, path, &e) == 0);
        nn_dataset *r = nn_dataset_load(path, &e);
        CHECK_MSG(r && r->test.n == 0 && r->train.n == 4 && !r->source && !r->checksum, "%s",
                  r ? "fields differ" : e.msg);
        nn_dataset_free(r);
        nn_dataset_free(d);
    }

    TEST("save rejects a label outside the classes and leaves no file");
    {
        nn_dataset *d = make(4, 2, 2, 2, 1, 2);
        d->test.labels[1] = 2;
        snprintf(path, sizeof path, "%s/bad.h5", dir);
        CHECK(nn_dataset_save(d, path, &e) < 0 && strstr(e.msg, "/test/labels[1] is 2"));
        CHECK(access(path, F_OK) != 0);
        nn_dataset_free(d);
    }

    TEST("a model file is not a dataset");
    {
        nn_model *m = nn_model_from_arch("input 4\ndense 2\n", "t", 0, &e);
        snprintf(path, sizeof path, "%s/m.h5", dir);
        CHECK(m && nn_model_save(m, NULL, path, &e) == 0);
        nn_dataset *r = nn_dataset_load(path, &e);
        CHECK(!r && strstr(e.msg, "not an nn dataset (its format is 'nn-model')"));
        nn_model_free(m);
    }

    TEST("the registry names the line of a bad entry");
    {
        snprintf(path, sizeof path, "%s/reg.tsv", dir);
        FILE *f = fopen(path, "w");
        fprintf(f, "# c\n\nok\tidx\ta.gz\t10\t-\thttps://h/\n"
                   "bad\tidx\tb.gz\t10\t12ab\thttps://h/\n");
        fclose(f);
        nn_registry *r = nn_registry_load(path, &e);
        CHECK(!r && strstr(e.msg, "reg.tsv:4: sha256 '12ab'"));
        f = fopen(path, "w");
        fprintf(f, "ok\tidx\ta.gz\t10\t-\thttps://h/\tx,y\n");
        fclose(f);
        r = nn_registry_load(path, &e);
        CHECK(r && r->n == 1 && r->rows[0].size == 10 && !r->rows[0].sha256 &&
              strcmp(r->rows[0].classes, "x,y") == 0);
        nn_registry_free(r);
    }

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", dir);
    return test_done();
}

/* test_tensorboard.c - TensorBoard event files read back by an independent
 * reader: every record's framing (length, masked CRC32C of the length and
 * of the data) and the protobuf fields of each Event.
 *
 *   test_tensorboard            the tests
 *   test_tensorboard write DIR  writes DIR/train and DIR/test for
 *                               test/cli/tensorboard.sh, which loads them
 *                               with TensorBoard itself */
#include "nn.h"
#include "test.h"

#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- an independent reader ------------------------------------------------ */

/* CRC32C bit by bit (the library uses a table). */
static uint32_t crc32c(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1)));
    }
    return ~c;
}

static uint32_t masked(uint32_t c) { return ((c >> 15) | (c << 17)) + 0xa282ead8u; }

static uint64_t le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

typedef struct record {
    uint8_t *data;
    size_t n;
} record;

/* Reads every record of a file, checking the framing; returns the count
 * (-1 and a message in why on a bad record). */
static int read_records(const char *path, record *r, int max, char *why, size_t wsize)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(why, wsize, "cannot open the file");
        return -1;
    }
    int k = 0;
    uint8_t head[12], tail[4];
    size_t got;
    while ((got = fread(head, 1, 12, f)) == 12) {
        uint64_t n = le(head, 8);
        if ((uint32_t)le(head + 8, 4) != masked(crc32c(head, 8))) {
            snprintf(why, wsize, "record %d: length CRC mismatch", k);
            goto fail;
        }
        if (k == max || n > (1u << 28)) {
            snprintf(why, wsize, "record %d: too many or too long (%llu bytes)", k,
                     (unsigned long long)n);
            goto fail;
        }
        r[k].n = n;
        r[k].data = malloc(n ? n : 1);
        if (fread(r[k].data, 1, n, f) != n || fread(tail, 1, 4, f) != 4) {
            snprintf(why, wsize, "record %d: truncated", k);
            free(r[k].data);
            goto fail;
        }
        k++;
        if ((uint32_t)le(tail, 4) != masked(crc32c(r[k - 1].data, n))) {
            snprintf(why, wsize, "record %d: data CRC mismatch", k - 1);
            goto fail;
        }
    }
    if (got != 0) {
        snprintf(why, wsize, "%zu stray bytes at the end", got);
        goto fail;
    }
    fclose(f);
    return k;
fail:
    for (int i = 0; i < k; i++)
        free(r[i].data);
    fclose(f);
    return -1;
}

/* Protobuf fields, one at a time. */
typedef struct pbr {
    const uint8_t *p, *end;
} pbr;

typedef struct field {
    int num, wire;
    uint64_t v;         /* varint, fixed32 or fixed64 bits */
    const uint8_t *s;   /* wire type 2 */
    size_t n;
} field;

static int varint(pbr *r, uint64_t *v)
{
    *v = 0;
    for (int sh = 0; sh < 64 && r->p < r->end; sh += 7) {
        uint8_t b = *r->p++;
        *v |= (uint64_t)(b & 0x7F) << sh;
        if (!(b & 0x80))
            return 0;
    }
    return -1;
}

/* 1: a field, 0: the end, -1: malformed. */
static int next(pbr *r, field *f)
{
    uint64_t key;
    if (r->p == r->end)
        return 0;
    if (varint(r, &key) < 0)
        return -1;
    f->num = (int)(key >> 3), f->wire = (int)(key & 7);
    switch (f->wire) {
    case 0:
        return varint(r, &f->v) < 0 ? -1 : 1;
    case 1:
    case 5: {
        int n = f->wire == 1 ? 8 : 4;
        if (r->end - r->p < n)
            return -1;
        f->v = le(r->p, n);
        r->p += n;
        return 1;
    }
    case 2:
        if (varint(r, &f->v) < 0 || f->v > (uint64_t)(r->end - r->p))
            return -1;
        f->s = r->p, f->n = f->v;
        r->p += f->n;
        return 1;
    }
    return -1;
}

static pbr sub(const field *f) { return (pbr){f->s, f->s + f->n}; }
static pbr whole(const record *r) { return (pbr){r->data, r->data + r->n}; }

static double as_double(uint64_t v)
{
    double d;
    memcpy(&d, &v, 8);
    return d;
}

static float as_float(uint64_t v)
{
    uint32_t u = (uint32_t)v;
    float x;
    memcpy(&x, &u, 4);
    return x;
}

static int str_is(const field *f, const char *s)
{
    return f->wire == 2 && f->n == strlen(s) && memcmp(f->s, s, f->n) == 0;
}

/* An Event's parts: wall_time, step, file_version, graph_def and the
 * summary's single Value. */
typedef struct event {
    double wall_time;
    long step;
    field file_version, graph_def, value;
    int has_version, has_graph, has_value, nvalues;
} event;

static int parse_event(const record *rec, event *ev)
{
    memset(ev, 0, sizeof *ev);
    pbr r = whole(rec);
    field f;
    int k;
    while ((k = next(&r, &f)) == 1) {
        if (f.num == 1 && f.wire == 1)
            ev->wall_time = as_double(f.v);
        else if (f.num == 2 && f.wire == 0)
            ev->step = (long)f.v;
        else if (f.num == 3 && f.wire == 2)
            ev->file_version = f, ev->has_version = 1;
        else if (f.num == 4 && f.wire == 2)
            ev->graph_def = f, ev->has_graph = 1;
        else if (f.num == 5 && f.wire == 2) {
            pbr s = sub(&f);
            field v;
            int j;
            while ((j = next(&s, &v)) == 1)
                if (v.num == 1 && v.wire == 2)
                    ev->value = v, ev->has_value = 1, ev->nvalues++;
            if (j < 0)
                return -1;
        } else
            return -1;
    }
    return k;
}

/* The Value's tag and the field number and contents of its payload. */
static int value_parts(const field *value, char *tag, size_t tsize, field *payload)
{
    pbr r = sub(value);
    field f;
    int k, got = 0;
    *tag = 0;
    while ((k = next(&r, &f)) == 1) {
        if (f.num == 1 && f.wire == 2)
            snprintf(tag, tsize, "%.*s", (int)f.n, (const char *)f.s);
        else
            *payload = f, got++;
    }
    return k < 0 || got != 1 ? -1 : 0;
}

/* The names of the event files in dir (up to max); returns their count. */
static int find_event_files(const char *dir, char names[][256], int max)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int k = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strncmp(de->d_name, "events.out.tfevents.", 20) == 0 && k < max)
            snprintf(names[k++], 256, "%s", de->d_name);
    closedir(d);
    return k;
}

static void free_records(record *r, int n)
{
    for (int i = 0; i < n; i++)
        free(r[i].data);
}

/* ---- what the command-line test loads -------------------------------------- */

/* The small network whose graph is written (layer names as in VGG). */
static const char *graph_arch = "input 3x16x16\n"
                                "conv 8 3x3 pad=same name=conv1_1\n"
                                "relu name=relu1_1\n"
                                "maxpool 2 name=pool1\n"
                                "flatten\n"
                                "dense classes name=fc\n"
                                "softmax\n";

/* Values of the histogram at a step: sin(0.37 i) (1 + step/50), i < 1000,
 * and one NaN that must be left out. */
static void histo_values(float *v, long step)
{
    for (int i = 0; i < 1000; i++)
        v[i] = (float)(sin(0.37 * i) * (1 + step / 50.0));
    v[1000] = NAN;
}

/* An RGB test image: red rises to the right, green downwards, blue 77. */
static int test_image(nn_image *im, int w, int h, int c)
{
    if (nn_image_alloc(im, w, h, c, NULL) < 0)
        return -1;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int k = 0; k < c; k++) {
                int v = k == 0 ? x * 255 / (w - 1) : k == 1 ? y * 255 / (h - 1) : 77 + k;
                im->data[((size_t)y * w + x) * c + k] = (uint8_t)v;
            }
    return 0;
}

/* DIR/train: loss and accuracy at steps 0, 10, .. 90, the histogram
 * "conv1_1/weight" at steps 0 and 50, the image "conv1_1/filters" at step
 * 5 and the graph; DIR/test: loss and accuracy at steps 0, 30, 60, 90.
 * The script recomputes the same values. */
static int write_runs(const char *dir)
{
    char path[1024];
    nn_error e;
    snprintf(path, sizeof path, "%s/train", dir);
    nn_tb *tr = nn_tb_open(path, &e);
    snprintf(path, sizeof path, "%s/test", dir);
    nn_tb *te = tr ? nn_tb_open(path, &e) : NULL;
    if (!te) {
        fprintf(stderr, "test_tensorboard: %s\n", e.msg);
        if (tr)
            nn_tb_close(tr);
        return 1;
    }
    int bad = 0;
    nn_model *m = nn_model_from_arch(graph_arch, "graph", 10, &e);
    if (!m) {
        fprintf(stderr, "test_tensorboard: %s\n", e.msg);
        bad = 1;
    } else if (nn_tb_graph(tr, m) < 0)
        bad = 1;
    nn_model_free(m);
    for (long s = 0; s <= 90; s += 10) {
        bad |= nn_tb_scalar(tr, "loss", s, 2.5 * exp(-s / 40.0)) < 0;
        bad |= nn_tb_scalar(tr, "accuracy", s, 1 - 0.9 * exp(-s / 30.0)) < 0;
        if (s % 30 == 0) {
            bad |= nn_tb_scalar(te, "loss", s, 2.7 * exp(-s / 50.0)) < 0;
            bad |= nn_tb_scalar(te, "accuracy", s, 1 - 0.95 * exp(-s / 45.0)) < 0;
        }
    }
    float v[1001];
    for (long s = 0; s <= 50; s += 50) {
        histo_values(v, s);
        bad |= nn_tb_histogram(tr, "conv1_1/weight", s, v, 1001) < 0;
    }
    nn_image im;
    if (test_image(&im, 24, 16, 3) < 0)
        bad = 1;
    else {
        bad |= nn_tb_image(tr, "conv1_1/filters", 5, &im) < 0;
        nn_image_free(&im);
    }
    bad |= nn_tb_flush(tr) < 0;
    bad |= nn_tb_close(tr) < 0;
    bad |= nn_tb_close(te) < 0;
    if (bad)
        fprintf(stderr, "test_tensorboard: a write failed\n");
    return bad;
}

/* ---- the tests ------------------------------------------------------------ */

static char dir[256];

static void rm_rf(const char *d)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    if (system(cmd) != 0)
        printf("  could not remove %s\n", d);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "write") == 0)
        return write_runs(argv[2]);
    if (argc > 1) {
        fprintf(stderr, "usage: test_tensorboard [write DIR]\n");
        return 2;
    }
    snprintf(dir, sizeof dir, "/tmp/test_tensorboard.XXXXXX");
    if (!mkdtemp(dir)) {
        printf("FAIL setup: mkdtemp\n");
        return 1;
    }

    TEST("crc32c: the check value of \"123456789\" is 0xE3069283");
    CHECK(crc32c((const uint8_t *)"123456789", 9) == 0xE3069283u);

    /* One file with every kind of record, read back. */
    char run[512];
    snprintf(run, sizeof run, "%s/a/b/run", dir);
    nn_error e = {{0}};
    time_t t0 = time(NULL);
    nn_tb *t = nn_tb_open(run, &e);
    TEST("open: creates the directory and its parents");
    CHECK_MSG(t != NULL, "%s", e.msg);
    if (!t) {
        rm_rf(dir);
        return test_done();
    }
    float hv[1001];
    histo_values(hv, 0);
    nn_image img;
    CHECK(test_image(&img, 20, 12, 3) == 0);
    nn_model *m = nn_model_from_arch(graph_arch, "graph", 10, &e);
    CHECK_MSG(m != NULL, "%s", e.msg);
    int rc = 0;
    rc |= nn_tb_scalar(t, "loss", 7, 0.25);
    rc |= nn_tb_scalar(t, "big step", 5000000000L, -3.5);
    rc |= nn_tb_histogram(t, "h", 3, hv, 1001);
    rc |= nn_tb_histogram(t, "empty", 4, hv + 1000, 1); /* NaN only */
    rc |= nn_tb_image(t, "img", 9, &img);
    if (m)
        rc |= nn_tb_graph(t, m);
    rc |= nn_tb_flush(t);
    rc |= nn_tb_close(t);
    time_t t1 = time(NULL);
    TEST("writes succeed and close returns 0");
    CHECK(rc == 0);

    char names[4][256], host[256] = "";
    gethostname(host, sizeof host);
    int nfiles = find_event_files(run, names, 4);
    TEST("file name: events.out.tfevents.<unix seconds>.<hostname>");
    CHECK_MSG(nfiles == 1, "%d event files", nfiles);
    long secs = -1;
    char rest[256] = "";
    if (nfiles >= 1)
        sscanf(names[0], "events.out.tfevents.%ld.%255s", &secs, rest);
    CHECK_MSG(secs >= t0 && secs <= t1, "%s", names[0]);
    CHECK_MSG(strcmp(rest, host) == 0, "%s: host %s", names[0], host);

    record rec[16];
    char why[256] = "", path[800];
    int nrec = -1;
    if (nfiles >= 1) {
        snprintf(path, sizeof path, "%s/%s", run, names[0]);
        nrec = read_records(path, rec, 16, why, sizeof why);
    }
    TEST("framing: every length and data CRC matches, no stray bytes");
    CHECK_MSG(nrec == 7, "%d records: %s", nrec, why);
    if (nrec < 7) {
        if (nrec > 0)
            free_records(rec, nrec);
        nn_model_free(m);
        nn_image_free(&img);
        rm_rf(dir);
        return test_done();
    }
    event ev[7];
    TEST("every record is a well-formed Event");
    for (int i = 0; i < 7; i++)
        CHECK_MSG(parse_event(&rec[i], &ev[i]) == 0, "record %d", i);

    TEST("record 0: file_version brain.Event:2 and the wall time");
    CHECK(ev[0].has_version && str_is(&ev[0].file_version, "brain.Event:2"));
    CHECK_MSG(ev[0].wall_time >= (double)t0 && ev[0].wall_time <= (double)t1 + 1,
              "wall_time %.3f", ev[0].wall_time);

    char tag[64];
    field p = {0};
    TEST("scalar: step, tag and simple_value (float)");
    CHECK(ev[1].step == 7 && ev[1].nvalues == 1);
    CHECK(value_parts(&ev[1].value, tag, sizeof tag, &p) == 0 && strcmp(tag, "loss") == 0);
    CHECK(p.num == 2 && p.wire == 5 && as_float(p.v) == 0.25f);
    CHECK(ev[1].wall_time >= ev[0].wall_time);
    CHECK(value_parts(&ev[2].value, tag, sizeof tag, &p) == 0 && strcmp(tag, "big step") == 0);
    CHECK_MSG(ev[2].step == 5000000000L && as_float(p.v) == -3.5f, "step %ld", ev[2].step);

    /* The histogram as TensorBoard reads it: bucket i spans [left, right)
     * with left = min for the first, limit[i-1] otherwise, and right = max
     * for the last, limit[i] otherwise. */
    TEST("histogram: min, max, num, sum, sum_squares of the finite values");
    double hmin = 0, hmax = 0, hnum = -1, hsum = 0, hsum2 = 0, lim[2000], cnt[2000];
    int nlim = 0, ncnt = 0;
    CHECK(ev[3].step == 3);
    CHECK(value_parts(&ev[3].value, tag, sizeof tag, &p) == 0 && strcmp(tag, "h") == 0);
    CHECK(p.num == 5 && p.wire == 2);
    pbr h = sub(&p);
    field f;
    int k;
    while ((k = next(&h, &f)) == 1) {
        double d = as_double(f.v);
        if (f.wire == 1 && f.num >= 1 && f.num <= 5)
            *(f.num == 1 ? &hmin : f.num == 2 ? &hmax : f.num == 3 ? &hnum : f.num == 4 ? &hsum : &hsum2) = d;
        else if (f.wire == 2 && (f.num == 6 || f.num == 7) && f.n % 8 == 0 && f.n / 8 <= 2000)
            for (size_t i = 0; i < f.n / 8; i++)
                if (f.num == 6)
                    lim[nlim++] = as_double(le(f.s + 8 * i, 8));
                else
                    cnt[ncnt++] = as_double(le(f.s + 8 * i, 8));
        else
            k = -1;
        if (k < 0)
            break;
    }
    CHECK(k == 0);
    double emin = hv[0], emax = hv[0], esum = 0, esum2 = 0;
    for (int i = 0; i < 1000; i++) {
        emin = fmin(emin, hv[i]), emax = fmax(emax, hv[i]);
        esum += hv[i], esum2 += (double)hv[i] * hv[i];
    }
    CHECK_MSG(hnum == 1000 && hmin == emin && hmax == emax, "num %g min %g max %g", hnum, hmin, hmax);
    CHECK_MSG(fabs(hsum - esum) < 1e-9 && fabs(hsum2 - esum2) < 1e-9, "sum %g sum2 %g", hsum, hsum2);

    TEST("histogram: packed buckets, increasing limits, counts that match the values");
    CHECK_MSG(nlim == ncnt && nlim > 1 && nlim < 400, "%d limits, %d counts", nlim, ncnt);
    double total = 0;
    int bad_bucket = -1;
    for (int i = 0; i < nlim && i < ncnt; i++) {
        double left = i == 0 ? hmin : lim[i - 1], right = i == nlim - 1 ? hmax : lim[i];
        if (i > 0 && lim[i] <= lim[i - 1] && bad_bucket < 0)
            bad_bucket = i;
        double c = 0;
        for (int j = 0; j < 1000; j++)
            c += hv[j] >= left && (hv[j] < right || (i == nlim - 1 && hv[j] == right));
        if (c != cnt[i] && bad_bucket < 0)
            bad_bucket = i;
        total += cnt[i];
    }
    CHECK_MSG(bad_bucket < 0, "bucket %d: limit %g count %g", bad_bucket,
              bad_bucket >= 0 ? lim[bad_bucket] : 0, bad_bucket >= 0 ? cnt[bad_bucket] : 0);
    CHECK(total == 1000);
    /* TensorFlow's default limits are +-1e-12 * 1.1^k: 0.5 lies in
     * [1e-12 * 1.1^284, 1e-12 * 1.1^285) */
    double b284 = 1e-12;
    for (int i = 0; i < 284; i++)
        b284 *= 1.1;
    int found = 0;
    for (int i = 0; i < nlim; i++)
        found |= lim[i] == b284;
    CHECK_MSG(found, "no limit 1e-12*1.1^284 = %.17g", b284);

    TEST("histogram of NaN only: num 0, one empty bucket");
    CHECK(value_parts(&ev[4].value, tag, sizeof tag, &p) == 0 && strcmp(tag, "empty") == 0);
    h = sub(&p);
    double enum_ = -1;
    int nb = 0;
    while (next(&h, &f) == 1) {
        if (f.num == 3 && f.wire == 1)
            enum_ = as_double(f.v);
        if (f.num == 7 && f.wire == 2)
            nb = (int)(f.n / 8);
    }
    CHECK_MSG(enum_ == 0 && nb == 1, "num %g, %d buckets", enum_, nb);

    TEST("image: height, width, colorspace and a PNG that decodes to the pixels");
    CHECK(ev[5].step == 9);
    CHECK(value_parts(&ev[5].value, tag, sizeof tag, &p) == 0 && strcmp(tag, "img") == 0);
    CHECK(p.num == 4 && p.wire == 2);
    long ih = -1, iw = -1, ics = -1;
    field png = {0};
    h = sub(&p);
    while (next(&h, &f) == 1) {
        if (f.wire == 0 && f.num == 1)
            ih = (long)f.v;
        if (f.wire == 0 && f.num == 2)
            iw = (long)f.v;
        if (f.wire == 0 && f.num == 3)
            ics = (long)f.v;
        if (f.wire == 2 && f.num == 4)
            png = f;
    }
    CHECK_MSG(ih == 12 && iw == 20 && ics == 3, "h %ld w %ld colorspace %ld", ih, iw, ics);
    nn_image back = {0};
    CHECK_MSG(png.n > 8 && nn_image_decode(png.s, png.n, "img", &back, &e) == 0, "%s", e.msg);
    CHECK(back.w == 20 && back.h == 12 && back.c == 3 &&
          memcmp(back.data, img.data, 20 * 12 * 3) == 0);
    nn_image_free(&back);

    TEST("graph: an input node, then <layer name>/<keyword> per layer, chained");
    CHECK(ev[6].has_graph && !ev[6].has_value);
    const char *want[] = {"input",      "conv1_1/conv",   "relu1_1/relu", "pool1/maxpool",
                          "flatten3/flatten", "fc/dense", "softmax5/softmax"};
    const char *ops[] = {"Placeholder", "conv", "relu", "maxpool", "flatten", "dense", "softmax"};
    int nnodes = 0, version = 0, conv_shape = 0;
    pbr g = ev[6].has_graph ? sub(&ev[6].graph_def) : (pbr){0};
    while ((k = next(&g, &f)) == 1) {
        if (f.num == 4 && f.wire == 2) {
            version = 1;
            continue;
        }
        if (f.num != 1 || f.wire != 2) {
            k = -1;
            break;
        }
        field name = {0}, op = {0}, in = {0}, nf;
        int ninputs = 0;
        pbr nd = sub(&f);
        while (next(&nd, &nf) == 1) {
            if (nf.num == 1)
                name = nf;
            else if (nf.num == 2)
                op = nf;
            else if (nf.num == 3)
                in = nf, ninputs++;
            else if (nf.num == 5) {
                /* map entry {key 1, value 2: AttrValue}; _output_shapes is
                 * AttrValue.list (1) .shape (7) .dim (2) .size (1) */
                pbr a = sub(&nf);
                field af, key = {0}, val = {0};
                while (next(&a, &af) == 1)
                    *(af.num == 1 ? &key : &val) = af;
                if (nnodes == 1 && str_is(&key, "_output_shapes")) {
                    pbr x = sub(&val);
                    field l1, l2, d, s;
                    long dims[8], nd2 = 0;
                    if (next(&x, &l1) == 1 && l1.num == 1) {
                        x = sub(&l1);
                        if (next(&x, &l2) == 1 && l2.num == 7) {
                            x = sub(&l2);
                            while (next(&x, &d) == 1 && d.num == 2 && nd2 < 8) {
                                pbr y = sub(&d);
                                if (next(&y, &s) == 1 && s.num == 1)
                                    dims[nd2++] = (long)s.v;
                            }
                        }
                    }
                    conv_shape = nd2 == 4 && dims[0] == -1 && dims[1] == 8 && dims[2] == 16 &&
                                 dims[3] == 16;
                }
            }
        }
        if (nnodes < 7) {
            CHECK_MSG(str_is(&name, want[nnodes]) && str_is(&op, ops[nnodes]), "node %d: %.*s (%.*s)",
                      nnodes, (int)name.n, (const char *)name.s, (int)op.n, (const char *)op.s);
            CHECK_MSG(nnodes == 0 ? ninputs == 0 : ninputs == 1 && str_is(&in, want[nnodes - 1]),
                      "node %d: %d inputs", nnodes, ninputs);
        }
        nnodes++;
    }
    CHECK(k == 0);
    CHECK_MSG(nnodes == 7, "%d nodes", nnodes);
    CHECK(version);
    TEST("graph: _output_shapes of conv1_1 is [-1, 8, 16, 16]");
    CHECK(conv_shape);
    free_records(rec, nrec);
    nn_model_free(m);
    nn_image_free(&img);

    TEST("two writers on one directory in one second get two files");
    snprintf(run, sizeof run, "%s/two", dir);
    nn_tb *t1w = nn_tb_open(run, &e), *t2w = nn_tb_open(run, &e);
    CHECK_MSG(t1w && t2w, "%s", e.msg);
    if (t1w)
        CHECK(nn_tb_close(t1w) == 0);
    if (t2w)
        CHECK(nn_tb_close(t2w) == 0);
    CHECK(find_event_files(run, names, 4) == 2);

    TEST("open: a path through a regular file fails with a message");
    snprintf(path, sizeof path, "%s/file", dir);
    FILE *pf = fopen(path, "w");
    if (pf)
        fclose(pf);
    snprintf(run, sizeof run, "%s/file/run", dir);
    e.msg[0] = 0;
    CHECK(nn_tb_open(run, &e) == NULL);
    CHECK_MSG(strstr(e.msg, "file") != NULL, "'%s'", e.msg);

    /* A file size limit makes the writes fail (EFBIG): the failing call or
     * the next one, every later call and close report it. */
    TEST("a failed write is reported by later calls and by close");
    snprintf(run, sizeof run, "%s/full", dir);
    t = nn_tb_open(run, &e);
    CHECK_MSG(t != NULL, "%s", e.msg);
    struct rlimit old, lim1;
    if (t && getrlimit(RLIMIT_FSIZE, &old) == 0) {
        signal(SIGXFSZ, SIG_IGN);
        lim1 = old;
        lim1.rlim_cur = 4096;
        setrlimit(RLIMIT_FSIZE, &lim1);
        int first_fail = -1;
        for (int i = 0; i < 2000 && first_fail < 0; i++)
            if (nn_tb_scalar(t, "loss", i, i) < 0 || (i % 50 == 49 && nn_tb_flush(t) < 0))
                first_fail = i;
        CHECK_MSG(first_fail > 0, "first failure at %d", first_fail);
        setrlimit(RLIMIT_FSIZE, &old);
        CHECK(nn_tb_scalar(t, "loss", 1, 1) < 0);
        CHECK(nn_tb_flush(t) < 0);
        CHECK(nn_tb_close(t) < 0);
        signal(SIGXFSZ, SIG_DFL);
    } else if (t)
        nn_tb_close(t);

    rm_rf(dir);
    return test_done();
}

/* tensorboard.c - TensorBoard event files, written by hand.
 *
 * A file is a sequence of records, each
 *   uint64 length (little-endian), uint32 masked CRC32C of those 8 bytes,
 *   the data, uint32 masked CRC32C of the data,
 * with mask(crc) = ((crc >> 15) | (crc << 17)) + 0xa282ead8 and CRC32C the
 * Castagnoli CRC (reflected polynomial 0x82F63B78). Each record's data is a
 * serialized Event protobuf; the first one carries file_version
 * "brain.Event:2". The messages used, with their field numbers:
 *   Event     { double wall_time 1; int64 step 2; string file_version 3;
 *               bytes graph_def 4; Summary summary 5 }
 *   Summary   { repeated Value value 1 }
 *   Value     { string tag 1; float simple_value 2; Image image 4;
 *               HistogramProto histo 5 }
 *   Image     { int32 height 1, width 2, colorspace 3;
 *               bytes encoded_image_string 4 (PNG) }
 *   HistogramProto { double min 1, max 2, num 3, sum 4, sum_squares 5;
 *               packed double bucket_limit 6, bucket 7 }
 *   GraphDef  { repeated NodeDef node 1; VersionDef versions 4 }
 *   NodeDef   { string name 1, op 2; repeated string input 3;
 *               map<string, AttrValue> attr 5 }
 *   AttrValue { ListValue list 1; bytes s 2; DataType type 6;
 *               TensorShapeProto shape 7 }, ListValue { repeated shape 7 },
 *   TensorShapeProto { repeated Dim dim 2 }, Dim { int64 size 1 }.
 * A protobuf field is a varint key (field << 3 | wire type) and a value:
 * wire type 0 a varint, 1 eight little-endian bytes, 2 a varint length and
 * that many bytes (strings, nested messages, packed arrays), 5 four bytes.
 *
 * Records are written through a stdio buffer; nn_tb_flush pushes them to
 * the file. A write that fails makes that call, every later call and
 * nn_tb_close return -1. */
#include "nn.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct nn_tb {
    FILE *f;
    char *path;
    int failed;      /* a write failed: every later call returns -1 */
    double *limits;  /* TensorFlow's default histogram bucket limits */
    int nlimits;
};

/* ---- CRC32C ------------------------------------------------------------ */

static uint32_t crc32c_table[256];
static pthread_once_t crc32c_once = PTHREAD_ONCE_INIT;

static void crc32c_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc32c_table[i] = c;
    }
}

/* CRC32C (Castagnoli) of n bytes; "123456789" gives 0xE3069283. */
static uint32_t crc32c(const uint8_t *p, size_t n)
{
    pthread_once(&crc32c_once, crc32c_init);
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++)
        c = crc32c_table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

static uint32_t masked_crc(const uint8_t *p, size_t n)
{
    uint32_t c = crc32c(p, n);
    return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

/* ---- protobuf encoding --------------------------------------------------- */

/* A growing byte buffer; oom is set (and later appends dropped) when
 * memory runs out. */
typedef struct pb {
    uint8_t *p;
    size_t n, cap;
    int oom;
} pb;

static void pb_raw(pb *b, const void *data, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n)
            cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p, b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->n, data, n);
    b->n += n;
}

static void pb_varint(pb *b, uint64_t v)
{
    uint8_t t[10];
    int k = 0;
    do {
        t[k++] = (uint8_t)((v & 0x7F) | (v > 0x7F ? 0x80 : 0));
        v >>= 7;
    } while (v);
    pb_raw(b, t, (size_t)k);
}

static void pb_key(pb *b, int field, int wire)
{
    pb_varint(b, (uint64_t)field << 3 | (uint64_t)wire);
}

static void put_le(uint8_t *t, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        t[i] = (uint8_t)(v >> (8 * i));
}

static void pb_fixed64(pb *b, uint64_t v)
{
    uint8_t t[8];
    put_le(t, v, 8);
    pb_raw(b, t, 8);
}

static uint64_t double_bits(double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    return u;
}

/* int32/int64 fields: negative values as 10-byte two's complement. */
static void pb_int(pb *b, int field, int64_t v)
{
    pb_key(b, field, 0);
    pb_varint(b, (uint64_t)v);
}

static void pb_double(pb *b, int field, double v)
{
    pb_key(b, field, 1);
    pb_fixed64(b, double_bits(v));
}

static void pb_float(pb *b, int field, float v)
{
    uint32_t u;
    uint8_t t[4];
    memcpy(&u, &v, 4);
    put_le(t, u, 4);
    pb_key(b, field, 5);
    pb_raw(b, t, 4);
}

static void pb_bytes(pb *b, int field, const void *data, size_t n)
{
    pb_key(b, field, 2);
    pb_varint(b, n);
    pb_raw(b, data, n);
}

static void pb_string(pb *b, int field, const char *s)
{
    pb_bytes(b, field, s, strlen(s));
}

/* A nested message: its bytes, then the sub-buffer is emptied for reuse. */
static void pb_message(pb *b, int field, pb *sub)
{
    if (sub->oom)
        b->oom = 1;
    pb_bytes(b, field, sub->p, sub->n);
    sub->n = 0;
}

static void pb_packed_doubles(pb *b, int field, const double *v, size_t n)
{
    pb_key(b, field, 2);
    pb_varint(b, 8 * (uint64_t)n);
    for (size_t i = 0; i < n; i++)
        pb_fixed64(b, double_bits(v[i]));
}

static void pb_free(pb *b)
{
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

/* ---- records ------------------------------------------------------------ */

static double wall_time(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Writes one record holding data. */
static int write_record(nn_tb *t, const uint8_t *data, size_t n)
{
    uint8_t head[12], tail[4];
    put_le(head, n, 8);
    put_le(head + 8, masked_crc(head, 8), 4);
    put_le(tail, masked_crc(data, n), 4);
    if (fwrite(head, 1, 12, t->f) != 12 || fwrite(data, 1, n, t->f) != n ||
        fwrite(tail, 1, 4, t->f) != 4) {
        t->failed = 1;
        return -1;
    }
    return 0;
}

/* The Event header (wall_time, step) into ev. */
static void event_start(pb *ev, long step)
{
    pb_double(ev, 1, wall_time());
    if (step != 0)
        pb_int(ev, 2, step);
}

/* Writes Event {wall_time, step, summary {value: {tag, <value>}}}, where
 * value holds the Value's fields after the tag. Frees value. */
static int write_summary(nn_tb *t, long step, const char *tag, pb *value)
{
    pb v = {0}, s = {0}, ev = {0};
    pb_string(&v, 1, tag);
    pb_raw(&v, value->p, value->n);
    if (value->oom)
        v.oom = 1;
    pb_message(&s, 1, &v);
    event_start(&ev, step);
    pb_message(&ev, 5, &s);
    int rc = ev.oom ? -1 : write_record(t, ev.p, ev.n);
    pb_free(value);
    pb_free(&v);
    pb_free(&s);
    pb_free(&ev);
    return rc;
}

/* ---- opening and closing ------------------------------------------------ */

/* TensorFlow's default histogram bucket limits: -DBL_MAX, then -v for the
 * v = 1e-12 * 1.1^k below 1e20 in decreasing size, 0, the v in increasing
 * size, DBL_MAX. Bucket i counts the values in [limit[i-1], limit[i]). */
static double *default_limits(int *n)
{
    int npos = 0;
    for (double v = 1.0e-12; v < 1.0e20; v *= 1.1)
        npos++;
    double *l = malloc((size_t)(2 * npos + 3) * sizeof *l);
    if (!l)
        return NULL;
    int k = npos + 1;
    l[k] = 0;
    double v = 1.0e-12;
    for (int i = 1; i <= npos; i++, v *= 1.1)
        l[k + i] = v, l[k - i] = -v;
    l[0] = -DBL_MAX;
    l[2 * npos + 2] = DBL_MAX;
    *n = 2 * npos + 3;
    return l;
}

nn_tb *nn_tb_open(const char *dir, nn_error *e)
{
    if (!dir || !*dir) {
        nn_fail(e, "TensorBoard: no log directory given");
        return NULL;
    }
    if (nn_mkdir_p(dir, e) < 0)
        return NULL;
    nn_tb *t = calloc(1, sizeof *t);
    char host[256];
    if (gethostname(host, sizeof host) < 0 || !*host)
        strcpy(host, "localhost");
    host[sizeof host - 1] = 0;
    size_t n = strlen(dir) + strlen(host) + 64;
    if (t)
        t->path = malloc(n);
    if (t && t->path)
        t->limits = default_limits(&t->nlimits);
    if (!t || !t->path || !t->limits) {
        nn_fail(e, "out of memory");
        goto fail;
    }
    /* Never overwrite: a second file of the same second gets a suffix. */
    long secs = (long)time(NULL);
    for (int k = 0; k < 100 && !t->f; k++) {
        if (k == 0)
            snprintf(t->path, n, "%s/events.out.tfevents.%ld.%s", dir, secs, host);
        else
            snprintf(t->path, n, "%s/events.out.tfevents.%ld.%s.%d", dir, secs, host, k);
        t->f = fopen(t->path, "wbx");
        if (!t->f && errno != EEXIST) {
            nn_fail(e, "%s: cannot create: %s", t->path, strerror(errno));
            goto fail;
        }
    }
    if (!t->f) {
        nn_fail(e, "%s: cannot create: too many event files of this second", dir);
        goto fail;
    }
    setvbuf(t->f, NULL, _IOFBF, 1 << 16);
    pb ev = {0};
    pb_double(&ev, 1, wall_time());
    pb_string(&ev, 3, "brain.Event:2");
    int rc = ev.oom ? -1 : write_record(t, ev.p, ev.n);
    pb_free(&ev);
    if (rc < 0 || fflush(t->f) != 0) {
        nn_fail(e, "%s: write failed: %s", t->path, strerror(errno));
        goto fail;
    }
    return t;
fail:
    if (t) {
        if (t->f) {
            fclose(t->f);
            remove(t->path);
        }
        free(t->path);
        free(t->limits);
        free(t);
    }
    return NULL;
}

int nn_tb_flush(nn_tb *t)
{
    if (!t || t->failed)
        return -1;
    if (fflush(t->f) != 0) {
        t->failed = 1;
        return -1;
    }
    return 0;
}

int nn_tb_close(nn_tb *t)
{
    if (!t)
        return -1;
    int rc = t->failed ? -1 : 0;
    if (fclose(t->f) != 0)
        rc = -1;
    free(t->path);
    free(t->limits);
    free(t);
    return rc;
}

/* ---- summaries ------------------------------------------------------------ */

int nn_tb_scalar(nn_tb *t, const char *tag, long step, double value)
{
    if (!t || t->failed || !tag)
        return -1;
    pb v = {0};
    pb_float(&v, 2, (float)value);
    return write_summary(t, step, tag, &v);
}

/* The index of the first limit greater than x (std::upper_bound), clamped
 * to the last bucket. */
static int bucket_of(const double *l, int n, double x)
{
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (l[mid] <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n ? lo : n - 1;
}

/* A histogram of the finite values among v (NaN and infinities are left
 * out) in TensorFlow's default buckets. Only the buckets from the first to
 * the last non-empty one are written, and a run of empty buckets between
 * them becomes one: TensorBoard takes bucket i to span [limit[i-1],
 * limit[i]) with min as the left edge of the first and max as the right
 * edge of the last, which stays exact this way. */
int nn_tb_histogram(nn_tb *t, const char *tag, long step, const float *v,
                    size_t n)
{
    if (!t || t->failed || !tag || (!v && n))
        return -1;
    double *count = calloc((size_t)t->nlimits, sizeof *count);
    double *lim = malloc((size_t)t->nlimits * sizeof *lim);
    double *cnt = malloc((size_t)t->nlimits * sizeof *cnt);
    if (!count || !lim || !cnt) {
        free(count), free(lim), free(cnt);
        return -1;
    }
    double mn = 0, mx = 0, num = 0, sum = 0, sum2 = 0;
    for (size_t i = 0; i < n; i++) {
        double x = v[i];
        if (!isfinite(x))
            continue;
        if (num == 0 || x < mn)
            mn = x;
        if (num == 0 || x > mx)
            mx = x;
        num += 1, sum += x, sum2 += x * x;
        count[bucket_of(t->limits, t->nlimits, x)] += 1;
    }
    int first = 0, last = t->nlimits - 1, k = 0;
    while (first < last && count[first] == 0)
        first++;
    while (last > first && count[last] == 0)
        last--;
    for (int i = first; i <= last; i++) {
        if (count[i] == 0 && k > 0 && cnt[k - 1] == 0)
            k--; /* extend the empty run */
        lim[k] = t->limits[i], cnt[k] = count[i], k++;
    }
    if (num == 0)
        lim[0] = 0, cnt[0] = 0, k = 1;
    pb h = {0}, value = {0};
    pb_double(&h, 1, mn);
    pb_double(&h, 2, mx);
    pb_double(&h, 3, num);
    pb_double(&h, 4, sum);
    pb_double(&h, 5, sum2);
    pb_packed_doubles(&h, 6, lim, (size_t)k);
    pb_packed_doubles(&h, 7, cnt, (size_t)k);
    pb_message(&value, 5, &h);
    pb_free(&h);
    free(count), free(lim), free(cnt);
    return write_summary(t, step, tag, &value);
}

/* The image as a PNG; colorspace is the channel count (1 gray, 3 RGB,
 * 4 RGBA). */
int nn_tb_image(nn_tb *t, const char *tag, long step, const nn_image *img)
{
    if (!t || t->failed || !tag || !img)
        return -1;
    uint8_t *png = NULL;
    size_t len = 0;
    if (nn_image_encode_png(img, &png, &len, NULL) < 0)
        return -1;
    pb im = {0}, value = {0};
    pb_int(&im, 1, img->h);
    pb_int(&im, 2, img->w);
    pb_int(&im, 3, img->c);
    pb_bytes(&im, 4, png, len);
    free(png);
    pb_message(&value, 4, &im);
    pb_free(&im);
    return write_summary(t, step, tag, &value);
}

/* ---- the graph ------------------------------------------------------------ */

/* TensorShapeProto {dim {size}...} of [-1, c, h, w], or [-1, c] for a flat
 * (c,1,1) tensor (-1: the batch). */
static void shape_proto(pb *b, nn_dims d)
{
    int64_t dims[4] = {-1, d.c, d.h, d.w};
    int nd = d.h == 1 && d.w == 1 ? 2 : 4;
    pb dim = {0};
    for (int i = 0; i < nd; i++) {
        pb_int(&dim, 1, dims[i]);
        pb_message(b, 2, &dim);
    }
    pb_free(&dim);
}

/* One attr map entry {key, value: AttrValue} onto a NodeDef. */
static void node_attr(pb *node, const char *key, pb *attr_value)
{
    pb entry = {0};
    pb_string(&entry, 1, key);
    pb_message(&entry, 2, attr_value);
    pb_message(node, 5, &entry);
    pb_free(&entry);
}

/* The attr "_output_shapes" = [shape of d], which TensorBoard writes on
 * the edges. */
static void attr_output_shape(pb *node, nn_dims d)
{
    pb shape = {0}, list = {0}, av = {0};
    shape_proto(&shape, d);
    pb_message(&list, 7, &shape);
    pb_message(&av, 1, &list);
    node_attr(node, "_output_shapes", &av);
    pb_free(&shape), pb_free(&list), pb_free(&av);
}

/* An attr holding a shape (AttrValue.shape) of explicit dims. */
static void attr_dims(pb *node, const char *key, const int *dims, int nd)
{
    pb shape = {0}, dim = {0}, av = {0};
    for (int i = 0; i < nd; i++) {
        pb_int(&dim, 1, dims[i]);
        pb_message(&shape, 2, &dim);
    }
    pb_message(&av, 7, &shape);
    node_attr(node, key, &av);
    pb_free(&shape), pb_free(&dim), pb_free(&av);
}

static void attr_string(pb *node, const char *key, const char *s)
{
    pb av = {0};
    pb_string(&av, 2, s);
    node_attr(node, key, &av);
    pb_free(&av);
}

/* GraphDef: an "input" Placeholder, then one node "<layer name>/<keyword>"
 * per layer (op: the keyword) fed by the one before, with the output shape,
 * the layer's arguments ("config") and its parameters' shapes as attrs. */
int nn_tb_graph(nn_tb *t, const nn_model *m)
{
    if (!t || t->failed || !m)
        return -1;
    pb g = {0}, node = {0}, av = {0}, shape = {0}, ver = {0};
    char prev[2 * NN_NAME_MAX + 2] = "input", name[sizeof prev];

    pb_string(&node, 1, "input");
    pb_string(&node, 2, "Placeholder");
    pb_int(&av, 6, 1); /* DT_FLOAT */
    node_attr(&node, "dtype", &av);
    shape_proto(&shape, m->input);
    pb_message(&av, 7, &shape);
    node_attr(&node, "shape", &av);
    attr_output_shape(&node, m->input);
    pb_message(&g, 1, &node);

    for (int i = 0; i < m->nlayers; i++) {
        const nn_layer *l = &m->layers[i];
        const char *op = l->type && l->type->keyword ? l->type->keyword : "layer";
        snprintf(name, sizeof name, "%s/%s", l->name, op);
        pb_string(&node, 1, name);
        pb_string(&node, 2, op);
        pb_string(&node, 3, prev);
        attr_output_shape(&node, l->out);
        char cfg[256] = "";
        if (l->type && l->type->format)
            l->type->format(l, cfg, sizeof cfg);
        if (*cfg)
            attr_string(&node, "config", cfg);
        for (int j = 0; j < l->nparam; j++)
            attr_dims(&node, l->param[j].name, l->param[j].dims, l->param[j].ndims);
        pb_message(&g, 1, &node);
        memcpy(prev, name, sizeof prev);
    }
    pb_int(&ver, 1, 1); /* VersionDef.producer */
    pb_message(&g, 4, &ver);

    pb ev = {0};
    event_start(&ev, 0);
    pb_bytes(&ev, 4, g.p, g.n);
    int rc = ev.oom || g.oom ? -1 : write_record(t, ev.p, ev.n);
    pb_free(&g), pb_free(&node), pb_free(&av), pb_free(&shape), pb_free(&ver);
    pb_free(&ev);
    return rc;
}

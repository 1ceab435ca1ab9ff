/* data.c - batches for training and evaluation: a seeded order per epoch,
 * uint8 HWC -> float CHW with the model's normalisation, augmentation, and
 * a prefetch thread.
 *
 * Everything random here is a pure function of (seed, epoch, sample):
 *   order of epoch e     Fisher-Yates with nn_rng seeded from (seed, e)
 *   crop and flip        nn_counter_uniform(key, (e << 34) | (row << 2) | k)
 * so a run resumed at any batch sees the same data as one that never
 * stopped, with no RNG state to save, and the values do not depend on the
 * thread that makes them. */
#include "nn.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define ORDER_KEY 0x6f72646572ULL /* "order" */
#define SPLIT_KEY 0x73706c6974ULL /* "split" */
#define AUG_KEY 0x617567ULL       /* "aug" */

long nn_data_batches(const nn_data *d)
{
    return d->batch > 0 ? (d->n + d->batch - 1) / d->batch : 0;
}

int nn_augment_pad(int h, int w) { return h >= 32 && w >= 32 ? 4 : 2; }

/* A uniform integer in [0, n) from r (n small: the modulo bias is below
 * 2^-40 for the sizes here). */
static long below(nn_rng *r, long n) { return (long)(nn_rng_u64(r) % (uint64_t)n); }

void nn_data_order(const nn_data *d, long epoch, long *order)
{
    for (long i = 0; i < d->n; i++)
        order[i] = i;
    if (!d->shuffle)
        return;
    nn_rng r;
    nn_rng_seed(&r, d->seed ^ nn_hash64(ORDER_KEY + (uint64_t)epoch));
    for (long i = d->n - 1; i > 0; i--) {
        long j = below(&r, i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

int nn_data_split(long n, float val, long limit, uint64_t seed, long **train,
                  long *ntrain, long **valid, long *nval, nn_error *e)
{
    *train = *valid = NULL;
    *ntrain = *nval = 0;
    if (!(val >= 0 && val < 1))
        return nn_fail(e, "the validation share must be in [0,1), not %g", val);
    long nv = (long)(val * (double)n + 0.5);
    if (val > 0 && nv == 0)
        nv = 1;
    long nt = n - nv;
    if (limit > 0 && limit < nt)
        nt = limit;
    if (nt < 1)
        return nn_fail(e, "no training samples left: %ld samples, %ld for validation", n, nv);
    long *perm = malloc((size_t)(n ? n : 1) * sizeof *perm);
    long *t = malloc((size_t)nt * sizeof *t);
    long *v = malloc((size_t)(nv ? nv : 1) * sizeof *v);
    if (!perm || !t || !v) {
        free(perm), free(t), free(v);
        return nn_fail(e, "out of memory for the split of %ld samples", n);
    }
    /* one permutation of all rows: validation first, then training */
    nn_data order = {.n = n, .shuffle = 1, .seed = seed ^ nn_hash64(SPLIT_KEY)};
    nn_data_order(&order, 0, perm);
    memcpy(v, perm, (size_t)nv * sizeof *v);
    memcpy(t, perm + nv, (size_t)nt * sizeof *t);
    free(perm);
    qsort(v, (size_t)nv, sizeof *v, cmp_long);
    qsort(t, (size_t)nt, sizeof *t, cmp_long);
    *train = t, *ntrain = nt;
    *valid = v, *nval = nv;
    return 0;
}

/* lut[c][u] = (u/255 - mean[c]) / std[c]: the normalisation as a table. */
static void make_lut(const nn_data *d, float lut[4][256])
{
    for (int c = 0; c < d->c && c < 4; c++)
        for (int u = 0; u < 256; u++)
            lut[c][u] = ((float)u / 255.0f - d->mean[c]) / d->std[c];
}

/* One image: src [h, w, c] uint8 -> dst [c, h, w] float. The output pixel
 * (i, j) is the source pixel (i + dy, j' + dx) with j' = w-1-j when flipped,
 * else j, and value 0 (black) outside the image: a crop of the image padded
 * by P at offset (dy + P, dx + P). */
static void convert(const uint8_t *src, float *dst, int h, int w, int c,
                    int dy, int dx, int flip, const float lut[4][256])
{
    size_t plane = (size_t)h * w;
    for (int ch = 0; ch < c; ch++) {
        const float *t = lut[ch < 4 ? ch : 3];
        float *out = dst + ch * plane;
        for (int i = 0; i < h; i++) {
            int si = i + dy;
            float *row = out + (size_t)i * w;
            if (si < 0 || si >= h) {
                for (int j = 0; j < w; j++)
                    row[j] = t[0];
                continue;
            }
            const uint8_t *s = src + (size_t)si * w * c + ch;
            for (int j = 0; j < w; j++) {
                int sj = (flip ? w - 1 - j : j) + dx;
                row[j] = sj >= 0 && sj < w ? t[s[(size_t)sj * c]] : t[0];
            }
        }
    }
}

void nn_data_fill(const nn_data *d, const long *order, long epoch, long b,
                  nn_batch *out)
{
    float lut[4][256];
    make_lut(d, lut);
    long first = b * d->batch, n = d->n - first;
    if (n > d->batch)
        n = d->batch;
    if (n < 0)
        n = 0;
    size_t img = (size_t)d->h * d->w * d->c;
    int pad = nn_augment_pad(d->h, d->w);
    uint64_t key = d->seed ^ nn_hash64(AUG_KEY);
    out->epoch = epoch;
    out->index = b;
    out->n = (int)n;
    for (long i = 0; i < n; i++) {
        long pos = order ? order[first + i] : first + i;
        long row = d->index ? d->index[pos] : pos;
        int dy = 0, dx = 0, flip = 0;
        if (d->augment) {
            uint64_t ctr = ((uint64_t)epoch << 34) | ((uint64_t)row << 2);
            dy = (int)(nn_counter_uniform(key, ctr) * (2 * pad + 1)) - pad;
            dx = (int)(nn_counter_uniform(key, ctr + 1) * (2 * pad + 1)) - pad;
            flip = nn_counter_uniform(key, ctr + 2) < 0.5f;
        }
        convert(d->split->images + (size_t)row * img, out->x + (size_t)i * img, d->h,
                d->w, d->c, dy, dx, flip, lut);
        out->y[i] = d->split->labels[row];
    }
}

/* ---- the prefetch thread ------------------------------------------------ */

/* Two slots: the producer fills slot k % 2 with batch k of the sequence
 * while the consumer holds the other one. With a stage, the slots' inputs
 * are its host slots, sent on to the GPU once filled and released when
 * handed back. */
struct nn_loader {
    nn_data d;
    nn_cuda_stage *stage; /* NULL: host memory only */
    long epoch, batch, end_epoch; /* the next batch the producer makes */
    long nbatches;
    long *order;        /* the order of the producer's epoch */
    long order_epoch;   /* which epoch order[] is for (-1: none) */
    nn_batch slot[2];
    int full[2];        /* 1: made and not yet handed back */
    int done;           /* the producer made its last batch */
    int quit;           /* the consumer stops early */
    long made, taken;   /* batches produced / handed out */
    int holding;        /* the consumer holds slot (taken-1) % 2 */
    double wait;        /* seconds the consumer waited */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    int started;
};

static void *producer(void *arg)
{
    nn_loader *l = arg;
    for (;;) {
        pthread_mutex_lock(&l->mu);
        int s = (int)(l->made % 2);
        while (l->full[s] && !l->quit)
            pthread_cond_wait(&l->cv, &l->mu);
        /* the slot is free: the consumer moved past it */
        int stop = l->quit || l->epoch >= l->end_epoch;
        if (stop)
            l->done = 1;
        pthread_cond_broadcast(&l->cv);
        pthread_mutex_unlock(&l->mu);
        if (stop)
            return NULL;
        if (l->order_epoch != l->epoch) {
            nn_data_order(&l->d, l->epoch, l->order);
            l->order_epoch = l->epoch;
        }
        nn_data_fill(&l->d, l->order, l->epoch, l->batch, &l->slot[s]);
        if (l->stage) /* on failure the batch is copied when used */
            nn_cuda_stage_send(l->stage, s, (size_t)l->slot[s].n * l->d.h * l->d.w * l->d.c);
        if (++l->batch >= l->nbatches)
            l->batch = 0, l->epoch++;
        pthread_mutex_lock(&l->mu);
        l->full[s] = 1;
        l->made++;
        pthread_cond_broadcast(&l->cv);
        pthread_mutex_unlock(&l->mu);
    }
}

nn_loader *nn_loader_start(const nn_data *d, long epoch, long batch,
                           long end_epoch, nn_cuda_stage *stage, nn_error *e)
{
    if (d->batch < 1 || d->n < 1) {
        nn_fail(e, "no data to load (%ld samples, batch %d)", d->n, d->batch);
        return NULL;
    }
    nn_loader *l = calloc(1, sizeof *l);
    if (!l) {
        nn_fail(e, "out of memory");
        return NULL;
    }
    l->d = *d;
    l->stage = stage;
    size_t img = (size_t)d->h * d->w * d->c;
    if (stage && (size_t)d->batch * img > nn_cuda_stage_floats(stage)) {
        nn_fail(e, "batches of %d images of %zu values do not fit the GPU's staging of %zu",
                d->batch, img, nn_cuda_stage_floats(stage));
        free(l);
        return NULL;
    }
    l->epoch = epoch, l->batch = batch, l->end_epoch = end_epoch;
    l->nbatches = nn_data_batches(d);
    if (batch >= l->nbatches)
        l->batch = 0, l->epoch++;
    l->order_epoch = -1;
    l->order = malloc((size_t)d->n * sizeof *l->order);
    for (int s = 0; s < 2; s++) {
        l->slot[s].x = stage ? nn_cuda_stage_host(stage, s)
                             : malloc((size_t)d->batch * img * sizeof(float));
        l->slot[s].y = malloc((size_t)d->batch * sizeof(int));
    }
    if (!l->order || !l->slot[0].x || !l->slot[1].x || !l->slot[0].y || !l->slot[1].y) {
        nn_fail(e, "out of memory for batches of %d", d->batch);
        nn_loader_stop(l);
        return NULL;
    }
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    /* the signals of the program go to the thread that trains, not here */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&l->thread, NULL, producer, l);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        nn_fail(e, "cannot start the data thread: %s", strerror(rc));
        pthread_mutex_destroy(&l->mu);
        pthread_cond_destroy(&l->cv);
        nn_loader_stop(l);
        return NULL;
    }
    l->started = 1;
    return l;
}

const nn_batch *nn_loader_next(nn_loader *l)
{
    pthread_mutex_lock(&l->mu);
    if (l->holding) { /* hand the previous batch back */
        if (l->stage) /* after the GPU's work on it */
            nn_cuda_stage_release(l->stage, (int)((l->taken - 1) % 2));
        l->full[(l->taken - 1) % 2] = 0;
        l->holding = 0;
        pthread_cond_broadcast(&l->cv);
    }
    int s = (int)(l->taken % 2);
    if (!l->full[s] && !l->done) {
        double t0 = nn_now();
        while (!l->full[s] && !l->done)
            pthread_cond_wait(&l->cv, &l->mu);
        l->wait += nn_now() - t0;
    }
    const nn_batch *b = NULL;
    if (l->full[s]) {
        b = &l->slot[s];
        l->taken++;
        l->holding = 1;
    }
    pthread_mutex_unlock(&l->mu);
    return b;
}

double nn_loader_wait(const nn_loader *l) { return l->wait; }

void nn_loader_stop(nn_loader *l)
{
    if (!l)
        return;
    if (l->started) {
        pthread_mutex_lock(&l->mu);
        if (l->stage && l->holding) /* a later loader may refill its slot */
            nn_cuda_stage_release(l->stage, (int)((l->taken - 1) % 2));
        l->quit = 1;
        pthread_cond_broadcast(&l->cv);
        pthread_mutex_unlock(&l->mu);
        pthread_join(l->thread, NULL);
        pthread_mutex_destroy(&l->mu);
        pthread_cond_destroy(&l->cv);
    }
    for (int s = 0; s < 2; s++) {
        if (!l->stage)
            free(l->slot[s].x);
        free(l->slot[s].y);
    }
    free(l->order);
    free(l);
}

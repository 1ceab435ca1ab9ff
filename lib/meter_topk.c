/* meter_topk.c - top-K accuracy: the share of samples whose label is among
 * their K largest outputs; row "topK - A". Outputs rank by value, equal
 * values by class index, so top1 is the accuracy meter's argmax. */
#include "nn.h"

#include <math.h>
#include <stdlib.h>

typedef struct topk {
    int k;
    long hits, seen;
} topk;

static void *create(const nn_meter_cfg *c, nn_error *e)
{
    if (c->topk < 1) {
        nn_fail(e, "topk: K is %d; it must be at least 1", c->topk);
        return NULL;
    }
    topk *t = calloc(1, sizeof *t);
    if (!t)
        nn_fail(e, "out of memory");
    else
        t->k = c->topk;
    return t;
}

static void add(void *state, const nn_meter_batch *b)
{
    topk *t = state;
    for (int i = 0; i < b->n; i++) {
        const float *v = b->out + (size_t)i * b->k;
        float target = v[b->labels[i]];
        int above = 0; /* outputs ranked before the label's: larger, or equal and earlier */
        for (int j = 0; j < b->k; j++)
            above += v[j] > target || (v[j] == target && j < b->labels[i]);
        t->hits += above < t->k;
    }
    t->seen += b->n;
}

static int report(void *state, const nn_meter_cfg *c, FILE *tsv, FILE *people, nn_error *e)
{
    (void)c, (void)e;
    topk *t = state;
    char name[32];
    snprintf(name, sizeof name, "top%d", t->k);
    double acc = t->seen ? (double)t->hits / (double)t->seen : NAN;
    if (tsv)
        nn_meter_row(tsv, name, NULL, acc);
    if (people)
        fprintf(people, "top-%d accuracy  %.2f%% (%ld of %ld)\n", t->k, 100.0 * acc, t->hits,
                t->seen);
    return 0;
}

const nn_meter_type nn_meter_topk = {
    .name = "topk",
    .help = "share of samples whose label is among the K most probable classes (--topk K; topN sets K = N)",
    .create = create,
    .add = add,
    .report = report,
    .free = free,
};

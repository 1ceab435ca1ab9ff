/* meter_accuracy.c - the share of samples whose argmax output is their
 * label; rows "samples - N" and "accuracy - A". */
#include "nn.h"

#include <math.h>
#include <stdlib.h>

typedef struct accuracy {
    long hits, seen;
} accuracy;

static void *create(const nn_meter_cfg *c, nn_error *e)
{
    (void)c;
    accuracy *a = calloc(1, sizeof *a);
    if (!a)
        nn_fail(e, "out of memory");
    return a;
}

static void add(void *state, const nn_meter_batch *b)
{
    accuracy *a = state;
    for (int i = 0; i < b->n; i++)
        a->hits += nn_argmax(b->out + (size_t)i * b->k, b->k) == b->labels[i];
    a->seen += b->n;
}

static int report(void *state, const nn_meter_cfg *c, FILE *tsv, FILE *people, nn_error *e)
{
    (void)c, (void)e;
    accuracy *a = state;
    /* float, as training computes it, so the two print the same number */
    float acc = a->seen ? (float)a->hits / (float)a->seen : NAN;
    if (tsv) {
        nn_meter_row(tsv, "samples", NULL, (double)a->seen);
        nn_meter_row(tsv, "accuracy", NULL, acc);
    }
    if (people)
        fprintf(people, "accuracy  %.2f%% (%ld of %ld)\n", 100.0 * acc, a->hits, a->seen);
    return 0;
}

const nn_meter_type nn_meter_accuracy = {
    .name = "accuracy",
    .help = "share of samples whose most probable class is their label",
    .create = create,
    .add = add,
    .report = report,
    .free = free,
};

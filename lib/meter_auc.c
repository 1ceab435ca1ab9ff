/* meter_auc.c - ROC AUC of a two-class model: the probability that a
 * random sample of class 1 scores higher than a random sample of class 0,
 * ties counting one half, with prob[:,1] as the score. Computed from ranks
 * (Mann-Whitney): sort the scores, give tied scores their mean rank, then
 * AUC = (sum of class-1 ranks - P (P+1) / 2) / (P N). Row "auc CLASS1 A";
 * nan when one of the two classes has no samples. */
#include "nn.h"

#include <math.h>
#include <stdlib.h>

typedef struct scored {
    float score;
    int positive;
} scored;

typedef struct auc {
    scored *v;
    long n, cap;
    int oom;
} auc;

static void destroy(void *state)
{
    auc *a = state;
    if (a)
        free(a->v);
    free(a);
}

static void *create(const nn_meter_cfg *c, nn_error *e)
{
    if (c->classes != 2) {
        nn_fail(e, "auc: needs a two-class model; this one has %d classes (leave auc out of "
                "--meter)", c->classes);
        return NULL;
    }
    auc *a = calloc(1, sizeof *a);
    if (!a)
        nn_fail(e, "out of memory");
    return a;
}

static void add(void *state, const nn_meter_batch *b)
{
    auc *a = state;
    if (a->n + b->n > a->cap) {
        long cap = a->cap ? a->cap : 1024;
        while (cap < a->n + b->n)
            cap *= 2;
        scored *v = realloc(a->v, (size_t)cap * sizeof *v);
        if (!v) {
            a->oom = 1;
            return;
        }
        a->v = v, a->cap = cap;
    }
    for (int i = 0; i < b->n; i++)
        a->v[a->n++] = (scored){b->prob[(size_t)i * b->k + 1], b->labels[i] == 1};
}

static int by_score(const void *x, const void *y)
{
    float a = ((const scored *)x)->score, b = ((const scored *)y)->score;
    return (a > b) - (a < b);
}

/* The AUC of v[0..n) (sorted in place); NAN without both classes. */
static double rank_auc(scored *v, long n)
{
    qsort(v, (size_t)n, sizeof *v, by_score);
    double rank_sum = 0, pos = 0;
    for (long i = 0; i < n;) {
        long j = i;
        while (j < n && v[j].score == v[i].score)
            j++;
        double mean_rank = (double)(i + 1 + j) / 2.0; /* ranks i+1 .. j */
        for (long t = i; t < j; t++)
            if (v[t].positive) {
                rank_sum += mean_rank;
                pos++;
            }
        i = j;
    }
    double neg = (double)n - pos;
    if (pos == 0 || neg == 0)
        return NAN;
    return (rank_sum - pos * (pos + 1) / 2) / (pos * neg);
}

static int report(void *state, const nn_meter_cfg *c, FILE *tsv, FILE *people, nn_error *e)
{
    auc *a = state;
    if (a->oom)
        return nn_fail(e, "auc: out of memory for %ld scores", a->n);
    char num[16];
    const char *positive = nn_meter_class_name(c, 1, num);
    double v = rank_auc(a->v, a->n);
    if (tsv)
        nn_meter_row(tsv, "auc", positive, v);
    if (people) {
        if (isnan(v))
            fprintf(people, "ROC AUC  undefined: the samples are all of one class\n");
        else
            fprintf(people, "ROC AUC  %.4f (positive class: %s)\n", v, positive);
    }
    return 0;
}

const nn_meter_type nn_meter_auc = {
    .name = "auc",
    .help = "ROC AUC of a two-class model, the score being the probability of class 1",
    .create = create,
    .add = add,
    .report = report,
    .free = destroy,
};

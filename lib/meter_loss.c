/* meter_loss.c - the mean loss over samples, as training measures it: for
 * xent models softmax cross-entropy on the logits (the input of a final
 * softmax, fused and stable, as nn_model_loss_backward takes it), or the
 * mean of -log p[label] when only probabilities are given; for mse and bce
 * models their loss against one-hot targets. Row "loss - L". */
#include "nn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct loss {
    nn_loss_kind kind;
    double sum; /* of per-sample losses */
    long seen;
    float *targets; /* one-hot [cap] for mse and bce */
    size_t cap;
    int oom;
} loss;

static void destroy(void *state)
{
    loss *l = state;
    if (l)
        free(l->targets);
    free(l);
}

static void *create(const nn_meter_cfg *c, nn_error *e)
{
    loss *l = calloc(1, sizeof *l);
    if (!l)
        nn_fail(e, "out of memory");
    else
        l->kind = c->loss;
    return l;
}

static void add(void *state, const nn_meter_batch *b)
{
    loss *l = state;
    if (l->kind == NN_LOSS_XENT && b->logits) {
        l->sum += (double)nn_loss_softmax_xent(b->logits, b->labels, b->n, b->k, NULL) * b->n;
    } else if (l->kind == NN_LOSS_XENT) {
        for (int i = 0; i < b->n; i++)
            l->sum -= log((double)b->prob[(size_t)i * b->k + b->labels[i]]);
    } else {
        size_t need = (size_t)b->n * b->k;
        if (need > l->cap) {
            float *t = realloc(l->targets, need * sizeof *t);
            if (!t) {
                l->oom = 1;
                return;
            }
            l->targets = t, l->cap = need;
        }
        memset(l->targets, 0, need * sizeof *l->targets);
        for (int i = 0; i < b->n; i++)
            l->targets[(size_t)i * b->k + b->labels[i]] = 1;
        float v = l->kind == NN_LOSS_MSE ? nn_loss_mse(b->out, l->targets, b->n, b->k, NULL)
                                         : nn_loss_sigmoid_bce(b->out, l->targets, b->n, b->k, NULL);
        l->sum += (double)v * b->n;
    }
    l->seen += b->n;
}

static int report(void *state, const nn_meter_cfg *c, FILE *tsv, FILE *people, nn_error *e)
{
    (void)c;
    loss *l = state;
    if (l->oom)
        return nn_fail(e, "loss: out of memory for the targets");
    float v = l->seen ? (float)(l->sum / (double)l->seen) : NAN;
    if (tsv)
        nn_meter_row(tsv, "loss", NULL, v);
    if (people)
        fprintf(people, "loss  %.4f (%s)\n", v,
                l->kind == NN_LOSS_XENT ? "cross-entropy" : nn_loss_name(l->kind));
    return 0;
}

const nn_meter_type nn_meter_loss = {
    .name = "loss",
    .help = "mean loss: cross-entropy for xent models, else the model's loss (mse, bce)",
    .create = create,
    .add = add,
    .report = report,
    .free = destroy,
};

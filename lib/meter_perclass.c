/* meter_perclass.c - accuracy of each class: of the samples labelled c, the
 * share predicted c (argmax output); rows "samples CLASS N" and
 * "accuracy CLASS A" for every class (nan for a class with no samples). */
#include "nn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct perclass {
    int k;
    long *hits, *seen; /* [k] */
} perclass;

static void destroy(void *state)
{
    perclass *p = state;
    if (!p)
        return;
    free(p->hits);
    free(p->seen);
    free(p);
}

static void *create(const nn_meter_cfg *c, nn_error *e)
{
    perclass *p = calloc(1, sizeof *p);
    if (p) {
        p->k = c->classes;
        p->hits = calloc((size_t)c->classes, sizeof *p->hits);
        p->seen = calloc((size_t)c->classes, sizeof *p->seen);
    }
    if (!p || !p->hits || !p->seen) {
        destroy(p);
        nn_fail(e, "out of memory");
        return NULL;
    }
    return p;
}

static void add(void *state, const nn_meter_batch *b)
{
    perclass *p = state;
    for (int i = 0; i < b->n; i++) {
        int y = b->labels[i];
        if (y < 0 || y >= p->k)
            continue;
        p->seen[y]++;
        p->hits[y] += nn_argmax(b->out + (size_t)i * b->k, b->k) == y;
    }
}

static int report(void *state, const nn_meter_cfg *c, FILE *tsv, FILE *people, nn_error *e)
{
    (void)e;
    perclass *p = state;
    int width = 5;
    char num[16];
    for (int j = 0; j < p->k; j++) {
        int w = (int)strlen(nn_meter_class_name(c, j, num));
        width = w > width ? w : width;
    }
    if (people)
        fprintf(people, "%-*s  %8s  %8s\n", width, "class", "samples", "accuracy");
    for (int j = 0; j < p->k; j++) {
        const char *name = nn_meter_class_name(c, j, num);
        double acc = p->seen[j] ? (double)p->hits[j] / (double)p->seen[j] : NAN;
        if (tsv) {
            nn_meter_row(tsv, "samples", name, (double)p->seen[j]);
            nn_meter_row(tsv, "accuracy", name, acc);
        }
        if (people)
            fprintf(people, "%-*s  %8ld  %7.2f%%\n", width, name, p->seen[j], 100.0 * acc);
    }
    return 0;
}

const nn_meter_type nn_meter_perclass = {
    .name = "perclass",
    .help = "accuracy and sample count of each class",
    .create = create,
    .add = add,
    .report = report,
    .free = destroy,
};

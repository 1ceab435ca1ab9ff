/* meter.c - the registry of meters and a set of them chosen by name. A new
 * meter is one file lib/meter_NAME.c that defines an nn_meter_type, and one
 * line here. */
#include "nn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

extern const nn_meter_type nn_meter_loss, nn_meter_accuracy, nn_meter_topk,
    nn_meter_perclass, nn_meter_confusion, nn_meter_auc;

static const nn_meter_type *const types[] = {
    &nn_meter_loss,     &nn_meter_accuracy,  &nn_meter_topk,
    &nn_meter_perclass, &nn_meter_confusion, &nn_meter_auc,
    NULL,
};

const nn_meter_type *const *nn_meter_types(void) { return types; }

const nn_meter_type *nn_meter_type_find(const char *name)
{
    for (int i = 0; types[i]; i++)
        if (strcmp(types[i]->name, name) == 0)
            return types[i];
    return NULL;
}

void nn_meter_names(char *buf, size_t size)
{
    size_t used = 0;
    if (size)
        buf[0] = 0;
    for (int i = 0; types[i] && used < size; i++) {
        int w = snprintf(buf + used, size - used, "%s%s", i ? ", " : "", types[i]->name);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

void nn_meter_row(FILE *tsv, const char *metric, const char *cls, double value)
{
    char v[32];
    if (value == floor(value) && fabs(value) < 1e15)
        snprintf(v, sizeof v, "%.0f", value + 0.0); /* + 0.0: no "-0" */
    else if (isnan(value))
        snprintf(v, sizeof v, "nan");
    else
        nn_format_float(v, sizeof v, (float)value);
    fprintf(tsv, "%s\t%s\t%s\n", metric, cls ? cls : "-", v);
}

const char *nn_meter_class_name(const nn_meter_cfg *c, int i, char buf[16])
{
    if (c->class_names && c->class_names[i])
        return c->class_names[i];
    snprintf(buf, 16, "%d", i);
    return buf;
}

/* ---- a set of meters ---------------------------------------------------- */

typedef struct one_meter {
    const nn_meter_type *type;
    nn_meter_cfg cfg; /* the set's, with this meter's K for topN */
    void *state;
} one_meter;

struct nn_meters {
    int n;
    one_meter *m;
};

void nn_meters_free(nn_meters *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->n; i++)
        s->m[i].type->free(s->m[i].state);
    free(s->m);
    free(s);
}

/* Resolves one word of the list: a meter's name, or "topN". */
static const nn_meter_type *resolve(const char *word, nn_meter_cfg *c, nn_error *e)
{
    const nn_meter_type *t = nn_meter_type_find(word);
    if (t)
        return t;
    if (strncmp(word, "top", 3) == 0 && word[3] >= '1' && word[3] <= '9') {
        char *end;
        long k = strtol(word + 3, &end, 10);
        if (*end == 0 && k >= 1 && k <= 1000000) {
            c->topk = (int)k;
            return nn_meter_type_find("topk");
        }
    }
    char names[256];
    nn_meter_names(names, sizeof names);
    nn_fail(e, "unknown meter '%s'; the meters are %s (and topN, e.g. top5)", word, names);
    return NULL;
}

nn_meters *nn_meters_new(const char *list, const nn_meter_cfg *c, nn_error *e)
{
    nn_meters *s = calloc(1, sizeof *s);
    char *copy = strdup(list ? list : "");
    if (!s || !copy) {
        free(s);
        free(copy);
        nn_fail(e, "out of memory");
        return NULL;
    }
    int cap = 1; /* words are separated by commas (and spaces) */
    for (const char *p = copy; *p; p++)
        cap += *p == ',' || *p == ' ';
    if (!(s->m = calloc((size_t)cap, sizeof *s->m))) {
        nn_fail(e, "out of memory");
        goto fail;
    }
    for (char *save = NULL, *w = strtok_r(copy, ", ", &save); w; w = strtok_r(NULL, ", ", &save)) {
        one_meter *m = &s->m[s->n];
        m->cfg = *c;
        if (!(m->type = resolve(w, &m->cfg, e)))
            goto fail;
        if (!(m->state = m->type->create(&m->cfg, e)))
            goto fail;
        s->n++;
    }
    if (s->n == 0) {
        char names[256];
        nn_meter_names(names, sizeof names);
        nn_fail(e, "no meter chosen; the meters are %s", names);
        goto fail;
    }
    free(copy);
    return s;
fail:
    free(copy);
    nn_meters_free(s);
    return NULL;
}

void nn_meters_add(nn_meters *s, const nn_meter_batch *b)
{
    for (int i = 0; i < s->n; i++)
        s->m[i].type->add(s->m[i].state, b);
}

int nn_meters_report(nn_meters *s, FILE *tsv, FILE *people, nn_error *e)
{
    if (tsv)
        fprintf(tsv, "metric\tclass\tvalue\n");
    for (int i = 0; i < s->n; i++)
        if (s->m[i].type->report(s->m[i].state, &s->m[i].cfg, tsv, people, e) < 0)
            return -1;
    if (tsv && (fflush(tsv) != 0 || ferror(tsv)))
        return nn_fail(e, "cannot write the metrics table");
    return 0;
}

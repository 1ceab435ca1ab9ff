/* meter_confusion.c - the confusion matrix: counts[t][p] samples of true
 * class t predicted p (argmax output), so row t sums to the number of
 * samples of class t. Reported as a TSV table (cfg confusion_tsv: a header
 * "true" and the predicted classes, then one row per true class), a heat
 * map PNG (confusion_png), and for people as text when it is small. */
#include "nn.h"

#include <stdlib.h>
#include <string.h>

typedef struct confusion {
    int k;
    long *counts; /* [k, k] */
} confusion;

static void destroy(void *state)
{
    confusion *c = state;
    if (c)
        free(c->counts);
    free(c);
}

static void *create(const nn_meter_cfg *cfg, nn_error *e)
{
    confusion *c = calloc(1, sizeof *c);
    if (c) {
        c->k = cfg->classes;
        c->counts = calloc((size_t)cfg->classes * cfg->classes, sizeof *c->counts);
    }
    if (!c || !c->counts) {
        destroy(c);
        nn_fail(e, "out of memory for a %dx%d confusion matrix", cfg->classes, cfg->classes);
        return NULL;
    }
    return c;
}

static void add(void *state, const nn_meter_batch *b)
{
    confusion *c = state;
    for (int i = 0; i < b->n; i++) {
        int y = b->labels[i];
        if (y >= 0 && y < c->k)
            c->counts[(size_t)y * c->k + nn_argmax(b->out + (size_t)i * b->k, b->k)]++;
    }
}

static void write_tsv(const confusion *c, const nn_meter_cfg *cfg, FILE *f)
{
    char num[16];
    fprintf(f, "true");
    for (int p = 0; p < c->k; p++)
        fprintf(f, "\t%s", nn_meter_class_name(cfg, p, num));
    fputc('\n', f);
    for (int t = 0; t < c->k; t++) {
        fprintf(f, "%s", nn_meter_class_name(cfg, t, num));
        for (int p = 0; p < c->k; p++)
            fprintf(f, "\t%ld", c->counts[(size_t)t * c->k + p]);
        fputc('\n', f);
    }
}

/* For people: aligned columns, class names cut to 10 characters. */
static void write_text(const confusion *c, const nn_meter_cfg *cfg, FILE *f)
{
    char num[16];
    int w = 4, first = 4;
    for (int j = 0; j < c->k; j++) {
        int n = (int)strlen(nn_meter_class_name(cfg, j, num));
        w = n > w ? n : w;
        first = n > first ? n : first;
    }
    for (size_t i = 0; i < (size_t)c->k * c->k; i++) {
        int n = snprintf(num, sizeof num, "%ld", c->counts[i]);
        w = n > w ? n : w;
    }
    w = w < 10 ? w : 10;
    first = first < 10 ? first : 10;
    fprintf(f, "%-*s", first, "true");
    for (int p = 0; p < c->k; p++)
        fprintf(f, " %*.*s", w, w, nn_meter_class_name(cfg, p, num));
    fputc('\n', f);
    for (int t = 0; t < c->k; t++) {
        fprintf(f, "%-*.*s", first, first, nn_meter_class_name(cfg, t, num));
        for (int p = 0; p < c->k; p++)
            fprintf(f, " %*ld", w, c->counts[(size_t)t * c->k + p]);
        fputc('\n', f);
    }
}

static int write_png(const confusion *c, const nn_meter_cfg *cfg, nn_error *e)
{
    size_t kk = (size_t)c->k * c->k;
    float *m = malloc(kk * sizeof *m);
    const char **names = calloc((size_t)c->k, sizeof *names);
    char(*nums)[16] = calloc((size_t)c->k, sizeof *nums);
    int rc = -1;
    if (!m || !names || !nums) {
        nn_fail(e, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < kk; i++)
        m[i] = (float)c->counts[i];
    for (int j = 0; j < c->k; j++)
        names[j] = nn_meter_class_name(cfg, j, nums[j]);
    rc = nn_plot_heatmap(cfg->confusion_png,
                         cfg->confusion_title ? cfg->confusion_title
                                              : "Confusion matrix (rows: true, columns: predicted)",
                         m, c->k, c->k, names, names, e);
out:
    free(m);
    free(names);
    free(nums);
    return rc;
}

static int report(void *state, const nn_meter_cfg *cfg, FILE *tsv, FILE *people, nn_error *e)
{
    (void)tsv; /* a matrix is not rows of the metrics table */
    confusion *c = state;
    if (cfg->confusion_tsv) {
        write_tsv(c, cfg, cfg->confusion_tsv);
        if (fflush(cfg->confusion_tsv) != 0 || ferror(cfg->confusion_tsv))
            return nn_fail(e, "cannot write the confusion matrix");
    }
    if (cfg->confusion_png && write_png(c, cfg, e) < 0)
        return -1;
    if (!people)
        return 0;
    if (cfg->confusion_png)
        fprintf(people, "confusion matrix written to %s\n", cfg->confusion_png);
    if (cfg->confusion_tsv || c->k > 20) {
        if (!cfg->confusion_tsv && !cfg->confusion_png)
            fprintf(people, "confusion matrix: %d classes, too many to print here; "
                    "write it with --confusion or --confusion-png\n", c->k);
        return 0;
    }
    fprintf(people, "confusion matrix (rows: true class, columns: predicted)\n");
    write_text(c, cfg, people);
    return 0;
}

const nn_meter_type nn_meter_confusion = {
    .name = "confusion",
    .help = "counts of each true class (rows) predicted as each class (columns)",
    .create = create,
    .add = add,
    .report = report,
    .free = destroy,
};

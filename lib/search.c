/* search.c - random hyper-parameter search: trial k trains a fresh model
 * (same seed, so the same initial weights and batch order) with a
 * learning rate and weight decay drawn log-uniformly,
 *     lr = exp(U(log lo, log hi)),
 * on train/validation only, and the trials are ranked by their final
 * validation accuracy (ties: the lower validation loss). A trial that
 * diverges (non-finite loss) is kept in the table with status "diverged"
 * and ranked last. */
#include "nn.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SEARCH_KEY 0x736561726368ULL /* "search" */
#define CHART_W 360
#define CHART_H 240

typedef struct trial {
    int id;              /* 1-based, in the order run */
    float lr, wd;
    int epochs;          /* finished */
    float *train_acc, *val_acc; /* per epoch */
    nn_epoch_stats last;
    float best_val;
    int best_epoch;
    double seconds;
    const char *status;  /* "ok", "diverged", "stopped" */
} trial;

/* Final validation accuracy, best first; trials without one last. */
static int by_val(const void *a, const void *b)
{
    const trial *x = a, *y = b;
    float u = x->epochs ? x->last.val_acc : NAN, v = y->epochs ? y->last.val_acc : NAN;
    int bu = isfinite(u) && strcmp(x->status, "diverged") != 0;
    int bv = isfinite(v) && strcmp(y->status, "diverged") != 0;
    if (bu != bv)
        return bv - bu;
    if (bu && u != v)
        return u > v ? -1 : 1;
    if (bu && x->last.val_loss != y->last.val_loss) /* ties: the lower loss */
        return x->last.val_loss < y->last.val_loss ? -1 : 1;
    return x->id - y->id;
}

static float log_uniform(nn_rng *r, float lo, float hi)
{
    double u = nn_rng_uniform(r);
    return (float)exp(log(lo) + u * (log(hi) - log(lo)));
}

static void fmt(char *buf, size_t size, float v)
{
    if (isnan(v))
        snprintf(buf, size, "nan");
    else
        nn_format_float(buf, size, v);
}

/* The table, built in memory and written through nn_write_file (a
 * temporary file renamed into place). */
static int write_tsv(const char *path, trial *t, int n, nn_error *e)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (!f)
        return nn_fail(e, "out of memory");
    fprintf(f, "rank\ttrial\tlr\twd\tval_acc\tval_loss\ttrain_acc\ttrain_loss\t"
               "best_val_acc\tbest_epoch\tepochs\tseconds\tstatus\n");
    for (int i = 0; i < n; i++) {
        char v[8][32];
        fmt(v[0], 32, t[i].lr), fmt(v[1], 32, t[i].wd);
        fmt(v[2], 32, t[i].epochs ? t[i].last.val_acc : NAN);
        fmt(v[3], 32, t[i].epochs ? t[i].last.val_loss : NAN);
        fmt(v[4], 32, t[i].epochs ? t[i].last.train_acc : NAN);
        fmt(v[5], 32, t[i].epochs ? t[i].last.train_loss : NAN);
        fmt(v[6], 32, t[i].epochs ? t[i].best_val : NAN);
        fprintf(f, "%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%.1f\t%s\n", i + 1, t[i].id,
                v[0], v[1], v[2], v[3], v[4], v[5], v[6], t[i].best_epoch, t[i].epochs,
                t[i].seconds, t[i].status);
    }
    int bad = ferror(f);
    if ((fclose(f) != 0) | bad) {
        free(text);
        return nn_fail(e, "out of memory");
    }
    int rc = nn_write_file(path, text, size, e);
    free(text);
    return rc;
}

/* The best trials' train and validation accuracy per epoch, one small
 * chart each, in a grid of 5 columns. Each chart is drawn to a temporary
 * PNG of a unique name beside path (PATH.XXXXXX.png) and read back. */
static int write_grid(const char *path, trial *t, int n, int best, nn_error *e)
{
    int k = n < best ? n : best, rc = 0, made = 0;
    nn_image *tiles = calloc((size_t)(k ? k : 1), sizeof *tiles);
    size_t len = strlen(path) + 16;
    char *tmp = malloc(len);
    if (!tiles || !tmp) {
        free(tiles), free(tmp);
        return nn_fail(e, "out of memory");
    }
    snprintf(tmp, len, "%s.XXXXXX.png", path);
    int fd = k > 0 ? mkstemps(tmp, 4) : -1;
    if (k > 0 && fd < 0)
        rc = nn_fail(e, "%s: cannot create a temporary chart: %s", path, strerror(errno));
    if (fd >= 0)
        close(fd);
    for (int i = 0; rc == 0 && i < k; i++) {
        if (t[i].epochs < 1)
            continue;
        char title[128], lr[32], wd[32];
        snprintf(lr, sizeof lr, "%.2g", t[i].lr);
        snprintf(wd, sizeof wd, "%.2g", t[i].wd);
        snprintf(title, sizeof title, "#%d lr %s wd %s", i + 1, lr, wd);
        nn_series s[2] = {
            {.label = "train", .y = t[i].train_acc, .n = t[i].epochs},
            {.label = "val", .y = t[i].val_acc, .n = t[i].epochs, .dashed = 1},
        };
        nn_chart c = {.title = title, .xlabel = "epoch", .ylabel = "accuracy (%)",
                      .width = CHART_W, .height = CHART_H, .ymin = 0, .ymax = 100};
        rc = nn_plot_lines(tmp, &c, s, 2, e);
        if (rc == 0)
            rc = nn_image_read(tmp, &tiles[made], e);
        if (rc == 0)
            made++;
    }
    if (fd >= 0)
        unlink(tmp);
    if (rc == 0 && made > 0) {
        nn_image sheet;
        rc = nn_image_grid(tiles, made, 5, 6, 1, NULL, &sheet, e);
        if (rc == 0) {
            rc = nn_image_write(path, &sheet, e);
            nn_image_free(&sheet);
        }
    }
    for (int i = 0; i < made; i++)
        nn_image_free(&tiles[i]);
    free(tiles);
    free(tmp);
    return rc;
}

/* Trains one trial; 0 (also for a diverged run), 1 stopped, -1 error. */
static int run_trial(const char *text, const char *file, const nn_dataset *d,
                     const nn_optim *base, const nn_train_cfg *cfg, trial *tr, nn_error *e)
{
    nn_model *m = nn_model_from_arch(text, file, d->classes, e);
    if (!m)
        return -1;
    nn_model_init_params(m, cfg->seed);
    nn_optim o = *base;
    o.state = NULL;
    o.lr = tr->lr, o.wd = tr->wd;
    int rc = -1;
    nn_trainer *t = NULL;
    tr->train_acc = calloc((size_t)cfg->epochs, sizeof(float));
    tr->val_acc = calloc((size_t)cfg->epochs, sizeof(float));
    if (!tr->train_acc || !tr->val_acc)
        nn_fail(e, "out of memory");
    else if (nn_optim_setup(&o, m, e) == 0 && (t = nn_trainer_new(m, &o, d, cfg, e)))
        rc = nn_trainer_run(t, e);
    if (t) {
        tr->status = rc == 1 ? "stopped" : t->diverged ? "diverged" : "ok";
        if (t->diverged)
            rc = 0;
        tr->epochs = t->nhistory;
        for (int i = 0; i < t->nhistory; i++) {
            const nn_epoch_stats *s = &t->history[i];
            tr->train_acc[i] = 100 * s->train_acc;
            tr->val_acc[i] = 100 * s->val_acc;
            if (i == 0 || s->val_acc > tr->best_val)
                tr->best_val = s->val_acc, tr->best_epoch = s->epoch;
            tr->seconds += s->seconds;
        }
        if (t->nhistory > 0)
            tr->last = t->history[t->nhistory - 1];
    }
    nn_trainer_free(t);
    nn_optim_free(&o);
    nn_model_free(m);
    return rc;
}

char *nn_search_png_path(const char *tsv)
{
    size_t n = strlen(tsv);
    char *p = malloc(n + 5);
    if (!p)
        return NULL;
    memcpy(p, tsv, n + 1);
    if (n > 4 && strcmp(p + n - 4, ".tsv") == 0)
        p[n - 4] = 0;
    return strcat(p, ".png");
}

int nn_search(const char *arch_text, const char *arch_file, const nn_dataset *d,
              const nn_optim *base, const nn_train_cfg *train, const nn_search_cfg *s,
              nn_error *e)
{
    if (!(train->val > 0))
        return nn_fail(e, "a search trains on train/validation only and ranks by validation "
                       "accuracy: give a validation share (--val 0.2)");
    if (s->trials < 1)
        return nn_fail(e, "a search needs at least 1 trial");
    if ((s->lr_lo > 0 && !(s->lr_hi >= s->lr_lo)) || (s->wd_lo > 0 && !(s->wd_hi >= s->wd_lo)))
        return nn_fail(e, "a search range must be LO:HI with 0 < LO <= HI");
    trial *t = calloc((size_t)s->trials, sizeof *t), *sorted = NULL;
    if (!t)
        return nn_fail(e, "out of memory");
    nn_train_cfg cfg = *train;
    cfg.eval_test = 0; /* the test split is never looked at */
    cfg.probe_every = 0;
    cfg.checkpoint = NULL;
    cfg.on_step = NULL;
    cfg.on_epoch = NULL;
    nn_rng r;
    nn_rng_seed(&r, train->seed ^ nn_hash64(SEARCH_KEY));
    int rc = 0, n = 0;
    for (int k = 0; k < s->trials && rc == 0; k++) {
        trial *tr = &t[n++];
        tr->id = k + 1;
        tr->status = "ok";
        tr->lr = s->lr_lo > 0 ? log_uniform(&r, s->lr_lo, s->lr_hi) : base->lr;
        tr->wd = s->wd_lo > 0 ? log_uniform(&r, s->wd_lo, s->wd_hi) : base->wd;
        rc = run_trial(arch_text, arch_file, d, base, &cfg, tr, e);
        if (rc >= 0 && !s->quiet)
            fprintf(stderr, "trial %d/%d: lr %.3g wd %.3g: val acc %.2f%%, train acc %.2f%% "
                    "(%s, %.1f s)\n", k + 1, s->trials, tr->lr, tr->wd,
                    tr->epochs ? 100 * tr->last.val_acc : NAN,
                    tr->epochs ? 100 * tr->last.train_acc : NAN, tr->status, tr->seconds);
        if (rc < 0)
            break;
        /* the table so far after every trial */
        free(sorted);
        if (!(sorted = malloc((size_t)n * sizeof *sorted))) {
            rc = nn_fail(e, "out of memory");
            break;
        }
        memcpy(sorted, t, (size_t)n * sizeof *sorted);
        qsort(sorted, (size_t)n, sizeof *sorted, by_val);
        if (s->tsv && write_tsv(s->tsv, sorted, n, e) < 0)
            rc = -1;
    }
    if (rc >= 0 && sorted && s->png &&
        write_grid(s->png, sorted, n, s->best > 0 ? s->best : 20, e) < 0)
        rc = -1;
    for (int i = 0; i < n; i++)
        free(t[i].train_acc), free(t[i].val_acc);
    free(t);
    free(sorted);
    return rc;
}

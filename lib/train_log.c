/* train_log.c - what a training run writes for people besides the model:
 * the per-epoch TSV, TensorBoard runs, loss/accuracy charts and the
 * evolution of a conv layer's filters (an animated GIF and a PNG sheet).
 *
 * TensorBoard: two runs, logdir/train and logdir/test, each with scalars
 * "loss" and "accuracy" every log_every steps (train: the mean over those
 * steps; test: the probe batch of that step), so TensorBoard draws train
 * and test on one chart. The train run also has the model graph, and at
 * the start and after each epoch a histogram of every parameter tensor
 * (LAYER/PARAM) and the first conv layer's filters as an image. */
#include "nn.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SHEET_MAX 16   /* snapshots on the PNG sheet */
#define GIF_DELAY_CS 25

struct nn_train_log {
    nn_train_log_cfg c;
    FILE *tsv;
    nn_tb *tb_train, *tb_test;
    double win_loss, win_acc; /* train scalars since the last write */
    long win_n;
    int first_conv;           /* layer of the TensorBoard filter image (-1: none) */
    int layer;                /* layer of the snapshots */
    size_t snap_size;         /* floats per snapshot */
    float *snaps;             /* nsnap snapshots of the layer's weight */
    long *snap_step;
    long nsnap, cap;
};

static int is_conv(const nn_layer *l) { return strcmp(l->type->keyword, "conv") == 0; }

static int first_conv(const nn_model *m)
{
    for (int i = 0; i < m->nlayers; i++)
        if (is_conv(&m->layers[i]))
            return i;
    return -1;
}

/* "0, 4, 8" (at most 8 of them) for messages. */
static void conv_list(const nn_model *m, char *buf, size_t size)
{
    size_t n = 0;
    int k = 0;
    buf[0] = 0;
    for (int i = 0; i < m->nlayers && n < size; i++)
        if (is_conv(&m->layers[i]) && k++ < 8)
            n += (size_t)snprintf(buf + n, size - n, "%s%d", n ? ", " : "", i);
    if (k > 8 && n < size)
        snprintf(buf + n, size - n, ", ...");
}

static int snapshot(nn_train_log *g, const nn_model *m, long step, nn_error *e)
{
    if (g->nsnap == g->cap) {
        long cap = g->cap ? 2 * g->cap : 64;
        float *s = realloc(g->snaps, (size_t)cap * g->snap_size * sizeof *s);
        if (s)
            g->snaps = s;
        long *t = realloc(g->snap_step, (size_t)cap * sizeof *t);
        if (t)
            g->snap_step = t;
        if (!s || !t)
            return nn_fail(e, "out of memory for filter snapshots (%ld of %zu values)", cap,
                           g->snap_size);
        g->cap = cap;
    }
    memcpy(g->snaps + (size_t)g->nsnap * g->snap_size, m->layers[g->layer].param[0].value,
           g->snap_size * sizeof *g->snaps);
    g->snap_step[g->nsnap++] = step;
    return 0;
}

static int tb_weights(nn_train_log *g, const nn_model *m, long step, nn_error *e)
{
    if (!g->tb_train)
        return 0;
    for (int i = 0; i < m->nlayers; i++) {
        const nn_layer *l = &m->layers[i];
        for (int j = 0; j < l->nparam; j++) {
            char tag[2 * NN_NAME_MAX + 32];
            snprintf(tag, sizeof tag, "%s/%s", l->name, l->param[j].name);
            if (nn_tb_histogram(g->tb_train, tag, step, l->param[j].value, l->param[j].size) < 0)
                return nn_fail(e, "%s: cannot write a histogram", g->c.logdir);
        }
    }
    if (g->first_conv >= 0) {
        const nn_layer *l = &m->layers[g->first_conv];
        nn_image img;
        char tag[NN_NAME_MAX + 16];
        if (nn_filter_sheet(&l->param[0], l->param[0].value, m->bgr, 0, &img, e) < 0)
            return -1;
        snprintf(tag, sizeof tag, "%s/filters", l->name);
        int rc = nn_tb_image(g->tb_train, tag, step, &img);
        nn_image_free(&img);
        if (rc < 0)
            return nn_fail(e, "%s: cannot write an image", g->c.logdir);
    }
    return nn_tb_flush(g->tb_train) < 0 ? nn_fail(e, "%s: write failed", g->c.logdir) : 0;
}

static int write_tsv_row(nn_train_log *g, const nn_epoch_stats *s, nn_error *e)
{
    char row[512];
    nn_epoch_tsv_row(s, row, sizeof row);
    if (fprintf(g->tsv, "%s\n", row) < 0 || fflush(g->tsv) != 0)
        return nn_fail(e, "%s: write failed: %s", g->c.tsv, strerror(errno));
    return 0;
}

char *nn_train_filters_path(const char *plot_dir, const char *model)
{
    size_t n = strlen(plot_dir ? plot_dir : model) + 16;
    char *p = malloc(n);
    if (!p)
        return NULL;
    if (plot_dir) {
        snprintf(p, n, "%s/filters", plot_dir);
    } else {
        snprintf(p, n, "%s", model);
        size_t l = strlen(p);
        if (l > 3 && strcmp(p + l - 3, ".h5") == 0)
            p[l - 3] = 0;
        strcat(p, "-filters");
    }
    return p;
}

/* nn_check_output for PREFIX SUFFIX. */
static int check_output2(const char *prefix, const char *suffix, nn_error *e)
{
    size_t n = strlen(prefix) + strlen(suffix) + 1;
    char *p = malloc(n);
    if (!p)
        return nn_fail(e, "out of memory");
    snprintf(p, n, "%s%s", prefix, suffix);
    int rc = nn_check_output(p, e);
    free(p);
    return rc;
}

int nn_train_log_prepare(const nn_train_log_cfg *c, const char *model, nn_made_dirs *made,
                         nn_error *e)
{
    if (made) {
        made->plot = c->plot_dir ? nn_missing_prefix(c->plot_dir) : NULL;
        made->logs = c->logdir ? nn_missing_prefix(c->logdir) : NULL;
    }
    if (c->tsv && nn_check_output(c->tsv, e) < 0)
        return -1;
    if (c->plot_dir && (nn_mkdir_p(c->plot_dir, e) < 0 ||
                        check_output2(c->plot_dir, "/loss.png", e) < 0 ||
                        check_output2(c->plot_dir, "/accuracy.png", e) < 0))
        return -1;
    if (c->filters_every) {
        char *f = nn_train_filters_path(c->plot_dir, model);
        int rc = f ? 0 : nn_fail(e, "out of memory");
        if (rc == 0 && (check_output2(f, ".gif", e) < 0 || check_output2(f, ".png", e) < 0))
            rc = -1;
        free(f);
        if (rc < 0)
            return -1;
    }
    if (c->logdir) { /* the two TensorBoard runs */
        size_t n = strlen(c->logdir) + 8;
        char *dir = malloc(n);
        if (!dir)
            return nn_fail(e, "out of memory");
        int rc = nn_mkdir_p(c->logdir, e);
        for (int k = 0; rc == 0 && k < 2; k++) {
            snprintf(dir, n, "%s/%s", c->logdir, k ? "test" : "train");
            rc = nn_mkdir_p(dir, e);
        }
        free(dir);
        if (rc < 0)
            return -1;
    }
    return 0;
}

void nn_train_log_unprepare(const nn_train_log_cfg *c, nn_made_dirs *made)
{
    if (made->plot)
        nn_rmdir_up(c->plot_dir, made->plot);
    if (made->logs) {
        size_t n = strlen(c->logdir) + 8;
        char *sub = malloc(n);
        for (int k = 0; sub && k < 2; k++) {
            snprintf(sub, n, "%s/%s", c->logdir, k ? "test" : "train");
            nn_rmdir_up(sub, sub);
        }
        free(sub);
        nn_rmdir_up(c->logdir, made->logs);
    }
    free(made->plot), free(made->logs);
    made->plot = made->logs = NULL;
}

nn_train_log *nn_train_log_open(const nn_train_log_cfg *c, const nn_trainer *t,
                                nn_error *e)
{
    nn_train_log *g = calloc(1, sizeof *g);
    if (!g) {
        nn_fail(e, "out of memory");
        return NULL;
    }
    g->c = *c;
    if (g->c.log_every < 1)
        g->c.log_every = 1;
    const nn_model *m = t->m;
    g->first_conv = first_conv(m);
    g->layer = -1;
    if (c->filters_every > 0) {
        char convs[128];
        conv_list(m, convs, sizeof convs);
        g->layer = c->filters_layer >= 0 ? c->filters_layer : g->first_conv;
        if (g->layer < 0) {
            nn_fail(e, "--filters-every: the network has no conv layer");
            goto fail;
        }
        if (g->layer >= m->nlayers || !is_conv(&m->layers[g->layer])) {
            if (g->layer >= m->nlayers)
                nn_fail(e, "--filters-layer: there is no layer %d; conv layers are %s",
                        g->layer, convs);
            else
                nn_fail(e, "--filters-layer: layer %d is '%s', which has no filters; conv "
                        "layers are %s", g->layer, m->layers[g->layer].type->keyword, convs);
            goto fail;
        }
        g->snap_size = m->layers[g->layer].param[0].size;
        if (snapshot(g, m, t->step, e) < 0)
            goto fail;
    }
    if (c->plot_dir && nn_mkdir_p(c->plot_dir, e) < 0)
        goto fail;
    if (c->tsv) {
        g->tsv = strcmp(c->tsv, "-") == 0 ? stdout : fopen(c->tsv, "w");
        if (!g->tsv) {
            nn_fail(e, "%s: cannot create: %s", c->tsv, strerror(errno));
            goto fail;
        }
        fprintf(g->tsv, "%s\n", nn_epoch_tsv_header());
        for (int i = 0; i < t->nhistory; i++) /* a resumed run's earlier epochs */
            if (write_tsv_row(g, &t->history[i], e) < 0)
                goto fail;
        if (fflush(g->tsv) != 0) {
            nn_fail(e, "%s: write failed: %s", c->tsv, strerror(errno));
            goto fail;
        }
    }
    if (c->logdir) {
        size_t n = strlen(c->logdir) + 8;
        char *dir = malloc(n);
        if (!dir) {
            nn_fail(e, "out of memory");
            goto fail;
        }
        snprintf(dir, n, "%s/train", c->logdir);
        g->tb_train = nn_tb_open(dir, e);
        snprintf(dir, n, "%s/test", c->logdir);
        g->tb_test = g->tb_train ? nn_tb_open(dir, e) : NULL;
        free(dir);
        if (!g->tb_test)
            goto fail;
        if (nn_tb_graph(g->tb_train, m) < 0) {
            nn_fail(e, "%s: cannot write the graph", c->logdir);
            goto fail;
        }
        if (tb_weights(g, m, t->step, e) < 0)
            goto fail;
    }
    return g;
fail:
    if (g->tsv && g->tsv != stdout)
        fclose(g->tsv);
    if (g->tb_train)
        nn_tb_close(g->tb_train);
    if (g->tb_test)
        nn_tb_close(g->tb_test);
    free(g->snaps);
    free(g->snap_step);
    free(g);
    return NULL;
}

int nn_train_log_step(nn_train_log *g, const nn_trainer *t, const nn_step_stats *s,
                      nn_error *e)
{
    g->win_loss += s->loss, g->win_acc += s->acc, g->win_n++;
    if (g->tb_train && s->step % g->c.log_every == 0) {
        if (nn_tb_scalar(g->tb_train, "loss", s->step, g->win_loss / g->win_n) < 0 ||
            nn_tb_scalar(g->tb_train, "accuracy", s->step, g->win_acc / g->win_n) < 0 ||
            (!isnan(s->probe_loss) &&
             (nn_tb_scalar(g->tb_test, "loss", s->step, s->probe_loss) < 0 ||
              nn_tb_scalar(g->tb_test, "accuracy", s->step, s->probe_acc) < 0)))
            return nn_fail(e, "%s: write failed", g->c.logdir);
        g->win_loss = g->win_acc = 0, g->win_n = 0;
    }
    if (g->c.filters_every > 0 && s->step % g->c.filters_every == 0)
        return snapshot(g, t->m, s->step, e);
    return 0;
}

int nn_train_log_epoch(nn_train_log *g, const nn_trainer *t, const nn_epoch_stats *s,
                       nn_error *e)
{
    if (g->tsv && write_tsv_row(g, s, e) < 0)
        return -1;
    if (g->tb_train) {
        if (tb_weights(g, t->m, s->step, e) < 0 || nn_tb_flush(g->tb_test) < 0)
            return nn_fail(e, "%s: write failed", g->c.logdir);
    }
    if (g->c.plot_dir && nn_plot_history(g->c.plot_dir, t->history, t->nhistory, e) < 0)
        return -1;
    return 0;
}

/* The snapshots as an animated GIF (one frame per snapshot, labelled with
 * its step) and a PNG sheet of up to SHEET_MAX of them. */
static int write_filters(nn_train_log *g, const nn_model *m, nn_error *e)
{
    const nn_layer *l = &m->layers[g->layer];
    long n = g->nsnap;
    nn_image *frames = calloc((size_t)n, sizeof *frames);
    if (!frames)
        return nn_fail(e, "out of memory for %ld frames", n);
    int rc = 0;
    for (long i = 0; rc == 0 && i < n; i++) {
        nn_image sheet;
        char label[64];
        snprintf(label, sizeof label, "%s step %ld", l->name, g->snap_step[i]);
        const char *labels[1] = {label};
        rc = nn_filter_sheet(&l->param[0], g->snaps + (size_t)i * g->snap_size, m->bgr, 0,
                             &sheet, e);
        if (rc == 0) {
            rc = nn_image_grid(&sheet, 1, 1, 4, 1, labels, &frames[i], e);
            nn_image_free(&sheet);
        }
    }
    size_t len = strlen(g->c.filters_path) + 8;
    char *path = malloc(len);
    if (rc == 0 && !path)
        rc = nn_fail(e, "out of memory");
    if (rc == 0) {
        snprintf(path, len, "%s.gif", g->c.filters_path);
        rc = nn_gif_write(path, frames, (int)n, GIF_DELAY_CS, e);
    }
    if (rc == 0) { /* the sheet: evenly spaced snapshots, first and last included */
        int k = n < SHEET_MAX ? (int)n : SHEET_MAX;
        nn_image pick[SHEET_MAX], sheet;
        for (int j = 0; j < k; j++)
            pick[j] = frames[k > 1 ? (long)j * (n - 1) / (k - 1) : 0];
        rc = nn_image_grid(pick, k, 4, 2, 1, NULL, &sheet, e);
        if (rc == 0) {
            snprintf(path, len, "%s.png", g->c.filters_path);
            rc = nn_image_write(path, &sheet, e);
            nn_image_free(&sheet);
        }
    }
    for (long i = 0; i < n; i++)
        nn_image_free(&frames[i]);
    free(frames);
    free(path);
    return rc;
}

int nn_train_log_close(nn_train_log *g, const nn_trainer *t, nn_error *e)
{
    if (!g)
        return 0;
    int rc = 0;
    if (g->nsnap > 0 && t && g->c.filters_path)
        rc = write_filters(g, t->m, e);
    if (g->tsv && g->tsv != stdout && fclose(g->tsv) != 0 && rc == 0)
        rc = nn_fail(e, "%s: write failed: %s", g->c.tsv, strerror(errno));
    if (g->tb_train && nn_tb_close(g->tb_train) < 0 && rc == 0)
        rc = nn_fail(e, "%s: write failed", g->c.logdir);
    if (g->tb_test && nn_tb_close(g->tb_test) < 0 && rc == 0)
        rc = nn_fail(e, "%s: write failed", g->c.logdir);
    free(g->snaps);
    free(g->snap_step);
    free(g);
    return rc;
}

/* ---- charts ------------------------------------------------------------- */

static int any_finite(const float *v, int n)
{
    for (int i = 0; i < n; i++)
        if (isfinite(v[i]))
            return 1;
    return 0;
}

int nn_plot_history(const char *dir, const nn_epoch_stats *h, int n, nn_error *e)
{
    if (n < 1)
        return 0;
    float *v = malloc((size_t)n * 7 * sizeof *v);
    size_t len = strlen(dir) + 16;
    char *path = malloc(len);
    if (!v || !path) {
        free(v), free(path);
        return nn_fail(e, "out of memory");
    }
    float *x = v + 6 * (size_t)n;
    for (int i = 0; i < n; i++) {
        x[i] = (float)h[i].epoch;
        v[i] = h[i].train_loss, v[n + i] = h[i].val_loss, v[2 * n + i] = h[i].test_loss;
        v[3 * n + i] = 100 * h[i].train_acc, v[4 * n + i] = 100 * h[i].val_acc;
        v[5 * n + i] = 100 * h[i].test_acc;
    }
    static const char *names[3] = {"train", "validation", "test"};
    int rc = 0;
    for (int chart = 0; rc == 0 && chart < 2; chart++) {
        nn_series s[3];
        int ns = 0;
        for (int k = 0; k < 3; k++) {
            const float *y = v + (size_t)(3 * chart + k) * n;
            if (any_finite(y, n))
                s[ns++] = (nn_series){.label = names[k], .x = x, .y = y, .n = n, .dashed = k == 2};
        }
        nn_chart c = {.title = chart ? "accuracy" : "loss", .xlabel = "epoch",
                      .ylabel = chart ? "accuracy (%)" : "loss"};
        snprintf(path, len, "%s/%s.png", dir, chart ? "accuracy" : "loss");
        if (ns > 0)
            rc = nn_plot_lines(path, &c, s, ns, e);
    }
    free(v);
    free(path);
    return rc;
}

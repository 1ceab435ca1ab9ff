/* train.c - the training loop: epochs of shuffled batches from the
 * prefetch thread, a schedule on the optimizer's learning rate, evaluation
 * of validation and test in eval mode, a history, checkpoints and exact
 * resume.
 *
 * Exact resume: everything a step depends on is in the checkpoint or is a
 * pure function of (seed, epoch, step): the weights and batch-norm
 * statistics, the optimizer state and step count (nn_model_save writes
 * them), the position (epoch, batch, step) in m->train_state, the batch
 * order and augmentation (lib/data.c) and the dropout masks (seed, step).
 * So a run stopped anywhere and resumed ends with the same bits as one that
 * never stopped, for the same thread count.
 *
 * m->train_state is text, "key value" lines and then the history as the
 * per-epoch TSV:
 *   nn-train-state 1
 *   epochs 4            settings: epochs batch seed val train_limit
 *   ...                 augment mean_subtract eval_test schedule
 *   epoch 1             the position: 0-based epoch, its next batch,
 *   batch_index 17      updates done
 *   step 139
 *   part LOSS CORRECT SEEN SECONDS WAIT   sums of the unfinished epoch
 *   history
 *   epoch<TAB>step<TAB>train_loss...      nn_epoch_tsv_header()
 *   1<TAB>122<TAB>...                     one row per finished epoch */
#include "nn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STATE_MAGIC "nn-train-state 1"

void nn_train_defaults(nn_train_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->epochs = 10;
    c->batch = 64;
    c->seed = 1;
    c->schedule.kind = NN_SCHED_CONSTANT;
    c->schedule.every = 1;
    c->schedule.gamma = 0.1f;
}

/* ---- the per-epoch TSV -------------------------------------------------- */

const char *nn_epoch_tsv_header(void)
{
    return "epoch\tstep\ttrain_loss\ttrain_acc\tval_loss\tval_acc\ttest_loss\t"
           "test_acc\tlr\timages_per_s\tseconds\tdata_wait";
}

static void put_float(char *buf, size_t size, float v)
{
    if (isnan(v))
        snprintf(buf, size, "nan");
    else
        nn_format_float(buf, size, v);
}

void nn_epoch_tsv_row(const nn_epoch_stats *s, char *buf, size_t size)
{
    char f[8][32];
    const float v[8] = {s->train_loss, s->train_acc, s->val_loss, s->val_acc,
                        s->test_loss, s->test_acc, s->lr, 0};
    for (int i = 0; i < 7; i++)
        put_float(f[i], sizeof f[i], v[i]);
    snprintf(buf, size, "%d\t%ld\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.1f\t%.3f\t%.4f", s->epoch,
             s->step, f[0], f[1], f[2], f[3], f[4], f[5], f[6], s->images_per_s, s->seconds,
             s->data_wait);
}

static int parse_tsv_row(const char *line, nn_epoch_stats *s)
{
    double v[12];
    const char *p = line;
    for (int i = 0; i < 12; i++) {
        char *end;
        v[i] = strtod(p, &end);
        if (end == p || (*end != '\t' && i < 11))
            return -1;
        p = end + 1;
    }
    s->epoch = (int)v[0];
    s->step = (long)v[1];
    s->train_loss = (float)v[2], s->train_acc = (float)v[3];
    s->val_loss = (float)v[4], s->val_acc = (float)v[5];
    s->test_loss = (float)v[6], s->test_acc = (float)v[7];
    s->lr = (float)v[8];
    s->images_per_s = v[9], s->seconds = v[10], s->data_wait = v[11];
    return 0;
}

/* ---- fit of model and dataset ------------------------------------------- */

/* The advice fits what can change: the architecture of a new model, the
 * dataset of a trained one (a checkpoint: it has a training state). */
int nn_train_check_fit(const nn_model *m, const char *mname, const nn_dataset *d,
                       const char *dname, nn_error *e)
{
    int trained = m->train_state != NULL, loaded = m->loaded && !trained;
    const nn_dims in = m->input;
    if (in.c != d->c || in.h != d->h || in.w != d->w) {
        if (trained)
            return nn_fail(e, "%s takes %dx%dx%d images (CxHxW) but %s has %dx%dx%d; the "
                           "model was trained on %dx%dx%d images: use a dataset of that size",
                           mname, in.c, in.h, in.w, dname, d->c, d->h, d->w, in.c, in.h, in.w);
        if (loaded)
            return nn_fail(e, "%s takes %dx%dx%d images (CxHxW) but %s has %dx%dx%d; fetch "
                           "the data at that size (nn-fetch-data --size %d%s)", mname, in.c,
                           in.h, in.w, dname, d->c, d->h, d->w, in.h,
                           in.c == 1 ? " --gray" : "");
        return nn_fail(e, "%s takes %dx%dx%d images (CxHxW) but %s has %dx%dx%d; change "
                       "the input line of the architecture or fetch the data at that size",
                       mname, in.c, in.h, in.w, dname, d->c, d->h, d->w);
    }
    int k = (int)nn_dims_size(m->layers[m->nlayers - 1].out);
    if (k != d->classes) {
        if (trained || loaded)
            return nn_fail(e, "%s ends in %d outputs but %s has %d classes; the model was "
                           "trained for %d classes: use a dataset with those classes", mname,
                           k, dname, d->classes, k);
        return nn_fail(e, "%s ends in %d outputs but %s has %d classes; make the last "
                       "dense layer 'dense classes'", mname, k, dname, d->classes);
    }
    if (m->classes != d->classes)
        return nn_fail(e, "%s is for %d classes but %s has %d%s", mname, m->classes, dname,
                       d->classes, trained || loaded ? "; use a dataset with those classes" : "");
    return 0;
}

/* ---- train_state -------------------------------------------------------- */

static void format_schedule(const nn_schedule *s, char *buf, size_t size)
{
    char a[32];
    if (s->kind == NN_SCHED_STEP) {
        nn_format_float(a, sizeof a, s->gamma);
        snprintf(buf, size, "step:%d:%s", s->every, a);
    } else if (s->kind == NN_SCHED_COSINE) {
        nn_format_float(a, sizeof a, s->min_lr);
        snprintf(buf, size, "cosine:%s", a);
    } else {
        snprintf(buf, size, "constant");
    }
    if (s->warmup > 0) {
        size_t n = strlen(buf);
        snprintf(buf + n, size - n, ",warmup:%ld", s->warmup);
    }
}

static char *state_text(const nn_trainer *t)
{
    char *text = NULL, sched[96], val[32];
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (!f)
        return NULL;
    const nn_train_cfg *c = &t->cfg;
    format_schedule(&c->schedule, sched, sizeof sched);
    nn_format_float(val, sizeof val, c->val);
    fprintf(f, "%s\nepochs %d\nbatch %d\nseed %llu\nval %s\ntrain_limit %ld\n"
               "augment %d\nmean_subtract %d\neval_test %d\nschedule %s\n",
            STATE_MAGIC, c->epochs, c->batch, (unsigned long long)c->seed, val,
            c->train_limit, c->augment, c->mean_subtract, c->eval_test, sched);
    fprintf(f, "epoch %d\nbatch_index %ld\nstep %ld\npart %.17g %ld %ld %.17g %.17g\n",
            t->epoch, t->batch, t->step, t->part_loss, t->part_correct, t->part_seen,
            t->part_seconds, t->part_wait);
    fprintf(f, "history\n%s\n", nn_epoch_tsv_header());
    for (int i = 0; i < t->nhistory; i++) {
        char row[512];
        nn_epoch_tsv_row(&t->history[i], row, sizeof row);
        fprintf(f, "%s\n", row);
    }
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

/* Calls fn(ctx, key, value, e) for each "key value" line before "history";
 * *history gets the text after the history header line (or NULL). */
static int state_lines(const char *state, int (*fn)(void *, const char *, const char *, nn_error *),
                       void *ctx, const char **history, nn_error *e)
{
    size_t ml = strlen(STATE_MAGIC);
    if (strncmp(state, STATE_MAGIC, ml) != 0 || (state[ml] != '\n' && state[ml] != 0))
        return nn_fail(e, "the training state is not '%s' text", STATE_MAGIC);
    if (history)
        *history = NULL;
    const char *p = state + ml + (state[ml] == '\n');
    while (*p) {
        size_t len = strcspn(p, "\n");
        char line[256];
        if (len >= sizeof line)
            return nn_fail(e, "the training state has a line of %zu characters", len);
        memcpy(line, p, len);
        line[len] = 0;
        p += len + (p[len] == '\n');
        if (strcmp(line, "history") == 0) {
            if (history) { /* skip the header line */
                p += strcspn(p, "\n");
                *history = p + (*p == '\n');
            }
            return 0;
        }
        char *sp = strchr(line, ' ');
        if (!sp)
            return nn_fail(e, "the training state has a line '%s' without a value", line);
        *sp = 0;
        if (fn(ctx, line, sp + 1, e) < 0)
            return -1;
    }
    return 0;
}

static int setting(void *ctx, const char *key, const char *v, nn_error *e)
{
    nn_train_cfg *c = ctx;
    char *end;
    double x = strtod(v, &end);
    int number = end != v && *end == 0;
    if (strcmp(key, "schedule") == 0)
        return nn_schedule_parse(&c->schedule, v, e);
    if (strcmp(key, "seed") == 0) {
        c->seed = strtoull(v, &end, 10);
        number = end != v && *end == 0;
    }
    int known = 1;
    if (strcmp(key, "epochs") == 0)
        c->epochs = (int)x;
    else if (strcmp(key, "batch") == 0)
        c->batch = (int)x;
    else if (strcmp(key, "val") == 0)
        c->val = (float)x;
    else if (strcmp(key, "train_limit") == 0)
        c->train_limit = (long)x;
    else if (strcmp(key, "augment") == 0)
        c->augment = (int)x;
    else if (strcmp(key, "mean_subtract") == 0)
        c->mean_subtract = (int)x;
    else if (strcmp(key, "eval_test") == 0)
        c->eval_test = (int)x;
    else
        known = strcmp(key, "seed") == 0;
    if (known && !number)
        return nn_fail(e, "the training state's %s is '%s', not a number", key, v);
    return 0;
}

int nn_train_state_settings(const char *state, nn_train_cfg *c, nn_error *e)
{
    nn_train_cfg t = *c;
    if (state_lines(state, setting, &t, NULL, e) < 0)
        return -1;
    *c = t;
    return 0;
}

nn_model *nn_train_resume_load(const char *path, const nn_dataset *d, const char *dname,
                               unsigned given, const nn_optim *want, nn_optim *o,
                               nn_train_cfg *c, nn_error *e)
{
    nn_model *m = nn_model_load(path, o, e);
    if (!m)
        return NULL;
    nn_train_cfg cmd = *c;
    if (!m->train_state || !o->nvalues) {
        nn_fail(e, "%s has no %s; it was not written by nn-train", path,
                m->train_state ? "optimizer state" : "training state");
    } else if (nn_train_check_fit(m, path, d, dname, e) < 0) {
    } else if (nn_train_state_settings(m->train_state, c, e) < 0) {
        nn_fail_within(e, "%s: ", path);
    } else if (want && want->kind != o->kind) {
        nn_fail(e, "%s was trained with %s; --resume cannot switch to --optim %s", path,
                nn_optim_name(o->kind), nn_optim_name(want->kind));
    } else {
        if (given & NN_GIVEN_EPOCHS) c->epochs = cmd.epochs;
        if (given & NN_GIVEN_BATCH) c->batch = cmd.batch;
        if (given & NN_GIVEN_SEED) c->seed = cmd.seed;
        if (given & NN_GIVEN_VAL) c->val = cmd.val;
        if (given & NN_GIVEN_LIMIT) c->train_limit = cmd.train_limit;
        c->augment |= cmd.augment, c->eval_test |= cmd.eval_test;
        return m;
    }
    nn_model_free(m);
    nn_optim_free(o);
    *c = cmd;
    return NULL;
}

typedef struct position {
    int epoch, batch_size;
    long batch, step;
    double part[5];
} position;

static int position_line(void *ctx, const char *key, const char *v, nn_error *e)
{
    position *p = ctx;
    int ok = 1;
    if (strcmp(key, "epoch") == 0)
        ok = sscanf(v, "%d", &p->epoch) == 1;
    else if (strcmp(key, "batch_index") == 0)
        ok = sscanf(v, "%ld", &p->batch) == 1;
    else if (strcmp(key, "step") == 0)
        ok = sscanf(v, "%ld", &p->step) == 1;
    else if (strcmp(key, "batch") == 0)
        ok = sscanf(v, "%d", &p->batch_size) == 1;
    else if (strcmp(key, "part") == 0)
        ok = sscanf(v, "%lg %lg %lg %lg %lg", &p->part[0], &p->part[1], &p->part[2],
                    &p->part[3], &p->part[4]) == 5;
    if (!ok)
        return nn_fail(e, "the training state's %s is '%s'", key, v);
    return 0;
}

static int push_history(nn_trainer *t, const nn_epoch_stats *s, nn_error *e)
{
    if (t->nhistory == t->cap) {
        int cap = t->cap ? 2 * t->cap : 16;
        nn_epoch_stats *h = realloc(t->history, (size_t)cap * sizeof *h);
        if (!h)
            return nn_fail(e, "out of memory");
        t->history = h, t->cap = cap;
    }
    t->history[t->nhistory++] = *s;
    return 0;
}

/* Continues from m->train_state: position, partial sums and history. */
static int resume(nn_trainer *t, nn_error *e)
{
    position p = {.epoch = -1, .batch = -1, .step = -1};
    const char *h;
    if (state_lines(t->m->train_state, position_line, &p, &h, e) < 0)
        return -1;
    if (p.epoch < 0 || p.batch < 0 || p.step < 0)
        return nn_fail(e, "the training state has no position (epoch, batch_index, step)");
    long nb = nn_data_batches(&t->train);
    if (p.batch > 0 && (p.batch_size != t->cfg.batch || p.batch > nb))
        return nn_fail(e, "the checkpoint stopped in the middle of epoch %d with batch %d "
                       "and %ld batches per epoch; resume it with the same batch size and data",
                       p.epoch + 1, p.batch_size, nb);
    t->epoch = p.epoch, t->batch = p.batch, t->step = p.step;
    t->part_loss = p.part[0];
    t->part_correct = (long)p.part[1], t->part_seen = (long)p.part[2];
    t->part_seconds = p.part[3], t->part_wait = p.part[4];
    while (h && *h) {
        nn_epoch_stats s;
        if (parse_tsv_row(h, &s) < 0)
            return nn_fail(e, "the training state's history has a bad row");
        if (push_history(t, &s, e) < 0)
            return -1;
        h += strcspn(h, "\n");
        h += *h == '\n';
    }
    if (t->o->step != t->step && t->o->nslots > 0)
        return nn_fail(e, "the optimizer state has %ld updates but the training state %ld",
                       t->o->step, t->step);
    t->o->step = t->step;
    return 0;
}

/* ---- set-up ------------------------------------------------------------- */

static char **copy_names(char **names, int n)
{
    char **v = calloc((size_t)n + 1, sizeof *v);
    for (int i = 0; v && i < n; i++)
        if (!(v[i] = strdup(names[i]))) {
            nn_strv_free(v);
            return NULL;
        }
    return v;
}

static nn_data data_for(const nn_model *m, const nn_split *s, const long *rows, long n,
                        int batch, uint64_t seed)
{
    nn_data d = {.split = s, .h = m->input.h, .w = m->input.w, .c = m->input.c,
                 .index = rows, .n = n, .batch = batch, .seed = seed};
    memcpy(d.mean, m->mean, sizeof d.mean);
    memcpy(d.std, m->std, sizeof d.std);
    return d;
}

static int check_labels(const nn_split *s, int classes, const char *which, nn_error *e)
{
    for (long i = 0; i < s->n; i++)
        if (s->labels[i] < 0 || s->labels[i] >= classes)
            return nn_fail(e, "the %s split's label %ld is %d, outside 0..%d", which, i,
                           (int)s->labels[i], classes - 1);
    return 0;
}

nn_trainer *nn_trainer_new(nn_model *m, nn_optim *o, const nn_dataset *d,
                           const nn_train_cfg *c, nn_error *e)
{
    const char *dname = d->name ? d->name : "the dataset";
    if (nn_train_check_fit(m, m->arch_file ? m->arch_file : "the model", d, dname, e) < 0)
        return NULL;
    if (c->batch < 1 || c->epochs < 1) {
        nn_fail(e, "batch (%d) and epochs (%d) must be at least 1", c->batch, c->epochs);
        return NULL;
    }
    if (check_labels(&d->train, d->classes, "train", e) < 0 ||
        check_labels(&d->test, d->classes, "test", e) < 0)
        return NULL;
    nn_trainer *t = calloc(1, sizeof *t);
    if (!t) {
        nn_fail(e, "out of memory");
        return NULL;
    }
    t->cfg = *c, t->m = m, t->o = o, t->d = d;
    if (!m->train_state) { /* a new run: the input normalisation */
        for (int k = 0; k < 4; k++) {
            m->mean[k] = c->mean_subtract && k < d->c ? d->mean[k] : 0;
            m->std[k] = 1;
        }
    }
    if (!m->class_names && d->class_names && !(m->class_names = copy_names(d->class_names, d->classes))) {
        nn_fail(e, "out of memory");
        goto fail;
    }
    long nt, nv;
    if (nn_data_split(d->train.n, c->val, c->train_limit, c->seed, &t->train_rows, &nt,
                      &t->val_rows, &nv, e) < 0)
        goto fail;
    t->train = data_for(m, &d->train, t->train_rows, nt, c->batch, c->seed);
    t->train.shuffle = 1;
    t->train.augment = c->augment;
    t->val = data_for(m, &d->train, t->val_rows, nv, c->batch, c->seed);
    t->test = data_for(m, &d->test, NULL, d->test.n, c->batch, c->seed);
    if (!(t->ex = nn_exec_new(m, c->gpu, c->batch, e)))
        goto fail;
    size_t img = nn_dims_size(m->input);
    if (m->loss != NN_LOSS_XENT &&
        !(t->targets = calloc((size_t)c->batch * d->classes, sizeof *t->targets))) {
        nn_fail(e, "out of memory");
        goto fail;
    }
    if (c->probe_every > 0 && d->test.n > 0 &&
        (!(t->probe_x = malloc((size_t)c->batch * img * sizeof *t->probe_x)) ||
         !(t->probe_y = malloc((size_t)c->batch * sizeof *t->probe_y)))) {
        nn_fail(e, "out of memory");
        goto fail;
    }
    if (m->train_state && resume(t, e) < 0)
        goto fail;
    if (t->epoch >= c->epochs) {
        nn_fail(e, "the model has been trained for %d epochs already and --epochs is %d: "
                "ask for more", t->epoch, c->epochs);
        goto fail;
    }
    return t;
fail:
    nn_trainer_free(t);
    return NULL;
}

void nn_trainer_free(nn_trainer *t)
{
    if (!t)
        return;
    free(t->train_rows);
    free(t->val_rows);
    free(t->history);
    free(t->targets);
    free(t->probe_x);
    free(t->probe_y);
    nn_exec_free(t->ex);
    free(t);
}

/* ---- steps and evaluation ----------------------------------------------- */

/* Hits of the model's output out [n, k] on labels y. */
static int count_correct(const nn_model *m, const float *out, const int *y, int n)
{
    int k = (int)nn_dims_size(m->layers[m->nlayers - 1].out), hits = 0;
    for (int i = 0; i < n; i++)
        hits += nn_argmax(out + (size_t)i * k, k) == y[i];
    return hits;
}

static void one_hot(float *t, const int *y, int n, int k)
{
    memset(t, 0, (size_t)n * k * sizeof *t);
    for (int i = 0; i < n; i++)
        t[(size_t)i * k + y[i]] = 1;
}

/* *loss of the last forward (out: its output, x its input) without a
 * gradient, as nn_model_loss_backward takes it: softmax fused into xent.
 * -1 when a layer's output could not be had from the GPU. */
static int forward_loss(nn_exec *ex, const nn_model *m, const float *out, const float *x,
                        const int *y, float *targets, int n, float *loss, nn_error *e)
{
    int last = m->nlayers - 1, k = (int)nn_dims_size(m->layers[last].out);
    if (m->loss == NN_LOSS_XENT) {
        if (!(out = nn_exec_logits(ex, x, out, n, e)))
            return -1;
        *loss = nn_loss_softmax_xent(out, y, n, k, NULL);
        return 0;
    }
    one_hot(targets, y, n, k);
    *loss = m->loss == NN_LOSS_MSE ? nn_loss_mse(out, targets, n, k, NULL)
                                   : nn_loss_sigmoid_bce(out, targets, n, k, NULL);
    return 0;
}

/* nn_evaluate through ex (the model on the CPU or a GPU). */
static int evaluate(nn_exec *ex, nn_model *m, const nn_data *d, float *loss, float *acc,
                    nn_error *e)
{
    *loss = *acc = NAN;
    if (d->n == 0)
        return 0;
    int k = (int)nn_dims_size(m->layers[m->nlayers - 1].out);
    float *targets = NULL;
    if (m->loss != NN_LOSS_XENT && !(targets = malloc((size_t)d->batch * k * sizeof *targets)))
        return nn_fail(e, "out of memory");
    nn_loader *l = nn_loader_start(d, 0, 0, 1, NULL, e);
    if (!l) {
        free(targets);
        return -1;
    }
    nn_pass p = {.train = 0};
    double sum = 0;
    long hits = 0, seen = 0;
    const nn_batch *b;
    int rc = 0;
    while (rc == 0 && (b = nn_loader_next(l))) {
        const float *out = nn_exec_forward_to(ex, b->x, b->n, m->nlayers - 1, &p, e);
        if (!out) {
            rc = -1;
            break;
        }
        hits += count_correct(m, out, b->y, b->n); /* before forward_loss may reuse out */
        float bl;
        if ((rc = forward_loss(ex, m, out, b->x, b->y, targets, b->n, &bl, e)) < 0)
            break;
        sum += (double)bl * b->n;
        seen += b->n;
    }
    nn_loader_stop(l);
    free(targets);
    if (rc < 0)
        return -1;
    *loss = (float)(sum / seen);
    *acc = (float)hits / (float)seen;
    return 0;
}

int nn_evaluate(nn_model *m, const nn_data *d, float *loss, float *acc, nn_error *e)
{
    *loss = *acc = NAN;
    if (d->n == 0)
        return 0;
    int batch = d->batch > m->max_batch ? d->batch : m->max_batch;
    nn_exec *ex = nn_exec_new(m, NULL, batch, e);
    if (!ex)
        return -1;
    int rc = evaluate(ex, m, d, loss, acc, e);
    nn_exec_free(ex);
    return rc;
}

/* One test batch in eval mode (the batches in turn), for the step probe. */
static int probe(nn_trainer *t, nn_step_stats *s, nn_error *e)
{
    long nb = nn_data_batches(&t->test);
    nn_batch b = {.x = t->probe_x, .y = t->probe_y};
    nn_data_fill(&t->test, NULL, 0, t->probe_batch, &b);
    t->probe_batch = (t->probe_batch + 1) % nb;
    nn_pass p = {.train = 0};
    const float *out = nn_exec_forward_to(t->ex, b.x, b.n, t->m->nlayers - 1, &p, e);
    if (!out)
        return -1;
    s->probe_acc = (float)count_correct(t->m, out, b.y, b.n) / (float)b.n;
    return forward_loss(t->ex, t->m, out, b.x, b.y, t->targets, b.n, &s->probe_loss, e);
}

static int all_finite(const nn_model *m)
{
    int ok = 1;
    for (size_t i = 0; i < m->nvalues; i++)
        ok &= isfinite(m->values[i]);
    return ok;
}

static int checkpoint(nn_trainer *t, nn_error *e)
{
    if (!t->cfg.checkpoint)
        return 0;
    char *text = state_text(t);
    if (!text)
        return nn_fail(e, "out of memory for the training state");
    free(t->m->train_state);
    t->m->train_state = text;
    return nn_model_save(t->m, t->o, t->cfg.checkpoint, e);
}

/* -1 for a failed part `what` of a run; on the GPU the message starts
 * with it ("evaluating the test split on the GPU: CUDA: ..."). */
static int gpu_failed(const nn_trainer *t, const char *what, nn_error *e)
{
    return t->cfg.gpu ? nn_fail_within(e, "%s on the GPU: ", what) : -1;
}

/* gpu_failed for the step being taken: "step S (epoch E, batch B)". */
static int step_failed(const nn_trainer *t, nn_error *e)
{
    char what[96];
    snprintf(what, sizeof what, "step %ld (epoch %d, batch %ld)", t->step + 1, t->epoch + 1,
             t->batch + 1);
    return gpu_failed(t, what, e);
}

/* The message for a run that went non-finite: nothing more is saved. */
static int diverged(nn_trainer *t, const char *what, int saved, nn_error *e)
{
    t->diverged = 1;
    char kept[600];
    if (!t->cfg.checkpoint)
        snprintf(kept, sizeof kept, "training stopped");
    else if (saved >= 0)
        snprintf(kept, sizeof kept, "training stopped without saving; %s keeps the "
                 "checkpoint of epoch %d", t->cfg.checkpoint, saved);
    else
        snprintf(kept, sizeof kept, "training stopped without saving (%s was not written "
                 "by this run)", t->cfg.checkpoint);
    return nn_fail(e, "step %ld (epoch %d, batch %ld): %s; %s; try a lower --lr",
                   t->step + 1, t->epoch + 1, t->batch + 1, what, kept);
}

int nn_trainer_run(nn_trainer *t, nn_error *e)
{
    const nn_train_cfg *c = &t->cfg;
    nn_model *m = t->m;
    long nb = nn_data_batches(&t->train);
    int saved = -1; /* the epoch this run last checkpointed */
    /* on a GPU the batches cross while the one before computes */
    nn_loader *l = nn_loader_start(&t->train, t->epoch, t->batch, c->epochs,
                                   nn_exec_stage(t->ex), e);
    if (!l)
        return -1;
    int rc = 0;
    float lr = 0;
    while (rc == 0 && t->epoch < c->epochs) {
        double t0 = nn_now(), w0 = nn_loader_wait(l);
        while (t->batch < nb) {
            const nn_batch *b = nn_loader_next(l);
            if (!b || b->epoch != t->epoch || b->index != t->batch) {
                rc = nn_fail(e, "internal error: the data thread is out of step");
                break;
            }
            lr = nn_schedule_lr(&c->schedule, t->o->lr, t->epoch, c->epochs, t->step);
            nn_pass p = {.train = 1, .seed = c->seed, .step = (uint64_t)t->step,
                         .param_grads = 1};
            /* on a GPU one wait per step: for the loss, the output after it */
            if (nn_exec_forward(t->ex, b->x, b->n, m->nlayers - 1, &p, e) < 0 ||
                nn_exec_zero_grads(t->ex, e) < 0) {
                rc = step_failed(t, e);
                break;
            }
            const void *labels = b->y;
            if (t->targets) {
                one_hot(t->targets, b->y, b->n, t->d->classes);
                labels = t->targets;
            }
            float loss;
            const float *out;
            if (nn_exec_loss_backward(t->ex, labels, b->n, &p, &loss, e) < 0 ||
                !(out = nn_exec_output(t->ex, m->nlayers - 1, b->n, e))) {
                rc = step_failed(t, e);
                break;
            }
            int hits = count_correct(m, out, b->y, b->n);
            if (!isfinite(loss)) {
                char what[64];
                snprintf(what, sizeof what, "the loss is %s", isnan(loss) ? "NaN" : "infinite");
                rc = diverged(t, what, saved, e);
                break;
            }
            if (nn_exec_step(t->ex, t->o, lr, e) < 0) {
                rc = step_failed(t, e);
                break;
            }
            t->step++, t->batch++;
            t->part_loss += (double)loss * b->n;
            t->part_correct += hits, t->part_seen += b->n;
            nn_step_stats s = {.step = t->step, .epoch = t->epoch, .batch = t->batch - 1,
                               .batches = nb, .loss = loss, .acc = (float)hits / b->n,
                               .lr = lr, .probe_loss = NAN, .probe_acc = NAN,
                               .elapsed = t->part_seconds + nn_now() - t0,
                               .images = t->part_seen};
            if (t->probe_x && t->step % c->probe_every == 0 && probe(t, &s, e) < 0) {
                rc = gpu_failed(t, "the probe of a test batch", e);
                break;
            }
            /* the hook may read the weights (not the optimizer's state) */
            if (c->on_step && c->sync_every > 0 && t->step % c->sync_every == 0 &&
                nn_exec_sync(t->ex, NULL, e) < 0) {
                rc = gpu_failed(t, "copying the weights back", e);
                break;
            }
            if (c->on_step && c->on_step(c->ctx, t, &s, e) < 0) {
                rc = -1;
                break;
            }
            if (c->stop && c->stop(c->ctx)) {
                t->part_seconds += nn_now() - t0;
                t->part_wait += nn_loader_wait(l) - w0;
                if (nn_exec_sync(t->ex, t->o, e) < 0)
                    rc = gpu_failed(t, "copying the weights back", e);
                else if (!all_finite(m))
                    rc = diverged(t, "the weights are no longer finite", saved, e);
                else
                    rc = checkpoint(t, e) < 0 ? -1 : 1;
                break;
            }
        }
        if (rc != 0)
            break;
        /* the epoch's end: evaluate, record, checkpoint */
        double train_s = t->part_seconds + nn_now() - t0;
        double wait_s = t->part_wait + nn_loader_wait(l) - w0;
        if (nn_exec_sync(t->ex, t->o, e) < 0) {
            rc = gpu_failed(t, "copying the weights back", e);
            break;
        }
        if (!all_finite(m)) {
            t->batch--; /* name the last step */
            t->step--;
            rc = diverged(t, "the weights are no longer finite", saved, e);
            break;
        }
        nn_epoch_stats s = {.epoch = t->epoch + 1, .step = t->step, .lr = lr,
                            .train_loss = NAN, .train_acc = NAN};
        if (t->part_seen > 0) {
            s.train_loss = (float)(t->part_loss / t->part_seen);
            s.train_acc = (float)t->part_correct / (float)t->part_seen;
        }
        if (lr == 0) /* resumed at an epoch's end: no step taken yet */
            s.lr = nn_schedule_lr(&c->schedule, t->o->lr, t->epoch, c->epochs, t->step - 1);
        s.images_per_s = train_s > 0 ? t->part_seen / train_s : 0;
        s.data_wait = train_s > 0 ? wait_s / train_s : 0;
        if (evaluate(t->ex, m, &t->val, &s.val_loss, &s.val_acc, e) < 0) {
            rc = gpu_failed(t, "evaluating the validation split", e);
            break;
        }
        if (c->eval_test && evaluate(t->ex, m, &t->test, &s.test_loss, &s.test_acc, e) < 0) {
            rc = gpu_failed(t, "evaluating the test split", e);
            break;
        }
        if (!c->eval_test)
            s.test_loss = s.test_acc = NAN;
        s.seconds = t->part_seconds + nn_now() - t0;
        if (push_history(t, &s, e) < 0) {
            rc = -1;
            break;
        }
        t->epoch++, t->batch = 0;
        t->part_loss = 0, t->part_correct = t->part_seen = 0;
        t->part_seconds = t->part_wait = 0;
        if (checkpoint(t, e) < 0) {
            rc = -1;
            break;
        }
        saved = t->epoch;
        if (c->on_epoch && c->on_epoch(c->ctx, t, &s, e) < 0) {
            rc = -1;
            break;
        }
        if (c->stop && c->stop(c->ctx) && t->epoch < c->epochs) {
            rc = 1;
            break;
        }
    }
    nn_loader_stop(l);
    return rc;
}

/* ---- memory ------------------------------------------------------------- */

/* "12.3 GiB" */
static void format_bytes(char *buf, size_t size, double b)
{
    static const char *unit[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB"};
    int u = 0;
    while (b >= 1024 && u < 5)
        b /= 1024, u++;
    snprintf(buf, size, u ? "%.1f %s" : "%.0f %s", b, unit[u]);
}

int nn_train_check_memory(const nn_model *m, int slots, int batch, const nn_dataset *d,
                          nn_error *e)
{
    double n = batch, f = sizeof(float);
    double params = (double)m->nvalues * f, optim = slots * params;
    double outs = 0, dmax = (double)nn_dims_size(m->input), work = 0, saved = 0;
    for (int i = 0; i < m->nlayers; i++) {
        const nn_layer *l = &m->layers[i];
        double out = (double)nn_dims_size(l->out);
        outs += out;
        if (out > dmax)
            dmax = out;
        if (l->type->work_floats && (double)l->type->work_floats(l, batch) > work)
            work = (double)l->type->work_floats(l, batch);
        if (l->type->saved_bytes)
            saved += (double)l->type->saved_bytes(l, batch);
    }
    double acts = n * outs * f + 2 * n * dmax * f + work * f + saved;
    double data = ((double)d->train.n + d->test.n) * d->h * d->w * d->c;
    double need = data + 2 * params + optim + acts;
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0)
        return 0; /* unknown: no check */
    double have = (double)pages * page;
    if (need <= have)
        return 0;
    char a[32], b[32], c[32], g[32], h[32], k[32];
    format_bytes(a, sizeof a, need), format_bytes(b, sizeof b, have);
    format_bytes(c, sizeof c, 2 * params), format_bytes(g, sizeof g, optim);
    format_bytes(h, sizeof h, acts), format_bytes(k, sizeof k, data);
    return nn_fail(e, "training needs %.0f bytes of memory (%s: %s parameters and gradients, "
                   "%s optimizer state, %s activations for a batch of %d, %s images) but the "
                   "machine has %.0f bytes (%s); use a smaller batch (-b) or a smaller network",
                   need, a, c, g, h, batch, k, have, b);
}

/* eval.c - inference in eval mode (dropout off, batch-norm running
 * statistics) in batches on all threads: over a dataset split, feeding
 * meters (lib/meter*.c), and over image files, writing the most probable
 * classes of each. */
#include "nn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EVAL_MAX_BATCH 256
#define EVAL_BATCH_BYTES ((size_t)512 << 20)

static int out_size(const nn_model *m)
{
    return (int)nn_dims_size(m->layers[m->nlayers - 1].out);
}

static int ends_in_softmax(const nn_model *m)
{
    return strcmp(m->layers[m->nlayers - 1].type->keyword, "softmax") == 0;
}

/* Bytes one sample takes in a reserved model (activations of every layer,
 * the two backward buffers, saved state, scratch) plus its input and
 * probabilities here. */
int nn_eval_batch_size(const nn_model *m)
{
    size_t in = nn_dims_size(m->input), floats = 2 * in, dmax = in, bytes = 0;
    for (int i = 0; i < m->nlayers; i++) {
        const nn_layer *l = &m->layers[i];
        size_t out = nn_dims_size(l->out);
        floats += out;
        dmax = out > dmax ? out : dmax;
        if (l->type->saved_bytes)
            bytes += l->type->saved_bytes(l, 1);
        if (l->type->work_floats)
            bytes += l->type->work_floats(l, 1) * sizeof(float);
    }
    bytes += (floats + 2 * dmax) * sizeof(float);
    size_t n = EVAL_BATCH_BYTES / (bytes ? bytes : 1);
    return n < 1 ? 1 : n > EVAL_MAX_BATCH ? EVAL_MAX_BATCH : (int)n;
}

void nn_eval_probs(const nn_model *m, const float *out, int n, float *prob)
{
    int k = out_size(m);
    size_t nk = (size_t)n * k;
    if (ends_in_softmax(m) || m->loss == NN_LOSS_MSE) {
        memcpy(prob, out, nk * sizeof *prob);
    } else if (m->loss == NN_LOSS_BCE) {
        for (size_t i = 0; i < nk; i++)
            prob[i] = 1.0f / (1.0f + expf(-out[i]));
    } else { /* xent on logits: softmax */
        for (int i = 0; i < n; i++) {
            const float *z = out + (size_t)i * k;
            float *p = prob + (size_t)i * k, max = z[0], sum = 0;
            for (int j = 1; j < k; j++)
                max = z[j] > max ? z[j] : max;
            for (int j = 0; j < k; j++)
                sum += p[j] = expf(z[j] - max);
            for (int j = 0; j < k; j++)
                p[j] /= sum;
        }
    }
}

void nn_eval_meter_cfg(const nn_model *m, nn_meter_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->classes = out_size(m);
    if (m->class_names && m->classes == c->classes)
        c->class_names = (const char *const *)m->class_names;
    c->loss = m->loss;
    c->topk = 5;
}

int nn_eval_split(nn_model *m, struct nn_cuda *gpu, const nn_split *s, const char *name,
                  nn_meters *ms,
                  nn_error *e)
{
    int k = out_size(m);
    if (s->n <= 0)
        return nn_fail(e, "the %s split has no images", name);
    for (long i = 0; i < s->n; i++)
        if (s->labels[i] < 0 || s->labels[i] >= k)
            return nn_fail(e, "the %s split: image %ld has label %d, but the model has %d "
                           "classes (0 to %d)", name, i, (int)s->labels[i], k, k - 1);
    long bs = nn_eval_batch_size(m);
    bs = bs < s->n ? bs : s->n;
    nn_exec *ex = nn_exec_new(m, gpu, (int)bs, e);
    if (!ex)
        return -1;
    size_t per = nn_dims_size(m->input);
    float *x = malloc((size_t)bs * per * sizeof *x);
    float *prob = malloc((size_t)bs * k * sizeof *prob);
    float *out = malloc((size_t)bs * k * sizeof *out); /* the output, kept apart from the logits */
    int *y = malloc((size_t)bs * sizeof *y), rc = 0;
    if (!x || !prob || !out || !y) {
        rc = nn_fail(e, "out of memory for a batch of %ld", bs);
        goto done;
    }
    nn_pass p = {.train = 0};
    for (long start = 0; start < s->n; start += bs) {
        int n = (int)(s->n - start < bs ? s->n - start : bs);
        nn_input_from_u8(m, s->images + (size_t)start * per, n, x);
        const float *o = nn_exec_forward_to(ex, x, n, m->nlayers - 1, &p, e), *logits = NULL;
        if (!o) {
            rc = -1;
            break;
        }
        memcpy(out, o, (size_t)n * k * sizeof *out);
        if (m->loss == NN_LOSS_XENT && !(logits = nn_exec_logits(ex, x, out, n, e))) {
            rc = -1;
            break;
        }
        nn_eval_probs(m, out, n, prob);
        for (int i = 0; i < n; i++)
            y[i] = s->labels[start + i];
        nn_meter_batch b = {.n = n, .k = k, .out = out, .prob = prob, .logits = logits,
                            .labels = y};
        nn_meters_add(ms, &b);
    }
done:
    free(x), free(prob), free(out), free(y);
    nn_exec_free(ex);
    return rc;
}

/* The indices of the K largest of p[0..k) in order, equal values by
 * index. */
static void top_classes(const float *p, int k, int K, int *top)
{
    for (int r = 0; r < K; r++) {
        int best = -1;
        for (int j = 0; j < k; j++) {
            int taken = 0;
            for (int q = 0; q < r && !taken; q++)
                taken = top[q] == j;
            if (!taken && (best < 0 || p[j] > p[best]))
                best = j;
        }
        top[r] = best;
    }
}

/* Reads and converts images paths[0..n) into x (the model's input), ok[i]
 * telling which succeeded (errs[i] the reason of the others). */
static void read_batch(const nn_model *m, const char *const *paths, int n, float *x, char *ok,
                       nn_error *errs)
{
    size_t per = nn_dims_size(m->input);
#pragma omp parallel for schedule(dynamic)
    for (int i = 0; i < n; i++) {
        nn_image img = {0};
        ok[i] = nn_image_read(paths[i], &img, &errs[i]) == 0 &&
                nn_input_from_image(m, &img, x + (size_t)i * per, &errs[i]) == 0;
        if (!ok[i]) /* a defined input: the batch runs whole */
            memset(x + (size_t)i * per, 0, per * sizeof *x);
        nn_image_free(&img);
    }
}

int nn_eval_images(nn_model *m, struct nn_cuda *gpu, const char *const *paths, long n,
                   int topk, FILE *tsv, FILE *log, const char *prefix, long *failed,
                   nn_error *e)
{
    int k = out_size(m), K = topk < k ? topk : k;
    *failed = 0;
    if (m->input.c != 1 && m->input.c != 3)
        return nn_fail(e, "the model takes %d-channel inputs; images give 1 (gray) or 3 (RGB)",
                       m->input.c);
    if (topk < 1)
        return nn_fail(e, "top-k: K is %d; it must be at least 1", topk);
    long bs = nn_eval_batch_size(m);
    bs = bs < n ? bs : n > 0 ? n : 1;
    nn_exec *ex = nn_exec_new(m, gpu, (int)bs, e);
    if (!ex)
        return -1;
    size_t per = nn_dims_size(m->input);
    float *x = malloc((size_t)bs * per * sizeof *x);
    float *prob = malloc((size_t)bs * k * sizeof *prob);
    char *ok = malloc((size_t)bs);
    nn_error *errs = malloc((size_t)bs * sizeof *errs);
    int *top = malloc((size_t)K * sizeof *top);
    if (!x || !prob || !ok || !errs || !top) {
        free(x), free(prob), free(ok), free(errs), free(top);
        nn_exec_free(ex);
        return nn_fail(e, "out of memory for a batch of %ld", bs);
    }
    const char *const *names =
        m->class_names && m->classes == k ? (const char *const *)m->class_names : NULL;
    nn_pass p = {.train = 0};
    fprintf(tsv, "file\tclass\tprobability\trank\n");
    for (long start = 0; start < n; start += bs) {
        int nb = (int)(n - start < bs ? n - start : bs);
        read_batch(m, paths + start, nb, x, ok, errs);
        const float *out = nn_exec_forward_to(ex, x, nb, m->nlayers - 1, &p, e);
        if (!out) {
            free(x), free(prob), free(ok), free(errs), free(top);
            nn_exec_free(ex);
            return -1;
        }
        nn_eval_probs(m, out, nb, prob);
        for (int i = 0; i < nb; i++) {
            if (!ok[i]) {
                if (log)
                    fprintf(log, "%s%s%s; skipped it: check the file, or give a PNG or JPEG "
                            "file\n", prefix ? prefix : "", prefix ? ": " : "", errs[i].msg);
                (*failed)++;
                continue;
            }
            top_classes(prob + (size_t)i * k, k, K, top);
            for (int r = 0; r < K; r++) {
                char v[32], num[16];
                nn_format_float(v, sizeof v, prob[(size_t)i * k + top[r]]);
                if (!names)
                    snprintf(num, sizeof num, "%d", top[r]);
                fprintf(tsv, "%s\t%s\t%s\t%d\n", paths[start + i], names ? names[top[r]] : num,
                        v, r + 1);
            }
        }
    }
    free(x), free(prob), free(ok), free(errs), free(top);
    nn_exec_free(ex);
    if (fflush(tsv) != 0 || ferror(tsv))
        return nn_fail(e, "cannot write the predictions");
    return 0;
}

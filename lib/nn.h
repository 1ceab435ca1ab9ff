/* nn.h - the one public header of libnn.
 *
 * Conventions kept everywhere:
 *  - Activations are float32, NCHW, batch-major. A layer sees per-sample
 *    dims (c,h,w); a dense layer's output is (units,1,1).
 *  - Functions that can fail return 0 on success and -1 on failure, and
 *    leave a one-line message in an nn_error. Nothing in the library exits.
 *  - A layer's backward WRITES the input gradient dx (when dx is not NULL)
 *    and ACCUMULATES (+=) into its parameter gradients; the model zeroes
 *    parameter gradients once per step.
 */
#ifndef NN_H
#define NN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define NN_VERSION "0.1.0"

/* ---- errors ------------------------------------------------------------ */

typedef struct nn_error {
    char msg[1024];
} nn_error;

/* Formats a message into e (when e is not NULL) and returns -1. */
int nn_fail(nn_error *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- threads and time -------------------------------------------------- */

void nn_set_threads(int n); /* OpenMP loops and BLAS; n <= 0: all cores */
int nn_threads(void);
double nn_now(void); /* monotonic seconds */
/* The shortest %g text of v that reads back as the same float. */
void nn_format_float(char *buf, size_t size, float v);

/* ---- random numbers ---------------------------------------------------- */

/* A seeded generator (xoshiro256**): the same seed gives the same stream on
 * every machine. */
typedef struct nn_rng {
    uint64_t s[4];
} nn_rng;

void nn_rng_seed(nn_rng *r, uint64_t seed);
uint64_t nn_rng_u64(nn_rng *r);
double nn_rng_uniform(nn_rng *r); /* [0,1) */
double nn_rng_normal(nn_rng *r);  /* standard normal */

/* Counter-based randomness: a pure function of (seed, counter), so a value
 * does not depend on the thread that asks for it (dropout masks). */
/* splitmix64's finaliser: a good 64-bit mixing function. */
static inline uint64_t nn_hash64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}
static inline float nn_counter_uniform(uint64_t seed, uint64_t counter)
{
    return (float)(nn_hash64(seed ^ nn_hash64(counter)) >> 40) *
           (1.0f / 16777216.0f); /* [0,1), 24 bits */
}

/* ---- initializers ------------------------------------------------------ */

typedef enum nn_init_kind {
    NN_INIT_DEFAULT = 0, /* the layer's default (he-normal for weights, 0 for bias) */
    NN_INIT_ZEROS,
    NN_INIT_CONSTANT,       /* a */
    NN_INIT_NORMAL,         /* mean 0, std a */
    NN_INIT_TNORMAL,        /* std a, resampled beyond 2 std (TensorFlow) */
    NN_INIT_UNIFORM,        /* U(-a, a) */
    NN_INIT_XAVIER_NORMAL,  /* std sqrt(2/(fan_in+fan_out)) */
    NN_INIT_XAVIER_UNIFORM, /* U(-b,b), b = sqrt(6/(fan_in+fan_out)) */
    NN_INIT_HE_NORMAL,      /* std sqrt(2/fan_in) */
    NN_INIT_HE_UNIFORM      /* U(-b,b), b = sqrt(6/fan_in) */
} nn_init_kind;

typedef struct nn_init {
    nn_init_kind kind;
    float a;
} nn_init;

/* "zeros", "constant:V" (or a bare number V), "normal:STD", "tnormal:STD",
 * "uniform:A", "xavier" (= xavier-normal), "xavier-normal",
 * "xavier-uniform", "he" (= he-normal), "he-normal", "he-uniform". */
int nn_init_parse(nn_init *init, const char *text, nn_error *e);
/* Writes the text form that nn_init_parse reads back. */
void nn_init_format(nn_init init, char *buf, size_t size);
void nn_init_fill(nn_init init, float *w, size_t n, int fan_in, int fan_out,
                  nn_rng *r);

/* ---- layers ------------------------------------------------------------ */

typedef struct nn_dims {
    int c, h, w;
} nn_dims;

static inline size_t nn_dims_size(nn_dims d)
{
    return (size_t)d.c * d.h * d.w;
}

#define NN_MAX_PARAMS 4
#define NN_NAME_MAX 48

/* One parameter tensor of a layer: a view into the model's parameter block.
 * Buffers (batch-norm running statistics) have grad == NULL and are not
 * touched by optimizers. */
typedef struct nn_param {
    const char *name; /* "weight", "bias", "gamma", "running_mean", ... */
    int ndims;
    int dims[4];
    size_t size;
    float *value;
    float *grad;
    nn_init init;
    int fan_in, fan_out;
    int trainable; /* 0: a buffer, kept in the file, not optimized */
} nn_param;

typedef enum nn_pad_mode {
    NN_PAD_VALID = 0,
    NN_PAD_SAME, /* TensorFlow SAME: out = ceil(in/stride); extra pad at bottom/right */
    NN_PAD_EXPLICIT
} nn_pad_mode;

/* The hyper-parameters any layer may have; each layer type reads the ones it
 * needs from its architecture line (see man 5 nn-arch). */
typedef struct nn_layer_cfg {
    int units;          /* conv output channels, dense units; -1: "classes" */
    int kh, kw;         /* kernel */
    int sh, sw;         /* stride */
    nn_pad_mode pad_mode;
    int pad;            /* NN_PAD_EXPLICIT: the same padding on every side */
    int pt, pl, pb, pr; /* resolved padding: top, left, bottom, right */
    int bias;           /* 1: has a bias */
    nn_init weight_init, bias_init;
    float p;            /* dropout drop probability; leaky relu slope */
    float eps, momentum; /* batch norm */
} nn_layer_cfg;

/* How a pass runs. */
typedef struct nn_pass {
    int train;         /* 1: batch statistics, dropout on; 0: eval */
    uint64_t seed;     /* dropout: counter RNG seed ... */
    uint64_t step;     /* ... and step, so masks are reproducible */
    int param_grads;   /* backward: 0 skips parameter gradients (input grads only) */
    float *work;       /* shared scratch of the model, work_floats(l, n) floats */
    int threads;       /* set by the model: at most this many threads may
                          use per-thread parts of work (sized at reserve) */
} nn_pass;

typedef struct nn_layer nn_layer;

/* Parsed architecture line handed to a layer type's parse function. */
typedef struct nn_args nn_args;

/* A layer type: one file in lib/ defines one (or a few closely related)
 * of these, and lib/layers.c lists them. */
typedef struct nn_layer_type {
    const char *keyword;    /* in architecture files: "conv", "relu", ... */
    const char *usage;      /* one line: "conv OUT KxK [stride=S] [pad=same|valid|N] ..." */
    /* Reads the line's arguments into l->cfg. */
    int (*parse)(nn_layer *l, nn_args *a, nn_error *e);
    /* Given l->in, sets l->out and declares parameters (nn_layer_add_param).
     * Errors say what input was expected. */
    int (*setup)(nn_layer *l, nn_error *e);
    void (*forward)(nn_layer *l, const float *x, float *y, int n,
                    const nn_pass *p);
    /* x: input, y: output of forward, dy: gradient wrt y; writes dx (may be
     * NULL: not needed) and accumulates parameter gradients. */
    void (*backward)(nn_layer *l, const float *x, const float *y,
                     const float *dy, float *dx, int n, const nn_pass *p);
    /* Optional: bytes the layer keeps from forward to backward for a batch
     * of n (l->saved), and floats of shared scratch (nn_pass.work). */
    size_t (*saved_bytes)(const nn_layer *l, int n);
    size_t (*work_floats)(const nn_layer *l, int n);
    /* Writes the arguments after the keyword, as parse reads them. */
    void (*format)(const nn_layer *l, char *buf, size_t size);
    /* Multiply-adds per sample of forward (0 when negligible). */
    double (*flops)(const nn_layer *l);
} nn_layer_type;

struct nn_layer {
    const nn_layer_type *type;
    int index;                /* 0-based position in the architecture */
    char name[NN_NAME_MAX];   /* name= or the type keyword + index */
    int line;                 /* line in the architecture text */
    nn_dims in, out;
    nn_layer_cfg cfg;
    nn_param param[NN_MAX_PARAMS];
    int nparam;
    void *saved;              /* saved_bytes(l, max_batch) */
};

/* Declares a parameter during setup; returns it. dims has ndims entries. */
nn_param *nn_layer_add_param(nn_layer *l, const char *name, int ndims,
                             const int *dims, nn_init init, int fan_in,
                             int fan_out, int trainable);
nn_param *nn_layer_find_param(nn_layer *l, const char *name);

/* The registry (lib/layers.c). */
const nn_layer_type *nn_layer_type_find(const char *keyword);
const nn_layer_type *const *nn_layer_types(void); /* NULL-terminated */

/* Argument access for layer parsers (lib/arch.c). Positional arguments are
 * the words without '='; options are key=value. Every option must be taken
 * by the parser, or the line is an error. */
int nn_args_count(const nn_args *a);
const char *nn_args_get(const nn_args *a, int i);
const char *nn_args_option(nn_args *a, const char *key); /* NULL if absent */
/* Error prefixed with "FILE:LINE: KEYWORD: "; returns -1. */
int nn_args_fail(const nn_args *a, nn_error *e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Helpers: parse a positive int, "KxK" or "K" kernel, pad=..., an init. */
int nn_args_int(const nn_args *a, const char *text, const char *what, int min,
                int *out, nn_error *e);
int nn_args_float(const nn_args *a, const char *text, const char *what,
                  float *out, nn_error *e);
int nn_args_pair(const nn_args *a, const char *text, const char *what, int *h,
                 int *w, nn_error *e);
int nn_args_pad(const nn_args *a, const char *text, nn_layer_cfg *cfg,
                nn_error *e);
int nn_args_init(const nn_args *a, const char *text, nn_init *out,
                 nn_error *e);
/* Resolves cfg pad_mode into pt/pl/pb/pr and the output size of a window
 * op; fails when the output would be empty. */
int nn_window_setup(nn_layer *l, int *oh, int *ow, nn_error *e);

/* ---- losses ------------------------------------------------------------ */

typedef enum nn_loss_kind {
    NN_LOSS_XENT = 0, /* softmax cross-entropy, integer labels, mean over batch */
    NN_LOSS_MSE,      /* mean over all elements */
    NN_LOSS_BCE       /* sigmoid binary cross-entropy on logits, mean over all elements */
} nn_loss_kind;

/* Each returns the mean loss and writes the gradient wrt its input (when d
 * is not NULL). logits [n,k]. */
float nn_loss_softmax_xent(const float *logits, const int *labels, int n,
                           int k, float *dlogits);
float nn_loss_mse(const float *y, const float *target, int n, int k,
                  float *dy);
float nn_loss_sigmoid_bce(const float *logits, const float *target, int n,
                          int k, float *dlogits);
int nn_loss_parse(nn_loss_kind *kind, const char *text, nn_error *e);
const char *nn_loss_name(nn_loss_kind kind);

/* ---- model ------------------------------------------------------------- */

typedef struct nn_model {
    char *arch_text;      /* the architecture as written */
    char *arch_file;      /* where it came from, for messages */
    nn_dims input;
    int classes;          /* resolved "classes" (0: none) */
    char **class_names;   /* classes entries, or NULL */
    nn_loss_kind loss;
    int nlayers;
    nn_layer *layers;
    /* input normalisation: x = (u8/255 - mean[c]) / std[c], channel order */
    float mean[4], std[4];
    int bgr;              /* 1: channels are fed in BGR order */
    char *train_state;    /* training's own text (epoch, step, RNG, history)
                             kept in the file for resume; NULL: none */
    /* parameters: one block for values, one for gradients */
    float *values, *grads;
    size_t nvalues;
    /* activations for a batch of up to max_batch */
    int max_batch;
    const float *x;       /* the input of the last forward (not owned) */
    float **act;          /* act[i]: output of layer i, [max_batch, out] */
    float *dbuf[2];       /* backward ping-pong */
    float *work;
    size_t work_floats;
    int work_threads;     /* nn_threads() when work was sized */
    void *saved_block;
} nn_model;

/* Builds a model from architecture text; classes resolves "classes" (0 if
 * unknown: then "classes" is an error). file names the text in errors. */
nn_model *nn_model_from_arch(const char *text, const char *file, int classes,
                             nn_error *e);
nn_model *nn_model_from_arch_file(const char *path, int classes, nn_error *e);
void nn_model_free(nn_model *m);
/* Fills every parameter from its initializer, from one seed. */
void nn_model_init_params(nn_model *m, uint64_t seed);
/* Sizes activations for batches of up to n (no allocation after this in
 * forward/backward for n' <= n). */
int nn_model_reserve(nn_model *m, int n, nn_error *e);
/* Forward of n samples (reserve first). Returns the last layer's output.
 * x is [n, input] floats, already normalised. */
const float *nn_model_forward(nn_model *m, const float *x, int n,
                              const nn_pass *p);
/* Forward up to and including layer `last`. */
const float *nn_model_forward_to(nn_model *m, const float *x, int n, int last,
                                 const nn_pass *p);
/* Backward from dlast (gradient wrt the output of layer `from`) down to the
 * input. dx (may be NULL) receives the gradient wrt the input. */
void nn_model_backward_from(nn_model *m, int from, const float *dlast,
                            float *dx, int n, const nn_pass *p);
void nn_model_zero_grads(nn_model *m);
/* Loss of the last forward and backward through the whole model. With
 * NN_LOSS_XENT and a final softmax layer, the loss is taken on the softmax
 * input (fused, stable) and backward starts below the softmax. labels: int
 * [n] for XENT, float targets [n, k] for MSE/BCE. dx (may be NULL) gets
 * the gradient wrt the model input. Returns the mean loss;
 * *correct (may be NULL) gets the number of argmax hits (XENT). */
float nn_model_loss_backward(nn_model *m, const void *labels, int n,
                             float *dx, const nn_pass *p, int *correct);
/* Layer by index ("12") or name ("conv1_1"); -1 when none. */
int nn_model_find_layer(const nn_model *m, const char *text);
size_t nn_model_param_count(const nn_model *m); /* trainable values */
void nn_model_summary(const nn_model *m, FILE *f);
/* Architecture text regenerated from the layers (round-trips). */
char *nn_model_format_arch(const nn_model *m);
/* A copy of architecture text with its input line replaced by `in` (the
 * same network at another image size); malloc'd. */
char *nn_arch_with_input(const char *text, nn_dims in);

/* ---- optimizers and schedules ------------------------------------------ */

typedef enum nn_optim_kind {
    NN_OPT_SGD = 0,
    NN_OPT_MOMENTUM,
    NN_OPT_NESTEROV,
    NN_OPT_ADAGRAD,
    NN_OPT_RMSPROP,
    NN_OPT_ADAM,
    NN_OPT_ADAMW
} nn_optim_kind;

typedef struct nn_optim {
    nn_optim_kind kind;
    float lr;           /* base learning rate */
    float momentum;     /* momentum, nesterov, rmsprop (0.9 default for the first two, 0 for rmsprop) */
    float wd;           /* weight decay (L2 added to the gradient; decoupled for adamw) */
    float beta1, beta2; /* adam, adamw: 0.9, 0.999 */
    float alpha;        /* rmsprop smoothing: 0.99 */
    float eps;          /* adam 1e-8, rmsprop 1e-8, adagrad 1e-10 */
    long step;          /* updates done so far */
    int nslots;         /* state floats per parameter value */
    float *state;       /* nslots blocks, each parallel to the model's value block */
    size_t nvalues;
} nn_optim;

/* "sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw",
 * optionally followed by ":key=value,..." (momentum, beta1, beta2, alpha,
 * eps). Sets defaults for the rest; lr and wd are set by the caller. */
int nn_optim_parse(nn_optim *o, const char *text, nn_error *e);
const char *nn_optim_name(nn_optim_kind kind);
int nn_optim_slots(nn_optim_kind kind);
/* Allocates the state for a model (zeroed); step = 0. */
int nn_optim_setup(nn_optim *o, const nn_model *m, nn_error *e);
void nn_optim_free(nn_optim *o);
/* One update of every trainable parameter of m with learning rate lr:
 * increments o->step, then nn_optim_update on each parameter. */
void nn_optim_step(nn_optim *o, nn_model *m, float lr);
/* The update rule on one tensor of n values: w, its gradient g, and the
 * nslots state arrays (slots[i] has n floats); step is 1 on the first
 * update. Matches torch.optim (see man 7 nn-optim). */
void nn_optim_update(const nn_optim *o, float *w, const float *g,
                     float *const *slots, size_t n, float lr, long step);
/* PyTorch's name of state slot i: "momentum_buffer", "sum",
 * "square_avg", "exp_avg", "exp_avg_sq". */
const char *nn_optim_slot_name(nn_optim_kind kind, int i);

typedef enum nn_schedule_kind {
    NN_SCHED_CONSTANT = 0,
    NN_SCHED_STEP,   /* lr * gamma^floor(epoch/every) */
    NN_SCHED_COSINE  /* min + (lr-min) (1 + cos(pi epoch/epochs)) / 2 */
} nn_schedule_kind;

typedef struct nn_schedule {
    nn_schedule_kind kind;
    int every;
    float gamma;
    float min_lr;
    long warmup; /* linear warm-up over the first `warmup` steps */
} nn_schedule;

/* "constant", "step:EVERY[:GAMMA]", "cosine[:MIN_LR]", any of them with
 * ",warmup:STEPS". */
int nn_schedule_parse(nn_schedule *s, const char *text, nn_error *e);
float nn_schedule_lr(const nn_schedule *s, float base, int epoch, int epochs,
                     long step);

/* ---- HDF5 files (lib/h5.c) --------------------------------------------- */

/* Writes the model (and the optimizer state when o is not NULL) to path
 * through a temporary file renamed into place. "-" writes to stdout. */
int nn_model_save(const nn_model *m, const nn_optim *o, const char *path,
                  nn_error *e);
/* Loads a model; when o is not NULL and the file has optimizer state, it is
 * restored into o (o->kind etc. from the file). */
nn_model *nn_model_load(const char *path, nn_optim *o, nn_error *e);

/* Generic reads used by tools and tests. */
typedef struct nn_h5 nn_h5;
nn_h5 *nn_h5_open(const char *path, nn_error *e); /* "-": stdin */
void nn_h5_close(nn_h5 *f);
/* Reads a float dataset; *data is malloc'd; dims gets up to 8 dims. */
int nn_h5_read_floats(nn_h5 *f, const char *path, float **data, int *ndims,
                      int dims[8], nn_error *e);
/* Reads a string attribute of an object ("/" for the root); malloc'd. */
int nn_h5_read_attr_string(nn_h5 *f, const char *obj, const char *name,
                           char **out, nn_error *e);
int nn_h5_read_attr_double(nn_h5 *f, const char *obj, const char *name,
                           double *out, nn_error *e);
/* The names of a group's members, sorted; NULL-terminated, malloc'd. */
char **nn_h5_list(nn_h5 *f, const char *group, nn_error *e);
int nn_h5_exists(nn_h5 *f, const char *path);
void nn_strv_free(char **v);

/* ---- images (lib/image.c: the only file that includes png.h, jpeglib.h) */

/* 8-bit image, rows top to bottom, channels interleaved (HWC): c is 1
 * (gray), 3 (RGB) or 4 (RGBA, from PNG only). */
typedef struct nn_image {
    int w, h, c;
    uint8_t *data;
} nn_image;

/* Decodes a PNG or JPEG (by its first bytes) from memory; name is used in
 * errors ("cat.jpg: truncated JPEG"). 16-bit PNGs are reduced to 8 bits,
 * palettes expanded; RGBA is kept as 4 channels. */
int nn_image_decode(const void *buf, size_t len, const char *name,
                    nn_image *img, nn_error *e);
int nn_image_read(const char *path, nn_image *img, nn_error *e);
/* Writes PNG, or JPEG (quality 92) when path ends in .jpg/.jpeg; through a
 * temporary file renamed into place; "-" writes PNG to stdout. */
int nn_image_write(const char *path, const nn_image *img, nn_error *e);
int nn_image_encode_png(const nn_image *img, uint8_t **out, size_t *len,
                        nn_error *e);
int nn_image_alloc(nn_image *img, int w, int h, int c, nn_error *e);
void nn_image_free(nn_image *img);
/* Converts to c channels (1: luma 0.299 R + 0.587 G + 0.114 B; 3: gray
 * repeated; alpha dropped). dst is allocated. */
int nn_image_convert(const nn_image *src, int c, nn_image *dst, nn_error *e);
/* Bicubic resize (Keys, a = -0.5) to w x h; dst allocated. */
int nn_image_resize(const nn_image *src, int w, int h, nn_image *dst,
                    nn_error *e);
/* Resize so the shorter side is `size`, then crop the centre size x size
 * (keeps the aspect ratio; what --size does). */
int nn_image_fit(const nn_image *src, int size, nn_image *dst, nn_error *e);
/* Float CHW planes: bicubic resize and a k x k box blur (k odd, borders
 * clamped), for nn-vis. tmp has c*h*w floats. */
void nn_resize_bicubic(const float *src, int c, int h, int w, float *dst,
                       int oh, int ow);
void nn_blur_box(float *img, int c, int h, int w, int k, float *tmp);

/* The model's input from 8-bit images (lib/input.c): n images [n,H,W,C]
 * of the model's input size to floats [n,C,H,W], normalised with m->mean,
 * m->std and m->bgr. */
void nn_input_from_u8(const nn_model *m, const uint8_t *hwc, int n, float *out);
/* One image of any size and 1, 3 or 4 channels: converted to the model's
 * channels, resized (shorter side to the input size, centre crop) and
 * normalised into out [C,H,W]. */
int nn_input_from_image(const nn_model *m, const nn_image *img, float *out,
                        nn_error *e);

/* ---- downloads (lib/fetch.c, lib/sha256.c) ----------------------------- */

typedef struct nn_sha256 {
    uint32_t h[8];
    uint64_t len;
    uint8_t buf[64];
    size_t nbuf;
} nn_sha256;
void nn_sha256_init(nn_sha256 *s);
void nn_sha256_update(nn_sha256 *s, const void *data, size_t n);
void nn_sha256_final(nn_sha256 *s, char hex[65]);
int nn_sha256_file(const char *path, char hex[65], nn_error *e);

typedef struct nn_fetch_opts {
    int retries;      /* attempts after the first (default 4), back-off 1,2,4.. s */
    int progress;     /* 1: progress bar on stderr */
    long timeout_s;   /* stall timeout: abort when no byte arrives for this long */
    int quiet;
} nn_fetch_opts;

/* Downloads url to dest: resumes dest.part with an HTTP Range request,
 * retries with back-off, checks sha256 (lower-case hex; NULL: not checked)
 * before renaming dest.part to dest. A mismatch deletes dest.part and is an
 * error naming both sums. A dest that exists with the right sum is used as
 * it is (no network). */
int nn_fetch_url(const char *url, const char *dest, const char *sha256,
                 const nn_fetch_opts *o, nn_error *e);

/* ---- datasets (lib/dataset.c; HDF5 I/O in lib/h5.c; man 5 nn-dataset) -- */

typedef struct nn_split {
    long n;
    uint8_t *images; /* [n, h, w, c] */
    int32_t *labels; /* [n] */
} nn_split;

typedef struct nn_dataset {
    char *name, *source, *checksum;
    int h, w, c;
    int classes;
    char **class_names; /* classes entries */
    float mean[4];      /* per-channel mean of the train images, in [0,1] */
    float std[4];       /* per-channel std of the train images, in [0,1] */
    nn_split train, test;
} nn_dataset;

nn_dataset *nn_dataset_load(const char *path, nn_error *e); /* "-": stdin */
int nn_dataset_save(const nn_dataset *d, const char *path, nn_error *e);
void nn_dataset_free(nn_dataset *d);

/* ---- pictures for people (lib/plot.c, lib/font.c, lib/gif.c) ---------- */

/* Draws text with the built-in bitmap font (ASCII; 6x10 pixel cells,
 * scale >= 1 multiplies them) at x,y (top left) in colour rgb. */
void nn_draw_text(nn_image *img, int x, int y, const char *text, int scale,
                  const uint8_t rgb[3]);
int nn_text_width(const char *text, int scale);

/* A float tensor [c,h,w] (c = 1 or 3) as an 8-bit image scaled from
 * [lo,hi] to [0,255] (lo == hi: the tensor's own min and max). */
int nn_image_from_floats(const float *chw, int c, int h, int w, float lo,
                         float hi, nn_image *out, nn_error *e);
/* Tiles in a grid of cols columns, pad pixels apart, each scaled by an
 * integer zoom (0: fit tiles to at least 64 px), with an optional label
 * above each tile (labels may be NULL). Tiles may differ in size and
 * channel count; the sheet is RGB. */
int nn_image_grid(const nn_image *tiles, int ntiles, int cols, int pad,
                  int zoom, const char *const *labels, nn_image *out,
                  nn_error *e);

typedef struct nn_series {
    const char *label;
    const float *x, *y; /* x NULL: 1, 2, 3, ... */
    int n;
    int dashed;
} nn_series;

typedef struct nn_chart {
    const char *title, *xlabel, *ylabel;
    int width, height; /* 0: 800 x 500 */
    int logy;
    float ymin, ymax;  /* equal: from the data */
} nn_chart;

/* Line chart with axes, ticks, grid, title and a legend; PNG. */
int nn_plot_lines(const char *path, const nn_chart *c, const nn_series *s,
                  int ns, nn_error *e);
/* Bar chart of v[0..n-1] over index (the spike plot); the `nlabel` indices
 * in label[] get their index written above their bar. */
int nn_plot_bars(const char *path, const nn_chart *c, const float *v, int n,
                 const int *label, int nlabel, nn_error *e);
/* One histogram panel per array (values v[i], count[i], title name[i]),
 * side by side in rows of up to `cols`, `bins` bins each. */
int nn_plot_histograms(const char *path, const char *title,
                       const char *const *name, const float *const *v,
                       const size_t *count, int npanels, int cols, int bins,
                       nn_error *e);
/* A heat map of m [rows, cols] with row and column labels and the value
 * written in each cell (a confusion matrix). */
int nn_plot_heatmap(const char *path, const char *title, const float *m,
                    int rows, int cols, const char *const *row_labels,
                    const char *const *col_labels, nn_error *e);
/* An animated GIF of nframes RGB or gray frames of one size, delay in
 * 1/100 s, looping; temporary file + rename. */
int nn_gif_write(const char *path, const nn_image *frames, int nframes,
                 int delay_cs, nn_error *e);

/* ---- TensorBoard event files (lib/tensorboard.c) ----------------------- */

typedef struct nn_tb nn_tb;
/* Creates dir (and parents) and events.out.tfevents.<secs>.<host> in it. */
nn_tb *nn_tb_open(const char *dir, nn_error *e);
int nn_tb_scalar(nn_tb *t, const char *tag, long step, double value);
int nn_tb_histogram(nn_tb *t, const char *tag, long step, const float *v,
                    size_t n);
int nn_tb_image(nn_tb *t, const char *tag, long step, const nn_image *img);
/* The model as a GraphDef: one node per layer in a name scope per layer
 * (conv1_1/..., pool1/...), edges in layer order. */
int nn_tb_graph(nn_tb *t, const nn_model *m);
int nn_tb_flush(nn_tb *t);
int nn_tb_close(nn_tb *t); /* flushes; returns -1 if a write had failed */

/* ---- CUDA (kernels/, when built with nvcc) ----------------------------- */

/* 1 when this build has the CUDA backend. */
int nn_cuda_built(void);
/* Number of usable GPUs (0 when none or no CUDA build); never fails. */
int nn_cuda_device_count(void);

#endif

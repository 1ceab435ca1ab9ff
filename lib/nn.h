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
/* Puts a formatted prefix before the message already in e ("FILE: " before
 * what a lower level said) and returns -1. */
int nn_fail_within(nn_error *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- threads and time -------------------------------------------------- */

void nn_set_threads(int n); /* OpenMP loops and BLAS; n <= 0: all cores */
int nn_threads(void);
double nn_now(void); /* monotonic seconds */
/* Writes buf to path through path.tmp.XXXXXX beside it: written, synced,
 * closed and renamed into place (the directory synced), or removed. An
 * interrupted or failed write never leaves a partial file at path. A
 * symbolic link keeps pointing at the file, which is replaced; a replaced
 * file keeps its mode; a device or FIFO is written into directly. */
int nn_write_file(const char *path, const void *buf, size_t size, nn_error *e);
/* 0 when an output file can be created at path ("-" always can): its
 * directory exists and is writable, and path is not a directory. Programs
 * check every output before they start working. */
int nn_check_output(const char *path, nn_error *e);
/* 1 when path can only be written as a stream, never rewritten or renamed
 * into: "-", standard output itself (/dev/stdout), a pipe or a socket. */
int nn_is_stream(const char *path);
/* mkdir -p: dir and its missing parents; then dir must be a writable
 * directory ("DIR: not a directory" when a file is in the way). */
int nn_mkdir_p(const char *dir, nn_error *e);
/* The shallowest prefix of dir that does not exist (what nn_mkdir_p would
 * make first; malloc'd), NULL when dir exists. nn_rmdir_up undoes it:
 * removes dir and its parents up to top while they are empty. */
char *nn_missing_prefix(const char *dir);
void nn_rmdir_up(const char *dir, const char *top);
/* Registers an exit check: when standard output could not be written (a
 * full disk, a closed pipe), the program exits 1 after "PROG: standard
 * output: write failed: WHY" (EPIPE without the message). */
void nn_check_stdout_at_exit(const char *prog);
/* The shortest %g text of v that reads back as the same float. */
void nn_format_float(char *buf, size_t size, float v);
/* A shape as "[d0,d1,...]". */
void nn_format_dims(char *buf, size_t size, int ndims, const int *dims);
/* The index of the largest of v[0..k) (the first of equals): a prediction. */
int nn_argmax(const float *v, int k);

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
/* (Marked for the GPU too: kernels/ computes the same dropout masks.) */
#if defined(__CUDACC__)
#define NN_HOST_DEVICE __host__ __device__
#else
#define NN_HOST_DEVICE
#endif
/* splitmix64's finaliser: a good 64-bit mixing function. */
static inline NN_HOST_DEVICE uint64_t nn_hash64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}
static inline NN_HOST_DEVICE float nn_counter_uniform(uint64_t seed, uint64_t counter)
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
/* The options of a layer with weights: init=INIT and bias=none|INIT (a bare
 * number is a constant), into cfg->weight_init, bias_init and bias. */
int nn_args_weights(nn_args *a, nn_layer_cfg *cfg, nn_error *e);
/* Appends " init=..." and " bias=..." to buf (n characters so far, size in
 * all) where they differ from the defaults; returns the new length. */
size_t nn_format_weights(const nn_layer_cfg *cfg, char *buf, size_t size, size_t n);
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
    int loaded;           /* 1: its weights came from a file (model or Keras) */
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
int nn_optim_has_momentum(nn_optim_kind kind); /* momentum, nesterov, rmsprop */
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
/* The scalars of an update, computed once per tensor (in double where
 * torch does), for the CPU loops and the GPU kernel alike. */
typedef struct nn_optim_coeffs {
    float neg_lr, wd, mu, eps;     /* -lr; L2 decay (0 for adamw) */
    int first, nesterov, use_mu;   /* momentum: first step; rmsprop: momentum > 0 */
    float alpha, one_alpha;        /* rmsprop */
    float beta1, beta2, one_b1, one_b2, neg_step_size, bc2_sqrt; /* adam */
    float keep;                    /* adamw: 1 - lr wd */
    int adamw;                     /* adamw with wd != 0 */
} nn_optim_coeffs;
void nn_optim_coeffs_of(const nn_optim *o, float lr, long step, nn_optim_coeffs *c);
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
/* Opens a file held in memory (buf is copied); name is for messages. */
nn_h5 *nn_h5_open_image(const void *buf, size_t size, const char *name, nn_error *e);
/* 1 when buf starts with the HDF5 signature. */
int nn_is_hdf5(const void *buf, size_t size);
void nn_h5_close(nn_h5 *f);
/* Reads a float dataset; *data is malloc'd; dims gets up to 8 dims. */
int nn_h5_read_floats(nn_h5 *f, const char *path, float **data, int *ndims,
                      int dims[8], nn_error *e);
/* Reads a string attribute of an object ("/" for the root); malloc'd. */
int nn_h5_read_attr_string(nn_h5 *f, const char *obj, const char *name,
                           char **out, nn_error *e);
/* The n strings of a string attribute of any shape (fixed or variable
 * length); *out NULL-terminated. An empty attribute of any type (h5py
 * stores [] as float64) is no strings. */
int nn_h5_read_attr_strings(nn_h5 *f, const char *obj, const char *name,
                            char ***out, size_t *n, nn_error *e);
/* 1 when attribute name of obj exists. */
int nn_h5_has_attr(nn_h5 *f, const char *obj, const char *name);
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
/* n inputs of standard-normal noise from seed into out [n, C,H,W]. */
void nn_input_noise(const nn_model *m, int n, uint64_t seed, float *out);
/* The image files paths[0..n) read and normalised into out [n, C,H,W];
 * the first that cannot be read or fitted is an error naming it. */
int nn_input_from_files(const nn_model *m, char *const *paths, int n, float *out,
                        nn_error *e);

/* ---- downloads (lib/fetch.c, lib/sha256.c, lib/md5.c, lib/checksum.c) - */

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

/* MD5 (RFC 1321), for registry sums of 32 hex digits: some publishers
 * (Keras's pretrained weights) give no SHA-256. */
typedef struct nn_md5 {
    uint32_t h[4];
    uint64_t len;
    uint8_t buf[64];
    size_t nbuf;
} nn_md5;
void nn_md5_init(nn_md5 *s);
void nn_md5_update(nn_md5 *s, const void *data, size_t n);
void nn_md5_final(nn_md5 *s, char hex[33]);
int nn_md5_file(const char *path, char hex[33], nn_error *e);
/* A registry sum's kind by its length: 64 (SHA-256), 32 (MD5), or 0 (not
 * a sum: another length, or not hex). */
int nn_sum_kind(const char *sum);
const char *nn_sum_name(const char *sum); /* "MD5" for 32 digits, else "SHA-256" */
/* The sum of the file at path of the kind `like` is (lower-case hex). */
int nn_file_sum(const char *path, const char *like, char hex[65], nn_error *e);

typedef struct nn_fetch_opts {
    int retries;      /* attempts after the first (default 4), back-off 1,2,4.. s */
    int progress;     /* 1: progress bar on stderr */
    long timeout_s;   /* stall timeout: abort when no byte arrives for this long */
    int quiet;
} nn_fetch_opts;

/* Downloads url to dest: resumes dest.part with an HTTP Range request,
 * retries with back-off, checks sha256: a SHA-256 (64 hex digits) or an
 * MD5 (32) (NULL: not checked)
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

/* source: where the files came from (URLs or paths, one a line, or
 * "folder:PATH"); checksum: "SHA256  FILE" lines as sha256sum writes them
 * (NULL: none). class_names has a NULL after its `classes` entries. */
nn_dataset *nn_dataset_load(const char *path, nn_error *e); /* "-": stdin */
/* Through a temporary file renamed into place; "-": stdout. Images are
 * chunked and deflate-compressed. */
int nn_dataset_save(const nn_dataset *d, const char *path, nn_error *e);
void nn_dataset_free(nn_dataset *d);
/* An empty dataset (no images) of h x w x c images and `classes` classes
 * named from names[] (NULL: "0", "1", ...); every string is copied. */
nn_dataset *nn_dataset_new(const char *name, int h, int w, int c, int classes,
                           const char *const *names, nn_error *e);
/* d->mean and d->std: per channel over the train images, in [0,1] (the
 * test images when train is empty; 0 and 1 when both are). */
void nn_dataset_stats(nn_dataset *d);

/* Row selection on labels[n] (values in 0..classes-1), a pure function of
 * the seed; mark[i] is set to 1 for the rows picked, 0 for the others.
 * fraction: round(frac * count) rows of every class. count: min(k, n)
 * rows in all, shared among the classes in proportion to their sizes
 * (largest remainders). */
int nn_pick_fraction(const int32_t *labels, long n, int classes, double frac,
                     uint64_t seed, uint8_t *mark, nn_error *e);
int nn_pick_count(const int32_t *labels, long n, int classes, long k,
                  uint64_t seed, uint8_t *mark, nn_error *e);

/* In-place operations. select_classes keeps the classes named in `list`
 * (comma-separated), relabelled 0, 1, ... in list order; an unknown name
 * is an error that lists the known ones. split pools train and test and
 * puts round(frac * count) images of every class in test, the rest in
 * train, both in their original order. limit keeps at most n images of
 * each split (nn_pick_count, original order). gray makes one luma channel
 * (nn_image_convert's). resize fits every image to size x size
 * (nn_image_fit: the shorter side scaled to size, the centre cropped). */
int nn_dataset_select_classes(nn_dataset *d, const char *list, nn_error *e);
int nn_dataset_split(nn_dataset *d, double frac, uint64_t seed, nn_error *e);
int nn_dataset_limit(nn_dataset *d, long n, uint64_t seed, nn_error *e);
int nn_dataset_gray(nn_dataset *d, nn_error *e);
int nn_dataset_resize(nn_dataset *d, int size, nn_error *e);

/* ---- dataset sources (lib/registry.c, lib/formats.c; man 1 nn-fetch-data) */

/* One line of the registry (data/datasets.tsv): one file of a dataset and
 * one place to get it from. A dataset has a line per file and place. */
typedef struct nn_reg_row {
    char *name;      /* the dataset: "fashion-mnist" */
    char *format;    /* idx, cifar10, pets, dogs-vs-cats; keras:ARCH[:MODE][:notop] */
    char *file;      /* "train-images-idx3-ubyte.gz" */
    long long size;  /* bytes; -1: unknown */
    char *sha256;    /* lower-case hex: SHA-256 (64 digits) or MD5 (32); NULL: unknown */
    char *source;    /* base URL (ends in '/'), a directory (starts with
                        '/'), or NULL: nowhere (the user brings the file) */
    char *classes;   /* comma-separated class names; NULL: from the files */
    int line;
} nn_reg_row;

typedef struct nn_registry {
    char *path;
    nn_reg_row *rows;
    int n;
} nn_registry;

/* path NULL: $NN_DATASETS, else the registry installed beside the program
 * (PREFIX/share/nn/datasets.tsv, or data/datasets.tsv of a source tree). */
nn_registry *nn_registry_load(const char *path, nn_error *e);
void nn_registry_free(nn_registry *r);
/* The registry as TSV with a header line (what --list prints). */
void nn_registry_print(const nn_registry *r, FILE *out);

/* How nn_dataset_fetch gets and builds a dataset. */
typedef struct nn_dataset_opts {
    const char *from;   /* a directory holding the files (a pretrained model: also
                           the weight file itself): no network */
    const char *mirror; /* replaces the registry's base URLs */
    const char *cache;  /* NULL: $NN_DATA_HOME, else ~/.cache/nn */
    nn_fetch_opts fetch;
    int size;           /* > 0: nn_image_fit to size x size */
    const char *classes; /* comma-separated subset, in label order */
    double test_frac;   /* < 0: the source's split, 0.2 where it has none */
    long limit;         /* > 0: at most this many images per split */
    int gray;
    uint64_t seed;      /* of --test-frac and --limit */
    int verbose;        /* 1: report (through note) each step */
    /* Warnings (a skipped image, an unverifiable file) and notes; may be
     * NULL. */
    void (*warn)(void *ctx, const char *msg);
    void (*note)(void *ctx, const char *msg);
    void *ctx;
} nn_dataset_opts;
/* A warning (to o->warn) or, when o->verbose, a note (to o->note). */
void nn_dataset_say(const nn_dataset_opts *o, int warning, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The dataset `name` of registry r, or "folder:PATH" (one sub-folder per
 * class), got (local copy, cache, or download with checksum), read,
 * selected, split, resized, with its statistics. */
nn_dataset *nn_dataset_fetch(const nn_registry *r, const char *name,
                             const nn_dataset_opts *o, nn_error *e);
/* The local path of each distinct file of dataset `name` (registry order)
 * after nn_dataset_fetch's search and checks; paths[] and sums[] (NULL
 * where unknown) are malloc'd, n entries; origin[i] is the URL or path it
 * came from. */
int nn_dataset_files(const nn_registry *r, const char *name,
                     const nn_dataset_opts *o, int *n, char ***files,
                     char ***paths, char ***sums, char ***origin, nn_error *e);

/* ---- pretrained models (lib/keras.c; man 1 nn-fetch-data) ------------ */

/* Keras weight files, as Keras 1 and 2 save_weights write them (HDF5): the
 * root attribute layer_names lists the layers in order, each layer's group
 * has the attribute weight_names, and the values are the datasets
 * LAYER/WEIGHT_NAME ("block1_conv1/block1_conv1/kernel:0", or Keras 1's
 * "block1_conv1/block1_conv1_W_1:0"). A whole saved model (model.save) is
 * read from its group model_weights. */
typedef struct nn_keras_opts {
    int notop;       /* 1: build only the layers before the first flatten,
                        gap or dense (a Keras include_top=False file; a
                        full file's classifier is then not read) */
    int size;        /* > 0: a size x size input (the architecture's
                        channels) instead of the architecture's */
    int classes;     /* what "dense classes" means; 0: the width of the
                        file's last dense kernel */
    const char *const *class_names; /* `classes` names, or NULL */
    const char *preprocess; /* a Keras preprocessing mode (nn_keras_preprocess);
                               NULL: the plain u/255 */
} nn_keras_opts;

/* Builds the model of architecture text `arch` (arch_file names it in
 * messages) and fills its conv and dense layers, in order, from the Keras
 * layers that have weights, in order: conv kernels [kh,kw,in,out] become
 * [out,in,kh,kw], dense kernels [in,out] become [out,in], and a dense layer
 * after a flatten of a (C,H,W) map has its input rows put from Keras's
 * H,W,C order into nn's C,H,W order. Every other layer type with
 * parameters is an error. Errors are one line naming the file and the
 * layers: a layer missing from the file, a shape that differs, a file that
 * is not Keras's. */
nn_model *nn_keras_load(const char *path, const char *arch,
                        const char *arch_file, const nn_keras_opts *o,
                        nn_error *e);
/* Sets m's input normalisation (mean, std, bgr) to one of Keras's
 * imagenet_utils modes: "caffe" (channels in BGR order, x = u - [103.939,
 * 116.779, 123.68] on 0..255 pixels, no scaling: VGG16, VGG19, ResNet50),
 * "tf" (x = u/127.5 - 1) or "torch" (x = (u/255 - [0.485, 0.456, 0.406]) /
 * [0.229, 0.224, 0.225], RGB). */
int nn_keras_preprocess(nn_model *m, const char *mode, nn_error *e);

/* Registry rows whose format is "keras:ARCH[:MODE][:notop]" are pretrained
 * models, not datasets: ARCH names the architecture arch/ARCH.nn in the
 * registry's directory, MODE the preprocessing (nn_keras_preprocess), notop
 * the conv part only; their classes column is a list, or "@FILE": a file
 * in the registry's directory with one name a line ('#' lines skipped).
 * 1 when `name` is such a model of r. */
int nn_registry_is_model(const nn_registry *r, const char *name);
/* The pretrained model `name` of r: its weight file got the way
 * nn_dataset_files gets a dataset's (cache, download with checksum, or
 * o->from: a directory holding it, or the file itself, taken whatever its
 * sum, with a warning when the registry lists another), then converted
 * (nn_keras_load). o->size > 0: a size x size input (notop models only).
 * The other dataset options do not apply. */
nn_model *nn_pretrained_fetch(const nn_registry *r, const char *name,
                              const nn_dataset_opts *o, nn_error *e);

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

/* ---- training (lib/data.c, lib/train.c, lib/search.c) ------------------ */

/* What a loader reads: rows index[0..n) of a split of h x w x c images
 * (index NULL: rows 0..n-1), in batches of `batch` (the last one may be
 * smaller), as float [c, h, w] with x = (u/255 - mean[c]) / std[c]. */
typedef struct nn_data {
    const nn_split *split;
    int h, w, c;
    const long *index;
    long n;
    int batch;
    int shuffle;   /* 1: a new order each epoch, a pure function of (seed, epoch) */
    int augment;   /* 1: a random crop of the image zero-padded (black) by
                      nn_augment_pad px, and a horizontal flip with p 0.5,
                      pure functions of (seed, epoch, row) */
    uint64_t seed;
    float mean[4], std[4];
} nn_data;

typedef struct nn_batch {
    long epoch, index; /* 0-based epoch and batch within it */
    int n;
    float *x;          /* [n, c, h, w] */
    int *y;            /* [n] labels */
} nn_batch;

long nn_data_batches(const nn_data *d); /* ceil(n / batch) */
int nn_augment_pad(int h, int w);       /* 4 for images of >= 32 px, else 2 */
/* The sample positions (0..n-1) of epoch `epoch` in training order. */
void nn_data_order(const nn_data *d, long epoch, long *order);
/* Makes batch b of an epoch whose order nn_data_order gave (NULL: in
 * order): out->x needs batch*c*h*w floats, out->y batch ints. */
void nn_data_fill(const nn_data *d, const long *order, long epoch, long b,
                  nn_batch *out);
/* Splits rows 0..n-1 of a training split into a share `val` for
 * validation and the rest for training (at most `limit` rows when limit >
 * 0), each sorted, the same for the same seed; both arrays malloc'd. */
int nn_data_split(long n, float val, long limit, uint64_t seed, long **train,
                  long *ntrain, long **valid, long *nval, nn_error *e);

/* A prefetch thread: it makes batch k+1 while the caller trains on batch k
 * (two buffers, allocated at start). Batches come in order from (epoch,
 * batch) to the end of epoch end_epoch-1, exactly as nn_data_fill makes
 * them. With a stage (not NULL; one loader at a time, its slots at least
 * a batch) their inputs are made in its host slots and sent on to the
 * GPU by the thread: the caller must not change them. */
typedef struct nn_loader nn_loader;
struct nn_cuda_stage;
nn_loader *nn_loader_start(const nn_data *d, long epoch, long batch,
                           long end_epoch, struct nn_cuda_stage *stage, nn_error *e);
/* The next batch, valid until the next call; NULL after the last. */
const nn_batch *nn_loader_next(nn_loader *l);
double nn_loader_wait(const nn_loader *l); /* seconds next() waited for data */
void nn_loader_stop(nn_loader *l);         /* stops the thread, frees */

/* One epoch's record. Losses and accuracies are means over samples; NAN
 * where not measured. */
typedef struct nn_epoch_stats {
    int epoch;                   /* 1-based */
    long step;                   /* updates done at its end */
    float train_loss, train_acc; /* over the epoch's batches, in train mode */
    float val_loss, val_acc;     /* eval mode, after the epoch */
    float test_loss, test_acc;
    float lr;                    /* of the epoch's last step */
    double images_per_s;         /* training throughput */
    double seconds;              /* training and evaluation */
    double data_wait;            /* share of training time spent waiting for data */
} nn_epoch_stats;

typedef struct nn_step_stats {
    long step;                   /* updates done, this one included */
    int epoch;                   /* 0-based */
    long batch, batches;         /* this batch (0-based) of the epoch's */
    float loss, acc, lr;         /* this batch's */
    float probe_loss, probe_acc; /* a test batch every probe_every steps, else NAN */
    double elapsed;              /* seconds of this epoch's training so far */
    long images;                 /* images trained in this epoch so far */
} nn_step_stats;

typedef struct nn_trainer nn_trainer;

typedef struct nn_train_cfg {
    int epochs;             /* in all: a resumed run continues up to this */
    int batch;
    uint64_t seed;          /* order, augmentation, dropout (init: the caller) */
    float val;              /* share of train held out for validation */
    long train_limit;       /* > 0: train on at most this many samples */
    int augment;
    int mean_subtract;      /* the model's mean from the dataset's, std 1 */
    int eval_test;          /* evaluate the test split after each epoch */
    nn_schedule schedule;   /* applied to the optimizer's lr */
    long probe_every;       /* > 0: probe a test batch every K steps */
    const char *checkpoint; /* written at each epoch end and when stopped */
    struct nn_cuda *gpu;    /* not NULL: train on this GPU; the model's host
                               values are brought up to date at epoch ends,
                               when stopped, and ... */
    long sync_every;        /* ... before on_step every K steps (> 0; the
                               weights only, not the optimizer's state) */
    /* Hooks (each may be NULL). A hook returning -1 (message in e) ends
     * training with that error; stop() returning nonzero ends it after the
     * current step, with a checkpoint. */
    void *ctx;
    int (*on_step)(void *ctx, const nn_trainer *t, const nn_step_stats *s,
                   nn_error *e);
    int (*on_epoch)(void *ctx, const nn_trainer *t, const nn_epoch_stats *s,
                    nn_error *e);
    int (*stop)(void *ctx);
} nn_train_cfg;

/* A training run. The fields are for reading (hooks); nn_trainer_new and
 * nn_trainer_run own them. */
struct nn_trainer {
    nn_train_cfg cfg;
    nn_model *m;
    nn_optim *o;
    const nn_dataset *d;
    nn_data train, val, test;   /* val.n == 0: no validation split */
    long *train_rows, *val_rows;
    int epoch;                  /* 0-based epoch of the next step */
    long batch;                 /* and its batch */
    long step;                  /* updates done */
    double part_loss;           /* sums over the current epoch so far */
    long part_correct, part_seen;
    double part_seconds, part_wait;
    nn_epoch_stats *history;    /* one per finished epoch */
    int nhistory, cap;
    float *targets;             /* one-hot targets for mse/bce, [batch, classes] */
    long probe_batch;           /* the next test batch probed */
    float *probe_x;
    int *probe_y;
    int diverged;               /* the run ended on a non-finite loss or weights */
    struct nn_exec *ex;         /* the model on the CPU or on cfg.gpu */
};

/* epochs 10, batch 64, seed 1, schedule constant, the rest 0. */
void nn_train_defaults(nn_train_cfg *c);
/* Fails when training m with batches of `batch` would keep more in memory
 * than the machine has: the dataset d, parameter values and gradients,
 * `slots` optimizer floats per value, and the activations as
 * nn_model_reserve plans them (better than being killed once memory runs
 * out). The message gives the bytes needed, by kind, and available. */
int nn_train_check_memory(const nn_model *m, int slots, int batch, const nn_dataset *d,
                          nn_error *e);
/* Checks that model m (named mname in the message) fits dataset d: image
 * channels and size, and classes. The advice fits where m came from: an
 * architecture (change it), a checkpoint of nn-train (the data it was
 * trained on), or other weights from a file (fetch the data to fit). */
int nn_train_check_fit(const nn_model *m, const char *mname,
                       const nn_dataset *d, const char *dname, nn_error *e);
/* Reads the settings a checkpoint was trained with (m->train_state) into
 * c: epochs, batch, seed, val, train_limit, augment, mean_subtract,
 * eval_test, schedule. */
int nn_train_state_settings(const char *state, nn_train_cfg *c, nn_error *e);
/* The settings a command line gave, which win over a checkpoint's. */
enum {
    NN_GIVEN_EPOCHS = 1, NN_GIVEN_BATCH = 2, NN_GIVEN_SEED = 4, NN_GIVEN_VAL = 8,
    NN_GIVEN_LIMIT = 16
};
/* Loads checkpoint path to continue training on d (named dname): the
 * model, written by nn-train (m->train_state and the optimizer's state,
 * into o); it must fit d. c gets the checkpoint's settings except those
 * `given` (kept from c); augment and eval_test stay on when either side
 * has them. want (NULL: none asked for) must be the checkpoint's
 * optimizer. */
nn_model *nn_train_resume_load(const char *path, const nn_dataset *d, const char *dname,
                               unsigned given, const nn_optim *want, nn_optim *o,
                               nn_train_cfg *c, nn_error *e);
/* Prepares training of m with o (set up for m) on d: checks the fit, sets
 * the normalisation (mean_subtract) and class names, splits, reserves.
 * When m->train_state is set (a checkpoint), continues where it stopped. */
nn_trainer *nn_trainer_new(nn_model *m, nn_optim *o, const nn_dataset *d,
                           const nn_train_cfg *c, nn_error *e);
/* Trains up to cfg.epochs. 0: done; 1: stopped by cfg.stop, checkpoint
 * written; -1: error. A non-finite loss is an error naming the step, and
 * leaves the last checkpoint on disk as it was. */
int nn_trainer_run(nn_trainer *t, nn_error *e);
void nn_trainer_free(nn_trainer *t);
/* Mean loss and accuracy of m on d in eval mode (m reserved for d->batch). */
int nn_evaluate(nn_model *m, const nn_data *d, float *loss, float *acc,
                nn_error *e);
/* The per-epoch TSV: the header line and one epoch's row (no newline). */
const char *nn_epoch_tsv_header(void);
void nn_epoch_tsv_row(const nn_epoch_stats *s, char *buf, size_t size);

/* What a training run writes besides the model (lib/train_log.c). */
typedef struct nn_train_log_cfg {
    const char *tsv;          /* the per-epoch TSV ("-": stdout); NULL: none */
    const char *logdir;       /* TensorBoard runs logdir/train and logdir/test */
    long log_every;           /* scalars every K steps */
    const char *plot_dir;     /* loss.png and accuracy.png after each epoch */
    long filters_every;       /* > 0: a filter snapshot every N steps */
    int filters_layer;        /* a conv layer (-1: the first) */
    const char *filters_path; /* writes PATH.gif and PATH.png */
} nn_train_log_cfg;

/* Where the filter snapshots go: PLOT_DIR/filters, or MODEL without .h5
 * and "-filters" (then .gif and .png are added); malloc'd. */
char *nn_train_filters_path(const char *plot_dir, const char *model);
/* The directories nn_train_log_prepare made (the first of each chain it
 * made; NULL: none), so that a run that fails before writing into them
 * can remove them again (nn_train_log_unprepare, which frees them). */
typedef struct nn_made_dirs {
    char *plot, *logs;
} nn_made_dirs;
/* Before any work: every file the log will write (for a model saved at
 * `model`) can be created, and the plot and TensorBoard directories exist,
 * made with their parents (noted in made, which may be NULL). */
int nn_train_log_prepare(const nn_train_log_cfg *c, const char *model, nn_made_dirs *made,
                         nn_error *e);
/* Removes the directories of made while they are empty; frees made's. */
void nn_train_log_unprepare(const nn_train_log_cfg *c, nn_made_dirs *made);
typedef struct nn_train_log nn_train_log;
nn_train_log *nn_train_log_open(const nn_train_log_cfg *c, const nn_trainer *t,
                                nn_error *e);
int nn_train_log_step(nn_train_log *l, const nn_trainer *t,
                      const nn_step_stats *s, nn_error *e);
int nn_train_log_epoch(nn_train_log *l, const nn_trainer *t,
                       const nn_epoch_stats *s, nn_error *e);
/* Writes the filter GIF and sheet, closes everything, frees l. */
int nn_train_log_close(nn_train_log *l, const nn_trainer *t, nn_error *e);
/* dir/loss.png and dir/accuracy.png: train, validation and test per epoch. */
int nn_plot_history(const char *dir, const nn_epoch_stats *h, int n,
                    nn_error *e);

/* Random hyper-parameter search (lib/search.c): every trial trains a
 * fresh model on train/validation (never test) with lr and wd drawn
 * log-uniformly from their ranges. */
typedef struct nn_search_cfg {
    int trials;
    float lr_lo, lr_hi; /* lr_lo == 0: the optimizer's lr */
    float wd_lo, wd_hi; /* wd_lo == 0: the optimizer's wd */
    const char *tsv;    /* trials sorted by final validation accuracy */
    const char *png;    /* the best trials' accuracy curves in a grid */
    int best;           /* trials in the grid (0: 20) */
    int quiet;          /* 0: one line per trial on stderr */
} nn_search_cfg;

/* Runs the search; train->stop is honoured (the trials so far are still
 * written; returns 1). */
/* The chart beside a search's results: RESULTS.tsv -> RESULTS.png (any
 * other name gets .png added); malloc'd. */
char *nn_search_png_path(const char *tsv);
int nn_search(const char *arch_text, const char *arch_file,
              const nn_dataset *d, const nn_optim *base,
              const nn_train_cfg *train, const nn_search_cfg *s, nn_error *e);

/* ---- evaluation (lib/eval.c, lib/meter*.c) ----------------------------- */

/* A meter measures a model over batches of its outputs (accuracy, top-k,
 * loss, ...). Each meter is one file lib/meter_NAME.c that defines an
 * nn_meter_type, and one line in lib/meter.c: changing the measure is
 * changing one word of --meter. */

/* What every meter is made with. */
typedef struct nn_meter_cfg {
    int classes;                    /* k: outputs per sample */
    const char *const *class_names; /* k names; NULL: "0", "1", ... */
    nn_loss_kind loss;              /* the model's loss (the loss meter) */
    int topk;                       /* K of the top-k meter (5) */
    FILE *confusion_tsv;            /* confusion: the matrix as TSV here ... */
    const char *confusion_png;      /* ... and as a heat map PNG (NULL: not) */
    const char *confusion_title;    /* the heat map's title (NULL: plain) */
} nn_meter_cfg;

/* One batch of n samples as the meters see it. */
typedef struct nn_meter_batch {
    int n, k;
    const float *out;    /* [n,k] the model's output; the prediction is its
                            argmax (the first of equal values) */
    const float *prob;   /* [n,k] class probabilities (nn_eval_probs) */
    const float *logits; /* [n,k] what softmax cross-entropy is taken on for
                            xent models (the input of a final softmax, else
                            out); NULL: none (then xent is -log prob) */
    const int *labels;   /* [n] true classes, 0..k-1 */
} nn_meter_batch;

typedef struct nn_meter_type {
    const char *name; /* as --meter takes it: "accuracy" */
    const char *help; /* one line */
    /* The meter's state; NULL with a message in e when the meter does not
     * apply (auc on a 10-class model). */
    void *(*create)(const nn_meter_cfg *c, nn_error *e);
    void (*add)(void *state, const nn_meter_batch *b);
    /* Rows to tsv (nn_meter_row) and lines for people to people; either
     * may be NULL. */
    int (*report)(void *state, const nn_meter_cfg *c, FILE *tsv, FILE *people,
                  nn_error *e);
    void (*free)(void *state);
} nn_meter_type;

/* The registry (lib/meter.c). */
const nn_meter_type *const *nn_meter_types(void); /* NULL-terminated */
const nn_meter_type *nn_meter_type_find(const char *name);
/* "loss, accuracy, ...": every meter's name, for messages. */
void nn_meter_names(char *buf, size_t size);
/* One row "metric\tclass\tvalue" of the metrics table; cls NULL: "-" (all
 * classes). Whole numbers are written in full, others as the shortest
 * text that reads back as the same float. */
void nn_meter_row(FILE *tsv, const char *metric, const char *cls, double value);
/* Class i's name under c, or its number written into buf. */
const char *nn_meter_class_name(const nn_meter_cfg *c, int i, char buf[16]);

/* Meters chosen by name. */
typedef struct nn_meters nn_meters;
/* list: names separated by commas ("loss,accuracy,top5"; "topN" is topk
 * with K = N). An unknown name is an error that lists the valid ones. */
nn_meters *nn_meters_new(const char *list, const nn_meter_cfg *c, nn_error *e);
void nn_meters_add(nn_meters *s, const nn_meter_batch *b);
/* The header "metric\tclass\tvalue" and every meter's rows in list order
 * to tsv, and their lines to people (either may be NULL). */
int nn_meters_report(nn_meters *s, FILE *tsv, FILE *people, nn_error *e);
void nn_meters_free(nn_meters *s);

/* Samples per inference batch: 256, or fewer when a sample's activations
 * are large (a batch takes about 512 MiB). */
int nn_eval_batch_size(const nn_model *m);
/* Class probabilities from the model's output out [n,k]: a final softmax's
 * output and mse outputs as they are; softmax for xent, sigmoid for bce. */
void nn_eval_probs(const nn_model *m, const float *out, int n, float *prob);
/* The meter settings of a model: classes, class names, loss; topk 5. */
void nn_eval_meter_cfg(const nn_model *m, nn_meter_cfg *c);
/* Runs m in eval mode (dropout off, batch-norm running statistics) over
 * every row of split s, whose images have the model's input size, in
 * batches on all threads (or on the GPU gpu, when not NULL), and feeds
 * each batch to ms. name ("test") is used in errors: an empty split, a
 * label outside 0..k-1. */
int nn_eval_split(nn_model *m, struct nn_cuda *gpu, const nn_split *s, const char *name,
                  nn_meters *ms, nn_error *e);
/* Predictions for image files (PNG or JPEG of any size, made into the
 * model's input by nn_input_from_image): the header
 * "file\tclass\tprobability\trank" and, for each file in order, the topk
 * most probable classes, to tsv. A file that cannot be read is reported on
 * log (when not NULL) as one line "prefix: MESSAGE; skipped it: ..." and
 * left out; *failed gets their count. -1: the model cannot take images,
 * out of memory, a failed write. */
int nn_eval_images(nn_model *m, struct nn_cuda *gpu, const char *const *paths, long n,
                   int topk, FILE *tsv, FILE *log, const char *prefix, long *failed,
                   nn_error *e);

/* ---- features and visualization (lib/featmap.c, lib/vis.c) ------------ */

/* Models made from a model (lib/model_derive.c). Layers 0..last of m
 * (last < 0: all) rebuilt for input `in` (same channels) with m's
 * parameter values, normalisation and class names copied. Fails, naming
 * the layer, where a parameter would change shape (a dense layer after a
 * flatten at another input size). */
nn_model *nn_model_resized(const nn_model *m, int last, nn_dims in,
                           nn_error *e);
/* Sets the initializer of every conv and dense weight (then
 * nn_model_init_params): initialization studies of untrained networks. */
void nn_model_set_weight_init(nn_model *m, nn_init init);

/* A layer's filters are the output channels of a conv layer, carried on
 * by the channel-wise layers after it (batchnorm, activations, pooling,
 * dropout, gap). The conv layer whose filters layer `layer` carries, or
 * -1 (flatten, dense, softmax, or no conv before it). */
int nn_filter_source(const nn_model *m, int layer);
/* The conv layers as "0, 3, 7, ..." (or "none"); returns their count. */
int nn_conv_layers_text(const nn_model *m, char *buf, size_t size);
typedef enum nn_layer_need {
    NN_NEED_ANY = 0, /* any layer */
    NN_NEED_FILTERS, /* a layer with filters (nn_filter_source >= 0) */
    NN_NEED_CONV     /* a conv layer (its weights) */
} nn_layer_need;
/* The layer named by text (index or name) that has what `need` asks; -1
 * with a message that lists what is valid. */
int nn_layer_lookup(const nn_model *m, const char *text, nn_layer_need need,
                    nn_error *e);
/* 0 when filter is a channel of layer's output; else -1 naming the range. */
int nn_filter_check(const nn_model *m, int layer, int filter, nn_error *e);

/* Per-channel means over the map: act [n, d.c, d.h, d.w] -> means [n, d.c]. */
void nn_channel_means(const float *act, int n, nn_dims d, float *means);
/* Indices of the k largest of v[0..n) (k <= n), largest first; ties go to
 * the lower index. */
void nn_top_k(const float *v, int n, int k, int *idx);
/* Runs x [n, input] through m (eval mode) up to `layer`, in batches of
 * `batch`: per-filter means [n, C] of the layer's output and, when maps is
 * not NULL, the output itself [n, C, H, W]. Reserves m for the batch. */
int nn_featmap(nn_model *m, struct nn_cuda *gpu, int layer, const float *x, int n, int batch,
               float *means, float *maps, nn_error *e);

/* One input's maps [C, H, W] as a sheet in `cols` columns (0: about
 * square), each map scaled from its own min..max to black..white and
 * labelled with its filter index. */
int nn_featmap_grid(const float *maps, nn_dims d, int cols, nn_image *out,
                    nn_error *e);

/* What nn_activation_stats measures of one layer's output. */
typedef struct nn_act_stats {
    int layer;
    double mean, std; /* over every value of every input */
    size_t total;     /* values seen: n * C*H*W */
    float *values;    /* a sample for histograms: every k-th value, at most
                         `keep` (malloc'd) */
    size_t count;
} nn_act_stats;
/* The layers an activation-histogram study shows: the nonlinearities
 * (relu, leakyrelu, sigmoid, tanh) up to `last`, or every layer up to
 * `last` when there is none. Writes their indices; returns the count. */
int nn_hist_layers(const nn_model *m, int last, int *layers);
/* Runs x [n, input] through m (eval mode, batches of `batch`) and measures
 * the outputs of layers[0..nl): exact mean and std, and up to keep values
 * each for a histogram. out has nl entries (free with nn_act_stats_free). */
int nn_activation_stats(nn_model *m, struct nn_cuda *gpu, const float *x, int n, int batch,
                        const int *layers, int nl, size_t keep,
                        nn_act_stats *out, nn_error *e);
void nn_act_stats_free(nn_act_stats *s, int n);
/* The initialization study of nn-featmap --hist: nn_activation_stats of
 * the nn_hist_layers up to `last` for x [n, input]; "layer name type mean
 * std" rows to tsv and a panel of histograms titled `title` to png. */
int nn_hist_study(nn_model *m, struct nn_cuda *gpu, int last, const float *x, int n,
                  int batch, const char *png, const char *title, FILE *tsv, nn_error *e);

/* A dataset row and its score. */
typedef struct nn_scored {
    long index;
    float score;
} nn_scored;
/* The rows best[0..n) of split s of d as TSV: "rank index label class
 * mean" (class: d's name of the row's label). */
void nn_scored_write(const nn_dataset *d, const nn_split *s, const nn_scored *best, int n,
                     FILE *tsv);
/* The k rows of split s (images h x w x c, the model's input size) whose
 * mean activation of `filter` at `layer` is largest, largest first (ties: the lower row). The split streams through
 * m in batches of `batch`: memory is one batch of inputs and activations
 * and a heap of k. *nout = min(k, s->n) (rows scoring NaN are left out). */
int nn_top_images(nn_model *m, struct nn_cuda *gpu, int layer, int filter, const nn_split *s,
                  int h, int w, int c, int batch, int k, nn_scored *out,
                  int *nout, nn_error *e);

/* Those rows of d's split s as a sheet, each labelled "#ROW CLASS SCORE". */
int nn_scored_montage(const nn_dataset *d, const nn_split *s,
                      const nn_scored *rows, int n, nn_image *out,
                      nn_error *e);
/* nn-featmap -d: nn_top_images of split ("train" or "test") of the dataset
 * file data, checked against the model (mname names it in errors): the
 * nn_scored_write table to tsv and, when montage is not NULL, their sheet
 * written there. */
int nn_top_images_study(nn_model *m, struct nn_cuda *gpu, int layer, int filter,
                        const char *data, const char *split, int batch, int k,
                        const char *montage, const char *mname, FILE *tsv, nn_error *e);

/* Activation files (lib/h5_acts.c; man 5 nn-acts). */
typedef struct nn_acts {
    int n, c;         /* inputs, filters */
    int h, w;         /* map size; 0 when there are no maps */
    float *means;     /* [n, c] per-filter mean activation */
    float *maps;      /* [n, c, h, w] or NULL */
    int *top;         /* --top: filters by mean over inputs, largest first */
    int ntop;         /* 0: none */
    char *model;      /* the model (or architecture) file */
    int layer;
    char *layer_name, *layer_type;
    char **inputs;    /* n names (image files), NULL-terminated */
} nn_acts;
/* Writes through a temporary file renamed into place; "-": stdout. */
int nn_acts_save(const nn_acts *a, const char *path, nn_error *e);
nn_acts *nn_acts_load(const char *path, nn_error *e); /* "-": stdin */
/* An activation file held in memory; name is used in messages. */
nn_acts *nn_acts_decode(const void *buf, size_t size, const char *name,
                        nn_error *e);
void nn_acts_free(nn_acts *a);

/* Activation maximization (lib/vis.c), after the feature-visualization
 * tutorial: start from uniform noise in [150,180]/255, normalise as the
 * model's input, maximize the filter's mean activation with Adam on the
 * pixels (the network frozen), denormalise, bicubic upscale, blur; repeat
 * at each scale. */
typedef struct nn_vis_cfg {
    int size;                /* first image size (56) */
    int upscaling_steps;     /* scales, as the tutorial's loop counts them
                                (12: 56, 67, ... 408); 0 or 1: one */
    double upscaling_factor; /* 1.2; next size = (int)(size * factor) */
    int steps;               /* Adam steps per scale (20) */
    float lr, wd;            /* 0.1; 1e-6 (torch Adam's weight_decay) */
    int blur;                /* box blur after each upscale (5; <= 1: none) */
    uint64_t seed;           /* the noise: per filter, from (seed, filter) */
    int batch;               /* filters optimized together (0: as many as
                                fit in about 1 GiB of activations) */
    int keep_frames;         /* 1: keep each scale's image */
    FILE *log;               /* not NULL: a line per scale */
    struct nn_cuda *gpu;     /* not NULL: the network runs on this GPU */
} nn_vis_cfg;

void nn_vis_defaults(nn_vis_cfg *c);
/* The image size of each scale; returns the number of scales (at most
 * max are written). */
int nn_vis_sizes(const nn_vis_cfg *c, int *sizes, int max);

typedef struct nn_vis_result {
    int filter;
    int c, h, w;       /* the final image */
    float *image;      /* [c, h, w] in [0, 1], RGB (or gray) */
    nn_image *frames;  /* keep_frames: the image after each scale, 8-bit RGB
                          or gray, at that scale's size */
    int nframes;
    float start;       /* the filter's mean activation on the starting noise */
    float final;       /* ... on the final image (as clamped to [0, 1]) */
    float others;      /* the other filters' mean activations on it, averaged */
} nn_vis_result;
/* One result per filter of `layer` (a layer with filters; see
 * nn_filter_source); m is not changed. */
int nn_vis_run(const nn_model *m, int layer, const int *filters, int n,
               const nn_vis_cfg *c, nn_vis_result *out, nn_error *e);
void nn_vis_result_free(nn_vis_result *r);
/* The raw filters of conv layer `layer` as a labelled sheet: a tile per
 * output filter, RGB when it has 3 input channels (in RGB order), gray
 * (the mean over input channels) otherwise; one symmetric scale [-a, a],
 * a = max |w|, so 0 is mid-gray. */
int nn_vis_weights(const nn_model *m, int layer, nn_image *sheet,
                   nn_error *e);
/* The same sheet of the conv weights w, shaped as *wp (a snapshot of
 * them, or wp->value), unlabelled when labelled is 0; bgr: w's input
 * channels are in BGR order. */
int nn_filter_sheet(const nn_param *wp, const float *w, int bgr, int labelled,
                    nn_image *sheet, nn_error *e);
/* The filters listed in a file ("-": stdin): an activation file (its top
 * filters, or else the k with the largest mean over its inputs; k <= 0:
 * 6) or text whose lines start with a filter index (TSV; lines that do not
 * start with a number, like a header, are skipped). *filters is malloc'd;
 * *layer gets the activation file's layer, or -1. */
int nn_filters_read(const char *path, int k, int **filters, int *n,
                    int *layer, nn_error *e);

/* ---- CUDA (kernels/, when built with nvcc) ----------------------------- */

/* 1 when this build has the CUDA backend. */
int nn_cuda_built(void);
/* Number of usable GPUs (0 when none or no CUDA build); never fails. */
int nn_cuda_device_count(void);
/* 0 when cuDNN and cuBLAS, which the backend opens at run time (no
 * program maps them before it uses the GPU), can be opened and have every
 * function it calls; -1 and e says what is missing. */
int nn_cuda_libraries(nn_error *e);

/* Layers on a GPU (kernels/): a layer's forward and backward on device
 * buffers, with the same results as the CPU's within rounding (make
 * check-gpu compares them). cuDNN runs convolutions (strict float32, no
 * TF32) and batch norm, cuBLAS dense layers; pooling, activations,
 * softmax and dropout (the CPU's masks) are kernels of their own. In a
 * build without CUDA, or without a GPU, nn_cuda_open fails saying which. */
typedef struct nn_cuda nn_cuda; /* one GPU: cuDNN, cuBLAS, a stream, a workspace */
/* nn_cuda_open makes the GPU the calling thread's current device; the
 * context's calls expect it to stay so (one GPU per thread). */
nn_cuda *nn_cuda_open(int device, nn_error *e);
void nn_cuda_close(nn_cuda *g);
/* Device memory of n floats (NULL and e set on failure), and copies
 * between it and the host (the download waits for the GPU). */
float *nn_cuda_alloc(nn_cuda *g, size_t n, nn_error *e);
void nn_cuda_free(nn_cuda *g, float *p);
int nn_cuda_upload(nn_cuda *g, float *dev, const float *host, size_t n, nn_error *e);
int nn_cuda_download(nn_cuda *g, float *host, const float *dev, size_t n, nn_error *e);
int nn_cuda_zero(nn_cuda *g, float *dev, size_t n, nn_error *e); /* queued */
/* Page-locked host memory of n floats, and an upload from it that is only
 * queued: host must stay as it is until the GPU's next wait (a download,
 * a sync). Uploads from other memory make the GPU's queue drain first. */
float *nn_cuda_host_alloc(nn_cuda *g, size_t n, nn_error *e);
void nn_cuda_host_free(nn_cuda *g, float *p);
int nn_cuda_upload_queued(nn_cuda *g, float *dev, const float *host, size_t n, nn_error *e);
/* The GPU side of layer l (which must outlive it) for batches of up to
 * max_batch: its parameters' values and gradients in device memory,
 * copied from l, and what its forward keeps for backward. */
typedef struct nn_cuda_layer nn_cuda_layer;
nn_cuda_layer *nn_cuda_layer_new(nn_cuda *g, const nn_layer *l, int max_batch, nn_error *e);
void nn_cuda_layer_free(nn_cuda_layer *d);
/* Copies the device values and gradients of the parameters back into l. */
int nn_cuda_layer_download(nn_cuda_layer *d, nn_layer *l, nn_error *e);
/* As the layer type's forward and backward (same rules: dx may be NULL,
 * parameter gradients accumulate), on device buffers of n samples. */
int nn_cuda_forward(nn_cuda_layer *d, const float *x, float *y, int n, const nn_pass *p,
                    nn_error *e);
int nn_cuda_backward(nn_cuda_layer *d, const float *x, const float *y, const float *dy,
                     float *dx, int n, const nn_pass *p, nn_error *e);
/* The loss of kind on device buffers, as nn_loss_*: x [n, k], target int
 * labels [n] (xent) or floats [n, k], d (may be NULL) the gradient; the
 * mean comes back in *loss (the call waits for it), or with loss NULL is
 * not taken (nothing waits: the gradient only). */
int nn_cuda_loss(nn_cuda *g, nn_loss_kind kind, const float *x, const void *target, int n,
                 int k, float *d, float *loss, nn_error *e);
/* nn_optim_update on device buffers: one launch for the n values. */
int nn_cuda_optim_update(nn_cuda *g, const nn_optim *o, float *w, const float *grad,
                         float *const *slots, size_t n, float lr, long step, nn_error *e);
/* Waits for the work queued on the GPU; its first error, if any. */
int nn_cuda_sync(nn_cuda *g, nn_error *e);
/* Bytes of the GPU's memory in use (by every process) now. */
size_t nn_cuda_memory_in_use(nn_cuda *g);

/* Pixel and reduction work on device buffers (kernels/pixels.cu), queued
 * on g's stream: the GPU counterparts of the CPU functions they name, for
 * nn-vis (its images stay on the GPU across scales) and nn-featmap (only
 * the reductions come back). planes = images * channels. */
int nn_cuda_resize_bicubic(nn_cuda *g, const float *src, int planes, int h, int w, float *dst,
                           int oh, int ow, nn_error *e); /* nn_resize_bicubic */
int nn_cuda_blur_box(nn_cuda *g, float *img, int planes, int h, int w, int k, float *tmp,
                     nn_error *e); /* nn_blur_box; tmp: planes*h*w floats */
/* y = op(x) for x [n, c, plane], channel c using mean[min(c,3)] and
 * std[min(c,3)] (a model's): (x - mean) / std, x * std + mean, or x
 * clamped to [0, 1] with NaN as 0 (mean, std unused). y may be x. */
typedef enum nn_pixels_op { NN_PIXELS_NORMALIZE, NN_PIXELS_DENORMALIZE, NN_PIXELS_CLAMP } nn_pixels_op;
int nn_cuda_pixels(nn_cuda *g, nn_pixels_op op, const float *x, float *y, int n, int c,
                   size_t plane, const float mean[4], const float std[4], nn_error *e);
/* nn_channel_means of act [n, d] into means [n * d.c], both on the device. */
int nn_cuda_channel_means(nn_cuda *g, const float *act, int n, nn_dims d, float *means,
                          nn_error *e);
/* The sum and the sum of squares, in double, of x[0..n) (device) into
 * sums[0..1] (host); the same bits on every run. */
int nn_cuda_sums(nn_cuda *g, const float *x, size_t n, double sums[2], nn_error *e);
/* out[j] = x[first + j * stride] for j < count: x on the device, out on
 * the host (the call waits for it). */
int nn_cuda_gather(nn_cuda *g, const float *x, size_t first, size_t stride, size_t count,
                   float *out, nn_error *e);

/* Batches on their way to a GPU (kernels/stage.cu): two slots, each of
 * page-locked host memory and device memory of `floats`, and a copy
 * stream of their own. The loader's thread fills host slot s, and send
 * copies it to the device on the copy stream, after the GPU's earlier use
 * of that device slot (release) and before it returns; take makes the
 * computing stream wait for that copy and gives the device slot (NULL
 * when the send failed: the host slot still holds the batch). So batch
 * k+1 crosses while batch k computes. */
typedef struct nn_cuda_stage nn_cuda_stage;
nn_cuda_stage *nn_cuda_stage_new(nn_cuda *g, size_t floats, nn_error *e);
void nn_cuda_stage_free(nn_cuda_stage *st);
size_t nn_cuda_stage_floats(const nn_cuda_stage *st); /* a slot's size */
float *nn_cuda_stage_host(nn_cuda_stage *st, int slot);
int nn_cuda_stage_send(nn_cuda_stage *st, int slot, size_t floats);
void nn_cuda_stage_release(nn_cuda_stage *st, int slot);
const float *nn_cuda_stage_take(nn_cuda_stage *st, int slot);

/* A whole model on the GPU (kernels/model.cu) for batches of up to
 * max_batch: parameters copied from m (which must outlive it), layers,
 * activations and backward buffers, all in device memory. The functions
 * are nn_model's on device buffers; forward returns the device output of
 * layer last (NULL on failure); labels are on the device (int for xent),
 * loss as nn_cuda_loss's (NULL: not taken, nothing waits); step keeps the optimizer's state on the GPU from its first call (o set
 * up by nn_optim_setup: zeros, or a resumed state). download copies the
 * values and gradients back into m, and the state into o (may be NULL). */
typedef struct nn_cuda_model nn_cuda_model;
nn_cuda_model *nn_cuda_model_new(nn_cuda *g, nn_model *m, int max_batch, nn_error *e);
void nn_cuda_model_free(nn_cuda_model *cm);
float *nn_cuda_model_input(nn_cuda_model *cm); /* [max_batch, input] for uploads */
float *nn_cuda_model_output(nn_cuda_model *cm, int layer); /* its activations */
const float *nn_cuda_model_forward_to(nn_cuda_model *cm, const float *x, int n, int last,
                                      const nn_pass *p, nn_error *e);
int nn_cuda_model_backward_from(nn_cuda_model *cm, int from, const float *dlast, float *dx,
                                int n, const nn_pass *p, nn_error *e);
int nn_cuda_model_zero_grads(nn_cuda_model *cm, nn_error *e);
int nn_cuda_model_loss_backward(nn_cuda_model *cm, const void *labels, int n, float *dx,
                                const nn_pass *p, float *loss, nn_error *e);
int nn_cuda_model_step(nn_cuda_model *cm, nn_optim *o, float lr, nn_error *e);
int nn_cuda_model_download(nn_cuda_model *cm, nn_optim *o, nn_error *e);

/* A model run on the CPU (g NULL) or on the GPU g (lib/exec.c). With host
 * buffers: forward_to returns layer last's output for n samples (the
 * model's own buffer on the CPU, a copy downloaded from the GPU; NULL on
 * failure). The _at calls and the reductions below keep the work where it runs. m
 * must outlive it; batches of up to max_batch. */
typedef struct nn_exec nn_exec;
nn_exec *nn_exec_new(nn_model *m, nn_cuda *g, int max_batch, nn_error *e);
void nn_exec_free(nn_exec *x);
const float *nn_exec_forward_to(nn_exec *x, const float *in, int n, int last,
                                const nn_pass *p, nn_error *e);
/* forward_to without the result: it stays where the model runs. */
int nn_exec_forward(nn_exec *x, const float *in, int n, int last, const nn_pass *p,
                    nn_error *e);
/* Layer layer's output of the last forward of n samples, on the host. */
const float *nn_exec_output(nn_exec *x, int layer, int n, nn_error *e);
/* Reductions of layer's output of the last forward of n samples, made
 * where the model runs, only the results on the host: nn_channel_means
 * into means [n, C]; and the sum and sum of squares (double) into sums,
 * with every stride-th value from `first` (stride 0: none) appended to
 * vals at *nvals. */
int nn_exec_channel_means(nn_exec *x, int layer, int n, float *means, nn_error *e);
int nn_exec_output_sums(nn_exec *x, int layer, int n, double sums[2], size_t first,
                        size_t stride, float *vals, size_t *nvals, nn_error *e);
/* As forward_to, and nn_model_backward_from (dx may be NULL), with every
 * buffer where the model runs (device memory on a GPU; made by
 * nn_place_alloc): nothing crosses. The input must stay as it is until
 * the backward has run (as on the CPU). */
const float *nn_exec_forward_at(nn_exec *x, const float *in, int n, int last,
                                const nn_pass *p, nn_error *e);
int nn_exec_backward_at(nn_exec *x, int from, const float *dlast, float *dx, int n,
                        const nn_pass *p, nn_error *e);
/* The batch staging for a loader (nn_loader_start), made once, with slots
 * of max_batch inputs: NULL on the CPU, or on a GPU where it cannot be
 * made (then batches are copied as they come). A forward of one of its
 * host slots uses the device copy sent by the loader. */
nn_cuda_stage *nn_exec_stage(nn_exec *x);
/* What softmax cross-entropy is taken on after the last forward of in
 * (out: the model's output), as nn_model_loss_backward takes it: the
 * input of a final softmax (fused, stable), else out; NULL (e set) when
 * the GPU could not give it. */
const float *nn_exec_logits(nn_exec *x, const float *in, const float *out, int n, nn_error *e);
/* Training (nn_model's and nn_optim_step's rules): labels are int [n]
 * for xent, float targets [n, k] otherwise, on the host; loss_backward
 * always gives the loss (not NULL). */
int nn_exec_zero_grads(nn_exec *x, nn_error *e);
int nn_exec_loss_backward(nn_exec *x, const void *labels, int n, const nn_pass *p, float *loss,
                          nn_error *e);
int nn_exec_step(nn_exec *x, nn_optim *o, float lr, nn_error *e);
/* Makes the host model's values and gradients (and o's state, o may be
 * NULL) those of the device: a GPU's are copied back; nothing on the CPU. */
int nn_exec_sync(nn_exec *x, nn_optim *o, nn_error *e);

/* The programs' command lines (lib/cli.c). nn_usage_error prints "PROG:
 * MESSAGE (see PROG --help)" and returns 2, the exit status of a usage
 * error. nn_option_error does so for what getopt_long (with a leading ':'
 * in its short options, opterr = 0) returned as c: '?' or ':'. */
struct option;
int nn_usage_error(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int nn_option_error(const char *prog, int c, char **argv, const struct option *lo);
/* Option values: 0 and *out set, or a usage error (2) that names the
 * option (name, as written) and the valid range. A whole number in [min,
 * max]; a number in [min, max], or (min, max] when open. */
int nn_whole_option(const char *prog, const char *name, const char *s, long min, long max,
                    long *out);
int nn_real_option(const char *prog, const char *name, const char *s, double min, int open,
                   double max, double *out);
/* The option getopt_long returned as c (li: its index in lo, or -1 for a
 * short one) as the user names it: "--size" or "-b"; buf holds it. */
const char *nn_option_name(int c, int li, const struct option *lo, char buf[32]);
/* 1 when paths a and b name the same file, existing or to be made: the
 * same inode (a regular file, a FIFO or a socket), or the same name in the
 * same directory. Devices (which outputs may share: /dev/null) never
 * count. */
int nn_same_file(const char *a, const char *b);
/* The files of a command line: none written by two outputs or over an
 * input it reads (devices, NULL and "-" aside), and no two inputs
 * from standard input ("-"). 0, or a usage error naming the two options
 * ("-o x.h5 would overwrite the -d file it reads"). */
typedef struct nn_file_use {
    const char *option; /* as the user names it: "-o", "--log" */
    const char *path;
    int output;
} nn_file_use;
int nn_distinct_files(const char *prog, const nn_file_use *f, int n);
/* Standard output takes one output: of the n outputs what[i], those with
 * on[i] go there; 0, or a usage error naming the first two. */
int nn_one_stdout(const char *prog, const char *const *what, const int *on, int n);

/* Memory where work runs: the host (g NULL) or g's device. alloc zeroes
 * n floats (on a GPU queued on its stream, before any later work); put
 * and get copy n floats from and to the host. */
float *nn_place_alloc(nn_cuda *g, size_t n, nn_error *e);
void nn_place_free(nn_cuda *g, float *p);
int nn_place_put(nn_cuda *g, float *dst, const float *host, size_t n, nn_error *e);
int nn_place_get(nn_cuda *g, float *host, const float *src, size_t n, nn_error *e);

/* A program's --device NAME (lib/device.c): cpu, cuda, or auto (the GPU
 * when the build has CUDA, a GPU is present and cuDNN and cuBLAS open;
 * else the CPU). 0 and *out set; -1 when the device cannot run (the
 * message says why); -2 for an unknown name. nn_device_option is the same
 * for a program (lib/cli.c): 0, or the exit status after the message (2:
 * a usage error, 1: the device cannot run). */
typedef enum nn_device { NN_DEVICE_CPU = 0, NN_DEVICE_CUDA } nn_device;
int nn_device_choose(const char *name, nn_device *out, nn_error *e);
int nn_device_option(const char *prog, const char *name, nn_device *out);

#endif

/* nn-fetch-data - a dataset (from the registry, or a folder of images) into
 * an HDF5 dataset file, or a pretrained model (vgg16) into a model file.
 * See man 1 nn-fetch-data, man 5 nn-dataset and man 5 nn-model. */
#include "nn.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROG "nn-fetch-data"

static const char usage_text[] =
    "Usage: " PROG " [OPTION]... NAME -o FILE.h5\n"
    "       " PROG " --list\n"
    "Gets dataset NAME (see --list), or folder:PATH (one sub-folder per class,\n"
    "PNG and JPEG inside), into an HDF5 dataset file (man 5 nn-dataset); a\n"
    "pretrained model (vgg16, vgg16-notop: Keras's weights) into a model file.\n"
    "\n"
    "  -o, --output FILE   the dataset or model file to write ('-': stdout)\n"
    "  -l, --list          the registry: name, format, file, bytes, sha256, source\n"
    "      --size N        resize: the shorter side to N, then crop the centre NxN\n"
    "                      (a notop model: its input size, NxN)\n"
    "      --classes A,B   keep these classes, labelled 0, 1, ... in this order\n"
    "      --test-frac F   pool all images and put a share F of every class in test\n"
    "                      (default: the source's split; 0.2 where it has none)\n"
    "      --limit N       at most N images per split (a stratified subset)\n"
    "      --gray          one channel (luma)\n"
    "      --seed N        seed of --test-frac and --limit (default 1)\n"
    "      --from PATH     use the files in directory PATH (no network); for a\n"
    "                      model PATH may be the weight file itself\n"
    "      --mirror URL    download from URL instead of the registry's sources\n"
    "      --retries N     download attempts after the first (default 4)\n"
    "      --threads N     decoding threads (default: all cores)\n"
    "  -q, --quiet         errors only\n"
    "  -v, --verbose       say where each file comes from and each step\n"
    "  -h, --help          this help\n"
    "  -V, --version       the version\n"
    "\n"
    "Environment: NN_DATA_HOME (download cache, default ~/.cache/nn),\n"
    "NN_DATASETS (the registry file). Exit status: 0 done, 1 failed, 2 usage.\n";

enum {
    OPT_SIZE = 256,
    OPT_CLASSES,
    OPT_TEST_FRAC,
    OPT_LIMIT,
    OPT_GRAY,
    OPT_SEED,
    OPT_FROM,
    OPT_MIRROR,
    OPT_RETRIES,
    OPT_THREADS
};

static const struct option long_opts[] = {
    {"output", required_argument, NULL, 'o'},
    {"list", no_argument, NULL, 'l'},
    {"size", required_argument, NULL, OPT_SIZE},
    {"classes", required_argument, NULL, OPT_CLASSES},
    {"test-frac", required_argument, NULL, OPT_TEST_FRAC},
    {"limit", required_argument, NULL, OPT_LIMIT},
    {"gray", no_argument, NULL, OPT_GRAY},
    {"seed", required_argument, NULL, OPT_SEED},
    {"from", required_argument, NULL, OPT_FROM},
    {"mirror", required_argument, NULL, OPT_MIRROR},
    {"retries", required_argument, NULL, OPT_RETRIES},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"quiet", no_argument, NULL, 'q'},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

#define usage_error(...) nn_usage_error(PROG, __VA_ARGS__)

/* An integer option in [lo, hi]. */
static int int_arg(const char *opt, const char *text, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < lo || v > hi)
        return usage_error("%s: '%s' is not a whole number from %ld to %ld", opt, text, lo, hi);
    *out = v;
    return 0;
}

static void print_line(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, PROG ": %s\n", msg);
}

/* 1 when name is in the registry, a folder: name, or else 0. */
static int known(const nn_registry *r, const char *name)
{
    if (strncmp(name, "folder:", 7) == 0)
        return 1;
    for (int i = 0; i < r->n; i++)
        if (strcmp(r->rows[i].name, name) == 0)
            return 1;
    return 0;
}

/* The registry's dataset names, comma-separated, into buf. */
static void names_of(const nn_registry *r, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < r->n; i++) {
        int seen = 0;
        for (int j = 0; j < i && !seen; j++)
            seen = strcmp(r->rows[j].name, r->rows[i].name) == 0;
        if (!seen && len + strlen(r->rows[i].name) + 3 < size)
            len += (size_t)snprintf(buf + len, size - len, "%s%s", len ? ", " : "",
                                    r->rows[i].name);
    }
}

/* An interrupt while a file is written waits until it is in place (until
 * sigprocmask(SIG_SETMASK, old)), so there is never a partial file. */
static void hold_signals(sigset_t *old)
{
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    sigprocmask(SIG_BLOCK, &block, old);
}

/* Whether sig waits in pending and will end the program once let in. */
static int ends(const sigset_t *pending, int sig)
{
    struct sigaction sa;
    return sigismember(pending, sig) && sigaction(sig, NULL, &sa) == 0 &&
           sa.sa_handler != SIG_IGN;
}

/* Lets a held signal in (it ends the program), saying first that the
 * file it waited for is whole (rc 0) or not written. */
static void release_signals(const sigset_t *old, const char *output, int rc)
{
    sigset_t pending;
    if (sigpending(&pending) == 0 &&
        (ends(&pending, SIGINT) || ends(&pending, SIGTERM) || ends(&pending, SIGHUP)))
        fprintf(stderr, PROG ": interrupted; %s %s\n",
                strcmp(output, "-") == 0 ? "stdout" : output,
                rc == 0 ? "was written whole first" : "was not written");
    sigprocmask(SIG_SETMASK, old, NULL);
}

/* A pretrained model of the registry into a model file; the exit status. */
static int fetch_model(const nn_registry *r, const char *name, const nn_dataset_opts *o,
                       const char *output, int quiet)
{
    nn_error e;
    nn_model *m = nn_pretrained_fetch(r, name, o, &e);
    if (!m) {
        fprintf(stderr, PROG ": %s\n", e.msg);
        return 1;
    }
    sigset_t old;
    hold_signals(&old);
    int rc = nn_model_save(m, NULL, output, &e);
    release_signals(&old, output, rc);
    if (rc < 0) {
        if (!ferror(stdout)) /* else the exit check says why stdout failed */
            fprintf(stderr, PROG ": %s\n", e.msg);
    } else if (!quiet)
        fprintf(stderr, PROG ": %s: %s, %d layers, %zu parameters, input %dx%dx%d, output "
                "%dx%dx%d\n", strcmp(output, "-") == 0 ? "stdout" : output, name, m->nlayers,
                nn_model_param_count(m), m->input.c, m->input.h, m->input.w,
                m->layers[m->nlayers - 1].out.c, m->layers[m->nlayers - 1].out.h,
                m->layers[m->nlayers - 1].out.w);
    nn_model_free(m);
    return rc < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
    const char *output = NULL;
    int list = 0, verbose = 0, quiet = 0;
    long threads = 0, v;
    nn_dataset_opts o;
    memset(&o, 0, sizeof o);
    o.test_frac = -1;
    o.seed = 1;
    o.fetch.retries = 4;
    o.fetch.timeout_s = 60;

    int c;
    nn_check_stdout_at_exit(PROG);
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:lqvhV", long_opts, NULL)) != -1) {
        switch (c) {
        case 'o': output = optarg; break;
        case 'l': list = 1; break;
        case 'q': quiet = 1; break;
        case 'v': verbose = 1; break;
        case 'h': fputs(usage_text, stdout); return 0;
        case 'V': printf(PROG " (nn) " NN_VERSION "\n"); return 0;
        case OPT_SIZE:
            if (int_arg("--size", optarg, 1, 65536, &v))
                return 2;
            o.size = (int)v;
            break;
        case OPT_CLASSES: o.classes = optarg; break;
        case OPT_TEST_FRAC: {
            char *end;
            errno = 0;
            o.test_frac = strtod(optarg, &end);
            if (errno || end == optarg || *end || !(o.test_frac >= 0 && o.test_frac < 1))
                return usage_error("--test-frac: '%s' is not a number in [0, 1)", optarg);
            break;
        }
        case OPT_LIMIT:
            if (int_arg("--limit", optarg, 1, 2000000000L, &o.limit))
                return 2;
            break;
        case OPT_GRAY: o.gray = 1; break;
        case OPT_SEED: {
            char *end;
            errno = 0;
            unsigned long long s = strtoull(optarg, &end, 10);
            if (errno || end == optarg || *end || optarg[0] == '-')
                return usage_error("--seed: '%s' is not a whole number", optarg);
            o.seed = s;
            break;
        }
        case OPT_FROM: o.from = optarg; break;
        case OPT_MIRROR: o.mirror = optarg; break;
        case OPT_RETRIES:
            if (int_arg("--retries", optarg, 0, 100, &v))
                return 2;
            o.fetch.retries = (int)v;
            break;
        case OPT_THREADS:
            if (int_arg("--threads", optarg, 0, 4096, &threads))
                return 2;
            break;
        case ':':
        default: return nn_option_error(PROG, c, argv, long_opts);
        }
    }
    if (quiet && verbose)
        return usage_error("-q and -v: choose one");

    nn_error e;
    nn_registry *r = nn_registry_load(NULL, &e);
    if (list) {
        if (optind < argc || output)
            return usage_error("--list takes no dataset and no output");
        if (!r) {
            fprintf(stderr, PROG ": %s\n", e.msg);
            return 1;
        }
        nn_registry_print(r, stdout);
        nn_registry_free(r);
        return 0; /* a failed write: the exit check makes it 1 */
    }
    if (optind >= argc) {
        nn_registry_free(r);
        return usage_error("no dataset named; '" PROG " --list' shows them");
    }
    if (optind + 1 < argc) {
        nn_registry_free(r);
        return usage_error("one dataset at a time ('%s' and '%s')", argv[optind],
                           argv[optind + 1]);
    }
    const char *name = argv[optind];
    if (!output) {
        nn_registry_free(r);
        return usage_error("no output file: give -o FILE.h5 ('-o -' for stdout)");
    }
    if (!r && strncmp(name, "folder:", 7) != 0) {
        fprintf(stderr, PROG ": %s\n", e.msg);
        return 1;
    }
    if (r && !known(r, name)) {
        char names[512];
        names_of(r, names, sizeof names);
        fprintf(stderr, PROG ": %s: unknown dataset; the known ones are %s, and folder:PATH\n",
                name, names);
        nn_registry_free(r);
        return 2;
    }
    if (strcmp(output, "-") == 0 && isatty(STDOUT_FILENO)) {
        nn_registry_free(r);
        return usage_error("-o -: stdout is a terminal; redirect it or name a file");
    }
    int is_model = r && nn_registry_is_model(r, name);
    if (is_model && (o.classes || o.test_frac >= 0 || o.limit || o.gray)) {
        nn_registry_free(r);
        return usage_error("%s is a pretrained model: --classes, --test-frac, --limit and "
                           "--gray are for datasets", name);
    }
    if (nn_check_output(output, &e) < 0) { /* before any download */
        fprintf(stderr, PROG ": %s\n", e.msg);
        nn_registry_free(r);
        return 1;
    }
    nn_registry empty = {(char *)"", NULL, 0};
    nn_set_threads((int)threads);
    o.verbose = verbose;
    o.fetch.quiet = quiet;
    o.fetch.progress = !quiet && isatty(STDERR_FILENO);
    o.warn = quiet ? NULL : print_line;
    o.note = print_line;
    if (is_model) {
        int rc = fetch_model(r, name, &o, output, quiet);
        nn_registry_free(r);
        return rc;
    }

    nn_dataset *d = nn_dataset_fetch(r ? r : &empty, name, &o, &e);
    nn_registry_free(r);
    if (!d) {
        fprintf(stderr, PROG ": %s\n", e.msg);
        return 1;
    }
    sigset_t old;
    hold_signals(&old);
    int rc = nn_dataset_save(d, output, &e);
    release_signals(&old, output, rc);
    if (rc < 0) {
        if (!ferror(stdout)) /* else the exit check says why stdout failed */
            fprintf(stderr, PROG ": %s\n", e.msg);
        nn_dataset_free(d);
        return 1;
    }
    if (!quiet)
        fprintf(stderr, PROG ": %s: %s, %ld train + %ld test images of %dx%dx%d, %d classes\n",
                strcmp(output, "-") == 0 ? "stdout" : output, d->name, d->train.n, d->test.n,
                d->h, d->w, d->c, d->classes);
    nn_dataset_free(d);
    return 0;
}

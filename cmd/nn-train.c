/* nn-train - train a network on a dataset file: checkpoints, exact resume,
 * logs, charts, filter snapshots, random hyper-parameter search. See
 * man 1 nn-train. */
#include "nn.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage_text[] =
    "usage: nn-train -a ARCH.nn -d DATA.h5 -o MODEL.h5 [options]\n"
    "       nn-train --resume MODEL.h5 -d DATA.h5 [-o MODEL.h5] [options]\n"
    "       nn-train --search N -a ARCH.nn -d DATA.h5 -o RESULTS.tsv [options]\n"
    "Train a network on a dataset; the model is saved after every epoch.\n"
    "  -a, --arch FILE       architecture text ('classes' = the dataset's)\n"
    "  -d, --data FILE       dataset file (nn-fetch-data)\n"
    "  -o, --output FILE     model file; with --search the results TSV\n"
    "  -e, --epochs N        epochs in all (10)\n"
    "  -b, --batch N         batch size (64)\n"
    "      --optim NAME      sgd momentum nesterov adagrad rmsprop adam adamw (adam)\n"
    "      --lr X            learning rate (adam 1e-3, others 0.01)\n"
    "      --momentum X      momentum, --wd X weight decay\n"
    "      --schedule S      constant | step:E[:G] | cosine[:MIN] [,warmup:STEPS]\n"
    "      --val F           validation share of the train split (0)\n"
    "      --train-limit N   train on N samples of the train split\n"
    "      --mean-subtract   subtract the dataset's channel means\n"
    "      --augment         random padded crops and horizontal flips\n"
    "      --test            evaluate the test split after every epoch\n"
    "      --seed N          random seed (1)\n"
    "      --resume FILE     continue a checkpoint up to --epochs\n"
    "      --log FILE        per-epoch TSV ('-': stdout)\n"
    "      --logdir DIR      TensorBoard runs DIR/train and DIR/test\n"
    "      --log-every K     TensorBoard scalars every K steps (20)\n"
    "      --plot DIR        DIR/loss.png and DIR/accuracy.png\n"
    "      --filters-every N filter snapshots every N steps -> GIF and PNG\n"
    "      --filters-layer L the conv layer to snapshot (the first)\n"
    "      --search N        random search: N trials on train/validation\n"
    "      --search-lr A:B   --search-wd A:B  log-uniform ranges\n"
    "  -t, --threads N       threads (all cores)\n"
    "      --device D        cpu | cuda | auto (cpu)\n"
    "  -q, --quiet  -v, --verbose  -h, --help  -V, --version\n";

enum { O_OPTIM = 256, O_LR, O_MOMENTUM, O_WD, O_SCHEDULE, O_VAL, O_LIMIT, O_MEAN,
       O_AUGMENT, O_TEST, O_SEED, O_RESUME, O_LOG, O_LOGDIR, O_LOG_EVERY, O_PLOT,
       O_FEVERY, O_FLAYER, O_SEARCH, O_SLR, O_SWD, O_DEVICE };

static const struct option longopts[] = {
    {"arch", 1, 0, 'a'}, {"data", 1, 0, 'd'}, {"output", 1, 0, 'o'},
    {"epochs", 1, 0, 'e'}, {"batch", 1, 0, 'b'}, {"optim", 1, 0, O_OPTIM},
    {"lr", 1, 0, O_LR}, {"momentum", 1, 0, O_MOMENTUM}, {"wd", 1, 0, O_WD},
    {"schedule", 1, 0, O_SCHEDULE}, {"val", 1, 0, O_VAL}, {"train-limit", 1, 0, O_LIMIT},
    {"mean-subtract", 0, 0, O_MEAN}, {"augment", 0, 0, O_AUGMENT}, {"test", 0, 0, O_TEST},
    {"seed", 1, 0, O_SEED}, {"resume", 1, 0, O_RESUME}, {"log", 1, 0, O_LOG},
    {"logdir", 1, 0, O_LOGDIR}, {"log-every", 1, 0, O_LOG_EVERY}, {"plot", 1, 0, O_PLOT},
    {"filters-every", 1, 0, O_FEVERY}, {"filters-layer", 1, 0, O_FLAYER},
    {"search", 1, 0, O_SEARCH}, {"search-lr", 1, 0, O_SLR}, {"search-wd", 1, 0, O_SWD},
    {"threads", 1, 0, 't'}, {"device", 1, 0, O_DEVICE}, {"quiet", 0, 0, 'q'},
    {"verbose", 0, 0, 'v'}, {"help", 0, 0, 'h'}, {"version", 0, 0, 'V'}, {0, 0, 0, 0}};

static volatile sig_atomic_t got_signal;
static void on_signal(int sig) { got_signal = sig; }
static int should_stop(void *ctx) { return (void)ctx, got_signal != 0; }

#define PROG "nn-train"
#define usage_error(...) nn_usage_error(PROG, __VA_ARGS__)

static int range(const char *opt, const char *s, float *lo, float *hi)
{
    char *end, *end2;
    double a = strtod(s, &end), b = *end == ':' ? strtod(end + 1, &end2) : 0;
    if (*end != ':' || end2 == end + 1 || *end2 || !(a > 0 && b >= a && isfinite(b)))
        return usage_error("%s: '%s' is not LO:HI with 0 < LO <= HI", opt, s), -1;
    *lo = (float)a, *hi = (float)b;
    return 0;
}

typedef struct run {
    int quiet, tty, epochs;
    double last_bar;
    nn_train_log *log;
} run;

static int on_step(void *ctx, const nn_trainer *t, const nn_step_stats *s, nn_error *e)
{
    run *r = ctx;
    if (r->log && nn_train_log_step(r->log, t, s, e) < 0)
        return -1;
    double now = nn_now();
    if (r->tty && !r->quiet && (now - r->last_bar > 0.1 || s->batch + 1 == s->batches)) {
        int width = 30, done = (int)(width * (s->batch + 1) / s->batches);
        char bar[64];
        for (int i = 0; i < width; i++)
            bar[i] = i < done ? '#' : '.';
        bar[width] = 0;
        fprintf(stderr, "\r\033[Kepoch %d/%d [%s] %ld/%ld loss %.4g acc %.2f%% %.0f img/s",
                s->epoch + 1, r->epochs, bar, s->batch + 1, s->batches, s->loss,
                100 * s->acc, s->elapsed > 0 ? s->images / s->elapsed : 0);
        r->last_bar = now;
    }
    return 0;
}

static int on_epoch(void *ctx, const nn_trainer *t, const nn_epoch_stats *s, nn_error *e)
{
    run *r = ctx;
    if (r->log && nn_train_log_epoch(r->log, t, s, e) < 0)
        return -1;
    if (r->quiet)
        return 0;
    char val[64] = "", test[64] = "";
    if (!isnan(s->val_acc))
        snprintf(val, sizeof val, "  val loss %.4g acc %.2f%%", s->val_loss, 100 * s->val_acc);
    if (!isnan(s->test_acc))
        snprintf(test, sizeof test, "  test loss %.4g acc %.2f%%", s->test_loss,
                 100 * s->test_acc);
    fprintf(stderr, "%sepoch %d/%d  train loss %.4g acc %.2f%%%s%s  lr %.3g  %.0f img/s  "
            "%.1f s  data wait %.1f%%\n", r->tty ? "\r\033[K" : "", s->epoch, r->epochs,
            s->train_loss, 100 * s->train_acc, val, test, s->lr, s->images_per_s, s->seconds,
            100 * s->data_wait);
    return 0;
}

/* Every file the run will write can be created, and the --plot and
 * --logdir directories exist: checked before any work. search_png: the
 * search's chart (NULL: not a search, which writes no logs or charts). */
static int check_outputs(const char *model, const char *search_png,
                         const nn_train_log_cfg *lc, nn_made_dirs *made, nn_error *e)
{
    if (nn_check_output(model, e) < 0)
        return -1;
    return search_png ? nn_check_output(search_png, e)
                      : nn_train_log_prepare(lc, model, made, e);
}

int main(int argc, char **argv)
{
    nn_check_stdout_at_exit("nn-train");
    const char *arch = NULL, *data = NULL, *out = NULL, *optim = "adam", *resume = NULL;
    const char *device = "cpu", *sched = NULL, *flayer = NULL;
    nn_train_cfg cfg;
    nn_train_defaults(&cfg);
    nn_train_log_cfg lc = {.log_every = 20, .filters_layer = -1};
    nn_search_cfg sc = {0};
    int threads = 0, quiet = 0, verbose = 0, c;
    double v, lr = NAN, momentum = NAN, wd = NAN;
    /* with --resume, the checkpoint's settings unless given here */
    unsigned given = 0;
    int set_optim = 0;
    opterr = 0;
    int li;
    long n;
    while ((li = -1, c = getopt_long(argc, argv, ":a:d:o:e:b:t:qvhV", longopts, &li)) != -1) {
        char name[32];
        /* numeric options are named by their long form, also when given short */
        for (int k = 0; li < 0 && longopts[k].name; k++)
            if (longopts[k].val == c)
                li = k;
        nn_option_name(c, li, longopts, name);
        switch (c) {
        case 'a': arch = optarg; break;
        case 'd': data = optarg; break;
        case 'o': out = optarg; break;
        case 'e': if (nn_whole_option(PROG, name, optarg, 1, 1000000, &n)) return 2; cfg.epochs = (int)n, given |= NN_GIVEN_EPOCHS; break;
        case 'b': if (nn_whole_option(PROG, name, optarg, 1, 1000000, &n)) return 2; cfg.batch = (int)n, given |= NN_GIVEN_BATCH; break;
        case O_OPTIM: optim = optarg, set_optim = 1; break;
        case O_LR: if (nn_real_option(PROG, name, optarg, 0, 0, 1e30, &lr)) return 2; break;
        case O_MOMENTUM: if (nn_real_option(PROG, name, optarg, 0, 0, 0.999999, &momentum)) return 2; break;
        case O_WD: if (nn_real_option(PROG, name, optarg, 0, 0, 1e6, &wd)) return 2; break;
        case O_SCHEDULE: sched = optarg; break;
        case O_VAL: if (nn_real_option(PROG, name, optarg, 0, 0, 0.99, &v)) return 2; cfg.val = (float)v, given |= NN_GIVEN_VAL; break;
        case O_LIMIT: if (nn_whole_option(PROG, name, optarg, 1, 1000000000000, &n)) return 2; cfg.train_limit = (long)n, given |= NN_GIVEN_LIMIT; break;
        case O_MEAN: cfg.mean_subtract = 1; break;
        case O_AUGMENT: cfg.augment = 1; break;
        case O_TEST: cfg.eval_test = 1; break;
        case O_SEED: {
            char *end;
            cfg.seed = strtoull(optarg, &end, 10), given |= NN_GIVEN_SEED;
            if (end == optarg || *end || *optarg == '-')
                return usage_error("--seed: '%s' is not a whole number >= 0", optarg);
            break;
        }
        case O_RESUME: resume = optarg; break;
        case O_LOG: lc.tsv = optarg; break;
        case O_LOGDIR: lc.logdir = optarg; break;
        case O_LOG_EVERY: if (nn_whole_option(PROG, name, optarg, 1, 1000000000, &n)) return 2; lc.log_every = (long)n; break;
        case O_PLOT: lc.plot_dir = optarg; break;
        case O_FEVERY: if (nn_whole_option(PROG, name, optarg, 1, 1000000000, &n)) return 2; lc.filters_every = (long)n; break;
        case O_FLAYER: flayer = optarg; break;
        case O_SEARCH: if (nn_whole_option(PROG, name, optarg, 1, 1000000, &n)) return 2; sc.trials = (int)n; break;
        case O_SLR: if (range(name, optarg, &sc.lr_lo, &sc.lr_hi)) return 2; break;
        case O_SWD: if (range(name, optarg, &sc.wd_lo, &sc.wd_hi)) return 2; break;
        case 't': if (nn_whole_option(PROG, name, optarg, 0, 4096, &n)) return 2; threads = (int)n; break;
        case O_DEVICE: device = optarg; break;
        case 'q': quiet = 1; break;
        case 'v': verbose = 1; break;
        case 'h': fputs(usage_text, stdout); return 0;
        case 'V': printf("nn-train %s\n", NN_VERSION); return 0;
        case ':':
        default: return nn_option_error(PROG, c, argv, longopts);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    if (!data || (!resume && !arch) || (!resume && !out))
        return usage_error("%s", resume ? "-d DATA.h5 is required"
                                  : "-a ARCH.nn, -d DATA.h5 and -o OUTPUT are required");
    if (resume && arch)
        return usage_error("--resume takes the architecture from %s; drop -a %s", resume, arch);
    if (out && nn_is_stream(out))
        return usage_error("-o %s: %s; name a file", out, sc.trials
                               ? "--search draws its chart beside the results"
                               : "the model is written after every epoch");
    /* -o may name the checkpoint it resumes (as it does when left out) */
    const nn_file_use files[] = {
        {"-a", arch, 0}, {"-d", data, 0}, {"--resume", resume, 0},
        {"-o", resume && out && nn_same_file(out, resume) ? NULL : out, 1},
        {"--log", lc.tsv, 1}};
    if (nn_distinct_files(PROG, files, 5))
        return 2;
    if (sc.trials && resume)
        return usage_error("--search starts fresh models; it does not take --resume");
    if (sc.trials && !(cfg.val > 0))
        return usage_error("--search trains on train/validation only and ranks the trials by "
                           "validation accuracy: give a validation share (--val 0.2)");
    nn_schedule dummy;
    nn_error e;
    if (sched && nn_schedule_parse(&dummy, sched, &e) < 0)
        return usage_error("--schedule: %s", e.msg);
    nn_optim want;
    if (nn_optim_parse(&want, optim, &e) < 0)
        return usage_error("--optim: %s", e.msg);
    if (!isnan(momentum) && (set_optim || !resume) && !nn_optim_has_momentum(want.kind))
        return usage_error("--momentum goes with --optim momentum, nesterov or rmsprop, not %s",
                           nn_optim_name(want.kind));
    nn_device dev;
    int drc = nn_device_option(PROG, device, &dev);
    if (drc)
        return drc;

    /* every output can be written, before any work; the directories made
     * for them are removed again if the run fails before writing there */
    int rc = 1;
    char *fpath = NULL;
    nn_made_dirs made = {0};
    if (sc.trials && !(fpath = nn_search_png_path(out)))
        return fprintf(stderr, "nn-train: out of memory\n"), 1;
    if (check_outputs(out ? out : resume, fpath, &lc, &made, &e) < 0) {
        fprintf(stderr, "nn-train: %s\n", e.msg);
        nn_train_log_unprepare(&lc, &made);
        free(fpath);
        return 1;
    }
    nn_set_threads(threads);
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND; /* a second signal ends the program at once */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    nn_model *m = NULL;
    nn_optim o = {0};
    nn_trainer *t = NULL;
    nn_cuda *gpu = NULL;
    run r = {.quiet = quiet, .tty = isatty(2)};
    nn_dataset *d = nn_dataset_load(data, &e);
    if (!d)
        goto fail;
    if (resume) {
        if (!(m = nn_train_resume_load(resume, d, data, given, set_optim ? &want : NULL, &o,
                                       &cfg, &e)))
            goto fail;
        if (!out)
            out = resume;
    } else {
        if (!(m = nn_model_from_arch_file(arch, d->classes, &e)) ||
            nn_train_check_fit(m, arch, d, data, &e) < 0)
            goto fail;
        o = want;
    }
    if (nn_train_check_memory(m, nn_optim_slots(o.kind), cfg.batch, d, &e) < 0)
        goto fail;
    if (flayer && !sc.trials &&
        (lc.filters_layer = nn_layer_lookup(m, flayer, NN_NEED_CONV, &e)) < 0) {
        nn_fail_within(&e, "--filters-layer: ");
        goto fail;
    }
    if (cfg.eval_test && d->test.n == 0 && !sc.trials) {
        if (!quiet)
            fprintf(stderr, "nn-train: %s: no test images; --test is ignored\n", data);
        cfg.eval_test = 0;
    }
    if (!resume)
        nn_model_init_params(m, cfg.seed);
    if (!isnan(lr)) o.lr = (float)lr;
    if (!isnan(wd)) o.wd = (float)wd;
    if (!isnan(momentum) && !nn_optim_has_momentum(o.kind)) {
        nn_fail(&e, "%s was trained with %s, which has no --momentum", resume,
                nn_optim_name(o.kind));
        goto fail;
    }
    if (!isnan(momentum)) o.momentum = (float)momentum;
    if (sched && nn_schedule_parse(&cfg.schedule, sched, &e) < 0)
        goto fail;
    if (verbose)
        nn_model_summary(m, stderr);
    if (dev == NN_DEVICE_CUDA && !(gpu = nn_cuda_open(0, &e)))
        goto fail;
    cfg.gpu = gpu;
    cfg.sync_every = lc.filters_every; /* the snapshots read the weights */
    if (sc.trials) {
        sc.tsv = out, sc.quiet = quiet, sc.png = fpath;
        cfg.stop = should_stop;
        rc = nn_search(m->arch_text, arch, d, &o, &cfg, &sc, &e);
        if (rc < 0)
            goto fail;
        rc = got_signal ? 128 + got_signal : 0;
        goto done;
    }
    if (!resume && nn_optim_setup(&o, m, &e) < 0)
        goto fail;
    cfg.checkpoint = out;
    cfg.probe_every = lc.logdir ? lc.log_every : 0;
    cfg.ctx = &r, cfg.on_step = on_step, cfg.on_epoch = on_epoch, cfg.stop = should_stop;
    r.epochs = cfg.epochs;
    if (!(t = nn_trainer_new(m, &o, d, &cfg, &e)))
        goto fail;
    if (lc.filters_every && !(lc.filters_path = fpath = nn_train_filters_path(lc.plot_dir, out))) {
        nn_fail(&e, "out of memory");
        goto fail;
    }
    if ((lc.tsv || lc.logdir || lc.plot_dir || lc.filters_every) &&
        !(r.log = nn_train_log_open(&lc, t, &e)))
        goto fail;
    if (verbose)
        fprintf(stderr, "nn-train: %ld training, %ld validation, %ld test samples; %d threads%s\n",
                t->train.n, t->val.n, t->test.n, nn_threads(), gpu ? ", the network on the GPU" : "");
    if (got_signal) {
        nn_fail(&e, "interrupted before training started; nothing was written");
        nn_train_log_close(r.log, NULL, NULL);
        r.log = NULL;
        fprintf(stderr, "nn-train: %s\n", e.msg);
        rc = 128 + got_signal;
        goto done;
    }
    rc = nn_trainer_run(t, &e);
    if (nn_train_log_close(r.log, t, rc < 0 ? NULL : &e) < 0 && rc >= 0)
        rc = -1;
    r.log = NULL;
    if (rc < 0)
        goto fail;
    if (rc == 1) {
        if (!quiet)
            fprintf(stderr, "%snn-train: interrupted after step %ld; %s holds it; continue "
                    "with --resume %s\n", r.tty ? "\r\033[K" : "", t->step, out, out);
        rc = 128 + (got_signal ? got_signal : SIGINT);
        goto done;
    }
    if (verbose)
        fprintf(stderr, "nn-train: wrote %s (%d epochs, %ld steps)\n", out, t->epoch, t->step);
    rc = 0;
    goto done;
fail:
    /* a failed --log - is said once, by the exit check of standard output */
    if (!(ferror(stdout) && lc.tsv && strcmp(lc.tsv, "-") == 0))
        fprintf(stderr, "%snn-train: %s\n", r.tty && !quiet ? "\r\033[K" : "", e.msg);
    rc = 1;
    nn_train_log_unprepare(&lc, &made);
done:
    free(made.plot), free(made.logs);
    nn_train_log_close(r.log, NULL, NULL);
    nn_trainer_free(t);
    nn_cuda_close(gpu);
    nn_optim_free(&o);
    nn_model_free(m);
    nn_dataset_free(d);
    free(fpath);
    return rc;
}

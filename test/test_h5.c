/* test_h5.c - the model file (man 5 nn-model): a saved model and its
 * optimizer state load back bit-exactly, saving is atomic (a temporary
 * renamed into place, removed on failure), "-" round-trips through a pipe,
 * broken or mismatched files fail with one line naming the file and the
 * object, other HDF5 tools read the file, and the generic readers work on
 * files written by h5py. */
#include "nn.h"
#include "test.h"

#include <dirent.h>
#include <errno.h>
#include <float.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *arch_text =
    "input 3x8x8\n"
    "conv 4 3x3 pad=same name=c1\n"
    "batchnorm\n"
    "relu\n"
    "maxpool 2\n"
    "flatten\n"
    "dense 10 name=fc1\n"
    "dropout 0.5\n"
    "dense classes name=out\n"
    "softmax\n";

static char dir[256]; /* a fresh directory for this run's files */

static void path_in(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", dir, name);
}

/* A model with every parameter and buffer filled, class names,
 * normalisation and BGR order; o (when not NULL) is adam after two steps on
 * made-up gradients, so both of its slots and its step are nonzero. */
static nn_model *make_model(const char *text, int classes, uint64_t seed, nn_optim *o,
                            nn_error *e)
{
    nn_model *m = nn_model_from_arch(text, "test.nn", classes, e);
    if (!m)
        return NULL;
    nn_model_init_params(m, seed);
    nn_rng r;
    nn_rng_seed(&r, seed + 1);
    for (int i = 0; i < m->nlayers; i++)
        for (int j = 0; j < m->layers[i].nparam; j++) {
            nn_param *p = &m->layers[i].param[j];
            if (!p->trainable) /* running statistics, away from their init */
                for (size_t k = 0; k < p->size; k++)
                    p->value[k] = (float)(0.5 + nn_rng_uniform(&r));
        }
    if (classes > 0) {
        m->class_names = calloc((size_t)classes + 1, sizeof(char *));
        for (int c = 0; c < classes; c++) {
            char name[32];
            snprintf(name, sizeof name, "class %d \xc3\xa9", c); /* UTF-8 ... */
            if (c == 1)
                name[0] = 0; /* ... and an empty name */
            m->class_names[c] = strdup(name);
        }
    }
    for (int c = 0; c < 4; c++) {
        m->mean[c] = 0.1f * (float)(c + 1) + 0.0123f;
        m->std[c] = 0.2f * (float)(c + 1) + 0.0456f;
    }
    m->bgr = 1;
    m->loss = NN_LOSS_XENT;
    if (o) {
        if (nn_optim_parse(o, "adam:beta1=0.8", e) < 0 || nn_optim_setup(o, m, e) < 0) {
            nn_model_free(m);
            return NULL;
        }
        o->lr = 0.0125f;
        o->wd = 0.001f;
        for (int s = 0; s < 2; s++) {
            for (size_t k = 0; k < m->nvalues; k++)
                m->grads[k] = (float)nn_rng_normal(&r);
            nn_optim_step(o, m, o->lr);
        }
    }
    return m;
}

/* Compares everything the file carries; returns a description of the first
 * difference, or NULL. */
static const char *model_diff(const nn_model *a, const nn_model *b)
{
    static char why[512];
    if (strcmp(a->arch_text, b->arch_text) != 0)
        return "architecture text differs";
    if (a->nlayers != b->nlayers || a->classes != b->classes || a->loss != b->loss ||
        a->bgr != b->bgr || a->input.c != b->input.c || a->input.h != b->input.h ||
        a->input.w != b->input.w)
        return "layers, classes, loss, channel order or input differ";
    int k = a->input.c < 4 ? a->input.c : 4;
    if (memcmp(a->mean, b->mean, (size_t)k * sizeof(float)) != 0 ||
        memcmp(a->std, b->std, (size_t)k * sizeof(float)) != 0)
        return "input normalisation differs";
    if (!a->class_names != !b->class_names)
        return "class names present in one only";
    for (int c = 0; a->class_names && c <= a->classes; c++)
        if (!a->class_names[c] != !b->class_names[c] ||
            (a->class_names[c] && strcmp(a->class_names[c], b->class_names[c]) != 0)) {
            snprintf(why, sizeof why, "class name %d differs", c);
            return why;
        }
    for (int i = 0; i < a->nlayers; i++) {
        if (strcmp(a->layers[i].name, b->layers[i].name) != 0 ||
            a->layers[i].nparam != b->layers[i].nparam)
            return "layer names or parameter counts differ";
        for (int j = 0; j < a->layers[i].nparam; j++) {
            const nn_param *p = &a->layers[i].param[j], *q = &b->layers[i].param[j];
            if (p->size != q->size || memcmp(p->value, q->value, p->size * sizeof(float)) != 0) {
                snprintf(why, sizeof why, "layer %d %s differs", i, p->name);
                return why;
            }
        }
    }
    return NULL;
}

static const char *optim_diff(const nn_model *m, const nn_optim *a, const nn_optim *b)
{
    static char why[256];
    if (a->kind != b->kind || a->step != b->step || a->nslots != b->nslots ||
        a->nvalues != b->nvalues)
        return "kind, step, slots or size differ";
    if (a->lr != b->lr || a->momentum != b->momentum || a->wd != b->wd ||
        a->beta1 != b->beta1 || a->beta2 != b->beta2 || a->alpha != b->alpha ||
        a->eps != b->eps)
        return "hyper-parameters differ";
    for (int i = 0; i < m->nlayers; i++)
        for (int j = 0; j < m->layers[i].nparam; j++) {
            const nn_param *p = &m->layers[i].param[j];
            if (!p->grad)
                continue;
            size_t off = (size_t)(p->value - m->values);
            for (int s = 0; s < a->nslots; s++)
                if (memcmp(a->state + s * a->nvalues + off, b->state + s * b->nvalues + off,
                           p->size * sizeof(float)) != 0) {
                    snprintf(why, sizeof why, "slot %s of layer %d %s differs",
                             nn_optim_slot_name(a->kind, s), i, p->name);
                    return why;
                }
        }
    return NULL;
}

/* Entries of d other than . and .., and whether one looks like a
 * temporary (".tmp." in its name). */
static int count_entries(const char *d, int *temporaries)
{
    DIR *dp = opendir(d);
    int n = 0;
    *temporaries = 0;
    if (!dp)
        return -1;
    for (struct dirent *de; (de = readdir(dp));) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        n++;
        *temporaries += strstr(de->d_name, ".tmp.") != NULL;
    }
    closedir(dp);
    return n;
}

static long copy_prefix(const char *src, const char *dst, double fraction)
{
    FILE *f = fopen(src, "rb"), *g = fopen(dst, "wb");
    long n = -1;
    if (f && g && fseek(f, 0, SEEK_END) == 0) {
        long size = ftell(f);
        n = (long)(size * fraction);
        rewind(f);
        char *buf = malloc((size_t)n + 1);
        if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n || fwrite(buf, 1, (size_t)n, g) != (size_t)n)
            n = -1;
        free(buf);
    }
    if (f)
        fclose(f);
    if (g)
        fclose(g);
    return n;
}

static void remove_tree(const char *d)
{
    DIR *dp = opendir(d);
    if (!dp)
        return;
    for (struct dirent *de; (de = readdir(dp));) {
        char p[512];
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", d, de->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
            chmod(p, 0700);
            remove_tree(p);
        } else {
            unlink(p);
        }
    }
    closedir(dp);
    rmdir(d);
}

static int have_command(const char *cmd)
{
    char buf[256];
    snprintf(buf, sizeof buf, "command -v %s >/dev/null 2>&1", cmd);
    return system(buf) == 0;
}

/* The Python that has h5py: Debian's, which need not be first on PATH. */
static const char *python_with_h5py(void)
{
    static const char *const pythons[] = {"/usr/bin/python3", "python3"};
    for (int i = 0; i < 2; i++) {
        char buf[256];
        snprintf(buf, sizeof buf, "%s -c 'import h5py' >/dev/null 2>&1", pythons[i]);
        if (system(buf) == 0)
            return pythons[i];
    }
    return NULL;
}

/* Runs cmd and returns its first line of output (static), or NULL. */
static const char *first_line(const char *cmd)
{
    static char line[1024];
    FILE *p = popen(cmd, "r");
    if (!p)
        return NULL;
    char *got = fgets(line, sizeof line, p);
    int rc = pclose(p);
    if (!got || rc != 0)
        return NULL;
    line[strcspn(line, "\n")] = 0;
    return line;
}

/* Saves m and o to "-" in a child whose stdout is a pipe, and loads the
 * other end as "-" in this process. */
static nn_model *pipe_round_trip(const nn_model *m, const nn_optim *o, nn_optim *o2,
                                 nn_error *e)
{
    int fds[2];
    if (pipe(fds) < 0) {
        nn_fail(e, "pipe: %s", strerror(errno));
        return NULL;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 1);
        close(fds[1]);
        nn_error ce;
        int rc = nn_model_save(m, o, "-", &ce);
        if (rc < 0)
            fprintf(stderr, "child: %s\n", ce.msg);
        _exit(rc < 0);
    }
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        nn_fail(e, "fork: %s", strerror(errno));
        return NULL;
    }
    int saved_stdin = dup(0);
    dup2(fds[0], 0);
    close(fds[0]);
    nn_model *m2 = nn_model_load("-", o2, e);
    dup2(saved_stdin, 0);
    close(saved_stdin);
    clearerr(stdin);
    int status;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        nn_model_free(m2);
        nn_fail(e, "the saving child failed");
        return NULL;
    }
    return m2;
}

static void forward_equal(nn_model *a, nn_model *b)
{
    nn_error e;
    float x[2 * 3 * 8 * 8];
    nn_rng r;
    nn_rng_seed(&r, 9);
    for (size_t i = 0; i < sizeof x / sizeof *x; i++)
        x[i] = (float)nn_rng_normal(&r);
    if (nn_model_reserve(a, 2, &e) < 0 || nn_model_reserve(b, 2, &e) < 0) {
        FAILF("%s", e.msg);
        return;
    }
    nn_pass p = {.train = 0};
    const float *ya = nn_model_forward(a, x, 2, &p), *yb = nn_model_forward(b, x, 2, &p);
    size_t n = 2 * nn_dims_size(a->layers[a->nlayers - 1].out);
    CHECK_MSG(memcmp(ya, yb, n * sizeof(float)) == 0, "outputs differ");
}

int main(void)
{
    nn_error e = {{0}};
    char path[400], path2[512], cmd[1600];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/nn-test-h5-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        printf("FAIL mkdtemp %s: %s\n", dir, strerror(errno));
        return 1;
    }

    nn_optim o = {0};
    nn_model *m = make_model(arch_text, 3, 42, &o, &e);
    if (!m) {
        printf("FAIL building the test model: %s\n", e.msg);
        remove_tree(dir);
        return 1;
    }
    /* bit patterns that a conversion would change: -0, denormals, the
     * largest float (inf and NaN are refused on load: tested below) */
    float *b = m->layers[5].param[1].value; /* fc1's bias */
    b[0] = -0.0f, b[1] = 1e-45f, b[2] = FLT_MAX, b[3] = -1e-40f;

    path_in(path, sizeof path, "model.h5");
    TEST("save then load: every parameter, buffer, optimizer slot and attribute bit-exact");
    nn_optim o2 = {0};
    nn_model *m2 = NULL;
    if (nn_model_save(m, &o, path, &e) < 0) {
        FAILF("save: %s", e.msg);
    } else if (!(m2 = nn_model_load(path, &o2, &e))) {
        FAILF("load: %s", e.msg);
    } else {
        const char *why = model_diff(m, m2);
        CHECK_MSG(!why, "%s", why ? why : "");
        CHECK_MSG(o2.state != NULL, "no optimizer state loaded");
        why = o2.state ? optim_diff(m, &o, &o2) : NULL;
        CHECK_MSG(!why, "%s", why ? why : "");
        CHECK(o2.step == 2 && o2.kind == NN_OPT_ADAM && o2.beta1 == 0.8f);
        CHECK(strcmp(m2->class_names[0], "class 0 \xc3\xa9") == 0);
        CHECK(m2->class_names[3] == NULL);
    }

    TEST("the loaded model computes the same outputs");
    if (m2) {
        b[2] = 0, b[3] = 0; /* finite outputs to compare */
        m2->layers[5].param[1].value[2] = m2->layers[5].param[1].value[3] = 0;
        forward_equal(m, m2);
    }
    nn_model_free(m2);
    nn_optim_free(&o2);

    TEST("the file is plain: mode 0666 less the umask, no temporary left");
    {
        struct stat st;
        mode_t mask = umask(0);
        umask(mask);
        int temps, n = count_entries(dir, &temps);
        CHECK_MSG(n == 1 && temps == 0, "%d entries, %d temporaries", n, temps);
        CHECK_MSG(stat(path, &st) == 0 && (st.st_mode & 0777) == (0666 & ~mask),
                  "mode %o", (unsigned)(st.st_mode & 0777));
    }

    TEST("saving over an existing file replaces it and leaves no temporary");
    {
        nn_model *m3 = make_model(arch_text, 3, 7, NULL, &e);
        nn_model *m4 = NULL;
        nn_optim o4 = {0};
        if (!m3 || nn_model_save(m3, NULL, path, &e) < 0 || !(m4 = nn_model_load(path, &o4, &e))) {
            FAILF("%s", e.msg);
        } else {
            const char *why = model_diff(m3, m4);
            CHECK_MSG(!why, "%s", why ? why : "");
            CHECK_MSG(o4.state == NULL && o4.nvalues == 0,
                      "a file without /optim left optimizer state");
            int temps, n = count_entries(dir, &temps);
            CHECK_MSG(n == 1 && temps == 0, "%d entries, %d temporaries", n, temps);
        }
        nn_model_free(m3);
        nn_model_free(m4);
    }

    TEST("a state-less optimizer (sgd) keeps its step and learning rate");
    {
        nn_optim s = {0}, s2 = {0};
        nn_model *m4 = NULL;
        path_in(path2, sizeof path2, "sgd.h5");
        if (nn_optim_parse(&s, "sgd", &e) < 0 || nn_optim_setup(&s, m, &e) < 0) {
            FAILF("%s", e.msg);
        } else {
            s.step = 1234567, s.lr = 0.5f;
            if (nn_model_save(m, &s, path2, &e) < 0 || !(m4 = nn_model_load(path2, &s2, &e)))
                FAILF("%s", e.msg);
            else
                CHECK(s2.kind == NN_OPT_SGD && s2.step == 1234567 && s2.lr == 0.5f &&
                      s2.state == NULL && s2.nvalues == m->nvalues);
        }
        nn_model_free(m4);
        nn_optim_free(&s);
        nn_optim_free(&s2);
        unlink(path2);
    }

    TEST("saving into a nonexistent directory fails naming the file and the cause");
    {
        path_in(path2, sizeof path2, "nosuch/model.h5");
        int rc = nn_model_save(m, &o, path2, &e);
        CHECK(rc == -1);
        CHECK_MSG(strstr(e.msg, path2) && strstr(e.msg, "No such file or directory"),
                  "message: %s", e.msg);
        CHECK_MSG(!strchr(e.msg, '\n'), "more than one line: %s", e.msg);
        /* a "directory" that is a file */
        snprintf(path2, sizeof path2, "%s/model.h5", path);
        CHECK(nn_model_save(m, NULL, path2, &e) == -1);
        CHECK_MSG(strstr(e.msg, path2) && strstr(e.msg, "Not a directory"), "message: %s",
                  e.msg);
    }

    TEST("saving into a read-only directory fails and leaves nothing there");
    if (geteuid() == 0) {
        SKIP("running as root: permissions do not stop writes");
    } else {
        char ro[300];
        path_in(ro, sizeof ro, "ro");
        mkdir(ro, 0500);
        snprintf(path2, sizeof path2, "%s/model.h5", ro);
        int rc = nn_model_save(m, &o, path2, &e);
        CHECK(rc == -1);
        CHECK_MSG(strstr(e.msg, path2) && strstr(e.msg, "Permission denied"), "message: %s",
                  e.msg);
        int temps;
        CHECK(count_entries(ro, &temps) == 0);
        rmdir(ro);
    }

    TEST("a write that fails midway (file size limit) says why and removes the temporary");
    {
        char sub[300];
        path_in(sub, sizeof sub, "limited");
        mkdir(sub, 0700);
        snprintf(path2, sizeof path2, "%s/big.h5", sub);
        nn_model *big = make_model("input 1x28x28\nflatten\ndense 100\nrelu\ndense classes\n",
                                   10, 3, NULL, &e);
        int fds[2];
        if (!big || pipe(fds) < 0) {
            FAILF("%s", big ? strerror(errno) : e.msg);
        } else {
            fflush(stdout);
            pid_t pid = fork();
            if (pid == 0) { /* 64 KiB at most; the model is 314 KB */
                struct rlimit rl = {65536, 65536};
                signal(SIGXFSZ, SIG_IGN);
                setrlimit(RLIMIT_FSIZE, &rl);
                nn_error ce = {{0}};
                int rc = nn_model_save(big, NULL, path2, &ce);
                if (write(fds[1], ce.msg, strlen(ce.msg) + 1) < 0)
                    _exit(3);
                exit(rc == -1 ? 0 : 2); /* HDF5's exit handlers run too */
            }
            close(fds[1]);
            char msg[1024] = {0};
            ssize_t got = read(fds[0], msg, sizeof msg - 1);
            close(fds[0]);
            int status = 0;
            waitpid(pid, &status, 0);
            CHECK_MSG(got > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
                      "the save did not fail, or the process crashed (status %d)", status);
            CHECK_MSG(strstr(msg, path2) && strstr(msg, "write failed: File too large"),
                      "message: %s", msg);
            int temps, n = count_entries(sub, &temps);
            CHECK_MSG(n == 0, "%d entries left", n);
        }
        nn_model_free(big);
        rmdir(sub);
    }

    TEST("a truncated file fails with one line: FILE: not a readable HDF5 file");
    {
        path_in(path2, sizeof path2, "half.h5");
        nn_model *m4 = NULL;
        if (copy_prefix(path, path2, 0.5) <= 0) {
            FAILF("cannot copy %s", path);
        } else {
            m4 = nn_model_load(path2, NULL, &e);
            char want[600];
            snprintf(want, sizeof want, "%s: not a readable HDF5 file", path2);
            CHECK(m4 == NULL);
            CHECK_MSG(strcmp(e.msg, want) == 0, "message: %s", e.msg);
        }
        nn_model_free(m4);
        unlink(path2);
    }

    TEST("not HDF5, a directory, a missing file: one line each");
    {
        path_in(path2, sizeof path2, "text.h5");
        FILE *f = fopen(path2, "w");
        fputs("input 1x2x2\n", f);
        fclose(f);
        CHECK(nn_model_load(path2, NULL, &e) == NULL);
        CHECK_MSG(strstr(e.msg, "not a readable HDF5 file"), "message: %s", e.msg);
        unlink(path2);
        CHECK(nn_model_load(dir, NULL, &e) == NULL);
        CHECK_MSG(strstr(e.msg, "is a directory"), "message: %s", e.msg);
        path_in(path2, sizeof path2, "missing.h5");
        CHECK(nn_model_load(path2, NULL, &e) == NULL);
        CHECK_MSG(strstr(e.msg, path2) && strstr(e.msg, "No such file or directory"),
                  "message: %s", e.msg);
    }

    TEST("a parameter of the wrong shape is named with both shapes");
    {
        /* the file's weights are for 3 input channels, its text says 1 */
        nn_model *w = make_model(arch_text, 3, 5, NULL, &e);
        if (!w) {
            FAILF("%s", e.msg);
        } else {
            free(w->arch_text);
            w->arch_text = strdup(arch_text);
            w->arch_text[6] = '1'; /* "input 1x8x8" */
            w->input.c = 1;
            path_in(path2, sizeof path2, "shape.h5");
            nn_model *m4 = NULL;
            if (nn_model_save(w, NULL, path2, &e) < 0) {
                FAILF("%s", e.msg);
            } else {
                m4 = nn_model_load(path2, NULL, &e);
                char want[600];
                snprintf(want, sizeof want,
                         "%s: /layers/000/weight has shape [4,3,3,3], the architecture needs [4,1,3,3]",
                         path2);
                CHECK(m4 == NULL);
                CHECK_MSG(strcmp(e.msg, want) == 0, "message: %s", e.msg);
            }
            nn_model_free(m4);
            nn_model_free(w);
            unlink(path2);
        }
    }

    TEST("\"-\" round trip through a pipe, with optimizer state");
    {
        nn_optim o3 = {0};
        nn_model *m3 = pipe_round_trip(m, &o, &o3, &e);
        if (!m3) {
            FAILF("%s", e.msg);
        } else {
            const char *why = model_diff(m, m3);
            CHECK_MSG(!why, "%s", why ? why : "");
            why = o3.state ? optim_diff(m, &o, &o3) : "no optimizer state";
            CHECK_MSG(!why, "%s", why);
        }
        nn_model_free(m3);
        nn_optim_free(&o3);
        /* an empty stdin is not a model */
        int fds[2];
        if (pipe(fds) == 0) {
            int saved = dup(0);
            close(fds[1]);
            dup2(fds[0], 0);
            close(fds[0]);
            nn_model *m4 = nn_model_load("-", NULL, &e);
            dup2(saved, 0);
            close(saved);
            clearerr(stdin);
            CHECK(m4 == NULL);
            CHECK_MSG(strcmp(e.msg, "stdin: not a readable HDF5 file") == 0, "message: %s",
                      e.msg);
            nn_model_free(m4);
        }
    }

    TEST("generic readers: list, exists, datasets and attributes of a model file");
    {
        nn_h5 *f = nn_h5_open(path, &e);
        if (!f) {
            FAILF("%s", e.msg);
        } else {
            /* path now holds the seed-7 model without optimizer */
            char **names = nn_h5_list(f, "/layers", &e);
            int n = 0;
            while (names && names[n])
                n++;
            CHECK_MSG(n == 9 && strcmp(names[0], "000") == 0 && strcmp(names[8], "008") == 0,
                      "%d names", n);
            nn_strv_free(names);
            names = nn_h5_list(f, "/", &e);
            CHECK(names && strcmp(names[0], "layers") == 0 && !names[1]);
            nn_strv_free(names);
            CHECK(nn_h5_exists(f, "/"));
            CHECK(nn_h5_exists(f, "/layers/000/weight"));
            CHECK(nn_h5_exists(f, "layers/001/running_var"));
            CHECK(!nn_h5_exists(f, "/layers/002/weight"));
            CHECK(!nn_h5_exists(f, "/nosuch/weight"));
            CHECK(!nn_h5_exists(f, "/optim"));
            float *data = NULL;
            int nd = 0, dims[8];
            CHECK(nn_h5_read_floats(f, "/layers/005/weight", &data, &nd, dims, &e) == 0);
            CHECK(nd == 2 && dims[0] == 10 && dims[1] == 64);
            free(data);
            char *s = NULL;
            CHECK(nn_h5_read_attr_string(f, "/", "format", &s, &e) == 0 && s &&
                  strcmp(s, "nn-model") == 0);
            free(s);
            s = NULL;
            CHECK(nn_h5_read_attr_string(f, "/layers/000", "name", &s, &e) == 0 && s &&
                  strcmp(s, "c1") == 0);
            free(s);
            double v = 0;
            CHECK(nn_h5_read_attr_double(f, "/", "version", &v, &e) == 0 && v == 1);
            CHECK(nn_h5_read_attr_double(f, "/", "classes", &v, &e) == 0 && v == 3);
            /* errors name the file and the object */
            CHECK(nn_h5_read_floats(f, "/layers/000/nope", &data, &nd, dims, &e) == -1);
            CHECK_MSG(strstr(e.msg, path) && strstr(e.msg, "/layers/000/nope"), "%s", e.msg);
            CHECK(nn_h5_read_floats(f, "/layers", &data, &nd, dims, &e) == -1);
            CHECK_MSG(strstr(e.msg, "is not a dataset"), "%s", e.msg);
            CHECK(nn_h5_read_attr_string(f, "/", "nope", &s, &e) == -1);
            CHECK_MSG(strstr(e.msg, path) && strstr(e.msg, "'nope'"), "%s", e.msg);
            CHECK(nn_h5_read_attr_double(f, "/", "format", &v, &e) == -1);
            CHECK_MSG(strstr(e.msg, "not a number"), "%s", e.msg);
            CHECK(nn_h5_read_attr_string(f, "/", "input", &s, &e) == -1);
            CHECK_MSG(strstr(e.msg, "not a string"), "%s", e.msg);
            CHECK(nn_h5_read_attr_double(f, "/", "input", &v, &e) == -1);
            CHECK(nn_h5_list(f, "/layers/000/weight", &e) == NULL);
            CHECK_MSG(strstr(e.msg, "not a group"), "%s", e.msg);
            nn_h5_close(f);
        }
    }

    TEST("h5dump reads the model file");
    if (!have_command("h5dump")) {
        SKIP("h5dump not installed (Debian: hdf5-tools)");
    } else {
        snprintf(cmd, sizeof cmd, "h5dump -H '%s' >/dev/null 2>&1", path);
        CHECK_MSG(system(cmd) == 0, "h5dump -H %s failed", path);
        snprintf(cmd, sizeof cmd, "h5dump -a /format '%s' 2>/dev/null | grep -q '\"nn-model\"'", path);
        CHECK_MSG(system(cmd) == 0, "h5dump does not show format \"nn-model\"");
    }

    const char *py = python_with_h5py();
    TEST("h5py reads the model file: shapes, attributes, class names");
    if (!py) {
        SKIP("h5py not installed (Debian: python3-h5py)");
    } else {
        snprintf(cmd, sizeof cmd,
                 "%s -c \"import h5py,sys; f=h5py.File(sys.argv[1],'r'); "
                 "w=f['layers/000/weight']; a=f.attrs; "
                 "print(w.shape, w.dtype, a['format'], int(a['version']), a['input'].tolist(), "
                 "a['channel_order'], a['loss'], list(a['class_names'])[1:], "
                 "f['layers/000'].attrs['type'])\" '%s' 2>&1",
                 py, path);
        const char *got = first_line(cmd);
        const char *want = "(4, 3, 3, 3) float32 nn-model 1 [3, 8, 8] bgr xent ['', 'class 2 \xc3\xa9'] conv";
        CHECK_MSG(got && strcmp(got, want) == 0, "h5py printed: %s", got ? got : "(failed)");
    }

    TEST("generic readers on a file h5py wrote: conversions, fixed strings, sorting");
    if (!py) {
        SKIP("h5py not installed (Debian: python3-h5py)");
    } else {
        path_in(path2, sizeof path2, "other.h5");
        snprintf(cmd, sizeof cmd,
                 "%s -c \"import h5py,numpy as np,sys; f=h5py.File(sys.argv[1],'w'); "
                 "f['x']=np.arange(-3,3,dtype=np.int16).reshape(2,3); "
                 "f['g/b']=np.float64(2.5); f['g/a']=np.zeros((1,1,1,1,1,1,1,1,1),np.float32); "
                 "f.attrs['fixed']=np.bytes_('fixed text'); f.attrs['vlen']='vlen text'; "
                 "f.attrs['d']=np.float64(0.1); f.attrs['i']=np.uint8(200); "
                 "f['g'].attrs['two']=np.array([1,2])\" '%s' 2>&1",
                 py, path2);
        CHECK_MSG(system(cmd) == 0, "h5py could not write %s", path2);
        nn_h5 *f = nn_h5_open(path2, &e);
        if (!f) {
            FAILF("%s", e.msg);
        } else {
            float *data = NULL;
            int nd = 0, dims[8];
            CHECK(nn_h5_read_floats(f, "/x", &data, &nd, dims, &e) == 0 && nd == 2 &&
                  dims[0] == 2 && dims[1] == 3 && data[0] == -3 && data[5] == 2);
            free(data);
            CHECK(nn_h5_read_floats(f, "/g/b", &data, &nd, dims, &e) == 0 && nd == 0 &&
                  data[0] == 2.5f);
            free(data);
            CHECK(nn_h5_read_floats(f, "/g/a", &data, &nd, dims, &e) == -1);
            CHECK_MSG(strstr(e.msg, "9 dimensions"), "%s", e.msg);
            char *s = NULL;
            CHECK(nn_h5_read_attr_string(f, "/", "fixed", &s, &e) == 0 && s &&
                  strcmp(s, "fixed text") == 0);
            free(s);
            s = NULL;
            CHECK(nn_h5_read_attr_string(f, "/", "vlen", &s, &e) == 0 && s &&
                  strcmp(s, "vlen text") == 0);
            free(s);
            double v = 0;
            CHECK(nn_h5_read_attr_double(f, "/", "d", &v, &e) == 0 && v == 0.1);
            CHECK(nn_h5_read_attr_double(f, "/", "i", &v, &e) == 0 && v == 200);
            CHECK(nn_h5_read_attr_double(f, "/g", "two", &v, &e) == -1);
            CHECK_MSG(strstr(e.msg, "2 values"), "%s", e.msg);
            char **names = nn_h5_list(f, "/g", &e);
            CHECK(names && strcmp(names[0], "a") == 0 && strcmp(names[1], "b") == 0 && !names[2]);
            nn_strv_free(names);
            nn_h5_close(f);
        }
        TEST("an HDF5 file that is not a model says so");
        nn_model *m4 = nn_model_load(path2, NULL, &e);
        char want[600];
        snprintf(want, sizeof want, "%s: not an nn model (no 'format' attribute)", path2);
        CHECK(m4 == NULL);
        CHECK_MSG(strcmp(e.msg, want) == 0, "message: %s", e.msg);
        nn_model_free(m4);
        unlink(path2);
    }

    TEST("a weight that is NaN or infinite, or an input std of 0: the load fails naming it");
    {
        path_in(path, sizeof path, "nan.h5");
        float keep = b[4];
        b[4] = NAN;
        nn_model *m5 = NULL;
        if (nn_model_save(m, NULL, path, &e) == 0)
            m5 = nn_model_load(path, NULL, &e);
        CHECK(m5 == NULL);
        CHECK_MSG(strstr(e.msg, "/layers/005/bias holds nan at index 4"), "message: %s", e.msg);
        nn_model_free(m5);
        b[4] = keep;
        float std0 = m->std[0];
        m->std[0] = 0;
        m5 = NULL;
        if (nn_model_save(m, NULL, path, &e) == 0)
            m5 = nn_model_load(path, NULL, &e);
        CHECK(m5 == NULL);
        CHECK_MSG(strstr(e.msg, "std 0; the std must be a positive number"), "message: %s", e.msg);
        nn_model_free(m5);
        m->std[0] = std0;
        unlink(path);
    }

    nn_optim_free(&o);
    nn_model_free(m);
    remove_tree(dir);
    return test_done();
}

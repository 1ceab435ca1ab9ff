/* util.c - errors, threads, time and random numbers. */
#include "nn.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <time.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int nn_fail(nn_error *e, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int nn_fail_within(nn_error *e, const char *fmt, ...)
{
    if (e) {
        char inner[sizeof e->msg];
        snprintf(inner, sizeof inner, "%s", e->msg);
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < sizeof e->msg)
            snprintf(e->msg + n, sizeof e->msg - (size_t)n, "%s", inner);
    }
    return -1;
}

/* OpenBLAS here is the OpenMP build: inside our parallel regions it runs
 * single-threaded, outside them it uses the same pool as our loops, so the
 * two never oversubscribe the cores. */
void nn_set_threads(int n)
{
    if (n <= 0)
        n = omp_get_num_procs();
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
}

int nn_threads(void) { return omp_get_max_threads(); }

double nn_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int nn_argmax(const float *v, int k)
{
    int best = 0;
    for (int j = 1; j < k; j++)
        if (v[j] > v[best])
            best = j;
    return best;
}

void nn_format_dims(char *buf, size_t size, int ndims, const int *dims)
{
    size_t n = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < ndims && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, "%s%d", i ? "," : "", dims[i]);
    if (n < size)
        snprintf(buf + n, size - n, "]");
}

void nn_format_float(char *buf, size_t size, float v)
{
    if (!buf || size == 0)
        return;
    for (int digits = 1; digits <= 9; digits++) {
        snprintf(buf, size, "%.*g", digits, v);
        if (strtof(buf, NULL) == v)
            return;
    }
}

void nn_rng_seed(nn_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) {
        seed = nn_hash64(seed);
        r->s[i] = seed;
    }
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* xoshiro256** (Blackman and Vigna). */
uint64_t nn_rng_u64(nn_rng *r)
{
    uint64_t *s = r->s, result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double nn_rng_uniform(nn_rng *r) { return (nn_rng_u64(r) >> 11) * 0x1.0p-53; }

/* Box-Muller, one value per call so that the stream has no hidden state
 * beyond s[] (a checkpoint of s[] resumes it exactly). */
double nn_rng_normal(nn_rng *r)
{
    double u1 = 1.0 - nn_rng_uniform(r); /* (0,1] */
    double u2 = nn_rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

void nn_strv_free(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

/* write(2) until done or an error (errno set). */
static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, p, n > ((size_t)1 << 30) ? (size_t)1 << 30 : n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            if (k == 0)
                errno = EIO;
            return -1;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* The directory part of path ("." when it has none), synced so that a
 * rename in it survives a crash (best effort). */
static void sync_dir(const char *path)
{
    char *dir = strdup(path);
    char *slash = dir ? strrchr(dir, '/') : NULL;
    if (slash == dir && dir)
        slash[1] = 0; /* "/model.h5": the root */
    else if (slash)
        *slash = 0;
    int fd = dir ? open(slash ? dir : ".", O_RDONLY | O_DIRECTORY) : -1;
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
}

/* Writes buf straight into an existing file that is not a regular one (a
 * device, a FIFO): there is nothing to replace. */
static int write_into(const char *path, const void *buf, size_t size, nn_error *e)
{
    int fd = open(path, O_WRONLY | O_TRUNC);
    if (fd < 0)
        return nn_fail(e, "%s: cannot open: %s", path, strerror(errno));
    int rc = write_all(fd, buf, size) < 0 ? nn_fail(e, "%s: write failed: %s", path,
                                                    strerror(errno))
                                          : 0;
    if (close(fd) < 0 && rc == 0)
        rc = nn_fail(e, "%s: write failed: %s", path, strerror(errno));
    return rc;
}

int nn_write_file(const char *path, const void *buf, size_t size, nn_error *e)
{
    /* a symbolic link: replace the file it names, keep the link */
    char *real = realpath(path, NULL);
    struct stat st;
    int exists = stat(path, &st) == 0;
    if (exists && !S_ISREG(st.st_mode)) {
        free(real);
        if (S_ISDIR(st.st_mode))
            return nn_fail(e, "%s: is a directory", path);
        return write_into(path, buf, size, e);
    }
    const char *target = exists && real ? real : path;
    size_t len = strlen(target);
    char *tmp = malloc(len + sizeof ".tmp.XXXXXX");
    if (!tmp) {
        free(real);
        return nn_fail(e, "%s: out of memory", path);
    }
    memcpy(tmp, target, len);
    memcpy(tmp + len, ".tmp.XXXXXX", sizeof ".tmp.XXXXXX");
    int fd = mkstemp(tmp);
    if (fd < 0) {
        nn_fail(e, "%s: cannot create: %s", path, strerror(errno));
        free(tmp), free(real);
        return -1;
    }
    /* mkstemp makes the file 0600: keep the mode of the file it replaces,
     * or give the one a plain create would */
    mode_t mask = umask(0);
    umask(mask);
    mode_t mode = exists ? st.st_mode & 07777 : 0666 & ~mask;
    int rc = 0;
    if (fchmod(fd, mode) < 0 || write_all(fd, buf, size) < 0 || fsync(fd) < 0)
        rc = nn_fail(e, "%s: write failed: %s", path, strerror(errno));
    if (close(fd) < 0 && rc == 0)
        rc = nn_fail(e, "%s: write failed: %s", path, strerror(errno));
    if (rc == 0 && rename(tmp, target) < 0)
        rc = nn_fail(e, "%s: cannot replace it: %s", path, strerror(errno));
    if (rc < 0)
        unlink(tmp);
    else
        sync_dir(target);
    free(tmp), free(real);
    return rc;
}

int nn_check_output(const char *path, nn_error *e)
{
    struct stat st;
    if (strcmp(path, "-") == 0)
        return 0;
    if (stat(path, &st) == 0)
        return S_ISDIR(st.st_mode) ? nn_fail(e, "%s: is a directory", path) : 0;
    char *dir = strdup(path);
    if (!dir)
        return nn_fail(e, "%s: out of memory", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = 0;
    else if (slash)
        *slash = 0;
    const char *d = slash ? dir : ".";
    int rc = 0;
    if (stat(d, &st) < 0)
        rc = nn_fail(e, "%s: cannot create: %s: %s", path, d, strerror(errno));
    else if (!S_ISDIR(st.st_mode))
        rc = nn_fail(e, "%s: cannot create: %s is not a directory", path, d);
    else if (access(d, W_OK) < 0)
        rc = nn_fail(e, "%s: cannot create: %s: %s", path, d, strerror(errno));
    free(dir);
    return rc;
}

int nn_is_stream(const char *path)
{
    struct stat sf, so;
    if (strcmp(path, "-") == 0)
        return 1;
    if (stat(path, &sf) != 0)
        return 0;
    return S_ISFIFO(sf.st_mode) || S_ISSOCK(sf.st_mode) ||
           (fstat(STDOUT_FILENO, &so) == 0 && so.st_dev == sf.st_dev && so.st_ino == sf.st_ino);
}

int nn_mkdir_p(const char *dir, nn_error *e)
{
    char *p = strdup(dir);
    if (!p)
        return nn_fail(e, "%s: out of memory", dir);
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s)
            continue;
        char c = *s;
        *s = 0;
        if (mkdir(p, 0777) < 0 && errno != EEXIST) {
            nn_fail(e, "%s: cannot create the directory: %s", p, strerror(errno));
            free(p);
            return -1;
        }
        *s = c;
        if (!c)
            break;
    }
    free(p);
    struct stat st;
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
        return nn_fail(e, "%s: not a directory", dir);
    if (access(dir, W_OK) < 0)
        return nn_fail(e, "%s: cannot write: %s", dir, strerror(errno));
    return 0;
}

char *nn_missing_prefix(const char *dir)
{
    struct stat st;
    char *p = strdup(dir);
    if (!p || stat(dir, &st) == 0) {
        free(p);
        return NULL;
    }
    for (char *s = p + 1; *s; s++) /* the first component that is not there */
        if (*s == '/') {
            *s = 0;
            if (stat(p, &st) != 0)
                return p;
            *s = '/';
        }
    return p;
}

/* p without its trailing slashes (but "/" stays). */
static void trim_slashes(char *p)
{
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/')
        p[--n] = 0;
}

void nn_rmdir_up(const char *dir, const char *top)
{
    char *p = strdup(dir), *t = strdup(top);
    if (p && t) {
        trim_slashes(p), trim_slashes(t);
        size_t n = strlen(t);
        while (strlen(p) >= n && rmdir(p) == 0 && strlen(p) > n) {
            char *slash = strrchr(p, '/');
            if (!slash)
                break;
            *slash = 0;
            trim_slashes(p); /* "a//b": the parent is "a" */
        }
    }
    free(p), free(t);
}

static const char *stdout_prog = "nn";

/* At exit: standard output flushed, or the exit status says it failed. */
static void check_stdout(void)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        int err = errno ? errno : EIO;
        if (err != EPIPE)
            fprintf(stderr, "%s: standard output: write failed: %s\n", stdout_prog,
                    strerror(err));
        _exit(1);
    }
}

void nn_check_stdout_at_exit(const char *prog)
{
    stdout_prog = prog;
    atexit(check_stdout);
}

/* registry.c - the dataset registry (data/datasets.tsv) and getting a
 * dataset's files: from --from DIR, from a directory a distribution package
 * installs, from the download cache, or downloaded (nn_fetch_url: resume,
 * retries, checksum), each checked against its sum before use.
 *
 * Registry: UTF-8 text, '#' comments and blank lines ignored, one line per
 * file and place, tab-separated columns (a '-' leaves one empty):
 *   name  format  file  bytes  sha256  source  [classes]
 * The sum is a SHA-256 (64 hex digits), or an MD5 (32) where the publisher
 * gives nothing else (Keras's pretrained weights). source is a base URL
 * (the file name is appended), an absolute directory,
 * or '-' (the user brings the file, with --from). */
#include "nn.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- reading the registry ----------------------------------------------- */

static void row_free(nn_reg_row *r)
{
    free(r->name);
    free(r->format);
    free(r->file);
    free(r->sha256);
    free(r->source);
    free(r->classes);
}

void nn_registry_free(nn_registry *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->n; i++)
        row_free(&r->rows[i]);
    free(r->rows);
    free(r->path);
    free(r);
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The registry beside the program: PREFIX/share/nn/datasets.tsv for an
 * installed one, else data/datasets.tsv in the program's directory or up to
 * three levels above it (bin/, build/sanitize/bin/ of a source tree). */
static int default_path(char *buf, size_t size)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return -1;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (!slash)
        return -1;
    *slash = 0;
    snprintf(buf, size, "%s/../share/nn/datasets.tsv", exe);
    if (file_exists(buf))
        return 0;
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", exe);
    for (int up = 0; up < 4; up++) {
        snprintf(buf, size, "%s/data/datasets.tsv", dir);
        if (file_exists(buf))
            return 0;
        if (strlen(dir) + 4 >= sizeof dir)
            break;
        strcat(dir, "/..");
    }
    return -1;
}

/* Splits line at tabs (in place) into field[]; returns the number of
 * fields, which may be more than max (then only max are set). */
static int split_tabs(char *line, char **field, int max)
{
    int n = 0;
    for (char *p = line;; n++) {
        char *t = strchr(p, '\t');
        if (n < max)
            field[n] = p;
        if (!t)
            return n + 1;
        *t = 0;
        p = t + 1;
    }
}

/* A copy of a field, NULL for "-". */
static char *field_dup(const char *s, int *oom)
{
    if (strcmp(s, "-") == 0 || !*s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *oom = 1;
    return d;
}

static int parse_row(nn_registry *r, char *line, int lineno, nn_error *e)
{
    char *f[7] = {NULL};
    int nf = split_tabs(line, f, 7);
    if (nf < 6 || nf > 7)
        return nn_fail(e, "%s:%d: %d columns; expected name, format, file, bytes, sha256, "
                       "source and optionally classes, separated by tabs", r->path, lineno, nf);
    for (int i = 0; i < 3; i++)
        if (!*f[i] || strcmp(f[i], "-") == 0)
            return nn_fail(e, "%s:%d: column %d is empty", r->path, lineno, i + 1);
    if (strchr(f[2], '/'))
        return nn_fail(e, "%s:%d: file '%s': a file name, without '/'", r->path, lineno, f[2]);
    long long size = -1;
    if (strcmp(f[3], "-") != 0) {
        char *end;
        errno = 0;
        size = strtoll(f[3], &end, 10);
        if (errno || *end || end == f[3] || size < 0)
            return nn_fail(e, "%s:%d: bytes '%s' is not a size", r->path, lineno, f[3]);
    }
    if (strcmp(f[4], "-") != 0 && !nn_sum_kind(f[4]))
        return nn_fail(e, "%s:%d: sha256 '%s' is not 64 hex digits (SHA-256), 32 (MD5) or '-'",
                       r->path, lineno, f[4]);
    if (strcmp(f[5], "-") != 0 && f[5][0] != '/' && !strstr(f[5], "://"))
        return nn_fail(e, "%s:%d: source '%s' is neither a URL nor an absolute directory",
                       r->path, lineno, f[5]);
    if (r->n % 16 == 0) {
        nn_reg_row *rows = realloc(r->rows, (size_t)(r->n + 16) * sizeof *rows);
        if (!rows)
            return nn_fail(e, "%s: out of memory", r->path);
        r->rows = rows;
    }
    nn_reg_row *row = &r->rows[r->n];
    memset(row, 0, sizeof *row);
    int oom = 0;
    row->name = field_dup(f[0], &oom);
    row->format = field_dup(f[1], &oom);
    row->file = field_dup(f[2], &oom);
    row->size = size;
    row->sha256 = field_dup(f[4], &oom);
    row->source = field_dup(f[5], &oom);
    row->classes = nf > 6 ? field_dup(f[6], &oom) : NULL;
    row->line = lineno;
    for (char *p = row->sha256; p && *p; p++)
        *p = (char)tolower((unsigned char)*p);
    r->n++;
    if (oom)
        return nn_fail(e, "%s: out of memory", r->path);
    return 0;
}

nn_registry *nn_registry_load(const char *path, nn_error *e)
{
    char found[PATH_MAX + 64];
    if (!path || !*path)
        path = getenv("NN_DATASETS");
    if (!path || !*path) {
        if (default_path(found, sizeof found) < 0) {
            nn_fail(e, "datasets.tsv: the dataset registry is not installed beside the "
                       "program; set NN_DATASETS to its path");
            return NULL;
        }
        path = found;
    }
    nn_registry *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(path))) {
        free(r);
        nn_fail(e, "%s: out of memory", path);
        return NULL;
    }
    FILE *f = fopen(path, "r");
    if (!f) {
        nn_fail(e, "%s: cannot open the dataset registry: %s", path, strerror(errno));
        nn_registry_free(r);
        return NULL;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int lineno = 0, rc = 0;
    while (rc == 0 && (len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = 0;
        const char *p = line;
        while (*p == ' ')
            p++;
        if (!*p || *p == '#')
            continue;
        rc = parse_row(r, line, lineno, e);
    }
    free(line);
    if (rc == 0 && ferror(f))
        rc = nn_fail(e, "%s: read error", path);
    fclose(f);
    if (rc < 0) {
        nn_registry_free(r);
        return NULL;
    }
    return r;
}

void nn_registry_print(const nn_registry *r, FILE *out)
{
    fprintf(out, "name\tformat\tfile\tbytes\tsha256\tsource\n");
    for (int i = 0; i < r->n; i++) {
        const nn_reg_row *w = &r->rows[i];
        char size[32] = "-";
        if (w->size >= 0)
            snprintf(size, sizeof size, "%lld", w->size);
        fprintf(out, "%s\t%s\t%s\t%s\t%s\t%s\n", w->name, w->format, w->file, size,
                w->sha256 ? w->sha256 : "-", w->source ? w->source : "-");
    }
}

/* ---- getting the files -------------------------------------------------- */

void nn_dataset_say(const nn_dataset_opts *o, int warning, const char *fmt, ...)
{
    void (*f)(void *, const char *) = warning ? o->warn : o->verbose ? o->note : NULL;
    if (!f)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    f(o->ctx, msg);
}

static char *join(const char *dir, const char *file)
{
    size_t n = strlen(dir);
    int slash = n > 0 && dir[n - 1] == '/';
    char *p = malloc(n + strlen(file) + 2);
    if (p)
        sprintf(p, "%s%s%s", dir, slash ? "" : "/", file);
    return p;
}

/* Where downloads are kept: o->cache, $NN_DATA_HOME, or ~/.cache/nn. */
static char *cache_dir(const nn_dataset_opts *o, nn_error *e)
{
    const char *c = o->cache && *o->cache ? o->cache : getenv("NN_DATA_HOME");
    if (c && *c) {
        char *d = strdup(c);
        if (!d)
            nn_fail(e, "out of memory");
        return d;
    }
    const char *home = getenv("HOME");
    if (!home || !*home) {
        nn_fail(e, "no download cache: neither NN_DATA_HOME nor HOME is set");
        return NULL;
    }
    char *d = join(home, ".cache/nn");
    if (!d)
        nn_fail(e, "out of memory");
    return d;
}

/* Is the file at path one that the rows of this file list (each sum
 * computed in its own kind, SHA-256 or MD5, at most once)? *known: any
 * listed; sums[0] and sums[1] get the SHA-256 and MD5 that were computed.
 * 1 yes, 0 no, -1 error. */
static int listed_sum(const nn_registry *r, const char *name, const char *file,
                      const char *path, char sums[2][65], int *known, nn_error *e)
{
    *known = 0;
    sums[0][0] = sums[1][0] = 0;
    for (int i = 0; i < r->n; i++) {
        const nn_reg_row *w = &r->rows[i];
        if (strcmp(w->name, name) != 0 || strcmp(w->file, file) != 0 || !w->sha256)
            continue;
        char *hex = sums[nn_sum_kind(w->sha256) == 32];
        if (!*hex && nn_file_sum(path, w->sha256, hex, e) < 0)
            return -1;
        *known = 1;
        if (strcmp(w->sha256, hex) == 0)
            return 1;
    }
    return 0;
}

/* The first sum listed for the file by a row with a URL (or by any row). */
static const char *url_sum(const nn_registry *r, const char *name, const char *file)
{
    const char *any = NULL;
    for (int i = 0; i < r->n; i++) {
        const nn_reg_row *w = &r->rows[i];
        if (strcmp(w->name, name) != 0 || strcmp(w->file, file) != 0 || !w->sha256)
            continue;
        if (w->source && strstr(w->source, "://"))
            return w->sha256;
        if (!any)
            any = w->sha256;
    }
    return any;
}

typedef struct got {
    char *path, *sum, *origin;
} got;

/* A file on disk that the registry may know: checked, then taken. */
static int take_local(const nn_registry *r, const char *name, const char *file,
                      const char *path, const char *want, const nn_dataset_opts *o, got *g,
                      nn_error *e)
{
    char hex[65], sums[2][65];
    int known = 1, ok;
    if (want) {
        if (nn_file_sum(path, want, hex, e) < 0)
            return -1;
        ok = strcmp(want, hex) == 0;
    } else {
        if ((ok = listed_sum(r, name, file, path, sums, &known, e)) < 0)
            return -1;
        want = url_sum(r, name, file);
        /* the sum of the kind of the one named below (SHA-256 when none) */
        snprintf(hex, sizeof hex, "%s", sums[want && nn_sum_kind(want) == 32]);
        if (!*hex && nn_sha256_file(path, hex, e) < 0)
            return -1;
    }
    if (known && !ok)
        return nn_fail(e, "%s: checksum mismatch: expected %s, got %s (not the file the "
                       "registry lists for %s; it is not used)", path, want, hex, name);
    if (!known) {
        nn_dataset_say(o, 1, "%s: cannot verify: the registry has no checksum for %s", path, file);
        struct stat st;
        for (int i = 0; i < r->n; i++) {
            const nn_reg_row *w = &r->rows[i];
            if (strcmp(w->name, name) == 0 && strcmp(w->file, file) == 0 && w->size >= 0 &&
                stat(path, &st) == 0 && (long long)st.st_size != w->size) {
                nn_dataset_say(o, 1, "%s: %lld bytes, the registry says %lld; it may be another version",
                    path, (long long)st.st_size, w->size);
                break;
            }
        }
    }
    else
        nn_dataset_say(o, 0, "%s: %s verified", path, nn_sum_name(want));
    g->path = strdup(path);
    g->sum = strdup(hex);
    g->origin = strdup(path);
    if (!g->path || !g->sum || !g->origin)
        return nn_fail(e, "%s: out of memory", path);
    return 0;
}

static int get_file(const nn_registry *r, const char *name, const char *file,
                    const nn_dataset_opts *o, const char *cache, got *g, nn_error *e)
{
    /* 1. --from DIR */
    if (o->from) {
        char *path = join(o->from, file);
        if (!path)
            return nn_fail(e, "out of memory");
        int rc = file_exists(path) ? take_local(r, name, file, path, NULL, o, g, e)
                                   : nn_fail(e, "%s: not found (--from %s must hold the "
                                             "files of %s)", path, o->from, name);
        free(path);
        return rc;
    }
    /* 2. a directory a package installs */
    for (int i = 0; i < r->n; i++) {
        const nn_reg_row *w = &r->rows[i];
        if (strcmp(w->name, name) != 0 || strcmp(w->file, file) != 0 || !w->source ||
            w->source[0] != '/')
            continue;
        char *path = join(w->source, file);
        if (!path)
            return nn_fail(e, "out of memory");
        int rc = 1;
        if (file_exists(path))
            rc = take_local(r, name, file, path, w->sha256, o, g, e);
        free(path);
        if (rc <= 0)
            return rc;
    }
    /* 3. the cache, or 4. a download into it */
    char *dir = join(cache, name), *dest = dir ? join(dir, file) : NULL;
    int rc = -1;
    if (!dest) {
        rc = nn_fail(e, "out of memory");
        goto done;
    }
    const char *want = url_sum(r, name, file);
    if (!want && file_exists(dest)) {
        rc = take_local(r, name, file, dest, NULL, o, g, e);
        goto done;
    }
    int urls = 0, tried = 0;
    for (int i = 0; i < r->n; i++) {
        const nn_reg_row *w = &r->rows[i];
        if (strcmp(w->name, name) == 0 && strcmp(w->file, file) == 0 && w->source &&
            strstr(w->source, "://"))
            urls++;
    }
    if (!urls && !o->mirror) {
        if (file_exists(dest)) {
            rc = take_local(r, name, file, dest, want, o, g, e);
            goto done;
        }
        rc = nn_fail(e, "%s: %s cannot be downloaded (the registry has no URL for it); get "
                     "it yourself and give its directory with --from DIR", name, file);
        goto done;
    }
    if (nn_mkdir_p(dir, e) < 0)
        goto done;
    if (!want)
        nn_dataset_say(o, 1, "%s: cannot verify: the registry has no checksum for it", file);
    for (int i = 0; i < r->n || (o->mirror && i == 0); i++) {
        const char *base;
        if (o->mirror) {
            if (tried)
                break;
            base = o->mirror;
        } else {
            const nn_reg_row *w = &r->rows[i];
            if (strcmp(w->name, name) != 0 || strcmp(w->file, file) != 0 || !w->source ||
                !strstr(w->source, "://"))
                continue;
            base = w->source;
        }
        char *url = join(base, file);
        if (!url) {
            rc = nn_fail(e, "out of memory");
            goto done;
        }
        if (tried)
            nn_dataset_say(o, 1, "%s; trying %s", e ? e->msg : "failed", url);
        tried++;
        if (file_exists(dest) && want)
            nn_dataset_say(o, 0, "%s: in the cache", dest);
        else
            nn_dataset_say(o, 0, "%s: downloading %s", dest, url);
        rc = nn_fetch_url(url, dest, want, &o->fetch, e);
        if (rc == 0) {
            char hex[65];
            if (want)
                snprintf(hex, sizeof hex, "%s", want);
            else if ((rc = nn_sha256_file(dest, hex, e)) < 0) {
                free(url);
                goto done;
            }
            g->path = strdup(dest);
            g->sum = strdup(hex);
            g->origin = url;
            url = NULL;
            if (!g->path || !g->sum)
                rc = nn_fail(e, "out of memory");
        }
        free(url);
        if (rc == 0)
            break;
    }
done:
    free(dir);
    free(dest);
    return rc;
}

int nn_dataset_files(const nn_registry *r, const char *name, const nn_dataset_opts *o,
                     int *n, char ***files, char ***paths, char ***sums, char ***origin,
                     nn_error *e)
{
    *n = 0;
    *files = *paths = *sums = *origin = NULL;
    int rows = 0;
    for (int i = 0; i < r->n; i++)
        rows += strcmp(r->rows[i].name, name) == 0;
    if (!rows)
        return nn_fail(e, "%s: unknown dataset (nn-fetch-data --list shows the known ones)",
                       name);
    char *cache = cache_dir(o, e);
    if (!cache)
        return -1;
    char **v[4];
    for (int k = 0; k < 4; k++)
        v[k] = calloc((size_t)rows + 1, sizeof(char *));
    int rc = v[0] && v[1] && v[2] && v[3] ? 0 : nn_fail(e, "out of memory");
    int m = 0;
    for (int i = 0; rc == 0 && i < r->n; i++) {
        const nn_reg_row *w = &r->rows[i];
        if (strcmp(w->name, name) != 0)
            continue;
        int seen = 0;
        for (int j = 0; j < m && !seen; j++)
            seen = strcmp(v[0][j], w->file) == 0;
        if (seen)
            continue;
        got g = {NULL, NULL, NULL};
        if (!(v[0][m] = strdup(w->file)))
            rc = nn_fail(e, "out of memory");
        else
            rc = get_file(r, name, w->file, o, cache, &g, e);
        v[1][m] = g.path, v[2][m] = g.sum, v[3][m] = g.origin;
        m++;
    }
    free(cache);
    if (rc < 0) {
        for (int k = 0; k < 4; k++)
            nn_strv_free(v[k]);
        return -1;
    }
    *n = m;
    *files = v[0], *paths = v[1], *sums = v[2], *origin = v[3];
    return 0;
}

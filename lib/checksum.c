/* checksum.c - the sums of files, SHA-256 or MD5 by the length of the sum
 * they are checked against (64 or 32 hex digits, as the registry gives). */
#include "nn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int nn_sum_kind(const char *sum)
{
    size_t n = sum ? strlen(sum) : 0;
    if ((n != 64 && n != 32) || strspn(sum, "0123456789abcdefABCDEF") != n)
        return 0;
    return (int)n;
}

const char *nn_sum_name(const char *sum)
{
    return nn_sum_kind(sum) == 32 ? "MD5" : "SHA-256";
}

/* The file read in chunks into one of the two hashes; hex holds 33 (MD5)
 * or 65 (SHA-256) characters. */
static int file_sum(const char *path, int md5, char *hex, nn_error *e)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return nn_fail(e, "%s: %s", path, strerror(errno));
    enum { CHUNK = 1 << 16 };
    uint8_t *buf = malloc(CHUNK);
    if (!buf) {
        fclose(f);
        return nn_fail(e, "%s: out of memory", path);
    }
    nn_md5 m;
    nn_sha256 s;
    nn_md5_init(&m);
    nn_sha256_init(&s);
    size_t n;
    while ((n = fread(buf, 1, CHUNK, f)) > 0) {
        if (md5)
            nn_md5_update(&m, buf, n);
        else
            nn_sha256_update(&s, buf, n);
    }
    int err = ferror(f) ? errno : 0;
    fclose(f);
    free(buf);
    if (err)
        return nn_fail(e, "%s: %s", path, strerror(err));
    if (md5)
        nn_md5_final(&m, hex);
    else
        nn_sha256_final(&s, hex);
    return 0;
}

int nn_sha256_file(const char *path, char hex[65], nn_error *e)
{
    return file_sum(path, 0, hex, e);
}

int nn_md5_file(const char *path, char hex[33], nn_error *e)
{
    return file_sum(path, 1, hex, e);
}

int nn_file_sum(const char *path, const char *like, char hex[65], nn_error *e)
{
    return file_sum(path, nn_sum_kind(like) == 32, hex, e);
}

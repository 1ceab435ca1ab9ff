/* util.c - errors, threads, time and random numbers. */
#include "nn.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <time.h>

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

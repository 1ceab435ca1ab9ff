/* md5.c - MD5 (RFC 1321), streaming, with a lower-case hex digest. MD5 is
 * only there because some publishers give nothing else (Keras's pretrained
 * weights): it still catches a corrupt or truncated download. */
#include "nn.h"
#include "digest_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* K[i] = floor(2^32 * |sin(i + 1)|) */
static const uint32_t K[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a,
    0xa8304613, 0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be,
    0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340,
    0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8,
    0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c,
    0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
    0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92,
    0xffeff47d, 0x85845dd1, 0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1,
    0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391};

/* Left rotations of each round's four steps. */
static const int R[4][4] = {{7, 12, 17, 22}, {5, 9, 14, 20}, {4, 11, 16, 23}, {6, 10, 15, 21}};

static uint32_t rol(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

/* One 64-byte block (little-endian words) into the state h[4]. */
static void md5_block(uint32_t h[4], const uint8_t *p)
{
    uint32_t m[16];
    for (int t = 0; t < 16; t++)
        m[t] = (uint32_t)p[4 * t] | (uint32_t)p[4 * t + 1] << 8 |
               (uint32_t)p[4 * t + 2] << 16 | (uint32_t)p[4 * t + 3] << 24;
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
    for (int i = 0; i < 64; i++) {
        uint32_t f;
        int g, round = i / 16;
        switch (round) {
        case 0: f = (b & c) | (~b & d), g = i; break;
        case 1: f = (d & b) | (~d & c), g = (5 * i + 1) % 16; break;
        case 2: f = b ^ c ^ d, g = (3 * i + 5) % 16; break;
        default: f = c ^ (b | ~d), g = (7 * i) % 16; break;
        }
        uint32_t t = d;
        d = c;
        c = b;
        b = b + rol(a + f + K[i] + m[g], R[round][i % 4]);
        a = t;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d;
}

void nn_md5_init(nn_md5 *s)
{
    s->h[0] = 0x67452301, s->h[1] = 0xefcdab89, s->h[2] = 0x98badcfe, s->h[3] = 0x10325476;
    s->len = 0;
    s->nbuf = 0;
}

/* Appends n bytes, hashing each 64-byte block as it fills. */
void nn_md5_update(nn_md5 *s, const void *data, size_t n)
{
    s->len += n;
    nn_digest_update(s->h, s->buf, &s->nbuf, md5_block, data, n);
}

/* The length is little-endian, and so are the digest's words. */
void nn_md5_final(nn_md5 *s, char hex[33])
{
    nn_digest_pad(s->h, s->buf, &s->nbuf, md5_block, s->len * 8, 0);
    nn_digest_hex(s->h, 4, 0, hex);
    nn_md5_init(s);
}

/* digest_impl.h - the input buffering, padding and hex digest shared by
 * lib/md5.c and lib/sha256.c: both hash 64-byte blocks into a state of
 * 32-bit words. */
#ifndef NN_DIGEST_IMPL_H
#define NN_DIGEST_IMPL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Hashes one 64-byte block into the state h (4 words for MD5, 8 for
 * SHA-256). */
typedef void nn_digest_block_fn(uint32_t *h, const uint8_t *block);

/* Appends n bytes of data: fills the partial block buf[0..*nbuf) first,
 * then hashes whole blocks straight from data, and keeps the tail (fewer
 * than 64 bytes) in buf. The caller counts the message length. */
static inline void nn_digest_update(uint32_t *h, uint8_t buf[64], size_t *nbuf,
                                    nn_digest_block_fn *block, const void *data, size_t n)
{
    const uint8_t *p = data;
    if (*nbuf) {
        size_t take = 64 - *nbuf < n ? 64 - *nbuf : n;
        memcpy(buf + *nbuf, p, take);
        *nbuf += take, p += take, n -= take;
        if (*nbuf < 64)
            return;
        block(h, buf);
        *nbuf = 0;
    }
    for (; n >= 64; p += 64, n -= 64)
        block(h, p);
    memcpy(buf, p, n);
    *nbuf = n;
}

/* Pads the message (0x80, zeros up to 56 mod 64, then its length `bits`
 * as 8 bytes, big-endian or little-endian) and hashes the last blocks. */
static inline void nn_digest_pad(uint32_t *h, uint8_t buf[64], size_t *nbuf,
                                 nn_digest_block_fn *block, uint64_t bits, int big_endian)
{
    static const uint8_t pad[64] = {0x80};
    uint8_t len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (uint8_t)(bits >> (big_endian ? 56 - 8 * i : 8 * i));
    nn_digest_update(h, buf, nbuf, block, pad, *nbuf < 56 ? 56 - *nbuf : 120 - *nbuf);
    nn_digest_update(h, buf, nbuf, block, len, 8);
}

/* The state's nwords words as lower-case hex, each word's bytes in the
 * given order, into hex[8 nwords + 1]. */
static inline void nn_digest_hex(const uint32_t *h, int nwords, int big_endian, char *hex)
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 4 * nwords; i++) {
        uint8_t byte = (uint8_t)(h[i / 4] >> (big_endian ? 24 - 8 * (i % 4) : 8 * (i % 4)));
        hex[2 * i] = digits[byte >> 4];
        hex[2 * i + 1] = digits[byte & 15];
    }
    hex[8 * nwords] = '\0';
}

#endif

/* digest_impl.h - the input buffering shared by lib/md5.c and
 * lib/sha256.c: both hash 64-byte blocks into a state of 32-bit words. */
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

#endif

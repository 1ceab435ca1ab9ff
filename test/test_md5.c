/* test_md5.c - MD5 gives the RFC 1321 test-suite digests, MD5 and SHA-256 stream as they
 * hash in one go, digests files, and registry sums are told apart by
 * their length (64 hex digits SHA-256, 32 MD5). */
#include "nn.h"
#include "test.h"

#include <unistd.h>

static void md5_hex(const void *data, size_t n, char hex[33])
{
    nn_md5 s;
    nn_md5_init(&s);
    nn_md5_update(&s, data, n);
    nn_md5_final(&s, hex);
}

int main(void)
{
    char hex[65];

    TEST("md5: the seven digests of RFC 1321's test suite");
    {
        static const char *const v[][2] = {
            {"", "d41d8cd98f00b204e9800998ecf8427e"},
            {"a", "0cc175b9c0f1b6a831c399e269772661"},
            {"abc", "900150983cd24fb0d6963f7d28e17f72"},
            {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
            {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
            {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
             "d174ab98d277d9f5a5611c2c9f419d9f"},
            {"1234567890123456789012345678901234567890123456789012345678901234567890"
             "1234567890",
             "57edf4a22be3c955ac49da2e2107b67a"},
        };
        for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
            md5_hex(v[i][0], strlen(v[i][0]), hex);
            CHECK_MSG(strcmp(hex, v[i][1]) == 0, "MD5(\"%s\") = %s, expected %s", v[i][0], hex,
                      v[i][1]);
        }
    }

    TEST("md5: streaming in odd chunk sizes equals one-shot, for every length up to 300");
    {
        unsigned char data[300];
        for (int i = 0; i < 300; i++)
            data[i] = (unsigned char)(i * 7 + 3);
        int bad = -1;
        for (size_t n = 0; n <= sizeof data && bad < 0; n++) {
            char one[33], many[33];
            md5_hex(data, n, one);
            nn_md5 s;
            nn_md5_init(&s);
            for (size_t off = 0, c = 1; off < n; off += c, c = c % 13 + 1) {
                if (c > n - off)
                    c = n - off;
                nn_md5_update(&s, data + off, c);
            }
            nn_md5_update(&s, data, 0);
            nn_md5_final(&s, many);
            if (strcmp(one, many) != 0)
                bad = (int)n;
        }
        CHECK_MSG(bad < 0, "length %d differs", bad);
    }

    TEST("md5, sha256: 500 bytes fed in pieces of every length 1..130 give the one-shot digest");
    {
        /* pieces shorter than, equal to and longer than a 64-byte block, so
         * the partial block is filled, completed and skipped at every offset */
        unsigned char data[500];
        for (int i = 0; i < 500; i++)
            data[i] = (unsigned char)(i * 7 + 3);
        char md5_one[33], sha_one[65];
        md5_hex(data, sizeof data, md5_one);
        nn_sha256 sh;
        nn_sha256_init(&sh);
        nn_sha256_update(&sh, data, sizeof data);
        nn_sha256_final(&sh, sha_one);
        /* the one-shot digests as Python's hashlib gives them */
        CHECK_MSG(strcmp(md5_one, "5663227df4c12e3be6581b3294c87eb1") == 0, "MD5 %s", md5_one);
        CHECK_MSG(strcmp(sha_one, "ba626314ec76f1ea4665d5a74e8f8433"
                                  "7ba24465687c64c5e4ef4e43424e49a0") == 0,
                  "SHA-256 %s", sha_one);
        int bad_md5 = 0, bad_sha = 0;
        for (size_t c = 1; c <= 130; c++) {
            char md5_many[33], sha_many[65];
            nn_md5 m;
            nn_md5_init(&m);
            nn_sha256_init(&sh);
            for (size_t off = 0; off < sizeof data; off += c) {
                size_t k = c < sizeof data - off ? c : sizeof data - off;
                nn_md5_update(&m, data + off, k);
                nn_sha256_update(&sh, data + off, k);
            }
            nn_md5_final(&m, md5_many);
            nn_sha256_final(&sh, sha_many);
            if (!bad_md5 && strcmp(md5_many, md5_one) != 0)
                bad_md5 = (int)c;
            if (!bad_sha && strcmp(sha_many, sha_one) != 0)
                bad_sha = (int)c;
        }
        CHECK_MSG(bad_md5 == 0, "MD5 in pieces of %d differs", bad_md5);
        CHECK_MSG(bad_sha == 0, "SHA-256 in pieces of %d differs", bad_sha);
    }

    TEST("md5: a million 'a's (the block loop and the 64-bit length)");
    {
        char a[1000];
        memset(a, 'a', sizeof a);
        nn_md5 s;
        nn_md5_init(&s);
        for (int i = 0; i < 1000; i++)
            nn_md5_update(&s, a, sizeof a);
        nn_md5_final(&s, hex);
        CHECK(strcmp(hex, "7707d6ae4e027c70eea2a935c2296f21") == 0);
    }

    TEST("md5: file digest equals the in-memory one; nn_file_sum picks the kind by length");
    {
        char path[] = "/tmp/nn-md5-XXXXXX";
        int fd = mkstemp(path);
        CHECK(fd >= 0);
        const char *text = "message digest";
        CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
        close(fd);
        nn_error e;
        char sha[65];
        CHECK(nn_md5_file(path, hex, &e) == 0 &&
              strcmp(hex, "f96b697d7cb7938d525a2f31aaf161d0") == 0);
        CHECK(nn_file_sum(path, "f96b697d7cb7938d525a2f31aaf161d0", hex, &e) == 0 &&
              strlen(hex) == 32);
        CHECK(nn_sha256_file(path, sha, &e) == 0);
        CHECK(nn_file_sum(path, sha, hex, &e) == 0 && strcmp(hex, sha) == 0);
        unlink(path);
        CHECK(nn_md5_file(path, hex, &e) < 0 && strstr(e.msg, path));
    }

    TEST("md5: registry sums: 64 hex digits are SHA-256, 32 MD5, anything else none");
    {
        CHECK(nn_sum_kind("64373286793e3c8b2b4e3219cbf3544b") == 32);
        CHECK(nn_sum_kind("64373286793E3C8B2B4E3219CBF3544B") == 32);
        CHECK(nn_sum_kind("440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609") ==
              64);
        CHECK(nn_sum_kind("12ab") == 0 && nn_sum_kind("") == 0 && nn_sum_kind(NULL) == 0);
        CHECK(nn_sum_kind("64373286793e3c8b2b4e3219cbf3544g") == 0);
        CHECK(strcmp(nn_sum_name("6d6bbae143d832006294945121d1f1fc"), "MD5") == 0);
    }
    return test_done();
}

/* test_device.c - the CUDA backend is in the build wherever nvcc was found,
 * and GPU tests skip (not fail) where no GPU is present. */
#include "nn.h"
#include "test.h"

int main(void)
{
    TEST("the build has the CUDA backend exactly when it was built with nvcc");
#ifdef NN_EXPECT_CUDA
    CHECK(nn_cuda_built() == 1);
#else
    CHECK(nn_cuda_built() == 0);
#endif
    nn_error e;
#ifdef NN_EXPECT_CUDA
    TEST("cuDNN and cuBLAS open at run time, with every function the backend calls");
    CHECK_MSG(nn_cuda_libraries(&e) == 0, "%s", e.msg);
#else
    TEST("without CUDA, asking for cuDNN and cuBLAS says the build has no backend");
    CHECK_MSG(nn_cuda_libraries(&e) < 0 && strstr(e.msg, "no CUDA backend"), "%s", e.msg);
#endif
    TEST("device count is 0 or more and never fails without a GPU");
    int n = nn_cuda_device_count();
    CHECK(n >= 0);
    if (n == 0) {
        TEST("GPU tests");
        SKIP("no GPU here");
    }
    return test_done();
}

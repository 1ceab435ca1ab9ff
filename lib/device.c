/* device.c - which processor a program runs on, from its --device option:
 * cpu, cuda or auto. */
#include "nn.h"

#include <string.h>

int nn_device_choose(const char *name, nn_device *out, nn_error *e)
{
    nn_error quiet;
    *out = NN_DEVICE_CPU;
    if (strcmp(name, "cpu") == 0)
        return 0;
    if (strcmp(name, "auto") == 0) {
        if (nn_cuda_built() && nn_cuda_device_count() > 0 && nn_cuda_libraries(&quiet) == 0)
            *out = NN_DEVICE_CUDA;
        return 0;
    }
    if (strcmp(name, "cuda") != 0) {
        nn_fail(e, "--device '%s': use cpu, cuda or auto", name);
        return -2;
    }
    if (!nn_cuda_built())
        return nn_fail(e, "--device cuda: this build has no CUDA backend (nvcc was not found "
                       "when it was built); use --device cpu");
    if (nn_cuda_device_count() == 0)
        return nn_fail(e, "--device cuda: no GPU found; use --device cpu");
    if (nn_cuda_libraries(e) < 0)
        return nn_fail_within(e, "--device cuda: ");
    *out = NN_DEVICE_CUDA;
    return 0;
}

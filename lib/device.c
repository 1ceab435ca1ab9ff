/* device.c - which processor a program runs on, from its --device option:
 * cpu, cuda or auto. The CUDA backend (kernels/) runs single layers but
 * not yet whole networks, so auto means the CPU and cuda is an error that
 * says why. */
#include "nn.h"

#include <string.h>

int nn_device_choose(const char *name, nn_device *out, nn_error *e)
{
    *out = NN_DEVICE_CPU;
    if (strcmp(name, "cpu") == 0 || strcmp(name, "auto") == 0)
        return 0;
    if (strcmp(name, "cuda") != 0) {
        nn_fail(e, "--device '%s': use cpu, cuda or auto", name);
        return -2;
    }
    if (!nn_cuda_built())
        return nn_fail(e, "--device cuda: this build has no CUDA backend (nvcc was not found "
                       "when it was built); use --device cpu");
    if (nn_cuda_device_count() == 0)
        return nn_fail(e, "--device cuda: no GPU found; use --device cpu");
    return nn_fail(e, "--device cuda: the CUDA backend runs single layers (make check-gpu) "
                   "but not yet whole networks in the programs; use --device cpu");
}

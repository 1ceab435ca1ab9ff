// device.cu - CUDA device discovery for a build with nvcc. Only the CUDA
// runtime: the programs link this alone, and so load neither cuDNN nor
// cuBLAS (some 200 MiB mapped at start) until they use the GPU.
#include <cuda_runtime.h>

extern "C" {
#include "nn.h"
}

extern "C" int nn_cuda_built(void) { return 1; }

// Without a GPU (or a driver) cudaGetDeviceCount fails: that is 0 GPUs,
// so "--device auto" falls back to the CPU quietly.
extern "C" int nn_cuda_device_count(void)
{
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError();
        return 0;
    }
    return n;
}

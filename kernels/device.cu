// device.cu - CUDA device discovery for a build with nvcc (the CUDA
// runtime only), and whether cuDNN and cuBLAS can be opened.
#include "cuda_impl.h"

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

extern "C" int nn_cuda_libraries(nn_error *e) { return nn_vendor_load(e); }

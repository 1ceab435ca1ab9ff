/* cuda_none.c - the CUDA entry points of a build without nvcc. */
#include "nn.h"

int nn_cuda_built(void) { return 0; }
int nn_cuda_device_count(void) { return 0; }

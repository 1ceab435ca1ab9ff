// context.cu - the GPU context (stream, cuDNN and cuBLAS handles,
// workspace) and device memory.
#include "cuda_impl.h"

#include <stdlib.h>

static int open_handles(nn_cuda *g, nn_error *e)
{
    if (nn_vendor_load(e) < 0)
        return -1;
    cudaDeviceProp prop;
    CUDA_TRY(cudaGetDeviceProperties(&prop, g->device));
    if (prop.major * 10 + prop.minor < 75) // the oldest the kernels are built for
        return nn_fail(e, "GPU %d (%s) has compute capability %d.%d; nn needs 7.5 or newer",
                       g->device, prop.name, prop.major, prop.minor);
    CUDA_TRY(cudaSetDevice(g->device));
    CUDA_TRY(cudaStreamCreateWithFlags(&g->stream, cudaStreamNonBlocking));
    CUDNN_TRY(V(cudnnCreate)(&g->cudnn));
    CUDNN_TRY(V(cudnnSetStream)(g->cudnn, g->stream));
    CUBLAS_TRY(V(cublasCreate)(&g->cublas));
    CUBLAS_TRY(V(cublasSetStream)(g->cublas, g->stream));
    // float32 products exactly (no TF32), as the CPU computes them
    CUBLAS_TRY(V(cublasSetMathMode)(g->cublas, CUBLAS_DEFAULT_MATH));
    CUDA_TRY(cudaHostAlloc((void **)&g->loss_sum, sizeof(double), cudaHostAllocPortable));
    return 0;
}

extern "C" nn_cuda *nn_cuda_open(int device, nn_error *e)
{
    int count = nn_cuda_device_count();
    if (count == 0) {
        nn_fail(e, "no GPU found");
        return NULL;
    }
    if (device < 0 || device >= count) {
        nn_fail(e, "no GPU %d: this machine has %d (0 to %d)", device, count, count - 1);
        return NULL;
    }
    nn_cuda *g = (nn_cuda *)calloc(1, sizeof *g);
    if (!g) {
        nn_fail(e, "out of memory");
        return NULL;
    }
    g->device = device;
    if (open_handles(g, e) < 0) {
        nn_cuda_close(g);
        return NULL;
    }
    return g;
}

extern "C" void nn_cuda_close(nn_cuda *g)
{
    if (!g)
        return;
    if (g->stream)
        cudaStreamSynchronize(g->stream);
    cudaFree(g->workspace);
    if (g->loss_sum)
        cudaFreeHost(g->loss_sum);
    if (g->cublas)
        V(cublasDestroy)(g->cublas);
    if (g->cudnn)
        V(cudnnDestroy)(g->cudnn);
    if (g->stream)
        cudaStreamDestroy(g->stream);
    free(g);
}

void *nn_cuda_workspace(nn_cuda *g, size_t bytes, nn_error *e)
{
    if (bytes <= g->workspace_bytes)
        return g->workspace;
    // the old one may still be in use by queued work
    if (cudaStreamSynchronize(g->stream) != cudaSuccess || cudaFree(g->workspace) != cudaSuccess) {
        nn_fail(e, "CUDA: %s", cudaGetErrorString(cudaGetLastError()));
        return NULL;
    }
    g->workspace = NULL, g->workspace_bytes = 0;
    cudaError_t s = cudaMalloc(&g->workspace, bytes);
    if (s != cudaSuccess) {
        nn_fail(e, "CUDA: %s (a workspace of %zu bytes)", cudaGetErrorString(s), bytes);
        return NULL;
    }
    g->workspace_bytes = bytes;
    return g->workspace;
}

extern "C" float *nn_cuda_alloc(nn_cuda *g, size_t n, nn_error *e)
{
    (void)g;
    void *p = NULL;
    cudaError_t s = cudaMalloc(&p, (n ? n : 1) * sizeof(float));
    if (s != cudaSuccess) {
        nn_fail(e, "CUDA: %s (%zu floats)", cudaGetErrorString(s), n);
        return NULL;
    }
    return (float *)p;
}

extern "C" void nn_cuda_free(nn_cuda *g, float *p)
{
    (void)g;
    cudaFree(p);
}

extern "C" int nn_cuda_upload(nn_cuda *g, float *dev, const float *host, size_t n, nn_error *e)
{
    CUDA_TRY(cudaMemcpyAsync(dev, host, n * sizeof(float), cudaMemcpyHostToDevice, g->stream));
    CUDA_TRY(cudaStreamSynchronize(g->stream)); // host may reuse its buffer at once
    return 0;
}

extern "C" int nn_cuda_download(nn_cuda *g, float *host, const float *dev, size_t n,
                                nn_error *e)
{
    CUDA_TRY(cudaMemcpyAsync(host, dev, n * sizeof(float), cudaMemcpyDeviceToHost, g->stream));
    CUDA_TRY(cudaStreamSynchronize(g->stream));
    return 0;
}

extern "C" float *nn_cuda_host_alloc(nn_cuda *g, size_t n, nn_error *e)
{
    (void)g;
    void *p = NULL;
    cudaError_t s = cudaHostAlloc(&p, (n ? n : 1) * sizeof(float), cudaHostAllocPortable);
    if (s != cudaSuccess) {
        cudaGetLastError(); // the caller may go on without it
        nn_fail(e, "CUDA: %s (%zu floats of page-locked memory)", cudaGetErrorString(s), n);
        return NULL;
    }
    return (float *)p;
}

extern "C" void nn_cuda_host_free(nn_cuda *g, float *p)
{
    (void)g;
    if (p)
        cudaFreeHost(p);
}

extern "C" int nn_cuda_upload_queued(nn_cuda *g, float *dev, const float *host, size_t n,
                                     nn_error *e)
{
    CUDA_TRY(cudaMemcpyAsync(dev, host, n * sizeof(float), cudaMemcpyHostToDevice, g->stream));
    return 0;
}

extern "C" int nn_cuda_zero(nn_cuda *g, float *dev, size_t n, nn_error *e)
{
    CUDA_TRY(cudaMemsetAsync(dev, 0, n * sizeof(float), g->stream));
    return 0;
}

extern "C" int nn_cuda_sync(nn_cuda *g, nn_error *e)
{
    CUDA_TRY(cudaStreamSynchronize(g->stream));
    return 0;
}

extern "C" size_t nn_cuda_memory_in_use(nn_cuda *g)
{
    size_t free_b = 0, total = 0;
    int was = g->device; // the caller's current device is put back
    cudaGetDevice(&was);
    cudaError_t s = cudaSetDevice(g->device);
    if (s == cudaSuccess)
        s = cudaMemGetInfo(&free_b, &total);
    cudaSetDevice(was);
    if (s != cudaSuccess) {
        cudaGetLastError();
        return 0;
    }
    return total - free_b;
}

// cuda_impl.h - what the files of kernels/ share: the GPU context, the GPU
// side of a layer, the table of layer types, and error checks that turn
// CUDA, cuDNN and cuBLAS failures into nn_error messages.
#ifndef NN_CUDA_IMPL_H
#define NN_CUDA_IMPL_H

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

extern "C" {
#include "nn.h"
}

// cuDNN and cuBLAS are opened at run time (dlopen, by nn_cuda_open), not
// linked: a program that never uses the GPU does not map them (some 200
// MiB), and one built with CUDA still starts where they are not installed.
// V(f) is the function f from them.
#define NN_VENDOR_FUNCTIONS(F)                                                               \
    F(cudnnCreate) F(cudnnDestroy) F(cudnnSetStream) F(cudnnGetErrorString)                  \
    F(cudnnCreateTensorDescriptor) F(cudnnSetTensor4dDescriptor)                             \
    F(cudnnDestroyTensorDescriptor) F(cudnnCreateFilterDescriptor)                           \
    F(cudnnSetFilter4dDescriptor) F(cudnnDestroyFilterDescriptor)                            \
    F(cudnnCreateConvolutionDescriptor) F(cudnnSetConvolution2dDescriptor)                   \
    F(cudnnSetConvolutionMathType) F(cudnnDestroyConvolutionDescriptor)                      \
    F(cudnnGetConvolution2dForwardOutputDim) F(cudnnGetConvolutionForwardAlgorithm_v7)       \
    F(cudnnGetConvolutionBackwardDataAlgorithm_v7)                                           \
    F(cudnnGetConvolutionBackwardFilterAlgorithm_v7)                                         \
    F(cudnnGetConvolutionForwardWorkspaceSize)                                               \
    F(cudnnGetConvolutionBackwardDataWorkspaceSize)                                          \
    F(cudnnGetConvolutionBackwardFilterWorkspaceSize) F(cudnnConvolutionForward)             \
    F(cudnnConvolutionBackwardData) F(cudnnConvolutionBackwardFilter)                        \
    F(cudnnConvolutionBackwardBias) F(cudnnAddTensor) F(cudnnDeriveBNTensorDescriptor)       \
    F(cudnnBatchNormalizationForwardTraining) F(cudnnBatchNormalizationForwardInference)     \
    F(cudnnBatchNormalizationBackward)
#define NN_BLAS_FUNCTIONS(F)                                                                 \
    F(cublasCreate) F(cublasDestroy) F(cublasSetStream) F(cublasSetMathMode)                 \
    F(cublasGetStatusString) F(cublasSgemm)

struct nn_vendor {
#define NN_POINTER(f) decltype(&::f) f;
    NN_VENDOR_FUNCTIONS(NN_POINTER)
    NN_BLAS_FUNCTIONS(NN_POINTER)
#undef NN_POINTER
};
extern nn_vendor nn_vendor_fns;
#define V(f) (nn_vendor_fns.f)

// Opens cuDNN and cuBLAS (once); -1 with e saying which is missing.
int nn_vendor_load(nn_error *e);

struct nn_cuda {
    int device;
    cudaStream_t stream;
    cudnnHandle_t cudnn;
    cublasHandle_t cublas;
    void *workspace; // cuDNN's scratch, grown to the largest asked for
    size_t workspace_bytes;
    double *loss_sum; // page-locked: a loss's sum on its way to the host
};

// nn_cuda_loss in two steps, so that work queued between them (the
// backward) overlaps the wait: queue writes d and, with want, queues the
// sum to g->loss_sum; take waits for the stream and gives the mean.
int nn_cuda_loss_queue(nn_cuda *g, nn_loss_kind kind, const float *x, const void *target, int n,
                       int k, float *d, int want, nn_error *e);
int nn_cuda_loss_take(nn_cuda *g, nn_loss_kind kind, int n, int k, float *loss, nn_error *e);

// Returns g's workspace of at least bytes (NULL and e set on failure).
void *nn_cuda_workspace(nn_cuda *g, size_t bytes, nn_error *e);

struct nn_cuda_type;

struct nn_cuda_layer {
    nn_cuda *g;
    const nn_layer *l; // shapes and hyper-parameters (its values are the host's)
    const nn_cuda_type *type;
    int max_batch;
    float *value[NN_MAX_PARAMS], *grad[NN_MAX_PARAMS]; // device; grad NULL for buffers
    int own_params;                                     // 0: views into a model's blocks
    void *state;                                        // the type's own
};

// The GPU side of l with its parameters at value[i] and grad[i] (device
// views, kept by the caller; NULL: allocated and uploaded from l).
nn_cuda_layer *nn_cuda_layer_make(nn_cuda *g, const nn_layer *l, int max_batch,
                                  float *const *value, float *const *grad, nn_error *e);

// A layer type on the GPU: kernels/layer_*.cu define these, layers.cu
// lists them. setup allocates state for max_batch; release frees it.
struct nn_cuda_type {
    const char *keyword;
    int (*setup)(nn_cuda_layer *d, nn_error *e);
    void (*release)(nn_cuda_layer *d);
    int (*forward)(nn_cuda_layer *d, const float *x, float *y, int n, const nn_pass *p,
                   nn_error *e);
    int (*backward)(nn_cuda_layer *d, const float *x, const float *y, const float *dy,
                    float *dx, int n, const nn_pass *p, nn_error *e);
};

extern const nn_cuda_type nn_cuda_conv, nn_cuda_dense, nn_cuda_maxpool, nn_cuda_avgpool,
    nn_cuda_gap, nn_cuda_flatten, nn_cuda_relu, nn_cuda_leakyrelu, nn_cuda_sigmoid,
    nn_cuda_tanh, nn_cuda_dropout, nn_cuda_softmax, nn_cuda_batchnorm;

// Each returns -1 with e set when the call failed.
#define CUDA_TRY(call)                                                                       \
    do {                                                                                     \
        cudaError_t s_ = (call);                                                             \
        if (s_ != cudaSuccess)                                                               \
            return nn_fail(e, "CUDA: %s", cudaGetErrorString(s_));                           \
    } while (0)
#define CUDNN_TRY(call)                                                                      \
    do {                                                                                     \
        cudnnStatus_t s_ = (call);                                                           \
        if (s_ != CUDNN_STATUS_SUCCESS)                                                      \
            return nn_fail(e, "cuDNN: %s", V(cudnnGetErrorString)(s_));                         \
    } while (0)
#define CUBLAS_TRY(call)                                                                     \
    do {                                                                                     \
        cublasStatus_t s_ = (call);                                                          \
        if (s_ != CUBLAS_STATUS_SUCCESS)                                                     \
            return nn_fail(e, "cuBLAS: %s", V(cublasGetStatusString)(s_));                      \
    } while (0)
// After a kernel launch: a bad configuration shows here.
#define LAUNCHED() CUDA_TRY(cudaGetLastError())

// Blocks of 256 threads covering n items.
static inline unsigned nn_cuda_blocks(size_t n) { return (unsigned)((n + 255) / 256); }

// Device buffers a type's state owns: zeroed pointers are skipped.
static inline int nn_cuda_alloc_bytes(void **p, size_t bytes, nn_error *e)
{
    *p = NULL;
    if (bytes)
        CUDA_TRY(cudaMalloc(p, bytes));
    return 0;
}

// A 4-D NCHW float tensor descriptor, set (created on first use).
static inline int nn_cuda_tensor(cudnnTensorDescriptor_t *t, int n, int c, int h, int w,
                                 nn_error *e)
{
    if (!*t)
        CUDNN_TRY(V(cudnnCreateTensorDescriptor)(t));
    CUDNN_TRY(V(cudnnSetTensor4dDescriptor)(*t, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, c, h, w));
    return 0;
}

#endif

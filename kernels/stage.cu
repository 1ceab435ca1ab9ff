// stage.cu - batches on their way to the GPU: two slots of page-locked
// host memory and device memory, and a copy stream, so that the loader's
// thread copies batch k+1 while the computing stream works on batch k.
//
// Order, per slot s: the loader thread fills host[s], then send() makes
// the copy stream wait for `used[s]` (the computing stream's last use of
// dev[s], recorded by release()), copies host[s] to dev[s], records
// `ready[s]` and waits for the copy (so host[s] may be refilled once the
// loader hands it out again). take() makes the computing stream wait for
// `ready[s]`. The loader orders release(s) before the refill of s.
#include "cuda_impl.h"

#include <stdlib.h>

struct nn_cuda_stage {
    nn_cuda *g;
    size_t floats;
    cudaStream_t copy;
    float *host[2], *dev[2];
    cudaEvent_t ready[2], used[2];
    int sent[2]; // 1: dev[s] holds host[s]'s batch (the last send worked)
};

extern "C" void nn_cuda_stage_free(nn_cuda_stage *st)
{
    if (!st)
        return;
    cudaSetDevice(st->g->device);
    if (st->copy)
        cudaStreamSynchronize(st->copy);
    cudaStreamSynchronize(st->g->stream);
    for (int s = 0; s < 2; s++) {
        cudaFreeHost(st->host[s]);
        cudaFree(st->dev[s]);
        if (st->ready[s])
            cudaEventDestroy(st->ready[s]);
        if (st->used[s])
            cudaEventDestroy(st->used[s]);
    }
    if (st->copy)
        cudaStreamDestroy(st->copy);
    free(st);
}

static int make(nn_cuda_stage *st, nn_error *e)
{
    size_t bytes = (st->floats ? st->floats : 1) * sizeof(float);
    CUDA_TRY(cudaStreamCreateWithFlags(&st->copy, cudaStreamNonBlocking));
    for (int s = 0; s < 2; s++) {
        CUDA_TRY(cudaHostAlloc((void **)&st->host[s], bytes, cudaHostAllocPortable));
        CUDA_TRY(cudaMalloc((void **)&st->dev[s], bytes));
        CUDA_TRY(cudaEventCreateWithFlags(&st->ready[s], cudaEventDisableTiming));
        CUDA_TRY(cudaEventCreateWithFlags(&st->used[s], cudaEventDisableTiming));
    }
    return 0;
}

extern "C" nn_cuda_stage *nn_cuda_stage_new(nn_cuda *g, size_t floats, nn_error *e)
{
    nn_cuda_stage *st = (nn_cuda_stage *)calloc(1, sizeof *st);
    if (!st) {
        nn_fail(e, "out of memory");
        return NULL;
    }
    st->g = g, st->floats = floats;
    cudaError_t s = cudaSetDevice(g->device);
    if (s != cudaSuccess)
        nn_fail(e, "CUDA: %s", cudaGetErrorString(s));
    if (s != cudaSuccess || make(st, e) < 0) {
        nn_fail_within(e, "the batch staging on the GPU: ");
        nn_cuda_stage_free(st);
        cudaGetLastError(); // the caller may go on without it: no stale error for its checks
        return NULL;
    }
    return st;
}

extern "C" size_t nn_cuda_stage_floats(const nn_cuda_stage *st) { return st->floats; }

extern "C" float *nn_cuda_stage_host(nn_cuda_stage *st, int slot) { return st->host[slot]; }

extern "C" int nn_cuda_stage_send(nn_cuda_stage *st, int slot, size_t floats)
{
    st->sent[slot] = 0;
    if (floats > st->floats)
        return -1;
    // this thread's device is its own setting
    if (cudaSetDevice(st->g->device) != cudaSuccess ||
        cudaStreamWaitEvent(st->copy, st->used[slot], 0) != cudaSuccess ||
        cudaMemcpyAsync(st->dev[slot], st->host[slot], floats * sizeof(float),
                        cudaMemcpyHostToDevice, st->copy) != cudaSuccess ||
        cudaEventRecord(st->ready[slot], st->copy) != cudaSuccess ||
        cudaStreamSynchronize(st->copy) != cudaSuccess) {
        cudaGetLastError(); // the batch goes the slow way (take gives NULL)
        return -1;
    }
    st->sent[slot] = 1;
    return 0;
}

extern "C" void nn_cuda_stage_release(nn_cuda_stage *st, int slot)
{
    if (cudaEventRecord(st->used[slot], st->g->stream) != cudaSuccess) {
        // no record: wait here instead, so the refill cannot overtake
        cudaGetLastError();
        cudaStreamSynchronize(st->g->stream);
    }
}

extern "C" const float *nn_cuda_stage_take(nn_cuda_stage *st, int slot)
{
    if (!st->sent[slot])
        return NULL;
    if (cudaStreamWaitEvent(st->g->stream, st->ready[slot], 0) != cudaSuccess) {
        cudaGetLastError(); // this call's own error: the batch goes the slow way
        return NULL;
    }
    return st->dev[slot];
}

// loss.cu - the losses on the GPU, as lib/loss.c: a thread per sample
// writes its row of the gradient and its loss term (in double), and one
// thread adds the terms in sample order, so the mean is the same for any
// launch. Labels are int on the device.
#include "cuda_impl.h"

// Terms of sample i into part[i]; d (may be NULL) = dloss/dx of its row.
__global__ void loss_rows(int kind, const float *x, const void *t, int n, int k, float *d,
                          double *part)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    const float *z = x + (size_t)i * k;
    float *di = d ? d + (size_t)i * k : NULL;
    double loss = 0;
    if (kind == NN_LOSS_XENT) {
        double scale = 1.0 / n;
        int y = ((const int *)t)[i];
        if (y < 0 || y >= k) { // contributes nothing
            for (int j = 0; di && j < k; j++)
                di[j] = 0;
            part[i] = 0;
            return;
        }
        float mx = z[0];
        for (int j = 1; j < k; j++)
            mx = z[j] > mx ? z[j] : mx;
        double s = 0;
        for (int j = 0; j < k; j++)
            s += expf(z[j] - mx);
        loss = mx + log(s) - z[y];
        for (int j = 0; di && j < k; j++)
            di[j] = (float)((expf(z[j] - mx) * (1.0 / s) - (j == y)) * scale);
    } else {
        const float *ti = (const float *)t + (size_t)i * k;
        double scale = 1.0 / ((double)n * k);
        for (int j = 0; j < k; j++) {
            float v = z[j], tv = ti[j];
            if (kind == NN_LOSS_MSE) {
                float r = v - tv;
                loss += (double)r * r;
                if (di)
                    di[j] = (float)(2 * r * scale);
            } else { // bce on logits
                float ex = expf(-fabsf(v)); // in (0, 1]
                loss += (v > 0 ? v : 0) - (double)v * tv + log1pf(ex);
                if (di) {
                    float sg = v >= 0 ? 1 / (1 + ex) : ex / (1 + ex); // sigmoid(v)
                    di[j] = (float)((sg - tv) * scale);
                }
            }
        }
    }
    part[i] = loss;
}

__global__ void sum_parts(const double *part, int n, double *out)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += part[i];
    *out = s;
}

int nn_cuda_loss_queue(nn_cuda *g, nn_loss_kind kind, const float *x, const void *target, int n,
                       int k, float *d, int want, nn_error *e)
{
    *g->loss_sum = 0;
    if (n <= 0 || k <= 0)
        return 0;
    double *part = (double *)nn_cuda_workspace(g, ((size_t)n + 1) * sizeof(double), e);
    if (!part)
        return -1;
    loss_rows<<<nn_cuda_blocks(n), 256, 0, g->stream>>>(kind, x, target, n, k, d, part);
    LAUNCHED();
    if (!want) // the gradient only
        return 0;
    sum_parts<<<1, 1, 0, g->stream>>>(part, n, part + n);
    LAUNCHED();
    // into page-locked memory: queued, read by nn_cuda_loss_take
    CUDA_TRY(cudaMemcpyAsync(g->loss_sum, part + n, sizeof(double), cudaMemcpyDeviceToHost,
                             g->stream));
    return 0;
}

int nn_cuda_loss_take(nn_cuda *g, nn_loss_kind kind, int n, int k, float *loss, nn_error *e)
{
    CUDA_TRY(cudaStreamSynchronize(g->stream));
    double terms = kind == NN_LOSS_XENT ? n : (double)n * k;
    *loss = n > 0 && k > 0 ? (float)(*g->loss_sum / terms) : 0;
    return 0;
}

extern "C" int nn_cuda_loss(nn_cuda *g, nn_loss_kind kind, const float *x, const void *target,
                            int n, int k, float *d, float *loss, nn_error *e)
{
    if (loss)
        *loss = 0;
    if (nn_cuda_loss_queue(g, kind, x, target, n, k, d, loss != NULL, e) < 0)
        return -1;
    return loss ? nn_cuda_loss_take(g, kind, n, k, loss, e) : 0;
}

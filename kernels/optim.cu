// optim.cu - the optimizers' update on the GPU: one launch per range of
// values (model.cu joins adjacent tensors into one), the formulas of
// lib/optim.c value by value, with the same scalars (nn_optim_coeffs_of
// computes them on the host).
#include "cuda_impl.h"

__global__ void optim_update(int kind, nn_optim_coeffs c, float *w, const float *g, float *s0,
                             float *s1, size_t n)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    float wi = w[i];
    if (kind == NN_OPT_ADAMW && c.adamw)
        wi *= c.keep;
    float d = c.wd != 0 ? g[i] + c.wd * wi : g[i];
    switch (kind) {
    case NN_OPT_SGD: wi += c.neg_lr * d; break;
    case NN_OPT_MOMENTUM:
    case NN_OPT_NESTEROV: {
        float b = c.first ? d : c.mu * s0[i] + d;
        s0[i] = b;
        wi += c.neg_lr * (c.nesterov ? d + c.mu * b : b);
        break;
    }
    case NN_OPT_ADAGRAD: {
        float s = s0[i] + d * d;
        s0[i] = s;
        wi += c.neg_lr * d / (sqrtf(s) + c.eps);
        break;
    }
    case NN_OPT_RMSPROP: {
        float v = c.alpha * s0[i] + c.one_alpha * d * d;
        s0[i] = v;
        float a = sqrtf(v) + c.eps;
        if (c.use_mu) {
            float b = c.mu * s1[i] + d / a;
            s1[i] = b;
            wi += c.neg_lr * b;
        } else {
            wi += c.neg_lr * d / a;
        }
        break;
    }
    default: { // adam, adamw
        float m1 = c.beta1 * s0[i] + c.one_b1 * d, m2 = c.beta2 * s1[i] + c.one_b2 * d * d;
        s0[i] = m1, s1[i] = m2;
        wi += c.neg_step_size * m1 / (sqrtf(m2) / c.bc2_sqrt + c.eps);
    }
    }
    w[i] = wi;
}

extern "C" int nn_cuda_optim_update(nn_cuda *g, const nn_optim *o, float *w, const float *grad,
                                    float *const *slots, size_t n, float lr, long step,
                                    nn_error *e)
{
    if (n == 0)
        return 0;
    nn_optim_coeffs c;
    nn_optim_coeffs_of(o, lr, step, &c);
    int ns = nn_optim_slots(o->kind);
    optim_update<<<nn_cuda_blocks(n), 256, 0, g->stream>>>(
        o->kind, c, w, grad, ns > 0 ? slots[0] : NULL, ns > 1 ? slots[1] : NULL, n);
    LAUNCHED();
    return 0;
}

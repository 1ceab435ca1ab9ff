// vendor.cu - opens cuDNN and cuBLAS at run time (see cuda_impl.h): the
// libraries of the major versions this was compiled against, found as the
// programs' own libraries are (their run path, then the system's).
#include "cuda_impl.h"

#include <dlfcn.h>

nn_vendor nn_vendor_fns;

#define NN_STR(x) #x
#define NN_XSTR(x) NN_STR(x) // after macro expansion: cublasSgemm -> "cublasSgemm_v2"

// Opens library name (once: *handle keeps it); -1 and e set when missing.
static int open_library(const char *name, const char *what, void **handle, nn_error *e)
{
    if (!*handle && !(*handle = dlopen(name, RTLD_NOW | RTLD_LOCAL)))
        return nn_fail(e, "%s is not installed or not found (%s); the GPU needs it", what,
                       dlerror());
    return 0;
}

int nn_vendor_load(nn_error *e)
{
    static void *dnn, *blas;
    static int loaded;
    if (loaded)
        return 0;
    if (open_library("libcudnn.so." NN_XSTR(CUDNN_MAJOR), "cuDNN " NN_XSTR(CUDNN_MAJOR), &dnn,
                     e) < 0 ||
        open_library("libcublas.so." NN_XSTR(CUBLAS_VER_MAJOR), "cuBLAS " NN_XSTR(CUBLAS_VER_MAJOR),
                     &blas, e) < 0)
        return -1;
    const char *missing = NULL;
#define NN_TAKE(lib, f)                                                                      \
    if (!(nn_vendor_fns.f = (decltype(nn_vendor_fns.f))dlsym(lib, NN_XSTR(f))) && !missing)   \
        missing = NN_XSTR(f);
#define NN_TAKE_DNN(f) NN_TAKE(dnn, f)
#define NN_TAKE_BLAS(f) NN_TAKE(blas, f)
    NN_VENDOR_FUNCTIONS(NN_TAKE_DNN)
    NN_BLAS_FUNCTIONS(NN_TAKE_BLAS)
#undef NN_TAKE_BLAS
#undef NN_TAKE_DNN
#undef NN_TAKE
    if (missing)
        return nn_fail(e, "the installed cuDNN or cuBLAS has no %s", missing);
    loaded = 1;
    return 0;
}

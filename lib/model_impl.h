/* model_impl.h - what lib/arch.c and lib/model.c share, not public. */
#ifndef NN_MODEL_IMPL_H
#define NN_MODEL_IMPL_H

#include "nn.h"

/* Parses architecture text into m->input, m->layers (set up, parameters
 * declared but not allocated) and m->loss. */
int nn_arch_parse(nn_model *m, const char *text, const char *file, int classes,
                  nn_error *e);

#endif

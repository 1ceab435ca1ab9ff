/* layers.c - the registry of layer types. A new layer type is one file in
 * lib/ that defines an nn_layer_type, and one line here. */
#include "nn.h"

#include <string.h>

extern const nn_layer_type nn_layer_conv, nn_layer_dense, nn_layer_maxpool,
    nn_layer_avgpool, nn_layer_gap, nn_layer_flatten, nn_layer_relu,
    nn_layer_leakyrelu, nn_layer_sigmoid, nn_layer_tanh, nn_layer_batchnorm,
    nn_layer_dropout, nn_layer_softmax;

static const nn_layer_type *const types[] = {
    &nn_layer_conv,    &nn_layer_dense,   &nn_layer_maxpool,
    &nn_layer_avgpool, &nn_layer_gap,     &nn_layer_flatten,
    &nn_layer_relu,    &nn_layer_leakyrelu, &nn_layer_sigmoid,
    &nn_layer_tanh,    &nn_layer_batchnorm, &nn_layer_dropout,
    &nn_layer_softmax, NULL,
};

const nn_layer_type *const *nn_layer_types(void) { return types; }

const nn_layer_type *nn_layer_type_find(const char *keyword)
{
    for (int i = 0; types[i]; i++)
        if (strcmp(types[i]->keyword, keyword) == 0)
            return types[i];
    return NULL;
}

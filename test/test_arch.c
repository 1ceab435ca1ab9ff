/* test_arch.c - architecture files: the shipped ones load with the layer
 * numbering the docs promise, text round-trips, and every kind of mistake
 * is an error that names FILE:LINE and what was expected. */
#include "nn.h"
#include "test.h"

#include <string.h>

static void shipped(const char *file, int classes, int nlayers, size_t params)
{
    char path[256], name[300];
    nn_error e;
    snprintf(path, sizeof path, "data/arch/%s.nn", file);
    snprintf(name, sizeof name, "%s loads: %d layers, %zu parameters", path, nlayers, params);
    TEST(name);
    nn_model *m = nn_model_from_arch_file(path, classes, &e);
    if (!m) {
        FAILF("%s", e.msg);
        return;
    }
    CHECK_MSG(m->nlayers == nlayers, "%d layers", m->nlayers);
    CHECK_MSG(nn_model_param_count(m) == params, "%zu parameters", nn_model_param_count(m));
    CHECK(m->classes == classes);
    /* the text regenerated from the layers builds the same model */
    char *text = nn_model_format_arch(m);
    nn_model *m2 = nn_model_from_arch(text, "regenerated", classes, &e);
    CHECK_MSG(m2 != NULL, "%s", e.msg);
    if (m2) {
        char *text2 = nn_model_format_arch(m2);
        CHECK_MSG(strcmp(text, text2) == 0, "format is not a fixed point:\n%s\n%s", text, text2);
        CHECK(m2->nlayers == m->nlayers);
        free(text2);
        nn_model_free(m2);
    }
    free(text);
    nn_model_free(m);
}

static void error_case(const char *text, int classes, const char *expect)
{
    char name[200];
    nn_error e = {{0}};
    snprintf(name, sizeof name, "error '%s'", expect);
    TEST(name);
    nn_model *m = nn_model_from_arch(text, "a.nn", classes, &e);
    CHECK_MSG(m == NULL, "accepted:\n%s", text);
    CHECK_MSG(strstr(e.msg, expect) != NULL, "message '%s' lacks '%s'", e.msg, expect);
    nn_model_free(m);
}

int main(void)
{
    nn_error e;
    /* parameters counted by hand: conv O*I*k*k+O, dense OUT*IN+OUT */
    shipped("cnn4", 2, 18, 896 + 9248 + 18496 + 36928 + (56 * 56 * 64 * 512 + 512) + 1026);
    shipped("fmnist", 10, 14, 320 + 64 + 18496 + 128 + (3136 * 128 + 128) + 1290);
    shipped("mlp6", 10, 15, 78500 + 5 * 10100 + 1010);
    shipped("lenet5", 10, 13, 156 + 2416 + (400 * 120 + 120) + 10164 + 850);
    shipped("vgg16", 1000, 40, 138357544);
    shipped("vgg16_bn", 1000, 53, 138365992);

    TEST("vgg16_bn numbering: conv at 0,3,7,...,40 and relu at 42, as torchvision");
    nn_model *m = nn_model_from_arch_file("data/arch/vgg16_bn.nn", 1000, &e);
    if (m) {
        static const int convs[] = {0, 3, 7, 10, 14, 17, 20, 24, 27, 30, 34, 37, 40};
        for (int i = 0; i < 13; i++)
            CHECK_MSG(strcmp(m->layers[convs[i]].type->keyword, "conv") == 0, "layer %d", convs[i]);
        CHECK(strcmp(m->layers[42].type->keyword, "relu") == 0);
        CHECK(nn_model_find_layer(m, "40") == 40);
        CHECK(nn_model_find_layer(m, "conv5_3") == 40);
        CHECK(nn_model_find_layer(m, "53") == -1);
        CHECK(nn_model_find_layer(m, "nosuch") == -1);
        CHECK(m->layers[40].out.c == 512 && m->layers[40].out.h == 14);
        nn_model_free(m);
    } else {
        FAILF("%s", e.msg);
    }

    TEST("summary lists every layer with shape, parameters and mult-adds");
    m = nn_model_from_arch("input 1x8x8\nconv 4 3x3 pad=same\nrelu\nflatten\ndense 3\n", "s", 0, &e);
    if (m) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        nn_model_summary(m, f);
        fclose(f);
        CHECK_MSG(strstr(buf, "4x8x8") && strstr(buf, "256x1x1") && strstr(buf, "dense"), "%s", buf);
        CHECK_MSG(strstr(buf, "771") != NULL, "dense params 256*3+3 missing:\n%s", buf);
        CHECK_MSG(strstr(buf, "2304") != NULL, "conv mult-adds 4*8*8*9 missing:\n%s", buf);
        free(buf);
        nn_model_free(m);
    } else {
        FAILF("%s", e.msg);
    }

    TEST("comments, blank lines, names and flat inputs");
    m = nn_model_from_arch("# a comment\n\ninput 784   # flat\n  dense 10 name=out # x\n\nsoftmax\n", "c", 0, &e);
    CHECK_MSG(m != NULL, "%s", e.msg);
    if (m) {
        CHECK(m->input.c == 784 && m->input.h == 1 && m->nlayers == 2);
        CHECK(strcmp(m->layers[0].name, "out") == 0 && strcmp(m->layers[1].name, "softmax1") == 0);
        CHECK(m->layers[0].line == 4);
        nn_model_free(m);
    }

    error_case("conv 3 3x3\n", 0, "a.nn:1: the first line must be 'input CxHxW'");
    error_case("input 16\ndense 3\nloss mse\nloss bce\n", 0,
               "a.nn:4: loss: a second 'loss' line; give the loss once");
    error_case("input 16\ndense 3 bias=nan\n", 0, "a.nn:2: dense: bias=nan: init 'nan' is not valid");

    TEST("a UTF-8 byte-order mark before the input line is skipped");
    m = nn_model_from_arch("\xef\xbb\xbfinput 16\ndense 3\n", "bom", 0, &e);
    CHECK_MSG(m != NULL && m->input.c == 16, "%s", m ? "" : e.msg);
    nn_model_free(m);
    error_case("input 3x8\nrelu\n", 0, "a.nn:1: input:");
    error_case("input 3x8x8\nfrobnicate 3\n", 0, "a.nn:2: unknown layer 'frobnicate'; known: input, loss, conv");
    error_case("input 3x8x8\nconv 0 3x3\n", 0, "a.nn:2: conv:");
    error_case("input 3x8x8\n\nconv 4 3y3\n", 0, "a.nn:3: conv:");
    error_case("input 3x8x8\nconv 4 3x3 stride=0\n", 0, "a.nn:2: conv:");
    error_case("input 3x8x8\nconv 4 3x3 pad=wide\n", 0, "a.nn:2: conv: pad must be same, valid or a number");
    error_case("input 3x8x8\nconv 4 3x3 colour=red\n", 0, "a.nn:2: conv: unknown option 'colour'");
    error_case("input 3x8x8\nconv 4 3x3 init=gaussian\n", 0, "a.nn:2: conv:");
    error_case("input 3x4x4\nconv 4 5x5\n", 0, "a.nn:2: conv: a 5x5 window does not fit the 4x4 input");
    error_case("input 3x8x8\ndense 10\n", 0, "a.nn:2: dense: expects a flat input");
    error_case("input 3x8x8\nflatten\ndense classes\n", 0, "a.nn:3: dense: 'classes' needs the class count");
    error_case("input 3x8x8\nrelu name=a\nrelu name=a\n", 0, "a.nn:3: relu: name 'a' is already layer 0's");
    error_case("input 3x8x8\nrelu name=12\n", 0, "a.nn:2: relu: name '12'");
    error_case("input 3x8x8\nrelu\ninput 3x8x8\n", 0, "a.nn:3: input:");
    error_case("input 3x8x8\nrelu\nloss hinge\n", 0, "a.nn:3: loss:");
    error_case("input 3x8x8\n", 0, "a.nn: no layers");
    error_case("# nothing\n", 0, "no 'input CxHxW' line");
    error_case("input 3x8x8\nmaxpool 9\n", 0, "a.nn:2: maxpool: a 9x9 window does not fit");
    error_case("input 3x8x8\ndropout 1.5\n", 0, "a.nn:2: dropout:");
    error_case("input 3x8x8\nrelu 3\n", 0, "a.nn:2: relu:");

    TEST("a missing file names the file");
    m = nn_model_from_arch_file("data/arch/no-such.nn", 0, &e);
    CHECK(m == NULL && strstr(e.msg, "data/arch/no-such.nn: cannot open") != NULL);
    return test_done();
}

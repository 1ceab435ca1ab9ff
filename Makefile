# nn - a deep-learning toolkit in C.  See README.md.
#
#   make            libnn (lib/libnn.a) and the programs (bin/)
#   make check      unit, golden and command-line tests; ends "N passed, M failed"
#   make check-gpu  every layer on the GPU against the CPU (needs a GPU)
#   make deps       install the Debian packages the build needs (apt-get)
#   make install    PREFIX=/usr/local: programs, man pages, header, library, nn.pc
#   make clean
#
# Variables: SANITIZE=1 (ASan+UBSan; the CUDA backend is left out), NVCC=
# (empty: build without CUDA even where nvcc is found), CC, OPT, THREADS.
# -fno-math-errno lets sqrtf and friends vectorize (nothing here reads errno
# after math calls).

PREFIX   ?= /usr/local
CC       ?= cc
OPT      ?= -O3 -march=native
PKGS      = hdf5 libpng libjpeg openblas libcurl libarchive
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS   += -std=gnu11 -g $(OPT) -fno-math-errno -fopenmp -Wall -Wextra -Ilib $(PKG_CFLAGS)
LDLIBS   += $(PKG_LIBS) -lgif -fopenmp -lm -lpthread

# Where objects, tests and (for sanitized builds) the library and programs go.
ifeq ($(SANITIZE),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
NVCC    :=
BUILD   := build/sanitize
LIBNN   := $(BUILD)/libnn.a
BIN     := $(BUILD)/bin
else
BUILD   := build
LIBNN   := lib/libnn.a
BIN     := bin
endif

# CUDA: compiled and linked wherever nvcc is found (PATH or /usr/local/cuda).
NVCC ?= $(shell command -v nvcc 2>/dev/null || { test -x /usr/local/cuda/bin/nvcc && echo /usr/local/cuda/bin/nvcc; })
ifneq ($(NVCC),)
CUDA_HOME  ?= $(patsubst %/bin/nvcc,%,$(NVCC))
# Turing (7.5), Ampere and Ada (8.x), Hopper (9.0); newer GPUs compile the 9.0 PTX
NVCCFLAGS  ?= -O3 -std=c++17 -Ilib -Xcompiler -Wall,-Wextra -gencode arch=compute_75,code=sm_75 \
              -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 \
              -gencode arch=compute_90,code=compute_90
CUDA_OBJS   = $(patsubst kernels/%.cu,$(BUILD)/kernels/%.o,$(wildcard kernels/*.cu))
CUDA_LIBDIR = $(firstword $(wildcard $(CUDA_HOME)/lib64 $(CUDA_HOME)/targets/x86_64-linux/lib))
# (cuDNN and cuBLAS are opened at run time: kernels/vendor.cu)
CUDA_LIBS   = -L$(CUDA_LIBDIR) -Wl,-rpath,$(CUDA_LIBDIR) -lcudart -ldl -lstdc++
LDLIBS     += $(CUDA_LIBS)
LIB_SRCS    = $(filter-out lib/cuda_none.c,$(wildcard lib/*.c))
TEST_CFLAGS = -DNN_EXPECT_CUDA
else
CUDA_OBJS   =
LIB_SRCS    = $(wildcard lib/*.c)
endif

LIB_OBJS  = $(patsubst lib/%.c,$(BUILD)/lib/%.o,$(LIB_SRCS)) $(CUDA_OBJS)
PROGS     = $(patsubst cmd/%.c,$(BIN)/%,$(wildcard cmd/*.c))
TESTS     = $(patsubst test/%.c,$(BUILD)/test/%,$(wildcard test/test_*.c))
TEST_COMMON = $(filter-out $(wildcard test/test_*.c),$(wildcard test/*.c))

all: $(LIBNN) $(PROGS)

$(LIBNN): $(LIB_OBJS)
	@mkdir -p $(@D)
	$(AR) rcs $@ $^

$(BUILD)/lib/%.o: lib/%.c lib/nn.h $(wildcard lib/*_impl.h) Makefile
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/kernels/%.o: kernels/%.cu lib/nn.h $(wildcard kernels/*.h) $(wildcard lib/*_impl.h)
	@mkdir -p $(@D)
	$(NVCC) $(NVCCFLAGS) -c -o $@ $<

$(BIN)/%: cmd/%.c $(LIBNN)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIBNN) $(LDLIBS)

$(BUILD)/test/%: test/%.c $(TEST_COMMON) test/test.h $(LIBNN)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(TEST_CFLAGS) -Itest $(LDFLAGS) -o $@ $< $(TEST_COMMON) $(LIBNN) $(LDLIBS)

# The command-line tests find the programs in $NN_BIN.
check: all $(TESTS) $(BUILD)/bench
	@NN_BIN=$(abspath $(BIN)) NN_BUILD=$(abspath $(BUILD)) NN_SANITIZE=$(SANITIZE) sh test/run.sh $(TESTS)

# make check-gpu: every layer, loss and optimizer, a whole model, nn-vis and
# nn-train on the GPU against the CPU (a GPU is needed: no GPU is a failure
# here), then test_gpu again under compute-sanitizer's memcheck with leak
# checking where it is installed.
SANITIZER = $(firstword $(wildcard $(CUDA_HOME)/bin/compute-sanitizer) \
                        $(shell command -v compute-sanitizer 2>/dev/null))
GPU_TESTS = $(BUILD)/test/test_device $(BUILD)/test/test_gpu
check-gpu: all $(GPU_TESTS) $(BUILD)/bench
	@test -n "$(NVCC)" || { echo "check-gpu: this build has no CUDA backend (no nvcc)"; exit 1; }
	@NN_REQUIRE_GPU=1 NN_CLI=0 NN_BIN=$(abspath $(BIN)) NN_BUILD=$(abspath $(BUILD)) \
	  sh test/run.sh $(GPU_TESTS) test/cli/gpu.sh
	@if [ -n "$(SANITIZER)" ]; then \
	  NN_REQUIRE_GPU=1 NN_CLI=0 NN_TEST_WRAP="$(SANITIZER) --leak-check full --error-exitcode 1" \
	    sh test/run.sh $(BUILD)/test/test_gpu; \
	else echo "check-gpu: compute-sanitizer not found; the memcheck run is left out"; fi

# Debian packages: the -dev libraries the build links, h5dump and h5py for
# the format tests, and Fashion-MNIST for the demo and end-to-end tests.
DEB_PKGS = build-essential pkg-config libhdf5-dev hdf5-tools libpng-dev \
           libjpeg62-turbo-dev libopenblas-openmp-dev libcurl4-openssl-dev \
           libarchive-dev libgif-dev python3 python3-h5py python3-numpy \
           dataset-fashion-mnist
deps:
	@missing=$$(for p in $(DEB_PKGS); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	  done); \
	if [ -z "$$missing" ]; then echo "deps: all installed"; exit 0; fi; \
	sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	echo "deps: installing $$missing"; \
	$$sudo apt-get update -qq && \
	DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing
	@# TensorBoard (PyPI) reads back the event files in the tests
	@python3 -c 'import tensorboard' 2>/dev/null || python3 -m pip install -q tensorboard \
	  || echo "deps: could not install tensorboard: its tests will be skipped" >&2

nn.pc:
	@printf 'prefix=%s\nlibdir=$${prefix}/lib\nincludedir=$${prefix}/include\n\nName: nn\nDescription: deep-learning toolkit in C\nVersion: %s\nRequires: %s\nLibs: -L$${libdir} -lnn %s -lgif -fopenmp -lm -lpthread\nCflags: -I$${includedir}\n' \
	  '$(PREFIX)' "$$(sed -n 's/^#define NN_VERSION "\(.*\)"/\1/p' lib/nn.h)" '$(PKGS)' '$(CUDA_LIBS)' > $@

install: all nn.pc
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig \
	  $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/share/man/man1 \
	  $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man7 \
	  $(DESTDIR)$(PREFIX)/share/nn
	$(if $(PROGS),install -m 755 $(PROGS) $(DESTDIR)$(PREFIX)/bin)
	install -m 644 lib/libnn.a $(DESTDIR)$(PREFIX)/lib
	install -m 644 lib/nn.h $(DESTDIR)$(PREFIX)/include
	install -m 644 nn.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig
	for s in 1 5 7; do for f in man/man$$s/*.$$s; do [ -e "$$f" ] && install -m 644 $$f $(DESTDIR)$(PREFIX)/share/man/man$$s; done; done; true
	cp -r data/arch $(DESTDIR)$(PREFIX)/share/nn/
	install -m 644 data/datasets.tsv $(DESTDIR)$(PREFIX)/share/nn/
	install -m 644 data/imagenet_classes.txt $(DESTDIR)$(PREFIX)/share/nn/

# make check-fmnist: the acceptance run, 3 epochs of Fashion-MNIST with
# data/arch/fmnist.nn and Adam on 2 threads: >= 91% test accuracy (minutes).
check-fmnist: all
	@NN_BIN=$(abspath $(BIN)) NN_FMNIST_FULL=1 sh test/cli/fmnist.sh

# make bench: images/s next to PyTorch on the identical networks (THREADS=2,
# DEVICE=cpu; cuda or auto: the GPU).
THREADS ?= 2
DEVICE  ?= cpu
$(BUILD)/bench: test/bench/bench.c $(LIBNN)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIBNN) $(LDLIBS)

bench: $(BUILD)/bench
	@sh test/bench/bench.sh $(abspath $(BUILD)/bench) $(THREADS) $(DEVICE)

# make demo: Fashion-MNIST end to end into runs/demo (EPOCHS=3).
demo: deps
	$(MAKE) all
	BIN=$(BIN) sh data/experiments/demo.sh

clean:
	rm -rf build bin lib/libnn.a nn.pc

.PHONY: all check check-gpu check-fmnist deps install demo bench clean nn.pc
.SECONDARY:

# common.mk - included by every recipe: make -C data/experiments/NAME
# Variables (override on the command line):
#   BIN     the nn programs (the build's bin/)
#   OUT     where the recipe writes (runs/NAME at the top of the tree)
#   FMNIST  Fashion-MNIST as an nn dataset, fetched on first use (offline
#           from the Debian package dataset-fashion-mnist when installed)
#   THREADS threads per program (default: all cores)
TOP     := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/../..)
BIN     ?= $(TOP)/bin
OUT     ?= $(TOP)/runs/$(notdir $(CURDIR))
FMNIST  ?= $(TOP)/runs/data/fmnist.h5
ARCH    ?= $(TOP)/data/arch
THREADS ?=
THREADS_OPT = $(if $(THREADS),--threads $(THREADS))

# The recipe's 'all' is the default goal (the rules below come first).
.DEFAULT_GOAL := all

$(BIN)/nn-%:
	$(MAKE) -C $(TOP) all

$(TOP)/runs/data/fmnist.h5: | $(BIN)/nn-fetch-data
	@mkdir -p $(dir $@)
	$(BIN)/nn-fetch-data fashion-mnist -o $@

$(OUT):
	@mkdir -p $@

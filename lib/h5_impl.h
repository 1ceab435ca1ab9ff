/* h5_impl.h - what the HDF5 files of lib/ share (h5.c implements it): quiet
 * HDF5 calls, files built in memory and written in one piece, and readers
 * whose messages name the file. The only header that includes hdf5.h;
 * only lib/h5*.c include it. */
#ifndef NN_H5_IMPL_H
#define NN_H5_IMPL_H

#include "nn.h"

#include <hdf5.h>

struct nn_h5 {
    hid_t file;
    char *name; /* for messages: the path, or "stdin" */
};

/* HDF5 prints its error stack by default: calls between h5_quiet_begin and
 * h5_quiet_end do not, and the caller's setting comes back after. */
typedef struct h5_quiet {
    H5E_auto2_t func;
    void *data;
} h5_quiet;
void h5_quiet_begin(h5_quiet *q);
void h5_quiet_end(const h5_quiet *q);

/* Why the last HDF5 call failed: the system's error when the file driver
 * reported one, else HDF5's innermost message. */
void h5_last_cause(char *buf, size_t size, int fallback_errno);

/* Writing: the first failure is recorded as "NAME: write failed: CAUSE"
 * and later calls fail quietly. */
typedef struct h5_writer {
    const char *name; /* the target, for messages */
    nn_error *e;
    int failed;
} h5_writer;
int h5_wfail(h5_writer *w);
/* Attribute name of loc: n values (n == 0: a scalar) of memory type mtype
 * stored as ftype. */
int h5_put_attr(h5_writer *w, hid_t loc, const char *name, hid_t ftype, hid_t mtype,
                hsize_t n, const void *data);
int h5_put_string(h5_writer *w, hid_t loc, const char *name, const char *value);
int h5_put_strings(h5_writer *w, hid_t loc, const char *name, const char *const *values,
                   size_t n);
int h5_put_int(h5_writer *w, hid_t loc, const char *name, int v);
int h5_put_float(h5_writer *w, hid_t loc, const char *name, float v);
/* A dataset of shape dims[ndims] (at most 4) of memory type mtype stored as
 * ftype, contiguous. */
int h5_put_data(h5_writer *w, hid_t loc, const char *name, hid_t ftype, hid_t mtype,
                int ndims, const int *dims, const void *data);
int h5_put_floats(h5_writer *w, hid_t loc, const char *name, int ndims, const int *dims,
                  const float *data); /* float32 */
hid_t h5_new_group(h5_writer *w, hid_t loc, const char *name);

/* Saving: content(w, file, arg) fills a file built in memory (estimate:
 * about its bytes), then it goes to path through a temporary file renamed
 * into place (nn_write_file), or to stdout for "-". */
typedef int (*h5_content_fn)(h5_writer *w, hid_t file, const void *arg);
int h5_save(h5_content_fn content, const void *arg, size_t estimate, const char *path,
            nn_error *e);

/* Reading, between h5_quiet_begin and h5_quiet_end (the nn_h5_ functions
 * of nn.h are these wrapped so). Each fails with a message naming the
 * file and the object. */
int h5_exists(nn_h5 *f, const char *path); /* every link along path */
/* Opens dataset path, numeric (integer only when `integer`), with its rank
 * and dimensions; the caller closes it. */
hid_t h5_open_numeric(nn_h5 *f, const char *path, int integer, int *nd,
                      hsize_t hd[H5S_MAX_RANK], nn_error *e);
/* All of dataset d as mtype into dst; closes d. */
int h5_read_values(nn_h5 *f, hid_t d, const char *path, hid_t mtype, void *dst, nn_error *e);
int h5_read_attr_strings(nn_h5 *f, const char *obj, const char *name, char ***out,
                         size_t *n, nn_error *e);
int h5_read_attr_string(nn_h5 *f, const char *obj, const char *name, char **out,
                        nn_error *e);
/* Exactly `want` values (of `size` bytes as mtype) of a numeric attribute. */
int h5_read_attr_fixed(nn_h5 *f, const char *obj, const char *name, hid_t mtype,
                       size_t size, size_t want, void *out, nn_error *e);
int h5_read_attr_int(nn_h5 *f, const char *obj, const char *name, int *out, nn_error *e);
int h5_read_attr_float(nn_h5 *f, const char *obj, const char *name, float *out, nn_error *e);
char **h5_list(nn_h5 *f, const char *group, nn_error *e); /* sorted member names */

#endif

#ifndef TAILFORGE_HDF5_SHIM_H
#define TAILFORGE_HDF5_SHIM_H
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>

// HDF5's type and property-list ids are macros over globals that need H5open() first; Swift cannot
// import them, so each gets an accessor here.
static inline hid_t tf_H5T_NATIVE_FLOAT(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t tf_H5T_NATIVE_DOUBLE(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t tf_H5T_NATIVE_INT8(void) { return H5T_NATIVE_INT8; }
static inline hid_t tf_H5T_NATIVE_UINT8(void) { return H5T_NATIVE_UINT8; }
static inline hid_t tf_H5T_NATIVE_INT16(void) { return H5T_NATIVE_INT16; }
static inline hid_t tf_H5T_NATIVE_UINT16(void) { return H5T_NATIVE_UINT16; }
static inline hid_t tf_H5T_NATIVE_INT32(void) { return H5T_NATIVE_INT32; }
static inline hid_t tf_H5T_NATIVE_UINT32(void) { return H5T_NATIVE_UINT32; }
static inline hid_t tf_H5T_NATIVE_INT64(void) { return H5T_NATIVE_INT64; }
static inline hid_t tf_H5T_NATIVE_UINT64(void) { return H5T_NATIVE_UINT64; }
static inline hid_t tf_H5T_IEEE_F32LE(void) { return H5T_IEEE_F32LE; }
static inline hid_t tf_H5T_IEEE_F64LE(void) { return H5T_IEEE_F64LE; }
static inline hid_t tf_H5T_STD_I32LE(void) { return H5T_STD_I32LE; }
static inline hid_t tf_H5T_STD_I64LE(void) { return H5T_STD_I64LE; }
static inline hid_t tf_H5T_STD_U8LE(void) { return H5T_STD_U8LE; }
static inline hid_t tf_H5T_STD_U64LE(void) { return H5T_STD_U64LE; }
static inline hid_t tf_H5T_C_S1(void) { return H5T_C_S1; }
static inline hid_t tf_H5P_DEFAULT(void) { return H5P_DEFAULT; }
static inline hid_t tf_H5P_FILE_CREATE(void) { return H5P_FILE_CREATE; }
static inline hid_t tf_H5P_FILE_ACCESS(void) { return H5P_FILE_ACCESS; }
static inline hid_t tf_H5P_DATASET_CREATE(void) { return H5P_DATASET_CREATE; }
static inline hid_t tf_H5P_DATASET_XFER(void) { return H5P_DATASET_XFER; }
static inline hid_t tf_H5P_LINK_CREATE(void) { return H5P_LINK_CREATE; }
static inline hid_t tf_H5S_ALL(void) { return H5S_ALL; }
static inline unsigned tf_H5F_ACC_RDONLY(void) { return H5F_ACC_RDONLY; }
static inline unsigned tf_H5F_ACC_RDWR(void) { return H5F_ACC_RDWR; }
static inline unsigned tf_H5F_ACC_TRUNC(void) { return H5F_ACC_TRUNC; }
static inline unsigned tf_H5F_ACC_EXCL(void) { return H5F_ACC_EXCL; }
static inline hsize_t tf_H5S_UNLIMITED(void) { return H5S_UNLIMITED; }
static inline hid_t tf_H5E_DEFAULT(void) { return H5E_DEFAULT; }
static inline size_t tf_H5T_VARIABLE(void) { return H5T_VARIABLE; }
static inline hid_t tf_H5P_GROUP_CREATE(void) { return H5P_GROUP_CREATE; }
static inline hid_t tf_H5P_ATTRIBUTE_CREATE(void) { return H5P_ATTRIBUTE_CREATE; }
static inline hid_t tf_H5T_IEEE_F16LE_COPY(void) {
    // HDF5 1.10 has no predefined half type: build IEEE binary16 from a float32 copy (caller closes it).
    hid_t t = H5Tcopy(H5T_IEEE_F32LE);
    if (t < 0) return t;
    if (H5Tset_fields(t, 15, 10, 5, 0, 10) < 0 || H5Tset_size(t, 2) < 0 || H5Tset_ebias(t, 15) < 0) {
        H5Tclose(t);
        return -1;
    }
    return t;
}

// An in-memory file (core driver, no backing store) that hands its final bytes over instead of freeing them: the
// core driver takes its memory through these callbacks, and at H5Fclose — after HDF5 has written the closing
// superblock, the same bytes a file on disk holds after its close — the free callback parks the buffer in
// `*slot` (a `void *` owned by the caller, who frees it with free()). H5Fget_file_image before the close does not
// give those bytes: its superblock checksum differs from the closed file's (HDF5 1.10.8, every shape tried).
static void *tf_image_malloc(size_t size, H5FD_file_image_op_t op, void *udata) {
    (void)op; (void)udata;
    return malloc(size);
}
static void *tf_image_memcpy(void *dest, const void *src, size_t size, H5FD_file_image_op_t op, void *udata) {
    (void)op; (void)udata;
    return memcpy(dest, src, size);
}
static void *tf_image_realloc(void *ptr, size_t size, H5FD_file_image_op_t op, void *udata) {
    (void)op; (void)udata;
    return realloc(ptr, size);
}
static herr_t tf_image_free(void *ptr, H5FD_file_image_op_t op, void *udata) {
    void **slot = (void **)udata;
    if (op == H5FD_FILE_IMAGE_OP_FILE_CLOSE && slot != NULL) {
        free(*slot);
        *slot = ptr;
    } else {
        free(ptr);
    }
    return 0;
}
// HDF5 copies the property list and its udata with it: the slot is the caller's, so copies share it.
static void *tf_image_udata_copy(void *udata) { return udata; }
static herr_t tf_image_udata_free(void *udata) { (void)udata; return 0; }
static inline herr_t tf_H5Pset_core_image_capture(hid_t fapl, size_t increment, void **slot) {
    if (H5Pset_fapl_core(fapl, increment, 0) < 0) return -1;
    H5FD_file_image_callbacks_t callbacks = {
        tf_image_malloc, tf_image_memcpy, tf_image_realloc, tf_image_free, tf_image_udata_copy, tf_image_udata_free, (void *)slot
    };
    return H5Pset_file_image_callbacks(fapl, &callbacks);
}

#endif

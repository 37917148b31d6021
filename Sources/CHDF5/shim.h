// C interop for libhdf5 (Debian package libhdf5-dev, pkg-config hdf5-serial).
//
// Swift imports libhdf5's functions directly, but not the macros that wrap global handles
// (H5T_NATIVE_FLOAT expands to `(H5open(), H5T_NATIVE_FLOAT_g)`), nor the flag macros with H5CHECK.
// Each such macro gets one `static inline` getter here, prefixed `kp_`, and nothing else lives in this file.
#ifndef KPRUNE_CHDF5_SHIM_H
#define KPRUNE_CHDF5_SHIM_H

#include <hdf5.h>

static inline hid_t kp_H5P_DEFAULT(void) { return H5P_DEFAULT; }
static inline hid_t kp_H5S_ALL(void) { return H5S_ALL; }
static inline hid_t kp_H5E_DEFAULT(void) { return H5E_DEFAULT; }

static inline unsigned kp_H5F_ACC_RDONLY(void) { return H5F_ACC_RDONLY; }
static inline unsigned kp_H5F_ACC_RDWR(void) { return H5F_ACC_RDWR; }
static inline unsigned kp_H5F_ACC_EXCL(void) { return H5F_ACC_EXCL; }

static inline hid_t kp_H5P_DATASET_ACCESS(void) { return H5P_DATASET_ACCESS; }
static inline hid_t kp_H5P_DATASET_CREATE(void) { return H5P_DATASET_CREATE; }

static inline hid_t kp_H5T_NATIVE_FLOAT(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t kp_H5T_NATIVE_DOUBLE(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t kp_H5T_NATIVE_LLONG(void) { return H5T_NATIVE_LLONG; }
static inline hid_t kp_H5T_IEEE_F32LE(void) { return H5T_IEEE_F32LE; }
static inline hid_t kp_H5T_IEEE_F64LE(void) { return H5T_IEEE_F64LE; }
static inline hid_t kp_H5T_C_S1(void) { return H5T_C_S1; }
static inline size_t kp_H5T_VARIABLE(void) { return H5T_VARIABLE; }

#endif

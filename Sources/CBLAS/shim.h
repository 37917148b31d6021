// C interop for OpenBLAS (Debian package libopenblas-dev, pkg-config openblas): the CBLAS interface and
// OpenBLAS's thread control. Nothing else lives in this file.
#ifndef KPRUNE_CBLAS_SHIM_H
#define KPRUNE_CBLAS_SHIM_H

#include <cblas.h>

#endif

#ifndef TAILFORGE_CBLAS_SHIM_H
#define TAILFORGE_CBLAS_SHIM_H
// Debian's libopenblas-dev installs cblas.h under the multiarch include path, which is on the default search path.
#include <cblas.h>
// It also declares openblas_set_num_threads: OpenBLAS's own pool fights ours (we parallelise over classes
// and shards), so callers pin it.

#endif

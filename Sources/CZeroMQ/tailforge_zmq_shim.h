#ifndef TAILFORGE_ZMQ_SHIM_H
#define TAILFORGE_ZMQ_SHIM_H
#include <zmq.h>

// errno is a macro Swift cannot always see through; read it here, next to the call that set it.
static inline int tailforge_zmq_errno(void) { return zmq_errno(); }

#endif

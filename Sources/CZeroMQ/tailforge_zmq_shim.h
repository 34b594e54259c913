#ifndef TAILFORGE_ZMQ_SHIM_H
#define TAILFORGE_ZMQ_SHIM_H
#include <zmq.h>
#include <errno.h>

// errno is a macro Swift cannot always see through; read it here, next to the call that set it.
static inline int tailforge_zmq_errno(void) { return zmq_errno(); }

// libzmq's own error numbers are computed macros (ZMQ_HAUSNUMERO + n) or fall back to the system's;
// accessors give Swift one spelling whatever the platform defines.
static inline int tailforge_zmq_ETERM(void) { return ETERM; }
static inline int tailforge_zmq_EFSM(void) { return EFSM; }
static inline int tailforge_zmq_EHOSTUNREACH(void) { return EHOSTUNREACH; }
static inline int tailforge_zmq_EAGAIN(void) { return EAGAIN; }
static inline int tailforge_zmq_EINTR(void) { return EINTR; }
static inline int tailforge_zmq_EINVAL(void) { return EINVAL; }
static inline int tailforge_zmq_ENOTSOCK(void) { return ENOTSOCK; }
static inline int tailforge_zmq_EADDRINUSE(void) { return EADDRINUSE; }
static inline int tailforge_zmq_EPROTONOSUPPORT(void) { return EPROTONOSUPPORT; }
static inline int tailforge_zmq_EMSGSIZE(void) { return EMSGSIZE; }

// ZMQ_ZAP_ENFORCE_DOMAIN is in libzmq's draft section of zmq.h (stable since 4.3 in the library itself).
static inline int tailforge_zmq_ZAP_ENFORCE_DOMAIN(void) { return 93; }

#endif

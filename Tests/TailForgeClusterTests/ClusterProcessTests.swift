import Testing

/// The suites that run coordinators and workers as `tailforge` processes, one test at a time: they rely on
/// heartbeats and liveness windows of a few hundred milliseconds, which a 2-core machine running several
/// clusters at once cannot keep. Their waits suspend instead of blocking, so the unit suites (and
/// ``ClusterThreadTests``) run beside them.
@Suite(.serialized) enum ClusterProcessTests {}

/// The suites that run coordinator and worker runtimes on threads of the test process, one test at a time, for
/// the same reason as ``ClusterProcessTests``.
@Suite(.serialized) enum ClusterThreadTests {}

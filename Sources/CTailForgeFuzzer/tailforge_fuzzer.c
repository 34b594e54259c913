// SwiftPM needs one source file per C target; the target exists for its header (tailforge_fuzzer.h).
#include "tailforge_fuzzer.h"

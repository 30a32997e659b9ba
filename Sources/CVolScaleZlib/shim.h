// zlib (Debian: zlib1g-dev) for the gzip price-file reader. zlib's inflateInit2 is a macro,
// which Swift does not import; this wrapper is the one function Swift calls instead.
#ifndef VOLSCALE_ZLIB_SHIM_H
#define VOLSCALE_ZLIB_SHIM_H
#include <zlib.h>

static inline int volscale_inflate_init(z_stream *stream, int window_bits) {
    return inflateInit2(stream, window_bits);
}
#endif

// System zlib (Debian: zlib1g-dev), for inflating git pack objects.
#include <zlib.h>

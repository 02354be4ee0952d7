#include "tools/common/dataset_flags.h"

DEFINE_uint64(count, 10000, "number of keys in the dataset");
DEFINE_string(prefix, "key", "prefix of every key of the dataset");
DEFINE_uint64(value_bytes, 100, "bytes per value");
DEFINE_uint64(batch, 500, "keys per multi_put / multi_get request");

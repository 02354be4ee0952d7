// Flags of the dataset commands (storeprimer, storetest).
#pragma once
#include <gflags/gflags.h>
DECLARE_uint64(count);
DECLARE_string(prefix);
DECLARE_uint64(value_bytes);
DECLARE_uint64(batch);

#include "tools/common/dataset.h"

#include <unistd.h>

namespace thrifty::cli {

Progress::Progress(const char* what, uint64_t total)
    : what_(what), total_(total), tty_(isatty(STDERR_FILENO) == 1) {}

void Progress::update(uint64_t done) {
  if (!tty_ || total_ == 0) return;
  const int percent = static_cast<int>(done * 100 / total_);
  if (percent == last_percent_) return;
  last_percent_ = percent;
  const int width = 40, filled = percent * width / 100;
  std::fprintf(stderr, "\r%s [%.*s%*s] %3d%% %llu/%llu", what_, filled,
               "########################################", width - filled, "", percent,
               static_cast<unsigned long long>(done), static_cast<unsigned long long>(total_));
  std::fflush(stderr);
}

void Progress::finish() {
  if (tty_) std::fprintf(stderr, "\n");
}

}  // namespace thrifty::cli

// Numbers for people: sizes, durations and shares as the admin tools print them, and tables
// with aligned columns.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace thrifty::cli {

// "512 B", "47.7 KiB", "1.2 MiB", "3.0 GiB" (then TiB, PiB, EiB): powers of 1024 with one
// decimal, the largest unit in which the number is at least 1. Negative: "?".
std::string HumanBytes(int64_t bytes);

// The two largest units of a duration: "45s", "12m5s", "5h3m", "3d4h" (and "0s"). Negative: "?".
std::string HumanDuration(int64_t seconds);

// A fraction as a percentage with `decimals` fixed decimals: Percent(0.6667) is "66.7%".
std::string Percent(double fraction, int decimals = 1);

// A table printed with its columns aligned: each as wide as its widest cell, two spaces between
// columns, no spaces at the end of a line.
class Table {
 public:
  enum class Align { kLeft, kRight };
  struct Column {
    std::string header;
    Align align = Align::kLeft;
  };

  explicit Table(std::vector<Column> columns) : columns_(std::move(columns)) {}
  // A row of one cell per column (missing cells are empty, extra ones dropped).
  void add(std::vector<std::string> cells);
  // The header line, then the rows.
  void print(std::ostream& out) const;

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace thrifty::cli

// Replays inputs through a fuzz target's entry point without libFuzzer (the Release build's
// ctest): `fuzz_replay_<target> FOLDER_OR_FILE...` runs every file once and prints its name
// first, so a crash names the input that caused it. Files named in the optional list given
// with --skip LIST (one file name per line, '#' starts a comment) are skipped with a note: they
// are reproducers of crashes whose fix is on another branch (testing/fuzz/regressions/README.md).

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

int main(int argc, char** argv) {
  std::vector<std::filesystem::path> files;
  std::set<std::string> skip;
  for (int n = 1; n < argc; ++n) {
    const std::string arg = argv[n];
    if (arg == "--skip" && n + 1 < argc) {
      std::ifstream list(argv[++n]);
      for (std::string line; std::getline(list, line);) {
        line = line.substr(0, line.find('#'));
        while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) line.pop_back();
        if (!line.empty()) skip.insert(line);
      }
      continue;
    }
    if (std::filesystem::is_directory(arg)) {
      for (const auto& entry : std::filesystem::directory_iterator(arg))
        if (entry.is_regular_file() && entry.path().filename().string()[0] != '.') files.push_back(entry.path());
    } else {
      files.emplace_back(arg);
    }
  }
  std::sort(files.begin(), files.end());
  int replayed = 0, skipped = 0;
  for (const auto& file : files) {
    if (skip.count(file.filename().string())) {
      std::cout << "skipped (fixed on another branch): " << file.filename().string() << std::endl;
      ++skipped;
      continue;
    }
    std::cout << "replaying " << file.filename().string() << std::endl;
    std::ifstream in(file, std::ios::binary);
    const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.eof() && in.fail()) {
      std::cerr << "cannot read " << file << "\n";
      return 1;
    }
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    ++replayed;
  }
  std::cout << replayed << " inputs replayed without a crash, " << skipped << " skipped" << std::endl;
  return 0;
}

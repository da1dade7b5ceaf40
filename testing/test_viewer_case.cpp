// The analysed phantoms the render and viewer tests share: a small thigh CT (256 x 256 x 25, 1.6 mm
// pixels, 20 mm slices) as DICOM and as NIfTI, each analysed, and an ultrasound phantom with its
// truth labels. Made once per build of the musclecsa binary and kept in the build folder
// (testing-cache/viewer-case-<binary time>), since ctest runs each test in its own process; the
// tests only read it (they copy what they change). Made in a private folder and renamed into
// place, so tests starting together never see half of it.
// Also here: each viewer_tests process holds a connection to the X server while its tests run, and
// x_connection_problem() reads the log of tools/x_connection_spy.cpp.

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "musclecsa/io/text_file.h"
#include "test_support.h"

// Last: Xlib defines macros (None, Bool, Status) that clash with C++ names.
#include <X11/Xlib.h>

using musclecsa::testing::quoted;
using musclecsa::testing::run_command;
using musclecsa::testing::TempDir;

struct ViewerCase {
  std::filesystem::path root;
  std::filesystem::path dicom, dicom_results;
  std::filesystem::path nifti, nifti_results;
  std::filesystem::path us_dicom, us_labels;
  std::filesystem::path us_results;
  int level_slice = -1;
};

namespace {

/// Holds a connection to the X server from before this process' first test until its end. An X
/// server started without -noreset (a plain `xvfb-run -a ctest`) resets whenever its last client
/// leaves and refuses connections while it resets; with this connection open it does not reset
/// while a test runs, so the musclecsa processes the test starts never meet a reset. The previous
/// test's process may just have left (the server then resets once): this waits until the server
/// accepts connections again, up to 30 s. Without DISPLAY nothing is held (the tests then fail,
/// naming the missing X server).
class HoldXConnection : public ::testing::Environment {
 public:
  void SetUp() override {
    if (std::getenv("DISPLAY") == nullptr) return;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while ((display_ = XOpenDisplay(nullptr)) == nullptr && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (display_ == nullptr) ADD_FAILURE() << "no connection to the X server DISPLAY=" << std::getenv("DISPLAY") << " within 30 s";
  }
  void TearDown() override {
    if (display_ != nullptr) XCloseDisplay(display_);
    display_ = nullptr;
  }

 private:
  Display* display_ = nullptr;
};
[[maybe_unused]] ::testing::Environment* const hold_x_connection = ::testing::AddGlobalTestEnvironment(new HoldXConnection);

void make_case(const ViewerCase& c) {
  const std::string binary = MUSCLECSA_BINARY;
  auto run = [](const std::string& command) {
    const auto r = run_command(command);
    if (r.exit_code != 0) throw std::runtime_error(command + " failed: " + r.output);
  };
  run(binary + " phantom --anatomy thigh --modality ct --slices 25 --slice-spacing-mm 20 --columns 256 --rows 256 "
               "--pixel-spacing-mm 1.6 --seed 3 --quiet --out " + quoted(c.root / "ph"));
  // The analytic phantom is drawn from the layout: split by it, so the viewer tests edit exact territories.
  run(binary + " analyze " + quoted(c.dicom) + " --muscle-prior layout --quiet --out " + quoted(c.dicom_results));
  run(binary + " convert " + quoted(c.dicom) + " " + quoted(c.nifti) + " --quiet");
  run(binary + " analyze " + quoted(c.nifti) + " --modality ct --muscle-prior layout --quiet --out " + quoted(c.nifti_results));
  run(binary + " phantom --anatomy thigh --modality us --quiet --out " + quoted(c.root / "us"));
  run(binary + " analyze " + quoted(c.us_dicom) + " --quiet --out " + quoted(c.us_results));
  musclecsa::io::write_text_atomically(c.root / "complete", "made by test_viewer_case.cpp\n");
}

ViewerCase paths_in(const std::filesystem::path& root) {
  ViewerCase c;
  c.root = root;
  c.dicom = root / "ph/dicom/ct";
  c.dicom_results = root / "an";
  c.nifti = root / "ct.nii.gz";
  c.nifti_results = root / "an-nifti";
  c.us_dicom = root / "us/dicom/us";
  c.us_labels = root / "us/truth";
  c.us_results = root / "us-an";
  return c;
}

}  // namespace

const ViewerCase& viewer_case() {
  namespace fs = std::filesystem;
  static std::optional<ViewerCase> cached;
  if (cached) return *cached;
  const fs::path binary = MUSCLECSA_BINARY;
  const auto stamp = fs::last_write_time(binary).time_since_epoch().count();
  const fs::path cache = binary.parent_path().parent_path() / "testing-cache";
  const fs::path root = cache / ("viewer-case-v2-" + std::to_string(stamp));
  if (!fs::exists(root / "complete")) {
    fs::create_directories(cache);
    std::error_code ec;
    for (const auto& old : fs::directory_iterator(cache, ec))  // cases of earlier builds
      if (old.path() != root && old.path().filename().string().rfind("viewer-case-", 0) == 0) fs::remove_all(old.path(), ec);
    const fs::path building = cache / ("building-" + std::to_string(::getpid()));
    fs::remove_all(building, ec);
    const ViewerCase fresh = paths_in(building);
    make_case(fresh);
    fs::rename(building, root, ec);
    if (ec) fs::remove_all(building, ec);  // another test made it first
    if (!fs::exists(root / "complete")) throw std::runtime_error(root.string() + ": the shared test case was not made");
  }
  ViewerCase c = paths_in(root);
  const auto results = nlohmann::json::parse(musclecsa::io::read_text(c.dicom_results / "results.json"));
  c.level_slice = results["levels"][0]["slice"];
  cached = c;
  return *cached;
}

/// The command prefix that preloads tools/x_connection_spy.cpp, logging the X connections of the
/// command to `log`.
std::string with_x_connection_spy(const std::filesystem::path& log) {
  return "MUSCLECSA_X_SPY_LOG=" + quoted(log) + " LD_PRELOAD=" + quoted(X_CONNECTION_SPY) + " ";
}

/// What is wrong with a spy log: empty when the process connected to the X server and, once its
/// first connection was open, always kept at least one open (it never left the server without a
/// connection and then connected again, which an Xvfb resetting after its last client refuses).
std::string x_connection_problem(const std::filesystem::path& log) {
  std::ifstream in(log);
  if (!in) return log.string() + ": no X connection was logged";
  int opened = 0, now_open = 0;
  bool left_without_connection = false;
  std::string event;
  int fd = 0;
  std::ostringstream events;
  while (in >> event >> fd) {
    events << event << " " << fd << "; ";
    if (event == "open") {
      if (left_without_connection) return "connected again after closing its last X connection: " + events.str();
      ++opened;
      ++now_open;
    } else if (event == "close" && --now_open == 0) {
      left_without_connection = true;
    }
  }
  if (opened == 0) return "no X connection was logged";
  return {};
}

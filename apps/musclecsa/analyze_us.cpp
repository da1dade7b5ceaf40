// musclecsa analyze on ultrasound.

#include "analyze.h"
#include "musclecsa/core/error.h"

namespace musclecsa::app {

void add_us_analyze_options(CLI::App& analyze, UsAnalyzeOptions& o) {
  analyze.add_option("--pixel-size-mm", o.pixel_size_mm, "pixel size of a picture without calibration (mm)");
}

int run_us_analysis(const AnalyzeOptions& o, LoadedInput& in, Progress& progress) {
  throw Error(ErrorCode::InvalidInput, o.input, "analyze handles CT so far; ultrasound analysis is not available in this version");
}

}  // namespace musclecsa::app

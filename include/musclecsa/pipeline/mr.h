#pragma once
// The MRI analysis of a case: a T1/T2-weighted axial series or a Dixon set (docs/mri.md).

#include <optional>
#include <string>

#include "musclecsa/pipeline/input.h"
#include "musclecsa/core/progress.h"

namespace musclecsa::pipeline {

struct AnalyzeOptions;

/// MRI-only options of `musclecsa analyze`.
struct MrAnalyzeOptions {
  std::string water;   ///< Dixon water series: a path, or a series id / list number within INPUT
  std::string fat;     ///< Dixon fat series: a path, or a series id / list number within INPUT
  bool no_n4 = false;  ///< T1/T2-weighted: skip N4 bias-field correction
};

/// Runs an MRI analysis that needs more than one series (a Dixon set, found in INPUT by Image Type
/// or description, or named by --water/--fat) before the input is loaded as a single series;
/// nullopt when the input is not such a case (a CT, a single weighted MR series, a research file).
std::optional<int> run_mr_analysis_before_loading(const AnalyzeOptions& o, Progress& progress);

/// Analyses a loaded single MR series (T1- or T2-weighted, DICOM or a NIfTI/NRRD/MetaImage file
/// given with --modality mr); a lone Dixon image is refused.
int run_mr_analysis(const AnalyzeOptions& o, LoadedInput& in, Progress& progress);

/// Refuses a --modality that contradicts the modality of DICOM (or picture) input: the option is
/// for NIfTI/NRRD/MetaImage input only.
void check_modality_option(const AnalyzeOptions& o, const LoadedInput& in);

/// Refuses an MRI protocol for a CT analysis: thigh-mr, calf-mr or an MR protocol file, named.
void refuse_mr_protocol_for_ct(const AnalyzeOptions& o);

}  // namespace musclecsa::pipeline

#pragma once
// The analysis of one case, as a library (issue 19): the options every modality shares, the entry
// that analyses whatever the input is (analyze_case), the CT analysis and its outputs (also used by
// the viewer to write corrected results: remeasure_ct, write_ct_outputs), and the MRI and
// ultrasound entries (mr.h, ultrasound.h). Front ends (the CLI, the viewer) parse their options
// into AnalyzeOptions and call these; no ITK, VTK, DCMTK or Qt here.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <iostream>

#include "musclecsa/pipeline/input.h"
#include "musclecsa/pipeline/mr.h"
#include "musclecsa/pipeline/ultrasound.h"
#include "musclecsa/core/measurement.h"
#include "musclecsa/core/progress.h"
#include "musclecsa/quantify/ct_measures.h"
#include "musclecsa/report/dicom_seg.h"
#include "musclecsa/segment/ct_tissue.h"
#include "musclecsa/segment/protocol.h"

namespace musclecsa::pipeline {

struct AnalyzeOptions {
  std::string input, out, protocol = "auto", series, modality, pseudonym_map;
  std::vector<std::string> formats;  ///< extra outputs: seg, sr, html
  bool include_patient_id = false;
  bool files_from = false;
  std::optional<double> level_z_mm, height_m;
  std::optional<int> level_slice;
  bool quiet = false;
  bool qc_every_slice = false;
  /// Leave-one-subject-out: atlases of these subjects are never used for this case (recorded in
  /// results.json "anatomy_prior").
  std::vector<std::string> atlas_exclude_subjects;
  /// --muscle-prior: "atlas" or "layout" replaces the protocol's muscles.prior ("" keeps it).
  std::string muscle_prior;
  UsAnalyzeOptions us;  ///< ultrasound-only options (ultrasound.h)
  MrAnalyzeOptions mr;  ///< MRI-only options (mr.h)
  /// Where the summary (level table, flags, notes, outputs) is printed unless `quiet`.
  std::ostream* console = &std::cout;
};

/// A CT analysed: the protocol used (and how it was chosen), the segmentation and its measurements.
struct CtAnalysis {
  segment::CtProtocol protocol;
  std::string protocol_decision;  ///< "auto: ..." when the protocol was chosen from the anatomy
  segment::TissueSegmentation segmentation;
  quantify::CtResults results;
};

/// Segments and measures a loaded CT (protocol from `o.protocol`, levels from `o.level_*`).
CtAnalysis analyze_ct(const AnalyzeOptions& o, const LoadedInput& in, Progress& progress);

/// Measures an existing CT segmentation again (e.g. after it was edited in the viewer).
CtAnalysis remeasure_ct(const AnalyzeOptions& o, const LoadedInput& in, segment::CtProtocol protocol,
                        segment::TissueSegmentation segmentation);

/// Writes a CT case into `o.out`: labels.nii.gz, labels.json, protocol.json, results.csv, QC
/// images, the requested SEG/SR/HTML and results.json (last: a folder holding it is a finished
/// case), then prints the level table unless `o.quiet`. Checks the privacy options against `in`.
void write_ct_outputs(const AnalyzeOptions& o, const LoadedInput& in, const CtAnalysis& analysis);

/// Analyses the case `o` names (o.input, or the Dixon pair of o.mr): loads it, checks the options
/// against it, runs the CT, MRI or ultrasound analysis its modality asks for and writes every output
/// into o.out (results.json last), printing the summary to *o.console unless o.quiet. Returns the
/// exit status: 0, or kExitNeedsReview when an ultrasound contour failed its plausibility check.
/// Throws musclecsa::Error for input it cannot analyse.
int analyze_case(const AnalyzeOptions& o, Progress& progress);

}  // namespace musclecsa::pipeline

#pragma once
// Ultrasound B-mode analysis of one muscle's cross-section: field of view, segmentation
// (automatic, assisted by user points, or a manual outline/mask), and measurements (ACSA,
// thickness, subcutaneous fat thickness, echo intensity raw and corrected, histogram,
// hyperechoic fraction, GLCM texture). Plain value types; OpenCV stays private to the module.
// Coordinates are pixels: x = column, y = row (depth), the centre of pixel (0,0) at (0,0).

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace musclecsa::ultrasound {

/// A point in pixel coordinates (x column, y row; pixel centres at integers).
struct Point2 {
  double x = 0, y = 0;
};

/// One 2-D B-mode frame: luminance 0-255, row-major, with its pixel size.
struct GreyImage {
  int width = 0, height = 0;
  std::vector<float> grey;         ///< width*height luminance values 0-255
  double pixel_width_mm = 1;       ///< column spacing (mm); nominal 1 when not calibrated
  double pixel_height_mm = 1;      ///< row spacing (mm); nominal 1 when not calibrated
  bool calibrated = false;         ///< false: lengths and areas in pixels only
  float at(int x, int y) const { return grey[std::size_t(x) + std::size_t(width) * std::size_t(y)]; }
};

/// A binary mask on an image's grid (1 = inside).
struct Mask {
  int width = 0, height = 0;
  std::vector<std::uint8_t> on;
  Mask() = default;
  Mask(int w, int h) : width(w), height(h), on(std::size_t(w) * std::size_t(h), 0) {}
  bool at(int x, int y) const { return on[std::size_t(x) + std::size_t(width) * std::size_t(y)] != 0; }
  std::size_t count() const;
};

/// What an automatic contour must satisfy before its measurements are reported (the plausibility
/// check, docs/ultrasound.md). Lengths in mm, areas in cm2; line and striation strengths are ridge
/// strengths as a fraction of the image's 98th percentile. A `*_source` says where a range comes from.
struct UsPlausibilityLimits {
  double thickness_min_mm = 5;          ///< plausible muscle thickness at the centre column (the maximum
  double thickness_max_mm = 45;         ///< is also capped by the imaged depth there)
  std::string thickness_source;
  bool check_area = true;               ///< false: the region's area is not a muscle's ACSA (quadriceps-us layer)
  double acsa_min_cm2 = 1;              ///< plausible ACSA of the whole muscle; the minimum applies only
  double acsa_max_cm2 = 60;             ///< when the muscle lies wholly inside the field of view
  std::string acsa_source;
  double line_strength = 0.35;          ///< over the belly, the median line strength just outside each boundary
  double line_search_mm = 2.0;          ///< how far outside a boundary its line is looked for
  double bottom_edge_fraction = 0.25;   ///< deep boundary on the field of view's bottom edge over at most this share of the belly
  double texture_below_ratio = 0;       ///< >0: the band 1-5 mm under the deep boundary at most this times as striated as the muscle
  double striated_ratio = 1.3;          ///< ... checked when the muscle is at least this times as striated as the image's median
  double thickness_agreement = 0.25;    ///< the independent thickness at the centre column within this fraction of the contour's
  double open_end_ratio = 0;            ///< >0: an end away from the image's edge at most this times the centre thickness
};

/// Analysis parameters of one ultrasound protocol (rf-us, vl-us, quadriceps-us, gastrocnemius-us).
struct UsProtocol {
  std::string name;                    ///< e.g. "rf-us"
  std::string structure_key;           ///< catalog key of the measured structure
  std::string description;
  double min_thickness_mm = 5;         ///< automatic: plausible muscle thickness range at any column
  double max_thickness_mm = 45;
  double min_width_mm = 15;            ///< automatic: narrowest acceptable muscle
  /// automatic: a ridge line at least this long (mm, traced across the columns) keeps its full
  /// strength when each column's strongest boundary candidates are chosen; shorter ones
  /// (intramuscular striations) are weighed down in proportion (to at most 1/4). 0: not used.
  double ridge_line_length_mm = 0;
  /// automatic: an end of the muscle where no end epimysium closes it is traced along the superficial
  /// and the deep aponeurosis to where they meet (a lens-shaped muscle in a panorama), instead of
  /// being cut straight.
  bool ends_at_aponeurosis_junction = false;
  bool layer_to_bone = false;          ///< automatic: the target is the muscle layer from the fascia to the bone surface
  double hyperechoic_threshold = 150;  ///< grey level (0-255) above which a muscle pixel counts as hyperechoic
  int glcm_levels = 32;                ///< GLCM grey levels (the 0-255 range divided evenly)
  int glcm_distance_px = 1;            ///< GLCM pixel offset
  /// Subcutaneous-fat correction of echo intensity: EI_corrected = EI_raw + SAT (cm) x coefficient.
  bool ei_correction = false;
  double ei_coefficient_per_cm = 0;
  std::string ei_source;               ///< the publication the coefficient comes from
  UsPlausibilityLimits plausibility;   ///< the automatic contour's plausibility check
  std::string to_json() const;         ///< canonical JSON of every field (written into results)
  std::string hash() const;            ///< 16 hex digits (FNV-1a of to_json())
};

/// The built-in protocols by name; throws Error(InvalidArgument, "--protocol", ...) for others.
UsProtocol builtin_us_protocol(const std::string& name);
/// "rf-us", "vl-us", "quadriceps-us", "gastrocnemius-us".
std::vector<std::string> us_protocol_names();

/// The imaged region: pixels of the sector/panoramic image, without border, text and overlays.
struct FieldOfView {
  Mask mask;
  int min_x = 0, min_y = 0, max_x = 0, max_y = 0;  ///< bounding box (pixels, inclusive)
  std::size_t overlay_pixels_removed = 0;          ///< coloured overlay pixels left out
  std::string method;                              ///< how it was found
};

/// Finds the imaged region: the largest connected non-black region after closing gaps, holes
/// filled, minus `overlay` (coloured annotations; may be null). When `region` (x0, y0, x1, y1
/// inclusive, e.g. a DICOM ultrasound region) is given, the result is limited to it.
/// Throws Error(InvalidInput, "image", ...) when no region of useful size is found.
FieldOfView detect_field_of_view(const GreyImage& image, const Mask* overlay = nullptr,
                                 const std::optional<std::array<int, 4>>& region = std::nullopt);

enum class SegmentationMethod { Automatic, Assisted, Manual };
std::string to_string(SegmentationMethod method);  ///< "automatic", "assisted", "manual"

/// The target muscle's cross-section.
struct UsSegmentation {
  SegmentationMethod method = SegmentationMethod::Automatic;
  Mask mask;                           ///< muscle pixels (inside the field of view)
  std::vector<Point2> contour;         ///< closed outline (pixels), first point not repeated
  std::vector<Point2> user_points;     ///< assisted: the points given
  std::string source;                  ///< manual: the file and its format; automatic/assisted: the steps
  std::vector<std::string> qc_flags, notes;
};

/// Automatic: bright fascia/aponeurosis ridges found along the depth direction (ridge filter on the
/// image flattened under the skin line), the target's superficial and deep boundaries traced across
/// columns by dynamic programming, closed at the muscle's ends, then snapped to the fascia's inner
/// edge by an active contour. `inside` (optional) are points the muscle must contain.
/// Throws Error(InvalidInput, "image", ...) when no muscle of plausible size is found.
UsSegmentation segment_automatic(const GreyImage& image, const FieldOfView& fov, const UsProtocol& protocol,
                                 const std::vector<Point2>& inside = {});

/// Assisted: with 3 or more points on (or near) the border, a smooth closed curve through them is
/// refined by an active contour that snaps to the fascia; with 1 or 2 points inside the muscle, the
/// automatic method is run with the muscle required to contain them.
UsSegmentation segment_assisted(const GreyImage& image, const FieldOfView& fov, const UsProtocol& protocol,
                                const std::vector<Point2>& points);

/// Manual: a polygon measured as given (pixels inside the polygon, by pixel centre).
UsSegmentation segment_manual(const GreyImage& image, const std::vector<Point2>& polygon, const std::string& source);
/// Manual: a mask measured as given.
UsSegmentation segment_manual(const GreyImage& image, const Mask& mask, const std::string& source);

/// Pixels whose centres lie inside the polygon (even-odd rule).
Mask rasterize_polygon(const std::vector<Point2>& polygon, int width, int height);
/// Outer boundary of the largest connected region of a mask, as a polygon.
std::vector<Point2> mask_outline(const Mask& mask);

/// "x,y;x,y;..." (pixels). Throws Error(InvalidArgument, "--points", ...) naming the bad item.
std::vector<Point2> parse_points(const std::string& text);
/// Points from a JSON file: [[x,y],...], {"points": [[x,y],...]} or [{"x":..,"y":..},...].
std::vector<Point2> read_points_file(const std::filesystem::path& path);

/// A user outline: a polygon, or a mask.
struct Outline {
  std::vector<Point2> polygon;
  std::optional<Mask> mask;
  std::string format;  ///< "json", "csv", "imagej-roi", "imagej-xy", "mask-image"
};
/// Reads an outline: JSON points (as read_points_file), CSV of x,y (header allowed), an ImageJ
/// ROI file (.roi: polygon, freehand, traced, rectangle, oval), ImageJ "XY coordinates" text
/// (.txt/.xy, tab-separated), or a mask picture (.png/.tif/.bmp: non-zero = muscle) of the image's
/// size. Throws Error(InputNotFound / InvalidInput, path, ...).
Outline read_outline(const std::filesystem::path& path, int image_width, int image_height);

/// Grey-level co-occurrence texture inside a mask (symmetric, normalised, averaged over angles).
struct GlcmFeatures {
  int levels = 32, distance_px = 1;
  std::vector<int> angles_deg;   ///< 0 = to the right, 90 = upwards
  std::size_t pairs = 0;         ///< pixel pairs counted (both pixels in the mask), all angles
  double contrast = 0, homogeneity = 0, energy = 0, entropy = 0, correlation = 0;
};
/// Grey g (0-255) falls in level floor(g * levels / 256). Energy is the angular second moment
/// (sum p^2); entropy in bits; homogeneity sum p / (1 + (i-j)^2).
GlcmFeatures glcm_features(const GreyImage& image, const Mask& mask, int levels, int distance_px,
                           const std::vector<int>& angles_deg = {0, 45, 90, 135});

/// What is measured on a segmentation. Lengths in mm (and in pixels); areas in mm2 (and pixels).
struct UsMeasures {
  std::size_t pixel_count = 0;
  double acsa_mm2 = 0;                 ///< pixel count x pixel area (pixels when uncalibrated)
  int centre_column = 0;               ///< the mask's mean column, rounded
  int muscle_top_row = 0, muscle_bottom_row = 0;
  double muscle_thickness_mm = 0;      ///< mask pixels in the centre column x pixel height
  double muscle_thickness_px = 0;
  bool sat_found = false;
  double skin_fat_row = 0, fascia_row = 0;  ///< sub-pixel rows of the skin/fat interface and the fascia's upper edge
  double sat_thickness_mm = 0;         ///< skin/fat interface to the deep fascia at the centre column
  double sat_thickness_px = 0;
  double echo_intensity = 0;           ///< mean grey inside the mask
  double echo_intensity_sd = 0;
  std::optional<double> echo_intensity_corrected;  ///< protocol's SAT correction (needs SAT and calibration)
  std::string ei_correction_note;      ///< why no corrected value, when there is none
  std::vector<std::uint64_t> histogram;  ///< 256 bins, integer grey (rounded) counts
  double hyperechoic_fraction = 0;     ///< fraction of mask pixels with grey > threshold
  GlcmFeatures glcm;
};

/// Measures a segmentation. Throws Error(InvalidInput, "segmentation", ...) for an empty mask.
UsMeasures measure(const GreyImage& image, const FieldOfView& fov, const UsSegmentation& segmentation,
                   const UsProtocol& protocol);

/// One rule of the plausibility check: what was measured against what is accepted.
struct PlausibilityRule {
  std::string name;      ///< "thickness", "area", "bounded_by_aponeuroses", "deep_boundary_texture", "independent_thickness", "imaged_depth"
  bool applied = true;   ///< false: not checked on this image (`reason` says why)
  bool passed = true;
  double value = 0;      ///< the measured value (unit below)
  double min = 0, max = 0;  ///< the accepted range
  std::string unit;      ///< "cm", "cm2", "1"
  std::string reason;    ///< failed: one line for the user; not applied: why
  std::string source;    ///< where the range comes from
};

/// The plausibility check of a segmentation (docs/ultrasound.md, "Plausibility check").
struct UsPlausibility {
  bool passed = true;                     ///< every applied rule passed
  std::vector<PlausibilityRule> rules;
  std::vector<std::string> reasons;       ///< the failed rules' reasons
};

/// Checks a segmentation against the protocol's plausibility limits: thickness and area in the
/// plausible range for the muscle (thickness also within the imaged depth), both boundaries on a
/// fascia or aponeurosis line over the muscle belly, the deep boundary not on the field of view's
/// bottom edge, and agreement with independent cues (the texture under the deep boundary ends;
/// a texture-based thickness at the centre column agrees with the contour's).
UsPlausibility check_plausibility(const GreyImage& image, const FieldOfView& fov, const UsSegmentation& segmentation,
                                  const UsMeasures& measures, const UsProtocol& protocol);

/// Reads the picture again in colour and returns its coloured pixels (saturation above a
/// threshold: overlays, markers, colour Doppler), or an empty mask for grey pictures.
Mask coloured_pixels(const std::filesystem::path& picture);

/// QC picture: the image, the field of view, the contour, the thickness and fat-thickness lines
/// and `text` (one line each) in a band above; `alert` lines (a contour that needs review) in a red
/// banner above that. Written atomically. Throws Error(OutputFailed, path, ...).
void write_qc_image(const GreyImage& image, const FieldOfView& fov, const UsSegmentation& segmentation,
                    const UsMeasures& measures, const std::vector<std::string>& text, const std::filesystem::path& png,
                    const std::vector<std::string>& alert = {});

/// The mask as an 8-bit PNG (255 inside, 0 outside). Written atomically.
void write_mask_png(const Mask& mask, const std::filesystem::path& png);

}  // namespace musclecsa::ultrasound

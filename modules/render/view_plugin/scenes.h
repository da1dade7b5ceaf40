#pragma once
// The VTK scenes shared by the viewer window and offscreen rendering: the axial slice (scan and
// label overlay composed by the model, radiological view) and the 3-D surfaces of muscles and
// bones with the standard level as a plane. Plain VTK, no Qt.

#include <vtkSmartPointer.h>

#include <map>
#include <string>
#include <vector>

#include "musclecsa/render/viewer.h"

class vtkActor;
class vtkImageActor;
class vtkImageData;
class vtkPolyData;
class vtkRenderer;
class vtkTextActor;

namespace musclecsa::render::view {

/// LPS z (mm) of slice k (direction and origin read inline: the plugin links no MuscleCSA code).
double slice_z_mm(const Geometry& g, int k);
/// The first slice to show: the first standard level found, else the middle slice.
int default_slice(const ViewerModel& model);
/// "%.2f" with a unit.
std::string format_value(double value, const std::string& unit);

class AxialScene {
 public:
  explicit AxialScene(ViewerModel& model);
  vtkRenderer* renderer() const { return renderer_; }
  int slice() const { return slice_; }
  void set_slice(int k);  ///< clamped to the scan
  SliceDisplay& display() { return display_; }
  /// Recomposes the slice from the model (after an edit, a slice change or a display change).
  void update();
  /// Fits the slice into the viewport (aspect = viewport width / height in pixels).
  void fit_camera(double viewport_aspect);
  /// Continuous voxel index (i, j) under a display position (VTK display pixels, origin bottom left).
  PixelPoint display_to_pixel(double x, double y) const;
  /// Display position of a continuous voxel index.
  void pixel_to_display(PixelPoint p, double& x, double& y) const;
  /// The polyline drawn over the slice (brush path preview or the contour being edited).
  void set_overlay_path(const std::vector<PixelPoint>& points, bool closed, Rgb colour, double width_px);
  void set_caption(const std::string& text);
  /// The brush outline (a circle of radius_mm around a voxel position); hidden when radius_mm <= 0.
  void set_brush_cursor(PixelPoint centre, double radius_mm, Rgb colour);

 private:
  ViewerModel& model_;
  int slice_ = 0;
  vtkSmartPointer<vtkPolyData> cursor_;
  vtkSmartPointer<vtkActor> cursor_actor_;
  SliceDisplay display_;
  vtkSmartPointer<vtkRenderer> renderer_;
  vtkSmartPointer<vtkImageData> image_;
  vtkSmartPointer<vtkImageActor> actor_;
  vtkSmartPointer<vtkPolyData> path_;
  vtkSmartPointer<vtkActor> path_actor_;
  vtkSmartPointer<vtkTextActor> caption_;
  std::vector<std::uint8_t> rgb_;
};

class SurfaceScene {
 public:
  explicit SurfaceScene(ViewerModel& model);
  vtkRenderer* renderer() const { return renderer_; }
  /// Brings the surfaces of muscles and bones (and the unassigned muscle tissue when no muscle
  /// was segmented) up to date with the model: all of them the first time, afterwards only the
  /// labels changed since, each from the box around its voxels.
  void update();
  /// Hides these labels' surfaces (no rebuild).
  void set_hidden(const std::vector<LabelId>& hidden);
  /// Shows the plane of slice k (the standard level); k < 0 hides it.
  void set_level_slice(int k);
  /// Looks at the legs from the front (patient right on the screen's left), turned a little.
  void reset_camera();
  std::size_t surface_count() const { return actors_.size(); }

 private:
  void rebuild(const std::vector<LabelId>& labels);
  void refresh_caption();

  ViewerModel& model_;
  vtkSmartPointer<vtkRenderer> renderer_;
  std::map<LabelId, vtkSmartPointer<vtkActor>> actors_;
  std::vector<LabelId> hidden_;
  vtkSmartPointer<vtkActor> plane_;
  vtkSmartPointer<vtkTextActor> caption_;
  bool built_ = false;
  bool unassigned_shown_ = false;
  std::uint64_t built_revision_ = 0;
};

}  // namespace musclecsa::render::view

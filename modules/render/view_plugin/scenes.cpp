#include "scenes.h"

#include <vtkActor.h>
#include <vtkCamera.h>
#include <vtkCellArray.h>
#include <vtkDiscreteFlyingEdges3D.h>
#include <vtkImageActor.h>
#include <vtkImageData.h>
#include <vtkImageMapper3D.h>
#include <vtkLookupTable.h>
#include <vtkPlaneSource.h>
#include <vtkPoints.h>
#include <vtkPolyData.h>
#include <vtkPolyDataMapper.h>
#include <vtkProperty.h>
#include <vtkRenderer.h>
#include <vtkTextActor.h>
#include <vtkTextProperty.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace musclecsa::render::view {

double slice_z_mm(const Geometry& g, int k) {
  // index_to_lps({0, 0, k}).z, written out: origin + k * spacing_k * axis(2).z (direction row 2, column 2).
  return g.origin_lps_mm.z + double(k) * g.spacing_mm[2] * g.direction[8];
}

int default_slice(const ViewerModel& model) {
  for (const auto& level : model.measurements().levels)
    if (level.slice >= 0 && std::size_t(level.slice) < model.volume().geometry.size[2]) return level.slice;
  return int(model.volume().geometry.size[2] / 2);
}

std::string format_value(double value, const std::string& unit) {
  char text[64];
  const char* shown = unit == "[hnsf'U]" ? "HU" : unit == "1" ? "" : unit.c_str();
  std::snprintf(text, sizeof text, "%.2f %s", value, shown);
  return text;
}

AxialScene::AxialScene(ViewerModel& model) : model_(model) {
  const Geometry& g = model.volume().geometry;
  renderer_ = vtkSmartPointer<vtkRenderer>::New();
  renderer_->SetBackground(0.05, 0.05, 0.07);
  image_ = vtkSmartPointer<vtkImageData>::New();
  image_->SetDimensions(int(g.size[0]), int(g.size[1]), 1);
  image_->SetSpacing(g.spacing_mm[0], g.spacing_mm[1], 1);
  image_->SetOrigin(0, 0, 0);
  image_->AllocateScalars(VTK_UNSIGNED_CHAR, 3);
  actor_ = vtkSmartPointer<vtkImageActor>::New();
  actor_->GetMapper()->SetInputData(image_);
  actor_->InterpolateOff();
  renderer_->AddActor(actor_);

  path_ = vtkSmartPointer<vtkPolyData>::New();
  auto path_mapper = vtkSmartPointer<vtkPolyDataMapper>::New();
  path_mapper->SetInputData(path_);
  path_actor_ = vtkSmartPointer<vtkActor>::New();
  path_actor_->SetMapper(path_mapper);
  path_actor_->GetProperty()->SetLighting(false);
  path_actor_->GetProperty()->SetRenderPointsAsSpheres(true);
  path_actor_->VisibilityOff();
  renderer_->AddActor(path_actor_);

  cursor_ = vtkSmartPointer<vtkPolyData>::New();
  auto cursor_mapper = vtkSmartPointer<vtkPolyDataMapper>::New();
  cursor_mapper->SetInputData(cursor_);
  cursor_actor_ = vtkSmartPointer<vtkActor>::New();
  cursor_actor_->SetMapper(cursor_mapper);
  cursor_actor_->GetProperty()->SetLighting(false);
  cursor_actor_->GetProperty()->SetLineWidth(1.5f);
  cursor_actor_->VisibilityOff();
  renderer_->AddActor(cursor_actor_);

  caption_ = vtkSmartPointer<vtkTextActor>::New();
  caption_->GetTextProperty()->SetFontSize(14);
  caption_->GetTextProperty()->SetColor(1.0, 1.0, 0.7);
  caption_->GetPositionCoordinate()->SetCoordinateSystemToNormalizedViewport();
  caption_->GetPositionCoordinate()->SetValue(0.01, 0.01);
  renderer_->AddViewProp(caption_);

  display_.window = model.window_level(model.initial_preset());
  slice_ = default_slice(model);
}

void AxialScene::set_slice(int k) {
  slice_ = std::clamp(k, 0, int(model_.volume().geometry.size[2]) - 1);
}

void AxialScene::update() {
  const Geometry& g = model_.volume().geometry;
  model_.compose_slice_rgb(slice_, display_, rgb_);
  std::memcpy(image_->GetScalarPointer(), rgb_.data(), rgb_.size());
  image_->Modified();
  char text[160];
  std::snprintf(text, sizeof text, "slice %d / %d   z %.1f mm", slice_, int(g.size[2]) - 1, slice_z_mm(g, slice_));
  std::string caption = text;
  for (const auto& level : model_.measurements().levels)
    if (level.slice == slice_) caption += "   standard level " + level.name + " (" + level.side + ")";
  set_caption(caption);
}

void AxialScene::set_caption(const std::string& text) { caption_->SetInput(text.c_str()); }

void AxialScene::fit_camera(double aspect) {
  const Geometry& g = model_.volume().geometry;
  const double w = double(g.size[0]) * g.spacing_mm[0], h = double(g.size[1]) * g.spacing_mm[1];
  const double cx = double(g.size[0] - 1) * g.spacing_mm[0] / 2, cy = double(g.size[1] - 1) * g.spacing_mm[1] / 2;
  vtkCamera* camera = renderer_->GetActiveCamera();
  camera->ParallelProjectionOn();
  camera->SetFocalPoint(cx, cy, 0);
  camera->SetPosition(cx, cy, 1000);
  camera->SetViewUp(0, 1, 0);
  camera->SetParallelScale(std::max(h / 2, w / (2 * std::max(aspect, 1e-6))));
  renderer_->ResetCameraClippingRange();
}

PixelPoint AxialScene::display_to_pixel(double x, double y) const {
  const Geometry& g = model_.volume().geometry;
  renderer_->SetDisplayPoint(x, y, 0);
  renderer_->DisplayToWorld();
  double world[4];
  renderer_->GetWorldPoint(world);
  if (world[3] != 0) world[0] /= world[3], world[1] /= world[3];
  return {world[0] / g.spacing_mm[0], double(g.size[1] - 1) - world[1] / g.spacing_mm[1]};
}

void AxialScene::pixel_to_display(PixelPoint p, double& x, double& y) const {
  const Geometry& g = model_.volume().geometry;
  renderer_->SetWorldPoint(p.i * g.spacing_mm[0], (double(g.size[1] - 1) - p.j) * g.spacing_mm[1], 0, 1);
  renderer_->WorldToDisplay();
  double display[3];
  renderer_->GetDisplayPoint(display);
  x = display[0], y = display[1];
}

void AxialScene::set_overlay_path(const std::vector<PixelPoint>& points, bool closed, Rgb colour, double width_px) {
  const Geometry& g = model_.volume().geometry;
  auto vtk_points = vtkSmartPointer<vtkPoints>::New();
  auto lines = vtkSmartPointer<vtkCellArray>::New();
  auto vertices = vtkSmartPointer<vtkCellArray>::New();
  for (const auto& p : points) {
    const vtkIdType id = vtk_points->InsertNextPoint(p.i * g.spacing_mm[0], (double(g.size[1] - 1) - p.j) * g.spacing_mm[1], 0.5);
    vertices->InsertNextCell(1, &id);
  }
  if (points.size() >= 2) {
    lines->InsertNextCell(vtkIdType(points.size() + (closed ? 1 : 0)));
    for (std::size_t n = 0; n < points.size(); ++n) lines->InsertCellPoint(vtkIdType(n));
    if (closed) lines->InsertCellPoint(0);
  }
  path_->Initialize();
  path_->SetPoints(vtk_points);
  path_->SetLines(lines);
  path_->SetVerts(vertices);
  path_->Modified();
  path_actor_->GetProperty()->SetColor(colour.r / 255.0, colour.g / 255.0, colour.b / 255.0);
  path_actor_->GetProperty()->SetLineWidth(float(width_px));
  path_actor_->GetProperty()->SetPointSize(float(std::max(width_px, 2.0) + 4));
  path_actor_->SetVisibility(!points.empty());
}

void AxialScene::set_brush_cursor(PixelPoint centre, double radius_mm, Rgb colour) {
  if (!(radius_mm > 0)) {
    cursor_actor_->VisibilityOff();
    return;
  }
  const Geometry& g = model_.volume().geometry;
  const double cx = centre.i * g.spacing_mm[0], cy = (double(g.size[1] - 1) - centre.j) * g.spacing_mm[1];
  auto points = vtkSmartPointer<vtkPoints>::New();
  auto lines = vtkSmartPointer<vtkCellArray>::New();
  const int n = 64;
  lines->InsertNextCell(n + 1);
  for (int m = 0; m <= n; ++m) {
    const double t = 2 * 3.14159265358979323846 * m / n;
    lines->InsertCellPoint(points->InsertNextPoint(cx + radius_mm * std::cos(t), cy + radius_mm * std::sin(t), 0.6));
  }
  cursor_->Initialize();
  cursor_->SetPoints(points);
  cursor_->SetLines(lines);
  cursor_->Modified();
  cursor_actor_->GetProperty()->SetColor(colour.r / 255.0, colour.g / 255.0, colour.b / 255.0);
  cursor_actor_->VisibilityOn();
}

SurfaceScene::SurfaceScene(ViewerModel& model) : model_(model) {
  renderer_ = vtkSmartPointer<vtkRenderer>::New();
  renderer_->SetBackground(0.12, 0.12, 0.16);
  surfaces_ = vtkSmartPointer<vtkActor>::New();
  renderer_->AddActor(surfaces_);
  plane_ = vtkSmartPointer<vtkActor>::New();
  plane_->GetProperty()->SetColor(0.3, 0.9, 1.0);
  plane_->GetProperty()->SetOpacity(0.35);
  plane_->GetProperty()->SetLighting(false);
  plane_->VisibilityOff();
  renderer_->AddActor(plane_);
  caption_ = vtkSmartPointer<vtkTextActor>::New();
  caption_->GetTextProperty()->SetFontSize(14);
  caption_->GetTextProperty()->SetColor(1.0, 1.0, 0.7);
  caption_->GetPositionCoordinate()->SetCoordinateSystemToNormalizedViewport();
  caption_->GetPositionCoordinate()->SetValue(0.01, 0.01);
  renderer_->AddViewProp(caption_);
}

void SurfaceScene::rebuild(const std::vector<LabelId>& hidden) {
  const Geometry& g = model_.volume().geometry;
  // Muscles and bones; the unassigned muscle tissue (the fascia layer) only when no muscle was
  // segmented, since it wraps the muscles and would hide them.
  bool muscles = false;
  for (const auto& e : model_.entries()) muscles = muscles || (e.is_muscle && model_.present(e.label));
  std::vector<LabelId> values;
  for (const auto& e : model_.entries())
    if ((e.is_muscle || (e.is_bone && e.key != "bone_marrow") || (!muscles && e.key == "skeletal_muscle")) && model_.present(e.label) &&
        std::find(hidden.begin(), hidden.end(), e.label) == hidden.end())
      values.push_back(e.label);
  surface_count_ = 0;
  if (g.size[2] < 2 || values.empty()) {
    surfaces_->VisibilityOff();
    caption_->SetInput(g.size[2] < 2 ? "2-D image: no 3-D view" : "3-D: no muscle or bone labels to show");
    return;
  }
  auto labels = vtkSmartPointer<vtkImageData>::New();
  labels->SetDimensions(int(g.size[0]), int(g.size[1]), int(g.size[2]));
  labels->SetSpacing(g.spacing_mm[0], g.spacing_mm[1], g.spacing_mm[2]);
  labels->SetOrigin(0, 0, 0);
  labels->AllocateScalars(VTK_UNSIGNED_SHORT, 1);
  std::memcpy(labels->GetScalarPointer(), model_.labels().voxels.data(), model_.labels().voxels.size() * sizeof(LabelId));
  auto surfaces = vtkSmartPointer<vtkDiscreteFlyingEdges3D>::New();
  surfaces->SetInputData(labels);
  for (std::size_t n = 0; n < values.size(); ++n) surfaces->SetValue(int(n), values[n]);
  surfaces->ComputeScalarsOn();
  surfaces->ComputeNormalsOff();  // its gradient normals point either way on label boundaries; the mapper shades faces
  surfaces->Update();
  auto output = vtkSmartPointer<vtkPolyData>::New();
  output->DeepCopy(surfaces->GetOutput());
  const LabelId max_label = *std::max_element(values.begin(), values.end());
  auto colours = vtkSmartPointer<vtkLookupTable>::New();
  colours->SetNumberOfTableValues(max_label + 1);
  colours->SetTableRange(0, max_label);
  for (int n = 0; n <= max_label; ++n) colours->SetTableValue(n, 0.5, 0.5, 0.5, 1);
  for (LabelId v : values) {
    const LabelEntry* e = model_.entry(v);
    if (e) colours->SetTableValue(v, e->colour.r / 255.0, e->colour.g / 255.0, e->colour.b / 255.0, 1);
  }
  auto mapper = vtkSmartPointer<vtkPolyDataMapper>::New();
  mapper->SetInputData(output);
  mapper->SetLookupTable(colours);
  mapper->SetScalarRange(0, max_label);
  mapper->SetScalarModeToUsePointData();
  mapper->ScalarVisibilityOn();
  surfaces_->SetMapper(mapper);
  surfaces_->VisibilityOn();
  surface_count_ = values.size();
  caption_->SetInput(("3-D: " + std::to_string(values.size()) + " muscle and bone labels; plane: the standard level").c_str());
}

void SurfaceScene::set_level_slice(int k) {
  const Geometry& g = model_.volume().geometry;
  if (k < 0 || std::size_t(k) >= g.size[2] || g.size[2] < 2) {
    plane_->VisibilityOff();
    return;
  }
  const double x1 = double(g.size[0] - 1) * g.spacing_mm[0], y1 = double(g.size[1] - 1) * g.spacing_mm[1];
  const double z = double(k) * g.spacing_mm[2];
  auto plane = vtkSmartPointer<vtkPlaneSource>::New();
  plane->SetOrigin(0, 0, z);
  plane->SetPoint1(x1, 0, z);
  plane->SetPoint2(0, y1, z);
  plane->Update();
  auto mapper = vtkSmartPointer<vtkPolyDataMapper>::New();
  mapper->SetInputConnection(plane->GetOutputPort());
  plane_->SetMapper(mapper);
  plane_->VisibilityOn();
}

void SurfaceScene::reset_camera() {
  const Geometry& g = model_.volume().geometry;
  const double cx = double(g.size[0] - 1) * g.spacing_mm[0] / 2, cy = double(g.size[1] - 1) * g.spacing_mm[1] / 2;
  const double cz = double(g.size[2] - 1) * g.spacing_mm[2] / 2;
  vtkCamera* camera = renderer_->GetActiveCamera();
  camera->ParallelProjectionOff();
  camera->SetFocalPoint(cx, cy, cz);
  camera->SetPosition(cx, cy - 1000, cz);  // in front of the patient (anterior is -y in LPS)
  camera->SetViewUp(0, 0, g.direction[8] >= 0 ? 1 : -1);
  camera->Azimuth(-25);
  camera->Elevation(20);
  camera->OrthogonalizeViewUp();
  renderer_->ResetCamera();
  camera->Zoom(1.3);
  renderer_->ResetCameraClippingRange();
}

}  // namespace musclecsa::render::view

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
#include <cstdint>
#include <map>
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

void SurfaceScene::update() {
  if (model_.volume().geometry.size[2] < 2) {
    caption_->SetInput("2-D image: no 3-D view");
    built_ = true;
    return;
  }
  // The unassigned muscle tissue (the fascia layer) wraps the muscles and would hide them: shown
  // only when no muscle was segmented.
  bool muscles = false;
  for (const auto& e : model_.entries()) muscles = muscles || (e.is_muscle && model_.present(e.label));
  std::vector<LabelId> labels;
  if (!built_ || muscles == unassigned_shown_) {
    for (const auto& [label, actor] : actors_) renderer_->RemoveActor(actor);
    actors_.clear();
    for (const auto& e : model_.entries()) labels.push_back(e.label);
  } else {
    labels = model_.labels_changed_since(built_revision_);
  }
  unassigned_shown_ = !muscles;
  built_ = true;
  built_revision_ = model_.revision();
  rebuild(labels);
  refresh_caption();
}

void SurfaceScene::rebuild(const std::vector<LabelId>& candidates) {
  const Geometry& g = model_.volume().geometry;
  std::vector<char> wanted(65536, 0);
  for (LabelId label : candidates) {
    const LabelEntry* e = model_.entry(label);
    if (e && (e->is_muscle || (e->is_bone && e->key != "bone_marrow") || (unassigned_shown_ && e->key == "skeletal_muscle")))
      wanted[label] = 1;
    if (auto it = actors_.find(label); it != actors_.end()) renderer_->RemoveActor(it->second), actors_.erase(it);
  }
  // The box around each wanted label's voxels, in one pass.
  struct Box {
    std::size_t lo[3] = {SIZE_MAX, SIZE_MAX, SIZE_MAX}, hi[3] = {0, 0, 0};
  };
  std::map<LabelId, Box> boxes;
  const LabelId* l = model_.labels().voxels.data();
  for (std::size_t k = 0, o = 0; k < g.size[2]; ++k)
    for (std::size_t j = 0; j < g.size[1]; ++j)
      for (std::size_t i = 0; i < g.size[0]; ++i, ++o) {
        if (!wanted[l[o]]) continue;
        Box& b = boxes[l[o]];
        const std::size_t at[3] = {i, j, k};
        for (int n = 0; n < 3; ++n) b.lo[n] = std::min(b.lo[n], at[n]), b.hi[n] = std::max(b.hi[n], at[n]);
      }
  for (const auto& [label, box] : boxes) {
    // The label as 0/1 in its box, one voxel of background around it so its surface closes.
    const int x0 = int(box.lo[0]) - 1, x1 = int(box.hi[0]) + 1, y0 = int(box.lo[1]) - 1, y1 = int(box.hi[1]) + 1;
    const int z0 = int(box.lo[2]) - 1, z1 = int(box.hi[2]) + 1;
    auto mask = vtkSmartPointer<vtkImageData>::New();
    mask->SetExtent(x0, x1, y0, y1, z0, z1);
    mask->SetSpacing(g.spacing_mm[0], g.spacing_mm[1], g.spacing_mm[2]);
    mask->SetOrigin(0, 0, 0);
    mask->AllocateScalars(VTK_UNSIGNED_CHAR, 1);
    auto* out = static_cast<unsigned char*>(mask->GetScalarPointer());
    std::fill(out, out + std::size_t(x1 - x0 + 1) * std::size_t(y1 - y0 + 1) * std::size_t(z1 - z0 + 1), 0);
    for (std::size_t k = box.lo[2]; k <= box.hi[2]; ++k)
      for (std::size_t j = box.lo[1]; j <= box.hi[1]; ++j) {
        const LabelId* row = model_.labels().voxels.data() + g.offset(0, j, k);
        unsigned char* target = static_cast<unsigned char*>(mask->GetScalarPointer(x0, int(j), int(k)));
        for (std::size_t i = box.lo[0]; i <= box.hi[0]; ++i) target[long(i) - x0] = row[i] == label;
      }
    auto surface = vtkSmartPointer<vtkDiscreteFlyingEdges3D>::New();
    surface->SetInputData(mask);
    surface->SetValue(0, 1);
    surface->ComputeNormalsOff();  // the mapper shades the faces
    surface->ComputeScalarsOff();
    surface->Update();
    auto polygons = vtkSmartPointer<vtkPolyData>::New();
    polygons->ShallowCopy(surface->GetOutput());
    auto mapper = vtkSmartPointer<vtkPolyDataMapper>::New();
    mapper->SetInputData(polygons);
    mapper->ScalarVisibilityOff();
    auto actor = vtkSmartPointer<vtkActor>::New();
    actor->SetMapper(mapper);
    const LabelEntry* e = model_.entry(label);
    actor->GetProperty()->SetColor(e->colour.r / 255.0, e->colour.g / 255.0, e->colour.b / 255.0);
    actor->SetVisibility(std::find(hidden_.begin(), hidden_.end(), label) == hidden_.end());
    renderer_->AddActor(actor);
    actors_[label] = actor;
  }
}

void SurfaceScene::set_hidden(const std::vector<LabelId>& hidden) {
  hidden_ = hidden;
  for (const auto& [label, actor] : actors_) actor->SetVisibility(std::find(hidden_.begin(), hidden_.end(), label) == hidden_.end());
  refresh_caption();
}

void SurfaceScene::refresh_caption() {
  std::size_t shown = 0;
  for (const auto& [label, actor] : actors_) shown += actor->GetVisibility() != 0;
  caption_->SetInput(shown == 0 ? "3-D: no muscle or bone labels to show"
                                : ("3-D: " + std::to_string(shown) + " muscle and bone labels; plane: the standard level").c_str());
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

// User input for assisted and manual segmentation: points, outlines (JSON, CSV, ImageJ ROI and XY
// coordinates) and mask pictures.

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <fstream>
#include <numbers>
#include <sstream>

#include <nlohmann/json.hpp>

#include "musclecsa/core/error.h"
#include "musclecsa/io/image_io.h"
#include "musclecsa/io/text_file.h"
#include "musclecsa/ultrasound/us_analysis.h"

namespace musclecsa::ultrasound {

namespace {

bool parse_number(const std::string& text, double& value) {
  std::string t = text;
  t.erase(0, t.find_first_not_of(" \t\r\""));
  t.erase(t.find_last_not_of(" \t\r\"") + 1);
  if (t.empty()) return false;
  char* end = nullptr;
  value = std::strtod(t.c_str(), &end);
  return end != nullptr && *end == '\0' && std::isfinite(value);
}

std::string lower_extension(const std::filesystem::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return ext;
}

std::vector<Point2> points_from_json(const nlohmann::json& j, const std::string& where) {
  const nlohmann::json& list = j.is_object() && j.contains("points") ? j["points"] : j;
  if (!list.is_array()) throw Error(ErrorCode::InvalidInput, where, "expected [[x,y],...], {\"points\": [[x,y],...]} or [{\"x\":..,\"y\":..},...]");
  std::vector<Point2> out;
  for (std::size_t n = 0; n < list.size(); ++n) {
    const auto& p = list[n];
    if (p.is_array() && p.size() == 2 && p[0].is_number() && p[1].is_number()) {
      out.push_back({p[0].get<double>(), p[1].get<double>()});
    } else if (p.is_object() && p.contains("x") && p.contains("y") && p["x"].is_number() && p["y"].is_number()) {
      out.push_back({p["x"].get<double>(), p["y"].get<double>()});
    } else {
      throw Error(ErrorCode::InvalidInput, where, "point " + std::to_string(n + 1) + " is not [x, y] or {\"x\": .., \"y\": ..}");
    }
  }
  return out;
}

int be16(const std::string& b, std::size_t at) {
  return static_cast<std::int16_t>((static_cast<unsigned char>(b[at]) << 8) | static_cast<unsigned char>(b[at + 1]));
}

float be_float(const std::string& b, std::size_t at) {
  const std::uint32_t u = (std::uint32_t(static_cast<unsigned char>(b[at])) << 24) | (std::uint32_t(static_cast<unsigned char>(b[at + 1])) << 16) |
                          (std::uint32_t(static_cast<unsigned char>(b[at + 2])) << 8) | std::uint32_t(static_cast<unsigned char>(b[at + 3]));
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

/// ImageJ .roi (binary, big-endian; ImageJ's RoiDecoder): polygon, rectangle, oval, freehand,
/// traced. ImageJ coordinates are pixel corners; ours are pixel centres (minus 0.5).
std::vector<Point2> read_imagej_roi(const std::filesystem::path& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(ErrorCode::InputNotFound, path.string(), "cannot open");
  const std::string b((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (b.size() < 64 || b.compare(0, 4, "Iout") != 0) throw Error(ErrorCode::InvalidInput, path.string(), "not an ImageJ ROI file (no 'Iout' header)");
  const int type = static_cast<unsigned char>(b[6]);
  const int top = be16(b, 8), left = be16(b, 10), bottom = be16(b, 12), right = be16(b, 14);
  const int n = static_cast<std::uint16_t>(be16(b, 16));
  const int options = be16(b, 50);
  std::vector<Point2> out;
  if (type == 1) {  // rectangle
    out = {{left - 0.5, top - 0.5}, {right - 0.5, top - 0.5}, {right - 0.5, bottom - 0.5}, {left - 0.5, bottom - 0.5}};
    return out;
  }
  if (type == 2) {  // oval inscribed in the bounds
    const double cx = 0.5 * (left + right) - 0.5, cy = 0.5 * (top + bottom) - 0.5, rx = 0.5 * (right - left), ry = 0.5 * (bottom - top);
    for (int k = 0; k < 360; ++k) {
      const double t = 2 * std::numbers::pi * k / 360;
      out.push_back({cx + rx * std::cos(t), cy + ry * std::sin(t)});
    }
    return out;
  }
  if (type != 0 && type != 7 && type != 8)
    throw Error(ErrorCode::InvalidInput, path.string(),
                "ImageJ ROI type " + std::to_string(type) + " is not an area (use a polygon, freehand, traced, rectangle or oval selection)");
  const bool sub_pixel = (options & 128) != 0;
  const std::size_t need = 64 + std::size_t(n) * 4 + (sub_pixel ? std::size_t(n) * 8 : 0);
  if (n < 3 || b.size() < need) throw Error(ErrorCode::InvalidInput, path.string(), "ImageJ ROI is truncated or has fewer than 3 points");
  for (int k = 0; k < n; ++k) {
    if (sub_pixel) {
      out.push_back({be_float(b, 64 + 4 * std::size_t(n) + 4 * std::size_t(k)) - 0.5,
                     be_float(b, 64 + 8 * std::size_t(n) + 4 * std::size_t(k)) - 0.5});
    } else {
      out.push_back({left + be16(b, 64 + 2 * std::size_t(k)) - 0.5, top + be16(b, 64 + 2 * std::size_t(n) + 2 * std::size_t(k)) - 0.5});
    }
  }
  return out;
}

/// Rows of two numbers separated by a comma, semicolon, tab or spaces; a first non-numeric line is a header.
std::vector<Point2> read_xy_text(const std::filesystem::path& path, double shift) {
  std::istringstream lines(io::read_text(path));
  std::string line;
  std::vector<Point2> out;
  int number = 0;
  while (std::getline(lines, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    std::replace_if(line.begin(), line.end(), [](char c) { return c == ',' || c == ';' || c == '\t'; }, ' ');
    std::istringstream fields(line);
    std::vector<std::string> items;
    std::string item;
    while (fields >> item) items.push_back(item);
    double x = 0, y = 0;
    // ImageJ's XY export may carry a leading index column: take the last two numbers.
    const bool ok = items.size() >= 2 && parse_number(items[items.size() - 2], x) && parse_number(items.back(), y);
    if (!ok) {
      if (out.empty() && number == 1) continue;  // header
      throw Error(ErrorCode::InvalidInput, path.string(), "line " + std::to_string(number) + " is not 'x,y'");
    }
    out.push_back({x + shift, y + shift});
  }
  return out;
}

}  // namespace

std::vector<Point2> parse_points(const std::string& text) {
  std::vector<Point2> out;
  std::istringstream items(text);
  std::string item;
  int n = 0;
  while (std::getline(items, item, ';')) {
    ++n;
    if (item.find_first_not_of(" \t") == std::string::npos) continue;
    const auto comma = item.find(',');
    double x = 0, y = 0;
    if (comma == std::string::npos || !parse_number(item.substr(0, comma), x) || !parse_number(item.substr(comma + 1), y))
      throw Error(ErrorCode::InvalidArgument, "--points", "item " + std::to_string(n) + " ('" + item + "') is not 'x,y' in pixels");
    out.push_back({x, y});
  }
  if (out.empty()) throw Error(ErrorCode::InvalidArgument, "--points", "no point given; write \"x,y;x,y;...\" in pixels");
  return out;
}

std::vector<Point2> read_points_file(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path)) throw Error(ErrorCode::InputNotFound, path.string(), "no such file");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(io::read_text(path));
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::InvalidInput, path.string(), std::string("not valid JSON: ") + e.what());
  }
  auto points = points_from_json(j, path.string());
  if (points.empty()) throw Error(ErrorCode::InvalidInput, path.string(), "holds no point");
  return points;
}

Outline read_outline(const std::filesystem::path& path, int image_width, int image_height) {
  if (!std::filesystem::exists(path)) throw Error(ErrorCode::InputNotFound, path.string(), "no such file");
  const std::string ext = lower_extension(path);
  Outline o;
  if (ext == ".json") {
    o.polygon = read_points_file(path);
    o.format = "json";
  } else if (ext == ".csv") {
    o.polygon = read_xy_text(path, 0.0);
    o.format = "csv";
  } else if (ext == ".roi") {
    o.polygon = read_imagej_roi(path);
    o.format = "imagej-roi";
  } else if (ext == ".txt" || ext == ".xy") {
    o.polygon = read_xy_text(path, -0.5);
    o.format = "imagej-xy";
  } else if (ext == ".png" || ext == ".tif" || ext == ".tiff" || ext == ".bmp") {
    // Any pixel that is not black is inside (a 0/255 mask, or a coloured drawing on black).
    const io::BitmapImage m = io::read_bitmap(path, std::nullopt);  // names the file when unreadable
    const int width = int(m.image.geometry.size[0]), height = int(m.image.geometry.size[1]);
    if (width != image_width || height != image_height)
      throw Error(ErrorCode::InvalidInput, path.string(),
                  "the mask is " + std::to_string(width) + "x" + std::to_string(height) + " pixels, the image " +
                      std::to_string(image_width) + "x" + std::to_string(image_height));
    Mask mask(image_width, image_height);
    for (std::size_t n = 0; n < mask.on.size(); ++n) mask.on[n] = m.image.voxels[n] != 0;
    o.mask = std::move(mask);
    o.format = "mask-image";
    return o;
  } else {
    throw Error(ErrorCode::InvalidArgument, path.string(),
                "unknown outline format; use .json, .csv, ImageJ .roi or XY .txt, or a mask .png/.tif/.bmp");
  }
  if (o.polygon.size() < 3) throw Error(ErrorCode::InvalidInput, path.string(), "an outline needs at least 3 points");
  return o;
}

}  // namespace musclecsa::ultrasound

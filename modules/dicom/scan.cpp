// Walking files and folders for DICOM images; DICOMDIR files are followed.

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>

#include <algorithm>
#include <atomic>
#include <optional>
#include <thread>
#include <set>

#include "dcmtk_util.h"
#include "musclecsa/core/error.h"
#include "musclecsa/dicom/file_info.h"

namespace musclecsa::dicom {
namespace {

bool is_dicomdir(const std::filesystem::path& path) { return path.filename() == "DICOMDIR"; }

/// Files referenced by a DICOMDIR (paths resolved against its folder). Throws Error(InvalidInput).
std::vector<std::filesystem::path> dicomdir_references(const std::filesystem::path& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  DcmFileFormat file;
  if (ec || load_dicom_file(file, path, size).bad())
    throw Error(ErrorCode::InvalidInput, path.string(), "DICOMDIR cannot be read (truncated or corrupt)");
  DcmSequenceOfItems* records = nullptr;
  if (file.getDataset()->findAndGetSequence(DCM_DirectoryRecordSequence, records).bad() || records == nullptr)
    throw Error(ErrorCode::InvalidInput, path.string(), "DICOMDIR without a Directory Record Sequence");
  std::vector<std::filesystem::path> out;
  for (unsigned long n = 0; n < records->card(); ++n) {
    OFString id;
    if (records->getItem(n)->findAndGetOFStringArray(DCM_ReferencedFileID, id).bad() || id.empty()) continue;
    std::filesystem::path rel;
    std::string part;
    for (char c : std::string(id.c_str())) {
      if (c == '\\') {
        rel /= part;
        part.clear();
      } else {
        part += c;
      }
    }
    if (!part.empty()) rel /= part;
    out.push_back(path.parent_path() / rel);
  }
  return out;
}

}  // namespace

ScanResult scan_paths(const std::vector<std::filesystem::path>& paths, Progress& progress) {
  ScanResult result;
  std::vector<std::filesystem::path> candidates;
  std::vector<std::filesystem::path> dicomdirs;
  for (const auto& root : paths) {
    std::error_code ec;
    const auto link = std::filesystem::symlink_status(root, ec);
    if (ec || !std::filesystem::exists(link)) {
      result.problems.push_back({root, "not found: no such file or folder", false});
      continue;
    }
    if (std::filesystem::is_directory(root, ec)) {
      std::size_t files_here = 0;
      std::set<std::filesystem::path> folders_with_files;
      std::vector<std::filesystem::path> folders;
      // Folder links are followed (archives often link series folders); each real folder is
      // walked once, so link loops end.
      auto it = std::filesystem::recursive_directory_iterator(
          root,
          std::filesystem::directory_options::skip_permission_denied |
              std::filesystem::directory_options::follow_directory_symlink,
          ec);
      if (ec) {
        result.problems.push_back({root, "cannot read folder: " + ec.message(), false});
        continue;
      }
      std::set<std::filesystem::path> walked{std::filesystem::weakly_canonical(root, ec)};
      for (; it != std::filesystem::recursive_directory_iterator();) {
        const std::filesystem::directory_entry entry = *it;
        // The increment happens at the end of the body; its error names the entry just read.
        struct Advance {
          std::filesystem::recursive_directory_iterator& it;
          const std::filesystem::directory_entry& entry;
          std::vector<ScanProblem>& problems;
          ~Advance() {
            std::error_code step;
            it.increment(step);
            if (step) {  // the iterator is now at its end: report where the walk stopped
              problems.push_back({entry.path(), "cannot read further in this folder: " + step.message(), false});
              it = std::filesystem::recursive_directory_iterator();
            }
          }
        } advance{it, entry, result.problems};
        std::error_code entry_ec;
        if (entry.is_directory(entry_ec)) {
          if (!walked.insert(std::filesystem::weakly_canonical(entry.path(), entry_ec)).second) {
            it.disable_recursion_pending();  // a link back to a folder already walked
            continue;
          }
          folders.push_back(entry.path());
          continue;
        }
        ++files_here;
        for (auto parent = entry.path().parent_path(); parent.string().size() >= root.string().size();
             parent = parent.parent_path()) {
          if (!folders_with_files.insert(parent).second) break;
          if (parent == root || !parent.has_parent_path()) break;
        }
        if (entry.is_symlink(entry_ec) && !std::filesystem::exists(entry.path(), entry_ec)) {
          result.problems.push_back({entry.path(), "broken link: its target is not found", false});
          continue;
        }
        if (is_dicomdir(entry.path())) dicomdirs.push_back(entry.path());
        else candidates.push_back(entry.path());
      }
      if (files_here == 0) result.problems.push_back({root, "empty folder: no files", false});
      for (const auto& folder : folders)
        if (!folders_with_files.count(folder)) result.problems.push_back({folder, "empty folder: no files", false});
    } else {
      if (!std::filesystem::exists(root, ec)) {
        result.problems.push_back({root, "broken link: its target is not found", false});
        continue;
      }
      if (is_dicomdir(root)) dicomdirs.push_back(root);
      else candidates.push_back(root);
    }
  }

  // DICOMDIR: add the referenced files; report missing ones.
  std::set<std::filesystem::path> known;
  for (const auto& c : candidates) known.insert(std::filesystem::weakly_canonical(c));
  for (const auto& dir : dicomdirs) {
    ++result.dicomdir_files;
    try {
      for (const auto& ref : dicomdir_references(dir)) {
        std::error_code ec;
        if (!std::filesystem::exists(ref, ec)) {
          result.problems.push_back({ref, "missing: referenced by " + dir.string() + " but not found", true});
          continue;
        }
        if (known.insert(std::filesystem::weakly_canonical(ref)).second) candidates.push_back(ref);
      }
    } catch (const Error& e) {
      result.problems.push_back({dir, e.problem(), true});
    }
  }

  std::sort(candidates.begin(), candidates.end());
  result.files_seen = candidates.size() + dicomdirs.size();

  // Read headers on two threads; results keep the sorted file order.
  struct Outcome {
    std::optional<DicomFileInfo> info;
    std::optional<ScanProblem> problem;
    bool non_dicom = false;
  };
  std::vector<Outcome> outcomes(candidates.size());
  auto examine = [&](std::size_t n) {
    const auto& path = candidates[n];
    Outcome& out = outcomes[n];
    std::error_code ec;
    const bool readable_size = std::filesystem::file_size(path, ec) > 0 && !ec;
    if (readable_size && !looks_like_dicom(path)) {
      out.non_dicom = true;
      return;
    }
    try {
      out.info = read_file_info(path);
    } catch (const Error& e) {
      const bool not_dicom = e.problem().rfind("empty file", 0) == 0 || e.problem().rfind("not DICOM", 0) == 0;
      out.non_dicom = not_dicom;
      out.problem = ScanProblem{path, e.problem(), !not_dicom};
    } catch (const std::exception& e) {
      out.problem = ScanProblem{path, std::string("cannot be read: ") + e.what(), true};
    }
  };
  detail::prepare_dcmtk();
  std::atomic<std::size_t> next{0}, done{0};
  std::atomic<bool> stop{false};
  auto worker = [&](bool reports) {
    for (std::size_t n = next++; n < candidates.size() && !stop; n = next++) {
      examine(n);
      const std::size_t finished = ++done;
      if (reports && finished % 16 == 0) {
        progress.report(double(finished) / double(candidates.size()), "scanning files");
        if (progress.cancelled()) stop = true;
      }
    }
  };
  std::thread helper(worker, false);
  worker(true);
  helper.join();
  throw_if_cancelled(progress, "scanning files");
  for (auto& out : outcomes) {
    if (out.non_dicom) ++result.non_dicom_files;
    if (out.problem) result.problems.push_back(std::move(*out.problem));
    if (out.info) result.files.push_back(std::move(*out.info));
  }
  progress.report(1.0, "scanning files");
  return result;
}

}  // namespace musclecsa::dicom

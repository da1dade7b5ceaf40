#include "musclecsa/core/progress.h"

#include <string>

#include "musclecsa/core/error.h"

namespace musclecsa {

void throw_if_cancelled(const Progress& progress, std::string_view stage) {
  if (progress.cancelled()) throw Error(ErrorCode::Cancelled, std::string(stage), "cancelled by the user");
}

}  // namespace musclecsa

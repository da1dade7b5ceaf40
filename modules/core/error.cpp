#include "musclecsa/core/error.h"

namespace musclecsa {

int exit_code_for(ErrorCode code) { return static_cast<int>(code); }

std::string_view to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::InvalidArgument: return "invalid-argument";
    case ErrorCode::InputNotFound: return "input-not-found";
    case ErrorCode::InvalidInput: return "invalid-input";
    case ErrorCode::OutputFailed: return "output-failed";
    case ErrorCode::Cancelled: return "cancelled";
    case ErrorCode::Internal: return "internal";
  }
  return "internal";
}

Error::Error(ErrorCode code, std::string input, std::string problem)
    : std::runtime_error(input.empty() ? problem : input + ": " + problem),
      code_(code),
      input_(std::move(input)),
      problem_(std::move(problem)) {}

}  // namespace musclecsa

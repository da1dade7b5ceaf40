#pragma once
// The one exception type of MuscleCSA: a code users and scripts can act on, plus a message
// that names the input and the problem.

#include <stdexcept>
#include <string>
#include <string_view>

namespace musclecsa {

/// What went wrong, coarse enough to map to a process exit code (docs/exit-codes.md).
enum class ErrorCode {
  InvalidArgument = 2,   ///< a command-line value or parameter is out of range or malformed
  InputNotFound = 3,     ///< a named file or folder does not exist or cannot be opened
  InvalidInput = 4,      ///< the input exists but its content cannot be used (corrupt, unsupported)
  OutputFailed = 5,      ///< an output could not be written (permissions, disk full)
  Cancelled = 6,         ///< the user or a progress observer cancelled the operation
  Internal = 70,         ///< a defect in MuscleCSA itself
};

/// Process exit code for an error code (the numeric value of the enum, documented in docs/exit-codes.md).
int exit_code_for(ErrorCode code);

/// Short stable name of an error code, e.g. "invalid-input", for logs and JSON.
std::string_view to_string(ErrorCode code);

/// Exception thrown by library code. `input` names the file, folder, option or parameter concerned;
/// what() reads "<input>: <problem>".
class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, std::string input, std::string problem);

  ErrorCode code() const noexcept { return code_; }
  const std::string& input() const noexcept { return input_; }
  const std::string& problem() const noexcept { return problem_; }

 private:
  ErrorCode code_;
  std::string input_;
  std::string problem_;
};

}  // namespace musclecsa

#include <gtest/gtest.h>

#include "musclecsa/core/error.h"
#include "musclecsa/core/progress.h"

using namespace musclecsa;

TEST(Error, MessageNamesTheInputAndTheProblem) {
  const Error e(ErrorCode::InvalidInput, "/data/scan/IM_0001.dcm", "pixel data shorter than declared");
  EXPECT_STREQ(e.what(), "/data/scan/IM_0001.dcm: pixel data shorter than declared");
  EXPECT_EQ(e.input(), "/data/scan/IM_0001.dcm");
  EXPECT_EQ(e.problem(), "pixel data shorter than declared");
}

TEST(Error, ExitCodesAreTheDocumentedOnes) {
  EXPECT_EQ(exit_code_for(ErrorCode::InvalidArgument), 2);
  EXPECT_EQ(exit_code_for(ErrorCode::InputNotFound), 3);
  EXPECT_EQ(exit_code_for(ErrorCode::InvalidInput), 4);
  EXPECT_EQ(exit_code_for(ErrorCode::OutputFailed), 5);
  EXPECT_EQ(exit_code_for(ErrorCode::Cancelled), 6);
  EXPECT_EQ(exit_code_for(ErrorCode::Internal), 70);
  EXPECT_EQ(to_string(ErrorCode::InvalidInput), "invalid-input");
}

namespace {
class CancelAfter final : public Progress {
 public:
  void report(double, std::string_view) override { ++reports; }
  bool cancelled() const override { return reports >= 2; }
  int reports = 0;
};
}  // namespace

TEST(Progress, ThrowIfCancelledThrowsCancelledOnlyOnceTheObserverAsks) {
  CancelAfter progress;
  progress.report(0.1, "stage");
  EXPECT_NO_THROW(throw_if_cancelled(progress, "stage"));
  progress.report(0.2, "stage");
  try {
    throw_if_cancelled(progress, "stage");
    FAIL() << "not cancelled";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Cancelled);
  }
}

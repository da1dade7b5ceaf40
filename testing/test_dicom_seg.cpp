// Placeholder: DICOM SEG tests being written.
#include <gtest/gtest.h>

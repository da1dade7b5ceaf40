// Placeholder: DICOM SR tests being written.
#include <gtest/gtest.h>

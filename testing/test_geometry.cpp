#include <gtest/gtest.h>
#include "musclecsa/core/geometry.h"
TEST(Geometry, Placeholder) { SUCCEED(); }

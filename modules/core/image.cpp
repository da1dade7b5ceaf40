#include "musclecsa/core/image.h"

namespace musclecsa {

std::string_view to_string(Modality modality) {
  switch (modality) {
    case Modality::CT: return "CT";
    case Modality::MR: return "MR";
    case Modality::US: return "US";
    case Modality::Other: return "OT";
  }
  return "OT";
}

Modality modality_from_string(std::string_view text) {
  if (text == "CT") return Modality::CT;
  if (text == "MR") return Modality::MR;
  if (text == "US") return Modality::US;
  return Modality::Other;
}

}  // namespace musclecsa

// Placeholder: being written (DICOM SEG writer/reader).
#include "musclecsa/report/dicom_seg.h"

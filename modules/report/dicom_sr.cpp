// Placeholder: being written (DICOM SR TID 1500 writer/reader).
#include "musclecsa/report/dicom_sr.h"

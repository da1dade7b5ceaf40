#!/usr/bin/env python3
"""Writes the synthetic palette-colour regression inputs of the dicom fuzz target into FOLDER.

The fuzzer found these defects in mutated copies of a shared ultrasound file (segmented palette
colour), which are not committed; these small files have the same defects, written byte by byte
(explicit VR little endian): a 2 x 2 image of 16-bit pixels 0..3 whose three segmented palette
tables are the given 16-bit words, under a descriptor of 65536 entries (written 0).
  palette-segmented-discrete-overrun: a discrete segment of 1000 values where 2 follow (GDCM read
      past the table: SIGSEGV)
  palette-segmented-indirect-self: an indirect segment that copies itself (GDCM recursed until the
      stack overflowed)
  palette-lut-length-disagrees-with-descriptor: 4 entries where the descriptor says 65536 (GDCM
      asserts in LookupTable::SetLUT; fixed on another branch, see fixed-elsewhere.txt)
  gdcm-lossy-compression-as-ul-assert: a good palette, and Lossy Image Compression (0028,2110)
      written as UL (GDCM's own parser asserted on the VR; the 1-hour run found it in a mutated
      JPEG 2000 file)
Usage: make_palette_inputs.py FOLDER
"""
import hashlib
import struct
import sys


def element(group, elem, vr, value):
    if isinstance(value, str):
        value = value.encode()
        if len(value) % 2:
            value += b"\0" if vr == "UI" else b" "
    if vr in ("OB", "OW"):
        return struct.pack("<HH2sHI", group, elem, vr.encode(), 0, len(value)) + value
    return struct.pack("<HH2sH", group, elem, vr.encode(), len(value)) + value


def words(*values):
    return b"".join(struct.pack("<H", v) for v in values)


def write(path, segments, extra=b""):
    uid = "2.25." + str(int(hashlib.sha256(path.encode()).hexdigest()[:30], 16))
    us_image = "1.2.840.10008.5.1.4.1.1.6.1"
    meta = (element(2, 1, "OB", b"\0\1") + element(2, 2, "UI", us_image) + element(2, 3, "UI", uid) +
            element(2, 0x10, "UI", "1.2.840.10008.1.2.1"))
    meta = element(2, 0, "UL", struct.pack("<I", len(meta))) + meta
    descriptor = words(0, 0, 16)
    table = words(*segments)
    data = (element(8, 0x16, "UI", us_image) + element(8, 0x18, "UI", uid) + element(8, 0x60, "CS", "US") +
            element(0x10, 0x10, "PN", "PALETTE^FUZZ") + element(0x20, 0xD, "UI", uid + ".1") +
            element(0x20, 0xE, "UI", uid + ".2") + element(0x20, 0x11, "IS", "1") + element(0x20, 0x13, "IS", "1") +
            element(0x28, 2, "US", words(1)) + element(0x28, 4, "CS", "PALETTE COLOR") +
            element(0x28, 0x10, "US", words(2)) + element(0x28, 0x11, "US", words(2)) +
            element(0x28, 0x100, "US", words(16)) + element(0x28, 0x101, "US", words(16)) +
            element(0x28, 0x102, "US", words(15)) + element(0x28, 0x103, "US", words(0)) +
            element(0x28, 0x1101, "US", descriptor) + element(0x28, 0x1102, "US", descriptor) +
            element(0x28, 0x1103, "US", descriptor) + element(0x28, 0x1221, "OW", table) +
            element(0x28, 0x1222, "OW", table) + element(0x28, 0x1223, "OW", table) + extra +
            element(0x7FE0, 0x10, "OW", words(0, 1, 2, 3)))
    with open(path, "wb") as out:
        out.write(b"\0" * 128 + b"DICM" + meta + data)


folder = sys.argv[1]
write(folder + "/palette-segmented-discrete-overrun-synthetic.dcm", [0, 1000, 1, 2])
write(folder + "/palette-segmented-indirect-self-synthetic.dcm", [0, 2, 5, 6, 2, 1, 8, 0])
write(folder + "/palette-lut-length-disagrees-with-descriptor-synthetic.dcm", [0, 4, 0, 21845, 43690, 65535])
write(folder + "/gdcm-lossy-compression-as-ul-assert-synthetic.dcm", [0, 4, 0, 21845, 43690, 65535, 1, 65532, 65535],
      element(0x28, 0x2110, "UL", struct.pack("<I", 1)))

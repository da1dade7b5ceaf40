#!/usr/bin/python3
"""The module layering of MuscleCSA (docs/architecture.md, "Layers"), checked on the sources.

    check_layering.py SOURCE_DIR      checks the tree; exit 1 listing every violation
    check_layering.py --self-test     checks that a made-up violation of each rule is found

Rules:
1. A module's sources (modules/<m>/) and public headers (include/musclecsa/<m>/) include only
   modules of a lower layer (and their own): "musclecsa/<n>/..." with LAYER[n] < LAYER[m].
2. Public headers (include/musclecsa/) include no ITK, VTK, DCMTK, GDCM, OpenCV or Qt header: those
   stay private to the modules that use them.
3. Every module folder has a layer here, so a new module is placed on purpose.
"""
import os
import re
import sys
import tempfile

# Lower numbers are lower layers; a module may include only modules of lower layers.
LAYER = {
    'core': 0,                                     # image, geometry, catalog, errors, progress
    'io': 1,                                       # NIfTI/NRRD/MetaImage, pictures, text files
    'dicom': 2, 'atlas': 2, 'report': 2,           # DICOM read/write; atlases; SEG/SR/HTML/QC writers
    'render': 2,                                   # the viewer's model (plain C++; Qt/VTK in its plugin)
    'segment': 3, 'phantom': 3, 'batch': 3,        # tissue; phantoms (atlases, DICOM); batch (finds DICOM
                                                   # cases, runs the CLI on each in a child process)
    'anatomy': 4,                                  # multi-atlas muscle prior (segment, atlas)
    'quantify': 5,                                 # CT measures (segment)
    'mri': 6, 'ultrasound': 6,                     # the modality analyses
    'pipeline': 7,                                 # one case, end to end, with every output
    'longitudinal': 8,                             # cases over time: test-retest repeatability
}
HEAVY = re.compile(r'#\s*include\s*[<"](itk|vtk|dcmtk/|gdcm|opencv2/|Q[A-Z]\w*|qt)', re.IGNORECASE)
INCLUDE = re.compile(r'#\s*include\s*"musclecsa/([a-z_]+)/')


def sources_of(folder):
    for d, _, files in os.walk(folder):
        for f in files:
            if f.endswith(('.h', '.hpp', '.cpp', '.cxx', '.cc')):
                yield os.path.join(d, f)


def check(root):
    problems = []
    modules = sorted(m for m in os.listdir(os.path.join(root, 'modules')) if os.path.isdir(os.path.join(root, 'modules', m)))
    for m in modules:
        if m not in LAYER:
            problems.append(f'modules/{m}: no layer (add it to LAYER in testing/tools/check_layering.py and to docs/architecture.md)')
            continue
        for folder in (os.path.join(root, 'modules', m), os.path.join(root, 'include', 'musclecsa', m)):
            for path in sources_of(folder):
                for number, line in enumerate(open(path, encoding='utf-8', errors='replace'), 1):
                    found = INCLUDE.search(line)
                    if found and found.group(1) != m and found.group(1) in LAYER and LAYER[found.group(1)] >= LAYER[m]:
                        n = found.group(1)
                        problems.append(f'{os.path.relpath(path, root)}:{number}: {m} (layer {LAYER[m]}) includes {n} '
                                        f'(layer {LAYER[n]}): a module may include only lower layers')
    for path in sources_of(os.path.join(root, 'include', 'musclecsa')):
        for number, line in enumerate(open(path, encoding='utf-8', errors='replace'), 1):
            if HEAVY.search(line):
                problems.append(f'{os.path.relpath(path, root)}:{number}: a public header includes {line.strip()} '
                                '(ITK, VTK, DCMTK, GDCM, OpenCV and Qt stay private to modules/)')
    return problems


def self_test():
    cases = {
        'lower includes higher': ('modules/quantify/x.cpp', '#include "musclecsa/pipeline/analyze.h"\n', 'includes pipeline'),
        'same layer': ('include/musclecsa/mri/x.h', '#include "musclecsa/ultrasound/us.h"\n', 'includes ultrasound'),
        'heavy public header': ('include/musclecsa/core/x.h', '#include <itkImage.h>\n', 'public header includes'),
        'module without a layer': ('modules/newthing/x.cpp', '// nothing\n', 'no layer'),
    }
    failed = 0
    for name, (rel, text, expect) in cases.items():
        with tempfile.TemporaryDirectory() as root:
            for m in LAYER:
                os.makedirs(os.path.join(root, 'modules', m))
            os.makedirs(os.path.join(root, 'include', 'musclecsa'))
            path = os.path.join(root, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, 'w') as f:
                f.write(text)
            problems = check(root)
            if not any(expect in p for p in problems):
                print(f'self-test: "{name}" was not found ({problems})')
                failed += 1
    with tempfile.TemporaryDirectory() as root:  # a clean tree passes
        for m in LAYER:
            os.makedirs(os.path.join(root, 'modules', m))
        os.makedirs(os.path.join(root, 'include', 'musclecsa', 'pipeline'))
        with open(os.path.join(root, 'modules', 'pipeline', 'x.cpp'), 'w') as f:
            f.write('#include "musclecsa/quantify/ct_measures.h"\n#include <itkImage.h>\n')
        if check(root):
            print(f'self-test: a clean tree was refused: {check(root)}')
            failed += 1
    print('self-test passed' if not failed else f'self-test: {failed} failure(s)')
    return 1 if failed else 0


if __name__ == '__main__':
    if len(sys.argv) == 2 and sys.argv[1] == '--self-test':
        sys.exit(self_test())
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    problems = check(sys.argv[1])
    for p in problems:
        print(p)
    print(f'layering: {len(problems)} problem(s)')
    sys.exit(1 if problems else 0)

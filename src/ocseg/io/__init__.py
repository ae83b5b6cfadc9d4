"""How ocseg reads and writes files: atomic writers (temp file + rename), images and label PNGs
(one reader/writer for each), SegFix's MAT files, the one safe loader of pickled and MATLAB files
(``safe_load``), keeping names read from files inside their folders (``contained``), status lines
for the console, and a process pool over files. Nothing here imports torch at import time (the
safe loader imports it when it reads a PyTorch file), nor any other part of ocseg but
:mod:`ocseg.errors`."""

"""How ocseg reads and writes files: atomic writers (temp file + rename), images and label PNGs
(one reader/writer for each), SegFix's MAT files, status lines for the console, and a process
pool over files. Nothing here imports torch or any other part of ocseg but :mod:`ocseg.errors`."""

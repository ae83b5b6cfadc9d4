"""``python -m ocseg.data.prepare dataset=<name> raw_dir=<downloads> …`` (the same as
``ocseg-prepare``); a first bare word is taken as the dataset (``… prepare lip raw_dir=…``)."""

import sys

from ocseg.cli import prepare

if __name__ == "__main__":
    if len(sys.argv) > 1 and "=" not in sys.argv[1] and not sys.argv[1].startswith("-"):
        sys.argv[1] = f"dataset={sys.argv[1]}"
    prepare()

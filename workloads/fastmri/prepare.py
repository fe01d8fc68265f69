"""``algoperf-like datasets prepare --dataset=fastmri``: the hand-downloaded knee tarballs.

fastMRI needs a data-use agreement (https://fastmri.med.nyu.edu/), so, as with
AlgoPerf's ``dataset_setup.py``, the user downloads the three single-coil knee
archives and puts them in ``--raw_dir`` (default ``DATA_DIR/raw/fastmri``):
``knee_singlecoil_train.tar.xz``, ``knee_singlecoil_val.tar.xz``,
``knee_singlecoil_test.tar.xz``. Each is extracted into ``DATA_DIR/fastmri/`` and its
top folder (``singlecoil_train`` ...) renamed ``knee_singlecoil_train`` ..., the layout
:mod:`.input_pipeline` reads.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile

from algoperf_like import datasets
from algoperf_like.workloads.fastmri import input_pipeline

SOURCE = 'https://fastmri.med.nyu.edu/ (after the data-use agreement)'
# (archive, the folder it holds, the folder the workload reads)
ARCHIVES = (
  ('knee_singlecoil_train.tar.xz', 'singlecoil_train', input_pipeline.TRAIN_DIR),
  ('knee_singlecoil_val.tar.xz', 'singlecoil_val', input_pipeline.VAL_DIR),
  ('knee_singlecoil_test.tar.xz', 'singlecoil_test', input_pipeline.TEST_DIR),
)


def prepare(data_dir: str, raw_dir: str, overwrite: bool) -> str:
  """Extract the three archives from ``raw_dir`` into ``data_dir/fastmri/knee_singlecoil_*``."""
  missing = [a for a, _, _ in ARCHIVES if not os.path.isfile(os.path.join(raw_dir, a))]
  if missing:  # Every missing archive named, on one line.
    raise datasets.MissingRawFileError(
      '; '.join(str(datasets.missing_raw_file(a, raw_dir, SOURCE)) for a in missing)
    )
  root = os.path.join(data_dir, 'fastmri')
  os.makedirs(root, exist_ok=True)
  counts = []
  for archive, inner, folder in ARCHIVES:
    dest = os.path.join(root, folder)
    if os.path.isdir(dest) and not overwrite:
      counts.append(f'{folder} (kept)')
      continue
    shutil.rmtree(dest, ignore_errors=True)
    _extract(os.path.join(raw_dir, archive), inner, dest, archive)
    n = len([f for f in os.listdir(dest) if f.endswith('.h5')])
    counts.append(f'{folder} ({n} volumes)')
  return f'fastmri: {", ".join(counts)} in {root}'


def _extract(path: str, inner: str, dest: str, label: str) -> None:
  """Extract ``path`` and move its single top folder (``inner`` or already ``dest``'s name) to ``dest``."""
  with tempfile.TemporaryDirectory(dir=os.path.dirname(dest), prefix='.extract-') as tmp:
    with tarfile.open(path, 'r:*') as tar:
      members = tar.getmembers()
      for member in datasets.progress(members, description=f'extracting {label}'):
        tar.extract(member, tmp, filter='data')
    for candidate in (inner, os.path.basename(dest)):
      if os.path.isdir(os.path.join(tmp, candidate)):
        os.replace(os.path.join(tmp, candidate), dest)
        return
    # No top folder: the volumes themselves are at the archive's root.
    os.makedirs(dest)
    for name in os.listdir(tmp):
      os.replace(os.path.join(tmp, name), os.path.join(dest, name))

"""Packaging: the repository's product folders, installed under one import name.

The folders stay where they are in the repository; ``package_dir`` maps each one
under ``algoperf_like``:

  algoperf_like/  ->  algoperf_like              (the harness)
  workloads/      ->  algoperf_like.workloads    (workloads, their targets as data)
  submissions/    ->  algoperf_like.submissions  (the baselines)
  scoring/        ->  algoperf_like.scoring      (scoring, no JAX)

Every package below those folders is found here, so a new workload or baseline
folder (with its ``__init__.py``) needs no edit. Metadata, dependencies and
package data are in ``pyproject.toml``.
"""

import setuptools

FOLDERS = {
  'algoperf_like': 'algoperf_like',
  'algoperf_like.workloads': 'workloads',
  'algoperf_like.submissions': 'submissions',
  'algoperf_like.scoring': 'scoring',
}


def _packages():
  names = []
  for package, folder in FOLDERS.items():
    names.append(package)
    names += [f'{package}.{sub}' for sub in setuptools.find_packages(folder)]
  return names


setuptools.setup(packages=_packages(), package_dir=FOLDERS)

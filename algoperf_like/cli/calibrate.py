"""``algoperf-like calibrate``: time the calibration workload, write its record.

The record (:mod:`algoperf_like.calibration`) is what ``score
--normalise_to_reference`` reads: one as the reference system's, and one per trial,
submission or tree for the machine the trials ran on.
"""

from __future__ import annotations

import json
import os
from typing import List

from absl import flags as absl_flags

from algoperf_like import command_line as cl
from algoperf_like.command_line import UsageError

DESCRIPTION = (
  'Time a fixed small training loop on this machine and write a calibration record '
  '(for score --normalise_to_reference).'
)


def define_flags() -> absl_flags.FlagValues:
  fv = absl_flags.FlagValues()
  d = absl_flags
  d.DEFINE_string('output', 'calibration.json', 'Where the record goes.', flag_values=fv)
  d.DEFINE_integer('steps', 100, 'Training steps per timed repeat.', flag_values=fv)
  d.DEFINE_integer('repeats', 5, 'Timed repeats (the record keeps their median).', flag_values=fv)
  return fv


def main(argv: List[str]) -> int:
  fv = define_flags()
  parsed = cl.parse(fv, argv, 'algoperf-like calibrate', DESCRIPTION)
  if parsed.positional:
    raise UsageError(f'unexpected argument {parsed.positional[0]!r}')
  if fv.steps < 1 or fv.repeats < 1:
    raise UsageError('--steps and --repeats must be >= 1')
  cl.warn(parsed)
  from algoperf_like import calibration

  record = calibration.calibrate(fv.steps, fv.repeats)
  folder = os.path.dirname(fv.output)
  if folder:
    os.makedirs(folder, exist_ok=True)
  with open(fv.output, 'w') as f:
    json.dump(record, f, indent=1)
  print(
    f'{record["seconds"]:.4f} s per {fv.steps} steps (median of {fv.repeats}, CV '
    f'{100 * record["cv"]:.1f}%), {record["hardware_class"]}, load {record["load_1m"]}: '
    f'{fv.output}'
  )
  return 0

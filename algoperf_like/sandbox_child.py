"""The child side of :mod:`algoperf_like.sandbox`: ``python -m algoperf_like.sandbox_child``.

Runs inside bubblewrap. It reads its task, pickled by the parent, from stdin, takes the
parent's ``sys.path``, sets the rlimits (inherited by everything the submission starts), and
only then imports and runs the untrusted code: a trial (``sweep.run_trial``, which writes
``trial_summary.json`` whatever the outcome) or the checker's import and smoke run (the result
goes to a file in the check's private directory).
"""

from __future__ import annotations

import json
import os
import pickle
import sys


def main() -> int:
  message = pickle.loads(sys.stdin.buffer.read())
  sys.stdin.close()
  sys.path[:] = [p for p in message['sys_path'] if os.path.exists(p)]
  from algoperf_like import command_line, sandbox

  sandbox.apply_limits(message['limits'])
  command_line.quiet_libraries()
  task = message['task']
  if task['kind'] == 'trial':
    from algoperf_like import sweep

    sweep.run_trial(task['job'])
    return 0
  if task['kind'] == 'check':
    from algoperf_like import checker

    results = checker.dynamic_checks(**task['args'])
    with open(os.path.join(task['result_dir'], sandbox.RESULT_FILE), 'w') as f:
      json.dump([checker.result_to_json(r) for r in results], f)
    return 0
  raise ValueError(f'unknown sandbox task {task["kind"]!r}')


if __name__ == '__main__':
  sys.exit(main())

"""``python -m algoperf_like ...``: the same as the ``algoperf-like`` command."""

from algoperf_like.cli import run_main

if __name__ == '__main__':
  run_main()

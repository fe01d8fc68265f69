"""A workload of a user's own, registered without editing the package.

``--workload_module=tests/user_workload.py`` (or ``tests.user_workload``) imports this
file, which registers ``user_quadratic``: the least-squares workload of the harness
tests under a name of its own, with a target that a few SGD steps reach.
"""

import dataclasses

from algoperf_like import registry
from tests.quadratic import QuadraticWorkload


class UserQuadraticWorkload(QuadraticWorkload):
  def __init__(self, data_dir=None):
    super().__init__(data_dir, target=0.05, budget=60.0)
    self.constants = dataclasses.replace(self.constants, name='user_quadratic')


registry.register_workload('user_quadratic', UserQuadraticWorkload)

"""Ansible's linear strategy, run through Mitogen when it is installed.

Mitogen keeps one Python interpreter per host for the whole play instead of
starting one (and unpacking the module) for every task: a no-op converge of a
whole host takes about a third less time (docs/maintainers/testing.md, "Mitogen").
Without the `mitogen` package, or with CHATON_MITOGEN=0, this is Ansible's own
linear strategy, unchanged.
"""

from __future__ import annotations

import os

from ansible.plugins.loader import strategy_loader
from ansible.utils.display import Display

DOCUMENTATION = """
name: chaton
short_description: linear, with Mitogen's persistent interpreters when available
description:
  - Ansible's C(linear) strategy. When the C(mitogen) package is installed and
    C(CHATON_MITOGEN) is not C(0), Mitogen runs the modules (C(ssh), C(docker),
    C(local) connections), which makes each task cheaper.
author: chaton
"""

_linear = strategy_loader.get("linear", class_only=True)
_mixin = None
if os.environ.get("CHATON_MITOGEN", "1") != "0":
    try:
        # Mitogen installs its plugin loaders before its strategy is imported.
        import ansible_mitogen.loaders
        import ansible_mitogen.strategy

        _mixin = ansible_mitogen.strategy.StrategyMixin
    except ImportError as error:
        Display().vvv(f"chaton strategy: Mitogen is not available ({error}), running Ansible's linear strategy")

if _mixin is not None:

    class StrategyModule(_mixin, _linear):
        """Linear, with Mitogen."""

else:

    class StrategyModule(_linear):
        """Ansible's linear strategy."""

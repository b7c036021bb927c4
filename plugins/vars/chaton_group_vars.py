"""group_vars/ and host_vars/ as Ansible's host_group_vars loads them, with chaton check's message for a file
whose top level is not a mapping (instead of "failed to combine variables")."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

from ansible.errors import AnsibleParserError
from ansible.plugins.vars.host_group_vars import VarsModule as HostGroupVars

DOCUMENTATION = """
    name: chaton_group_vars
    short_description: Loads group_vars and host_vars, refusing a file that is not a mapping in plain words
    requirements:
        - Enabled in configuration (ansible.cfg, vars_plugins_enabled)
    description:
        - The same as ansible.builtin.host_group_vars, with the message chaton check gives for a variables file
          whose top level is a list or a value.
    options:
      stage:
        ini:
          - key: stage
            section: vars_chaton_group_vars
        env:
          - name: ANSIBLE_VARS_PLUGIN_STAGE
      _valid_extensions:
        default: [".yml", ".yaml", ".json"]
        description:
          - "Check all of these extensions when looking for 'variable' files."
        env:
          - name: ANSIBLE_YAML_FILENAME_EXT
        ini:
          - key: yaml_valid_extensions
            section: defaults
        type: list
        elements: string
    extends_documentation_fragment:
      - vars_plugin_staging
"""


def _not_a_mapping(path: str, data: object) -> str:
    try:
        from chaton.inventory import not_a_mapping
    except ImportError:  # ansible-playbook run outside chaton's virtualenv: use the repository's copy
        sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
        from chaton.inventory import not_a_mapping
    error = not_a_mapping(Path(path), data)
    return f"{error.file}: {error.message}. Fix: {error.fix}"


class VarsModule(HostGroupVars):
    def load_found_files(self, loader, data, found_files):
        for found in found_files:
            new_data = loader.load_from_file(found, cache="all", unsafe=True, trusted_as_template=True)
            if new_data and not isinstance(new_data, Mapping):
                raise AnsibleParserError(_not_a_mapping(found, new_data))
        return super().load_found_files(loader, data, found_files)

"""A host published on another HTTPS port than 443 (the demo's 8443): the portal's links keep the port.

The portal role's own tasks build the service list on this machine (nothing is installed: the list is read on the
controller); the redirect and the "how this host works" page are checked on a real host in test_cli_container.
"""

from __future__ import annotations

import json

import pytest
from conftest import inventory_with, run_playbook
from test_validate import GOOD

PLAYBOOK = """
- name: The portal's service list
  hosts: chaton
  gather_facts: false
  tasks:
    - name: Build it with the portal role's own tasks
      ansible.builtin.include_role:
        name: portal
        tasks_from: services
    - name: Save it
      ansible.builtin.copy:
        content: "{{ portal_services | to_json }}"
        dest: "{{ out }}"
        mode: "0600"
      delegate_to: localhost
"""


@pytest.mark.parametrize(("port", "url"), [(8443, "https://calc.chatons.example.org:8443/"), (443, None)])
def test_portal_links_keep_the_published_port(tmp_path, port, url):
    changes = {"ethercalc_enabled": True} | ({"chaton_public_https_port": port} if port != 443 else {})
    inventory = inventory_with(tmp_path, GOOD, changes)
    playbook = tmp_path / "links.yml"
    playbook.write_text(PLAYBOOK)
    out = tmp_path / "services.json"
    result = run_playbook(playbook, inventory, "-e", f"out={out}")
    assert result.returncode == 0, result.stdout[-3000:]
    services = json.loads(out.read_text())
    assert [s["url"] for s in services] == [url or "https://calc.chatons.example.org/"]

"""What `playbooks/migrate-list.yml` lists of a host, for `chaton migrate --from-host`."""

from __future__ import annotations

import re

# A sheet of a multi-sheet workbook: <workbook name>.<number> (EtherCalc's own naming).
WORKBOOK_SHEET = re.compile(r"^(?P<workbook>.+)\.[0-9]+$")


def ethercalc_rooms_to_move(rooms: list[str]) -> list[str]:
    """EtherCalc's rooms (``/_rooms``) as `chaton migrate` takes them: a workbook (``=name``) brings its sheets
    (``name.1``, ``name.2``...), so those are not listed again; every other sheet is. Sorted."""
    names = [str(r) for r in rooms or [] if str(r)]
    workbooks = {n[1:] for n in names if n.startswith("=")}
    keep = []
    for name in names:
        sheet = WORKBOOK_SHEET.match(name)
        if sheet and sheet.group("workbook") in workbooks:
            continue
        keep.append(name)
    return sorted(set(keep))


class FilterModule:
    def filters(self):
        return {"ethercalc_rooms_to_move": ethercalc_rooms_to_move}

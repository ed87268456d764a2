"""A wheel whose every member was linked from the cache, finished without installer.

What ``installer.install`` does after the members, in its order: the metadata
files venvfill adds (INSTALLER, REQUESTED), then RECORD, its rows sorted by
path.  Without installer's import, its second parse of WHEEL with the email
package and a source object over the entry, a thousand small wheels spent
more time in those than in the file system.  Only for entries with nothing
left for installer (no scripts, no entry points, no odd ``.data`` paths);
RECORD comes out byte for byte as installer writes it (the test suite's plain
run, which always uses installer, makes the same venvs).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
from collections.abc import Iterable, Mapping, Sequence

from ..cache.unpacked import Unpacked
from ..install.transaction import Staging, linkable


def plain(entry: Unpacked) -> bool:
    """Whether installer has nothing to do for ``entry`` but metadata files and RECORD.

    So every member but RECORD is linked, and there are no entry points.
    """
    record = entry.dist_info_dir + "/RECORD"
    data = entry.dist_info_dir[:-len(".dist-info")] + ".data/"
    entry_points = entry.dist_info_dir + "/entry_points.txt"
    has_record = False
    for path, hash_, _, _ in entry.rows:
        if path == record:
            has_record = True
        elif path == entry_points or linkable(path, hash_, record, data) is None:
            return False
    return has_record


def finish(staging: Staging, root_scheme: str, entry: Unpacked,
           metadata: Mapping[str, bytes]) -> None:
    """Write the metadata files, then RECORD, of a ``plain`` entry ``link`` placed."""
    base = staging.scheme_dict[root_scheme]
    rows = list(staging.linked)
    for filename, contents in metadata.items():
        path = f"{entry.dist_info_dir}/{filename}"
        staging.place(contents, os.path.join(base, path))
        digest = base64.urlsafe_b64encode(hashlib.sha256(contents).digest())
        rows.append((path, "sha256=" + digest.decode("ascii").rstrip("="),
                     str(len(contents))))
    record_path = f"{entry.dist_info_dir}/RECORD"
    rows.append((record_path, "", ""))
    rows.sort(key=lambda row: row[0])  # as install/destination.py hands them to installer
    staging.place(record_bytes(rows), os.path.join(base, record_path))


def record_bytes(rows: Iterable[Sequence[str]]) -> bytes:
    """RECORD's contents for ``rows`` (path, hash, size), CSV as installer writes it."""
    text = io.StringIO()
    csv.writer(text, delimiter=",", quotechar='"', lineterminator="\n").writerows(rows)
    return text.getvalue().encode("utf-8")

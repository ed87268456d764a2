"""Where distributions come from: local wheel directories, an index (``--online``), sdists."""

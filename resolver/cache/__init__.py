"""The per-user cache: wheels checked and unpacked once, placed into venvs by link or copy."""

"""The interpreter a venv is filled for: probed (or described), and the code run inside it."""

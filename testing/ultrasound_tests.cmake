# (no tests yet)

"""The toy math world (DESIGN.md §5): problems, teacher solutions and an exact step checker.

Every stage of the paper runs on it, and unlike the paper the ground truth is exact: for any text a
model writes, `checker.check_steps` returns the index of the first wrong step.
"""

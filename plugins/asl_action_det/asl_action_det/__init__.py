"""The action-detection task (paper §3.3, §4): a capsule detector trained from sparse labels.

Importing this package is cheap; torch is imported only by the modules that need it.
"""

"""Video object segmentation (paper §4.5, Table 4): an STCN-style memory network trained from
sparse frame labels on YouTube-VOS or its synthetic stand-in, evaluated with J, F and J&F.

Importing this package is cheap (no torch); the task, model and loaders load lazily through the
entry point in :mod:`.hooks`.
"""

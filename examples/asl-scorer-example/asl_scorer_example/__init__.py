"""asl-scorer-example: a third-party ASL scorer plugin, ``motion_margin``.

The scorer lives in :mod:`asl_scorer_example.motion_margin`; :mod:`asl_scorer_example.hooks` is
the module the ``asl`` entry point names. Nothing here imports numpy or the scorer, so listing
plugins (``asl-run plugins``) stays cheap.
"""

"""Training runs on disk, as the Runs tab and ``python -m engine runs`` see them: the ``catalog``
(list, summarise, rename), ``inspection`` (read one run folder's files) and ``command`` (the
``train`` / ``--resume`` command line of a run)."""

"""GitOps promotion: environment files, gates, aliases, rollback (``kedro promote``)."""

"""The report stage: a results table in, markdown and PNG figures out."""

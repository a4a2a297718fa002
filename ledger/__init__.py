"""The ledger: the posting rules (pure), balanced entries, system accounts and the audit."""

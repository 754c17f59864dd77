"""Reporting: tables and figures, the papers' numbers, the claims and their ledger, the index, the reproduction report, the README results."""

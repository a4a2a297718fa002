"""Accounts: users and their tokens, wallets, notifications, operators' sessions."""

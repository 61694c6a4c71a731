"""Campaigns: what a buyer asks contributors for, funded in escrow, their review, and the pay-
floor check."""

"""Money: escrow, sales, the ledger and its checks, FX, statements and payouts."""

"""A contributor's terms: licence offers, consent and its receipts, published standards and
replica approvals."""

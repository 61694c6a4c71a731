"""A contributor's terms: licence offers, consent and its receipts, published standards, data-
subject rights and replica approvals."""

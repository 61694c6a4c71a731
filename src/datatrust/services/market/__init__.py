"""What a buyer takes and what follows it: orders and agreements, snapshots, evaluation
samples, revocation notices and their webhooks, and data-subject rights (export, erasure),
which reach every buyer holding an item."""

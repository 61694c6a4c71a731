"""What a buyer takes: orders and agreements, snapshots, revocation notices and their webhooks,
evaluation samples."""

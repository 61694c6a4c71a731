"""What a contributor sends: uploads, items and their processing (the ``item.process`` job),
missed-detail marks, near-duplicates and the other participants of a chat or call."""

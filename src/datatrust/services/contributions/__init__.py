"""What a contributor sends: uploads, items and their processing (the ``item.process`` job),
missed-detail marks, near-duplicates and the other participants of a chat or call.

What other code may use; everything else in this package is its own business.
Outside it, import these names from here, never from the modules inside (tests
test_service_packages.py)."""

from datatrust.services.contributions.ingest import (
    MAX_TRANSCRIPT_BYTES,
    WORK_DIR,
    enqueue_processing,
    open_preview,
    process_item_job,
    processing_key,
    removed_from,
    reprocess_item_job,
)
from datatrust.services.contributions.items import (
    ItemView,
    find_my_items,
    get_item,
    open_original,
    readable,
    receive_item,
    show_item,
    show_my_items,
    show_my_items_page,
)
from datatrust.services.contributions.missed import (
    apply_missed_job,
    count_missed,
    list_marks,
    mark_missed,
)
from datatrust.services.contributions.participants import (
    decide,
    describe_invitation,
    list_for_owner,
)
from datatrust.services.contributions.upload_limits import (
    UploadTooLarge,
    check_multipart_length,
    human,
    max_bytes,
    max_size,
    megabytes,
    multipart_body_limit,
    recording_rules,
    too_large,
)
from datatrust.services.contributions.uploads import (
    CHECKSUM_ALGORITHMS,
    TUS_EXTENSIONS,
    TUS_VERSION,
    Staging,
    UploadState,
    append_chunk,
    start_upload,
    sweep_staged,
    terminate_upload,
    upload_state,
)

__all__ = [
    "CHECKSUM_ALGORITHMS",
    "MAX_TRANSCRIPT_BYTES",
    "TUS_EXTENSIONS",
    "TUS_VERSION",
    "WORK_DIR",
    "ItemView",
    "Staging",
    "UploadState",
    "UploadTooLarge",
    "append_chunk",
    "apply_missed_job",
    "check_multipart_length",
    "count_missed",
    "decide",
    "describe_invitation",
    "enqueue_processing",
    "find_my_items",
    "get_item",
    "human",
    "list_for_owner",
    "list_marks",
    "mark_missed",
    "max_bytes",
    "max_size",
    "megabytes",
    "multipart_body_limit",
    "open_original",
    "open_preview",
    "process_item_job",
    "processing_key",
    "readable",
    "receive_item",
    "recording_rules",
    "removed_from",
    "reprocess_item_job",
    "show_item",
    "show_my_items",
    "show_my_items_page",
    "start_upload",
    "sweep_staged",
    "terminate_upload",
    "too_large",
    "upload_state",
]

"""What a buyer takes and what follows it: orders and agreements, snapshots, evaluation
samples, revocation notices and their webhooks, and data-subject rights (export, erasure),
which reach every buyer holding an item.

What other code may use; everything else in this package is its own business.
Outside it, import these names from here, never from the modules inside (tests
test_service_packages.py)."""

from datatrust.services.market.orders import (
    agreement_odrl,
    agreements_of,
    catalogue,
    declare_order,
    get_order,
    list_orders,
    purchase_order,
)
from datatrust.services.market.revocations import (
    JWKS_PATH,
    MAX_COPIES,
    acknowledge,
    attest_deletion,
    check_deadlines_job,
    deletion_choices,
    keep_buyers_in_notice,
    late_notices,
    notify_holders,
    push_notice_job,
    revocation_feed,
)
from datatrust.services.market.rights import (
    ERASE_CONFIRMATION,
    delete_my_item,
    deletion_effects,
    erase_me,
    export_my_data,
    export_with_media,
    purge_erased,
)
from datatrust.services.market.samples import SAMPLE_MAX_ITEMS, request_sample
from datatrust.services.market.snapshots import (
    DEFAULT_SHARD_ITEMS,
    build_shard,
    build_snapshot,
    download_links,
    finalise,
    get_snapshot,
    list_snapshots,
    open_download,
    read_compliance_pack,
)
from datatrust.services.market.webhooks import (
    MAX_URL_LENGTH,
    register_webhook,
    remove_webhook,
    webhook_status,
)

__all__ = [
    "DEFAULT_SHARD_ITEMS",
    "ERASE_CONFIRMATION",
    "JWKS_PATH",
    "MAX_COPIES",
    "MAX_URL_LENGTH",
    "SAMPLE_MAX_ITEMS",
    "acknowledge",
    "agreement_odrl",
    "agreements_of",
    "attest_deletion",
    "build_shard",
    "build_snapshot",
    "catalogue",
    "check_deadlines_job",
    "declare_order",
    "delete_my_item",
    "deletion_choices",
    "deletion_effects",
    "download_links",
    "erase_me",
    "export_my_data",
    "export_with_media",
    "finalise",
    "get_order",
    "get_snapshot",
    "keep_buyers_in_notice",
    "late_notices",
    "list_orders",
    "list_snapshots",
    "notify_holders",
    "open_download",
    "purchase_order",
    "purge_erased",
    "push_notice_job",
    "read_compliance_pack",
    "register_webhook",
    "remove_webhook",
    "request_sample",
    "revocation_feed",
    "webhook_status",
]

"""Every problem code and its English sentence (a gettext msgid; ``%(name)s`` marks a
parameter). Codes are stable identifiers, dotted by area; clients match on them, so a code
is never reused for another meaning. The sentence says what is wrong and, where it can,
what to do, as a fragment shown next to its field ("use at least 10 characters").

Hindi and isiZulu live in ``locale/<lang>/LC_MESSAGES/problems.po`` (the code is each
entry's context); ``scripts/compile_catalogues.py --sync`` adds new codes there, and
``tests/test_problems.py`` fails while any is untranslated.
"""

from __future__ import annotations

# Words written outside domain/ and services/ that have no code yet, shown as written.
TEXT = "text"

TEXTS: dict[str, str] = {
    TEXT: "%(text)s",
    # --- anything ------------------------------------------------------------------------
    "required": "required",
    "not_found": "nothing here, or nothing you may see",
    "sign_in_required": "sign in first",
    "permission_missing": "your account may not do this",
    # --- the request itself (web.errors) --------------------------------------------------
    "request.malformed_json": "the body is not valid JSON (%(reason)s)",
    "request.unknown_field": "unknown field",
    "request.invalid": "not valid: %(reason)s",
    "request.invalid_any": "the request is not valid",
    "request.no_such_route": "no such route",
    "request.method_not_allowed": "this address does not take that method",
    "request.too_large": "the body is larger than this route's limit of %(limit_bytes)s bytes",
    "request.failed": "the request failed (%(reason)s)",
    "service.unavailable": "the service is busy or its database is down; try again shortly",
    "service.internal_error": "something went wrong on our side; it was logged",
    # --- accounts ------------------------------------------------------------------------
    "email.invalid": "not a valid email address",
    "country.invalid": "use a two-letter ISO 3166 code such as ZA or IN",
    "password.too_short": "use at least %(minimum)s characters",
    "password.too_long": "use at most %(maximum)s characters",
    "password.common": "this is one of the most common passwords; choose another",
    "password.personal": "do not build your password from your email address or name",
    "password.guessable": "too easy to guess; use three or four words that do not belong together",
    "password.wrong": "the password is wrong",
    "role.operator_self_sign_up": "operators cannot sign themselves up",
    "role.unknown": "choose one of: %(choices)s",
    "account.email_taken": "an account with this email already exists",
    "account.email_taken_sign_in": "this email address already has an account; sign in",
    "account.gone": "this account no longer exists",
    "account.sign_in_wrong": "the email or password is wrong",
    "account.sign_in_throttled": "too many failed sign-ins; wait a little and try again",
    "account.sign_up_throttled": "too many sign-ups from here; wait a little and try again",
    "account.reset_throttled": (
        "too many password reset requests from here; wait a little and try again"
    ),
    "account.sign_up_link_invalid": "this sign-up link is wrong or has expired; sign up again",
    "account.reset_link_invalid": "this link is wrong, has expired or was used; ask for a new one",
    "account.password_session_required": (
        "this takes your password, signed in on the website; an API token cannot do it"
    ),
    "account.display_name_too_long": "use at most %(maximum)s characters",
    "account.language_unknown": "choose one of the languages offered",
    "account.currency_unknown": "choose one of the currencies offered",
    "session.invalid": "your session is not valid; sign in again",
    "session.expired": "your session has expired; sign in again",
    "totp.required": "enter the 6-digit code from your authenticator app",
    "totp.code_wrong": "the code is wrong or has expired",
    "totp.not_offered": "two-step sign-in is offered to operators and buyers",
    "totp.already_on": "two-step sign-in is already on; turn it off first",
    "totp.not_started": "start two-step sign-in first",
    "totp.not_on": "two-step sign-in is not on",
    "token.name_required": "give the token a name",
    "token.scopes_unknown": "unknown permissions: %(scopes)s",
    "token.scopes_beyond_account": "your account does not have: %(scopes)s",
    "token.scopes_empty": "name at least one permission",
    "token.days_out_of_range": "choose between %(minimum)s and %(maximum)s days",
    "token.malformed": "the API token is malformed",
    "token.unknown": "the API token is not known",
    "token.revoked": "the API token was revoked",
    "token.expired": "the API token has expired",
    "organisation.country_invalid": "use a two-letter ISO 3166 code",
    "organisation.already_member": "you already belong to an organisation",
    "organisation.decision_unknown": "choose one of: %(choices)s",
    "organisation.reason_required": "say why; the buyer will read it",
    "organisation.decision_refused": (
        "an organisation that is %(state)s can only be given these decisions: %(choices)s"
    ),
    "choose_from_list": "choose from the list",
    "one_of": "one of %(choices)s",
    "between": "choose a whole number from %(minimum)s to %(maximum)s",
    "too_long": "use at most %(maximum)s characters",
    "required_at_most": "required, at most %(maximum)s characters",
    "at_most_bytes": "at most %(maximum)s bytes",
    "not_negative": "must not be negative",
    "minor_units": "a whole number of minor units, not negative",
    "true_or_false": "true or false",
    "payout_method.holder_required": "write the name on the account",
    "payout_method.holder_formula": "a name cannot start with =, +, - or @",
    "payout_method.iban_check_digits": "this IBAN's check digits are wrong",
    "payout_method.account_number": "write the account number or IBAN",
    "payout_method.bank_code": "write the bank's code (BIC, IFSC, sort or routing code)",
    "payout_method.kenyan_mobile": "write a Kenyan mobile number such as 0712 345 678",
    "payout_method.upi_address": "write a UPI address such as name@bank",
    "payout_method.currency": "this method pays only in %(currency)s, its own country's currency",
    "payout_method.whole_shillings": "M-Pesa pays whole shillings",
    "payout_method.rail_required": "choose how to be paid",
    "payout_method.removed": "this payout method was removed",
    "payout_method.on_hold": "this payout method is new: payouts go to it from %(at)s",
    "spec.unknown_field": "unknown field (known: %(known)s)",
    "spec.not_a_number": "must be a number, not true/false",
    "spec.wrong_type": "wrong type",
    "spec.min_above_max": "min_duration_s is above max_duration_s",
    "spec.h3_cells": "a list of H3 cell ids (strings)",
    "catalogue.region_too_fine": (
        "use an H3 cell of resolution %(maximum)s or coarser as the region; a finer one would "
        "show where a recording was made"
    ),
    "spec.no_duration": "a %(kind)s campaign has no duration",
    "campaign.state_change": "a campaign cannot go from %(state)s to %(to)s",
    "campaign.title": "required, at most %(maximum)s characters",
    "campaign.coverage_ambient_only": "only ambient-audio campaigns pay for coverage",
    "campaign.no_minutes": "a %(kind)s has no minutes; pay per item",
    "campaign.per_minute_needs_longest": (
        "a per-minute campaign must state its longest recording in seconds, so its escrow "
        "can cover the quota"
    ),
    "campaign.org_not_approved": "only a buyer whose organisation was approved can run a campaign",
    "campaign.org_not_active": (
        "your organisation is not approved now, so it cannot fund, open or resume a campaign; "
        "it can still pause or close one, and closing returns what escrow holds beyond the "
        "work still waiting"
    ),
    "campaign.not_found": "no such campaign",
    "campaign.effort_required": (
        "state expected_minutes_per_item (the effort per unit of pay) before opening: the "
        "pay floor is checked against it"
    ),
    "campaign.below_pay_floor_per_item": (
        "the rate of %(rate)s per item for %(minutes)s minutes of effort is %(hourly)s an "
        "hour, below the pay floor of %(floor)s an hour; pay at least %(minimum)s per item "
        "(%(more)s more)"
    ),
    "campaign.below_pay_floor_per_minute": (
        "the rate of %(rate)s per minute for %(minutes)s minutes of effort is %(hourly)s an "
        "hour, below the pay floor of %(floor)s an hour; pay at least %(minimum)s per "
        "minute (%(more)s more)"
    ),
    "campaign.escrow_short": (
        "escrow holds %(held)s; opening needs %(needed)s (quota %(quota)s × rate %(rate)s "
        "plus bonuses): fund %(more)s more"
    ),
    "campaign.not_open": "no open campaign %(campaign)s",
    "campaign.quota_filled": "its quota of %(quota)s items is filled",
    "campaign.paused_below_floor": (
        "paused: the effort measured so far put its rate below the pay floor; it reopens at "
        "the new rate of %(rate)s once its buyer tops up escrow"
    ),
    "campaign.other_kind": "it collects %(kind)s, not %(given_kind)s",
    "review.no_such_item": "no such item waiting for review in this campaign",
    "review.already_voted": "you already reviewed this item",
    "review.reason_required": "say why it is rejected: the contributor reads it",
    "review.escrow_short": (
        "escrow cannot pay this item yet: its buyer must fund %(shortfall)s more"
    ),
    "upload.too_large": "a %(kind)s upload may be at most %(limit)s; this one is larger",
    "upload.too_large_sized": "a %(kind)s upload may be at most %(limit)s; this one is %(size)s",
    "upload.campaign_id": "a campaign id",
    "upload.whole_bytes": "required, a whole number of bytes",
    "upload.empty": "the file is empty (0 bytes)",
    "upload.expired": "this upload expired on %(at)s",
    "upload.complete": "this upload is complete",
    "upload.busy": (
        "another tab or device is sending this upload; wait for it to finish, then try again"
    ),
    "upload.offset": "the offset is %(offset)s but the server has %(have)s bytes",
    "upload.checksum_mismatch": "the checksum does not match the bytes received",
    "upload.past_the_end": (
        "this PATCH goes past the declared Upload-Length of %(length)s bytes: at offset "
        "%(offset)s there is room for %(room)s more; nothing of it was kept"
    ),
    "upload.checksum_algorithm": "unsupported algorithm %(given)s (use one of %(choices)s)",
    "upload.checksum_format": "write it as '<algorithm> <base64 digest>'",
    "upload.transcript_call_only": "only a call has a transcript",
    "upload.position": "a position in decimal degrees, both or neither",
    "upload.me": "your name as the chat or transcript shows it (at most %(maximum)s characters)",
    "order.fee_too_high": "the platform fee must be under 100 %%",
    "money.not_money": "must be Money, got %(given)s",
    "money.not_positive": "must be more than zero, got %(given)s",
    "money.not_negative": "must be Money of zero or more",
    "idempotency_key.invalid": "must be 1 to %(maximum)s printable characters",
    "positive_whole_number": "must be a whole number above zero, got %(given)s",
    "escrow.wrong_currency": (
        "campaign %(campaign)s pays in %(currency)s; fund it in %(currency)s, not %(given)s"
    ),
    "campaign.closed": "campaign %(campaign)s is closed",
    "sale.item_shape": "each sold item is (contributor_id, item_price, royalty_percent, item_id)",
    "organisation.required": "join or register an organisation first",
    "payout.key_reused": "the idempotency key %(key)s was used for a payout of %(amount)s",
    "payout.below_minimum": "the smallest payout is %(minimum)s; you asked for %(asked)s",
    "payout.more_than_available": "you asked for %(asked)s but %(available)s is available",
    "fx.rate_as_text": "write the rate as a decimal string such as '18.25', not %(given)s",
    "licence.template_or_licence": (
        "give exactly one of them: a template (with changes) or a full licence"
    ),
    "must_be_object": "must be an object with named fields",
    "licence.replaced": "licence offer %(offer)s was replaced by a newer version; use that one",
    "name_at_least_one": "name at least one",
    "licence.item_has_consent": (
        "item %(item)s has active consent under licence offer %(offer)s; withdraw it first, "
        "then give consent under the new licence"
    ),
    "licence.holder_not_approved": "%(org)s is not an approved buyer organisation",
    "licence.name_an_organisation": "name at least one organisation",
    "licence.exclusive_one_organisation": "name exactly one organisation to hold the exclusivity",
    "licence.exclusive_until": "an exclusive licence must say when exclusivity ends",
    "use.at_is_server_time": (
        "a use is judged at the server's time, not one the buyer sends; give the period of "
        "use as starts_at and ends_at"
    ),
    "use.task_required": "required: say what the resulting model will do",
    "use.task_code": "must be a task code",
    "list_of_codes": "must be a list of codes",
    "use.recipient_org": 'required, as {"id": "...", "name": "..."}',
    "date_time_required": "required, an ISO 8601 date and time",
    "ends_after_start": "must be after starts_at",
    "use.replica_shape": ('must be {"languages": [...], "category": "...", "channels": [...]}'),
    "use.category_code": "must be a category code",
    "consent.item_state": "item %(item)s is %(state)s; consent cannot be given for it",
    "consent.already": "consent for item %(item)s is already %(state)s",
    "consent.no_licence": (
        "the item has no licence and you have no default licence: attach one to the item, "
        "name it, or set a default"
    ),
    "consent.nothing_to_withdraw": "item %(item)s has no consent to withdraw",
    # --- giving consent again after a withdrawal (issue 18 §4, helper "consent") ---
    "consent.withdrawn_give_again": (
        "consent for item %(item)s was withdrawn; give consent again to offer it anew"
    ),
    "consent_again.not_withdrawn": (
        "consent for item %(item)s is not withdrawn, so it cannot be given again"
    ),
    "consent_again.erased": (
        "item %(item)s was deleted and its files are gone; consent cannot be given for it again"
    ),
    "consent_again.rejected": (
        "item %(item)s was rejected by its checks; consent cannot be given for it again"
    ),
    "consent_again.original_gone": (
        "the original of item %(item)s is no longer stored, so it cannot be checked again; "
        "upload it again to offer it"
    ),
    # --- end of giving consent again ---
    "receipt.key_unpublished": "the key %(kid)s that signed this receipt is not published",
    "date_time_invalid": "not an ISO 8601 date and time",
    "unknown_code": "unknown: %(given)s",
    "use.territory_unknown": "unknown territory %(given)s; use an ISO 3166 code",
    "use.ends_at_required": "required: say until when you will use the data",
    "use.too_long": "a use may last at most %(years)s years",
    "use.output_codes": "must be a list of known output codes",
    "use.outputs_required": "required: say what the resulting model will output",
    "use.industry_denied": "this instance does not serve %(industry)s (denied: %(denied)s)",
    "use.purpose_undeclared": (
        "your organisation did not declare %(purpose)s among its intended purposes (%(declared)s)"
    ),
    "use.industry_undeclared": (
        "your organisation did not declare %(industry)s among its industries (%(declared)s)"
    ),
    "order.already_bought": "order %(order)s was already bought",
    "agreement.other_version": "agreement %(agreement)s is not under that licence version",
    "order.not_bought": "order %(order)s is not bought yet; buy it first",
    "order.nothing_deliverable": "nothing in this order may be delivered any more",
    "snapshot.building": "snapshot %(snapshot)s is still being built; try again shortly",
    "snapshot.no_such_file": "no such snapshot file",
    "snapshot.unencrypted": (
        "snapshot %(snapshot)s predates encrypted builds; build the next version"
    ),
    "download.incomplete": "this download link is incomplete: it needs expires and sig",
    "download.altered": "this download link's signature does not match: it was altered",
    "download.expired": "this download link expired at %(at)s; ask for new links",
    "download.org_state": "the buyer's organisation is %(state)s",
    "download.withdrawn_items": (
        "this snapshot holds items that were withdrawn or expired; build the next version"
    ),
    "download.licence_ended": (
        "the licence of items in this snapshot has ended: they may no longer be "
        "downloaded or used, and must be deleted"
    ),
    "download.use_ended": (
        "the declared use of this order ended at %(at)s: its snapshots may no longer be "
        "downloaded or used"
    ),
    "snapshot.no_compliance_pack": "this snapshot has no compliance pack; build the next version",
    "file_name": "letters, digits, . _ - only",
    "webhook.port": "the port is not a number",
    "webhook.no_host": "it names no host",
    "webhook.credentials": "credentials in the URL are not allowed (they would be logged)",
    "webhook.fragment": "a fragment (#…) is never sent; remove it",
    "webhook.https": "must use https",
    "webhook.http_dev_only": "plain http is allowed only to 127.0.0.1 in development",
    "webhook.unresolved": "the host %(host)s does not resolve (%(reason)s)",
    "webhook.not_an_address": "%(host)s resolves to %(address)s, which is not an IP address",
    "webhook.loopback": "%(host)s resolves to %(address)s, a loopback address",
    "webhook.link_local": (
        "%(host)s resolves to %(address)s, a link-local address (cloud metadata lives there)"
    ),
    "webhook.multicast": "%(host)s resolves to %(address)s, a multicast address",
    "webhook.private_address": ("%(host)s resolves to %(address)s, a private or reserved address"),
    "webhook.no_address": "%(host)s has no address",
    "webhook.none": "your organisation has no webhook",
    "organisation.register_to_buy": (
        "register your organisation first; buying needs an approved one"
    ),
    "organisation.state": "your organisation is %(state)s",
    "organisation.state_reason": "your organisation is %(state)s: %(reason)s",
    "order.all_held": (
        "your organisation already licenses every selected item for this use; there is "
        "nothing new to buy"
    ),
    "order.none_buyable": (
        "none of the selected items may be bought any more; declare the use again"
    ),
    "missed.nothing_ships": "item %(item)s is %(state)s: nothing of it will ship",
    "missed.reprocessing": "item %(item)s is being processed again; mark it once that is done",
    "missed.words_not_found": "those words are not in what will ship",
    "missed.words_or_span": "give the words, or start and end",
    "missed.box_required": "the region of the photo to remove",
    "missed.stretch_required": "start_ms and end_ms: the stretch to remove",
    "missed.no_sound": "this recording ships without sound",
    "missed.kind": "marks can be put on chats, call transcripts, photos and recordings",
    "incident.title": "what happened, 1-%(maximum)s characters",
    "incident.discovered_in_future": "when it was found cannot be in the future",
    "incident.scope": "name the items, or a time window (window_start, window_end)",
    "incident.window_both": "give both window_start and window_end",
    "incident.window_order": "window_end is before window_start",
    "unknown_code_of": "%(given)s is not one of %(choices)s",
    "incident.already": "incident %(incident)s was already %(state)s",
    "incident.closed": "incident %(incident)s is already closed",
    "incident.notify_first": "notify the people and buyers it touched before closing it",
    "incident.not_found": "no incident %(incident)s",
    "storage.namespace": (
        "bad storage namespace %(given)s: use 1-64 of a-z 0-9 _ -, starting with a letter or digit"
    ),
    "storage.key_destroyed": (
        "contributor %(owner)s's data key was destroyed; nothing more can be stored for them"
    ),
    "storage.no_object": "no object %(key)s for contributor %(owner)s",
    "storage.no_key": "contributor %(owner)s has no data key, so no stored objects",
    "storage.key_destroyed_on": (
        "contributor %(owner)s's data key was destroyed on %(at)s; their objects can no "
        "longer be read"
    ),
    "order.not_found": "no such order",
    "sample.nothing_previewable": (
        "nothing in this order can be previewed: samples show photos and chats"
    ),
    "sample.limit": (
        "your organisation may see %(limit)s items in evaluation samples and has seen "
        "%(used)s; ask for at most %(left)s"
    ),
    "invitation.not_found": "no such invitation",
    "invitation.not_found_or_expired": "no such invitation, or it has expired; ask for a new link",
    "invitation.already": "this invitation was already %(state)s",
    "audit.head_mismatch": (
        "the audit log's head (event %(seq)s) does not match its events; run `datatrust "
        "audit verify`"
    ),
    "audit.head_without_events": "the audit log's head names a hash but no events",
    "audit.checkpoint_not_json": "the checkpoint file is not valid JSON",
    "audit.checkpoint_missing": "the checkpoint file has no 'checkpoint' (a signed JWS)",
    "trace.unreadable": "this file cannot be read as a photo, video or audio",
    "trace.no_media": "this file holds no picture, video or sound",
    "trace.no_frame": "the video has no frame that decodes",
    "trace.no_sound": "the audio has no sound that decodes",
    "trace.not_received": "that buyer did not receive this item",
    "licence.not_found": "no licence %(licence)s version %(version)s on this instance",
    "person.not_found": "no such person on this instance",
    "organisation.not_found": "no such organisation on this instance",
    "replica.already": "this request was already %(state)s",
    "preview.rejected": "item %(item)s has no de-identified version: it was rejected",
    "preview.not_processed": "item %(item)s has no de-identified version: it is not processed yet",
    "erasure.confirm": "type %(phrase)s to erase your account",
    "revocation.hashes": "a list of hashes",
    "deletion.models": "say what you did with models trained on it: %(choices)s",
    "at_most": "at most %(maximum)s",
    "deletion.not_your_snapshot": "%(snapshot)s is not a snapshot of your organisation",
    "deletion.snapshot_left_out": (
        "you downloaded snapshot %(snapshot)s (version %(version)s), which holds item "
        "%(item)s; delete it and name it too"
    ),
    "deletion.models_not_allowed": (
        "%(given)s is not what the licence allows when it ends (%(terms)s); allowed: %(allowed)s"
    ),
    "revocation.never_received": "your organisation never received this item",
    "revocation.no_notice": "no revocation notice for this item",
    "revocation.copy_left_out": (
        "your organisation also received this item under this hash; attest the deletion of "
        "every copy listed in the notice together"
    ),
    "item.still_checked": "it is still being checked; try again in a minute",
    "item.already_deleted": "this item is already deleted",
    "money.whole_minor_units": "money amounts are whole minor units (int), got %(given)s",
    "money.decimal_text": "%(given)s is not a decimal amount like '12.50'",
    "money.decimal_places": (
        "%(given)s has %(places)s decimal places but %(currency)s has %(allowed)s"
    ),
    "money.currency_mismatch": "cannot combine %(a)s with %(b)s",
    "split.empty": "split needs a non-empty list of weights",
    "split.not_ints": "split weights must be ints",
    "split.negative": "split weights must not be negative",
    "split.all_zero": "split weights must not all be zero",
    "split.basis_points": "basis points must be ints that add up to exactly 10000 (100 %%)",
    "percent.type": "a percentage is an int or a decimal string, got %(given)s",
    "percent.range": "a percentage must be from 0 to 100, got %(given)s",
    "currency.unknown": "unknown currency %(given)s: use an active ISO 4217 code such as 'USD'",
    "fx.rate_positive": "an exchange rate must be above zero, got %(given)s",
    "fx.rate_type": (
        "an exchange rate is a decimal string, an int, a Decimal or an (int, int) ratio, "
        "got %(given)s"
    ),
    "fx.rate_bounds": (
        "an exchange rate must be above zero, between 1e-%(exponent)s and 1e%(exponent)s, "
        "with at most %(digits)s digits; got %(given)s"
    ),
    "fx.same_currency": "a rate needs two different currencies, got %(currency)s twice",
    "fx.as_of_required": "a rate needs the date it was published (as_of)",
    "fx.no_rate": "no exchange rate from %(base)s to %(quote)s",
    "item.state_change": "an item cannot go from %(state)s to %(to)s",
    "item.nothing_to_list": "item %(item)s has no de-identified version to list yet",
    "missed.span_outside": "the span %(start)s-%(end)s is not inside the text (0-%(length)s)",
    "missed.box": "left, top, width, height in thousandths (0-%(scale)s) inside the photo",
    "missed.stretch_outside": (
        "the stretch %(start)s-%(end)s ms is not inside the recording (0-%(length)s ms)"
    ),
    "missed.clock": "a time as minutes:seconds, such as 1:05",
    "payfloor.median_of_nothing": "the median of no values is undefined",
    "base_url.not_http": "expected http(s)://host[:port][/path]",
    "base_url.query": "no query or fragment",
    "checkpoint.type": "not an audit checkpoint (typ is not %(expected)s)",
    "checkpoint.count": "count must be a whole number, 0 or more",
    "checkpoint.head": "head must be a 64-character hex hash",
    "checkpoint.at": "at must be an ISO 8601 time",
    "consent.withdrawn_already": "consent is already withdrawn",
    "consent.not_active": "consent is %(state)s, not active",
    "consent.renew_withdrawn": "a withdrawn consent cannot be renewed; give consent again instead",
    "consent.renew_end": "the renewed consent must end after it is renewed",
    "consent.event_earlier": (
        "a consent event cannot be earlier than the one before it: %(at)s is before %(last)s"
    ),
    "consent.purpose_required": "name at least one purpose",
    "unknown_codes": "unknown code(s): %(codes)s",
    "consent.category_required": "name at least one category of personal data",
    "consent.category_code": "every category needs a code",
    "consent.expires_after_given": "must be after the consent is given",
    "consent.event_not_in_record": "the event does not belong to this consent record",
    "ledger.account_kind": "unknown account kind %(given)s",
    "ledger.owner": "%(given)s is not a valid owner for a %(kind)s account (expected %(hint)s)",
    "ledger.account_name": "%(given)s is not an account name like 'escrow:campaign:12:USD'",
    "ledger.posting_account": "a posting needs an AccountRef",
    "ledger.posting_amount": "a posting amount must be Money",
    "ledger.entry_invalid": "journal entry %(key)s is not valid: %(reason)s",
    "ledger.overdraw": "entry %(key)s would overdraw %(account)s: it would be %(after)s",
    "sale.no_items": "a sale needs at least one item",
    "sale.price_not_money": "item %(index)s: the price must be Money",
    "sale.price_currency": "item %(index)s: priced in %(currency)s, sale is in %(sale)s",
    "sale.price_negative": "item %(index)s: the price must not be negative",
    "sale.all_free": "at least one item must have a price above zero",
    # --- licence terms (domain.licence) ------------------------------------------------
    "must_be_iso_date_time": "must be an ISO 8601 date and time",
    "date_time_not_iso": "not an ISO 8601 date and time: '%(given)s'",
    "must_be_date_time": "must be a date and time",
    "must_be_whole_number": "must be a whole number",
    "must_be_text": "must be text",
    "must_be_text_or_null": "must be text or null",
    "must_be_true_or_false": "must be true or false",
    "must_not_be_empty": "must not be empty",
    "must_be_one_of": "must be one of %(choices)s",
    "licence.no_sublicensing": "sublicensing does not exist on Datatrust; remove '%(key)s'",
    "licence.not_transferable": (
        "a licence cannot be transferred to another buyer; remove '%(key)s'"
    ),
    "licence.not_assignable": "a licence cannot be assigned to another buyer; remove '%(key)s'",
    "licence.not_irrevocable": "a licence is always revocable; remove '%(key)s'",
    "licence.revocable_false": "a licence is always revocable; it cannot be false",
    "licence.set_of_codes": "must be a set of codes",
    "licence.version": "must be a whole number of at least 1",
    "licence.purpose_required": "name at least one purpose",
    "licence.purpose_also_prohibited": (
        "permitted purpose '%(purpose)s' falls under prohibited purpose "
        "'%(prohibited_purpose)s'; remove one of them"
    ),
    "licence.action_required": "name at least one action",
    "licence.redistribute": (
        "'redistribute' contradicts non-transferability (a licence is never transferable, "
        "so the data cannot be passed on); remove it"
    ),
    "licence.use_is_replica": (
        "'%(use)s' is a digital replica; permit it with the replica grant "
        "(replica_use_description), not here"
    ),
    "licence.use_not_sensitive": (
        "'%(use)s' is not a sensitive use; only %(uses)s are permitted by name"
    ),
    "licence.use_also_prohibited": (
        "'%(use)s' is also prohibited (%(prohibited_uses)s); remove one of them"
    ),
    "licence.territory_required": "name at least one country, or WORLD",
    "licence.territory_codes": "not ISO 3166-1 alpha-2 codes: %(codes)s",
    "licence.world_alone": "WORLD already covers every country; list no others with it",
    "licence.territory_both": "both included and excluded: %(territories)s",
    "licence.replica_description_short": (
        "describe the specific use of the replica in at least %(minimum)s characters"
    ),
    "licence.replica_prohibited": (
        "the licence also prohibits digital replicas; remove one of them"
    ),
    "licence.replica_medium_unknown": "unknown medium %(codes)s; use %(media)s",
    "licence.replica_medium_required": (
        "a replica grant must name its medium (%(media)s); a replica without a medium is "
        "not a grant"
    ),
    "licence.replica_medium_without_grant": (
        "a medium without a replica grant; add replica_use_description"
    ),
    "licence.create_replica_without_grant": (
        "create_replica needs replica_use_description, a specific description of the use"
    ),
    "licence.after_start": "must be after valid_from",
    "licence.term_too_long": (
        "a licence may last at most %(years)s years (only a replica grant may run longer, "
        "to %(replica_years)s, with replica_until)"
    ),
    "licence.replica_end_without_grant": "only a replica grant has its own end",
    "licence.replica_term_too_long": "a replica grant may last at most %(years)s years",
    "licence.exclusive_after_end": "must not be after valid_until",
    "licence.exclusive_too_long": "exclusivity may last at most %(years)s years",
    "licence.exclusive_until_not_exclusive": ("only an exclusive licence has an exclusivity end"),
    "licence.holder_id": "must name the holder's organisation id",
    "licence.holder_required": "an exclusive licence must name the organisation holding it",
    "licence.holder_not_exclusive": (
        "only an exclusive licence has a holder; set exclusive or remove it"
    ),
    "licence.offered_to_empty": "organisation ids must not be empty",
    "licence.holder_not_offered": ("the exclusive holder '%(org)s' is not among the named buyers"),
    "licence.price_minor": "must be a whole number of minor units, not negative",
    "licence.currency": "must be an ISO 4217 code such as USD, INR or ZAR",
    "licence.royalty_percent": "must be a whole number from 0 to 100",
    "licence.notice_days": "must be from 0 to %(maximum)s days (at most two years)",
    "licence.deletion_days": "must be from 1 to %(maximum)s days",
    "licence.language_codes": (
        "unknown language code(s): %(codes)s; use ISO 639-1 codes such as en, hi, zu"
    ),
    "licence.replica_scope_without_grant": (
        "only a replica grant has these; add replica_use_description"
    ),
    "licence.replica_ask_without_grant": "only a replica grant asks for approval",
    "licence.replica_languages_required": (
        "a replica grant must name the languages the replica may speak or appear in"
    ),
    "licence.replica_categories_required": (
        "a replica grant must name the kinds of product it may appear in"
    ),
    "licence.replica_channels_required": (
        "a replica grant must name the channels it may reach people through"
    ),
    "licence.template_unknown": "unknown; choose one of %(choices)s",
    # --- ODRL documents read as licences (domain.odrl) ---------------------------------
    "odrl.expected_iri": "expected an IRI, got %(given)s",
    "odrl.one_iri": "expected exactly one IRI",
    "odrl.missing": "missing",
    "odrl.one_value": "expected one value",
    "odrl.no_value": "expected one value, found none",
    "odrl.unexpected_value": "unexpected value %(given)s",
    "odrl.unknown_purpose": "unknown purpose %(iri)s",
    "odrl.unknown_industry": "unknown industry %(iri)s",
    "odrl.unknown_action": "unknown action %(iri)s",
    "odrl.unknown_use": "unknown use %(iri)s",
    "odrl.unknown_replica_category": "unknown replica category %(iri)s",
    "odrl.unknown_replica_medium": "unknown replica medium %(iri)s",
    "odrl.unknown_replica_channel": "unknown replica channel %(iri)s",
    "odrl.unknown_task": "unknown task %(iri)s",
    "odrl.unknown_output": "unknown output %(iri)s",
    "odrl.territory": "not an ISO 3166-1 territory: %(iri)s",
    "odrl.organisation": "not an organisation of this instance: %(iri)s",
    "odrl.unexpected_property": "unexpected property %(key)s",
    "odrl.logical_constraint": "logical constraints are not part of this profile",
    "odrl.one_policy": "expected exactly one ODRL Offer or Agreement",
    "odrl.other_profile": "%(given)s is not this instance's profile %(profile)s",
    "odrl.revocable": "a licence is always revocable",
    "odrl.target": "every rule must name its target",
    "odrl.permission_required": "expected at least one permission",
    "odrl.permissions_differ": "every permission must carry the same constraints and duties",
    "odrl.one_replica_grant": "at most one replica grant",
    "odrl.replica_price_duties": "the replica grant must carry the licence's price duties",
    "odrl.unexpected_pair": "unexpected %(left)s %(operator)s",
    "odrl.unexpected_operator": "unexpected operator %(operator)s",
    "odrl.language_tags": "expected language tags",
    "odrl.use_is_replica_only": "a permission to use is a grant of digital replicas only",
    "odrl.unexpected_constraint": "unexpected constraint %(left)s",
    "odrl.replica_end": "a replica grant must state when it ends (dateTime lt)",
    "odrl.compensate": "expected a compensate duty, got %(given)s",
    "odrl.price_unit": "unknown price unit %(given)s",
    "odrl.royalty_event": "a royalty is paid after a sale",
    "odrl.unexpected_refinement": "unexpected refinement %(left)s",
    "odrl.currency": "payAmount unit is not an ISO 4217 currency: %(given)s",
    "odrl.decimal": "payAmount is not a decimal: %(given)s",
    "odrl.decimals": "payAmount %(amount)s has more decimals than %(currency)s allows",
    "odrl.prohibited_action": "unexpected prohibited action %(action)s",
    "odrl.must_prohibit": "%(action)s must be prohibited; a licence is not transferable",
    "odrl.deletion_event": "deletion must follow the revocation event",
    "odrl.on_end_event": "what happens to models follows the licence's end",
    "odrl.unexpected_obligation": "unexpected obligation %(action)s",
    "odrl.deadline_days": "a deadline in days such as P30D was expected, got %(given)s",
    "odrl.notice_days": "a notice in days such as P30D was expected, got %(given)s",
    "odrl.agreement_type": "expected an ODRL Agreement",
    "odrl.one_assignee_and_use": "assignee and dt:agreedUse: exactly one of each is required",
    "odrl.one_recipient": "exactly one recipient is required",
    "odrl.one_territory": "exactly one territory is required",
    "odrl.agreement_iri": "%(given)s is not an agreement IRI of this instance",
}

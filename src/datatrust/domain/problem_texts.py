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
    "account.sign_up_link_invalid": "this sign-up link is wrong or has expired; sign up again",
    "account.reset_link_invalid": "this link is wrong, has expired or was used; ask for a new one",
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
}

"""Hooks for the schemathesis scan (.ci/schemathesis.sh): a check that narrows the 400
that .ci/schemathesis.toml allows on a schema-valid registration, and a guard that keeps
the scan from disabling the account it scans as."""

import os

import schemathesis

_PRINTABLE_ASCII = {chr(c) for c in range(0x21, 0x7F)}


@schemathesis.check
def register_refuses_valid_data_only_by_contract(ctx, response, case):
    """A schema-valid `POST /auth/register` body is refused only for what the schema
    cannot express: a weak password, or a username that is not plain printable ASCII
    (trimming, NFKC and the invisible-character rule act only on such names)."""
    meta = case.meta
    if (
        case.operation.label != "POST /auth/register"
        or meta is None
        or not meta.generation.mode.is_positive
        or response.status_code != 400
    ):
        return None
    error = response.json().get("error")
    if error == "weak_password":
        return None
    body = case.body if isinstance(case.body, dict) else {}
    username = body.get("username")
    if error == "invalid_username" and isinstance(username, str):
        plain = username.strip(" ") == username and all(
            c in _PRINTABLE_ASCII or c == " " for c in username
        )
        if not plain:
            return None
    raise AssertionError(
        f"a schema-valid registration was refused with 400 `{error}`: "
        "the document does not say what the server accepts"
    )


@schemathesis.hook
def before_call(context, case, kwargs):
    """The scan never edits the account it scans as: disabling it, or taking its admin
    role, would end the scan's authentication and leave nothing tested. A
    `PATCH /api/admin/users/{id}` aimed at it (the stateful phase finds its id in the user
    list) goes to the other scan account instead, an existing user all the same."""
    if case.operation.label != "PATCH /api/admin/users/{id}":
        return
    own, other = os.environ.get("ST_USER_ID"), os.environ.get("ST_OTHER_USER_ID")
    if own and other and (case.path_parameters or {}).get("id") == own:
        case.path_parameters["id"] = other

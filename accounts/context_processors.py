from accounts.selectors import account_for_user


def current_account(request) -> dict:
    """The header's tier and balance, for every page."""
    return {"current_account": account_for_user(getattr(request, "user", None))}

"""How a response is judged against the outcome the matrix expects, and what it must not show."""

from typing import Any

from tests.security.matrix import LOGIN

DENIED = (401, 403, 404)


def body_of(response: Any) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


def _to_login(response: Any) -> bool:
    location = response.get("Location", "")
    return response.status_code in (301, 302) and any(
        location.startswith(url) for url in LOGIN.values()
    )


def verdict(response: Any, outcome: str, *, public: bool = False) -> str | None:
    """None when the response is the expected outcome, else what was wrong."""
    code = response.status_code
    if outcome == "ok":
        if code in DENIED or code >= 500 or code == 405:
            return f"denied or failed with {code}"
        if _to_login(response) and not public:
            return f"sent to log in ({response['Location']})"
        return None
    if outcome.startswith("login:"):
        if code == 302 and response["Location"].startswith(outcome.removeprefix("login:")):
            return None
        return f"{code} {response.get('Location', '')}, not sent to {outcome[6:]}"
    if str(code) != outcome:
        return f"{code}, expected {outcome}"
    return None


def error_shape(response: Any) -> str | None:
    """API errors have one shape: {"error": {"code", "message", ...}}."""
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return f"not the standard error shape: {response.content[:120]!r}"
    if not (isinstance(error.get("code"), str) and isinstance(error.get("message"), str)):
        return f"error without code or message: {error}"
    return None


def leaks(body: bytes, secrets: dict[str, str]) -> list[str]:
    """The objects (by name) whose public id appears in a response the role received."""
    text = body.decode(errors="replace")
    return sorted(name for public_id, name in secrets.items() if public_id in text)
